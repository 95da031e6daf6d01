"""The pickup terminal's look-up at central: documents ready for the person whose ID card
was read, without those this machine withholds (an uncertain dispense, staff to check)."""

from __future__ import annotations

from collections.abc import Callable

from kiosk.core.session import Session
from kiosk.machine.central import CentralLink, NotOnRecord, id_number_of
from kiosk.terminals.pickup.ports import Document, DocumentsFound

Withheld = Callable[[str], bool]  # document_no -> must not be offered


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
        return DocumentsFound(
            True,
            tuple(Document(d.document_no, d.kind, d.slot) for d in offered),
            len(ready.here) - len(offered),
            tuple(ready.elsewhere),
            ready.address or "",
        )
