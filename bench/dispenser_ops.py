"""Benchmark: one card handed out (status + dispense to gate + wait until taken) through the
real drivers and their simulators over a pseudo-terminal, with pacing off (pty speed) and on
(bytes at 9600 baud), for the CRT-591 and the K720; plus the frame rate the OpenCV driver
measures on the camera simulator.

The simulated mechanics take no time (move_s=0) and the simulated citizen takes the card at
once, so the numbers are the protocol's own cost. Run alone it prints one JSON object;
bench/devices.py imports ``dispense_samples`` (an operation taking ``(pace, rounds)``
and returning seconds per round), ``measure_dispenser_ops`` and ``measure_camera_fps``.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devices.drivers.crt591 import Crt591Dispenser
from devices.drivers.k720 import K720Dispenser
from devices.drivers.opencv_camera import OpenCvCamera
from devices.simulators.camera import CameraSimulator
from devices.simulators.crt591 import Crt591Simulator
from devices.simulators.k720 import K720Simulator

MODELS = {
    "crt591": (Crt591Simulator, Crt591Dispenser),
    "k720": (K720Simulator, K720Dispenser),
}


def dispense_samples(
    pace: bool, rounds: int, model: str = "crt591", baud: int = 9600
) -> list[float]:
    """Seconds per hand-out (status + dispense to gate + taken), one sample per round."""
    return _run_model(model, pace=pace, rounds=rounds, baud=baud)[0]


def _run_model(
    model: str, *, pace: bool, rounds: int, baud: int
) -> tuple[list[float], dict[str, object]]:
    sim_class, driver_class = MODELS[model]
    sim = sim_class(baud=baud, pace=pace, move_s=0.0, take_after_s=0.0, initialised=True)
    port = sim.start()
    driver = driver_class.from_settings("dispenser", {"port": port, "baud": baud})
    driver.open()
    samples: list[float] = []
    try:
        for _ in range(rounds):
            start = time.perf_counter()
            driver.read_status(timeout_s=5)
            driver.dispense_to_gate(timeout_s=5)
            if not driver.wait_taken(timeout_s=5):
                raise RuntimeError("card not taken")
            samples.append(time.perf_counter() - start)
        stats = driver.statistics()
    finally:
        driver.close()
        sim.stop()
    return samples, stats


def _one_model(model: str, *, pace: bool, rounds: int, baud: int) -> dict[str, object]:
    samples, stats = _run_model(model, pace=pace, rounds=rounds, baud=baud)
    samples.sort()
    return {
        "rounds": rounds,
        "median_ms": round(statistics.median(samples) * 1000, 2),
        "p95_ms": round(samples[int(0.95 * (len(samples) - 1))] * 1000, 2),
        "frames_sent": stats["frames_sent"],
        "resends": stats["resends"],
    }


def measure_dispenser_ops(rounds: int = 30, baud: int = 9600) -> dict[str, object]:
    """One dispense (status + dispense + taken) per model, pacing off and on."""
    result: dict[str, object] = {"baud": baud, "move_s": 0.0}
    for model in MODELS:
        result[model] = {
            "unpaced": _one_model(model, pace=False, rounds=rounds, baud=baud),
            "paced": _one_model(model, pace=True, rounds=max(5, rounds // 3), baud=baud),
        }
    return result


def measure_camera_fps(
    seconds: float = 3.0, width: int = 1280, height: int = 720, fps: float = 25.0
) -> dict[str, object]:
    """Frame rate and counters the OpenCV driver measures on the simulator's clip."""
    with CameraSimulator(width=width, height=height, fps=fps, clip_s=1.0, seed=1) as sim:
        camera = OpenCvCamera("camera", source=sim.path, width=width, height=height, fps=fps)
        camera.open()
        try:
            camera.wait_frame(0, timeout_s=5)
            time.sleep(seconds)
            stats = camera.camera_stats().as_dict()
        finally:
            camera.close()
    return {"seconds": seconds, **stats}


def main() -> int:
    print(
        json.dumps(
            {
                "dispenser_ops": measure_dispenser_ops(),
                "camera_sim_720p": measure_camera_fps(),
                "camera_sim_480p": measure_camera_fps(width=640, height=480),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
