"""The composition root, Qt-free: builds one kiosk complete, in one step, from its
configuration - the terminal's flow and runner, the device hub, the outbox and sync worker
(and the embedded reference central service in demos), the terminal's services, staff mode -
and hands back a ``Kiosk`` to start and stop. The UI only adds a window and a Qt clock.

Drivers are chosen by name through the device registry, so nothing here imports a driver.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from kiosk.app import KioskApp, Machine
from kiosk.config import KioskConfig
from kiosk.core.clock import Clock, Scheduler
from kiosk.core.engine import Flow
from kiosk.core.pins import StaffKey
from kiosk.core.prompts import ScreenPrompts
from kiosk.core.runner import Dispatcher, FlowRunner
from kiosk.core.voice import Voice
from kiosk.machine.alerts import StaffAlerts
from kiosk.machine.backend import Backend, open_central_client, open_outbox, open_sync_worker
from kiosk.machine.central import CentralLink
from kiosk.machine.commands import RemoteCommands, attach
from kiosk.machine.devices import DeviceHub, PrinterWorker
from kiosk.machine.embedded import CentralUnavailable, start_embedded_central
from kiosk.machine.receipts import Slip
from kiosk.terminals.appointment import equip as appointment_equip
from kiosk.terminals.appointment import flow as appointment_flow
from kiosk.terminals.home.flow import TerminalContext, build_terminal_flow
from kiosk.terminals.registry import terminal_for
from kiosk.terminals.staff.flow import staff_access
from kiosk.terminals.staff.key import StaffKeyError, machine_staff_key
from kiosk.terminals.terminal import Equipment, Parts, Pictures, Terminal
from kiosk.texts import TEXTS
from offline_queue.outbox import Outbox
from offline_queue.sync import SyncWorker

log = logging.getLogger(__name__)

Closer = Callable[[], object]


@dataclass
class Kiosk:
    """A kiosk put together: start it, then stop it (its parts close in reverse order)."""

    app: KioskApp
    terminal: Terminal
    backend: Backend | None = None
    pictures: Pictures | None = None
    closers: list[Closer] = field(default_factory=list)

    def start(self) -> None:
        self.app.start()

    def stop(self) -> None:
        self.app.stop()
        for closer in reversed(self.closers):
            try:
                closer()
            except Exception:
                log.exception("error while stopping")


def flow_runner(
    config: KioskConfig,
    clock: Clock,
    scheduler: Scheduler,
    dispatcher: Dispatcher | None = None,
    *,
    strict: bool = False,
) -> FlowRunner[TerminalContext]:
    """The configured terminal's flow (with staff mode when configured) and its runner."""
    terminal = terminal_for(config)
    definition = build_terminal_flow(
        config,
        # The terminal's own services, then those every terminal offers.
        (*terminal.services(config), *appointment_flow.services(config)),
        slides=terminal.slides,
        staff=staff_access(config),
    )
    context = TerminalContext(kiosk_id=config.kiosk.id, terminal=config.kiosk.terminal.value)
    return FlowRunner(
        Flow(definition, context, strict=strict),
        clock,
        scheduler,
        dispatcher,
        language=config.kiosk.languages[0].value,
    )


def assemble(
    config: KioskConfig,
    clock: Clock,
    scheduler: Scheduler,
    dispatcher: Dispatcher | None = None,
    *,
    devices: bool = True,
    backend: bool = True,
    voice: Voice | None = None,
    shutdown: Callable[[], None] | None = None,
) -> Kiosk:
    """Build the kiosk ``config`` describes. ``devices=False`` / ``backend=False`` leave out
    the devices or the outbox and central (the self-test touches neither ports nor files);
    ``shutdown`` is staff mode's Shut down (not offered without it)."""
    terminal = terminal_for(config)
    runner = flow_runner(config, clock, scheduler, dispatcher)
    voice = voice or Voice(enabled=config.voice.enabled)
    if config.voice.prompts:
        runner.on_view(ScreenPrompts(voice, TEXTS).on_view)
    hub = DeviceHub(config, runner.post, required=terminal.required_devices) if devices else None
    link = _link(config) if backend else None

    alerts = StaffAlerts()

    def alert(code: str, message: str) -> None:
        alerts.raise_alert(code, message, clock.now())

    parts = Parts(
        config,
        clock,
        runner.post,
        alert,
        voice,
        hub,
        link.outbox if link else None,
        _central_links(config, link) if link else None,
    )
    equipment = terminal.equip(parts)
    shared = appointment_equip.equip(parts)  # on every terminal's menu
    equipment.bindings += shared.bindings
    if shared.watch is not None:
        runner.on_view(shared.watch)
    machine = Machine(
        hub,
        parts.outbox,
        link.sync if link else None,
        equipment,
        terminal.required_devices,
        alerts,
        shutdown,
    )
    if config.staff.enabled:
        machine.staff_key, machine.staff_key_problem = _staff_key(config, backend=backend)
    app = KioskApp(config, runner, machine)
    remote = _fleet(config, link, app, hub) if link is not None else None
    watcher = _watch(config, link, app, equipment) if link is not None else None
    # Stopped in reverse: the services first, then the outbox they write to, then devices.
    closers: list[Closer] = [voice.close]
    closers += [remote.close] if remote is not None else []
    closers += [hub.close] if hub is not None else []
    closers += [watcher.close] if watcher is not None else []
    closers += [*(b.close for b in equipment.bindings if b.close), *equipment.closers]
    if hub is not None:
        # Devices open on their own workers while the attract loop is already showing; a
        # required one that fails to open still takes the kiosk out of service.
        hub.start(wait=False)
    return Kiosk(app, terminal, watcher, equipment.pictures, closers)


def _staff_key(config: KioskConfig, *, backend: bool) -> tuple[StaffKey | None, str]:
    """The machine's staff key (made on the first start), or why there is none. Only with
    the backend: the key lives in the data directory, which a run without it leaves alone."""
    if not backend:
        return None, "run without the data directory (no staff key read)"
    try:
        return machine_staff_key(config), ""
    except StaffKeyError as exc:
        log.error("staff mode: %s", exc)
        return None, str(exc)


@dataclass
class _Link:
    """The outbox, its sync worker and where central is, before anyone watches them."""

    outbox: Outbox
    sync: SyncWorker
    central_url: str
    closers: list[Closer]


def _link(config: KioskConfig) -> _Link:
    """Outbox + sync worker (+ the embedded reference central service for demos)."""
    url = None
    closers: list[Closer] = []
    if config.central.embedded:
        try:
            central = start_embedded_central(config)
            url = central.url
            closers.append(central.stop)
        except CentralUnavailable:
            log.warning(
                "embedded central requested but not installed; syncing to %s", config.central.url
            )
    try:
        outbox = open_outbox(config)  # first: it makes the data directory the secrets live in
        try:
            sync = open_sync_worker(config, central_url=url)
        except BaseException:
            outbox.close()
            raise
    except BaseException:
        for closer in reversed(closers):  # the embedded gateway, if one was started
            closer()
        raise
    return _Link(outbox, sync, url or config.central.url, closers)


def _central_links(config: KioskConfig, link: _Link) -> Callable[[], CentralLink]:
    """A new link to central per look-up service; a failed look-up makes the sync worker
    check the link at once (so the menu pauses what needs central)."""
    return lambda: CentralLink(
        lambda: open_central_client(config, link.central_url),
        on_unreachable=link.sync.heartbeat_soon,
    )


def _fleet(
    config: KioskConfig, link: _Link, app: KioskApp, hub: DeviceHub | None
) -> RemoteCommands:
    """Central's fleet console: this machine's usage and its remote actions' outcomes ride
    on the heartbeats, its remote actions come back in their answers."""
    printer = None
    if hub is not None:
        hub.usage.use_outbox(link.outbox)
        if "printer" in hub.slots:
            printer = partial(_print_now, hub)
    remote = RemoteCommands(config.kiosk.id, app, printer)
    about = {"terminal": config.kiosk.terminal.value, "place": config.kiosk.place}
    attach(link.sync, remote, hub.usage.report if hub is not None else None, about)
    return remote


def _print_now(hub: DeviceHub, slip: Slip) -> None:
    """Print on the printer's own worker and wait for it (a remote test print)."""
    worker = PrinterWorker(hub)
    timeout = hub.config.timeouts.device_s + 5
    hub.slots["printer"].executor.submit(worker.print, slip, None).result(timeout)


def _watch(config: KioskConfig, link: _Link, app: KioskApp, equipment: Equipment) -> Backend:
    """The outbox and the sync worker started, watched for the application."""
    backend = Backend(
        config,
        link.outbox,
        link.sync,
        app.outbox_availability,
        app.staff_alert,
        closers=link.closers,
        central_url=link.central_url,
        on_offline=app.set_sync_offline,
        on_central_link=app.set_central_link,
        tasks=[equipment.tick] if equipment.tick is not None else [],
    )
    backend.start()
    return backend
