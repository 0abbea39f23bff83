"""Regenerate docs/img/bien-dong.png: the biến động page's change map on the demo with a few planted changes.

Run from the source tree (after ``make demo`` and ``npm ci``)::

    PYTHONPATH=build/dev-path:. python docs/img/make_bien_dong.py [--out docs/img/bien-dong.png]

It builds a store with three changesets (`tests/bien_dong_demo.py`) in a temporary folder, serves the web app on
127.0.0.1 with waitress, and photographs the change map with Playwright and Debian's chromium (as the browser
tests do). The PNG is reduced to 256 colours to stay small (< 300 KB).
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
logger = logging.getLogger("make_bien_dong")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"]


def main(argv: list[str] | None = None) -> Path:
    """Write the screenshot; return its path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img" / "bien-dong.png")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "shapefiles")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from bien_dong_demo import planted_store
    from PIL import Image
    from playwright.sync_api import sync_playwright
    from waitress.server import create_server

    from ictgis_web import create_app

    with tempfile.TemporaryDirectory() as tmp:
        url = planted_store(Path(tmp) / "instance" / "ictgis.gpkg", args.data)
        app = create_app({"INSTANCE_PATH": str(Path(tmp) / "instance"), "SECRET_KEY": "shot", "STORE_URL": url,
                          "DATA_DIR": str(args.data), "PRECOMPUTE": False})
        server = create_server(app, host="127.0.0.1", port=0, threads=2)
        threading.Thread(target=server.run, daemon=True).start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(f"http://127.0.0.1:{server.effective_port}/bien-dong?from=1&to=3")
                page.wait_for_selector("html[data-bd-ready='1']", state="attached", timeout=60_000)
                page.locator("#change-map").scroll_into_view_if_needed()
                moved = page.evaluate("""() => Object.keys(ictgisChanges.layers).find(
                    k => ictgisChanges.layers[k].feature.properties.moved_m)""")
                page.evaluate("(id) => ictgisChanges.open(id)", moved)
                page.wait_for_selector(".leaflet-popup")
                page.wait_for_timeout(400)  # the popup's fade-in
                box = page.evaluate("""() => {
                    const a = document.getElementById('change-map').getBoundingClientRect();
                    const b = document.getElementById('change-legend').getBoundingClientRect();
                    return {x: a.left, y: a.top - 40, width: a.width, height: b.bottom - a.top + 48};
                }""")
                raw = Path(tmp) / "shot.png"
                page.screenshot(path=str(raw), clip=box)
                browser.close()
        finally:
            server.close()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        Image.open(raw).convert("RGB").quantize(colors=256).save(args.out, optimize=True)
    logger.info("%s: %d kB", args.out, args.out.stat().st_size // 1024)
    return args.out


if __name__ == "__main__":
    main()
