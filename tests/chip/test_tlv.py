"""BER-TLV reader / DER writer: round trips and random bytes."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.icao import lds, sod, tlv
from devices.icao.errors import MrzInvalid, TlvError

SETTINGS = settings(max_examples=200, deadline=None)


def test_lengths_and_tags() -> None:
    assert tlv.encode(0x5F1F, b"AB") == bytes.fromhex("5F1F024142")
    assert tlv.encode_length(0x7F) == b"\x7f"
    assert tlv.encode_length(0x80) == b"\x81\x80"
    assert tlv.encode_length(0x1234) == b"\x82\x12\x34"
    assert tlv.header_size(bytes.fromhex("7582ABCD")) == (4, 0xABCD)
    with pytest.raises(TlvError):
        tlv.decode(bytes.fromhex("6180"))  # indefinite length
    with pytest.raises(TlvError):
        tlv.decode(bytes.fromhex("610301"))  # truncated value
    with pytest.raises(TlvError):
        tlv.decode(bytes.fromhex("5FFFFFFF01"))  # endless tag


def test_oid_round_trip() -> None:
    for dotted in ("2.23.136.1.1.1", "1.2.840.113549.1.7.2", "2.999.3", "0.9.2342"):
        encoded = tlv.oid(dotted)
        assert tlv.parse_oid(tlv.decode(encoded).value) == dotted


tags = st.sampled_from([0x04, 0x30, 0x5C, 0x60, 0x5F1F, 0x7F61, 0x7F2E, 0x87])


@SETTINGS
@given(st.lists(st.tuples(tags, st.binary(max_size=300)), max_size=5))
def test_encode_decode_round_trip(items: list[tuple[int, bytes]]) -> None:
    data = b"".join(tlv.encode(tag, value) for tag, value in items)
    decoded = tlv.decode_all(data)
    assert [(t.tag, t.value) for t in decoded] == items


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_tlv_errors(data: bytes) -> None:
    for parse in (tlv.decode, tlv.decode_all, tlv.header_size):
        with contextlib.suppress(TlvError):
            parse(data)


@SETTINGS
@given(st.binary(max_size=400), st.sampled_from([0x60, 0x61, 0x75, 0x77]))
def test_random_file_contents_raise_only_layer_errors(body: bytes, tag: int) -> None:
    data = tlv.encode(tag, body) if body[:1] != b"\x00" else body
    for parse in (lds.parse_com, lds.parse_dg1, lds.parse_dg2, sod.parse_sod):
        with contextlib.suppress(TlvError, MrzInvalid):
            parse(data)


@SETTINGS
@given(st.binary(min_size=1, max_size=60))
def test_random_oid_bodies(body: bytes) -> None:
    try:
        dotted = tlv.parse_oid(body)
    except TlvError:
        return
    assert tlv.parse_oid(tlv.decode(tlv.oid(dotted)).value) == dotted
