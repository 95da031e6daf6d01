"""A virtual travel-permit chip for pcscd's vpcd reader driver (vsmartcard).

The card connects to vpcd's TCP port (127.0.0.1:35963 by default) and speaks its framing:
2-byte big-endian length + payload; a 1-byte payload is a control code (0 power off,
1 power on, 2 reset, 4 send ATR), anything longer is a command APDU answered with the
response APDU. Behind it sits an eMRTD application as in Doc 9303 Parts 10 and 11: BAC,
3DES secure messaging, EF.COM / DG1 (TD1 MRZ) / DG2 (face) / DG11 / DG12 / EF.SOD with
their FIDs, SFIs and tags, short and extended-length READ BINARY.

Scriptable for failure tests: tamper with a data group after signing, sign with a document
signer from an untrusted CSCA or an expired one, refuse BAC, or leave the reader after N
APDUs. The socket loop runs on a background thread; the card state belongs to that thread.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from devices.icao import bac, lds
from devices.icao import sod as sodmod
from devices.icao.errors import SecureMessagingError, TlvError
from devices.icao.mrz import MrzAccess, parse
from devices.icao.tlv import decode_at, encode
from devices.simulators.vcard_pki import Signer, TestPki

log = logging.getLogger(__name__)

DEFAULT_PORT = 35963
# TD1 of a Mainland travel permit for Hong Kong and Macao (test data, check digits valid).
DEFAULT_MRZ = (
    "CSCHNC123456788<<<<<<<<<<<<<<<",
    "9001011F3001019CHN<<<<<<<<<<<0",
    "ZHANG<<SAN<<<<<<<<<<<<<<<<<<<<",
)

SW_OK = 0x9000
SW_END_OF_FILE = 0x6282
SW_AUTH_FAILED = 0x6300
SW_WRONG_LENGTH = 0x6700
SW_SECURITY_STATUS = 0x6982
SW_SM_OBJECTS = 0x6988
SW_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6B00
SW_INS = 0x6D00
SW_CLA = 0x6E00
SW_NO_DIAGNOSIS = 0x6F00


def build_atr(extended_length: bool) -> bytes:
    """T=0/T=1 ATR whose historical bytes carry card capabilities (ISO 7816-4 8.1.1.2.7):
    the third software-function byte announces extended Lc/Le with bit 7 (0x40)."""
    historical = bytes([0x80, 0x73, 0x80, 0x01, 0x40 if extended_length else 0x00])
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for byte in body:
        tck ^= byte
    return b"\x3b" + body + bytes([tck])


def make_face_jpeg(
    size: tuple[int, int] = (240, 320), target_bytes: int | None = None
) -> tuple[bytes, int, int]:
    """A synthetic passport-style face (JPEG) drawn with Pillow; grain is added and the
    quality chosen so the file comes close to ``target_bytes`` when given."""
    from PIL import Image, ImageDraw

    width, height = size
    image = Image.new("RGB", size, (235, 240, 245))
    draw = ImageDraw.Draw(image)
    cx, cy = width // 2, height // 2
    draw.rectangle((cx - 90, cy + 70, cx + 90, height), fill=(40, 50, 80))  # shoulders
    draw.ellipse((cx - 60, cy - 90, cx + 60, cy + 70), fill=(225, 190, 160))  # face
    draw.chord((cx - 64, cy - 100, cx + 64, cy - 10), 180, 360, fill=(30, 25, 20))  # hair
    for ex in (cx - 25, cx + 25):
        draw.ellipse((ex - 9, cy - 22, ex + 9, cy - 12), fill=(255, 255, 255))
        draw.ellipse((ex - 4, cy - 21, ex + 4, cy - 13), fill=(40, 30, 20))
    draw.line((cx, cy - 10, cx - 5, cy + 15, cx + 3, cy + 17), fill=(170, 120, 100), width=2)
    draw.arc((cx - 22, cy + 18, cx + 22, cy + 42), 20, 160, fill=(150, 60, 60), width=3)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    jpeg = buffer.getvalue()
    if target_bytes is not None and target_bytes > len(jpeg):
        jpeg = _pad_jpeg(jpeg, target_bytes)
    return jpeg, width, height


def _pad_jpeg(jpeg: bytes, target_bytes: int) -> bytes:
    """Grow a JPEG to ``target_bytes`` with comment (COM) segments right after SOI, the
    way camera metadata makes real DG2 images larger; decoders skip them."""
    padding = b""
    missing = target_bytes - len(jpeg)
    while missing >= 4:
        size = min(missing - 4, 0xFFFD)  # segment length counts its own 2 bytes
        padding += b"\xff\xfe" + (size + 2).to_bytes(2, "big") + b"\x20" * size
        missing -= size + 4
    return jpeg[:2] + padding + jpeg[2:]


def _image_size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.size


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


def _sw(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


class _CardSession(bac.SecureMessaging):
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
        body += encode(0x99, _sw(sw))
        body += encode(0x8E, bac.mac(self._mac, self._next_ssc() + body))
        return body + _sw(sw)


class StartStop:
    """``with`` support for simulators: ``start()`` on entry, ``stop()`` on exit."""

    def start(self) -> str:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class VirtualTravelDocument(StartStop):
    """A travel-permit chip on vpcd. ``start()`` inserts it, ``stop()`` pulls it out."""

    def __init__(
        self,
        *,
        mrz: Sequence[str] = DEFAULT_MRZ,
        photo: bytes | str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        pki: TestPki | None = None,
        tamper_dg: int | None = None,
        untrusted_signer: bool = False,
        expired_certificate: bool = False,
        refuse_bac: bool = False,
        remove_after_apdus: int | None = None,
        extended_length: bool = True,
        dg2_bytes: int | None = None,
        with_dg11: bool = True,
        with_dg12: bool = False,
        sm_failures: int = 0,
        sm_failure_after: int = 3,
        answer_delay_s: float = 0.0,
        missing_groups: tuple[int, ...] = (),
        low_latency: bool = True,
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        fields = parse(mrz)
        self.host = host
        self.port = port
        self.pki = pki or TestPki()
        self.refuse_bac = refuse_bac
        self.remove_after_apdus = remove_after_apdus
        self.extended_length = extended_length
        self.sm_failures = sm_failures
        self.sm_failure_after = sm_failure_after
        self.answer_delay_s = answer_delay_s
        self.low_latency = low_latency
        self.atr = build_atr(extended_length)
        self._random = random
        self._access: MrzAccess = fields.access
        self._k_enc, self._k_mac = bac.derive_keys(bac.key_seed(self._access.mrz_information))
        if photo is None:
            image, width, height = make_face_jpeg(target_bytes=dg2_bytes)
        else:
            image = photo if isinstance(photo, bytes) else Path(photo).read_bytes()
            width, height = _image_size(image)
        groups: dict[int, bytes] = {
            1: lds.build_dg1(fields.lines),
            2: lds.build_dg2(image, width, height),
        }
        if with_dg11:
            name = f"{fields.surname}<<{fields.given_names}".replace(" ", "<").encode()
            groups[11] = encode(0x6B, encode(0x5C, b"\x5f\x0e") + encode(0x5F0E, name))
        if with_dg12:
            groups[12] = encode(0x6C, encode(0x5C, b"\x5f\x19") + encode(0x5F19, b"EXIT-ENTRY"))
        signer: Signer = self.pki.document_signer
        if untrusted_signer:
            signer = self.pki.untrusted_signer
        elif expired_certificate:
            signer = self.pki.expired_signer
        sod = sodmod.build_sod(groups, signer.key, signer.certificate)
        if tamper_dg is not None:
            groups[tamper_dg] = _tamper(groups[tamper_dg])
        self.data_groups = dict(groups)
        self.photo = image
        self.files: dict[int, bytes] = {
            lds.EF_COM.fid: lds.build_com(tuple(sorted(groups))),
            lds.EF_SOD.fid: sod,
            **{lds.DATA_GROUPS[n].fid: data for n, data in groups.items()},
        }
        self._sfi = {lds.EF_COM.sfi: lds.EF_COM.fid, lds.EF_SOD.sfi: lds.EF_SOD.fid}
        self._sfi.update({lds.DATA_GROUPS[n].sfi: lds.DATA_GROUPS[n].fid for n in groups})
        for number in missing_groups:  # listed in EF.COM and signed, but not on the chip
            self.files.pop(lds.DATA_GROUPS[number].fid, None)
        self.apdu_count = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._connected = threading.Event()
        self._reset_state()

    # --- lifecycle ----------------------------------------------------------------------

    def start(self, timeout_s: float = 10.0) -> str:
        """Insert the card: connect to vpcd (retrying while pcscd starts). Returns the
        vpcd address the card sits on."""
        self._stop.clear()
        self._connected.clear()
        self._thread = threading.Thread(target=self._run, name="vcard", daemon=True)
        self._thread.start()
        if not self._connected.wait(timeout_s):
            self.stop()
            raise TimeoutError(f"vpcd on {self.host}:{self.port} did not accept the card")
        return f"vpcd://{self.host}:{self.port}"

    def stop(self) -> None:
        """Pull the card out (close the socket) and end the thread."""
        self._stop.set()
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        self._thread = None

    remove = stop
    insert = start

    @property
    def running(self) -> bool:
        """The card's thread still serves (or waits for) vpcd."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def inserted(self) -> bool:
        return self._connected.is_set() and not self._stop.is_set()

    # --- vpcd transport -------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1)
            except OSError:
                self._stop.wait(0.1)
                continue
            break
        else:
            return
        # vpcd writes the length and the APDU in separate small segments; with Nagle on its
        # side and delayed ACKs on ours each APDU waits ~40 ms. Acknowledging at once
        # (TCP_QUICKACK, re-armed before every read) brings the round trip under 1 ms.
        if self.low_latency:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(None)
        self._sock = sock
        self._connected.set()
        log.info("virtual travel document inserted on vpcd %s:%d", self.host, self.port)
        try:
            self._serve(sock)
        except OSError as exc:
            if not self._stop.is_set():
                log.info("vpcd connection ended: %s", exc)
        finally:
            self._sock = None
            self._connected.clear()
            sock.close()
            log.info("virtual travel document removed")

    def _read_exact(self, sock: socket.socket, count: int) -> bytes | None:
        data = b""
        while len(data) < count:
            if self.low_latency:
                _quickack(sock)
            chunk = sock.recv(count - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def _serve(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            head = self._read_exact(sock, 2)
            if head is None:
                return
            (length,) = struct.unpack(">H", head)
            payload = self._read_exact(sock, length)
            if payload is None:
                return
            if length == 1:
                answer = self._control(payload[0])
                if answer is not None:
                    sock.sendall(struct.pack(">H", len(answer)) + answer)
                continue
            if self.remove_after_apdus is not None and self.apdu_count >= self.remove_after_apdus:
                log.info("virtual card pulled out after %d APDUs", self.apdu_count)
                self._stop.set()
                return
            self.apdu_count += 1
            if self.answer_delay_s:
                time.sleep(self.answer_delay_s)
            try:
                response = self.process(payload)
            except Exception:  # a card bug must show as a status word, not a pulled card
                log.exception("virtual card failed on an APDU")
                response = _sw(SW_NO_DIAGNOSIS)
            sock.sendall(struct.pack(">H", len(response)) + response)

    def _control(self, code: int) -> bytes | None:
        if code == 4:
            return self.atr
        if code in (0, 1, 2):  # power off / on / reset all end the session
            self._reset_state()
        return None

    # --- the card -------------------------------------------------------------------------

    def _reset_state(self) -> None:
        self._app_selected = False
        self._challenge: bytes | None = None
        self._session: _CardSession | None = None
        self._current: int | None = None
        self._protected_count = 0

    def process(self, raw: bytes) -> bytes:
        """Answer one command APDU (the card logic, independent of the transport)."""
        try:
            apdu = parse_command(raw)
        except ValueError:
            return _sw(SW_WRONG_LENGTH)
        if apdu.extended and not self.extended_length:
            return _sw(SW_WRONG_LENGTH)
        if apdu.cla & 0x0C == 0x0C:
            return self._protected(apdu)
        if apdu.cla != 0x00:
            return _sw(SW_CLA)
        if apdu.ins == 0xA4 and apdu.p1 == 0x04:
            return self._select_application(apdu)
        if apdu.ins == 0x84:
            return self._get_challenge(apdu)
        if apdu.ins == 0x82:
            return self._mutual_authenticate(apdu)
        if apdu.ins in (0xA4, 0xB0):
            return _sw(SW_SECURITY_STATUS)  # files only under secure messaging
        return _sw(SW_INS)

    def _select_application(self, apdu: CardApdu) -> bytes:
        self._reset_state()
        if apdu.data != lds.AID:
            return _sw(SW_NOT_FOUND)
        self._app_selected = True
        return _sw(SW_OK)

    def _get_challenge(self, apdu: CardApdu) -> bytes:
        if not self._app_selected or apdu.le != 8:
            return _sw(SW_WRONG_LENGTH if self._app_selected else SW_SECURITY_STATUS)
        self._session = None
        self._challenge = self._random(8)
        return self._challenge + _sw(SW_OK)

    def _mutual_authenticate(self, apdu: CardApdu) -> bytes:
        challenge, self._challenge = self._challenge, None
        if challenge is None or len(apdu.data) != 40:
            return _sw(SW_SECURITY_STATUS)
        e_ifd, m_ifd = apdu.data[:32], apdu.data[32:]
        if self.refuse_bac or bac.mac(self._k_mac, e_ifd) != m_ifd:
            return _sw(SW_AUTH_FAILED)
        plain = bac.decrypt(self._k_enc, e_ifd)
        rnd_ifd, rnd_icc, k_ifd = plain[:8], plain[8:16], plain[16:32]
        if rnd_icc != challenge:
            return _sw(SW_AUTH_FAILED)
        k_icc = self._random(16)
        e_icc = bac.encrypt(self._k_enc, rnd_icc + rnd_ifd + k_icc)
        self._session = _CardSession(bac.session_keys(k_ifd, k_icc, rnd_icc, rnd_ifd))
        self._protected_count = 0
        return e_icc + bac.mac(self._k_mac, e_icc) + _sw(SW_OK)

    def _protected(self, apdu: CardApdu) -> bytes:
        session = self._session
        if session is None:
            return _sw(SW_SM_OBJECTS)
        self._protected_count += 1
        if self.sm_failures > 0 and self._protected_count > self.sm_failure_after:
            self.sm_failures -= 1
            self._session = None
            return _sw(SW_SM_OBJECTS)
        try:
            inner = session.unwrap(apdu)
        except SecureMessagingError as exc:
            log.debug("virtual card drops secure messaging: %s", exc)
            self._session = None  # Doc 9303-11 9.8.6: an SM error ends the session
            return _sw(SW_SM_OBJECTS)
        data, sw = self._file_command(inner)
        return session.wrap(data, sw)

    def _file_command(self, apdu: CardApdu) -> tuple[bytes, int]:
        if apdu.ins == 0xA4 and apdu.p1 == 0x02:
            fid = int.from_bytes(apdu.data, "big") if len(apdu.data) == 2 else -1
            if fid not in self.files:
                return b"", SW_NOT_FOUND
            self._current = fid
            return b"", SW_OK
        if apdu.ins == 0xB0:
            if apdu.p1 & 0x80:
                by_sfi = self._sfi.get(apdu.p1 & 0x1F)
                if by_sfi is None or by_sfi not in self.files or apdu.p1 & 0x60:
                    return b"", SW_NOT_FOUND
                self._current, offset = by_sfi, apdu.p2
            else:
                offset = (apdu.p1 << 8) | apdu.p2
            if self._current is None:
                return b"", SW_SECURITY_STATUS
            content = self.files[self._current]
            if offset >= len(content) or apdu.le is None:
                return b"", SW_WRONG_P1P2
            chunk = content[offset : offset + apdu.le]
            return chunk, SW_OK if len(chunk) == apdu.le else SW_END_OF_FILE
        return b"", SW_INS


def _tamper(data: bytes) -> bytes:
    """Change one byte inside the data group without breaking its structure: a letter in
    the text (DG1, DG11, DG12), else the image-quality byte of DG2's header template."""
    mutable = bytearray(data)
    quality = data.find(b"\x83\x01\x00")
    if data[:1] == b"\x75" and quality >= 0:
        mutable[quality + 2] = 0x01
        return bytes(mutable)
    for index in range(len(mutable) - 1, -1, -1):
        if 0x41 <= mutable[index] <= 0x5A:
            mutable[index] = 0x41 if mutable[index] != 0x41 else 0x42
            return bytes(mutable)
    mutable[-1] ^= 0x01
    return bytes(mutable)


# --- standalone ------------------------------------------------------------------------------


def add_chip_sim_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the standalone virtual card (``kiosk sim chip``)."""
    parser.add_argument("--mrz", nargs="+", default=list(DEFAULT_MRZ), help="MRZ lines (TD1/TD3)")
    parser.add_argument("--photo", help="face image file (JPEG or JPEG 2000) for DG2")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="vpcd port")
    parser.add_argument("--trust-out", help="write the test CSCA certificate (PEM) here")
    parser.add_argument("--tamper-dg", type=int, help="change this data group after signing")
    parser.add_argument("--untrusted-signer", action="store_true")
    parser.add_argument("--expired-certificate", action="store_true")
    parser.add_argument("--refuse-bac", action="store_true")
    parser.add_argument("--remove-after", type=int, help="leave the reader after N APDUs")
    parser.add_argument("--short-only", action="store_true", help="no extended-length APDUs")
    parser.add_argument("--dg2-bytes", type=int, help="approximate size of the generated face")
    parser.add_argument("--with-pcscd", action="store_true", help="also start a private pcscd")
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long (0: never)")


def run_chip_sim(argv: Sequence[str] | None = None) -> int:
    """``kiosk sim chip``: insert a virtual travel document into vpcd until interrupted."""
    parser = argparse.ArgumentParser(
        prog="kiosk sim chip", description="Virtual travel-document chip on pcscd's vpcd reader"
    )
    add_chip_sim_arguments(parser)
    return run_chip_sim_args(parser.parse_args(argv))


def run_chip_sim_args(args: argparse.Namespace) -> int:
    """Run the virtual card with parsed options; with ``--with-pcscd`` a private pcscd is
    started too (no other pcscd may run)."""
    card = VirtualTravelDocument(
        mrz=args.mrz,
        photo=args.photo,
        port=args.port,
        tamper_dg=args.tamper_dg,
        untrusted_signer=args.untrusted_signer,
        expired_certificate=args.expired_certificate,
        refuse_bac=args.refuse_bac,
        remove_after_apdus=args.remove_after,
        extended_length=not args.short_only,
        dg2_bytes=args.dg2_bytes,
    )
    if args.trust_out:
        card.pki.write_trust_store(args.trust_out)
    from devices.simulators.pcsc_stack import PcscStack

    stack = PcscStack(port=args.port) if args.with_pcscd else None
    try:
        if stack is not None:
            stack.start()
        where = card.start()
        reader = stack.reader_name if stack else "Virtual PCD 00 00"
        msg = f"virtual travel document on {where} (reader {reader!r}); Ctrl-C to remove"
        print(msg, flush=True)
        deadline = time.monotonic() + args.seconds if args.seconds else None
        while card.running:
            if deadline is not None and time.monotonic() >= deadline:
                break
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        card.stop()
        if stack is not None:
            stack.stop()
    return 0


def _quickack(sock: socket.socket) -> None:
    quickack = getattr(socket, "TCP_QUICKACK", None)
    if quickack is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)
