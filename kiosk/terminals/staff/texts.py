"""Staff mode's texts (at the machine, behind the staff PIN)."""

from __future__ import annotations

from kiosk.core.i18n import Catalogue

TEXTS = Catalogue(
    {
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
        "staff.checking.slow": (
            "正在核对工作人员密码，请稍候",
            "The staff PIN is being checked: one moment",
        ),
        "staff.locked.title": ("工作人员登录已锁定", "Staff sign-in locked"),
        "staff.locked.body": (
            "密码错误次数过多，请 {minutes} 分钟后（{until} 以后）再试。已通知管理中心。",
            "Too many wrong PINs. Try again in {minutes} min (after {until}). Central has "
            "been told.",
        ),
        "staff.unavailable.body": (
            "本机的工作人员密钥或密码设置有误，暂时无法登录。已通知管理中心。",
            "Staff sign-in is not available: this machine's staff key or PIN set-up is "
            "wrong. Central has been told.",
        ),
        "staff.title": ("维护模式", "Maintenance"),
        "staff.loading": ("正在读取本机状态…", "Reading the machine's status…"),
        "staff.line.central_up": ("中心系统：连接正常", "Central system: answering"),
        "staff.line.central_down": (
            "中心系统：无应答（自 {central_down_since} 起）",
            "Central system: NOT answering (since {central_down_since})",
        ),
        "staff.line.queue": (
            "待上传 {pending} 笔（最早的已等 {oldest} 分钟），上传失败 {dead} 笔，未完成的操作 "
            "{open_actions} 项",
            "Waiting to send: {pending} (the oldest for {oldest} min); failed: {dead}; "
            "unfinished actions: {open_actions}",
        ),
        "staff.line.queue_empty": (
            "待上传 0 笔，上传失败 {dead} 笔，未完成的操作 {open_actions} 项",
            "Waiting to send: 0; failed: {dead}; unfinished actions: {open_actions}",
        ),
        "staff.line.devices": ("设备：{devices}", "Devices: {devices}"),
        "staff.line.reconcile": (
            "待核对的证件 {to_reconcile} 份（已回收或交付未确认）",
            "Documents to check: {to_reconcile} (captured, or hand-over unconfirmed)",
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
        "staff.devices.fault": ("{device}{fault}", "{device}: {fault}"),
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
            "未能重新排队：{fault_zh}",
            "Could not queue them again: {fault_en}",
        ),
        "staff.refresh": ("刷新", "Refresh"),
        "staff.pause": ("暂停服务", "Out of service"),
        "staff.resume": ("恢复服务", "Back in service"),
        "staff.shutdown": ("关机", "Shut down"),
        "staff.test_print": ("打印测试页", "Test print"),
        "staff.test_print.printing": ("正在打印测试页…", "Printing a test receipt…"),
        "staff.test_print.ok": ("测试页已打印，请检查打印效果", "Test receipt printed: check it"),
        "staff.test_print.failed": (
            "测试页未能打印：{fault_zh}",
            "Test receipt not printed: {fault_en}",
        ),
        "staff.shutdown_confirm": ("再按一次关机", "Press again to shut down"),
        "staff.exit": ("退出维护", "Exit"),
    },
    # f"staff.cause.{source}": why out of service; f"staff.pin.{key}": the pad's keys.
    families=("staff.cause", "staff.pin"),
)
