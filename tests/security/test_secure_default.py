"""Secure by default: no anonymous access outside the demo, a first administrator printed once,
accounts and tokens noticed without a restart, and no cross-origin writes in any mode."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from sentinel.api.accounts import Accounts
from sentinel.api.app import create_app
from sentinel.audit import AuditLog
from sentinel.config import load_settings
from sentinel.store.sqlite import SQLiteStore


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_first_start_creates_an_admin_printed_once_and_accounts_work_without_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")} | {"SENTINEL_DATA_DIR": str(data)}
    cmd = [sys.executable, "-m", "sentinel.cli.main", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(line.strip().startswith("password") for line in lines):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        output = "".join(lines)
        password = re.search(r"^\s*password\s+(\S+)\s*$", output, re.MULTILINE)
        assert password, output
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert httpx.get(f"{base}/api/alerts").status_code == 401  # loopback, but no anonymous access
        login = httpx.post(f"{base}/auth/login", json={"username": "admin", "password": password.group(1)})
        assert login.status_code == 200 and login.json()["role"] == "admin"
        # a token created by another process while the server runs works at once
        accounts = Accounts(data / "accounts.db")
        token = accounts.create_token("edge-01", "soc_analyst")
        accounts.close()
        assert httpx.get(f"{base}/api/alerts", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    created = [r for r in AuditLog(data / "audit.log") if r["action"] == "user.add"]
    assert len(created) == 1 and created[0]["object"] == "admin"


def test_first_admin_only_once(tmp_path: Path) -> None:
    import click

    from sentinel.cli.serve import first_admin

    settings = load_settings(env={"SENTINEL_DATA_DIR": str(tmp_path)})
    accounts = Accounts(settings.accounts_path)
    ctx = click.Context(click.Command("serve"), obj={})
    from sentinel.runtime import Runtime

    ctx.obj["runtime"] = Runtime(settings)
    with ctx:
        assert first_admin(settings, accounts, ctx)
        assert first_admin(settings, accounts, ctx) is None
        demo = settings.model_copy(update={"auth": settings.auth.model_copy(update={"mode": "demo"})})
        assert first_admin(demo, Accounts(tmp_path / "other.db"), ctx) is None
    accounts.close()


@pytest.mark.parametrize("mode", ["demo", "accounts"])
def test_a_page_from_another_local_origin_cannot_post(tmp_path: Path, mode: str) -> None:
    settings = load_settings(env={"SENTINEL_DATA_DIR": str(tmp_path), "SENTINEL_AUTH_MODE": mode})
    app = create_app(settings, SQLiteStore(tmp_path / "s.db"))
    expires = (datetime.now(UTC) + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M")
    form = {"rule_id": "web-sqli", "reason": "looks fine", "expires": expires}
    with TestClient(app, base_url="http://127.0.0.1:8080", follow_redirects=False) as c:
        evil = c.post("/console/suppressions", data=form, headers={"Origin": "http://127.0.0.1:9000"})
        assert evil.status_code == 403 and "cross-origin" in evil.text
        sneaky = c.post("/console/suppressions", data=form, headers={"Sec-Fetch-Site": "same-site"})
        assert sneaky.status_code == 403
        login = c.post("/auth/login", data={"username": "x", "password": "y"}, headers={"Origin": "http://evil.test"})
        assert login.status_code == 403
        same = c.post("/console/suppressions", data=form, headers={"Origin": "http://127.0.0.1:8080"})
        # the same origin reaches the route: the form is judged (demo) or the caller sent to log in
        assert same.status_code == (422 if mode == "demo" else 303), same.text


def test_docs_are_offline_under_the_console_csp_and_behind_login(tmp_path: Path) -> None:
    from sentinel.api.console.rendering import CSP
    from sentinel.api.docs import REDOC_CSP

    demo = create_app(load_settings(env={"SENTINEL_DATA_DIR": str(tmp_path), "SENTINEL_AUTH_MODE": "demo"}))
    with TestClient(demo) as c:
        for page in ("/docs", "/redoc"):
            r = c.get(page)
            assert r.status_code == 200 and r.headers["content-security-policy"] == (
                CSP if page == "/docs" else REDOC_CSP
            )
            assert "script-src 'self';" in r.headers["content-security-policy"]
            assert "http" not in r.text and "<script>" not in r.text  # nothing from a CDN, no inline script
            for src in re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', r.text):
                asset = c.get(src)
                assert asset.status_code == 200 and len(asset.content) > 100, src
        assert c.get("/docs/assets/../../etc/passwd").status_code == 404
        assert c.get("/docs/assets/core.py").status_code == 404
    closed = create_app(load_settings(env={"SENTINEL_DATA_DIR": str(tmp_path / "closed")}))
    accounts = closed.state.accounts
    token = accounts.create_token("reader", "auditor")
    with TestClient(closed, follow_redirects=False) as c:
        r = c.get("/docs")
        assert r.status_code == 303 and r.headers["location"].startswith("/auth/login")
        assert c.get("/redoc").status_code == 303
        assert c.get("/docs", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert c.get("/docs/assets/swagger-ui.css").status_code == 200  # the bundles themselves are public


def test_every_file_a_demo_run_creates_is_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTINEL_")} | {"SENTINEL_DATA_DIR": str(data)}
    demo = [sys.executable, "-m", "sentinel.cli.main", "demo", "--no-serve", "--sessions", "40", "--day", "2026-11-20"]
    token = [sys.executable, "-m", "sentinel.cli.main", "tokens", "create", "ci-1", "--role", "ci"]  # audited
    for cmd in (demo, token):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, preexec_fn=lambda: os.umask(0))
        assert done.returncode == 0, done.stderr
    seen = {p.name for p in data.rglob("*")}
    assert {"sentinel.db", "audit.log", "audit.log.head", "accounts.db", "policy.key", "classify.db"} <= seen, seen
    loose = [
        f"{p.relative_to(data)} {oct(p.stat().st_mode & 0o777)}"
        for p in [data, *data.rglob("*")]
        if (p.stat().st_mode & 0o777) != (0o700 if p.is_dir() else 0o600)
    ]
    assert loose == []
