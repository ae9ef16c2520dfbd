"""schemathesis against the OpenAPI schema: generated requests never cause a 5xx or break the schema."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from sentinel.api.app import create_app
from sentinel.api.auth import LocalOperator
from sentinel.config import load_settings
from sentinel.demo.traffic import generate
from sentinel.ingest.assemble import build_pipeline
from sentinel.ingest.stream import ingest_streams
from sentinel.runtime import Runtime
from sentinel.store.sqlite import SQLiteStore

# schemathesis reads the schema when the module is imported, so the app (and its data folder) is built then;
# the folder is removed when the module's tests end, or at exit if none of them ran.
DATA = Path(tempfile.mkdtemp(prefix="sentinel-fuzz-"))
atexit.register(shutil.rmtree, DATA, ignore_errors=True)


@pytest.fixture(scope="module", autouse=True)
def _remove_the_data_folder():
    yield
    # schemathesis keeps one event-loop thread for ASGI apps until the interpreter exits; end it with the module
    # (the function its own exit hook calls) so the run's leftover check finds nothing running
    from schemathesis.python import asgi

    asgi._shutdown()
    shutil.rmtree(DATA, ignore_errors=True)


def _app():
    data = DATA
    cfg = load_settings(env={"SENTINEL_DATA_DIR": str(data)})
    store = SQLiteStore(cfg.sqlite_path)
    day = generate(seed=5, sessions=40, provinces=2)
    paths = day.write(data / "logs")
    pipeline = build_pipeline(Runtime(cfg), store)
    with paths["access"].open("rb") as access, paths["app"].open("rb") as app:
        ingest_streams(pipeline, [(str(paths["access"]), access), (str(paths["app"]), app)])
    pipeline.finish()
    return create_app(cfg, store, authenticator=LocalOperator())


schema = schemathesis.openapi.from_asgi("/openapi.json", _app())


@schema.parametrize()
# derandomized: the same generated requests on every CI run (raise max_examples locally to search further)
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors_and_responses_match_the_schema(case):
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance, content_type_conformance])
