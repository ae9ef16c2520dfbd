"""Loading declarative YAML content (rules, collectors, classifiers, playbooks, policies).

Content folders are edited by SOC engineers and DPOs, not programmers, so every
problem is reported as ``file:line: reason`` pointing at the offending key.
Validation is done with pydantic models; this module maps a pydantic error
location back to the YAML line it came from.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from sentinel.errors import Invalid

M = TypeVar("M", bound=BaseModel)


class ContentError(Invalid):
    """A content file is unreadable or invalid; ``str()`` is ``file:line: reason``, one line per problem.

    ``line`` and ``reason`` are the first problem's; ``problems`` holds every one, so a user fixes
    a file in one pass instead of one error per run.
    """

    def __init__(
        self, file: str | Path, line: int | None, reason: str, more: list[tuple[int | None, str]] | None = None
    ) -> None:
        self.file = str(file)
        self.line = line
        self.reason = reason
        self.problems = [(line, reason), *(more or [])]
        super().__init__("\n".join(f"{self.file}:{n}: {r}" if n else f"{self.file}: {r}" for n, r in self.problems))


class YamlDocument:
    """One parsed YAML document with the node tree kept for line lookups."""

    def __init__(self, file: str | Path, node: yaml.Node | None, data: Any) -> None:
        self.file = str(file)
        self.node = node
        self.data = data

    def line_of(self, loc: tuple[str | int, ...]) -> int | None:
        """1-based line of the value at ``loc`` (keys and list indexes), or of its nearest parent.

        Parts that are not in the document (pydantic adds the tag of a tagged
        union, e.g. ``sources.0.file.paths``) are skipped.
        """
        node = self.node
        line = node.start_mark.line + 1 if node is not None else None
        for part in loc:
            child = None
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if key_node.value == str(part):
                        child = value_node
                        line = key_node.start_mark.line + 1
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
                child = node.value[part]
                line = child.start_mark.line + 1
            if child is not None:
                node = child
        return line

    def validate(self, model: type[M]) -> M:
        """Validate the document against ``model``; raise :class:`ContentError` listing every problem."""
        try:
            return model.model_validate(self.data)
        except ValidationError as exc:
            problems = []
            for err in exc.errors():
                loc = tuple(err["loc"])
                field = ".".join(str(p) for p in loc) or "(document)"
                problems.append((self.line_of(loc), f"{field}: {err['msg']}"))
            (line, reason), *more = problems
            raise ContentError(self.file, line, reason, more) from None


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContentError(path, None, "file not found") from None
    except UnicodeDecodeError as exc:
        raise ContentError(path, None, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ContentError(path, None, f"cannot read: {exc.strerror}") from None


# libyaml's parser when PyYAML was built with it: the same nodes and line marks, four to five times faster
# (the console reads every rule file for its translations on its first page).
_COMPOSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def yaml_data(text: str) -> list[Any]:
    """Every YAML document of ``text`` as plain data (safe types only), parsed by libyaml when there is one.

    pySigma reads rules with PyYAML's pure-Python parser, two thirds of a command's start-up for
    the rule pack; this is the same data, a fraction of the time.
    """
    return list(yaml.load_all(text, Loader=_COMPOSER))


def load_yaml_documents(path: str | Path) -> list[YamlDocument]:
    """Parse every YAML document in ``path``, reporting syntax errors with their line."""
    p = Path(path)
    text = _read_text(p)
    docs = []
    try:
        for node in yaml.compose_all(text, Loader=_COMPOSER):
            loader = yaml.SafeLoader("")
            data = loader.construct_document(node) if node is not None else None
            docs.append(YamlDocument(p, node, data))
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ContentError(p, line, f"invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ContentError(p, None, f"invalid YAML: {exc}") from None
    return docs


def load_yaml(path: str | Path) -> YamlDocument:
    """Parse a single-document YAML file."""
    docs = load_yaml_documents(path)
    if not docs:
        raise ContentError(path, None, "file is empty")
    if len(docs) > 1:
        raise ContentError(path, docs[1].line_of(()), "expected one YAML document, found several")
    return docs[0]


def load_model(path: str | Path, model: type[M]) -> M:
    """Load ``path`` and validate it as ``model`` (the usual one-liner for content files)."""
    return load_yaml(path).validate(model)


def iter_yaml_files(folder: str | Path) -> Iterator[Path]:
    """YAML files below ``folder`` in a stable order."""
    root = Path(folder)
    if not root.is_dir():
        raise ContentError(root, None, "not a folder")
    yield from sorted(p for p in root.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
