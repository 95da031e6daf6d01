"""``kiosk demo``: drive the real app offscreen with a scripted citizen, save a PNG of every
screen it passes and a JSON transcript (screen, event, timestamp)."""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop
from PySide6.QtGui import QImage

from kiosk.config import KioskConfig
from kiosk.core.clock import ManualClock
from kiosk.core.runner import ViewState
from kiosk.core.views import View, lookup
from kiosk.core.voice import Voice
from kiosk.demo import demo_script
from kiosk.terminals.photo.views import PhotoLiveView
from kiosk.terminals.renewal.record import EndorseRecord
from kiosk.terminals.script import Act, Advance, Expect, Step, Tap
from ui.audit import Finding, as_dicts, audit_window
from ui.guide import BusyBar, Pictogram
from ui.shell import Shell, build_shell, qt_application
from ui.theme import DESIGN_HEIGHT, DESIGN_WIDTH, touch_min_px

log = logging.getLogger(__name__)


class DemoFailed(Exception):
    pass


@dataclass
class Recorder:
    """Saves a screenshot whenever what the citizen sees changes."""

    shell: Shell
    out: Path
    clock: ManualClock
    transcript: list[dict[str, Any]] = field(default_factory=list)
    shots: list[str] = field(default_factory=list)
    # Every screenshot's screen checked in every offered language (ui.audit).
    audits: list[dict[str, Any]] = field(default_factory=list)
    languages: tuple[str, ...] = ("zh", "en")
    touch_px: int = 96
    # Views shown since the script's last expectation: a step the flow passes through while
    # the recorder was busy saving a screen still counts as reached.
    seen: list[ViewState] = field(default_factory=list)
    last_event: str = "start"
    _last_key: tuple[Any, ...] | None = None

    def on_view(self, view: ViewState) -> None:
        self.seen.append(view)
        pump()
        overlay = self.shell.window.overlay
        seconds = overlay.seconds_left() if view.still_there_until is not None else None
        key = (
            view.screen,
            view.state,
            view.language,
            view.large_text,
            seconds,
            signature(view.view),
        )
        entry = {
            "t": round(self.clock.monotonic() - 1000.0, 3),
            "wall": self.clock.now().isoformat(),
            "screen": view.screen,
            "state": view.state,
            "language": view.language,
            "large_text": view.large_text,
            "overlay": "still_there" if view.still_there_until is not None else None,
            "event": self.last_event,
        }
        if key != self._last_key:
            self._last_key = key
            entry["png"] = self.snap(view)
        self.transcript.append(entry)

    def snap(self, view: ViewState) -> str:
        overlay = "-still-there" if view.still_there_until is not None else ""
        size = "-large" if view.large_text else ""
        name = f"{len(self.shots) + 1:03d}-{view.state}{overlay}-{view.language}{size}.png"
        if view.still_there_until is not None:
            self.shell.window.overlay.refresh()  # the countdown follows the injected clock
        pump()
        window = self.shell.window
        image = window.grab()
        image.save(str(self.out / name))
        self.shots.append(name)
        self._audit(name, view, image.toImage())
        return name

    def _audit(self, name: str, view: ViewState, image: QImage) -> None:
        """The screen as shown, then in each other language (rendered, checked, and the
        screen put back as it was)."""
        window = self.shell.window
        self._record_audit(name, view, image)
        others = [lang for lang in self.languages if lang != view.language]
        for language in others:
            window.render(replace(view, language=language))
            if view.still_there_until is not None:
                window.overlay.refresh()
            pump()
            pump()  # a new language re-lays the header out in a second pass
            self._record_audit(name, replace(view, language=language), window.grab().toImage())
        if others:
            window.render(view)
            pump()

    def _record_audit(self, name: str, view: ViewState, image: QImage) -> None:
        window = self.shell.window
        findings = audit_window(window, image, large_text=view.large_text, touch_px=self.touch_px)
        size = (image.width(), image.height())
        if size != (DESIGN_WIDTH, DESIGN_HEIGHT):
            findings.append(Finding("fit", "window", "", f"window is {size[0]}x{size[1]}"))
        self.audits.append({"png": name, "language": view.language, "findings": as_dicts(findings)})


def signature(view: View) -> str:
    """What makes a screen look different: live coaching counts by its instruction and
    verdict, not by every face-box wobble."""
    data: dict[str, Any] = {"screen": view.screen, **asdict(view)}
    if isinstance(view, PhotoLiveView):
        live = view.live
        data["live"] = (live.compliant, lookup(live, "instruction.measure")) if live else None
    return json.dumps(data, sort_keys=True, default=lambda v: f"<{type(v).__name__}>")


def pump(seconds: float = 0.0) -> None:
    """Process Qt events (device results arrive through the dispatcher)."""
    end = time.monotonic() + seconds
    while True:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        if time.monotonic() >= end:
            return
        time.sleep(0.01)


class World:
    """The simulated world around the kiosk: cards, the person in front of the camera, paper."""

    def __init__(self, shell: Shell, recorder: Recorder | None = None) -> None:
        self.shell = shell
        self.recorder = recorder
        self._scenes: dict[str, Any] | None = None
        self._face_scenes: Any = None
        self.appointments: list[str] = []  # numbers booked, newest last
        # A screenshot of the screen as it is now (set by the demo's recorder).
        self.snapshot: Callable[[], object] | None = None

    def sim(self, kind: str, within_s: float = 15.0) -> Any:
        """The simulator behind a device (devices open in the background: wait for it)."""
        hub = self.shell.app.devices
        deadline = time.monotonic() + within_s
        while hub is not None and time.monotonic() < deadline:
            slot = hub.slots.get(kind)
            if slot is None:
                break
            if slot.built is not None and slot.built.simulator is not None:
                return slot.built.simulator
            pump(0.02)
        raise DemoFailed(f"no simulated {kind}")

    def act(self, action: str, **args: Any) -> None:
        getattr(self, action)(**args)

    def place_idcard(
        self, card_type: str = "resident", citizen: dict[str, Any] | None = None
    ) -> None:
        """Place a sample card; ``citizen`` (region, birth YYYYMMDD, serial, name) makes it the
        card of one of the reference central service's seeded citizens."""
        from devices.idcard import CardType

        if citizen is None:
            self.sim("idcard").place_card(card_type=CardType(card_type))
            return
        self.sim("idcard").place_card(citizen_card(**citizen))

    def remove_idcard(self) -> None:
        self.sim("idcard").remove_card()

    def face_scene(self, clip: str) -> None:
        """The person in front of the camera for the face check: ``live`` (the holder,
        blinking and turning), ``glare`` (the holder, light in the glasses), ``other``..."""
        clip_frames = getattr(self._faces(), clip).frames
        # Without the wait a try begun at once could spend its budget on the old person.
        self._change_scene(lambda camera: camera.play(clip_frames))

    def present_permit(self) -> None:
        """The holder's permit: its chip carries the holder's photo (a different photograph
        of the same person than the one the camera sees)."""
        self.sim("chip").insert_card(photo=self._faces().document_jpeg)

    def _faces(self) -> Any:
        if self._face_scenes is None:
            from kiosk.face.clips import scenes

            self._face_scenes = scenes()  # built once: about 15 s (the head turns are warped)
        return self._face_scenes

    def camera_scene(self, scene: str) -> None:
        if self._scenes is None:
            self._scenes = self._make_scenes()
        image = self._scenes[scene]
        # The next screenshots show this scene, not the one before (or the idle test card).
        self._change_scene(lambda camera: camera.set_scene(image, motion=True))

    def _change_scene(self, change: Callable[[Any], None]) -> None:
        """Change what the camera sees and wait until it shows: the camera finishes the
        clip it is showing (``loop_s``) before it starts the new one."""
        camera = self.sim("camera")
        showing_s = camera.loop_s
        change(camera)
        pump(showing_s + 0.1)

    def _make_scenes(self) -> dict[str, Any]:
        from kiosk.photo import PhotoEngine, load_spec
        from kiosk.photo.subjects import demo_scenes, sample_photo

        photo = sample_photo()
        if photo is None:
            raise DemoFailed("no sample portrait installed (pip install -e '.[dev]')")
        return demo_scenes(photo, PhotoEngine(load_spec(self.shell.app.config.photo.spec)))

    def expect_receipt(self) -> None:
        lines = self.sim("printer").text_lines()
        if not any("图像号" in line for line in lines):
            raise DemoFailed(f"no photo number on the receipt: {lines[-5:]}")

    def expect_pickup_receipt(self) -> None:
        lines = self.sim("printer").text_lines()
        if not any("领取凭条" in line for line in lines):
            raise DemoFailed(f"no pickup receipt printed: {lines[-5:]}")

    def expect_test_print(self) -> None:
        lines = self.sim("printer").text_lines()
        if not any("Printer test" in line for line in lines):
            raise DemoFailed(f"no test receipt printed: {lines[-5:]}")

    def pay_on_phone(self) -> None:
        """The citizen scans the code and confirms on the phone: the payment platform (here
        the reference central service) marks the flow's order paid."""
        import requests

        order = self.shell.app.flow.context.part(EndorseRecord).order
        backend = self.shell.backend
        if order is None or backend is None:
            raise DemoFailed("no payment order to pay")
        url = f"{backend.central_url}/v1/admin/payments/{order.order_id}/pay"
        resp = requests.post(url, timeout=5)
        if resp.status_code != 200:
            raise DemoFailed(f"paying the order failed: {resp.status_code} {resp.text[:200]}")

    def expect_payment_slip(self) -> None:
        lines = self.sim("printer").text_lines()
        if not any("缴费凭条" in line for line in lines):
            raise DemoFailed(f"no payment slip printed: {lines[-5:]}")

    def applicant_photo_on_file(self, citizen: dict[str, Any]) -> None:
        """The national system holds the citizen's application photo with each document
        ready in this machine (the demo's person at the camera, in another photograph):
        loaded into the demo's central, as the national system would have it."""
        import requests

        from kiosk.machine.backend import open_central_client

        backend = self.shell.backend
        if backend is None:
            raise DemoFailed("no central to hold the application photos")
        card = citizen_card(**citizen)
        client = open_central_client(self.shell.app.config, backend.central_url)
        try:
            ready = client.documents_ready(card.id_number)
        finally:
            client.transport.close()
        for document in ready.here:
            resp = requests.put(
                f"{backend.central_url}/v1/admin/documents/{document.document_no}/applicant-photo",
                data=self._faces().document_jpeg,
                headers={"Content-Type": "image/jpeg"},
                timeout=10,
            )
            if resp.status_code != 204:
                raise DemoFailed(f"storing the application photo failed: {resp.status_code}")

    def insert_permit(self, take_after_s: float = 2.0) -> None:
        """After paying, the citizen puts the permit into the card module's slot; he takes
        it back ``take_after_s`` after it is handed back."""
        from devices.simulators.tcp300 import PermitCard

        module = self.sim("rewriter")
        module.auto_take(take_after_s)
        module.present_card(PermitCard("Zhang San's permit"))

    def save_card_back(self) -> None:
        """The back of the permit as the card module left it (the simulator's PNG), saved
        beside the last screenshot: ``NNN-card-back.png``."""
        module = self.sim("rewriter")
        if module.last_card is None or not module.last_card.prints:
            raise DemoFailed("the permit's back was not printed")
        if self.recorder is not None:  # not a screenshot: not in the list of screens
            shots = self.recorder.shots
            name = f"{shots[-1][:3] if shots else '000'}-card-back.png"
            module.save_back(self.recorder.out / name)

    def central_silent(self, silent: bool = True) -> None:
        """The exit-entry system stops answering (503 to everything), or answers again."""
        self._central_faults({"rates": {"error": 1.0}} if silent else {})

    def central_slow(self, latency_s: float = 0.0, paths: tuple[str, ...] = ()) -> None:
        """Central answers requests to ``paths`` (prefixes) after ``latency_s`` (0: at once)."""
        self._central_faults({"latency_s": latency_s, "paths": list(paths)} if latency_s else {})

    def _central_faults(self, plan: dict[str, Any]) -> None:
        """Set the embedded central's misbehaviour (central.faults; {} for none)."""
        import requests

        backend = self.shell.backend
        if backend is None:
            raise DemoFailed("no embedded central to misbehave")
        resp = requests.put(f"{backend.central_url}/v1/admin/faults", json=plan, timeout=5)
        if resp.status_code != 200:
            raise DemoFailed(f"setting central's faults failed: {resp.status_code}")

    def look_a_while(self, seconds: float) -> None:
        """The citizen watches the screen for ``seconds`` of real time (what a waiting step
        says after a few seconds), then a screenshot of it."""
        pump(seconds)
        if self.snapshot is not None:
            self.snapshot()

    def paper_out(self) -> None:
        """The roll ends a few lines into the next receipt."""
        self.sim("printer").set_paper(out_after=4)

    def paper_refill(self) -> None:
        self.sim("printer").set_paper()

    def take_document(self, after_s: float = 1.0) -> None:
        """The citizen takes the document from the gate a moment after it arrives."""
        self.sim("dispenser").auto_take(after_s)

    def never_take_document(self) -> None:
        self.sim("dispenser").auto_take(None)

    # --- appointments and delivery ---------------------------------------------------------

    def book_appointment(self, service: str, counter: str, in_minutes: int) -> None:
        """A citizen books online (the e网通 app): the booking system (here the reference
        central service's loopback route) makes an appointment ``in_minutes`` from now."""
        import datetime as dt

        import requests

        backend = self.shell.backend
        if backend is None:
            raise DemoFailed("no central to book with")
        at = dt.datetime.now() + dt.timedelta(minutes=in_minutes)
        body = {"service": service, "counter": counter, "slot_at": f"{at:%Y-%m-%dT%H:%M}"}
        resp = requests.post(f"{backend.central_url}/v1/appointments", json=body, timeout=5)
        if resp.status_code != 201:
            raise DemoFailed(f"booking failed: {resp.status_code} {resp.text[:200]}")
        self.appointments.append(str(resp.json()["appointment_no"]))

    def show_appointment_qr(self, angle: float = 8.0, size: float = 0.42) -> None:
        """The citizen holds their phone up to the camera, the booking's QR code on it."""
        camera = self.sim("camera")
        frame = phone_with_qr(
            f"APPT:{self.appointments[-1]}", camera.width, camera.height, angle, size
        )
        camera.set_scene(frame, motion=True)

    def put_phone_away(self) -> None:
        """Nobody holds anything up to the camera (its default scene). The camera loops its
        clip: wait for it to play out, so the phone is really gone before the next step."""
        self._change_scene(lambda camera: camera.set_scene(None))

    def type_appointment_number(self, wrong_digit: bool = False) -> None:
        """The citizen types the booking's number on the pad (``wrong_digit``: one digit
        mistyped, which its check digit catches), and OK."""
        number = self.appointments[-1]
        if wrong_digit:
            number = number[:3] + str((int(number[3]) + 1) % 10) + number[4:]
        pad = self.shell.window.screens["number_pad"]
        for digit in number:
            pad.keys[digit].click()  # type: ignore[attr-defined]
            pump()
        pad.ok.click()  # type: ignore[attr-defined]

    def type_on_keyboard(self, tokens: list[str]) -> None:
        """Type on the on-screen keyboard: each token is pinyin and the character(s) to pick
        ("shen=深"), or keys pressed as they are ("12", "-")."""
        keyboard = self.shell.window.screens["text_entry"].keyboard  # type: ignore[attr-defined]
        for index, token in enumerate(tokens):
            letters, _, wanted = token.partition("=")
            for key in letters:
                keyboard.keys[key].click()
                pump()
            if index == len(tokens) // 2 and self.snapshot is not None:
                self.snapshot()  # half typed, the candidates showing: the view has not changed
            if wanted:
                self._pick(keyboard, wanted)
        pump()

    @staticmethod
    def _pick(keyboard: Any, wanted: str) -> None:
        for _ in range(12):  # pages of candidates
            for button in keyboard.choice_buttons:
                if button.isEnabled() and button.text() == wanted:
                    button.click()
                    pump()
                    return
            if not keyboard.more.isEnabled():
                break
            keyboard.more.click()
            pump()
        raise DemoFailed(f"{wanted!r} is not among the candidates")

    def press_ok_on_keyboard(self) -> None:
        self.shell.window.screens["text_entry"].ok.click()  # type: ignore[attr-defined]

    def expect_priority_ticket(self) -> None:
        lines = self.sim("printer").text_lines()
        if not any("预约优先排队号" in line for line in lines):
            raise DemoFailed(f"no priority ticket printed: {lines[-5:]}")

    def expect_delivery_slip(self) -> None:
        lines = self.sim("printer").text_lines()
        if not any("免费邮寄确认凭条" in line for line in lines):
            raise DemoFailed(f"no delivery confirmation printed: {lines[-5:]}")


def phone_with_qr(text: str, width: int, height: int, angle: float, size: float) -> Any:
    """A camera frame of a phone held up with a QR code on its screen: the code ``size`` of
    the frame's height, turned by ``angle`` degrees, on a hall's grey background."""
    import cv2
    import numpy as np
    import qrcode

    side = int(height * size)
    code = np.asarray(qrcode.make(text, border=2).convert("L"))
    code = cv2.resize(code, (side, side), interpolation=cv2.INTER_NEAREST)
    frame = np.full((height, width), 150, np.uint8)
    phone_w, phone_h = int(side * 1.25), int(side * 1.9)
    x0, y0 = (width - phone_w) // 2, (height - phone_h) // 2
    cv2.rectangle(frame, (x0, y0), (x0 + phone_w, y0 + phone_h), 25, -1)
    cx, cy = width // 2, height // 2
    frame[cy - side // 2 : cy - side // 2 + side, cx - side // 2 : cx - side // 2 + side] = code
    turn = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
    frame = cv2.warpAffine(frame, turn, (width, height), borderValue=150)
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)


def citizen_card(region: str, birth: str, serial: int, name: str) -> Any:
    from datetime import date

    from devices.simulators.cards import id_number, sample_card

    born = date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
    return sample_card(id_number=id_number(region, born, serial), birth_date=born, name=name)


def run_demo(
    config: KioskConfig, out: Path, world: Any = None, data: Path | None = None
) -> dict[str, Any]:
    """Run the scripted citizen. ``data``: a new directory that keeps the run's outbox and
    central store afterwards (default: a temporary one)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in (*out.glob("*.png"), *out.glob("voice/*.wav")):
        old.unlink()
    if data is not None:
        # Fresh, as below: an earlier run's outbox would be replayed into this one.
        data.mkdir(parents=True)
        return _run(_with_data_dir(config, data), out, world)
    with tempfile.TemporaryDirectory(prefix="kiosk-demo-") as temporary:
        # A fresh outbox, journal and embedded central every run: the demo citizens' documents
        # are ready again and nothing of an earlier run is replayed.
        return _run(_with_data_dir(config, Path(temporary)), out, world)


def _with_data_dir(config: KioskConfig, data: Path) -> KioskConfig:
    return config.model_copy(
        update={"kiosk": config.kiosk.model_copy(update={"data_dir": str(data)})}
    )


def _run(config: KioskConfig, out: Path, world: Any) -> dict[str, Any]:
    qapp = qt_application(offscreen=True)
    clock = ManualClock()
    # Spoken prompts go to WAV files beside the screenshots (no sound card needed).
    voice = Voice(wav_dir=out / "voice")
    shell = build_shell(config, qapp, clock=clock, scheduler=clock, voice=voice)
    # Still pictures and indicators: the same screenshots on every run.
    Pictogram.still, BusyBar.still = 1.0, True
    recorder = Recorder(
        shell,
        out,
        clock,
        languages=tuple(lang.value for lang in config.kiosk.languages),
        touch_px=touch_min_px(config.screen.px_per_mm),
    )
    shell.window.show()
    shell.start()  # the window renders first; the recorder then sees the rendered screen
    shell.app.on_view(recorder.on_view)
    world = world or World(shell, recorder)
    if isinstance(world, World):
        world.snapshot = lambda: shell.app.view and recorder.snap(shell.app.view)
    steps = demo_script(config)
    try:
        for index, step in enumerate(steps, 1):
            log.info("step %d/%d: %s", index, len(steps), step.note)
            perform(step, shell, clock, recorder, world)
    finally:
        shell.stop()
    result = {
        "terminal": config.kiosk.terminal.value,
        "steps": len(steps),
        "screenshots": recorder.shots,
        "spoken": [{"language": lang, "text": text} for lang, text in voice.spoken],
        "completed": True,
    }
    (out / "audit.json").write_text(
        json.dumps(recorder.audits, ensure_ascii=False, indent=1), encoding="utf-8"
    )
    (out / "transcript.json").write_text(
        json.dumps({**result, "transcript": recorder.transcript}, ensure_ascii=False, indent=2),
        encoding="utf-8",
    )
    return result


def perform(step: Step, shell: Shell, clock: ManualClock, recorder: Recorder, world: Any) -> None:
    recorder.last_event = step.note
    match step:
        case Tap():
            shell.app.intent(step.intent, **step.data)
        case Advance():
            clock.advance(step.seconds)
        case Act():
            if world is None:
                raise DemoFailed(f"no simulated world for action {step.action}")
            world.act(step.action, **step.args)
        case Expect():
            wait_for(step, shell, recorder)
            if shell.app.view is not None:
                recorder.on_view(shell.app.view)  # a countdown may have moved on
    pump()


def wait_for(step: Expect, shell: Shell, recorder: Recorder | None = None) -> None:
    deadline = time.monotonic() + step.within_s
    while True:
        view = shell.app.view
        if view is not None and _matches(step, view):
            if recorder is not None:
                recorder.seen.clear()
            return
        passed = recorder.seen if recorder is not None else []
        reached = next((i for i, seen in enumerate(passed) if _matches(step, seen)), None)
        if reached is not None:
            del passed[: reached + 1]  # later expectations look after it
            return
        if time.monotonic() >= deadline:
            seen = (
                f"{view.state}, still_there={view.still_there_until is not None}"
                if view
                else "nothing"
            )
            raise DemoFailed(f"expected {step.state!r} ({step.note}); saw {seen}")
        pump(0.02)


def _matches(step: Expect, view: ViewState) -> bool:
    if step.state and view.state != step.state:
        return False
    if step.language and view.language != step.language:
        return False
    if step.large_text is not None and view.large_text != step.large_text:
        return False
    if any(lookup(view.view, path) != value for path, value in step.where.items()):
        return False
    asking = view.still_there_until is not None
    return step.still_there is None or step.still_there == asking
