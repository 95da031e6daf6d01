"""What the renewal flows ask of central (eligibility, permit status) and of the payment
service (order, pay, cancel, issue), and what they get back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from devices.icao.mrz import MrzAccess
from kiosk.core.calls import PortKey
from kiosk.core.session import Session, Slot
from offline_queue.central_client import CurrentEndorsement, EndorsementOption

# The access data of the permit on record, put into the session by the eligibility look-up
# so that the chip can be opened without the flow ever holding it.
PERMIT_ACCESS: Slot[MrzAccess] = Slot("permit_access")


@dataclass(frozen=True)
class Verdict:
    """Whether this person may renew here, and what they may choose."""

    known: bool  # central holds records for this person
    eligible: bool = False
    permit_on_record: bool = False
    reasons: tuple[str, ...] = ()  # refusal reasons (RefusalReason values)
    options: tuple[EndorsementOption, ...] = ()
    regions: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PermitStanding:
    """The permit's validity and its current endorsement (the 'query' service)."""

    known: bool
    permit_expiry: str = ""
    permit_days_left: int = 0
    endorsement: CurrentEndorsement | None = None


@dataclass(frozen=True)
class Choice:
    region: str  # HK | MO
    purpose: str  # individual | group | family_visit | business
    option: str  # one_trip | two_trips | multi_1y ...


@dataclass(frozen=True)
class OrderShown:
    """A payment order journaled and ready to be paid: what the QR screen shows."""

    order_id: str
    amount_cny: int
    pay_url: str
    expires_in_s: int


@dataclass(frozen=True)
class PaymentState:
    status: str  # unpaid | paid | cancelled | expired | refunded
    expires_in_s: int


@dataclass(frozen=True)
class Issued:
    """The endorsement central issued against the paid order (and the outbox recorded)."""

    order_id: str
    endorsement_no: str
    option: str
    region: str
    purpose: str
    fee_cny: int
    valid_from: str
    valid_until: str
    issued_at: str


# The card issuance's progress, posted by the service while its one call runs (data: step:
# insert | reversed | held | authorising | writing | verifying | printing | take).
CARD_STEP = "endorse.card.step"


@dataclass(frozen=True)
class CardIssued:
    """The endorsement written onto the permit's chip and read back; ``printed``: on the
    card's back too; ``returned``: the card was taken, or captured when nobody took it."""

    issued: Issued
    printed: bool
    returned: str  # taken | captured


@dataclass(frozen=True)
class Reprinted:
    """The back printed again from the chip's record, which central confirmed."""

    endorsement_no: str
    valid_until: str
    current: bool  # still valid today
    printed: bool
    returned: str  # taken | captured


class RenewalLookupPort(Protocol):
    def eligibility(self, session: Session | None) -> Verdict: ...

    def permit_status(self, session: Session | None) -> PermitStanding: ...


class PaymentPort(Protocol):
    def order(self, choice: Choice, session: Session | None) -> OrderShown: ...

    def status(self, order_id: str, session: Session | None) -> PaymentState: ...

    def cancel(self, order_id: str, session: Session | None) -> PaymentState: ...

    def issue(
        self,
        order_id: str,
        choice: Choice,
        identity: Mapping[str, object] | None,
        session: Session | None,
    ) -> Issued:
        """Issue the paid-for endorsement; ``identity``: how the holder was identified at
        the machine (recorded with it)."""
        ...


LOOKUP: PortKey[RenewalLookupPort] = PortKey("central")
PAYMENT: PortKey[PaymentPort] = PortKey("renewal")


class CardPort(Protocol):
    """The permit in the card module: written, printed, handed back (on the module's worker)."""

    def issue_card(
        self,
        order_id: str,
        choice: Choice,
        identity: Mapping[str, object] | None,
        session: Session | None,
    ) -> CardIssued:
        """After payment: take the permit in, have central authorise the chip record, write
        and verify it, print the back, hand the card back. One journaled action."""
        ...

    def reprint(self, session: Session | None) -> Reprinted:
        """Print the back again from the chip's record, once central confirms it (free)."""
        ...


class CardCancelPort(Protocol):
    def cancel_insert(self, session: Session | None) -> None:
        """Stop waiting for the permit to be inserted (the citizen pressed cancel)."""
        ...


CARD: PortKey[CardPort] = PortKey("rewriter")
CARD_CANCEL: PortKey[CardCancelPort] = PortKey("rewriter.cancel")
