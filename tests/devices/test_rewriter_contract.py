"""The CardRewriter contract, run against every rewriter driver through its simulator over a
real pseudo-terminal (and loopback TCP): take a card in, hold it for the chip, erase and
print the back (checked dot for dot and on the rendered PNG), hand it back or capture it,
and every fault: no card, a reversed card, jam, cover, heads, film, a card pulled out, lost
and repeated frames, an unplugged cable."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import serial
from PIL import Image, ImageDraw

from devices import registry
from devices import tcp300 as wire
from devices.base import (
    CancelToken,
    ConfigurationError,
    Device,
    DeviceCancelled,
    DeviceError,
    DeviceEvent,
    DeviceEventKind,
    DeviceStatus,
    DeviceUnavailable,
    MediaError,
    Recovery,
)
from devices.card_back import render_back
from devices.rewriter import (
    PRINT_HEIGHT,
    PRINT_WIDTH,
    BackPrint,
    CardPlace,
    CardRewriter,
    HoldPosition,
)
from devices.simulators.tcp300 import (
    FILM_COLOUR,
    PermitCard,
    RewriterTimings,
    Tcp300Simulator,
)

from .rigs import wait_until


@dataclass
class Rig:
    sim: Tcp300Simulator
    driver: Any  # the registered driver (a CardRewriter)
    events: list[DeviceEvent]

    def kinds(self) -> list[DeviceEventKind]:
        return [e.kind for e in self.events]


def make_rig(transport: str = "pty", **options: Any) -> Iterator[Rig]:
    sim_class: Any = registry.simulator("rewriter", "tcp300").load()
    driver_class: Any = registry.driver("rewriter", "tcp300").load()
    sim = sim_class(transport=transport, **options)
    port = sim.start()
    driver = driver_class.from_settings(
        "rewriter", {"port": port, "ack_timeout_s": 0.3, "take_timeout_s": 2.0, "pace": False}
    )
    events: list[DeviceEvent] = []
    driver.subscribe(events.append)
    driver.open(timeout_s=3)
    try:
        yield Rig(sim, driver, events)
    finally:
        driver.close()
        sim.stop()


@pytest.fixture(params=["pty", "tcp"])
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    yield from make_rig(request.param)


@pytest.fixture
def loaded() -> Iterator[Rig]:
    """A card taken in and held over the chip antenna."""
    for rig in make_rig(card=PermitCard(label="citizen")):
        rig.driver.insert(timeout_s=3)
        yield rig


def text_image(*lines: str) -> Image.Image:
    return render_back(list(lines))


def dots_of(image: Image.Image) -> np.ndarray:
    dots = np.zeros((PRINT_HEIGHT, PRINT_WIDTH), dtype=bool)
    black = np.asarray(image.convert("L")) < 128
    dots[: black.shape[0], : black.shape[1]] = black
    return dots


# --- contract ------------------------------------------------------------------------------------


def test_driver_satisfies_the_protocols(rig: Rig) -> None:
    assert isinstance(rig.driver, CardRewriter) and isinstance(rig.driver, Device)
    caps = rig.driver.capabilities()
    assert caps["print_area_dots"] == [PRINT_WIDTH, PRINT_HEIGHT]
    assert caps["firmware"] == Tcp300Simulator.FIRMWARE
    assert rig.driver.take_timeout_s == 2.0
    status = rig.driver.status()
    assert status.status is DeviceStatus.ONLINE and status.card is CardPlace.NONE
    json = status.to_json()
    assert {"card", "jam", "cover_open", "head_fault", "film_fault", "device_code"} <= set(json)


def test_insert_hold_print_eject_taken(rig: Rig) -> None:
    rig.sim.auto_insert(0.1)
    inserted = rig.driver.insert(timeout_s=5)
    assert inserted.status.card is CardPlace.CHIP and inserted.status.card_inside
    assert DeviceEventKind.CARD_PLACED in rig.kinds()
    image = text_image(
        "往来港澳签注 ENDORSEMENT", "澳门 MO 探亲 Family visit", "2025-03-01 .. 2026-02-28"
    )
    printed = rig.driver.print_back(BackPrint(image), timeout_s=10)
    assert printed.status.card is CardPlace.FRONT and printed.frames > 3
    card = rig.sim.card
    assert card is not None and (card.film == dots_of(image)).all()
    assert rig.driver.hold(HoldPosition.CHIP, timeout_s=3).status.card is CardPlace.CHIP
    assert rig.driver.hold(HoldPosition.FRONT, timeout_s=3).status.card is CardPlace.FRONT
    rig.sim.auto_take(0.2)  # the citizen takes the card a moment after it comes out
    handed = rig.driver.eject(timeout_s=3)
    assert handed.status.card is CardPlace.SLOT and handed.status.waiting_removal
    assert rig.driver.wait_taken(timeout_s=5) is True
    assert DeviceEventKind.MEDIA_TAKEN in rig.kinds()
    assert rig.sim.taken == [card]


def test_erase_blanks_and_a_print_without_erase_overprints(loaded: Rig) -> None:
    first = text_image("FIRST LINE")
    second = text_image("", "", "SECOND, BELOW")
    loaded.driver.print_back(BackPrint(first), timeout_s=10)
    loaded.driver.print_back(BackPrint(second, erase_first=False), timeout_s=10)
    card = loaded.sim.card
    assert card is not None
    assert (card.film == (dots_of(first) | dots_of(second))).all()
    loaded.driver.print_back(BackPrint(second), timeout_s=10)  # erase + print in one pass
    assert (card.film == dots_of(second)).all()
    loaded.driver.erase(timeout_s=10)
    assert not card.film.any() and card.erases == 3 and card.prints == 3


def test_the_png_shows_exactly_the_printed_dots(loaded: Rig) -> None:
    blank = np.asarray(Image.open(io.BytesIO(loaded.sim.back_png())).convert("RGB"))
    image = text_image("签注 E20250301000042")
    loaded.driver.print_back(BackPrint(image), timeout_s=10)
    shown = np.asarray(Image.open(io.BytesIO(loaded.sim.back_png())).convert("RGB"))
    height, width, _ = shown.shape
    assert (width, height) == (685, 432)  # 85.6 x 54 mm at 8 dots per mm
    top, left = (height - PRINT_HEIGHT) // 2, (width - PRINT_WIDTH) // 2
    area = shown[top : top + PRINT_HEIGHT, left : left + PRINT_WIDTH]
    dark = area.sum(axis=2) < 3 * 128
    assert (dark == dots_of(image)).all()
    # an erased film is blank: the printable area all film colour, like before printing
    loaded.driver.erase(timeout_s=10)
    erased = np.asarray(Image.open(io.BytesIO(loaded.sim.back_png())).convert("RGB"))
    assert (erased == blank).all()
    assert (erased[top : top + PRINT_HEIGHT, left : left + PRINT_WIDTH] == FILM_COLOUR).all()


def test_capture_from_inside_and_from_the_slot(loaded: Rig) -> None:
    result = loaded.driver.capture(timeout_s=3)
    assert result.status.card is CardPlace.NONE
    assert [c.label for c in loaded.sim.captured] == ["citizen"]
    loaded.sim.present_card(PermitCard(label="left behind"))
    loaded.driver.insert(timeout_s=3)
    loaded.driver.eject(timeout_s=3)
    assert loaded.driver.wait_taken(timeout_s=0.3) is False  # never taken
    loaded.driver.capture(timeout_s=3)
    assert [c.label for c in loaded.sim.captured] == ["citizen", "left behind"]
    assert DeviceEventKind.MEDIA_TAKEN not in loaded.kinds()  # captured, not taken
    with pytest.raises(MediaError) as info:
        loaded.driver.capture(timeout_s=3)
    assert info.value.code == "rewriter.no_card"


def test_no_card_inserted_in_time(rig: Rig) -> None:
    with pytest.raises(MediaError) as info:
        rig.driver.insert(timeout_s=0.3)
    assert info.value.code == "rewriter.no_card_inserted" and info.value.recovery is Recovery.NONE
    assert rig.driver.statistics()["cancelled_waits"] == 1
    # the module left its insertion wait: it answers at once and takes the next card
    assert rig.driver.read_status(timeout_s=1).card is CardPlace.NONE
    rig.sim.present_card()
    assert rig.driver.insert(timeout_s=3).status.card is CardPlace.CHIP


def test_insert_cancelled_by_the_flow(rig: Rig) -> None:
    token = CancelToken()
    threading.Timer(0.2, token.cancel).start()
    started = time.monotonic()
    with pytest.raises(DeviceCancelled):
        rig.driver.insert(timeout_s=20, cancel=token)
    assert time.monotonic() - started < 10
    assert rig.driver.read_status(timeout_s=1).status is DeviceStatus.ONLINE


def test_a_reversed_card_is_handed_straight_back(rig: Rig) -> None:
    rig.sim.present_card(PermitCard(reversed=True))
    with pytest.raises(MediaError) as info:
        rig.driver.insert(timeout_s=3)
    assert info.value.code == "rewriter.card_reversed"
    status = rig.driver.read_status()
    assert status.card is CardPlace.SLOT and status.waiting_removal


def test_operations_that_need_a_card_inside(rig: Rig) -> None:
    for call in (
        lambda: rig.driver.hold(HoldPosition.CHIP, timeout_s=2),
        lambda: rig.driver.erase(timeout_s=2),
        lambda: rig.driver.print_back(BackPrint(text_image("X")), timeout_s=2),
        lambda: rig.driver.eject(timeout_s=2),
    ):
        with pytest.raises(MediaError) as info:
            call()
        assert info.value.code in ("rewriter.no_card", "rewriter.not_inside")
    assert wire.Command.REAR_IDLE not in rig.sim.commands  # nothing waited for a card


def test_an_oversized_image_is_refused_before_anything_moves(loaded: Rig) -> None:
    sent = len(loaded.sim.commands)
    with pytest.raises(DeviceError) as info:
        loaded.driver.print_back(BackPrint(Image.new("1", (PRINT_WIDTH + 1, 10), 0)))
    assert info.value.code == "rewriter.image_too_large"
    assert len(loaded.sim.commands) == sent


# --- faults -------------------------------------------------------------------------------------


def test_jam_then_reset(loaded: Rig) -> None:
    loaded.sim.jam_next()
    with pytest.raises(MediaError) as info:
        loaded.driver.print_back(BackPrint(text_image("JAM")), timeout_s=5)
    assert info.value.code == "rewriter.jam" and info.value.recovery is Recovery.CLEAR
    status = loaded.driver.status()
    assert status.jam and status.status is DeviceStatus.USER_ERROR and not status.usable
    assert status.card is CardPlace.CHANNEL
    reset = loaded.driver.reset(timeout_s=5)  # the card inside is handed back to the slot
    assert not reset.status.jam and reset.status.card is CardPlace.SLOT
    assert loaded.driver.status().usable


def test_cover_open(loaded: Rig) -> None:
    loaded.sim.set_cover(True)
    status = loaded.driver.status()
    assert status.cover_open and status.status is DeviceStatus.USER_ERROR
    with pytest.raises(MediaError) as info:
        loaded.driver.erase(timeout_s=3)
    assert info.value.code == "rewriter.cover_open" and info.value.recovery is Recovery.CLEAR
    loaded.sim.set_cover(False)
    assert loaded.driver.erase(timeout_s=3).status.usable


@pytest.mark.parametrize(
    ("head", "code"), [("erase", "rewriter.erase_head"), ("print", "rewriter.print_head")]
)
def test_head_faults_need_an_engineer(loaded: Rig, head: str, code: str) -> None:
    loaded.sim.set_head_fault(head)
    with pytest.raises(DeviceError) as info:
        loaded.driver.print_back(BackPrint(text_image("HEAD")), timeout_s=5)
    assert info.value.code == code and info.value.recovery is Recovery.MAINTENANCE
    status = loaded.driver.status()
    assert status.head_fault and status.status is DeviceStatus.HARDWARE_ERROR
    # the transport still works: the card can be handed back
    assert loaded.driver.eject(timeout_s=3).status.card is CardPlace.SLOT


def test_a_card_without_usable_film(rig: Rig) -> None:
    rig.sim.present_card(PermitCard(film_ok=False))
    rig.driver.insert(timeout_s=3)
    with pytest.raises(MediaError) as info:
        rig.driver.print_back(BackPrint(text_image("FILM")), timeout_s=5)
    assert info.value.code == "rewriter.film" and info.value.recovery is Recovery.NONE
    status = rig.driver.status()
    assert status.film_fault and status.usable and status.warnings
    rig.driver.eject(timeout_s=3)
    assert not rig.driver.status().film_fault


def test_card_pulled_out_while_held(loaded: Rig) -> None:
    loaded.sim.pull_card()
    with pytest.raises(MediaError) as info:
        loaded.driver.erase(timeout_s=3)
    assert info.value.code == "rewriter.no_card"
    assert DeviceEventKind.CARD_REMOVED in loaded.kinds()


def test_lost_and_repeated_frames_are_sent_again(loaded: Rig) -> None:
    loaded.sim.nak_next()
    loaded.sim.drop_ack_next()
    loaded.sim.corrupt_reply_next()
    result = loaded.driver.print_back(BackPrint(text_image("LINE NOISE")), timeout_s=10)
    assert result.resends >= 3
    stats = loaded.driver.statistics()
    assert stats["naks_received"] == 1 and stats["ack_timeouts"] == 1
    assert stats["corrupt_replies"] == 1
    loaded.sim.inject_garbage(b"\x00\x7f\x13\x37")
    assert loaded.driver.read_status().card is CardPlace.FRONT


def test_unplugged_and_back(loaded: Rig) -> None:
    loaded.sim.disconnect()
    status = loaded.driver.status()
    assert status.status is DeviceStatus.NO_DEVICE
    with pytest.raises(DeviceUnavailable):
        loaded.driver.erase(timeout_s=2)
    assert DeviceEventKind.DEVICE_LOST in loaded.kinds()
    loaded.sim.reconnect()
    assert wait_until(lambda: loaded.driver.status().usable, 5)
    assert DeviceEventKind.DEVICE_BACK in loaded.kinds()


def test_paced_mechanism_takes_its_time() -> None:
    timings = RewriterTimings(transport_s=0.05, erase_s=0.1, print_s=0.1, erase_print_s=0.3)
    for rig in make_rig(pace=True, timings=timings, card=PermitCard()):
        rig.driver.insert(timeout_s=5)
        result = rig.driver.print_back(BackPrint(text_image("SLOW")), timeout_s=10)
        assert result.elapsed_s >= 0.3 + 0.05  # one erase+print pass, then to the front
    assert Tcp300Simulator(pace=True).timings == RewriterTimings()
    assert RewriterTimings().reset_s == 3.0  # the manual: about 3 s to initialise


def test_settings() -> None:
    driver_class: Any = registry.driver("rewriter", "tcp300").load()
    for settings, key in (
        ({}, "port"),
        ({"port": "/dev/ttyS0", "baud": 12_345}, "baud"),
        ({"port": "/dev/ttyS0", "ack_timeout_s": 0}, "ack_timeout_s"),
        ({"port": "/dev/ttyS0", "take_timeout_s": "x"}, "take_timeout_s"),
        ({"port": "/dev/ttyS0", "columns": 3}, "columns"),
    ):
        with pytest.raises(ConfigurationError, match=key):
            driver_class.from_settings("rewriter", settings)


# --- the simulator speaks the bytes to any host ---------------------------------------------------


def test_simulator_handshake_with_a_plain_serial_port() -> None:
    with Tcp300Simulator() as sim, serial.Serial(sim.port, 115_200, timeout=1.0) as port:
        port.write(wire.command_frame(wire.Command.STATUS))
        assert port.read(12) == bytes([wire.ACK]) + wire.reply_frame(0x59, 0x20, b"000000")
        port.write(bytes([wire.NAK]))  # ask for the reply again
        assert port.read(11) == wire.reply_frame(0x59, 0x20, b"000000")
        port.write(bytes([wire.ACK]))
        port.write(wire.command_frame(wire.Command.DISCHARGE, b"9"))  # bad parameter
        assert port.read(1) == bytes([wire.DLE])
        bad = wire.command_frame(wire.Command.STATUS)
        port.write(bad[:-1] + bytes([bad[-1] ^ 0x55]))  # wrong BCC
        assert port.read(1) == bytes([wire.NAK])
        port.write(wire.command_frame(wire.Command.REAR_IDLE))  # waits for a card
        assert port.read(1) == bytes([wire.ACK])
        port.write(wire.command_frame(wire.Command.STATUS))  # busy: only 54h / 5Fh now
        assert port.read(1) == bytes([wire.DLE])
        port.write(wire.command_frame(wire.Command.CANCEL_WAIT))
        assert port.read(6) == bytes([wire.ACK]) + wire.reply_frame(0x54, 0x20)
        port.write(bytes([wire.ACK]))
        draw = Image.new("1", (8, 8), 1)
        ImageDraw.Draw(draw).line((0, 0, 7, 0), fill=0)
        (command,) = wire.image_commands(draw)
        port.write(wire.command_frame(wire.Command.IMAGE_EXPAND, command))
        assert port.read(6) == bytes([wire.ACK]) + wire.reply_frame(0x4D, 0x20)
        assert sim.raster[0, :8].all() and not sim.raster[1:, :].any()


def test_back_layout_fits_the_print_area() -> None:
    image = render_back(["往来港澳签注", "E20250301000042"])
    assert image.mode == "1" and image.size == (PRINT_WIDTH, PRINT_HEIGHT)
    dots = dots_of(image)
    assert dots[:120].any() and not dots[200:].any()  # two lines near the top, rest blank
    crowded = render_back([f"LINE {n}" for n in range(40)])  # more lines than fit: clipped
    assert crowded.size == (PRINT_WIDTH, PRINT_HEIGHT)
