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

from collections.abc import Callable, Iterable, Iterator, Mapping
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
    """Reads a fixed list of paths from events in one call (same results as ``view.get``).

    Reading the dozen fields the engine needs is most of its per-event cost, so
    the reader is generated Python (:func:`_compile_reader`): each object on the
    way (``http``, ``http.request``) is fetched once and every path is a chain of
    plain dict lookups. That is valid on a plain event (see
    :meth:`EventView.plain`), where the only other spelling of a path is a dotted
    key inside a nested object; the generated code checks for that only where a
    nested object is missing and then hands the event to :meth:`EventView.get`,
    as it does every event that is not plain.
    """

    def __init__(self, paths: Iterable[str]) -> None:
        self.paths = tuple(paths)
        self._fast = _compile_reader(self.paths)

    def read(self, view: EventView) -> list[Any]:
        out = self._fast(view.doc) if view.plain() else None
        if out is None:
            return [view.get(p) for p in self.paths]
        view._cache.update(zip(self.paths, out, strict=True))  # rule matchers read these fields again
        return out


def _compile_reader(paths: tuple[str, ...]) -> Callable[[dict[str, Any]], list[Any] | None]:
    """Generate ``read(doc)``: the values at ``paths`` of a plain event, or None to use the general lookup."""
    names: dict[tuple[str, ...], str] = {(): "doc"}
    lines = ["def read(doc):"]

    def node(prefix: tuple[str, ...]) -> str:
        """The local variable holding the object at ``prefix`` (emitting its lookup the first time)."""
        if prefix in names:
            return names[prefix]
        parent = node(prefix[:-1])
        name = names[prefix] = f"n{len(names)}"
        lines.append(f"    {name} = {parent}.get({prefix[-1]!r})")
        lines.append(f"    if type({name}) is not dict:")
        if len(prefix) > 1:  # missing here: the rest of the path may be one dotted key of the parent
            lines.append(f"        if {name} is None and _dotted({parent}):")
            lines.append("            return None")
        lines.append(f"        {name} = _EMPTY")
        return name

    results = []
    for i, path in enumerate(paths):
        parts = tuple(path.split("."))
        lines.append(f"    v{i} = {node(parts[:-1])}.get({parts[-1]!r})")
        results.append(f"None if type(v{i}) is dict and v{i} else v{i}")
    lines.append("    return [" + ", ".join(results) + "]")
    namespace: dict[str, Any] = {"_EMPTY": {}, "_dotted": _has_dotted_key}
    exec(compile("\n".join(lines), f"<field reader {len(paths)}>", "exec"), namespace)
    return namespace["read"]
