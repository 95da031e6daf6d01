"""What the kiosk remembers of its own starts and stops, in two small files of its data
directory, so that a machine nobody watches can tell on itself:

- ``runs.json``: each start, and whether it ended cleanly (a stop asked for: systemd's
  SIGTERM, staff's shut down). A start that never recorded its end was a crash, a watchdog
  kill or a power cut. ``limit`` such ends within ``window_s`` is a crash loop: the kiosk then
  starts out of service and alerts staff (kiosk.supervision), instead of restarting for ever
  in front of citizens. Staff putting it back in service ``acknowledge`` them.
- ``ready.json`` / ``refused.json``: the kiosk reached the attract screen (the update script
  waits for this before it keeps a new version), or refused to start and why (the update
  script reports it after a rollback).

Wall-clock times, since monotonic time restarts with the machine; a clock stepped back makes
earlier crashes look recent (counted), one stepped forward makes them look old (the loop is
found one crash later).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

RUNS_FILE = "runs.json"
READY_FILE = "ready.json"
REFUSED_FILE = "refused.json"


@dataclass(frozen=True)
class Run:
    started: float  # wall clock, seconds since the epoch
    pid: int
    ended: float | None = None
    clean: bool = False
    counted: bool = True  # False once staff put the machine back in service after it


@dataclass(frozen=True)
class CrashLoop:
    """``crashes`` unclean ends within the last ``window_s`` (at least the limit)."""

    crashes: int
    window_s: float

    @property
    def minutes(self) -> int:
        return round(self.window_s / 60)


class RunLog:
    """The kiosk's runs, newest last, at most ``keep``. Flow thread only."""

    def __init__(self, path: Path, *, limit: int, window_s: float, keep: int = 32) -> None:
        self.path = path
        self.limit = limit
        self.window_s = window_s
        self.keep = keep
        self._mine: Run | None = None

    def begin(self, now: float, pid: int | None = None) -> CrashLoop | None:
        """Record this start; a crash loop if ``limit`` earlier runs ended uncleanly within
        the window (this start not counted)."""
        runs = self._read()
        crashes = sum(
            1 for r in runs if not r.clean and r.counted and r.started >= now - self.window_s
        )
        self._mine = Run(now, os.getpid() if pid is None else pid)
        self._write([*runs, self._mine][-self.keep :])
        if crashes >= self.limit:
            return CrashLoop(crashes, self.window_s)
        return None

    def end(self, now: float) -> None:
        """This run ends because it was asked to: not a crash."""
        if self._mine is None:
            return
        mine = self._mine
        self._write([replace(r, ended=now, clean=True) if r == mine else r for r in self._read()])
        self._mine = None

    def acknowledge(self) -> None:
        """Staff put the machine back in service: earlier crashes no longer count."""
        self._write([r if r == self._mine else replace(r, counted=False) for r in self._read()])

    def runs(self) -> list[Run]:
        return self._read()

    def _read(self) -> list[Run]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [Run(**item) for item in data["runs"]]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, TypeError, KeyError) as exc:
            # Unreadable: start afresh rather than refuse to start over a bookkeeping file.
            log.warning("%s unreadable (%s): earlier runs forgotten", self.path.name, exc)
            return []

    def _write(self, runs: list[Run]) -> None:
        write_json(self.path, {"runs": [asdict(r) for r in runs]})


def write_json(path: Path, data: dict[str, Any]) -> bool:
    """Replace ``path`` atomically (a crash leaves the old file or the new, never half);
    False, with a warning, if the disk refuses - bookkeeping never stops the kiosk."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, ensure_ascii=False)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        log.warning("could not write %s: %s", path, exc)
        return False
    return True


@dataclass(frozen=True)
class StartMarkers:
    """``ready.json`` and ``refused.json`` in the data directory, each naming the bundle that
    wrote it (the update script compares it with the slot it switched to)."""

    directory: Path
    bundle: str

    def clear(self) -> None:
        for name in (READY_FILE, REFUSED_FILE):
            try:
                (self.directory / name).unlink(missing_ok=True)
            except OSError as exc:
                log.warning("could not remove %s: %s", name, exc)

    def ready(self, now: float, screen: str) -> bool:
        return write_json(self.directory / READY_FILE, self._record(now, screen=screen))

    def refused(self, now: float, reason: str, exit_code: int, **details: Any) -> bool:
        record = self._record(now, reason=reason, exit_code=exit_code, **details)
        return write_json(self.directory / REFUSED_FILE, record)

    def _record(self, now: float, **fields: Any) -> dict[str, Any]:
        return {"bundle": self.bundle, "pid": os.getpid(), "at": now, **fields}
