"""The pickup terminal's texts."""

from __future__ import annotations

from kiosk.core.i18n import Catalogue

TEXTS = Catalogue(
    {
        "pickup.stage.confirm": ("确认证件", "Confirm the document"),
        "pickup.stage.take": ("取走证件", "Take the document"),
        "pickup.stage.address": ("确认邮寄地址", "Delivery address"),
        "pickup.stage.slip": ("登记邮寄并取回执", "Order it, take the slip"),
        "pickup.dispensing.slow": (
            "证件正从证件仓送到出证口，需要几秒钟",
            "The document is on its way from the store to the exit slot: a few seconds",
        ),
        "attract.slide.pickup.title": ("证件办好 自助领取", "Collect your finished documents here"),
        "attract.slide.pickup.body": (
            "刷身份证，无需排队，立等可取",
            "Place your ID card - no queue, no waiting",
        ),
        "service.pickup": ("自助领取证件", "Collect a document"),
        "service.pickup.hint": ("领取已办好的出入境证件", "Collect a finished document"),
        "pickup.kind.hk_macau_permit": (
            "往来港澳通行证",
            "Exit-entry permit for Hong Kong and Macau",
        ),
        "pickup.kind.taiwan_permit": ("往来台湾通行证", "Exit-entry permit for Taiwan"),
        "pickup.kind.passport": ("普通护照", "Passport"),
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
            "Your documents are in pickup machine {machines} and at the service counter. Collect "
            "them there with your ID card.",
        ),
        "pickup.done.elsewhere.machine": (
            "请取走领取凭条。您另有证件在领证机 {machines_zh}，请到该机领取。",
            "Take your receipt. Another document of yours is in pickup machine {machines}: "
            "collect it there.",
        ),
        "pickup.done.elsewhere.counter": (
            "请取走领取凭条。您另有证件存放在服务窗口，请凭身份证到窗口领取。",
            "Take your receipt. Another document of yours is kept at the service counter: collect "
            "it there with your ID card.",
        ),
        "pickup.done.elsewhere.both": (
            "请取走领取凭条。您另有证件在领证机 {machines_zh} 和服务窗口，请前往领取。",
            "Take your receipt. Other documents of yours are in pickup machine {machines} and at "
            "the service counter: collect them there.",
        ),
        "pickup.withheld.body": (
            "您有证件需要工作人员核对后才能领取。请凭身份证到服务窗口，工作人员会为您办理。",
            "One of your documents must be checked by staff before it can be handed out. Please "
            "go to the counter with your ID card.",
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
            "Check the name and photo on it. If it is not taken within {seconds} s it is pulled "
            "back in and kept safe.",
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
        # The on-screen keyboard (ui/screens/keyboard.py), where the address is typed.
        "keyboard.more": ("更多", "More"),
        "keyboard.latin": ("英文", "ABC"),
        "keyboard.pinyin": ("拼音", "Pinyin"),
        "keyboard.space": ("空格", "Space"),
        "keyboard.delete": ("删除", "Delete"),
        "keyboard.clear": ("清空", "Clear"),
        "keyboard.ok": ("确定", "OK"),
        # Free EMS delivery instead of pickup (kiosk.terminals.pickup.delivery).
        "pickup.deliver": ("免费邮寄给我", "Deliver it to me (free EMS)"),
        "pickup.delivery.address.title": ("邮寄到以下地址？", "Send it to this address?"),
        "pickup.delivery.address.body": (
            "证件将通过 EMS 免费邮寄，一般 3 个工作日内送达，签收时请出示身份证。",
            "The document goes by EMS, free of charge, usually within 3 working days; show "
            "your ID card when you sign for it.",
        ),
        "pickup.delivery.address.line": ("收件地址：{address}", "Address: {address}"),
        "pickup.delivery.address.none": (
            "没有您的登记地址，请输入收件地址。",
            "There is no address on record for you: please enter one.",
        ),
        "pickup.delivery.address.typed": (
            "请核对您输入的地址。",
            "Please check the address you typed.",
        ),
        "pickup.delivery.confirm": ("确认邮寄", "Send it here"),
        "pickup.delivery.other": ("改用其他地址", "Another address"),
        "pickup.delivery.enter": ("输入地址", "Enter an address"),
        "pickup.delivery.typing.title": ("请输入收件地址", "Enter the delivery address"),
        "pickup.delivery.typing.body": (
            "用拼音输入汉字：输入拼音，点选汉字；数字直接输入",
            "Type Chinese by pinyin and tap the character; digits as they are",
        ),
        "pickup.delivery.typing.short": (
            "地址太短，请写明省、市、区、街道和门牌号。",
            "That address is too short: give the province, city, district, street and number.",
        ),
        "pickup.delivery.ordering": ("正在登记邮寄…", "Recording the delivery…"),
        "pickup.delivery.printing": ("正在打印邮寄回执…", "Printing your delivery slip…"),
        "pickup.delivery.done.title": ("已登记免费邮寄", "Free delivery recorded"),
        "pickup.delivery.done.body": (
            "您的证件将通过 EMS 寄出，请凭邮寄单号查询。证件不会从本机取出。",
            "Your document will be sent by EMS; follow it with the order number. It will not "
            "come out of this machine.",
        ),
        "pickup.delivery.done.no_receipt": (
            "凭条未能打印，请记下邮寄单号或拍下二维码。",
            "The slip could not be printed: note the order number or photograph the QR code.",
        ),
        "pickup.delivery.next": ("下一份证件", "Next document"),
        "pickup.delivery.failed.title": ("未能登记邮寄", "The delivery could not be recorded"),
        "pickup.delivery.failed.body": (
            "您的证件仍在本机。请改为现场领取，或到服务窗口办理邮寄。",
            "Your document is still in this machine. Collect it now, or ask for delivery at "
            "the counter.",
        ),
    },
    # f"pickup.kind.{kind}"; f"pickup.elsewhere.{where}"; f"pickup.done.elsewhere.{where}"
    families=("pickup.kind", "pickup.elsewhere", "pickup.done.elsewhere"),
)
