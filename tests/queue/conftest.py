"""Shared fixtures: a real central service on loopback, outboxes on real SQLite files, a
sync worker driven step by step with an injected clock and RNG."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from central.faults import FaultPlan
from central.server import CentralHandle, start_in_thread
from kiosk.core.clock import ManualClock
from offline_queue.outbox import Outbox
from offline_queue.sync import SyncSettings, SyncWorker
from offline_queue.transport import CentralTransport

KIOSK = "K-TEST-01"
SECRET = b"test-secret-0123456789abcdef"
# A demo ID number (valid check character) that must never appear in clear at rest.
ID_NUMBER = "440304199003071232"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def central(tmp_path: Path) -> Iterator[CentralHandle]:
    handle = start_in_thread(tmp_path / "central.sqlite", kiosk_secrets={KIOSK: SECRET})
    yield handle
    handle.stop()


@pytest.fixture
def outbox(tmp_path: Path, clock: ManualClock) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "outbox.sqlite", kiosk_id=KIOSK, clock=clock)
    yield box
    box.close()


WorkerFactory = Callable[..., SyncWorker]


@pytest.fixture
def make_worker(
    tmp_path: Path, clock: ManualClock, central: CentralHandle
) -> Iterator[WorkerFactory]:
    made: list[SyncWorker] = []

    def make(
        *,
        url: str | None = None,
        secret: bytes = SECRET,
        timeout_s: float = 5.0,
        **settings: object,
    ) -> SyncWorker:
        box = Outbox(tmp_path / "outbox.sqlite", kiosk_id=KIOSK, clock=clock)
        transport = CentralTransport(
            url or central.url,
            kiosk_id=KIOSK,
            secret=secret,
            timeout_s=timeout_s,
            max_response_bytes=256 * 1024,
        )
        worker = SyncWorker(
            box,
            transport,
            settings=SyncSettings(**settings),  # type: ignore[arg-type]
            clock=clock,
            rng=random.Random(7),
        )
        made.append(worker)
        return worker

    yield make
    for w in made:
        w.transport.close()
        w.outbox.close()


def set_faults(central: CentralHandle, **plan: object) -> None:
    central.faults.set(FaultPlan.from_json(dict(plan)))
