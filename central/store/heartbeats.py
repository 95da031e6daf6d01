"""Heartbeats: each kiosk's latest status, and the staff alerts it carries (each kept once
per kiosk and alert id, so a heartbeat resent after a lost answer adds nothing)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from sqlalchemy import func, select

from central.store.common import Refused
from central.store.db import Database
from central.store.schema import alerts, heartbeats

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Heartbeats:
    def __init__(self, db: Database) -> None:
        self.db = db

    def heartbeat(self, kiosk_id: str, status: Any) -> None:
        """Store the status whole (the route bounds its size: it is never cut into invalid
        JSON) and each well-formed alert once. One malformed alert must not cost the kiosk
        its heartbeats (it would resend the same list for ever): it is counted instead."""
        if not isinstance(status, dict):
            raise Refused(400, "heartbeat must be an object")
        status = dict(status)
        listed = status.pop("alerts", [])
        listed = listed if isinstance(listed, list) else [listed]
        good = [a for a in listed if _is_alert(a)]
        malformed = len(listed) - len(good)
        now = time.time()
        text = json.dumps(status, ensure_ascii=True, separators=(",", ":"))
        with self.db.write() as conn:
            # Counted in the row itself (``count``): no counter row to update per heartbeat.
            conn.execute(
                self.db.prepared("heartbeat", self._build_upsert),
                {"kiosk_id": kiosk_id, "at": now, "status": text, "count": 1},
            )
            new = 0
            for a in good:
                added = conn.execute(
                    self.db.insert(alerts)
                    .values(
                        kiosk_id=kiosk_id,
                        alert_id=a["id"],
                        code=a["code"][:64],
                        message=a["message"][:500],
                        raised_at=a["at"][:40],
                        received_at=now,
                    )
                    .on_conflict_do_nothing(index_elements=[alerts.c.kiosk_id, alerts.c.alert_id])
                    .returning(alerts.c.id)
                )
                new += len(added.all())
            if new:
                self.db.bump(conn, "alerts", new)
            if malformed:
                self.db.bump(conn, "alerts_malformed", malformed)

    def _build_upsert(self) -> Any:
        stmt = self.db.insert(heartbeats)
        return stmt.on_conflict_do_update(
            index_elements=[heartbeats.c.kiosk_id],
            set_={
                "at": stmt.excluded.at,
                "status": stmt.excluded.status,
                "count": heartbeats.c.count + 1,
            },
        )

    def alerts(self, kiosk_id: str | None = None) -> list[dict[str, Any]]:
        """Stored staff alerts, oldest first (monitoring, staff tools and tests)."""
        query = select(
            alerts.c.kiosk_id,
            alerts.c.alert_id,
            alerts.c.code,
            alerts.c.message,
            alerts.c.raised_at,
            alerts.c.received_at,
        ).order_by(alerts.c.received_at, alerts.c.id)
        if kiosk_id is not None:
            query = query.where(alerts.c.kiosk_id == kiosk_id)
        with self.db.read() as conn:
            rows = conn.execute(query).all()
        names = ("kiosk_id", "id", "code", "message", "at", "received_at")
        return [dict(zip(names, r, strict=True)) for r in rows]

    def count(self) -> int:
        """Heartbeats received, all kiosks."""
        with self.db.read() as conn:
            return int(conn.execute(select(func.sum(heartbeats.c.count))).scalar() or 0)

    def latest(self) -> dict[str, dict[str, Any]]:
        """Each kiosk's last heartbeat: when, how many, and the status it sent."""
        with self.db.read() as conn:
            rows = conn.execute(select(heartbeats)).all()
        return {
            str(r[0]): {"at": float(r[1]), "status": json.loads(r[2]), "count": int(r[3])}
            for r in rows
        }


def _is_alert(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and all(isinstance(value.get(k), str) for k in ("id", "code", "message", "at"))
        and 0 < len(value["id"]) <= 64
        and bool(value["code"])
        and not any(_CONTROL.search(value[k]) for k in ("id", "code", "message", "at"))
    )
