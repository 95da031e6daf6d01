"""The scripted citizen of ``kiosk demo``: what they do, step by step, per terminal type.

Pure data (no Qt) so the same script drives the offscreen demo and the end-to-end tests.
Grow it as the flows grow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kiosk.config import KioskConfig


@dataclass(frozen=True)
class Step:
    """One thing the scripted citizen (or the world around them) does."""

    note: str


@dataclass(frozen=True)
class Tap(Step):
    intent: str = "touch"
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Advance(Step):
    """Let time pass on the injected clock (timers fire)."""

    seconds: float = 0.0


@dataclass(frozen=True)
class Expect(Step):
    """Wait (up to ``within_s`` of real time, for device work) until the flow is in ``state``,
    optionally with the 'still there?' overlay shown or not."""

    state: str = ""
    still_there: bool | None = None
    language: str = ""  # shown in this language ("" = any)
    large_text: bool | None = None  # with larger text, or not (None = either)
    within_s: float = 10.0
    # Dotted paths into the screen's data that must hold these values ("live.compliant").
    where: dict[str, Any] = field(default_factory=dict)


def lookup(data: Any, path: str) -> Any:
    """The value at a dotted path in nested mappings, or None."""
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


@dataclass(frozen=True)
class Act(Step):
    """Something done to the simulated world: place a card, pull paper, move the subject.
    ``action`` names an operation the demo's world offers (see ui.demo.World)."""

    action: str = ""
    args: dict[str, Any] = field(default_factory=dict)


Script = list[Step]
ScriptBuilder = Callable[[KioskConfig], Script]


def shell_script(config: KioskConfig) -> Script:
    """attract -> menu -> language switch -> idle timeout -> attract."""
    t = config.timeouts
    return [
        Expect("the attract loop is showing", state="attract"),
        Tap("a citizen touches the screen", intent="start"),
        Expect("the service menu appears, in Chinese", state="menu"),
        Tap("the citizen switches to English", intent="language", data={"language": "en"}),
        Expect("the menu is shown in English", state="menu"),
        Advance("the citizen walks away", seconds=t.idle_s),
        Expect("the kiosk asks 'still there?' with a countdown", state="menu", still_there=True),
        Advance("the countdown runs halfway", seconds=t.still_there_s / 2),
        Expect("the countdown is still running", state="menu", still_there=True),
        Advance("nobody answers", seconds=t.still_there_s / 2),
        Expect(
            "the session ends; the attract loop returns in the first language",
            state="attract",
            still_there=False,
            language="zh",
        ),
    ]


def photo_script(config: KioskConfig) -> Script:
    """A citizen with an ID card who first stands too far, then turns their head, then
    complies; retakes once for free, keeps the best photo, and takes the receipt. Then a
    second citizen finds the printer out of paper: the photo is still saved and the number
    shown on screen."""
    t = config.timeouts
    return [
        Tap("a citizen touches the screen", intent="start"),
        Expect("the menu shows the photo service", state="menu"),
        Tap("the citizen chooses an ID photo", intent="select", data={"service": "photo"}),
        Expect("the kiosk invites an ID card (optional)", state="photo_identify"),
        Tap("the citizen asks for larger text", intent="large_text", data={"on": True}),
        Expect("the same step, in larger text", state="photo_identify", large_text=True),
        Act("the citizen (born 1958) places their ID card", action="place_idcard"),
        Expect("aged 60+: told they may reuse a recent photo", state="photo_senior"),
        Tap("they want a new photo anyway", intent="take_new"),
        Expect("the live camera opens", state="photo_live"),
        Act("the citizen stands too far away", action="camera_scene", args={"scene": "too_far"}),
        Expect(
            "the kiosk asks them to come closer",
            state="photo_live",
            where={"live.instruction.measure": "head_size"},
            within_s=15,
        ),
        Act(
            "the citizen steps closer but turns their head",
            action="camera_scene",
            args={"scene": "tilted"},
        ),
        Expect(
            "the kiosk asks them to keep their head straight",
            state="photo_live",
            where={"live.instruction.measure": "roll"},
            within_s=15,
        ),
        Act(
            "the citizen looks straight at the camera",
            action="camera_scene",
            args={"scene": "compliant"},
        ),
        Expect(
            "compliant and still for a second: the 3-2-1 countdown starts",
            state="photo_countdown",
            within_s=20,
        ),
        Advance("three, two, one", seconds=3.0),
        Expect(
            "the photo is checked and shown for review",
            state="photo_review",
            where={"can_submit": True},
            within_s=20,
        ),
        Tap("the citizen retakes it, for free", intent="retake"),
        Expect("the live camera again", state="photo_live", within_s=10),
        Tap("the citizen taps 'take photo'", intent="capture"),
        Expect("the countdown starts", state="photo_countdown"),
        Advance("three, two, one", seconds=3.0),
        Expect("the best photo of the session is offered", state="photo_review", within_s=20),
        Tap("the citizen uses this photo", intent="use"),
        Expect("saved durably, receipt printed", state="photo_done", within_s=20),
        Act("the receipt is checked", action="expect_receipt"),
        Tap("the citizen is finished", intent="finished"),
        Expect(
            "back to the attract loop, session wiped, normal text for the next citizen",
            state="attract",
            large_text=False,
        ),
        Act("the paper roll is about to end", action="paper_out"),
        Tap("a second citizen touches the screen", intent="start"),
        Tap("and chooses an ID photo", intent="select", data={"service": "photo"}),
        Tap("without an ID card", intent="skip"),
        Expect("the live camera", state="photo_live", within_s=10),
        Tap("taps 'take photo'", intent="capture"),
        Advance("three, two, one", seconds=3.0),
        Expect("review", state="photo_review", within_s=20),
        Tap("uses the photo", intent="use"),
        Expect(
            "no receipt: the number is shown large with a QR code",
            state="photo_no_receipt",
            within_s=20,
        ),
        Advance("the citizen photographs the number and leaves", seconds=t.message_s * 8),
        Expect("the printer is out of paper: out of service", state="out_of_service", within_s=10),
        *_staff_sign_in(
            "the machine's status: the queue, central, devices, why it is out of service",
            {"values.paused_by_staff": False},
        ),
        Act("staff refill the paper", action="paper_refill"),
        Tap("and print a test receipt", intent="staff_test_print"),
        Expect(
            "the test receipt is printed",
            state="staff",
            where={"note": "staff.test_print.ok"},
            within_s=15,
        ),
        Act("it shows on the paper", action="expect_test_print"),
        Tap("and leave staff mode", intent="back"),
        Expect("back in service", state="attract", within_s=15),
    ]


# Seeded citizens of the reference central service (central/store.py).
CHEN_WEI = {"region": "440304", "birth": "19900307", "serial": 123, "name": "陈伟"}
WANG_FANG = {"region": "440305", "birth": "20000101", "serial": 789, "name": "王芳"}
ZHAO_LEI = {"region": "440303", "birth": "19770615", "serial": 234, "name": "赵磊"}
ZHOU_MIN = {"region": "440307", "birth": "19920420", "serial": 567, "name": "周敏"}
# Owner of the simulator's default virtual permit chip (C12345678).
ZHANG_SAN = {"region": "440304", "birth": "19900101", "serial": 135, "name": "张三"}


def pickup_script(config: KioskConfig) -> Script:
    """Chen Wei collects a finished permit and takes it. Wang Fang has two documents, never
    takes the first: it is captured to the bin and she is sent to the counter. Zhou Min's
    permit was loaded into another pickup machine: she is told which one."""
    t = config.timeouts
    dispenser = config.devices.dispenser
    take_s = dispenser.take_timeout_s if dispenser is not None else 30.0
    return [
        Tap("a citizen touches the screen", intent="start"),
        Tap("and chooses to collect a document", intent="select", data={"service": "pickup"}),
        Expect("the kiosk asks for the ID card", state="pickup_identify"),
        Act("Chen Wei places his ID card", action="place_idcard", args={"citizen": CHEN_WEI}),
        Expect("his document is found", state="pickup_confirm", within_s=15),
        Act("he will take it from the gate", action="take_document"),
        Tap("he collects it", intent="collect"),
        Expect("the document is at the gate", state="pickup_take", within_s=15),
        Expect("taken, handover recorded, receipt printed", state="pickup_done", within_s=20),
        Act("the receipt is checked", action="expect_pickup_receipt"),
        Act("he takes his ID card", action="remove_idcard"),
        Tap("he is finished", intent="finished"),
        Expect("back to the attract loop, session wiped", state="attract"),
        Tap("a second citizen reads English", intent="language", data={"language": "en"}),
        Tap("touches the screen", intent="start"),
        Tap("and chooses to collect a document", intent="select", data={"service": "pickup"}),
        Expect("the kiosk asks for the ID card", state="pickup_identify"),
        Act("Wang Fang places her ID card", action="place_idcard", args={"citizen": WANG_FANG}),
        Tap("and taps 'it is on the reader'", intent="read"),
        Expect(
            "two documents ready",
            state="pickup_confirm",
            where={"values.count": 2},
            within_s=15,
        ),
        Act("she will walk away without it", action="never_take_document"),
        Tap("she collects the first", intent="collect"),
        Expect("the document is at the gate", state="pickup_take", within_s=15),
        Expect(
            "not taken in time: captured to the bin, she is sent to the counter",
            state="pickup_retained",
            within_s=take_s + 15,
        ),
        Act("she takes her ID card", action="remove_idcard"),
        Advance("nobody reads the message", seconds=t.message_s * 3),
        Expect("back to the attract loop", state="attract"),
        *_staff_sign_in(
            "staff see one document to reconcile: the one captured to the bin",
            {"values.to_reconcile": 1},
        ),
        Tap("and leave staff mode", intent="back"),
        Expect("back to the attract loop", state="attract"),
        Tap("a third citizen reads Chinese", intent="language", data={"language": "zh"}),
        Tap("touches the screen", intent="start"),
        Tap("and chooses to collect a document", intent="select", data={"service": "pickup"}),
        Act("Zhou Min places her ID card", action="place_idcard", args={"citizen": ZHOU_MIN}),
        Tap("and taps 'it is on the reader'", intent="read"),
        Expect(
            "her permit is in another pickup machine: she is told which one",
            state="pickup_none",
            where={"body": "pickup.elsewhere.machine", "values.machines": "SZ-FT-K02"},
            within_s=15,
        ),
        Act("she takes her ID card", action="remove_idcard"),
        Tap("she is finished", intent="finished"),
        Expect("back to the attract loop", state="attract"),
        *_central_outage(config),
    ]


def _staff_sign_in(shows: str, where: dict[str, Any]) -> Script:
    """Staff hold the kiosk number, enter the sample configurations' PIN, and see ``shows``."""
    return [
        Tap("staff hold the kiosk number in the header", intent="staff"),
        Expect("the staff PIN pad", state="staff_pin"),
        Tap("staff enter the demo PIN", intent="pin", data={"pin": "2468"}),
        Expect(shows, state="staff", where=where, within_s=10),
    ]


def _central_outage(config: KioskConfig) -> Script:
    """Central stops answering: the citizen who finds out is sent to the counter, and the
    menu pauses the service for the next one until central answers again."""
    t = config.timeouts
    return [
        Act("the exit-entry system stops answering", action="central_silent"),
        Tap("a citizen touches the screen", intent="start"),
        Tap("and chooses to collect a document", intent="select", data={"service": "pickup"}),
        Act("Chen Wei places his ID card", action="place_idcard", args={"citizen": CHEN_WEI}),
        Tap("and taps 'it is on the reader'", intent="read"),
        Expect(
            "the look-up fails: try later or go to a counter",
            state="pickup_central_down",
            within_s=15,
        ),
        Act("he takes his ID card", action="remove_idcard"),
        Advance("he reads it and leaves", seconds=t.message_s * 3),
        Expect("back to the attract loop", state="attract"),
        Tap("the next citizen touches the screen", intent="start"),
        Expect(
            "the menu: collecting is paused, and it says why",
            state="menu",
            where={"notice": "menu.central_down"},
            within_s=20,
        ),
        Act("the exit-entry system answers again", action="central_silent", args={"silent": False}),
        Expect(
            "within a probe interval the service is open again",
            state="menu",
            where={"notice": None},
            within_s=config.central.probe_s + 15,
        ),
        Tap("the citizen goes back", intent="back"),
        Expect("back to the attract loop", state="attract"),
    ]


REFUSED_FIRST_APPLICATION = [
    "endorse.reason.first_application",
    "",
    "endorse.refused.next",
    "endorse.next.first_application",
]


def renewal_script(config: KioskConfig) -> Script:
    """Zhao Lei (first application) is refused with the reason and what to do next. Zhang
    San, in English, is eligible: his permit chip is read and verified, he chooses a
    multiple-trip endorsement for Hong Kong, pays the fee by scanning a QR code with his
    phone, and gets the endorsement and a payment slip.
    Zhou Min looks up her current endorsement."""
    t = config.timeouts
    return [
        Tap("a citizen touches the screen", intent="start"),
        Tap("and chooses to renew an endorsement", intent="select", data={"service": "endorse"}),
        Expect("the kiosk asks for the ID card", state="endorse_identify"),
        Act("Zhao Lei places his ID card", action="place_idcard", args={"citizen": ZHAO_LEI}),
        Tap("and taps 'it is on the reader'", intent="read"),
        Expect(
            "refused: a first endorsement is issued at the counter; book a slot",
            state="endorse_refused",
            where={"body": REFUSED_FIRST_APPLICATION},
            within_s=15,
        ),
        Act("he takes his ID card", action="remove_idcard"),
        Tap("he is finished", intent="finished"),
        Expect("back to the attract loop", state="attract"),
        Tap("the next citizen reads English", intent="language", data={"language": "en"}),
        Tap("touches the screen", intent="start"),
        Tap("and chooses to renew an endorsement", intent="select", data={"service": "endorse"}),
        Act("Zhang San places his ID card", action="place_idcard", args={"citizen": ZHANG_SAN}),
        Tap("and taps 'it is on the reader'", intent="read"),
        Expect("eligible: the kiosk asks for the permit", state="endorse_permit", within_s=15),
        Tap("his permit is on the chip reader", intent="read"),
        Expect("chip read and verified: where to?", state="endorse_region", within_s=30),
        Tap("Hong Kong", intent="region", data={"region": "HK"}),
        Expect("the kind of endorsement", state="endorse_purpose"),
        Tap("individual visit", intent="purpose", data={"purpose": "individual"}),
        Expect("how many trips (with fees)", state="endorse_trips"),
        Tap("he asks for larger text", intent="large_text", data={"on": True}),
        Expect("the trips, in larger text", state="endorse_trips", large_text=True),
        Tap("multiple trips", intent="trips", data={"trips": "multiple"}),
        Expect("how long (only what his permit allows)", state="endorse_validity"),
        Tap("one year", intent="option", data={"option": "multi_1y"}),
        Expect("the fee: 80 CNY, paid by phone", state="endorse_fee", where={"values.fee": 80}),
        Tap("he chooses to pay", intent="pay"),
        Expect(
            "a QR code to pay 80 CNY with his phone",
            state="endorse_paying",
            where={"values.amount": 80},
            within_s=15,
        ),
        Act("he scans it and confirms on his phone", action="pay_on_phone"),
        Advance("the kiosk checks the payment", seconds=config.payment.poll_s),
        Expect("paid: the endorsement is issued", state="endorse_done", within_s=30),
        Act("the payment slip is printed", action="expect_payment_slip"),
        Act("he takes his ID card", action="remove_idcard"),
        Tap("he is finished", intent="finished"),
        Expect("back to the attract loop, in Chinese again", state="attract", language="zh"),
        Tap("the next citizen touches the screen", intent="start"),
        Tap("and checks her endorsement", intent="select", data={"service": "query"}),
        Act("Zhou Min places her ID card", action="place_idcard", args={"citizen": ZHOU_MIN}),
        Tap("and taps 'it is on the reader'", intent="read"),
        Expect("her endorsement and permit validity", state="query_result", within_s=15),
        Act("she takes her ID card", action="remove_idcard"),
        Advance("she walks away", seconds=t.message_s * 4),
        Expect("back to the attract loop", state="attract"),
    ]


# Service scripts appended after the shell script, per terminal type.
SERVICE_SCRIPTS: dict[str, list[ScriptBuilder]] = {
    "renewal": [renewal_script],
    "photo": [photo_script],
    "pickup": [pickup_script],
}


def demo_script(config: KioskConfig) -> Script:
    script = shell_script(config)
    for builder in SERVICE_SCRIPTS[config.kiosk.terminal.value]:
        script += builder(config)
    return script
