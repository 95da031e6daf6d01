"""Names of this machine's parts, as citizens and staff read them."""

from __future__ import annotations

from kiosk.core.i18n import Catalogue

TEXTS = Catalogue(
    {
        "device.idcard": ("身份证阅读器", "ID card reader"),
        "device.chip": ("证件芯片阅读器", "Document chip reader"),
        "device.printer": ("凭条打印机", "Receipt printer"),
        "device.dispenser": ("证件发卡机", "Document dispenser"),
        "device.camera": ("摄像头", "Camera"),
        "device.rewriter": ("通行证读写打印单元", "Permit card unit"),
        "device.other": ("设备", "A device"),
        # Why the machine keeps itself out of service (kiosk.supervision).
        "oos.crash_loop": (
            "本机{minutes}分钟内异常重启{crashes}次，已通知工作人员",
            "It restarted {crashes} times in {minutes} minutes - staff have been told",
        ),
        "oos.outbox_newer": (
            "本机数据由较新版本的软件写入，需重新升级后才能使用（数据已保留）",
            "Its data was written by a newer software version: out of service until that "
            "version is installed again (the data is kept)",
        ),
        "oos.queue_damaged": (
            "本机交易存储已损坏，已通知工作人员（数据已保留，待修复）",
            "Its transaction storage is damaged - staff have been told (the data is kept "
            "for repair)",
        ),
        "oos.queue_key": (
            "本机交易存储的密钥丢失，已通知工作人员（数据已保留）",
            "The key of its transaction storage is missing - staff have been told (the data "
            "is kept)",
        ),
        "oos.queue_refused": (
            "本机交易存储无法打开，已通知工作人员",
            "Its transaction storage cannot be opened - staff have been told",
        ),
        "staff.cause.crash_loop": ("反复异常重启", "restarting after crashes"),
        # A device's fault in plain words (kiosk.machine.faults).
        "fault.paper_low": ("纸快用完了", "paper running low"),
        "fault.paper_out": ("缺纸", "out of paper"),
        "fault.cover_open": ("机盖未关好", "cover open"),
        "fault.cutter": ("切纸刀故障", "paper cutter fault"),
        "fault.jam": ("卡纸或卡证", "jammed"),
        "fault.stacker_low": ("证件仓快空了", "card stock running low"),
        "fault.stacker_empty": ("证件仓已空", "card stock empty"),
        "fault.bin_full": ("回收箱已满", "capture bin full"),
        "fault.storage_full": ("存储空间已满", "storage full"),
        "fault.no_film": ("写卡膜已用完", "no film left on the card"),
        "fault.not_configured": ("未在配置中", "missing from the configuration"),
        "fault.not_started": ("未启动", "not started"),
        "fault.missing": ("未连接", "not connected"),
        "fault.no_reply": ("无响应", "not responding"),
        "fault.other": ("故障", "fault"),
        "fault.join": ("、", ", "),
    },
    # f"device.{kind}"
    families=("device",),
)
