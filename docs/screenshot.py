"""Take docs/web-ui-stages.png: the web UI's case list filtered on DunningStage, with the dunning columns.

Made by hand against a running `make demo`, never by `make test`. It needs a browser and Playwright,
which the project does not depend on; on Debian:

    apt-get install -y chromium
    python3 -m venv /tmp/shot && /tmp/shot/bin/pip install playwright
    TEMPORAL_PORT=17233 TEMPORAL_UI_PORT=18233 DUNNING_API_PORT=18000 make demo    # in another shell
    /tmp/shot/bin/python docs/screenshot.py --ui http://127.0.0.1:18233

It does in a fresh browser what README's "Demo" tells a person to do: filter on DunningStage, configure
the columns (remove Run ID, Type, Start and End; add DunningStage, CustomerId, AmountDue, DueDate and
NextActionAt), save the view, and photographs the list.
"""

import argparse
import urllib.parse
from pathlib import Path

from playwright.sync_api import sync_playwright  # type: ignore[import-not-found]

QUERY = 'DunningStage IN ("level_1", "level_2", "level_3", "formal_notice")'
REMOVED = ("Run ID", "Type", "Start", "End")
ADDED = ("DunningStage", "CustomerId", "AmountDue", "DueDate", "NextActionAt")
VIEW = "Escalation"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ui", default="http://127.0.0.1:8233", help="the web UI of `make demo`")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "web-ui-stages.png")
    args = parser.parse_args()
    url = f"{args.ui}/namespaces/default/workflows?query={urllib.parse.quote(QUERY)}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1680, "height": 660}, timezone_id="Europe/Paris")
        page.goto(url)
        page.get_by_text("invoice-F-2026-", exact=False).first.wait_for()
        page.get_by_test_id("workflows-summary-table-configuration-button").click()
        for column in REMOVED:
            page.get_by_test_id(f"orderable-list-item-{column}-remove-button").click()
        for column in ADDED:
            page.get_by_test_id(f"orderable-list-item-{column}-add-button").click()
        page.get_by_test_id("drawer-close-button").click()
        page.get_by_test_id("create-view-button").click()
        page.get_by_role("dialog").get_by_role("textbox").fill(VIEW)
        page.get_by_role("dialog").get_by_test_id("confirm-modal-button").click()
        page.mouse.move(0, 0)  # no row hovered
        page.wait_for_timeout(1500)
        page.screenshot(path=args.out)
        browser.close()
    print(f"{args.out}: {args.out.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()
