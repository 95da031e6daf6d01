"""The fleet console in a real headless Chromium (Debian's, driven by Selenium through
Debian's chromedriver), against a gateway on loopback and a kiosk whose real sync worker and
remote-command handler talk HTTP to it: sign-in (a refused one first), a state change shown
without a reload, an alert acknowledged with a note, a remote action's round trip."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from central.console.auth import hash_password
from central.server import CentralHandle, start_in_thread
from kiosk.machine.alerts import StaffAlerts
from kiosk.machine.commands import RemoteCommands, attach
from kiosk.machine.usage import UsageCounters
from offline_queue.outbox import Outbox
from offline_queue.sync import SyncSettings, SyncWorker
from offline_queue.transport import CentralTransport

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
KIOSK = "SZ-FT-K01"
SECRET = b"browser-test-secret-0123456789"
PASSWORD = "correct horse battery"
WAIT_S = 60  # a busy 2-core machine: generous, and only ever waited out on failure

if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
    if os.environ.get("CI"):
        pytest.fail("chromium and chromium-driver are missing (scripts/bootstrap.sh installs them)")
    pytest.skip("chromium / chromium-driver not installed", allow_module_level=True)


class Machine:
    """The kiosk's side the remote actions reach: out of service causes, like KioskApp's."""

    def __init__(self) -> None:
        self.causes: list[str] = []
        self.paused = threading.Event()

    def pause(self) -> None:
        self.causes.append("staff")
        self.paused.set()

    def resume(self) -> None:
        self.causes = [c for c in self.causes if c != "staff"]

    def sync(self) -> None:
        pass


class Kiosk:
    """A kiosk's heartbeat side: the real outbox, sync worker, staff alerts, usage counters
    and remote-command handler, the sync worker's thread running."""

    def __init__(self, central: CentralHandle, data: Path) -> None:
        self.machine = Machine()
        self.alerts = StaffAlerts()
        self.usage = UsageCounters()
        self.outbox = Outbox(data / "outbox.sqlite", kiosk_id=KIOSK)
        self.usage.use_outbox(self.outbox)
        transport = CentralTransport(central.url, kiosk_id=KIOSK, secret=SECRET, timeout_s=10)
        settings = SyncSettings(heartbeat_s=1.0, idle_poll_s=0.2)
        self.sync = SyncWorker(self.outbox, transport, settings=settings)
        self.sync.heartbeat_extra = self.extra
        self.sync.heartbeat_delivered = lambda sent: self.alerts.delivered(
            list(sent.get("alerts", ())), 0
        )
        self.alerts.on_added = self.sync.heartbeat_soon
        self.commands = RemoteCommands(KIOSK, self.machine, None)
        attach(
            self.sync, self.commands, self.usage.report, {"terminal": "pickup", "place": "Futian"}
        )

    def extra(self) -> dict[str, Any]:
        devices = {"printer": {"usable": True, "required": True, "detail": "", "statistics": {}}}
        return {
            "devices": devices,
            "alerts": self.alerts.pending()[0],
            "alerts_dropped": 0,
            "out_of_service": list(self.machine.causes),
        }

    def close(self) -> None:
        self.sync.stop()
        self.commands.close()
        self.alerts.close()
        self.outbox.close()


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CentralHandle]:
    data = tmp_path_factory.mktemp("console")
    handle = start_in_thread(data / "central.sqlite", kiosk_secrets={KIOSK: SECRET})
    handle.store.fleet.add_user("alice", hash_password(PASSWORD), "operator")
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def kiosk(central: CentralHandle, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kiosk]:
    k = Kiosk(central, tmp_path_factory.mktemp("kiosk"))
    k.sync.start()
    yield k
    k.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.add_argument("--window-size=1500,1000")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT_S)
    yield driver
    driver.quit()


def act(driver: WebDriver, action: Any) -> None:
    """Run ``action(driver)`` whole, again if the page redrew under it."""

    def done(d: WebDriver) -> bool:
        action(d)
        return True

    wait(driver, done)


def wait(driver: WebDriver, condition: Any) -> Any:
    # The page redraws itself every few seconds: an element found a moment ago may be gone.
    return WebDriverWait(
        driver, WAIT_S, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,)
    ).until(condition)


def row_text_in_state(browser: WebDriver, state: str) -> str:
    """The kiosk's fleet row text once the row shows ``state``, found afresh on each poll."""
    return str(
        wait(
            browser,
            lambda d: (
                (r := d.find_element(By.ID, f"machine-{KIOSK}")).get_attribute("data-state")
                == state
                and r.text
            ),
        )
    )


def signed_in(browser: WebDriver, central: CentralHandle) -> None:
    if "/console/fleet" not in browser.current_url:
        browser.get(central.url + "/console/login")
        browser.find_element(By.ID, "username").send_keys("alice")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "sign-in").click()
        wait(browser, lambda d: "/console/fleet" in d.current_url)


def test_sign_in_refused_then_accepted(
    browser: WebDriver, central: CentralHandle, kiosk: Kiosk
) -> None:
    browser.get(central.url + "/console/fleet")
    wait(browser, lambda d: "/console/login" in d.current_url)
    browser.find_element(By.ID, "username").send_keys("alice")
    browser.find_element(By.ID, "password").send_keys("not the password")
    browser.find_element(By.ID, "sign-in").click()
    # Read the message inside the wait: the refused sign-in may redraw the form, and an
    # element found before the redraw is stale after it.
    message = wait(browser, lambda d: d.find_element(By.ID, "login-message").text)
    assert "不正确" in message  # Chinese first
    assert "/console/login" in browser.current_url
    signed_in(browser, central)
    row_text = row_text_in_state(browser, "in_service")
    assert "正常服务" in row_text and "Futian" in row_text


def test_a_state_change_appears_without_a_reload(
    browser: WebDriver, central: CentralHandle, kiosk: Kiosk
) -> None:
    signed_in(browser, central)
    wait(browser, lambda d: d.find_element(By.ID, f"machine-{KIOSK}"))
    browser.execute_script("window.sameDocument = true")
    kiosk.machine.causes.append("device.printer")  # the printer fails at the machine
    kiosk.sync.heartbeat_soon()
    row_text = row_text_in_state(browser, "out_of_service")
    assert "凭条打印机" in row_text  # the cause in plain words
    assert browser.execute_script("return window.sameDocument") is True
    kiosk.machine.causes.remove("device.printer")
    kiosk.sync.heartbeat_soon()
    row_text_in_state(browser, "in_service")


def test_an_alert_is_acknowledged_with_a_note(
    browser: WebDriver, central: CentralHandle, kiosk: Kiosk
) -> None:
    signed_in(browser, central)
    from datetime import datetime

    kiosk.alerts.add("citizen.help", "help requested at menu", datetime.now())

    def help_item(d: WebDriver) -> Any:
        return next(
            (i for i in d.find_elements(By.CSS_SELECTOR, "#alerts li") if "呼叫" in i.text), None
        )

    wait(browser, help_item)

    def acknowledge(d: WebDriver) -> None:
        item = help_item(d)
        note = item.find_element(By.CSS_SELECTOR, "input.note")
        note.clear()
        note.send_keys("helped with the form")
        item.find_element(By.CSS_SELECTOR, "button.ack-button").click()

    act(browser, acknowledge)
    wait(browser, lambda d: not d.find_elements(By.CSS_SELECTOR, "#alerts li"))
    [alert] = central.store.fleet.alert_list(open_only=False)
    assert (alert["acked_by"], alert["note"]) == ("alice", "helped with the form")
    wait(browser, lambda d: "helped with the form" in d.find_element(By.ID, "history").text)


def test_a_remote_action_round_trip(
    browser: WebDriver, central: CentralHandle, kiosk: Kiosk
) -> None:
    signed_in(browser, central)
    wait(browser, lambda d: d.find_element(By.ID, f"machine-{KIOSK}"))
    act(
        browser,
        lambda d: (
            d.find_element(By.ID, f"machine-{KIOSK}")
            .find_element(By.CSS_SELECTOR, 'button[data-action="out_of_service"]')
            .click()
        ),
    )
    wait(browser, lambda d: d.switch_to.alert).accept()
    assert kiosk.machine.paused.wait(WAIT_S)  # the kiosk picked it up from a heartbeat
    # Its outcome comes back and the machine shows out of service (paused by staff).
    state, text = wait(
        browser,
        lambda d: (
            (r := d.find_element(By.ID, f"machine-{KIOSK}")).find_elements(
                By.CSS_SELECTOR, ".command-done"
            )
            and (r.get_attribute("data-state"), r.text)
        ),
    )
    assert state == "out_of_service"
    assert "工作人员暂停" in text
    [command] = central.store.fleet.commands(KIOSK)
    assert (command["state"], command["requested_by"]) == ("done", "alice")
    audit = [a for a in central.store.fleet.audit_log() if a["command_id"] == command["id"]]
    assert audit and audit[0]["result"] == "done: out of service"
