"""Resource faults an unattended machine meets, each ending in a defined state with nothing
lost (docs/operations.md lists every fault with the tests that cover it): a full disk, the
wall clock stepped back and forward, central unreachable for days, a device cable pulled and
put back, and memory running out in the middle of a service."""

from __future__ import annotations

import errno
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from central.server import CentralHandle, start_in_thread
from devices.simulators.escpos import EscPosSimulator
from kiosk.app import KioskApp, Machine
from kiosk.config import parse_config
from kiosk.core.clock import ManualClock
from kiosk.core.runner import InlineExecutor, QueueDispatcher
from kiosk.core.session import Session
from kiosk.machine.backend import Backend
from kiosk.machine.devices import DeviceHub
from kiosk.machine.runs import RUNS_FILE, RunLog, write_json
from kiosk.terminals.photo.ports import PHOTO, Captured, Review, Saved
from kiosk.terminals.registry import terminal_for
from kiosk.terminals.terminal import Binding
from kiosk.wiring import assemble, flow_runner
from offline_queue.errors import OutboxFull, OutboxUnavailable
from offline_queue.outbox import Outbox
from offline_queue.sync import SyncSettings, SyncWorker
from offline_queue.transport import CentralTransport
from tests.core.clocks import WallClock
from tests.core.flow_rigs import kiosk_with

KIOSK = "FAULT-1"
SECRET = b"f" * 32


def until(
    condition: Callable[[], bool], drain: Callable[[], object], within_s: float = 60.0
) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        drain()


# --- a full disk --------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MiB file system (tmpfs), so the disk really fills."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs CAP_SYS_ADMIN)")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> Path:
    """Write until the file system refuses (ENOSPC)."""
    filler = disk / "filler"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_a_full_disk_takes_the_kiosk_out_of_service_and_back_losing_nothing(
    small_disk: Path,
) -> None:
    config = parse_config(
        {
            "kiosk": {"id": KIOSK, "terminal": "photo", "data_dir": str(small_disk)},
            "central": {"url": "http://127.0.0.1:9"},  # nobody answers: all stays queued
            "queue": {"min_free_mb": 1},
            "voice": {"enabled": False},
        }
    )
    clock = ManualClock()
    dispatcher = QueueDispatcher()
    kiosk = assemble(config, clock, clock, dispatcher, devices=False)
    kiosk.start()
    backend = kiosk.backend
    assert backend is not None
    try:
        outbox = backend.outbox
        accepted = [outbox.put("kiosk.note", {"n": n, "pad": "x" * 512}) for n in range(20)]
        filler = fill(small_disk)
        # A transaction asked for now is refused before the citizen is told "done" ...
        with pytest.raises((OutboxFull, OutboxUnavailable)):
            outbox.put("kiosk.note", {"n": "late"})
        # ... and the next check takes the kiosk out of service, saying why.
        backend.check()
        until(
            lambda: kiosk.app.view is not None and kiosk.app.view.state == "out_of_service",
            dispatcher.drain,
        )
        assert kiosk.app.view is not None and kiosk.app.view.view.reason_key == "oos.queue"
        # Bookkeeping on a full disk does not stop the kiosk either.
        runs = RunLog(small_disk / RUNS_FILE, limit=3, window_s=600)
        assert runs.begin(clock.now().timestamp()) is None
        assert not write_json(small_disk / "ready.json", {"big": "x" * 100_000})
        # Room again (staff removed the culprit): back in service, every entry still there.
        filler.unlink()
        backend.check()
        until(
            lambda: kiosk.app.view is not None and kiosk.app.view.state == "attract",
            dispatcher.drain,
        )
        assert outbox.counts().pending == len(accepted)
        assert outbox.integrity_ok()
        outbox.put("kiosk.note", {"n": "after"})
    finally:
        kiosk.stop()


# --- the wall clock stepped (NTP) ---------------------------------------------------------------


@pytest.fixture
def central(tmp_path: Path) -> Iterator[CentralHandle]:
    handle = start_in_thread(tmp_path / "central.sqlite", kiosk_secrets={KIOSK: SECRET})
    yield handle
    handle.stop()


def outbox_and_sync(
    tmp_path: Path, central: CentralHandle, wall: WallClock, **settings: float
) -> tuple[Outbox, SyncWorker]:
    outbox = Outbox(tmp_path / "outbox.sqlite", kiosk_id=KIOSK, key=b"k" * 32, clock=wall)
    transport = CentralTransport(central.url, kiosk_id=KIOSK, secret=SECRET, timeout_s=10)
    sync = SyncWorker(
        Outbox(tmp_path / "outbox.sqlite", kiosk_id=KIOSK, key=b"k" * 32, clock=wall),
        transport,
        clock=wall,
        settings=SyncSettings(**settings),  # type: ignore[arg-type]
    )
    return outbox, sync


def waited(wall: WallClock) -> Callable[[float], None]:
    """The sync worker's backoff waits pass on the test's monotonic clock, not in real time."""

    def sleep(seconds: float) -> None:
        wall.mono += seconds
        wall.at += timedelta(seconds=seconds)

    return sleep


def test_ntp_steps_back_and_forward_lose_nothing_and_deliver_in_order(
    tmp_path: Path, central: CentralHandle
) -> None:
    wall = WallClock()
    outbox, sync = outbox_and_sync(tmp_path, central, wall)
    keys = []
    for step in (timedelta(0), timedelta(hours=-2), timedelta(hours=5), timedelta(days=-1)):
        wall.at += step
        keys += [outbox.put("kiosk.note", {"n": len(keys)}, stream="s1") for _ in range(3)]
        wall.mono += 60
    assert len(set(keys)) == len(keys) == 12
    # A step back must not make delivered entries look due for the audit purge, nor a step
    # forward drop pending ones.
    wall.at += timedelta(days=400)
    assert outbox.purge_audit() == 0 and outbox.counts().pending == 12
    wall.at -= timedelta(days=400)
    # Sent at once, though most were stamped "later" than the clock now says.
    assert sync.sync_once().delivered == 12
    delivered = [t["key"] for t in central.store.transactions()]
    assert delivered == keys, "delivered once each, in the order taken (not by the clock)"
    assert outbox.counts().sent == 12
    # An entry backing off when the clock is stepped back days waits no longer for it.
    late = outbox.put("kiosk.note", {"n": "late"}, stream="s2")
    [claimed] = outbox.claim(10, lease_s=30)
    outbox.release([(claimed, 120.0)], "central busy")
    assert outbox.claim(10, lease_s=30) == [], "backing off"
    wall.at -= timedelta(days=3)
    [again] = outbox.claim(10, lease_s=30)
    assert again.key == late
    outbox.close()
    sync.outbox.close()


def test_timers_of_the_flow_do_not_follow_the_wall_clock() -> None:
    """The flows' deadlines run on the scheduler's monotonic time (Qt's timers in the app):
    a wall clock stepped back an hour neither stretches nor cuts a citizen's idle time."""
    config = parse_config(
        {
            "kiosk": {"id": KIOSK, "terminal": "photo"},
            "timeouts": {"idle_s": 60.0, "still_there_s": 15.0},
            "voice": {"enabled": False},
        }
    )
    wall = WallClock()

    class Scheduler(ManualClock):
        def now(self):  # type: ignore[no-untyped-def]
            return wall.now()

    clock = Scheduler()
    app = KioskApp(config, flow_runner(config, clock, clock), Machine())
    app.start()
    app.intent("start")
    wall.at -= timedelta(hours=1)
    clock.advance(59.0)
    assert app.view is not None and app.view.still_there_until is None
    wall.at += timedelta(hours=3)
    clock.advance(1.0)
    assert app.view.still_there_until is not None, "asked after exactly idle_s"
    clock.advance(15.0)
    assert app.view.state == "attract"


# --- central unreachable for days ---------------------------------------------------------------


def test_central_unreachable_for_three_days_keeps_everything_and_delivers_it_once(
    tmp_path: Path, central: CentralHandle
) -> None:
    """Central's host is gone for three days (nothing answers on its port: a cut line, a
    machine room down). Hourly transactions wait, staff are told once, the service that needs
    central waits on the menu; when central is back, all of it arrives, once each."""
    wall = WallClock()
    outbox, sync = outbox_and_sync(
        tmp_path, central, wall, offline_window_s=24 * 3600.0, max_backoff_s=300.0
    )
    config = parse_config(
        {
            "kiosk": {"id": KIOSK, "terminal": "pickup", "data_dir": str(tmp_path)},
            "queue": {"offline_warn_h": 24.0},
        }
    )
    clock = ManualClock()
    app = KioskApp(config, flow_runner(config, clock, clock), Machine(outbox=outbox, sync=sync))
    app.start()
    alerts: list[str] = []
    app.runner.on_alert(lambda a: alerts.append(a.code))
    backend = Backend(
        config,
        outbox,
        sync,
        app.outbox_availability,
        app.staff_alert,
        on_offline=app.set_sync_offline,
        on_central_link=app.set_central_link,
    )
    sync.heartbeat()  # in contact at first
    db, port = tmp_path / "central.sqlite", central.port
    central.stop()
    keys = []
    for hour in range(72):
        keys.append(outbox.put("kiosk.note", {"hour": hour}, stream=f"d{hour % 5}"))
        waited(wall)(3600.0)
        sync.sync_once()
        sync.housekeeping()
        backend.check()
    status = sync.status()
    assert status.pending == 72 and status.dead == 0, "never given up, never dropped"
    assert status.offline_too_long and alerts == ["sync.offline"], "staff told once"
    assert app.header_status() == ("app.offline_long", {"hours": "24"})
    app.intent("start")
    assert app.view is not None
    paused = {s.key for s in app.view.view.services if s.paused}
    assert paused == {"pickup", "appointment"}, "the services that need central wait on the menu"
    app.intent("back")
    # Central is back on its address: everything is delivered, once each.
    back = start_in_thread(db, port=port, kiosk_secrets={KIOSK: SECRET})
    try:
        assert sync.drain(sleep=waited(wall)) == 72
        sync.housekeeping()
        backend.check()
        assert sorted(t["key"] for t in back.store.transactions()) == sorted(keys)
        assert back.store.stats()["transactions"] == 72
        assert not sync.status().offline_too_long and app.header_status() is None
    finally:
        back.stop()
        outbox.close()
        sync.outbox.close()


# --- a device unplugged and plugged back --------------------------------------------------------


def test_a_required_device_unplugged_and_replugged_goes_out_of_service_and_back() -> None:
    """The printer's cable is pulled (its pseudo-terminal disappears) and put back: the real
    driver and device hub find out by themselves; no transaction is involved."""
    config = parse_config(
        {
            "kiosk": {"id": KIOSK, "terminal": "photo"},
            "devices": {
                "printer": {"driver": "escpos", "simulator": True},
                "camera": {
                    "driver": "opencv",
                    "simulator": True,
                    "source": "sim",
                    "width": 320,
                    "height": 240,
                },
            },
            "voice": {"enabled": False},
        }
    )
    dispatcher = QueueDispatcher()
    clock = ManualClock()
    runner = flow_runner(config, clock, clock, dispatcher)
    required = terminal_for(config).required_devices
    hub = DeviceHub(config, runner.post, required=required, poll_s=0.2)
    app = KioskApp(config, runner, Machine(hub, required_devices=required))
    app.start()
    hub.start()
    alerts: list[str] = []
    app.runner.on_alert(lambda a: alerts.append(a.code))
    try:
        until(lambda: all(s.usable for s in hub.slots.values()), dispatcher.drain)
        assert app.view is not None and app.view.state == "attract"
        printer: EscPosSimulator = hub.simulator("printer")
        printer.disconnect()
        until(lambda: app.view is not None and app.view.state == "out_of_service", dispatcher.drain)
        assert app.view.view.values["device"] == "printer"
        assert "printer.fault" in alerts
        printer.reconnect()
        until(lambda: app.view is not None and app.view.state == "attract", dispatcher.drain)
        assert hub.slots["printer"].usable
    finally:
        app.stop()
        hub.close()


# --- memory running out -------------------------------------------------------------------------


class PhotoOutOfMemory:
    """``PhotoPort`` whose capture fails as numpy fails an allocation the system refuses."""

    def __init__(self) -> None:
        self.fail = True

    def capture(self, session: Session | None) -> Captured:
        if self.fail:
            raise MemoryError("Unable to allocate 26.4 MiB for an array")
        return Captured(0, 0, 1, Review(True, ()))

    def submit(self, index: int, session: Session | None) -> Saved:
        return Saved("N", "2026-11-27T09:00:00", False)


def test_memory_running_out_in_a_service_ends_that_step_not_the_kiosk() -> None:
    config = parse_config({"kiosk": {"id": KIOSK, "terminal": "photo"}})
    clock = ManualClock()
    photo = PhotoOutOfMemory()
    app = kiosk_with(config, clock, [Binding(PHOTO, photo, InlineExecutor())], strict=True)
    app.start()
    app.intent("start")
    app.intent("select", service="photo")
    app.intent("skip")
    app.intent("capture")
    clock.advance(3.0)
    assert app.view is not None and app.view.state == "photo_capture_failed"
    # The citizen leaves; the machine serves the next one, whose capture works.
    app.intent("home")
    assert app.view.state == "attract" and app.runner.session is None
    photo.fail = False
    app.intent("start")
    app.intent("select", service="photo")
    app.intent("skip")
    app.intent("capture")
    clock.advance(3.0)
    assert app.view.state == "photo_review"
