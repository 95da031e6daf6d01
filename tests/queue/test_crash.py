"""Crash safety: a writer and a sync process are killed with SIGKILL at random points, again
and again, then restarted and finally drained. The central store must then hold exactly
the accepted entries: none lost, none twice, each stream in order."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from central.server import start_in_thread
from kiosk.cli import main as kiosk_main
from offline_queue import Outbox
from tests.queue.crash_roles import ID_NUMBER, KIOSK

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 18


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "tests.queue.crash_roles", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_sigkill_at_random_points_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, capsys: object
) -> None:
    db = tmp_path / "outbox.sqlite"
    log = tmp_path / "accepted.log"
    secret = "crash-test-secret"
    (tmp_path / "outbox.secret").write_text(secret)
    (tmp_path / "outbox.secret").chmod(0o600)
    central = start_in_thread(tmp_path / "central.sqlite", kiosk_secrets={KIOSK: secret.encode()})
    rng = random.Random(20261127)
    try:
        # Create the key file once, so concurrent first starts do not race on it.
        Outbox(db, kiosk_id=KIOSK).close()
        for _ in range(ROUNDS):
            writer = _spawn("writer", str(db), str(log))
            syncer = _spawn("sync", str(db), central.url, secret)
            time.sleep(rng.uniform(0.4, 1.0))
            first, second = (writer, syncer) if rng.random() < 0.5 else (syncer, writer)
            first.send_signal(signal.SIGKILL)
            time.sleep(rng.uniform(0.0, 0.15))
            second.send_signal(signal.SIGKILL)
            writer.wait()
            syncer.wait()
        code = kiosk_main(
            [
                "queue",
                "drain",
                "--db",
                str(db),
                "--central",
                central.url,
                "--kiosk-id",
                KIOSK,
                "--lease-s",
                "1",
                # A bound against a hang, not a speed target: the drain ends as soon as
                # nothing is left, and a busy 2-core machine may need minutes.
                "--max-seconds",
                "600",
                "--json",
            ]
        )
        assert code == 0
        drained = json.loads(capsys.readouterr().out)  # type: ignore[attr-defined]
        assert drained["pending"] == drained["dead"] == 0

        logged = log.read_text().split()
        stored = central.store.transactions()
        central_keys = [t["key"] for t in stored]
        # Both processes are dead now: any uncommitted attachment file is an orphan.
        with Outbox(db, kiosk_id=KIOSK, orphan_grace_s=0) as box:
            assert box.integrity_ok()
            counts = box.counts()
            outbox_keys = {e.key for e in box.entries(limit=1_000_000)}
            assert list(box.attachments_dir.iterdir()) == []
        assert counts.pending == counts.inflight == counts.dead == 0
        assert len(logged) > ROUNDS * 5, "the writer hardly ran; the test proves little"
        # None twice, none lost: central holds every committed entry exactly once ...
        assert len(central_keys) == len(set(central_keys))
        assert set(central_keys) == outbox_keys
        # ... which is every logged entry plus at most one per kill (committed, not yet logged).
        assert set(logged) <= set(central_keys)
        assert len(central_keys) - len(logged) <= ROUNDS
        numbers = sorted(t["body"]["payload"]["n"] for t in stored)
        assert numbers == list(range(1, len(numbers) + 1))
        # Each stream arrived in order.
        by_stream: dict[str, list[int]] = {}
        for t in stored:
            by_stream.setdefault(t["stream"], []).append(t["body"]["payload"]["n"])
        assert all(ns == sorted(ns) for ns in by_stream.values())
        # Photos arrived intact, and central replayed at least some lost answers.
        for t in stored:
            for att in t["body"]["attachments"]:
                assert len(central.store.upload_bytes(att["upload"])) == att["size"]
        assert all(t["body"]["payload"]["id_number"] == ID_NUMBER for t in stored)
    finally:
        central.stop()
