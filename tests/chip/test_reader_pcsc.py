"""The PC/SC driver against the virtual travel document through a real pcscd + vpcd."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from devices.base import CancelToken, DeviceCancelled, DeviceEvent, DeviceEventKind, DeviceTimeout
from devices.chip import (
    AccessDenied,
    CardRemoved,
    ChipReader,
    ImageFormat,
    MrzAccess,
    NoCard,
    PassiveAuthResult,
    SecureMessagingError,
)
from devices.drivers.pcsc_chip import PcscChipReader
from devices.icao import mrz
from devices.simulators.pcsc_stack import PcscStack

from .conftest import NOW, CardFactory


def test_full_read_td1(reader: PcscChipReader, insert_card: CardFactory, access: MrzAccess) -> None:
    card = insert_card(with_dg12=True)
    result = reader.read_document(access, timeout_s=10)
    assert isinstance(reader, ChipReader)
    assert result.mrz.format is mrz.MrzFormat.TD1
    assert result.mrz.document_number == "C12345678"
    assert (result.mrz.surname, result.mrz.given_names) == ("ZHANG", "SAN")
    assert result.face.format is ImageFormat.JPEG
    assert result.face.data == card.photo
    assert result.picture.size == (240, 320)
    assert dict(result.data_groups) == card.data_groups
    assert result.passive_auth.result is PassiveAuthResult.VALID
    assert result.passive_auth.checked_groups == (1, 2, 11, 12)
    assert result.extra[12]["5F19"] == "EXIT-ENTRY"
    # SELECT + GET CHALLENGE + MUTUAL AUTHENTICATE, then 2 reads per file (6 files)
    assert result.stats.apdus == 3 + 2 * 6 == card.apdu_count
    assert result.stats.extended_length and result.stats.chunk_size > 0xDF
    assert reader.statistics()["operations"] == 1


def test_full_read_td3_short_apdus(
    reader: PcscChipReader, insert_card: CardFactory, face_jpeg: bytes
) -> None:
    lines = mrz.build_td3(
        document_code="P",
        issuing_state="UTO",
        document_number="L898902C3",
        birth_date="740812",
        sex="F",
        expiry_date="320415",
        nationality="UTO",
        surname="ERIKSSON",
        given_names="ANNA MARIA",
    )
    insert_card(mrz=lines, extended_length=False, with_dg11=False)
    result = reader.read_document(mrz.access_from_lines(lines), timeout_s=10)
    assert result.mrz.format is mrz.MrzFormat.TD3
    assert result.mrz.given_names == "ANNA MARIA"
    assert not result.stats.extended_length and result.stats.chunk_size == 0xDF
    files = (result.com, result.data_groups[1], result.data_groups[2], result.sod)
    # header read + ceil(rest / 0xDF) reads per file, after SELECT and BAC
    assert result.stats.apdus == 3 + sum(1 + -(-(len(f) - 4) // 0xDF) for f in files)
    assert result.face.data == face_jpeg


def test_jpeg2000_face(reader: PcscChipReader, insert_card: CardFactory, access: MrzAccess) -> None:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (120, 160), (200, 150, 120)).save(buffer, "JPEG2000")
    insert_card(photo=buffer.getvalue())
    result = reader.read_document(access, timeout_s=10)
    assert result.face.format is ImageFormat.JPEG2000
    assert result.picture.size == (120, 160)


def test_wrong_access_data_is_refused(reader: PcscChipReader, insert_card: CardFactory) -> None:
    card = insert_card()
    with pytest.raises(AccessDenied) as info:
        reader.read_document(MrzAccess("C12345679", "900101", "300101"), timeout_s=10)
    assert info.value.code == "chip.access_denied"
    assert card.apdu_count == 3  # no retry loop


def test_chip_refusing_bac(
    reader: PcscChipReader, insert_card: CardFactory, access: MrzAccess
) -> None:
    insert_card(refuse_bac=True)
    with pytest.raises(AccessDenied):
        reader.read_document(access, timeout_s=10)


def test_card_removed_mid_read(
    reader: PcscChipReader, insert_card: CardFactory, access: MrzAccess
) -> None:
    insert_card(remove_after_apdus=6)
    with pytest.raises(CardRemoved) as info:
        reader.read_document(access, timeout_s=10)
    assert info.value.code == "chip.card_removed"


def test_no_card(reader: PcscChipReader, access: MrzAccess) -> None:
    with pytest.raises(NoCard):
        reader.read_document(access, timeout_s=5)


def test_absent_optional_group_is_skipped(
    reader: PcscChipReader, insert_card: CardFactory, access: MrzAccess
) -> None:
    insert_card(with_dg12=True, missing_groups=(12,))
    result = reader.read_document(access, timeout_s=10)
    assert sorted(result.data_groups) == [1, 2, 11]
    assert result.passive_auth.result is PassiveAuthResult.VALID


def test_absent_face_ends_the_read(
    reader: PcscChipReader, insert_card: CardFactory, access: MrzAccess
) -> None:
    from devices.chip import FileAbsent

    insert_card(missing_groups=(2,))
    with pytest.raises(FileAbsent) as info:
        reader.read_document(access, timeout_s=10)
    assert info.value.fid == 0x0102 and info.value.code == "chip.file_absent"


def test_secure_messaging_failure_reruns_bac_once(
    reader: PcscChipReader, insert_card: CardFactory, access: MrzAccess
) -> None:
    insert_card(sm_failures=1, sm_failure_after=3)
    result = reader.read_document(access, timeout_s=10)
    assert result.stats.bac_runs == 2
    assert result.passive_auth.result is PassiveAuthResult.VALID


def test_persistent_secure_messaging_failure_ends_the_read(
    reader: PcscChipReader, insert_card: CardFactory, access: MrzAccess
) -> None:
    card = insert_card(sm_failures=100, sm_failure_after=1)
    with pytest.raises(SecureMessagingError):
        reader.read_document(access, timeout_s=10)
    assert card.apdu_count <= 10


def test_timeout_between_apdus(
    reader: PcscChipReader, insert_card: CardFactory, access: MrzAccess
) -> None:
    card = insert_card(answer_delay_s=0.05)
    with pytest.raises(DeviceTimeout) as info:
        reader.read_document(access, timeout_s=0.12)
    assert info.value.code == "chip.timeout"
    assert card.apdu_count <= 4


def test_cancel(reader: PcscChipReader, insert_card: CardFactory, access: MrzAccess) -> None:
    insert_card()
    token = CancelToken()
    token.cancel()
    with pytest.raises(DeviceCancelled):
        reader.read_document(access, timeout_s=5, cancel=token)


@pytest.mark.parametrize(
    ("options", "expected", "groups"),
    [
        ({"tamper_dg": 1}, PassiveAuthResult.HASH_MISMATCH, (1,)),
        ({"tamper_dg": 2}, PassiveAuthResult.HASH_MISMATCH, (2,)),
        ({"untrusted_signer": True}, PassiveAuthResult.SIGNER_NOT_TRUSTED, ()),
        ({"expired_certificate": True}, PassiveAuthResult.CERTIFICATE_EXPIRED, ()),
    ],
)
def test_passive_authentication_failures_through_the_reader(
    reader: PcscChipReader,
    insert_card: CardFactory,
    access: MrzAccess,
    options: dict[str, object],
    expected: PassiveAuthResult,
    groups: tuple[int, ...],
) -> None:
    insert_card(**options)
    report = reader.read_document(access, timeout_s=10).passive_auth
    assert report.result is expected
    assert report.mismatched_groups == groups
    assert report.reason_zh and report.reason_en and report.reason_zh != report.reason_en


def test_no_trust_store_means_not_trusted(
    pcsc_stack: PcscStack, insert_card: CardFactory, access: MrzAccess
) -> None:
    insert_card()
    device = PcscChipReader(reader="Virtual PCD", now=lambda: NOW)
    device.open()
    try:
        report = device.read_document(access, timeout_s=10).passive_auth
    finally:
        device.close()
    assert report.result is PassiveAuthResult.SIGNER_NOT_TRUSTED
    assert "no trust store" in report.detail


def test_card_events(
    pcsc_stack: PcscStack, reader: PcscChipReader, insert_card: CardFactory
) -> None:
    seen: list[DeviceEvent] = []
    arrived = threading.Event()

    def listener(event: DeviceEvent) -> None:
        seen.append(event)
        arrived.set()

    reader.subscribe(listener)
    assert not reader.card_present()
    card = insert_card()
    assert arrived.wait(60)
    arrived.clear()
    pcsc_stack.remove(card)
    assert arrived.wait(60)
    deadline = time.monotonic() + 60
    while len(seen) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [e.kind for e in seen] == [DeviceEventKind.CARD_PLACED, DeviceEventKind.CARD_REMOVED]
    assert not reader.card_present()


def test_reader_pattern_matching_nothing(trust_file: Path, pcsc_stack: PcscStack) -> None:
    from devices.base import DeviceUnavailable

    device = PcscChipReader(reader="^No Such Reader$")
    with pytest.raises(DeviceUnavailable):
        device.open(timeout_s=0.3)


def test_atr_card_capabilities() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from devices.drivers.pcsc_chip import atr_allows_extended_length
    from devices.simulators.vcard import build_atr

    assert atr_allows_extended_length(build_atr(True))
    assert not atr_allows_extended_length(build_atr(False))
    assert not atr_allows_extended_length(bytes.fromhex("3B8A80010031C173C8400000900090"))

    @settings(max_examples=200, deadline=None)
    @given(st.binary(max_size=33))
    def any_atr(atr: bytes) -> None:
        assert atr_allows_extended_length(atr) in (True, False)

    any_atr()
