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
    },
    # f"device.{kind}"
    families=("device",),
)
