"""What staff mode's states ask of the staff service, and what the service asks of the machine
(which only the application, owner of every part, can answer)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from kiosk.core.calls import PortKey


@dataclass(frozen=True)
class SignInAnswer:
    accepted: bool
    number: str = ""  # the staff number signed in ("" with the machine's one PIN)
    attempts_left: int = 0
    locked_min: int = 0  # > 0: locked for this many minutes at most (rounded up)
    locked_until: str = ""  # with a lockout: when it ends, local time ("14:35")
    unavailable: bool = False  # no PIN can be checked (the staff key): central was told


@dataclass(frozen=True)
class MachineStatus:
    """The machine's condition for the staff screen (no personal data)."""

    central_up: bool = True
    central_down_since: str = "-"  # local time, or "-"
    pending: int = 0  # transactions waiting to be sent
    dead: int = 0  # transactions central refused
    oldest: str = "-"  # minutes the oldest waiting one has waited ("12"), or "-"
    open_actions: int = 0  # journaled device actions not finished (payments, hand-overs)
    alerts: int = 0  # staff alerts not yet delivered to central
    paused_by_staff: bool = False
    out_of_service: tuple[str, ...] = ()  # the parts at fault ("device.printer", "outbox")
    devices: Mapping[str, str] = field(default_factory=dict)  # kind -> "ok" or the fault
    to_reconcile: int | None = None  # a pickup machine: documents staff must check


class StaffPort(Protocol):
    """Staff mode's operations, each done by ``by`` (a staff number, "" for the one PIN)."""

    def sign_in(self, pin: str, number: str) -> SignInAnswer: ...

    def status(self) -> MachineStatus: ...

    def sync(self, by: str) -> MachineStatus: ...

    def redrive(self, by: str) -> MachineStatus: ...

    def pause(self, by: str) -> MachineStatus: ...

    def resume(self, by: str) -> MachineStatus: ...

    def shutdown(self, by: str) -> MachineStatus: ...


STAFF: PortKey[StaffPort] = PortKey("staff")


class MachinePort(Protocol):
    """The machine as staff mode needs it (any thread); the application implements it."""

    def status(self) -> MachineStatus: ...

    def sync(self) -> None: ...

    def redrive(self) -> int: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def shutdown(self) -> None: ...

    def alert(self, code: str, message: str) -> None: ...
