"""The kiosk as a service the machine keeps running unattended (docs/operations.md), Qt-free:

- before it starts: ``start_refusal`` says why this version must not open the data it finds
  (an outbox a newer version migrated: the update that did so was rolled back);
- ``Supervision`` records each start and clean stop (``kiosk.machine.runs``) and, after too
  many unclean ends in a short time, holds the kiosk out of service and alerts staff (the
  alert waits in the outbox for the next heartbeat); it tells the service manager the kiosk
  is ready once the first screen is up, writes the readiness marker the update script waits
  for once the attract screen is shown in service, and keeps the watchdog fed from the flow
  thread while every device worker is healthy (``kiosk.machine.watchdog``).

The UI calls ``tick`` from a timer on its event loop every ``tick_s``; a frozen loop never
calls it, which is the point.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.app import CRASH_LOOP
from kiosk.config import KioskConfig
from kiosk.core.clock import Clock
from kiosk.core.runner import ViewState
from kiosk.machine.backend import data_path, open_transport
from kiosk.machine.runs import CrashLoop, RunLog, StartMarkers
from kiosk.machine.sdnotify import Notifier
from kiosk.machine.watchdog import Watchdog, device_probes
from kiosk.terminals.home.flow import ATTRACT
from kiosk.wiring import Kiosk
from offline_queue.errors import CentralError, OutboxRefused
from offline_queue.outbox import SCHEMA_VERSION, stored_schema
from offline_queue.sync import refused_status, send_heartbeat

log = logging.getLogger(__name__)

# Exit status of a kiosk that refuses to start because a newer version migrated its outbox
# (sysexits' EX_DATAERR: the data is fine, this program is too old for it).
EXIT_OUTBOX_NEWER = 65
# Exit status of a kiosk whose outbox is damaged or whose key is lost (sysexits' EX_IOERR):
# staff must recover it (`kiosk queue recover`) before it takes transactions again.
EXIT_OUTBOX_REFUSED = 74
# The out-of-service reason per refusal of the outbox (its ``code``).
_REFUSAL_REASONS = {"queue.damaged": "oos.queue_damaged", "queue.key_missing": "oos.queue_key"}
# Without a watchdog the health check still runs this often (a wedged worker is logged).
_CHECK_S = 15.0


@dataclass(frozen=True)
class Refusal:
    """Why the kiosk will not start: the out-of-service reason, a plain message for the
    journal and the update script, and the exit status."""

    reason_key: str
    message: str
    exit_code: int
    values: Mapping[str, Any] = field(default_factory=dict)


def start_refusal(config: KioskConfig) -> Refusal | None:
    """None if this version may open the machine's data; otherwise why not. Reads only."""
    path = data_path(config, config.queue.db)
    found = stored_schema(path)
    if found <= SCHEMA_VERSION:
        return None
    message = (
        f"refusing to start: the outbox {path} has schema {found}, this version reads up to "
        f"schema {SCHEMA_VERSION}. A newer version migrated it (an update was rolled back?). "
        "Its transactions are kept; install that newer version again (deploy/update.py), "
        "never an older one over it. / 拒绝启动：交易存储由较新版本升级，当前版本无法读取；"
        "数据已保留，请重新安装较新版本。"
    )
    return Refusal(
        "oos.outbox_newer",
        message,
        EXIT_OUTBOX_NEWER,
        {"detail": f"outbox schema {found} > {SCHEMA_VERSION}", "found": found},
    )


def outbox_refusal(exc: OutboxRefused) -> Refusal:
    """Why the kiosk will not start when its outbox refused to open (damaged, its key lost):
    the transactions in it are neither dropped nor overwritten; staff recover it."""
    message = (
        f"refusing to start: {exc} / 拒绝启动：交易存储无法打开，请工作人员按提示处理"
        "（数据已保留）。"
    )
    return Refusal(
        _REFUSAL_REASONS.get(exc.code, "oos.queue_refused"),
        message,
        EXIT_OUTBOX_REFUSED,
        {"detail": exc.code, "code": exc.code, "path": exc.path, "remedy": exc.remedy},
    )


class RefusalReport:
    """Tells central, on a thread of its own, that this kiosk is out of service because its
    outbox refused to open: a heartbeat now and then every ``heartbeat_s`` (the same
    alert id each time, so central lists it once). Not for the demo's embedded gateway,
    which is the kiosk's own and was never started."""

    def __init__(self, config: KioskConfig, exc: OutboxRefused, clock: Clock) -> None:
        self._config = config
        self._status = refused_status(exc)
        self._extra = {
            "devices": {},
            "alerts": [
                {
                    "id": uuid.uuid4().hex,
                    "code": exc.code,
                    "message": str(exc)[:1000],
                    "at": clock.now().isoformat(timespec="seconds"),
                }
            ],
            "alerts_dropped": 0,
            "out_of_service": ["outbox"],
        }
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0

    def start(self) -> None:
        if self._config.central.embedded:
            return
        self._thread = threading.Thread(target=self._run, name="refusal-report", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        interval = self._config.central.heartbeat_s
        while not self._stop.is_set():
            try:
                send_heartbeat(open_transport(self._config), self._status, self._extra)
                self.sent += 1
                wait = interval
            except (CentralError, OSError) as exc:
                log.warning("central not told of the refused outbox yet: %s", exc)
                wait = self._config.central.probe_s
            self._stop.wait(wait)


def bundle_path() -> str:
    """Where this kiosk's code lives: the bundle directory when frozen (the update script
    compares it with the slot it switched to), the source tree otherwise."""
    if getattr(sys, "frozen", False):
        return str(Path(sys.executable).resolve().parent)
    return str(Path(__file__).resolve().parent.parent)


def start_markers(config: KioskConfig) -> StartMarkers:
    return StartMarkers(config.data_dir, bundle_path())


class Supervision:
    """One kiosk watched for the service manager. Flow thread only."""

    def __init__(
        self,
        kiosk: Kiosk,
        config: KioskConfig,
        clock: Clock,
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.kiosk = kiosk
        self.app = kiosk.app
        self.clock = clock
        service = config.service
        self.runs = RunLog(
            config.data_dir / "runs.json",
            limit=service.crash_limit,
            window_s=service.crash_window_min * 60.0,
        )
        self.markers = start_markers(config)
        notifier = Notifier.from_environment(env)
        hub = self.app.devices
        probes = device_probes(hub, service.worker_stall_s, clock) if hub is not None else []
        self.watchdog = Watchdog(notifier, probes)
        self.crash_loop: CrashLoop | None = None
        self._told_manager = False
        self.ready = False
        self._check_directory(config, os.environ if env is None else env)

    @staticmethod
    def _check_directory(config: KioskConfig, env: Mapping[str, str]) -> None:
        state = env.get("STATE_DIRECTORY")
        if state and Path(state).resolve() != config.data_dir.resolve():
            log.warning(
                "kiosk.data_dir %s is not the unit's state directory %s: the update script "
                "and housekeeping look there",
                config.data_dir,
                state,
            )

    @property
    def tick_s(self) -> float:
        """How often the UI calls ``tick``: half the watchdog interval."""
        return self.watchdog.interval_s or _CHECK_S

    def begin(self) -> None:
        """Before the kiosk starts: record the start, hold it out of service after a crash
        loop, and listen for its first screens."""
        self.markers.clear()
        self.crash_loop = self.runs.begin(self._now())
        if self.crash_loop is not None:
            loop = self.crash_loop
            log.error(
                "%d unclean ends in the last %d min: starting out of service until staff put "
                "the machine back in service",
                loop.crashes,
                loop.minutes,
            )
            self.app.set_unavailable(
                CRASH_LOOP, "oos.crash_loop", crashes=loop.crashes, minutes=loop.minutes
            )
            self.app.staff_alert(
                "kiosk.crash_loop",
                f"{loop.crashes} unclean ends (crash, watchdog, power) in {loop.minutes} min; "
                "held out of service until staff put it back in service",
            )
        self.app.resumed.append(self._staff_resumed)
        self.app.on_view(self._on_view)

    def _on_view(self, view: ViewState) -> None:
        if not self._told_manager:
            self._told_manager = True
            self.watchdog.ready(f"{view.screen}")
        if not self.ready and view.state == ATTRACT and not self.app.unavailable:
            self.ready = True
            self.markers.ready(self._now(), view.screen)
            log.info("attract screen shown in service: ready")

    def _staff_resumed(self) -> None:
        if self.crash_loop is not None:
            log.warning("staff put the machine back in service after a crash loop")
            self.crash_loop = None
        self.runs.acknowledge()

    def tick(self) -> bool:
        """A beat of the flow thread's event loop: feed the watchdog if all is well."""
        return self.watchdog.tick()

    def stop(self) -> None:
        """The kiosk stops because it was asked to (not a crash)."""
        self.watchdog.stopping("stopping")
        self.runs.end(self._now())

    def _now(self) -> float:
        return self.clock.now().timestamp()


def refuse(config: KioskConfig, refusal: Refusal, clock: Clock) -> None:
    """Say why the kiosk will not start: the journal, the marker the update script reads."""
    log.error("%s", refusal.message)
    print(refusal.message, file=sys.stderr, flush=True)
    markers = start_markers(config)
    markers.clear()
    markers.refused(
        clock.now().timestamp(),
        refusal.message,
        refusal.exit_code,
        reason_key=refusal.reason_key,
        values=dict(refusal.values),
    )
