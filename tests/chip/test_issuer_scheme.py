"""The issuer scheme (docs/chip-reader.md) on both sides: central/issuer.py and the virtual
card's application agree on the document key, the record bytes and the cryptogram, and the
card refuses every write the issuer did not authorise. No PC/SC here: the card's command
logic is driven directly through a secure-messaging session."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from central import issuer
from devices import endorsement as ef
from devices.base import Deadline
from devices.drivers.pcsc_session import ChipSession
from devices.endorsement import EndorsementRecord, Purpose, Region
from devices.icao.errors import EndorsementFull, IssuerAuthFailed, WriteRefused
from devices.icao.mrz import access_from_lines
from devices.simulators.vcard import DEFAULT_MRZ, VirtualTravelDocument
from devices.simulators.vcard_pki import DEMO_ISSUER_MASTER_KEY, personalise_document_key

MASTER = bytes(range(32))
OTHER_MASTER = bytes(range(1, 33))
DOCUMENT = "C12345678"

# The test vector printed in docs/chip-reader.md.
VECTOR_KEY = "DB6DEF7A04F11F43DBBEB972134F7E04"
VECTOR_RECORD = "010145323032353033303130303030343220484B010120250301202505302025030109301500278B"
VECTOR_CHALLENGE = "0123456789ABCDEF"
VECTOR_DIGEST = "9B0E071CA699305AFC6FC569A51565AF2CDD969C308CB5B203A865BB7C31B89A"
VECTOR_CRYPTOGRAM = "D88DAC0A6E1206CECA5145B2D58BC225"


def record(sequence: int = 1, number: str = "E20250301000042") -> EndorsementRecord:
    return EndorsementRecord(
        sequence=sequence,
        endorsement_no=number,
        region=Region.HK,
        purpose=Purpose.INDIVIDUAL,
        trips=1,
        valid_from=dt.date(2025, 3, 1),
        valid_until=dt.date(2025, 5, 30),
        issued_at=dt.datetime(2025, 3, 1, 9, 30, 15, tzinfo=dt.UTC),
    )


def test_the_documented_vector() -> None:
    key = issuer.document_key(MASTER, DOCUMENT)
    assert key.hex().upper() == VECTOR_KEY
    assert personalise_document_key(MASTER, DOCUMENT) == key
    data = issuer.encode_record(
        issuer.Record(
            1,
            "E20250301000042",
            "HK",
            "individual",
            1,
            dt.date(2025, 3, 1),
            dt.date(2025, 5, 30),
            dt.datetime(2025, 3, 1, 9, 30, 15, tzinfo=dt.UTC),
        )
    )
    assert data.hex().upper() == VECTOR_RECORD == record().encode().hex().upper()
    assert (
        issuer.record_digest(data).hex().upper() == VECTOR_DIGEST == record().digest().hex().upper()
    )
    challenge = bytes.fromhex(VECTOR_CHALLENGE)
    cryptogram = issuer.authorize(MASTER, DOCUMENT, challenge, data)
    assert cryptogram.hex().upper() == VECTOR_CRYPTOGRAM
    assert issuer.verify_cryptogram(key, challenge, data, cryptogram)


@settings(max_examples=60, deadline=None)
@given(
    number=st.text("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=1, max_size=9),
    master=st.binary(min_size=32, max_size=32),
)
def test_chip_personalisation_and_issuer_derive_the_same_key(number: str, master: bytes) -> None:
    assert personalise_document_key(master, number) == issuer.document_key(master, number)


dates = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31))


@settings(max_examples=100, deadline=None)
@given(
    sequence=st.integers(1, 255),
    number=st.text("E0123456789ABCXYZ", min_size=1, max_size=16),
    region=st.sampled_from(list(Region)),
    purpose=st.sampled_from(list(Purpose)),
    trips=st.integers(0, 254),
    start=dates,
    days=st.integers(0, 2000),
    issued=st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 1, 1)),
)
def test_both_codecs_agree_on_every_record(
    sequence: int,
    number: str,
    region: Region,
    purpose: Purpose,
    trips: int,
    start: dt.date,
    days: int,
    issued: dt.datetime,
) -> None:
    until = min(start + dt.timedelta(days=days), dt.date(2099, 12, 31))
    issued = issued.replace(microsecond=0, tzinfo=dt.UTC)
    ours = EndorsementRecord(sequence, number, region, purpose, trips, start, until, issued)
    theirs = issuer.Record(
        sequence, number, region.value, purpose.value, trips, start, until, issued
    )
    data = ours.encode()
    assert data == issuer.encode_record(theirs)
    assert EndorsementRecord.decode(data) == ours
    assert issuer.decode_record(data) == theirs


def test_damaged_records_do_not_decode() -> None:
    data = bytearray(record().encode())
    data[5] ^= 0x01
    with pytest.raises(ef.EndorsementDataError):
        EndorsementRecord.decode(bytes(data))
    with pytest.raises(issuer.IssuerError):
        issuer.decode_record(bytes(data))
    with pytest.raises(ValueError):
        record(number="NUMBER WITH SPACES").encode()
    with pytest.raises(issuer.IssuerError):
        issuer.document_key(b"short", DOCUMENT)


# --- the card's side, driven without PC/SC ----------------------------------------------------


class DirectLink:
    """Stands in for the PC/SC connection: each APDU goes straight to the card logic."""

    def __init__(self, card: VirtualTravelDocument) -> None:
        self.card = card
        self.apdus = 0
        self.deadline = Deadline(60)

    def transmit(self, apdu: bytes) -> bytes:
        self.apdus += 1
        return self.card.process(apdu)


def session(card: VirtualTravelDocument) -> ChipSession:
    chip = ChipSession(DirectLink(card), access_from_lines(DEFAULT_MRZ), True, os.urandom)  # type: ignore[arg-type]
    chip.start()
    return chip


def card(**options: object) -> VirtualTravelDocument:
    return VirtualTravelDocument(issuer_key=issuer.document_key(MASTER, DOCUMENT), **options)  # type: ignore[arg-type]


def authorise(chip: ChipSession, rec: EndorsementRecord, master: bytes = MASTER) -> None:
    header = ef.EndorsementHeader.decode(chip.read_range(ef.EF_ENDORSEMENTS, 0, 8))
    assert header.next_sequence == rec.sequence
    challenge = chip.issuer_challenge()
    chip.external_authenticate(
        rec.digest(), issuer.authorize(master, DOCUMENT, challenge, rec.encode())
    )


def write(chip: ChipSession, rec: EndorsementRecord) -> None:
    offset = ef.record_offset(rec.sequence)
    chip.update(ef.EF_ENDORSEMENTS, offset, rec.encode())
    chip.update(ef.EF_ENDORSEMENTS, ef.COUNT_OFFSET, bytes([rec.sequence]))


def test_card_accepts_the_record_central_authorised() -> None:
    vcard = card()
    chip = session(vcard)
    authorise(chip, record())
    write(chip, record())
    assert vcard.endorsements() == [record()]
    # one authentication, one record: the next needs a fresh challenge
    with pytest.raises(WriteRefused):
        chip.update(ef.EF_ENDORSEMENTS, ef.record_offset(2), record(2).encode())
    authorise(chip, record(2, "E20250301000043"))
    write(chip, record(2, "E20250301000043"))
    assert [r.sequence for r in vcard.endorsements()] == [1, 2]


def test_default_card_is_personalised_with_the_demo_master_key() -> None:
    vcard = VirtualTravelDocument()
    chip = session(vcard)
    authorise(chip, record(), master=DEMO_ISSUER_MASTER_KEY)
    write(chip, record())
    assert vcard.endorsements() == [record()]


def test_writes_without_issuer_authentication_are_refused() -> None:
    vcard = card()
    chip = session(vcard)
    chip.read_range(ef.EF_ENDORSEMENTS, 0, 8)
    with pytest.raises(WriteRefused) as info:
        chip.update(ef.EF_ENDORSEMENTS, ef.record_offset(1), record().encode())
    assert info.value.sw == 0x6982
    assert vcard.endorsements() == []
    assert bytes(vcard.app.endorsement_file[ef.record_offset(1) :][:40]) == bytes(40)


def test_a_cryptogram_made_with_another_master_key_is_refused() -> None:
    chip = session(card())
    with pytest.raises(IssuerAuthFailed):
        authorise(chip, record(), master=OTHER_MASTER)


def test_an_authorisation_cannot_be_used_for_another_record() -> None:
    vcard = card()
    chip = session(vcard)
    authorise(chip, record())
    forged = record(number="E20990101999999")
    chip.update(ef.EF_ENDORSEMENTS, ef.record_offset(1), forged.encode())
    with pytest.raises(WriteRefused) as info:
        chip.update(ef.EF_ENDORSEMENTS, ef.COUNT_OFFSET, b"\x01")
    assert info.value.sw == 0x6A80
    assert vcard.endorsements() == []


def test_a_relayed_cryptogram_is_good_for_one_challenge_only() -> None:
    chip = session(card())
    challenge = chip.issuer_challenge()
    cryptogram = issuer.authorize(MASTER, DOCUMENT, challenge, record().encode())
    chip.external_authenticate(record().digest(), cryptogram)
    chip.issuer_challenge()  # a new session challenge: the old cryptogram is worthless
    with pytest.raises(IssuerAuthFailed, match="does not verify"):
        chip.external_authenticate(record().digest(), cryptogram)


def test_the_challenge_is_valid_for_the_next_command_only() -> None:
    chip = session(card())
    challenge = chip.issuer_challenge()
    chip.read_range(ef.EF_ENDORSEMENTS, 0, 8)
    cryptogram = issuer.authorize(MASTER, DOCUMENT, challenge, record().encode())
    with pytest.raises(IssuerAuthFailed, match="no longer valid"):
        chip.external_authenticate(record().digest(), cryptogram)


def test_only_the_next_slot_and_the_counter_are_writable() -> None:
    vcard = card()
    chip = session(vcard)
    authorise(chip, record())
    for offset in (0, ef.record_offset(2), ef.COUNT_OFFSET - 1):
        with pytest.raises(WriteRefused):
            chip.update(ef.EF_ENDORSEMENTS, offset, b"\x00\x01")
    from devices.icao import lds

    with pytest.raises(WriteRefused):
        chip.update(lds.DATA_GROUPS[1], 0, b"\x61")
    assert vcard.endorsements() == []


def test_a_full_file_takes_no_more_records() -> None:
    vcard = card(endorsements=[record(1), record(2, "E20250301000043")], endorsement_capacity=2)
    chip = session(vcard)
    chip.read_range(ef.EF_ENDORSEMENTS, 0, 8)
    challenge = chip.issuer_challenge()
    third = record(3, "E20250301000044")
    chip.external_authenticate(
        third.digest(), issuer.authorize(MASTER, DOCUMENT, challenge, third.encode())
    )
    with pytest.raises(EndorsementFull):
        chip.update(ef.EF_ENDORSEMENTS, ef.record_offset(3), third.encode())
