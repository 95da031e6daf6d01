"""The endorsement onto the permit (``CardPort``): after the citizen paid, the permit is taken
into the card module and held over the chip antenna, central authorises the record for the
chip's challenge (it alone holds the issuer key), the chip is written under secure messaging
and read back, the back of the card is erased and the endorsement printed on it, and the card
is handed back (or kept in the capture bin when nobody takes it). One journaled action:

1. ``journal_begin("card_issue", order_id)`` is committed BEFORE the module moves; the same
   commit checks that the order is paid and open (its ``payment`` journal entry) and that no
   card issuance of this order ever ended: nothing is ever written twice for one payment.
2. Written and read back: the ``renewal.endorsed`` outbox entry and the completion of the
   ``payment`` entry ("issued") are one commit; central is told the write is final.
3. Not written (no card inserted, another card, the chip refusing, a write that read back
   wrong twice): central withdraws the endorsement and refunds the order (``void``);
   ``renewal.refunded`` and the ``payment`` completion ("refunded") are one commit.
4. The card handed back and taken, or captured: ``renewal.card_returned`` /
   ``renewal.card_captured`` and the ``card_issue`` completion are one commit.

A crash or a power cut anywhere leaves ``card_issue`` open; ``recover`` (at start-up, on the
module's worker, before any citizen) asks central where the write stands and reads the chip
of the card still in the module: a record already on the chip is confirmed, not written
again; a write not made is made when the card is still inside, and refunded when it is not;
the card is then handed back (captured, with a staff alert, when nobody takes it). Any card
found inside the module at start-up without an open issuance is handed back the same way.

Runs on the card module's worker (the flows call it like a device); the chip is reached on
its own worker through ``ChipCall``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from devices.base import CancelToken, DeviceCancelled, DeviceError
from devices.card_back import render_back
from devices.chip import ChipReader, EndorsementRecord, IssuerChallenge
from devices.endorsement import EndorsementDataError
from devices.icao.errors import MrzInvalid
from devices.icao.mrz import MrzAccess
from devices.rewriter import BackPrint, CardRewriter, HoldPosition, RewriterFault
from kiosk.core.engine import Event
from kiosk.core.errors import KioskError
from kiosk.core.session import Session
from kiosk.machine.central import CentralLink, id_number_of
from kiosk.machine.ports import CHIP_DATA
from kiosk.terminals.renewal.back import endorsement_back
from kiosk.terminals.renewal.ports import (
    CARD_STEP,
    PERMIT_ACCESS,
    CardIssued,
    Choice,
    Issued,
    Reprinted,
)
from kiosk.terminals.renewal.service import CARD_ISSUE, PAYMENT
from offline_queue.central_client import CentralClient, ChipWriteState
from offline_queue.errors import CentralError
from offline_queue.outbox import Outbox

log = logging.getLogger(__name__)

CARD = CARD_ISSUE  # journal action; ref: the payment order
REPRINT = "card_reprint"  # journal action; ref: reprint-<n>
R = TypeVar("R")
ChipCall = Callable[[Callable[[ChipReader], R]], R]  # run on the chip's worker, wait
Observer = Callable[[str, str], None]  # (step, order_id): lets a crash test stop anywhere
Post = Callable[[Event], None]
StaffAlert = Callable[[str, str], None]
WRITE_ATTEMPTS = 2  # a write that read back wrong, or a card moved: once more, same slot


class CardError(KioskError):
    """The permit was not endorsed; ``refunded`` says what happened to the money."""

    code = "renewal.card_failed"

    def __init__(self, message: str, *, code: str | None = None, refunded: bool) -> None:
        super().__init__(message, code=code)
        self.refunded = refunded


class CardPending(KioskError):
    """The outcome cannot be settled now (central not answering): the order stays open and
    is settled later - confirmed if the chip holds the endorsement, refunded if not."""

    code = "renewal.card_pending"


@dataclass
class CardIssuance:
    outbox: Outbox
    link: CentralLink
    rewriter: Callable[[], CardRewriter]
    chip: ChipCall[Any]
    kiosk_id: str
    place: str = ""
    insert_s: float = 90.0  # how long the permit is waited for in the slot
    take_s: float = 30.0  # how long a handed-back permit waits before it is captured
    device_s: float = 30.0
    post: Post = field(default=lambda event: None)
    alert: StaffAlert = field(default=lambda code, message: None)
    observe: Observer = field(default=lambda step, order_id: None)
    now: Callable[[], datetime] = datetime.now
    cancel: CancelToken = field(default_factory=CancelToken)

    @property
    def client(self) -> CentralClient:
        return self.link.client

    def close(self) -> None:
        self.link.close()

    # --- the flows' operations ------------------------------------------------------------

    def cancel_insert(self, session: Session | None = None) -> None:
        """The citizen gave up waiting to insert the permit (from another thread)."""
        self.cancel.cancel()

    def issue_card(
        self,
        order_id: str,
        choice: Choice,
        identity: Mapping[str, object] | None,
        session: Session | None,
    ) -> CardIssued:
        """The whole issuance for paid order ``order_id``: one call, so its outcome is
        recorded even if the flow stopped waiting. Raises ``CardError`` (refunded or not)
        or ``CardPending``."""
        access = session.get(PERMIT_ACCESS) if session is not None else None
        read = session.get(CHIP_DATA) if session is not None else None
        if access is None or read is None:
            raise KioskError("no permit read in this session", code="renewal.no_permit")
        self.cancel = CancelToken()
        journal_id = self._begin(order_id)
        self.observe("journaled", order_id)
        facts = {
            "id_number": id_number_of(session),
            "identity": dict(identity) if identity is not None else None,
            "choice": asdict(choice),
        }
        return self._issue(
            journal_id, order_id, access, read.mrz.document_number, facts, interactive=True
        )

    def reprint(self, session: Session | None) -> Reprinted:
        """Free: take the permit in, read the newest endorsement from its chip, have central
        confirm it issued it to this person, print the back again, hand the card back."""
        access = session.get(PERMIT_ACCESS) if session is not None else None
        if access is None:
            raise KioskError("no permit on record in this session", code="renewal.no_permit")
        id_number = id_number_of(session)
        self.cancel = CancelToken()
        ref = f"reprint-{self.outbox.next_sequence('renewal.reprint'):08d}"
        journal_id = self.outbox.journal_begin(REPRINT, ref)
        try:
            self._take_in(ref)
            record = self._chip(lambda c: c.read_endorsement(access, timeout_s=self.device_s))
            if record is None:
                raise CardError(
                    "no endorsement on the chip", code="renewal.no_endorsement", refunded=False
                )
            check = self._central(
                lambda c: c.verify_record(
                    id_number=id_number,
                    document_number=access.document_number,
                    record=record.encode(),
                )
            )
            if not check.valid:
                raise CardError(
                    f"central: {check.reason}", code="renewal.record_invalid", refunded=False
                )
            self.post(Event(CARD_STEP, {"step": "printing"}))
            printed = self._print(record)
        except (CardError, CardPending, KioskError) as exc:
            self._hand_back_quietly(journal_id, REPRINT, ref, "refused")
            raise _unrefunded(exc) from exc
        except DeviceError as exc:
            self._hand_back_quietly(journal_id, REPRINT, ref, "refused")
            raise _device_failure(exc, refunded=False) from exc
        returned = self._hand_back(ref)
        self.outbox.journal_complete(journal_id, returned)
        return Reprinted(
            record.endorsement_no, record.valid_until.isoformat(), check.current, printed, returned
        )

    # --- the issuance ---------------------------------------------------------------------

    def _begin(self, order_id: str) -> int:
        with self.outbox.transaction() as tx:
            payment = tx.journal_last(order_id, (PAYMENT,))
            if payment is None or payment.completed_at is not None:
                raise KioskError("the payment order is not open", code="renewal.no_order")
            if tx.journal_last(order_id, (CARD,)) is not None:
                raise KioskError("this order's card was issued before", code="renewal.issued")
            return tx.journal_begin(CARD, order_id)

    def _issue(
        self,
        journal_id: int,
        order_id: str,
        access: MrzAccess,
        document_number: str,
        facts: Mapping[str, Any],
        *,
        interactive: bool,
        known: EndorsementRecord | None = None,
    ) -> CardIssued:
        """Steps 2-4 for an open ``card_issue`` (a new one, or one resumed at start-up)."""
        try:
            if interactive:
                self._take_in(order_id)
            else:
                self.rewriter().hold(HoldPosition.CHIP, timeout_s=self.device_s)
            self.observe("card_held", order_id)
            record, auth_fee = self._write(order_id, access, document_number, known)
        except (CardError, DeviceError, KioskError) as exc:
            return self._not_written(journal_id, order_id, exc)
        issued = self._record_issued(order_id, record, auth_fee, facts)
        self.post(Event(CARD_STEP, {"step": "printing"}))
        printed = self._print_or_alert(order_id, record)
        self.observe("printed", order_id)
        returned = self._hand_back(order_id)
        self._complete_card(journal_id, order_id, returned)
        return CardIssued(issued, printed, returned)

    def _take_in(self, ref: str) -> None:
        """The permit into the module and over the antenna: already inside (a retry), or
        the citizen inserts it now."""
        rewriter = self.rewriter()
        status = rewriter.read_status(timeout_s=self.device_s)
        if status.card_inside:
            rewriter.hold(HoldPosition.CHIP, timeout_s=self.device_s)
        else:
            self.post(Event(CARD_STEP, {"step": "insert"}))
            deadline = time.monotonic() + self.insert_s
            while True:
                try:
                    rewriter.insert(
                        timeout_s=max(1.0, deadline - time.monotonic()), cancel=self.cancel
                    )
                    break
                except DeviceError as exc:
                    # Inserted the wrong way round: the module hands it straight back. Say so
                    # and wait for it again, within the same time.
                    if exc.code != RewriterFault.CARD_REVERSED.value:
                        raise
                    if time.monotonic() >= deadline:
                        raise
                    self.post(Event(CARD_STEP, {"step": "reversed"}))
                    rewriter.wait_taken(timeout_s=max(0.0, deadline - time.monotonic()))
        self.post(Event(CARD_STEP, {"step": "held"}))

    def _write(
        self,
        order_id: str,
        access: MrzAccess,
        document_number: str,
        known: EndorsementRecord | None,
    ) -> tuple[EndorsementRecord, int]:
        """Authorised by central, written, read back. Returns the record on the chip (and
        the fee central names with it)."""
        fee = 0
        last: Exception | None = None
        for _ in range(WRITE_ATTEMPTS):
            self.post(Event(CARD_STEP, {"step": "authorising"}))
            try:
                challenge = self._chip(lambda c: c.get_challenge(access, timeout_s=self.device_s))
            except DeviceError as exc:
                raise CardError(
                    f"the permit chip: {exc.code}", code=_chip_code(exc), refunded=True
                ) from exc
            if challenge.document_number.rstrip("<") != document_number.rstrip("<"):
                self._end_chip()
                raise CardError("another permit", code="renewal.card_refused", refunded=True)
            if known is not None and challenge.latest == known:
                self._end_chip()  # written before a crash or a lost answer: not again
                self._confirm(order_id, known)
                return known, fee
            record, cryptogram, fee = self._authorise(order_id, challenge)
            known = record
            self.observe("authorised", order_id)
            self.post(Event(CARD_STEP, {"step": "writing"}))
            try:
                self._write_once(record, cryptogram)
            except DeviceError as exc:
                last = exc
                log.warning("endorsement write of order %s failed: %s", order_id, exc.code)
                self._end_chip()
                if self._on_chip(access, record):  # committed, only the answer was lost
                    break
                continue
            break
        else:
            raise CardError(f"chip write failed: {last}", code="renewal.chip_failed", refunded=True)
        self.observe("written", order_id)
        self.post(Event(CARD_STEP, {"step": "verifying"}))
        self._confirm(order_id, record)
        return record, fee

    def _confirm(self, order_id: str, record: EndorsementRecord) -> None:
        """Central makes the endorsement final (it is on the chip, read back)."""
        try:
            self.client.chip_written(order_id, record.sequence)
        except CentralError as exc:
            # The chip holds it and the outbox records it; central's own row stays
            # "authorised", which only this kiosk could withdraw - and will not.
            log.warning("central not told order %s is on the chip: %s", order_id, exc.code)

    def _write_once(self, record: EndorsementRecord, cryptogram: bytes) -> None:
        self._chip(lambda c: c.authenticate(record, cryptogram, timeout_s=self.device_s))
        self._chip(lambda c: c.write_endorsement(record, timeout_s=self.device_s))

    def _authorise(
        self, order_id: str, challenge: IssuerChallenge
    ) -> tuple[EndorsementRecord, bytes, int]:
        try:
            auth = self.client.authorize_chip(
                order_id,
                document_number=challenge.document_number,
                challenge=challenge.challenge,
                sequence=challenge.sequence,
            )
        except CentralError as exc:
            self._end_chip()
            if exc.link_down:
                raise CardPending(f"central not answering: {exc.code}") from exc
            raise CardError(
                f"central refused: {exc}", code="renewal.refused", refunded=True
            ) from exc
        try:
            record = EndorsementRecord.decode(auth.record)
        except EndorsementDataError as exc:
            self._end_chip()
            raise CardError("central's record does not decode", refunded=True) from exc
        if record.sequence != challenge.sequence:
            self._end_chip()
            raise CardError("central's record is for another slot", refunded=True)
        return record, auth.cryptogram, auth.fee_cny

    def _on_chip(self, access: MrzAccess, record: EndorsementRecord) -> bool:
        try:
            return (
                self._chip(lambda c: c.read_endorsement(access, timeout_s=self.device_s)) == record
            )
        except DeviceError:
            return False

    # --- outcomes ---------------------------------------------------------------------------

    def _record_issued(
        self, order_id: str, record: EndorsementRecord, fee: int, facts: Mapping[str, Any]
    ) -> Issued:
        choice = facts.get("choice") or {}
        issued = Issued(
            order_id,
            record.endorsement_no,
            str(choice.get("option", "")),
            record.region.value,
            record.purpose.value,
            fee,
            record.valid_from.isoformat(),
            record.valid_until.isoformat(),
            self._at(),
        )
        payload = {
            "order_id": order_id,
            "endorsement_no": record.endorsement_no,
            "option": issued.option,
            "region": issued.region,
            "purpose": issued.purpose,
            "fee_cny": fee,
            "valid_from": issued.valid_from,
            "valid_until": issued.valid_until,
            "id_number": facts.get("id_number"),
            "identity": facts.get("identity"),
            "chip": {"sequence": record.sequence, "issued_at": record.issued_at.isoformat()},
            "kiosk_id": self.kiosk_id,
            "at": self._at(),
        }
        self._settle_payment(order_id, "renewal.endorsed", payload, "issued")
        self.observe("recorded", order_id)
        return issued

    def _not_written(self, journal_id: int, order_id: str, cause: Exception) -> CardIssued:
        """Nothing reached the chip: refund (central withdraws the endorsement), hand the
        card back, and tell the flow why."""
        self._end_chip()
        if isinstance(cause, CardPending):
            # Nothing reached the chip and the card goes back: the payment settler refunds
            # the order once central answers (it withdraws an unwritten endorsement).
            self._hand_back_quietly(journal_id, CARD, order_id, "pending")
            raise cause
        why = getattr(cause, "code", "renewal.card_failed")
        try:
            order = self.client.void_endorsement(order_id)
        except CentralError as exc:
            log.warning("order %s not refunded yet: %s", order_id, exc.code)
            self._hand_back_quietly(journal_id, CARD, order_id, "pending")
            raise CardPending(f"refund not made yet: {exc.code}") from cause
        payload = {"order_id": order_id, "amount_cny": order.amount_cny, "why": why}
        self._settle_payment(order_id, "renewal.refunded", payload, "refunded")
        self.observe("refunded", order_id)
        self._hand_back_quietly(journal_id, CARD, order_id, "refunded")
        if isinstance(cause, CardError):
            raise CardError(str(cause), code=cause.code, refunded=True) from cause
        if isinstance(cause, DeviceError):
            raise _device_failure(cause, refunded=True) from cause
        raise CardError(str(cause), code=why, refunded=True) from cause

    def _settle_payment(
        self, order_id: str, kind: str, payload: Mapping[str, Any], outcome: str
    ) -> None:
        body = {**payload, "kiosk_id": self.kiosk_id, "at": self._at()}
        with self.outbox.transaction() as tx:
            entry = tx.journal_last(order_id, (PAYMENT,))
            if entry is None or entry.completed_at is not None:
                return
            tx.put(kind, body, stream=f"renewal:{order_id}")
            tx.journal_complete(entry.id, outcome)

    def _complete_card(self, journal_id: int, ref: str, outcome: str) -> None:
        kind = "renewal.card_returned" if outcome == "taken" else "renewal.card_captured"
        payload = {"order_id": ref, "outcome": outcome, "kiosk_id": self.kiosk_id, "at": self._at()}
        with self.outbox.transaction() as tx:
            if outcome in ("taken", "captured"):
                tx.put(kind, payload, stream=f"renewal:{ref}")
            tx.journal_complete(journal_id, outcome)
        self.observe("finished", ref)

    # --- the card ---------------------------------------------------------------------------

    def _print_or_alert(self, order_id: str, record: EndorsementRecord) -> bool:
        try:
            return self._print(record)
        except DeviceError as exc:
            # On the chip and on record: the citizen may have the back printed later (the
            # reprint service, or the counter).
            self.alert(
                "renewal.back_not_printed",
                f"order {order_id}: endorsement on the chip, back not printed ({exc.code})",
            )
            return False

    def _print(self, record: EndorsementRecord) -> bool:
        image = render_back(endorsement_back(record, self.place))
        self.rewriter().print_back(BackPrint(image, erase_first=True), timeout_s=self.device_s)
        return True

    def _hand_back(self, ref: str) -> str:
        """Eject the card; "taken", or "captured" (with a staff alert) when nobody took it."""
        rewriter = self.rewriter()
        rewriter.eject(timeout_s=self.device_s)
        self.observe("ejected", ref)
        self.post(Event(CARD_STEP, {"step": "take"}))
        if rewriter.wait_taken(timeout_s=self.take_s):
            return "taken"
        rewriter.capture(timeout_s=self.device_s)
        self.alert("renewal.card_captured", f"a permit was not taken and is in the bin ({ref})")
        return "captured"

    def _hand_back_quietly(
        self, journal_id: int, action: str, ref: str, outcome: str | None
    ) -> None:
        """After a failure: the card out of the module if it is in it (a jam: staff), and
        the journal completed with ``outcome`` (None: left open for ``recover``)."""
        returned = "none"
        try:
            status = self.rewriter().read_status(timeout_s=self.device_s)
            if status.card_inside:
                returned = self._hand_back(ref)
            elif status.card_present:  # in the slot already
                taken = self.rewriter().wait_taken(timeout_s=self.take_s)
                returned = "taken" if taken else self._capture(ref)
        except DeviceError as exc:
            self.alert(
                "renewal.card_stuck",
                f"a permit may be stuck in the card module ({ref}): {exc.code}",
            )
            returned = "stuck"
        if outcome is None:
            return
        with self.outbox.transaction() as tx:
            tx.journal_complete(journal_id, f"{outcome}:{returned}")

    def _capture(self, ref: str) -> str:
        self.rewriter().capture(timeout_s=self.device_s)
        self.alert("renewal.card_captured", f"a permit was not taken and is in the bin ({ref})")
        return "captured"

    # --- start-up ---------------------------------------------------------------------------

    def recover(self) -> list[str]:
        """At start-up, before any citizen: finish or settle every card issuance a crash or a
        power cut interrupted, then hand back any card left in the module. Returns what was
        done, one line per issuance (order ids only)."""
        done = []
        for entry in self.outbox.unfinished():
            if entry.action == CARD:
                done.append(f"{entry.ref}: {self._resume(entry.id, entry.ref)}")
            elif entry.action == REPRINT:
                self._hand_back_quietly(entry.id, REPRINT, entry.ref, "interrupted")
                done.append(f"{entry.ref}: reprint interrupted")
        try:
            status = self.rewriter().read_status(timeout_s=self.device_s)
            if status.card_present:
                self.alert("renewal.card_found", "a permit was left in the card module")
                self._hand_back_quietly(0, "", "start-up", None)
        except DeviceError as exc:
            log.warning("card module not readable at start-up: %s", exc.code)
        return done

    def _resume(self, journal_id: int, order_id: str) -> str:
        with self.outbox.transaction() as tx:
            payment = tx.journal_last(order_id, (PAYMENT,))
        settled = payment is not None and payment.completed_at is not None
        try:
            state = self.client.chip_state(order_id)
        except CentralError as exc:
            outcome = (payment.outcome if payment is not None else None) or "pending"
            if not settled:
                # The card cannot be held until central answers: it goes back, and the
                # payment settler settles the order later (refunded unless on the chip).
                log.warning("order %s: central not answering at start-up: %s", order_id, exc.code)
                self.alert(
                    "renewal.unsettled",
                    f"payment order {order_id}: card handed back, order settled later",
                )
            self._hand_back_quietly(journal_id, CARD, order_id, outcome)
            return outcome
        known = _decode(state.record)
        if settled or state.written or state.voided or state.status != "paid":
            return self._finish_settled(journal_id, order_id, state, known)
        access = _access(state)
        inside = self._inside()
        if access is None or not inside:
            # No card to write: the citizen was never told it worked. Refund.
            try:
                self._not_written(
                    journal_id,
                    order_id,
                    CardError("no card after a restart", code="renewal.interrupted", refunded=True),
                )
            except (CardError, CardPending) as exc:
                return "refunded" if getattr(exc, "refunded", False) else "left open"
            return "refunded"
        facts = {"id_number": None, "identity": None, "choice": {"option": ""}}
        try:
            issued = self._issue(
                journal_id,
                order_id,
                access,
                access.document_number,
                facts,
                interactive=False,
                known=known,
            )
        except (CardError, CardPending) as exc:
            return "refunded" if getattr(exc, "refunded", False) else "left open"
        self.alert(
            "renewal.resumed", f"payment order {order_id}: issuance finished after a restart"
        )
        return f"issued ({issued.returned})"

    def _finish_settled(
        self, journal_id: int, order_id: str, state: ChipWriteState, known: EndorsementRecord | None
    ) -> str:
        """Central knows the outcome: record it if the outbox does not, print the back of a
        written card still inside, hand the card back."""
        if state.voided or state.status == "refunded":
            payload = {"order_id": order_id, "why": "settled after a restart"}
            self._settle_payment(order_id, "renewal.refunded", payload, "refunded")
            self._hand_back_quietly(journal_id, CARD, order_id, "refunded")
            return "refunded"
        if known is not None:
            self._settle_payment(
                order_id,
                "renewal.endorsed",
                {"order_id": order_id, "endorsement_no": known.endorsement_no},
                "issued",
            )
            if self._inside():
                self._print_or_alert(order_id, known)
        self._hand_back_quietly(journal_id, CARD, order_id, "issued")
        return "issued"

    # --- helpers ----------------------------------------------------------------------------

    def _inside(self) -> bool:
        try:
            return self.rewriter().read_status(timeout_s=self.device_s).card_inside
        except DeviceError:
            return False

    def _chip(self, work: Callable[[ChipReader], R]) -> R:
        result: R = self.chip(work)
        return result

    def _end_chip(self) -> None:
        try:
            self._chip(lambda c: c.end_issuance())
        except DeviceError:
            log.debug("ending the chip session failed", exc_info=True)

    def _central(self, ask: Callable[[CentralClient], R]) -> R:
        try:
            return ask(self.client)
        except CentralError as exc:
            raise CardPending(f"central not answering: {exc.code}") from exc

    def _at(self) -> str:
        return self.now().isoformat(timespec="seconds")


def _decode(data: bytes | None) -> EndorsementRecord | None:
    if data is None:
        return None
    try:
        return EndorsementRecord.decode(data)
    except EndorsementDataError:
        return None


def _access(state: ChipWriteState) -> MrzAccess | None:
    permit = state.permit
    if permit is None:
        return None
    try:
        return MrzAccess(permit.document_number, permit.birth_date, permit.expiry_date)
    except MrzInvalid:
        return None


_CARD_CODES = {
    RewriterFault.NO_CARD_INSERTED.value: "renewal.no_card",
    "device.cancelled": "renewal.no_card",
    RewriterFault.CARD_REVERSED.value: "renewal.card_refused",
    RewriterFault.FILM.value: "renewal.card_refused",
    RewriterFault.JAM.value: "renewal.card_jam",
    RewriterFault.COVER_OPEN.value: "renewal.card_jam",
}


def _device_failure(exc: DeviceError, *, refunded: bool) -> CardError:
    if isinstance(exc, DeviceCancelled):
        code = "renewal.no_card"
    else:
        code = _CARD_CODES.get(exc.code, _chip_code(exc))
    return CardError(f"{exc.code}: {exc}", code=code, refunded=refunded)


def _chip_code(exc: DeviceError) -> str:
    if exc.code.startswith("chip.") and exc.code in ("chip.access_denied", "chip.not_emrtd"):
        return "renewal.card_refused"
    if exc.code.startswith("rewriter."):
        return "renewal.card_jam" if exc.recovery.value != "none" else "renewal.card_refused"
    return "renewal.chip_failed"


def _unrefunded(exc: Exception) -> Exception:
    if isinstance(exc, (CardError, CardPending)):
        return exc
    return CardError(str(exc), code=getattr(exc, "code", "renewal.card_failed"), refunded=False)
