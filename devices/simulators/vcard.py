"""A virtual travel-permit chip for pcscd's vpcd reader driver (vsmartcard).

The card connects to vpcd's TCP port (127.0.0.1:35963 by default) and speaks its framing:
2-byte big-endian length + payload; a 1-byte payload is a control code (0 power off,
1 power on, 2 reset, 4 send ATR), anything longer is a command APDU answered with the
response APDU. Behind it sits the eMRTD application of vcard_app.py: BAC, 3DES secure
messaging, EF.COM / DG1 (TD1 MRZ) / DG2 (face) / DG11 / DG12 / EF.SOD with their FIDs, SFIs
and tags, short and extended-length READ BINARY, and the endorsement file with its issuer
authentication (the card holds its own document key).

Scriptable for failure tests: tamper with a data group after signing, sign with a document
signer from an untrusted CSCA or an expired one, refuse BAC, refuse READ BINARY by short file
identifier, leave the reader after N APDUs, tear a write (pulled while executing APDU N) or
lose an answer (APDU N executed, then pulled). With ``link_kbps`` every exchange takes the
time of an ISO 14443 type A link at that rate. The socket loop runs on a background
thread; the card state belongs to that thread. Removing the card (``stop``) keeps its
files, so a test can pull it mid-write and insert it again.
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
from pathlib import Path

from devices import endorsement as ef
from devices.icao import bac, lds
from devices.icao import sod as sodmod
from devices.icao.mrz import MrzAccess, parse
from devices.icao.tlv import encode
from devices.simulators.base import Simulator
from devices.simulators.pcsc_stack import DEFAULT_PORT, PcscStack
from devices.simulators.vcard_app import (
    SW_NO_DIAGNOSIS,
    CardPulled,
    TravelDocumentApplication,
    sw_bytes,
)
from devices.simulators.vcard_pki import (
    DEMO_ISSUER_MASTER_KEY,
    Signer,
    TestPki,
    personalise_document_key,
)

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_MRZ", "DEFAULT_PORT", "VirtualTravelDocument", "build_atr", "make_face_jpeg"]

# TD1 of a Mainland travel permit for Hong Kong and Macao (test data, check digits valid).
DEFAULT_MRZ = (
    "CSCHNC123456788<<<<<<<<<<<<<<<",
    "9001011F3001019CHN<<<<<<<<<<<0",
    "ZHANG<<SAN<<<<<<<<<<<<<<<<<<<<",
)
# ISO 14443: carrier 13.56 MHz; the minimum frame delay time 1172/fc between frames.
_FRAME_DELAY_S = 1172 / 13.56e6
_FSC = 256  # the card's frame size (ATS FSCI 8): PCB + INF + CRC per I-block
_BITS_PER_BYTE = 9  # type A: 8 data bits and an odd parity bit


def iso14443_seconds(command: int, response: int, kbps: int) -> float:
    """Air time of one APDU exchange on an ISO 14443-4 type A link at ``kbps`` kbit/s:
    I-blocks of at most FSC bytes (PCB + 2 CRC bytes each), chained blocks acknowledged by
    an R-block (PCB + CRC), 9 bits per byte, and a frame delay before every frame."""
    payload = _FSC - 3

    def frames(size: int) -> int:
        return max(1, -(-size // payload))

    out, back = frames(command), frames(response)
    chained_acks = (out - 1) + (back - 1)
    air_bytes = command + response + 3 * (out + back) + 3 * chained_acks
    seconds = air_bytes * _BITS_PER_BYTE / (kbps * 1000)
    return seconds + (out + back + chained_acks) * _FRAME_DELAY_S


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


class VirtualTravelDocument(Simulator):
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
        refuse_sfi: int | None = None,
        remove_after_apdus: int | None = None,
        tear_at_apdu: int | None = None,
        lose_answer_at_apdu: int | None = None,
        extended_length: bool = True,
        dg2_bytes: int | None = None,
        with_dg11: bool = True,
        with_dg12: bool = False,
        sm_failures: int = 0,
        sm_failure_after: int = 3,
        answer_delay_s: float = 0.0,
        link_kbps: int | None = None,
        missing_groups: tuple[int, ...] = (),
        issuer_key: bytes | None = None,
        issuer_master_key: bytes | None = None,
        endorsements: Sequence[ef.EndorsementRecord] = (),
        endorsement_capacity: int = ef.CAPACITY,
        low_latency: bool = True,
        random: Callable[[int], bytes] = os.urandom,
    ) -> None:
        fields = parse(mrz)
        self.host = host
        self.port = port
        self.pki = pki or TestPki()
        self.remove_after_apdus = remove_after_apdus
        self.tear_at_apdu = tear_at_apdu
        self.lose_answer_at_apdu = lose_answer_at_apdu
        self.extended_length = extended_length
        self.answer_delay_s = answer_delay_s
        if link_kbps is not None and link_kbps <= 0:
            raise ValueError("link_kbps must be positive")
        self.link_kbps = link_kbps
        self.low_latency = low_latency
        self.atr = build_atr(extended_length)
        self.document_number = fields.document_number
        self._access: MrzAccess = fields.access
        k_enc, k_mac = bac.derive_keys(bac.key_seed(self._access.mrz_information))
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
        files: dict[int, bytes] = {
            lds.EF_COM.fid: lds.build_com(tuple(sorted(groups))),
            lds.EF_SOD.fid: sod,
            **{lds.DATA_GROUPS[n].fid: data for n, data in groups.items()},
        }
        sfi = {lds.EF_COM.sfi: lds.EF_COM.fid, lds.EF_SOD.sfi: lds.EF_SOD.fid}
        sfi.update({lds.DATA_GROUPS[n].sfi: lds.DATA_GROUPS[n].fid for n in groups})
        for number in missing_groups:  # listed in EF.COM and signed, but not on the chip
            files.pop(lds.DATA_GROUPS[number].fid, None)
        if issuer_key is None:
            issuer_key = personalise_document_key(
                issuer_master_key or DEMO_ISSUER_MASTER_KEY, self.document_number
            )
        self.app = TravelDocumentApplication(
            files=files,
            sfi=sfi,
            k_enc=k_enc,
            k_mac=k_mac,
            document_key=issuer_key,
            endorsements=_endorsement_file(endorsements, endorsement_capacity),
            extended_length=extended_length,
            refuse_bac=refuse_bac,
            refuse_sfi=refuse_sfi,
            sm_failures=sm_failures,
            sm_failure_after=sm_failure_after,
            random=random,
        )
        self.apdu_count = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._connected = threading.Event()

    @property
    def files(self) -> dict[int, bytes]:
        return self.app.files

    def endorsements(self) -> list[ef.EndorsementRecord]:
        """The committed endorsement records, oldest first (what any reader may trust)."""
        data = bytes(self.app.endorsement_file)
        header = ef.EndorsementHeader.decode(data[: ef.HEADER_SIZE])
        return [
            ef.EndorsementRecord.decode(data[ef.record_offset(n) : ef.record_offset(n + 1)])
            for n in range(1, header.committed + 1)
        ]

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
            response = self._answer(payload)
            if response is None or self.lose_answer_at_apdu == self.apdu_count:
                log.info("virtual card pulled out during APDU %d", self.apdu_count)
                self._stop.set()
                return
            sock.sendall(struct.pack(">H", len(response)) + response)

    def _answer(self, payload: bytes) -> bytes | None:
        """The response to one APDU after its processing and link time; None when the card
        was pulled while executing it."""
        started = time.monotonic()
        try:
            response = self.app.process(payload, torn=self.tear_at_apdu == self.apdu_count)
        except CardPulled as exc:
            log.info("%s", exc)
            return None
        except Exception:  # a card bug must show as a status word, not a pulled card
            log.exception("virtual card failed on an APDU")
            response = sw_bytes(SW_NO_DIAGNOSIS)
        delay = self.answer_delay_s
        if self.link_kbps is not None:
            delay += iso14443_seconds(len(payload), len(response), self.link_kbps)
        remaining = delay - (time.monotonic() - started)
        if remaining > 0:
            time.sleep(remaining)
        return response

    def _control(self, code: int) -> bytes | None:
        if code == 4:
            return self.atr
        if code in (0, 1, 2):  # power off / on / reset all end the session
            self.app.reset()
        return None

    # --- the card -------------------------------------------------------------------------

    def process(self, raw: bytes) -> bytes:
        """Answer one command APDU (the card logic, independent of the transport)."""
        return self.app.process(raw)


def _endorsement_file(records: Sequence[ef.EndorsementRecord], capacity: int) -> bytes:
    """The endorsement EF as personalised, with ``records`` already committed (their
    sequence numbers must run 1, 2, ...)."""
    if not 1 <= capacity <= ef.CAPACITY:
        raise ValueError(f"endorsement capacity must be 1..{ef.CAPACITY}")
    if len(records) > capacity:
        raise ValueError("more endorsements than the file holds")
    data = bytearray(ef.empty_file(capacity))
    for index, record in enumerate(records, start=1):
        if record.sequence != index:
            raise ValueError(f"endorsement {index} has sequence {record.sequence}")
        data[ef.record_offset(index) : ef.record_offset(index + 1)] = record.encode()
    data[ef.COUNT_OFFSET] = len(records)
    return bytes(data)


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
    parser.add_argument(
        "--refuse-sfi", type=lambda text: int(text, 16), help="answer READ BINARY by SFI so (hex)"
    )
    parser.add_argument("--link-kbps", type=int, help="pace exchanges as ISO 14443 at this rate")
    parser.add_argument(
        "--issuer-master-key",
        type=bytes.fromhex,
        help="issuer master key (hex) to derive the card's document key (default: demo key)",
    )
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
        refuse_sfi=args.refuse_sfi,
        link_kbps=args.link_kbps,
        issuer_master_key=args.issuer_master_key,
    )
    if args.trust_out:
        card.pki.write_trust_store(args.trust_out)
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
