"""The pickup terminal: ID card -> documents ready for this person (central) -> confirm ->
dispense (journaled, see kiosk.terminals.pickup.service) -> take it, or it is captured -> receipt.

Documents come out one at a time; once one is moving the citizen cannot leave the step
(home is ignored) and an out-of-service switch waits until they have been told the outcome.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
from kiosk.terminals.home.flow import MENU, SERVICE_BUILDERS, ServiceFlow
from kiosk.terminals.home.identify import central_down_state, central_unknown_state, identify_states
from kiosk.terminals.home.steps import FINISH, closing_state, message, outcome_view

KINDS = {
    "hk_macau_permit": ("往来港澳通行证", "Exit-entry permit for Hong Kong and Macau"),
    "taiwan_permit": ("往来台湾通行证", "Exit-entry permit for Taiwan"),
    "passport": ("普通护照", "Passport"),
}

register({f"pickup.kind.{kind}": names for kind, names in KINDS.items()})
register(
    {
        "pickup.kind.other": ("出入境证件", "Exit-entry document"),
        "pickup.looking": ("正在查询您的证件…", "Looking for your documents…"),
        "pickup.none.title": ("本机没有您可领取的证件", "No document for you in this machine"),
        "pickup.none.body": (
            "您的证件可能尚未制作完成，或存放在其他地点。请凭身份证到服务窗口查询。",
            "Your document may not be ready yet or may be kept elsewhere. Please ask at the "
            "counter with your ID card.",
        ),
        "pickup.elsewhere.machine": (
            "您的证件存放在领证机 {machines_zh}，请到该机凭身份证领取。",
            "Your document is in pickup machine {machines}. Collect it there with your ID card.",
        ),
        "pickup.elsewhere.counter": (
            "您的证件存放在服务窗口，请凭身份证到窗口领取。",
            "Your document is kept at the service counter. Collect it there with your ID card.",
        ),
        "pickup.elsewhere.both": (
            "您的证件存放在领证机 {machines_zh} 和服务窗口，请凭身份证前往领取。",
            "Your documents are in pickup machine {machines} and at the service counter. "
            "Collect them there with your ID card.",
        ),
        "pickup.done.elsewhere.machine": (
            "请取走领取凭条。您另有证件在领证机 {machines_zh}，请到该机领取。",
            "Take your receipt. Another document of yours is in pickup machine {machines}: "
            "collect it there.",
        ),
        "pickup.done.elsewhere.counter": (
            "请取走领取凭条。您另有证件存放在服务窗口，请凭身份证到窗口领取。",
            "Take your receipt. Another document of yours is kept at the service counter: "
            "collect it there with your ID card.",
        ),
        "pickup.done.elsewhere.both": (
            "请取走领取凭条。您另有证件在领证机 {machines_zh} 和服务窗口，请前往领取。",
            "Take your receipt. Other documents of yours are in pickup machine {machines} and "
            "at the service counter: collect them there.",
        ),
        "pickup.withheld.body": (
            "您有证件需要工作人员核对后才能领取。请凭身份证到服务窗口，工作人员会为您办理。",
            "One of your documents must be checked by staff before it can be handed out. "
            "Please go to the counter with your ID card.",
        ),
        "pickup.confirm.title": ("您的证件已办好", "Your document is ready"),
        "pickup.confirm.more": (
            "您共有 {count} 本证件可领取，将逐本送出。",
            "You have {count} documents; they come out one at a time.",
        ),
        "pickup.collect": ("领取证件", "Collect it now"),
        "pickup.dispensing": ("正在取出您的证件，请稍候…", "Fetching your document, please wait…"),
        "pickup.take.title": ("请从下方出证口取走证件", "Take your document from the slot below"),
        "pickup.take.body": (
            "请核对证件上的姓名和照片。{seconds} 秒内未取走，证件将被收回妥善保管。",
            "Check the name and photo on it. If it is not taken within {seconds} s it is "
            "pulled back in and kept safe.",
        ),
        "pickup.printing": ("正在打印领取凭条…", "Printing your receipt…"),
        "pickup.done.title": ("证件领取完成", "You have your document"),
        "pickup.done.body": (
            "请取走领取凭条，妥善保管您的证件。",
            "Take your receipt and keep your document safe.",
        ),
        "pickup.no_receipt.body": (
            "证件已领取并已记录，但凭条无法打印，已通知工作人员。",
            "The handover is recorded, but no receipt could be printed; staff have been told.",
        ),
        "pickup.retained.title": (
            "证件未被取走，已收回保管",
            "The document was not taken and is kept safe",
        ),
        "pickup.retained.body": (
            "为了安全，证件已收回机内。请凭身份证到服务窗口领取，工作人员会交给您。",
            "For safety it was pulled back into the machine. Please collect it at the counter "
            "with your ID card.",
        ),
        "pickup.failed.title": ("证件未能送出", "The document could not be handed out"),
        "pickup.failed.body": (
            "机器出现故障，已通知工作人员。请凭身份证到服务窗口领取证件，不会重复发放或丢失。",
            "The machine had a fault and staff have been told. Please collect your document at "
            "the counter with your ID card; it is neither lost nor handed out twice.",
        ),
    }
)


def _pickup(ctx: Context) -> dict[str, Any]:
    return dict(ctx["pickup"])


def _current(ctx: Context) -> dict[str, Any]:
    p = ctx["pickup"]
    return dict(p["documents"][p["next"]])


def _has_documents(ctx: Context, event: Event) -> bool:
    return bool(event.data.get("documents"))


def _unknown(ctx: Context, event: Event) -> bool:
    return event.data.get("known") is False


def _found(ctx: Context, event: Event) -> list[Command]:
    ctx["pickup"].update(
        documents=list(event.data.get("documents", [])),
        next=0,
        handed=[],
        withheld=int(event.data.get("withheld", 0)),
        elsewhere=list(event.data.get("elsewhere", [])),
    )
    return []


def elsewhere_body(ctx: Context, prefix: str) -> tuple[str, dict[str, Any]] | None:
    """The message key (``prefix`` + machine/counter/both) and values telling the citizen
    where their other documents wait, or None when this machine holds them all."""
    places = _pickup(ctx).get("elsewhere", [])
    machines = sorted({str(p["kiosk_id"]) for p in places if p.get("kiosk_id")})
    counter = any(not p.get("kiosk_id") for p in places)
    if not (machines or counter):
        return None
    where = "both" if machines and counter else "machine" if machines else "counter"
    # Each language lists machines its own way; a template uses its own placeholder.
    return f"{prefix}.{where}", {
        "machines": ", ".join(machines),
        "machines_zh": "、".join(machines),
    }


def _lookup(ctx: Context, event: Event) -> list[Command]:
    return [Call("central", "documents_ready", reply="pickup.lookup")]


def _is_taken(ctx: Context, event: Event) -> bool:
    return bool(event.data.get("taken"))


def _taken(ctx: Context, event: Event) -> list[Command]:
    p = ctx["pickup"]
    p["handed"].append(_current(ctx))
    p["next"] += 1
    return []


def _more(ctx: Context, event: Event) -> bool:
    p = ctx["pickup"]
    return bool(event.data.get("taken")) and p["next"] + 1 < len(p["documents"])


def _retained_alert(ctx: Context, event: Event) -> list[Command]:
    # No document number in an alert (it is kept in clear): the pickup.retained record
    # names it, and staff list withheld documents with `kiosk pickup withheld`.
    return [
        Alert(
            "pickup.retained",
            "a document was not taken and is in the capture bin (kiosk pickup withheld)",
        )
    ]


def _failed_alert(ctx: Context, event: Event) -> list[Command]:
    code = event.data.get("code", "timeout")
    return [Alert("pickup.dispense_failed", f"{event.name}: {code}")]


def _no_receipt(ctx: Context, event: Event) -> list[Command]:
    ctx["pickup"]["no_receipt"] = True
    return [Alert("printer.receipt_failed", "pickup recorded, receipt not printed")]


def kind_key(kind: str) -> str:
    return f"pickup.kind.{kind}" if kind in KINDS else "pickup.kind.other"


def receipt(config: KioskConfig, handed: list[dict[str, Any]], now: datetime) -> dict[str, Any]:
    """The pickup receipt as plain data for the printer service."""
    items: list[dict[str, Any]] = [
        {"text": "出入境证件领取凭条", "bold": True, "large": True, "align": "center"},
        {"text": "Exit-entry document pickup receipt", "align": "center"},
        {"feed": 1},
    ]
    for document in handed:
        zh, en = KINDS.get(document["kind"], ("出入境证件", "Exit-entry document"))
        items += [
            {"text": f"{zh} {en}", "bold": True},
            {"text": f"证件受理号 Document no.: {document['document_no']}"},
            {"code128": document["document_no"]},
        ]
    items += [
        {"text": f"时间 Time: {now:%Y-%m-%d %H:%M}"},
        {"text": f"地点 Place: {config.kiosk.place or config.kiosk.id}"},
        {"text": f"终端 Kiosk: {config.kiosk.id}"},
        {"feed": 1},
        {"text": "请妥善保管您的证件。"},
        {"text": "Keep your document safe."},
    ]
    return {"title": "pickup", "items": items}


def build(config: KioskConfig) -> tuple[ServiceFlow, ...]:
    t = config.timeouts
    dispenser = config.devices.dispenser
    take_s = dispenser.take_timeout_s if dispenser is not None else 30.0

    def print_receipt(ctx: Context, event: Event) -> list[Command]:
        spec = receipt(config, ctx["pickup"]["handed"], datetime.now())
        return [Call("printer", "print", {"receipt": spec}, reply="pickup.print")]

    def hand_over(ctx: Context, event: Event) -> list[Command]:
        args = {**_current(ctx), "timeout_s": take_s}
        return [Call("pickup", "hand_over", args, reply="pickup.handover")]

    def confirm_view(ctx: Context) -> dict[str, Any]:
        p, doc = _pickup(ctx), _current(ctx)
        left = len(p["documents"]) - p["next"]
        return message(
            "pickup.confirm.title",
            kind_key(doc["kind"]),
            tone="ok",
            code=doc["document_no"],
            progress="pickup.confirm.more" if left > 1 else None,
            values={"count": left},
            buttons=(("back", "app.cancel", ""), ("collect", "pickup.collect", "primary")),
        )

    def done_view(ctx: Context) -> dict[str, Any]:
        body, values = "pickup.done.body", dict[str, Any]()
        if _pickup(ctx).get("no_receipt"):
            body = "pickup.no_receipt.body"
        elif more := elsewhere_body(ctx, "pickup.done.elsewhere"):
            body, values = more
        return message(
            "pickup.done.title",
            body,
            tone="ok",
            values=values,
            progress="flow.take_card",
            buttons=FINISH,
        )

    def none_view(ctx: Context) -> dict[str, Any]:
        body, values = "pickup.none.body", dict[str, Any]()
        if _pickup(ctx).get("withheld"):
            body = "pickup.withheld.body"
        elif where := elsewhere_body(ctx, "pickup.elsewhere"):
            body, values = where
        return message(
            "pickup.none.title",
            body,
            tone="warn",
            values=values,
            progress="flow.take_card",
            buttons=FINISH,
        )

    stay = Transition("home", SAME, label="not while a document moves")
    # The handover's outcome (the service records it durably before it answers).
    outcome = (
        Transition("pickup.handover.ok", "pickup_confirm", _taken, _more, "next document"),
        Transition("pickup.handover.ok", "pickup_printing", _taken, _is_taken, "taken"),
        Transition("pickup.handover.ok", "pickup_retained", _retained_alert, label="captured"),
        Transition("pickup.handover.failed", "pickup_failed", action=_failed_alert),
    )
    states = (
        *identify_states(config, "pickup", "pickup_looking"),
        State(
            "pickup_looking",
            "message",
            (
                Transition("pickup.lookup.ok", "pickup_unknown", guard=_unknown, label="no record"),
                Transition("pickup.lookup.ok", "pickup_confirm", _found, _has_documents),
                Transition("pickup.lookup.ok", "pickup_none", action=_found),
                Transition("pickup.lookup.failed", "pickup_central_down"),
                Transition(TIMEOUT, "pickup_central_down"),
            ),
            timeout=lambda ctx: config.central.timeout_s * 2,
            on_enter=_lookup,
            view=lambda ctx: message("pickup.looking"),
        ),
        central_down_state(config, "pickup_central_down"),
        central_unknown_state(config, "pickup_unknown"),
        closing_state("pickup_none", none_view, t.message_s * 3),
        State(
            "pickup_confirm",
            "message",
            (Transition("collect", "pickup_dispensing"), Transition("back", MENU)),
            idle=True,
            view=confirm_view,
        ),
        State(
            "pickup_dispensing",
            "message",
            (
                Transition("pickup.at_gate", "pickup_take"),
                *outcome,
                Transition(TIMEOUT, "pickup_failed", action=_failed_alert),
                stay,
            ),
            timeout=lambda ctx: t.device_s + 5,
            on_enter=hand_over,
            view=lambda ctx: message("pickup.dispensing", code=_current(ctx)["document_no"]),
        ),
        State(
            "pickup_take",
            "message",
            (*outcome, Transition(TIMEOUT, "pickup_failed", action=_failed_alert), stay),
            timeout=lambda ctx: take_s + t.device_s + 5,
            view=lambda ctx: message(
                "pickup.take.title", "pickup.take.body", tone="ok", values={"seconds": int(take_s)}
            ),
        ),
        State(
            "pickup_printing",
            "message",
            (
                Transition("pickup.print.ok", "pickup_done"),
                Transition("pickup.print.failed", "pickup_done", action=_no_receipt),
                Transition(TIMEOUT, "pickup_done", action=_no_receipt),
                stay,
            ),
            timeout=lambda ctx: t.device_s,
            on_enter=print_receipt,
            view=lambda ctx: message("pickup.printing"),
        ),
        closing_state("pickup_done", done_view, t.message_s * 2),
        closing_state(
            "pickup_retained",
            outcome_view("pickup.retained.title", "pickup.retained.body", "warn"),
            t.message_s * 3,
        ),
        closing_state(
            "pickup_failed",
            outcome_view("pickup.failed.title", "pickup.failed.body", "error"),
            t.message_s * 3,
        ),
    )
    return (
        ServiceFlow(
            "pickup",
            "pickup_identify",
            states,
            icon="document",
            finishing=FINISHING,
            needs_central=True,
        ),
    )


# A document on the move, or a citizen being told where their document is, must not be cut
# off by an out-of-service switch: these states finish first.
FINISHING = (
    "pickup_dispensing",
    "pickup_take",
    "pickup_printing",
    "pickup_done",
    "pickup_retained",
    "pickup_failed",
)

SERVICE_BUILDERS[TerminalType.PICKUP].append(build)
