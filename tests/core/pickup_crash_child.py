"""Child process of the pickup crash test: runs one journaled dispense against a CRT-591
simulator over a pty and stops dead at the named step (the parent then SIGKILLs it).

usage: python -m tests.core.pickup_crash_child OUTBOX_PATH DOCUMENT_NO STEP
"""

from __future__ import annotations

import sys
import time

from devices.drivers.crt591 import Crt591Dispenser
from devices.simulators.crt591 import Crt591Simulator
from kiosk.terminals.pickup.ports import Document
from kiosk.terminals.pickup.service import PickupService
from offline_queue.outbox import Outbox

KIOSK = "K-TEST-01"


def main(path: str, document_no: str, stop_at: str) -> None:
    def observe(step: str, number: str) -> None:
        print(step, flush=True)
        if step == stop_at:
            time.sleep(120)  # the parent kills the process here

    with Crt591Simulator(initialised=True, move_s=0.02, take_after_s=0.2) as sim:
        dispenser = Crt591Dispenser.from_settings(
            "dispenser", {"port": sim.port, "baud": 9600, "take_timeout_s": 2.0}
        )
        dispenser.open(timeout_s=3)
        outbox = Outbox(path, kiosk_id=KIOSK)
        service = PickupService(
            outbox, lambda: dispenser, KIOSK, take_timeout_s=2.0, observe=observe
        )
        service.hand_over(Document(document_no, "passport", ""), None, None, None)
        print("finished", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
