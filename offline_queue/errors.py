"""Errors of the offline queue: one root, each with a stable ``code`` the kiosk maps onto
what the citizen sees ("please wait" / "out of service") and what staff are told."""

from __future__ import annotations


class QueueError(Exception):
    """Root of every error the offline-queue layer raises."""

    code: str = "queue.error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class OutboxFull(QueueError):
    """The disk or the configured database size is exhausted: nothing was accepted, nothing
    already accepted was lost. The kiosk stops taking transactions until there is room."""

    code = "queue.full"


class OutboxUnavailable(QueueError):
    """The database cannot be written (I/O error, locked for too long, read-only)."""

    code = "queue.unavailable"


class OutboxRefused(OutboxUnavailable):
    """The outbox cannot be used as it is and will not be opened (or stops being used): the
    kiosk must take no transaction, show out of service and alert staff. ``path`` is the
    database file; ``remedy`` says what staff do (also part of the message)."""

    code = "queue.refused"

    def __init__(self, message: str, *, path: str, remedy: str, code: str | None = None) -> None:
        super().__init__(f"{message} What to do: {remedy}", code=code)
        self.path = path
        self.remedy = remedy


class OutboxDamaged(OutboxRefused):
    """The database file is damaged: a 0-byte file, not a database, or pages that fail
    SQLite's integrity check. ``problems`` lists what the check found (at most 20)."""

    code = "queue.damaged"

    def __init__(
        self, message: str, *, path: str, remedy: str, problems: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message, path=path, remedy=remedy)
        self.problems = problems


class KeyFileError(QueueError):
    """The encryption key file is missing, malformed or readable by others."""

    code = "queue.key_file"


class KeyMissing(OutboxRefused, KeyFileError):
    """The key file is gone while the outbox holds data sealed with it (entries not yet
    delivered, attachments, journal references): a new key would make all of it unreadable,
    so the outbox refuses to open. ``sealed`` counts what the lost key protects."""

    code = "queue.key_missing"

    def __init__(self, message: str, *, path: str, key_file: str, remedy: str, sealed: int) -> None:
        super().__init__(message, path=path, remedy=remedy)
        self.key_file = key_file
        self.sealed = sealed


class UnknownEntry(QueueError):
    """No entry with that idempotency key (or not in a state that allows the action)."""

    code = "queue.unknown_entry"


class AttachmentLost(QueueError):
    """An entry's attachment file is missing or fails authentication: it can never be
    delivered as it is, so the entry is dead-lettered for staff."""

    code = "queue.attachment_lost"


class InvalidEntry(QueueError):
    """A put with a bad key, kind, stream or payload (not JSON-serialisable)."""

    code = "queue.invalid_entry"


class InsecureTransport(QueueError):
    """A central URL that would send personal data in clear (plain HTTP off loopback)."""

    code = "queue.insecure_transport"


class CentralError(QueueError):
    """A failed exchange with the central system.

    ``retryable`` says whether the same request may succeed later; ``retry_after_s`` carries
    a server's Retry-After."""

    code = "central.error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        retryable: bool = True,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.status = status
        self.retryable = retryable
        self.retry_after_s = retry_after_s

    @property
    def link_down(self) -> bool:
        """No usable answer: no connection, a timeout, a retryable status, or refused
        credentials. Anything else is a refusal of the request's content, which says nothing
        about the link."""
        return self.retryable or self.status in (401, 403)
