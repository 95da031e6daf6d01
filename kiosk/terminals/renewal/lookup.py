"""The renewal terminal's look-ups at central: eligibility (which also gives the permit's
access data, straight into the session) and the permit's current endorsement."""

from __future__ import annotations

import logging

from devices.icao.errors import MrzInvalid
from devices.icao.mrz import MrzAccess
from kiosk.core.session import Session
from kiosk.machine.central import CentralLink, NotOnRecord, id_number_of
from kiosk.terminals.renewal.ports import PERMIT_ACCESS, PermitStanding, Verdict

log = logging.getLogger(__name__)


class RenewalLookup:
    """``RenewalLookupPort``, on its own worker with its own client."""

    def __init__(self, link: CentralLink) -> None:
        self._link = link

    def close(self) -> None:
        self._link.close()

    def eligibility(self, session: Session | None) -> Verdict:
        id_number = id_number_of(session)
        try:
            verdict = self._link.look_up("eligibility", lambda c: c.eligibility(id_number))
        except NotOnRecord:
            return Verdict(known=False)
        permit = verdict.permit
        if session is not None and permit is not None:
            try:
                access = MrzAccess(permit.document_number, permit.birth_date, permit.expiry_date)
            except MrzInvalid:
                # Unusable access data: the chip read says so (no access data), not this look-up.
                log.warning("central's permit access data is not valid MRZ data")
            else:
                session.put(PERMIT_ACCESS, access)
        return Verdict(
            True,
            verdict.eligible,
            permit is not None,
            tuple(r.value for r in verdict.reasons),
            verdict.options,
            verdict.regions,
            verdict.purposes,
        )

    def permit_status(self, session: Session | None) -> PermitStanding:
        id_number = id_number_of(session)
        try:
            status = self._link.look_up("permit_status", lambda c: c.permit_status(id_number))
        except NotOnRecord:
            return PermitStanding(known=False)
        return PermitStanding(
            True, status.permit_expiry, status.permit_days_left, status.endorsement
        )
