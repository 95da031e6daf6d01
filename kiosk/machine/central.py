"""The flows' look-ups in the central system (service "central"): documents ready for pickup,
renewal eligibility, permit status.

Runs on its own worker (the runner gives each service one) with its own HTTP client, so a
slow central never blocks a device. The citizen's ID number is taken from the session and
never returned to the flow; the permit's chip access data goes back into the session.
When central cannot be reached the flow gets a ``central.*`` failure and must say so:
there is no cached or guessed answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from kiosk.core.errors import KioskError
from kiosk.core.session import Session
from offline_queue.central_client import CentralClient, Eligibility, PermitStatus
from offline_queue.errors import CentralError

log = logging.getLogger(__name__)

ClientFactory = Callable[[], CentralClient]
Withheld = Callable[[str], bool]  # document_no -> must not be offered (e.g. uncertain dispense)

PERMIT_ACCESS = "permit_access"  # session key of the permit's BAC access data


class CentralUnreachable(KioskError):
    code = "central.unreachable"


class CentralLink:
    """A service's own HTTP client to central, made on first use - on the service's worker,
    which then owns the session - and closed with the service."""

    def __init__(self, factory: ClientFactory) -> None:
        self._factory = factory
        self._client: CentralClient | None = None

    @property
    def client(self) -> CentralClient:
        if self._client is None:
            self._client = self._factory()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.transport.close()


class CentralService:
    def __init__(
        self,
        client: ClientFactory,
        *,
        withheld: Withheld | None = None,
        on_unreachable: Callable[[], None] | None = None,
    ) -> None:
        self._link = CentralLink(client)
        self._withheld = withheld or (lambda document_no: False)
        # Told when a look-up got no usable answer (the sync worker then checks the link
        # at once, so the menu pauses what needs central for the next citizen).
        self._on_unreachable = on_unreachable

    def execute(
        self, operation: str, args: Mapping[str, Any], session: Session | None
    ) -> Mapping[str, Any]:
        handler = {
            "documents_ready": self._documents_ready,
            "eligibility": self._eligibility,
            "permit_status": self._permit_status,
        }.get(operation)
        if handler is None:
            raise KioskError(f"central has no operation {operation}", code="service.operation")
        id_number = id_number_of(session)
        try:
            return handler(id_number, session)
        except CentralError as exc:
            if exc.status == 404:  # no record: a plain answer, not a fault
                return {"known": False}
            log.warning("central %s failed: %s", operation, exc.code)
            if self._on_unreachable is not None and exc.link_down:
                self._on_unreachable()
            raise CentralUnreachable(str(exc), code=exc.code) from exc

    def close(self) -> None:
        self._link.close()

    @property
    def client(self) -> CentralClient:
        return self._link.client

    def _documents_ready(self, id_number: str, session: Session | None) -> dict[str, Any]:
        ready = self.client.documents_ready(id_number)
        offered = [d for d in ready.here if not self._withheld(d.document_no)]
        return {
            "known": True,
            "documents": [
                {"document_no": d.document_no, "kind": d.kind, "slot": d.slot} for d in offered
            ],
            "withheld": len(ready.here) - len(offered),
            # Where the rest waits: other pickup machines by id, the counter as None.
            "elsewhere": [{"kiosk_id": e.kiosk_id, "count": e.count} for e in ready.elsewhere],
        }

    def _eligibility(self, id_number: str, session: Session | None) -> dict[str, Any]:
        verdict: Eligibility = self.client.eligibility(id_number)
        if session is not None and verdict.permit is not None:
            session.put(PERMIT_ACCESS, verdict.permit)
        return {
            "known": True,
            "eligible": verdict.eligible,
            "reasons": [r.value for r in verdict.reasons],
            "options": [o.__dict__ for o in verdict.options],
            "regions": list(verdict.regions),
            "purposes": list(verdict.purposes),
            "permit_on_record": verdict.permit is not None,
        }

    def _permit_status(self, id_number: str, session: Session | None) -> dict[str, Any]:
        status: PermitStatus = self.client.permit_status(id_number)
        e = status.endorsement
        return {
            "known": True,
            "permit_expiry": status.permit_expiry,
            "permit_days_left": status.permit_days_left,
            "endorsement": None if e is None else dict(e.__dict__),
        }


def id_number_of(session: Session | None) -> str:
    """The ID number of the card read in this session (for central's look-ups only)."""
    card = session.get("idcard") if session is not None else None
    if card is None:
        raise KioskError("no ID card has been read in this session", code="central.no_idcard")
    return str(card.id_number)
