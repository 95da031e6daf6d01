"""Card transport with a rewritable-film printer: the protocol every driver implements.

The renewal terminal takes the card-type permit in through a motorised slot, holds it over
the contactless antenna while the chip is read and written, then erases the thermal
rewritable film on the card's back and prints the new endorsement on it, and hands the card
back (or keeps it in the capture bin). Drivers differ in framing; the flow sees typed
requests and results, the status (card place, jam, film or head fault, cover open) and
stable error codes with recovery actions. docs/devices.md names the command set the first
driver speaks (Star Micronics TCP300II) and what it had to assume.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from PIL import Image

from devices.base import (
    NEVER_CANCELLED,
    CancelToken,
    Device,
    DeviceError,
    DeviceStatus,
    MediaError,
    ProtocolError,
    Recovery,
    StatusReport,
)

# The printable area of the film, in dots (8 dots/mm: 60 x 40 mm on an 85.6 x 54 mm card).
PRINT_WIDTH = 480
PRINT_HEIGHT = 320
DOTS_PER_MM = 8


class CardPlace(enum.Enum):
    """Where the card is."""

    NONE = "none"  # no card in the module
    SLOT = "slot"  # in the slot: inserted and not taken in yet, or handed back and not taken
    FRONT = "front"  # held inside at the front idling position (after erase / print)
    CHIP = "chip"  # held at the rear idling position, over the contactless antenna
    CHANNEL = "channel"  # between positions (under the heads, or jammed)


class HoldPosition(enum.Enum):
    """Where ``hold`` moves a card that is inside."""

    CHIP = "chip"
    FRONT = "front"


@dataclass(frozen=True)
class RewriterStatus(StatusReport):
    """The common status plus what the module reports about the card and itself."""

    card: CardPlace = CardPlace.NONE
    waiting_removal: bool = False  # handed back at the slot, not taken yet
    cover_open: bool = False
    jam: bool = False
    head_fault: bool = False  # erase or print head (temperature, broken dots)
    film_fault: bool = False  # the card in the module has no usable rewritable film
    device_code: str = "20"  # the module's own status code (hex), "20" = normal

    @property
    def card_inside(self) -> bool:
        return self.card in (CardPlace.FRONT, CardPlace.CHIP, CardPlace.CHANNEL)

    @property
    def card_present(self) -> bool:
        return self.card is not CardPlace.NONE

    @classmethod
    def unavailable(cls, status: DeviceStatus, detail: str) -> RewriterStatus:
        return cls(status=status, detail=detail)

    def to_json(self) -> dict[str, object]:
        """Everything, JSON-ready (for the probe and staff diagnostics)."""
        return {
            "status": self.status.value,
            "detail": self.detail,
            "warnings": list(self.warnings),
            "card": self.card.value,
            "card_present": self.card_present,
            "waiting_removal": self.waiting_removal,
            "cover_open": self.cover_open,
            "jam": self.jam,
            "head_fault": self.head_fault,
            "film_fault": self.film_fault,
            "device_code": self.device_code,
        }


@dataclass(frozen=True)
class BackPrint:
    """What to print on the card's back: a 1-bit image whose black dots are printed, at most
    PRINT_WIDTH x PRINT_HEIGHT dots (placed at the top left of the printable area)."""

    image: Image.Image
    erase_first: bool = True  # erase the old print in the same pass; False overprints

    def dots(self) -> Image.Image:
        """The image as mode "1" (0 = black = printed); DeviceError if it does not fit."""
        if self.image.width > PRINT_WIDTH or self.image.height > PRINT_HEIGHT:
            raise fault_error(
                RewriterFault.IMAGE_TOO_LARGE,
                f"{self.image.width} x {self.image.height} dots, at most "
                f"{PRINT_WIDTH} x {PRINT_HEIGHT}",
            )
        return self.image if self.image.mode == "1" else self.image.convert("1")


@dataclass(frozen=True)
class RewriterResult:
    """The completion of one operation, with the status read right after it."""

    operation: str
    status: RewriterStatus
    elapsed_s: float
    resends: int = 0  # frames sent again on the link (NAK, missing ACK, bad reply)
    frames: int = 0  # command frames this operation sent
    bytes_sent: int = 0


class RewriterFault(enum.Enum):
    """Every failure the flow may see, whatever the model; the value is the stable code."""

    NO_CARD = "rewriter.no_card"
    NO_CARD_INSERTED = "rewriter.no_card_inserted"
    CARD_REVERSED = "rewriter.card_reversed"
    JAM = "rewriter.jam"
    COVER_OPEN = "rewriter.cover_open"
    MOTOR = "rewriter.motor"
    ERASE_HEAD = "rewriter.erase_head"
    PRINT_HEAD = "rewriter.print_head"
    FILM = "rewriter.film"
    MEMORY = "rewriter.memory"
    IMAGE_TOO_LARGE = "rewriter.image_too_large"
    BAD_IMAGE = "rewriter.bad_image"
    INVALID_COMMAND = "rewriter.invalid_command"
    REJECTED = "rewriter.rejected"
    NOT_INSIDE = "rewriter.not_inside"
    OTHER = "rewriter.error"


_FAULTS: dict[RewriterFault, tuple[type[DeviceError], Recovery, str]] = {
    # The citizen's doing, or nothing to repair: the flow tells them what to do.
    RewriterFault.NO_CARD: (MediaError, Recovery.NONE, "no card in the module"),
    RewriterFault.NO_CARD_INSERTED: (MediaError, Recovery.NONE, "no card was inserted"),
    RewriterFault.CARD_REVERSED: (MediaError, Recovery.NONE, "card inserted the wrong way"),
    RewriterFault.FILM: (MediaError, Recovery.NONE, "the card's rewritable film is unusable"),
    RewriterFault.NOT_INSIDE: (MediaError, Recovery.NONE, "the card is not inside the module"),
    # Staff clears it.
    RewriterFault.JAM: (MediaError, Recovery.CLEAR, "card jam"),
    RewriterFault.COVER_OPEN: (MediaError, Recovery.CLEAR, "cover open"),
    # An engineer is needed.
    RewriterFault.MOTOR: (DeviceError, Recovery.MAINTENANCE, "transport motor failure"),
    RewriterFault.ERASE_HEAD: (DeviceError, Recovery.MAINTENANCE, "erase head fault"),
    RewriterFault.PRINT_HEAD: (DeviceError, Recovery.MAINTENANCE, "print head fault"),
    RewriterFault.MEMORY: (DeviceError, Recovery.MAINTENANCE, "module memory (EEPROM) error"),
    # Software: nothing to recover by retrying the same request.
    RewriterFault.IMAGE_TOO_LARGE: (DeviceError, Recovery.NONE, "image outside the print area"),
    RewriterFault.BAD_IMAGE: (DeviceError, Recovery.NONE, "image data refused"),
    RewriterFault.INVALID_COMMAND: (ProtocolError, Recovery.RESET, "command refused as invalid"),
    RewriterFault.REJECTED: (ProtocolError, Recovery.RESET, "command block rejected (DLE)"),
    RewriterFault.OTHER: (DeviceError, Recovery.RESET, "card module error"),
}


def fault_error(fault: RewriterFault, detail: str = "", *, code: str | None = None) -> DeviceError:
    """The device error for a fault, with its stable code and recovery action."""
    cls, recovery, text = _FAULTS[fault]
    message = f"{text}: {detail}" if detail else text
    return cls(message, code=code or fault.value, recovery=recovery)


@runtime_checkable
class CardRewriter(Device, Protocol):
    """A card transport with a rewritable-film printer. Every blocking call takes
    ``timeout_s`` and a cancel token and raises only device-layer errors; calls are
    serialised by the driver. Events: CARD_PLACED when a card was taken in, MEDIA_TAKEN when
    the citizen took it from the slot, CARD_REMOVED when a card vanished from inside,
    DEVICE_LOST / DEVICE_BACK."""

    @property
    def take_timeout_s(self) -> float:
        """Configured seconds a handed-back card waits at the slot before it is captured."""
        ...

    @property
    def is_open(self) -> bool: ...

    def status(self) -> RewriterStatus:
        """Query the module (short timeout); never raises."""
        ...

    def read_status(
        self, *, timeout_s: float = 3.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> RewriterStatus:
        """Query the module; raises device errors."""
        ...

    def insert(
        self, *, timeout_s: float = 30.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> RewriterResult:
        """Wait up to ``timeout_s`` for the citizen to insert a card, take it in and hold it
        over the chip antenna (``rewriter.no_card_inserted`` when none came)."""
        ...

    def hold(
        self,
        position: HoldPosition = HoldPosition.CHIP,
        *,
        timeout_s: float = 10.0,
        cancel: CancelToken = NEVER_CANCELLED,
    ) -> RewriterResult:
        """Move the card that is inside to ``position`` and hold it there."""
        ...

    def erase(
        self, *, timeout_s: float = 20.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> RewriterResult:
        """Erase the whole film; the card ends held at the front position."""
        ...

    def print_back(
        self, job: BackPrint, *, timeout_s: float = 30.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> RewriterResult:
        """Print ``job`` on the film (erasing first when asked); the card ends held at the
        front position."""
        ...

    def eject(
        self, *, timeout_s: float = 10.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> RewriterResult:
        """Hand the card back: it waits in the slot to be taken."""
        ...

    def wait_taken(self, *, timeout_s: float, cancel: CancelToken = NEVER_CANCELLED) -> bool:
        """True once the handed-back card is taken; False if still there at timeout."""
        ...

    def capture(
        self, *, timeout_s: float = 10.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> RewriterResult:
        """Keep the card: transport it (from inside or from the slot) into the capture bin."""
        ...

    def reset(
        self, *, timeout_s: float = 15.0, cancel: CancelToken = NEVER_CANCELLED
    ) -> RewriterResult:
        """Reinitialise the module (clears a jam); a card inside is handed back to the slot."""
        ...


__all__ = [
    "DOTS_PER_MM",
    "PRINT_HEIGHT",
    "PRINT_WIDTH",
    "BackPrint",
    "CardPlace",
    "CardRewriter",
    "HoldPosition",
    "RewriterFault",
    "RewriterResult",
    "RewriterStatus",
    "fault_error",
]
