"""The fleet console's part of the store: staff accounts and sessions, the audit, remote
commands, alert acknowledgements, each kiosk's usage history and consumable marks.

Kiosks feed it through their heartbeats (``on_heartbeat``, in the heartbeat's answer the
commands waiting for them); the console (``central/console``) reads and writes the rest.
Nothing here holds personal data: usage counters, device states, staff names.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from central.store.db import Database
from central.store.schema import (
    alert_acks,
    alerts,
    console_audit,
    console_sessions,
    console_settings,
    console_users,
    consumable_marks,
    documents,
    heartbeats,
    kiosk_commands,
    transactions,
    usage_samples,
)

ROLES = ("viewer", "operator", "admin")
ACTIONS = ("out_of_service", "in_service", "send_now", "test_print")
CONSUMABLES = {"paper": "receipt_lines", "bin": "captures"}  # consumable -> its counter
SAMPLE_EVERY_S = 60.0  # usage history: at most one row a minute per kiosk
COMMAND_TTL_S = 3600.0  # a command no heartbeat picked up within an hour expires
MAX_TEXT = 500  # notes, results and details are cut to this
USAGE_DAYS = 30.0  # usage history kept (the forecast reads 7 days)


class Fleet:
    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------ heartbeats
    def on_heartbeat(
        self, kiosk_id: str, body: dict[str, Any], now: float | None = None
    ) -> list[dict[str, str]]:
        """Record the usage a heartbeat reports and the outcomes of commands it carries;
        return the commands waiting for this kiosk (they go in the heartbeat's answer, again
        in every answer until the kiosk reports their outcome)."""
        now = time.time() if now is None else now
        usage = body.get("usage")
        results = body.get("command_results")
        with self.db.write() as conn:
            if isinstance(usage, dict):
                self._sample(conn, kiosk_id, usage, now)
            if isinstance(results, list):
                for result in results[:100]:
                    if isinstance(result, dict):
                        self._command_result(conn, kiosk_id, result, now)
            conn.execute(
                update(kiosk_commands)
                .where(
                    kiosk_commands.c.kiosk_id == kiosk_id,
                    kiosk_commands.c.state == "pending",
                    kiosk_commands.c.requested_at < now - COMMAND_TTL_S,
                )
                .values(state="expired", done_at=now, result="expired")
            )
            waiting = conn.execute(
                select(kiosk_commands.c.id, kiosk_commands.c.action)
                .where(
                    kiosk_commands.c.kiosk_id == kiosk_id,
                    kiosk_commands.c.state.in_(("pending", "sent")),
                )
                .order_by(kiosk_commands.c.requested_at)
            ).all()
            if waiting:
                conn.execute(
                    update(kiosk_commands)
                    .where(kiosk_commands.c.id.in_([w[0] for w in waiting]))
                    .where(kiosk_commands.c.state == "pending")
                    .values(state="sent", sent_at=now)
                )
        return [{"id": str(w[0]), "action": str(w[1])} for w in waiting]

    def _sample(self, conn: Connection, kiosk_id: str, usage: dict[str, Any], now: float) -> None:
        counters = _counters(usage)
        last = conn.execute(
            select(usage_samples.c.at, usage_samples.c.counters)
            .where(usage_samples.c.kiosk_id == kiosk_id)
            .order_by(usage_samples.c.at.desc())
            .limit(1)
        ).first()
        previous = json.loads(last[1]) if last is not None else None
        if previous is None:
            # The first report: take what is loaded as full (staff mark it otherwise).
            for consumable, counter in CONSUMABLES.items():
                self._mark(
                    conn, kiosk_id, consumable, counters.get(counter, 0), by="first", now=now
                )
        elif previous.get("paper_near_end") and not counters.get("paper_near_end"):
            # The near-end sensor cleared: a new roll went in.
            self._mark(
                conn, kiosk_id, "paper", counters.get("receipt_lines", 0), by="sensor", now=now
            )
        changed = previous is None or previous.get("paper_near_end") != counters.get(
            "paper_near_end"
        )
        if last is None or changed or now - float(last[0]) >= SAMPLE_EVERY_S:
            conn.execute(
                usage_samples.insert().values(
                    kiosk_id=kiosk_id, at=now, counters=json.dumps(counters, sort_keys=True)
                )
            )

    def _command_result(
        self, conn: Connection, kiosk_id: str, result: dict[str, Any], now: float
    ) -> None:
        command_id = result.get("id")
        if not isinstance(command_id, str):
            return
        ok = result.get("ok") is True
        detail = str(result.get("detail", ""))[:MAX_TEXT]
        outcome = ("done" if ok else "failed") + (f": {detail}" if detail else "")
        done = conn.execute(
            update(kiosk_commands)
            .where(
                kiosk_commands.c.id == command_id,
                kiosk_commands.c.kiosk_id == kiosk_id,
                kiosk_commands.c.state.in_(("pending", "sent")),
            )
            .values(state="done" if ok else "failed", done_at=now, result=outcome)
        )
        if done.rowcount:
            conn.execute(
                update(console_audit)
                .where(console_audit.c.command_id == command_id)
                .values(result=outcome)
            )

    # -------------------------------------------------------------- commands
    def request_command(self, kiosk_id: str, action: str, username: str) -> str:
        """A remote action for a kiosk, audited in the same transaction."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action[:32]!r}")
        command_id = secrets.token_hex(16)
        now = time.time()
        with self.db.write() as conn:
            conn.execute(
                kiosk_commands.insert().values(
                    id=command_id,
                    kiosk_id=kiosk_id,
                    action=action,
                    requested_by=username,
                    requested_at=now,
                    state="pending",
                    result="",
                )
            )
            self._audit(
                conn,
                username,
                f"command.{action}",
                kiosk_id,
                "",
                result="waiting",
                command_id=command_id,
            )
        return command_id

    def commands(self, kiosk_id: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        query = select(kiosk_commands).order_by(kiosk_commands.c.requested_at.desc()).limit(limit)
        if kiosk_id is not None:
            query = query.where(kiosk_commands.c.kiosk_id == kiosk_id)
        with self.db.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # ---------------------------------------------------------------- alerts
    def alert_list(self, *, open_only: bool, limit: int = 500) -> list[dict[str, Any]]:
        """Staff alerts newest first, each with its acknowledgement if it has one."""
        query = (
            select(
                alerts.c.id,
                alerts.c.kiosk_id,
                alerts.c.code,
                alerts.c.message,
                alerts.c.raised_at,
                alerts.c.received_at,
                alert_acks.c.acked_by,
                alert_acks.c.acked_at,
                alert_acks.c.note,
            )
            .select_from(alerts.outerjoin(alert_acks, alert_acks.c.alert_row == alerts.c.id))
            .order_by(alerts.c.received_at.desc(), alerts.c.id.desc())
            .limit(limit)
        )
        if open_only:
            query = query.where(alert_acks.c.alert_row.is_(None))
        with self.db.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def acknowledge(self, alert_row: int, username: str, note: str) -> bool:
        """Acknowledge one alert with a note (audited); False if there is no such alert or
        it was acknowledged already (the first word stands)."""
        now = time.time()
        with self.db.write() as conn:
            row = conn.execute(
                select(alerts.c.kiosk_id, alerts.c.code).where(alerts.c.id == alert_row)
            ).first()
            if row is None:
                return False
            added = conn.execute(
                self.db.insert(alert_acks)
                .values(alert_row=alert_row, acked_by=username, acked_at=now, note=note[:MAX_TEXT])
                .on_conflict_do_nothing(index_elements=[alert_acks.c.alert_row])
                .returning(alert_acks.c.alert_row)
            ).all()
            if not added:
                return False
            self._audit(conn, username, "alert.ack", str(row[0]), f"{row[1]}: {note}", result="ok")
        return True

    # ----------------------------------------------------------------- usage
    def samples(self, kiosk_id: str, since: float) -> list[tuple[float, dict[str, Any]]]:
        """A kiosk's usage history since ``since``, oldest first (and the sample before it,
        so that usage across the window's start is counted)."""
        with self.db.read() as conn:
            before = conn.execute(
                select(usage_samples.c.at, usage_samples.c.counters)
                .where(usage_samples.c.kiosk_id == kiosk_id, usage_samples.c.at < since)
                .order_by(usage_samples.c.at.desc())
                .limit(1)
            ).all()
            rows = conn.execute(
                select(usage_samples.c.at, usage_samples.c.counters)
                .where(usage_samples.c.kiosk_id == kiosk_id, usage_samples.c.at >= since)
                .order_by(usage_samples.c.at)
            ).all()
        return [(float(at), json.loads(text)) for at, text in [*before, *rows]]

    def last_mark(self, kiosk_id: str, consumable: str) -> tuple[float, int] | None:
        with self.db.read() as conn:
            row = conn.execute(
                select(consumable_marks.c.at, consumable_marks.c.counter)
                .where(
                    consumable_marks.c.kiosk_id == kiosk_id,
                    consumable_marks.c.consumable == consumable,
                )
                .order_by(consumable_marks.c.at.desc(), consumable_marks.c.id.desc())
                .limit(1)
            ).first()
        return (float(row[0]), int(row[1])) if row is not None else None

    def replenished(self, kiosk_id: str, consumable: str, username: str) -> bool:
        """Staff say they changed the paper roll / emptied the bin (audited): what is left
        counts from the kiosk's counter as last reported. False if the kiosk never reported."""
        counter = CONSUMABLES[consumable]
        now = time.time()
        with self.db.write() as conn:
            last = conn.execute(
                select(usage_samples.c.counters)
                .where(usage_samples.c.kiosk_id == kiosk_id)
                .order_by(usage_samples.c.at.desc())
                .limit(1)
            ).first()
            if last is None:
                return False
            value = int(json.loads(last[0]).get(counter, 0))
            self._mark(conn, kiosk_id, consumable, value, by=username, now=now)
            self._audit(conn, username, f"replenished.{consumable}", kiosk_id, "", result="ok")
        return True

    def _mark(
        self, conn: Connection, kiosk_id: str, consumable: str, counter: int, *, by: str, now: float
    ) -> None:
        conn.execute(
            consumable_marks.insert().values(
                kiosk_id=kiosk_id, consumable=consumable, at=now, counter=counter, marked_by=by
            )
        )

    def stock(self) -> dict[str, dict[str, int]]:
        """Documents waiting in each pickup machine, per slot."""
        query = (
            select(documents.c.kiosk_id, documents.c.slot, func.count())
            .where(documents.c.kiosk_id.is_not(None), documents.c.handed_over_at.is_(None))
            .group_by(documents.c.kiosk_id, documents.c.slot)
        )
        out: dict[str, dict[str, int]] = {}
        with self.db.read() as conn:
            for kiosk_id, slot, n in conn.execute(query):
                out.setdefault(str(kiosk_id), {})[str(slot)] = int(n)
        return out

    def counts_since(self, since: float) -> dict[str, dict[str, int]]:
        """Transactions stored per kiosk and kind since ``since`` (today's work)."""
        query = (
            select(transactions.c.kiosk_id, transactions.c.kind, func.count())
            .where(transactions.c.received_at >= since)
            .group_by(transactions.c.kiosk_id, transactions.c.kind)
        )
        out: dict[str, dict[str, int]] = {}
        with self.db.read() as conn:
            for kiosk_id, kind, n in conn.execute(query):
                out.setdefault(str(kiosk_id), {})[str(kind)] = int(n)
        return out

    def kiosks(self) -> dict[str, dict[str, Any]]:
        """Every kiosk that ever sent a heartbeat: its last one (status, devices, usage)."""
        with self.db.read() as conn:
            rows = conn.execute(select(heartbeats.c.kiosk_id, heartbeats.c.at, heartbeats.c.status))
            return {str(k): {"at": float(at), "body": json.loads(text)} for k, at, text in rows}

    # ---------------------------------------------------------- staff accounts
    def add_user(self, username: str, password_hash: str, role: str) -> bool:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        with self.db.write() as conn:
            added = conn.execute(
                self.db.insert(console_users)
                .values(
                    username=username,
                    password_hash=password_hash,
                    role=role,
                    created_at=time.time(),
                    failures=0,
                    lockouts=0,
                    locked_until=0.0,
                    disabled=0,
                )
                .on_conflict_do_nothing(index_elements=[console_users.c.username])
                .returning(console_users.c.username)
            ).all()
            if added:
                self._audit(conn, "cli", "user.add", None, f"{username} ({role})", result="ok")
        return bool(added)

    def set_password(self, username: str, password_hash: str) -> bool:
        """A new password also lifts a lockout and ends the account's sessions."""
        with self.db.write() as conn:
            done = conn.execute(
                update(console_users)
                .where(console_users.c.username == username)
                .values(password_hash=password_hash, failures=0, lockouts=0, locked_until=0.0)
            )
            conn.execute(delete(console_sessions).where(console_sessions.c.username == username))
            if done.rowcount:
                self._audit(conn, "cli", "user.password", None, username, result="ok")
        return bool(done.rowcount)

    def user(self, username: str) -> dict[str, Any] | None:
        with self.db.read() as conn:
            row = conn.execute(
                select(console_users).where(console_users.c.username == username)
            ).first()
        return dict(row._mapping) if row is not None else None

    def users(self) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            rows = conn.execute(select(console_users).order_by(console_users.c.username))
            return [dict(r._mapping) for r in rows]

    def sign_in_failed(
        self, username: str, *, max_failures: int, lockout_s: float, max_lockout_s: float
    ) -> float:
        """Count a wrong password; returns the time the account is locked until (0: not
        locked). Each lockout in a row lasts twice the one before, up to ``max_lockout_s``."""
        now = time.time()
        with self.db.write() as conn:
            row = conn.execute(
                select(console_users.c.failures, console_users.c.lockouts)
                .where(console_users.c.username == username)
                .with_for_update()
            ).first()
            if row is None:
                return 0.0
            failures, lockouts = int(row[0]) + 1, int(row[1])
            until = 0.0
            if failures >= max_failures:
                until = now + min(max_lockout_s, lockout_s * 2**lockouts)
                failures, lockouts = 0, lockouts + 1
            conn.execute(
                update(console_users)
                .where(console_users.c.username == username)
                .values(failures=failures, lockouts=lockouts, locked_until=until or 0.0)
            )
            if until:
                self._audit(
                    conn, username, "sign_in.locked", None, f"until {until:.0f}", result="locked"
                )
            else:
                self._audit(conn, username, "sign_in.failed", None, "", result="refused")
        return until

    # -------------------------------------------------------------- sessions
    def open_session(self, username: str, token_hash: str, csrf: str) -> None:
        now = time.time()
        with self.db.write() as conn:
            conn.execute(
                update(console_users)
                .where(console_users.c.username == username)
                .values(failures=0, lockouts=0, locked_until=0.0)
            )
            conn.execute(
                console_sessions.insert().values(
                    token_hash=token_hash, username=username, csrf=csrf, created_at=now, seen_at=now
                )
            )
            self._audit(conn, username, "sign_in", None, "", result="ok")

    def session(self, token_hash: str, *, idle_s: float, max_age_s: float) -> dict[str, Any] | None:
        """The live session with this token (and its user's role), touched; None if there is
        none, it idled or aged out (then it is deleted), or its account is disabled."""
        now = time.time()
        with self.db.write() as conn:
            row = conn.execute(
                select(
                    console_sessions.c.username,
                    console_sessions.c.csrf,
                    console_sessions.c.created_at,
                    console_sessions.c.seen_at,
                    console_users.c.role,
                    console_users.c.disabled,
                )
                .select_from(
                    console_sessions.join(
                        console_users, console_users.c.username == console_sessions.c.username
                    )
                )
                .where(console_sessions.c.token_hash == token_hash)
            ).first()
            if row is None:
                return None
            expired = now - float(row[3]) > idle_s or now - float(row[2]) > max_age_s
            if expired or row[5]:
                conn.execute(
                    delete(console_sessions).where(console_sessions.c.token_hash == token_hash)
                )
                return None
            if now - float(row[3]) > 5:  # not a write per poll
                conn.execute(
                    update(console_sessions)
                    .where(console_sessions.c.token_hash == token_hash)
                    .values(seen_at=now)
                )
        return {"username": str(row[0]), "csrf": str(row[1]), "role": str(row[4])}

    def close_session(self, token_hash: str, username: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                delete(console_sessions).where(console_sessions.c.token_hash == token_hash)
            )
            self._audit(conn, username, "sign_out", None, "", result="ok")

    # ----------------------------------------------------------------- audit
    def audit(
        self, username: str, action: str, kiosk_id: str | None, detail: str, result: str
    ) -> None:
        with self.db.write() as conn:
            self._audit(conn, username, action, kiosk_id, detail, result=result)

    def _audit(
        self,
        conn: Connection,
        username: str,
        action: str,
        kiosk_id: str | None,
        detail: str,
        *,
        result: str,
        command_id: str | None = None,
    ) -> None:
        conn.execute(
            console_audit.insert().values(
                at=time.time(),
                username=username[:64],
                action=action[:64],
                kiosk_id=kiosk_id,
                detail=detail[:MAX_TEXT],
                result=result[:MAX_TEXT],
                command_id=command_id,
            )
        )

    def audit_log(self, limit: int = 200) -> list[dict[str, Any]]:
        query = (
            select(console_audit)
            .order_by(console_audit.c.at.desc(), console_audit.c.id.desc())
            .limit(limit)
        )
        with self.db.read() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    # -------------------------------------------------------------- settings
    def setting(self, name: str, default: str) -> str:
        with self.db.read() as conn:
            value = conn.execute(
                select(console_settings.c.value).where(console_settings.c.name == name)
            ).scalar()
        return default if value is None else str(value)

    def set_setting(self, name: str, value: str, username: str) -> None:
        with self.db.write() as conn:
            stmt = self.db.insert(console_settings).values(name=name, value=value)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[console_settings.c.name], set_={"value": stmt.excluded.value}
                )
            )
            self._audit(conn, username, "setting", None, f"{name}={value}", result="ok")

    def purge(self, now: float, *, usage_days: float = USAGE_DAYS) -> dict[str, int]:
        """The daily upkeep (``kiosk central maintain``): usage history past what the
        forecast reads (kept ``usage_days``), sessions past their longest life, commands long
        settled, and acknowledgements of alerts the retention run deleted."""
        with self.db.write() as conn:
            samples = conn.execute(
                delete(usage_samples).where(usage_samples.c.at < now - usage_days * 86_400)
            ).rowcount
            sessions = conn.execute(
                delete(console_sessions).where(console_sessions.c.created_at < now - 86_400)
            ).rowcount
            commands = conn.execute(
                delete(kiosk_commands).where(
                    kiosk_commands.c.requested_at < now - usage_days * 86_400,
                    kiosk_commands.c.state.in_(("done", "failed", "expired")),
                )
            ).rowcount
            acks = conn.execute(
                delete(alert_acks).where(
                    ~select(alerts.c.id).where(alerts.c.id == alert_acks.c.alert_row).exists()
                )
            ).rowcount
        return {
            "usage_samples_deleted": int(samples or 0),
            "console_sessions_deleted": int(sessions or 0),
            "commands_deleted": int(commands or 0),
            "alert_acks_deleted": int(acks or 0),
        }


def _counters(usage: dict[str, Any]) -> dict[str, Any]:
    """The numbers of a heartbeat's ``usage`` the history keeps: non-negative whole counts
    (anything else is left out, so a faulty kiosk cannot poison the forecast)."""
    raw = usage.get("counters")
    out: dict[str, Any] = {}
    if isinstance(raw, dict):
        for name, value in list(raw.items())[:32]:
            if (
                isinstance(name, str)
                and len(name) <= 40
                and isinstance(value, int)
                and not isinstance(value, bool)
                and 0 <= value < 2**53
            ):
                out[name] = value
    paper = usage.get("paper")
    if isinstance(paper, dict):
        out["paper_near_end"] = paper.get("near_end") is True
    return out
