"""Which access data the chip read uses: scanned MRZ lines, or the permit on record that a
central look-up put into the session (the flow never holds it)."""

from __future__ import annotations

from datetime import datetime

import pytest

from devices.icao.mrz import access_from_lines
from devices.simulators.vcard import DEFAULT_MRZ
from kiosk.core.errors import KioskError
from kiosk.core.session import Session
from kiosk.machine.devices import _chip_access
from offline_queue.central_client import PermitAccess


def test_scanned_lines_win() -> None:
    assert _chip_access({"mrz": list(DEFAULT_MRZ)}, None) == access_from_lines(DEFAULT_MRZ)


def test_the_permit_on_record_comes_from_the_session() -> None:
    session = Session("endorse", datetime.now())
    session.put("permit_access", PermitAccess("C12345678", "900101", "300101"))
    access = _chip_access({"access_session_key": "permit_access"}, session)
    assert access == access_from_lines(DEFAULT_MRZ)
    session.wipe("done")
    with pytest.raises(KioskError) as caught:
        _chip_access({"access_session_key": "permit_access"}, session)
    assert caught.value.code == "chip.no_access_data"
