"""The pickup terminal's scripted citizens."""

from __future__ import annotations

from kiosk.config import KioskConfig
from kiosk.terminals.home.demo import CHEN_WEI, WANG_FANG, ZHOU_MIN
from kiosk.terminals.script import Act, Advance, Expect, Script, Tap
from kiosk.terminals.staff.demo import staff_sign_in


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
        Act(
            "the exit-entry system holds Chen Wei's application photo",
            action="applicant_photo_on_file",
            args={"citizen": CHEN_WEI},
        ),
        Act("Chen Wei stands at the camera", action="face_scene", args={"clip": "live"}),
        Act("Chen Wei places his ID card", action="place_idcard", args={"citizen": CHEN_WEI}),
        Expect("his document is found: the face check", state="pickup_face", within_s=30),
        Expect(
            "his face matches the application photo: his document",
            state="pickup_confirm",
            within_s=90,
        ),
        Tap("he looks at free delivery by post", intent="deliver"),
        Expect(
            "his address on record is offered",
            state="pickup_delivery_address",
            where={"values.address": "广东省深圳市福田区福华三路88号2栋1203"},
        ),
        Tap("he would rather take it now", intent="back"),
        Expect("the document again", state="pickup_confirm"),
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
        Act(
            "the exit-entry system holds Wang Fang's application photo",
            action="applicant_photo_on_file",
            args={"citizen": WANG_FANG},
        ),
        Act(
            "Wang Fang looks at the camera but does not follow its prompts",
            action="face_scene",
            args={"clip": "no_blink"},
        ),
        Act("Wang Fang places her ID card", action="place_idcard", args={"citizen": WANG_FANG}),
        Tap("and taps 'it is on the reader'", intent="read"),
        Expect("the face check", state="pickup_face", within_s=30),
        Expect(
            "no sign of a live person: she is asked to try again",
            state="pickup_face_retry",
            within_s=config.identity.try_s + 60,
        ),
        Act("this time she blinks and turns as asked", action="face_scene", args={"clip": "live"}),
        Tap("she tries again", intent="retry"),
        Expect(
            "her face matches: two documents ready",
            state="pickup_confirm",
            where={"values.count": 2},
            within_s=90,
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
        *staff_sign_in(
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
            where={"body": ("pickup.elsewhere.machine",), "values.machines": "SZ-FT-K02"},
            within_s=15,
        ),
        Act("she takes her ID card", action="remove_idcard"),
        Tap("she is finished", intent="finished"),
        Expect("back to the attract loop", state="attract"),
        *_delivery(),
        *_central_outage(config),
    ]


def _delivery() -> Script:
    """Wang Fang comes back for her other document and has it posted to her, free: there is
    no address on record for her, so she types one with the on-screen pinyin keyboard."""
    address = [
        "guang=广", "dong=东", "sheng=省", "shen=深", "zhen=圳", "shi=市", "fu=福", "tian=田",
        "qu=区", "jin=金", "tian=田", "lu=路", "36", "hao=号",
    ]  # fmt: skip
    return [
        Tap("Wang Fang comes back and reads English", intent="language", data={"language": "en"}),
        Tap("she touches the screen", intent="start"),
        Tap("to collect her other document", intent="select", data={"service": "pickup"}),
        Act("she places her ID card", action="place_idcard", args={"citizen": WANG_FANG}),
        Tap("and taps 'it is on the reader'", intent="read"),
        Expect("face checked again: her Taiwan permit", state="pickup_confirm", within_s=90),
        Tap("she asks for free delivery instead", intent="deliver"),
        Expect(
            "no address on record: she is asked for one",
            state="pickup_delivery_address",
            where={"values": {}},
        ),
        Tap("she enters an address", intent="other"),
        Expect("the on-screen keyboard", state="pickup_delivery_typing"),
        Tap("she switches to Chinese to type", intent="language", data={"language": "zh"}),
        Expect("the keyboard in Chinese", state="pickup_delivery_typing", language="zh"),
        Act(
            "she types it in pinyin, picking each character",
            action="type_on_keyboard",
            args={"tokens": address},
        ),
        Act("and taps OK", action="press_ok_on_keyboard"),
        Expect(
            "she checks the address she typed",
            state="pickup_delivery_address",
            where={"values.address": "广东省深圳市福田区金田路36号"},
        ),
        Tap("and confirms", intent="confirm"),
        Expect(
            "the order is recorded and the confirmation printed",
            state="pickup_delivery_done",
            within_s=20,
        ),
        Act("the slip is checked", action="expect_delivery_slip"),
        Tap("she reads it in English too", intent="language", data={"language": "en"}),
        Expect("the order in English", state="pickup_delivery_done", language="en"),
        Act("she takes her ID card", action="remove_idcard"),
        Tap("she is finished", intent="finished"),
        Expect("back to the attract loop", state="attract"),
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
