"""Spoken screen prompts: when a step waits for the citizen, its title is read out in the
citizen's language, for people who cannot read the screen well (elderly, low vision).

Only steps that wait for the citizen speak (a message screen with buttons, or the 'still
there?' question); passing steps ("checking...") stay quiet, so the prompt that matters is
not cut off. A new prompt interrupts the one being spoken; a step re-shown with the same
title (the payment screen between its checks, or after 'still there?' was answered) is not
repeated, and switching language repeats it in the new one. The photo terminal's live
screen is left to the photo service's coaching voice.
"""

from __future__ import annotations

from kiosk.i18n import text
from kiosk.runner import ViewState
from kiosk.voice import Voice

_STILL_THERE = "idle.title"


class ScreenPrompts:
    def __init__(self, voice: Voice) -> None:
        self.voice = voice
        self._last: tuple[str, str] = ("", "")  # (title key, language) last spoken
        self._before_question: tuple[str, str] = ("", "")  # what 'still there?' interrupted

    def on_view(self, view: ViewState) -> None:
        """A view listener (GUI thread); speaking itself runs in an espeak-ng process."""
        key, values = self._prompt(view)
        if self._last[0] == _STILL_THERE and key != _STILL_THERE:
            # Answered: the step the citizen is back on was already read out.
            self._last = self._before_question
        if not key or (key, view.language) == self._last:
            return
        if key == _STILL_THERE:
            self._before_question = self._last
        self._last = (key, view.language)
        self.voice.say(text(key, view.language, **values), view.language, interrupt=True)

    @staticmethod
    def _prompt(view: ViewState) -> tuple[str, dict[str, object]]:
        if view.still_there_until is not None:
            return _STILL_THERE, {}
        data = view.data
        if view.screen != "message" or not data.get("buttons") or not data.get("title"):
            return "", {}
        if data.get("quiet"):  # staff screens: nothing to announce to the hall
            return "", {}
        return str(data["title"]), dict(data.get("values", {}))
