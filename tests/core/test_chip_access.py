"""Which access data the chip read uses: the permit on record that the eligibility look-up
put into the session (the flow never holds it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from devices.icao.mrz import access_from_lines
from devices.simulators.vcard import DEFAULT_MRZ
from kiosk.config import parse_config
from kiosk.core.errors import KioskError
from kiosk.core.session import Session
from kiosk.machine.devices import ChipWorker, DeviceHub
from kiosk.machine.ports import IDCARD_DATA
from kiosk.terminals.renewal.lookup import RenewalLookup
from kiosk.terminals.renewal.ports import PERMIT_ACCESS
from offline_queue.central_client import Eligibility, PermitAccess


class _Link:
    """Central answering the eligibility look-up with the permit on record."""

    def __init__(self, permit: PermitAccess | None) -> None:
        self.permit = permit

    def look_up(self, what: str, ask: Any) -> Eligibility:
        return Eligibility(True, (), (), ("HK",), ("individual",), self.permit)


def _session() -> Session:
    session = Session("endorse", datetime.now())
    session.put(IDCARD_DATA, object())
    return session


def test_the_permit_on_record_goes_from_central_into_the_session() -> None:
    session = _session()
    lookup = RenewalLookup(_Link(PermitAccess("C12345678", "900101", "300101")))
    with pytest.raises(KioskError):  # no ID card read: no look-up at all
        lookup.eligibility(Session("endorse", datetime.now()))
    session.put(IDCARD_DATA, type("Card", (), {"id_number": "x"})())
    assert lookup.eligibility(session).permit_on_record
    assert session.get(PERMIT_ACCESS) == access_from_lines(DEFAULT_MRZ)


def test_a_permit_with_unusable_access_data_leaves_none_for_the_chip() -> None:
    session = _session()
    session.put(IDCARD_DATA, type("Card", (), {"id_number": "x"})())
    lookup = RenewalLookup(_Link(PermitAccess("c1234!", "900101", "300101")))
    assert lookup.eligibility(session).permit_on_record
    assert session.get(PERMIT_ACCESS) is None


def test_without_access_data_the_chip_is_not_even_tried() -> None:
    config = parse_config({"kiosk": {"id": "TEST-1", "terminal": "renewal"}})
    worker = ChipWorker(DeviceHub(config, lambda event: None))
    session = Session("endorse", datetime.now())
    with pytest.raises(KioskError) as caught:
        worker.read(PERMIT_ACCESS, session)
    assert caught.value.code == "chip.no_access_data"
