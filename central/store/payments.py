"""Payment orders for the endorsement fee and the endorsements they pay for. Central sets the
amount from its own fee table; an order is a kiosk's own (unknown to any other kiosk) and
pays for one endorsement. Orders are read ``FOR UPDATE``, so two instances cannot both
issue against one order or both change its state."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from central.store.common import ORDER_ID_RE, Refused
from central.store.db import Database
from central.store.lookups import checked_choice
from central.store.schema import citizens, endorsements, payments, sequences


@dataclass(frozen=True)
class Order:
    """A row of ``payments``."""

    order_id: str
    kiosk_id: str
    id_number: str
    option: str
    region: str
    purpose: str
    amount_cny: int
    status: str
    created_at: float
    expires_at: float
    paid_at: float | None
    endorsement_no: str | None

    def answer(self, now: float) -> dict[str, Any]:
        """What a kiosk is told; ``expires_in_s`` counts only while the order awaits payment."""
        left = self.expires_at - now if self.status == "unpaid" else 0.0
        return {
            "order_id": self.order_id,
            "status": self.status,
            "amount_cny": self.amount_cny,
            "expires_in_s": max(0, int(left)),
            "endorsement_no": self.endorsement_no,
        }


class Payments:
    def __init__(
        self,
        db: Database,
        today: Callable[[], date],
        *,
        payment_ttl_s: float,
        pay_base_url: str,
    ) -> None:
        self.db = db
        self.today = today
        self.payment_ttl_s = payment_ttl_s
        self.pay_base_url = pay_base_url

    def create_payment(self, kiosk_id: str, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """Runs inside ``idempotent`` (its transaction). Central sets the amount from its own
        fee table: the kiosk never sends one."""
        with self.db.write() as conn:
            choice = checked_choice(conn, body, self.today())
            order_id = uuid.uuid4().hex
            now = time.time()
            conn.execute(
                payments.insert().values(
                    order_id=order_id,
                    kiosk_id=kiosk_id,
                    id_number=choice.id_number,
                    option=choice.option.code,
                    region=choice.region,
                    purpose=choice.purpose,
                    amount_cny=choice.option.fee_cny,
                    status="unpaid",
                    created_at=now,
                    expires_at=now + self.payment_ttl_s,
                )
            )
            self.db.bump(conn, "payments")
        return 201, {
            "order_id": order_id,
            "status": "unpaid",
            "amount_cny": choice.option.fee_cny,
            "expires_in_s": int(self.payment_ttl_s),
            "pay_url": f"{self.pay_base_url}?order={order_id}",
        }

    def payment_status(self, kiosk_id: str, order_id: str) -> dict[str, Any]:
        now = time.time()
        with self.db.write() as conn:
            order = self._order(conn, order_id, kiosk_id, now)
        return order.answer(now)

    def cancel_payment(self, kiosk_id: str, order_id: str) -> dict[str, Any]:
        """An unpaid order is cancelled; any other stays as it is: a paid one means the
        citizen paid in the meantime, so the kiosk issues (or refunds) instead."""
        now = time.time()
        with self.db.write() as conn:
            order = self._order(conn, order_id, kiosk_id, now)
            if order.status == "unpaid":
                order = _set_status(conn, order, "cancelled")
        return order.answer(now)

    def refund_payment(self, kiosk_id: str, order_id: str) -> dict[str, Any]:
        """A paid order no endorsement used is refunded; a refunded one answers as it is."""
        now = time.time()
        with self.db.write() as conn:
            order = self._order(conn, order_id, kiosk_id, now)
            if order.status == "paid" and order.endorsement_no is None:
                order = _set_status(conn, order, "refunded")
                self.db.bump(conn, "refunds")
        # Refused after the commit, so an expiry noticed on the way is kept.
        if order.status != "refunded":
            reason = "paid for an issued endorsement" if order.endorsement_no else "not paid"
            raise Refused(409, f"order cannot be refunded: {reason}", status=order.status)
        return order.answer(now)

    def simulate_payment(self, order_id: str) -> dict[str, Any]:
        """The citizen pays with a phone: what the payment platform's notice would do."""
        now = time.time()
        with self.db.write() as conn:
            order = self._order(conn, order_id, None, now)
            payable = order.status == "unpaid"
            if payable:
                order = _set_status(conn, order, "paid", paid_at=now)
        if not payable:
            raise Refused(
                409, f"order is {order.status}, not awaiting payment", status=order.status
            )
        return order.answer(now)

    def issue_endorsement(
        self, kiosk_id: str, body: Mapping[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """Runs inside ``idempotent``. Needs ``payment``: a paid, unused order of this kiosk
        for exactly this choice; its amount is the fee."""
        with self.db.write() as conn:
            order = self._paid_order(conn, kiosk_id, body)
            choice = checked_choice(conn, body, self.today())
            today = self.today()
            until = today + timedelta(days=choice.option.validity_days)
            self.db.bump(conn, "endorsements")
            number = _next(self.db, conn, "endorsements")
            endorsement_no = f"E{today:%Y%m%d}{number:06d}"
            conn.execute(
                endorsements.insert().values(
                    endorsement_no=endorsement_no,
                    id_number=choice.id_number,
                    option=choice.option.code,
                    region=choice.region,
                    purpose=choice.purpose,
                    fee_cny=order.amount_cny,
                    valid_from=today.isoformat(),
                    valid_until=until.isoformat(),
                )
            )
            conn.execute(
                update(citizens)
                .where(citizens.c.id_number == choice.id_number)
                .values(endorsement_until=until.isoformat(), permit_used=1)
            )
            conn.execute(
                update(payments)
                .where(payments.c.order_id == order.order_id)
                .values(endorsement_no=endorsement_no)
            )
        return 201, {
            "endorsement_no": endorsement_no,
            "option": choice.option.code,
            "region": choice.region,
            "purpose": choice.purpose,
            "fee_cny": order.amount_cny,
            "valid_from": today.isoformat(),
            "valid_until": until.isoformat(),
        }

    # ---------------------------------------------------------------- helpers
    def _order(self, conn: Connection, order_id: str, kiosk_id: str | None, now: float) -> Order:
        """The order as of ``now``, locked for this transaction; an unpaid order past its
        time is marked expired here, so every reader sees the same state. Another kiosk's
        order is unknown (404) to the caller; ``kiosk_id`` None (admin) reads any."""
        row = conn.execute(
            select(payments).where(payments.c.order_id == order_id).with_for_update()
        ).first()
        if row is None or kiosk_id not in (None, row.kiosk_id):
            raise Refused(404, "no such payment order")
        order = Order(**row._mapping)
        if order.status == "unpaid" and now >= order.expires_at:
            return _set_status(conn, order, "expired")
        return order

    def _paid_order(self, conn: Connection, kiosk_id: str, body: Mapping[str, Any]) -> Order:
        """The order named by ``payment``: this kiosk's, for exactly this choice, paid and
        not yet used for an endorsement. Anything else is refused (422)."""
        order_id = body.get("payment")
        if not isinstance(order_id, str) or not ORDER_ID_RE.fullmatch(order_id):
            raise Refused(422, "payment required: the id of a paid order")
        try:
            order = self._order(conn, order_id, kiosk_id, time.time())
        except Refused:
            raise Refused(422, "no such payment order") from None
        chosen = tuple(body.get(k) for k in ("id_number", "option", "region", "purpose"))
        if chosen != (order.id_number, order.option, order.region, order.purpose):
            raise Refused(422, "the payment order is for another person or choice")
        if order.status != "paid":
            raise Refused(422, f"the payment order is {order.status}, not paid")
        if order.endorsement_no is not None:
            raise Refused(422, "the payment order has already paid for an endorsement")
        return order


def _set_status(conn: Connection, order: Order, status: str, paid_at: float | None = None) -> Order:
    values: dict[str, Any] = {"status": status}
    if paid_at is not None:
        values["paid_at"] = paid_at
    conn.execute(update(payments).where(payments.c.order_id == order.order_id).values(**values))
    return replace(order, status=status, paid_at=paid_at or order.paid_at)


def _next(db: Database, conn: Connection, name: str) -> int:
    """The next number of a gapless sequence (its row is locked until commit)."""
    stmt = db.insert(sequences).values(name=name, value=1)
    value = conn.execute(
        stmt.on_conflict_do_update(
            index_elements=[sequences.c.name], set_={"value": sequences.c.value + 1}
        ).returning(sequences.c.value)
    ).scalar()
    return int(value or 0)
