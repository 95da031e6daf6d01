"""Random line noise before real answers, over a real pty: drivers either read correctly or
raise the layer's ProtocolError, and the next exchange on a clean line succeeds."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.base import ProtocolError
from devices.idcard import CardType
from devices.printer import PaperState
from devices.samv import PREAMBLE
from devices.simulators.cards import sample_card
from tests.devices.rigs import EscPosRig, SamRig, escpos_rig, sam_rig

NOISE = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
noise = st.lists(
    st.one_of(st.binary(min_size=1, max_size=24), st.just(PREAMBLE), st.just(b"\x12\x12")),
    min_size=1,
    max_size=4,
).map(b"".join)


@pytest.fixture(scope="module")
def sam() -> Iterator[SamRig]:
    with sam_rig() as rig:
        rig.driver.open(timeout_s=2.0)
        yield rig


@pytest.fixture(scope="module")
def printer() -> Iterator[EscPosRig]:
    with escpos_rig() as rig:
        rig.driver.open(timeout_s=2.0)
        yield rig


@NOISE
@given(garbage=noise)
def test_sam_driver_survives_noise(sam: SamRig, garbage: bytes) -> None:
    card = sample_card(CardType.HMT_RESIDENCE_PERMIT)
    sam.place(card)
    sam.sim.inject_garbage(garbage)
    with contextlib.suppress(ProtocolError):
        assert sam.driver.card_present(timeout_s=1.0) is True
    assert sam.driver.read_card(timeout_s=2.0) == card


@NOISE
@given(garbage=noise, near_end=st.booleans())
def test_printer_status_survives_noise(printer: EscPosRig, garbage: bytes, near_end: bool) -> None:
    printer.paper(near_end_after=0 if near_end else None)
    expected = PaperState.NEAR_END if near_end else PaperState.OK
    printer.sim.inject_garbage(garbage)
    try:
        status = printer.driver.printer_status(timeout_s=1.0)
    except ProtocolError:
        pass
    else:
        assert status.paper is expected and not status.cover_open
    assert printer.driver.printer_status(timeout_s=1.0).paper is expected
