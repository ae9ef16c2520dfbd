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

from collections.abc import Iterator, Mapping
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

    __slots__ = ("_cache", "_dotted_nodes", "_flat", "doc")

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self.doc = doc
        self._cache: dict[str, Any] = {}
        self._flat: dict[str, Any] | None = None
        self._dotted_nodes: dict[int, bool] = {}

    def _dotted(self, node: dict[Any, Any]) -> bool:
        """Whether ``node`` has a dotted key (remembered per node for this event)."""
        known = self._dotted_nodes.get(id(node))
        if known is None:
            known = self._dotted_nodes[id(node)] = _has_dotted_key(node)
        return known

    def get(self, path: str, default: Any = None) -> Any:
        cache = self._cache
        if path in cache:
            value = cache[path]
        else:
            value = cache[path] = self._resolve(path)
        return default if value is None else value

    def _resolve(self, path: str) -> Any:
        """The value at ``path``, or None when absent (or an object with fields)."""
        doc = self.doc
        value = doc.get(path)
        if value is None and "." in path:
            parts = _PARTS.get(path)
            if parts is None:
                parts = _PARTS[path] = tuple(path.split("."))
            node: Any = doc
            for part in parts:
                if type(node) is not dict:
                    return _general(doc, path)
                if part not in node:
                    # the rest may be spelled as one dotted key further down ({"http": {"request.method": ...}})
                    return _general(doc, path) if self._dotted(node) else None
                node = node[part]
            value = node
        if type(value) is dict or (value is not None and type(value) not in _LEAVES and isinstance(value, Mapping)):
            return value if not value else None  # an object with fields is not itself a field value
        return value

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
