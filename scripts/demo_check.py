"""Check the live demo as a newcomer would see it: within the time limit, an approved campaign
has sent at least two waves. Reads only the REST API, then saves a screenshot of that campaign's page
(headless Chromium, logged in as the demo operator).

    .venv/bin/python scripts/demo_check.py [--api http://127.0.0.1:8000] [--var var] [--timeout 300]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from pathlib import Path


def campaigns(api: str, key: str) -> list[dict]:
    req = urllib.request.Request(f"{api}/api/v1/campaigns/?page_size=200", headers={"Authorization": f"Api-Key {key}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)["results"]


def screenshot(api: str, username: str, password: str, path: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--disable-component-update", "--no-first-run", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1360, "height": 1100})
        page.goto(f"{api}/login/")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.goto(f"{api}{path}")
        page.wait_for_timeout(1500)
        page.screenshot(path=str(out), full_page=True)
        browser.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", default="http://127.0.0.1:8000")
    ap.add_argument("--var", default="var")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--screenshot", default="test-output/live-demo-campaign.png")
    args = ap.parse_args()
    var = Path(args.var)
    key = (var / "demo-api-key").read_text().strip()
    started = time.monotonic()
    found = None
    while time.monotonic() - started < args.timeout:
        try:
            for c in campaigns(args.api, key):
                if sum(1 for w in c["waves"] if w["sends"] > 0) >= 2:
                    found = c
                    break
        except OSError as exc:
            print(f"waiting for the API: {exc}", file=sys.stderr)
        if found:
            break
        time.sleep(5)
    elapsed = time.monotonic() - started
    if not found:
        print(f"no campaign with two waves after {elapsed:.0f} s")
        return 1
    waves = ", ".join(f"wave {w['number']}: {w['sends']} sends, {w['clicks']} clicks, {w['decision'] or w['state']}"
                      for w in found["waves"])
    print(f"after {elapsed:.0f} s: campaign {found['id']} ({found['content']}, {found['state']}): {waves}")
    logins = json.loads((var / "demo-logins.json").read_text())
    out = Path(args.screenshot)
    out.parent.mkdir(parents=True, exist_ok=True)
    screenshot(args.api, "operator", logins["operator"], f"/dashboards/campaigns/{found['id']}/", out)
    print(f"screenshot: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
