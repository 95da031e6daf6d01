"""The photo terminal: optional ID card, live coaching, 3-2-1 capture, review with free and
unlimited retakes, durable hand-off, receipt (or the number on screen when paper is out)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from kiosk.config import KioskConfig, TerminalType
from kiosk.core.engine import (
    SAME,
    TIMEOUT,
    Alert,
    BeginSession,
    Call,
    Command,
    Context,
    EndSession,
    Event,
    State,
    Transition,
)
from kiosk.core.i18n import register
from kiosk.terminals.home.flow import (
    ATTRACT,
    MENU,
    SENIOR_AGE,
    SERVICE_BUILDERS,
    ServiceFlow,
    grant_more_time,
)
from kiosk.terminals.home.steps import closing_state, done, message, qr_png

if TYPE_CHECKING:
    from kiosk.photo.spec import PhotoSpec


register(
    {
        "service.photo.identify.title": ("请放置身份证（可选）", "Place your ID card (optional)"),
        "service.photo.identify.body": (
            "放置身份证可将照片与您的证件关联；也可以直接开始拍照，到窗口再关联。",
            "With your ID card the photo is linked to you; or start now and link it at the window.",
        ),
        "photo.skip": ("跳过，直接拍照", "Skip, take the photo"),
        "photo.reading": ("正在读取身份证，请勿移动…", "Reading your ID card, please hold still…"),
        "photo.read_failed": ("身份证读取失败", "The ID card could not be read"),
        "photo.read_failed.body": (
            "请取下身份证后重新放置；或者跳过，直接拍照。",
            "Lift the card and place it again, or skip and take the photo.",
        ),
        "photo.retry": ("重新读取", "Try again"),
        "photo.senior.title": ("您可以使用近期照片", "You may reuse a recent photo"),
        "photo.senior.body": (
            "年满60周岁的申请人，可使用近5年内的出入境证件或身份证照片，无需重新拍照。",
            "People aged 60 or over may reuse an exit-entry or ID card photo "
            "from the last 5 years.",
        ),
        "photo.take_new": ("仍要拍新照片", "Take a new photo anyway"),
        "photo.finish": ("结束", "Finish"),
        "photo.live.title": ("请看镜头", "Please look at the camera"),
        "photo.live.ok": ("很好，保持不动", "Good, hold still"),
        "photo.live.searching": ("请站到摄像头前", "Please stand in front of the camera"),
        "photo.capture": ("拍照", "Take photo"),
        "photo.countdown": ("准备拍照", "Get ready"),
        "photo.processing": ("正在检查照片…", "Checking the photo…"),
        "photo.review.title": ("请确认照片", "Check your photo"),
        "photo.review.best": ("这是您本次拍得最好的一张", "This is your best photo so far"),
        "photo.review.cannot": (
            "这张照片不符合要求，不能提交：",
            "This photo cannot be submitted:",
        ),
        "photo.review.more": ("（另有 {n} 项，见右侧）", "(and {n} more, listed above)"),
        "photo.use": ("使用这张照片", "Use this photo"),
        "photo.retake": ("重拍（免费）", "Retake (free)"),
        "photo.saving": ("正在保存照片…", "Saving your photo…"),
        "photo.printing": ("正在打印回执…", "Printing your receipt…"),
        "photo.done.title": ("照片已保存", "Your photo is saved"),
        "photo.done.body": (
            "请取走回执，到受理窗口出示回执上的图像号即可。",
            "Take your receipt and show the photo number at the application counter.",
        ),
        "photo.done.card": ("别忘了取回您的身份证", "Remember to take your ID card"),
        "photo.no_receipt.title": ("照片已保存，回执无法打印", "Photo saved - no receipt printed"),
        "photo.no_receipt.body": (
            "请记下或用手机拍下下面的图像号和二维码，到窗口出示即可。已通知工作人员。",
            "Write down or photograph the number and QR code below; staff have been told.",
        ),
        "photo.delayed": (
            "注意：本机暂时连不上出入境系统。照片已保存在本机，恢复连接后自动上传；"
            "在此之前窗口可能查不到这张照片，如查不到请告诉工作人员。",
            "Note: this machine cannot reach the exit-entry system right now. Your photo is "
            "stored safely here and is sent as soon as it can be; until then the counter may "
            "not find it - if so, please tell staff.",
        ),
        "photo.save_failed.title": ("照片未能保存", "The photo could not be saved"),
        "photo.save_failed.body": (
            "本机暂时无法保存照片，请呼叫工作人员。您的照片没有被提交。",
            "This machine cannot store photos right now; please call staff. Nothing was submitted.",
        ),
        "photo.receipt.title": ("出入境数字相片采集回执", "Exit-entry digital photo receipt"),
        "photo.receipt.number": ("图像号", "Photo number"),
        "photo.receipt.next": (
            "请在受理窗口出示本回执，工作人员扫码即可调取照片。",
            "Show this receipt at the counter; staff scan it to attach your photo.",
        ),
        "photo.camera_failed": ("摄像头无法拍照", "The camera could not take the photo"),
        "photo.camera_failed.body": (
            "请稍候再试一次；如果仍然不行，请呼叫工作人员。",
            "Please try again in a moment; if it still fails, call staff.",
        ),
    }
)


def _begin(ctx: Context, event: Event) -> list[Command]:
    ctx["photo"] = {"live": None, "review": 0}
    return [BeginSession("photo")]


def _read(ctx: Context, event: Event) -> list[Command]:
    return [Call("idcard", "read", reply="photo.idcard")]


def _is_senior(ctx: Context, event: Event) -> bool:
    return int(event.data.get("age", 0)) >= SENIOR_AGE


def _live_update(ctx: Context, event: Event) -> list[Command]:
    ctx["photo"]["live"] = dict(event.data)
    return []


def _capture(ctx: Context, event: Event) -> list[Command]:
    return [Call("photo", "capture", reply="photo.capture")]


def _captured(ctx: Context, event: Event) -> list[Command]:
    ctx["photo"]["review"] = int(event.data["best"])
    ctx["photo"]["latest"] = int(event.data["index"])
    return []


def _submit(ctx: Context, event: Event) -> list[Command]:
    return [Call("photo", "submit", {"index": ctx["photo"]["review"]}, reply="photo.submit")]


def _saved(ctx: Context, event: Event) -> list[Command]:
    ctx["photo"]["number"] = str(event.data["photo_number"])
    ctx["photo"]["taken_at"] = str(event.data["taken_at"])
    ctx["photo"]["delayed"] = bool(event.data.get("delivery_delayed"))
    return []


def _delayed_note(ctx: Context) -> str | None:
    """The note for a photo central has not got yet (it is not answering)."""
    return "photo.delayed" if ctx["photo"].get("delayed") else None


def _failed(ctx: Context, event: Event) -> list[Command]:
    return [EndSession("error")]


def _paper_alert(ctx: Context, event: Event) -> list[Command]:
    return [
        Alert(
            "printer.receipt_failed",
            f"photo {ctx['photo'].get('number')} saved, receipt not printed: "
            f"{event.data.get('code')}",
        )
    ]


def _save_alert(ctx: Context, event: Event) -> list[Command]:
    return [Alert("outbox.put_failed", str(event.data.get("message", "")))]


@functools.cache
def _spec(name: str) -> PhotoSpec:
    """The photo spec, read once (views render on the GUI thread; the engine is imported
    only by terminals that take photos)."""
    from kiosk.photo.spec import load_spec

    return load_spec(name)


def build(config: KioskConfig) -> tuple[ServiceFlow, ...]:
    t = config.timeouts

    def receipt(ctx: Context, event: Event) -> list[Command]:
        photo = ctx["photo"]
        number = str(photo["number"])
        items: list[dict[str, Any]] = [
            {"text": "出入境数字相片采集回执", "bold": True, "large": True, "align": "center"},
            {"text": "Exit-entry digital photo receipt", "align": "center"},
            {"feed": 1},
            {"text": f"图像号 Photo number: {number}", "bold": True},
            {"code128": number},
            {"qr": number},
            {"image_session_key": "photo_jpeg", "width": 200},
            {"text": f"时间 Time: {photo['taken_at'].replace('T', ' ')}"},
            {"text": f"地点 Place: {config.kiosk.place or config.kiosk.id}"},
            {"text": f"终端 Kiosk: {config.kiosk.id}"},
            {"feed": 1},
            {"text": "请在受理窗口出示本回执。"},
            {"text": "Show this receipt at the application counter."},
        ]
        return [
            Call(
                "printer",
                "print",
                {"receipt": {"title": number, "items": items}},
                reply="photo.print",
            )
        ]

    def live_view(ctx: Context) -> dict[str, Any]:
        return {"live": ctx["photo"]["live"], "mode": "live"}

    def countdown_view(ctx: Context) -> dict[str, Any]:
        return {"live": ctx["photo"]["live"], "mode": "countdown", "seconds": 3}

    def review_view(ctx: Context) -> dict[str, Any]:
        from kiosk.terminals.photo.service import review_data

        session = ctx.get("session")
        captures = session.get("photo_captures") if session else None
        if not captures:
            return {"missing": True}
        data = review_data(captures, ctx["photo"]["review"], _spec(config.photo.spec))
        data["best_shown"] = ctx["photo"]["review"] != ctx["photo"].get("latest")
        return data

    def done_view(ctx: Context) -> dict[str, Any]:
        identified = bool(ctx.get("session") and ctx["session"].has("idcard"))
        return message(
            "photo.done.title",
            "photo.done.body",
            tone="ok",
            code=ctx["photo"]["number"],
            progress="photo.done.card" if identified else None,
            note=_delayed_note(ctx),
            buttons=(("finished", "photo.finish", "primary"),),
        )

    def no_receipt_view(ctx: Context) -> dict[str, Any]:
        number = ctx["photo"]["number"]
        return message(
            "photo.no_receipt.title",
            "photo.no_receipt.body",
            tone="warn",
            code=number,
            image_png=qr_png(number),
            note=_delayed_note(ctx),
            buttons=(("finished", "photo.finish", "primary"),),
        )

    states = (
        State(
            "photo_identify",
            "message",
            (
                Transition("idcard.placed", "photo_reading"),
                Transition("skip", "photo_live"),
                Transition("back", MENU),
            ),
            idle=True,
            on_enter=_begin,
            view=lambda ctx: message(
                "service.photo.identify.title",
                "service.photo.identify.body",
                buttons=(("back", "app.back", ""), ("skip", "photo.skip", "primary")),
            ),
        ),
        State(
            "photo_reading",
            "message",
            (
                Transition(
                    "photo.idcard.ok", "photo_senior", grant_more_time, _is_senior, "age 60+"
                ),
                Transition("photo.idcard.ok", "photo_live"),
                Transition("photo.idcard.failed", "photo_read_failed"),
                Transition(TIMEOUT, "photo_read_failed"),
            ),
            timeout=lambda ctx: t.device_s,
            on_enter=_read,
            view=lambda ctx: message("photo.reading"),
        ),
        State(
            "photo_read_failed",
            "message",
            (
                Transition("idcard.placed", "photo_reading"),
                Transition("retry", "photo_reading"),
                Transition("skip", "photo_live"),
                Transition("back", MENU),
            ),
            idle=True,
            view=lambda ctx: message(
                "photo.read_failed",
                "photo.read_failed.body",
                tone="warn",
                buttons=(
                    ("back", "app.back", ""),
                    ("retry", "photo.retry", ""),
                    ("skip", "photo.skip", "primary"),
                ),
            ),
        ),
        State(
            "photo_senior",
            "message",
            (Transition("take_new", "photo_live"), Transition("finished", ATTRACT, action=done)),
            idle=True,
            view=lambda ctx: message(
                "photo.senior.title",
                "photo.senior.body",
                tone="ok",
                buttons=(
                    ("finished", "photo.finish", ""),
                    ("take_new", "photo.take_new", "primary"),
                ),
            ),
        ),
        State(
            "photo_live",
            "photo_live",
            (
                Transition("photo.assessment", SAME, action=_live_update),
                Transition("photo.steady", "photo_countdown", label="compliant and still"),
                Transition("capture", "photo_countdown", label="tap"),
                Transition("back", MENU),
            ),
            idle=True,
            view=live_view,
        ),
        State(
            "photo_countdown",
            "photo_live",
            (
                Transition("photo.assessment", SAME, action=_live_update),
                Transition(TIMEOUT, "photo_processing", label="3-2-1"),
                Transition("back", "photo_live"),
            ),
            timeout=lambda ctx: 3.0,
            view=countdown_view,
        ),
        State(
            "photo_processing",
            "message",
            (
                Transition("photo.capture.ok", "photo_review", action=_captured),
                Transition("photo.capture.failed", "photo_capture_failed"),
                Transition(TIMEOUT, "photo_capture_failed"),
            ),
            timeout=lambda ctx: t.device_s,
            on_enter=_capture,
            view=lambda ctx: message("photo.processing"),
        ),
        State(
            "photo_capture_failed",
            "message",
            (
                Transition("retry", "photo_live"),
                Transition("back", MENU),
                Transition(TIMEOUT, "photo_live"),
            ),
            timeout=lambda ctx: t.message_s,
            view=lambda ctx: message(
                "photo.camera_failed",
                "photo.camera_failed.body",
                tone="warn",
                buttons=(("back", "app.back", ""), ("retry", "photo.retake", "primary")),
            ),
        ),
        State(
            "photo_review",
            "photo_review",
            (
                Transition("use", "photo_saving"),
                Transition("retake", "photo_live"),
                Transition("back", "photo_live"),
            ),
            idle=True,
            view=review_view,
        ),
        State(
            "photo_saving",
            "message",
            (
                Transition("photo.submit.ok", "photo_printing", action=_saved),
                Transition("photo.submit.failed", "photo_save_failed", action=_save_alert),
                Transition(TIMEOUT, "photo_save_failed"),
            ),
            timeout=lambda ctx: t.device_s,
            on_enter=_submit,
            view=lambda ctx: message("photo.saving"),
        ),
        closing_state(
            "photo_save_failed",
            lambda ctx: message(
                "photo.save_failed.title",
                "photo.save_failed.body",
                tone="error",
                buttons=(("finished", "photo.finish", ""),),
            ),
            t.message_s * 3,
            end=_failed,
        ),
        State(
            "photo_printing",
            "message",
            (
                Transition("photo.print.ok", "photo_done"),
                Transition("photo.print.failed", "photo_no_receipt", action=_paper_alert),
                Transition(TIMEOUT, "photo_no_receipt", action=_paper_alert),
            ),
            timeout=lambda ctx: t.device_s,
            on_enter=receipt,
            view=lambda ctx: message("photo.printing", code=ctx["photo"]["number"]),
        ),
        closing_state(
            "photo_done",
            done_view,
            t.message_s * 2,
        ),
        closing_state(
            "photo_no_receipt",
            no_receipt_view,
            t.message_s * 8,
        ),
    )
    return (ServiceFlow("photo", "photo_identify", states, icon="camera", finishing=FINISHING),)


# A citizen being told their photo number must not be cut off by an out-of-service switch:
# those states finish first (the kiosk goes out of service right after).
FINISHING = (
    "photo_saving",
    "photo_printing",
    "photo_done",
    "photo_no_receipt",
    "photo_save_failed",
)

SERVICE_BUILDERS[TerminalType.PHOTO].append(build)
