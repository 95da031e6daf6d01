"""Remote actions from central's fleet console, picked up from heartbeat answers.

Central lists the commands waiting for this machine in every heartbeat's answer until the
machine reports their outcome (docs/console.md): ``out_of_service`` and ``in_service`` (the
same as staff's buttons at the machine), ``send_now`` (sync and a heartbeat at once) and
``test_print`` (a short receipt, as after refilling paper). Each command runs once by its
id, on a worker of its own so that the sync thread never waits for the printer; its outcome
goes in the next heartbeat (asked for at once) and is repeated until a heartbeat carrying it
is answered. An unknown action is reported as failed, not ignored.

``attach(sync, ...)`` joins this and the usage counters (``kiosk.machine.usage``) to the
heartbeats the application already sends (devices, alerts): one place to read them.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from kiosk.machine.receipts import Barcode128, Feed, Slip, TextLine, centre
from offline_queue.sync import SyncWorker

log = logging.getLogger(__name__)

REMEMBERED = 200  # command ids already run, so a repeated answer does not run one twice
ACTIONS = ("out_of_service", "in_service", "send_now", "test_print")


class MachineControl(Protocol):
    """What a remote action does to this machine (the application provides it)."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def sync(self) -> None: ...


class TestPrinter(Protocol):
    def __call__(self, slip: Slip) -> None:
        """Print ``slip`` now, raising if it did not print."""
        ...


def test_slip(kiosk_id: str) -> Slip:
    return Slip(
        "test",
        (
            centre("打印测试 / Printer test", bold=True, large=True),
            TextLine(f"终端 Kiosk: {kiosk_id}"),
            TextLine("远程测试 / Remote test"),
            TextLine("中文 English 0123456789"),
            Barcode128("TEST-0123456789"),
            Feed(1),
        ),
    )


class RemoteCommands:
    """Thread-safe: the sync worker hands commands in and takes outcomes out."""

    def __init__(
        self,
        kiosk_id: str,
        control: MachineControl,
        printer: TestPrinter | None,
        *,
        on_done: Callable[[], None] | None = None,
    ) -> None:
        self.kiosk_id = kiosk_id
        self.control = control
        self.printer = printer
        # Told after each outcome (the sync worker's heartbeat_soon): report it at once.
        self.on_done = on_done
        self._seen: deque[str] = deque(maxlen=REMEMBERED)
        self._results: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="remote-command")

    def received(self, answer: Mapping[str, Any]) -> None:
        """A heartbeat's answer: run the commands not seen before."""
        commands = answer.get("commands")
        if not isinstance(commands, list):
            return
        for command in commands:
            if not isinstance(command, Mapping):
                continue
            command_id, action = command.get("id"), command.get("action")
            if not isinstance(command_id, str) or not command_id or len(command_id) > 64:
                continue
            with self._lock:
                if command_id in self._seen:
                    continue
                self._seen.append(command_id)
            log.warning("remote command from central: %s", action)
            self._worker.submit(self._run, command_id, str(action))

    def _run(self, command_id: str, action: str) -> None:
        try:
            detail = self._do(action)
            ok = True
        except Exception as exc:
            log.warning("remote command %s failed: %s", action, exc)
            ok, detail = False, str(exc)[:300] or type(exc).__name__
        with self._lock:
            self._results[command_id] = {"id": command_id, "ok": ok, "detail": detail}
        if self.on_done is not None:
            self.on_done()

    def _do(self, action: str) -> str:
        if action == "out_of_service":
            self.control.pause()
            return "out of service"
        if action == "in_service":
            self.control.resume()
            return "back in service"
        if action == "send_now":
            self.control.sync()
            return "sending"
        if action == "test_print":
            if self.printer is None:
                raise RuntimeError("this machine has no receipt printer")
            self.printer(test_slip(self.kiosk_id))
            return "printed"
        raise ValueError(f"unknown action {action[:40]!r}")

    def pending(self) -> list[dict[str, Any]]:
        """Outcomes not yet delivered to central."""
        with self._lock:
            return list(self._results.values())

    def delivered(self, sent: Mapping[str, Any]) -> None:
        """Central stored a heartbeat carrying these outcomes."""
        listed = sent.get("command_results")
        if not isinstance(listed, list):
            return
        with self._lock:
            for result in listed:
                if isinstance(result, Mapping):
                    self._results.pop(str(result.get("id")), None)

    def close(self) -> None:
        self._worker.shutdown(wait=True, cancel_futures=True)


def attach(
    sync: SyncWorker,
    commands: RemoteCommands,
    usage: Callable[[Mapping[str, Mapping[str, Any]]], dict[str, Any]] | None,
    about: Mapping[str, str],
) -> None:
    """Add to the heartbeats ``sync`` already sends: who this machine is (``about``:
    terminal type and hall), its usage (``usage(devices)``), the commands' outcomes; and
    hand central's answers to ``commands``. Call after the application connected the sync
    worker (it sets the first ``heartbeat_extra``)."""
    base_extra = sync.heartbeat_extra
    base_delivered = sync.heartbeat_delivered

    def extra() -> dict[str, Any]:
        out = dict(base_extra()) if base_extra is not None else {}
        out["kiosk"] = dict(about)
        if usage is not None:
            out["usage"] = usage(out.get("devices") or {})
        out["command_results"] = commands.pending()
        return out

    def delivered(sent: dict[str, Any]) -> None:
        if base_delivered is not None:
            base_delivered(sent)
        commands.delivered(sent)

    sync.heartbeat_extra = extra
    sync.heartbeat_delivered = delivered
    sync.heartbeat_answer = commands.received
    commands.on_done = sync.heartbeat_soon
