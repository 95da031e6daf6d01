"""A kiosk app of one terminal type with scripted services, driven by a manual clock."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from devices.simulators.cards import id_number, sample_card
from kiosk.app import KioskApp
from kiosk.config import KioskConfig, parse_config
from kiosk.core.clock import ManualClock
from kiosk.core.engine import Alert
from kiosk.core.errors import KioskError
from kiosk.core.runner import InlineExecutor
from kiosk.core.session import Session

Answer = Mapping[str, Any] | KioskError | Callable[[Session | None], Mapping[str, Any]]


class PendingExecutor(Executor):
    """Work that never finishes (a device that hangs)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return Future()


@dataclass
class ScriptedService:
    """Answers each operation as told; records what it was asked."""

    answers: dict[str, list[Answer]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def answer(self, operation: str, *answers: Answer) -> None:
        """Answer in this order from now on (the last one repeats)."""
        self.answers[operation] = list(answers)

    def execute(
        self, operation: str, args: Mapping[str, Any], session: Session | None
    ) -> Mapping[str, Any]:
        self.calls.append((operation, dict(args)))
        queue = self.answers.get(operation) or [{}]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, KioskError):
            raise answer
        return answer(session) if callable(answer) else answer


ADULT_BORN = date(1990, 3, 7)  # under 60: the usual idle times
SENIOR_BORN = date(1958, 3, 14)  # 60 or over: more time on every step


def card_reader(born: date) -> Callable[[Session | None], Mapping[str, Any]]:
    """The ID card read as the device service answers it, for a citizen born ``born``."""

    def read(session: Session | None) -> Mapping[str, Any]:
        assert session is not None
        card = sample_card(birth_date=born, id_number=id_number("440304", born, 135))
        session.put("idcard", card)
        return {"masked_id": card.masked_id(), "age": card.age_on(date.today())}

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
    def data(self) -> Mapping[str, Any]:
        assert self.app.view is not None
        return self.app.view.data

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


def make_rig(config: KioskConfig, names: tuple[str, ...], hanging: tuple[str, ...] = ()) -> Rig:
    clock = ManualClock()
    app = KioskApp(config, clock, clock)
    services = {name: ScriptedService() for name in names}
    for name, service in services.items():
        executor = PendingExecutor() if name in hanging else InlineExecutor()
        app.runner.add_service(name, service, executor)
    services["idcard"].answer("read", read_card)
    alerts: list[Alert] = []
    app.runner.on_alert(alerts.append)
    app.start()
    return Rig(app, clock, services, alerts)
