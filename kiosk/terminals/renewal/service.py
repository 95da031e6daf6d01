"""The renewal terminal's fee and issue (``PaymentPort``): a payment order the citizen pays
by scanning a QR code with a phone, then the endorsement central issues against that paid
order - with a journal, so that a crash, a power cut or a lost answer never keeps a
citizen's money without an endorsement, and never charges or issues twice.

Money moves at the payment platform, not in the kiosk; what the kiosk must never lose is the
fact that an order exists that the citizen may have paid. The order of writes:

1. Central creates the order (idempotent by a key from a durable counter). Then
   ``journal_begin("payment", order_id)`` is committed BEFORE the QR code is shown: an order
   nobody could have seen is the only one the journal may miss, and it expires unpaid.
2. Paid: central issues the endorsement against the order (idempotent by a key derived from
   the order, and central accepts an order once). The ``renewal.endorsed`` outbox entry and
   ``journal_complete(.., "issued")`` are one commit.
3. Cancelled or expired unpaid: ``journal_complete`` with that outcome; nothing was charged.
4. Paid but central refuses the endorsement: the order is refunded, and ``renewal.refunded``
   and ``journal_complete(.., "refunded")`` are one commit.
5. Anything left open (central stopped answering, a crash) is settled by ``reconcile``: at
   start-up for every open order, later for orders older than ``settle_s`` (by then the
   citizen has left): an unpaid order is cancelled, a paid one refunded (the citizen was never
   told it worked and may have paid at the counter since), one already used for an
   endorsement is recorded as issued.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from kiosk.core.errors import KioskError
from kiosk.core.session import Session
from kiosk.machine.central import CentralLink, id_number_of
from kiosk.terminals.renewal.ports import Choice, Issued, OrderShown, PaymentState
from offline_queue.central_client import CentralClient, PaymentOrder
from offline_queue.errors import CentralError, QueueError
from offline_queue.outbox import JournalEntry, Outbox

log = logging.getLogger(__name__)

PAYMENT = "payment"
CARD_ISSUE = "card_issue"  # the card issuance's journal action (kiosk.terminals.renewal.card)
Observer = Callable[[str, str], None]  # (step, order_id): lets a crash test stop anywhere
_ORDER_RE = re.compile(r"^[0-9a-f]{32}$")


class PaymentUnavailable(KioskError):
    """No order could be made (central unreachable, the outbox cannot journal): nothing was
    charged."""

    code = "renewal.payment_unavailable"


class PaymentRefunded(KioskError):
    """Central refused the endorsement after the citizen paid; the payment was refunded."""

    code = "renewal.refunded"


class IssuePending(KioskError):
    """Paid, but the endorsement could not be issued now: the order stays open and is
    settled by ``reconcile`` (refunded unless it was issued after all)."""

    code = "renewal.issue_pending"


@dataclass(frozen=True)
class Settled:
    """What ``reconcile`` did with one open order (for staff alerts and logs)."""

    order_id: str
    outcome: str  # cancelled | expired | refunded | issued | open


class RenewalService:
    def __init__(
        self,
        outbox: Outbox,
        link: CentralLink,
        *,
        kiosk_id: str,
        settle_s: float = 600.0,
        now: Callable[[], datetime] = datetime.now,
        observe: Observer = lambda step, order_id: None,
    ) -> None:
        self.outbox = outbox
        self.observe = observe
        self._link = link
        self.kiosk_id = kiosk_id
        self.settle_s = settle_s
        self.now = now

    @property
    def client(self) -> CentralClient:
        return self._link.client

    def close(self) -> None:
        self._link.close()

    # --- the flows' operations ------------------------------------------------------------

    def order(self, choice: Choice, session: Session | None) -> OrderShown:
        return self.create_order(id_number_of(session), choice)

    def status(self, order_id: str, session: Session | None) -> PaymentState:
        _check_order(order_id)
        return _state_of(self._central(lambda: self.client.payment_status(order_id)))

    def cancel(self, order_id: str, session: Session | None) -> PaymentState:
        _check_order(order_id)
        return self.cancel_order(order_id)

    def issue(
        self,
        order_id: str,
        choice: Choice,
        identity: Mapping[str, object] | None,
        session: Session | None,
    ) -> Issued:
        _check_order(order_id)
        return self.issue_endorsement(order_id, id_number_of(session), choice, identity)

    def create_order(self, id_number: str, choice: Choice) -> OrderShown:
        """Create the payment order and journal it; returns what the QR screen shows."""
        try:
            key = f"{self.kiosk_id}-pay-{self.outbox.next_sequence('renewal.payment'):08d}"
        except QueueError as exc:
            raise PaymentUnavailable(f"cannot journal a payment: {exc}") from exc
        order = self._central(
            lambda: self.client.create_payment(key, id_number=id_number, **asdict(choice))
        )
        try:
            self.outbox.journal_begin(PAYMENT, order.order_id)
        except QueueError as exc:
            # Not journaled, so not shown: withdraw it (if this fails too, it expires unpaid).
            self._quietly(lambda: self.client.cancel_payment(order.order_id))
            raise PaymentUnavailable(f"cannot journal the payment order: {exc}") from exc
        self.observe("journaled", order.order_id)
        return OrderShown(order.order_id, order.amount_cny, order.pay_url, order.expires_in_s)

    def cancel_order(self, order_id: str) -> PaymentState:
        """The citizen gave up: cancel unless already paid (then the flow issues)."""
        order = self._central(lambda: self.client.cancel_payment(order_id))
        if order.status in ("cancelled", "expired"):
            self._complete(order_id, order.status)
        return _state_of(order)

    def issue_endorsement(
        self,
        order_id: str,
        id_number: str,
        choice: Choice,
        identity: Mapping[str, object] | None = None,
    ) -> Issued:
        """Issue the paid-for endorsement and record it; refund if central refuses it."""
        key = f"{self.kiosk_id}-issue-{order_id}"
        try:
            issued = self.client.issue_endorsement(
                key, id_number=id_number, payment=order_id, **asdict(choice)
            )
        except CentralError as exc:
            if exc.status != 422:
                raise IssuePending(f"endorsement not issued yet: {exc.code}") from exc
            try:
                self._refund(order_id, f"endorsement refused: {exc}")
            except (CentralError, QueueError) as refund_failed:
                raise IssuePending(f"refund not made yet: {refund_failed}") from exc
            raise PaymentRefunded(f"endorsement refused, payment refunded: {exc}") from exc
        self.observe("issued", order_id)
        record = {
            "order_id": order_id,
            "endorsement_no": issued.endorsement_no,
            "option": issued.option,
            "region": issued.region,
            "purpose": issued.purpose,
            "fee_cny": issued.fee_cny,
            "valid_from": issued.valid_from,
            "valid_until": issued.valid_until,
            "id_number": id_number,
            # How the holder was identified: the face check's decision, score, threshold,
            # model and the document photo's hash (never a template or a frame).
            "identity": dict(identity) if identity is not None else None,
        }
        try:
            self._record(order_id, "renewal.endorsed", record, "issued")
        except QueueError:
            # Central holds the endorsement; reconcile records it once the outbox has room.
            # (The order id, not the endorsement number: logs hold no document numbers.)
            log.exception("endorsement for order %s issued but not recorded yet", order_id)
        self.observe("recorded", order_id)
        return Issued(
            order_id,
            issued.endorsement_no,
            issued.option,
            issued.region,
            issued.purpose,
            issued.fee_cny,
            issued.valid_from,
            issued.valid_until,
            self._at(),
        )

    # --- settling open orders -------------------------------------------------------------

    def reconcile(self, *, everything: bool = False) -> list[Settled]:
        """Settle open orders: all of them at start-up (``everything``), otherwise those
        begun over ``settle_s`` ago (the citizen has left). Orders central cannot be asked
        about now stay open and are reported as such."""
        # Journal times are the outbox's clock's.
        cutoff = self.outbox.clock.now().timestamp() - self.settle_s
        settled = []
        unfinished = self.outbox.unfinished()
        # An order whose permit is being endorsed (or was, when a crash came) is the card
        # issuance's to settle (kiosk.terminals.renewal.card): it reads the chip first.
        on_card = {e.ref for e in unfinished if e.action == CARD_ISSUE}
        for entry in (e for e in unfinished if e.action == PAYMENT and e.ref not in on_card):
            if everything or entry.started_at <= cutoff:
                settled.append(Settled(entry.ref, self._settle(entry.ref)))
        return settled

    def open_orders(self) -> list[JournalEntry]:
        """Payment orders journaled and not settled yet, oldest first (staff view)."""
        return [e for e in self.outbox.unfinished() if e.action == PAYMENT]

    def _settle(self, order_id: str) -> str:
        try:
            order = self.client.cancel_payment(order_id)  # no effect unless unpaid
            if order.status in ("cancelled", "expired"):
                self._complete(order_id, order.status)
                return order.status
            if order.status == "paid" and order.endorsement_no:
                if self._unwritten_on_chip(order_id):
                    # Authorised for the permit's chip, never confirmed written, and the card
                    # is gone: central withdraws it and refunds.
                    refunded = self.client.void_endorsement(order_id)
                    record = {"order_id": order_id, "amount_cny": refunded.amount_cny}
                    self._record(order_id, "renewal.refunded", record, "refunded")
                    return "refunded"
                self._record_issued_later(order)
                return "issued"
            if order.status in ("paid", "refunded"):
                self._refund(order_id, "settled after the session ended")
                return "refunded"
        except (CentralError, QueueError) as exc:
            log.warning("payment order %s left open: %s", order_id, exc)
        return "open"

    def _unwritten_on_chip(self, order_id: str) -> bool:
        """The order's endorsement was authorised for a chip and never confirmed on it (an
        endorsement issued without a chip, by an older kiosk, is not)."""
        state = self.client.chip_state(order_id)
        return state.sequence is not None and not state.written

    def _refund(self, order_id: str, why: str) -> None:
        """Refund (idempotent at central) and record it; a refund central cannot make now
        leaves the order open for ``reconcile``."""
        order = self.client.refund_payment(order_id)
        record = {"order_id": order_id, "amount_cny": order.amount_cny, "why": why}
        self._record(order_id, "renewal.refunded", record, "refunded")

    def _record_issued_later(self, order: PaymentOrder) -> None:
        record = {"order_id": order.order_id, "endorsement_no": order.endorsement_no}
        self._record(order.order_id, "renewal.endorsed", record, "issued")

    def _record(self, order_id: str, kind: str, record: Mapping[str, Any], outcome: str) -> None:
        """The outcome's outbox entry and the journal completion in one commit - once: a
        replayed answer for an order already settled records nothing more."""
        payload = {**record, "kiosk_id": self.kiosk_id, "at": self._at()}
        with self.outbox.transaction() as tx:
            entry = tx.journal_last(order_id, (PAYMENT,))
            if entry is None or entry.completed_at is not None:
                return
            tx.put(kind, payload, stream=f"renewal:{order_id}")
            tx.journal_complete(entry.id, outcome)

    def _complete(self, order_id: str, outcome: str) -> None:
        with self.outbox.transaction() as tx:
            entry = tx.journal_last(order_id, (PAYMENT,))
            if entry is not None and entry.completed_at is None:
                tx.journal_complete(entry.id, outcome)

    # --- helpers --------------------------------------------------------------------------

    def _central(self, call: Callable[[], PaymentOrder]) -> PaymentOrder:
        try:
            return call()
        except CentralError as exc:
            if exc.status == 422:
                raise KioskError(
                    f"central refused the order: {exc}", code="renewal.refused"
                ) from exc
            raise PaymentUnavailable(f"payment service not answering: {exc.code}") from exc

    @staticmethod
    def _quietly(call: Callable[[], Any]) -> None:
        try:
            call()
        except CentralError as exc:
            log.warning("withdrawing an unjournaled order failed: %s", exc.code)

    def _at(self) -> str:
        return self.now().isoformat(timespec="seconds")


def _check_order(order_id: str) -> None:
    if not _ORDER_RE.match(order_id):
        raise KioskError("no payment order", code="renewal.no_order")


def _state_of(order: PaymentOrder) -> PaymentState:
    return PaymentState(order.status, order.expires_in_s)


StaffAlert = Callable[[str, str], None]  # (code, message), any thread


class Settler:
    """Settles open orders on the renewal service's worker: all of them once at start-up,
    then every ``every_s`` those older than the service's ``settle_s``. Staff hear of each
    refund made without the citizen and, once per order, of an order that stays open."""

    def __init__(
        self,
        service: RenewalService,
        submit: Callable[[Callable[[], None]], object],
        alert: StaffAlert,
        *,
        every_s: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self._submit = submit
        self._alert = alert
        self.every_s = every_s
        self._monotonic = monotonic
        self._last = -every_s
        self._told_open: set[str] = set()

    def start(self) -> None:
        self._last = self._monotonic()
        self._submit(lambda: self._run(everything=True))

    def tick(self) -> None:
        """Call often (any thread); settles at most every ``every_s``."""
        now = self._monotonic()
        if now - self._last >= self.every_s:
            self._last = now
            try:
                self._submit(lambda: self._run(everything=False))
            except RuntimeError:  # the worker is shutting down with the kiosk
                log.debug("settle tick after the renewal worker stopped")

    def _run(self, *, everything: bool) -> None:
        try:
            settled = self.service.reconcile(everything=everything)
        except QueueError as exc:  # the outbox cannot be read: the next tick tries again
            log.error("settling payment orders failed: %s", exc)
            return
        for s in settled:
            if s.outcome == "refunded":
                self._alert("renewal.refunded", f"payment order {s.order_id} refunded (settled)")
            elif s.outcome == "open" and s.order_id not in self._told_open:
                self._told_open.add(s.order_id)
                self._alert(
                    "renewal.unsettled",
                    f"payment order {s.order_id} cannot be settled yet (central not answering)",
                )
            else:
                log.info("payment order %s settled: %s", s.order_id, s.outcome)
