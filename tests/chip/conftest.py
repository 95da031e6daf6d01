"""The chip test stack: one private pcscd (with vpcd) per session, a fresh virtual travel
document per test. Both are stopped by PID / socket at the end; nothing is skipped when
pcscd is missing - the stack then fails loudly."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from devices.drivers.pcsc_chip import PcscChipReader
from devices.icao.mrz import MrzAccess, access_from_lines
from devices.simulators.pcsc_stack import PcscStack, free_port_pair
from devices.simulators.vcard import DEFAULT_MRZ, VirtualTravelDocument
from devices.simulators.vcard_pki import TestPki

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="session")
def pcsc_stack() -> Iterator[PcscStack]:
    # KIOSK_TEST_REUSE_PCSCD=1 adopts a pcscd that already runs (its vpcd on 35963);
    # otherwise a running pcscd is an error, since pcsc-lite cannot run two.
    reuse = os.environ.get("KIOSK_TEST_REUSE_PCSCD") == "1"
    stack = PcscStack(port=free_port_pair(), reuse_running=reuse)
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def pki() -> TestPki:
    return TestPki(NOW)


@pytest.fixture(scope="session")
def trust_file(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pki.write_trust_store(tmp_path_factory.mktemp("trust") / "csca.pem")


@pytest.fixture(scope="session")
def face_jpeg() -> bytes:
    from devices.simulators.vcard import make_face_jpeg

    return make_face_jpeg(target_bytes=20_000)[0]


CardFactory = Callable[..., VirtualTravelDocument]


@pytest.fixture
def insert_card(pcsc_stack: PcscStack, pki: TestPki, face_jpeg: bytes) -> Iterator[CardFactory]:
    """Insert a virtual document (options as VirtualTravelDocument's); removed after the test."""
    cards: list[VirtualTravelDocument] = []

    def insert(**options: Any) -> VirtualTravelDocument:
        options.setdefault("photo", face_jpeg)
        card = VirtualTravelDocument(pki=pki, port=pcsc_stack.port, **options)
        pcsc_stack.insert(card)
        cards.append(card)
        return card

    yield insert
    for card in cards:
        pcsc_stack.remove(card)  # also waits until pcscd has seen the card go


@pytest.fixture
def reader(pcsc_stack: PcscStack, trust_file: Path) -> Iterator[PcscChipReader]:
    device = PcscChipReader(
        "chip", reader=pcsc_stack.reader_name, trust_store=str(trust_file), now=lambda: NOW
    )
    device.open(timeout_s=5)
    yield device
    device.close()


@pytest.fixture
def access() -> MrzAccess:
    return access_from_lines(DEFAULT_MRZ)
