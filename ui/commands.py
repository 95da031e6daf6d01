"""Commands that need Qt: ``kiosk run``, ``kiosk demo``, ``kiosk selftest``."""

from __future__ import annotations

import argparse
import faulthandler
import importlib
import json
import os
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from kiosk.config import ConfigError, KioskConfig, load_config
from ui.shell import Shell
from ui.watchdog import Beat

TERMINALS = ("renewal", "photo", "pickup")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = commands.add_parser("run", help="start the kiosk (fullscreen)")
    run.add_argument("--config", help="machine configuration (TOML)")
    run.add_argument("--terminal", choices=TERMINALS, help="use the sample config of a type")
    run.add_argument("--windowed", action="store_true", help="a normal window (development)")
    run.add_argument(
        "--exit-when-shown",
        action="store_true",
        help="print start-up figures as JSON once the attract screen is up, then "
        "exit (benchmarks, smoke tests)",
    )
    run.set_defaults(handler=_run)

    demo = commands.add_parser("demo", help="scripted citizen, offscreen, with screenshots")
    demo.add_argument("--terminal", choices=TERMINALS, default="photo")
    demo.add_argument("--config", help="machine configuration (TOML) instead of the sample")
    demo.add_argument("--out", default="demo-out", help="directory for PNGs and transcript")
    demo.add_argument(
        "--data",
        help="keep the run's outbox and embedded central store in this new directory "
        "(to inspect them); default: a temporary directory, removed afterwards",
    )
    demo.set_defaults(handler=_demo)

    selftest = commands.add_parser("selftest", help="start offscreen and check every module")
    selftest.set_defaults(handler=_selftest)


def _load(args: argparse.Namespace) -> KioskConfig:
    from ui.shell import default_config_path

    path = Path(args.config) if args.config else default_config_path(args.terminal)
    return load_config(path)


def _report(exc: ConfigError) -> None:
    print(f"configuration error in {exc.source}:", file=sys.stderr)
    for problem in exc.problems:
        print(f"  - {problem}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    from kiosk.core.clock import SystemClock
    from kiosk.supervision import (
        RefusalReport,
        Supervision,
        outbox_refusal,
        refuse,
        start_refusal,
    )
    from offline_queue.errors import OutboxRefused
    from ui.shell import build_shell, qt_application

    # A hung kiosk is ended by the watchdog with SIGABRT: every thread's stack goes to the
    # journal first, so the hang can be found.
    faulthandler.enable()
    qapp = qt_application()
    signal.signal(signal.SIGTERM, lambda *_: qapp.exit(0))
    signal.signal(signal.SIGINT, lambda *_: qapp.exit(0))
    # Python runs signal handlers only between bytecodes: wake it regularly inside Qt's loop.
    wake = QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(250)
    clock = SystemClock()
    try:
        config = _load(args)
    except ConfigError as exc:
        _report(exc)
        detail = {"detail": "; ".join(exc.problems)}
        return _hold_out_of_service(qapp, args, "oos.config", detail, 1)
    refusal = start_refusal(config)
    if refusal is not None:
        refuse(config, refusal, clock)
        values = dict(refusal.values)
        return _hold_out_of_service(qapp, args, refusal.reason_key, values, refusal.exit_code)
    try:
        shell = build_shell(config, qapp, clock=clock)
    except OutboxRefused as exc:
        # Damaged, or its key lost: nothing is dropped or overwritten; staff recover it.
        refusal = outbox_refusal(exc)
        refuse(config, refusal, clock)
        report = RefusalReport(config, exc, clock)
        report.start()
        try:
            values = dict(refusal.values)
            return _hold_out_of_service(qapp, args, refusal.reason_key, values, refusal.exit_code)
        finally:
            report.stop()
    supervision = Supervision(shell.kiosk, config, clock)
    supervision.begin()
    shell.start()
    beat = Beat(qapp, supervision.tick, supervision.tick_s)
    shell.window.show() if args.windowed else shell.window.showFullScreen()
    if args.exit_when_shown:
        QTimer.singleShot(0, lambda: _report_shown(shell, qapp))
    try:
        qapp.exec()
    finally:
        beat.stop()
        supervision.stop()
        shell.stop()
    return 0


def _hold_out_of_service(
    qapp: QApplication, args: argparse.Namespace, reason_key: str, values: dict[str, Any], code: int
) -> int:
    """A kiosk that cannot start shows why on the out-of-service screen until it is stopped,
    and tells the service manager it is up (alive, not in service): restarting it would only
    show the same screen again. Its exit status says why (``--exit-when-shown``: at once)."""
    from kiosk.machine.sdnotify import Notifier
    from kiosk.machine.watchdog import Watchdog
    from ui.shell import out_of_service_window

    window = out_of_service_window(qapp, reason_key, values)
    window.show() if args.windowed else window.showFullScreen()
    if args.exit_when_shown:
        qapp.processEvents()
        print(json.dumps({"screen": "out_of_service", "reason": reason_key, "exit": code}))
        return code
    watchdog = Watchdog(Notifier.from_environment())
    watchdog.ready(f"out of service: {reason_key} {values.get('detail', '')}")
    beat = Beat(qapp, watchdog.tick, watchdog.interval_s or 15.0)
    try:
        qapp.exec()
    finally:
        beat.stop()
        watchdog.stopping()
    return code


def _report_shown(shell: Shell, qapp: QApplication) -> None:
    """Start-up figures: the moment the attract screen is up, then (once every device has
    opened or failed, at most 15 s later) the peak memory of the running kiosk."""
    qapp.processEvents()
    view = shell.app.view
    figures: dict[str, object] = {
        "shown_monotonic": time.monotonic(),
        "screen": view.screen if view else None,
        "visible": shell.window.isVisible(),
    }
    deadline = time.monotonic() + 15.0

    def settled() -> None:
        hub = shell.app.devices
        waiting = hub is not None and any(s.detail == "not opened" for s in hub.slots.values())
        if waiting and time.monotonic() < deadline:
            QTimer.singleShot(100, settled)
            return
        figures["devices_settled_s"] = round(
            time.monotonic() - float(figures["shown_monotonic"]), 2
        )
        figures["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        print(json.dumps(figures), flush=True)
        # exit(), not quit(): Qt 6's quit() asks windows to close and the kiosk window refuses.
        qapp.exit(0)

    QTimer.singleShot(0, settled)


def _demo(args: argparse.Namespace) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from ui.demo import DemoFailed, run_demo

    try:
        config = _load(args)
    except ConfigError as exc:
        _report(exc)
        return 1
    out = Path(args.out)
    try:
        result = run_demo(config, out, data=Path(args.data) if args.data else None)
    except DemoFailed as exc:
        print(f"demo failed: {exc}", file=sys.stderr)
        return 1
    except FileExistsError:
        print(f"demo: {args.data} exists; give a directory that does not", file=sys.stderr)
        return 1
    print(
        f"demo completed: {result['steps']} steps, {len(result['screenshots'])} screenshots "
        f"and transcript.json in {out}/"
    )
    return 0


def _selftest(args: argparse.Namespace) -> int:
    """Offscreen start: import every registered module, render the attract screen."""
    start = time.monotonic()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from devices import registry
    from kiosk.cli import COMMAND_MODULES

    modules = [
        *COMMAND_MODULES,
        *registry.all_modules(),
        "ui.commands",
        "ui.demo",
        "ui.screens.photo",
        "kiosk.terminals.photo.service",
    ]
    failures: dict[str, str] = {}
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # report every failure, not just the first
            failures[name] = f"{type(exc).__name__}: {exc}"
    rendered = _render_attract()
    models = _photo_models()
    if models:
        failures["photo models"] = models
    result = {
        "ok": not failures and rendered,
        "modules": len(modules),
        "failures": failures,
        "attract_rendered": rendered,
        "frozen": bool(getattr(sys, "frozen", False)),
        "seconds": round(time.monotonic() - start, 2),
    }
    print(json.dumps(result, ensure_ascii=False))
    return 0 if result["ok"] else 1


def _photo_models() -> str:
    """The face models load and find no face in a blank frame ('' when fine)."""
    try:
        import numpy as np

        from kiosk.photo import PhotoEngine, load_spec

        engine = PhotoEngine(load_spec("cn-exit-entry"))
        engine.analyse(np.full((480, 640, 3), 240, np.uint8))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


def _render_attract() -> bool:
    from kiosk.config import parse_config
    from kiosk.core.clock import ManualClock
    from ui.shell import build_shell, qt_application

    qapp = qt_application(offscreen=True)
    config = parse_config({"kiosk": {"id": "SELFTEST", "terminal": "photo"}})
    clock = ManualClock()
    # No devices or outbox: the self-test must not touch ports or write data files.
    shell = build_shell(config, qapp, clock=clock, scheduler=clock, devices=False, backend=False)
    shell.start()
    qapp.processEvents()
    image = shell.window.grab().toImage()
    ok = shell.app.view is not None and shell.app.view.screen == "attract" and not image.isNull()
    shell.stop()
    return ok
