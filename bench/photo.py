"""Photo engine benchmark; prints one JSON object.

* live analysis time per frame (p50/p95) at 640x480 and 1280x720, tracking between frames;
* capture-to-verdict: a 1920x1080 still -> full analysis + crop + JPEG size search;
* per-measure precision/recall on the labelled variants (tests/photo/variants.py) and the
  labelled real photos.

Run: PYTHONPATH=. python bench/photo.py  (timings with 1 and with 2 OpenCV threads).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable

import cv2
import numpy as np

from kiosk.photo import PhotoEngine, load_spec, make_photo
from tests.photo.images import all_images
from tests.photo.variants import DEFECTS, WHITE, make_clean

THREADS = (1, 2)
LIVE_FRAMES = 150
STILLS = 20
# Defects that, besides their own measure, legitimately change another one (not false alarms).
ALSO_AFFECTS = {
    "dark": {"background_colour"},
    "bright": {"background_colour", "glare"},
    "colour_cast": {"background_colour", "background_uniformity"},
    "second_face": {"background_uniformity"},
    "cluttered": {"background_colour"},
    "blur": {"eye_occlusion"},  # a blurred eye has no iris/sclera contrast left
    "motion_blur": {"eye_occlusion"},
    "roll": {"illumination"},
    "side_light": {"background_uniformity"},
    "wall_shadow": {"background_colour"},  # a darker wall is also a greyer one
    "occluded_eyes": {"eyes_open", "gaze"},  # covered lids and irises cannot be read
    "too_large": {"centring"},  # the 3:4 crop no longer fits: "move back" either way
}
# Real photos: measure -> expected to fail (True) or pass (False).
REAL_LABELS = {
    "obama": {
        "mouth_closed": True,
        "yaw": False,
        "pitch": False,
        "roll": False,
        "face_count": False,
        "sharpness": False,
    },
    "obama2": {"mouth_closed": True, "yaw": True, "face_count": False, "sharpness": False},
    "32bit": {"mouth_closed": True, "yaw": True},
    "obama3": {"pitch": True, "face_count": False},
    "biden": {"roll": True, "mouth_closed": False, "face_count": False},
    "astronaut": {"yaw": False, "face_count": False, "roll": False},
    "grace_hopper": {"yaw": False, "mouth_closed": False, "face_count": False, "roll": False},
}


def _fit(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale a 4:3 frame to ``height`` and pad it with the wall colour to ``width``."""
    k = height / frame.shape[0]
    scaled = cv2.resize(frame, (round(frame.shape[1] * k), height), interpolation=cv2.INTER_CUBIC)
    out = np.full((height, width, 3), WHITE, np.uint8)
    x0 = (width - scaled.shape[1]) // 2
    out[:, x0 : x0 + scaled.shape[1]] = scaled
    return out


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "max_ms": round(ordered[-1], 2),
        "n": len(ordered),
    }


def _timed(fn: Callable[[], object], n: int) -> tuple[list[float], list[float]]:
    """Wall and process-CPU milliseconds per call (CPU time is less disturbed by other jobs)."""
    wall, cpu = [], []
    for _ in range(n):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    return wall, cpu


def _report(samples: tuple[list[float], list[float]]) -> dict[str, object]:
    wall, cpu = samples
    return {**_percentiles(wall), "cpu": _percentiles(cpu)}


def _timings(engine: PhotoEngine, base: np.ndarray) -> dict[str, object]:
    out: dict[str, object] = {}
    # Live: a slowly swaying head (1 px per frame) so every frame differs.
    for label, (w, h) in {"640x480": (640, 480), "1280x720": (1280, 720)}.items():
        frame = base if (w, h) == (640, 480) else _fit(base, w, h)
        frames = [np.roll(frame, (i % 20) - 10, axis=1) for i in range(LIVE_FRAMES)]
        engine.reset()
        engine.analyse(frames[0])
        it = iter(frames)
        times = _timed(lambda it=it: engine.analyse(next(it)), LIVE_FRAMES)
        cold = _timed(lambda frame=frame: (engine.reset(), engine.analyse(frame)), 30)
        out[f"analysis_live_{label}"] = _report(times)
        out[f"analysis_untracked_{label}"] = _report(cold)
    still = _fit(base, 1920, 1080)

    def capture() -> None:
        make_photo(still, engine.analyse(still, full=True), engine.spec)

    capture()
    out["capture_to_verdict_1920x1080"] = _report(_timed(capture, STILLS))
    return out


def main() -> None:
    spec = load_spec("cn-exit-entry")
    engine = PhotoEngine(spec)
    photos = all_images()
    cleans = {
        n: make_clean(n, cv2.imread(str(photos[n])), engine) for n in ("astronaut", "grace_hopper")
    }
    result: dict[str, object] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "opencv": cv2.__version__,
            "load_average_1min_at_start": round(os.getloadavg()[0], 2),
        },
        "spec": f"{spec.name} {spec.version}",
    }
    # cv2.setNumThreads is process-wide: the kiosk picks one for its analysis thread.
    for threads in THREADS:
        cv2.setNumThreads(threads)
        result[f"opencv_threads_{threads}"] = _timings(engine, cleans["astronaut"].frame)
    cv2.setNumThreads(1)  # as the kiosk runs it (ui/shell.py)
    from bench.photo_preview import preview_while_analysing

    result["preview_fps_while_analysing"] = preview_while_analysing()
    result["per_measure"] = _accuracy(engine, cleans, photos)
    result["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))


def _accuracy(engine: PhotoEngine, cleans: dict, photos: dict) -> dict[str, dict[str, object]]:
    counts: dict[str, dict[str, int]] = {}

    def tally(measure: str, expected_fail: bool, failed: bool) -> None:
        c = counts.setdefault(measure, {"tp": 0, "fp": 0, "fn": 0, "tn": 0})
        key = ("tp" if failed else "fn") if expected_fail else ("fp" if failed else "tn")
        c[key] += 1

    for clean in cleans.values():
        samples = [("clean", clean.frame)] + [(d, fn(clean)) for d, (_, fn) in DEFECTS.items()]
        for defect, frame in samples:
            assessment = engine.analyse(frame, full=True)
            target = DEFECTS[defect][0] if defect in DEFECTS else None
            for m in assessment.measures:
                if m.name != target and m.name in ALSO_AFFECTS.get(defect, set()):
                    continue
                tally(m.name, m.name == target, not m.passed)
    for name, labels in REAL_LABELS.items():
        assessment = engine.analyse(cv2.imread(str(photos[name])), full=True)
        for measure, expected_fail in labels.items():
            tally(measure, expected_fail, not assessment.measure(measure).passed)
    out: dict[str, dict[str, object]] = {}
    for measure, c in sorted(counts.items()):
        positives, flagged = c["tp"] + c["fn"], c["tp"] + c["fp"]
        out[measure] = {
            **c,
            "precision": round(c["tp"] / flagged, 3) if flagged else None,
            "recall": round(c["tp"] / positives, 3) if positives else None,
        }
    return out


if __name__ == "__main__":
    main()
