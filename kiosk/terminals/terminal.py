"""What a terminal type is: one descriptor with its flows, the devices it cannot work without,
the services it builds from this machine's parts, its attract slides, its own screens and its
scripted citizen. ``kiosk.terminals.registry`` lists every terminal type in one place."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol

from devices.camera import Frame
from kiosk.config import KioskConfig, TerminalType
from kiosk.core.calls import PortKey
from kiosk.core.clock import Clock
from kiosk.core.engine import Event
from kiosk.core.runner import ViewState
from kiosk.core.voice import Voice
from kiosk.machine.central import CentralLink
from kiosk.machine.devices import DeviceHub
from kiosk.terminals.home.flow import ServiceFlow
from kiosk.terminals.script import ScriptBuilder
from offline_queue.outbox import Outbox

StaffAlert = Callable[[str, str], None]  # (code, message), any thread


@dataclass(frozen=True)
class Parts:
    """This machine's parts, as the wiring built them, for a terminal's services."""

    config: KioskConfig
    clock: Clock
    post: Callable[[Event], None]  # an event for the flows, from any thread
    alert: StaffAlert
    voice: Voice
    devices: DeviceHub | None = None
    outbox: Outbox | None = None
    # A new link to central for a look-up service (its own client, made on its worker).
    central: Callable[[], CentralLink] | None = None


@dataclass(frozen=True)
class Binding:
    """One service offered to the flows under ``port``."""

    port: PortKey[Any]
    service: object
    executor: Executor | None = None  # a worker lent by its owner (a device's); else its own
    close: Callable[[], None] | None = None


class Pictures(Protocol):
    """What a terminal's own screens show that flows never hold (any thread)."""

    def frame(self) -> Frame | None:
        """The camera's newest frame."""
        ...

    def photo(self, index: int) -> bytes | None:
        """Photo ``index`` of the current session as it would be submitted."""
        ...


@dataclass
class Equipment:
    """What a terminal's ``equip`` built: its services and the hooks the application calls."""

    bindings: list[Binding] = field(default_factory=list)
    watch: Callable[[ViewState], None] | None = None  # told every view (live camera)
    tick: Callable[[], None] | None = None  # periodic work (settling payment orders)
    # Documents staff must reconcile (a pickup machine): for the staff screen, any thread.
    to_reconcile: Callable[[], int] | None = None
    pictures: Pictures | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)


@dataclass(frozen=True)
class Terminal:
    type: TerminalType
    services: Callable[[KioskConfig], tuple[ServiceFlow, ...]]  # the menu's services
    # IATA CUSS "required" devices: when one fails the terminal goes out of service.
    required_devices: frozenset[str]
    equip: Callable[[Parts], Equipment]
    demo: ScriptBuilder  # the scripted citizen of `kiosk demo`
    slides: tuple[str, ...] = ()  # attract slides (attract.slide.<slide>.*), help comes last
    screens: tuple[str, ...] = ()  # screens of its own the UI must provide
