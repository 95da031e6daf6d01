"""The photo terminal's texts."""

from __future__ import annotations

from kiosk.core.i18n import Catalogue

TEXTS = Catalogue(
    {
        "attract.slide.photo.title": (
            "免费拍摄出入境证件照",
            "Free photos for exit-entry documents",
        ),
        "attract.slide.photo.body": (
            "不满意可以免费重拍，直到满意为止",
            "Retake for free as many times as you like",
        ),
        "service.photo": ("拍摄出入境证件照", "Take an ID photo"),
        "service.photo.hint": ("免费拍摄，可反复重拍", "Free, retake until satisfied"),
        "service.photo.identify.title": ("请放置身份证（可选）", "Place your ID card (optional)"),
        "service.photo.identify.body": (
            "放置身份证可将照片与您的证件关联；也可以直接开始拍照，到窗口再关联。",
            "With your ID card the photo is linked to you; or start now and link it at the window.",
        ),
        "photo.skip": ("跳过，直接拍照", "Skip, take the photo"),
        "photo.read_failed.body": (
            "请取下身份证后重新放置；或者跳过，直接拍照。",
            "Lift the card and place it again, or skip and take the photo.",
        ),
        "photo.senior.title": ("您可以使用近期照片", "You may reuse a recent photo"),
        "photo.senior.body": (
            "年满60周岁的申请人，可使用近5年内的出入境证件或身份证照片，无需重新拍照。",
            "People aged 60 or over may reuse an exit-entry or ID card photo from the last 5 "
            "years.",
        ),
        "photo.take_new": ("仍要拍新照片", "Take a new photo anyway"),
        "photo.live.title": ("请看镜头", "Please look at the camera"),
        "photo.live.ok": ("很好，保持不动", "Good, hold still"),
        "photo.live.searching": ("请站到摄像头前", "Please stand in front of the camera"),
        "photo.capture": ("拍照", "Take photo"),
        "photo.countdown": ("准备拍照", "Get ready"),
        "photo.processing": ("正在检查照片…", "Checking the photo…"),
        "photo.processing.slow": (
            "正在逐项检查照片是否符合证件照要求，需要一点时间",
            "Each rule for ID photos is being checked: this takes a moment",
        ),
        "photo.saving.slow": (
            "正在加密保存照片；网络较慢时需要多一点时间",
            "Your photo is being encrypted and saved: a slow network takes longer",
        ),
        "photo.stage.idcard": ("出示身份证", "ID card"),
        "photo.stage.take": ("拍照", "Take the photo"),
        "photo.stage.review": ("确认照片", "Check the photo"),
        "photo.stage.save": ("保存并取回执", "Save, take the receipt"),
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
            "注意：本机暂时连不上出入境系统。照片已保存在本机，恢复连接后自动上传；在此之前窗口可"
            "能查不到这张照片，如查不到请告诉工作人员。",
            "Note: this machine cannot reach the exit-entry system right now. Your photo is "
            "stored safely here and is sent as soon as it can be; until then the counter may not "
            "find it - if so, please tell staff.",
        ),
        "photo.save_failed.title": ("照片未能保存", "The photo could not be saved"),
        "photo.save_failed.body": (
            "本机暂时无法保存照片，请呼叫工作人员。您的照片没有被提交。",
            "This machine cannot store photos right now; please call staff. Nothing was submitted.",
        ),
        "photo.camera_failed": ("摄像头无法拍照", "The camera could not take the photo"),
        "photo.camera_failed.body": (
            "请稍候再试一次；如果仍然不行，请呼叫工作人员。",
            "Please try again in a moment; if it still fails, call staff.",
        ),
        "photo.free_24h": ("24小时自助服务 · 免费拍照", "Self-service 24 hours · Free photos"),
    },
)
