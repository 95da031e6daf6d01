"""Property-based tests of the byte parsers: random, truncated and corrupted input may only
produce the layer's ProtocolError, and the SAM parser finds the next valid frame."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from devices import escpos
from devices.base import ProtocolError
from devices.idcard import CardDataError
from devices.idcard_text import parse_text_block
from devices.printer import Receipt, TextLine
from devices.samv import PREAMBLE, Frame, FrameDecoder, response_frame
from devices.simulators.escpos import EscPosParser, PrinterState

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

answers = st.builds(
    response_frame,
    st.sampled_from([0x90, 0x9F, 0x80, 0x41, 0x81, 0x10, 0x60]),
    st.binary(max_size=64),
)
# Noise rich in preamble bytes, so false starts are common: every proper prefix of the
# preamble, and bytes between. A full preamble in noise can start a bogus frame whose one-byte
# XOR checksum happens to match (1 in 256), which the protocol cannot reject; it is left out
# here (a bogus header with a failing checksum is covered by the corrupted-frame test).
noise = st.lists(
    st.one_of(
        st.binary(max_size=12),
        st.sampled_from([PREAMBLE[:k] for k in range(1, len(PREAMBLE))]),
    ),
    max_size=6,
).map(b"".join)


def drain(decoder: FrameDecoder) -> tuple[list[Frame], int]:
    frames, errors = [], 0
    for _ in range(10_000):
        try:
            frame = decoder.next_frame()
        except ProtocolError:
            errors += 1
            continue
        if frame is None:
            break
        frames.append(frame)
    return frames, errors


def feed_in_chunks(decoder: FrameDecoder, data: bytes, cuts: list[int]) -> list[Frame]:
    frames: list[Frame] = []
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for start, end in itertools.pairwise(points):
        decoder.feed(data[start:end])
        frames.extend(drain(decoder)[0])
    return frames


@SETTINGS
@given(st.binary(max_size=600), st.lists(st.integers(0, 600), max_size=8))
def test_random_bytes_only_raise_protocol_error(data: bytes, cuts: list[int]) -> None:
    decoder = FrameDecoder()
    feed_in_chunks(decoder, data, cuts)  # ProtocolError is caught inside; nothing else may escape
    assert decoder.buffered <= len(data)


@SETTINGS
@given(noise, answers, st.lists(st.integers(0, 200), max_size=6))
def test_resynchronises_on_next_valid_frame(garbage: bytes, answer: bytes, cuts: list[int]) -> None:
    # Pieces can still join into a full preamble (rarely: random bytes must complete it).
    assume(PREAMBLE not in garbage)
    decoder = FrameDecoder()
    frames = feed_in_chunks(decoder, garbage + answer, cuts)
    assert frames, "the valid frame after the noise was not found"
    assert frames[-1].payload == answer[7:-1]


@SETTINGS
@given(answers, st.integers(1, 10_000), st.integers(0, 255), answers)
def test_corrupted_frame_is_dropped_and_next_one_found(
    first: bytes, position: int, flip: int, second: bytes
) -> None:
    corrupted = bytearray(first)
    index = position % len(corrupted)
    corrupted[index] ^= flip or 1
    decoder = FrameDecoder()
    decoder.feed(bytes(corrupted) + second)
    frames, _ = drain(decoder)
    assert frames and frames[-1].payload == second[7:-1]


@SETTINGS
@given(answers, st.integers(0, 10_000))
def test_truncated_frame_yields_nothing_then_recovers(answer: bytes, cut: int) -> None:
    decoder = FrameDecoder()
    decoder.feed(answer[: cut % len(answer)])
    assert drain(decoder)[0] == []
    decoder.reset()
    decoder.feed(answer)
    assert [f.payload for f in drain(decoder)[0]] == [answer[7:-1]]


@SETTINGS
@given(st.binary(min_size=4, max_size=4))
def test_printer_status_parser(raw: bytes) -> None:
    try:
        status = escpos.decode_status(raw)
    except ProtocolError:
        assert any(b & 0x93 != 0x12 for b in raw)
        return
    assert status.raw == raw
    again = escpos.decode_status(escpos.encode_status(status))
    assert dataclasses.replace(again, raw=raw) == status


@SETTINGS
@given(st.binary(max_size=8))
def test_printer_status_wrong_length_is_protocol_error(raw: bytes) -> None:
    if len(raw) == 4:
        return
    try:
        escpos.decode_status(raw)
    except ProtocolError:
        return
    raise AssertionError("accepted a status of the wrong length")


@SETTINGS
@given(st.binary(min_size=256, max_size=256))
def test_text_block_parser_rejects_garbage_cleanly(block: bytes) -> None:
    with contextlib.suppress(CardDataError):
        parse_text_block(block)


@SETTINGS
@given(st.binary(max_size=400), st.lists(st.integers(0, 400), max_size=6))
def test_printer_simulator_parser_takes_any_stream(data: bytes, cuts: list[int]) -> None:
    state = PrinterState()
    parser = EscPosParser(state)
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    for start, end in itertools.pairwise(points):
        for query in parser.feed(data[start:end]):
            assert 1 <= query & 0xFF <= 255


printable = st.text(
    alphabet=st.characters(
        codec="utf-8", categories=("Lu", "Ll", "Lo", "Nd", "Zs", "Po"), exclude_characters="\x85"
    ),
    min_size=0,
    max_size=60,
)


@SETTINGS
@given(st.lists(printable, min_size=1, max_size=6), st.integers(16, 64))
def test_encoder_and_printer_parser_agree(texts: list[str], columns: int) -> None:
    receipt = Receipt(title="T", items=tuple(TextLine(t) for t in texts))
    data, _ = escpos.encode_receipt(receipt, columns)
    state = PrinterState()
    EscPosParser(state).feed(data)
    printed = [i for i in state.printed if i.kind in ("text", "feed")]
    lines = [i.text for i in printed[1:] if i.kind == "text" or i.height == 1]
    assert "".join(lines) == "".join(texts)
    assert all(escpos.display_width(line) <= columns for line in lines)
