from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from kiosk.core.session import Session


def test_wipe_overwrites_buffers_and_forgets_everything() -> None:
    session = Session("photo", datetime.now(UTC))
    photo = bytearray(b"\xff\xd8 jpeg bytes")
    frame = np.full((4, 4, 3), 200, dtype=np.uint8)
    session.put("photo", photo)
    session.put("frames", [frame])
    session.put("idcard", {"id_number": "11010519491231002X", "raw": bytearray(b"abc")})
    session.wipe("done")
    assert photo == bytearray(len(photo))
    assert not frame.any()
    assert session.keys() == []
    assert session.ended_reason == "done"
    with pytest.raises(RuntimeError):
        session.put("again", 1)


def test_replacing_a_value_scrubs_the_old_one() -> None:
    session = Session("photo", datetime.now(UTC))
    first = bytearray(b"first")
    session.put("photo", first)
    session.put("photo", bytearray(b"second"))
    assert first == bytearray(5)


def test_unknown_reason_is_refused() -> None:
    with pytest.raises(ValueError):
        Session("photo", datetime.now(UTC)).wipe("bored")
