"""A central Sentinel as its own process, so a test can kill -9 it: ``python central_node.py DATA_DIR PORT``.

It is the real API app (``create_app``) on 127.0.0.1 with the real SQLite
store under ``DATA_DIR`` and the real ``POST /api/ingest``, which builds the
production pipeline (address plan, personal-data protection, the rule pack) on
the first batch, as ``sentinel serve`` does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from sentinel.api.app import create_app
from sentinel.config import load_settings


def main(data_dir: str, port: int) -> None:
    settings = load_settings().model_copy(update={"data_dir": Path(data_dir)})  # the ingest token from the env
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
