"""``kiosk service``: the kiosk as an unattended service (docs/operations.md).

    kiosk service check [--config FILE]          may this version start on this machine's data?
    kiosk service runs [--config FILE] [--json]  its recent starts, and whether it is crash-looping
    kiosk service housekeeping [--config FILE]   outbox upkeep (the systemd timer runs it daily)

``--config`` defaults to ``$KIOSK_CONFIG`` (set by the systemd units). Exit status of ``check``:
0 fine, 1 the configuration is unusable, 65 the outbox was migrated by a newer version.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict

from kiosk.config import ConfigError, KioskConfig, load_config
from kiosk.machine.runs import RUNS_FILE, RunLog
from offline_queue.errors import QueueError

# kiosk.supervision (and with it the whole kiosk) is imported by the handlers that need it:
# every `kiosk` command builds this module's parser, and most never use it.


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("service", help="the kiosk as an unattended service")
    sub = parser.add_subparsers(dest="service_command", required=True)
    for name, handler, text in (
        ("check", _check, "may this version start on this machine's data"),
        ("runs", _runs, "recent starts and clean stops; crash loop or not"),
        ("housekeeping", _housekeeping, "outbox upkeep: audit purge, room and integrity check"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--config", help="machine configuration (default: $KIOSK_CONFIG)")
        p.add_argument("--json", action="store_true", help="print JSON")
        p.set_defaults(handler=handler)


def _config(args: argparse.Namespace) -> KioskConfig:
    path = args.config or os.environ.get("KIOSK_CONFIG")
    if not path:
        raise ConfigError("(none)", ["give --config FILE or set KIOSK_CONFIG"])
    return load_config(path)


def _config_failed(exc: ConfigError) -> int:
    print(f"configuration error in {exc.source}:", file=sys.stderr)
    for problem in exc.problems:
        print(f"  - {problem}", file=sys.stderr)
    return 1


def _check(args: argparse.Namespace) -> int:
    from kiosk.supervision import start_refusal

    try:
        config = _config(args)
        refusal = start_refusal(config)
    except ConfigError as exc:
        return _config_failed(exc)
    except QueueError as exc:
        print(f"cannot check the outbox: {exc}", file=sys.stderr)
        return 1
    if refusal is not None:
        print(refusal.message, file=sys.stderr)
        return refusal.exit_code
    print(f"ok: kiosk {config.kiosk.id} may start on the data in {config.data_dir}")
    return 0


def _runs(args: argparse.Namespace) -> int:
    try:
        config = _config(args)
    except ConfigError as exc:
        return _config_failed(exc)
    s = config.service
    log = RunLog(config.data_dir / RUNS_FILE, limit=s.crash_limit, window_s=s.crash_window_min * 60)
    runs = log.runs()
    now = time.time()
    recent = [r for r in runs if not r.clean and r.counted and r.started >= now - log.window_s]
    looping = len(recent) >= log.limit
    if args.json:
        print(json.dumps({"runs": [asdict(r) for r in runs], "crash_loop": looping}))
        return 0
    for r in runs:
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started))
        how = "clean stop" if r.clean else "running or ended uncleanly"
        print(f"{started}  pid {r.pid:<8} {how}{'' if r.counted else ' (acknowledged)'}")
    print(
        f"{len(recent)} unclean ends in the last {s.crash_window_min:g} min "
        f"(limit {s.crash_limit}): {'CRASH LOOP' if looping else 'ok'}"
    )
    return 0


def _housekeeping(args: argparse.Namespace) -> int:
    """Delivered entries' audit rows past retention are dropped (the sync worker does it too
    while the kiosk runs; this covers a kiosk that is down), attachments orphaned by a crash
    are removed (on open), and room and integrity are checked and reported."""
    from kiosk.machine.backend import open_outbox
    from kiosk.supervision import start_refusal

    try:
        config = _config(args)
        if start_refusal(config) is not None:
            print("housekeeping skipped: the outbox belongs to a newer version", file=sys.stderr)
            return 0
        with open_outbox(config) as outbox:
            purged = outbox.purge_audit()
            health = outbox.health()
            intact = outbox.integrity_ok()
            counts = outbox.counts()
    except ConfigError as exc:
        return _config_failed(exc)
    except QueueError as exc:
        print(f"housekeeping failed: {exc}", file=sys.stderr)
        return 1
    report = {
        "purged_audit_rows": purged,
        "accepting": health.accepting,
        "reason": health.reason,
        "free_disk_mb": round(health.free_disk_bytes / 2**20, 1),
        "outbox_mb": round(health.db_bytes / 2**20, 2),
        "integrity_ok": intact,
        "pending": counts.pending,
        "dead": counts.dead,
    }
    print(json.dumps(report) if args.json else " ".join(f"{k}={v}" for k, v in report.items()))
    return 0 if intact else 1
