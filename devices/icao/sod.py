"""EF.SOD: the CMS SignedData over the LDS Security Object (Doc 9303 Part 10, 4.6.2 and
Part 11, 5.1), read with the small DER reader of :mod:`devices.icao.tlv`.

``cryptography`` (50.x) reads certificates out of PKCS #7 but offers no API to verify a
SignedData whose content type is not id-data, nor to reach its signed attributes, so the
structure is parsed here and each signature checked with ``cryptography`` primitives.
A builder for the virtual card lives alongside so both sides share one definition.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from devices.icao import tlv
from devices.icao.errors import TlvError

OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_LDS_SECURITY_OBJECT = "2.23.136.1.1.1"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_TIME = "1.2.840.113549.1.9.5"
OID_RSA = "1.2.840.113549.1.1.1"
OID_RSA_PSS = "1.2.840.113549.1.1.10"

HASHES: dict[str, str] = {
    "1.3.14.3.2.26": "sha1",
    "2.16.840.1.101.3.4.2.4": "sha224",
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
HASH_OIDS = {name: oid for oid, name in HASHES.items()}
# signature algorithm OID -> (kind, hash name); kind "rsa" = PKCS #1 v1.5.
SIGNATURE_ALGORITHMS: dict[str, tuple[str, str]] = {
    "1.2.840.113549.1.1.5": ("rsa", "sha1"),
    "1.2.840.113549.1.1.14": ("rsa", "sha224"),
    "1.2.840.113549.1.1.11": ("rsa", "sha256"),
    "1.2.840.113549.1.1.12": ("rsa", "sha384"),
    "1.2.840.113549.1.1.13": ("rsa", "sha512"),
    "1.2.840.10045.4.1": ("ecdsa", "sha1"),
    "1.2.840.10045.4.3.1": ("ecdsa", "sha224"),
    "1.2.840.10045.4.3.2": ("ecdsa", "sha256"),
    "1.2.840.10045.4.3.3": ("ecdsa", "sha384"),
    "1.2.840.10045.4.3.4": ("ecdsa", "sha512"),
}
_HASH_CLASSES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    return _HASH_CLASSES[name]()


@dataclass(frozen=True)
class SignerInfo:
    issuer: bytes | None  # DER Name of issuerAndSerialNumber
    serial: int | None
    subject_key_id: bytes | None
    digest_algorithm: str
    signed_attributes: bytes  # DER, re-tagged as SET OF for signature checking
    content_type: str | None
    message_digest: bytes | None
    signature_algorithm: str  # OID
    signature_parameters: bytes  # DER of the parameters (RSA-PSS), empty when absent
    signature: bytes


@dataclass(frozen=True)
class SecurityObject:
    """The parsed EF.SOD."""

    content_type: str
    content: bytes  # DER of the LDSSecurityObject (what messageDigest covers)
    hash_algorithm: str
    data_group_hashes: dict[int, bytes]
    certificates: tuple[x509.Certificate, ...]
    signer: SignerInfo


def _parts(node: tlv.Tlv, minimum: int, tag: int = 0x30) -> list[tlv.Tlv]:
    """Children of a constructed node that must have at least ``minimum`` of them."""
    children = tlv.expect(node, tag).children()
    if len(children) < minimum:
        raise TlvError(f"tag {tag:X} has {len(children)} elements, expected {minimum}")
    return children


def _algorithm(node: tlv.Tlv) -> tuple[str, bytes]:
    parts = tlv.expect(node, 0x30).children()
    if not parts:
        raise TlvError("empty AlgorithmIdentifier")
    params = parts[1].raw if len(parts) > 1 else b""
    return tlv.parse_oid(tlv.expect(parts[0], 0x06).value), params


def _hash_name(oid: str) -> str:
    try:
        return HASHES[oid]
    except KeyError:
        raise TlvError(f"unsupported hash algorithm {oid}") from None


def _signer_info(node: tlv.Tlv) -> SignerInfo:
    parts = tlv.expect(node, 0x30).children()
    if len(parts) < 5:
        raise TlvError("SignerInfo is too short")
    issuer = serial = ski = None
    sid = parts[1]
    if sid.tag == 0x30:
        name, number = _parts(sid, 2)[:2]
        issuer, serial = tlv.expect(name, 0x30).raw, tlv.parse_int(tlv.expect(number, 0x02).value)
    elif sid.tag == 0x80:
        ski = sid.value
    else:
        raise TlvError("SignerInfo identifier is neither issuer+serial nor key identifier")
    digest_oid, _ = _algorithm(parts[2])
    index = 3
    signed = b""
    content_type: str | None = None
    message_digest: bytes | None = None
    if parts[index].tag == 0xA0:
        signed = tlv.encode(0x31, parts[index].value)
        for attribute in parts[index].children():
            attr_type, values = _parts(attribute, 2)[:2]
            oid = tlv.parse_oid(tlv.expect(attr_type, 0x06).value)
            first = tlv.expect(values, 0x31).children()
            if not first:
                raise TlvError("signed attribute without a value")
            if oid == OID_CONTENT_TYPE:
                content_type = tlv.parse_oid(tlv.expect(first[0], 0x06).value)
            elif oid == OID_MESSAGE_DIGEST:
                message_digest = tlv.expect(first[0], 0x04).value
        index += 1
    if len(parts) < index + 2:
        raise TlvError("SignerInfo lacks its signature")
    signature_oid, signature_params = _algorithm(parts[index])
    signature = tlv.expect(parts[index + 1], 0x04).value
    return SignerInfo(
        issuer=issuer,
        serial=serial,
        subject_key_id=ski,
        digest_algorithm=_hash_name(digest_oid),
        signed_attributes=signed,
        content_type=content_type,
        message_digest=message_digest,
        signature_algorithm=signature_oid,
        signature_parameters=signature_params,
        signature=signature,
    )


def parse_security_object(content: bytes) -> tuple[str, dict[int, bytes]]:
    """(hash algorithm name, data-group number -> hash) of an LDSSecurityObject."""
    parts = tlv.expect(tlv.decode(content), 0x30).children()
    if len(parts) < 3:
        raise TlvError("LDSSecurityObject is too short")
    algorithm, _ = _algorithm(parts[1])
    hashes_by_group: dict[int, bytes] = {}
    for entry in tlv.expect(parts[2], 0x30).children():
        number, value = _parts(entry, 2)[:2]
        hashes_by_group[tlv.parse_int(tlv.expect(number, 0x02).value)] = tlv.expect(
            value, 0x04
        ).value
    return _hash_name(algorithm), hashes_by_group


def parse_sod(data: bytes) -> SecurityObject:
    """Parse EF.SOD (tag 77 around a ContentInfo). Raises TlvError on any malformation;
    certificates that do not parse are a TlvError too."""
    try:
        return _parse_sod(data)
    except (ValueError, IndexError) as exc:  # a SEQUENCE with too few elements, and such
        raise TlvError(f"malformed EF.SOD: {exc}") from exc


def _certificate(der: bytes) -> x509.Certificate:
    """Load a certificate and touch every field passive authentication reads, since
    ``cryptography`` parses names and extensions lazily and would fail later."""
    try:
        cert = x509.load_der_x509_certificate(der)
        _ = (cert.subject, cert.issuer, cert.serial_number, cert.extensions)
        _ = (cert.not_valid_before_utc, cert.not_valid_after_utc)
    except (ValueError, TypeError, x509.InvalidVersion) as exc:
        raise TlvError(f"EF.SOD carries a malformed certificate: {exc}") from exc
    return cert


def _parse_sod(data: bytes) -> SecurityObject:
    root = tlv.decode_first(data)
    if root.tag != 0x77:
        raise TlvError(f"EF.SOD must start with tag 77, found {root.tag:X}")
    content_info = tlv.expect(tlv.decode_first(root.value), 0x30).children()
    if len(content_info) < 2 or tlv.parse_oid(content_info[0].value) != OID_SIGNED_DATA:
        raise TlvError("EF.SOD does not hold a CMS SignedData")
    signed_data = tlv.expect(tlv.decode_first(tlv.expect(content_info[1], 0xA0).value), 0x30)
    parts = signed_data.children()
    if len(parts) < 4:
        raise TlvError("SignedData is too short")
    encap = tlv.expect(parts[2], 0x30).children()
    if len(encap) < 2:
        raise TlvError("SignedData carries no content")
    content_type = tlv.parse_oid(tlv.expect(encap[0], 0x06).value)
    content = tlv.expect(tlv.decode_first(tlv.expect(encap[1], 0xA0).value), 0x04).value
    certificates: list[x509.Certificate] = []
    signer_infos: tlv.Tlv | None = None
    for part in parts[3:]:
        if part.tag == 0xA0:
            for cert in part.children():
                certificates.append(_certificate(cert.raw))
        elif part.tag == 0x31:
            signer_infos = part
    if signer_infos is None or not signer_infos.children():
        raise TlvError("SignedData has no SignerInfo")
    algorithm, group_hashes = parse_security_object(content)
    return SecurityObject(
        content_type=content_type,
        content=content,
        hash_algorithm=algorithm,
        data_group_hashes=group_hashes,
        certificates=tuple(certificates),
        signer=_signer_info(signer_infos.children()[0]),
    )


# --- building (virtual card, tests) --------------------------------------------------------

SignerKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def build_security_object(data_groups: Mapping[int, bytes], algorithm: str = "sha256") -> bytes:
    entries = [
        tlv.seq(tlv.integer(n), tlv.octet_string(hashlib.new(algorithm, data_groups[n]).digest()))
        for n in sorted(data_groups)
    ]
    return tlv.seq(tlv.integer(0), tlv.seq(tlv.oid(HASH_OIDS[algorithm])), tlv.seq(*entries))


def build_sod(
    data_groups: Mapping[int, bytes],
    signer_key: SignerKey,
    signer_cert: x509.Certificate,
    *,
    algorithm: str = "sha256",
    hashed_groups: Mapping[int, bytes] | None = None,
) -> bytes:
    """EF.SOD signing the hashes of ``hashed_groups`` (default: ``data_groups``)."""
    content = build_security_object(hashed_groups or data_groups, algorithm)
    digest = hashlib.new(algorithm, content).digest()
    attributes = [
        tlv.seq(tlv.oid(OID_CONTENT_TYPE), tlv.set_of(tlv.oid(OID_LDS_SECURITY_OBJECT))),
        tlv.seq(tlv.oid(OID_MESSAGE_DIGEST), tlv.set_of(tlv.octet_string(digest))),
    ]
    signed_set = tlv.set_of(*attributes)
    hash_cls = hash_algorithm(algorithm)
    if isinstance(signer_key, ec.EllipticCurvePrivateKey):
        signature = signer_key.sign(signed_set, ec.ECDSA(hash_cls))
        signature_oid = next(
            o for o, v in SIGNATURE_ALGORITHMS.items() if v == ("ecdsa", algorithm)
        )
        signature_alg = tlv.seq(tlv.oid(signature_oid))
    else:
        signature = signer_key.sign(signed_set, padding.PKCS1v15(), hash_cls)
        signature_alg = tlv.seq(tlv.oid(OID_RSA), tlv.encode(0x05, b""))
    issuer_serial = tlv.seq(
        signer_cert.issuer.public_bytes(), tlv.integer(signer_cert.serial_number)
    )
    digest_alg = tlv.seq(tlv.oid(HASH_OIDS[algorithm]))
    signer_info = tlv.seq(
        tlv.integer(1),
        issuer_serial,
        digest_alg,
        tlv.encode(0xA0, _set_body(signed_set)),
        signature_alg,
        tlv.octet_string(signature),
    )
    signed_data = tlv.seq(
        tlv.integer(3),
        tlv.set_of(digest_alg),
        tlv.seq(tlv.oid(OID_LDS_SECURITY_OBJECT), tlv.encode(0xA0, tlv.octet_string(content))),
        tlv.encode(0xA0, signer_cert.public_bytes(Encoding.DER)),
        tlv.set_of(signer_info),
    )
    content_info = tlv.seq(tlv.oid(OID_SIGNED_DATA), tlv.encode(0xA0, signed_data))
    return tlv.encode(0x77, content_info)


def _set_body(encoded_set: bytes) -> bytes:
    return tlv.decode(encoded_set).value
