"""The photo terminal's scripted citizens."""

from __future__ import annotations

from kiosk.config import KioskConfig
from kiosk.terminals.appointment.demo import check_in_script
from kiosk.terminals.script import Act, Advance, Expect, Script, Tap
from kiosk.terminals.staff.demo import staff_sign_in


def photo_script(config: KioskConfig) -> Script:
    """A citizen with an ID card who first stands too far, then turns their head, then
    complies; retakes once for free, keeps the best photo, and takes the receipt. Then a
    second citizen finds the printer out of paper: the photo is still saved and the number
    shown on screen. Then two citizens check in their online appointments: one by the QR
    code, one by typing the number."""
    t = config.timeouts
    return [
        Tap("a citizen touches the screen", intent="start"),
        Expect("the menu shows the photo service", state="menu"),
        Tap("the citizen chooses an ID photo", intent="select", data={"service": "photo"}),
        Expect("the kiosk invites an ID card (optional)", state="photo_identify"),
        Tap("the citizen asks for larger text", intent="large_text", data={"on": True}),
        Expect("the same step, in larger text", state="photo_identify", large_text=True),
        # The person is in the booth before the camera opens, so the live screen never shows
        # the camera's idle test card (the scenes take a few seconds to make, once).
        Act(
            "the citizen stands in the booth, too far from the camera",
            action="camera_scene",
            args={"scene": "too_far"},
        ),
        Act("the citizen (born 1958) places their ID card", action="place_idcard"),
        Expect("aged 60+: told they may reuse a recent photo", state="photo_senior"),
        Tap("they want a new photo anyway", intent="take_new"),
        Expect("the live camera opens", state="photo_live"),
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
        *staff_sign_in(
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
        *check_in_script(),
    ]
