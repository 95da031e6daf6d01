"""Soak: the kiosk through thousands of scripted citizen sessions of the three terminal
types, with faults injected, watching it for leaks. Prints one JSON object.

Each terminal type runs in its own process (one kiosk per process, as on a machine): the
kiosk core put together by ``kiosk.wiring.assemble`` - flows, the real drivers against their
protocol simulators (ptys, a camera, pcscd with a virtual permit chip), the outbox and its
sync worker - talking to a reference central service on loopback, the flow driven on this
thread through a queue dispatcher with a manual clock (the Qt window is left out: the soak
watches the core, and screenshots would measure Qt). Sessions: the citizen taps, the world
acts (cards placed, documents taken or not, the phone pays), time passes on the manual
clock. Faults: receipt paper running out, a card jamming in the document dispenser, central
answering nothing but errors for a while, the camera's cable pulled; staff then fix them.

Every session must end in one of the screens its script allows and the kiosk must be back on
the attract screen afterwards; samples of RSS, threads, open file descriptors and the SQLite
files' sizes are taken every ``--sample-every`` sessions (after a garbage collection). Log
records at INFO and above are scanned for the citizens' ID numbers and names.

    .venv/bin/python bench/soak.py --sessions 10000 [--parallel] [--out FILE]
    (the renewal kiosk starts a pcscd of its own: run it where no other one runs)
"""

# ruff: noqa: E402
from __future__ import annotations

import sys
from pathlib import Path

# bench/ holds queue.py (the outbox benchmark), which would shadow the standard library's
# queue for everything imported below: this directory off the path, the repository on it.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(HERE.parent))

import argparse
import contextlib
import gc
import json
import logging
import os
import platform
import random
import statistics
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

ROOT = HERE.parent

from central.faults import FaultPlan
from central.server import CentralHandle, start_in_thread
from central.store import schema
from devices.idcard import IdCardData
from devices.simulators.cards import id_number, sample_card
from kiosk.config import KioskConfig, parse_config
from kiosk.core.clock import ManualClock
from kiosk.core.pins import MIN_ITERATIONS, StaffKey, hash_pin
from kiosk.core.runner import QueueDispatcher
from kiosk.core.voice import Voice
from kiosk.machine.backend import data_path
from kiosk.terminals.renewal.record import EndorseRecord
from kiosk.terminals.staff.key import open_staff_key
from kiosk.wiring import Kiosk, assemble
from offline_queue.auth import load_or_create_secret

TERMINALS = ("photo", "pickup", "renewal")
KIOSK_IDS = {"photo": "SOAK-P01", "pickup": "SOAK-K01", "renewal": "SOAK-R01"}
CAMERA = {"driver": "opencv", "simulator": True, "source": "sim"}

log = logging.getLogger("soak")


class Undefined(Exception):
    """A session reached a screen its script does not allow, or none in time."""


# --- the kiosk under test and the world around it ----------------------------------------------


def machine_config(terminal: str, data: Path, central_url: str) -> KioskConfig:
    small_camera = {**CAMERA, "width": 320, "height": 240, "fps": 5}
    devices: dict[str, Any] = {
        "idcard": {"driver": "sam", "simulator": True, "required": terminal != "photo"},
        "printer": {"driver": "escpos", "simulator": True},
        # Photo needs a real picture; the others require a camera they do not use yet.
        "camera": {**CAMERA, "width": 1280, "height": 720} if terminal == "photo" else small_camera,
    }
    if terminal == "pickup":
        devices["dispenser"] = {
            "driver": "crt591",
            "simulator": True,
            "baud": 9600,
            "take_timeout_s": 1.0,
        }
    if terminal == "renewal":
        devices["chip"] = {
            "driver": "pcsc",
            "simulator": True,
            "reader": "Virtual PCD",
            "trust_store": str(data / "demo-csca.pem"),
        }
    return parse_config(
        {
            "kiosk": {"id": KIOSK_IDS[terminal], "terminal": terminal, "data_dir": str(data)},
            "central": {"url": central_url, "heartbeat_s": 60.0, "probe_s": 5.0},
            "voice": {"enabled": False, "prompts": False},
            "payment": {"poll_s": 2.0, "missed_polls": 3},
            # Retries after an outage come within seconds, so that the run ends delivered
            # (the backoff itself is tested in tests/queue).
            "queue": {"max_backoff_s": 10.0},
            "devices": devices,
            # The machine's own staff key, made where the kiosk will find it.
            "staff": {"pin_hash": hash_pin("864213", staff_key(data), iterations=MIN_ITERATIONS)},
            # The face check needs a scripted person per session (clips take ~15 s to make):
            # tests/face and the demos cover it; here the devices, outbox and central soak.
            "identity": {"enabled": False},
        }
    )


def staff_key(data: Path) -> StaffKey:
    data.mkdir(parents=True, exist_ok=True)
    key, _ = open_staff_key(data / "staff.key")
    return key


@dataclass
class Citizen:
    card: IdCardData
    secrets: tuple[str, ...]  # what must never appear in a log line


class BackOffice:
    """The bureau's side: citizens and documents put into the reference central store (a
    document is made, then loaded into this machine), orders paid from a phone."""

    def __init__(self, central: CentralHandle, kiosk_id: str) -> None:
        self.store = central.store
        self.kiosk_id = kiosk_id
        self.count = 0
        self.today = date.today()
        self.secrets: set[str] = set()  # every citizen's ID number and name used so far

    def citizen(
        self, documents: int = 0, where: str | None = "here", known: bool = True
    ) -> Citizen:
        self.count += 1
        n = self.count
        born = date(1966, 1, 1) + timedelta(days=n % 12_000)
        number = id_number("440304", born, n % 1000)
        name = f"市民{n:05d}"
        card = sample_card(id_number=number, birth_date=born, name=name)
        self.secrets.update((number, name))
        if known:
            kiosk = self.kiosk_id if where == "here" else where
            with self.store.db.write() as conn:
                conn.execute(schema.citizens.delete().where(schema.citizens.c.id_number == number))
                conn.execute(
                    schema.citizens.insert().values(
                        id_number=number,
                        name=name,
                        permit_no=f"C{50_000_000 + n:08d}",
                        permit_expiry=(self.today + timedelta(3000)).isoformat(),
                        first_application=0,
                        registered_personnel=0,
                        endorsement_until=None,
                        permit_used=1,
                    )
                )
                for i in range(documents):
                    conn.execute(
                        schema.documents.insert().values(
                            document_no=f"DS{n:06d}{i}",
                            id_number=number,
                            kind="passport",
                            slot=f"A{i + 1:02d}",
                            ready_since=self.today.isoformat(),
                            kiosk_id=kiosk,
                        )
                    )
        return Citizen(card, (number, name))

    def seeded(self, region: str, birth: str, serial: int, name: str) -> Citizen:
        born = date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
        number = id_number(region, born, serial)
        self.secrets.update((number, name))
        return Citizen(sample_card(id_number=number, birth_date=born, name=name), (number, name))

    def renewable(self) -> Citizen:
        """The owner of the simulator's permit chip, eligible again (no endorsement yet)."""
        zhang = self.seeded("440304", "19900101", 135, "张三")
        with self.store.db.write() as conn:
            conn.execute(
                schema.citizens.update()
                .where(schema.citizens.c.id_number == zhang.secrets[0])
                .values(endorsement_until=None)
            )
        return zhang

    def pay(self, order_id: str) -> None:
        self.store.simulate_payment(order_id)


class World:
    """The simulators behind the kiosk's devices, and central's fault switch."""

    def __init__(self, kiosk: Kiosk, central: CentralHandle) -> None:
        self.kiosk = kiosk
        self.central = central
        self.faults: set[str] = set()

    def sim(self, kind: str) -> Any:
        hub = self.kiosk.app.devices
        assert hub is not None
        return hub.simulator(kind)

    def place(self, citizen: Citizen) -> None:
        self.sim("idcard").place_card(citizen.card)

    def remove_card(self) -> None:
        """The citizen takes the card away, and has gone before the next one puts theirs
        down: if the reader's poll saw this card, it must see the reader empty again (or the
        next card would never be "placed")."""
        self.sim("idcard").remove_card()
        hub = self.kiosk.app.devices
        reader = hub.device("idcard") if hub is not None else None
        deadline = time.monotonic() + 10
        while getattr(reader, "_card_present", None) is True:
            if time.monotonic() > deadline:
                raise Undefined("the ID card reader did not notice the card taken away")
            time.sleep(0.02)

    def paper_out(self) -> None:
        self.sim("printer").set_paper(out_after=3)
        self.faults.add("paper")

    def camera_lost(self) -> None:
        self.sim("camera").disconnect()
        self.faults.add("camera")

    def central_down(self) -> None:
        self.central.faults.set(FaultPlan(rates={"error": 1.0}))
        self.faults.add("central")

    def jam(self) -> None:
        self.sim("dispenser").jam_next_dispense()

    def fix(self) -> None:
        """Staff (or the network) put everything right again."""
        if "paper" in self.faults:
            self.sim("printer").set_paper()
        if "camera" in self.faults:
            self.sim("camera").reconnect()
        if "central" in self.faults:
            self.central.faults.set(FaultPlan())
        dispenser = self.sim("dispenser") if "dispenser" in self._kinds() else None
        if dispenser is not None:
            mechanics = dispenser.mechanics
            with mechanics.lock:
                # A jammed document is taken out of the channel; the bin emptied; cards refilled.
                from devices.dispenser import CardPosition

                if mechanics.position is CardPosition.CHANNEL:
                    mechanics.position = CardPosition.NONE
                mechanics.bin_count = 0
                mechanics.cards = max(mechanics.cards, 100)
        self.faults.clear()

    def _kinds(self) -> set[str]:
        hub = self.kiosk.app.devices
        return set(hub.slots) if hub is not None else set()

    def forget_printouts(self) -> None:
        """The simulators keep what they printed and were asked (for tests): emptied now and
        then, like the paper tray, so that their memory is not counted as the kiosk's."""
        printer = self.sim("printer")
        with printer._lock:
            printer.state.printed.clear()
        sam = self.sim("idcard")
        with sam._lock:
            sam.commands.clear()


class Driver:
    """Taps, waits for screens and lets time pass, on the flow thread (this one)."""

    def __init__(
        self, kiosk: Kiosk, dispatcher: QueueDispatcher, clock: ManualClock, world: World
    ) -> None:
        self.kiosk = kiosk
        self.app = kiosk.app
        self.dispatcher = dispatcher
        self.clock = clock
        self.world = world
        self.config = kiosk.app.config

    @property
    def state(self) -> str:
        view = self.app.view
        return view.state if view is not None else ""

    def tap(self, intent: str, **data: Any) -> None:
        self.dispatcher.drain()
        self.app.intent(intent, **data)

    def advance(self, seconds: float) -> None:
        self.dispatcher.drain()
        self.clock.advance(seconds)

    def expect(self, *states: str, within_s: float = 30.0) -> str:
        deadline = time.monotonic() + within_s
        while True:
            self.dispatcher.drain()
            if self.state in states:
                return self.state
            if time.monotonic() > deadline:
                raise Undefined(f"expected {'|'.join(states)}, saw {self.state}")
            self.dispatcher.drain(wait_s=0.02)

    def central_back(self, within_s: float = 120.0) -> None:
        """After central's outage: time passes in the hall until the kiosk has found central
        answering again (its sync worker probes every ``central.probe_s``). Without this a
        quick script would meet the paused menu for thousands of sessions in a few seconds."""
        backend = self.kiosk.backend
        assert backend is not None and backend.sync is not None
        deadline = time.monotonic() + within_s
        while (
            backend.sync.status().central_unreachable_since is not None
            or self.app.flow.context.central_down
        ):
            if time.monotonic() > deadline:
                raise Undefined("the kiosk did not find central answering again")
            backend.sync.heartbeat_soon()
            self.dispatcher.drain(wait_s=0.2)

    def walk_away(self) -> None:
        t = self.config.timeouts
        self.advance(t.idle_s * t.senior_factor)
        self.advance(t.still_there_s * t.senior_factor)

    def to_attract(self, within_s: float = 90.0) -> str:
        """After the script: finish what is open; out of service waits for the fix."""
        deadline = time.monotonic() + within_s
        seen = self.state
        while time.monotonic() < deadline:
            self.dispatcher.drain()
            state = self.state
            if state == "attract" and not self.app.unavailable:
                return seen
            if state == "out_of_service":
                seen = "out_of_service"
                self.world.fix()
                self.dispatcher.drain(wait_s=0.1)
            elif state == "attract":
                self.dispatcher.drain(wait_s=0.05)
            else:
                self.advance(self.config.timeouts.message_s * 4)
                if self.state == state:
                    self.tap("home")
        raise Undefined(f"not back on the attract screen: {self.state} {self.app.unavailable}")


# --- the citizens' scripts ----------------------------------------------------------------------

Session = Callable[[Driver, BackOffice], str]  # returns the outcome screen


def choose(driver: Driver, service: str, entry: str) -> bool:
    """Start and choose ``service``: False when the menu shows it paused (central down)."""
    driver.tap("start")
    driver.expect("menu")
    driver.tap("select", service=service)
    if driver.expect(entry, "menu") == "menu":
        driver.tap("back")
        return False
    return True


def menu_walkaway(d: Driver, office: BackOffice) -> str:
    d.tap("start")
    d.expect("menu")
    d.walk_away()
    return d.expect("attract")


def photo_done(d: Driver, office: BackOffice, *, retake: bool = False, card: bool = False) -> str:
    if not choose(d, "photo", "photo_identify"):
        return "menu_paused"
    citizen = None
    if card:
        citizen = office.citizen()
        d.world.place(citizen)
        if d.expect("photo_live", "photo_senior", "photo_read_failed") == "photo_senior":
            d.tap("take_new")
        elif d.state == "photo_read_failed":
            d.tap("skip")
    else:
        d.tap("skip")
    d.expect("photo_live")
    for attempt in range(2 if retake else 1):
        d.tap("capture")
        d.expect("photo_countdown")
        d.advance(3.0)
        d.expect("photo_review", "photo_capture_failed", within_s=60)
        if d.state == "photo_capture_failed":
            return "photo_capture_failed"
        if retake and attempt == 0:
            d.tap("retake")
            d.expect("photo_live")
    if not getattr(d.app.view.view if d.app.view else None, "can_submit", False):
        # The camera caught a blink or a turn: the citizen sees why and walks away.
        d.walk_away()
        return "photo_review_not_compliant"
    d.tap("use")
    outcome = d.expect("photo_done", "photo_no_receipt", "photo_save_failed", within_s=60)
    if citizen is not None:
        d.world.remove_card()
    d.tap("finished")
    return outcome


def photo_walkaway_live(d: Driver, office: BackOffice) -> str:
    if not choose(d, "photo", "photo_identify"):
        return "menu_paused"
    d.tap("skip")
    d.expect("photo_live")
    d.walk_away()
    return d.expect("attract")


def photo_camera_lost(d: Driver, office: BackOffice) -> str:
    if not choose(d, "photo", "photo_identify"):
        return "menu_paused"
    d.tap("skip")
    d.expect("photo_live")
    d.world.camera_lost()
    return d.expect("out_of_service")


def pickup_collect(d: Driver, office: BackOffice, *, documents: int = 1, take: bool = True) -> str:
    citizen = office.citizen(documents=documents)
    d.world.sim("dispenser").auto_take(0.2 if take else None)
    if not choose(d, "pickup", "pickup_identify"):
        return "menu_paused"
    d.world.place(citizen)
    d.tap("read")
    outcome = d.expect("pickup_confirm", "pickup_central_down", within_s=30)
    while outcome == "pickup_confirm":
        d.tap("collect")
        outcome = d.expect(
            "pickup_done", "pickup_retained", "pickup_failed", "pickup_confirm", within_s=60
        )
    d.world.remove_card()
    return outcome


def pickup_nothing(d: Driver, office: BackOffice, *, where: str | None, known: bool) -> str:
    citizen = office.citizen(documents=1 if known else 0, where=where, known=known)
    if not choose(d, "pickup", "pickup_identify"):
        return "menu_paused"
    d.world.place(citizen)
    d.tap("read")
    outcome = d.expect("pickup_none", "pickup_unknown", "pickup_central_down", within_s=30)
    d.world.remove_card()
    d.tap("finished")
    return outcome


def pickup_jam(d: Driver, office: BackOffice) -> str:
    d.world.jam()
    return pickup_collect(d, office)


def renewal_full(d: Driver, office: BackOffice, *, then: str = "pay") -> str:
    citizen = office.renewable()
    if not choose(d, "endorse", "endorse_identify"):
        return "menu_paused"
    d.world.place(citizen)
    d.tap("read")
    if d.expect("endorse_permit", "endorse_central_down", within_s=30) != "endorse_permit":
        d.world.remove_card()
        d.tap("finished")
        return "endorse_central_down"
    d.tap("read")
    d.expect("endorse_region", "endorse_chip_failed", within_s=60)
    if d.state == "endorse_chip_failed":
        d.world.remove_card()
        return "endorse_chip_failed"
    d.tap("region", region="HK")
    d.expect("endorse_purpose")
    d.tap("purpose", purpose="individual")
    d.expect("endorse_trips")
    d.tap("trips", trips="multiple")
    d.expect("endorse_validity")
    d.tap("option", option="multi_1y")
    d.expect("endorse_fee")
    if then == "back_out":
        d.world.remove_card()
        d.tap("home")
        return "endorse_fee"
    d.tap("pay")
    outcome = d.expect("endorse_paying", "endorse_pay_unavailable", within_s=30)
    if outcome == "endorse_paying":
        if then == "cancel":
            d.tap("cancel")
        else:
            record = d.app.flow.context.part(EndorseRecord)
            assert record.order is not None
            office.pay(record.order.order_id)
            d.advance(d.config.payment.poll_s)
        outcome = d.expect(
            "endorse_done",
            "endorse_cancelled",
            "endorse_unconfirmed",
            "endorse_refunded",
            within_s=60,
        )
    d.world.remove_card()
    d.tap("finished")
    return outcome


REFUSED = [
    ("440303", "19770615", 234, "赵磊"),  # first application
    ("440104", "19680912", 345, "孙强"),  # registered personnel
    ("110105", "19880808", 678, "吴刚"),  # another province, first use here
]


def renewal_refused(d: Driver, office: BackOffice) -> str:
    citizen = office.seeded(*random.choice(REFUSED))
    if not choose(d, "endorse", "endorse_identify"):
        return "menu_paused"
    d.world.place(citizen)
    d.tap("read")
    outcome = d.expect("endorse_refused", "endorse_central_down", within_s=30)
    d.world.remove_card()
    d.tap("finished")
    return outcome


def renewal_query(d: Driver, office: BackOffice) -> str:
    citizen = office.seeded("440307", "19920420", 567, "周敏")
    if not choose(d, "query", "query_identify"):
        return "menu_paused"
    d.world.place(citizen)
    d.tap("read")
    outcome = d.expect("query_result", "query_central_down", within_s=30)
    d.world.remove_card()
    d.walk_away()
    return outcome


# Each terminal: sessions by weight, and faults (one session in N is preceded by it).
SESSIONS: dict[str, list[tuple[float, str, Session]]] = {
    "photo": [
        (0.55, "photo", photo_done),
        (0.10, "photo_retake", lambda d, o: photo_done(d, o, retake=True)),
        (0.15, "photo_with_card", lambda d, o: photo_done(d, o, card=True)),
        (0.10, "walkaway_live", photo_walkaway_live),
        (0.10, "walkaway_menu", menu_walkaway),
    ],
    "pickup": [
        (0.45, "collect", pickup_collect),
        (0.10, "collect_two", lambda d, o: pickup_collect(d, o, documents=2)),
        (0.05, "not_taken", lambda d, o: pickup_collect(d, o, take=False)),
        (0.15, "elsewhere", lambda d, o: pickup_nothing(d, o, where="SOAK-K02", known=True)),
        (0.10, "unknown", lambda d, o: pickup_nothing(d, o, where=None, known=False)),
        (0.15, "walkaway_menu", menu_walkaway),
    ],
    "renewal": [
        (0.25, "renew", renewal_full),
        (0.10, "back_out_at_fee", lambda d, o: renewal_full(d, o, then="back_out")),
        (0.05, "cancel_payment", lambda d, o: renewal_full(d, o, then="cancel")),
        (0.25, "refused", renewal_refused),
        (0.25, "query", renewal_query),
        (0.10, "walkaway_menu", menu_walkaway),
    ],
}
FAULTS: dict[str, list[tuple[int, str]]] = {
    "photo": [(40, "paper_out"), (60, "camera_lost"), (50, "central_down")],
    "pickup": [(40, "paper_out"), (30, "card_jam"), (50, "central_down")],
    "renewal": [(40, "paper_out"), (50, "central_down")],
}


def fault_session(terminal: str, fault: str) -> Session | None:
    """A fault that is a session of its own (the rest are set before an ordinary one)."""
    if fault == "camera_lost":
        return photo_camera_lost
    if fault == "card_jam":
        return pickup_jam
    return None


# --- measuring ----------------------------------------------------------------------------------


def proc_status() -> dict[str, int]:
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "Threads"):
            fields[key] = int(value.split()[0])
    return fields


def files_mb(*paths: Path) -> float:
    total = 0
    for path in paths:
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            with contextlib.suppress(FileNotFoundError):
                total += p.stat().st_size
    return round(total / 2**20, 3)


def tree_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20, 3)


class PrivacyWatch(logging.Handler):
    """Every log record at INFO and above, checked for the citizens' ID numbers and names."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.secrets: set[str] = set()
        self.records = 0
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records += 1
        text = record.getMessage()
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        for secret in self.secrets:
            if secret in text:
                self.leaks.append(f"{record.name}: {text[:200]}")
                break


@dataclass
class Soak:
    terminal: str
    sessions: int
    sample_every: int
    seed: int
    samples: list[dict[str, Any]] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    undefined: list[str] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)

    def run(self) -> dict[str, Any]:
        random.seed(self.seed)
        with tempfile.TemporaryDirectory(prefix=f"soak-{self.terminal}-") as tmp:
            return self._run(Path(tmp))

    def _run(self, tmp: Path) -> dict[str, Any]:
        watch = PrivacyWatch()
        root = logging.getLogger()
        for handler in root.handlers:  # the console shows warnings; the watch reads INFO too
            handler.setLevel(logging.WARNING)
        root.addHandler(watch)
        root.setLevel(logging.INFO)
        data = tmp / "kiosk"
        data.mkdir()
        kiosk_id = KIOSK_IDS[self.terminal]
        secret = load_or_create_secret(data / "central.secret")
        central = start_in_thread(tmp / "central.sqlite", kiosk_secrets={kiosk_id: secret})
        config = machine_config(self.terminal, data, central.url)
        clock = ManualClock()
        dispatcher = QueueDispatcher()
        kiosk = assemble(config, clock, clock, dispatcher, voice=Voice(enabled=False))
        kiosk.start()
        world = World(kiosk, central)
        driver = Driver(kiosk, dispatcher, clock, world)
        office = BackOffice(central, kiosk_id)
        watch.secrets = office.secrets  # the same set: filled as citizens come
        outbox = data_path(config, config.queue.db)
        try:
            hub = kiosk.app.devices
            assert hub is not None
            deadline = time.monotonic() + 120
            while not all(slot.usable for slot in hub.slots.values()):
                if time.monotonic() > deadline:
                    raise SystemExit(f"devices did not open: {hub.snapshot()}")
                dispatcher.drain(wait_s=0.1)
            if self.terminal == "photo":
                self._scene(kiosk, config)
            driver.to_attract(within_s=120)
            started = time.monotonic()
            self._sample(0, started, outbox, tmp, central, kiosk)
            for n in range(1, self.sessions + 1):
                self._one(n, driver, office, world, watch)
                if n % self.sample_every == 0 or n == self.sessions:
                    world.forget_printouts()
                    self._sample(n, started, outbox, tmp, central, kiosk)
            elapsed = time.monotonic() - started
            delivered = self._drain(kiosk, dispatcher)
            # Every transaction the kiosk sent is stored at central (once: central keeps one
            # row per key, and answers a replay without storing it again).
            assert kiosk.backend is not None
            sent = {e.key for e in kiosk.backend.outbox.entries("sent", limit=1_000_000)}
            stored = [t["key"] for t in central.store.transactions()]
            delivered["missing_at_central"] = len(sent - set(stored))
            delivered["stored_twice_at_central"] = len(stored) - len(set(stored))
        finally:
            kiosk.stop()
            central.stop()
            logging.getLogger().removeHandler(watch)
        return self._report(elapsed, watch, delivered)

    def _scene(self, kiosk: Kiosk, config: KioskConfig) -> None:
        from kiosk.photo import PhotoEngine, load_spec
        from kiosk.photo.subjects import demo_scenes, sample_photo

        photo = sample_photo()
        if photo is None:
            raise SystemExit("no sample portrait (pip install -e '.[dev]')")
        scenes = demo_scenes(photo, PhotoEngine(load_spec(config.photo.spec)))
        hub = kiosk.app.devices
        assert hub is not None
        deadline = time.monotonic() + 60
        while hub.simulator("camera") is None:
            if time.monotonic() > deadline:
                raise SystemExit("the camera simulator did not start")
            time.sleep(0.05)
        hub.simulator("camera").set_scene(scenes["compliant"], motion=True)

    def _one(
        self, n: int, driver: Driver, office: BackOffice, world: World, watch: PrivacyWatch
    ) -> None:
        session: Session | None = None
        kind = ""
        for every, fault in FAULTS[self.terminal]:
            if n % every == 0:
                self.faults[fault] += 1
                session = fault_session(self.terminal, fault)
                kind = fault
                if session is None:
                    getattr(world, fault)()
                break
        if session is None:
            weights = [w for w, _, _ in SESSIONS[self.terminal]]
            _, name, session = random.choices(SESSIONS[self.terminal], weights)[0]
            kind = f"{kind}+{name}" if kind else name
        try:
            outcome = session(driver, office)
            end = driver.to_attract()
            if end == "out_of_service":
                outcome += ">out_of_service"
            self.outcomes[outcome] += 1
        except Undefined as exc:
            self.undefined.append(f"session {n} ({kind}): {exc}")
            log.warning("session %d (%s) undefined: %s", n, kind, exc)
            with contextlib.suppress(Undefined):
                driver.to_attract()
        finally:
            central_was_down = "central" in world.faults
            world.fix()
        if central_was_down:
            try:
                driver.central_back()
            except Undefined as exc:
                self.undefined.append(f"session {n} ({kind}): {exc}")
        self.kinds[kind] += 1

    def _sample(
        self, n: int, started: float, outbox: Path, tmp: Path, central: CentralHandle, k: Kiosk
    ) -> None:
        gc.collect()
        status = proc_status()
        backend = k.backend
        counts = backend.outbox.counts() if backend is not None else None
        self.samples.append(
            {
                "session": n,
                "t_s": round(time.monotonic() - started, 1),
                "rss_mb": round(status["VmRSS"] / 1024, 1),
                "threads": status["Threads"],
                "python_threads": threading.active_count(),
                "fds": len(os.listdir("/proc/self/fd")),
                "outbox_mb": files_mb(outbox),
                "attachments_mb": tree_mb(Path(str(outbox) + ".attachments")),
                "central_mb": files_mb(tmp / "central.sqlite"),
                "pending": counts.pending + counts.inflight if counts else None,
                "sent": counts.sent if counts else None,
            }
        )

    def _drain(
        self, kiosk: Kiosk, dispatcher: QueueDispatcher, within_s: float = 600
    ) -> dict[str, int]:
        """After the last session: the sync worker delivers what is left; the outbox's
        counts then (every transaction of the run sent, none dead or left behind)."""
        backend = kiosk.backend
        assert backend is not None and backend.sync is not None
        backend.sync.wake()
        deadline = time.monotonic() + within_s

        def left() -> int:
            # In flight counts as left: sent but not yet acknowledged (a busy machine leaves
            # a batch in flight for a while; stopping then reported it as not delivered).
            counts = backend.outbox.counts()
            return counts.pending + counts.inflight

        while left() and time.monotonic() < deadline:
            dispatcher.drain(wait_s=0.2)
            backend.sync.wake()
        counts = backend.outbox.counts()
        return {
            "sent": counts.sent,
            "pending": counts.pending + counts.inflight,
            "dead": counts.dead,
        }

    def _report(
        self, elapsed: float, watch: PrivacyWatch, delivered: dict[str, int]
    ) -> dict[str, Any]:
        warm = next(
            (s for s in self.samples if s["session"] >= max(200, self.sessions // 10)),
            self.samples[0],
        )
        after = [s for s in self.samples if s["session"] >= warm["session"]]
        tail = after[-3:]
        rss_end = statistics.median(s["rss_mb"] for s in tail)
        return {
            "terminal": self.terminal,
            "sessions": self.sessions,
            "seconds": round(elapsed, 1),
            "sessions_per_s": round(self.sessions / elapsed, 2),
            "defined": self.sessions - len(self.undefined),
            "undefined": self.undefined[:20],
            "outcomes": dict(self.outcomes.most_common()),
            "kinds": dict(self.kinds.most_common()),
            "faults": dict(self.faults),
            "warm_up_sessions": warm["session"],
            "rss_mb_after_warm_up": warm["rss_mb"],
            "rss_mb_end": rss_end,
            "rss_growth_pct": round(100 * (rss_end - warm["rss_mb"]) / warm["rss_mb"], 2),
            "threads_after_warm_up": (
                min(s["threads"] for s in after),
                max(s["threads"] for s in after),
            ),
            "fds_after_warm_up": (min(s["fds"] for s in after), max(s["fds"] for s in after)),
            "outbox_at_end": delivered,
            "log_records_scanned": watch.records,
            "personal_data_in_logs": len(watch.leaks),
            "leaks_sample": watch.leaks[:5],
            "samples": self.samples,
        }


# --- running the three ---------------------------------------------------------------------------


def split(total: int, terminals: list[str]) -> dict[str, int]:
    base, extra = divmod(total, len(terminals))
    return {t: base + (1 if i < extra else 0) for i, t in enumerate(terminals)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=10_000, help="in total, split evenly")
    parser.add_argument("--terminals", default=",".join(TERMINALS))
    parser.add_argument("--sample-every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--parallel", action="store_true", help="the terminals at once")
    parser.add_argument("--child", choices=TERMINALS, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.child:
        result = Soak(args.child, args.sessions, args.sample_every, args.seed).run()
        print(json.dumps(result, ensure_ascii=False))
        return 0
    terminals = [t for t in args.terminals.split(",") if t]
    started = time.monotonic()
    procs = {}
    results: dict[str, Any] = {}
    for terminal, count in split(args.sessions, terminals).items():
        command = [
            sys.executable,
            __file__,
            "--child",
            terminal,
            "--sessions",
            str(count),
            "--sample-every",
            str(args.sample_every),
            "--seed",
            str(args.seed),
        ]
        env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
        procs[terminal] = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        if not args.parallel:
            results[terminal] = _result(procs[terminal])
    for terminal, proc in procs.items():
        if terminal not in results:
            results[terminal] = _result(proc)
    per = [r for r in results.values() if "sessions" in r]
    report = {
        "benchmark": "soak",
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.system()}, "
        f"Python {platform.python_version()}",
        "sessions": sum(r["sessions"] for r in per),
        "defined": sum(r["defined"] for r in per),
        "seconds": round(time.monotonic() - started, 1),
        "target": "RSS growth < 5 % after warm-up, threads and fds flat, every session defined",
        "terminals": results,
    }
    text = json.dumps(report, ensure_ascii=False)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0 if report["defined"] == report["sessions"] else 1


def _result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = proc.communicate()
    lines = out.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"error": f"exit {proc.returncode}", "tail": lines[-5:]}
    data: dict[str, Any] = json.loads(lines[-1])
    return data


if __name__ == "__main__":
    sys.exit(main())
