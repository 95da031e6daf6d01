"""Spoken screen prompts: when a step waits for the citizen, its title is read out in the
citizen's language, for people who cannot read the screen well (elderly, low vision).

Only steps that wait for the citizen speak (a message screen with buttons, the service menu
with the services open and why others are paused, or the 'still there?' question); passing
steps ("checking...") stay quiet, so the prompt that matters is not cut off. A new prompt
interrupts the one being spoken; a step re-shown with the same title (the payment screen
between its checks, or after 'still there?' was answered) is not repeated, and switching
language repeats it in the new one. The photo terminal's live screen is left to the photo
service's coaching voice.

A banner (staff have been called; more time for a citizen of 60 or over) is read out when it
appears, after the step's title when both are new (one prompt cuts off another). A banner
that appears over a passing step waits for the next step that speaks. On the attract loop and
the out-of-service screen no step follows until someone acts: there only "staff have been
called" is read out, at once (the person who pressed the button hears that it worked, also
when the machine went out of service before the banner was read).
"""

from __future__ import annotations

from kiosk.core.i18n import Catalogue
from kiosk.core.runner import ViewState
from kiosk.core.views import MenuView, MessageView
from kiosk.core.voice import Voice

_STILL_THERE = "idle.title"
# Screens shown between two people (staff mode counts too): what was said before is forgotten.
_NEXT_PERSON = ("attract", "out_of_service", "pin")
# Screens that wait for someone without a step of their own to read out, and the banners
# said there: answers to a press, not news for a hall full of people.
_WAITING = ("attract", "out_of_service")
_SAID_WHILE_WAITING = ("app.staff_called",)


class ScreenPrompts:
    def __init__(self, voice: Voice, texts: Catalogue) -> None:
        self.voice = voice
        self.texts = texts
        self._last: tuple[str, str] = ("", "")  # (title key, language) last spoken
        self._before_question: tuple[str, str] = ("", "")  # what 'still there?' interrupted
        self._notice: tuple[str | None, str] = (None, "")  # the banner shown last, language
        self._pending: str | None = None  # a banner not read out yet

    def on_view(self, view: ViewState) -> None:
        """A view listener (GUI thread); speaking itself runs in an espeak-ng process."""
        quiet = view.view.quiet
        waiting = view.screen in _WAITING and not quiet
        if view.screen in _NEXT_PERSON or quiet:
            # Whoever comes next hears every step from the start, the menu included.
            self._last = self._before_question = ("", "")
            if not (waiting and self._pending == view.notice):
                self._pending = None  # (a banner still shown and not yet read stays due)
        if self._new_notice(view):
            self._pending = view.notice
        if not self._prompt(view)[0]:
            if waiting and self._pending in _SAID_WHILE_WAITING:
                self._say([self.texts.text(self._pending, view.language)], view.language)
                self._pending = None
            return  # a passing step: a new banner waits for the step that speaks
        parts = [self._title(view)]
        if self._pending is not None and self._pending == view.notice:
            parts.append(self.texts.text(self._pending, view.language))
        self._pending = None
        self._say(parts, view.language)

    def _say(self, parts: list[str], language: str) -> None:
        said = [part for part in parts if part]
        if said:
            separator = "。" if language == "zh" else ". "
            self.voice.say(separator.join(said), language, interrupt=True)

    def _title(self, view: ViewState) -> str:
        key, spoken = self._prompt(view)
        if self._last[0] == _STILL_THERE and key != _STILL_THERE:
            # Answered: the step the citizen is back on was already read out.
            self._last = self._before_question
        if not key or (key, view.language) == self._last:
            return ""
        if key == _STILL_THERE:
            self._before_question = self._last
        self._last = (key, view.language)
        return spoken

    def _new_notice(self, view: ViewState) -> bool:
        """A banner appeared, or the citizen switched language under it."""
        shown = (view.notice, view.language)
        previous, self._notice = self._notice, shown
        return view.notice is not None and shown != previous

    def _prompt(self, view: ViewState) -> tuple[str, str]:
        """(what identifies the prompt, its text), or ("", "") for a step that does not
        speak."""
        language, shown = view.language, view.view
        if shown.quiet or view.screen == "pin":  # staff mode: nothing for the hall
            return "", ""
        if view.still_there_until is not None:
            return _STILL_THERE, self.texts.text(_STILL_THERE, language)
        if isinstance(shown, MenuView):
            return self._menu_prompt(shown, language)
        if not isinstance(shown, MessageView) or not shown.buttons or not shown.title:
            return "", ""
        return shown.title, self.texts.text(shown.title, language, **dict(shown.values))

    def _menu_prompt(self, menu: MenuView, language: str) -> tuple[str, str]:
        """The menu's question, the services open to the citizen, and why others are
        paused."""
        text = self.texts.text
        open_names = [text(f"service.{s.key}", language) for s in menu.services if not s.paused]
        spoken = text("menu.title", language)
        if open_names:
            spoken += ("：" if language == "zh" else ": ") + (
                "、" if language == "zh" else ", "
            ).join(open_names)
        if menu.notice:
            spoken += ("。" if language == "zh" else ". ") + text(menu.notice, language)
        return f"menu.title|{menu.notice or ''}", spoken
