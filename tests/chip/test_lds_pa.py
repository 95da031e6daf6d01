"""LDS files and passive authentication without a card: builders, parsers, every verdict,
and mutated files (only the layer's errors come out)."""

from __future__ import annotations

import contextlib
import datetime as dt
import io

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from devices.icao import lds, pa, sod
from devices.icao.errors import MrzInvalid, TlvError
from devices.simulators.vcard import DEFAULT_MRZ, make_face_jpeg
from devices.simulators.vcard_pki import TestPki

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
PKI = TestPki(NOW)
FACE, WIDTH, HEIGHT = make_face_jpeg()
GROUPS = {1: lds.build_dg1(DEFAULT_MRZ), 2: lds.build_dg2(FACE, WIDTH, HEIGHT)}
SOD = sod.build_sod(GROUPS, PKI.document_signer.key, PKI.document_signer.certificate)
TRUST = pa.TrustStore((PKI.csca.certificate,))
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_com_dg1_dg2_round_trip() -> None:
    com = lds.parse_com(lds.build_com((1, 2, 11)))
    assert com.data_groups == (1, 2, 11) and com.lds_version == "0107"
    assert lds.parse_dg1(GROUPS[1]).lines == DEFAULT_MRZ
    face = lds.parse_dg2(GROUPS[2])
    assert (face.format, face.data, face.width, face.height) == (
        lds.ImageFormat.JPEG,
        FACE,
        WIDTH,
        HEIGHT,
    )


def test_dg2_jpeg2000() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 80), (10, 20, 30)).save(buffer, "JPEG2000")
    face = lds.parse_dg2(lds.build_dg2(buffer.getvalue(), 64, 80))
    assert face.format is lds.ImageFormat.JPEG2000
    assert Image.open(io.BytesIO(face.data)).size == (64, 80)


def test_valid() -> None:
    report = pa.verify(SOD, GROUPS, TRUST, NOW)
    assert report.valid and report.checked_groups == (1, 2)
    assert report.hash_algorithm == "sha256" and "Test Document Signer" in report.signer_subject


def test_hash_mismatch_names_the_group() -> None:
    tampered = {**GROUPS, 2: GROUPS[2][:-1] + bytes([GROUPS[2][-1] ^ 1])}
    report = pa.verify(SOD, tampered, TRUST, NOW)
    assert report.result is pa.PassiveAuthResult.HASH_MISMATCH
    assert report.mismatched_groups == (2,)
    assert "DG2" in report.detail


def test_group_not_covered_by_the_sod_is_a_mismatch() -> None:
    report = pa.verify(SOD, {**GROUPS, 11: b"\x6b\x00"}, TRUST, NOW)
    assert report.mismatched_groups == (11,)


def test_signature_invalid() -> None:
    data = bytearray(SOD)
    data[-5] ^= 0x40  # inside the signature value at the end of SignerInfo
    report = pa.verify(bytes(data), GROUPS, TRUST, NOW)
    assert report.result is pa.PassiveAuthResult.SIGNATURE_INVALID


def test_security_object_changed_after_signing() -> None:
    forged = sod.build_sod(
        GROUPS,
        PKI.document_signer.key,
        PKI.document_signer.certificate,
        hashed_groups={**GROUPS, 1: b"other"},
    )
    # splice the forged LDSSecurityObject under the genuine signature: digest check fails
    genuine = sod.parse_sod(SOD)
    spliced = SOD.replace(genuine.content, sod.parse_sod(forged).content)
    report = pa.verify(spliced, GROUPS, TRUST, NOW)
    assert report.result is pa.PassiveAuthResult.SIGNATURE_INVALID


def test_short_sequences_in_the_sod_are_tlv_errors() -> None:
    from devices.icao import tlv

    content = tlv.seq(
        tlv.integer(0), tlv.seq(tlv.oid("2.16.840.1.101.3.4.2.1")), tlv.seq(tlv.seq(tlv.integer(1)))
    )
    with pytest.raises(TlvError):
        sod.parse_security_object(content)
    broken = SOD.replace(sod.parse_sod(SOD).content, content)
    assert pa.verify(broken, GROUPS, TRUST, NOW).result is pa.PassiveAuthResult.SIGNATURE_INVALID


def test_untrusted_signer() -> None:
    signer = PKI.untrusted_signer
    report = pa.verify(sod.build_sod(GROUPS, signer.key, signer.certificate), GROUPS, TRUST, NOW)
    assert report.result is pa.PassiveAuthResult.SIGNER_NOT_TRUSTED
    assert pa.verify(SOD, GROUPS, pa.TrustStore(), NOW).result is (
        pa.PassiveAuthResult.SIGNER_NOT_TRUSTED
    )


def test_expired_certificates() -> None:
    signer = PKI.expired_signer
    report = pa.verify(sod.build_sod(GROUPS, signer.key, signer.certificate), GROUPS, TRUST, NOW)
    assert report.result is pa.PassiveAuthResult.CERTIFICATE_EXPIRED
    later = NOW + dt.timedelta(days=5000)  # beyond the CSCA and the signer
    assert pa.verify(SOD, GROUPS, TRUST, later).result is pa.PassiveAuthResult.CERTIFICATE_EXPIRED


def test_rsa_document_signer() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string("CN=RSA Signer,O=Kiosk Test PKI,C=CN"))
        .issuer_name(PKI.csca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=10))
        .sign(PKI.csca.key, hashes.SHA256())
    )
    assert pa.verify(sod.build_sod(GROUPS, key, cert), GROUPS, TRUST, NOW).valid


def test_every_result_has_both_languages() -> None:
    for result in pa.PassiveAuthResult:
        report = pa.PassiveAuthReport(result)
        assert report.reason_zh and report.reason_en
        assert report.as_dict()["result"] == result.value


def test_trust_store_loading(tmp_path: object) -> None:
    from pathlib import Path

    from devices.base import ConfigurationError

    folder = Path(str(tmp_path))
    PKI.write_trust_store(folder / "csca.pem")
    assert pa.load_trust_store(folder).certificates == TRUST.certificates
    assert pa.load_trust_store(folder / "csca.pem").certificates == TRUST.certificates
    (folder / "bad.crt").write_bytes(b"nonsense")
    with pytest.raises(ConfigurationError):
        pa.load_trust_store(folder / "bad.crt")


@SETTINGS
@given(st.data())
def test_mutated_files_give_only_layer_errors_or_verdicts(data: st.DataObject) -> None:
    name, original = data.draw(
        st.sampled_from([("sod", SOD), ("dg1", GROUPS[1]), ("dg2", GROUPS[2])])
    )
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(mutated) - 1))
        mutated[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    blob = bytes(mutated[:cut] if data.draw(st.booleans()) else mutated)
    if name == "sod":
        report = pa.verify(blob, GROUPS, TRUST, NOW)
        assert report.result in pa.PassiveAuthResult
        return
    with contextlib.suppress(TlvError, MrzInvalid):
        lds.parse_dg1(blob) if name == "dg1" else lds.parse_dg2(blob)
