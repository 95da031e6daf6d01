"""Offline-queue benchmark; prints ONE JSON object.

    python bench/queue.py [--count 5000] [--repeat 3] [--big]

- put: durable ``Outbox.put`` (WAL, synchronous=FULL, AES-GCM), 1 KiB payloads: rate, p50/p99
- e2e: put -> deliver -> ack to the reference central service on loopback (signed HTTP,
  batches of ``SyncSettings.batch_size``), both as two phases (put all, then drain) and
  concurrently (a putter and the sync worker thread at the same time)
- persist-queue: the same workload through ``persistqueue.SQLiteAckQueue`` (WAL is its
  default; we set ``PRAGMA synchronous=FULL`` on both its connections and use its JSON
  serializer), delivered in batches of the same size to the same central, each item acked
- ratios ours/theirs (two-phase, concurrent, drain only) for each of ``--repeat`` rounds (3)
  that run both queues alternately, and their medians
- journal: 20,000 dispenses journaled, then the per-document look-up (p50/p99) and the staff
  list of withheld documents
- ``--big``: RSS while putting and then draining 100,000 entries (memory must stay flat)
- ``--cpu``: the outbox's own cost per entry, without the disk: 5,000 puts, then claim and
  acknowledge in batches of 500 (no HTTP), on a RAM file system (``/dev/shm``), the best of
  five; steady on a busy machine where the fsync-bound figures above drift
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

# This file is named like the stdlib ``queue`` module (which urllib3 imports): replace the
# script's own directory on sys.path with the repository root before the project loads.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

import requests  # noqa: E402

from offline_queue import Outbox  # noqa: E402
from offline_queue.sync import SyncSettings, SyncWorker  # noqa: E402
from offline_queue.transport import CentralTransport  # noqa: E402

KIOSK = "K-BENCH-01"
SECRET = b"bench-secret"


def _payload(n: int) -> dict[str, object]:
    # ~1 KiB of JSON, with an ID number as a flow would carry.
    return {"n": n, "id_number": "440304199003071232", "filler": "x" * 960}


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


# The product's default batch size, for our sync worker and for persist-queue's delivery alike.
BATCH = SyncSettings.batch_size


def _worker(db: Path, url: str, batch: int = BATCH) -> SyncWorker:
    return SyncWorker(
        Outbox(db, kiosk_id=KIOSK),
        CentralTransport(url, kiosk_id=KIOSK, secret=SECRET),
        settings=SyncSettings(batch_size=batch, idle_poll_s=0.01),
    )


class _CentralProcess:
    """``kiosk central serve`` in its own process, as a real central system would be: it
    does not compete with the kiosk for the GIL."""

    def __init__(self, work: Path) -> None:
        secret = work / "kiosk.secret"
        secret.write_bytes(SECRET)
        root = Path(__file__).resolve().parent.parent
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kiosk.cli",
                "central",
                "serve",
                "--db",
                str(work / "central.sqlite"),
                "--port",
                "0",
                "--kiosk",
                f"{KIOSK}={secret}",
            ],
            cwd=root,
            env=dict(os.environ, PYTHONPATH=str(root)),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        self.url = line.split()[3]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(10)


def _central_process(work: Path) -> _CentralProcess:
    return _CentralProcess(work)


def bench_put(work: Path, count: int) -> dict[str, float]:
    work.mkdir()
    box = Outbox(work / "put.sqlite", kiosk_id=KIOSK)
    latencies = []
    start = time.perf_counter()
    for n in range(count):
        t = time.perf_counter()
        box.put("bench.entry", _payload(n), stream=f"s{n % 16}")
        latencies.append(time.perf_counter() - t)
    took = time.perf_counter() - start
    box.close()
    p50, p99, top = _percentiles_ms(latencies)
    return {
        "count": count,
        "per_s": round(count / took, 1),
        "p50_ms": p50,
        "p99_ms": p99,
        "max_ms": top,
    }


def _percentiles_ms(seconds: list[float]) -> tuple[float, float, float]:
    """(p50, p99, max) in milliseconds."""
    ordered = sorted(seconds)

    def ms(value: float) -> float:
        return round(value * 1000, 3)

    return ms(ordered[len(ordered) // 2]), ms(ordered[int(len(ordered) * 0.99)]), ms(ordered[-1])


def bench_e2e_phases(work: Path, url: str, count: int) -> dict[str, float]:
    db = work / "e2e.sqlite"
    box = Outbox(db, kiosk_id=KIOSK)
    start = time.perf_counter()
    for n in range(count):
        box.put("bench.entry", _payload(n), stream=f"s{n % 16}")
    put_s = time.perf_counter() - start
    worker = _worker(db, url)
    t = time.perf_counter()
    delivered = worker.drain()
    drain_s = time.perf_counter() - t
    assert delivered == count, delivered
    worker.outbox.close()
    box.close()
    return {
        "put_s": round(put_s, 3),
        "drain_s": round(drain_s, 3),
        "drain_per_s": round(count / drain_s, 1),
        "per_s": round(count / (put_s + drain_s), 1),
    }


def bench_e2e_concurrent(work: Path, url: str, count: int) -> dict[str, float]:
    db = work / "conc.sqlite"
    box = Outbox(db, kiosk_id=KIOSK)
    worker = _worker(db, url)
    worker.start()
    start = time.perf_counter()
    for n in range(count):
        box.put("bench.entry", _payload(n), stream=f"s{n % 16}")
        if n % 50 == 0:
            worker.wake()
    put_done = time.perf_counter() - start
    # Polled finely: persist-queue's run ends exactly when its delivering thread does.
    while box.counts().sent < count:
        time.sleep(0.005)
    took = time.perf_counter() - start
    worker.stop()
    worker.outbox.close()
    box.close()
    return {"per_s": round(count / took, 1), "put_phase_s": round(put_done, 3)}


def _pq_batch(items: list[dict[str, Any]]) -> dict[str, object]:
    """persist-queue items as one batch for the central service."""
    return {
        "entries": [
            {
                "key": i["data"]["key"],
                "kind": "bench.entry",
                "schema_version": 1,
                "stream": "s",
                "payload": i["data"]["payload"],
                "attachments": [],
            }
            for i in items
        ]
    }


def bench_persist_queue(work: Path, url: str, count: int) -> dict[str, object]:
    import persistqueue
    from persistqueue.serializers import json as pq_json

    queue = persistqueue.SQLiteAckQueue(
        str(work / "pq"), multithreading=True, auto_commit=True, serializer=pq_json
    )
    # Same durability as ours: WAL (its default) + synchronous=FULL on both connections.
    for conn in (queue._putter, queue._getter):
        conn.execute("PRAGMA synchronous=FULL")
    sync_modes = [
        c.execute("PRAGMA synchronous").fetchone()[0] for c in (queue._putter, queue._getter)
    ]
    transport = CentralTransport(url, kiosk_id=KIOSK, secret=SECRET)
    start = time.perf_counter()
    for n in range(count):
        queue.put({"key": f"PQ-{uuid.uuid4().hex}", "payload": _payload(n)})
    put_s = time.perf_counter() - start
    t = time.perf_counter()
    delivered = 0
    while delivered < count:
        items = []
        for _ in range(BATCH):
            item = queue.get(block=False, raw=True) if queue.qsize() else None
            if item is None:
                break
            items.append(item)
        if not items:
            break
        body = _pq_batch(items)
        status, data, _ = transport.json_request("POST", "/v1/transactions/batch", body)
        assert status == 200 and all(r["status"] == 201 for r in data["results"])
        for i in items:
            queue.ack(id=i["pqid"])
        delivered += len(items)
    drain_s = time.perf_counter() - t
    assert delivered == count, delivered
    transport.close()
    return {
        "settings": f"SQLiteAckQueue(auto_commit=True, serializer=json), journal_mode=WAL, "
        f"synchronous={sync_modes} (2=FULL)",
        "put_per_s": round(count / put_s, 1),
        "drain_per_s": round(count / drain_s, 1),
        "per_s": round(count / (put_s + drain_s), 1),
    }


def bench_persist_queue_concurrent(work: Path, url: str, count: int) -> dict[str, object]:
    """A putter thread and a delivering thread at the same time, as in our concurrent run."""
    import threading

    import persistqueue
    from persistqueue.serializers import json as pq_json

    queue = persistqueue.SQLiteAckQueue(
        str(work / "pqc"), multithreading=True, auto_commit=True, serializer=pq_json
    )
    for conn in (queue._putter, queue._getter):
        conn.execute("PRAGMA synchronous=FULL")
    transport = CentralTransport(url, kiosk_id=KIOSK, secret=SECRET)
    delivered = 0

    def deliver() -> None:
        nonlocal delivered
        while delivered < count:
            items = []
            for _ in range(BATCH):
                item = queue.get(block=False, raw=True) if queue.qsize() else None
                if item is None:
                    break
                items.append(item)
            if not items:
                time.sleep(0.005)
                continue
            body = _pq_batch(items)
            status, _, _ = transport.json_request("POST", "/v1/transactions/batch", body)
            assert status == 200
            for i in items:
                queue.ack(id=i["pqid"])
            delivered += len(items)

    consumer = threading.Thread(target=deliver)
    start = time.perf_counter()
    consumer.start()
    for n in range(count):
        queue.put({"key": f"PQC-{uuid.uuid4().hex}", "payload": _payload(n)})
    consumer.join()
    took = time.perf_counter() - start
    transport.close()
    return {"per_s": round(count / took, 1)}


def bench_comparison(work: Path, url: str, count: int, rounds: int) -> dict[str, object]:
    """Ours and persist-queue, two-phase and concurrent, alternately ``rounds`` times, so that
    a slow or fast stretch of the disk falls on both queues alike."""
    runs: dict[str, list[dict[str, Any]]] = {
        "e2e_two_phase": [],
        "persist_queue": [],
        "e2e_concurrent": [],
        "persist_queue_concurrent": [],
    }
    for n in range(rounds):
        round_dir = work / f"round{n}"
        round_dir.mkdir()
        runs["e2e_two_phase"].append(bench_e2e_phases(round_dir, url, count))
        runs["persist_queue"].append(bench_persist_queue(round_dir, url, count))
        runs["e2e_concurrent"].append(bench_e2e_concurrent(round_dir, url, count))
        runs["persist_queue_concurrent"].append(
            bench_persist_queue_concurrent(round_dir, url, count)
        )
    ratios = {
        "ratio_e2e_ours_vs_persist_queue": _ratios(
            runs["e2e_two_phase"], runs["persist_queue"], "per_s"
        ),
        "ratio_e2e_concurrent_ours_vs_persist_queue": _ratios(
            runs["e2e_concurrent"], runs["persist_queue_concurrent"], "per_s"
        ),
        "ratio_drain_ours_vs_persist_queue": _ratios(
            runs["e2e_two_phase"], runs["persist_queue"], "drain_per_s"
        ),
    }
    return {"rounds": rounds, **runs, **ratios}


def _ratios(ours: list[dict[str, Any]], theirs: list[dict[str, Any]], field: str) -> object:
    """Per round ours/theirs and their median (the middle round, or the lower middle)."""
    per_round = [
        round(float(a[field]) / float(b[field]), 2) for a, b in zip(ours, theirs, strict=True)
    ]
    return {"median": sorted(per_round)[(len(per_round) - 1) // 2], "rounds": per_round}


def bench_memory(work: Path, url: str, count: int) -> dict[str, object]:
    db = work / "big.sqlite"
    box = Outbox(db, kiosk_id=KIOSK)
    samples = [("start", _rss_kib())]
    start = time.perf_counter()
    for n in range(count):
        box.put("bench.entry", _payload(n), stream=f"s{n % 16}")
        if (n + 1) % 20_000 == 0:
            samples.append((f"put {n + 1}", _rss_kib()))
    put_s = time.perf_counter() - start
    worker = _worker(db, url)
    delivered = 0
    t = time.perf_counter()
    while delivered < count:
        result = worker.sync_once()
        delivered += result.delivered
        if delivered and delivered % 20_000 < result.delivered:
            samples.append((f"drained {delivered}", _rss_kib()))
    drain_s = time.perf_counter() - t
    after_first = samples[1][1]
    worker.outbox.close()
    box.close()
    return {
        "count": count,
        "put_per_s": round(count / put_s, 1),
        "drain_per_s": round(count / drain_s, 1),
        "rss_kib": dict(samples),
        "rss_growth_after_first_20k_kib": max(v for _, v in samples) - after_first,
        "db_bytes_after": db.stat().st_size,
    }


def bench_journal(work: Path, count: int = 20_000) -> dict[str, object]:
    """The pickup journal after ``count`` dispenses: the look-up made for each document
    offered, and the staff list of withheld documents (``kiosk pickup withheld``)."""
    work.mkdir()
    box = Outbox(work / "journal.sqlite", kiosk_id=KIOSK)
    start = time.perf_counter()
    with box.transaction() as tx:  # one commit: this measures the look-ups, not fsync
        for n in range(count):
            tx.journal_complete(tx.journal_begin("dispense", f"C{n:08d}"), "taken")
    fill_s = time.perf_counter() - start
    actions = ("dispense", "release")
    samples = []
    with box.transaction() as tx:
        for n in range(0, count, count // 200):
            t = time.perf_counter()
            tx.journal_last(f"C{n:08d}", actions)
            samples.append(time.perf_counter() - t)
        t = time.perf_counter()
        listed = len(tx.journal_latest(actions))
        list_s = time.perf_counter() - t
    box.close()
    p50, p99, _ = _percentiles_ms(samples)
    return {
        "entries": count,
        "fill_per_s": round(count / fill_s, 1),
        "last_p50_ms": p50,
        "last_p99_ms": p99,
        "withheld_list_s": round(list_s, 3),
        "withheld_listed": listed,
    }


def bench_cpu(count: int = 5000, repeats: int = 5) -> dict[str, object]:
    """Microseconds per put and per claim + acknowledgement, best of ``repeats``."""
    puts: list[float] = []
    drains: list[float] = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(dir="/dev/shm") as tmp:
            box = Outbox(Path(tmp) / "cpu.sqlite", kiosk_id=KIOSK)
            start = time.perf_counter()
            for n in range(count):
                box.put("bench.entry", _payload(n), stream=f"s{n % 16}")
            puts.append(time.perf_counter() - start)
            start = time.perf_counter()
            while batch := box.claim(BATCH, 60.0):
                box.ack([(e, "201") for e in batch], {"last_contact_at": "0"})
            drains.append(time.perf_counter() - start)
            box.close()
    return {
        "count": count,
        "put_us": round(min(puts) / count * 1e6, 1),
        "claim_ack_us": round(min(drains) / count * 1e6, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--big", action="store_true", help="also the 100,000-entry memory run")
    parser.add_argument("--cpu", action="store_true", help="also the outbox's cost without disk")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="ours/persist-queue rounds, run alternately; ratios are reported per round and "
        "as the median (this machine's fsync latency drifts between runs)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as tmp:
        work = Path(tmp)
        central = _central_process(work)
        try:
            puts = [bench_put(work / f"p{i}", args.count) for i in range(3)]
            put = {
                "runs": puts,
                "median_per_s": sorted(p["per_s"] for p in puts)[1],
                "median_p99_ms": sorted(p["p99_ms"] for p in puts)[1],
            }
            comparison = bench_comparison(work, central.url, args.count, args.repeat)
            result: dict[str, object] = {
                "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, "
                f"Python {platform.python_version()}",
                "payload_bytes": len(json.dumps(_payload(0))),
                "batch_size": BATCH,
                "put": put,
                **comparison,
            }
            result["journal"] = bench_journal(work / "journal")
            if args.big:
                result["memory_100k"] = bench_memory(work, central.url, 100_000)
            if args.cpu:
                result["cpu"] = bench_cpu()
            result["central_stats"] = requests.get(central.url + "/v1/stats", timeout=5).json()
        finally:
            central.stop()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
