"""What the pickup flow asks of central (documents ready for this person) and of the
hand-over service (the journaled dispense), and what it gets back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from kiosk.core.calls import PortKey
from kiosk.core.session import Session
from offline_queue.central_client import DocumentsElsewhere

AT_GATE = "pickup.at_gate"  # posted when the document is at the gate: "take it now"


@dataclass(frozen=True)
class Document:
    document_no: str
    kind: str  # hk_macau_permit | taiwan_permit | passport | ...
    slot: str  # where it is stored in this machine


@dataclass(frozen=True)
class DocumentsFound:
    known: bool  # central holds records for this person
    documents: tuple[Document, ...] = ()  # ready here and offered
    withheld: int = 0  # ready here but held back until staff reconcile them
    elsewhere: tuple[DocumentsElsewhere, ...] = ()  # other machines (by id), the counter
    # The postal address on record, for free EMS delivery instead of pickup ("": none). Shown
    # to its owner only, kept in the flow's record of this citizen, never logged.
    address: str = field(default="", repr=False)


@dataclass(frozen=True)
class DeliveryOrdered:
    """A free EMS delivery order, durable in the outbox (central learns it from there)."""

    order_no: str
    document_no: str


@dataclass(frozen=True)
class Handover:
    document_no: str
    taken: bool  # else captured to the bin


class PickupLookupPort(Protocol):
    def documents_ready(self, session: Session | None) -> DocumentsFound: ...


class HandoverPort(Protocol):
    def hand_over(
        self,
        document: Document,
        take_timeout_s: float | None,
        identity: Mapping[str, object] | None,
        session: Session | None,
    ) -> Handover:
        """Journal, move the document to the gate (posting ``AT_GATE``), wait for the
        citizen to take it or capture it, and record the outcome (with ``identity``: how the
        holder was identified at the machine)."""
        ...

    def order_delivery(
        self,
        document: Document,
        address: str,
        identity: Mapping[str, object] | None,
        session: Session | None,
    ) -> DeliveryOrdered:
        """Record (journaled, in one outbox commit) that ``document`` goes to ``address`` by
        free EMS instead of being handed out here: from then on it is withheld here."""
        ...


LOOKUP: PortKey[PickupLookupPort] = PortKey("central")
HANDOVER: PortKey[HandoverPort] = PortKey("pickup")
