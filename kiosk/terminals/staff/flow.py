"""Staff mode's states: PIN pad -> check (on the staff service's worker) -> the staff screen,
or a lockout message. Entered by the hidden ``staff`` intent from the attract loop, the menu
or out of service; every way out leads to the attract loop, where the kiosk goes out of
service again if a part is still down (staff may leave a fault to be fixed later)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from kiosk.config import KioskConfig
from kiosk.core.engine import (
    IGNORE,
    SAME,
    TIMEOUT,
    Call,
    Command,
    Context,
    Event,
    State,
    Transition,
)
from kiosk.core.i18n import text
from kiosk.terminals.home.flow import ATTRACT, AVAILABLE, UNAVAILABLE
from kiosk.terminals.home.steps import closing_state, message

STAFF_PIN = "staff_pin"
STAFF_CHECKING = "staff_checking"
STAFF = "staff"
STAFF_LOCKED = "staff_locked"
_STATUS = "staff_status"  # context: the last status the staff service returned
_ERROR = "staff_pin_error"  # context: (message key, values) after a wrong PIN
_CONFIRM = "staff_confirm_shutdown"  # context: Shut down was pressed once; press again
_NOTE = "staff_note"  # context: (message key, values) of the last test print
_LOCKED_MIN = "staff_locked_min"  # context: minutes the lockout has left
_WHO = "staff_number"  # context: the signed-in staff number ("" with the machine's one PIN)
PIN_SCREEN_S = 60.0
CHECK_S = 15.0

# (intent, staff service operation): each button's work, then the status again.
ACTIONS = {
    "staff_sync": "sync",
    "staff_pause": "out_of_service",
    "staff_resume": "in_service",
    "staff_shutdown": "shutdown",
}


def start_sign_in(ctx: Context, event: Event) -> list[Command]:
    return _leave(ctx, event)  # nothing of an earlier visit (an idle one ends elsewhere)


def _check(ctx: Context, event: Event) -> list[Command]:
    # The PIN goes straight to the service: it is never kept in the flow's context.
    args = {"pin": str(event.data.get("pin", "")), "number": str(event.data.get("number", ""))}
    return [Call("staff", "sign_in", args)]


def _accepted(ctx: Context, event: Event) -> bool:
    if not event.data.get("accepted"):
        return False
    ctx[_WHO] = str(event.data.get("number", ""))
    return True


def _locked(ctx: Context, event: Event) -> bool:
    if int(event.data.get("locked_min", 0)) <= 0:
        return False
    ctx[_LOCKED_MIN] = int(event.data["locked_min"])
    return True


def _wrong(ctx: Context, event: Event) -> list[Command]:
    ctx[_ERROR] = ("staff.pin.wrong", {"attempts_left": int(event.data.get("attempts_left", 0))})
    return []


def _status(ctx: Context, event: Event) -> list[Command]:
    ctx[_STATUS] = dict(event.data)
    return []


def _leave(ctx: Context, event: Event) -> list[Command]:
    for key in (_STATUS, _ERROR, _CONFIRM, _NOTE, _LOCKED_MIN, _WHO):
        ctx.pop(key, None)
    return []


def _action(intent: str, operation: str) -> Transition:
    def run(ctx: Context, event: Event) -> list[Command]:
        confirming = ctx.pop(_CONFIRM, False)
        if operation == "shutdown" and not confirming:
            ctx[_CONFIRM] = True  # a stray touch must not switch the machine off
            return []
        if operation == "sync":  # the sync worker sends in the background, not at once
            ctx[_NOTE] = ("staff.sync.started", {})
        return [Call("staff", operation, {"by": ctx.get(_WHO, "")}, reply="staff.status")]

    return Transition(intent, SAME, action=run, label=operation)


def _redrive(ctx: Context, event: Event) -> list[Command]:
    ctx.pop(_CONFIRM, None)
    ctx.pop(_NOTE, None)
    return [Call("staff", "redrive", {"by": ctx.get(_WHO, "")}, reply="staff.redrive")]


def _redriven(ctx: Context, event: Event) -> list[Command]:
    # Said once the outbox took it: a failure (a full disk) must not read as done.
    ctx[_NOTE] = ("staff.redrive.started", {})
    return _status(ctx, event)


def _not_redriven(ctx: Context, event: Event) -> list[Command]:
    ctx[_NOTE] = ("staff.redrive.failed", {"detail": str(event.data.get("message", ""))})
    return [Call("staff", "status")]


def _test_print(ctx: Context, event: Event) -> list[Command]:
    """After refilling paper: a short receipt proves the printer works end to end."""
    ctx.pop(_CONFIRM, None)
    ctx[_NOTE] = ("staff.test_print.printing", {})
    receipt = {"title": "test", "items": _test_receipt(ctx)}
    return [Call("printer", "print", {"receipt": receipt}, reply="staff.test_print")]


def _test_receipt(ctx: Context) -> list[dict[str, Any]]:
    return [
        {"text": "打印测试 / Printer test", "bold": True, "large": True, "align": "center"},
        {"text": f"终端 Kiosk: {ctx.get('kiosk_id', '')}"},
        {"text": "中文 English 0123456789"},
        {"code128": "TEST-0123456789"},
        {"feed": 1},
    ]


def _printed(ctx: Context, event: Event) -> list[Command]:
    ctx[_NOTE] = ("staff.test_print.ok", {})
    return [Call("staff", "status")]  # the printer's line may have changed (paper refilled)


def _not_printed(ctx: Context, event: Event) -> list[Command]:
    ctx[_NOTE] = ("staff.test_print.failed", {"detail": str(event.data.get("message", ""))})
    return [Call("staff", "status")]


def pin_view_for(config: KioskConfig) -> Callable[[Context], Mapping[str, Any]]:
    ask_number = bool(config.staff.members)  # each person's number, then their own PIN

    def pin_view(ctx: Context) -> Mapping[str, Any]:
        error = ctx.get(_ERROR)
        return {
            "title": "staff.pin.title",
            "body": "staff.pin.body",
            "ask_number": ask_number,
            "error": error[0] if error else None,
            "values": dict(error[1]) if error else {},
        }

    return pin_view


def staff_view(ctx: Context) -> Mapping[str, Any]:
    status: dict[str, Any] = dict(ctx.get(_STATUS, {}))
    if not status:
        return message("staff.title", "staff.loading", quiet=True)
    language = str(ctx.get("language", "zh"))
    who = str(ctx.get(_WHO, ""))
    lines = [
        *(["staff.line.who"] if who else []),
        "staff.line.central_up" if status.get("central_up") else "staff.line.central_down",
        "staff.line.queue",
        "staff.line.devices",
        "staff.line.alerts",
        _service_line(status),
    ]
    if "to_reconcile" in status:  # a pickup machine
        lines.insert(-1, "staff.line.reconcile")
    pause = (
        ("staff_resume", "staff.resume", "primary")
        if status.get("paused_by_staff")
        else ("staff_pause", "staff.pause", "")
    )
    shutdown = "staff.shutdown_confirm" if ctx.get(_CONFIRM) else "staff.shutdown"
    redrive = (("staff_redrive", "staff.redrive", ""),) if status.get("dead") else ()
    buttons = (
        ("staff_shutdown", shutdown, "danger"),
        *redrive,
        ("staff_sync", "staff.sync", ""),
        ("staff_test_print", "staff.test_print", ""),
        ("staff_refresh", "staff.refresh", ""),
        pause,
        ("back", "staff.exit", "primary"),
    )
    values = {
        **status,
        "devices": _devices(dict(status.get("devices", {})), language),
        "out_of_service": _causes(list(status.get("out_of_service", [])), language),
        "staff_number": who,
    }
    note, note_values = ctx.get(_NOTE, (None, {}))
    values.update(note_values)
    return message("staff.title", lines, buttons=buttons, values=values, note=note, quiet=True)


def _service_line(status: Mapping[str, Any]) -> str:
    if status.get("paused_by_staff"):
        return "staff.line.service_paused"
    return "staff.line.service_down" if status.get("out_of_service") else "staff.line.service_ok"


def _causes(sources: list[str], language: str) -> str:
    """Why the machine is out of service, by name: "Receipt printer", "storage full"."""
    names = [
        text(f"device.{source.removeprefix('device.')}", language)
        if source.startswith("device.")
        else text(f"staff.cause.{source}", language)
        for source in sources
    ]
    return ", ".join(names)


def _devices(devices: Mapping[str, str], language: str) -> str:
    """The faulty devices by name in the screen's language, each with its fault's detail, and
    whether the others are fine: a fault stands out, and the line fits in larger text."""
    if not devices:
        return "-"
    faulty = [
        f"{text(f'device.{kind}', language)} {state}"
        for kind, state in devices.items()
        if state != "ok"
    ]
    if not faulty:
        return text("staff.devices.all_ok", language, count=len(devices))
    if len(faulty) < len(devices):
        faulty.append(text("staff.devices.others_ok", language))
    return " · ".join(faulty)


def _refresh(ctx: Context, event: Event) -> list[Command]:
    return [Call("staff", "status")]


def _refresh_now(ctx: Context, event: Event) -> list[Command]:
    ctx.pop(_NOTE, None)  # the note said to refresh; the new figures answer it
    ctx.pop(_CONFIRM, None)
    return _refresh(ctx, event)


# Replies that may arrive after staff left (Back pressed while a status or a print was on its
# way): acknowledged anywhere outside staff mode, without effect.
LATE_REPLIES = tuple(
    Transition(f"staff.{operation}.{outcome}", IGNORE, label="late staff reply")
    for operation in ("sign_in", "status", "test_print", "redrive")
    for outcome in ("ok", "failed")
)


def staff_states(config: KioskConfig) -> tuple[State, ...]:
    deferred = (Transition(UNAVAILABLE, SAME), Transition(AVAILABLE, SAME))
    return (
        State(
            STAFF_PIN,
            "pin",
            (
                Transition("pin", STAFF_CHECKING, action=_check),
                Transition("back", ATTRACT, action=_leave),
                Transition(TIMEOUT, ATTRACT, action=_leave),
                *deferred,
            ),
            timeout=lambda ctx: PIN_SCREEN_S,
            view=pin_view_for(config),
        ),
        State(
            STAFF_CHECKING,
            "message",
            (
                Transition("staff.sign_in.ok", STAFF, guard=_accepted, label="accepted"),
                Transition("staff.sign_in.ok", STAFF_LOCKED, guard=_locked, label="locked"),
                Transition("staff.sign_in.ok", STAFF_PIN, action=_wrong, label="wrong PIN"),
                Transition("staff.sign_in.failed", ATTRACT, action=_leave),
                Transition(TIMEOUT, ATTRACT, action=_leave),
                *deferred,
            ),
            timeout=lambda ctx: CHECK_S,
            view=lambda ctx: message("staff.checking", quiet=True),
        ),
        State(
            STAFF,
            "message",
            (
                Transition("staff.status.ok", SAME, action=_status),
                Transition("staff.status.failed", SAME),
                *(_action(intent, operation) for intent, operation in ACTIONS.items()),
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
            view=staff_view,
        ),
        _with(
            deferred,
            closing_state(
                STAFF_LOCKED,
                lambda ctx: message(
                    "staff.locked.title",
                    "staff.locked.body",
                    tone="error",
                    values={"minutes": ctx.get(_LOCKED_MIN, 5)},
                    quiet=True,
                ),
                config.timeouts.message_s * 2,
                end=_leave,
            ),
        ),
    )


def _with(transitions: tuple[Transition, ...], state: State) -> State:
    return replace(state, transitions=(*state.transitions, *transitions))
