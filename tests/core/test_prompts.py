"""Spoken screen prompts over the renewal flow (scripted services, a recording voice)."""

from __future__ import annotations

from kiosk.core.prompts import ScreenPrompts
from kiosk.core.runner import ViewState
from kiosk.core.views import Button, MessageView, OutOfServiceView, PinView
from kiosk.core.voice import Voice
from kiosk.texts import TEXTS
from tests.core.flow_rigs import SENIOR_BORN, Rig, card_reader
from tests.core.test_renewal_flow import PAID, poll, rig, to_paying


def spoken_by(r: Rig) -> Voice:
    voice = Voice(enabled=False)  # records what it would say; no espeak-ng process
    r.app.on_view(ScreenPrompts(voice, TEXTS).on_view)
    return voice


def test_steps_that_wait_for_the_citizen_are_read_out_once_each() -> None:
    r = rig()
    voice = spoken_by(r)
    to_paying(r)
    said = [text for _, text in voice.spoken]
    assert said[0] == "请选择要办理的业务：港澳台自助签注、查询签注剩余次数、我有预约"  # the menu
    assert said[1] == "请将身份证放在读卡区"  # the first step: place the ID card
    assert "请将通行证放在证件阅读区" in said
    assert "签注费用：120 元" in said and said[-1] == "请扫码支付 120 元"
    assert not any("正在" in text for text in said)  # passing steps ("checking...") are quiet
    assert len(said) == len(set(said))
    r["renewal"].answer("status", PAID)
    r.app.intent("language", language="en")
    assert voice.spoken[-1] == ("en", "Scan to pay 120 CNY")  # again, in the new language
    count = len(voice.spoken)
    poll(r)  # the payment screen is shown again for the check: not repeated
    assert voice.spoken[count:] == [("en", "Your endorsement is issued")]


def test_the_menu_says_what_is_open_and_why_the_rest_is_paused() -> None:
    r = rig()
    voice = spoken_by(r)
    r.app.intent("language", language="en")
    r.app.intent("start")
    assert voice.spoken[-1] == (
        "en",
        "Please choose a service: Renew an endorsement, Check remaining trips, I have an "
        "appointment",
    )
    r.app.set_central_link(False)  # central goes silent while the menu shows
    language, said = voice.spoken[-1]
    assert language == "en"
    assert said.startswith("Please choose a service. The exit-entry system is not answering")
    count = len(voice.spoken)
    r.app.intent("touch")
    assert len(voice.spoken) == count  # the same menu: said once


def test_a_banner_is_read_out_when_it_appears() -> None:
    r = rig()
    voice = spoken_by(r)
    r.app.intent("start")
    r.app.intent("select", service="endorse")
    r.app.intent("call_staff")
    assert voice.spoken[-1] == ("zh", "已通知工作人员，请稍候")  # the citizen hears it worked
    count = len(voice.spoken)
    r.app.intent("touch")  # the same banner still showing: not again
    assert len(voice.spoken) == count


def test_calling_staff_from_the_attract_loop_is_confirmed_aloud() -> None:
    r = rig()
    voice = spoken_by(r)
    r.app.intent("language", language="en")
    r.app.intent("call_staff")
    assert r.app.view is not None and r.app.view.screen == "attract"
    assert voice.spoken == [("en", "Staff have been called, please wait")]
    r.app.intent("touch")  # the banner still showing: not again
    assert len(voice.spoken) == 1


def test_staff_called_over_a_passing_step_is_said_when_the_machine_goes_out_of_service() -> None:
    voice = Voice(enabled=False)
    prompts = ScreenPrompts(voice, TEXTS)
    reading = MessageView("identify.reading")  # a passing step: no buttons, nothing said
    prompts.on_view(ViewState(reading, "zh", "reading", notice="app.staff_called"))
    assert voice.spoken == []
    prompts.on_view(ViewState(OutOfServiceView(), "zh", "oos", notice="app.staff_called"))
    assert voice.spoken == [("zh", "已通知工作人员，请稍候")]


def test_the_waiting_screens_say_no_other_banner() -> None:
    voice = Voice(enabled=False)
    prompts = ScreenPrompts(voice, TEXTS)
    step = MessageView("identify.title", buttons=(Button("back", "app.back"),))
    prompts.on_view(ViewState(step, "zh", "identify", notice="app.more_time"))
    assert voice.spoken == [
        ("zh", "请将身份证放在读卡区。已为您延长每一步的操作时间；需要更大的字，请按右上角“大字”")
    ]
    # The machine fails while the banner still shows; the citizen switches language.
    for language in ("zh", "en"):
        prompts.on_view(ViewState(OutOfServiceView(), language, "oos", notice="app.more_time"))
    assert len(voice.spoken) == 1


def test_a_citizen_of_60_or_over_hears_the_step_and_then_the_extra_time() -> None:
    r = rig()
    voice = spoken_by(r)
    r["idcard"].answer("read", card_reader(SENIOR_BORN))
    r.app.intent("start")
    r.app.intent("select", service="endorse")
    r.app.intent("read")
    assert r.app.view is not None and r.app.view.notice == "app.more_time"
    language, said = voice.spoken[-1]
    # After the step it belongs to, not over the passing "checking..." step before it.
    assert language == "zh" and said.startswith("请将通行证放在证件阅读区。已为您延长每一步")


def test_the_still_there_question_is_asked_aloud_and_the_step_not_repeated() -> None:
    r = rig()
    voice = spoken_by(r)
    r.app.intent("start")
    r.app.intent("select", service="endorse")
    assert voice.spoken[1:] == [("zh", "请将身份证放在读卡区")]
    r.clock.advance(60.0)
    assert voice.spoken[-1] == ("zh", "您还在吗？")
    r.app.intent("still_here")
    assert r.state == "endorse_identify"
    assert voice.spoken[1:] == [("zh", "请将身份证放在读卡区"), ("zh", "您还在吗？")]
    r.app.intent("read")  # the next step is read out as usual
    assert voice.spoken[-1] == ("zh", "请将通行证放在证件阅读区")


def test_staff_mode_stays_silent_even_when_it_asks_still_there() -> None:
    voice = Voice(enabled=False)
    prompts = ScreenPrompts(voice, TEXTS)
    staff = MessageView("staff.title", buttons=(Button("back", "staff.exit"),), quiet=True)
    prompts.on_view(ViewState(staff, "zh", "staff"))
    prompts.on_view(ViewState(staff, "zh", "staff", still_there_until=99.0))
    prompts.on_view(ViewState(PinView("staff.pin.title"), "zh", "staff_pin"))
    assert voice.spoken == []


def test_the_next_citizen_hears_the_menu_again() -> None:
    r = rig()
    voice = Voice(enabled=False, clock=r.clock.monotonic)
    r.app.on_view(ScreenPrompts(voice, TEXTS).on_view)
    r.app.intent("start")
    menu = voice.spoken[-1]
    r.app.intent("home")  # the first citizen leaves from the menu
    r.clock.advance(10.0)
    r.app.intent("start")  # the next one arrives
    assert voice.spoken[-1] == menu and len(voice.spoken) == 2
    r.clock.advance(60.0 + 15.0)  # and walks away: 'still there?', then the attract loop
    r.app.intent("start")
    assert voice.spoken[-1] == menu


def test_a_banner_is_read_again_in_the_language_switched_to() -> None:
    r = rig()
    voice = spoken_by(r)
    r.app.intent("start")
    r.app.intent("call_staff")
    r.app.intent("language", language="en")
    assert voice.spoken[-1] == (
        "en",
        "Please choose a service: Renew an endorsement, Check remaining trips, I have an "
        "appointment. "
        "Staff have been called, please wait",
    )
