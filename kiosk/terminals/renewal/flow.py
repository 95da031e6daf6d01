"""The renewal terminal: renew an endorsement ("endorse") and look up the current one
("query").

Endorse: ID card -> eligibility from central (a refusal names the reason and the next step)
-> the permit's chip, opened with the access data of the permit on record and passively
authenticated -> region, purpose, trips and validity (only what central offers) -> the fee,
paid by scanning a QR code with a phone (service "renewal": the order is journaled before the
code is shown) -> central issues the endorsement against the paid order -> a payment slip.
The machine has no card printer, so the endorsement is not printed on the permit's back: it
is on record centrally (border control reads it from there) and on the slip. Every way out
of payment says what happened to the money: nothing charged, refunded, or issued.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from devices.icao.pa import REASONS as PA_REASONS
from kiosk.config import KioskConfig, TerminalType
from kiosk.core.engine import (
    SAME,
    TIMEOUT,
    Alert,
    Call,
    Command,
    Context,
    Event,
    State,
    Transition,
)
from kiosk.core.i18n import register
from kiosk.machine.central import PERMIT_ACCESS
from kiosk.terminals.home.flow import ATTRACT, MENU, SERVICE_BUILDERS, ServiceFlow
from kiosk.terminals.home.identify import central_down_state, central_unknown_state, identify_states
from kiosk.terminals.home.steps import FINISH, closing_state, done, message, qr_png

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
# What each option is called (the fee screen, the payment slip).
OPTION_NAMES = {
    "multi_1y": ("一年多次", "1 year"),
    "multi_2y": ("两年多次", "2 years"),
    "multi_3y": ("三年多次", "3 years"),
    "multi_5y": ("五年多次", "5 years"),
    "one_trip": ("一次有效", "One trip"),
    "two_trips": ("二次有效", "Two trips"),
}
# Choice labels: a multiple-trip validity shows its fee (the trips screen shows the others').
VALIDITY = {
    code: (f"{zh} · {{fee}} 元", f"{en} · {{fee}} CNY") if code.startswith("multi") else (zh, en)
    for code, (zh, en) in OPTION_NAMES.items()
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
            "请用微信、支付宝或银行App扫码缴费，在手机上确认之前不会扣款。本机不开具发票，"
            "如需发票请凭缴费凭条到窗口开具。",
            "Pay by scanning a code with WeChat, Alipay or your bank's app: nothing is "
            "charged until you confirm on your phone. This machine gives no invoice; bring "
            "the payment slip to the counter for one.",
        ),
        "endorse.pay": ("扫码缴费", "Pay by phone"),
        "endorse.ordering": ("正在生成缴费二维码…", "Preparing your payment code…"),
        "endorse.paying.title": ("请扫码支付 {amount} 元", "Scan to pay {amount} CNY"),
        "endorse.paying.body": (
            "打开微信、支付宝或银行App扫描下方二维码，并在手机上确认支付。"
            "付款后本机自动继续，请不要离开。",
            "Open WeChat, Alipay or your bank's app, scan the code below and confirm on your "
            "phone. The machine goes on by itself once you have paid - please stay here.",
        ),
        "endorse.paying.left": (
            "二维码约 {minutes} 分钟内有效。",
            "The code is valid for about {minutes} more min.",
        ),
        "endorse.paying.cancel": ("取消支付", "Cancel payment"),
        "endorse.cancelling": ("正在取消支付…", "Cancelling the payment…"),
        "endorse.nothing_charged": (
            "没有扣除任何费用，签注也没有办理。",
            "Nothing has been charged and no endorsement was issued.",
        ),
        "endorse.cancelled.title": ("已取消支付", "Payment cancelled"),
        "endorse.expired.title": ("支付时间已过", "The time to pay has run out"),
        "endorse.again": (
            "如仍需办理，请重新开始。",
            "Start again if you still want to renew.",
        ),
        "endorse.pay_unavailable.title": ("暂时无法缴费", "Payment is not available right now"),
        "endorse.pay_unavailable.body": (
            "请稍后再试，或到窗口办理。",
            "Please try again later or go to the counter.",
        ),
        "endorse.unconfirmed.title": (
            "暂时无法确认办理结果",
            "The result cannot be confirmed right now",
        ),
        "endorse.unconfirmed.body": (
            "如果您已付款：系统恢复后，若签注已办理则有效，否则款项将自动原路退回。"
            "稍后可用“查询签注剩余次数”查看结果。已通知工作人员，如有疑问请联系工作人员。",
            "If you have paid: once the system answers, either the endorsement stands or "
            "the payment goes back to where it came from, automatically. Use 'Check "
            "remaining trips' later to see which. Staff have been told; ask them if in doubt.",
        ),
        "endorse.issuing": (
            "已收到付款，正在办理签注…",
            "Payment received. Issuing your endorsement…",
        ),
        "endorse.printing": ("正在打印缴费凭条…", "Printing your payment slip…"),
        "endorse.done.title": ("签注已办理", "Your endorsement is issued"),
        "endorse.done.valid": (
            "签注号 {endorsement_no}，有效期 {valid_from} 至 {valid_until}。",
            "Endorsement {endorsement_no}, valid {valid_from} to {valid_until}.",
        ),
        "endorse.done.record": (
            "签注已登记在出入境系统中，出入境时凭通行证查验。",
            "It is on record in the exit-entry system; border control checks it with your permit.",
        ),
        "endorse.done.slip": ("请取走缴费凭条。", "Please take your payment slip."),
        "endorse.done.no_slip": (
            "缴费凭条无法打印；签注已登记在出入境系统中。已通知工作人员，如需凭条请到窗口补打。",
            "The payment slip could not be printed; the endorsement is on record. Staff "
            "have been told; the counter can print the slip.",
        ),
        "endorse.refunded.title": ("签注未能办理，已退款", "Not issued - your payment is refunded"),
        "endorse.refunded.body": (
            "出入境系统未能办理该签注，您支付的 {amount} 元将原路退回。请到窗口咨询。",
            "The exit-entry system could not issue this endorsement; the {amount} CNY you "
            "paid goes back to where it came from. Please ask at the counter.",
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


def _chose_multiple(ctx: Context, event: Event) -> bool:
    return bool(ctx["endorse"].get("trips") == "multiple")


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
            buttons=(("back", "app.back", ""), ("pay", "endorse.pay", "primary")),
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
                Transition("pay", "endorse_ordering"),
                Transition("back", "endorse_validity", guard=_chose_multiple, label="multiple"),
                Transition("back", "endorse_trips"),
                Transition(TIMEOUT, ATTRACT, action=done),
            ),
            timeout=lambda ctx: t.message_s * 6,
            view=fee_view,
        ),
        *payment_states(config),
    )


# --- payment and issue -----------------------------------------------------------------------

# States where the citizen's money may be moving, or they are being told what happened to
# it: a failing device does not end them (the kiosk goes out of service right after), and in
# the moving ones the header's End button cancels the order or waits.
FINISHING = (
    "endorse_ordering",
    "endorse_paying",
    "endorse_pay_check",
    "endorse_cancelling",
    "endorse_issuing",
    "endorse_printing",
    "endorse_done",
    "endorse_pay_unavailable",
    "endorse_cancelled",
    "endorse_expired",
    "endorse_unconfirmed",
    "endorse_refunded",
)
_STAY = Transition("home", SAME, label="not while money moves")


def _choice(ctx: Context) -> dict[str, str]:
    return {k: str(ctx["endorse"][k]) for k in ("region", "purpose", "option")}


def _order(ctx: Context) -> dict[str, Any]:
    return dict(ctx["endorse"]["order"])


def _ask_order(ctx: Context, event: Event) -> list[Command]:
    return [Call("renewal", "order", _choice(ctx), reply="endorse.order")]


def _ordered(ctx: Context, event: Event) -> list[Command]:
    keep = ("order_id", "amount_cny", "pay_url", "expires_in_s")
    ctx["endorse"]["order"] = {k: event.data[k] for k in keep}
    ctx["endorse"]["missed"] = 0
    return []


def _order_args(ctx: Context) -> dict[str, Any]:
    return {"order_id": _order(ctx)["order_id"]}


def _poll(ctx: Context, event: Event) -> list[Command]:
    return [Call("renewal", "status", _order_args(ctx), reply="endorse.payment")]


def _cancel(ctx: Context, event: Event) -> list[Command]:
    return [Call("renewal", "cancel", _order_args(ctx), reply="endorse.cancel")]


def _issue(ctx: Context, event: Event) -> list[Command]:
    args = {**_order_args(ctx), **_choice(ctx)}
    return [Call("renewal", "issue", args, reply="endorse.issue")]


def _paid(ctx: Context, event: Event) -> bool:
    return event.data.get("status") == "paid"


def _unpaid(ctx: Context, event: Event) -> bool:
    return event.data.get("status") == "unpaid"


def _answered(ctx: Context, event: Event) -> list[Command]:
    ctx["endorse"]["missed"] = 0
    ctx["endorse"]["order"]["expires_in_s"] = int(event.data.get("expires_in_s", 0))
    return []


def _missed(ctx: Context, event: Event) -> list[Command]:
    ctx["endorse"]["missed"] += 1
    return []


def _refunded(ctx: Context, event: Event) -> bool:
    return event.data.get("code") == "renewal.refunded"


def _issued(ctx: Context, event: Event) -> list[Command]:
    ctx["endorse"]["issued"] = dict(event.data)
    return []


def _unconfirmed_alert(ctx: Context, event: Event) -> list[Command]:
    # The order number is not personal data; staff find the order by it.
    order = ctx["endorse"].get("order", {}).get("order_id", "?")
    why = event.data.get("code") or event.name
    return [Alert("renewal.unconfirmed", f"payment order {order} not settled: {why}")]


def _refund_alert(ctx: Context, event: Event) -> list[Command]:
    order = _order(ctx)["order_id"]
    return [Alert("renewal.refunded", f"payment order {order} refunded: endorsement refused")]


def _slip_alert(ctx: Context, event: Event) -> list[Command]:
    # The order id, not the endorsement number: alerts are kept in clear and hold no
    # document numbers (the counter reprints the slip from the order).
    order = _order(ctx)["order_id"]
    code = event.data.get("code", "timeout")
    why = f"endorsement issued for order {order}, slip not printed: {code}"
    return [Alert("printer.receipt_failed", why)]


def _slip(config: KioskConfig, ctx: Context) -> dict[str, Any]:
    """The payment slip: what was issued, for how much, where and when."""
    e, issued = ctx["endorse"], ctx["endorse"]["issued"]
    region_zh, region_en = REGIONS[e["region"]]
    purpose_zh, purpose_en = PURPOSES[e["purpose"]]
    option_zh, option_en = OPTION_NAMES[e["option"]]
    items: list[dict[str, Any]] = [
        {"text": "出入境证件签注缴费凭条", "bold": True, "large": True, "align": "center"},
        {"text": "Endorsement payment slip", "align": "center"},
        {"feed": 1},
        {"text": f"签注号 Endorsement: {issued['endorsement_no']}", "bold": True},
        {"code128": str(issued["endorsement_no"])},
        {"text": f"地区 Region: {region_zh} {region_en}"},
        {"text": f"种类 Kind: {purpose_zh} {purpose_en}"},
        {"text": f"次数 Trips: {option_zh} {option_en}"},
        {"text": f"有效期 Valid: {issued['valid_from']} - {issued['valid_until']}"},
        {"text": f"金额 Amount: {issued['fee_cny']} 元 CNY", "bold": True},
        {"text": f"订单号 Order: {issued['order_id']}"},
        {"text": f"时间 Time: {str(issued.get('issued_at', '')).replace('T', ' ')}"},
        {"text": f"地点 Place: {config.kiosk.place or config.kiosk.id}"},
        {"text": f"终端 Kiosk: {config.kiosk.id}"},
        {"feed": 1},
        {"text": "本机不开具发票，如需发票请凭本凭条到窗口开具。"},
        {"text": "For an invoice, bring this slip to the counter."},
    ]
    return {"title": str(issued["endorsement_no"]), "items": items}


def payment_states(config: KioskConfig) -> tuple[State, ...]:
    t, pay = config.timeouts, config.payment
    central_s = config.central.timeout_s

    def too_many(ctx: Context, event: Event) -> bool:
        return int(ctx["endorse"]["missed"]) + 1 >= pay.missed_polls

    def paying_view(ctx: Context) -> dict[str, Any]:
        order = _order(ctx)
        minutes = max(1, -(-int(order["expires_in_s"]) // 60))  # rounded up
        return message(
            "endorse.paying.title",
            ["endorse.paying.body", "endorse.paying.left"],
            values={"amount": order["amount_cny"], "minutes": minutes},
            # A payment link is a longer QR code than a photo number: smaller modules.
            image_png=qr_png(str(order["pay_url"]), box=8),
            progress="flow.take_cards",
            buttons=(("cancel", "endorse.paying.cancel", ""),),
        )

    def done_view(ctx: Context) -> dict[str, Any]:
        slip = "endorse.done.slip" if ctx["endorse"].get("slip") else "endorse.done.no_slip"
        return message(
            "endorse.done.title",
            ["endorse.done.valid", "endorse.done.record", slip],
            tone="ok" if ctx["endorse"].get("slip") else "warn",
            values=dict(ctx["endorse"]["issued"]),
            code=ctx["endorse"]["issued"]["endorsement_no"],
            progress="flow.take_cards",
            buttons=FINISH,
        )

    def print_slip(ctx: Context, event: Event) -> list[Command]:
        return [Call("printer", "print", {"receipt": _slip(config, ctx)}, reply="endorse.print")]

    def slip_printed(ctx: Context, event: Event) -> list[Command]:
        ctx["endorse"]["slip"] = True
        return []

    unconfirmed = _unconfirmed_alert
    return (
        State(
            "endorse_ordering",
            "message",
            (
                Transition("endorse.order.ok", "endorse_paying", _ordered),
                Transition("endorse.order.failed", "endorse_pay_unavailable"),
                Transition(TIMEOUT, "endorse_pay_unavailable"),
                _STAY,
            ),
            timeout=lambda ctx: central_s * 2,
            on_enter=_ask_order,
            view=lambda ctx: message("endorse.ordering"),
        ),
        State(
            "endorse_paying",
            "message",
            (
                Transition(TIMEOUT, "endorse_pay_check"),
                Transition("cancel", "endorse_cancelling"),
                Transition("home", "endorse_cancelling", label="home: cancel the order"),
            ),
            timeout=lambda ctx: pay.poll_s,
            view=paying_view,
        ),
        State(
            "endorse_pay_check",
            "message",
            (
                Transition("endorse.payment.ok", "endorse_issuing", guard=_paid),
                Transition("endorse.payment.ok", "endorse_paying", _answered, _unpaid),
                Transition("endorse.payment.ok", "endorse_expired", label="expired"),
                Transition("endorse.payment.failed", "endorse_unconfirmed", unconfirmed, too_many),
                Transition("endorse.payment.failed", "endorse_paying", _missed),
                Transition(TIMEOUT, "endorse_unconfirmed", unconfirmed, too_many),
                Transition(TIMEOUT, "endorse_paying", _missed),
                Transition("cancel", "endorse_cancelling"),
                Transition("home", "endorse_cancelling", label="home: cancel the order"),
            ),
            timeout=lambda ctx: central_s * 2,
            on_enter=_poll,
            view=paying_view,
        ),
        State(
            "endorse_cancelling",
            "message",
            (
                Transition("endorse.cancel.ok", "endorse_issuing", guard=_paid),
                Transition("endorse.cancel.ok", "endorse_cancelled"),
                Transition("endorse.cancel.failed", "endorse_unconfirmed", unconfirmed),
                Transition(TIMEOUT, "endorse_unconfirmed", unconfirmed),
                _STAY,
            ),
            timeout=lambda ctx: central_s * 2,
            on_enter=_cancel,
            view=lambda ctx: message("endorse.cancelling"),
        ),
        State(
            "endorse_issuing",
            "message",
            (
                Transition("endorse.issue.ok", "endorse_printing", _issued),
                Transition("endorse.issue.failed", "endorse_refunded", _refund_alert, _refunded),
                Transition("endorse.issue.failed", "endorse_unconfirmed", unconfirmed),
                Transition(TIMEOUT, "endorse_unconfirmed", unconfirmed),
                _STAY,
            ),
            # The issue, and a refund if central refuses it: two requests.
            timeout=lambda ctx: central_s * 3,
            on_enter=_issue,
            view=lambda ctx: message("endorse.issuing"),
        ),
        State(
            "endorse_printing",
            "message",
            (
                Transition("endorse.print.ok", "endorse_done", slip_printed),
                Transition("endorse.print.failed", "endorse_done", _slip_alert),
                Transition(TIMEOUT, "endorse_done", _slip_alert),
                _STAY,
            ),
            timeout=lambda ctx: t.device_s,
            on_enter=print_slip,
            view=lambda ctx: message("endorse.printing"),
        ),
        closing_state("endorse_done", done_view, t.message_s * 4),
        *_money_outcomes(t.message_s * 4),
    )


def _money_outcomes(seconds: float) -> tuple[State, ...]:
    """The last screens of a payment that did not end in an endorsement: each says what
    happened to the money."""

    def last(name: str, title: str, body: list[str], tone: str = "warn") -> State:
        def view(ctx: Context) -> dict[str, Any]:
            amount = ctx["endorse"].get("order", {}).get("amount_cny", "")
            return message(
                title,
                body,
                tone=tone,
                values={"amount": amount},
                progress="flow.take_cards",
                buttons=FINISH,
            )

        return closing_state(name, view, seconds)

    return (
        last(
            "endorse_pay_unavailable",
            "endorse.pay_unavailable.title",
            ["endorse.nothing_charged", "endorse.pay_unavailable.body"],
        ),
        last("endorse_cancelled", "endorse.cancelled.title", ["endorse.nothing_charged"], "info"),
        last(
            "endorse_expired", "endorse.expired.title", ["endorse.nothing_charged", "endorse.again"]
        ),
        last("endorse_unconfirmed", "endorse.unconfirmed.title", ["endorse.unconfirmed.body"]),
        last("endorse_refunded", "endorse.refunded.title", ["endorse.refunded.body"]),
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
        ServiceFlow(
            "endorse",
            "endorse_identify",
            endorse_states(config),
            icon="stamp",
            finishing=FINISHING,
            needs_central=True,
        ),
        ServiceFlow(
            "query", "query_identify", query_states(config), icon="search", needs_central=True
        ),
    )


SERVICE_BUILDERS[TerminalType.RENEWAL].append(build)
