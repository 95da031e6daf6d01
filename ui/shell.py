"""The kiosk on screen: the core kiosk (built complete by ``kiosk.wiring``) and its window,
with the Qt clock and dispatcher, and the screens the terminal type asks for."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QApplication

from kiosk.app import KioskApp
from kiosk.config import KioskConfig
from kiosk.core.clock import Clock, Scheduler
from kiosk.core.runner import ViewState
from kiosk.core.views import OutOfServiceView
from kiosk.core.voice import Voice
from kiosk.machine.backend import Backend
from kiosk.terminals.terminal import Pictures
from kiosk.wiring import Kiosk, assemble
from ui.qt import QtDispatcher, QtScheduler
from ui.screens.face import FaceCheckScreen
from ui.screens.photo import PhotoLiveScreen, PhotoReviewScreen
from ui.screens.services import add_service_screens
from ui.theme import load_fonts, stylesheet, touch_min_px
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
    app.setProperty(_FAMILY, family)
    app.setStyleSheet(stylesheet(family))
    return app


_FAMILY = "kiosk_font_family"


def style_for_screen(qapp: QApplication, config: KioskConfig) -> None:
    """The style with touch targets of at least 15 mm on this machine's panel."""
    family = str(qapp.property(_FAMILY) or load_fonts())
    qapp.setStyleSheet(stylesheet(family, touch_min_px(config.screen.px_per_mm)))


def default_config_path(terminal: str | None = None) -> Path:
    env = os.environ.get("KIOSK_CONFIG")
    if env and terminal is None:
        return Path(env)
    return REPO_CONFIGS / f"{terminal or 'photo'}.toml"


@dataclass
class Shell:
    """A running kiosk: the core kiosk and its window."""

    kiosk: Kiosk
    window: KioskWindow

    @property
    def app(self) -> KioskApp:
        return self.kiosk.app

    @property
    def backend(self) -> Backend | None:
        return self.kiosk.backend

    def start(self) -> None:
        self.app.on_view(self.window.render)
        self.kiosk.start()

    def stop(self) -> None:
        self.kiosk.stop()
        self.window.allow_close()
        self.window.close()


def build_shell(
    config: KioskConfig,
    qapp: QApplication,
    *,
    clock: Clock,
    scheduler: Scheduler | None = None,
    devices: bool = True,
    backend: bool = True,
    voice: Voice | None = None,
) -> Shell:
    kiosk = assemble(
        config,
        clock,
        scheduler or QtScheduler(qapp),
        QtDispatcher(qapp),
        devices=devices,
        backend=backend,
        voice=voice,
        # exit(), not quit(): the kiosk window refuses to close; the caller stops the shell.
        shutdown=lambda: qapp.exit(0),
    )
    return shell_for(kiosk, qapp, clock)


def shell_for(kiosk: Kiosk, qapp: QApplication, clock: Clock) -> Shell:
    """The window for a kiosk put together (by ``assemble``, or by a test)."""
    config = kiosk.app.config
    style_for_screen(qapp, config)
    window = KioskWindow(
        lambda name, data: kiosk.app.intent(name, **data),
        clock.monotonic,
        kiosk_id=config.kiosk.id,
        languages=tuple(lang.value for lang in config.kiosk.languages),
        header_status=kiosk.app.header_status,
    )
    install_kiosk_lock(qapp)
    _add_screens(window, kiosk.terminal.screens, kiosk.pictures)
    add_service_screens(window, kiosk.pictures)
    return Shell(kiosk, window)


def _add_screens(window: KioskWindow, screens: tuple[str, ...], pictures: Pictures | None) -> None:
    """The terminal type's own screens (its pictures come from its services)."""
    if pictures is None:  # without its devices a terminal shows none of its own screens
        return
    if "photo_live" in screens:
        window.add_screen(PhotoLiveScreen(pictures.frame))
    if "photo_review" in screens:
        window.add_screen(PhotoReviewScreen(pictures.photo))
    if "face_check" in screens:
        window.add_screen(FaceCheckScreen(pictures.frame))


def config_error_window(qapp: QApplication, source: str, problems: list[str]) -> KioskWindow:
    """The window a kiosk shows when its configuration cannot be used."""
    return out_of_service_window(qapp, "oos.config", {"detail": "; ".join(problems)})


def out_of_service_window(
    qapp: QApplication, reason_key: str, values: dict[str, Any]
) -> KioskWindow:
    """The window of a kiosk that cannot start: out of service, and why."""
    window = KioskWindow(lambda name, data: None, lambda: 0.0, kiosk_id="?")
    view = OutOfServiceView(reason_key, values)
    window.render(ViewState(view, "zh", "refused"))
    install_kiosk_lock(qapp)
    return window
