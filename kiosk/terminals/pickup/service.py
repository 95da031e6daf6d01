"""The pickup terminal's hand-over (``HandoverPort``): moving a finished document to the
gate, the citizen taking it (or it being captured), and the records of both - with a device
action journal, so that a crash or power cut at any point loses nothing and never hands the
same document out twice.

The order of writes (all in the outbox's SQLite file, WAL + synchronous=FULL):

1. ``journal_begin("dispense", document_no)`` is committed BEFORE the dispenser moves; the
   same commit first checks that this document has never been dispensed before. Then the
   document goes to the gate and the flow is told (``pickup.at_gate``).
2. Taken: the ``pickup.handover`` outbox entry and ``journal_complete(.., "taken")`` are one
   commit. Not taken in time: captured to the bin, then ``pickup.retained`` and
   ``journal_complete(.., "captured")`` are one commit.
3. Anything else (a device error while the document is moving, a crash, a power cut) leaves
   the physical outcome unknown: ``pickup.uncertain`` and ``journal_complete(.., "uncertain")``
   are one commit, staff are alerted, and the document stays withheld until staff have
   reconciled it (``release``). At start-up ``recover`` does this for every dispense that was
   begun but never completed.

A free EMS delivery instead (``order_delivery``) is journaled too, in one commit with its
``pickup.delivery`` entry, and withholds the document here like a dispense.

Runs on the dispenser's worker (the flows call it like a device), so the dispenser is used by
one thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from devices.base import CancelToken, DeviceError
from devices.dispenser import CardDispenser
from kiosk.config import KioskConfig
from kiosk.core.engine import Event
from kiosk.core.errors import KioskError
from kiosk.core.session import Session
from kiosk.machine.devices import DeviceHub
from kiosk.machine.ports import IDCARD_DATA
from kiosk.terminals.pickup.ports import AT_GATE, DeliveryOrdered, Document, Handover
from offline_queue.outbox import Outbox, OutboxTransaction

log = logging.getLogger(__name__)

DISPENSE = "dispense"
DELIVERY = "delivery"  # the document goes by free EMS instead: never dispensed here
RELEASE = "release"  # staff reconciled a withheld document (reloaded it or closed the case)

DispenserSource = Callable[[], CardDispenser]
Observer = Callable[[str, str], None]  # (step, document_no): lets a crash test stop anywhere
Post = Callable[[Event], None]  # to the flow, any thread
MAX_ADDRESS = 200  # characters (central's limit)


class DocumentWithheld(KioskError):
    """This document was dispensed before (or its dispense is uncertain): never again here
    until staff have reconciled it."""

    code = "pickup.withheld"


class DispenseUncertain(KioskError):
    code = "pickup.uncertain"


@dataclass
class PickupService:
    outbox: Outbox
    dispenser: DispenserSource
    kiosk_id: str
    take_timeout_s: float = 30.0
    device_timeout_s: float = 30.0
    now: Callable[[], datetime] = datetime.now
    post: Post = field(default=lambda event: None)
    observe: Observer = field(default=lambda step, document_no: None)
    cancel: CancelToken = field(default_factory=CancelToken)

    # --- the flows' operation --------------------------------------------------------------

    def hand_over(
        self,
        document: Document,
        take_timeout_s: float | None,
        identity: Mapping[str, object] | None,
        session: Session | None,
    ) -> Handover:
        """Journal, move the document to the gate (posting ``pickup.at_gate``), wait for the
        citizen to take it or capture it, and record the outcome. One operation, so the
        outcome is recorded even if the flow has stopped waiting for it.

        Raises ``DocumentWithheld`` without moving anything if this document was dispensed
        here before, ``DispenseUncertain`` when a device fault leaves the outcome unknown."""
        if not document.document_no:
            raise KioskError("no document number", code="pickup.no_document")
        card = session.get(IDCARD_DATA) if session is not None else None
        return self._hand_over(
            {
                "document_no": document.document_no,
                "kind": document.kind,
                "slot": document.slot,
                "id_number": card.id_number if card is not None else None,
                "identity": dict(identity) if identity is not None else None,
            },
            take_timeout_s,
        )

    def order_delivery(
        self,
        document: Document,
        address: str,
        identity: Mapping[str, object] | None,
        session: Session | None,
    ) -> DeliveryOrdered:
        """Free EMS delivery instead of pickup: the journal entry, its outcome and the
        ``pickup.delivery`` outbox entry are one commit, after the same check a dispense
        makes (never dispensed or ordered before), so the order is durable before the
        citizen is told and the document is withheld here from then on. Central stores
        it once per entry key, and refuses a second order for the document."""
        if not document.document_no:
            raise KioskError("no document number", code="pickup.no_document")
        address = " ".join(address.split())
        if not 4 <= len(address) <= MAX_ADDRESS or not address.isprintable():
            raise KioskError("the address cannot be used", code="pickup.bad_address")
        card = session.get(IDCARD_DATA) if session is not None else None
        number = document.document_no
        with self.outbox.transaction() as tx:
            if self._withheld(tx, number):
                raise DocumentWithheld(f"document {number} was dispensed or ordered before")
            journal_id = tx.journal_begin(DELIVERY, number)
            order_no = f"{self.kiosk_id}-E{journal_id:06d}"
            payload = {
                **self._payload(
                    {
                        "document_no": number,
                        "kind": document.kind,
                        "slot": document.slot,
                        "id_number": card.id_number if card is not None else None,
                        "identity": dict(identity) if identity is not None else None,
                    },
                    journal_id,
                ),
                "order_no": order_no,
                "address": address,
            }
            tx.put("pickup.delivery", payload, stream=_stream(number))
            tx.journal_complete(journal_id, "ordered")
        log.info("delivery ordered for a document (journal %d)", journal_id)
        return DeliveryOrdered(order_no, number)

    def _hand_over(self, document: dict[str, Any], take_timeout_s: float | None) -> Handover:
        document_no = document["document_no"]
        with self.outbox.transaction() as tx:
            if self._withheld(tx, document_no):
                raise DocumentWithheld(f"document {document_no} was dispensed before")
            journal_id = tx.journal_begin(DISPENSE, document_no)
        self.observe("journal_begun", document_no)
        dispenser = self.dispenser()
        try:
            dispenser.dispense_to_gate(timeout_s=self.device_timeout_s, cancel=self.cancel)
            self.observe("at_gate", document_no)
            self.post(Event(AT_GATE, {"document_no": document_no}))
            seconds = take_timeout_s or self.take_timeout_s
            taken = dispenser.wait_taken(timeout_s=seconds, cancel=self.cancel)
            if not taken:
                dispenser.capture_to_bin(timeout_s=self.device_timeout_s, cancel=self.cancel)
        except DeviceError as exc:
            self._uncertain(journal_id, document, f"device fault: {exc.code}")
            raise DispenseUncertain(f"handover failed: {exc.code}") from exc
        self.observe("taken" if taken else "captured", document_no)
        self._record(journal_id, document, taken)
        return Handover(document_no, taken)

    # --- records --------------------------------------------------------------------------------

    def _record(self, journal_id: int, document: Mapping[str, Any], taken: bool) -> None:
        kind, outcome = ("pickup.handover", "taken") if taken else ("pickup.retained", "captured")
        payload = self._payload(document, journal_id)
        with self.outbox.transaction() as tx:
            tx.put(kind, payload, stream=_stream(str(document["document_no"])))
            tx.journal_complete(journal_id, outcome)

    def _uncertain(self, journal_id: int, document: Mapping[str, Any], why: str) -> None:
        payload = {**self._payload(document, journal_id), "why": why}
        with self.outbox.transaction() as tx:
            tx.put("pickup.uncertain", payload, stream=_stream(str(document["document_no"])))
            tx.journal_complete(journal_id, "uncertain")
        log.error("dispense of a document ended uncertain (journal %d): %s", journal_id, why)

    def _payload(self, document: Mapping[str, Any], journal_id: int) -> dict[str, Any]:
        return {
            "document_no": document["document_no"],
            "kind": document.get("kind", ""),
            "slot": document.get("slot", ""),
            "id_number": document.get("id_number"),
            # How the holder was identified (the face check's record, or who confirmed).
            "identity": document.get("identity"),
            "kiosk_id": self.kiosk_id,
            "journal_id": journal_id,
            "at": self.now().isoformat(timespec="seconds"),
        }

    # --- withheld documents, recovery, staff ------------------------------------------------------

    @staticmethod
    def _withheld(tx: OutboxTransaction, document_no: str) -> bool:
        last = tx.journal_last(document_no, (DISPENSE, DELIVERY, RELEASE))
        return last is not None and last.action in (DISPENSE, DELIVERY)

    def withheld(self, document_no: str) -> bool:
        """True when the document must not be offered (handed over, captured, uncertain)."""
        with self.outbox.transaction() as tx:
            return self._withheld(tx, document_no)

    def withheld_documents(self) -> list[tuple[str, str | None]]:
        """Every withheld document with the outcome of its last dispense (staff view)."""
        with self.outbox.transaction() as tx:
            latest = tx.journal_latest((DISPENSE, DELIVERY, RELEASE))
        # A document ordered for delivery is withheld too: staff take it out to post it.
        return [(e.ref, e.outcome) for e in latest if e.action in (DISPENSE, DELIVERY)]

    def recover(self) -> list[str]:
        """At start-up: every dispense begun but never completed becomes ``uncertain`` (the
        document may be in the stacker, at the gate, taken or on the floor); returns their
        document numbers so staff can be alerted. Runs before the flows take citizens."""
        recovered = []
        for entry in self.outbox.unfinished():
            if entry.action != DISPENSE:
                continue
            self._uncertain(entry.id, {"document_no": entry.ref}, "interrupted (restart)")
            recovered.append(entry.ref)
        return recovered

    def release(self, document_no: str) -> None:
        """Staff reconciled a withheld document (e.g. put it back into storage)."""
        with self.outbox.transaction() as tx:
            journal_id = tx.journal_begin(RELEASE, document_no)
            tx.journal_complete(journal_id, "released")

    def loaded(self, document_no: str, slot: str) -> str:
        """Staff put a finished document into this machine's storage at ``slot``: central
        learns it through the outbox (in order with the document's handover) and from then
        on offers it here. Returns the entry's key."""
        payload = {"document_no": document_no, "slot": slot}
        return self.outbox.put("pickup.loaded", payload, stream=_stream(document_no))

    def unloaded(self, document_no: str) -> str:
        """Staff took a document out of this machine (to the counter)."""
        payload = {"document_no": document_no}
        return self.outbox.put("pickup.unloaded", payload, stream=_stream(document_no))


def pickup_service_for(
    config: KioskConfig, hub: DeviceHub, outbox: Outbox, post: Post
) -> PickupService:
    """The service on a pickup terminal, using the hub's dispenser (call on its worker)."""
    section = config.devices.dispenser
    slot = hub.slots["dispenser"]
    return PickupService(
        outbox=outbox,
        dispenser=lambda: cast(CardDispenser, slot.device),
        kiosk_id=config.kiosk.id,
        take_timeout_s=section.take_timeout_s if section is not None else 30.0,
        device_timeout_s=config.timeouts.device_s,
        post=post,
    )


def _stream(document_no: str) -> str:
    return f"pickup:{document_no}"
