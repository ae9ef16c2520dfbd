"""A real Sentinel server on 127.0.0.1 and headless Chromium (Debian's package) driven by Playwright.

Skips with the reason when /usr/bin/chromium or the playwright package is missing;
no browser is ever downloaded.
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("SENTINEL_CHROMIUM", "/usr/bin/chromium")
# Screenshots of every page the tests visit, for a person to look at; rewritten on each run.
# (under the system temporary folder, not the test run's own, which is removed when the run ends)
SHOTS = Path(
    os.environ.get("SENTINEL_SCREENSHOTS")
    or Path(os.environ.get("PYTEST_DEBUG_TEMPROOT") or tempfile.gettempdir()) / "sentinel-console-screenshots"
)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
USERS = {"lan": "soc_analyst", "lead": "soc_lead", "dpo": "dpo"}
PASSWORD = "browser-test-password"


def skip_reason() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is not installed (apt-get install chromium); browser tests skipped"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright; no browser download needed)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """uvicorn serving the real app in a thread; stopped by should_exit, bounded waits."""

    def __init__(self, app, port: int) -> None:
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[dict]:
    from sentinel.api.accounts import Accounts
    from sentinel.api.app import create_app
    from sentinel.classify.scan import scan_dataset
    from sentinel.config import Settings
    from sentinel.store.sqlite import SQLiteStore

    from .seed import seed_alerts, seed_dataset

    root = tmp_path_factory.mktemp("site")
    settings = Settings(data_dir=root / "data", content_dir=Path(__file__).resolve().parents[2])
    accounts = Accounts(settings.accounts_path)
    for name, role in USERS.items():
        accounts.add_user(name, PASSWORD, role)
    accounts.close()
    store = SQLiteStore(settings.sqlite_path)
    alerts = seed_alerts(store)
    app = create_app(settings, store)
    cstore_dataset = seed_dataset(app, root, scan_dataset)
    SHOTS.mkdir(parents=True, exist_ok=True)
    with Server(app, _free_port()) as server:
        yield {"url": server.url, "store": store, "alerts": alerts, "dataset": cstore_dataset}
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def login(browser, site):
    """Open a fresh browser context logged in as one of USERS through the real login form."""
    contexts = []

    def _login(user: str):
        ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN")
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(15000)
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.dialogs = dialogs
        page.goto(site["url"] + "/console/alerts")
        assert "/auth/login" in page.url
        page.fill("#username", user)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/console/**")
        return page

    yield _login
    for ctx in contexts:
        ctx.close()
