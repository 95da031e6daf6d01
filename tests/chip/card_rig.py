"""The renewal's card issuance wired to real parts, for the tests and their crash child: the
card module's driver against the TCP300 simulator (loopback TCP, so that a killed child and
the restarted kiosk reach the same module with the card still in it), the chip reader
through the real pcscd to a virtual permit, central on loopback HTTP, a real outbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from central.store import make_id_number
from devices.drivers.pcsc_chip import PcscChipReader
from devices.drivers.tcp300 import Tcp300Rewriter
from devices.icao.mrz import access_from_lines
from devices.simulators.cards import sample_card
from devices.simulators.vcard import DEFAULT_MRZ
from kiosk.core.engine import Event
from kiosk.core.session import Session
from kiosk.machine.central import CentralLink
from kiosk.machine.ports import CHIP_DATA, IDCARD_DATA
from kiosk.terminals.renewal.card import CardIssuance
from kiosk.terminals.renewal.ports import PERMIT_ACCESS, Choice
from kiosk.terminals.renewal.service import RenewalService
from offline_queue.central_client import CentralClient
from offline_queue.outbox import Outbox
from offline_queue.transport import CentralTransport

KIOSK = "SZ-CARD-T1"
SECRET = b"card-issuance-secret"
ZHANG = make_id_number("440304", "19900101", "135")  # eligible; the virtual permit is his
CHOICE = Choice("HK", "individual", "one_trip")


@dataclass
class KioskParts:
    outbox: Outbox
    renewal: RenewalService
    card: CardIssuance
    rewriter: Tcp300Rewriter
    reader: PcscChipReader
    events: list[Event] = field(default_factory=list)
    alerts: list[tuple[str, str]] = field(default_factory=list)

    def steps(self) -> list[str]:
        return [str(e.data["step"]) for e in self.events]

    def close(self) -> None:
        self.rewriter.close()
        self.reader.close()
        self.renewal.close()
        self.card.close()
        self.outbox.close()


def build(
    outbox_path: str | Path,
    central_url: str,
    rewriter_port: str,
    reader_name: str,
    *,
    observe: Callable[[str, str], None] = lambda step, order_id: None,
    insert_s: float = 20.0,
    take_s: float = 5.0,
    trust_store: str = "",
) -> KioskParts:
    def client() -> CentralClient:
        transport = CentralTransport(central_url, kiosk_id=KIOSK, secret=SECRET)
        return CentralClient(transport, timeout_s=5)

    outbox = Outbox(outbox_path, kiosk_id=KIOSK)
    rewriter = Tcp300Rewriter.from_settings(
        "rewriter", {"port": rewriter_port, "ack_timeout_s": 1.0, "take_timeout_s": take_s}
    )
    rewriter.open(timeout_s=5)
    reader = PcscChipReader("chip", reader=reader_name, trust_store=trust_store)
    reader.open(timeout_s=5)
    parts = KioskParts(
        outbox,
        RenewalService(outbox, CentralLink(client), kiosk_id=KIOSK),
        None,  # type: ignore[arg-type]
        rewriter,
        reader,
    )

    def chip(work: Callable[[Any], Any]) -> Any:
        return work(reader)  # one thread here: the kiosk hops onto the chip's worker

    parts.card = CardIssuance(
        outbox,
        CentralLink(client),
        lambda: rewriter,
        chip,
        kiosk_id=KIOSK,
        place="Test hall",
        insert_s=insert_s,
        take_s=take_s,
        device_s=10,
        post=parts.events.append,
        alert=lambda code, message: parts.alerts.append((code, message)),
        observe=observe,
    )
    return parts


def session_for(parts: KioskParts) -> Session:
    """What the flow holds by the time the citizen has paid: the ID card, the permit's
    access data from central, the chip read."""
    session = Session("card", datetime.now())
    session.put(IDCARD_DATA, sample_card(id_number=ZHANG))
    access = access_from_lines(DEFAULT_MRZ)
    session.put(PERMIT_ACCESS, access)
    session.put(CHIP_DATA, parts.reader.read_document(access, timeout_s=10))
    return session


def paid_order(parts: KioskParts, central_url: str, session: Session) -> str:
    order_id = parts.renewal.order(CHOICE, session).order_id
    resp = requests.post(f"{central_url}/v1/admin/payments/{order_id}/pay", timeout=5)
    resp.raise_for_status()
    return order_id
