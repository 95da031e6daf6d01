"""Photo quality engine: one BGR frame in, scored measures and a verdict out.

Qt-free. Every threshold is read from the :class:`~kiosk.photo.spec.PhotoSpec`; the module
constants below are only model/geometry plumbing (ROI proportions), not compliance limits.
Scores follow one convention: 100 is ideal, 50 is exactly at the spec limit, below 50 fails.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from kiosk.photo import models as m
from kiosk.photo.geometry import CropPlan, HeadGeometry, head_geometry, plan_crop
from kiosk.photo.models import Box, FaceLandmarks, FaceModels, Image
from kiosk.photo.spec import FaceSpec, PhotoSpec, PoseSpec
from kiosk.photo.still import MAX_PIXELS

log = logging.getLogger(__name__)

Mask = npt.NDArray[Any]
Clock = Callable[[], float]

# Faces considered per frame (the subject and whoever stands behind), and the overlap above
# which a detection is the tracked face again.
MAX_FACES = 3
SAME_FACE_OVERLAP = 0.3
# A second mesh pass, on a ROI rotated by the first pass's roll, when the head is tilted more.
REROTATE_DEG = 10.0
# Normalised views: the portrait crop is analysed at this width (background measures).
PORTRAIT_VIEW_WIDTH = 120
# Person silhouette in the portrait: head ellipse half-axes as shares of the head height
# (hair included), and the shoulder line below the chin.
HEAD_HALF_WIDTH = 0.52
HEAD_HALF_HEIGHT = 0.58
# Negative: the shoulder line is drawn a little above the chin, since a real person's collar
# and shoulders rise beside the neck (a cut-out head on a pole did not show this).
SHOULDER_BELOW_CHIN = -0.08
NECK_HALF_WIDTH = 0.3
# Glare search box around each eye, in inter-eye distances (covers a spectacle lens).
LENS_HALF_WIDTH = 0.42
LENS_HALF_HEIGHT = 0.28
# Lens reflections (glare_spots), sizes in IEDs: spots thinner than GLARE_MIN_BLOB count only
# where they cross the eye (elsewhere they are shines on the spectacle frame); a spot on the
# iris smaller than a square of GLARE_CATCH_LIGHT is the eye's catch-light; spots under a
# square of GLARE_MIN_SPOT (or GLARE_NOISE_PX pixels) are noise; a spot is compared with the
# band GLARE_SURROUND wide around it.
GLARE_MIN_BLOB = 0.05
GLARE_CATCH_LIGHT = 0.06
GLARE_MIN_SPOT = 0.02
GLARE_NOISE_PX = 4
GLARE_SURROUND = 0.06
SURROUND_PERCENTILE = 75.0
# A spot with this share of its pixels inside the eyelids and none over the iris is the white
# of the eye, not a reflection.
SCLERA_INSIDE = 0.8
# An eye whose surroundings (eyelids widened by EYE_MARGIN IED) are covered by lens reflections
# in this share is not judged by eyes_open: its lids cannot be seen.
GLARE_HIDES_EYE = 0.1
EYE_MARGIN = 0.05
# Iris radius in IEDs when the iris network gave none (adult irises: about 11.7 mm across).
IRIS_RADIUS = 0.09
# Teeth: the band around the inner-lip line searched (share of eye-chin), how much lighter
# than the lips (Lab L, 0-255) and how much less coloured (share of the lips' chroma + floor).
TEETH_MARGIN = 0.02
TEETH_LIGHTER = 25.0
TEETH_CHROMA = 0.75
TEETH_CHROMA_FLOOR = 3.0
# Cheek zones (OFIQ): square of side 0.3 IED, centred this far below each eye in IEDs.
CHEEK_SIDE = 0.3
CHEEK_BELOW_EYE = 0.55


@dataclass(frozen=True)
class Measure:
    name: str
    score: float  # 0-100, 50 = at the limit
    passed: bool
    raw: float | None
    hard: bool
    priority: int
    instruction_zh: str | None
    instruction_en: str | None
    instruction_key: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "score": round(self.score, 1),
            "passed": self.passed,
            "raw": None if self.raw is None else round(self.raw, 4),
            "hard": self.hard,
            "instruction_key": self.instruction_key,
            "instruction_zh": self.instruction_zh,
            "instruction_en": self.instruction_en,
        }


@dataclass(frozen=True)
class Requirement:
    """One line of the review screen's checklist."""

    name: str
    title_zh: str
    title_en: str
    passed: bool
    hard: bool
    explanation_zh: str | None
    explanation_en: str | None


@dataclass(frozen=True)
class Assessment:
    measures: tuple[Measure, ...]
    frame_size: tuple[int, int]  # width, height
    face_box: Box | None = None
    landmarks: FaceLandmarks | None = None
    geometry: HeadGeometry | None = None
    crop: CropPlan | None = None
    pose: tuple[float, float, float] | None = None  # yaw, pitch, roll in degrees
    spec_version: str = ""
    elapsed_ms: float = 0.0
    full: bool = False
    # This frame's own readings before any multi-frame verdict (kiosk.photo.live): yaw, pitch,
    # roll, mouth_gap, teeth, smile.
    signals: Mapping[str, float] = field(default_factory=dict)

    @property
    def compliant(self) -> bool:
        return self.face_box is not None and all(x.passed for x in self.measures if x.hard)

    @property
    def failures(self) -> list[Measure]:
        return sorted(
            (x for x in self.measures if not x.passed), key=lambda x: (not x.hard, x.priority)
        )

    def top_instruction(self) -> Measure | None:
        """The most important failing measure (hard ones first), or None."""
        failing = self.failures
        return failing[0] if failing else None

    def measure(self, name: str) -> Measure:
        return next(x for x in self.measures if x.name == name)

    @property
    def overall_score(self) -> float:
        """0-100 to rank photos of one session: compliant ones always rank above the rest."""
        if not self.measures or self.face_box is None:
            return 0.0
        mean = float(np.mean([x.score for x in self.measures]))
        return 50.0 + mean / 2.0 if self.compliant else mean / 2.0

    def as_dict(self) -> dict[str, object]:
        top = self.top_instruction()
        return {
            "compliant": self.compliant,
            "overall_score": round(self.overall_score, 1),
            "spec_version": self.spec_version,
            "top_instruction": None
            if top is None
            else {"zh": top.instruction_zh, "en": top.instruction_en},
            "pose_deg": None if self.pose is None else [round(v, 1) for v in self.pose],
            "face_box": None
            if self.face_box is None
            else [
                round(v)
                for v in (self.face_box.x, self.face_box.y, self.face_box.w, self.face_box.h)
            ],
            "elapsed_ms": round(self.elapsed_ms, 1),
            "measures": [x.as_dict() for x in self.measures],
        }


def requirements(assessment: Assessment, spec: PhotoSpec) -> list[Requirement]:
    """Checklist for the review screen, in priority order, one line per measure."""
    by_name = {x.name: x for x in assessment.measures}
    out = []
    for name, rule in sorted(spec.measures.items(), key=lambda kv: kv[1].priority):
        found = by_name.get(name)
        passed = found is not None and found.passed
        out.append(
            Requirement(
                name=name,
                title_zh=rule.title_zh,
                title_en=rule.title_en,
                passed=passed,
                hard=rule.hard,
                explanation_zh=None if passed or found is None else found.instruction_zh,
                explanation_en=None if passed or found is None else found.instruction_en,
            )
        )
    return out


# ---------------------------------------------------------------- score mappings


def _clip(x: float) -> float:
    return float(min(100.0, max(0.0, x)))


def score_max(x: float, limit: float) -> float:
    """100 at 0, 50 at ``limit``, 0 at twice the limit."""
    return _clip(100.0 * (1.0 - 0.5 * x / limit)) if limit > 0 else (100.0 if x <= 0 else 0.0)


def score_min(x: float, limit: float) -> float:
    """50 at ``limit``, 100 at twice the limit, 0 at 0."""
    return _clip(50.0 * x / limit) if limit > 0 else 100.0


def score_band(x: float, lo: float, hi: float) -> float:
    """100 mid-band, 50 on its edges, 0 one half-band outside."""
    half = (hi - lo) / 2
    return _clip(100.0 - 50.0 * abs(x - (lo + hi) / 2) / half)


# ---------------------------------------------------------------- the engine


@dataclass
class _Track:
    box: Box
    roll: float


@dataclass(frozen=True)
class MouthSignals:
    """One frame's mouth readings (see the [face] limits of the spec)."""

    gap: float  # inner-lip gap / eye-to-chin distance
    teeth: float  # teeth-coloured pixels between the inner lips / mouth area
    width: float  # mouth width / inter-eye distance
    corner: float  # lip corners above the lip centre / eye-to-chin distance

    @property
    def as_dict(self) -> dict[str, float]:
        return {"mouth_gap": self.gap, "teeth": self.teeth, "smile_width": self.width,
                "smile_corner": self.corner}  # fmt: skip


@dataclass
class _Context:
    frame: Image
    face: FaceLandmarks
    geo: HeadGeometry
    gray_face: Image = field(init=False)  # grey face bounding box
    face_mask: Mask = field(init=False)  # face-oval hull inside that box
    # Lens reflections per eye (glare_spots): boolean mask of its lens zone, zone origin x, y.
    glare: list[tuple[Mask, int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        h, w = self.frame.shape[:2]
        box = self.face.box
        x0, y0 = max(0, int(box.x)), max(0, int(box.y))
        x1, y1 = min(w, int(box.x + box.w) + 1), min(h, int(box.y + box.h) + 1)
        roi = self.frame[y0:y1, x0:x1]
        self.gray_face = (
            cv2.cvtColor(roi, cv2.COLOR_BGR2GRAY) if roi.size else np.zeros((1, 1), np.uint8)
        )
        mask = np.zeros(self.gray_face.shape, np.uint8)
        hull = self.face.points[list(m.FACE_OVAL), :2] - np.array([x0, y0])
        cv2.fillConvexPoly(mask, cv2.convexHull(hull.astype(np.int32)), 255)
        self.face_mask = mask

    def skin_level(self) -> float:
        """Median of the weakest colour channel over the face (the skin, mostly)."""
        box = self.face.box
        x0, y0 = max(0, int(box.x)), max(0, int(box.y))
        roi = self.frame[y0 : y0 + self.face_mask.shape[0], x0 : x0 + self.face_mask.shape[1]]
        if roi.size == 0:
            return 0.0
        b, g, r = cv2.split(roi)
        weakest = cv2.min(cv2.min(b, g), r)
        mask = np.ascontiguousarray(self.face_mask[: roi.shape[0], : roi.shape[1]])
        # A histogram median: np.median over a large face costs a millisecond.
        hist = cv2.calcHist([weakest], [0], mask, [256], [0, 256]).ravel()
        total = float(hist.sum())
        return float(np.searchsorted(np.cumsum(hist), total / 2.0)) if total > 0 else 0.0


class PhotoEngine:
    """Analyse frames against a spec. Keeps a short track between live frames.

    Not thread-safe: the UI owns one engine on its analysis thread.
    """

    def __init__(self, spec: PhotoSpec, models: FaceModels | None = None) -> None:
        self.spec = spec
        self.models = models or FaceModels()
        self._track: _Track | None = None

    def reset(self) -> None:
        self._track = None

    # ------------------------------------------------------------ detection

    def _find_faces(self, frame: Image, full: bool) -> tuple[FaceLandmarks | None, float]:
        """Primary face landmarks and the area ratio of the second face (0 when alone)."""
        min_conf = self.spec.capture.face_min_confidence.value
        found = self.models.detect(frame, min_conf)
        faces: list[FaceLandmarks] = []
        # Candidates: the tracked box first in live mode (its ROI is the mesh's own, steadier
        # than a fresh detection), then detections; the mesh's face score confirms each.
        candidates: list[tuple[Box, float]] = []
        if self._track is not None and not full:
            candidates.append((self._track.box, self._track.roll))
        candidates.extend(found[:MAX_FACES])
        for box, roll in candidates:
            if any(_overlap(box, f.box) > SAME_FACE_OVERLAP for f in faces):
                continue
            face = self.models.mesh(frame, box, roll)
            if abs(face.roll_deg - roll) > REROTATE_DEG:
                face = self.models.mesh(frame, face.box, face.roll_deg)
            if face.confidence >= min_conf:
                faces.append(face)
        if not faces:
            self._track = None
            return None, 0.0
        faces.sort(key=lambda f: -f.box.area)
        primary = faces[0]
        self._track = _Track(primary.box, primary.roll_deg)
        second = faces[1].box.area / primary.box.area if len(faces) > 1 else 0.0
        return self.models.with_iris(frame, primary), second

    # ------------------------------------------------------------ analysis

    def analyse(
        self, frame_bgr: Image, *, full: bool = False, clock: Clock | None = None
    ) -> Assessment:
        """Assess one frame; ``full=True`` for a captured still (no tracking from past frames)."""
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(
                f"expected an 8-bit BGR frame, got {frame_bgr.dtype} {frame_bgr.shape}"
            )
        if frame_bgr.shape[0] * frame_bgr.shape[1] > MAX_PIXELS:
            raise ValueError(f"frame of {frame_bgr.shape[1]}x{frame_bgr.shape[0]} over the limit")
        now = clock or time.perf_counter
        t0 = now()
        spec = self.spec
        h, w = frame_bgr.shape[:2]
        if full:
            self._track = None
        face, second = self._find_faces(frame_bgr, full)
        if face is None:
            measure = self._measure("face_count", 0.0, False, 0.0, "no_face")
            return Assessment(
                (measure,),
                (w, h),
                spec_version=spec.version,
                elapsed_ms=(now() - t0) * 1e3,
                full=full,
            )
        geo = head_geometry(face, spec, frame_bgr)
        crop = plan_crop(geo, spec, w, h)
        ctx = _Context(frame_bgr, face, geo)
        ctx.glare = glare_spots(frame_bgr, face, geo.ied, spec.face, ctx.skin_level())
        # Per frame, never averaged here: kiosk.photo.live.LiveTracker makes the multi-frame
        # verdicts of a live session from these readings.
        yaw, pitch, roll = _pose(face, spec.pose)
        mouth = mouth_signals(frame_bgr, face, geo)
        glare = self._glare(ctx)
        eyes = self._eyes_open(ctx, glare.passed)
        measures = [
            self._face_count(second),
            self._head_size(geo, h, crop),
            self._centring(geo, crop, w, full),
            *pose_measures(spec, yaw, pitch, roll),
            self._eye_occlusion(ctx),
            eyes,
            *mouth_measures(spec, mouth, mouth.gap > spec.face.mouth_gap_max.value),
            glare,
            self._gaze(face),
            *self._exposure(ctx),
            self._sharpness(ctx),
            *self._background(frame_bgr, geo, crop),
            self._illumination(ctx),
            self._colour_cast(ctx),
        ]
        return Assessment(
            tuple(measures),
            (w, h),
            face_box=face.box,
            landmarks=face,
            geometry=geo,
            crop=crop,
            pose=(yaw, pitch, roll),
            spec_version=spec.version,
            elapsed_ms=(now() - t0) * 1e3,
            full=full,
            signals={
                "yaw": yaw,
                "pitch": pitch,
                "roll": roll,
                **mouth.as_dict,
                # The eyelid gap of the narrower eye, when the eyes could be judged.
                **({} if eyes.raw is None else {"eyes_open": eyes.raw}),
            },
        )

    def _measure(
        self, name: str, score: float, passed: bool, raw: float | None, key: str | None
    ) -> Measure:
        return make_measure(self.spec, name, score, passed, raw, key)

    def _face_count(self, second: float) -> Measure:
        limit = self.spec.capture.second_face_max.value
        return self._measure("face_count", score_max(second, limit), second <= limit, second, None)

    def _head_size(self, geo: HeadGeometry, frame_h: int, crop: CropPlan) -> Measure:
        c = self.spec.capture
        ratio = geo.head_height / frame_h
        lo, hi = c.head_min.value, c.head_max.value
        # Too little resolution for the output counts as "too small" as well.
        upscale_ok = crop.scale <= self.spec.output.max_upscale.value
        passed = lo <= ratio <= hi and upscale_ok
        key = "back" if ratio > hi else "closer"
        return self._measure(
            "head_size", score_band(ratio, lo, hi) if upscale_ok else 0.0, passed, ratio, key
        )

    def _centring(self, geo: HeadGeometry, crop: CropPlan, frame_w: int, full: bool) -> Measure:
        tol = self.spec.capture.centre_tolerance.value
        offset = geo.eye_mid[0] / frame_w - 0.5
        # Live guidance keeps the face near the middle so the citizen can lean a little;
        # on a still only the crop has to fit.
        centred = full or abs(offset) <= tol
        passed = crop.fits and centred
        if not crop.fits:
            key = next(
                (f for f in crop.fixes if f != "back"), crop.fixes[0] if crop.fixes else "closer"
            )
            raw = crop.overflow
            score = _clip(50.0 - 100.0 * crop.overflow)
        else:
            # Face on the image's left = the citizen stands to their right: ask them to move left.
            key = "move_left" if offset < 0 else "move_right"
            raw = abs(offset)
            score = score_max(abs(offset), tol)
            if full:  # off-centre but croppable: passes, so the score stays at 50 or above
                score = max(score, 50.0)
        return self._measure("centring", score, passed, raw, key)

    def _eyes_open(self, ctx: _Context, glare_passed: bool) -> Measure:
        face = ctx.face
        if face.eyelids is not None:
            # The iris network's eyelids follow a closing lid; the coarse mesh keeps a prior
            # open-eye shape (it scored painted-shut eyes as open in our tests). When the
            # photo fails for glare, an eye under the reflection is not judged: the network
            # reads the white patch as a lid (a reflection over a wide-open eye read 0.15),
            # and "tilt your glasses" is the instruction that helps.
            ratios = [
                _lid_aspect(lid)
                for eye, lid in enumerate(face.eyelids)
                if glare_passed or _glare_over_eye(ctx, eye) < GLARE_HIDES_EYE
            ]
        else:
            ratios = [
                _eye_aspect(face, m.EYE_A_OUTER, m.EYE_A_INNER, m.EYE_A_UPPER, m.EYE_A_LOWER),
                _eye_aspect(face, m.EYE_B_OUTER, m.EYE_B_INNER, m.EYE_B_UPPER, m.EYE_B_LOWER),
            ]
        return eyes_measure(self.spec, min(ratios) if ratios else None, None)

    def _gaze(self, face: FaceLandmarks) -> Measure:
        limit = self.spec.face.gaze_max.value
        if face.iris is None:
            return self._measure("gaze", 50.0, True, None, None)
        # Iris centre relative to the middle of the eye-corner segment, in eye widths, along
        # the image's x axis (both eyes move the same way when the gaze moves) and across it.
        along, across = [], []
        for i, (p_index, q_index) in enumerate(
            ((m.EYE_A_OUTER, m.EYE_A_INNER), (m.EYE_B_INNER, m.EYE_B_OUTER))
        ):
            p, q = face.point(p_index), face.point(q_index)
            axis = q - p  # points to the image's right for both eyes
            width2 = max(float(axis @ axis), 1e-6)
            rel = face.iris[i] - (p + q) / 2
            along.append(float(rel @ axis) / width2)
            across.append(float(rel[1] * axis[0] - rel[0] * axis[1]) / width2)
        raw = math.hypot(float(np.mean(along)), float(np.mean(across)))
        return self._measure("gaze", score_max(raw, limit), raw <= limit, raw, None)

    def _eye_regions(self, ctx: _Context) -> list[tuple[Mask, int, int]]:
        """Eye-contour masks (with their ROI origin) for each eye."""
        out = []
        h, w = ctx.frame.shape[:2]
        for contour in (m.EYE_A_CONTOUR, m.EYE_B_CONTOUR):
            pts = ctx.face.points[list(contour), :2]
            lo = np.floor(pts.min(axis=0)).astype(int)
            hi = np.ceil(pts.max(axis=0)).astype(int) + 1
            x0, y0 = max(0, int(lo[0])), max(0, int(lo[1]))
            x1, y1 = min(w, int(hi[0])), min(h, int(hi[1]))
            mask = np.zeros((max(1, y1 - y0), max(1, x1 - x0)), np.uint8)
            cv2.fillPoly(mask, [(pts - [x0, y0]).astype(np.int32)], 255)
            out.append((mask, x0, y0))
        return out

    def _eye_occlusion(self, ctx: _Context) -> Measure:
        face_mean = max(float(cv2.mean(ctx.gray_face, ctx.face_mask)[0]), 1.0)
        spreads = []
        for mask, x0, y0 in self._eye_regions(ctx):
            roi = ctx.frame[y0 : y0 + mask.shape[0], x0 : x0 + mask.shape[1]]
            gray = cv2.cvtColor(roi, cv2.COLOR_BGR2GRAY) if roi.size else np.zeros((1, 1), np.uint8)
            values = gray[mask[: gray.shape[0], : gray.shape[1]] > 0]
            if values.size < 4:
                spreads.append(0.0)
                continue
            # An open, uncovered eye holds dark iris and bright sclera; hair, a hand or a dark
            # lens over it flattens the spread.
            lo, hi = np.percentile(values, (5, 95))
            spreads.append(float(hi - lo) / face_mean)
        raw = min(spreads)
        limit = self.spec.face.occlusion_contrast_min.value
        return self._measure("eye_occlusion", score_min(raw, limit), raw >= limit, raw, None)

    def _glare(self, ctx: _Context) -> Measure:
        """Reflections on spectacle lenses (see :func:`glare_spots`): their area in both lens
        zones, in IED^2."""
        count = sum(int(np.count_nonzero(spots)) for spots, _, _ in ctx.glare)
        raw = count / max(ctx.geo.ied**2, 1.0)
        limit = self.spec.face.glare_share_max.value
        return self._measure("glare", score_max(raw, limit), raw <= limit, raw, None)

    def _exposure(self, ctx: _Context) -> list[Measure]:
        li = self.spec.light
        values = ctx.gray_face[ctx.face_mask > 0]
        if values.size == 0:
            values = np.zeros(1, np.uint8)
        n = float(values.size)
        under = float(np.count_nonzero(values <= li.dark_level.value)) / n
        over = float(np.count_nonzero(values >= li.bright_level.value)) / n
        mean = float(values.mean()) / 255.0
        # Each side fails on its clipped-pixel share or on the face mean leaving the band.
        mean_score = score_band(mean, li.mean_min.value, li.mean_max.value)
        under_score = min(
            score_max(under, li.under_share_max.value),
            100.0 if mean >= li.mean_min.value else mean_score,
        )
        over_score = min(
            score_max(over, li.over_share_max.value),
            100.0 if mean <= li.mean_max.value else mean_score,
        )
        return [
            self._measure("underexposure", under_score, under_score >= 50.0, under, None),
            self._measure("overexposure", over_score, over_score >= 50.0, over, None),
        ]

    def _sharpness(self, ctx: _Context) -> Measure:
        li = self.spec.light
        k = li.sharpness_ied_px.value / max(ctx.geo.ied, 1.0)
        gray = ctx.gray_face
        mask = ctx.face_mask
        if k < 1.0:
            size = (max(1, round(gray.shape[1] * k)), max(1, round(gray.shape[0] * k)))
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
            mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
        inner = cv2.erode(mask, np.ones((3, 3), np.uint8), iterations=2) > 0
        if not inner.any():
            inner = np.ones(gray.shape, bool)
        pixels = gray.astype(np.float32)
        # Second differences along four directions: motion blur flattens only the direction
        # of movement, so the weakest direction decides. Divided by the face's own variance
        # so that light level and contrast do not count as sharpness.
        energy = min(
            float(cv2.filter2D(pixels, -1, kernel)[inner].var()) for kernel in _SECOND_DIFFERENCES
        )
        raw = energy / max(float(pixels[inner].var()), 1.0)
        limit = li.sharpness_min.value
        return self._measure("sharpness", score_min(raw, limit), raw >= limit, raw, None)

    def _background(self, frame: Image, geo: HeadGeometry, crop: CropPlan) -> list[Measure]:
        b = self.spec.background
        view, valid = _portrait_view(frame, crop)
        scale = view.shape[1] / crop.w
        bg = valid & _background_mask(view.shape[:2], geo, crop, scale)
        lab = cv2.cvtColor(view, cv2.COLOR_BGR2Lab).astype(np.float32)
        lab_real = np.dstack(
            [lab[..., 0] * 100.0 / 255.0, lab[..., 1] - 128.0, lab[..., 2] - 128.0]
        )
        if np.count_nonzero(bg) < 16:
            return [
                self._measure("background_uniformity", 0.0, False, None, None),
                self._measure("background_colour", 0.0, False, None, None),
            ]
        y = cv2.cvtColor(view, cv2.COLOR_BGR2GRAY).astype(np.float32)
        sobel = cv2.magnitude(cv2.Sobel(y, cv2.CV_32F, 1, 0), cv2.Sobel(y, cv2.CV_32F, 0, 1))
        inner = cv2.erode(bg.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        sobel_mean = float(sobel[inner].mean()) / 4.0 if inner.any() else 0.0  # /4: Sobel gain
        ls = lab_real[..., 0][bg]
        spread = float(ls.std())
        hh, ww = bg.shape
        lum = lab_real[..., 0]
        # Shadow or gradient: mean L* of the left vs right and top vs bottom halves.
        halves = (
            (bg[:, : ww // 2], lum[:, : ww // 2], bg[:, ww // 2 :], lum[:, ww // 2 :]),
            (bg[: hh // 2], lum[: hh // 2], bg[hh // 2 :], lum[hh // 2 :]),
        )
        gradient = max(
            (
                abs(float(la[ma].mean()) - float(lb[mb].mean()))
                for ma, la, mb, lb in halves
                if ma.any() and mb.any()
            ),
            default=0.0,
        )
        uniform_raw = max(
            sobel_mean / b.sobel_max.value,
            spread / b.lab_spread_max.value,
            gradient / b.gradient_max.value,
        )
        uniform = self._measure(
            "background_uniformity",
            score_max(uniform_raw, 1.0),
            uniform_raw <= 1.0,
            uniform_raw,
            None,
        )
        mean_lab = np.array([float(lab_real[..., c][bg].mean()) for c in range(3)])
        distance = min(
            float(np.linalg.norm(mean_lab - [col.l.value, col.a.value, col.b.value]))
            for name, col in b.colours.items()
            if name in b.allowed
        )
        limit = b.colour_distance_max.value
        colour = self._measure(
            "background_colour", score_max(distance, limit), distance <= limit, distance, None
        )
        return [uniform, colour]

    def _cheeks(self, ctx: _Context) -> list[Image]:
        side = max(2, int(CHEEK_SIDE * ctx.geo.ied))
        out = []
        h, w = ctx.frame.shape[:2]
        for eye in (ctx.face.eye_a, ctx.face.eye_b):
            cx, cy = eye[0], eye[1] + CHEEK_BELOW_EYE * ctx.geo.ied
            x0, y0 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
            out.append(ctx.frame[y0 : min(h, y0 + side), x0 : min(w, x0 + side)])
        return out

    def _illumination(self, ctx: _Context) -> Measure:
        hists = []
        for cheek in self._cheeks(ctx):
            gray = (
                cv2.cvtColor(cheek, cv2.COLOR_BGR2GRAY)
                if cheek.size
                else np.zeros((1, 1), np.uint8)
            )
            hist = cv2.calcHist([gray], [0], None, [32], [0, 256]).ravel()
            hists.append(hist / max(float(hist.sum()), 1.0))
        raw = float(np.minimum(hists[0], hists[1]).sum())
        limit = self.spec.light.symmetry_min.value
        return self._measure("illumination", score_min(raw, limit), raw >= limit, raw, None)

    def _colour_cast(self, ctx: _Context) -> Measure:
        li = self.spec.light
        pixels = [c.reshape(-1, 3) for c in self._cheeks(ctx) if c.size]
        if not pixels:
            return self._measure("colour_cast", 0.0, False, None, None)
        lab = (
            cv2.cvtColor(np.concatenate(pixels)[None, :, :], cv2.COLOR_BGR2Lab)
            .reshape(-1, 3)
            .astype(np.float64)
        )
        a, b = float(np.median(lab[:, 1])) - 128.0, float(np.median(lab[:, 2])) - 128.0
        excess = math.hypot(
            max(0.0, li.cheek_a_min.value - a, a - li.cheek_a_max.value),
            max(0.0, li.cheek_b_min.value - b, b - li.cheek_b_max.value),
        )
        score = min(
            score_band(a, li.cheek_a_min.value, li.cheek_a_max.value),
            score_band(b, li.cheek_b_min.value, li.cheek_b_max.value),
        )
        return self._measure("colour_cast", score, score >= 50.0, excess, None)


# ---------------------------------------------------------------- verdicts shared with live


def make_measure(  # noqa: PLR0917 - the Measure's own fields, in order
    spec: PhotoSpec, name: str, score: float, passed: bool, raw: float | None, key: str | None
) -> Measure:
    rule = spec.rule(name)
    text = None if passed else spec.instruction(key or name)
    return Measure(
        name=name,
        score=score,
        passed=passed,
        raw=raw,
        hard=rule.hard,
        priority=rule.priority,
        instruction_zh=None if text is None else text.zh,
        instruction_en=None if text is None else text.en,
        instruction_key=None if passed else (key or name),
    )


def pose_measures(spec: PhotoSpec, yaw: float, pitch: float, roll: float) -> list[Measure]:
    """Yaw, pitch and roll verdicts. Positive yaw: the head is turned to the citizen's left
    (nose towards the image's right), so they should turn right; positive pitch: looking
    down. Pitch is allowed ``pitch_spread`` beyond its limit: the estimator's per-person
    bias on level heads, which is not pose."""
    p = spec.pose
    pitch_limit = p.pitch_max.value + p.pitch_spread.value
    angles = (
        ("yaw", yaw, p.yaw_max.value, "turn_right" if yaw > 0 else "turn_left"),
        ("pitch", pitch, pitch_limit, "chin_up" if pitch > 0 else "chin_down"),
        ("roll", roll, p.roll_max.value, "roll"),
    )
    return [
        make_measure(spec, name, score_max(abs(value), limit), abs(value) <= limit, value, key)
        for name, value, limit, key in angles
    ]


def eyes_measure(spec: PhotoSpec, ratio: float | None, open_level: float | None) -> Measure:
    """``eyes_open`` from the narrower eye's lid aspect (eyelid gap / eye width).

    Alone (a still) the eye must be open beyond ``eyes_open_min``: shut and nearly shut eyes.
    A half-closed eye (a blink reopening, a wink, lids lowered) reads like a narrow open eye of
    another person, so alone it cannot be told; with ``open_level``, the citizen's own open
    aspect over the live session (kiosk.photo.live.LiveTracker), the eye must also be open to
    ``eyes_open_relative`` of it. ``ratio`` None: no eye could be judged (hidden by glare).
    """
    if ratio is None:
        return make_measure(spec, "eyes_open", 50.0, True, None, None)
    f = spec.face
    limit = f.eyes_open_min.value
    if open_level is not None:
        limit = max(limit, f.eyes_open_relative.value * open_level)
    return make_measure(spec, "eyes_open", score_min(ratio, limit), ratio >= limit, ratio, None)


def mouth_measures(spec: PhotoSpec, mouth: MouthSignals, open_now: bool) -> list[Measure]:
    """``expression`` (a smile showing teeth) and ``mouth_closed`` (lips apart: open mouth,
    talking). ``open_now``: the lips count as apart (one frame, or most of a live window)."""
    f = spec.face
    showing = open_now or mouth.teeth > f.teeth_share_max.value
    smile = max(mouth.width / f.smile_width_max.value, mouth.corner / f.smile_corner_max.value)
    smiling = showing and smile > 1.0
    smile_score = _clip(100.0 * (1.0 - 0.5 * smile))
    expression = make_measure(
        spec,
        "expression",
        smile_score if smiling else max(50.0, smile_score),
        not smiling,
        smile,
        None,
    )
    closed_score = min(
        score_max(mouth.gap, f.mouth_gap_max.value),
        score_max(mouth.teeth, f.teeth_share_max.value),
    )
    if open_now:
        closed_score = min(closed_score, 49.0)
    elif not showing:
        closed_score = max(closed_score, 50.0)
    closed = make_measure(
        spec, "mouth_closed", closed_score, not showing, mouth.gap, "mouth_closed"
    )
    return [expression, closed]


def mouth_signals(frame: Image, face: FaceLandmarks, geo: HeadGeometry) -> MouthSignals:
    """Lip geometry from the mesh, and the teeth seen between the lips.

    The mesh alone reads some smiles as nearly closed lips; teeth are the second signal:
    pixels between the inner lips clearly brighter and less coloured than the lips
    themselves (relative to the lips, so skin tone and light level do not matter).
    """
    t = max(geo.eye_chin, 1e-6)
    gap = float(
        np.mean([np.linalg.norm(face.point(a) - face.point(b)) for a, b in m.LIP_INNER_PAIRS])
    )
    corner_a, corner_b = face.point(m.MOUTH_A), face.point(m.MOUTH_B)
    width = float(np.linalg.norm(corner_b - corner_a)) / max(geo.ied, 1e-6)
    # Corner lift measured across the eye line (so a tilted head does not count).
    eye_axis = face.eye_b - face.eye_a
    normal = np.array([eye_axis[1], -eye_axis[0]]) / max(float(np.linalg.norm(eye_axis)), 1e-6)
    centre = (face.point(m.LIP_UPPER_INNER) + face.point(m.LIP_LOWER_INNER)) / 2
    corner = float(((corner_a + corner_b) / 2 - centre) @ normal) / t
    return MouthSignals(gap / t, _teeth_share(frame, face, geo), width, corner)


def _teeth_share(frame: Image, face: FaceLandmarks, geo: HeadGeometry) -> float:
    outer = np.vstack(
        [face.points[list(m.LIP_UPPER_OUTER_CONTOUR), :2],
         face.points[list(m.LIP_LOWER_OUTER_CONTOUR[::-1]), :2]]
    )  # fmt: skip
    inner = np.vstack(
        [face.points[list(m.LIP_UPPER_INNER_CONTOUR), :2],
         face.points[list(m.LIP_LOWER_INNER_CONTOUR[::-1]), :2]]
    )  # fmt: skip
    h, w = frame.shape[:2]
    x0, y0 = np.floor(outer.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(outer.max(axis=0)).astype(int) + 3
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    if x1 - x0 < 3 or y1 - y0 < 3:
        return 0.0
    roi = np.ascontiguousarray(frame[y0:y1, x0:x1])
    shape = roi.shape[:2]
    mouth = np.zeros(shape, np.uint8)
    cv2.fillPoly(mouth, [np.round(outer - [x0, y0]).astype(np.int32)], 1)
    lip_line = np.zeros(shape, np.uint8)
    cv2.fillPoly(lip_line, [np.round(inner - [x0, y0]).astype(np.int32)], 1)
    # The mesh's inner lip line sits on the teeth's edge in a smile: widen it a little.
    k = max(1, round(TEETH_MARGIN * geo.eye_chin))
    between = np.asarray(cv2.dilate(lip_line, np.ones((2 * k + 1, 2 * k + 1), np.uint8)))
    lips = (mouth > 0) & (between == 0)
    if np.count_nonzero(lips) < 8 or not between.any():
        return 0.0
    lab = cv2.cvtColor(roi, cv2.COLOR_BGR2Lab).astype(np.float32)
    chroma = np.hypot(lab[..., 1] - 128.0, lab[..., 2] - 128.0)
    lip_l = float(np.median(lab[..., 0][lips]))
    lip_c = float(np.median(chroma[lips]))
    teeth = (
        (between > 0)
        & (lab[..., 0] > lip_l + TEETH_LIGHTER)
        & (chroma < TEETH_CHROMA * lip_c + TEETH_CHROMA_FLOOR)
    )
    return float(np.count_nonzero(teeth)) / max(float(np.count_nonzero(mouth)), 1.0)


def glare_spots(
    frame: Image, face: FaceLandmarks, ied: float, limits: FaceSpec, skin: float
) -> list[tuple[Mask, int, int]]:
    """Reflections on spectacle lenses, per eye: (mask over its lens zone, zone x, zone y).

    A reflection is light added to the glass: white, so even its weakest colour channel is
    bright. A pixel is a candidate when its weakest channel lies ``glare_rise`` of the way up to
    white from both the lens zone's median and ``skin`` (the face's median weakest channel),
    and over ``glare_value_min``: relative, so it holds on dark, warm and pale faces alike,
    and a dark patch over the eye does not make the skin beside it a reflection. Candidates
    are grouped into spots (holes a reflection leaves over lashes closed first) and a spot
    counts unless it is
    * no brighter than its own surround by ``glare_edge_min`` (a brightly lit cheek or hand:
      a reflection stands out of what lies around it),
    * the eye's own catch-light (small, on the iris),
    * the white of the eye (inside the eyelids, away from the iris),
    * a thin shine that does not cross the eye (the rim of the spectacle frame).
    """
    h, w = frame.shape[:2]
    out: list[tuple[Mask, int, int]] = []
    for eye, centre in enumerate((face.eye_a, face.eye_b)):
        x0 = max(0, int(centre[0] - LENS_HALF_WIDTH * ied))
        x1 = min(w, int(centre[0] + LENS_HALF_WIDTH * ied) + 1)
        y0 = max(0, int(centre[1] - LENS_HALF_HEIGHT * ied))
        y1 = min(h, int(centre[1] + LENS_HALF_HEIGHT * ied) + 1)
        if x1 - x0 < 3 or y1 - y0 < 3:  # the eye at the frame's edge: nothing to see
            out.append((np.zeros((0, 0), bool), x0, y0))
            continue
        weakest = frame[y0:y1, x0:x1].min(axis=2)
        level = max(float(np.median(weakest)), skin)
        bright = max(limits.glare_value_min.value, level + limits.glare_rise.value * (255 - level))
        hot = cv2.morphologyEx(
            (weakest >= bright).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)
        )
        out.append((_reflections(hot, weakest, face, eye, (x0, y0), ied, limits), x0, y0))
    return out


def _reflections(  # noqa: PLR0917 - one lens zone's readings
    hot: Mask,
    weakest: Image,
    face: FaceLandmarks,
    eye: int,
    origin: tuple[int, int],
    ied: float,
    limits: FaceSpec,
) -> Mask:
    """The spots of ``hot`` that are reflections (see glare_spots)."""
    keep = np.zeros(hot.shape, bool)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(hot, connectivity=8)
    if count <= 1:
        return keep
    eye_zone, iris = _eye_masks(hot.shape, face, eye, origin, ied)
    thickness = cv2.distanceTransform(hot, cv2.DIST_L2, 3)
    ring_size = max(3, round(GLARE_SURROUND * ied) | 1)
    ring_kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (ring_size, ring_size))
    smallest = max(GLARE_NOISE_PX, (GLARE_MIN_SPOT * ied) ** 2)
    for label in range(1, count):
        if stats[label, cv2.CC_STAT_AREA] < smallest:
            continue
        spot = labels == label
        ring = (cv2.dilate(spot.astype(np.uint8), ring_kernel) > 0) & (hot == 0)
        # Against the brighter part of the band: lit skin beside a dark patch (hair, a hand's
        # shadow) has skin of its own brightness on some side; a reflection has none.
        if not ring.any() or (
            float(weakest[spot].mean()) - float(np.percentile(weakest[ring], SURROUND_PERCENTILE))
            < limits.glare_edge_min.value
        ):
            continue  # not brighter than what lies around it: lit skin, not a reflection
        on_iris = bool(iris[spot].any())
        area = float(stats[label, cv2.CC_STAT_AREA])
        if on_iris and area < (GLARE_CATCH_LIGHT * ied) ** 2:
            continue  # the eye's own catch-light
        if not on_iris and float(eye_zone[spot].mean()) >= SCLERA_INSIDE:
            continue  # the white of the eye
        thin = 2.0 * float(thickness[spot].max()) < GLARE_MIN_BLOB * ied
        if thin and not (eye_zone[spot].any() or on_iris):
            continue  # a shine along the spectacle frame, away from the eye
        keep |= spot
    return keep


def _glare_over_eye(ctx: _Context, eye: int) -> float:
    """Share of the eye (its eyelids widened by EYE_MARGIN) covered by lens reflections."""
    if eye >= len(ctx.glare) or ctx.face.eyelids is None:
        return 0.0
    spots, x0, y0 = ctx.glare[eye]
    if not spots.any():
        return 0.0
    lids = np.zeros(spots.shape, np.uint8)
    cv2.fillPoly(lids, [np.round(ctx.face.eyelids[eye] - [x0, y0]).astype(np.int32)], 1)
    size = max(3, round(2 * EYE_MARGIN * ctx.geo.ied) | 1)
    zone = cv2.dilate(lids, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))) > 0
    return float(spots[zone].mean()) if zone.any() else 0.0


def _eye_masks(
    shape: tuple[int, ...], face: FaceLandmarks, eye: int, origin: tuple[int, int], ied: float
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Inside the eyelids, and the iris disc, in a lens zone's pixels."""
    inside = np.zeros(shape[:2], np.uint8)
    iris = np.zeros(shape[:2], np.uint8)
    if face.eyelids is not None:
        cv2.fillPoly(inside, [np.round(face.eyelids[eye] - origin).astype(np.int32)], 1)
    if face.iris is not None:
        radius = float(face.iris_radius[eye]) if face.iris_radius is not None else IRIS_RADIUS * ied
        centre = np.round(face.iris[eye] - origin).astype(int)
        cv2.circle(iris, (int(centre[0]), int(centre[1])), max(1, round(radius)), 1, -1)
    return inside > 0, iris > 0


# ---------------------------------------------------------------- helpers

_SECOND_DIFFERENCES = (
    np.array([[1, -2, 1]], np.float32),
    np.array([[1], [-2], [1]], np.float32),
    np.array([[1, 0, 0], [0, -2, 0], [0, 0, 1]], np.float32),
    np.array([[0, 0, 1], [0, -2, 0], [1, 0, 0]], np.float32),
)


def _overlap(a: Box, b: Box) -> float:
    x0, y0 = max(a.x, b.x), max(a.y, b.y)
    x1, y1 = min(a.x + a.w, b.x + b.w), min(a.y + a.h, b.y + b.h)
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    return inter / max(min(a.area, b.area), 1e-6)


def _eye_aspect(
    face: FaceLandmarks, outer: int, inner: int, upper: Sequence[int], lower: Sequence[int]
) -> float:
    width = float(np.linalg.norm(face.point(outer) - face.point(inner)))
    gaps = [
        float(np.linalg.norm(face.point(u) - face.point(lo)))
        for u, lo in zip(upper, lower, strict=True)
    ]
    return sum(gaps) / len(gaps) / max(width, 1e-6)


def _lid_aspect(lid: npt.NDArray[np.float64]) -> float:
    width = float(np.linalg.norm(lid[m.EYELID_CORNERS[0]] - lid[m.EYELID_CORNERS[1]]))
    gaps = [float(np.linalg.norm(lid[a] - lid[b])) for a, b in m.EYELID_PAIRS]
    return sum(gaps) / len(gaps) / max(width, 1e-6)


def _pose(face: FaceLandmarks, pose: PoseSpec) -> tuple[float, float, float]:
    """Yaw and pitch from the mesh depth over several point pairs, roll from the eye line.

    solvePnP with a generic head model was tried first: its pitch carries the citizen's
    nose length (10-25 degrees on frontal test photos) and its yaw jumped by 10+ degrees
    between near-identical frames. The mesh depth is steadier, and summing six symmetric
    pairs (eyes, mouth, cheeks, jaw) and five vertical ones steadies it further. The spec
    supplies the depth scale (calibrated on faces of known yaw) and the level-face pitch.
    """
    pts = face.points
    across = sum((pts[b] - pts[a] for a, b in m.YAW_PAIRS), np.zeros(3))
    yaw = math.degrees(math.atan2(pose.depth_scale.value * float(across[2]), float(across[0])))
    along = sum((pts[b] - pts[a] for a, b in m.PITCH_PAIRS), np.zeros(3))
    pitch = math.degrees(math.atan2(pose.depth_scale.value * float(along[2]), float(along[1])))
    return yaw, pitch - pose.pitch_offset.value, face.roll_deg


def _portrait_view(frame: Image, crop: CropPlan) -> tuple[Image, npt.NDArray[np.bool_]]:
    """The crop resampled to a small fixed width, with a mask of pixels inside the frame."""
    width = PORTRAIT_VIEW_WIDTH
    height = round(width * crop.h / crop.w)
    k = width / crop.w
    mat = np.array([[k, 0, -crop.x * k], [0, k, -crop.y * k]], dtype=np.float64)
    view = cv2.warpAffine(
        frame, mat, (width, height), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT
    )
    ones = np.full(frame.shape[:2], 255, np.uint8)
    valid = cv2.warpAffine(ones, mat, (width, height), flags=cv2.INTER_NEAREST) > 0
    return view, valid


def _background_mask(
    shape: tuple[int, int], geo: HeadGeometry, crop: CropPlan, scale: float
) -> npt.NDArray[np.bool_]:
    """Pixels of the portrait view outside a head-and-shoulders silhouette."""
    h, w = shape
    mask = np.full((h, w), 255, np.uint8)
    head = geo.head_height * scale
    cx = (geo.eye_mid[0] - crop.x) * scale
    cy = ((geo.crown_y + geo.chin_y) / 2 - crop.y) * scale
    cv2.ellipse(
        mask,
        (round(cx), round(cy)),
        (round(HEAD_HALF_WIDTH * head), round(HEAD_HALF_HEIGHT * head)),
        0,
        0,
        360,
        0,
        -1,
    )
    chin = (geo.chin_y - crop.y) * scale
    shoulders = max(0, min(h, round(chin + SHOULDER_BELOW_CHIN * head)))
    mask[shoulders:, :] = 0
    neck = round(NECK_HALF_WIDTH * head)
    mask[max(0, round(chin)) : shoulders, max(0, round(cx) - neck) : max(0, round(cx) + neck)] = 0
    return mask > 0
