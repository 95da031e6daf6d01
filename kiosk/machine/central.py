"""The services' link to central for look-ups (documents ready, eligibility, permit status):
one HTTP client per service, made on its worker, and one rule for what a failure means.

When central cannot be reached the flow gets a ``central.*`` failure and must say so: there
is no cached or guessed answer. A 404 is an answer (no record for this person), not a fault.
The citizen's ID number is taken from the session and never returned to the flow.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from kiosk.core.errors import KioskError
from kiosk.core.session import Session
from kiosk.machine.ports import IDCARD_DATA
from offline_queue.central_client import CentralClient
from offline_queue.errors import CentralError

log = logging.getLogger(__name__)

ClientFactory = Callable[[], CentralClient]
T = TypeVar("T")


class CentralUnreachable(KioskError):
    code = "central.unreachable"


class NotOnRecord(Exception):
    """Central holds no record for this person (its 404)."""


class CentralLink:
    """A service's own HTTP client to central, made on first use - on the service's worker,
    which then owns the session - and closed with the service. ``on_unreachable`` is told
    when a look-up got no usable answer (the sync worker then checks the link at once, so
    the menu pauses what needs central for the next citizen)."""

    def __init__(
        self, factory: ClientFactory, *, on_unreachable: Callable[[], None] | None = None
    ) -> None:
        self._factory = factory
        self._client: CentralClient | None = None
        self._on_unreachable = on_unreachable

    @property
    def client(self) -> CentralClient:
        if self._client is None:
            self._client = self._factory()
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.transport.close()

    def look_up(self, what: str, ask: Callable[[CentralClient], T]) -> T:
        """Ask central; ``NotOnRecord`` for its 404, ``CentralUnreachable`` for the rest."""
        try:
            return ask(self.client)
        except CentralError as exc:
            if exc.status == 404:  # no record: a plain answer, not a fault
                raise NotOnRecord(what) from exc
            log.warning("central %s failed: %s", what, exc.code)
            if self._on_unreachable is not None and exc.link_down:
                self._on_unreachable()
            raise CentralUnreachable(str(exc), code=exc.code) from exc


def id_number_of(session: Session | None) -> str:
    """The ID number of the card read in this session (for central's look-ups only)."""
    card = session.get(IDCARD_DATA) if session is not None else None
    if card is None:
        raise KioskError("no ID card has been read in this session", code="central.no_idcard")
    return str(card.id_number)
