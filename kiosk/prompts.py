"""Spoken screen prompts: when a step waits for the citizen, its title is read out in the
citizen's language, for people who cannot read the screen well (elderly, low vision).

Only steps that wait for the citizen speak (a message screen with buttons, or the 'still
there?' question); passing steps ("checking...") stay quiet, so the prompt that matters is
not cut off. A new prompt interrupts the one being spoken; a step re-shown with the same
title (the payment screen between its checks, or after 'still there?' was answered) is not
repeated, and switching language repeats it in the new one. The photo terminal's live
screen is left to the photo service's coaching voice.

A banner (staff have been called; more time for a citizen of 60 or over) is read out when it
appears, after the step's title when both are new (one prompt cuts off another). A banner
that appears over a passing step waits for the next step that speaks.
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
        self._notice: str | None = None  # the banner shown last
        self._pending: str | None = None  # a banner not read out yet

    def on_view(self, view: ViewState) -> None:
        """A view listener (GUI thread); speaking itself runs in an espeak-ng process."""
        if self._new_notice(view):
            self._pending = view.notice
        if not self._prompt(view)[0]:
            return  # a passing step: a new banner waits for the step that speaks
        parts = [self._title(view)]
        if self._pending is not None and self._pending == view.notice:
            parts.append(text(self._pending, view.language))
        self._pending = None
        said = [part for part in parts if part]
        if said:
            separator = "。" if view.language == "zh" else ". "
            self.voice.say(separator.join(said), view.language, interrupt=True)

    def _title(self, view: ViewState) -> str:
        key, values = self._prompt(view)
        if self._last[0] == _STILL_THERE and key != _STILL_THERE:
            # Answered: the step the citizen is back on was already read out.
            self._last = self._before_question
        if not key or (key, view.language) == self._last:
            return ""
        if key == _STILL_THERE:
            self._before_question = self._last
        self._last = (key, view.language)
        return text(key, view.language, **values)

    def _new_notice(self, view: ViewState) -> bool:
        previous, self._notice = self._notice, view.notice
        return view.notice is not None and view.notice != previous

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
