"""The eMRTD application of the virtual travel permit: command APDUs in, response APDUs out,
independent of the transport (vcard.py puts it on vpcd's socket).

Doc 9303 Parts 10 and 11: SELECT of the application, BAC (GET CHALLENGE, MUTUAL
AUTHENTICATE), then 3DES secure messaging for SELECT EF / READ BINARY (by FID, by SFI, short
and extended length). On top, the project's endorsement file (devices/endorsement.py) and
its issuer authentication (docs/chip-reader.md): under secure messaging, GET CHALLENGE gives
8 random bytes valid for the next command only; EXTERNAL AUTHENTICATE (P2 81, the issuer
key) with SHA-256(record) || AES-CMAC(document key, "ENDORSE1" || challenge || that hash)
authorises one record; UPDATE BINARY may then fill the next free slot, and the one-byte
commit counter is accepted only when the slot holds exactly the authorised record. Every
other write is refused (69 82). The card holds its own document key, never the master key.

Tearing: ``process(raw, torn=True)`` models the card leaving the field while it executes the
command: an UPDATE BINARY writes the first half of its data, anything else has no effect,
and no answer goes out (``CardPulled``). A one-byte write (the commit) is atomic.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives import cmac
from cryptography.hazmat.primitives.ciphers import algorithms

from devices import endorsement as ef
from devices.icao import bac, lds
from devices.icao.errors import SecureMessagingError, TlvError
from devices.icao.tlv import decode_at, encode

log = logging.getLogger(__name__)

SW_OK = 0x9000
SW_END_OF_FILE = 0x6282
SW_AUTH_FAILED = 0x6300
SW_WRONG_LENGTH = 0x6700
SW_SECURITY_STATUS = 0x6982
SW_NO_CURRENT_EF = 0x6986
SW_CONDITIONS = 0x6985
SW_SM_OBJECTS = 0x6988
SW_WRONG_DATA = 0x6A80
SW_NOT_FOUND = 0x6A82
SW_NO_SPACE = 0x6A84
SW_KEY_NOT_FOUND = 0x6A88
SW_WRONG_P1P2 = 0x6B00
SW_INS = 0x6D00
SW_CLA = 0x6E00
SW_NO_DIAGNOSIS = 0x6F00

ISSUER_KEY_REFERENCE = 0x81
ISSUER_MAC_DOMAIN = b"ENDORSE1"
# Status words real chips give when they do not support READ BINARY by short file id.
SFI_REFUSALS = (0x6986, 0x6A81, 0x6A86, 0x6D00)


class CardPulled(Exception):
    """The card left the reader while executing a command: nothing is answered."""


@dataclass(frozen=True)
class CardApdu:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None
    extended: bool


def parse_command(apdu: bytes) -> CardApdu:
    """ISO 7816-4 5.1 command cases 1-4, short and extended. Raises ValueError."""
    if len(apdu) < 4:
        raise ValueError("APDU shorter than its header")
    cla, ins, p1, p2 = apdu[:4]
    body = apdu[4:]
    if not body:
        return CardApdu(cla, ins, p1, p2, b"", None, False)
    if len(body) == 1:
        return CardApdu(cla, ins, p1, p2, b"", body[0] or 256, False)
    if body[0] != 0:
        lc = body[0]
        data = body[1 : 1 + lc]
        rest = body[1 + lc :]
        if len(data) != lc or len(rest) > 1:
            raise ValueError("short APDU length mismatch")
        return CardApdu(cla, ins, p1, p2, data, (rest[0] or 256) if rest else None, False)
    if len(body) == 3:
        return CardApdu(cla, ins, p1, p2, b"", int.from_bytes(body[1:3], "big") or 65536, True)
    lc = int.from_bytes(body[1:3], "big")
    data = body[3 : 3 + lc]
    rest = body[3 + lc :]
    if len(data) != lc or len(rest) not in (0, 2) or lc == 0:
        raise ValueError("extended APDU length mismatch")
    le = (int.from_bytes(rest, "big") or 65536) if rest else None
    return CardApdu(cla, ins, p1, p2, data, le, True)


def sw_bytes(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


class CardSession(bac.SecureMessaging):
    """The card's side of secure messaging: unwrap commands, wrap responses (same keys and
    send sequence counter as the reader's side)."""

    def unwrap(self, apdu: CardApdu) -> CardApdu:
        objects: dict[int, bytes] = {}
        covered = b""
        offset = 0
        try:
            while offset < len(apdu.data):
                obj, offset = decode_at(apdu.data, offset)
                objects[obj.tag] = obj.value
                if obj.tag in (0x87, 0x97):
                    covered += obj.raw
        except TlvError as exc:
            raise SecureMessagingError("malformed protected command") from exc
        header = bytes([apdu.cla, apdu.ins, apdu.p1, apdu.p2])
        expected = bac.mac(self._mac, self._next_ssc() + bac.pad(header) + covered)
        if objects.get(0x8E) != expected:
            raise SecureMessagingError("command MAC does not verify")
        data = b""
        if 0x87 in objects:
            data = bac.unpad(bac.decrypt(self._enc, objects[0x87][1:]))
        le: int | None = None
        if 0x97 in objects:
            raw = objects[0x97]
            le = int.from_bytes(raw, "big") or (256 if len(raw) == 1 else 65536)
        return CardApdu(apdu.cla & 0xF0, apdu.ins, apdu.p1, apdu.p2, data, le, apdu.extended)

    def wrap(self, data: bytes, sw: int) -> bytes:
        body = b""
        if data:
            body += encode(0x87, b"\x01" + bac.encrypt(self._enc, bac.pad(data)))
        body += encode(0x99, sw_bytes(sw))
        body += encode(0x8E, bac.mac(self._mac, self._next_ssc() + body))
        return body + sw_bytes(sw)


def issuer_cryptogram(document_key: bytes, challenge: bytes, record_digest: bytes) -> bytes:
    """What the chip expects in EXTERNAL AUTHENTICATE (docs/chip-reader.md)."""
    mac = cmac.CMAC(algorithms.AES(document_key))
    mac.update(ISSUER_MAC_DOMAIN + challenge + record_digest)
    return mac.finalize()


class TravelDocumentApplication:
    """The card logic. ``files`` maps FID to the whole EF (static data groups, EF.COM,
    EF.SOD); the endorsement file is the one writable EF."""

    def __init__(
        self,
        *,
        files: Mapping[int, bytes],
        sfi: Mapping[int, int],
        k_enc: bytes,
        k_mac: bytes,
        document_key: bytes | None,
        endorsements: bytes,
        extended_length: bool = True,
        refuse_bac: bool = False,
        refuse_sfi: int | None = None,
        sm_failures: int = 0,
        sm_failure_after: int = 3,
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        if refuse_sfi is not None and refuse_sfi not in SFI_REFUSALS:
            raise ValueError(f"refuse_sfi must be one of {[f'{sw:04X}' for sw in SFI_REFUSALS]}")
        self.files = dict(files)
        self.sfi = {**sfi, ef.EF_ENDORSEMENTS.sfi: ef.EF_ENDORSEMENTS.fid}
        self.endorsement_file = bytearray(endorsements)
        self.extended_length = extended_length
        self.refuse_bac = refuse_bac
        self.refuse_sfi = refuse_sfi
        self.sm_failures = sm_failures
        self.sm_failure_after = sm_failure_after
        self._k_enc, self._k_mac = k_enc, k_mac
        self._document_key = document_key
        self._random = random
        self.reset()

    # --- state ------------------------------------------------------------------------------

    def reset(self) -> None:
        """Power off / on / reset: every session state goes, the files stay."""
        self._app_selected = False
        self._challenge: bytes | None = None
        self._session: CardSession | None = None
        self._current: int | None = None
        self._protected_count = 0
        self._issuer_challenge: bytes | None = None
        self._authorised: bytes | None = None  # SHA-256 of the one record allowed

    @property
    def committed(self) -> int:
        return self.endorsement_file[ef.COUNT_OFFSET]

    def _content(self, fid: int) -> bytes | None:
        if fid == ef.EF_ENDORSEMENTS.fid:
            return bytes(self.endorsement_file)
        return self.files.get(fid)

    # --- dispatch ---------------------------------------------------------------------------

    def process(self, raw: bytes, *, torn: bool = False) -> bytes:
        """Answer one command APDU. With ``torn`` the card is pulled while executing it
        (``CardPulled``: no answer)."""
        try:
            apdu = parse_command(raw)
        except ValueError:
            return sw_bytes(SW_WRONG_LENGTH)
        if apdu.extended and not self.extended_length:
            return sw_bytes(SW_WRONG_LENGTH)
        if apdu.cla & 0x0C == 0x0C:
            return self._protected(apdu, torn)
        if torn:
            raise CardPulled("card pulled during an unprotected command")
        if apdu.cla != 0x00:
            return sw_bytes(SW_CLA)
        if apdu.ins == 0xA4 and apdu.p1 == 0x04:
            return self._select_application(apdu)
        if apdu.ins == 0x84:
            return self._get_challenge(apdu)
        if apdu.ins == 0x82:
            return self._mutual_authenticate(apdu)
        if apdu.ins in (0xA4, 0xB0, 0xD6):
            return sw_bytes(SW_SECURITY_STATUS)  # files only under secure messaging
        return sw_bytes(SW_INS)

    # --- BAC ----------------------------------------------------------------------------------

    def _select_application(self, apdu: CardApdu) -> bytes:
        self.reset()
        if apdu.data != lds.AID:
            return sw_bytes(SW_NOT_FOUND)
        self._app_selected = True
        return sw_bytes(SW_OK)

    def _get_challenge(self, apdu: CardApdu) -> bytes:
        if not self._app_selected or apdu.le != 8:
            return sw_bytes(SW_WRONG_LENGTH if self._app_selected else SW_SECURITY_STATUS)
        self._end_session()
        self._challenge = self._random(8)
        return self._challenge + sw_bytes(SW_OK)

    def _mutual_authenticate(self, apdu: CardApdu) -> bytes:
        challenge, self._challenge = self._challenge, None
        if challenge is None or len(apdu.data) != 40:
            return sw_bytes(SW_SECURITY_STATUS)
        e_ifd, m_ifd = apdu.data[:32], apdu.data[32:]
        if self.refuse_bac or bac.mac(self._k_mac, e_ifd) != m_ifd:
            return sw_bytes(SW_AUTH_FAILED)
        plain = bac.decrypt(self._k_enc, e_ifd)
        rnd_ifd, rnd_icc, k_ifd = plain[:8], plain[8:16], plain[16:32]
        if rnd_icc != challenge:
            return sw_bytes(SW_AUTH_FAILED)
        k_icc = self._random(16)
        e_icc = bac.encrypt(self._k_enc, rnd_icc + rnd_ifd + k_icc)
        self._session = CardSession(bac.session_keys(k_ifd, k_icc, rnd_icc, rnd_ifd))
        self._protected_count = 0
        return e_icc + bac.mac(self._k_mac, e_icc) + sw_bytes(SW_OK)

    def _end_session(self) -> None:
        self._session = None
        self._issuer_challenge = None
        self._authorised = None

    # --- secure messaging ---------------------------------------------------------------------

    def _protected(self, apdu: CardApdu, torn: bool) -> bytes:
        session = self._session
        if session is None:
            return sw_bytes(SW_SM_OBJECTS)
        self._protected_count += 1
        if self.sm_failures > 0 and self._protected_count > self.sm_failure_after:
            self.sm_failures -= 1
            self._end_session()
            return sw_bytes(SW_SM_OBJECTS)
        try:
            inner = session.unwrap(apdu)
        except SecureMessagingError as exc:
            log.debug("virtual card drops secure messaging: %s", exc)
            self._end_session()  # Doc 9303-11 9.8.6: an SM error ends the session
            return sw_bytes(SW_SM_OBJECTS)
        # An issuer challenge is good for the very next command only.
        challenge, self._issuer_challenge = self._issuer_challenge, None
        data, sw = self._command(inner, challenge, torn)
        return session.wrap(data, sw)

    def _command(self, apdu: CardApdu, challenge: bytes | None, torn: bool) -> tuple[bytes, int]:
        if apdu.ins == 0xD6:
            return self._update_binary(apdu, torn)
        if torn:
            raise CardPulled("card pulled during a protected command")
        if apdu.ins == 0xA4 and apdu.p1 == 0x02:
            return self._select_file(apdu)
        if apdu.ins == 0xB0:
            return self._read_binary(apdu)
        if apdu.ins == 0x84:
            return self._issuer_challenge_command(apdu)
        if apdu.ins == 0x82:
            return self._external_authenticate(apdu, challenge)
        return b"", SW_INS

    def _select_file(self, apdu: CardApdu) -> tuple[bytes, int]:
        fid = int.from_bytes(apdu.data, "big") if len(apdu.data) == 2 else -1
        if self._content(fid) is None:
            return b"", SW_NOT_FOUND
        self._current = fid
        return b"", SW_OK

    def _read_binary(self, apdu: CardApdu) -> tuple[bytes, int]:
        if apdu.p1 & 0x80:
            if self.refuse_sfi is not None:
                return b"", self.refuse_sfi
            by_sfi = self.sfi.get(apdu.p1 & 0x1F)
            if by_sfi is None or self._content(by_sfi) is None or apdu.p1 & 0x60:
                return b"", SW_NOT_FOUND
            self._current, offset = by_sfi, apdu.p2
        else:
            offset = (apdu.p1 << 8) | apdu.p2
        if self._current is None:
            return b"", SW_NO_CURRENT_EF
        content = self._content(self._current)
        assert content is not None
        if offset >= len(content) or apdu.le is None:
            return b"", SW_WRONG_P1P2
        chunk = content[offset : offset + apdu.le]
        return chunk, SW_OK if len(chunk) == apdu.le else SW_END_OF_FILE

    # --- issuer authentication and the endorsement file ---------------------------------------

    def _issuer_challenge_command(self, apdu: CardApdu) -> tuple[bytes, int]:
        if apdu.le != 8:
            return b"", SW_WRONG_LENGTH
        self._authorised = None  # a new challenge withdraws any earlier authorisation
        self._issuer_challenge = self._random(8)
        return self._issuer_challenge, SW_OK

    def _external_authenticate(self, apdu: CardApdu, challenge: bytes | None) -> tuple[bytes, int]:
        if apdu.p2 != ISSUER_KEY_REFERENCE or self._document_key is None:
            return b"", SW_KEY_NOT_FOUND
        if challenge is None:
            return b"", SW_CONDITIONS
        if len(apdu.data) != 48:
            return b"", SW_WRONG_LENGTH
        digest, given = apdu.data[:32], apdu.data[32:]
        expected = issuer_cryptogram(self._document_key, challenge, digest)
        if not hmac.compare_digest(expected, given):
            return b"", SW_AUTH_FAILED
        self._authorised = digest
        return b"", SW_OK

    def _update_binary(self, apdu: CardApdu, torn: bool) -> tuple[bytes, int]:
        if apdu.p1 & 0x80:
            fid = self.sfi.get(apdu.p1 & 0x1F)
            if fid is None or apdu.p1 & 0x60:
                return b"", SW_NOT_FOUND
            self._current, offset = fid, apdu.p2
        else:
            offset = (apdu.p1 << 8) | apdu.p2
        if self._current is None:
            return b"", SW_NO_CURRENT_EF
        if self._current != ef.EF_ENDORSEMENTS.fid or self._authorised is None:
            return b"", SW_SECURITY_STATUS
        committed = self.committed
        if committed >= self.endorsement_file[3]:
            return b"", SW_NO_SPACE
        slot = ef.record_offset(committed + 1)
        data = apdu.data
        if slot <= offset and offset + len(data) <= slot + ef.RECORD_SIZE and data:
            if torn:  # the EEPROM write is cut half-way
                half = len(data) // 2
                self.endorsement_file[offset : offset + half] = data[:half]
                raise CardPulled("card pulled while writing the endorsement record")
            self.endorsement_file[offset : offset + len(data)] = data
            return b"", SW_OK
        if offset == ef.COUNT_OFFSET and len(data) == 1:
            return self._commit(data[0], slot, torn)
        return b"", SW_SECURITY_STATUS

    def _commit(self, value: int, slot: int, torn: bool) -> tuple[bytes, int]:
        record = bytes(self.endorsement_file[slot : slot + ef.RECORD_SIZE])
        if value != self.committed + 1 or record[1] != value:
            return b"", SW_WRONG_DATA
        if hashlib.sha256(record).digest() != self._authorised:
            return b"", SW_WRONG_DATA
        if torn:  # a one-byte write is atomic: cut before it, nothing changed
            raise CardPulled("card pulled before the commit counter was written")
        self.endorsement_file[ef.COUNT_OFFSET] = value
        self._authorised = None  # one authentication, one record
        return b"", SW_OK
