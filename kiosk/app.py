"""The application core assembled: configuration, terminal flow, runner, services.

Qt-free. The UI (or a test) supplies the clock, the scheduler and the dispatcher, renders
``ViewState`` and calls ``intent`` for everything the citizen does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kiosk.config import KioskConfig
from kiosk.core.clock import Clock, Scheduler, TimerHandle
from kiosk.core.engine import Alert, Event, Flow
from kiosk.core.runner import DirectDispatcher, Dispatcher, FlowRunner, Service, ViewState
from kiosk.machine.alerts import StaffAlerts
from kiosk.machine.devicemap import required_kinds
from kiosk.machine.devices import DeviceHub
from kiosk.terminals import services as _services  # noqa: F401  (registers the service flows)
from kiosk.terminals.home.flow import (
    ATTRACT,
    AVAILABLE,
    CENTRAL_DOWN,
    MENU,
    OUT_OF_SERVICE,
    PREFERENCES_EXPIRED,
    UNAVAILABLE,
    build_terminal_flow,
)
from kiosk.terminals.staff.flow import STAFF, STAFF_CHECKING, STAFF_LOCKED, STAFF_PIN
from kiosk.terminals.staff.service import StaffGate, StaffService
from offline_queue.outbox import Outbox
from offline_queue.sync import SyncWorker, queue_status

log = logging.getLogger(__name__)

# Where no citizen is being served: the attract loop, out of service, staff mode.
_BETWEEN_CITIZENS = frozenset(
    (ATTRACT, OUT_OF_SERVICE, STAFF_PIN, STAFF_CHECKING, STAFF, STAFF_LOCKED)
)


class KioskApp:
    """One kiosk: its flow and everything the flow talks to.

    Thread: constructed and driven on the flow (GUI) thread; ``post`` may be called from any.
    """

    def __init__(
        self,
        config: KioskConfig,
        clock: Clock,
        scheduler: Scheduler,
        dispatcher: Dispatcher | None = None,
        *,
        strict: bool = False,
    ) -> None:
        self.config = config
        self.clock = clock
        definition = build_terminal_flow(config)
        context: dict[str, Any] = {
            "kiosk_id": config.kiosk.id,
            "terminal": config.kiosk.terminal.value,
        }
        self.flow = Flow(definition, context, strict=strict)
        self.runner = FlowRunner(
            self.flow,
            clock,
            scheduler,
            dispatcher or DirectDispatcher(),
            language=config.kiosk.languages[0].value,
        )
        self._unavailable: dict[str, dict[str, Any]] = {}
        self._oos_sources: tuple[str, ...] = ()  # immutable copy other threads may read
        self.devices: DeviceHub | None = None
        self.outbox: Outbox | None = None
        self._live_hooks: list[tuple[tuple[str, ...], Callable[[bool, str], None]]] = []
        # Staff alerts until a heartbeat has delivered them to central (kept in the outbox).
        self.alerts = StaffAlerts()
        self._sync_offline = False
        self._sync: SyncWorker | None = None
        # Staff mode's shutdown button: the UI closes the application (None: not offered).
        self.on_shutdown: Callable[[], None] | None = None
        self.staff: StaffService | None = None
        self._staff_gate: StaffGate | None = None
        self._preferences_timer: TimerHandle | None = None
        # A pickup machine's documents that staff must reconcile (captured to the bin, or a
        # hand-over whose outcome is unknown); set by the composition root, any thread.
        self.documents_to_reconcile: Callable[[], int] | None = None
        self.runner.on_alert(self._remember_alert)
        if config.staff.enabled:
            self._attach_staff()

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
        state = self.flow.state
        self.runner.alert(Alert("citizen.help", f"help requested at {state}"))
        self.runner.notify("app.staff_called", self.config.timeouts.message_s)

    def post(self, event: Event) -> None:
        """Thread-safe entry for events from workers (device events, sync status)."""
        self.runner.post(event)

    def _after_view(self, view: ViewState) -> None:
        if view.state != ATTRACT:
            self._cancel_preferences_timer()  # someone started: the choice is theirs now
        for states, set_live in self._live_hooks:
            set_live(view.state in states, view.language)
        # A fault that arrived while a citizen was being told an outcome applies now.
        if view.state == ATTRACT and self._unavailable:
            first = next(iter(self._unavailable.values()))
            self.runner.handle(Event(UNAVAILABLE, first))

    # --- availability (required devices, outbox) ---------------------------------------------

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

    # --- backend and services ----------------------------------------------------------------

    def outbox_availability(self, accepting: bool, reason: str) -> None:
        """Any thread: the outbox stopped (or resumed) accepting transactions."""

        def apply() -> None:
            if accepting:
                self.set_available("outbox")
            else:
                self.runner.alert(Alert("outbox.full", reason))
                self.set_unavailable("outbox", "oos.queue")

        self.runner.dispatcher.post(apply)

    def use_outbox(self, outbox: Outbox) -> None:
        """The outbox the flows write to; staff alerts are kept in it across restarts."""
        self.outbox = outbox
        self.alerts.use_outbox(outbox)
        if self._staff_gate is not None:
            self._staff_gate.keep_in(outbox)  # wrong PINs count across restarts

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
            if bool(self.flow.context.get(CENTRAL_DOWN)) == down:
                return
            log.warning("central %s", "answering again" if up else "not answering")
            self.flow.context[CENTRAL_DOWN] = down
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

    def connect_sync(self, sync: SyncWorker) -> None:
        """Let the sync worker's heartbeats carry the staff alerts, confirm their delivery,
        and go out as soon as an alert is raised."""
        self._sync = sync
        sync.heartbeat_extra = self.heartbeat
        sync.heartbeat_delivered = self.heartbeat_delivered
        self.alerts.on_added = sync.heartbeat_soon

    # --- staff mode -----------------------------------------------------------------------

    def _attach_staff(self) -> None:
        s = self.config.staff
        gate = StaffGate(s.credentials, self.clock, s.max_attempts, s.lockout_s)
        self._staff_gate = gate
        actions = {
            "sync": self._staff_sync,
            "redrive": self._staff_redrive,
            "out_of_service": lambda: self.runner.dispatcher.post(
                lambda: self.set_unavailable("staff", "oos.staff")
            ),
            "in_service": lambda: self.runner.dispatcher.post(lambda: self.set_available("staff")),
            "shutdown": self._staff_shutdown,
        }
        self.staff = StaffService(gate, self.staff_status, actions, self.staff_alert)
        self.runner.add_service("staff", self.staff)

    def _staff_sync(self) -> None:
        if self._sync is not None:
            self._sync.heartbeat_soon()
            self._sync.wake()

    def _staff_redrive(self) -> None:
        """Failed transactions go again: after central was fixed, staff need no laptop.
        Giving one up for good stays a keyboard job (``kiosk queue discard KEY``)."""
        if self.outbox is not None:
            log.info("staff sent %d failed transactions again", self.outbox.redrive_dead())
        self._staff_sync()

    def _staff_shutdown(self) -> None:
        hook = self.on_shutdown
        if hook is not None:
            self.runner.dispatcher.post(hook)

    def staff_status(self) -> dict[str, Any]:
        """Any thread: the machine's condition for the staff screen (no personal data)."""
        sources = self._oos_sources
        status: dict[str, Any] = {
            "central_up": not self.flow.context.get(CENTRAL_DOWN),
            "central_down_since": "-",
            "pending": 0,
            "dead": 0,
            "oldest": "-",
            "open_actions": 0,
            "alerts": len(self.alerts.pending()[0]),
            "paused_by_staff": "staff" in sources,
            "out_of_service": [s for s in sources if s != "staff"],
            "devices": {
                kind: "ok" if d["usable"] else str(d["detail"] or "fault")
                for kind, d in (self.devices.snapshot() if self.devices else {}).items()
            },
        }
        if self.outbox is not None:
            status.update(self._outbox_status(self.outbox))
        if self.documents_to_reconcile is not None:
            status["to_reconcile"] = self.documents_to_reconcile()
        return status

    def _outbox_status(self, outbox: Outbox) -> dict[str, Any]:
        q = queue_status(outbox, self.clock, self.config.queue.offline_warn_h * 3600.0)
        age, since = q.oldest_pending_age_s, q.central_unreachable_since
        return {
            "pending": q.pending,
            "dead": q.dead,
            "oldest": "-" if age is None else f"{max(0.0, age) / 60:.0f} min",
            "open_actions": len(outbox.unfinished()),
            "central_down_since": since.astimezone().strftime("%H:%M") if since else "-",
        }

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

    def staff_alert(self, code: str, message: str) -> None:
        """Any thread: something staff must know about."""
        self.runner.dispatcher.post(lambda: self.runner.alert(Alert(code, message)))

    def attach_service(
        self,
        name: str,
        service: Service,
        live_states: tuple[str, ...] = (),
        set_live: Callable[[bool, str], None] | None = None,
    ) -> None:
        """Offer a service to the flows; ``set_live`` is told when a live state is shown."""
        self.runner.add_service(name, service)
        if set_live is not None:
            self._live_hooks.append((live_states, set_live))

    # --- devices -----------------------------------------------------------------------------

    def attach_devices(self, hub: DeviceHub) -> None:
        """Offer every configured device to the flows, on the device's own worker."""
        self.devices = hub
        for kind, slot in hub.slots.items():
            self.runner.add_service(kind, hub.service(kind), slot.executor)
        for kind in required_kinds(self.config.kiosk.terminal):
            section = getattr(self.config.devices, kind)
            if section is None:  # a required device that is not even configured
                self.set_unavailable(
                    f"device.{kind}", "oos.device", device=kind, detail="not configured / 未配置"
                )

    def device_event(self, name: str, data: dict[str, Any]) -> None:
        """Any thread: an unsolicited device event (card placed, document taken...)."""
        if name == "device.warning":
            self.runner.dispatcher.post(
                lambda: self.runner.alert(
                    Alert(f"{data['device']}.{data['warning']}", "device needs attention")
                )
            )
            return
        self.post(Event(name, data))

    def device_availability(self, kind: str, usable: bool, detail: str) -> None:
        """Any thread: a device became usable or unusable."""
        self.runner.dispatcher.post(lambda: self._availability(kind, usable, detail))

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
