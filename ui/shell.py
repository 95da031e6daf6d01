"""Composition root: wires the core, the services and the window together.

The only place that knows every concrete part. Drivers are still chosen by name through the
device registry, so nothing here imports a driver module directly.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
from PySide6.QtWidgets import QApplication

from kiosk.app import KioskApp
from kiosk.config import KioskConfig, TerminalType
from kiosk.core.clock import Clock, Scheduler
from kiosk.core.prompts import ScreenPrompts
from kiosk.core.voice import Voice
from kiosk.machine.backend import Backend, open_central_client
from kiosk.machine.central import CentralService
from kiosk.machine.devices import DeviceHub
from kiosk.photo.spec import load_spec
from kiosk.terminals.photo.service import PhotoService
from kiosk.terminals.pickup.service import pickup_service_for
from kiosk.terminals.renewal.service import RenewalService, Settler
from offline_queue.central_client import CentralClient
from ui.qt import QtDispatcher, QtScheduler
from ui.screens.photo import PhotoLiveScreen, PhotoReviewScreen
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
    config: KioskConfig,
    qapp: QApplication,
    *,
    clock: Clock,
    scheduler: Scheduler | None = None,
    devices: bool = True,
    backend: bool = True,
    voice: Voice | None = None,
) -> Shell:
    dispatcher = QtDispatcher(qapp)
    kiosk = KioskApp(config, clock, scheduler or QtScheduler(qapp), dispatcher)
    window = KioskWindow(
        lambda name, data: kiosk.intent(name, **data),
        clock.monotonic,
        kiosk_id=config.kiosk.id,
        languages=tuple(lang.value for lang in config.kiosk.languages),
        header_status=kiosk.header_status,
    )
    install_kiosk_lock(qapp)
    # exit(), not quit(): the kiosk window refuses to close; the caller then stops the shell.
    kiosk.on_shutdown = lambda: qapp.exit(0)
    shell = Shell(kiosk, window)
    voice = voice or Voice(enabled=config.voice.enabled)
    shell.closers.append(voice.close)
    if config.voice.prompts:
        kiosk.on_view(ScreenPrompts(voice).on_view)
    hub: DeviceHub | None = None
    if devices:
        hub = DeviceHub(config, kiosk.device_event, kiosk.device_availability)
        kiosk.attach_devices(hub)
        # Devices open on their own workers while the attract loop is already showing; a
        # required one that fails to open still takes the kiosk out of service.
        hub.start(wait=False)
        shell.closers.append(hub.close)
    if backend:
        shell.backend = start_backend(config, kiosk)
        shell.closers.append(shell.backend.close)
    if config.kiosk.terminal is TerminalType.PHOTO and hub is not None:
        shell.photo = photo_service(config, kiosk, hub, shell.backend, voice)
        window.add_screen(PhotoLiveScreen(hub.latest_frame))
        window.add_screen(PhotoReviewScreen())
        shell.closers.append(shell.photo.close)
    if config.kiosk.terminal is not TerminalType.PHOTO and shell.backend is not None:
        attach_identified_services(config, kiosk, hub, shell.backend, shell)
    return shell


def attach_identified_services(
    config: KioskConfig, kiosk: KioskApp, hub: DeviceHub | None, backend: Backend, shell: Shell
) -> None:
    """Central look-ups (renewal, pickup) and, on a pickup terminal, the journaled handover.

    A dispense interrupted by a crash or power cut is resolved here, before any citizen is
    served: staff are alerted and that document is withheld until they reconcile it.
    """

    def client() -> CentralClient:
        return open_central_client(config, backend.central_url)

    withheld = None
    if config.kiosk.terminal is TerminalType.PICKUP and hub and "dispenser" in hub.slots:
        pickup = pickup_service_for(config, hub, backend.outbox, kiosk.post)
        for _ in pickup.recover():
            # No document number in an alert (it is kept in clear): staff list them with
            # `kiosk pickup withheld`.
            kiosk.staff_alert(
                "pickup.uncertain",
                "a dispense was interrupted; the document is withheld (kiosk pickup withheld)",
            )
        kiosk.runner.add_service("pickup", pickup, hub.slots["dispenser"].executor)
        withheld = pickup.withheld
        kiosk.documents_to_reconcile = lambda: sum(
            1 for _, outcome in pickup.withheld_documents() if outcome != "taken"
        )
    sync = backend.sync
    central = CentralService(
        client, withheld=withheld, on_unreachable=sync.heartbeat_soon if sync else None
    )
    kiosk.attach_service("central", central)
    shell.closers.append(central.close)
    if config.kiosk.terminal is TerminalType.RENEWAL:
        attach_renewal(config, kiosk, backend, shell, client)


def attach_renewal(
    config: KioskConfig,
    kiosk: KioskApp,
    backend: Backend,
    shell: Shell,
    client: Callable[[], CentralClient],
) -> None:
    """Fee and issue on their own worker, which also settles orders left open by a crash
    or a silent central (all of them now, before anything else it does)."""
    service = RenewalService(
        backend.outbox, client, kiosk_id=config.kiosk.id, settle_s=config.payment.settle_s
    )
    worker = ThreadPoolExecutor(1, thread_name_prefix="svc-renewal")
    settler = Settler(service, worker.submit, kiosk.staff_alert)
    kiosk.runner.add_service("renewal", service, worker)
    settler.start()
    backend.tasks.append(settler.tick)
    shell.closers += [service.close, lambda: worker.shutdown(wait=True, cancel_futures=True)]


def start_backend(config: KioskConfig, kiosk: KioskApp) -> Backend:
    """Outbox + sync worker (+ the embedded reference central service for demos)."""
    from kiosk.machine.backend import open_outbox, open_sync_worker

    closers = []
    url = None
    if config.central.embedded:
        from kiosk.commands.central import CentralUnavailable, start_embedded_central

        try:
            central = start_embedded_central(config)
            url = central.url
            closers.append(central.stop)
        except CentralUnavailable:
            log.warning(
                "embedded central requested but not installed; syncing to %s", config.central.url
            )
    backend = Backend(
        config,
        open_outbox(config),
        open_sync_worker(config, central_url=url),
        kiosk.outbox_availability,
        kiosk.staff_alert,
        closers=closers,
        central_url=url or config.central.url,
        on_offline=kiosk.set_sync_offline,
        on_central_link=kiosk.set_central_link,
    )
    kiosk.use_outbox(backend.outbox)
    if backend.sync is not None:
        kiosk.connect_sync(backend.sync)
    backend.start()
    return backend


def photo_service(
    config: KioskConfig,
    kiosk: KioskApp,
    hub: DeviceHub,
    backend: Backend | None,
    voice: Voice,
) -> PhotoService:
    # One OpenCV thread for the analysis leaves the other core to the preview and the UI
    # (measured: as fast as two threads on this 2-core machine; docs/photo-engine.md).
    cv2.setNumThreads(1)
    service = PhotoService(
        kiosk_id=config.kiosk.id,
        spec=load_spec(config.photo.spec),
        frames=hub.latest_frame,
        post=kiosk.post,
        outbox=backend.outbox if backend else None,
        voice=voice,
    )
    kiosk.attach_service("photo", service, ("photo_live", "photo_countdown"), service.set_live)
    return service


def config_error_window(qapp: QApplication, source: str, problems: list[str]) -> KioskWindow:
    """The window a kiosk shows when its configuration cannot be used."""
    from kiosk.core.runner import ViewState

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
