"""Everything the console shows in words, Chinese first and English: the page's labels and
plain words for the codes kiosks send (alerts, out-of-service causes, devices). A code with
no words of its own is shown by its family ("a device fault: printer"), never bare."""

from __future__ import annotations

from typing import Any

LANGUAGES = ("zh", "en")

# Labels of the page (the JavaScript renders with these; keys are the same in both).
LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "自助设备管理台",
        "fleet": "设备",
        "alerts": "告警",
        "round": "今日巡检携带清单",
        "history": "告警历史",
        "audit": "操作记录",
        "sign_out": "退出登录",
        "sign_in": "登录",
        "username": "用户名",
        "password": "密码",
        "bad_login": "用户名或密码不正确。",
        "locked": "登录失败次数过多，账号已暂时锁定，请稍后再试。",
        "https_only": "管理台只能通过 HTTPS 访问。",
        "machine": "设备",
        "hall": "大厅",
        "type": "类型",
        "state": "状态",
        "last_contact": "最近联系",
        "backlog": "待上传",
        "failed": "上传失败",
        "devices": "部件",
        "today": "今日办理",
        "consumables": "耗材",
        "actions": "远程操作",
        "in_service": "正常服务",
        "out_of_service": "暂停服务",
        "offline": "失去联系",
        "since": "自",
        "never": "从未",
        "ago_s": "{n} 秒前",
        "ago_m": "{n} 分钟前",
        "ago_h": "{n} 小时前",
        "ago_d": "{n} 天前",
        "photos": "照相",
        "renewals": "签注",
        "pickups": "取证",
        "paper": "凭条纸",
        "bin": "回收箱",
        "stock": "待取证件",
        "lines_left": "约剩 {n} 行",
        "places_left": "还能回收 {n} 张",
        "docs_left": "机内 {n} 份",
        "runs_out_in": "约 {t} 后用完",
        "fills_in": "约 {t} 后装满",
        "empties_in": "约 {t} 后取完",
        "no_history": "用量记录不足，暂无法预测",
        "paper_gone": "已用完",
        "bin_gone": "已装满",
        "stock_gone": "已取完",
        "not_used": "近期未使用",
        "hours": "{n} 小时",
        "days": "{n} 天",
        "minutes": "{n} 分钟",
        "act_out_of_service": "暂停服务",
        "act_in_service": "恢复服务",
        "act_send_now": "立即上传",
        "act_test_print": "打印测试页",
        "act_paper": "已换纸",
        "act_bin": "已清空回收箱",
        "confirm": "确定要对 {k} 执行“{a}”吗？",
        "cmd_waiting": "等待设备领取",
        "cmd_sent": "已发送，等待结果",
        "cmd_done": "已完成",
        "cmd_failed": "失败",
        "cmd_expired": "设备未领取，已过期",
        "ack": "确认",
        "ack_note": "处理说明（必填）",
        "acked_by": "{u} 已确认：{n}",
        "no_alerts": "没有待处理的告警。",
        "nothing_to_bring": "今天无需携带耗材。",
        "bring_paper": "凭条纸 {n} 卷",
        "bring_bins": "清空回收箱 {n} 处",
        "bring_stock": "补充待取证件 {n} 台",
        "lead_time": "提前预警（小时）",
        "save": "保存",
        "signed_in_as": "{u}（{r}）",
        "role_viewer": "只读",
        "role_operator": "值班员",
        "role_admin": "管理员",
        "updated": "更新于 {t}",
        "connection_lost": "与服务器的连接中断，正在重试…",
        "device_ok": "正常",
        "who": "人员",
        "when": "时间",
        "what": "操作",
        "result": "结果",
        "language": "English",
        "terminal_photo": "照相机",
        "terminal_pickup": "取证机",
        "terminal_renewal": "签注机",
        "terminal_unknown": "未知",
    },
    "en": {
        "title": "Kiosk fleet console",
        "fleet": "Machines",
        "alerts": "Alerts",
        "round": "What to bring on today's round",
        "history": "Alert history",
        "audit": "Audit log",
        "sign_out": "Sign out",
        "sign_in": "Sign in",
        "username": "User name",
        "password": "Password",
        "bad_login": "Wrong user name or password.",
        "locked": "Too many failed sign-ins: the account is locked for a while. Try later.",
        "https_only": "The console answers over HTTPS only.",
        "machine": "Machine",
        "hall": "Hall",
        "type": "Type",
        "state": "State",
        "last_contact": "Last contact",
        "backlog": "To send",
        "failed": "Failed",
        "devices": "Devices",
        "today": "Today",
        "consumables": "Consumables",
        "actions": "Remote actions",
        "in_service": "In service",
        "out_of_service": "Out of service",
        "offline": "No contact",
        "since": "since",
        "never": "never",
        "ago_s": "{n} s ago",
        "ago_m": "{n} min ago",
        "ago_h": "{n} h ago",
        "ago_d": "{n} days ago",
        "photos": "photos",
        "renewals": "renewals",
        "pickups": "pickups",
        "paper": "Receipt paper",
        "bin": "Capture bin",
        "stock": "Documents",
        "lines_left": "about {n} lines left",
        "places_left": "room for {n} more",
        "docs_left": "{n} in the machine",
        "runs_out_in": "runs out in about {t}",
        "fills_in": "full in about {t}",
        "empties_in": "empty in about {t}",
        "no_history": "not enough usage history to forecast",
        "paper_gone": "out",
        "bin_gone": "full",
        "stock_gone": "empty",
        "not_used": "not used lately",
        "hours": "{n} h",
        "days": "{n} days",
        "minutes": "{n} min",
        "act_out_of_service": "Out of service",
        "act_in_service": "Back in service",
        "act_send_now": "Send now",
        "act_test_print": "Test print",
        "act_paper": "Paper changed",
        "act_bin": "Bin emptied",
        "confirm": "{a} on {k}?",
        "cmd_waiting": "waiting for the machine",
        "cmd_sent": "sent, waiting for the outcome",
        "cmd_done": "done",
        "cmd_failed": "failed",
        "cmd_expired": "never picked up: expired",
        "ack": "Acknowledge",
        "ack_note": "What was done (required)",
        "acked_by": "acknowledged by {u}: {n}",
        "no_alerts": "No open alerts.",
        "nothing_to_bring": "Nothing to bring today.",
        "bring_paper": "{n} paper roll(s)",
        "bring_bins": "empty {n} capture bin(s)",
        "bring_stock": "load documents into {n} machine(s)",
        "lead_time": "Warn ahead (hours)",
        "save": "Save",
        "signed_in_as": "{u} ({r})",
        "role_viewer": "viewer",
        "role_operator": "operator",
        "role_admin": "admin",
        "updated": "updated {t}",
        "connection_lost": "Lost the connection to the server, retrying…",
        "device_ok": "OK",
        "who": "Who",
        "when": "When",
        "what": "What",
        "result": "Result",
        "language": "中文",
        "terminal_photo": "Photo",
        "terminal_pickup": "Pickup",
        "terminal_renewal": "Renewal",
        "terminal_unknown": "unknown",
    },
}

# Staff alert codes in plain words (zh, en).
ALERTS: dict[str, tuple[str, str]] = {
    "citizen.help": ("有办事群众按了“呼叫工作人员”", "A citizen pressed “call staff”"),
    "outbox.full": ("交易存储已满，设备暂停服务", "Transaction store full: out of service"),
    "outbox.put_failed": ("一笔交易未能保存", "A transaction could not be stored"),
    "printer.receipt_failed": ("凭条打印失败", "A receipt did not print"),
    "printer.paper_near_end": ("凭条纸快用完了", "Receipt paper nearly out"),
    "dispenser.stacker_low": ("发证机待发证件不多了", "Dispenser stack running low"),
    "pickup.dispense_failed": ("发证未完成", "A document was not handed out"),
    "pickup.uncertain": ("发证中断，证件已暂扣待核对", "A hand-over was interrupted: held"),
    "pickup.retained": ("证件未被取走，已回收到回收箱", "A document not taken: captured"),
    "identity.unusable": ("人脸核验无法进行", "The face check could not be done"),
    "identity.locked": ("人脸核验多次失败，已锁定", "Face check failed repeatedly: locked"),
    "identity.failed": ("人脸核验未通过", "A face check failed"),
    "identity.camera": ("人脸核验摄像头故障", "The face-check camera failed"),
    "identity.assist": ("人脸核验需要工作人员协助", "A face check needs staff"),
    "identity.staff_confirmed": ("工作人员已人工核验身份", "Staff confirmed an identity"),
    "renewal.refunded": ("一笔签注费用已退款", "An endorsement fee was refunded"),
    "renewal.unconfirmed": ("一笔签注结果待核实", "An endorsement awaits confirmation"),
    "staff.sign_in": ("工作人员登录了设备", "Staff signed in at the machine"),
    "staff.pin_locked": ("设备上的工作人员密码多次错误，已锁定", "Staff PIN locked at the machine"),
    "staff.key": ("设备的工作人员登录不可用", "Staff sign-in unavailable at the machine"),
    "staff.gate_record": ("工作人员登录记录无法读取", "Staff sign-in record unreadable"),
    "queue.offline_too_long": ("设备长时间无法联网", "The machine has been offline too long"),
}
# Families: the code's first part (or its last, for device faults).
FAMILIES: dict[str, tuple[str, str]] = {
    "fault": ("部件故障：{d}", "Device fault: {d}"),
    "staff": ("工作人员在设备上的操作", "Staff action at the machine"),
    "queue": ("交易上传问题", "A problem sending transactions"),
    "identity": ("身份核验问题", "An identity check problem"),
    "pickup": ("取证问题", "A pickup problem"),
    "renewal": ("签注问题", "A renewal problem"),
    "outbox": ("交易存储问题", "A transaction store problem"),
}
DEVICES: dict[str, tuple[str, str]] = {
    "idcard": ("身份证阅读器", "ID card reader"),
    "chip": ("证件芯片阅读器", "permit chip reader"),
    "printer": ("凭条打印机", "receipt printer"),
    "dispenser": ("发证机", "card dispenser"),
    "camera": ("摄像头", "camera"),
}
# Why a machine is out of service (its out-of-service sources).
CAUSES: dict[str, tuple[str, str]] = {
    "staff": ("工作人员暂停", "paused by staff"),
    "outbox": ("交易存储已满", "transaction store full"),
    "crash_loop": ("程序反复重启，待人工处理", "restarting over and over: needs staff"),
}
# Kinds of transactions counted as today's work.
TODAY_KINDS = {
    "photos": ("photo.captured",),
    "renewals": ("renewal.endorsed",),
    "pickups": ("pickup.handover",),
}


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "zh" else pair[1]


def device_name(kind: str, lang: str) -> str:
    return _pick(DEVICES.get(kind, (kind, kind)), lang)


def alert_words(code: str, lang: str) -> str:
    if code in ALERTS:
        return _pick(ALERTS[code], lang)
    head, _, tail = code.partition(".")
    if tail == "fault" or code.endswith(".fault"):
        return _pick(FAMILIES["fault"], lang).format(d=device_name(head, lang))
    if head in DEVICES:
        return _pick(FAMILIES["fault"], lang).format(d=device_name(head, lang))
    if head in FAMILIES:
        return _pick(FAMILIES[head], lang)
    return _pick(("需要工作人员处理的情况", "Something needs staff"), lang)


def cause_words(source: str, lang: str) -> str:
    if source in CAUSES:
        return _pick(CAUSES[source], lang)
    if source.startswith("device."):
        kind = source.removeprefix("device.")
        return _pick(FAMILIES["fault"], lang).format(d=device_name(kind, lang))
    return _pick(("其他原因", "another cause"), lang)


def language(value: Any) -> str:
    return value if value in LANGUAGES else LANGUAGES[0]
