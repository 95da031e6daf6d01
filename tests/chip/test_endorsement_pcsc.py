"""Writing and reading the endorsement through the real PC/SC stack: the issuance steps with
central's cryptogram (central/issuer.py; the reader holds no key), chips that refuse READ
BINARY by SFI, and a document pulled at every point of the write (it is either fully written
or not at all on the next read)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from central import issuer
from devices.chip import (
    CardRemoved,
    ChipReader,
    EndorsementRecord,
    IssuanceStateError,
    IssuerAuthFailed,
    MrzAccess,
    PassiveAuthResult,
    Purpose,
    Region,
    WriteInterrupted,
)
from devices.drivers.pcsc_chip import PcscChipReader
from devices.simulators.pcsc_stack import PcscStack
from devices.simulators.vcard import VirtualTravelDocument

from .conftest import NOW, CardFactory

MASTER = bytes.fromhex("8F" * 32)
DOCUMENT = "C12345678"


def record(sequence: int = 1, number: str = "E20250301000042") -> EndorsementRecord:
    return EndorsementRecord(
        sequence=sequence,
        endorsement_no=number,
        region=Region.MO,
        purpose=Purpose.FAMILY_VISIT,
        trips=0,
        valid_from=dt.date(2025, 3, 1),
        valid_until=dt.date(2026, 2, 28),
        issued_at=dt.datetime(2025, 3, 1, 9, 30, 15, tzinfo=dt.UTC),
    )


def central_authorises(document_number: str, challenge: bytes, rec: EndorsementRecord) -> bytes:
    """What the kiosk gets back from central for the relayed challenge."""
    return issuer.authorize(MASTER, document_number, challenge, rec.encode())


def issue(
    reader: ChipReader, access: MrzAccess, number: str = "E20250301000042"
) -> EndorsementRecord:
    """The kiosk's side of one issuance: challenge -> central -> authenticate -> write."""
    challenge = reader.get_challenge(access, timeout_s=10)
    rec = record(challenge.sequence, number)
    reader.authenticate(
        rec, central_authorises(challenge.document_number, challenge.challenge, rec)
    )
    written = reader.write_endorsement(rec, timeout_s=10)
    assert written.record == rec and written.apdus > 0
    return rec


def keyed(insert_card: CardFactory, **options: object) -> VirtualTravelDocument:
    return insert_card(issuer_key=issuer.document_key(MASTER, DOCUMENT), **options)


def test_issue_then_read_back(
    reader: PcscChipReader, insert_card: CardFactory, access: MrzAccess
) -> None:
    card = keyed(insert_card)
    assert reader.read_endorsement(access, timeout_s=10) is None
    challenge = reader.get_challenge(access, timeout_s=10)
    assert (challenge.sequence, challenge.capacity, challenge.latest) == (1, 255, None)
    assert len(challenge.challenge) == 8 and challenge.document_number == DOCUMENT
    first = record()
    reader.authenticate(first, central_authorises(DOCUMENT, challenge.challenge, first))
    result = reader.write_endorsement(first, timeout_s=10)
    assert result.record == first and result.write_s > 0 and result.verify_s > 0
    second = issue(reader, access, "E20250302000007")
    assert reader.read_endorsement(access, timeout_s=10) == second
    assert reader.read_endorsements(access, timeout_s=10) == (first, second)
    assert card.endorsements() == [first, second]
    # the newest record is offered to the next issuance (a resumed flow sees it is done)
    assert reader.get_challenge(access, timeout_s=10).latest == second
    reader.end_issuance()


def test_a_wrong_cryptogram_writes_nothing(
    reader: PcscChipReader, insert_card: CardFactory, access: MrzAccess
) -> None:
    card = keyed(insert_card)
    challenge = reader.get_challenge(access, timeout_s=10)
    forged = issuer.authorize(bytes(32), DOCUMENT, challenge.challenge, record().encode())
    with pytest.raises(IssuerAuthFailed) as info:
        reader.authenticate(record(), forged)
    assert info.value.code == "chip.issuer_auth_failed"
    with pytest.raises(IssuanceStateError):  # the refused issuance is over
        reader.write_endorsement(record())
    assert card.endorsements() == []
    assert reader.read_endorsement(access, timeout_s=10) is None


def test_only_the_authenticated_record_is_written(
    reader: PcscChipReader, insert_card: CardFactory, access: MrzAccess
) -> None:
    card = keyed(insert_card)
    challenge = reader.get_challenge(access, timeout_s=10)
    reader.authenticate(record(), central_authorises(DOCUMENT, challenge.challenge, record()))
    with pytest.raises(IssuanceStateError):
        reader.write_endorsement(record(number="E20990101000001"))
    assert card.endorsements() == []


@pytest.mark.parametrize("refusal", [0x6986, 0x6A81, 0x6A86, 0x6D00], ids=lambda sw: f"{sw:04X}")
def test_chips_refusing_sfi_reads_are_read_by_select(
    reader: PcscChipReader, insert_card: CardFactory, access: MrzAccess, refusal: int
) -> None:
    card = keyed(insert_card, refuse_sfi=refusal, with_dg12=True)
    result = reader.read_document(access, timeout_s=10)
    assert result.passive_auth.result is PassiveAuthResult.VALID
    assert sorted(result.data_groups) == [1, 2, 11, 12]
    assert result.stats.sfi_fallbacks == 1
    # refused SFI read, then SELECT + READ BINARY for each of the 6 files
    assert result.stats.apdus == 3 + 1 + 6 * 3
    assert result.face.data == card.photo
    rec = issue(reader, access)
    assert reader.read_endorsement(access, timeout_s=10) == rec


# --- tearing: the document pulled at every point of the write --------------------------------

WRITE_CHUNK = 16  # three UPDATE BINARY commands for the 40-byte record
# SELECT, GET CHALLENGE, MUTUAL AUTHENTICATE, header | issuer GET CHALLENGE | EXTERNAL
# AUTHENTICATE | 3 x UPDATE record, UPDATE counter | header and record read back
ISSUANCE_APDUS = 12
WRITES = (7, 8, 9, 10)
# Pulled while executing APDU n (a write is cut half-way, nothing else takes effect, no
# answer); and, for the writes, pulled after executing one but before its answer. A cut
# before APDU n is the same as a cut during a command that changes nothing.
CUTS = [("during", n) for n in range(1, ISSUANCE_APDUS + 1)] + [("answer_lost", n) for n in WRITES]


@pytest.fixture
def chunked_reader(pcsc_stack: PcscStack) -> Iterator[PcscChipReader]:
    device = PcscChipReader(
        "chip", reader=pcsc_stack.reader_name, write_chunk=WRITE_CHUNK, now=lambda: NOW
    )
    device.open(timeout_s=5)
    yield device
    device.close()


def test_apdus_of_one_issuance(
    chunked_reader: PcscChipReader, insert_card: CardFactory, access: MrzAccess
) -> None:
    card = keyed(insert_card)
    issue(chunked_reader, access)
    assert card.apdu_count == ISSUANCE_APDUS


def test_a_pulled_document_is_written_fully_or_not_at_all(
    pcsc_stack: PcscStack,
    chunked_reader: PcscChipReader,
    insert_card: CardFactory,
    access: MrzAccess,
) -> None:
    """One card, one issuance per cut point (each into the next slot): after the cut and a
    new insertion the kiosk reads either the whole new record or the previous state, the way
    WriteInterrupted announced it, and can then finish the issuance."""
    card = keyed(insert_card)
    issued: list[EndorsementRecord] = []
    for how, at in CUTS:
        card.apdu_count = 0
        if how == "during":
            card.tear_at_apdu = at
        else:
            card.lose_answer_at_apdu = at
        number = f"E2025030100{len(issued) + 1:04d}"
        with pytest.raises(CardRemoved) as info:
            issue(chunked_reader, access, number)
        committed = info.value.committed if isinstance(info.value, WriteInterrupted) else False
        card.tear_at_apdu = card.lose_answer_at_apdu = None
        pcsc_stack.remove(card)
        pcsc_stack.insert(card)
        seen = chunked_reader.read_endorsement(access, timeout_s=10)
        wanted = record(len(issued) + 1, number)
        previous = issued[-1] if issued else None
        assert seen in (previous, wanted), (how, at)
        if committed is False:
            assert seen == previous, (how, at)
        elif committed is True:
            assert seen == wanted, (how, at)
        if seen == previous:  # not written: the kiosk runs the issuance again
            assert issue(chunked_reader, access, number) == wanted, (how, at)
        issued.append(wanted)
    assert chunked_reader.read_endorsements(access, timeout_s=10) == tuple(issued)
    assert card.endorsements() == issued
