"""A kiosk app of one terminal type with scripted services, driven by a manual clock.

The scripted services answer with the typed replies the real ones give (``CardSummary``,
``Verdict``, ...), so a flow reading a field its service no longer gives fails here, not only
in the end-to-end demo."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from devices.simulators.cards import id_number, sample_card
from kiosk.app import KioskApp, Machine
from kiosk.config import KioskConfig, parse_config
from kiosk.core.calls import PortKey
from kiosk.core.clock import ManualClock
from kiosk.core.engine import Alert
from kiosk.core.errors import KioskError
from kiosk.core.pins import StaffKey
from kiosk.core.runner import InlineExecutor
from kiosk.core.session import Session
from kiosk.core.views import View
from kiosk.machine.ports import IDCARD_DATA, CardSummary, Printed
from kiosk.terminals.terminal import Binding, Equipment
from kiosk.wiring import flow_runner

Answer = object  # a typed reply, a KioskError to raise, or a callable(session) -> reply


class PendingExecutor(Executor):
    """Work that never finishes (a device that hangs)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return Future()


@dataclass
class ScriptedService:
    """Stands in for any port: answers each operation as told, records what it was asked
    (the operation's name and its arguments, the session left out)."""

    answers: dict[str, list[Answer]] = field(default_factory=dict)
    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    def answer(self, operation: str, *answers: Answer) -> None:
        """Answer in this order from now on (the last one repeats)."""
        self.answers[operation] = list(answers)

    def asked(self, operation: str) -> list[tuple[Any, ...]]:
        return [args for op, args in self.calls if op == operation]

    def __getattr__(self, operation: str) -> Callable[..., object]:
        if operation.startswith("_"):
            raise AttributeError(operation)

        def run(*args: Any) -> object:
            *arguments, session = args
            self.calls.append((operation, tuple(arguments)))
            queue = self.answers.get(operation)
            if not queue:
                raise AssertionError(f"no answer scripted for {operation}")
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
            if isinstance(answer, KioskError):
                raise answer
            return answer(session) if callable(answer) else answer

        return run


ADULT_BORN = date(1990, 3, 7)  # under 60: the usual idle times
SENIOR_BORN = date(1958, 3, 14)  # 60 or over: more time on every step


def card_reader(born: date) -> Callable[[Session | None], CardSummary]:
    """The ID card read as the device service answers it, for a citizen born ``born``."""

    def read(session: Session | None) -> CardSummary:
        assert session is not None
        card = sample_card(birth_date=born, id_number=id_number("440304", born, 135))
        session.put(IDCARD_DATA, card)
        return CardSummary(card.card_type.value, card.masked_id(), card.age_on(date.today()), False)

    return read


read_card = card_reader(ADULT_BORN)


@dataclass
class Rig:
    app: KioskApp
    clock: ManualClock
    services: dict[str, ScriptedService]
    alerts: list[Alert]

    @property
    def state(self) -> str:
        assert self.app.view is not None
        return self.app.view.state

    @property
    def view(self) -> Any:
        """The view shown now (typed: ``r.view.title``)."""
        assert self.app.view is not None
        shown: View = self.app.view.view
        return shown

    def __getitem__(self, name: str) -> ScriptedService:
        return self.services[name]


def terminal_config(terminal: str, **sections: Any) -> KioskConfig:
    return parse_config(
        {
            "kiosk": {"id": "TEST-1", "terminal": terminal},
            "timeouts": {"idle_s": 60.0, "still_there_s": 15.0, "message_s": 8.0},
            **sections,
        }
    )


def kiosk_with(
    config: KioskConfig,
    clock: ManualClock,
    bindings: list[Binding],
    *,
    strict: bool = False,
    staff_key: StaffKey | None = None,
) -> KioskApp:
    """A kiosk whose flows reach ``bindings`` (no devices, no outbox); ``staff_key`` stands
    for the machine's key file (staff mode)."""
    runner = flow_runner(config, clock, clock, strict=strict)
    return KioskApp(config, runner, Machine(equipment=Equipment(bindings), staff_key=staff_key))


def make_rig(
    config: KioskConfig,
    names: tuple[str, ...],
    hanging: tuple[str, ...] = (),
    staff_key: StaffKey | None = None,
) -> Rig:
    clock = ManualClock()
    services = {name: ScriptedService() for name in names}
    bindings = [
        Binding(PortKey(name), service, PendingExecutor() if name in hanging else InlineExecutor())
        for name, service in services.items()
    ]
    app = kiosk_with(config, clock, bindings, staff_key=staff_key)
    services["idcard"].answer("read", read_card)
    if "printer" in services:
        services["printer"].answer("print", Printed())
    alerts: list[Alert] = []
    app.runner.on_alert(alerts.append)
    app.start()
    return Rig(app, clock, services, alerts)
