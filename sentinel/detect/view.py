"""A read-only, dotted-path view of one ECS event, resolving only the fields that are asked for.

Rules name fields by dotted path (``url.query``). Flattening a whole nested
event costs more than the engine's entire evaluation of it, and a rule set
touches only a handful of fields, so the view resolves a path on first use and
remembers it. Iterating the view (keyword detections, alert labels) flattens
the event once, with the same result as :func:`sentinel.ecs.flatten`.

Path semantics match :func:`sentinel.ecs.flatten`: a literal dotted key
(``{"source.ip": ...}``) wins, nested objects are descended, and a non-empty
object is not a value (``url`` alone is absent; ``url.path`` is a value).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sentinel import ecs

_MISSING = object()
_PARTS: dict[str, tuple[str, ...]] = {}
_LEAVES = frozenset({str, int, float, bool, list})


def _general(doc: Mapping[str, Any], path: str) -> Any:
    value = ecs.get_field(doc, path)
    return None if isinstance(value, Mapping) and value else value


def _has_dotted_key(node: dict[Any, Any]) -> bool:
    try:
        return "." in "".join(node)
    except TypeError:  # a non-string key: let the general lookup decide
        return True


class EventView(Mapping[str, Any]):
    """Dotted-path access to a nested event, computed lazily and cached per path."""

    __slots__ = ("_cache", "_flat", "_top_dotted", "doc")

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc
        self._cache: dict[str, Any] = {}
        self._flat: dict[str, Any] | None = None
        self._top_dotted: bool | None = None

    def _dotted(self, node: dict[Any, Any]) -> bool:
        """Whether ``node`` has a dotted key (for the event's top level: computed once)."""
        if node is not self.doc:
            return _has_dotted_key(node)
        if self._top_dotted is None:
            self._top_dotted = _has_dotted_key(node)
        return self._top_dotted

    def get(self, path: str, default: Any = None) -> Any:
        cache = self._cache
        value = cache.get(path, _MISSING)
        if value is _MISSING:
            value = cache[path] = self._resolve(path)
        return default if value is None else value

    def _resolve(self, path: str) -> Any:
        """The value at ``path``, or None when absent (or an object with fields)."""
        doc = self.doc
        value = doc.get(path)  # a literal dotted key, or a top-level field
        if value is None:
            parts = _PARTS.get(path)
            if parts is None:
                parts = _PARTS[path] = tuple(path.split("."))
            if len(parts) == 1:
                return None
            node: Any = doc
            last = len(parts) - 1
            for i, part in enumerate(parts):
                if type(node) is not dict:
                    return _general(doc, path)
                parent, node = node, node.get(part)
                if node is None:
                    # Absent here. With two or more parts left, they may be spelled as one dotted
                    # key at this level ({"http": {"request.method": ...}}); with one, nothing else.
                    return _general(doc, path) if i < last and self._dotted(parent) else None
            value = node
        if type(value) in _LEAVES:
            return value
        if isinstance(value, Mapping) and value:
            return None  # an object with fields is not itself a field value
        return value

    def plain(self) -> bool:
        """Whether the event is a nested dict with no dotted key at its top level (the usual case)."""
        doc = self.doc
        return type(doc) is dict and not self._dotted(doc)

    def flat(self) -> dict[str, Any]:
        """The whole event flattened (computed once)."""
        if self._flat is None:
            self._flat = ecs.flatten(self.doc)
        return self._flat

    def __getitem__(self, path: str) -> Any:
        value = self.get(path, _MISSING)
        if value is _MISSING:
            raise KeyError(path)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self.flat())

    def __len__(self) -> int:
        return len(self.flat())

    def values(self) -> Any:
        return self.flat().values()

    def items(self) -> Any:
        return self.flat().items()


class FieldReader:
    """Reads a fixed list of paths from events, in one tight loop (same results as ``view.get``).

    On a plain event (see :meth:`EventView.plain`) a path of two or three parts
    is read with plain dict lookups: its only other spelling would be a dotted
    key inside the nested object, which is checked for only when a part is
    missing there. Other paths, and other events, go through :meth:`EventView.get`.
    """

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = tuple(paths)
        self._plan = tuple((p, tuple(p.split("."))) for p in self.paths)

    def read(self, view: EventView) -> list[Any]:
        if not view.plain():
            return [view.get(p) for p in self.paths]
        doc = view.doc
        out = []
        for path, parts in self._plan:
            n = len(parts)
            if n == 2:
                node = doc.get(parts[0])
                value = node.get(parts[1]) if type(node) is dict else None
            elif n == 3:
                node = doc.get(parts[0])
                value = None
                if type(node) is dict:
                    inner = node.get(parts[1])
                    if type(inner) is dict:
                        value = inner.get(parts[2])
                    elif inner is None and _has_dotted_key(node):
                        value = view.get(path)
            else:
                value = view.get(path)
            out.append(None if type(value) is dict and value else value)
        view._cache.update(zip(self.paths, out, strict=True))  # rule matchers read these fields again
        return out
