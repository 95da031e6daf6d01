"""The renewal terminal: endorsements renewed and paid for at the machine, and looked up."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from kiosk.config import TerminalType
from kiosk.terminals.identity.equip import CameraPictures, identity_service
from kiosk.terminals.renewal import demo, flow
from kiosk.terminals.renewal.lookup import RenewalLookup
from kiosk.terminals.renewal.ports import LOOKUP, PAYMENT
from kiosk.terminals.renewal.service import RenewalService, Settler
from kiosk.terminals.terminal import Binding, Equipment, Parts, Terminal


def equip(parts: Parts) -> Equipment:
    """Look-ups on one worker; fee and issue on another, which also settles orders left open
    by a crash or a silent central (all of them now, before anything else it does)."""
    if parts.central is None or parts.outbox is None:
        return Equipment()
    config = parts.config
    lookup = RenewalLookup(parts.central())
    service = RenewalService(
        parts.outbox, parts.central(), kiosk_id=config.kiosk.id, settle_s=config.payment.settle_s
    )
    worker = ThreadPoolExecutor(1, thread_name_prefix="svc-renewal")
    settler = Settler(service, worker.submit, parts.alert)
    settler.start()
    equipment = Equipment(
        [
            Binding(LOOKUP, lookup, close=lookup.close),
            Binding(PAYMENT, service, worker, close=service.close),
        ],
        tick=settler.tick,
        closers=[lambda: worker.shutdown(wait=True, cancel_futures=True)],
    )
    face = identity_service(parts)
    if face is not None:
        equipment.bindings.append(face[0])
        equipment.watch, equipment.pictures = face[1].watch, CameraPictures(parts)
    return equipment


TERMINAL = Terminal(
    TerminalType.RENEWAL,
    flow.services,
    required_devices=frozenset({"idcard", "chip", "printer", "camera"}),
    equip=equip,
    demo=demo.renewal_script,
    slides=("renewal",),
    screens=("face_check",),
)
