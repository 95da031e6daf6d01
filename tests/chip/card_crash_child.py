"""Child process of the card issuance crash test: a citizen who has paid has the permit
endorsed (taken in, authorised by central, written, printed, handed back) against the
parent's central, card module simulator and pcscd; the process stops dead at the named step
(the parent then SIGKILLs it).

usage: python -m tests.chip.card_crash_child OUTBOX CENTRAL_URL REWRITER_PORT READER STEP
"""

from __future__ import annotations

import sys
import time

from tests.chip.card_rig import CHOICE, build, paid_order, session_for


def main(outbox: str, url: str, port: str, reader: str, stop_at: str) -> None:
    def observe(step: str, order_id: str) -> None:
        print(step, order_id, flush=True)
        if step == stop_at:
            time.sleep(120)  # the parent kills the process here

    parts = build(outbox, url, port, reader, observe=observe)
    session = session_for(parts)
    order_id = paid_order(parts, url, session)
    observe("paid", order_id)
    parts.card.issue_card(order_id, CHOICE, None, session)
    print("finished", order_id, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:6])
