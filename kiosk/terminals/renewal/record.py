"""What the renewal flows remember of one citizen (never personal data)."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.terminals.home.flow import TerminalContext
from kiosk.terminals.renewal.ports import (
    CardIssued,
    Choice,
    Issued,
    OrderShown,
    PermitStanding,
    Reprinted,
    Verdict,
)
from offline_queue.central_client import EndorsementOption


@dataclass
class EndorseRecord:
    verdict: Verdict | None = None  # central's answer: eligible or why not, what to offer
    chip: str = ""  # the permit chip's passive authentication result
    region: str = ""
    purpose: str = ""
    trips: str = ""  # one | two | multiple
    option: str = ""
    order: OrderShown | None = None
    expires_in_s: int = 0  # the order's time left, from its last check
    missed: int = 0  # payment checks in a row that got no answer
    issued: Issued | None = None
    slip: bool = False  # the payment slip was printed
    card: CardIssued | None = None  # written onto the permit (a machine with a card module)
    card_step: str = ""  # the card issuance's latest step
    card_failure: str = ""  # why the permit was not endorsed (a failure code)
    cancelling: bool = False  # the citizen cancelled the wait for the permit

    @property
    def options(self) -> tuple[EndorsementOption, ...]:
        return self.verdict.options if self.verdict else ()

    @property
    def choice(self) -> Choice:
        return Choice(self.region, self.purpose, self.option)

    def fee(self) -> int:
        return next((o.fee_cny for o in self.options if o.code == self.option), 0)


@dataclass
class ReprintRecord:
    verdict: Verdict | None = None
    step: str = ""
    cancelling: bool = False
    reprinted: Reprinted | None = None
    failure: str = ""


@dataclass
class QueryRecord:
    standing: PermitStanding | None = None


def endorse(ctx: TerminalContext) -> EndorseRecord:
    return ctx.part(EndorseRecord)


def query(ctx: TerminalContext) -> QueryRecord:
    return ctx.part(QueryRecord)


def reprint(ctx: TerminalContext) -> ReprintRecord:
    return ctx.part(ReprintRecord)
