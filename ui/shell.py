"""Composition root: wires the core, the services and the window together.

The only place that knows every concrete part. Drivers are still chosen by name through the
device registry, so nothing here imports a driver module directly.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication

from kiosk.app import KioskApp
from kiosk.backend import Backend
from kiosk.clock import Clock, Scheduler
from kiosk.config import KioskConfig
from kiosk.photo_service import PhotoService
from ui.qt import QtDispatcher, QtScheduler
from ui.theme import load_fonts, stylesheet
from ui.window import KioskWindow, install_kiosk_lock

log = logging.getLogger(__name__)

REPO_CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def qt_application(offscreen: bool = False) -> QApplication:
    if offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(sys.argv[:1])
    family = load_fonts()
    app.setStyleSheet(stylesheet(family))
    return app


def default_config_path(terminal: str | None = None) -> Path:
    env = os.environ.get("KIOSK_CONFIG")
    if env and terminal is None:
        return Path(env)
    return REPO_CONFIGS / f"{terminal or 'photo'}.toml"


@dataclass
class Shell:
    """A running kiosk: core app + window (+ services, closed on stop)."""

    app: KioskApp
    window: KioskWindow
    closers: list[Any] = field(default_factory=list)
    backend: Backend | None = None
    photo: PhotoService | None = None

    def start(self) -> None:
        self.app.on_view(self.window.render)
        self.app.start()

    def stop(self) -> None:
        self.app.stop()
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception:
                log.exception("error while stopping")
        self.window.allow_close()
        self.window.close()


def build_shell(
    config: KioskConfig, qapp: QApplication, *, clock: Clock, scheduler: Scheduler | None = None
) -> Shell:
    dispatcher = QtDispatcher(qapp)
    kiosk = KioskApp(config, clock, scheduler or QtScheduler(qapp), dispatcher)
    window = KioskWindow(
        lambda name, data: kiosk.intent(name, **data),
        clock.monotonic,
        kiosk_id=config.kiosk.id,
        languages=tuple(lang.value for lang in config.kiosk.languages),
    )
    install_kiosk_lock(qapp)
    return Shell(kiosk, window)


def config_error_window(qapp: QApplication, source: str, problems: list[str]) -> KioskWindow:
    """The window a kiosk shows when its configuration cannot be used."""
    from kiosk.runner import ViewState

    window = KioskWindow(lambda name, data: None, lambda: 0.0, kiosk_id="?")
    detail = "; ".join(problems)
    window.render(
        ViewState(
            "out_of_service",
            {"reason_key": "oos.config", "values": {"detail": detail}},
            "zh",
            "config_error",
        )
    )
    install_kiosk_lock(qapp)
    return window
