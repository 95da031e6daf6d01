"""A throw-away document PKI for the virtual card: a test CSCA, its document signer, and the
odd cases (a signer from an untrusted CSCA, an expired signer). Made at run time with
``cryptography``; keys never touch the disk unless the caller exports the CSCA certificate.

Also the personalisation step of the issuer key: the bureau derives each chip's document key
from its issuer master key and the document number (docs/chip-reader.md) and loads only that
key into the chip. The virtual card does the same with a demo master key (a published test
value, never a production key) unless it is given its document key.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFCMAC, CounterLocation, Mode
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Signer:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Kiosk Test PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: Signer | None,
    not_before: dt.datetime,
    not_after: dt.datetime,
) -> x509.Certificate:
    is_ca = issuer is None
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.certificate.subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=0 if is_ca else None), True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not is_ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=is_ca,
                crl_sign=is_ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    signing_key = issuer.key if issuer else key
    return builder.sign(signing_key, hashes.SHA256())


def _signer(
    subject: str, issuer: Signer | None, not_before: dt.datetime, not_after: dt.datetime
) -> Signer:
    key = ec.generate_private_key(ec.SECP256R1())
    return Signer(key, _certificate(subject, key, issuer, not_before, not_after))


class TestPki:
    """CSCA -> document signer chains, created at construction (about 5 ms with P-256)."""

    __test__ = False  # not a pytest test class

    def __init__(self, now: dt.datetime | None = None) -> None:
        now = now or dt.datetime.now(dt.UTC)
        day = dt.timedelta(days=1)
        self.csca = _signer("Test CSCA", None, now - day, now + 3650 * day)
        self.document_signer = _signer(
            "Test Document Signer", self.csca, now - day, now + 730 * day
        )
        self.expired_signer = _signer(
            "Test Document Signer (expired)", self.csca, now - 1000 * day, now - 10 * day
        )
        rogue = _signer("Test CSCA", None, now - day, now + 3650 * day)  # same name, other key
        self.untrusted_signer = _signer("Test Document Signer", rogue, now - day, now + 730 * day)

    def csca_pem(self) -> bytes:
        return self.csca.certificate.public_bytes(Encoding.PEM)

    def write_trust_store(self, path: str | Path) -> Path:
        """Write the CSCA certificate (PEM) to ``path`` for the reader's trust_store."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.csca_pem())
        return target


# The demo issuer master key: a published test value shared with the reference central's demo
# configuration so that demos can issue endorsements end to end. Never a production key.
DEMO_ISSUER_MASTER_KEY = bytes.fromhex(
    "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
)
ISSUER_KDF_LABEL = b"EXIT-ENTRY ENDORSEMENT ISSUER KEY"


def personalise_document_key(master_key: bytes, document_number: str) -> bytes:
    """The 16-byte AES key a chip holds: NIST SP 800-108 counter mode with AES-CMAC under the
    master key (label ISSUER_KDF_LABEL, context the '<'-padded 9-character document
    number). The issuer side (central/issuer.py) derives the same key independently."""
    context = document_number.strip().upper().ljust(9, "<").encode("ascii")
    kdf = KBKDFCMAC(
        algorithm=algorithms.AES,
        mode=Mode.CounterMode,
        length=16,
        rlen=4,
        llen=4,
        location=CounterLocation.BeforeFixed,
        label=ISSUER_KDF_LABEL,
        context=context,
        fixed=None,
    )
    return kdf.derive(master_key)
