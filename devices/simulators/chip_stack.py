"""The chip reader's registry simulator: the PC/SC stack (pcscd + vpcd) with a virtual travel
document inserted, as the demo mode and ``kiosk devices probe chip --sim`` use it."""

from __future__ import annotations

import logging
from typing import Any

from devices.simulators.base import Simulator
from devices.simulators.pcsc_stack import DEFAULT_PORT, PcscStack, PcscStackError
from devices.simulators.vcard import VirtualTravelDocument
from devices.simulators.vcard_pki import TestPki

log = logging.getLogger(__name__)


class PcscChipSimulator(Simulator):
    """Registry simulator for the chip reader: pcscd (private, or the running one) plus a
    virtual travel document. ``start()`` returns the reader name for the driver's
    ``reader`` setting; ``trust_store`` (a file path) receives the test CSCA certificate;
    ``link_kbps`` paces the card as an ISO 14443 link (e.g. 424); other keyword options go
    to the card (VirtualTravelDocument)."""

    def __init__(
        self,
        *,
        port: int = DEFAULT_PORT,
        trust_store: str = "",
        reuse_running_pcscd: bool = True,
        link_kbps: int | None = None,
        **card_options: Any,
    ) -> None:
        self.pki = card_options.pop("pki", None) or TestPki()
        if link_kbps is not None:  # named, so the demo / bench can pass it by settings
            card_options["link_kbps"] = link_kbps
        self.trust_store = trust_store
        self.stack = PcscStack(port=port, reuse_running=reuse_running_pcscd)
        self.card_options = card_options
        self.card: VirtualTravelDocument | None = None

    def start(self) -> str:
        reader = self.stack.start()
        if self.trust_store:
            self.pki.write_trust_store(self.trust_store)
        self.card = VirtualTravelDocument(pki=self.pki, port=self.stack.port, **self.card_options)
        self.stack.insert(self.card)
        return reader

    def insert_card(self, **options: Any) -> VirtualTravelDocument:
        """Take the document out and put another in (the next citizen's permit): the
        options of this simulator's card with ``options`` changed (e.g. ``photo``)."""
        old, self.card = self.card, None
        if old is not None:
            self.stack.remove(old)
        self.card_options = {**self.card_options, **options}
        self.card = VirtualTravelDocument(pki=self.pki, port=self.stack.port, **self.card_options)
        self.stack.insert(self.card)
        return self.card

    def stop(self) -> None:
        card, self.card = self.card, None
        if card is not None:
            try:
                self.stack.remove(card)  # returns once pcscd has seen the card go
            except PcscStackError as exc:
                log.warning("virtual card removal not confirmed: %s", exc)
        self.stack.stop()
