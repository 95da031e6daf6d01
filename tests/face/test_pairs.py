"""Accuracy on the labelled pair set (tests/face/pairs.py): the threshold must give no false
accept, and still accept most genuine pairs."""

from __future__ import annotations

from kiosk.face import THRESHOLD, FaceVerifier
from tests.face.pairs import score_pairs


def test_no_false_accept_at_the_threshold(verifier: FaceVerifier) -> None:
    pairs = score_pairs(verifier)
    assert not pairs.skipped
    rates = pairs.rates(THRESHOLD)
    assert rates["impostor_pairs"] >= 200 and rates["genuine_pairs"] >= 12
    assert rates["false_accepts"] == 0, [
        (p.a, p.b, round(p.score, 3)) for p in pairs.pairs if not p.genuine and p.score <= THRESHOLD
    ]
    assert rates["gar"] >= 0.85
    # dlib's documented 0.6 would accept impostors on this set: why the kiosk is stricter.
    assert pairs.rates(0.6)["false_accepts"] > 0
