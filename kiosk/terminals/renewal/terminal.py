"""The renewal terminal: endorsements renewed and paid for at the machine, and looked up."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, cast

from devices.chip import ChipReader
from devices.rewriter import CardRewriter
from kiosk.config import TerminalType
from kiosk.core.errors import KioskError
from kiosk.terminals.identity.equip import CameraPictures, identity_service
from kiosk.terminals.renewal import demo, flow
from kiosk.terminals.renewal.card import CardIssuance
from kiosk.terminals.renewal.lookup import RenewalLookup
from kiosk.terminals.renewal.ports import CARD, CARD_CANCEL, LOOKUP, PAYMENT
from kiosk.terminals.renewal.service import RenewalService, Settler
from kiosk.terminals.terminal import Binding, Equipment, Parts, Terminal

log = logging.getLogger(__name__)


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
    card = card_service(parts)
    if card is not None:
        issuance, executor = card
        equipment.bindings.append(Binding(CARD, issuance, executor, close=issuance.close))
        equipment.bindings.append(Binding(CARD_CANCEL, issuance))
    face = identity_service(parts)
    if face is not None:
        equipment.bindings.append(face[0])
        equipment.watch, equipment.pictures = face[1].watch, CameraPictures(parts)
    return equipment


def card_service(parts: Parts) -> tuple[CardIssuance, Executor] | None:
    """The permit in the card module, on the module's worker, when the machine has one (and
    a chip reader). Issuances a crash or a power cut interrupted are resumed or refunded on
    that worker now, before it serves any citizen."""
    hub, outbox, config = parts.devices, parts.outbox, parts.config
    section = config.devices.rewriter
    if hub is None or outbox is None or parts.central is None or section is None:
        return None
    if "rewriter" not in hub.slots or "chip" not in hub.slots:
        return None
    device_s = config.timeouts.device_s

    def chip(work: Callable[[ChipReader], Any]) -> Any:
        return hub.run(
            "chip", lambda device: work(cast(ChipReader, device)), timeout_s=device_s * 4
        )

    slot = hub.slots["rewriter"]
    service = CardIssuance(
        outbox,
        parts.central(),
        lambda: cast(CardRewriter, slot.device),
        chip,
        kiosk_id=config.kiosk.id,
        place=config.kiosk.place,
        insert_s=config.payment.card_insert_s,
        take_s=section.take_timeout_s,
        device_s=device_s,
        post=parts.post,
        alert=parts.alert,
    )

    def recover(tries_left: int = 60) -> None:
        try:
            for line in service.recover():
                log.warning("card issuance after a restart: %s", line)
        except KioskError as exc:
            if exc.code.endswith(".unavailable") and tries_left > 0:
                # Submitted while the hub was being built: the module opens on this same
                # worker, soon. Go again in a second (never sleeping on the worker, which
                # would hold the open up), for up to a minute.
                later = threading.Timer(1.0, slot.executor.submit, (recover, tries_left - 1))
                later.daemon = True
                later.start()
                return
            log.exception("card issuance recovery failed")
            parts.alert("renewal.recovery_failed", f"card issuance not recovered: {exc.code}")
        except Exception:  # a module that does not answer: the first citizen's call says so
            log.exception("card issuance recovery failed")

    slot.executor.submit(recover)
    return service, slot.executor


TERMINAL = Terminal(
    TerminalType.RENEWAL,
    flow.services,
    required_devices=frozenset({"idcard", "chip", "printer", "camera"}),
    equip=equip,
    demo=demo.renewal_script,
    slides=("renewal",),
    screens=("face_check",),
)
