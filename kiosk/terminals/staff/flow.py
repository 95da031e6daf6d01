"""Staff mode's states: PIN pad -> check (on the staff service's worker) -> the staff screen,
or a lockout message. Entered by the hidden ``staff`` intent from the attract loop, the menu
or out of service; every way out leads to the attract loop, where the kiosk goes out of
service again if a part is still down (staff may leave a fault to be fixed later)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from kiosk.config import KioskConfig
from kiosk.core.calls import answer, call, failure
from kiosk.core.engine import IGNORE, SAME, TIMEOUT, Command, Event, State, Transition
from kiosk.core.views import Button, MessageView, PinView
from kiosk.machine.faults import device_name, plain_fault
from kiosk.machine.ports import PRINTER
from kiosk.machine.receipts import Barcode128, Feed, Slip, TextLine, centre
from kiosk.machine.texts import TEXTS as MACHINE_TEXTS
from kiosk.terminals.home.flow import (
    ATTRACT,
    AVAILABLE,
    UNAVAILABLE,
    StaffAccess,
    TerminalContext,
)
from kiosk.terminals.home.steps import closing_state, message
from kiosk.terminals.staff.ports import STAFF, MachineStatus, SignInAnswer, StaffPort
from kiosk.terminals.staff.texts import TEXTS

STAFF_PIN = "staff_pin"
STAFF_CHECKING = "staff_checking"
STAFF_SCREEN = "staff"
STAFF_LOCKED = "staff_locked"
PIN_SCREEN_S = 60.0
CHECK_S = 15.0

Ctx = TerminalContext
Step = State[TerminalContext]
Move = Transition[TerminalContext]
Note = tuple[str, Mapping[str, Any]]  # a message key under the lines, and its values


@dataclass
class StaffRecord:
    """Staff mode's record of one visit (forgotten when staff leave)."""

    who: str = ""  # the signed-in staff number ("" with the machine's one PIN)
    status: MachineStatus | None = None  # the last status the staff service returned
    error: Note | None = None  # after a wrong PIN
    note: Note | None = None  # what the last button did
    confirm_shutdown: bool = False  # Shut down was pressed once: press again
    refused: Note | None = None  # why no PIN is checked now: a lockout, or no staff key


def _record(ctx: Ctx) -> StaffRecord:
    return ctx.part(StaffRecord)


def _leave(ctx: Ctx, event: Event) -> list[Command]:
    ctx.drop_part(StaffRecord)  # nothing of this visit stays for the next
    return []


def _check(ctx: Ctx, event: Event) -> list[Command]:
    # The PIN goes straight to the service: it is never kept in the flow's context.
    pin, number = str(event.data.get("pin", "")), str(event.data.get("number", ""))
    return [call(STAFF, lambda staff, _: staff.sign_in(pin, number), "staff.sign_in")]


def _accepted(ctx: Ctx, event: Event) -> bool:
    result = answer(event, SignInAnswer)
    if not result.accepted:
        return False
    _record(ctx).who = result.number
    return True


def _locked(ctx: Ctx, event: Event) -> bool:
    result = answer(event, SignInAnswer)
    if result.unavailable:
        _record(ctx).refused = ("staff.unavailable.body", {})
        return True
    if result.locked_min <= 0:
        return False
    # How long, and until when: a lockout grows with each one in a row.
    values = {"minutes": result.locked_min, "until": result.locked_until}
    _record(ctx).refused = ("staff.locked.body", values)
    return True


def _wrong(ctx: Ctx, event: Event) -> list[Command]:
    left = answer(event, SignInAnswer).attempts_left
    _record(ctx).error = ("staff.pin.wrong", {"attempts_left": left})
    return []


def _status(ctx: Ctx, event: Event) -> list[Command]:
    _record(ctx).status = answer(event, MachineStatus)
    return []


def _refresh(ctx: Ctx, event: Event) -> list[Command]:
    return [call(STAFF, lambda staff, _: staff.status(), "staff.status")]


Operation = Callable[[StaffPort, str], MachineStatus]

# (intent, operation, alert name): each button's work, then the status again.
ACTIONS: tuple[tuple[str, Operation, str], ...] = (
    ("staff_sync", lambda staff, by: staff.sync(by), "sync"),
    ("staff_pause", lambda staff, by: staff.pause(by), "out_of_service"),
    ("staff_resume", lambda staff, by: staff.resume(by), "in_service"),
    ("staff_shutdown", lambda staff, by: staff.shutdown(by), "shutdown"),
)


def _action(intent: str, operation: Operation, name: str) -> Move:
    def run(ctx: Ctx, event: Event) -> list[Command]:
        record = _record(ctx)
        confirming, record.confirm_shutdown = record.confirm_shutdown, False
        if intent == "staff_shutdown" and not confirming:
            record.confirm_shutdown = True  # a stray touch must not switch the machine off
            return []
        if intent == "staff_sync":  # the sync worker sends in the background, not at once
            record.note = ("staff.sync.started", {})
        by = record.who
        return [call(STAFF, lambda staff, _: operation(staff, by), "staff.status")]

    return Transition(intent, SAME, action=run, label=name)


def _redrive(ctx: Ctx, event: Event) -> list[Command]:
    record = _record(ctx)
    record.confirm_shutdown, record.note = False, None
    by = record.who
    return [call(STAFF, lambda staff, _: staff.redrive(by), "staff.redrive")]


def _redriven(ctx: Ctx, event: Event) -> list[Command]:
    # Said once the outbox took it: a failure (a full disk) must not read as done.
    _record(ctx).note = ("staff.redrive.started", {})
    return _status(ctx, event)


def _not_redriven(ctx: Ctx, event: Event) -> list[Command]:
    _record(ctx).note = ("staff.redrive.failed", {"detail": failure(event).message})
    return _refresh(ctx, event)


def _test_print(ctx: Ctx, event: Event) -> list[Command]:
    """After refilling paper: a short receipt proves the printer works end to end."""
    record = _record(ctx)
    record.confirm_shutdown, record.note = False, ("staff.test_print.printing", {})
    slip = Slip(
        "test",
        (
            centre("打印测试 / Printer test", bold=True, large=True),
            TextLine(f"终端 Kiosk: {ctx.kiosk_id}"),
            TextLine("中文 English 0123456789"),
            Barcode128("TEST-0123456789"),
            Feed(1),
        ),
    )
    return [call(PRINTER, lambda printer, s: printer.print(slip, s), "staff.test_print")]


def _printed(ctx: Ctx, event: Event) -> list[Command]:
    _record(ctx).note = ("staff.test_print.ok", {})
    return _refresh(ctx, event)  # the printer's line may have changed (paper refilled)


def _not_printed(ctx: Ctx, event: Event) -> list[Command]:
    _record(ctx).note = ("staff.test_print.failed", {"detail": failure(event).message})
    return _refresh(ctx, event)


def _refresh_now(ctx: Ctx, event: Event) -> list[Command]:
    record = _record(ctx)
    record.note = None  # the note said to refresh; the new figures answer it
    record.confirm_shutdown = False
    return _refresh(ctx, event)


def pin_view_for(config: KioskConfig) -> Callable[[Ctx], PinView]:
    ask_number = bool(config.staff.members)  # each person's number, then their own PIN

    def pin_view(ctx: Ctx) -> PinView:
        error = _record(ctx).error
        return PinView(
            "staff.pin.title",
            "staff.pin.body",
            ask_number,
            error[0] if error else None,
            dict(error[1]) if error else {},
            quiet=True,
        )

    return pin_view


def staff_view(ctx: Ctx) -> MessageView:
    record = _record(ctx)
    status = record.status
    if status is None:
        return message("staff.title", "staff.loading", quiet=True)
    lines = [
        *(["staff.line.who"] if record.who else []),
        "staff.line.central_up" if status.central_up else "staff.line.central_down",
        "staff.line.queue" if status.pending else "staff.line.queue_empty",
        "staff.line.devices",
        "staff.line.alerts",
        _service_line(status),
    ]
    # Codes for staff who need them, after the plain words: each faulty device's detail,
    # the command that lists documents to check, what a failed button reported.
    codes = [f"{kind}: {state}" for kind, state in status.devices.items() if state != "ok"]
    if status.to_reconcile is not None:  # a pickup machine
        lines.insert(-1, "staff.line.reconcile")
        if status.to_reconcile:
            codes.append("kiosk pickup withheld")
    values = {
        **asdict(status),
        "devices": _devices(status.devices, ctx.language),
        "out_of_service": _causes(status.out_of_service, ctx.language),
        "staff_number": record.who,
    }
    note, note_values = record.note or (None, {})
    values.update(note_values)
    if detail := str(note_values.get("detail", "")):
        # Each language's template takes its own placeholder (the view is not re-made when
        # the language changes under it).
        values["fault_zh"], values["fault_en"] = (
            plain_fault(detail, "zh"),
            plain_fault(detail, "en"),
        )
        codes.append(detail)
    return message(
        "staff.title",
        lines,
        buttons=_buttons(record, status),
        values=values,
        note=note,
        codes=tuple(codes),
        quiet=True,
    )


def _buttons(record: StaffRecord, status: MachineStatus) -> tuple[Button, ...]:
    pause = (
        Button("staff_resume", "staff.resume", "primary")
        if status.paused_by_staff
        else Button("staff_pause", "staff.pause")
    )
    shutdown = "staff.shutdown_confirm" if record.confirm_shutdown else "staff.shutdown"
    redrive = (Button("staff_redrive", "staff.redrive"),) if status.dead else ()
    return (
        Button("staff_shutdown", shutdown, "danger"),
        *redrive,
        Button("staff_sync", "staff.sync"),
        Button("staff_test_print", "staff.test_print"),
        Button("staff_refresh", "staff.refresh"),
        pause,
        Button("back", "staff.exit", "primary"),
    )


def _service_line(status: MachineStatus) -> str:
    if status.paused_by_staff:
        return "staff.line.service_paused"
    return "staff.line.service_down" if status.out_of_service else "staff.line.service_ok"


def _causes(sources: tuple[str, ...], language: str) -> str:
    """Why the machine is out of service, by name: "Receipt printer", "storage full"."""
    names = [
        device_name(source.removeprefix("device."), language)
        if source.startswith("device.")
        else TEXTS.text(f"staff.cause.{source}", language)
        for source in sources
    ]
    return MACHINE_TEXTS.text("fault.join", language).join(names)


def _devices(devices: Mapping[str, str], language: str) -> str:
    """The faulty devices by name in the screen's language, each with its fault's detail, and
    whether the others are fine: a fault stands out, and the line fits in larger text."""
    if not devices:
        return "-"
    faulty = [
        TEXTS.text(
            "staff.devices.fault",
            language,
            device=device_name(kind, language),
            fault=plain_fault(state, language),
        )
        for kind, state in devices.items()
        if state != "ok"
    ]
    if not faulty:
        return TEXTS.text("staff.devices.all_ok", language, count=len(devices))
    if len(faulty) < len(devices):
        faulty.append(TEXTS.text("staff.devices.others_ok", language))
    return " · ".join(faulty)


# Replies that may arrive after staff left (Back pressed while a status or a print was on its
# way): acknowledged anywhere outside staff mode, without effect.
LATE_REPLIES: tuple[Move, ...] = tuple(
    Transition(f"staff.{operation}.{outcome}", IGNORE, label="late staff reply")
    for operation in ("sign_in", "status", "test_print", "redrive")
    for outcome in ("ok", "failed")
)


def staff_states(config: KioskConfig) -> tuple[Step, ...]:
    deferred: tuple[Move, ...] = (Transition(UNAVAILABLE, SAME), Transition(AVAILABLE, SAME))
    checking = message("staff.checking", quiet=True, waiting="staff.checking.slow")
    return (
        State(
            STAFF_PIN,
            pin_view_for(config),
            (
                Transition("pin", STAFF_CHECKING, action=_check),
                Transition("back", ATTRACT, action=_leave),
                Transition(TIMEOUT, ATTRACT, action=_leave),
                *deferred,
            ),
            timeout=lambda ctx: PIN_SCREEN_S,
        ),
        State(
            STAFF_CHECKING,
            lambda ctx: checking,
            (
                Transition("staff.sign_in.ok", STAFF_SCREEN, guard=_accepted, label="accepted"),
                Transition("staff.sign_in.ok", STAFF_LOCKED, guard=_locked, label="locked"),
                Transition("staff.sign_in.ok", STAFF_PIN, action=_wrong, label="wrong PIN"),
                Transition("staff.sign_in.failed", ATTRACT, action=_leave),
                Transition(TIMEOUT, ATTRACT, action=_leave),
                *deferred,
            ),
            timeout=lambda ctx: CHECK_S,
        ),
        State(
            STAFF_SCREEN,
            staff_view,
            (
                Transition("staff.status.ok", SAME, action=_status),
                Transition("staff.status.failed", SAME),
                *(_action(intent, op, name) for intent, op, name in ACTIONS),
                Transition("staff_test_print", SAME, action=_test_print),
                Transition("staff_redrive", SAME, action=_redrive),
                Transition("staff.redrive.ok", SAME, action=_redriven),
                Transition("staff.redrive.failed", SAME, action=_not_redriven),
                Transition("staff_refresh", SAME, action=_refresh_now),
                Transition("staff.test_print.ok", SAME, action=_printed),
                Transition("staff.test_print.failed", SAME, action=_not_printed),
                Transition("back", ATTRACT, action=_leave),
                # Out of service or back (staff's own button, or a device) is applied on the
                # flow thread after the button's status was read: read it again.
                Transition(UNAVAILABLE, SAME, action=_refresh),
                Transition(AVAILABLE, SAME, action=_refresh),
            ),
            idle=True,
            on_enter=_refresh,
        ),
        _with(
            deferred,
            closing_state(
                STAFF_LOCKED,
                _locked_view,
                config.timeouts.message_s * 2,
                end=_leave,
            ),
        ),
    )


def _locked_view(ctx: Ctx) -> MessageView:
    body, values = _record(ctx).refused or ("staff.unavailable.body", {})
    return message("staff.locked.title", body, tone="error", values=dict(values), quiet=True)


def _with(transitions: tuple[Move, ...], state: Step) -> Step:
    return replace(state, transitions=(*state.transitions, *transitions))


def staff_access(config: KioskConfig) -> StaffAccess | None:
    """Staff mode, when the configuration gives a staff PIN (there is none without)."""
    if not config.staff.enabled:
        return None
    entry = Transition[Ctx]("staff", STAFF_PIN, action=_leave, label="staff")
    return StaffAccess(entry, staff_states(config), LATE_REPLIES)
