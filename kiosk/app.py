"""The application: one kiosk's flow and everything the flow talks to, built complete by
``kiosk.wiring``.

Qt-free. The UI (or a test) supplies the clock, the scheduler and the dispatcher, renders
``ViewState`` and calls ``intent`` for everything the citizen does. Other threads reach the
kiosk only through its thread-safe methods, which bring their work onto the flow thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kiosk.config import KioskConfig
from kiosk.core.clock import TimerHandle
from kiosk.core.engine import Alert, Event
from kiosk.core.pins import StaffKey
from kiosk.core.runner import FlowRunner, ViewState
from kiosk.machine.alerts import StaffAlerts
from kiosk.machine.devices import DEVICE_STATE, DEVICE_WARNING, DeviceHub
from kiosk.terminals.home.flow import (
    ATTRACT,
    AVAILABLE,
    MENU,
    OUT_OF_SERVICE,
    PREFERENCES_EXPIRED,
    UNAVAILABLE,
    TerminalContext,
)
from kiosk.terminals.staff.flow import STAFF_CHECKING, STAFF_LOCKED, STAFF_PIN, STAFF_SCREEN
from kiosk.terminals.staff.ports import STAFF, MachineStatus
from kiosk.terminals.staff.service import StaffGate, StaffService, staff_gate
from kiosk.terminals.terminal import Equipment
from offline_queue.outbox import Outbox
from offline_queue.sync import SyncWorker, queue_status

log = logging.getLogger(__name__)

# Causes of out of service that only staff clear ("Back in service"): their own pause, and a
# crash loop the kiosk found at start (kiosk.supervision).
STAFF_PAUSE = "staff"
CRASH_LOOP = "crash_loop"
HELD_FOR_STAFF = (STAFF_PAUSE, CRASH_LOOP)

# Where no citizen is being served: the attract loop, out of service, staff mode.
_BETWEEN_CITIZENS = frozenset(
    (ATTRACT, OUT_OF_SERVICE, STAFF_PIN, STAFF_CHECKING, STAFF_SCREEN, STAFF_LOCKED)
)


@dataclass
class Machine:
    """The parts of this machine the application watches and reports on."""

    devices: DeviceHub | None = None
    outbox: Outbox | None = None
    sync: SyncWorker | None = None
    equipment: Equipment = field(default_factory=Equipment)
    required_devices: frozenset[str] = frozenset()
    # Staff alerts until a heartbeat has delivered them to central (kept in the outbox).
    alerts: StaffAlerts = field(default_factory=StaffAlerts)
    # Staff mode's shutdown button: the UI closes the application (None: not offered).
    shutdown: Callable[[], None] | None = None
    # The machine's staff key, which the staff PIN hashes are keyed with (None: staff mode
    # checks no PIN, and ``staff_key_problem`` says why, in a staff alert).
    staff_key: StaffKey | None = None
    staff_key_problem: str = ""


class KioskApp:
    """One kiosk. Thread: constructed and driven on the flow (GUI) thread; the methods that
    say "any thread" may be called from any."""

    def __init__(
        self, config: KioskConfig, runner: FlowRunner[TerminalContext], machine: Machine
    ) -> None:
        self.config = config
        self.runner = runner
        self.flow = runner.flow
        self.clock = runner.clock
        self.machine = machine
        self.devices = machine.devices
        self.outbox = machine.outbox
        self._unavailable: dict[str, dict[str, Any]] = {}
        self._oos_sources: tuple[str, ...] = ()  # immutable copy other threads may read
        self._sync_offline = False
        self._preferences_timer: TimerHandle | None = None
        self.alerts = machine.alerts
        # Called on the flow thread when staff put the machine back in service.
        self.resumed: list[Callable[[], None]] = []
        runner.filter_events(self._machine_event)
        runner.on_alert(self._remember_alert)
        self._attach_services()
        self._keep_in_outbox()
        self._connect_sync()
        if machine.equipment.watch is not None:
            runner.on_view(machine.equipment.watch)
        self._missing_devices()

    def _attach_services(self) -> None:
        hub = self.machine.devices
        for port, worker, executor in hub.ports() if hub is not None else ():
            self.runner.attach(port, worker, executor)
        for binding in self.machine.equipment.bindings:
            self.runner.attach(binding.port, binding.service, binding.executor)
        s = self.config.staff
        self._staff_gate: StaffGate | None = None
        self.staff: StaffService | None = None  # staff mode, when configured
        if s.enabled:
            m = self.machine
            self._staff_gate = staff_gate(self.config, self.clock, m.staff_key, m.staff_key_problem)
            self.staff = StaffService(self._staff_gate, self)
            self.runner.attach(STAFF, self.staff)

    def _keep_in_outbox(self) -> None:
        """Staff alerts and wrong staff PINs are kept in the outbox across restarts. What
        keeps staff mode shut (no staff key, a sign-in record that could not be read) is a
        staff alert from the start: staff should not find out at the pad."""
        outbox = self.machine.outbox
        gate = self._staff_gate
        unreadable = None
        if outbox is not None:
            self.alerts.use_outbox(outbox)
            if gate is not None:
                unreadable = gate.keep_in(outbox)
        if gate is not None and gate.unavailable:
            self.runner.alert(Alert("staff.key", f"staff sign-in unavailable: {gate.unavailable}"))
        if unreadable is not None:
            self.runner.alert(Alert("staff.gate_record", unreadable))

    def _connect_sync(self) -> None:
        """Heartbeats carry the staff alerts, confirm their delivery, and go out as soon as
        an alert is raised."""
        sync = self.machine.sync
        if sync is None:
            return
        sync.heartbeat_extra = self.heartbeat
        sync.heartbeat_delivered = self.heartbeat_delivered
        self.alerts.on_added = sync.heartbeat_soon

    def _missing_devices(self) -> None:
        if self.machine.devices is None:  # run without devices (the self-test)
            return
        for kind in sorted(self.machine.required_devices):
            if getattr(self.config.devices, kind) is None:  # required and not even configured
                self.set_unavailable(
                    f"device.{kind}", "oos.device", device=kind, detail="not configured / 未配置"
                )

    @property
    def view(self) -> ViewState | None:
        return self.runner.view

    def on_view(self, listener: Callable[[ViewState], None]) -> None:
        self.runner.on_view(listener)

    def start(self) -> None:
        self.runner.on_view(self._after_view)
        self.runner.start()
        if self._unavailable:  # found before the flow ran (e.g. a required device missing)
            self.runner.handle(Event(UNAVAILABLE, next(iter(self._unavailable.values()))))

    def stop(self) -> None:
        self._cancel_preferences_timer()
        self.runner.shutdown()
        self.alerts.close()

    def intent(self, name: str, **data: Any) -> None:
        """A citizen's action on the screen. Every intent also counts as activity."""
        self.runner.handle(Event("touch"))
        if name == "call_staff":
            self.call_staff()
            return
        if name in ("language", "large_text") and self.flow.state == ATTRACT:
            self._expire_preferences()
        if name != "touch":
            self.runner.handle(Event(name, data))

    def _expire_preferences(self) -> None:
        """A choice made on the attract loop lasts until the citizen starts, or for the idle
        time if nobody does."""
        self._cancel_preferences_timer()
        self._preferences_timer = self.runner.scheduler.call_later(
            self.config.timeouts.idle_s,
            lambda: self.runner.handle(Event(PREFERENCES_EXPIRED)),
        )

    def _cancel_preferences_timer(self) -> None:
        if self._preferences_timer is not None:
            self._preferences_timer.cancel()
            self._preferences_timer = None

    def call_staff(self) -> None:
        """The citizen asked for help: alert staff and tell the citizen help is coming."""
        self.runner.alert(Alert("citizen.help", f"help requested at {self.flow.state}"))
        self.runner.notify("app.staff_called", self.config.timeouts.message_s)

    def post(self, event: Event) -> None:
        """Any thread: an event for the flow (device events, service events)."""
        self.runner.post(event)

    def _after_view(self, view: ViewState) -> None:
        if view.state != ATTRACT:
            self._cancel_preferences_timer()  # someone started: the choice is theirs now
        # A fault that arrived while a citizen was being told an outcome applies now.
        if view.state == ATTRACT and self._unavailable:
            first = next(iter(self._unavailable.values()))
            self.runner.handle(Event(UNAVAILABLE, first))

    # --- events of the machine (flow thread) ----------------------------------------------------

    def _machine_event(self, event: Event) -> bool:
        """Device states and warnings are the application's to act on, not the flow's."""
        if event.name == DEVICE_STATE:
            data = event.data
            self._availability(str(data["kind"]), bool(data["usable"]), str(data["detail"]))
            return True
        if event.name == DEVICE_WARNING:
            code = f"{event.data['device']}.{event.data['warning']}"
            self.runner.alert(Alert(code, "device needs attention"))
            return True
        return False

    def _availability(self, kind: str, usable: bool, detail: str) -> None:
        slot = self.devices.slots.get(kind) if self.devices else None
        if slot is None:
            return
        if not slot.required:
            if not usable:
                self.runner.alert(Alert(f"{kind}.fault", detail))
            return
        if usable:
            self.set_available(f"device.{kind}")
        else:
            self.runner.alert(Alert(f"{kind}.fault", detail))
            self.set_unavailable(f"device.{kind}", "oos.device", device=kind, detail=detail)

    # --- availability (required devices, outbox, staff) ---------------------------------------

    def set_unavailable(self, source: str, reason_key: str, **values: Any) -> None:
        """A required part failed: out of service until every such part is back."""
        self._unavailable[source] = {"reason_key": reason_key, "values": values, "source": source}
        self._oos_sources = tuple(self._unavailable)
        if self.runner.view is not None:  # before start, start() applies it
            self.runner.handle(Event(UNAVAILABLE, self._unavailable[source]))

    def set_available(self, source: str) -> None:
        if self._unavailable.pop(source, None) is None:
            return
        self._oos_sources = tuple(self._unavailable)
        if self.runner.view is None:
            return
        if self._unavailable:
            first = next(iter(self._unavailable.values()))
            self.runner.handle(Event(UNAVAILABLE, first))
        else:
            self.runner.handle(Event(AVAILABLE))

    @property
    def unavailable(self) -> dict[str, dict[str, Any]]:
        return dict(self._unavailable)

    def outbox_availability(
        self, accepting: bool, reason: str, reason_key: str = "oos.queue"
    ) -> None:
        """Any thread: the outbox stopped (or resumed) accepting transactions; ``reason_key``
        is what the out-of-service screen says (full, or failed in use)."""

        def apply() -> None:
            if accepting:
                self.set_available("outbox")
            else:
                if reason_key == "oos.queue":  # a failure in use alerts on its own code
                    self.runner.alert(Alert("outbox.full", reason))
                self.set_unavailable("outbox", reason_key)

        self.runner.dispatcher.post(apply)

    def _remember_alert(self, alert: Alert) -> None:
        self.alerts.add(alert.code, alert.message, self.clock.now())

    def set_sync_offline(self, offline: bool) -> None:
        """Any thread: no contact with central for longer than the offline window."""
        self._sync_offline = offline

    def set_central_link(self, up: bool) -> None:
        """Any thread: central answers again (True) or is known not to (False). Services that
        need central are paused on the menu meanwhile, instead of failing after the ID card."""

        def apply() -> None:
            down = not up
            if self.flow.context.central_down == down:
                return
            log.warning("central %s", "answering again" if up else "not answering")
            self.flow.context.central_down = down
            if self.flow.state == MENU and self.runner.view is not None:
                self.runner.refresh()

        self.runner.dispatcher.post(apply)

    def header_status(self) -> tuple[str, dict[str, Any]] | None:
        """Any thread: a standing condition for the header (i18n key, values), or None.
        Staff walking past see it; the alert for it waits for the network. Only between
        citizens: one in the middle of a service cannot act on it, and it would worry them."""
        if self._sync_offline and self.flow.state in _BETWEEN_CITIZENS:
            return "app.offline_long", {"hours": f"{self.config.queue.offline_warn_h:g}"}
        return None

    def staff_alert(self, code: str, message: str) -> None:
        """Any thread: something staff must know about."""
        self.runner.dispatcher.post(lambda: self.runner.alert(Alert(code, message)))

    # --- the machine as staff mode sees it (MachinePort, any thread) ----------------------------

    def alert(self, code: str, message: str) -> None:
        self.staff_alert(code, message)

    def sync(self) -> None:
        sync = self.machine.sync
        if sync is not None:
            sync.heartbeat_soon()
            sync.wake()

    def redrive(self) -> int:
        """Failed transactions go again: after central was fixed, staff need no laptop.
        Giving one up for good stays a keyboard job (``kiosk queue discard KEY``)."""
        count = self.outbox.redrive_dead() if self.outbox is not None else 0
        self.sync()
        return count

    def pause(self) -> None:
        self.runner.dispatcher.post(lambda: self.set_unavailable(STAFF_PAUSE, "oos.staff"))

    def resume(self) -> None:
        def apply() -> None:
            for source in HELD_FOR_STAFF:
                self.set_available(source)
            for listener in self.resumed:
                listener()

        self.runner.dispatcher.post(apply)

    def shutdown(self) -> None:
        hook = self.machine.shutdown
        if hook is not None:
            self.runner.dispatcher.post(hook)

    def status(self) -> MachineStatus:
        """The machine's condition for the staff screen (no personal data)."""
        sources = self._oos_sources
        devices = {
            kind: "ok" if d["usable"] else str(d["detail"] or "fault")
            for kind, d in (self.devices.snapshot() if self.devices else {}).items()
        }
        figures: dict[str, Any] = {}
        if self.outbox is not None:
            figures = self._outbox_figures(self.outbox)
        reconcile = self.machine.equipment.to_reconcile
        return MachineStatus(
            central_up=not self.flow.context.central_down,
            alerts=len(self.alerts.pending()[0]),
            # A crash loop waits for staff like their own pause: the same button ends it.
            paused_by_staff=any(s in sources for s in HELD_FOR_STAFF),
            out_of_service=tuple(s for s in sources if s != STAFF_PAUSE),
            devices=devices,
            to_reconcile=reconcile() if reconcile is not None else None,
            **figures,
        )

    def _outbox_figures(self, outbox: Outbox) -> dict[str, Any]:
        q = queue_status(outbox, self.clock, self.config.queue.offline_warn_h * 3600.0)
        age, since = q.oldest_pending_age_s, q.central_unreachable_since
        return {
            "pending": q.pending,
            "dead": q.dead,
            "oldest": "-" if age is None else f"{max(0.0, age) / 60:.0f}",  # minutes
            "open_actions": len(outbox.unfinished()),
            "central_down_since": since.astimezone().strftime("%H:%M") if since else "-",
        }

    # --- heartbeats (the sync worker's thread) -------------------------------------------------

    def heartbeat(self) -> dict[str, Any]:
        """Any thread: what central's monitoring gets besides queue counts. Alerts stay
        listed until ``heartbeat_delivered`` confirms them (offline, they wait here)."""
        devices = self.devices.snapshot() if self.devices else {}
        alerts, dropped = self.alerts.pending()
        return {
            "devices": devices,
            "alerts": alerts,
            "alerts_dropped": dropped,
            "out_of_service": sorted(self._unavailable),
        }

    def heartbeat_delivered(self, sent: dict[str, Any]) -> None:
        """Any thread: central stored this heartbeat; forget the alerts it carried."""
        self.alerts.delivered(list(sent.get("alerts", ())), int(sent.get("alerts_dropped", 0)))
