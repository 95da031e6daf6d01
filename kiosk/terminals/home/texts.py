"""The texts of every terminal's shell: header, attract loop, menu, 'still there?', out of
service, the ID card steps and the answers when central cannot help."""

from __future__ import annotations

from kiosk.core.i18n import Catalogue

TEXTS = Catalogue(
    {
        "app.title": ("出入境自助服务", "Exit-Entry Self-Service"),
        "app.touch_to_start": ("请触摸屏幕开始", "Touch the screen to start"),
        "app.language": ("English", "中文"),
        "app.back": ("返回", "Back"),
        "app.cancel": ("取消", "Cancel"),
        "app.call_staff": ("呼叫工作人员", "Call staff"),
        "app.large_text": ("大字", "Large text"),
        "app.normal_text": ("标准字", "Normal text"),
        "app.staff_called": ("已通知工作人员，请稍候", "Staff have been called, please wait"),
        "app.more_time": (
            "已为您延长每一步的操作时间；需要更大的字，请按右上角“大字”",
            "You have more time for each step. For larger text, press 'Large text' at the top",
        ),
        "app.kiosk_id": ("终端 {kiosk_id}", "Kiosk {kiosk_id}"),
        "app.offline_long": ("⚠ 断网超过 {hours} 小时", "⚠ Offline > {hours} h"),
        "attract.slide.help.title": ("需要帮助？", "Need help?"),
        "attract.slide.help.body": (
            "任何时候都可以按“呼叫工作人员”\n字太小？请按右上角“大字”",
            "Press 'Call staff' at any time\nText too small? Press 'Large text' at the top",
        ),
        "menu.title": ("请选择要办理的业务", "Please choose a service"),
        "menu.central_down": (
            "暂时无法连接出入境管理系统，标有“暂停办理”的业务请稍后再试，或到人工窗口办理。",
            "The exit-entry system is not answering right now. Services marked 'paused' cannot be "
            "used: please try again later or go to a counter.",
        ),
        "menu.paused": ("暂停办理", "Paused"),
        "idle.title": ("您还在吗？", "Are you still there?"),
        "idle.body": (
            "{seconds} 秒后将结束本次服务并清除您的信息",
            "Your session ends and your data is cleared in {seconds} s",
        ),
        "idle.continue": ("继续办理", "Continue"),
        "idle.end": ("结束服务", "End session"),
        "oos.title": ("暂停服务", "Out of service"),
        "oos.body": (
            "本机暂时无法办理业务，请到其他自助机或人工窗口办理。",
            "This machine cannot serve you right now. Please use another machine or a counter.",
        ),
        "oos.reason": ("原因：{reason}", "Reason: {reason}"),
        "oos.config": (
            "本机配置有误，已通知工作人员",
            "Configuration error - staff have been told",
        ),
        "oos.device": (
            "{device}{fault}，已通知工作人员",
            "{device}: {fault} - staff have been told",
        ),
        "oos.queue": ("数据存储空间不足", "Transaction storage is full"),
        "oos.staff": ("本机正在维护", "This machine is being serviced"),
        "identify.title": ("请将身份证放在读卡区", "Place your ID card on the reader"),
        "identify.body": (
            "请放在机身标有“身份证”的读卡区。身份证仅用于核对身份，办理结束后数据即被清除。",
            "Use the reader marked 'ID card' on the machine. Your card is only used to check who "
            "you are; its data is erased when you finish.",
        ),
        "identify.read": ("已放好，开始读取", "It is on the reader"),
        "identify.reading": (
            "正在读取身份证，请勿移动…",
            "Reading your ID card, please hold still…",
        ),
        "identify.slow": (
            "读卡比平时慢，请让身份证平放在读卡区，不要移动",
            "Reading takes longer than usual: keep the card flat on the reader",
        ),
        "identify.failed.title": ("身份证读取失败", "The ID card could not be read"),
        "identify.failed.body": (
            "请取下身份证，擦拭后重新放置；多次失败请呼叫工作人员或到窗口办理。",
            "Lift the card, wipe it and place it again. If it keeps failing, call staff or go to "
            "the counter.",
        ),
        "identify.retry": ("重新读取", "Try again"),
        "flow.finish": ("结束", "Finish"),
        "progress.step": ("步骤 {step}/{steps}  {name}", "Step {step} of {steps}: {name}"),
        "progress.next": ("下一步：{name}", "Next: {name}"),
        "progress.last": ("最后一步", "Last step"),
        "art.idcard": ("身份证读卡区", "ID card reader"),
        "art.idcard_take": ("取回身份证", "Take your ID card"),
        "art.permit": ("通行证插口", "Permit slot"),
        "art.permit_take": ("取回通行证", "Take your permit"),
        "art.document": ("出证口", "Document exit"),
        "art.receipt": ("凭条出口", "Receipt slot"),
        "art.camera": ("摄像头", "Camera"),
        "art.phone_pay": ("手机扫码缴费", "Pay with your phone"),
        "art.qr_scan": ("扫码区", "Code scanner"),
        "art.staff": ("呼叫工作人员", "Call staff"),
        "stage.identify": ("核验身份", "Your ID card"),
        "stage.face": ("人脸核验", "Face check"),
        "stage.receipt": ("取凭条", "Take the receipt"),
        "central.slow": (
            "出入境管理系统回复较慢，请稍候；本机会一直等到它回复",
            "The exit-entry system is slow to answer: the machine keeps waiting for it",
        ),
        "receipt.slow": (
            "打印机比平时慢，请稍候，凭条会从“凭条出口”送出",
            "The printer is slower than usual: the receipt comes out of the receipt slot",
        ),
        "flow.take_card": ("请取回您的身份证", "Remember to take your ID card"),
        "central.down.title": (
            "暂时无法连接出入境管理系统",
            "The exit-entry system cannot be reached",
        ),
        "central.down.body": (
            "本机现在无法查询您的信息，请到服务窗口办理，工作人员会为您处理。本次没有办理任何业务"
            "，也没有收取任何费用。",
            "This machine cannot look up your records right now. Please go to the counter, where "
            "staff will help you. Nothing was done and nothing was charged.",
        ),
        "central.unknown.title": ("未查到您的办证记录", "No records found for you"),
        "central.unknown.body": (
            "出入境管理系统中没有与您身份证对应的记录。请携带身份证到服务窗口咨询。",
            "The exit-entry system holds no records for this ID card. Please ask at the counter "
            "and bring your ID card.",
        ),
    },
    # f"attract.slide.{slide}.title" / ".body": each terminal names its own slides;
    # f"service.{key}" / ".hint": the menu names each terminal's services (their own texts).
    # f"art.{picture}": the caption of a part's picture (kiosk.core.views.Picture).
    families=("attract.slide", "service", "art"),
)
