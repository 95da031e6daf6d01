"""The identity step a renewal or a pickup goes through before anything is issued or handed
out: the face at the camera against the document photo, with liveness.

``<p>_face`` (the live check, one try) -> ``after`` on a match. No match, or no liveness:
``<p>_face_retry`` with the reason in plain words, up to ``identity.max_tries``, then
``<p>_face_refused`` (the counter; staff are alerted; nothing issued, nothing charged).
Those the camera cannot serve - younger than ``identity.min_age``, a document photo the engine
cannot use, a camera that gives no picture, or a citizen who says so - go to the configured
fallback: ``<p>_face_counter``, or ``<p>_face_staff`` where staff at the machine confirm the
identity with their PIN.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from kiosk.config import IdentityFallback, KioskConfig
from kiosk.core.calls import answer, call
from kiosk.core.engine import (
    IGNORE,
    SAME,
    TIMEOUT,
    Action,
    Alert,
    Command,
    Event,
    Notify,
    State,
    Transition,
)
from kiosk.core.views import Button, MessageView, Picture, PinView
from kiosk.terminals.home.flow import MENU, TerminalContext
from kiosk.terminals.home.steps import BACK, closing_state, message, outcome_view
from kiosk.terminals.identity.ports import ADVICE_EVENT, IDENTITY, FaceAdvice, FaceVerdict
from kiosk.terminals.identity.texts import TEXTS
from kiosk.terminals.identity.views import FaceCheckView
from kiosk.terminals.staff.ports import STAFF, SignInAnswer

Ctx = TerminalContext
Step = State[TerminalContext]
Move = Transition[TerminalContext]
Guard = Callable[[Ctx, Event], bool]
STAFF_BANNER_S = 10.0


@dataclass
class IdentityRecord:
    """The identity step's record of one citizen (no template, no frame)."""

    attempt: int = 1  # the try under way (1-based)
    advice: FaceAdvice | None = None
    last: FaceVerdict | None = None
    pin_error: bool = False
    staff_called: bool = False
    # What may be stored with the transaction: the face engine's record, or who confirmed.
    record: Mapping[str, object] = field(default_factory=dict)


def identity(ctx: Ctx) -> IdentityRecord:
    return ctx.part(IdentityRecord)


def proven(ctx: Ctx) -> Mapping[str, object] | None:
    """The identity record for the transaction (None: no identity step ran)."""
    return dict(identity(ctx).record) if ctx.has_part(IdentityRecord) else None


@dataclass(frozen=True)
class IdentitySteps:
    """The states, how a flow goes into them, and the answers that may come late."""

    states: tuple[Step, ...]
    entry: Callable[[str, Action[Ctx] | None, Guard | None], tuple[Move, ...]]
    late: tuple[Move, ...] = ()
    # The states where the check is under way (not its outcomes): the citizen's one stage.
    steps: tuple[str, ...] = ()


def identity_steps(config: KioskConfig, prefix: str, after: str) -> IdentitySteps:
    """The identity states of a service whose names start with ``prefix``; a match goes
    to ``after``. ``entry(event, action, guard)`` gives the transitions into the step from
    the step before it (straight to ``after`` when the check is switched off or the
    terminal has no camera)."""
    settings = config.identity
    if not settings.enabled or config.devices.camera is None:

        def skip(event: str, action: Action[Ctx] | None, guard: Guard | None) -> tuple[Move, ...]:
            return (Transition(event, after, action, guard),)

        return IdentitySteps((), skip)
    names = _Names(prefix)
    fallback = names.staff if settings.fallback is IdentityFallback.STAFF else names.counter

    def entry(event: str, action: Action[Ctx] | None, guard: Guard | None) -> tuple[Move, ...]:
        def child(ctx: Ctx, e: Event) -> bool:
            young = ctx.age is not None and ctx.age < settings.min_age
            return young and (guard is None or guard(ctx, e))

        return (
            Transition(event, fallback, _chain(action, _start), child, "under the age"),
            Transition(event, names.face, _chain(action, _start), guard),
        )

    states = (
        *_check_states(config, names, after, fallback),
        closing_state(names.refused, _refused_view, config.timeouts.message_s * 4),
        closing_state(
            names.counter,
            outcome_view("identity.counter.title", "identity.counter.body", "warn"),
            config.timeouts.message_s * 4,
        ),
    )
    if settings.fallback is IdentityFallback.STAFF:
        states += _staff_states(config, names, after)
    # A try still looking when the citizen left (Back, the idle watch) answers afterwards.
    late = tuple(
        Transition[Ctx](event, IGNORE, label="late face check")
        for event in (f"{names.reply}.ok", f"{names.reply}.failed", ADVICE_EVENT)
    )
    outcomes = (names.refused, names.counter)
    steps = tuple(state.name for state in states if state.name not in outcomes)
    return IdentitySteps(states, entry, late, steps)


@dataclass(frozen=True)
class _Names:
    prefix: str

    @property
    def face(self) -> str:
        return f"{self.prefix}_face"

    @property
    def retry(self) -> str:
        return f"{self.prefix}_face_retry"

    @property
    def refused(self) -> str:
        return f"{self.prefix}_face_refused"

    @property
    def counter(self) -> str:
        return f"{self.prefix}_face_counter"

    @property
    def staff(self) -> str:
        return f"{self.prefix}_face_staff"

    @property
    def staff_checking(self) -> str:
        return f"{self.prefix}_face_staff_checking"

    @property
    def reply(self) -> str:
        return f"{self.prefix}.face"

    @property
    def staff_reply(self) -> str:
        return f"{self.prefix}.face_staff"


def _chain(first: Action[Ctx] | None, then: Action[Ctx]) -> Action[Ctx]:
    def both(ctx: Ctx, event: Event) -> list[Command]:
        return (first(ctx, event) if first else []) + then(ctx, event)

    return both


def _start(ctx: Ctx, event: Event) -> list[Command]:
    ctx.drop_part(IdentityRecord)  # a fresh record for this citizen's check
    return []


def _check_states(
    config: KioskConfig, names: _Names, after: str, fallback: str
) -> tuple[Step, ...]:
    tries = config.identity.max_tries

    def verify(ctx: Ctx, event: Event) -> list[Command]:
        identity(ctx).advice = None
        return [call(IDENTITY, lambda check, session: check.verify(session), names.reply)]

    def view(ctx: Ctx) -> FaceCheckView:
        record = identity(ctx)
        cannot = Button("cannot", "identity.cannot")
        return FaceCheckView(
            record.advice, record.attempt, tries, (BACK, cannot), picture=Picture.CAMERA
        )

    def tries_left(ctx: Ctx, event: Event) -> bool:
        return identity(ctx).attempt < tries

    def retry_view(ctx: Ctx) -> MessageView:
        record = identity(ctx)
        last = record.last
        return message(
            "identity.retry.title",
            ["identity.reason", "identity.retry.left"],
            tone="warn",
            values={
                "zh": last.reason_zh if last else "",
                "en": last.reason_en if last else "",
                "left": tries - record.attempt,
            },
            buttons=(
                Button("cannot", "identity.cannot"),
                Button("retry", "identity.try_again", "primary"),
            ),
            picture=Picture.CAMERA,
        )

    return (
        State(
            names.face,
            view,
            (
                Transition(ADVICE_EVENT, SAME, action=_advice),
                Transition(f"{names.reply}.ok", after, _matched, _is_match, "match"),
                Transition(f"{names.reply}.ok", fallback, _unusable_alert, _unusable, "unusable"),
                Transition(f"{names.reply}.ok", names.retry, _missed, tries_left, "try again"),
                Transition(f"{names.reply}.ok", names.refused, _refused_alert, label="refused"),
                Transition(f"{names.reply}.failed", fallback, _camera_alert, label="no picture"),
                Transition(TIMEOUT, names.retry, _timed_out, tries_left),
                Transition(TIMEOUT, names.refused, _refused_alert),
                Transition("cannot", fallback, label="cannot use the camera"),
                Transition("back", MENU),
            ),
            timeout=lambda ctx: config.identity.try_s,
            on_enter=verify,
        ),
        State(
            names.retry,
            retry_view,
            (
                Transition("retry", names.face, _next_try),
                Transition("cannot", fallback),
                Transition("back", MENU),
            ),
            idle=True,
        ),
    )


def _advice(ctx: Ctx, event: Event) -> list[Command]:
    identity(ctx).advice = answer(event, FaceAdvice)
    return []


def _is_match(ctx: Ctx, event: Event) -> bool:
    return answer(event, FaceVerdict).match


def _unusable(ctx: Ctx, event: Event) -> bool:
    return answer(event, FaceVerdict).decision == "unusable"


def _matched(ctx: Ctx, event: Event) -> list[Command]:
    verdict = answer(event, FaceVerdict)
    record = identity(ctx)
    record.last, record.record = verdict, {**verdict.record, "tries": record.attempt}
    return []


def _missed(ctx: Ctx, event: Event) -> list[Command]:
    identity(ctx).last = answer(event, FaceVerdict)
    return []


def _timed_out(ctx: Ctx, event: Event) -> list[Command]:
    zh, en = TEXTS.pair("identity.timed_out") or ("", "")
    identity(ctx).last = FaceVerdict("timeout", "timeout", zh, en)
    return []


def _next_try(ctx: Ctx, event: Event) -> list[Command]:
    identity(ctx).attempt += 1
    return []


def _refused_alert(ctx: Ctx, event: Event) -> list[Command]:
    last = identity(ctx).last
    why = last.decision if last else "timeout"
    # No name, no number: the decision only (staff find the citizen at the counter).
    return [Alert("identity.failed", f"face check failed {identity(ctx).attempt} times: {why}")]


def _unusable_alert(ctx: Ctx, event: Event) -> list[Command]:
    return [Alert("identity.unusable", "the document photo cannot be used for the face check")]


def _camera_alert(ctx: Ctx, event: Event) -> list[Command]:
    return [Alert("identity.camera", "the face check could not run: the camera gives no picture")]


def _refused_view(ctx: Ctx) -> MessageView:
    return message(
        "identity.refused.title",
        "identity.refused.body",
        tone="error",
        progress="flow.take_card",
        buttons=(Button("finished", "flow.finish", "primary"),),
    )


def _staff_states(config: KioskConfig, names: _Names, after: str) -> tuple[Step, ...]:
    def called(ctx: Ctx, event: Event) -> list[Command]:
        record = identity(ctx)
        if record.staff_called:  # back after a wrong PIN: staff are here already
            return []
        record.staff_called = True
        return [
            Alert("identity.assist", "staff asked to confirm a citizen's identity at the machine"),
            Notify("app.staff_called", STAFF_BANNER_S),
        ]

    def check(ctx: Ctx, event: Event) -> list[Command]:
        pin, number = str(event.data.get("pin", "")), str(event.data.get("number", ""))
        return [call(STAFF, lambda staff, _: staff.sign_in(pin, number), names.staff_reply)]

    def accepted(ctx: Ctx, event: Event) -> bool:
        return answer(event, SignInAnswer).accepted

    def locked(ctx: Ctx, event: Event) -> bool:
        return answer(event, SignInAnswer).locked_min > 0

    def confirmed(ctx: Ctx, event: Event) -> list[Command]:
        by = answer(event, SignInAnswer).number
        identity(ctx).record = {"decision": "staff_confirmed", "staff_number": by}
        return [Alert("identity.staff_confirmed", f"staff {by or 'at the machine'} confirmed")]

    def wrong(ctx: Ctx, event: Event) -> list[Command]:
        identity(ctx).pin_error = True
        return []

    def pin_view(ctx: Ctx) -> PinView:
        error = "identity.staff.wrong" if identity(ctx).pin_error else None
        return PinView(
            "identity.staff.title", "identity.staff.body", bool(config.staff.members), error
        )

    checking = message("staff.checking", waiting="staff.checking.slow")
    return (
        State(
            names.staff,
            pin_view,
            (
                Transition("pin", names.staff_checking, check),
                Transition("back", names.counter),
                Transition(TIMEOUT, names.counter),
            ),
            timeout=lambda ctx: config.timeouts.idle_s * 3,
            on_enter=called,
        ),
        State(
            names.staff_checking,
            lambda ctx: checking,
            (
                Transition(f"{names.staff_reply}.ok", after, confirmed, accepted, "confirmed"),
                Transition(f"{names.staff_reply}.ok", names.counter, guard=locked, label="locked"),
                Transition(f"{names.staff_reply}.ok", names.staff, wrong, label="wrong PIN"),
                Transition(f"{names.staff_reply}.failed", names.counter, label="cannot check"),
                Transition(TIMEOUT, names.counter),
            ),
            timeout=lambda ctx: 15.0,
        ),
    )
