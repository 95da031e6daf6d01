"""Steps every identified service starts with: place the ID card, read it, and say plainly
when it cannot be read. Shared by the pickup and renewal terminals."""

from __future__ import annotations

from typing import Any

from kiosk.config import KioskConfig
from kiosk.core.engine import (
    TIMEOUT,
    BeginSession,
    Call,
    Command,
    Context,
    Event,
    State,
    Transition,
)
from kiosk.core.i18n import register
from kiosk.terminals.home.flow import MENU, grant_more_time
from kiosk.terminals.home.steps import closing_state, message, outcome_view

register(
    {
        "identify.title": ("请将身份证放在读卡区", "Place your ID card on the reader"),
        "identify.body": (
            "请放在机身标有“身份证”的读卡区。身份证仅用于核对身份，办理结束后数据即被清除。",
            "Use the reader marked 'ID card' on the machine. Your card is only used to check "
            "who you are; its data is erased when you finish.",
        ),
        "identify.read": ("已放好，开始读取", "It is on the reader"),
        "identify.reading": (
            "正在读取身份证，请勿移动…",
            "Reading your ID card, please hold still…",
        ),
        "identify.failed.title": ("身份证读取失败", "The ID card could not be read"),
        "identify.failed.body": (
            "请取下身份证，擦拭后重新放置；多次失败请呼叫工作人员或到窗口办理。",
            "Lift the card, wipe it and place it again. If it keeps failing, call staff "
            "or go to the counter.",
        ),
        "identify.retry": ("重新读取", "Try again"),
        "flow.finish": ("结束", "Finish"),
        "flow.take_card": ("请取回您的身份证", "Remember to take your ID card"),
        "central.down.title": (
            "暂时无法连接出入境管理系统",
            "The exit-entry system cannot be reached",
        ),
        "central.down.body": (
            "本机现在无法查询您的信息，请到服务窗口办理，工作人员会为您处理。"
            "本次没有办理任何业务，也没有收取任何费用。",
            "This machine cannot look up your records right now. Please go to the counter, "
            "where staff will help you. Nothing was done and nothing was charged.",
        ),
        "central.unknown.title": ("未查到您的办证记录", "No records found for you"),
        "central.unknown.body": (
            "出入境管理系统中没有与您身份证对应的记录。请携带身份证到服务窗口咨询。",
            "The exit-entry system holds no records for this ID card. Please ask at the "
            "counter and bring your ID card.",
        ),
    }
)


def identify_states(config: KioskConfig, prefix: str, after: str) -> tuple[State, ...]:
    """``<prefix>_identify`` -> ``<prefix>_reading`` -> ``after`` (or ``<prefix>_read_failed``).

    The session starts on entry; the card data goes into it (never into the flow context).
    """
    t = config.timeouts
    identify, reading, failed = f"{prefix}_identify", f"{prefix}_reading", f"{prefix}_read_failed"
    reply = f"{prefix}.idcard"

    def begin(ctx: Context, event: Event) -> list[Command]:
        ctx[prefix] = {}
        return [BeginSession(prefix)]

    def read(ctx: Context, event: Event) -> list[Command]:
        return [Call("idcard", "read", reply=reply)]

    def identify_view(ctx: Context) -> dict[str, Any]:
        return message(
            "identify.title",
            "identify.body",
            buttons=(("back", "app.back", ""), ("read", "identify.read", "primary")),
        )

    def failed_view(ctx: Context) -> dict[str, Any]:
        return message(
            "identify.failed.title",
            "identify.failed.body",
            tone="warn",
            buttons=(("back", "app.back", ""), ("retry", "identify.retry", "primary")),
        )

    return (
        State(
            identify,
            "message",
            (
                Transition("idcard.placed", reading),
                Transition("read", reading, label="tap"),
                Transition("back", MENU),
            ),
            idle=True,
            on_enter=begin,
            view=identify_view,
        ),
        State(
            reading,
            "message",
            (
                Transition(f"{reply}.ok", after, grant_more_time),
                Transition(f"{reply}.failed", failed),
                Transition(TIMEOUT, failed),
            ),
            timeout=lambda ctx: t.device_s,
            on_enter=read,
            view=lambda ctx: message("identify.reading"),
        ),
        State(
            failed,
            "message",
            (
                Transition("idcard.placed", reading),
                Transition("retry", reading),
                Transition("back", MENU),
            ),
            idle=True,
            view=failed_view,
        ),
    )


def central_down_state(config: KioskConfig, name: str) -> State:
    """Central could not answer: say so and send the citizen to the counter (no guessing)."""
    return _closing_state(config, name, "central.down.title", "central.down.body", "warn")


def central_unknown_state(config: KioskConfig, name: str) -> State:
    return _closing_state(config, name, "central.unknown.title", "central.unknown.body", "warn")


def _closing_state(config: KioskConfig, name: str, title: str, body: str, tone: str) -> State:
    return closing_state(name, outcome_view(title, body, tone), config.timeouts.message_s * 3)
