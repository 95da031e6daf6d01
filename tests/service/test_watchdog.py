"""The watchdog's core (Qt-free): the notification protocol against a real datagram socket,
and the health check that withholds pings while a device worker is wedged."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.config import parse_config
from kiosk.core.clock import ManualClock
from kiosk.machine.devices import DeviceHub
from kiosk.machine.sdnotify import Notifier
from kiosk.machine.watchdog import Watchdog, WorkerProbe, device_probes
from tests.service.manager import FakeManager


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[FakeManager]:
    m = FakeManager(tmp_path)
    yield m
    m.close()


def test_no_socket_no_notifier() -> None:
    assert Notifier.from_environment({}) is None
    assert Notifier.from_environment({"NOTIFY_SOCKET": "relative/path"}) is None


def test_ready_status_watchdog_and_stopping_reach_the_manager(manager: FakeManager) -> None:
    notifier = Notifier.from_environment(manager.env(watchdog_usec=30_000_000))
    assert notifier is not None and notifier.watchdog_s == 30.0
    assert notifier.ready("attract shown\nsecond line")
    assert notifier.watchdog()
    assert notifier.stopping()
    manager.wait_for("STOPPING=1")
    messages = [m for _, m in manager.messages]
    assert messages == ["READY=1\nSTATUS=attract shown second line", "WATCHDOG=1", "STOPPING=1"]


def test_abstract_socket_address() -> None:
    name = f"kiosk-test-{os.getpid()}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind("\0" + name)
    try:
        notifier = Notifier.from_environment({"NOTIFY_SOCKET": "@" + name})
        assert notifier is not None
        assert notifier.ready()
        server.settimeout(30)
        assert server.recv(100) == b"READY=1"
    finally:
        server.close()


def test_the_watchdog_is_ours_only_if_its_pid_is_ours_or_our_parents(
    manager: FakeManager,
) -> None:
    usec = 2_000_000
    other = next(p for p in (4_000_001, 4_000_002) if p not in (os.getpid(), os.getppid()))
    for pid, expected in ((os.getpid(), 2.0), (os.getppid(), 2.0), (other, None)):
        env = manager.env(watchdog_usec=usec, WATCHDOG_PID=str(pid))
        notifier = Notifier.from_environment(env)
        assert notifier is not None and notifier.watchdog_s == expected


def test_a_missing_manager_is_counted_not_raised(tmp_path: Path) -> None:
    notifier = Notifier(str(tmp_path / "nobody-listens.sock"), 1_000_000)
    assert notifier.watchdog() is False and notifier.failures == 1


def test_pings_at_half_the_watchdog_interval(manager: FakeManager) -> None:
    watchdog = Watchdog(Notifier.from_environment(manager.env(watchdog_usec=8_000_000)))
    assert watchdog.interval_s == 4.0
    assert Watchdog(None).interval_s is None


def hub_config() -> dict[str, object]:
    return {
        "kiosk": {"id": "WD-TEST", "terminal": "photo"},
        "devices": {"printer": {"driver": "escpos", "simulator": True}},
        "service": {"worker_stall_s": 90},
    }


def test_a_wedged_device_worker_stops_the_pings_until_it_recovers(manager: FakeManager) -> None:
    """The printer's own worker (a real single-thread executor of the device hub) is stuck
    in a step that never returns: once a no-op has waited longer than the bound, pings stop;
    when the step returns, they resume."""
    config = parse_config(hub_config())
    hub = DeviceHub(config, lambda event: None)  # not started: only its workers matter
    clock = ManualClock()
    reasons: list[str] = []
    stuck = threading.Event()
    watchdog = Watchdog(
        Notifier.from_environment(manager.env(watchdog_usec=1_000_000)),
        device_probes(hub, config.service.worker_stall_s, clock),
        on_unhealthy=reasons.append,
    )
    try:
        assert watchdog.tick() and watchdog.tick()
        # The no-ops of those ticks done first (a busy machine may not have run them yet).
        hub.slots["printer"].executor.submit(lambda: None).result(timeout=60)
        hub.slots["printer"].executor.submit(stuck.wait)
        watchdog.tick()  # the no-op queued behind the stuck step
        clock.advance(89.0)
        assert watchdog.tick(), "within the bound a busy worker is not wedged"
        clock.advance(2.0)
        assert not watchdog.tick() and not watchdog.tick()
        assert reasons == ["printer worker wedged: a no-op has waited 91 s"]
        # Datagrams on one socket arrive in order: once the status is in, so is every
        # ping sent before it (a busy machine may deliver them late, never out of order).
        manager.wait_for("STATUS=unhealthy: printer worker wedged: a no-op has waited 91 s")
        pings = len(manager.received("WATCHDOG=1"))
        assert pings == 4  # two first ticks, the tick behind the stuck step, the one at 89 s
        stuck.set()
        hub.slots["printer"].executor.submit(lambda: None).result(timeout=60)
        assert watchdog.tick()
        assert len(manager.wait_for("WATCHDOG=1", count=pings + 1)) == pings + 1
    finally:
        stuck.set()  # never leave the worker stuck: closing the hub waits for it
        hub.close()


def test_a_stopped_worker_is_unhealthy() -> None:
    from concurrent.futures import ThreadPoolExecutor

    executor = ThreadPoolExecutor(1)
    executor.shutdown()
    probe = WorkerProbe("camera", executor, 10.0, ManualClock())
    assert probe.check() == "camera worker stopped"


def test_worker_bound_must_exceed_the_longest_device_step() -> None:
    from kiosk.config import ConfigError

    with pytest.raises(ConfigError, match=r"worker_stall_s \(60\) must exceed .* \(75 s\)"):
        parse_config(
            {
                "kiosk": {"id": "WD-TEST", "terminal": "pickup"},
                "timeouts": {"device_s": 30},
                "devices": {"dispenser": {"driver": "crt591", "take_timeout_s": 15}},
                "service": {"worker_stall_s": 60},
            }
        )
