"""``kiosk queue``: staff tools for the offline outbox, the load generator and a one-shot drain.

    kiosk queue status|list [--json] [--db FILE]
    kiosk queue redrive KEY | discard KEY [--db FILE]
    kiosk queue recover [--db FILE] [--key-lost]
    kiosk queue load --db FILE --count N [--attachment-kb K]
    kiosk queue drain --db FILE --central URL

An outbox that cannot be used (damaged, its key missing) is an error naming the file and
what to do, never a traceback; ``status`` also runs SQLite's full integrity check and exits
1 when it finds damage, and ``recover`` salvages every readable entry into a fresh outbox.

The key file defaults to the database path with ``.key`` (created 0600), the request-signing
secret to ``.secret``. ``open_outbox`` / ``open_sync_worker`` build both from a machine
configuration for the application's composition root.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from kiosk.config import ConfigError, KioskConfig, load_config
from kiosk.machine import alerts
from kiosk.machine.backend import data_path
from offline_queue.auth import load_or_create_secret
from offline_queue.clock import SystemClock
from offline_queue.errors import QueueError
from offline_queue.outbox import Attachment, Outbox, QueueAlert
from offline_queue.outbox.integrity import marker_path
from offline_queue.outbox.salvage import SalvageReport, salvage
from offline_queue.sync import SyncSettings, SyncWorker, queue_status
from offline_queue.transport import CentralTransport

DEFAULT_DB = "var/outbox.sqlite"
DEFAULT_KIOSK_ID = "KIOSK-LOCAL"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("queue", help="offline outbox: status, staff actions, load")
    sub = parser.add_subparsers(dest="queue_command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--db", help=f"outbox database (default {DEFAULT_DB} or from --config)")
        p.add_argument("--config", help="machine configuration (TOML) to take paths from")
        p.add_argument("--key-file", help="encryption key file (default: DB path with .key)")
        p.add_argument("--kiosk-id", default=None, help="kiosk id (default from config)")
        p.add_argument("--json", action="store_true", help="print JSON")
        return p

    add("status", "pending, dead, oldest age, last success/error").set_defaults(handler=_status)
    ls = add("list", "list entries (never their personal data)")
    ls.add_argument(
        "--state",
        choices=("pending", "inflight", "sent", "dead", "discarded", "invalid"),
        help="invalid: rows whose state is damaged",
    )
    ls.add_argument("--limit", type=int, default=50)
    ls.set_defaults(handler=_list)
    for name, fn, text in (
        ("redrive", _redrive, "send a dead entry again"),
        ("discard", _discard, "give up on a dead entry (its data is deleted)"),
    ):
        p = add(name, text)
        p.add_argument("key")
        p.set_defaults(handler=fn)
    recover = add(
        "recover",
        "copy every readable entry of a damaged outbox into a fresh one (stop the kiosk first)",
    )
    recover.add_argument(
        "--key-lost",
        action="store_true",
        help="the key file is lost for good: keep what needs no key, list the rest as lost",
    )
    recover.set_defaults(handler=_recover)
    load = add("load", "enqueue N synthetic entries (benchmarks, crash tests)")
    load.add_argument("--count", type=int, required=True)
    load.add_argument("--attachment-kb", type=int, default=0)
    load.add_argument("--payload-bytes", type=int, default=1024)
    load.add_argument("--streams", type=int, default=8)
    load.set_defaults(handler=_load)
    drain = add("drain", "sync until nothing deliverable is left, then exit")
    drain.add_argument("--central", required=False, help="central base URL")
    drain.add_argument("--secret-file", help="request-signing secret (default: DB with .secret)")
    drain.add_argument("--ca-bundle", help="CA bundle for https")
    drain.add_argument("--batch", type=int, default=SyncSettings.batch_size)
    drain.add_argument("--lease-s", type=float, default=60.0)
    drain.add_argument("--max-seconds", type=float, default=None)
    drain.set_defaults(handler=_drain)


class _Context:
    def __init__(self, args: argparse.Namespace) -> None:
        self.config: KioskConfig | None = None
        if args.config:
            self.config = load_config(args.config)
        if args.db:
            self.db = Path(args.db)
        elif self.config is not None:
            self.db = data_path(self.config, self.config.queue.db)
        else:
            self.db = Path(DEFAULT_DB)
        if args.key_file:
            self.key_file = Path(args.key_file)
        elif self.config is not None and not args.db:
            self.key_file = data_path(self.config, self.config.queue.key_file)
        else:
            self.key_file = self.db.with_suffix(".key")
        self.kiosk_id = args.kiosk_id or (
            self.config.kiosk.id if self.config is not None else DEFAULT_KIOSK_ID
        )

    def outbox(self, *, create: bool = False) -> Outbox:
        if not create and not self.db.exists():
            raise QueueError(f"no outbox at {self.db}", code="queue.no_outbox")
        self.db.parent.mkdir(parents=True, exist_ok=True)
        return Outbox(self.db, kiosk_id=self.kiosk_id, key_file=self.key_file)


def _fmt_time(value: float | None) -> str:
    if value is None:
        return "-"
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _status(args: argparse.Namespace) -> int:
    try:
        ctx = _Context(args)
        with ctx.outbox() as outbox:
            window = ctx.config.queue.offline_warn_h * 3600 if ctx.config else 24 * 3600.0
            check = outbox.check_integrity()
            status = queue_status(outbox, SystemClock(), window)
            health = outbox.health()
            waiting, dropped = alerts.saved(outbox)
            open_actions = Counter(e.action for e in outbox.unfinished())
            repaired = outbox.open_alerts
    except (QueueError, ConfigError) as exc:
        return _fail(exc)
    data = {
        **status.as_json(),
        "accepting": health.accepting,
        "health": health.reason,
        "integrity": {"ok": not check.problems, "problems": list(check.problems)},
        "repaired_at_open": [{"code": a.code, "message": a.message} for a in repaired],
        "alerts_waiting": waiting,
        "alerts_dropped": dropped,
        "open_actions": dict(open_actions),
    }
    code = 1 if check.problems else 0
    if args.json:
        print(json.dumps(data, indent=2))
        return code
    age = status.oldest_pending_age_s
    print(f"outbox           {ctx.db}")
    print(f"pending          {status.pending} (in flight {status.inflight})")
    print(f"oldest pending   {'-' if age is None else f'{age:.0f} s'}")
    print(f"dead letters     {status.dead}")
    if status.invalid:
        print(f"invalid rows     {status.invalid} (damaged state; list --state invalid)")
    print(f"delivered        {status.sent} (audit rows kept)")
    print(f"last success     {data['last_success_at'] or '-'}")
    print(f"last error       {status.last_error or '-'}")
    print(f"central link     {_reachable(data['central_unreachable_since'])}")
    print(f"offline too long {'YES - warn staff' if status.offline_too_long else 'no'}")
    print(f"accepting        {'yes' if health.accepting else 'NO - ' + health.reason}")
    print(f"open actions     {_open_actions(open_actions)}")
    codes = ", ".join(a.get("code", "?") for a in waiting)
    print(f"staff alerts     {len(waiting)} not yet at central{f' ({codes})' if codes else ''}")
    for a in waiting:
        print(f"  {a.get('at', '?')}  {a.get('code', '?')}: {a.get('message', '')}")
    if dropped:
        print(f"  and {dropped} older ones dropped while offline")
    _print_integrity(ctx.db, check.problems, repaired)
    return code


def _print_integrity(db: Path, problems: tuple[str, ...], repaired: tuple[QueueAlert, ...]) -> None:
    if problems:
        print(f"integrity        DAMAGED: {'; '.join(problems[:3])}")
        print(f"  take the kiosk out of service and run: kiosk queue recover --db {db}")
    else:
        print("integrity        ok")
    for alert in repaired:
        print(f"  repaired at open: {alert.message}")


# Journaled device and money actions begun and not finished yet, and where staff look.
_ACTION_HINTS = {
    "payment": "payment orders: kiosk renewal orders",
    "dispense": "hand-overs: settled at the next start",
}


def _open_actions(counts: Counter[str]) -> str:
    if not counts:
        return "none"
    return ", ".join(
        f"{n} {action} ({_ACTION_HINTS.get(action, 'journal')})"
        for action, n in sorted(counts.items())
    )


def _list(args: argparse.Namespace) -> int:
    try:
        with _Context(args).outbox() as outbox:
            rows = outbox.entries(args.state, args.limit)
    except (QueueError, ConfigError) as exc:
        return _fail(exc)
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return 0
    print(f"{'key':40} {'kind':22} {'state':9} {'tries':>5} {'created':19}  last error")
    for r in rows:
        print(
            f"{r.key:40} {r.kind:22} {r.state:9} {r.attempts:>5} {_fmt_time(r.created_at):19}  "
            f"{(r.last_error or '')[:60]}"
        )
    return 0


def _redrive(args: argparse.Namespace) -> int:
    return _staff(args, "redrive")


def _discard(args: argparse.Namespace) -> int:
    return _staff(args, "discard")


def _staff(args: argparse.Namespace, action: str) -> int:
    try:
        with _Context(args).outbox() as outbox:
            getattr(outbox, action)(args.key)
    except (QueueError, ConfigError) as exc:
        return _fail(exc)
    print(f"{args.key}: {action} done")
    return 0


def _load(args: argparse.Namespace) -> int:
    """Synthetic entries that look like renewals (with a demo ID number to prove encryption)."""
    rng = random.Random(args.count)
    filler = "x" * max(0, args.payload_bytes - 120)
    try:
        with _Context(args).outbox(create=True) as outbox:
            start = time.perf_counter()
            for n in range(args.count):
                attachments: tuple[Attachment, ...] = ()
                if args.attachment_kb:
                    attachments = (
                        Attachment(
                            "photo.jpg", os.urandom(args.attachment_kb * 1024), "image/jpeg"
                        ),
                    )
                outbox.put(
                    "load.synthetic",
                    {"n": n, "id_number": "440304199003071232", "filler": filler},
                    stream=f"stream-{rng.randrange(args.streams)}",
                    attachments=attachments,
                )
            took = time.perf_counter() - start
    except (QueueError, ConfigError) as exc:
        return _fail(exc)
    result = {"count": args.count, "seconds": round(took, 3), "per_s": round(args.count / took, 1)}
    print(json.dumps(result) if args.json else f"enqueued {args.count} in {took:.2f} s")
    return 0


def _drain(args: argparse.Namespace) -> int:
    try:
        ctx = _Context(args)
        url = args.central or (ctx.config.central.url if ctx.config else None)
        if not url:
            print("error: --central URL is required", file=sys.stderr)
            return 2
        secret_file = Path(args.secret_file) if args.secret_file else ctx.db.with_suffix(".secret")
        transport = CentralTransport(
            url,
            kiosk_id=ctx.kiosk_id,
            secret=load_or_create_secret(secret_file),
            ca_bundle=args.ca_bundle,
        )
        settings = SyncSettings(batch_size=args.batch, lease_s=args.lease_s)
        heard: list[QueueAlert] = []
        with ctx.outbox() as outbox:
            worker = SyncWorker(outbox, transport, settings=settings)
            worker.add_alert_listener(heard.append)
            start = time.perf_counter()
            delivered = worker.drain(max_seconds=args.max_seconds)
            status = worker.status()
    except (QueueError, ConfigError) as exc:
        return _fail(exc)
    took = time.perf_counter() - start
    result = {
        "delivered": delivered,
        "seconds": round(took, 3),
        "pending": status.pending,
        "dead": status.dead,
        "last_error": status.last_error,
        "alerts": [{"code": a.code, "message": a.message} for a in heard],
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"delivered {delivered} in {took:.2f} s; {status.pending} pending, {status.dead} dead"
        )
    for alert in heard:
        print(f"staff alert ({alert.code}): {alert.message}", file=sys.stderr)
    return 0 if status.pending == 0 else 1


def _recover(args: argparse.Namespace) -> int:
    try:
        ctx = _Context(args)
        if not ctx.db.exists() and not marker_path(ctx.db).exists():
            raise QueueError(f"no outbox at {ctx.db}", code="queue.no_outbox")
        report = salvage(ctx.db, key_file=ctx.key_file, key_lost=args.key_lost)
        # The fresh outbox opens as the kiosk will open it (a new key only with --key-lost).
        with ctx.outbox() as outbox:
            counts = outbox.counts()
            opened = outbox.open_alerts
    except (QueueError, ConfigError, OSError) as exc:
        return _fail(exc)
    if args.json:
        notes = [{"code": a.code, "message": a.message} for a in opened]
        print(
            json.dumps(
                {
                    **report.as_json(),
                    "pending": counts.pending,
                    "dead": counts.dead,
                    "opened": notes,
                }
            )
        )
        return 0
    _print_salvage(report)
    for alert in opened:
        print(f"note             {alert.message}")
    print(f"the outbox now holds {counts.pending} to send and {counts.dead} dead letters")
    return 0


def _print_salvage(report: SalvageReport) -> None:
    print(f"recovered        {report.path}")
    print(f"damaged file     {report.damaged_copy} (kept for investigation; delete when done)")
    if report.problems:
        print(f"found            {'; '.join(report.problems[:3])}")
    print(f"entries copied   {report.entries_copied} ({report.undelivered_copied} still to send)")
    print(f"attachments      {report.attachments_copied} copied")
    print(f"journal          {report.journal_copied} copied, {report.journal_lost} lost")
    if report.unfinished_actions_lost:
        print(
            f"  {report.unfinished_actions_lost} unfinished device or payment actions lost: "
            "check the machine's documents and open payment orders by hand"
        )
    if report.nothing_lost:
        print("lost             nothing")
        return
    for entry in report.lost:
        print(
            f"LOST             {entry.key or '?'} ({entry.kind or 'kind unknown'}): {entry.reason}"
        )
    for entry in report.dead_letters:
        print(f"DEAD LETTER      {entry.key} ({entry.kind}): {entry.reason}")
    for table, n in report.unreadable_rows.items():
        if n:
            print(f"UNREADABLE       {n} row(s) of {table} whose key could not be read")
    for table, n in report.damaged_stretches.items():
        if n and not report.unreadable_rows.get(table):
            print(f"DAMAGED          {n} stretch(es) of {table} skipped")
    for name in report.sequences_lost:
        print(f"COUNTER LOST     {name}: it starts again; check its numbers by hand")
    print("report every LOST key to central's operators; discard or redrive dead letters")


def _reachable(unreachable_since: str | None) -> str:
    return "answering" if not unreachable_since else f"NOT ANSWERING since {unreachable_since}"


def _fail(exc: Exception) -> int:
    code = getattr(exc, "code", "config")
    print(f"error ({code}): {exc}", file=sys.stderr)
    return 1
