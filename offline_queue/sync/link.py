"""The link to central as the outbox records it: when central last answered, since when it
has not, the offline window, and the status the kiosk shows staff and sends in heartbeats.

``queue_status`` reads it without a worker (staff tools); ``LinkLog`` writes it for the
worker. ``send_heartbeat`` and ``refused_status`` also serve a kiosk whose outbox refused
to open: its staff alerts still reach central.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from offline_queue.clock import Clock
from offline_queue.errors import CentralError, QueueError
from offline_queue.outbox import Outbox
from offline_queue.transport import CentralTransport, raise_for_status

log = logging.getLogger(__name__)

# Outbox meta: when central last stopped answering (network, timeouts, 5xx, 429, refused
# credentials), "" once a request is answered 2xx again. The flows read it to tell a citizen
# that the counter may not see their transaction yet.
UNREACHABLE_SINCE = "central_unreachable_since"


@dataclass(frozen=True)
class SyncStatus:
    """What the kiosk shows staff and reports in heartbeats (no personal data)."""

    pending: int
    inflight: int
    dead: int
    sent: int
    oldest_pending_age_s: float | None
    last_success_at: datetime | None
    last_contact_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    central_unreachable_since: datetime | None
    offline_too_long: bool
    accepting: bool
    # Entries whose state is damaged (none of the valid ones): counted, never hidden.
    invalid: int = 0

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out


def _ts(value: str | None) -> datetime | None:
    return None if not value else datetime.fromtimestamp(float(value), UTC)


def central_unreachable_since(outbox: Outbox) -> datetime | None:
    """Since when the sync worker's requests to central have failed (None: the last one was
    answered, or there was none)."""
    return _ts(outbox.get_meta(UNREACHABLE_SINCE))


def queue_status(outbox: Outbox, clock: Clock, offline_window_s: float) -> SyncStatus:
    """The status as recorded in the outbox (also readable by staff tools without a worker).

    Offline means: no answer from central (batch or heartbeat) for longer than the window,
    counted from the last contact, or from the outbox's creation if there never was one."""
    counts = outbox.counts()
    now = clock.now().timestamp()
    last_contact = outbox.get_meta("last_contact_at")
    since = float(last_contact or outbox.get_meta("created_at") or now)
    return SyncStatus(
        pending=counts.pending + counts.inflight,
        inflight=counts.inflight,
        dead=counts.dead,
        sent=counts.sent,
        oldest_pending_age_s=(
            None if counts.oldest_pending_at is None else now - counts.oldest_pending_at
        ),
        last_success_at=_ts(outbox.get_meta("last_success_at")),
        last_contact_at=_ts(last_contact),
        last_error=outbox.get_meta("last_error"),
        last_error_at=_ts(outbox.get_meta("last_error_at")),
        central_unreachable_since=central_unreachable_since(outbox),
        offline_too_long=now - since > offline_window_s,
        accepting=outbox.accepting,
        invalid=counts.invalid,
    )


def refused_status(error: QueueError) -> dict[str, Any]:
    """A heartbeat's status when the outbox cannot be read (refused to open, or damaged):
    central learns that this kiosk takes no transactions and why (no personal data)."""
    return {"outbox": "refused", "code": error.code, "error": str(error)[:1000]}


def send_heartbeat(
    transport: CentralTransport, status: Mapping[str, Any], extra: Mapping[str, Any] | None
) -> dict[str, Any]:
    """POST one heartbeat (``status`` plus the kiosk's ``extra``: devices, staff alerts);
    raises ``CentralError`` unless central stored it. Returns central's answer (its
    ``commands``: remote actions from the fleet console), ``{}`` if it is not an object."""
    body = {"status": dict(status), **(extra or {})}
    _, _, resp = transport.json_request("POST", "/v1/heartbeat", body)
    raise_for_status(resp)
    try:
        answer = resp.json()
    except CentralError:
        return {}  # stored all the same: the kiosk's part is done
    return answer if isinstance(answer, dict) else {}


class LinkLog:
    """Writes what the worker learns about the link into the outbox's meta rows."""

    def __init__(self, outbox: Outbox, clock: Clock) -> None:
        self._outbox = outbox
        self._clock = clock

    def contact(self, success: bool, *, answered_ok: bool = False) -> None:
        self._outbox.set_meta(self.contact_meta(success, answered_ok=answered_ok))

    def contact_meta(self, success: bool, *, answered_ok: bool = False) -> dict[str, str]:
        """``success``: entries were delivered; ``answered_ok``: central answered 2xx, so it
        is reachable again."""
        now = repr(self._clock.now().timestamp())
        values = {"last_contact_at": now}
        if success:
            values["last_success_at"] = now
        if success or answered_ok:
            values[UNREACHABLE_SINCE] = ""
        return values

    def failed(self, message: str, exc: CentralError | None = None) -> None:
        """Record the error. A request that got no usable answer (no answer, a retryable
        status, refused credentials) also marks central unreachable from now, unless it
        already is: the first failure's time stays. A refusal of the request's content says
        nothing about the link."""
        now = repr(self._clock.now().timestamp())
        values = {"last_error": message[:500], "last_error_at": now}
        link_down = exc is not None and exc.link_down
        if link_down and not self._outbox.get_meta(UNREACHABLE_SINCE):
            values[UNREACHABLE_SINCE] = now
        self._outbox.set_meta(values)

    def unreachable(self) -> bool:
        return bool(self._outbox.get_meta(UNREACHABLE_SINCE))
