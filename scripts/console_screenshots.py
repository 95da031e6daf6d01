"""Screenshots of the fleet console for the docs (docs/console/*.png), in Chinese and English.

    .venv/bin/python scripts/console_screenshots.py [--out docs/console]

A gateway on loopback with a small fleet whose usage history spans the last eight hours (so
the forecast has something to say), an alert or two, a machine out of service and one
silent; headless Chromium signs in and photographs the page.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import update

from central.console.auth import hash_password
from central.server import start_in_thread
from central.store.schema import heartbeats

HALLS = ("福田出入境服务大厅 / Futian Hall", "南山出入境服务大厅 / Nanshan Hall")
FLEET = (
    ("SZ-FT-K01", "pickup", 0, 260, 3),
    ("SZ-FT-P01", "photo", 0, 420, 0),
    ("SZ-FT-R01", "renewal", 0, 380, 0),
    ("SZ-NS-P02", "photo", 1, 150, 0),
    ("SZ-NS-R02", "renewal", 1, 90, 0),
    ("SZ-NS-K02", "pickup", 1, 120, 1),
)
PASSWORD = "screenshots-only-0123"


def seed(store: object, now: float) -> None:
    rng = random.Random(7)
    for n, (kiosk, terminal, hall, per_hour, captures_per_hour) in enumerate(FLEET):
        lines = rng.randrange(2_000, 9_000)
        start_lines = 20_000 - rng.randrange(2_500, 15_000) if n % 2 else lines
        captures = 5 if terminal == "pickup" else 0
        for step in range(17):  # every 30 minutes over eight hours
            at = now - (16 - step) * 1800
            body = usage(terminal, hall, lines, captures, near_end=False)
            if step == 0:
                body["usage"]["counters"]["receipt_lines"] = start_lines
                lines = start_lines
            store.fleet.on_heartbeat(kiosk, body, now=at)  # type: ignore[attr-defined]
            lines += per_hour // 2 + rng.randrange(0, 30)
            captures += captures_per_hour // 2 + (1 if rng.random() < 0.2 else 0)
        body = usage(terminal, hall, lines, captures, near_end=lines - start_lines > 17_000)
        body["status"] = {"pending": rng.randrange(0, 4), "dead": 1 if n == 4 else 0}
        body["devices"] = {
            kind: {"usable": True, "required": True, "detail": "", "statistics": {}}
            for kind in ("idcard", "printer", *(("dispenser",) if terminal == "pickup" else ()))
        }
        body["out_of_service"] = []
        if kiosk == "SZ-NS-R02":
            body["devices"]["printer"].update(usable=False, detail="paper out")
            body["out_of_service"] = ["device.printer"]
        alerts = []
        if kiosk == "SZ-FT-P01":
            alerts.append(alert("citizen.help", "help requested at photo_review"))
        if kiosk == "SZ-NS-K02":
            alerts.append(alert("identity.unusable", "camera frames too dark"))
        body["alerts"] = alerts
        store.heartbeat(kiosk, body)  # type: ignore[attr-defined]
    with store.db.write() as conn:  # type: ignore[attr-defined]
        conn.execute(
            update(heartbeats).where(heartbeats.c.kiosk_id == "SZ-NS-P02").values(at=now - 5400)
        )


def usage(terminal: str, hall: int, lines: int, captures: int, *, near_end: bool) -> dict:
    body: dict = {
        "kiosk": {"terminal": terminal, "place": HALLS[hall]},
        "usage": {
            "counters": {
                "receipt_lines": lines,
                "receipts": lines // 30,
                "cards_dispensed": captures * 12,
                "captures": captures,
            },
            "paper": {"near_end": near_end, "capacity_lines": 20_000, "near_end_lines": 1_200},
        },
    }
    if terminal == "pickup":
        body["usage"]["bin"] = {"capacity": 30}
    return body


def alert(code: str, message: str) -> dict:
    return {
        "id": f"{code}-{time.time_ns()}",
        "code": code,
        "message": message,
        "at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/console"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        central = start_in_thread(Path(tmp) / "central.sqlite")
        try:
            central.store.fleet.add_user("duty", hash_password(PASSWORD), "admin")
            seed(central.store, time.time())
            options = webdriver.ChromeOptions()
            options.binary_location = "/usr/bin/chromium"
            for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"):
                options.add_argument(arg)
            options.add_argument("--window-size=1500,1300")
            driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
            try:
                driver.get(central.url + "/console/login")
                driver.save_screenshot(str(args.out / "login-zh.png"))
                driver.find_element(By.ID, "username").send_keys("duty")
                driver.find_element(By.ID, "password").send_keys(PASSWORD)
                driver.find_element(By.ID, "sign-in").click()
                for lang in ("zh", "en"):
                    driver.get(central.url + f"/console/fleet?lang={lang}")
                    WebDriverWait(driver, 30).until(
                        lambda d: (
                            len(d.find_elements(By.CSS_SELECTOR, "#fleet tbody tr")) == len(FLEET)
                        )
                    )
                    time.sleep(1.0)  # the slow poll fills the history and the audit
                    driver.save_screenshot(str(args.out / f"fleet-{lang}.png"))
            finally:
                driver.quit()
        finally:
            central.stop()
    print(f"wrote {args.out}/login-zh.png, fleet-zh.png, fleet-en.png")


if __name__ == "__main__":
    main()
