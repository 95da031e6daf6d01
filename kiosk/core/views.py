"""Typed view models: what a flow state asks the screen to show.

A view carries message keys and values, never translated text and never personal data (a
photo is fetched by the screen from the service that holds it in the session). Each view type
names the screen that renders it; the UI renders and forwards the citizen's intents, it
decides nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class View:
    """Base of every view; ``screen`` names the UI screen that renders it."""

    screen: ClassVar[str] = ""
    # Staff mode: nothing is read out to the hall (the spoken prompts skip it).
    quiet: bool = field(default=False, kw_only=True)


@dataclass(frozen=True)
class Button:
    intent: str  # what pressing it sends
    label: str  # message key
    style: str = ""  # "" | "primary" | "danger"
    data: Mapping[str, Any] = field(default_factory=dict)  # sent with the intent
    values: Mapping[str, Any] = field(default_factory=dict)  # the label's placeholders


@dataclass(frozen=True)
class MessageView(View):
    """The general step screen: a title, lines of text, an optional big code or picture, a
    caution, a reminder, and buttons."""

    screen: ClassVar[str] = "message"
    title: str
    body: tuple[str, ...] = ()  # message keys, one line each ("" leaves a blank line)
    tone: str = "info"  # info | ok | warn | error
    buttons: tuple[Button, ...] = ()
    values: Mapping[str, Any] = field(default_factory=dict)  # placeholders of every text
    code: str | None = None  # shown large (a photo number, a document number)
    image_png: bytes | None = None  # a QR code
    note: str | None = None  # a caution beside the outcome (message key)
    progress: str | None = None  # a reminder under everything (message key)


@dataclass(frozen=True)
class MenuItem:
    key: str  # the service (its name is the message key service.<key>)
    icon: str = ""
    paused: bool = False  # shown, but not open now (central not answering)


@dataclass(frozen=True)
class MenuView(View):
    screen: ClassVar[str] = "menu"
    services: tuple[MenuItem, ...] = ()
    notice: str | None = None  # why some services are paused (message key)


@dataclass(frozen=True)
class AttractView(View):
    screen: ClassVar[str] = "attract"
    slides: tuple[str, ...] = ("help",)  # attract.slide.<slide>.title / .body, in turn
    slide_s: float = 6.0


@dataclass(frozen=True)
class OutOfServiceView(View):
    screen: ClassVar[str] = "out_of_service"
    reason_key: str = ""
    values: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""


@dataclass(frozen=True)
class PinView(View):
    """Staff sign-in: the pad keeps the digits itself until OK."""

    screen: ClassVar[str] = "pin"
    title: str = ""
    body: str = ""
    ask_number: bool = False  # each staff member types their number first
    error: str | None = None  # message key after a wrong PIN
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TextEntryView(View):
    """Text typed on the on-screen keyboard (Chinese by pinyin, digits, Latin letters): the
    screen keeps what is typed until OK sends it (intent ``text`` with ``text``). ``value``:
    what the field starts with; ``error``: why the last text was not taken (message key)."""

    screen: ClassVar[str] = "text_entry"
    title: str = ""
    body: str = ""
    value: str = field(default="", repr=False)  # may be personal data (an address)
    max_length: int = 100
    error: str | None = None
    values: Mapping[str, Any] = field(default_factory=dict)


def lookup(view: object, path: str) -> Any:
    """The value at a dotted path through views, dataclasses and mappings (``values.fee``),
    or None: the scripted demo's expectations read views this way."""
    value = view
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif hasattr(value, "__dataclass_fields__"):
            value = getattr(value, part, None)
        else:
            return None
    return value
