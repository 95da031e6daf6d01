from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from kiosk.core.session import Session, Slot

PHOTO: Slot[bytearray] = Slot("photo")
FRAMES: Slot[list[np.ndarray]] = Slot("frames")
CARD: Slot[dict[str, object]] = Slot("idcard")


def test_wipe_overwrites_buffers_and_forgets_everything() -> None:
    session = Session("photo", datetime.now(UTC))
    photo = bytearray(b"\xff\xd8 jpeg bytes")
    frame = np.full((4, 4, 3), 200, dtype=np.uint8)
    session.put(PHOTO, photo)
    session.put(FRAMES, [frame])
    session.put(CARD, {"id_number": "11010519491231002X", "raw": bytearray(b"abc")})
    session.wipe("done")
    assert photo == bytearray(len(photo))
    assert not frame.any()
    assert session.keys() == []
    assert session.ended_reason == "done"
    with pytest.raises(RuntimeError):
        session.put(PHOTO, bytearray(1))


def test_replacing_a_value_scrubs_the_old_one() -> None:
    session = Session("photo", datetime.now(UTC))
    first = bytearray(b"first")
    session.put(PHOTO, first)
    session.put(PHOTO, bytearray(b"second"))
    assert first == bytearray(5)


def test_unknown_reason_is_refused() -> None:
    with pytest.raises(ValueError):
        Session("photo", datetime.now(UTC)).wipe("bored")


def test_a_capture_holding_its_own_buffers_is_scrubbed_with_the_session() -> None:
    from kiosk.terminals.photo.service import CAPTURES, Capture

    session = Session("photo", datetime.now(UTC))
    jpeg = bytearray(b"\xff\xd8 the citizen's face")
    session.put(CAPTURES, [Capture(assessment=None, jpeg=jpeg)])
    session.wipe("idle_timeout")
    assert jpeg == bytearray(len(jpeg)) and session.get(CAPTURES) is None
