"""Passive authentication (Doc 9303 Part 11, 5.1): is the chip's data what the issuing
state signed?

Order of checks, each with its own verdict: the SOD's CMS signature with the document-signer
certificate; that certificate chained to a CSCA of the configured trust store; validity
dates of both at the given time; then every data group read against its hash in the SOD.
Time is a parameter, never read here.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from devices.base import ConfigurationError
from devices.icao import sod as sodmod
from devices.icao import tlv
from devices.icao.errors import TlvError

log = logging.getLogger(__name__)


class PassiveAuthResult(enum.Enum):
    VALID = "valid"
    HASH_MISMATCH = "hash_mismatch"
    SIGNATURE_INVALID = "signature_invalid"
    SIGNER_NOT_TRUSTED = "signer_not_trusted"
    CERTIFICATE_EXPIRED = "certificate_expired"


REASONS: dict[PassiveAuthResult, tuple[str, str]] = {
    PassiveAuthResult.VALID: ("证件芯片数据真实有效。", "The document chip data is genuine."),
    PassiveAuthResult.HASH_MISMATCH: (
        "证件芯片中的数据与签发机关的签名不一致，可能已被篡改。请联系工作人员。",
        "Data on the document chip does not match the issuer's signature and may have been"
        " altered. Please contact staff.",
    ),
    PassiveAuthResult.SIGNATURE_INVALID: (
        "证件芯片的安全签名无效，无法确认证件真伪。请联系工作人员。",
        "The security signature on the document chip is invalid, so the document cannot be"
        " confirmed as genuine. Please contact staff.",
    ),
    PassiveAuthResult.SIGNER_NOT_TRUSTED: (
        "证件签发机关的证书不在本机信任列表中，无法确认证件真伪。请联系工作人员。",
        "The certificate that signed this document is not in this kiosk's trust list, so the"
        " document cannot be confirmed as genuine. Please contact staff.",
    ),
    PassiveAuthResult.CERTIFICATE_EXPIRED: (
        "签发该证件所用的证书已过期或尚未生效，无法确认证件真伪。请联系工作人员。",
        "The certificate that signed this document has expired or is not yet valid, so the"
        " document cannot be confirmed as genuine. Please contact staff.",
    ),
}


@dataclass(frozen=True)
class PassiveAuthReport:
    result: PassiveAuthResult
    detail: str = ""  # technical, for staff logs (no personal data)
    mismatched_groups: tuple[int, ...] = ()
    checked_groups: tuple[int, ...] = ()
    signer_subject: str = ""
    hash_algorithm: str = ""
    signed_groups: tuple[int, ...] = field(default=())

    @property
    def valid(self) -> bool:
        return self.result is PassiveAuthResult.VALID

    @property
    def reason_zh(self) -> str:
        return REASONS[self.result][0]

    @property
    def reason_en(self) -> str:
        return REASONS[self.result][1]

    def as_dict(self) -> dict[str, object]:
        return {
            "result": self.result.value,
            "detail": self.detail,
            "mismatched_groups": list(self.mismatched_groups),
            "checked_groups": list(self.checked_groups),
            "signer": self.signer_subject,
            "hash_algorithm": self.hash_algorithm,
            "reason_zh": self.reason_zh,
            "reason_en": self.reason_en,
        }


@dataclass(frozen=True)
class TrustStore:
    """Trusted country-signing CA certificates (CSCA)."""

    certificates: tuple[x509.Certificate, ...] = ()
    source: str = ""

    def issuers_of(self, cert: x509.Certificate) -> list[x509.Certificate]:
        return [ca for ca in self.certificates if ca.subject == cert.issuer]


_CERT_SUFFIXES = {".pem", ".crt", ".cer", ".der"}


def _load_file(path: Path) -> list[x509.Certificate]:
    data = path.read_bytes()
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


def load_trust_store(location: str | Path) -> TrustStore:
    """CSCA certificates from a file (PEM bundle or DER) or a directory of such files.

    Raises ConfigurationError when nothing usable is found, naming the path."""
    path = Path(location)
    files = (
        sorted(p for p in path.iterdir() if p.suffix.lower() in _CERT_SUFFIXES)
        if path.is_dir()
        else [path]
    )
    certificates: list[x509.Certificate] = []
    for file in files:
        try:
            certificates.extend(_load_file(file))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"trust store file {file} is unreadable: {exc}") from exc
    if not certificates:
        raise ConfigurationError(f"trust store {path} holds no certificate")
    return TrustStore(tuple(certificates), str(path))


def _verify_signature(cert: x509.Certificate, signer: sodmod.SignerInfo) -> None:
    """Raise InvalidSignature (or TlvError for an unsupported algorithm)."""
    key = cert.public_key()
    data = signer.signed_attributes
    oid = signer.signature_algorithm
    if oid in sodmod.SIGNATURE_ALGORITHMS:
        kind, hash_name = sodmod.SIGNATURE_ALGORITHMS[oid]
    elif oid == sodmod.OID_RSA:
        kind, hash_name = "rsa", signer.digest_algorithm
    elif oid == sodmod.OID_RSA_PSS:
        kind, hash_name = "pss", _pss_hash(signer.signature_parameters)
    else:
        raise TlvError(f"unsupported signature algorithm {oid}")
    algorithm = sodmod.hash_algorithm(hash_name)
    if kind == "ecdsa":
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise InvalidSignature("ECDSA signature with a non-EC certificate")
        key.verify(signer.signature, data, ec.ECDSA(algorithm))
    else:
        if not isinstance(key, rsa.RSAPublicKey):
            raise InvalidSignature("RSA signature with a non-RSA certificate")
        pad: padding.AsymmetricPadding = (
            padding.PKCS1v15()
            if kind == "rsa"
            else padding.PSS(padding.MGF1(algorithm), padding.PSS.AUTO)
        )
        key.verify(signer.signature, data, pad, algorithm)


def _pss_hash(params: bytes) -> str:
    if not params:
        return "sha1"
    for part in tlv.decode(params).children():
        if part.tag == 0xA0:
            inner = tlv.decode_first(part.value).children()
            return sodmod.HASHES.get(tlv.parse_oid(inner[0].value), "sha1")
    return "sha1"


def _find_signer(security: sodmod.SecurityObject) -> x509.Certificate | None:
    signer = security.signer
    for cert in security.certificates:
        if signer.serial is not None and signer.issuer is not None:
            if cert.serial_number == signer.serial and cert.issuer.public_bytes() == signer.issuer:
                return cert
        elif signer.subject_key_id is not None:
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            except x509.ExtensionNotFound:
                continue
            if ski.value.digest == signer.subject_key_id:
                return cert
    return None


def _valid_at(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def verify(
    sod_data: bytes,
    data_groups: Mapping[int, bytes],
    trust: TrustStore,
    now: datetime,
) -> PassiveAuthReport:
    """Passive authentication of ``data_groups`` (number -> whole EF bytes) against EF.SOD.

    ``now`` must be timezone-aware. Never raises for bad chip data: a malformed SOD is
    reported as SIGNATURE_INVALID with the reason in ``detail``."""
    try:
        security = sodmod.parse_sod(sod_data)
    except TlvError as exc:
        return PassiveAuthReport(PassiveAuthResult.SIGNATURE_INVALID, f"malformed EF.SOD: {exc}")
    signer = security.signer
    signed_groups = tuple(sorted(security.data_group_hashes))
    subject = ""

    def report(
        result: PassiveAuthResult, detail: str, mismatched: tuple[int, ...] = ()
    ) -> PassiveAuthReport:
        return PassiveAuthReport(
            result,
            detail,
            mismatched_groups=mismatched,
            checked_groups=tuple(sorted(data_groups)),
            signer_subject=subject,
            hash_algorithm=security.hash_algorithm,
            signed_groups=signed_groups,
        )

    cert = _find_signer(security)
    if cert is None:
        return report(
            PassiveAuthResult.SIGNATURE_INVALID, "EF.SOD lacks the document-signer certificate"
        )
    subject = cert.subject.rfc4514_string()
    if security.content_type != sodmod.OID_LDS_SECURITY_OBJECT or (
        signer.content_type is not None and signer.content_type != security.content_type
    ):
        return report(PassiveAuthResult.SIGNATURE_INVALID, "wrong content type")
    digest = hashlib.new(signer.digest_algorithm, security.content).digest()
    if signer.message_digest is None or not hmac.compare_digest(digest, signer.message_digest):
        return report(PassiveAuthResult.SIGNATURE_INVALID, "security object digest mismatch")
    try:
        _verify_signature(cert, signer)
    except (InvalidSignature, TlvError, UnsupportedAlgorithm, ValueError) as exc:
        return report(PassiveAuthResult.SIGNATURE_INVALID, f"SOD signature fails ({exc!r})")
    csca = _chain(cert, trust)
    if csca is None:
        detail = (
            f"no trusted CSCA issued {cert.issuer.rfc4514_string()}"
            if trust.certificates
            else "no trust store configured"
        )
        return report(PassiveAuthResult.SIGNER_NOT_TRUSTED, detail)
    for link, role in ((cert, "document signer"), (csca, "CSCA")):
        if not _valid_at(link, now):
            return report(
                PassiveAuthResult.CERTIFICATE_EXPIRED,
                f"{role} certificate valid {link.not_valid_before_utc:%Y-%m-%d}"
                f"..{link.not_valid_after_utc:%Y-%m-%d}",
            )
    mismatched = tuple(
        number
        for number in sorted(data_groups)
        if not hmac.compare_digest(
            security.data_group_hashes.get(number, b""),
            hashlib.new(security.hash_algorithm, data_groups[number]).digest(),
        )
    )
    if mismatched:
        names = ", ".join(f"DG{n}" for n in mismatched)
        return report(PassiveAuthResult.HASH_MISMATCH, f"hash mismatch in {names}", mismatched)
    return report(PassiveAuthResult.VALID, "")


def _chain(cert: x509.Certificate, trust: TrustStore) -> x509.Certificate | None:
    """The trusted CSCA that signed ``cert``, or None."""
    for ca in trust.issuers_of(cert):
        try:
            cert.verify_directly_issued_by(ca)
        except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm) as exc:
            log.debug("CSCA %s did not sign the document signer: %s", ca.subject, exc)
            continue
        return ca
    return None


def trusted_subjects(trust: TrustStore) -> Sequence[str]:
    return [ca.subject.rfc4514_string() for ca in trust.certificates]
