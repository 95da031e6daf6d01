"""The pickup terminal's look-up at central: documents ready for the person whose ID card
was read, without those this machine withholds (an uncertain dispense, staff to check)."""

from __future__ import annotations

from collections.abc import Callable

from kiosk.core.session import Session
from kiosk.machine.central import CentralLink, NotOnRecord, id_number_of
from kiosk.machine.ports import DOCUMENT_PHOTO
from kiosk.terminals.pickup.ports import Document, DocumentsFound
from offline_queue.central_client import ReadyDocument

Withheld = Callable[[str], bool]  # document_no -> must not be offered


def _keep_applicant_photo(session: Session, offered: list[ReadyDocument]) -> None:
    """The face check's reference: the newest application's photo among the documents on
    offer (the citizen's most recent look); none on file leaves the check without one, and
    the citizen goes to the fallback (counter or staff)."""
    on_file = [(d.ready_since, d.applicant_photo) for d in offered if d.applicant_photo]
    if on_file:
        session.put(DOCUMENT_PHOTO, max(on_file)[1])


class PickupLookup:
    """``PickupLookupPort``, on its own worker with its own client."""

    def __init__(self, link: CentralLink, withheld: Withheld | None = None) -> None:
        self._link = link
        self._withheld = withheld or (lambda document_no: False)

    def close(self) -> None:
        self._link.close()

    def documents_ready(self, session: Session | None) -> DocumentsFound:
        id_number = id_number_of(session)
        try:
            ready = self._link.look_up("documents_ready", lambda c: c.documents_ready(id_number))
        except NotOnRecord:
            return DocumentsFound(known=False)
        offered = [d for d in ready.here if not self._withheld(d.document_no)]
        if session is not None:
            _keep_applicant_photo(session, offered)
        return DocumentsFound(
            True,
            tuple(Document(d.document_no, d.kind, d.slot) for d in offered),
            len(ready.here) - len(offered),
            tuple(ready.elsewhere),
            ready.address or "",
        )
