"""Free EMS delivery of a finished document instead of pickup, and the addresses on record
it is offered to.

A delivery order comes from the kiosk as a ``pickup.delivery`` entry through its outbox,
so it is stored exactly once whatever the retries (the entry's key); a document has at most
one order, and one ordered is no longer offered for pickup anywhere.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, select

from central.store.db import Database
from central.store.schema import addresses, deliveries

KIND = "pickup.delivery"


def address_on_record(conn: Connection, id_number: str) -> str | None:
    row = conn.execute(
        select(addresses.c.address).where(addresses.c.id_number == id_number)
    ).first()
    return None if row is None else str(row[0])


def ordered(conn: Connection, document_no: str) -> str | None:
    """The delivery order of a document, if it has one."""
    row = conn.execute(
        select(deliveries.c.order_no).where(deliveries.c.document_no == document_no)
    ).first()
    return None if row is None else str(row[0])


def refusal(conn: Connection, payload: dict[str, Any]) -> str | None:
    """A second order for one document (another key, another order number) is refused: the
    document goes out once."""
    order = ordered(conn, str(payload["document_no"]))
    if order is not None and order != payload["order_no"]:
        return "this document is already ordered for delivery"
    return None


def record(db: Database, conn: Connection, kiosk_id: str, payload: dict[str, Any]) -> None:
    conn.execute(
        db.insert(deliveries)
        .values(
            order_no=payload["order_no"],
            document_no=payload["document_no"],
            id_number=payload.get("id_number"),
            kiosk_id=kiosk_id,
            address=payload["address"],
            ordered_at=str(payload.get("at") or ""),
            received_at=time.time(),
        )
        .on_conflict_do_nothing(index_elements=[deliveries.c.document_no])
    )


def orders(db: Database) -> list[dict[str, Any]]:
    """Every delivery order (staff tools, tests), oldest first."""
    with db.read() as conn:
        rows = conn.execute(select(deliveries).order_by(deliveries.c.received_at)).all()
    return [dict(r._mapping) for r in rows]
