"""What the citizen is told during and after the identity check, in Chinese and English."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Instruction:
    key: str
    zh: str
    en: str

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "zh": self.zh, "en": self.en}


_TEXTS: dict[str, tuple[str, str]] = {
    # Coaching while the camera looks.
    "look_at_camera": ("请正对摄像头", "Please look at the camera"),
    "one_person": ("请确保摄像头前只有您一人", "Only one person in front of the camera, please"),
    "closer": ("请靠近一点", "Please come a little closer"),
    "back": ("请稍微后退", "Please move back a little"),
    "look_straight": ("请正视摄像头", "Please look straight at the camera"),
    "hold_still": ("请保持不动", "Please hold still"),
    "light": ("面部光线不好，请调整位置", "The light on your face is poor: please move a little"),
    "glasses": ("请摘下眼镜", "Please take off your glasses"),
    "uncover_eyes": ("请露出双眼", "Please make sure nothing covers your eyes"),
    "open_eyes": ("请睁开双眼", "Please open your eyes"),
    "stay": ("请保持在摄像头前", "Please stay in front of the camera"),
    # Liveness challenges.
    "blink": ("请眨眨眼", "Please blink"),
    "turn_left": ("请将头稍向左转", "Please turn your head slightly to the left"),
    "turn_right": ("请将头稍向右转", "Please turn your head slightly to the right"),
    "face_front": ("请转回正对摄像头", "Now look straight at the camera again"),
    "checking": ("正在核验，请稍候", "Checking, one moment please"),
    # Outcomes (the reason of a result that is not a match).
    "no_match": (
        "您的面部与证件照片不一致",
        "Your face does not match the photo on your document",
    ),
    "no_match_retry": (
        "请摘下眼镜、帽子或口罩，正视摄像头后重试",
        "Please take off glasses, hat or mask and look straight at the camera, then try again",
    ),
    "not_live": (
        "未能确认摄像头前是本人，请按提示眨眼和转头",
        "We could not confirm that you are in front of the camera: please blink and turn as asked",
    ),
    "flat_face": (
        "未能确认摄像头前是本人，请勿使用照片或屏幕",
        "We could not confirm a live person: photos and screens cannot be used",
    ),
    "timeout": ("时间已到，未能完成人脸核验", "Time is up: the face check could not be completed"),
    "reference_unusable": (
        "证件照片无法用于核验，请到人工窗口办理",
        "The photo on your document cannot be used for the check: please go to the counter",
    ),
    "match": ("人脸核验通过", "Face check passed"),
}


def instruction(key: str) -> Instruction:
    zh, en = _TEXTS[key]
    return Instruction(key, zh, en)


def keys() -> tuple[str, ...]:
    return tuple(_TEXTS)
