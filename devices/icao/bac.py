"""Basic Access Control and 3DES secure messaging (Doc 9303 Part 11, sections 4.3 and 9.8).

Pure functions and one session object; no card I/O, so the Appendix D vectors test it
directly and the virtual card shares it. 2-key 3DES keys are expanded to 24 bytes (k1 k2 k1)
because ``cryptography`` warns on 16-byte keys.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from devices.icao.errors import AccessDenied, SecureMessagingError, TlvError
from devices.icao.tlv import decode_at, encode

_ZERO_IV = bytes(8)
_ENC = 1
_MAC = 2


def adjust_parity(key: bytes) -> bytes:
    """Set each byte's lowest bit so the byte has odd parity (DES key convention)."""
    return bytes((b & 0xFE) | ((bin(b >> 1).count("1") + 1) & 1) for b in key)


def key_seed(mrz_information: str) -> bytes:
    return hashlib.sha1(mrz_information.encode("ascii")).digest()[:16]


def derive_key(seed: bytes, counter: int) -> bytes:
    """Doc 9303-11 9.7.1: SHA-1(seed || counter) -> 16-byte 2-key 3DES key, parity adjusted."""
    digest = hashlib.sha1(seed + counter.to_bytes(4, "big")).digest()
    return adjust_parity(digest[:16])


def derive_keys(seed: bytes) -> tuple[bytes, bytes]:
    """(K_enc, K_mac) from a 16-byte seed."""
    return derive_key(seed, _ENC), derive_key(seed, _MAC)


def _tdes(key: bytes) -> TripleDES:
    if len(key) == 16:
        key = key + key[:8]
    return TripleDES(key)


def encrypt(key: bytes, data: bytes) -> bytes:
    """3DES-CBC with a zero IV (``data`` already padded)."""
    encryptor = Cipher(_tdes(key), modes.CBC(_ZERO_IV)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def decrypt(key: bytes, data: bytes) -> bytes:
    if len(data) % 8:
        raise SecureMessagingError("cryptogram length is not a multiple of 8")
    decryptor = Cipher(_tdes(key), modes.CBC(_ZERO_IV)).decryptor()
    return decryptor.update(data) + decryptor.finalize()


def pad(data: bytes) -> bytes:
    """ISO/IEC 9797-1 padding method 2: 0x80 then zeros to a multiple of 8."""
    return data + b"\x80" + bytes((7 - len(data)) % 8)


def unpad(data: bytes) -> bytes:
    end = data.rstrip(b"\x00")
    if not end or end[-1] != 0x80:
        raise SecureMessagingError("bad padding in a decrypted data object")
    return end[:-1]


def mac(key: bytes, data: bytes) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 (retail MAC) with DES, over ``pad(data)``.

    Single-DES CBC with K1 over every block, then decrypt with K2 and encrypt with K1;
    single DES is 3DES with K1 repeated."""
    k1, k2 = key[:8], key[8:16]
    cbc = Cipher(TripleDES(k1 * 3), modes.CBC(_ZERO_IV)).encryptor()
    last = (cbc.update(pad(data)) + cbc.finalize())[-8:]
    step = Cipher(TripleDES(k2 * 3), modes.ECB()).decryptor()
    middle = step.update(last) + step.finalize()
    final = Cipher(TripleDES(k1 * 3), modes.ECB()).encryptor()
    return final.update(middle) + final.finalize()


# --- BAC mutual authentication -----------------------------------------------------------


@dataclass(frozen=True)
class SessionKeys:
    ks_enc: bytes
    ks_mac: bytes
    ssc: int


def authenticate_command(
    k_enc: bytes, k_mac: bytes, rnd_icc: bytes, rnd_ifd: bytes, k_ifd: bytes
) -> bytes:
    """Data of MUTUAL AUTHENTICATE: E_IFD || M_IFD (40 bytes)."""
    e_ifd = encrypt(k_enc, rnd_ifd + rnd_icc + k_ifd)
    return e_ifd + mac(k_mac, e_ifd)


def session_from_response(
    k_enc: bytes, k_mac: bytes, rnd_icc: bytes, rnd_ifd: bytes, k_ifd: bytes, *, response: bytes
) -> SessionKeys:
    """Check the chip's E_ICC || M_ICC and derive the session keys and counter."""
    if len(response) != 40:
        raise AccessDenied("mutual authentication answer has the wrong length")
    e_icc, m_icc = response[:32], response[32:]
    if not hmac.compare_digest(mac(k_mac, e_icc), m_icc):
        raise AccessDenied("mutual authentication answer fails its MAC")
    plain = decrypt(k_enc, e_icc)
    if plain[0:8] != rnd_icc or plain[8:16] != rnd_ifd:
        raise AccessDenied("mutual authentication answer does not echo the challenges")
    k_icc = plain[16:32]
    return session_keys(k_ifd, k_icc, rnd_icc, rnd_ifd)


def session_keys(k_ifd: bytes, k_icc: bytes, rnd_icc: bytes, rnd_ifd: bytes) -> SessionKeys:
    seed = bytes(a ^ b for a, b in zip(k_ifd, k_icc, strict=True))
    ks_enc, ks_mac = derive_keys(seed)
    ssc = int.from_bytes(rnd_icc[4:8] + rnd_ifd[4:8], "big")
    return SessionKeys(ks_enc, ks_mac, ssc)


# --- Secure messaging --------------------------------------------------------------------


class SecureMessaging:
    """One 3DES secure-messaging session: wraps command APDUs and unwraps responses.

    Not thread-safe: one reading thread owns it (the send sequence counter is shared state)."""

    def __init__(self, keys: SessionKeys) -> None:
        self._enc = keys.ks_enc
        self._mac = keys.ks_mac
        self.ssc = keys.ssc

    def _next_ssc(self) -> bytes:
        self.ssc = (self.ssc + 1) & 0xFFFF_FFFF_FFFF_FFFF
        return self.ssc.to_bytes(8, "big")

    def protect(
        self,
        header: bytes,
        data: bytes = b"",
        le: int | None = None,
        *,
        extended: bool = False,
    ) -> bytes:
        """The protected APDU for ``header`` (CLA INS P1 P2), ``data`` and expected length.

        ``le`` is the plain expected length (256 / 65536 encode as zeros); extended
        switches to 3-byte Lc/2-byte Le framing."""
        cla, ins, p1, p2 = header
        masked = bytes([cla | 0x0C, ins, p1, p2])
        body = b""
        if data:
            body += encode(0x87, b"\x01" + encrypt(self._enc, pad(data)))
        if le is not None:
            le_bytes = (le & 0xFFFF).to_bytes(2, "big") if extended else bytes([le & 0xFF])
            body += encode(0x97, le_bytes)
        checksum = mac(self._mac, self._next_ssc() + pad(masked) + body)
        body += b"\x8e\x08" + checksum
        if extended:
            return masked + b"\x00" + len(body).to_bytes(2, "big") + body + b"\x00\x00"
        if len(body) > 255:
            raise SecureMessagingError("protected command too long for a short APDU")
        return masked + bytes([len(body)]) + body + b"\x00"

    def unprotect(self, response: bytes) -> tuple[bytes, int]:
        """Plain data and status word of a protected response (``response`` includes SW1 SW2).

        Raises SecureMessagingError when the MAC or the data objects are wrong."""
        if len(response) < 2:
            raise SecureMessagingError("response shorter than a status word")
        body, sw = response[:-2], int.from_bytes(response[-2:], "big")
        ssc = self._next_ssc()
        if not body:
            # Chips report errors (and SM failures, 69 87 / 69 88) without protection.
            if sw in (0x6987, 0x6988):
                raise SecureMessagingError(f"chip reports secure-messaging failure {sw:04X}")
            if sw == 0x9000:
                raise SecureMessagingError("success answered without secure messaging")
            return b"", sw
        do87: bytes | None = None
        do99: bytes | None = None
        do8e: bytes | None = None
        covered = b""
        try:
            offset = 0
            while offset < len(body):
                obj, offset = decode_at(body, offset)
                if obj.tag == 0x87:
                    do87 = obj.value
                    covered += obj.raw
                elif obj.tag == 0x99:
                    do99 = obj.value
                    covered += obj.raw
                elif obj.tag == 0x8E:
                    do8e = obj.value
                else:
                    raise SecureMessagingError(f"unexpected data object {obj.tag:X} in response")
        except TlvError as exc:
            raise SecureMessagingError("malformed protected response") from exc
        if do8e is None or do99 is None or len(do99) != 2:
            raise SecureMessagingError("protected response lacks its MAC or status object")
        if not hmac.compare_digest(mac(self._mac, ssc + covered), do8e):
            raise SecureMessagingError("response MAC does not verify")
        plain = b""
        if do87 is not None:
            if not do87 or do87[0] != 0x01:
                raise SecureMessagingError("encrypted data object without padding indicator")
            plain = unpad(decrypt(self._enc, do87[1:]))
        return plain, int.from_bytes(do99, "big")


def max_plain_response(extended: bool) -> int:
    """Largest plain chunk whose protected response fits the response APDU.

    Short: 256 bytes of response data minus DO99 (4), DO8E (10) and the DO87 header (4) ->
    238, rounded down to whole cipher blocks minus one padding byte -> 0xDF. Extended: vpcd
    and pcsc-lite carry at most 65 535 bytes per message, so stay well under that."""
    return 0xFF00 if extended else 0xDF
