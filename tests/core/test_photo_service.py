"""Photo numbers, coaching hysteresis, spoken prompts and the central-link note."""

from __future__ import annotations

import shutil
import wave
from datetime import datetime
from pathlib import Path

import pytest

from kiosk.core.voice import Voice
from kiosk.terminals.photo.ports import Instruction, LiveCoaching
from kiosk.terminals.photo.service import (
    SteadyAdvice,
    central_not_answering,
    check_character,
    photo_number,
    valid_photo_number,
)
from offline_queue.outbox import Outbox
from offline_queue.sync import UNREACHABLE_SINCE


def test_photo_number_layout_and_check_character() -> None:
    number = photo_number("SZ-FT-P01", datetime(2026, 11, 27), 7)
    assert number.startswith("SZFTP01202611270007") and len(number) == 20
    assert valid_photo_number(number)
    # Every single-character error and every adjacent swap is caught.
    body = number[:-1]
    for i, char in enumerate(body):
        for other in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ":
            if other != char:
                assert not valid_photo_number(body[:i] + other + body[i + 1 :] + number[-1])
    for i in range(len(body) - 1):
        if body[i] != body[i + 1]:
            swapped = body[:i] + body[i + 1] + body[i] + body[i + 2 :]
            assert check_character(swapped) != number[-1]


def summary(measure: str | None, compliant: bool = False) -> LiveCoaching:
    instruction = None if measure is None else Instruction(measure, measure, measure)
    return LiveCoaching(compliant, instruction, (0.4, 0.3, 0.2, 0.3))


def test_advice_changes_only_after_it_held_for_several_frames() -> None:
    advice = SteadyAdvice()
    assert advice.update(summary("head_size"))
    for _ in range(SteadyAdvice.STABLE_FRAMES - 1):
        advice.update(summary("yaw"))
        advice.update(summary("head_size"))  # flicker: the shown advice stays
    assert advice.shown == summary("head_size")
    for _ in range(SteadyAdvice.STABLE_FRAMES):
        advice.update(summary("roll"))
    assert advice.shown == summary("roll")


class FakeTime:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_voice_repeats_rarely_and_never_cuts_itself_off(tmp_path: Path) -> None:
    now = FakeTime()
    voice = Voice(wav_dir=tmp_path, clock=now)
    voice.say("请靠近一点", "zh")
    now.t = 1.0
    voice.say("请靠近一点", "zh")  # too soon: same text
    voice.say("请保持头部端正", "zh")  # too soon: another prompt is still playing
    now.t = 3.0
    voice.say("请保持头部端正", "zh")
    now.t = 8.0
    voice.say("请保持头部端正", "zh")  # still applies: said again
    assert [text for _, text in voice.spoken] == ["请靠近一点", "请保持头部端正", "请保持头部端正"]


def test_prompts_are_really_spoken_to_wav(tmp_path: Path) -> None:
    assert shutil.which("espeak-ng"), "espeak-ng is installed by scripts/bootstrap.sh"
    voice = Voice(wav_dir=tmp_path)
    assert voice.say("请靠近一点", "zh")
    voice.wait()
    with wave.open(str(next(tmp_path.glob("*.wav")))) as audio:
        assert audio.getnframes() / audio.getframerate() > 0.3  # real speech, not silence


def test_central_not_answering_reads_the_sync_workers_mark_and_survives_a_damaged_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with Outbox(tmp_path / "o.sqlite", kiosk_id="PS-TEST") as outbox:
        assert not central_not_answering(outbox)  # never failed
        outbox.set_meta({UNREACHABLE_SINCE: "1795000000.5"})
        assert central_not_answering(outbox)
        outbox.set_meta({UNREACHABLE_SINCE: ""})  # answered again
        assert not central_not_answering(outbox)
        outbox.set_meta({UNREACHABLE_SINCE: "not a time"})
        assert not central_not_answering(outbox)  # a note only: never an error
        assert "central link state" in caplog.text
