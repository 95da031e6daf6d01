"""deploy/update.py end to end: two bundle slots, the real kiosk started from the slot the
``current`` link names (by a small stand-in for systemctl), its readiness marker, the
self-test gate, the rollback, and an old version that refuses an outbox a newer one
migrated - said plainly, with its exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.deploy.bundles import make_bundle
from tests.deploy.supervisor import alive, stop

UPDATE = ROOT / "deploy" / "update.py"
SUPERVISOR = Path(__file__).with_name("supervisor.py")


@dataclass
class Site:
    """One machine's layout: the slots under ``prefix``, the kiosk's data in ``state``."""

    root: Path
    prefix: Path
    state: Path
    config: Path
    pidfile: Path
    log: Path

    def update(self, *args: str, ready_s: float = 300.0) -> subprocess.CompletedProcess[str]:
        restart = (
            f"{sys.executable} {SUPERVISOR} --pidfile {self.pidfile} --log {self.log} "
            f"-- {self.prefix / 'current' / 'kiosk'} run"
        )
        env = {
            **os.environ,
            "KIOSK_CONFIG": str(self.config),
            "QT_QPA_PLATFORM": "offscreen",
        }
        return subprocess.run(
            [
                sys.executable,
                str(UPDATE),
                "--prefix",
                str(self.prefix),
                "--state-dir",
                str(self.state),
                "--restart-command",
                restart,
                "--ready-timeout",
                str(ready_s),
                "--rollback-timeout",
                "300",
                *args,
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=1200,
        )

    def bundle(self, name: str, behaviour: str = "good") -> Path:
        return make_bundle(self.root / "incoming" / name, behaviour)

    @property
    def current(self) -> str:
        return os.readlink(self.prefix / "current")

    def marker(self, name: str) -> dict[str, object]:
        data: dict[str, object] = json.loads((self.state / name).read_text(encoding="utf-8"))
        return data

    @property
    def pid(self) -> int:
        return int(self.pidfile.read_text())


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    state = tmp_path / "var"
    text = (ROOT / "configs" / "photo.toml").read_text(encoding="utf-8")
    text = text.replace('data_dir = "var/photo"', f'data_dir = "{state}"')
    config = tmp_path / "kiosk.toml"
    config.write_text(text + "\n[voice]\nenabled = false\n", encoding="utf-8")
    s = Site(tmp_path, tmp_path / "opt", state, config, tmp_path / "kiosk.pid", tmp_path / "k.log")
    yield s
    stop(s.pidfile)


def installed(site: Site) -> None:
    """Version A installed and running (the first install has nothing to roll back to)."""
    done = site.update("install", str(site.bundle("A")))
    assert done.returncode == 0, done.stdout + done.stderr
    assert site.current == "a"
    assert Path(str(site.marker("ready.json")["bundle"])) == (site.prefix / "a").resolve()


def test_an_update_that_comes_up_is_kept_and_can_be_rolled_back_by_hand(site: Site) -> None:
    installed(site)
    first = site.pid
    done = site.update("install", str(site.bundle("B")))
    assert done.returncode == 0, done.stdout + done.stderr
    assert site.current == "b" and "updated: slot b" in done.stdout
    assert Path(str(site.marker("ready.json")["bundle"])) == (site.prefix / "b").resolve()
    assert site.marker("ready.json")["pid"] == site.pid != first
    assert not alive(first), "the old kiosk was stopped"
    assert (site.prefix / "a" / "kiosk").is_file(), "the old version stays beside it"
    back = site.update("rollback")
    assert back.returncode == 0, back.stdout + back.stderr
    assert site.current == "a"
    assert Path(str(site.marker("ready.json")["bundle"])) == (site.prefix / "a").resolve()


def test_a_bundle_that_fails_its_self_test_changes_nothing(site: Site) -> None:
    installed(site)
    running = site.pid
    done = site.update("install", str(site.bundle("B", "bad-selftest")))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "self-test" in done.stdout and "ImportError: broken" in done.stdout
    assert "nothing changed" in done.stdout
    assert site.current == "a" and site.pid == running and alive(running)


def test_a_version_that_never_shows_the_attract_screen_is_rolled_back(site: Site) -> None:
    installed(site)
    done = site.update("install", str(site.bundle("B", "crash")), ready_s=10)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "did not come up within 10 s" in done.stdout
    assert "rolled back: slot a shows the attract screen" in done.stdout
    assert site.current == "a"
    assert Path(str(site.marker("ready.json")["bundle"])) == (site.prefix / "a").resolve()
    assert "fatal error at start-up" in site.log.read_text()


def test_a_rollback_over_an_outbox_the_new_version_migrated_says_why_the_old_one_refuses(
    site: Site,
) -> None:
    from offline_queue.outbox import SCHEMA_VERSION

    installed(site)
    done = site.update("install", str(site.bundle("B", "migrate-then-crash")), ready_s=10)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "rolled back to slot a, but it refuses to start (exit 65)" in done.stdout
    assert f"has schema {SCHEMA_VERSION + 1}" in done.stdout
    assert f"reads up to schema {SCHEMA_VERSION}" in done.stdout
    assert site.current == "a"
    refused = site.marker("refused.json")
    assert refused["exit_code"] == 65 and refused["reason_key"] == "oos.outbox_newer"
    assert Path(str(refused["bundle"])) == (site.prefix / "a").resolve()
    # It stays up on the out-of-service screen (not restarted over and over) ...
    assert alive(site.pid)
    assert "refusing to start" in site.log.read_text()
    # ... and the staff tool says the same with the same status.
    check = subprocess.run(
        [str(site.prefix / "current" / "kiosk"), "service", "check", "--config", str(site.config)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode == 65 and "refusing to start" in check.stderr


def test_the_switch_never_leaves_the_service_without_a_bundle(tmp_path: Path) -> None:
    """A reader resolving ``current`` while it is switched back and forth always finds one
    of the two slots."""
    sys.path.insert(0, str(UPDATE.parent))
    try:
        from update import Machine  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(UPDATE.parent))
    for slot in ("a", "b"):
        (tmp_path / slot).mkdir()
    machine = Machine(tmp_path, tmp_path, ["true"], 1.0, 1.0, 1.0)
    machine.switch("a")
    seen: set[str] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.add(os.readlink(tmp_path / "current"))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(2000):
            machine.switch("ab"[n % 2])
    finally:
        done.set()
        reader.join()
    assert seen <= {"a", "b"} and machine.active_slot() == "b"


def fresh_bundle() -> Path | None:
    """dist/kiosk as the CI gate before the tests builds it (None when it was skipped, or
    the build predates the service commands)."""
    bundle = ROOT / "dist" / "kiosk"
    if not (bundle / "kiosk").is_file():
        return None
    # A bundle older than the source it freezes is another version (it may refuse today's
    # configuration and never come up): not the one to test.
    built = (bundle / "kiosk").stat().st_mtime
    sources = (p for top in ("kiosk", "ui", "devices", "offline_queue", "central")
               for p in (ROOT / top).rglob("*.py"))  # fmt: skip
    if any(source.stat().st_mtime > built for source in sources):
        return None
    probe = subprocess.run(
        [str(bundle / "kiosk"), "service", "--help"], capture_output=True, timeout=300
    )
    return bundle if probe.returncode == 0 else None


def test_the_real_bundle_installs_passes_its_self_test_and_reports_ready(site: Site) -> None:
    """The PyInstaller bundle itself in a slot: its self-test, its frozen entry point and the
    bundle directory it names in ready.json (the slot, resolved through ``current``)."""
    bundle = fresh_bundle()
    if bundle is None:
        pytest.skip("no current dist/kiosk (scripts/build_bundle.py builds it; CI does first)")
    done = site.update("install", str(bundle))
    assert done.returncode == 0, done.stdout + done.stderr
    ready = site.marker("ready.json")
    assert Path(str(ready["bundle"])) == (site.prefix / "a").resolve()
    assert ready["pid"] == site.pid and alive(site.pid)
