"""Pinyin to Chinese characters for the on-screen keyboard (an address typed at the kiosk).

The readings come from ``pypinyin`` (MIT; its character and phrase dictionaries, offline):
every character of GB 2312 (the 6,763 characters of everyday simplified Chinese, which the
standard library's codec enumerates) under each of its toneless readings, the 3,755 common
ones (GB 2312 level 1) before the rest, and within each level those that occur in more of
pypinyin's phrases first - a stand-in for a frequency list, which no maintained package
ships. Whole phrases whose reading is exactly what was typed (广东, 北京, 小区...) come
before single characters.

Typing more than one syllable works as input methods do: the candidates are for the typed
letters as a phrase, then for their first syllable; choosing a character consumes that
syllable and the rest stays typed.
"""

from __future__ import annotations

import functools
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass

GB2312_LEVEL1_ROWS = range(0xB0, 0xD8)
GB2312_LEVEL2_ROWS = range(0xD8, 0xF8)
MAX_SYLLABLE = 6  # "zhuang", "shuang"


@dataclass(frozen=True)
class Candidate:
    text: str
    letters: int  # how many typed letters choosing it consumes


def toneless(reading: str) -> str:
    """``shēn`` -> ``shen``, ``lǚ`` -> ``lv`` (keyboards type ü as v)."""
    plain = unicodedata.normalize("NFD", reading.lower()).replace("u\u0308", "v")
    return "".join(ch for ch in plain if not unicodedata.combining(ch)).lower()


def _gb2312(rows: range) -> list[str]:
    chars = []
    for row in rows:
        for col in range(0xA1, 0xFF):
            try:
                chars.append(bytes((row, col)).decode("gb2312"))
            except UnicodeDecodeError:
                continue  # the unassigned end of row 0xD7
    return chars


class PinyinDictionary:
    def __init__(self) -> None:
        from pypinyin.phrases_dict import phrases_dict
        from pypinyin.pinyin_dict import pinyin_dict

        seen_in: Counter[str] = Counter()
        self._phrases: dict[str, list[str]] = defaultdict(list)
        for phrase, readings in phrases_dict.items():
            seen_in.update(set(phrase))
            if len(phrase) <= 4 and all(len(r) == 1 for r in readings):
                key = "".join(toneless(r[0]) for r in readings)
                self._phrases[key].append(phrase)
        self._chars: dict[str, list[str]] = defaultdict(list)
        for level in (_gb2312(GB2312_LEVEL1_ROWS), _gb2312(GB2312_LEVEL2_ROWS)):
            ranked = sorted(level, key=lambda ch: -seen_in[ch])  # stable: GB order on ties
            rarer: dict[str, list[str]] = defaultdict(list)
            for ch in ranked:
                raw = pinyin_dict.get(ord(ch))
                if raw is None:
                    continue
                # pypinyin lists the usual reading first: 不 is "bu" before it is "fu".
                usual, *others = dict.fromkeys(toneless(r) for r in raw.split(","))
                self._chars[usual].append(ch)
                for reading in others:
                    rarer[reading].append(ch)
            for reading, chars in rarer.items():
                self._chars[reading] += chars
        self.syllables = frozenset(self._chars)

    def first_syllable(self, letters: str) -> str:
        """The longest syllable ``letters`` starts with ("" if none)."""
        for size in range(min(MAX_SYLLABLE, len(letters)), 0, -1):
            if letters[:size] in self.syllables:
                return letters[:size]
        return ""

    def candidates(self, letters: str, limit: int = 60) -> list[Candidate]:
        letters = letters.lower()
        found: list[Candidate] = []
        # A phrase only for more than one syllable: "tian" is 天, not 提案.
        if letters not in self.syllables:
            found += [Candidate(p, len(letters)) for p in self._phrases.get(letters, ())]
        syllable = self.first_syllable(letters)
        if syllable:
            found += [Candidate(ch, len(syllable)) for ch in self._chars[syllable]]
        elif letters:
            # Still typing the first syllable ("zh"): characters of the syllables it begins.
            for reading in sorted(s for s in self.syllables if s.startswith(letters)):
                found += [Candidate(ch, len(letters)) for ch in self._chars[reading][:6]]
        unique: dict[str, Candidate] = {}
        for candidate in found:
            unique.setdefault(candidate.text, candidate)
        return list(unique.values())[:limit]


@functools.cache
def dictionary() -> PinyinDictionary:
    """Built once per process (about a quarter of a second), on first use."""
    return PinyinDictionary()
