"""The kiosk's backend watch: a full outbox takes the kiosk out of service for new
transactions until there is room; a long time without central alerts staff once; staff
alerts wait for a heartbeat that reaches central."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from central.faults import FaultPlan
from central.server import CentralHandle, start_in_thread
from kiosk.app import KioskApp, Machine
from kiosk.config import parse_config
from kiosk.core.clock import ManualClock
from kiosk.machine.backend import Backend
from kiosk.wiring import flow_runner
from offline_queue.errors import OutboxFull, OutboxUnavailable
from offline_queue.outbox import Outbox
from offline_queue.sync import SyncSettings, SyncWorker
from offline_queue.transport import CentralTransport
from tests.core.clocks import WallClock

SECRET = b"s" * 32


@pytest.fixture
def central(tmp_path: Path) -> Iterator[CentralHandle]:
    handle = start_in_thread(tmp_path / "central.sqlite", kiosk_secrets={"BK-TEST": SECRET})
    yield handle
    handle.stop()


def app_and_backend(
    tmp_path: Path,
    *,
    max_db_bytes: int | None = None,
    central_url: str = "http://127.0.0.1:9",
    terminal: str = "photo",
) -> tuple[KioskApp, Backend, WallClock]:
    config = parse_config(
        {
            "kiosk": {"id": "BK-TEST", "terminal": terminal, "data_dir": str(tmp_path)},
            "queue": {"offline_warn_h": 1.0},
        }
    )
    clock = ManualClock()
    wall = WallClock()
    outbox = Outbox(
        tmp_path / "outbox.sqlite",
        kiosk_id="BK-TEST",
        key=b"k" * 32,
        clock=wall,
        max_db_bytes=max_db_bytes,
        min_free_disk_bytes=0,
    )
    # By default central is unreachable (nothing listens on this loopback port).
    transport = CentralTransport(central_url, kiosk_id="BK-TEST", secret=SECRET, timeout_s=0.5)
    sync = SyncWorker(outbox, transport, clock=wall, settings=SyncSettings(offline_window_s=3600.0))
    app = KioskApp(config, flow_runner(config, clock, clock), Machine(outbox=outbox, sync=sync))
    app.start()
    backend = Backend(
        config,
        outbox,
        sync,
        app.outbox_availability,
        app.staff_alert,
        on_offline=app.set_sync_offline,
        on_central_link=app.set_central_link,
    )
    return app, backend, wall


def menu_items(app: KioskApp) -> dict[str, bool]:
    """Service -> paused, as the menu shows it."""
    assert app.view is not None and app.view.state == "menu"
    return {s.key: s.paused for s in app.view.view.services}


def test_services_that_need_central_pause_while_it_does_not_answer(
    tmp_path: Path, central: CentralHandle
) -> None:
    """The sync worker finds central silent: the renewal menu pauses both services (each
    starts with a look-up) and says why; a probe every ``probe_s`` finds it back."""
    app, backend, wall = app_and_backend(tmp_path, central_url=central.url, terminal="renewal")
    sync = backend.sync
    assert sync is not None
    app.intent("start")
    backend.check()
    assert menu_items(app) == {"endorse": False, "query": False, "appointment": False}
    assert app.view is not None and app.view.view.notice is None

    central.faults.set(FaultPlan(rates={"error": 1.0}))
    sync.housekeeping()  # the first heartbeat: 503
    backend.check()
    assert menu_items(app) == {"endorse": True, "query": True, "appointment": True}
    assert app.view.view.notice == "menu.central_down"
    app.intent("select", service="endorse")
    assert app.view.state == "menu"  # a paused service does not start

    central.faults.set(FaultPlan())
    heartbeats = central.store.stats()["heartbeats"]
    wall.mono += sync.settings.probe_s - 1
    sync.housekeeping()
    assert central.store.stats()["heartbeats"] == heartbeats  # not yet
    wall.mono += 1
    sync.housekeeping()  # long before the regular heartbeat interval
    assert sync.settings.probe_s < sync.settings.heartbeat_s
    assert central.store.stats()["heartbeats"] == heartbeats + 1
    backend.check()
    assert menu_items(app) == {"endorse": False, "query": False, "appointment": False}
    assert app.view.view.notice is None
    app.intent("select", service="endorse")
    assert app.view.state == "endorse_identify"


def test_while_central_answers_the_heartbeat_keeps_its_interval(
    tmp_path: Path, central: CentralHandle
) -> None:
    _, backend, wall = app_and_backend(tmp_path, central_url=central.url)
    sync = backend.sync
    assert sync is not None
    sync.housekeeping()
    assert central.store.stats()["heartbeats"] == 1
    wall.mono += sync.settings.probe_s * 2
    sync.housekeeping()
    assert central.store.stats()["heartbeats"] == 1
    wall.mono += sync.settings.heartbeat_s
    sync.housekeeping()
    assert central.store.stats()["heartbeats"] == 2


def test_full_outbox_goes_out_of_service_and_comes_back(tmp_path: Path) -> None:
    app, backend, _ = app_and_backend(tmp_path, max_db_bytes=160 * 1024)
    backend.check()
    with pytest.raises((OutboxFull, OutboxUnavailable)):
        for i in range(10_000):
            backend.outbox.put("photo.captured", {"n": i, "pad": "x" * 2000})
    backend.check()
    assert app.view is not None and app.view.state == "out_of_service"
    assert app.view.view.reason_key == "oos.queue"
    # Staff make room: delivered entries are acknowledged and purged in real life; here the
    # limit is lifted, the next check finds room again.
    backend.outbox.max_db_bytes = None
    backend.outbox._conn.execute("PRAGMA max_page_count=1073741823")
    backend.check()
    assert app.view.state == "attract"


def test_offline_window_alerts_staff_once(tmp_path: Path) -> None:
    app, backend, wall = app_and_backend(tmp_path)
    alerts: list[str] = []
    app.runner.on_alert(lambda alert: alerts.append(alert.code))
    backend.outbox.put("photo.captured", {"n": 1})
    backend.check()
    assert alerts == [] and app.header_status() is None
    wall.at += timedelta(hours=1, minutes=1)
    backend.check()
    backend.check()
    assert alerts == ["sync.offline"]
    assert app.header_status() == ("app.offline_long", {"hours": "1"})
    heartbeat = app.heartbeat()
    assert [a["code"] for a in heartbeat["alerts"]] == ["sync.offline"]
    # Central cannot be reached, so the alert waits for a heartbeat that gets through.
    assert backend.sync is not None and not backend.sync.heartbeat(heartbeat)
    assert [a["code"] for a in app.heartbeat()["alerts"]] == ["sync.offline"]
    # Contact comes back (a heartbeat or batch answered): the header clears.
    backend.outbox.set_meta({"last_contact_at": repr(wall.at.timestamp())})
    backend.check()
    assert app.header_status() is None


def test_staff_alerts_reach_central_once_after_failed_heartbeats(
    tmp_path: Path, central: CentralHandle
) -> None:
    app, backend, _ = app_and_backend(tmp_path, central_url=central.url)
    sync = backend.sync
    assert sync is not None
    app.staff_alert("printer.paper_out", "receipt paper is out")
    [raised] = app.heartbeat()["alerts"]

    central.faults.set(FaultPlan(rates={"error": 1.0}, paths=("/v1/heartbeat",)))
    assert not sync.heartbeat(app.heartbeat())  # 503: nothing stored, the alert waits
    assert central.store.alerts() == []
    assert app.heartbeat()["alerts"] == [raised]

    # Stored, but the answer is lost: the kiosk cannot know, so it sends the alert again.
    central.faults.set(FaultPlan(once={"reset": 1}, paths=("/v1/heartbeat",)))
    assert not sync.heartbeat(app.heartbeat())
    assert app.heartbeat()["alerts"] == [raised]

    central.faults.set(FaultPlan())
    assert sync.heartbeat(app.heartbeat())
    assert app.heartbeat()["alerts"] == []
    [stored] = central.store.alerts("BK-TEST")
    assert (stored["id"], stored["code"]) == (raised["id"], "printer.paper_out")
    assert central.store.stats()["alerts"] == 1
    assert sync.heartbeat(app.heartbeat())  # nothing left to report twice
    assert central.store.stats()["alerts"] == 1


def test_alerts_kept_while_offline_are_bounded_and_the_loss_counted(tmp_path: Path) -> None:
    app, _, _ = app_and_backend(tmp_path)
    for n in range(205):
        app.staff_alert("citizen.help", f"help requested {n}")
    heartbeat = app.heartbeat()
    assert len(heartbeat["alerts"]) == 200
    assert heartbeat["alerts"][0]["message"] == "help requested 5"
    assert heartbeat["alerts_dropped"] == 5
    app.heartbeat_delivered(heartbeat)
    assert app.heartbeat()["alerts"] == [] and app.heartbeat()["alerts_dropped"] == 0


def test_a_staff_alert_reaches_central_without_waiting_for_the_heartbeat_interval(
    tmp_path: Path, central: CentralHandle
) -> None:
    """A citizen presses "call staff": central's monitoring has it in moments, not at the
    next regular heartbeat (five minutes by default)."""
    app, backend, _ = app_and_backend(tmp_path, central_url=central.url)
    sync = backend.sync
    assert sync is not None and sync.settings.heartbeat_s >= 300
    sync.start()
    try:
        deadline = time.monotonic() + 60
        while central.store.stats()["heartbeats"] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        app.call_staff()
        while not central.store.alerts("BK-TEST") and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        sync.stop()
    assert [a["code"] for a in central.store.alerts("BK-TEST")] == ["citizen.help"]
    app.alerts.flush()
    assert app.heartbeat()["alerts"] == []
