"""A central Sentinel as its own process, so a test can kill -9 it: ``python central_node.py DATA_DIR PORT``.

It is the real API app (``create_app``) on 127.0.0.1 with the real SQLite
store under ``DATA_DIR`` and the real ``POST /api/ingest``; the ingest pipeline
is the plain transform-free one (store, then nothing else), which keeps the
start fast and leaves the store commit and the HTTP acknowledgement, the
parts under test, exactly as in production.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import uvicorn

from sentinel.api.app import create_app
from sentinel.config import load_settings
from sentinel.ingest.pipeline import Pipeline


def main(data_dir: str, port: int) -> None:
    settings = load_settings().model_copy(update={"data_dir": Path(data_dir)})  # the ingest token from the env
    app = create_app(settings)
    app.state.ingest_pipeline = Pipeline(app.state.store)
    app.state.ingest_lock = threading.Lock()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
