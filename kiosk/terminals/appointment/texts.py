"""The appointment check-in's texts."""

from __future__ import annotations

from kiosk.core.i18n import Catalogue

TEXTS = Catalogue(
    {
        "service.appointment": ("我有预约", "I have an appointment"),
        "service.appointment.hint": ("网上预约签到，优先办理", "Booked online? Check in"),
        "appointment.stage.find": ("出示预约", "Your appointment"),
        "appointment.stage.check": ("核对预约", "Check-in"),
        "appointment.stage.ticket": ("取排队票", "Take the ticket"),
        "appointment.scan.title": ("请出示预约二维码", "Show your appointment QR code"),
        "appointment.scan.body": (
            "在手机上打开预约记录，将二维码对准屏幕上方的摄像头，放在框内",
            "Open the booking on your phone and hold its QR code up to the camera above the "
            "screen, inside the frame",
        ),
        "appointment.scan.type": ("改为输入预约号", "Type the number instead"),
        "appointment.scan.unread": (
            "未能识别二维码，请输入预约号",
            "The QR code could not be read: please type the appointment number",
        ),
        "appointment.scan.foreign": (
            "这不是预约二维码，请输入预约号",
            "That is not an appointment QR code: please type the appointment number",
        ),
        "appointment.scan.no_camera": (
            "摄像头暂不可用，请输入预约号",
            "The camera is not available: please type the appointment number",
        ),
        "appointment.number.title": ("请输入预约号", "Type your appointment number"),
        "appointment.number.body": (
            "预约号为 10 位数字，见预约短信或预约记录",
            "The 10-digit number in your booking text message or record",
        ),
        "appointment.number.wrong": (
            "预约号有误，请核对后重新输入",
            "That number is not right: please check it and type it again",
        ),
        "appointment.number.scan": ("改为扫描二维码", "Scan the QR code instead"),
        "appointment.pad.delete": ("删除", "Delete"),
        "appointment.pad.clear": ("清空", "Clear"),
        "appointment.pad.ok": ("确定", "OK"),
        "appointment.checking": ("正在确认您的预约…", "Confirming your appointment…"),
        "appointment.not_found.title": ("未找到该预约", "No appointment with this number"),
        "appointment.not_found.body": (
            "请核对预约号，或到咨询台取普通号办理。",
            "Please check the number, or take a standard ticket at the information desk.",
        ),
        "appointment.retype": ("重新输入", "Type it again"),
        "appointment.too_early.title": ("还未到签到时间", "Too early to check in"),
        "appointment.too_early.body": (
            "您预约的时间是 {time}，请于 {opens_at} 以后再来签到。",
            "Your appointment is at {time}. Please check in from {opens_at}.",
        ),
        "appointment.too_late.title": ("预约已过时", "This appointment has passed"),
        "appointment.too_late.body": (
            "您预约的时间是 {time}，已超过签到时间。请到咨询台取普通号，或重新预约。",
            "Your appointment was at {time} and check-in has closed. Please take a standard "
            "ticket at the information desk, or book again.",
        ),
        "appointment.other_day.title": ("预约不是今天", "This appointment is not today"),
        "appointment.other_day.body": (
            "您预约的日期是 {date}，请在当天前来签到。",
            "Your appointment is on {date}. Please check in on that day.",
        ),
        "appointment.served.title": ("该预约已办理", "This appointment has been served"),
        "appointment.served.body": (
            "该预约号已经叫号办理。如有疑问，请到咨询台。",
            "This appointment has already been called. Please ask at the information desk.",
        ),
        "appointment.printing": ("正在打印优先号…", "Printing your priority ticket…"),
        "appointment.done.title": ("签到成功，请取走排队号", "Checked in: take your ticket"),
        "appointment.done.counter": ("请到 {counter} 号窗口等候叫号", "Wait for window {counter}"),
        "appointment.done.time": (
            "预约 {service_zh} · {time}",
            "Appointment: {service} at {time}",
        ),
        "appointment.done.ahead": ("您前面还有 {ahead} 人", "{ahead} ahead of you"),
        "appointment.done.again": (
            "您已签到过，这是您原来的号码",
            "You had already checked in: this is the same ticket",
        ),
        "appointment.no_ticket.title": ("签到成功，排队号未能打印", "Checked in: no paper ticket"),
        "appointment.no_ticket.body": (
            "请记下排队号或用手机拍下二维码，叫号时出示。",
            "Note the ticket number or photograph the QR code, and show it when called.",
        ),
        "appointment.central_down.title": ("暂时无法签到", "Check-in is not available now"),
        "appointment.central_down.body": (
            "系统暂时无法连接，请稍后再试，或到咨询台签到。",
            "The system cannot be reached. Please try again later or check in at the "
            "information desk.",
        ),
        "appointment.kind.passport": ("普通护照", "passport"),
        "appointment.kind.hk_macau_permit": ("往来港澳通行证", "Hong Kong and Macau permit"),
        "appointment.kind.taiwan_permit": ("往来台湾通行证", "Taiwan permit"),
        "appointment.kind.endorsement": ("签注", "endorsement"),
        "appointment.kind.other": ("出入境业务", "exit-entry service"),
    },
    # f"appointment.kind.{service}"; f"appointment.pad.{key}" (the number pad's keys)
    families=("appointment.kind", "appointment.pad"),
)
