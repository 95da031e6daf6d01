"""The renewal terminal: renew an endorsement ("endorse") and look up the current one
("query").

Endorse: ID card -> eligibility from central (a refusal names the reason and the next step)
-> the permit's chip, opened with the access data of the permit on record and passively
authenticated -> region, purpose, trips and validity (only what central offers) -> the fee.
This product has no payment device yet, so the fee screen says plainly that payment is at the
counter and nothing is charged or recorded as paid; no endorsement is issued or written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from devices.icao.pa import REASONS as PA_REASONS
from kiosk.central_service import PERMIT_ACCESS
from kiosk.config import KioskConfig, TerminalType
from kiosk.flows.engine import TIMEOUT, Call, Command, Context, Event, State, Transition
from kiosk.flows.identify import central_down_state, central_unknown_state, identify_states
from kiosk.flows.steps import FINISH, closing_state, done, message
from kiosk.flows.terminal import ATTRACT, MENU, SERVICE_BUILDERS, ServiceFlow
from kiosk.i18n import register

REFUSALS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    # reason: ((why zh, why en), (next step zh, next step en))
    "first_application": (
        ("首次申请签注须到窗口办理。", "A first endorsement is only issued at the counter."),
        (
            "请预约窗口办理（网上或电话预约），携带身份证和通行证前来。",
            "Book a counter slot online and bring your ID card and permit.",
        ),
    ),
    "registered_personnel": (
        (
            "您属于登记备案人员，须经单位审批后到窗口办理。",
            "You are registered personnel: renewals need your employer's approval and are "
            "handled at the counter.",
        ),
        (
            "请携带单位出具的审批意见、身份证和通行证到窗口办理。",
            "Bring your employer's approval, your ID card and your permit to the counter.",
        ),
    ),
    "endorsement_still_valid": (
        ("您的签注仍在有效期内，暂不能续签。", "Your current endorsement is still valid."),
        (
            "签注到期或次数用完后可再来本机办理；如有急需请到窗口咨询。",
            "Come back when it has expired or its trips are used; for urgent travel ask at "
            "the counter.",
        ),
    ),
    "out_of_province_first_use": (
        (
            "外省户籍证件在本地首次签注须到窗口办理。",
            "A permit from another province needs its first local endorsement at the counter.",
        ),
        (
            "请预约窗口，携带身份证、通行证和居住证明前来。",
            "Book a counter slot and bring your ID card, permit and proof of residence.",
        ),
    ),
    "permit_validity_too_short": (
        (
            "通行证剩余有效期不足，无法加注签注。",
            "Your permit expires too soon to carry a new endorsement.",
        ),
        (
            "请先换发通行证：预约窗口，携带身份证和旧通行证，现场拍照。",
            "Renew the permit first: book a counter slot and bring your ID card and old permit.",
        ),
    ),
}
REGIONS = {"HK": ("香港", "Hong Kong"), "MO": ("澳门", "Macau")}
PURPOSES = {
    "individual": ("个人旅游", "Individual visit"),
    "group": ("团队旅游", "Group tour"),
    "family_visit": ("探亲", "Family visit"),
    "business": ("商务", "Business"),
}
TRIPS = {
    "one": ("一次有效 · {fee} 元", "One trip · {fee} CNY"),
    "two": ("二次有效 · {fee} 元", "Two trips · {fee} CNY"),
    "multiple": ("多次有效 · {fee} 元起", "Multiple trips · from {fee} CNY"),
}
VALIDITY = {
    "multi_1y": ("一年多次 · {fee} 元", "1 year · {fee} CNY"),
    "multi_2y": ("两年多次 · {fee} 元", "2 years · {fee} CNY"),
    "multi_3y": ("三年多次 · {fee} 元", "3 years · {fee} CNY"),
    "multi_5y": ("五年多次 · {fee} 元", "5 years · {fee} CNY"),
    "one_trip": ("一次有效", "One trip"),
    "two_trips": ("二次有效", "Two trips"),
}

register({f"endorse.reason.{r}": why for r, (why, _) in REFUSALS.items()})
register({f"endorse.next.{r}": step for r, (_, step) in REFUSALS.items()})
register({f"region.{code}": names for code, names in REGIONS.items()})
register({f"purpose.{code}": names for code, names in PURPOSES.items()})
register(
    {
        f"query.region.{c}": (f"赴{zh}签注", f"Endorsement for {en}")
        for c, (zh, en) in REGIONS.items()
    }
)
register({f"trips.{code}": names for code, names in TRIPS.items()})
register({f"option.{code}": names for code, names in VALIDITY.items()})
register({f"chip.pa.{result.value}": reason for result, reason in PA_REASONS.items()})
register(
    {
        "flow.take_cards": (
            "请取回您的身份证和通行证",
            "Remember to take your ID card and your permit",
        ),
        "endorse.checking": ("正在查询您的签注办理条件…", "Checking whether you can renew here…"),
        "endorse.refused.title": ("您暂不能在本机办理签注", "You cannot renew at this machine"),
        "endorse.refused.next": ("下一步：", "What to do next:"),
        "endorse.permit.title": (
            "请将通行证放在证件阅读区",
            "Place your travel permit on the reader",
        ),
        "endorse.permit.body": (
            "请将卡式通行证平放在机身标有“证件”的阅读区，读取完成前不要移动。",
            "Lay your card-type permit flat on the reader marked 'Document' and keep it there "
            "until reading is finished.",
        ),
        "endorse.permit.read": ("已放好，开始读取", "It is on the reader"),
        "endorse.chip.reading": (
            "正在读取通行证芯片，请勿移动…",
            "Reading the permit chip, keep it still…",
        ),
        "endorse.chip.failed.title": ("通行证芯片读取失败", "The permit chip could not be read"),
        "endorse.chip.failed.body": (
            "请确认放置的是本人的卡式通行证，平放后重试；仍然失败请到窗口办理。",
            "Check that it is your own card-type permit and lay it flat, then try again. "
            "If it still fails, please go to the counter.",
        ),
        "endorse.chip.refused.title": ("无法确认通行证真伪", "The permit could not be verified"),
        "endorse.region.title": ("请选择前往地区", "Where are you going?"),
        "endorse.purpose.title": ("请选择签注种类", "Choose the kind of endorsement"),
        "endorse.trips.title": ("请选择往返次数", "How many trips?"),
        "endorse.validity.title": ("请选择多次签注的有效期", "How long should it be valid?"),
        "endorse.choice.body": (
            "只显示您可以办理的选项。费用按国家规定收取。",
            "Only the choices open to you are shown. Fees are set by the state.",
        ),
        "endorse.fee.title": ("签注费用：{fee} 元", "Endorsement fee: {fee} CNY"),
        "endorse.fee.body": (
            "本机暂不支持缴费，本次没有收取任何费用，签注也尚未办理。"
            "请凭身份证和通行证到窗口缴费，工作人员将为您办理以上签注。",
            "This machine cannot take payments yet: nothing has been charged and no "
            "endorsement has been issued. Please pay at the counter with your ID card and "
            "permit; staff will issue the endorsement above there.",
        ),
        "query.looking": ("正在查询您的签注…", "Looking up your endorsement…"),
        "query.title": ("您的签注信息", "Your endorsement"),
        "query.none": ("您目前没有签注记录。", "You have no endorsement on record."),
        "query.valid": ("签注有效，有效期至 {valid_until}。", "Valid until {valid_until}."),
        "query.expired": ("签注已于 {valid_until} 过期。", "Expired on {valid_until}."),
        "query.permit": (
            "通行证有效期至 {permit_expiry}（还有 {permit_days_left} 天）。",
            "Your permit is valid until {permit_expiry} ({permit_days_left} days left).",
        ),
        "query.trips.one": ("可往返次数：一次", "Trips allowed: one"),
        "query.trips.two": ("可往返次数：二次", "Trips allowed: two"),
        "query.trips.multiple": ("可往返次数：多次", "Trips allowed: multiple"),
        "query.trips_note": (
            "已使用次数以口岸出入境记录为准。",
            "Trips already used are counted from border records.",
        ),
    }
)


# --- helpers ---------------------------------------------------------------------------------


def _choices(
    title: str, intent: str, items: Sequence[tuple[str, str, Mapping[str, Any]]]
) -> dict[str, Any]:
    """A message screen whose buttons are the choices (label key, data, label values)."""
    screen = message(title, "endorse.choice.body")
    screen["buttons"] = [{"intent": "back", "label": "app.back", "style": ""}] + [
        {"intent": intent, "label": label, "style": "primary", "data": data, "values": values}
        for label, data, values in ((label, {intent: v}, vals) for v, label, vals in items)
    ]
    return screen


def _pick(intent: str, allowed: Callable[[Context], list[str]]) -> Transition:
    """Accept a choice only if it was offered; remember it."""

    def guard(ctx: Context, event: Event) -> bool:
        return event.data.get(intent) in allowed(ctx)

    def action(ctx: Context, event: Event) -> list[Command]:
        ctx["endorse"][intent] = str(event.data[intent])
        return []

    return Transition(intent, "", action, guard)


def _to(
    t: Transition, target: str, guard: Callable[[Context, Event], bool] | None = None
) -> Transition:
    if guard is None:
        return Transition(t.event, target, t.action, t.guard)
    base = t.guard

    def both(ctx: Context, event: Event) -> bool:
        return (base is None or base(ctx, event)) and guard(ctx, event)

    return Transition(t.event, target, t.action, both)


def _endorse(ctx: Context) -> dict[str, Any]:
    return dict(ctx["endorse"])


def _options(ctx: Context) -> list[dict[str, Any]]:
    return list(ctx["endorse"].get("options", []))


def _trips(ctx: Context) -> list[str]:
    return list(dict.fromkeys(o["trips"] for o in _options(ctx)))


def _multi_codes(ctx: Context) -> list[str]:
    return [o["code"] for o in _options(ctx) if o["trips"] == "multiple"]


def _option_for_trips(ctx: Context, event: Event) -> list[Command]:
    trips = ctx["endorse"]["trips"]
    if trips != "multiple":
        ctx["endorse"]["option"] = next(o["code"] for o in _options(ctx) if o["trips"] == trips)
    return []


def _is_multiple(ctx: Context, event: Event) -> bool:
    return event.data.get("trips") == "multiple"


def _fee(ctx: Context) -> int:
    code = ctx["endorse"].get("option")
    return int(next((o["fee_cny"] for o in _options(ctx) if o["code"] == code), 0))


# --- endorse ---------------------------------------------------------------------------------


def _check(ctx: Context, event: Event) -> list[Command]:
    return [Call("central", "eligibility", reply="endorse.eligibility")]


def _verdict(ctx: Context, event: Event) -> list[Command]:
    ctx["endorse"].update(
        reasons=list(event.data.get("reasons", [])),
        options=list(event.data.get("options", [])),
        regions=list(event.data.get("regions", [])),
        purposes=list(event.data.get("purposes", [])),
    )
    return []


def _eligible(ctx: Context, event: Event) -> bool:
    return bool(event.data.get("eligible")) and bool(event.data.get("permit_on_record"))


def _unknown(ctx: Context, event: Event) -> bool:
    return event.data.get("known") is False


def _read_chip(ctx: Context, event: Event) -> list[Command]:
    return [Call("chip", "read", {"access_session_key": PERMIT_ACCESS}, reply="endorse.chip")]


def _genuine(ctx: Context, event: Event) -> bool:
    return event.data.get("passive_auth") == "valid"


def _chip_verdict(ctx: Context, event: Event) -> list[Command]:
    ctx["endorse"]["chip"] = str(event.data.get("passive_auth", ""))
    return []


def endorse_states(config: KioskConfig) -> tuple[State, ...]:
    t = config.timeouts

    def refused_view(ctx: Context) -> dict[str, Any]:
        reasons = [r for r in _endorse(ctx)["reasons"] if r in REFUSALS]
        lines = [f"endorse.reason.{r}" for r in reasons] + ["", "endorse.refused.next"]
        lines += [f"endorse.next.{r}" for r in reasons]
        return message(
            "endorse.refused.title",
            lines,
            tone="warn",
            progress="flow.take_card",
            buttons=FINISH,
        )

    def region_view(ctx: Context) -> dict[str, Any]:
        regions = _endorse(ctx)["regions"]
        return _choices("endorse.region.title", "region", [(r, f"region.{r}", {}) for r in regions])

    def purpose_view(ctx: Context) -> dict[str, Any]:
        purposes: list[str] = _endorse(ctx)["purposes"]
        return _choices(
            "endorse.purpose.title", "purpose", [(p, f"purpose.{p}", {}) for p in purposes]
        )

    def trips_view(ctx: Context) -> dict[str, Any]:
        fees = {
            trips: min(o["fee_cny"] for o in _options(ctx) if o["trips"] == trips)
            for trips in _trips(ctx)
        }
        items = [(x, f"trips.{x}", {"fee": fees[x]}) for x in _trips(ctx)]
        return _choices("endorse.trips.title", "trips", items)

    def validity_view(ctx: Context) -> dict[str, Any]:
        items = [
            (o["code"], f"option.{o['code']}", {"fee": o["fee_cny"]})
            for o in _options(ctx)
            if o["trips"] == "multiple"
        ]
        return _choices("endorse.validity.title", "option", items)

    def fee_view(ctx: Context) -> dict[str, Any]:
        e = _endorse(ctx)
        chosen = [f"query.region.{e['region']}", f"purpose.{e['purpose']}", f"option.{e['option']}"]
        return message(
            "endorse.fee.title",
            [*chosen, "", "endorse.fee.body"],
            tone="info",
            progress="flow.take_cards",
            values={"fee": _fee(ctx)},
            buttons=FINISH,
        )

    region = _pick("region", lambda ctx: _endorse(ctx)["regions"])
    purpose = _pick("purpose", lambda ctx: _endorse(ctx)["purposes"])
    trips = _pick("trips", _trips)
    option = _pick("option", _multi_codes)
    return (
        *identify_states(config, "endorse", "endorse_checking"),
        State(
            "endorse_checking",
            "message",
            (
                Transition("endorse.eligibility.ok", "endorse_unknown", guard=_unknown),
                Transition("endorse.eligibility.ok", "endorse_permit", _verdict, _eligible),
                Transition("endorse.eligibility.ok", "endorse_refused", _verdict, label="refused"),
                Transition("endorse.eligibility.failed", "endorse_central_down"),
                Transition(TIMEOUT, "endorse_central_down"),
            ),
            timeout=lambda ctx: config.central.timeout_s * 2,
            on_enter=_check,
            view=lambda ctx: message("endorse.checking"),
        ),
        central_down_state(config, "endorse_central_down"),
        central_unknown_state(config, "endorse_unknown"),
        closing_state(
            "endorse_refused",
            refused_view,
            t.message_s * 4,
        ),
        State(
            "endorse_permit",
            "message",
            (
                Transition("chip.placed", "endorse_chip_reading"),
                Transition("read", "endorse_chip_reading", label="tap"),
                Transition("back", MENU),
            ),
            view=lambda ctx: message(
                "endorse.permit.title",
                "endorse.permit.body",
                buttons=(("back", "app.back", ""), ("read", "endorse.permit.read", "primary")),
            ),
            idle=True,
        ),
        State(
            "endorse_chip_reading",
            "message",
            (
                Transition("endorse.chip.ok", "endorse_region", _chip_verdict, _genuine),
                Transition("endorse.chip.ok", "endorse_chip_refused", _chip_verdict),
                Transition("endorse.chip.failed", "endorse_chip_failed"),
                Transition(TIMEOUT, "endorse_chip_failed"),
            ),
            timeout=lambda ctx: t.device_s,
            on_enter=_read_chip,
            view=lambda ctx: message("endorse.chip.reading"),
        ),
        State(
            "endorse_chip_failed",
            "message",
            (
                Transition("retry", "endorse_chip_reading"),
                Transition("chip.placed", "endorse_chip_reading"),
                Transition("back", MENU),
            ),
            view=lambda ctx: message(
                "endorse.chip.failed.title",
                "endorse.chip.failed.body",
                tone="warn",
                buttons=(("back", "app.back", ""), ("retry", "identify.retry", "primary")),
            ),
            idle=True,
        ),
        closing_state(
            "endorse_chip_refused",
            lambda ctx: message(
                "endorse.chip.refused.title",
                f"chip.pa.{_endorse(ctx).get('chip', '')}",
                tone="error",
                progress="flow.take_cards",
                buttons=FINISH,
            ),
            t.message_s * 4,
        ),
        State(
            "endorse_region",
            "message",
            (_to(region, "endorse_purpose"), Transition("back", MENU)),
            view=region_view,
            idle=True,
        ),
        State(
            "endorse_purpose",
            "message",
            (_to(purpose, "endorse_trips"), Transition("back", "endorse_region")),
            view=purpose_view,
            idle=True,
        ),
        State(
            "endorse_trips",
            "message",
            (
                _to(trips, "endorse_validity", _is_multiple),
                Transition(
                    trips.event, "endorse_fee", _then(trips, _option_for_trips), trips.guard
                ),
                Transition("back", "endorse_purpose"),
            ),
            view=trips_view,
            idle=True,
        ),
        State(
            "endorse_validity",
            "message",
            (_to(option, "endorse_fee"), Transition("back", "endorse_trips")),
            view=validity_view,
            idle=True,
        ),
        State(
            "endorse_fee",
            "message",
            (
                Transition("finished", ATTRACT, action=done),
                Transition("back", "endorse_trips"),
                Transition(TIMEOUT, ATTRACT, action=done),
            ),
            timeout=lambda ctx: t.message_s * 6,
            view=fee_view,
        ),
    )


def _then(
    t: Transition, after: Callable[[Context, Event], list[Command]]
) -> Callable[[Context, Event], list[Command]]:
    first = t.action

    def both(ctx: Context, event: Event) -> list[Command]:
        return (first(ctx, event) if first else []) + after(ctx, event)

    return both


# --- query -----------------------------------------------------------------------------------


def _look_up(ctx: Context, event: Event) -> list[Command]:
    return [Call("central", "permit_status", reply="query.status")]


def _status(ctx: Context, event: Event) -> list[Command]:
    ctx["query"]["status"] = dict(event.data)
    return []


def query_states(config: KioskConfig) -> tuple[State, ...]:
    t = config.timeouts

    def result_view(ctx: Context) -> dict[str, Any]:
        status = ctx["query"]["status"]
        e = status.get("endorsement")
        values = {k: status[k] for k in ("permit_expiry", "permit_days_left")}
        if e is None:
            lines = ["query.none"]
        else:
            values["valid_until"] = e["valid_until"]
            lines = [f"query.region.{e['region']}"] if e["region"] in REGIONS else []
            lines.append("query.valid" if e["valid"] else "query.expired")
            if e["trips"] in TRIPS:
                lines += [f"query.trips.{e['trips']}", "query.trips_note"]
        return message(
            "query.title",
            [*lines, "query.permit"],
            tone="ok",
            progress="flow.take_card",
            values=values,
            buttons=FINISH,
        )

    return (
        *identify_states(config, "query", "query_looking"),
        State(
            "query_looking",
            "message",
            (
                Transition("query.status.ok", "query_unknown", guard=_unknown),
                Transition("query.status.ok", "query_result", action=_status),
                Transition("query.status.failed", "query_central_down"),
                Transition(TIMEOUT, "query_central_down"),
            ),
            timeout=lambda ctx: config.central.timeout_s * 2,
            on_enter=_look_up,
            view=lambda ctx: message("query.looking"),
        ),
        central_down_state(config, "query_central_down"),
        central_unknown_state(config, "query_unknown"),
        closing_state(
            "query_result",
            result_view,
            t.message_s * 4,
        ),
    )


def build(config: KioskConfig) -> tuple[ServiceFlow, ...]:
    return (
        ServiceFlow("endorse", "endorse_identify", endorse_states(config), icon="stamp"),
        ServiceFlow("query", "query_identify", query_states(config), icon="search"),
    )


SERVICE_BUILDERS[TerminalType.RENEWAL].append(build)
