"""Configuration and content loading: every mistake is reported as file:line: reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from sentinel.config import load_settings
from sentinel.content import ContentError, load_model, load_yaml_documents


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    items: list[int] = []


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.yml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_without_file_or_environment():
    s = load_settings(env={})
    assert not s.uses_elasticsearch
    # the service's place, never the current directory
    expected = Path("/var/lib/sentinel") if os.geteuid() == 0 else Path.home() / ".local" / "share" / "sentinel"
    assert s.data_dir == expected and s.sqlite_path == expected / "sentinel.db"
    assert (s.rules_dir.parent / "sentinel").is_dir()


def test_environment_overrides_file(tmp_path):
    cfg = write(tmp_path, "data_dir: /srv/a\napi:\n  port: 9000\n")
    s = load_settings(cfg, env={"SENTINEL_DATA_DIR": "/srv/b", "SENTINEL_ES_URL": "https://es:9200"})
    assert s.data_dir == Path("/srv/b") and s.api.port == 9000
    assert s.uses_elasticsearch and s.elasticsearch.url == "https://es:9200"


@pytest.mark.parametrize(
    ("text", "where", "why"),
    [
        ("api:\n  port: 0\n", ":2:", "api.port"),
        ("elasticsearch:\n  url: es:9200\n", ":2:", "http://"),
        ("nonsense: 1\n", ":1:", "nonsense"),
        ("api: [1, 2\n", ":2:", "invalid YAML"),
    ],
)
def test_bad_configuration_points_at_the_line(tmp_path, text, where, why):
    with pytest.raises(ContentError) as exc:
        load_settings(write(tmp_path, text), env={})
    assert where in str(exc.value) and why in str(exc.value)


def test_bad_environment_variable_is_named():
    with pytest.raises(ContentError, match="SENTINEL_API_PORT"):
        load_settings(env={"SENTINEL_API_PORT": "eighty"})


def test_content_errors_name_file_line_and_field(tmp_path):
    p = write(tmp_path, "name: ok\nitems:\n  - 1\n  - two\n")
    with pytest.raises(ContentError) as exc:
        load_model(p, Thing)
    assert str(exc.value).startswith(f"{p}:4: items.1")
    assert load_model(write(tmp_path, "name: x\n"), Thing).name == "x"


def test_unreadable_content(tmp_path):
    with pytest.raises(ContentError, match="file not found"):
        load_model(tmp_path / "missing.yml", Thing)
    bad = tmp_path / "latin1.yml"
    bad.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(ContentError, match="not UTF-8"):
        load_model(bad, Thing)
    with pytest.raises(ContentError, match="empty"):
        load_model(write(tmp_path, ""), Thing)
    assert len(load_yaml_documents(write(tmp_path, "a: 1\n---\nb: 2\n"))) == 2


def test_union_tags_in_error_locations_are_skipped(tmp_path):
    from typing import Annotated, Literal

    from pydantic import Field

    class FileSrc(BaseModel):
        type: Literal["file"]
        paths: list[str]

    class UdpSrc(BaseModel):
        type: Literal["udp"]
        port: int

    class Doc(BaseModel):
        sources: list[Annotated[FileSrc | UdpSrc, Field(discriminator="type")]]

    p = write(tmp_path, "sources:\n  - type: udp\n    port: 1\n  - type: file\n    paths: 7\n")
    with pytest.raises(ContentError) as exc:
        load_model(p, Doc)
    assert f"{p}:5:" in str(exc.value)


def test_every_problem_of_a_content_file_is_listed_with_its_line(tmp_path):
    from pydantic import BaseModel, ConfigDict

    from sentinel.content import load_model

    class Model(BaseModel):
        model_config = ConfigDict(extra="forbid")
        port: int
        host: str

    path = tmp_path / "c.yaml"
    path.write_text("port: eighty\nhost: [1]\nextra: 1\n", encoding="utf-8")
    with pytest.raises(ContentError) as err:
        load_model(path, Model)
    lines = str(err.value).splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [f"{path}:1", f"{path}:2", f"{path}:3"]
    assert "port" in lines[0] and "host" in lines[1] and "extra" in lines[2]
