"""Typed view models: what a flow state asks the screen to show.

A view carries message keys and values, never translated text and never personal data (a
photo is fetched by the screen from the service that holds it in the session). Each view type
names the screen that renders it; the UI renders and forwards the citizen's intents, it
decides nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar


class Picture(StrEnum):
    """The pictograms a view may show: a part of the machine and what the citizen does with
    it (ui/art/<value>.svg, animated by the screen). Out of service shows the part at fault;
    the help slide shows the parts this machine has."""

    IDCARD = "idcard"  # place the ID card on the reader
    IDCARD_TAKE = "idcard_take"  # take the ID card back
    PERMIT = "permit"  # insert the travel permit into the chip reader / rewriter slot
    PERMIT_TAKE = "permit_take"  # take the permit back from the slot
    DOCUMENT = "document"  # take the document from the dispenser's gate
    RECEIPT = "receipt"  # take the receipt from the printer's slot
    CAMERA = "camera"  # look at the camera
    PHONE_PAY = "phone_pay"  # scan the code on the screen with a phone
    QR_SCAN = "qr_scan"  # hold a code (on paper or a phone) under the scanner/camera
    STAFF = "staff"  # call staff (the header's button)


@dataclass(frozen=True)
class Progress:
    """Where the citizen is in a service: step ``step`` of ``steps`` (1-based), its name and
    the next step's (message keys; ``next`` None on the last step). Set by the terminal flow
    from the service's ``stages`` (kiosk.terminals.home.flow.Stage); every screen shows it in
    the same place."""

    step: int
    steps: int
    name: str
    next: str | None = None


@dataclass(frozen=True)
class Waiting:
    """The machine is working and the citizen can only wait: the screen shows an
    indeterminate indicator, and after ``after_s`` says what is taking time (``slow``, a
    message key taking the view's values)."""

    slow: str
    after_s: float = 5.0


@dataclass(frozen=True)
class View:
    """Base of every view; ``screen`` names the UI screen that renders it."""

    screen: ClassVar[str] = ""
    # Staff mode: nothing is read out to the hall (the spoken prompts skip it).
    quiet: bool = field(default=False, kw_only=True)
    # Guidance every screen renders the same way (docs/ui.md): the pictogram of the machine
    # part and action, the citizen's place in the service, and a waiting indicator.
    picture: Picture | None = field(default=None, kw_only=True)
    journey: Progress | None = field(default=None, kw_only=True)
    waiting: Waiting | None = field(default=None, kw_only=True)


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
    # Technical codes after the plain words, in small type (staff screens only): never
    # translated, never the only thing said.
    codes: tuple[str, ...] = ()


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
    # The help slide's pictures: where this machine's parts are (art.<picture> captions).
    parts: tuple[Picture, ...] = ()


@dataclass(frozen=True)
class OutOfServiceView(View):
    screen: ClassVar[str] = "out_of_service"
    reason_key: str = ""
    values: Mapping[str, Any] = field(default_factory=dict)
    source: str = ""
    codes: tuple[str, ...] = ()  # the fault's technical detail for staff, in small type


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
