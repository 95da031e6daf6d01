"""Spoken prompts for citizens who cannot read the screen (espeak-ng, offline).

The latest prompt wins: a new instruction interrupts the one being spoken, and the same text
is not repeated within ``repeat_s``. With ``wav_dir`` set (demo, tests) the speech is written
to numbered WAV files instead of the sound card, so it can be checked without speakers.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

VOICES = {"zh": "cmn", "en": "en-us"}


@dataclass
class Voice:
    enabled: bool = True
    wav_dir: Path | None = None
    repeat_s: float = 4.0  # the same text is not repeated sooner
    gap_s: float = 2.5  # nor is any prompt cut off by another sooner than this
    clock: Callable[[], float] | None = None
    spoken: list[tuple[str, str]] = field(default_factory=list)  # (language, text)
    _process: subprocess.Popen[bytes] | None = None
    _last: tuple[str, float] = ("", -1e9)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def available(self) -> bool:
        return self.enabled and shutil.which("espeak-ng") is not None

    def say(self, text: str, language: str, *, interrupt: bool = False) -> bool:
        """Speak ``text`` unless it was just said; True when speech was started.
        ``interrupt``: a new step's prompt, which must not wait out ``gap_s``."""
        import time

        now = (self.clock or time.monotonic)()
        with self._lock:
            if not text or (text == self._last[0] and now - self._last[1] < self.repeat_s):
                return False
            if not interrupt and now - self._last[1] < self.gap_s:
                return False
            self._last = (text, now)
            self.spoken.append((language, text))
            if not self.available:
                return False
            self._stop_current()
            command = ["espeak-ng", "-v", VOICES.get(language, "en-us"), "-s", "150"]
            if self.wav_dir is not None:
                self.wav_dir.mkdir(parents=True, exist_ok=True)
                command += ["-w", str(self.wav_dir / f"prompt-{len(self.spoken):03d}.wav")]
            try:
                self._process = subprocess.Popen(
                    [*command, text], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            except OSError as exc:
                log.warning("cannot speak: %s", exc)
                return False
            return True

    def _stop_current(self) -> None:
        running = self._process is not None and self._process.poll() is None
        if running and self.wav_dir is None and self._process is not None:
            self._process.terminate()  # a file being written (wav_dir) is left to finish
        self._process = None

    def wait(self, timeout_s: float = 10.0) -> None:
        with self._lock:
            process = self._process
        if process is not None:
            process.wait(timeout=timeout_s)

    def close(self) -> None:
        with self._lock:
            self._stop_current()
