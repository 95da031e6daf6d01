"""The photo terminal: optional ID card, live coaching, 3-2-1 capture, review with free and
unlimited retakes, durable hand-off, receipt (or the number on screen when paper is out)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kiosk.config import KioskConfig
from kiosk.core.calls import answer, call, failure
from kiosk.core.engine import (
    SAME,
    TIMEOUT,
    Alert,
    BeginSession,
    Command,
    EndSession,
    Event,
    State,
    Transition,
)
from kiosk.core.views import Button, MessageView, Picture
from kiosk.machine.ports import IDCARD, PRINTER, CardSummary
from kiosk.terminals.home.flow import (
    ATTRACT,
    MENU,
    SENIOR_AGE,
    ServiceFlow,
    Stage,
    TerminalContext,
    grant_more_time,
)
from kiosk.terminals.home.steps import BACK, FINISH, closing_state, done, message, qr_png
from kiosk.terminals.photo.ports import (
    LIVE_EVENT,
    PHOTO,
    STEADY_EVENT,
    Captured,
    LiveCoaching,
    Review,
    Saved,
)
from kiosk.terminals.photo.receipts import photo_receipt
from kiosk.terminals.photo.views import PhotoLiveView, PhotoReviewView

Ctx = TerminalContext
Step = State[TerminalContext]
COUNTDOWN_S = 3


@dataclass
class PhotoRecord:
    """The photo flow's record of one citizen (the photos themselves are in the session)."""

    identified: bool = False  # an ID card was read: remind them to take it
    live: LiveCoaching | None = None
    reviews: list[Review] = field(default_factory=list)  # one per photo taken
    review: int = 0  # the photo shown for review (the best)
    latest: int = 0
    number: str = ""
    taken_at: str = ""
    delayed: bool = False  # central not answering when it was saved


def _photo(ctx: Ctx) -> PhotoRecord:
    return ctx.part(PhotoRecord)


def _begin(ctx: Ctx, event: Event) -> list[Command]:
    ctx.drop_part(PhotoRecord)
    return [BeginSession("photo")]


def _read(ctx: Ctx, event: Event) -> list[Command]:
    return [call(IDCARD, lambda reader, session: reader.read(session), "photo.idcard")]


def _identified(ctx: Ctx, event: Event) -> list[Command]:
    _photo(ctx).identified = True
    return grant_more_time(ctx, event)


def _is_senior(ctx: Ctx, event: Event) -> bool:
    return answer(event, CardSummary).age >= SENIOR_AGE


def _live_update(ctx: Ctx, event: Event) -> list[Command]:
    _photo(ctx).live = answer(event, LiveCoaching)
    return []


def _capture(ctx: Ctx, event: Event) -> list[Command]:
    return [call(PHOTO, lambda photo, session: photo.capture(session), "photo.capture")]


def _captured(ctx: Ctx, event: Event) -> list[Command]:
    captured, record = answer(event, Captured), _photo(ctx)
    record.reviews.append(captured.review)
    record.review, record.latest = captured.best, captured.index
    return []


def _submit(ctx: Ctx, event: Event) -> list[Command]:
    index = _photo(ctx).review
    return [call(PHOTO, lambda photo, session: photo.submit(index, session), "photo.submit")]


def _saved(ctx: Ctx, event: Event) -> list[Command]:
    saved, record = answer(event, Saved), _photo(ctx)
    record.number, record.taken_at = saved.photo_number, saved.taken_at
    record.delayed = saved.delivery_delayed
    return []


def _delayed_note(ctx: Ctx) -> str | None:
    """The note for a photo central has not got yet (it is not answering)."""
    return "photo.delayed" if _photo(ctx).delayed else None


def _failed(ctx: Ctx, event: Event) -> list[Command]:
    return [EndSession("error")]


def _paper_alert(ctx: Ctx, event: Event) -> list[Command]:
    why = f"photo {_photo(ctx).number} saved, receipt not printed: {failure(event).code}"
    return [Alert("printer.receipt_failed", why)]


def _save_alert(ctx: Ctx, event: Event) -> list[Command]:
    return [Alert("outbox.put_failed", failure(event).message)]


def _review_view(ctx: Ctx) -> PhotoReviewView:
    record = _photo(ctx)
    if not 0 <= record.review < len(record.reviews):
        return PhotoReviewView(missing=True)
    review = record.reviews[record.review]
    return PhotoReviewView(
        record.review,
        len(record.reviews),
        record.review != record.latest,
        review.can_submit,
        review.checks,
        review.reasons,
    )


def _done_view(ctx: Ctx) -> MessageView:
    record = _photo(ctx)
    return message(
        "photo.done.title",
        "photo.done.body",
        tone="ok",
        code=record.number,
        progress="photo.done.card" if record.identified else None,
        note=_delayed_note(ctx),
        buttons=FINISH,
        picture=Picture.RECEIPT,
    )


def _no_receipt_view(ctx: Ctx) -> MessageView:
    number = _photo(ctx).number
    return message(
        "photo.no_receipt.title",
        "photo.no_receipt.body",
        tone="warn",
        code=number,
        image_png=qr_png(number),
        note=_delayed_note(ctx),
        buttons=FINISH,
    )


def _identify_states(config: KioskConfig) -> tuple[Step, ...]:
    """An ID card is optional here: it binds the photo to the citizen, and at 60 or over
    tells them they may reuse a recent photo."""
    t = config.timeouts
    identify = message(
        "service.photo.identify.title",
        "service.photo.identify.body",
        buttons=(BACK, Button("skip", "photo.skip", "primary")),
        picture=Picture.IDCARD,
    )
    reading = message("identify.reading", picture=Picture.IDCARD, waiting="identify.slow")
    failed = message(
        "identify.failed.title",
        "photo.read_failed.body",
        tone="warn",
        buttons=(
            BACK,
            Button("retry", "identify.retry"),
            Button("skip", "photo.skip", "primary"),
        ),
        picture=Picture.IDCARD,
    )
    senior = message(
        "photo.senior.title",
        "photo.senior.body",
        tone="ok",
        buttons=(
            Button("finished", "flow.finish"),
            Button("take_new", "photo.take_new", "primary"),
        ),
    )
    return (
        State(
            "photo_identify",
            lambda ctx: identify,
            (
                Transition("idcard.placed", "photo_reading"),
                Transition("skip", "photo_live"),
                Transition("back", MENU),
            ),
            idle=True,
            on_enter=_begin,
        ),
        State(
            "photo_reading",
            lambda ctx: reading,
            (
                Transition("photo.idcard.ok", "photo_senior", _identified, _is_senior, "age 60+"),
                Transition("photo.idcard.ok", "photo_live", _identified),
                Transition("photo.idcard.failed", "photo_read_failed"),
                Transition(TIMEOUT, "photo_read_failed"),
            ),
            timeout=lambda ctx: t.device_s,
            on_enter=_read,
        ),
        State(
            "photo_read_failed",
            lambda ctx: failed,
            (
                Transition("idcard.placed", "photo_reading"),
                Transition("retry", "photo_reading"),
                Transition("skip", "photo_live"),
                Transition("back", MENU),
            ),
            idle=True,
        ),
        State(
            "photo_senior",
            lambda ctx: senior,
            (Transition("take_new", "photo_live"), Transition("finished", ATTRACT, action=done)),
            idle=True,
        ),
    )


def _camera_states(config: KioskConfig) -> tuple[Step, ...]:
    t = config.timeouts
    processing = message("photo.processing", waiting="photo.processing.slow")
    camera_failed = message(
        "photo.camera_failed",
        "photo.camera_failed.body",
        tone="warn",
        buttons=(BACK, Button("retry", "photo.retake", "primary")),
        picture=Picture.CAMERA,
    )
    return (
        State(
            "photo_live",
            lambda ctx: PhotoLiveView(_photo(ctx).live, picture=Picture.CAMERA),
            (
                Transition(LIVE_EVENT, SAME, action=_live_update),
                Transition(STEADY_EVENT, "photo_countdown", label="compliant and still"),
                Transition("capture", "photo_countdown", label="tap"),
                Transition("back", MENU),
            ),
            idle=True,
        ),
        State(
            "photo_countdown",
            lambda ctx: PhotoLiveView(
                _photo(ctx).live, "countdown", COUNTDOWN_S, picture=Picture.CAMERA
            ),
            (
                Transition(LIVE_EVENT, SAME, action=_live_update),
                Transition(TIMEOUT, "photo_processing", label="3-2-1"),
                Transition("back", "photo_live"),
            ),
            timeout=lambda ctx: float(COUNTDOWN_S),
        ),
        State(
            "photo_processing",
            lambda ctx: processing,
            (
                Transition("photo.capture.ok", "photo_review", action=_captured),
                Transition("photo.capture.failed", "photo_capture_failed"),
                Transition(TIMEOUT, "photo_capture_failed"),
            ),
            timeout=lambda ctx: t.device_s,
            on_enter=_capture,
        ),
        State(
            "photo_capture_failed",
            lambda ctx: camera_failed,
            (
                Transition("retry", "photo_live"),
                Transition("back", MENU),
                Transition(TIMEOUT, "photo_live"),
            ),
            timeout=lambda ctx: t.message_s,
        ),
        State(
            "photo_review",
            _review_view,
            (
                Transition("use", "photo_saving"),
                Transition("retake", "photo_live"),
                Transition("back", "photo_live"),
            ),
            idle=True,
        ),
    )


def _outcome_states(config: KioskConfig) -> tuple[Step, ...]:
    t = config.timeouts

    def print_receipt(ctx: Ctx, event: Event) -> list[Command]:
        record = _photo(ctx)
        slip = photo_receipt(config, record.number, record.taken_at)
        return [call(PRINTER, lambda printer, session: printer.print(slip, session), "photo.print")]

    saving = message("photo.saving", waiting="photo.saving.slow")
    save_failed = message(
        "photo.save_failed.title",
        "photo.save_failed.body",
        tone="error",
        buttons=(Button("finished", "flow.finish"),),
    )
    return (
        State(
            "photo_saving",
            lambda ctx: saving,
            (
                Transition("photo.submit.ok", "photo_printing", action=_saved),
                Transition("photo.submit.failed", "photo_save_failed", action=_save_alert),
                Transition(TIMEOUT, "photo_save_failed"),
            ),
            timeout=lambda ctx: t.device_s,
            on_enter=_submit,
        ),
        closing_state("photo_save_failed", lambda ctx: save_failed, t.message_s * 3, _failed),
        State(
            "photo_printing",
            lambda ctx: message(
                "photo.printing",
                code=_photo(ctx).number,
                picture=Picture.RECEIPT,
                waiting="receipt.slow",
            ),
            (
                Transition("photo.print.ok", "photo_done"),
                Transition("photo.print.failed", "photo_no_receipt", action=_paper_alert),
                Transition(TIMEOUT, "photo_no_receipt", action=_paper_alert),
            ),
            timeout=lambda ctx: t.device_s,
            on_enter=print_receipt,
        ),
        closing_state("photo_done", _done_view, t.message_s * 2),
        closing_state("photo_no_receipt", _no_receipt_view, t.message_s * 8),
    )


# A citizen being told their photo number must not be cut off by an out-of-service switch:
# those states finish first (the kiosk goes out of service right after).
FINISHING = (
    "photo_saving",
    "photo_printing",
    "photo_done",
    "photo_no_receipt",
    "photo_save_failed",
)


def services(config: KioskConfig) -> tuple[ServiceFlow, ...]:
    states = (*_identify_states(config), *_camera_states(config), *_outcome_states(config))
    return (
        ServiceFlow(
            "photo",
            "photo_identify",
            states,
            icon="camera",
            finishing=FINISHING,
            stages=STAGES,
        ),
    )


# The steps the citizen counts (the ID card is optional: skipping it still counts the step).
STAGES = (
    Stage(
        "photo.stage.idcard",
        ("photo_identify", "photo_reading", "photo_read_failed", "photo_senior"),
    ),
    Stage(
        "photo.stage.take",
        ("photo_live", "photo_countdown", "photo_processing", "photo_capture_failed"),
    ),
    Stage("photo.stage.review", ("photo_review",)),
    Stage("photo.stage.save", ("photo_saving", "photo_printing")),
)
