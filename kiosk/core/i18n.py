"""Every string a citizen or staff member sees, in Chinese (default) and English.

Screens look texts up by key; a test checks that every key has both languages and that every
key a screen uses exists here. Placeholders use ``str.format`` names.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("zh", "en")

MESSAGES: dict[str, tuple[str, str]] = {
    # shell
    "app.title": ("出入境自助服务", "Exit-Entry Self-Service"),
    "app.touch_to_start": ("请触摸屏幕开始", "Touch the screen to start"),
    "app.language": ("English", "中文"),
    "app.home": ("返回首页", "Home"),
    "app.back": ("返回", "Back"),
    "app.cancel": ("取消", "Cancel"),
    "app.call_staff": ("呼叫工作人员", "Call staff"),
    # The text-size button names what pressing it gives (as the language button does).
    "app.large_text": ("大字", "Large text"),
    "app.normal_text": ("标准字", "Normal text"),
    "app.staff_called": ("已通知工作人员，请稍候", "Staff have been called, please wait"),
    "app.more_time": (
        "已为您延长每一步的操作时间；需要更大的字，请按右上角“大字”",
        "You have more time for each step. For larger text, press 'Large text' at the top",
    ),
    "app.kiosk_id": ("终端 {kiosk_id}", "Kiosk {kiosk_id}"),
    "app.offline_long": ("⚠ 断网超过 {hours} 小时", "⚠ Offline > {hours} h"),
    "app.free_24h": ("24小时自助服务 · 免费拍照", "Self-service 24 hours · Free photos"),
    # attract loop slides
    "attract.slide.renewal.title": (
        "港澳台签注 两分钟办好",
        "Renew HK/Macau/Taiwan endorsements in 2 minutes",
    ),
    "attract.slide.renewal.body": (
        "携带身份证和往来港澳/台湾通行证，即可自助续签",
        "Bring your ID card and travel permit to renew by yourself",
    ),
    "attract.slide.photo.title": ("免费拍摄出入境证件照", "Free photos for exit-entry documents"),
    "attract.slide.photo.body": (
        "不满意可以免费重拍，直到满意为止",
        "Retake for free as many times as you like",
    ),
    "attract.slide.pickup.title": ("证件办好 自助领取", "Collect your finished documents here"),
    "attract.slide.pickup.body": (
        "刷身份证，无需排队，立等可取",
        "Place your ID card - no queue, no waiting",
    ),
    "attract.slide.help.title": ("需要帮助？", "Need help?"),
    "attract.slide.help.body": (
        "任何时候都可以按“呼叫工作人员”\n字太小？请按右上角“大字”",
        "Press 'Call staff' at any time\nText too small? Press 'Large text' at the top",
    ),
    # menu
    "menu.title": ("请选择要办理的业务", "Please choose a service"),
    "menu.central_down": (
        "暂时无法连接出入境管理系统，标有“暂停办理”的业务请稍后再试，或到人工窗口办理。",
        "The exit-entry system is not answering right now. Services marked 'paused' cannot "
        "be used: please try again later or go to a counter.",
    ),
    "menu.paused": ("暂停办理", "Paused"),
    "service.endorse": ("港澳台自助签注", "Renew an endorsement"),
    "service.endorse.hint": ("往来港澳/台湾通行证续签", "HK/Macau or Taiwan travel permit"),
    "service.query": ("查询签注剩余次数", "Check remaining trips"),
    "service.query.hint": ("查询已有签注的有效期和次数", "Validity and trips of your endorsement"),
    "service.photo": ("拍摄出入境证件照", "Take an ID photo"),
    "service.photo.hint": ("免费拍摄，可反复重拍", "Free, retake until satisfied"),
    "service.pickup": ("自助领取证件", "Collect a document"),
    "service.pickup.hint": ("领取已办好的出入境证件", "Collect a finished document"),
    # still there
    "idle.title": ("您还在吗？", "Are you still there?"),
    "idle.body": (
        "{seconds} 秒后将结束本次服务并清除您的信息",
        "Your session ends and your data is cleared in {seconds} s",
    ),
    "idle.continue": ("继续办理", "Continue"),
    "idle.end": ("结束服务", "End session"),
    # out of service
    "oos.title": ("暂停服务", "Out of service"),
    "oos.body": (
        "本机暂时无法办理业务，请到其他自助机或人工窗口办理。",
        "This machine cannot serve you right now. Please use another machine or a counter.",
    ),
    "oos.reason": ("原因：{reason}", "Reason: {reason}"),
    "oos.config": ("本机配置有误，已通知工作人员", "Configuration error - staff have been told"),
    "oos.device": ("{device}故障，已通知工作人员", "{device} fault - staff have been told"),
    "oos.queue": ("数据存储空间不足", "Transaction storage is full"),
    "oos.staff": ("本机正在维护", "This machine is being serviced"),
    # staff mode (at the machine, behind the staff PIN)
    "staff.pin.title": ("工作人员登录", "Staff sign-in"),
    "staff.pin.body": ("请输入工作人员密码", "Enter the staff PIN"),
    "staff.number.body": ("请输入您的工号", "Enter your staff number"),
    "staff.pin.own_body": ("工号 {number}：请输入您的密码", "Staff {number}: enter your PIN"),
    "staff.line.who": ("登录工号：{staff_number}", "Signed in: staff {staff_number}"),
    "staff.pin.wrong": (
        "密码错误，还可以再试 {attempts_left} 次",
        "Wrong PIN: {attempts_left} more tries",
    ),
    "staff.pin.clear": ("清除", "Clear"),
    "staff.pin.ok": ("确定", "OK"),
    "staff.checking": ("正在验证…", "Checking…"),
    "staff.locked.title": ("工作人员登录已锁定", "Staff sign-in locked"),
    "staff.locked.body": (
        "密码错误次数过多，请 {minutes} 分钟后再试。已通知管理中心。",
        "Too many wrong PINs. Try again in {minutes} min. Central has been told.",
    ),
    "staff.title": ("维护模式", "Maintenance"),
    "staff.loading": ("正在读取本机状态…", "Reading the machine's status…"),
    "staff.line.central_up": ("中心系统：连接正常", "Central system: answering"),
    "staff.line.central_down": (
        "中心系统：无应答（自 {central_down_since} 起）",
        "Central system: NOT answering (since {central_down_since})",
    ),
    "staff.line.queue": (
        "待上传 {pending} 笔（最早 {oldest}），上传失败 {dead} 笔，未完成的操作 {open_actions} 项",
        "Waiting to send: {pending} (oldest {oldest}); failed: {dead}; unfinished actions: "
        "{open_actions}",
    ),
    "staff.line.devices": ("设备：{devices}", "Devices: {devices}"),
    "staff.line.reconcile": (
        "待核对的证件 {to_reconcile} 份（已回收或交付情况不明：kiosk pickup withheld）",
        "Documents to reconcile: {to_reconcile} (captured, or hand-over unknown: "
        "kiosk pickup withheld)",
    ),
    "staff.line.alerts": (
        "待送达管理中心的提醒 {alerts} 条",
        "Alerts waiting for central: {alerts}",
    ),
    "staff.line.service_ok": ("服务状态：正常", "Service: in service"),
    "staff.line.service_down": (
        "服务状态：暂停（{out_of_service}）",
        "Service: OUT ({out_of_service})",
    ),
    "staff.devices.all_ok": ("{count} 台均正常", "all {count} OK"),
    "staff.devices.others_ok": ("其余正常", "the others OK"),
    "staff.cause.outbox": ("交易存储空间不足", "transaction storage full"),
    "staff.line.service_paused": (
        "服务状态：已由工作人员暂停",
        "Service: taken out of service by staff",
    ),
    "staff.sync": ("立即上传", "Send now"),
    "staff.sync.started": (
        "正在后台上传，稍后按“刷新”查看结果",
        "Sending in the background: press Refresh in a moment to see the result",
    ),
    "staff.redrive": ("重新上传失败的交易", "Send failed ones again"),
    "staff.redrive.started": (
        "失败的交易已重新排队上传，稍后按“刷新”查看结果",
        "The failed transactions are queued again: press Refresh in a moment to see the result",
    ),
    "staff.redrive.failed": (
        "未能重新排队：{detail}",
        "Could not queue them again: {detail}",
    ),
    "staff.refresh": ("刷新", "Refresh"),
    "staff.pause": ("暂停服务", "Out of service"),
    "staff.resume": ("恢复服务", "Back in service"),
    "staff.shutdown": ("关机", "Shut down"),
    "staff.test_print": ("打印测试页", "Test print"),
    "staff.test_print.printing": ("正在打印测试页…", "Printing a test receipt…"),
    "staff.test_print.ok": ("测试页已打印，请检查打印效果", "Test receipt printed: check it"),
    "staff.test_print.failed": ("测试页未能打印：{detail}", "Test receipt not printed: {detail}"),
    "staff.shutdown_confirm": ("再按一次关机", "Press again to shut down"),
    "staff.exit": ("退出维护", "Exit"),
    # device names
    "device.idcard": ("身份证阅读器", "ID card reader"),
    "device.chip": ("证件芯片阅读器", "Document chip reader"),
    "device.printer": ("凭条打印机", "Receipt printer"),
    "device.dispenser": ("证件发卡机", "Document dispenser"),
    "device.camera": ("摄像头", "Camera"),
    # goodbye
    "goodbye.title": ("感谢使用", "Thank you"),
    "goodbye.body": ("请带好您的证件和凭条", "Please take your card and receipt"),
}


def text(key: str, language: str, **values: object) -> str:
    """The text for ``key`` in ``language`` (falls back to Chinese, then the key itself)."""
    pair = MESSAGES.get(key)
    if pair is None:
        return key
    template = pair[1] if language == "en" else pair[0]
    return template.format(**values) if values else template


def register(messages: Mapping[str, tuple[str, str]]) -> None:
    """Add a feature's messages; a duplicate key with a different text is a bug."""
    for key, pair in messages.items():
        if key in MESSAGES and MESSAGES[key] != pair:
            raise ValueError(f"message {key!r} registered twice with different texts")
        MESSAGES[key] = pair
