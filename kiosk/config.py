"""Machine configuration: one TOML file per kiosk, validated once at start into frozen
typed objects. Unknown keys, wrong types and missing values are errors naming the key path.

Every option is documented where it is declared (the ``description`` of its field).
"""

from __future__ import annotations

import enum
import functools
import json
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kiosk.core.pins import (
    DEMO_PIN,
    MIN_ITERATIONS,
    NUMBER_DIGITS,
    valid_pin_hash,
    verify_pin,
)


class ConfigError(Exception):
    """A configuration that cannot be used; the message names each offending key path."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class TerminalType(enum.StrEnum):
    RENEWAL = "renewal"
    PHOTO = "photo"
    PICKUP = "pickup"


class Language(enum.StrEnum):
    ZH = "zh"
    EN = "en"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PositiveSeconds = Annotated[float, Field(gt=0, le=86_400)]


class KioskSection(_Section):
    id: Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{2,31}$")] = Field(
        description="Kiosk identifier, unique in the fleet (upper-case letters, digits, '-')."
    )
    terminal: TerminalType = Field(description="Which services this machine offers.")
    place: str = Field(default="", description="Where the machine stands (printed on receipts).")
    languages: tuple[Language, ...] = Field(
        default=(Language.ZH, Language.EN), description="Offered languages, the first is default."
    )
    data_dir: str = Field(default="var", description="Directory for the outbox, keys, journals.")

    @model_validator(mode="after")
    def _languages_not_empty(self) -> KioskSection:
        if not self.languages:
            raise ValueError("languages must name at least one language")
        return self


class TimeoutsSection(_Section):
    idle_s: PositiveSeconds = Field(
        default=60.0, description="Seconds without a touch before 'still there?' is asked."
    )
    still_there_s: PositiveSeconds = Field(
        default=15.0, description="Countdown shown on 'still there?' before the session ends."
    )
    attract_slide_s: PositiveSeconds = Field(
        default=6.0, description="Seconds each attract-loop slide stays on screen."
    )
    message_s: PositiveSeconds = Field(
        default=8.0, description="Seconds an informational screen stays before moving on."
    )
    device_s: PositiveSeconds = Field(
        default=30.0, description="Longest wait for one device step (read, print, dispense)."
    )
    senior_factor: Annotated[float, Field(ge=1, le=5)] = Field(
        default=2.0,
        description="Idle and 'still there?' times are multiplied by this once the ID card "
        "shows the citizen is 60 or over.",
    )


class CentralSection(_Section):
    url: str = Field(
        default="http://127.0.0.1:8787", description="Base URL of the central exit-entry system."
    )
    embedded: bool = Field(
        default=False, description="Start the reference central service inside the kiosk (demo)."
    )
    ca_bundle: str = Field(default="", description="CA bundle for TLS; empty = system store.")
    secret_file: str = Field(
        default="", description="File with the kiosk's HMAC secret for request signing."
    )
    timeout_s: PositiveSeconds = Field(default=10.0, description="Per-request timeout.")
    max_response_kb: Annotated[int, Field(ge=16, le=65_536)] = Field(
        default=1024, description="Largest central answer read (KiB); more fails the attempt."
    )
    heartbeat_s: PositiveSeconds = Field(
        default=300.0, description="Seconds between device-status heartbeats to central."
    )
    probe_s: Annotated[float, Field(ge=5, le=3600)] = Field(
        default=15.0,
        description="While central is not answering, seconds between heartbeats that find out "
        "when it is back (services that need central are paused until then).",
    )


class QueueSection(_Section):
    db: str = Field(default="outbox.sqlite", description="Outbox file, relative to data_dir.")
    key_file: str = Field(
        default="outbox.key", description="AES-GCM key file (0600), relative to data_dir."
    )
    offline_warn_h: PositiveSeconds = Field(
        default=24.0, description="Hours without a successful sync before staff are warned."
    )
    audit_days: Annotated[int, Field(ge=1, le=3650)] = Field(
        default=90, description="Days to keep the minimal audit record of delivered entries."
    )
    batch_size: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=500,
        description="Entries per sync request (attachments are capped at 4 MiB per request).",
    )
    lease_s: PositiveSeconds = Field(
        default=60.0, description="Seconds an entry stays leased to a sync attempt."
    )
    max_backoff_s: PositiveSeconds = Field(
        default=300.0, description="Cap of the full-jitter retry delay (seconds)."
    )
    max_db_mb: Annotated[int, Field(ge=0, le=1_000_000)] = Field(
        default=0, description="Largest outbox database (MiB); 0 = limited by the disk only."
    )
    min_free_mb: Annotated[int, Field(ge=0, le=1_000_000)] = Field(
        default=64, description="Free disk (MiB) below which the kiosk stops taking transactions."
    )


class _DeviceSection(_Section):
    driver: str = Field(description="Driver name from the device registry.")
    simulator: bool = Field(
        default=False, description="Start the driver's simulator and connect the driver to it."
    )
    required: bool | None = Field(
        default=None, description="Override whether the terminal type requires this device."
    )


class SerialDeviceSection(_DeviceSection):
    port: str = Field(default="", description="Serial port or pyserial URL (socket://host:port).")
    baud: Annotated[int, Field(ge=1200, le=921_600)] = Field(default=115_200)
    pace: bool = Field(default=False, description="Simulator only: pace bytes at the baud rate.")


class IdCardSection(SerialDeviceSection):
    poll_s: Annotated[float, Field(ge=0.3, le=10)] = Field(
        default=0.5, description="Card-presence poll period (the SAM allows >= 0.3 s)."
    )


class PrinterSection(SerialDeviceSection):
    columns: Annotated[int, Field(ge=16, le=80)] = Field(default=48)


class DispenserSection(SerialDeviceSection):
    address: Annotated[int, Field(ge=0, le=15)] = Field(default=0)
    take_timeout_s: PositiveSeconds = Field(
        default=30.0, description="Seconds the document waits at the gate before capture."
    )


class CameraSection(_DeviceSection):
    source: str = Field(default="0", description="Device index, V4L2 path or video file.")
    width: Annotated[int, Field(ge=160, le=4096)] = 1280
    height: Annotated[int, Field(ge=120, le=4096)] = 720
    fps: Annotated[float, Field(gt=0, le=120)] = 25.0


class ChipSection(_DeviceSection):
    reader: str = Field(default="", description="Regular expression picking the PC/SC reader.")
    trust_store: str = Field(default="", description="Directory or file of trusted CSCA certs.")
    poll_s: Annotated[float, Field(ge=0.05, le=5)] = Field(
        default=0.25, description="Longest wait of the card-presence monitor between checks."
    )
    extended_length: bool = Field(
        default=True,
        description="Read with extended-length APDUs when the chip's ATR offers them.",
    )


class DevicesSection(_Section):
    idcard: IdCardSection | None = None
    chip: ChipSection | None = None
    printer: PrinterSection | None = None
    dispenser: DispenserSection | None = None
    camera: CameraSection | None = None


class PhotoSection(_Section):
    spec: str = Field(default="cn-exit-entry", description="Photo specification name.")


class VoiceSection(_Section):
    enabled: bool = Field(
        default=True, description="Spoken prompts and photo coaching (espeak-ng, offline)."
    )
    prompts: bool = Field(
        default=True,
        description="Read out the title of each step that waits for the citizen.",
    )


class PaymentSection(_Section):
    poll_s: Annotated[float, Field(ge=0.5, le=30)] = Field(
        default=2.0, description="Seconds between checks whether the citizen has paid."
    )
    missed_polls: Annotated[int, Field(ge=1, le=100)] = Field(
        default=10,
        description="Checks in a row central may miss before the citizen is told payment "
        "cannot be confirmed (the order is then settled later: cancelled or refunded).",
    )
    settle_s: PositiveSeconds = Field(
        default=600.0,
        description="Age (seconds) after which an order still open is settled without the "
        "citizen: an unpaid one cancelled, a paid one refunded unless it was issued.",
    )


class ServiceSection(_Section):
    """How the machine keeps itself running unattended (docs/operations.md)."""

    crash_limit: Annotated[int, Field(ge=1, le=100)] = Field(
        default=3,
        description="Unclean ends (crash, watchdog restart, power cut) within "
        "crash_window_min after which the kiosk starts out of service and alerts staff "
        "instead of serving citizens; staff put it back in service.",
    )
    crash_window_min: Annotated[float, Field(gt=0, le=1440)] = Field(
        default=10.0, description="Minutes over which unclean ends are counted."
    )
    worker_stall_s: PositiveSeconds = Field(
        default=180.0,
        description="A device worker that has not run a no-op for this long is wedged: the "
        "watchdog stops its pings and the service manager restarts the kiosk. Must exceed "
        "the longest device step (two device steps and the wait for a document to be taken).",
    )


@functools.cache
def _is_demo_pin(pin_hash: str) -> bool:
    return verify_pin(DEMO_PIN, pin_hash)  # one PBKDF2 per distinct hash, not per load


def _check_pin_hash(pin_hash: str, where: str) -> None:
    if pin_hash and not valid_pin_hash(pin_hash):
        raise ValueError(
            f"{where} is not a hash made by `kiosk staff pin-hash` "
            f"(at least {MIN_ITERATIONS} iterations)"
        )


class StaffMember(_Section):
    number: Annotated[str, Field(pattern=f"^[0-9]{{{NUMBER_DIGITS[0]},{NUMBER_DIGITS[1]}}}$")] = (
        Field(description="The staff number typed on the pad before the PIN (3-8 digits).")
    )
    pin_hash: str = Field(description="Hash of this person's PIN (`kiosk staff pin-hash`).")

    @model_validator(mode="after")
    def _pin_hash_readable(self) -> StaffMember:
        # Required: an empty hash would turn staff mode on with a number nobody can use.
        _check_pin_hash(self.pin_hash or "-", f"staff member {self.number}'s pin_hash")
        return self


class StaffSection(_Section):
    pin_hash: str = Field(
        default="",
        description="Hash of one staff PIN for the machine (`kiosk staff pin-hash`). Staff hold "
        "the kiosk number in the header for 3 s to sign in.",
    )
    members: list[StaffMember] = Field(
        default_factory=list,
        description="Staff who sign in with their number and own PIN, so that alerts say who "
        "did what (instead of pin_hash). Neither: no staff mode at the machine.",
    )
    max_attempts: Annotated[int, Field(ge=1, le=10)] = Field(
        default=3, description="Wrong PINs in a row before staff mode locks."
    )
    lockout_s: PositiveSeconds = Field(
        default=300.0, description="Seconds staff mode stays locked after too many wrong PINs."
    )

    @model_validator(mode="after")
    def _pin_hash_readable(self) -> StaffSection:
        _check_pin_hash(self.pin_hash, "staff.pin_hash")
        if self.pin_hash and self.members:
            raise ValueError("staff: give pin_hash (one PIN) or members (one each), not both")
        numbers = [m.number for m in self.members]
        if len(set(numbers)) != len(numbers):
            raise ValueError("staff.members: a staff number is listed twice")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.pin_hash or self.members)

    @property
    def credentials(self) -> dict[str, str]:
        """Staff number -> PIN hash; the machine's one PIN under the number ""."""
        if self.members:
            return {m.number: m.pin_hash for m in self.members}
        return {"": self.pin_hash} if self.pin_hash else {}


class KioskConfig(_Section):
    kiosk: KioskSection
    timeouts: TimeoutsSection = TimeoutsSection()
    central: CentralSection = CentralSection()
    queue: QueueSection = QueueSection()
    devices: DevicesSection = DevicesSection()
    photo: PhotoSection = PhotoSection()
    payment: PaymentSection = PaymentSection()
    voice: VoiceSection = VoiceSection()
    staff: StaffSection = StaffSection()
    service: ServiceSection = ServiceSection()

    @model_validator(mode="after")
    def _worker_stall_exceeds_device_steps(self) -> KioskConfig:
        longest = self.longest_device_step_s
        if self.service.worker_stall_s <= longest:
            raise ValueError(
                f"service.worker_stall_s ({self.service.worker_stall_s:g}) must exceed the "
                f"longest device step ({longest:g} s): a busy worker would look wedged"
            )
        return self

    @property
    def longest_device_step_s(self) -> float:
        """The longest a device worker is busy with one step: a document handed over waits
        for the citizen between two device steps."""
        dispenser = self.devices.dispenser
        take_s = dispenser.take_timeout_s if dispenser is not None else 0.0
        return 2 * self.timeouts.device_s + take_s

    @model_validator(mode="after")
    def _no_demo_pin_in_service(self) -> KioskConfig:
        # The sample configurations' PIN is in the README: anyone could take a real machine
        # out of service with it. It is allowed only beside the embedded (demo) central.
        if self.central.embedded:
            return self
        for number, pin_hash in self.staff.credentials.items():
            if _is_demo_pin(pin_hash):
                who = f"staff member {number}'s" if number else "staff.pin_hash"
                raise ValueError(
                    f"{who} PIN is the demo PIN; make a PIN of its own with `kiosk staff pin-hash`"
                )
        return self

    @property
    def data_dir(self) -> Path:
        return Path(self.kiosk.data_dir)


def _format(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors():
        path = ".".join(str(p) for p in item["loc"]) or "(top level)"
        kind = item["type"]
        if kind == "extra_forbidden":
            problems.append(f"{path}: unknown key")
        elif kind == "missing":
            problems.append(f"{path}: missing value")
        else:
            problems.append(f"{path}: {item['msg']}")
    return problems


def parse_config(data: dict[str, Any], source: str = "<config>") -> KioskConfig:
    """Validate already-parsed TOML data."""
    # JSON-mode strict validation: TOML arrays become tuples and strings become enums, but
    # "5" is never silently taken for 5 nor 1 for true.
    try:
        return KioskConfig.model_validate_json(json.dumps(data, default=str), strict=True)
    except ValidationError as exc:
        raise ConfigError(source, _format(exc)) from None


def load_config(path: str | Path) -> KioskConfig:
    """Read and validate one configuration file; raises ConfigError naming the key path."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read file: {exc.strerror}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    return parse_config(data, str(path))
