"""The identity step's texts (the face engine's own coaching comes with its words)."""

from __future__ import annotations

from kiosk.core.i18n import Catalogue

TEXTS = Catalogue(
    {
        "identity.title": ("人脸核验：请正对摄像头", "Face check: please look at the camera"),
        "identity.attempt": ("第 {attempt} 次，共 {tries} 次", "Try {attempt} of {tries}"),
        "identity.hint": (
            "照片只用于本次核验，不会保存。",
            "The picture is used for this check only and is not kept.",
        ),
        "identity.cannot": ("无法使用摄像头", "I cannot use the camera"),
        "identity.retry.title": ("人脸核验未通过", "The face check did not pass"),
        "identity.reason": ("{zh}", "{en}"),
        "identity.retry.left": ("还可以再试 {left} 次。", "{left} more tries."),
        "identity.try_again": ("再试一次", "Try again"),
        "identity.timed_out": (
            "时间已到，未能完成人脸核验",
            "Time is up: the face check could not be completed",
        ),
        "identity.refused.title": ("未能核验您的身份", "Your identity could not be confirmed"),
        "identity.refused.body": (
            "请携带身份证和证件到服务窗口办理。本次没有收取任何费用，也没有办理或发放任何证件。"
            "已通知工作人员。",
            "Please go to the counter with your ID card and documents. Nothing was charged and "
            "nothing was issued or handed out. Staff have been told.",
        ),
        "identity.counter.title": ("请到服务窗口办理", "Please go to the counter"),
        "identity.counter.body": (
            "本机无法为您进行人脸核验（未满16周岁，或摄像头无法为您核验）。请携带身份证和证件到"
            "服务窗口，工作人员会为您办理。本次没有收取任何费用。",
            "This machine cannot check your face (under 16, or the camera cannot serve you). "
            "Please go to the counter with your ID card and documents; staff will help you. "
            "Nothing was charged.",
        ),
        "identity.staff.title": ("请工作人员核验身份", "Staff will confirm your identity"),
        "identity.staff.body": (
            "已通知工作人员，请稍候。工作人员核对您的证件后输入工号和密码。",
            "Staff have been called. After checking your documents, they enter their PIN.",
        ),
        "identity.staff.wrong": ("密码错误，请重试", "Wrong PIN: please try again"),
    }
)
