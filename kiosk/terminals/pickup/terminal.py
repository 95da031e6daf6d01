"""The pickup terminal: finished documents handed out from the machine's storage."""

from __future__ import annotations

from kiosk.config import TerminalType
from kiosk.terminals.identity.equip import CameraPictures, identity_service
from kiosk.terminals.pickup import demo, flow
from kiosk.terminals.pickup.lookup import PickupLookup
from kiosk.terminals.pickup.ports import HANDOVER, LOOKUP
from kiosk.terminals.pickup.service import pickup_service_for
from kiosk.terminals.terminal import Binding, Equipment, Parts, Terminal


def equip(parts: Parts) -> Equipment:
    """Central look-ups and the journaled hand-over. A dispense interrupted by a crash or a
    power cut is resolved here, before any citizen is served: staff are alerted and that
    document is withheld until they reconcile it."""
    equipment = Equipment()
    hub, outbox = parts.devices, parts.outbox
    withheld = None
    if hub is not None and outbox is not None and "dispenser" in hub.slots:
        pickup = pickup_service_for(parts.config, hub, outbox, parts.post)
        pickup.observe = hub.usage.pickup_step  # documents dispensed and captured, for central
        for _ in pickup.recover():
            # No document number in an alert (it is kept in clear): staff list them with
            # `kiosk pickup withheld`.
            parts.alert(
                "pickup.uncertain",
                "a dispense was interrupted; the document is withheld (kiosk pickup withheld)",
            )
        equipment.bindings.append(Binding(HANDOVER, pickup, hub.slots["dispenser"].executor))
        withheld = pickup.withheld
        equipment.to_reconcile = lambda: sum(
            1 for _, outcome in pickup.withheld_documents() if outcome != "taken"
        )
    if parts.central is not None:
        lookup = PickupLookup(parts.central(), withheld)
        equipment.bindings.append(Binding(LOOKUP, lookup, close=lookup.close))
    face = identity_service(parts)
    if face is not None:
        equipment.bindings.append(face[0])
        equipment.watch, equipment.pictures = face[1].watch, CameraPictures(parts)
    return equipment


TERMINAL = Terminal(
    TerminalType.PICKUP,
    flow.services,
    required_devices=frozenset({"idcard", "printer", "dispenser", "camera"}),
    equip=equip,
    demo=demo.pickup_script,
    slides=("pickup",),
    screens=("face_check",),
)
