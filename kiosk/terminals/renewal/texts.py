"""The renewal terminal's texts, with the tables its choices and its payment slip are named
from (refusal reasons and their next steps, regions, purposes, trips, validity options)."""

from __future__ import annotations

from devices.icao.pa import REASONS as PA_REASONS
from kiosk.core.i18n import Catalogue, Pair

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
VALIDITY: dict[str, Pair] = {
    code: (f"{zh} · {{fee}} 元", f"{en} · {{fee}} CNY") if code.startswith("multi") else (zh, en)
    for code, (zh, en) in OPTION_NAMES.items()
}


# The permit in the card module (a machine with a [devices.rewriter]): why it was not
# endorsed or reprinted, and what to do.
CARD_FAILED: dict[str, tuple[Pair, Pair]] = {
    "no_card": (
        ("没有放入通行证", "No permit was inserted"),
        (
            "本机没有收到您的通行证。",
            "The machine did not receive your permit.",
        ),
    ),
    "card_refused": (
        ("这张卡不能使用", "This card cannot be used"),
        (
            "放入的卡不是刚才读取的通行证，或卡片已损坏。请取回卡片，携带通行证到窗口办理。",
            "The card is not the permit read before, or it is damaged. Take the card back and "
            "bring your permit to the counter.",
        ),
    ),
    "card_jam": (
        ("卡片被卡住，请呼叫工作人员", "The card is stuck - please call staff"),
        (
            "请不要离开，也不要拉拽卡片。已通知工作人员，他们会取出您的通行证。",
            "Please stay here and do not pull at the card. Staff have been told and will take "
            "your permit out.",
        ),
    ),
    "chip_failed": (
        ("签注未能写入芯片", "The endorsement could not be written to the chip"),
        (
            "通行证芯片未能写入签注，芯片中原有内容未受影响。请携带通行证到窗口办理。",
            "The permit's chip did not take the endorsement; what it held before is unchanged. "
            "Please bring your permit to the counter.",
        ),
    ),
    "no_endorsement": (
        ("芯片中没有签注", "No endorsement on the chip"),
        (
            "您的通行证芯片中没有签注记录，无法补打。请到窗口咨询。",
            "Your permit's chip holds no endorsement to print. Please ask at the counter.",
        ),
    ),
    "record_invalid": (
        ("签注记录未能核实", "The endorsement could not be verified"),
        (
            "芯片中的签注与出入境系统的记录不符，无法补打。请携带通行证到窗口核查。",
            "The endorsement on the chip does not match the exit-entry system's record. "
            "Please bring your permit to the counter.",
        ),
    ),
    "other": (
        ("通行证未能处理", "Your permit could not be processed"),
        ("请取回卡片，到窗口办理。", "Please take your card back and go to the counter."),
    ),
}
CARD_STEPS: dict[str, Pair] = {
    "authorising": (
        "{authorising} 出入境系统授权",
        "{authorising} Authorised by the exit-entry system",
    ),
    "writing": ("{writing} 写入芯片", "{writing} Writing the chip"),
    "verifying": ("{verifying} 读回核对", "{verifying} Reading it back to check"),
    "printing": ("{printing} 打印证件背面", "{printing} Printing the back of the card"),
}

_STATIC: dict[str, Pair] = {
    "attract.slide.renewal.title": (
        "港澳台签注 两分钟办好",
        "Renew HK/Macau/Taiwan endorsements in 2 minutes",
    ),
    "attract.slide.renewal.body": (
        "携带身份证和往来港澳/台湾通行证，即可自助续签",
        "Bring your ID card and travel permit to renew by yourself",
    ),
    "service.endorse": ("港澳台自助签注", "Renew an endorsement"),
    "service.endorse.hint": ("往来港澳/台湾通行证续签", "HK/Macau or Taiwan travel permit"),
    "service.query": ("查询签注剩余次数", "Check remaining trips"),
    "service.reprint": ("补打签注", "Reprint my endorsement"),
    "service.reprint.hint": ("证件背面签注模糊？免费重打", "Faded back of your permit? Free"),
    "card.preparing": ("请稍候…", "One moment…"),
    "card.insert.title": ("请插入通行证", "Insert your permit into the slot"),
    "card.insert.body": (
        "已收到您的付款。请将往来港澳通行证插入下方卡口，本机将把签注写入芯片并打印在证件背面。",
        "Your payment is received. Insert your travel permit into the slot below: the machine "
        "writes the endorsement onto its chip and prints it on the back.",
    ),
    "card.insert.how": (
        "照片面朝上，芯片一端先插入。",
        "Photo side up, chip end first.",
    ),
    "card.insert.left": (
        "如不插卡，将自动取消并全额退款。",
        "If no card is inserted, this is cancelled and nothing is kept.",
    ),
    "card.insert.cancel": ("取消", "Cancel"),
    "card.reversed.body": (
        "卡片方向不对，已退回。请取出后重新插入。",
        "The card was the wrong way round and came back. Take it and insert it again.",
    ),
    "card.cancelling": ("正在取消…", "Cancelling…"),
    "card.writing.title": (
        "正在写入签注，请勿取卡",
        "Writing your endorsement - do not remove the card",
    ),
    "card.writing.body": (
        "通行证在机器内，完成后会自动退出，大约需要 20 秒。",
        "Your permit is inside the machine and comes back by itself in about 20 seconds.",
    ),
    "card.writing.keep": (
        "请不要拉拽卡片。",
        "Please do not pull at the card.",
    ),
    "card.take.title": ("请取回通行证", "Take your permit"),
    "card.take.body": (
        "签注已写入芯片并打印在证件背面。请从卡口取回您的通行证。",
        "The endorsement is on the chip and printed on the back. Take your permit from the slot.",
    ),
    "card.take.left": (
        "未及时取走的证件将被机器收回，请到窗口领取。",
        "A permit not taken in time is kept by the machine; collect it at the counter.",
    ),
    "card.refunded": (
        "您支付的 {amount} 元将原路全额退回，无需另行申请。",
        "The {amount} CNY you paid goes back to where it came from; you need do nothing.",
    ),
    "card.captured": (
        "您的通行证未被及时取走，已由机器收回，请凭身份证到窗口领取。",
        "Your permit was not taken in time and is kept in the machine: collect it at the "
        "counter with your ID card.",
    ),
    "endorse.done.card": (
        "签注已写入通行证芯片，并打印在证件背面。",
        "It is on your permit's chip and printed on the back of the card.",
    ),
    "endorse.done.card_unprinted": (
        "签注已写入通行证芯片，但证件背面未能打印。已通知工作人员；您可使用“补打签注”免费补打。",
        "It is on your permit's chip, but the back could not be printed. Staff have been "
        'told; use "Reprint my endorsement" to print it, free.',
    ),
    "reprint.checking": ("正在查询您的通行证…", "Looking up your permit…"),
    "reprint.insert.title": ("请插入需要补打的通行证", "Insert the permit to reprint"),
    "reprint.printing.title": ("正在重新打印签注…", "Printing your endorsement again…"),
    "reprint.done.title": ("签注已重新打印", "Your endorsement is printed again"),
    "reprint.done.body": (
        "已按芯片中经核实的签注重新打印证件背面。请取回通行证。",
        "The back shows again the endorsement on the chip, as verified. Take your permit.",
    ),
    "reprint.done.valid": ("签注有效期至 {valid_until}。", "Valid until {valid_until}."),
    "reprint.done.expired": (
        "注意：该签注已于 {valid_until} 过期，如需出行请办理新的签注。",
        "Note: this endorsement expired on {valid_until}; renew it before you travel.",
    ),
    "reprint.free": ("补打签注不收取费用。", "Reprinting is free of charge."),
    "service.query.hint": ("查询已有签注的有效期和次数", "Validity and trips of your endorsement"),
    "flow.take_cards": (
        "请取回您的身份证和通行证",
        "Remember to take your ID card and your permit",
    ),
    "endorse.checking": ("正在查询您的签注办理条件…", "Checking whether you can renew here…"),
    "endorse.refused.title": ("您暂不能在本机办理签注", "You cannot renew at this machine"),
    "endorse.refused.next": ("下一步：", "What to do next:"),
    "endorse.permit.title": ("请将通行证放在证件阅读区", "Place your travel permit on the reader"),
    "endorse.permit.body": (
        "请将卡式通行证平放在机身标有“证件”的阅读区，读取完成前不要移动。",
        "Lay your card-type permit flat on the reader marked 'Document' and keep it there until "
        "reading is finished.",
    ),
    "endorse.chip.reading": (
        "正在读取通行证芯片，请勿移动…",
        "Reading the permit chip, keep it still…",
    ),
    "endorse.chip.failed.title": ("通行证芯片读取失败", "The permit chip could not be read"),
    "endorse.chip.failed.body": (
        "请确认放置的是本人的卡式通行证，平放后重试；仍然失败请到窗口办理。",
        "Check that it is your own card-type permit and lay it flat, then try again. If it still "
        "fails, please go to the counter.",
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
        "请用微信、支付宝或银行App扫码缴费，在手机上确认之前不会扣款。本机不开具发票，如需发票请凭"
        "缴费凭条到窗口开具。",
        "Pay by scanning a code with WeChat, Alipay or your bank's app: nothing is charged until "
        "you confirm on your phone. This machine gives no invoice; bring the payment slip to the "
        "counter for one.",
    ),
    "endorse.pay": ("扫码缴费", "Pay by phone"),
    "endorse.ordering": ("正在生成缴费二维码…", "Preparing your payment code…"),
    "endorse.paying.title": ("请扫码支付 {amount} 元", "Scan to pay {amount} CNY"),
    "endorse.paying.body": (
        "打开微信、支付宝或银行App扫描下方二维码，并在手机上确认支付。付款后本机自动继续，请不要离"
        "开。",
        "Open WeChat, Alipay or your bank's app, scan the code below and confirm on your phone. "
        "The machine goes on by itself once you have paid - please stay here.",
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
    "endorse.again": ("如仍需办理，请重新开始。", "Start again if you still want to renew."),
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
        "如果您已付款：系统恢复后，若签注已办理则有效，否则款项将自动原路退回。稍后可用“查询签注剩"
        "余次数”查看结果。已通知工作人员，如有疑问请联系工作人员。",
        "If you have paid: once the system answers, either the endorsement stands or the payment "
        "goes back to where it came from, automatically. Use 'Check remaining trips' later to see "
        "which. Staff have been told; ask them if in doubt.",
    ),
    "endorse.issuing": ("已收到付款，正在办理签注…", "Payment received. Issuing your endorsement…"),
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
        "The payment slip could not be printed; the endorsement is on record. Staff have been "
        "told; the counter can print the slip.",
    ),
    "endorse.refunded.title": ("签注未能办理，已退款", "Not issued - your payment is refunded"),
    "endorse.refunded.body": (
        "出入境系统未能办理该签注，您支付的 {amount} 元将原路退回。请到窗口咨询。",
        "The exit-entry system could not issue this endorsement; the {amount} CNY you paid goes "
        "back to where it came from. Please ask at the counter.",
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

TEXTS = Catalogue(
    {
        "endorse.stage.permit": ("读取通行证", "Your permit"),
        "endorse.stage.choose": ("选择签注", "Choose the endorsement"),
        "endorse.stage.pay": ("扫码缴费", "Pay by phone"),
        "endorse.stage.issue": ("签发", "Issue"),
        "reprint.stage.print": ("重新打印签注", "Print it again"),
        "query.stage.look": ("查询结果", "The answer"),
        "endorse.chip.slow": (
            "正在安全读取通行证芯片，需要多一点时间，请不要取出证件",
            "The permit's chip is read securely and this takes a little longer: leave it in",
        ),
        "endorse.ordering.slow": (
            "正在向缴费平台申请缴费二维码，请稍候",
            "The payment platform is preparing your payment code: one moment",
        ),
        **_STATIC,
        **{f"endorse.reason.{r}": why for r, (why, _) in REFUSALS.items()},
        **{f"endorse.next.{r}": step for r, (_, step) in REFUSALS.items()},
        **{f"region.{code}": names for code, names in REGIONS.items()},
        **{f"purpose.{code}": names for code, names in PURPOSES.items()},
        **{
            f"query.region.{c}": (f"赴{zh}签注", f"Endorsement for {en}")
            for c, (zh, en) in REGIONS.items()
        },
        **{f"trips.{code}": names for code, names in TRIPS.items()},
        **{f"option.{code}": names for code, names in VALIDITY.items()},
        **{f"chip.pa.{result.value}": reason for result, reason in PA_REASONS.items()},
        **{f"card.failed.{k}.title": title for k, (title, _) in CARD_FAILED.items()},
        **{f"card.failed.{k}.body": body for k, (_, body) in CARD_FAILED.items()},
        **{f"card.step.{step}": names for step, names in CARD_STEPS.items()},
    },
    families=(
        "endorse.reason",
        "endorse.next",
        "region",
        "purpose",
        "query.region",
        "query.trips",
        "trips",
        "option",
        "chip.pa",
        "card.failed",
        "card.step",
    ),
)
