"""Dispenser wire format: every frame of devices.md section 4 byte for byte, the error table,
the driver's handshake against a scripted device on a real pty, and property tests of the
frame scanners and reply parsers (random, truncated and corrupted input)."""

from __future__ import annotations

import contextlib
import os
import select
import threading
import tty

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.base import (
    ConfigurationError,
    DeviceError,
    MediaError,
    ProtocolError,
    Recovery,
)
from devices.dispenser import CardPosition, InitMode, StackerLevel
from devices.drivers import crt591, k720
from devices.drivers.dispenser_framing import CorruptFrame, Frame, bcc, encode

PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# --- golden frames (devices.md section 4) ---------------------------------------------------

CRT_COMMANDS = [
    ("init, card to gate", crt591.INIT[InitMode.CARD_TO_GATE], "F2 00 00 03 43 30 30 03 B1"),
    ("init, capture", crt591.INIT[InitMode.CAPTURE_TO_BIN], "F2 00 00 03 43 30 31 03 B0"),
    ("init, no move", crt591.INIT[InitMode.NO_MOVE], "F2 00 00 03 43 30 33 03 B2"),
    ("status", crt591.STATUS, "F2 00 00 03 43 31 30 03 B0"),
    ("sensor status", crt591.SENSORS, "F2 00 00 03 43 31 31 03 B1"),
    ("dispense to gate", crt591.DISPENSE_TO_GATE, "F2 00 00 03 43 32 30 03 B3"),
    ("move to IC", crt591.MOVE_TO_IC, "F2 00 00 03 43 32 31 03 B2"),
    ("move to RF", crt591.MOVE_TO_RF, "F2 00 00 03 43 32 32 03 B1"),
    ("capture to bin", crt591.CAPTURE, "F2 00 00 03 43 32 33 03 B0"),
    ("eject", crt591.EJECT, "F2 00 00 03 43 32 39 03 BA"),
]


@pytest.mark.parametrize(("name", "cmpm", "frame"), CRT_COMMANDS, ids=[c[0] for c in CRT_COMMANDS])
def test_crt591_command_frames_match_the_reference(
    name: str, cmpm: tuple[int, int], frame: str
) -> None:
    assert crt591.command_frame(*cmpm) == h(frame)


POSITIVE_EXAMPLE = "F2 00 00 06 50 31 30 30 32 30 03 94"
NEGATIVE_EXAMPLE = "F2 00 00 05 4E 32 31 41 30 03 C8"


def scan_one(scanner_bytes: bytes, scanner: object) -> Frame:
    items = scanner.feed(scanner_bytes)  # type: ignore[attr-defined]
    assert len(items) == 1 and isinstance(items[0], Frame), items
    return items[0]


def test_crt591_positive_reply_example() -> None:
    frame = scan_one(h(POSITIVE_EXAMPLE), crt591.new_scanner())
    reply = crt591.parse_reply(frame)
    assert reply.positive and (reply.cm, reply.pm) == (0x31, 0x30)
    assert reply.status is not None
    assert reply.status.position is CardPosition.NONE
    assert reply.status.stacker is StackerLevel.ENOUGH
    assert reply.status.bin_full is False
    assert crt591.positive_frame(0x31, 0x30, b"020") == h(POSITIVE_EXAMPLE)


def test_crt591_negative_reply_example_is_stacker_empty() -> None:
    frame = scan_one(h(NEGATIVE_EXAMPLE), crt591.new_scanner())
    reply = crt591.parse_reply(frame)
    assert not reply.positive and reply.error == "A0"
    error = crt591.error_for(reply.error)
    assert isinstance(error, MediaError)
    assert (error.code, error.recovery) == ("dispenser.stacker_empty", Recovery.CLEAR)
    assert crt591.negative_frame(0x32, 0x31, "A0") == h(NEGATIVE_EXAMPLE)


def test_crt591_negative_reply_with_e_byte() -> None:
    raw = crt591.negative_frame(0x32, 0x30, "10", kind=0x45)
    reply = crt591.parse_reply(scan_one(raw, crt591.new_scanner()))
    assert reply.error == "10"


ERROR_TABLE = [
    ("00", "dispenser.undefined_command", ProtocolError, Recovery.RESET),
    ("01", "dispenser.parameter", ProtocolError, Recovery.RESET),
    ("02", "dispenser.sequence", DeviceError, Recovery.RESET),
    ("03", "dispenser.unsupported", ConfigurationError, Recovery.CONFIGURATION),
    ("04", "dispenser.data", ProtocolError, Recovery.RESET),
    ("10", "dispenser.jam", MediaError, Recovery.CLEAR),
    ("12", "dispenser.sensor", DeviceError, Recovery.MAINTENANCE),
    ("16", "dispenser.card_moved", MediaError, Recovery.RESET),
    ("45", "dispenser.card_moved", MediaError, Recovery.RESET),
    ("40", "dispenser.card_pulled", MediaError, Recovery.RESET),
    ("50", "dispenser.counter_overflow", DeviceError, Recovery.MAINTENANCE),
    ("51", "dispenser.motor", DeviceError, Recovery.MAINTENANCE),
    ("63", "dispenser.ic.63", DeviceError, Recovery.RESET),
    ("A0", "dispenser.stacker_empty", MediaError, Recovery.CLEAR),
    ("A1", "dispenser.bin_full", MediaError, Recovery.CLEAR),
    ("B0", "dispenser.not_initialised", DeviceError, Recovery.RESET),
    ("C7", "dispenser.e.C7", DeviceError, Recovery.RESET),
]


@pytest.mark.parametrize(("code", "stable", "cls", "recovery"), ERROR_TABLE)
def test_crt591_error_codes_map_to_stable_codes(
    code: str, stable: str, cls: type[DeviceError], recovery: Recovery
) -> None:
    error = crt591.error_for(code)
    assert type(error) is cls
    assert error.code == stable and error.recovery is recovery
    assert code in str(error)


def test_k720_reference_frames() -> None:
    assert k720.command_frame(k720.STATUS) == h("02 30 30 00 02 41 50 03 12")
    assert k720.command_frame(k720.DISPENSE) == h("02 30 30 00 02 44 43 03 04")


def test_k720_status_frame_round_trip() -> None:
    raw = k720.status_frame((k720.S0_DISPENSE_FAILED, k720.S1_JAM, k720.S2_IN_CHANNEL, 1))
    assert raw[5:12] == b"SF4121\x03"
    assert raw[-1] == bcc(raw[:-1])
    status = k720.parse_status(scan_one(raw, k720.new_scanner()))
    assert status.position is CardPosition.CHANNEL
    assert status.stacker is StackerLevel.LOW
    assert status.failure(k720.S0_DISPENSE_FAILED) is not None
    assert status.failure(k720.S0_DISPENSE_FAILED).value == "dispenser.jam"  # type: ignore[union-attr]


# --- the driver's bytes on a real pty, against a scripted device -----------------------------


class ScriptedLine:
    """The device end of a pty, driven step by step by the test."""

    def __init__(self) -> None:
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.slave = slave
        self.path = os.ttyname(slave)

    def expect(self, count: int, timeout_s: float = 30.0) -> bytes:
        data = b""
        while len(data) < count:
            ready, _, _ = select.select([self.master], [], [], timeout_s)
            assert ready, f"timed out after {data.hex(' ')}"
            data += os.read(self.master, count - len(data))
        return data

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


def test_crt591_driver_handshake_is_byte_exact() -> None:
    line = ScriptedLine()
    driver = crt591.Crt591Dispenser("dispenser", port=line.path)
    driver.open()
    result: dict[str, object] = {}
    worker = threading.Thread(target=lambda: result.update(status=driver.read_status()))
    try:
        worker.start()
        assert line.expect(9) == h("F2 00 00 03 43 31 30 03 B0")
        line.send(h("15"))  # NAK: the host must send the same frame again
        assert line.expect(9) == h("F2 00 00 03 43 31 30 03 B0")
        line.send(h("06"))
        corrupt = bytearray(h(POSITIVE_EXAMPLE))
        corrupt[-1] ^= 0xFF
        line.send(bytes(corrupt))
        assert line.expect(1) == h("15")  # bad BCC: the host asks again
        line.send(h(POSITIVE_EXAMPLE))
        assert line.expect(1) == h("06")  # the host acknowledges the reply
        worker.join(timeout=30)
    finally:
        driver.close()
        line.close()
    status = result["status"]
    assert status.stacker is StackerLevel.ENOUGH  # type: ignore[attr-defined]
    assert driver.statistics()["resends"] == 2


def test_k720_driver_handshake_is_byte_exact() -> None:
    line = ScriptedLine()
    driver = k720.K720Dispenser("dispenser", port=line.path)
    driver.open()
    result: dict[str, object] = {}
    worker = threading.Thread(target=lambda: result.update(status=driver.read_status()))
    try:
        worker.start()
        assert line.expect(9) == h("02 30 30 00 02 41 50 03 12")
        line.send(h("06 30 30"))
        assert line.expect(3) == h("05 30 30")  # ENQ: execute
        line.send(k720.status_frame((0, 0, k720.S2_AT_GATE, 0)))
        worker.join(timeout=30)
    finally:
        driver.close()
        line.close()
    assert result["status"].position is CardPosition.GATE  # type: ignore[attr-defined]


# --- property tests ----------------------------------------------------------------------------

crt_replies = st.one_of(
    st.builds(
        lambda cm, pm, st0, st1, st2, data: crt591.positive_frame(
            cm, pm, bytes([st0, st1, st2]), data
        ),
        st.integers(0x30, 0x32),
        st.integers(0x30, 0x39),
        st.sampled_from(b"012"),
        st.sampled_from(b"012"),
        st.sampled_from(b"01"),
        st.binary(max_size=12),
    ),
    st.builds(
        crt591.negative_frame,
        st.integers(0x30, 0x32),
        st.integers(0x30, 0x39),
        st.sampled_from(sorted(crt591.ERRORS)),
    ),
)
k720_replies = st.builds(
    lambda bits: k720.status_frame(tuple(bits)),  # type: ignore[arg-type]
    st.lists(st.integers(0, 15), min_size=4, max_size=4),
)


def parse_all_crt(items: list[Frame | CorruptFrame]) -> None:
    for item in items:
        if isinstance(item, Frame):
            with contextlib.suppress(ProtocolError):
                crt591.parse_reply(item)


def parse_all_k720(items: list[Frame | CorruptFrame]) -> None:
    for item in items:
        if isinstance(item, Frame):
            with contextlib.suppress(ProtocolError):
                k720.parse_status(item)


@PROPS
@given(noise=st.binary(max_size=200), reply=crt_replies)
def test_crt591_scanner_resynchronises_after_garbage(noise: bytes, reply: bytes) -> None:
    scanner = crt591.new_scanner()
    parse_all_crt(scanner.feed(noise))
    items = scanner.feed(reply)
    frames = [i for i in items if isinstance(i, Frame)]
    assert frames and frames[-1].raw == reply
    crt591.parse_reply(frames[-1])  # a valid reply parses


@PROPS
@given(reply=crt_replies, cut=st.integers(0, 40), next_reply=crt_replies)
def test_crt591_truncated_frame_then_valid_frame(reply: bytes, cut: int, next_reply: bytes) -> None:
    scanner = crt591.new_scanner()
    truncated = reply[: min(cut, len(reply) - 1)]
    frames = [i for i in scanner.feed(truncated) + scanner.feed(next_reply) if isinstance(i, Frame)]
    if truncated == reply[:-1] and reply[-1] == crt591.STX:
        # Inherent to the framing: a frame cut just before a BCC that equals STX is completed
        # by the next frame's STX, which loses that frame; the one after it comes through.
        assert frames and frames[-1].raw == reply
        frames = [i for i in scanner.feed(next_reply) if isinstance(i, Frame)]
    assert frames and frames[-1].raw == next_reply


def test_crt591_frame_cut_before_an_stx_valued_bcc() -> None:
    # Found by the property above: BCC F2, cut before it, then a valid frame.
    reply = crt591.positive_frame(0x30, 0x30, b"020", b"T\x84\x87\xd8\xe5")
    assert reply[-1] == crt591.STX
    next_reply = crt591.positive_frame(0x31, 0x30, b"020")
    test_crt591_truncated_frame_then_valid_frame.hypothesis.inner_test(  # type: ignore[attr-defined]
        reply, len(reply) - 1, next_reply
    )


@PROPS
@given(reply=crt_replies, data=st.data(), next_reply=crt_replies)
def test_crt591_corrupted_frame_is_never_accepted(
    reply: bytes, data: st.DataObject, next_reply: bytes
) -> None:
    index = data.draw(st.integers(0, len(reply) - 1))
    flip = data.draw(st.integers(1, 255))
    corrupted = bytearray(reply)
    corrupted[index] ^= flip
    scanner = crt591.new_scanner()
    items = scanner.feed(bytes(corrupted)) + scanner.feed(next_reply)
    parse_all_crt(items)
    frames = [i for i in items if isinstance(i, Frame)]
    # A single flipped byte always breaks the XOR check: the corrupted frame never gets through.
    assert all(f.raw != bytes(corrupted) for f in frames)
    assert frames and frames[-1].raw == next_reply


@PROPS
@given(chunks=st.lists(st.binary(max_size=40), max_size=12))
def test_crt591_parser_raises_only_protocol_errors(chunks: list[bytes]) -> None:
    scanner = crt591.new_scanner()
    for chunk in chunks:
        for item in scanner.feed(chunk):
            if isinstance(item, Frame):
                with contextlib.suppress(ProtocolError):
                    crt591.parse_reply(item)
    assert scanner.pending <= 4 + 512 + 2 + 40 * 12


@PROPS
@given(body=st.binary(min_size=3, max_size=20))
def test_crt591_any_well_framed_body_parses_or_raises_protocol_error(body: bytes) -> None:
    frame = scan_one(encode(crt591.STX, b"\x00", body), crt591.new_scanner())
    try:
        reply = crt591.parse_reply(frame)
    except ProtocolError:
        return
    assert reply.positive == (body[0] == crt591.POSITIVE)


@PROPS
@given(noise=st.binary(max_size=200), reply=k720_replies, cut=st.integers(0, 12))
def test_k720_scanner_resynchronises(noise: bytes, reply: bytes, cut: int) -> None:
    scanner = k720.new_scanner()
    items = scanner.feed(noise) + scanner.feed(reply[:cut]) + scanner.feed(reply)
    parse_all_k720(items)
    frames = [i for i in items if isinstance(i, Frame)]
    assert frames and frames[-1].raw == reply
    k720.parse_status(frames[-1])


@PROPS
@given(body=st.binary(min_size=2, max_size=12))
def test_k720_status_parser_raises_only_protocol_errors(body: bytes) -> None:
    frame = scan_one(encode(k720.STX, b"00", body), k720.new_scanner())
    try:
        status = k720.parse_status(frame)
    except ProtocolError:
        return
    assert body[:2] == b"SF" and status.dispenser_status() is not None
