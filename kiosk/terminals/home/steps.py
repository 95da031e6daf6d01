"""Building blocks every service flow uses: a message-screen view and the closing step that
ends the session (on 'finished' or by itself after a while)."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import qrcode

from kiosk.core.engine import TIMEOUT, Command, EndSession, Event, State, Transition
from kiosk.core.views import Button, MessageView, Picture, Waiting
from kiosk.terminals.home.flow import ATTRACT, TerminalContext

Ctx = TerminalContext
BACK = Button("back", "app.back")
# The one button of a last message: the citizen is done.
FINISH = (Button("finished", "flow.finish", "primary"),)


def message(
    title: str,
    body: str | Sequence[str] | None = None,
    *,
    tone: str = "info",
    buttons: Sequence[Button] = (),
    values: Mapping[str, Any] | None = None,
    code: str | None = None,
    image_png: bytes | None = None,
    note: str | None = None,
    progress: str | None = None,
    quiet: bool = False,
    picture: Picture | None = None,
    waiting: str | None = None,
    codes: Sequence[str] = (),
) -> MessageView:
    """A message screen: a title key, body keys (one, or several lines), and the rest.

    ``picture``: the machine part and action this step asks for (docs/ui.md); ``waiting``:
    the machine is working and the citizen waits - the message key that says what takes
    time, shown after a few seconds under an indeterminate indicator; ``codes``: technical
    detail for staff, in small type after the plain words."""
    lines = (body,) if isinstance(body, str) else tuple(body or ())
    return MessageView(
        title,
        lines,
        tone,
        tuple(buttons),
        dict(values or {}),
        code,
        image_png,
        note,
        progress,
        tuple(codes),
        quiet=quiet,
        picture=picture,
        waiting=Waiting(waiting) if waiting else None,
    )


def qr_png(text: str, box: int = 10) -> bytes:
    """A QR code as PNG bytes for a message screen's image (a photo number, a payment link)."""
    image = qrcode.make(text, box_size=box, border=2)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def outcome_view(
    title: str, body: str, tone: str, progress: str = "flow.take_card"
) -> Callable[[Ctx], MessageView]:
    """A fixed last message: title and body, the reminder to take the card, Finish."""
    view = message(title, body, tone=tone, progress=progress, buttons=FINISH)
    return lambda ctx: view


def done(ctx: Ctx, event: Event) -> list[Command]:
    return [EndSession("done")]


def closing_state(
    name: str,
    view: Callable[[Ctx], MessageView],
    seconds: float,
    end: Callable[[Ctx, Event], list[Command]] = done,
) -> State[Ctx]:
    """A last message the citizen dismisses with 'finished', or that goes by itself."""
    return State(
        name,
        view,
        (Transition("finished", ATTRACT, action=end), Transition(TIMEOUT, ATTRACT, action=end)),
        timeout=lambda ctx: seconds,
    )
