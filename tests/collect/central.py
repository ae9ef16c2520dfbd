"""A real central Sentinel (FastAPI app under uvicorn) on 127.0.0.1 for collector tests."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import uvicorn

from sentinel.api.app import create_app
from sentinel.api.auth import LocalOperator
from sentinel.config import Settings
from sentinel.store.sqlite import SQLiteStore

TOKEN = "test-ingest-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Central:
    """Serve the app on ``port`` with the ingest pipeline it builds itself, as in a deployment."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.settings = Settings(data_dir=data_dir, ingest_token=TOKEN)
        self.store = SQLiteStore(data_dir / "central.db")
        app = create_app(self.settings, store=self.store, authenticator=LocalOperator())  # readers: the demo's
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> Central:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "central did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.store.close()
