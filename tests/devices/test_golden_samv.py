"""Byte-exact SAM_V frames from the shared device reference (section 1)."""

from __future__ import annotations

import pytest

from devices.samv import (
    BAUD_PARA,
    Command,
    FrameDecoder,
    command_frame,
    encode_read_data,
    parse_read_data,
    response_frame,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


@pytest.mark.parametrize(
    ("command", "frame"),
    [
        (Command.RESET, "AA AA AA 96 69 00 03 10 FF EC"),
        (Command.SAM_STATUS, "AA AA AA 96 69 00 03 11 FF ED"),
        (Command.SAM_ID, "AA AA AA 96 69 00 03 12 FF EE"),
        (Command.FIND_CARD, "AA AA AA 96 69 00 03 20 01 22"),
        (Command.SELECT_CARD, "AA AA AA 96 69 00 03 20 02 21"),
        (Command.READ_TEXT_PHOTO, "AA AA AA 96 69 00 03 30 01 32"),
        (Command.READ_APPENDED_ADDRESS, "AA AA AA 96 69 00 03 30 03 30"),
        (Command.READ_CHIP_NUMBER, "AA AA AA 96 69 00 03 30 05 36"),
        (Command.READ_TEXT_PHOTO_FINGERPRINT, "AA AA AA 96 69 00 03 30 10 23"),
    ],
)
def test_command_frames(command: Command, frame: str) -> None:
    assert command_frame(command) == h(frame)


def test_set_baud_frames() -> None:
    from devices.samv import encode_frame

    assert encode_frame(bytes([0x60, BAUD_PARA[115_200]])) == h("AA AA AA 96 69 00 03 60 00 63")
    assert encode_frame(bytes([0x60, BAUD_PARA[9_600]])) == h("AA AA AA 96 69 00 03 60 04 67")


@pytest.mark.parametrize(
    ("sw3", "data", "frame"),
    [
        (0x90, b"", "AA AA AA 96 69 00 04 00 00 90 94"),
        (0x9F, bytes(4), "AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97"),
        (0x80, b"", "AA AA AA 96 69 00 04 00 00 80 84"),
        (0x90, bytes(8), "AA AA AA 96 69 00 0C 00 00 90" + " 00" * 8 + " 9C"),
        (0x41, b"", "AA AA AA 96 69 00 04 00 00 41 45"),
    ],
)
def test_response_frames_encode_and_decode(sw3: int, data: bytes, frame: str) -> None:
    assert response_frame(sw3, data) == h(frame)
    decoder = FrameDecoder()
    decoder.feed(h(frame))
    decoded = decoder.next_frame()
    assert decoded is not None
    assert (decoded.sw3, decoded.data) == (sw3, data)
    assert decoder.next_frame() is None


def test_read_answer_is_1295_bytes_with_length_prefixes() -> None:
    text, photo = bytes(range(256)), bytes(1024)
    frame = response_frame(0x90, encode_read_data(text, photo))
    assert len(frame) == 1295
    assert frame[:14] == h("AA AA AA 96 69 05 08 00 00 90 01 00 04 00")
    decoder = FrameDecoder()
    decoder.feed(frame)
    decoded = decoder.next_frame()
    assert decoded is not None
    read = parse_read_data(decoded.data)
    assert (read.text, read.photo) == (text, photo)


def test_read_with_fingerprint_is_2321_bytes() -> None:
    frame = response_frame(0x90, encode_read_data(bytes(256), bytes(1024), bytes(1024)))
    assert len(frame) == 2321
    assert frame[:16] == h("AA AA AA 96 69 09 0A 00 00 90 01 00 04 00 04 00")
    decoder = FrameDecoder()
    decoder.feed(frame)
    decoded = decoder.next_frame()
    assert decoded is not None
    assert len(parse_read_data(decoded.data, with_fingerprint=True).fingerprint) == 1024
