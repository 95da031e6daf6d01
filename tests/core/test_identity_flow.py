"""The identity step in the renewal and pickup flows (scripted services, a manual clock):
a match goes on, a miss tells why and offers another try, three misses send the citizen to
the counter with staff alerted and nothing charged or handed out; children and those the
camera cannot serve go to the configured fallback; the record travels with the transaction."""

from __future__ import annotations

from kiosk.core.engine import Event
from kiosk.core.errors import KioskError
from kiosk.core.pins import MIN_ITERATIONS, StaffKey, hash_pin
from kiosk.core.runner import InlineExecutor
from kiosk.core.views import MessageView, PinView
from kiosk.terminals.identity.ports import ADVICE_EVENT, FaceAdvice, FaceVerdict
from kiosk.terminals.identity.views import FaceCheckView
from kiosk.terminals.pickup.ports import DocumentsFound, Handover
from kiosk.terminals.staff.ports import STAFF
from tests.core.flow_rigs import Rig, card_reader, make_rig, terminal_config
from tests.core.test_pickup_flow import DOCS
from tests.core.test_renewal_flow import ELIGIBLE, GENUINE, ISSUED, ORDER, PAID

CAMERA = {"camera": {"driver": "opencv", "simulator": True}}
RECORD = {
    "decision": "match",
    "score": 0.31,
    "threshold": 0.46,
    "model": "dlib_face_recognition_resnet_model_v1",
    "reference_sha256": "ab" * 32,
}
MATCH = FaceVerdict("match", "match", "人脸核验通过", "Face check passed", RECORD)
GLASSES = FaceVerdict("no_match", "glasses", "请摘下眼镜", "Please take off your glasses", {})
NOT_LIVE = FaceVerdict("not_live", "blink", "请眨眨眼", "Please blink", {})
UNUSABLE = FaceVerdict("unusable", "reference_unusable", "证件照片无法用于核验", "unusable", {})


def renewal_rig(staff_key: StaffKey | None = None, **sections: object) -> Rig:
    config = terminal_config("renewal", devices=CAMERA, **sections)
    services = ("idcard", "central", "chip", "renewal", "printer", "identity")
    r = make_rig(config, services, staff_key=staff_key)
    r["central"].answer("eligibility", ELIGIBLE)
    r["chip"].answer("read", GENUINE)
    r["renewal"].answer("order", ORDER)
    r["renewal"].answer("issue", ISSUED)
    return r


def to_face(r: Rig) -> None:
    r.app.intent("start")
    r.app.intent("select", service="endorse")
    r.app.intent("read")
    r.app.post(Event("chip.placed"))


def test_a_match_goes_on_and_the_record_goes_with_the_endorsement() -> None:
    r = renewal_rig()
    r["identity"].answer("verify", MATCH)
    to_face(r)
    assert r.state == "endorse_region"
    assert r["identity"].calls == [("verify", ())]
    r.app.intent("region", region="HK")
    r.app.intent("purpose", purpose="individual")
    r.app.intent("trips", trips="two")
    r.app.intent("pay")
    r["renewal"].answer("status", PAID)
    r.clock.advance(2.0)
    assert r.state == "endorse_done"
    (_, _, identity) = r["renewal"].asked("issue")[0]
    assert identity == {**RECORD, "tries": 1}


def test_a_camera_that_gives_no_picture_goes_to_the_fallback() -> None:
    r = renewal_rig()
    r["identity"].answer("verify", KioskError("no picture", code="identity.no_picture"))
    to_face(r)
    assert r.state == "endorse_face_counter"
    assert [a.code for a in r.alerts] == ["identity.camera"]


def test_a_miss_says_why_and_three_misses_send_the_citizen_to_the_counter() -> None:
    r = renewal_rig()
    r["identity"].answer("verify", GLASSES, NOT_LIVE, GLASSES)
    to_face(r)
    assert r.state == "endorse_face_retry"
    view = r.view
    assert isinstance(view, MessageView) and view.values["en"] == "Please take off your glasses"
    assert view.values["left"] == 2
    r.app.intent("retry")
    assert r.state == "endorse_face_retry" and r.view.values["en"] == "Please blink"
    r.app.intent("retry")
    assert r.state == "endorse_face_refused"
    assert [a.code for a in r.alerts] == ["identity.failed"]
    assert not r["renewal"].calls  # nothing ordered, nothing charged
    r.app.intent("finished")
    assert r.state == "attract" and r.app.runner.session is None


def test_a_try_that_takes_too_long_counts_as_a_miss() -> None:
    r = make_rig(
        terminal_config("pickup", devices=CAMERA),
        ("idcard", "central", "pickup", "printer", "identity"),
        hanging=("identity",),
    )
    r["central"].answer("documents_ready", DocumentsFound(True, DOCS[:1]))
    r.app.intent("start")
    r.app.intent("select", service="pickup")
    r.app.intent("read")
    assert r.state == "pickup_face"
    r.app.post(Event(ADVICE_EVENT, reply=FaceAdvice("请眨眨眼", "Please blink", "blink")))
    view = r.view
    assert isinstance(view, FaceCheckView) and view.advice is not None
    assert view.advice.en == "Please blink" and (view.attempt, view.tries) == (1, 3)
    r.clock.advance(40.0)
    assert r.state == "pickup_face_retry"
    assert not r["pickup"].calls  # nothing handed out


def test_children_and_unusable_photos_go_to_the_counter() -> None:
    r = renewal_rig()
    from datetime import date

    r["idcard"].answer("read", card_reader(date(date.today().year - 12, 1, 1)))
    to_face(r)
    assert r.state == "endorse_face_counter" and not r["identity"].calls
    r2 = renewal_rig()
    r2["identity"].answer("verify", UNUSABLE)
    to_face(r2)
    assert r2.state == "endorse_face_counter"
    assert [a.code for a in r2.alerts] == ["identity.unusable"]
    r3 = renewal_rig()
    r3["identity"].answer("verify", GLASSES)
    to_face(r3)
    r3.app.intent("cannot")  # "I cannot use the camera"
    assert r3.state == "endorse_face_counter"


def test_staff_can_confirm_the_identity_with_their_pin() -> None:
    key = StaffKey(b"s" * 32)  # the machine's staff key
    pin_hash = hash_pin("975310", key, iterations=MIN_ITERATIONS)
    r = renewal_rig(key, identity={"fallback": "staff"}, staff={"pin_hash": pin_hash})
    staff = r.app.staff
    assert staff is not None
    r.app.runner.attach(STAFF, staff, InlineExecutor())  # its answers at once
    r["identity"].answer("verify", UNUSABLE)
    to_face(r)
    assert r.state == "endorse_face_staff" and isinstance(r.view, PinView)
    assert "identity.assist" in [a.code for a in r.alerts]
    r.app.intent("pin", pin="135792")
    assert r.state == "endorse_face_staff" and r.view.error == "identity.staff.wrong"
    r.app.intent("pin", pin="975310")
    assert r.state == "endorse_region"
    assert "identity.staff_confirmed" in [a.code for a in r.alerts]


def test_pickup_checks_the_face_before_anything_moves() -> None:
    r = make_rig(
        terminal_config("pickup", devices=CAMERA),
        ("idcard", "central", "pickup", "printer", "identity"),
    )
    r["central"].answer("documents_ready", DocumentsFound(True, DOCS[:1]))
    r["identity"].answer("verify", MATCH)
    r["pickup"].answer("hand_over", Handover("D1", True))
    r.app.intent("start")
    r.app.intent("select", service="pickup")
    r.app.intent("read")
    assert r.state == "pickup_confirm"
    r.app.intent("collect")
    assert r.state == "pickup_done"
    (document, _, identity) = r["pickup"].asked("hand_over")[0]
    assert document == DOCS[0] and identity == {**RECORD, "tries": 1}


def test_a_late_answer_after_the_citizen_left_changes_nothing() -> None:
    r = make_rig(
        terminal_config("pickup", devices=CAMERA),
        ("idcard", "central", "pickup", "printer", "identity"),
        hanging=("identity",),
    )
    r["central"].answer("documents_ready", DocumentsFound(True, DOCS[:1]))
    r.app.intent("start")
    r.app.intent("select", service="pickup")
    r.app.intent("read")
    r.app.intent("back")
    assert r.state == "menu"
    r.app.runner.handle(Event("pickup.face.ok", reply=MATCH))
    r.app.runner.handle(Event(ADVICE_EVENT, reply=FaceAdvice("a", "b", "c")))
    assert r.state == "menu"
