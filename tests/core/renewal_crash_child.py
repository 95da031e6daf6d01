"""Child process of the renewal crash test: a citizen orders, pays on the phone and the
endorsement is issued, against the reference central service of the parent; the process
stops dead at the named step (the parent then SIGKILLs it).

usage: python -m tests.core.renewal_crash_child OUTBOX_PATH CENTRAL_URL STEP
"""

from __future__ import annotations

import sys
import time
from datetime import datetime

import requests

from central.store import make_id_number
from devices.simulators.cards import sample_card
from kiosk.core.session import Session
from kiosk.machine.central import CentralLink
from kiosk.machine.ports import IDCARD_DATA
from kiosk.terminals.renewal.ports import Choice
from kiosk.terminals.renewal.service import RenewalService
from offline_queue.central_client import CentralClient
from offline_queue.outbox import Outbox
from offline_queue.transport import CentralTransport

KIOSK = "SZ-RENEW-T1"
SECRET = b"renewal-service-secret"
ZHANG = make_id_number("440304", "19900101", "135")  # eligible
CHOICE = Choice("HK", "individual", "one_trip")


def main(path: str, url: str, stop_at: str) -> None:
    def observe(step: str, order_id: str) -> None:
        print(step, order_id, flush=True)
        if step == stop_at:
            time.sleep(120)  # the parent kills the process here

    def client() -> CentralClient:
        return CentralClient(CentralTransport(url, kiosk_id=KIOSK, secret=SECRET), timeout_s=5)

    session = Session("crash", datetime.now())
    session.put(IDCARD_DATA, sample_card(id_number=ZHANG))
    outbox = Outbox(path, kiosk_id=KIOSK)
    service = RenewalService(outbox, CentralLink(client), kiosk_id=KIOSK, observe=observe)
    order_id = service.order(CHOICE, session).order_id
    resp = requests.post(f"{url}/v1/admin/payments/{order_id}/pay", timeout=5)
    resp.raise_for_status()
    observe("paid", order_id)
    service.issue(order_id, CHOICE, None, session)
    print("finished", order_id, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
