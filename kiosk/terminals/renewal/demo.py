"""The renewal terminal's scripted citizens."""

from __future__ import annotations

from kiosk.config import KioskConfig
from kiosk.terminals.home.demo import ZHANG_SAN, ZHAO_LEI, ZHOU_MIN
from kiosk.terminals.script import Act, Advance, Expect, Script, Tap

REFUSED_FIRST_APPLICATION = (
    "endorse.reason.first_application",
    "",
    "endorse.refused.next",
    "endorse.next.first_application",
)


GLARE = {"clip": "glare"}
LIVE = {"clip": "live"}


def _onto_the_permit(config: KioskConfig) -> Script:
    """A machine with a card module: the permit goes in, the chip is written under central's
    authorisation and read back, the back printed, the permit handed back; the simulator's
    picture of the printed back is saved beside the last screen."""
    if config.devices.rewriter is None:
        return [Expect("paid: the endorsement is issued", state="endorse_done", within_s=30)]
    return [
        Expect("paid: insert your permit into the slot", state="endorse_card_insert", within_s=30),
        Act("he inserts his permit", action="insert_permit"),
        Expect(
            "taken in: writing the endorsement, do not remove the card",
            state="endorse_card_writing",
            within_s=30,
        ),
        Expect("written and printed: take your permit", state="endorse_card_take", within_s=60),
        Expect("he took it: the endorsement is on the permit", state="endorse_done", within_s=60),
        Act("the back of his permit", action="save_card_back"),
    ]


def renewal_script(config: KioskConfig) -> Script:
    """Zhao Lei (first application) is refused with the reason and what to do next. Zhang
    San, in English, is eligible: his permit chip is read and verified, the camera checks
    that he is its holder (with his glasses on he is asked to take them off, then passes),
    he chooses a multiple-trip endorsement for Hong Kong, pays the fee by scanning a QR code
    with his phone, inserts his permit (on a machine with a card module: the chip is written
    and the back printed), and gets the endorsement and a payment slip.
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
        Act("Zhang San, in glasses, stands at the camera", action="face_scene", args=GLARE),
        Act("he places his ID card", action="place_idcard", args={"citizen": ZHANG_SAN}),
        Tap("and taps 'it is on the reader'", intent="read"),
        Expect("eligible: the kiosk asks for the permit", state="endorse_permit", within_s=15),
        Act("he puts his permit on the chip reader", action="present_permit"),
        Tap("his permit is on the chip reader", intent="read"),
        Expect(
            "chip read and verified; the face check asks him to take his glasses off",
            state="endorse_face_retry",
            where={"values.en": "Please take off your glasses"},
            within_s=90,
        ),
        Act("he takes them off, blinks and turns as asked", action="face_scene", args=LIVE),
        Tap("and tries again", intent="retry"),
        Expect("it is him: where to?", state="endorse_region", within_s=60),
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
        *_onto_the_permit(config),
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
