"""Face verification benchmark; prints one JSON object.

* model load: the photo engine's face models and dlib's two models;
* one comparison at 640x480 (find the face, 5-point alignment, embedding, distance) p50/p95;
* live check: analysis time per frame, and the decision (embed the best frames, compare);
* the citizen's time on the happy path: each challenge order played by a scripted live
  person who reacts 1 s after each prompt (kiosk/face/clips.py), frames to the decision at
  the camera's 25 fps plus the decision's compute time;
* RSS with both face engines loaded and after a check;
* accuracy on the labelled pair set (tests/face/pairs.py) at the threshold and at dlib's 0.6.

Run: PYTHONPATH=. python bench/face.py
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

from kiosk.face import THRESHOLD, Challenge, FaceVerifier, IdentityPolicy, run_clip
from kiosk.face.clips import (
    FPS,
    Cast,
    Subject,
    document_photo,
    frame_subject,
    live_clip,
    scenes,
)
from kiosk.face.recognizer import FaceRecognizer
from kiosk.photo import PhotoEngine, load_spec
from tests.face.conftest import read
from tests.face.images import face_files
from tests.face.pairs import score_pairs

COMPARISONS = 40
ORDERS = (
    (Challenge.BLINK, Challenge.TURN_LEFT),
    (Challenge.BLINK, Challenge.TURN_RIGHT),
    (Challenge.TURN_LEFT, Challenge.BLINK),
    (Challenge.TURN_RIGHT, Challenge.BLINK),
)
REACTION_S = 1.0


def rss_mb() -> dict[str, float]:
    values = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in {"VmRSS", "VmHWM"}:
                values[key] = round(int(rest.split()[0]) / 1024, 1)
    return values


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1)


def rss_of_a_check(subject: Subject, document: bytes) -> dict[str, float]:
    """RSS of a fresh process (this benchmark's clips would inflate ours) that loads both
    engines and runs one live check on frames arriving one by one as JPEG (the camera's
    MJPG stream)."""
    with tempfile.TemporaryDirectory() as folder:
        for i, frame in enumerate(live_clip(subject).frames):
            cv2.imwrite(f"{folder}/{i:04d}.jpg", frame)
        with open(f"{folder}/document.jpg", "wb") as out:
            out.write(document)
        done = subprocess.run([sys.executable, __file__, "--rss-probe", folder],
                              capture_output=True, text=True, check=True)  # fmt: skip
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def rss_probe(folder: str) -> None:
    verifier = FaceVerifier()
    loaded = rss_mb()["VmRSS"]
    with open(f"{folder}/document.jpg", "rb") as source:
        reference = verifier.reference(source.read(), "chip")
    live = verifier.start(reference, IdentityPolicy(challenges=ORDERS[0]))
    names = sorted(n for n in os.listdir(folder) if n[0].isdigit())
    for name in names:
        if live.feed(np.asarray(cv2.imread(f"{folder}/{name}"), np.uint8)).done:
            break
    assert live.result is not None and live.result.match
    after = rss_mb()
    print(json.dumps({"fresh_process_engines_loaded": loaded,
                      "fresh_process_after_check": after["VmRSS"],
                      "fresh_process_peak": after["VmHWM"]}))  # fmt: skip


def main() -> None:
    cv2.setNumThreads(2)
    files = face_files()
    rss_start = rss_mb()
    t0 = time.perf_counter()
    engine = PhotoEngine(load_spec("cn-exit-entry"))
    photo_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    recognizer = FaceRecognizer()
    dlib_load = time.perf_counter() - t0
    verifier = FaceVerifier(engine=engine, recognizer=recognizer)
    rss_loaded = rss_mb()

    cast_names = ("obama", "obama3", "obama", "astronaut")
    live_photo, document, _, other = (read(files[n]) for n in cast_names)
    subject = frame_subject(live_photo, "citizen", engine)
    rss = rss_of_a_check(subject, document_photo(document, engine=engine))

    t0 = time.perf_counter()
    scene = scenes(Cast(live_photo, document, live_photo, other, cast_names), engine)
    clips_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    reference = verifier.reference(scene.document_jpeg, "chip")
    reference_ms = (time.perf_counter() - t0) * 1e3

    # One comparison of a 640x480 frame (as the CLI does per probe).
    compare_ms = []
    frames = scene.live.frames
    for i in range(COMPARISONS):
        compare_ms.append(verifier.compare(reference, frames[(i * 7) % len(frames)]).elapsed_ms)

    # The live check: per-frame analysis time and the decision step.
    frame_ms: list[float] = []
    decision_ms: list[float] = []
    citizen_s: list[float] = []
    per_order = {}
    for order in ORDERS:
        clip = live_clip(subject, actions=[c.value for c in order],
                         reaction_frames=round(REACTION_S * FPS))  # fmt: skip
        check = verifier.start(reference, IdentityPolicy(challenges=order))
        decided_at = None
        for n, frame in enumerate(clip.frames, start=1):
            t0 = time.perf_counter()
            progress = check.feed(frame)
            elapsed = (time.perf_counter() - t0) * 1e3
            if progress.done:
                decision_ms.append(elapsed)
                decided_at = n
                break
            frame_ms.append(elapsed)
        assert decided_at is not None and progress.result is not None
        assert progress.result.match, progress.result
        seconds = decided_at / FPS + decision_ms[-1] / 1e3
        citizen_s.append(seconds)
        per_order["+".join(c.value for c in order)] = round(seconds, 2)

    attacks = {}
    for clip in (scene.still_photo, scene.moved_photo, scene.replay):
        result = run_clip(verifier.start(reference, IdentityPolicy(challenges=ORDERS[0])),
                          clip.frames).result  # fmt: skip
        assert result is not None
        attacks[clip.name] = result.decision.value

    t0 = time.perf_counter()
    pairs = score_pairs(verifier)
    pairs_s = time.perf_counter() - t0

    print(json.dumps({
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores,"
                   f" Python {platform.python_version()}",
        "model": verifier.model,
        "threshold": THRESHOLD,
        "load_s": {"photo_engine": round(photo_load, 3), "dlib_models": round(dlib_load, 3)},
        "reference_ms": round(reference_ms, 1),
        "compare_640x480_ms": {"p50": pct(compare_ms, 50), "p95": pct(compare_ms, 95),
                               "n": len(compare_ms)},
        "live_frame_ms": {"p50": pct(frame_ms, 50), "p95": pct(frame_ms, 95), "n": len(frame_ms)},
        "liveness_decision_ms": {"p50": pct(decision_ms, 50), "max": round(max(decision_ms), 1)},
        "citizen_s_happy_path": {"max": round(max(citizen_s), 2),
                                 "mean": round(statistics.mean(citizen_s), 2),
                                 "by_order": per_order, "reaction_s": REACTION_S},
        "attacks": attacks,
        "rss_mb": {"python_start": rss_start["VmRSS"],
                   "both_engines_loaded": rss_loaded["VmRSS"], **rss},
        "clips_build_s": round(clips_s, 1),
        "pairs": {**pairs.rates(THRESHOLD), "at_0.6": pairs.rates(0.6),
                  "seconds": round(pairs_s, 1),
                  "closest_impostor": round(min(p.score for p in pairs.pairs if not p.genuine), 3),
                  "worst_genuine": round(max(p.score for p in pairs.pairs if p.genuine), 3)},
    }))  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--rss-probe":
        rss_probe(sys.argv[2])
    else:
        main()
