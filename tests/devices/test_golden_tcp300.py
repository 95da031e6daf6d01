"""Byte-exact TCP300II frames (the published examples of the manual), the block scanner, the
sensor string, the status table and the raster encoding (checked against an independent
decoder written here)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from devices import tcp300 as wire
from devices.base import MediaError, ProtocolError, Recovery
from devices.drivers.tcp300 import _raise_for
from devices.rewriter import PRINT_HEIGHT, PRINT_WIDTH, CardPlace


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def test_published_command_frames() -> None:
    # The manual prints these blocks with their BCC (3-4: XOR from the command to ETX).
    assert wire.command_frame(wire.Command.STATUS) == h("02 59 03 5A")
    assert wire.command_frame(wire.Command.ROM_VERSION) == h("02 58 03 5B")
    assert wire.command_frame(wire.Command.REAR_IDLE) == h("02 51 03 52")
    assert wire.command_frame(wire.Command.CANCEL_WAIT) == h("02 54 03 57")
    assert wire.command_frame(wire.Command.BUFFER_CLEAR) == h("02 49 03 4A")
    assert wire.command_frame(0x40) == h("02 40 03 43")  # print expansion buffer clear


def test_operation_frames() -> None:
    erase_print = wire.command_frame(wire.Command.ERASE_PRINT, wire.params("0", 1, 1))
    assert erase_print == h("02 46 30 2C 31 2C 31 03 75")
    erase_only = wire.command_frame(wire.Command.ERASE_PRINT, wire.params("0", 1, 0))
    assert erase_only == h("02 46 30 2C 31 2C 30 03 74")
    assert wire.command_frame(wire.Command.DISCHARGE, b"1") == h("02 50 31 03 62")
    assert wire.command_frame(wire.Command.DISCHARGE, b"2") == h("02 50 32 03 61")
    assert wire.command_frame(wire.Command.RESET) == h("02 5F 03 5C")
    assert wire.reply_frame(0x59, 0x20, b"000000") == h("02 59 20 30 30 30 30 30 30 03 7A")
    with pytest.raises(ProtocolError):
        wire.command_frame(0x4D, b"0" * 1025)


def test_scanner_splits_handshake_and_blocks() -> None:
    reply = wire.reply_frame(0x59, 0x20, b"240000")  # its BCC happens to be a control byte?
    stream = b"\x00\xff" + bytes([wire.ACK]) + reply + b"\x7f" + bytes([wire.NAK, wire.DLE])
    items = wire.BlockScanner().feed(stream)
    assert items == [
        wire.Control(wire.ACK),
        wire.Block(reply[1:-2]),
        wire.Control(wire.NAK),
        wire.Control(wire.DLE),
    ]
    corrupt = reply[:-1] + bytes([reply[-1] ^ 1])
    assert isinstance(wire.BlockScanner().feed(corrupt)[0], wire.CorruptBlock)


def test_bcc_equal_to_a_control_byte_is_still_a_bcc() -> None:
    # Find a reply whose BCC is ACK: the scanner must not read it as a handshake byte.
    for status in range(0x20, 0x7F):
        frame = wire.reply_frame(0x59, status, b"000000")
        if frame[-1] == wire.ACK:
            break
    else:  # pragma: no cover - the search space always holds one
        pytest.fail("no frame with BCC 06")
    assert wire.BlockScanner().feed(frame) == [wire.Block(frame[1:-2])]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.integers(1, 50))
def test_scanner_survives_noise_and_any_split(noise: bytes, cut: int) -> None:
    reply = wire.reply_frame(0x46, 0x20)
    stream = noise + reply
    whole = wire.BlockScanner().feed(stream)
    scanner = wire.BlockScanner()
    assert scanner.feed(stream[:cut]) + scanner.feed(stream[cut:]) == whole
    if wire.STX not in noise:  # noise that opens no block cannot hide the reply
        assert whole[-1] == wire.Block(reply[1:-2])


def test_sensor_string() -> None:
    sensors = wire.Sensors.decode(b"000100")
    assert sensors.rear and sensors.place is CardPlace.CHIP
    assert wire.Sensors.decode(b"200000").place is CardPlace.SLOT
    assert wire.Sensors.decode(b"010000").place is CardPlace.FRONT
    assert wire.Sensors.decode(b"001000").place is CardPlace.CHANNEL
    assert wire.Sensors.decode(b"000010").cover_open
    assert wire.Sensors(1, False, False, False, True).encode() == b"100010"
    with pytest.raises(ProtocolError):
        wire.Sensors.decode(b"30000")


@pytest.mark.parametrize(
    ("code", "error", "recovery"),
    [
        (0x22, "rewriter.no_card", Recovery.NONE),
        (0x23, "rewriter.card_reversed", Recovery.NONE),
        (0x38, "rewriter.jam", Recovery.CLEAR),
        (0x40, "rewriter.cover_open", Recovery.CLEAR),
        (0x41, "rewriter.invalid_command", Recovery.RESET),
        (0x42, "rewriter.motor", Recovery.MAINTENANCE),
        (0x43, "rewriter.erase_head", Recovery.MAINTENANCE),
        (0x45, "rewriter.memory", Recovery.MAINTENANCE),
        (0x46, "rewriter.print_head", Recovery.MAINTENANCE),
        (0x47, "rewriter.film", Recovery.NONE),
        (0x4C, "rewriter.bad_image", Recovery.NONE),
        (0x51, "rewriter.image_too_large", Recovery.NONE),
        (0x7A, "rewriter.e.7A", Recovery.RESET),
    ],
)
def test_status_codes(code: int, error: str, recovery: Recovery) -> None:
    with pytest.raises(Exception) as info:
        _raise_for(code)
    assert info.value.code == error and info.value.recovery is recovery  # type: ignore[attr-defined]
    if code in (0x38, 0x40):
        assert isinstance(info.value, MediaError)
    _raise_for(0x20)


def test_raster_commands_for_known_dots() -> None:
    image = Image.new("1", (PRINT_WIDTH, PRINT_HEIGHT), 1)
    image.putpixel((0, 0), 0)  # top-left dot: byte row 0, bit 0
    for y in range(8, 24):  # a 16-dot line in column 5: byte rows 1 and 2
        image.putpixel((5, y), 0)
    image.putpixel((479, 319), 0)  # bottom-right dot: byte row 39, bit 7
    assert wire.image_commands(image) == [b"0,0,3,010000", b"5,0,3,00FFFF", b"479,39,1,80"]
    blank = Image.new("1", (100, 40), 1)
    assert wire.image_commands(blank) == []


def _decode(commands: list[bytes]) -> np.ndarray:
    """An independent reading of 4Dh data strings into dots."""
    dots = np.zeros((PRINT_HEIGHT, PRINT_WIDTH), dtype=bool)
    for command in commands:
        assert len(command) <= wire.MAX_DATA
        x, y, length, data = wire.parse_image_command(command)
        for column in range(len(data) // length):
            for row in range(length):
                byte = data[column * length + row]
                for bit in range(8):
                    if byte >> bit & 1:
                        dots[8 * (y + row) + bit, x + column] = True
    return dots


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.0, 0.6))
def test_raster_commands_reproduce_any_image(seed: int, density: float) -> None:
    rng = np.random.default_rng(seed)
    dots = rng.random((PRINT_HEIGHT, PRINT_WIDTH)) < density * rng.random((1, PRINT_WIDTH))
    image = Image.fromarray(np.where(dots, 0, 255).astype(np.uint8)).convert("1")
    assert (_decode(wire.image_commands(image)) == dots).all()


def test_text_sized_images_send_only_their_bands() -> None:
    image = Image.new("1", (PRINT_WIDTH, PRINT_HEIGHT), 1)
    for x in range(40, 440):
        for y in range(100, 124):
            if (x + y) % 3 == 0:
                image.putpixel((x, y), 0)
    commands = wire.image_commands(image)
    # dots 100-123 lie in byte rows 12-15: 4 rows of 400 columns, 2 hex digits a byte
    assert sum(len(c) for c in commands) < 400 * 4 * 2 + 200
