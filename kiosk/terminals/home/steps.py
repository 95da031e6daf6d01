"""Building blocks every service flow uses: a message-screen view and the closing step that
ends the session (on 'finished' or by itself after a while)."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any

import qrcode

from kiosk.core.engine import (
    TIMEOUT,
    Action,
    Command,
    Context,
    EndSession,
    Event,
    State,
    Transition,
)
from kiosk.terminals.home.flow import ATTRACT

# The one button of a last message: the citizen is done.
FINISH = (("finished", "flow.finish", "primary"),)


def message(
    title: str,
    body: str | list[str] | None = None,
    *,
    tone: str = "info",
    buttons: tuple[tuple[str, str, str], ...] = (),
    **extra: Any,
) -> dict[str, Any]:
    """Data for the message screen: i18n keys for title and body (a list of keys: one line
    each), (intent, label, style) buttons, and extras such as a code, an image or a progress
    line."""
    return {
        "title": title,
        "body": body,
        "tone": tone,
        "buttons": [{"intent": i, "label": label, "style": style} for i, label, style in buttons],
        **extra,
    }


def qr_png(text: str, box: int = 10) -> bytes:
    """A QR code as PNG bytes for a message screen's image (a photo number, a payment link)."""
    image = qrcode.make(text, box_size=box, border=2)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def outcome_view(
    title: str, body: str, tone: str, progress: str = "flow.take_card"
) -> Callable[[Context], dict[str, Any]]:
    """A fixed last message: title and body, the reminder to take the card, Finish."""
    return lambda ctx: message(title, body, tone=tone, progress=progress, buttons=FINISH)


def done(ctx: Context, event: Event) -> list[Command]:
    return [EndSession("done")]


def closing_state(
    name: str,
    view: Callable[[Context], Mapping[str, Any]],
    seconds: float,
    end: Action = done,
) -> State:
    """A last message the citizen dismisses with 'finished', or that goes by itself."""
    return State(
        name,
        "message",
        (Transition("finished", ATTRACT, action=end), Transition(TIMEOUT, ATTRACT, action=end)),
        timeout=lambda ctx: seconds,
        view=view,
    )
