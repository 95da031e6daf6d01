"""Machine configuration: one TOML file per kiosk, validated once at start into frozen
typed objects. Unknown keys, wrong types and missing values are errors naming the key path.

Every option is documented where it is declared (the ``description`` of its field).
"""

from __future__ import annotations

import codecs
import enum
import json
import os
import re
import stat
import tomllib
from pathlib import Path, PurePath
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from kiosk.core.pins import DEMO_PIN, NUMBER_DIGITS, parse_pin_hash, pin_hash_problem

MAX_FILE_BYTES = 1 << 20  # a machine's configuration is a few KiB
MAX_DEPTH = 16  # tables and arrays inside one another; the deepest real key is 3


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
    # Every duration and count has bounds the machine can live with, given where it is
    # declared (``lockout_s = 1e-6`` is no lockout; a day-long idle time strands the next
    # citizen); nan and inf are none.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _printable(value: str) -> str:
    # A NUL cuts a path short in the OS; an ESC in the place name is a printer command on the
    # receipt; a newline forges a log line.
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in value):
        raise ValueError("control characters (NUL, ESC, line breaks...) are not allowed")
    return value


def _no_parent(value: str) -> str:
    if ".." in PurePath(value).parts:
        raise ValueError("'..' is not allowed in a path")
    return value


def _in_data_dir(value: str) -> str:
    if PurePath(value).is_absolute() or PurePath(value).name in ("", "."):
        raise ValueError("give a file name inside data_dir (relative, without '..')")
    return value


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc}") from None
    return value


Text = Annotated[str, AfterValidator(_printable), Field(max_length=200)]
# A path on this machine, absolute or relative to the working directory, or a device URL.
PathText = Annotated[
    str, AfterValidator(_printable), AfterValidator(_no_parent), Field(max_length=1024)
]
# A file kept in the data directory: its name there (sub-directories allowed).
DataFile = Annotated[
    str,
    AfterValidator(_printable),
    AfterValidator(_no_parent),
    AfterValidator(_in_data_dir),
    Field(min_length=1, max_length=255),
]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]  # a driver's, a spec's


class KioskSection(_Section):
    id: Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{2,31}$")] = Field(
        description="Kiosk identifier, unique in the fleet (upper-case letters, digits, '-')."
    )
    terminal: TerminalType = Field(description="Which services this machine offers.")
    place: Text = Field(default="", description="Where the machine stands (printed on receipts).")
    languages: tuple[Language, ...] = Field(
        default=(Language.ZH, Language.EN), description="Offered languages, the first is default."
    )
    data_dir: PathText = Field(
        default="var", min_length=1, description="Directory for the outbox, keys, journals."
    )

    @model_validator(mode="after")
    def _languages_not_empty(self) -> KioskSection:
        if not self.languages:
            raise ValueError("languages must name at least one language")
        if len(set(self.languages)) != len(self.languages):
            raise ValueError("languages: a language is listed twice")
        return self


class TimeoutsSection(_Section):
    idle_s: float = Field(
        default=60.0,
        ge=10,
        le=3600,
        description="Seconds without a touch before 'still there?' is asked.",
    )
    still_there_s: float = Field(
        default=15.0,
        ge=5,
        le=600,
        description="Countdown shown on 'still there?' before the session ends.",
    )
    attract_slide_s: float = Field(
        default=6.0, ge=1, le=600, description="Seconds each attract-loop slide stays on screen."
    )
    message_s: float = Field(
        default=8.0,
        ge=1,
        le=600,
        description="Seconds an informational screen stays before moving on.",
    )
    device_s: float = Field(
        default=30.0,
        ge=1,
        le=600,
        description="Longest wait for one device step (read, print, dispense).",
    )
    senior_factor: Annotated[float, Field(ge=1, le=5)] = Field(
        default=2.0,
        description="Idle and 'still there?' times are multiplied by this once the ID card "
        "shows the citizen is 60 or over.",
    )


class CentralSection(_Section):
    url: str = Field(
        default="http://127.0.0.1:8787",
        pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        max_length=2048,
        description="Base URL of the central exit-entry system.",
    )
    embedded: bool = Field(
        default=False, description="Start the reference central service inside the kiosk (demo)."
    )
    ca_bundle: PathText = Field(default="", description="CA bundle for TLS; empty = system store.")
    secret_file: PathText = Field(
        default="", description="File with the kiosk's HMAC secret for request signing."
    )
    timeout_s: float = Field(default=10.0, ge=0.5, le=300, description="Per-request timeout.")
    max_response_kb: Annotated[int, Field(ge=16, le=65_536)] = Field(
        default=1024, description="Largest central answer read (KiB); more fails the attempt."
    )
    heartbeat_s: float = Field(
        default=300.0,
        ge=10,
        le=86_400,
        description="Seconds between device-status heartbeats to central.",
    )
    probe_s: Annotated[float, Field(ge=5, le=3600)] = Field(
        default=15.0,
        description="While central is not answering, seconds between heartbeats that find out "
        "when it is back (services that need central are paused until then).",
    )


class QueueSection(_Section):
    db: DataFile = Field(default="outbox.sqlite", description="Outbox file, inside data_dir.")
    key_file: DataFile = Field(
        default="outbox.key", description="AES-GCM key file (0600), inside data_dir."
    )
    offline_warn_h: float = Field(
        default=24.0,
        ge=0.1,
        le=720,
        description="Hours without a successful sync before staff are warned.",
    )
    audit_days: Annotated[int, Field(ge=1, le=3650)] = Field(
        default=90, description="Days to keep the minimal audit record of delivered entries."
    )
    batch_size: Annotated[int, Field(ge=1, le=1000)] = Field(
        default=500,
        description="Entries per sync request (attachments are capped at 4 MiB per request).",
    )
    lease_s: float = Field(
        default=60.0, ge=5, le=3600, description="Seconds an entry stays leased to a sync attempt."
    )
    max_backoff_s: float = Field(
        default=300.0, ge=1, le=86_400, description="Cap of the full-jitter retry delay (seconds)."
    )
    max_db_mb: Annotated[int, Field(ge=0, le=1_000_000)] = Field(
        default=0, description="Largest outbox database (MiB); 0 = limited by the disk only."
    )
    min_free_mb: Annotated[int, Field(ge=0, le=1_000_000)] = Field(
        default=64, description="Free disk (MiB) below which the kiosk stops taking transactions."
    )


class _DeviceSection(_Section):
    driver: Name = Field(description="Driver name from the device registry.")
    simulator: bool = Field(
        default=False, description="Start the driver's simulator and connect the driver to it."
    )
    required: bool | None = Field(
        default=None, description="Override whether the terminal type requires this device."
    )


class SerialDeviceSection(_DeviceSection):
    port: PathText = Field(
        default="", description="Serial port or pyserial URL (socket://host:port)."
    )
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
    take_timeout_s: float = Field(
        default=30.0,
        ge=0.5,
        le=600,
        description="Seconds the document waits at the gate before capture.",
    )


class CameraSection(_DeviceSection):
    source: PathText = Field(default="0", description="Device index, V4L2 path or video file.")
    width: Annotated[int, Field(ge=160, le=4096)] = 1280
    height: Annotated[int, Field(ge=120, le=4096)] = 720
    fps: Annotated[float, Field(gt=0, le=120)] = 25.0


class ChipSection(_DeviceSection):
    reader: Annotated[str, AfterValidator(_regex), Field(max_length=200)] = Field(
        default="", description="Regular expression picking the PC/SC reader."
    )
    trust_store: PathText = Field(
        default="", description="Directory or file of trusted CSCA certs."
    )
    poll_s: Annotated[float, Field(ge=0.05, le=5)] = Field(
        default=0.25, description="Longest wait of the card-presence monitor between checks."
    )
    extended_length: bool = Field(
        default=True,
        description="Read with extended-length APDUs when the chip's ATR offers them.",
    )


class RewriterSection(SerialDeviceSection):
    """The permit card transport with its rewritable-back printer (a renewal machine)."""

    ack_timeout_s: Annotated[float, Field(gt=0, le=30)] = Field(
        default=3.0, description="Seconds the module has to acknowledge a command."
    )
    take_timeout_s: float = Field(
        default=30.0,
        ge=0.5,
        le=600,
        description="Seconds the permit waits in the slot before it is captured.",
    )


class DevicesSection(_Section):
    idcard: IdCardSection | None = None
    chip: ChipSection | None = None
    printer: PrinterSection | None = None
    dispenser: DispenserSection | None = None
    camera: CameraSection | None = None
    rewriter: RewriterSection | None = None


class ScreenSection(_Section):
    """The touch panel. The screens are laid out for 1920 x 1080; the panel's size sets how
    many pixels a 15 mm touch target takes (ui/theme.py)."""

    diagonal_in: float = Field(
        default=21.5,
        ge=10,
        le=100,
        description="The panel's diagonal in inches (1920 x 1080 pixels): touch targets are "
        "sized to at least 15 mm on it.",
    )

    @property
    def px_per_mm(self) -> float:
        return float((1920**2 + 1080**2) ** 0.5 / (self.diagonal_in * 25.4))


class IdentityFallback(enum.StrEnum):
    COUNTER = "counter"  # the citizen is sent to the counter
    STAFF = "staff"  # staff at the machine confirm the citizen's identity with their PIN


class IdentitySection(_Section):
    enabled: bool = Field(
        default=True,
        description="Compare the citizen's face with the document photo before anything is "
        "issued or handed out (renewal and pickup terminals with a camera).",
    )
    max_tries: Annotated[int, Field(ge=1, le=5)] = Field(
        default=3, description="Tries at the face check before the citizen is sent on."
    )
    min_age: Annotated[int, Field(ge=0, le=18)] = Field(
        default=16, description="Citizens younger than this go to the fallback at once."
    )
    fallback: IdentityFallback = Field(
        default=IdentityFallback.COUNTER,
        description="Where those the camera cannot serve go: 'counter', or 'staff' (staff at "
        "the machine confirm with their PIN; needs staff mode).",
    )
    try_s: Annotated[float, Field(ge=10, le=120)] = Field(
        default=40.0, description="Longest one try may take before it counts as failed."
    )


class AppointmentSection(_Section):
    enabled: bool = Field(
        default=True,
        description="Offer appointment check-in (the green channel) on this terminal's menu: "
        "scan the appointment's QR code or type its number, print a priority ticket.",
    )
    scan_s: Annotated[float, Field(ge=10, le=120)] = Field(
        default=30.0,
        description="How long the camera looks for the QR code before the number pad is offered.",
    )


class PhotoSection(_Section):
    spec: Name = Field(default="cn-exit-entry", description="Photo specification name.")


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
    settle_s: float = Field(
        default=600.0,
        ge=60,
        le=86_400,
        description="Age (seconds) after which an order still open is settled without the "
        "citizen: an unpaid one cancelled, a paid one refunded unless it was issued.",
    )
    card_insert_s: float = Field(
        default=90.0,
        ge=10,
        le=600,
        description="Seconds a citizen who has paid has to insert the permit into the card "
        "module (a renewal machine with a [devices.rewriter]); then the fee is refunded.",
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
    worker_stall_s: Annotated[float, Field(gt=0, le=3600)] = Field(
        default=180.0,
        description="A device worker that has not run a no-op for this long is wedged: the "
        "watchdog stops its pings and the service manager restarts the kiosk. Must exceed "
        "the longest device step (two device steps and the wait for a document to be taken).",
    )


def _check_pin_hash(pin_hash: str, where: str) -> None:
    problem = pin_hash_problem(pin_hash) if pin_hash else None
    if problem is not None:
        raise ValueError(f"{where}: {problem}")


PinHashText = Annotated[str, Field(max_length=256)]


class StaffMember(_Section):
    number: Annotated[str, Field(pattern=f"^[0-9]{{{NUMBER_DIGITS[0]},{NUMBER_DIGITS[1]}}}$")] = (
        Field(description="The staff number typed on the pad before the PIN (3-8 digits).")
    )
    pin_hash: PinHashText = Field(
        description="Hash of this person's PIN (`kiosk staff pin-hash --config FILE --number N`)."
    )

    @model_validator(mode="after")
    def _pin_hash_readable(self) -> StaffMember:
        # Required: an empty hash would turn staff mode on with a number nobody can use.
        _check_pin_hash(self.pin_hash or "-", f"staff member {self.number}'s pin_hash")
        return self


class StaffSection(_Section):
    pin_hash: PinHashText = Field(
        default="",
        description="Hash of one staff PIN for the machine (`kiosk staff pin-hash --config "
        "FILE`, run on the machine: the hash is keyed with the machine's staff key). Staff "
        "hold the kiosk number in the header for 3 s to sign in.",
    )
    members: list[StaffMember] = Field(
        default_factory=list,
        max_length=500,
        description="Staff who sign in with their number and own PIN, so that alerts say who "
        "did what and a stranger's guesses lock only the number guessed at (instead of "
        "pin_hash). Neither: no staff mode at the machine.",
    )
    demo_pin: bool = Field(
        default=False,
        description=f"Staff mode opens with the published demo PIN {DEMO_PIN} (instead of "
        "pin_hash or members); only beside the embedded demo central (central.embedded).",
    )
    key_file: DataFile = Field(
        default="staff.key",
        description="The machine's staff key (0600, inside data_dir): every PIN hash is keyed "
        "with it, so that a copy of this file's hashes is no use to a guesser. Made by the "
        "first `kiosk staff pin-hash --config FILE` (or the kiosk's first start).",
    )
    max_attempts: Annotated[int, Field(ge=1, le=10)] = Field(
        default=3, description="Wrong PINs in a row (for one staff number) before it locks."
    )
    lockout_s: float = Field(
        default=300.0,
        ge=30,
        le=3600,
        description="Seconds the first lockout lasts; each further one in a row (no right PIN "
        "between) lasts twice the one before, up to max_lockout_s.",
    )
    max_lockout_s: float = Field(
        default=1800.0,
        ge=60,
        le=7200,
        description="The longest lockout: how long a stranger at the machine can keep staff "
        "out at most (bounded, so staff are never locked out for long).",
    )

    @model_validator(mode="after")
    def _pin_hash_readable(self) -> StaffSection:
        _check_pin_hash(self.pin_hash, "staff.pin_hash")
        given = [bool(self.pin_hash), bool(self.members), self.demo_pin]
        if sum(given) > 1:
            raise ValueError(
                "staff: give one of pin_hash (one PIN), members (one each) or demo_pin"
            )
        numbers = [m.number for m in self.members]
        if len(set(numbers)) != len(numbers):
            raise ValueError("staff.members: a staff number is listed twice")
        keys = {h.key_id for h in map(parse_pin_hash, self.credentials.values()) if h}
        if len(keys) > 1:
            raise ValueError(
                f"staff: the PIN hashes were made with different staff keys "
                f"({', '.join(sorted(keys))}); make them all on this machine"
            )
        if self.lockout_s > self.max_lockout_s:
            raise ValueError("staff: lockout_s is longer than max_lockout_s")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.pin_hash or self.members or self.demo_pin)

    @property
    def credentials(self) -> dict[str, str]:
        """Staff number -> PIN hash; the machine's one PIN under the number "" (none for
        the demo PIN, which the gate hashes with the machine's key)."""
        if self.members:
            return {m.number: m.pin_hash for m in self.members}
        return {"": self.pin_hash} if self.pin_hash else {}

    @property
    def key_id(self) -> str | None:
        """The staff key the configured hashes were made with (None: no hashes)."""
        parsed = [parse_pin_hash(h) for h in self.credentials.values()]
        return next((h.key_id for h in parsed if h is not None), None)


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
    identity: IdentitySection = IdentitySection()
    appointment: AppointmentSection = AppointmentSection()
    service: ServiceSection = ServiceSection()
    screen: ScreenSection = ScreenSection()

    @model_validator(mode="after")
    def _staff_fallback_needs_staff_mode(self) -> KioskConfig:
        if self.identity.fallback is IdentityFallback.STAFF and not self.staff.enabled:
            raise ValueError("identity.fallback = 'staff' needs staff mode (a staff PIN)")
        return self

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
        """The longest a device worker is busy with one step: a document handed over (or a
        permit given back) waits for the citizen between two device steps."""
        slots = (self.devices.dispenser, self.devices.rewriter)
        take_s = max((slot.take_timeout_s for slot in slots if slot is not None), default=0.0)
        return 2 * self.timeouts.device_s + take_s

    @model_validator(mode="after")
    def _no_demo_pin_in_service(self) -> KioskConfig:
        # The demo PIN is in the README: anyone could take a real machine out of service with
        # it. It is allowed only beside the embedded (demo) central. (A hash of it cannot be
        # made: `kiosk staff pin-hash` refuses it, and the gate refuses it at sign-in.)
        if self.staff.demo_pin and not self.central.embedded:
            raise ValueError(
                "staff.demo_pin is only for a demo set-up (central.embedded); give the machine "
                "a PIN of its own with `kiosk staff pin-hash --config FILE`"
            )
        return self

    @property
    def data_dir(self) -> Path:
        return Path(self.kiosk.data_dir)

    @property
    def staff_key_file(self) -> Path:
        return self.data_dir / self.staff.key_file


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
            problems.append(f"{path}: {item['msg'].removeprefix('Value error, ')}")
    return problems


def parse_config(data: dict[str, Any], source: str = "<config>") -> KioskConfig:
    """Validate already-parsed TOML data."""
    _check_depth(data, source)
    # JSON-mode strict validation: TOML arrays become tuples and strings become enums, but
    # "5" is never silently taken for 5 nor 1 for true.
    try:
        return KioskConfig.model_validate_json(json.dumps(data, default=str), strict=True)
    except ValidationError as exc:
        raise ConfigError(source, _format(exc)) from None


def load_config(path: str | Path) -> KioskConfig:
    """Read and validate one configuration file; raises ConfigError naming the key path."""
    return parse_config(read_toml(path), str(path))


def read_toml(path: str | Path) -> dict[str, Any]:
    """A configuration file's TOML, read with bounds: a regular file of at most 1 MiB, UTF-8
    text, nested at most ``MAX_DEPTH`` deep. Anything else is a ConfigError saying what the
    file is and what to do, never a traceback (nor a hang on a FIFO or /dev/zero)."""
    source = str(path)
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(source, ["not a regular file"])
        if info.st_size > MAX_FILE_BYTES:
            raise ConfigError(
                source, [f"larger than {MAX_FILE_BYTES >> 20} MiB: not a configuration"]
            )
        with open(path, "rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise ConfigError(source, [f"cannot read file: {reason}"]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(source, [f"larger than {MAX_FILE_BYTES >> 20} MiB: not a configuration"])
    text = _decode(raw, source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, [f"not valid TOML: {exc}"]) from None
    except RecursionError:  # tomllib parses nested arrays recursively
        raise ConfigError(source, [f"nested deeper than {MAX_DEPTH} levels"]) from None
    _check_depth(data, source)
    return data


_WIDE = (
    (codecs.BOM_UTF32_LE, "UTF-32"),  # before UTF-16: its mark starts the same way
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def _decode(raw: bytes, source: str) -> str:
    for mark, name in _WIDE:
        if raw.startswith(mark):
            raise ConfigError(source, [f"the file is {name} text: save it as UTF-8"])
    raw = raw.removeprefix(codecs.BOM_UTF8)  # what some Windows editors write first
    if b"\x00" in raw:
        raise ConfigError(
            source, ["the file holds NUL bytes (UTF-16 text, or not text): save it as UTF-8"]
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = raw[exc.start]
        raise ConfigError(
            source,
            [f"not UTF-8 text: byte 0x{byte:02x} at line {line}, column {column}: save as UTF-8"],
        ) from None


def _check_depth(data: object, source: str) -> None:
    """Refuse nesting no configuration has, before anything recursive walks it."""
    level: list[object] = [data]  # the tables and arrays at one depth
    for _ in range(MAX_DEPTH):
        level = [child for value in level for child in _containers(value)]
        if not level:
            return
    raise ConfigError(source, [f"nested deeper than {MAX_DEPTH} levels"])


def _containers(value: object) -> list[object]:
    """The tables and arrays directly inside a table or an array."""
    if isinstance(value, dict):
        inside: list[object] = list(value.values())
    elif isinstance(value, list | tuple):
        inside = list(value)
    else:
        return []
    return [child for child in inside if isinstance(child, dict | list | tuple)]


def staff_key_location(path: str | Path) -> Path:
    """Where the configuration at ``path`` keeps the machine's staff key. Only that is read
    (with the same checks), so that a configuration refused for its PIN hashes - made before
    they were keyed, or on another machine - can be given new ones."""
    data = read_toml(path)
    kiosk, staff = data.get("kiosk", {}), data.get("staff", {})
    problems = []
    found = {}
    for where, section, key, kind, default in (
        ("kiosk.data_dir", kiosk, "data_dir", PathText, "var"),
        ("staff.key_file", staff, "key_file", DataFile, "staff.key"),
    ):
        value = section.get(key, default) if isinstance(section, dict) else default
        try:
            found[key] = TypeAdapter(kind).validate_python(value, strict=True)
        except ValidationError as exc:
            problems += [f"{where}: {item['msg']}" for item in exc.errors()]
    if problems:
        raise ConfigError(str(path), problems)
    return Path(found["data_dir"]) / found["key_file"]
