"""The appointment check-in's scripted citizens (any terminal's script may add them)."""

from __future__ import annotations

from kiosk.core.views import Waiting
from kiosk.terminals.script import Act, Expect, Script, Tap

WAITING_AFTER_S = Waiting("").after_s  # when a waiting step says what takes time
# Central's delay: long enough to see that sentence, well inside the kiosk's 10 s request
# timeout (a longer wait is the central-down path, shown elsewhere).
SLOW_S = WAITING_AFTER_S + 3.0


def check_in_script() -> Script:
    """A citizen who booked a passport appointment online shows its QR code to the camera and
    gets a priority ticket. A second one types their number on the pad, mistypes a digit
    (the check digit catches it), types it again and is told one person is ahead of them."""
    return [
        Act(
            "a citizen has booked a passport appointment online, in 20 minutes",
            action="book_appointment",
            args={"service": "passport", "counter": "5", "in_minutes": 20},
        ),
        Tap("she touches the screen", intent="start"),
        Tap(
            "and chooses 'I have an appointment'", intent="select", data={"service": "appointment"}
        ),
        Expect("the camera looks for the appointment's QR code", state="appt_scan"),
        Act("she holds her phone's QR code up to the camera", action="show_appointment_qr"),
        Expect(
            "read and checked in: the priority ticket is printed, nobody ahead",
            state="appt_done",
            where={"values.counter": "5", "values.ahead": 0},
            within_s=30,
        ),
        Act("the ticket is checked", action="expect_priority_ticket"),
        Act("she puts her phone away", action="put_phone_away"),
        Tap("she reads it in English too", intent="language", data={"language": "en"}),
        Expect("the ticket's details in English", state="appt_done", language="en"),
        Tap("she is finished", intent="finished"),
        Expect("back to the attract loop", state="attract"),
        Act(
            "another citizen booked the same counter, in 40 minutes",
            action="book_appointment",
            args={"service": "hk_macau_permit", "counter": "5", "in_minutes": 40},
        ),
        Tap("he reads English", intent="language", data={"language": "en"}),
        Tap("touches the screen", intent="start"),
        Tap(
            "and chooses 'I have an appointment'", intent="select", data={"service": "appointment"}
        ),
        Expect("the camera looks for the QR code", state="appt_scan"),
        Tap("he has no QR code: he types the number instead", intent="type"),
        Expect("the number pad", state="appt_number"),
        Act("he mistypes one digit", action="type_appointment_number", args={"wrong_digit": True}),
        Expect(
            "the check digit catches it: type it again",
            state="appt_number",
            where={"error": "appointment.number.wrong"},
        ),
        Tap("he switches to Chinese to read it", intent="language", data={"language": "zh"}),
        Expect("the pad in Chinese", state="appt_number", language="zh"),
        Act(
            "the exit-entry system is slow to answer check-ins just now",
            action="central_slow",
            args={"latency_s": SLOW_S, "paths": ["/v1/appointments/check-in"]},
        ),
        Act("he types it right", action="type_appointment_number"),
        Expect("the kiosk checks the number with central", state="appt_checking", within_s=10),
        Act(
            "he waits: after a few seconds the screen says what is taking time",
            action="look_a_while",
            args={"seconds": WAITING_AFTER_S + 1.0},
        ),
        Expect(
            "checked in: one person is ahead at window 5",
            state="appt_done",
            where={"values.ahead": 1},
            within_s=SLOW_S + 30,
        ),
        Act("central is quick again", action="central_slow"),
        Tap("he is finished", intent="finished"),
        Expect("back to the attract loop", state="attract"),
    ]
