"""Staff actions on the outbox: send dead letters again, give one up, and drop audit rows
past their retention."""

from __future__ import annotations

from offline_queue.errors import UnknownEntry
from offline_queue.outbox.database import Database
from offline_queue.outbox.files import AttachmentFiles
from offline_queue.outbox.schema import KEY_FLOOR


class StaffActions:
    def __init__(self, db: Database, files: AttachmentFiles) -> None:
        self._db = db
        self._files = files

    def redrive(self, key: str) -> None:
        """Send a dead entry again (and unblock its stream)."""
        db = self._db
        with db.guard(), db.write():
            n = db.conn.execute(
                "UPDATE entries SET state='pending', attempts=0, next_attempt_at=0 "
                "WHERE key=? AND state='dead'",
                (key,),
            ).rowcount
        if n != 1:
            raise UnknownEntry(f"no dead entry {key}")

    def redrive_dead(self) -> int:
        """Send every dead entry again (each stream resumes in order behind its first);
        returns how many. Those central refuses again die again."""
        db = self._db
        with db.guard(), db.write():
            return int(
                db.conn.execute(
                    "UPDATE entries SET state='pending', attempts=0, next_attempt_at=0 "
                    "WHERE state='dead'"
                ).rowcount
            )

    def discard(self, key: str) -> None:
        """Give up on a dead entry; its personal data goes, an audit row stays."""
        db = self._db
        with db.guard(), db.write():
            n = db.conn.execute(
                "UPDATE entries SET state='discarded', payload=NULL, sent_at=?, "
                "outcome='discarded by staff' WHERE key=? AND state='dead'",
                (db.now(), key),
            ).rowcount
            files = []
            if n == 1:  # only a dead entry's files: another's are still to be sent
                files = [
                    r[0]
                    for r in db.conn.execute(
                        "DELETE FROM attachments WHERE entry_key=? RETURNING file", (key,)
                    )
                ]
        if n != 1:
            raise UnknownEntry(f"no dead entry {key}")
        self._files.discard_names(files)

    def purge_audit(self, audit_days: float) -> int:
        """Drop audit rows older than ``audit_days``; returns how many."""
        db = self._db
        cutoff = db.now() - audit_days * 86_400
        with db.guard(), db.write():
            # Raise the key floor first: deleting the newest rows must not let their numbers
            # (and so their keys) be handed out again.
            db.conn.execute(
                "INSERT INTO sequences SELECT ?, MAX(seq) FROM entries WHERE true "
                "HAVING MAX(seq) IS NOT NULL "
                "ON CONFLICT(name) DO UPDATE SET value = MAX(value, excluded.value)",
                (KEY_FLOOR,),
            )
            return int(
                db.conn.execute(
                    "DELETE FROM entries WHERE state IN ('sent','discarded') AND sent_at < ?",
                    (cutoff,),
                ).rowcount
            )
