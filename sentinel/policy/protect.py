"""Applying one purpose of the policy to a document: an ECS event, a JSON record, a CSV row.

One mechanism serves every enforcement point: ingest (purpose ``ingest``),
API responses (the role's masked view) and ``sentinel anonymize``. For each
document it

1. collects what must change: whole values of fields the policy names
   (``so_cccd``, ``user.email``), values of URL query parameters with such
   names (``?ho_ten=...`` in a request line), and spans the recognisers find in
   every other string;
2. rewrites the document: named fields get their operator's value (or are
   dropped, for ``deny``), and every occurrence of a changed raw value in any
   string -- plain, URL-encoded or inside a JSON ``event.original`` -- gets the
   same replacement, so a value is protected everywhere at once and a keyed
   pseudonym is the same in ``url.query``, ``event.original`` and ``message``.

Nothing here logs or raises with a value in the message.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate
from typing import Any
from urllib.parse import quote, unquote_plus

import orjson

from sentinel.classify.structure import structure_for
from sentinel.policy.finder import Finder
from sentinel.policy.glued import at_tokens, email_candidates, glued_digits
from sentinel.policy.model import LoadedPolicy, OperatorSpec
from sentinel.policy.operators import TOKEN, OperatorSet

DROP = "drop"
# Raw values shorter than this are replaced in their own field only, never across the document.
MIN_GLOBAL_CHARS = 4
_PARAM = re.compile(r"(?:(?<=[?&;])|^)([^=&?;#\s\"']{1,64})=([^&;#\s\"']*)")
_BIG_INT = 10**7  # integers this large may be identifiers and are scanned as text
# Values that are never a Mapping or a list: the walk tells them apart without an ABC check.
_LEAF_TYPES = frozenset({str, int, float, bool, type(None)})
_CACHE_SIZE = 100_000
# Strings at least this long are blanked out of a structured string that holds them (read on their own).
_MIN_BLANKED = 8


Action = OperatorSpec | str  # an operator, or DROP


@dataclass
class _Changes:
    """What one document needs: raw value -> replacement, and per-field replacements."""

    values: dict[str, str] = field(default_factory=dict)
    found: dict[str, int] = field(default_factory=dict)  # entity -> count, for reports

    def add(self, entity: str, raw: str, new: str) -> None:
        self.found[entity] = self.found.get(entity, 0) + 1
        if raw != new:
            self.values[raw] = new


class Protector:
    """Protects documents according to ``actions`` (entity -> operator or DROP)."""

    def __init__(
        self,
        loaded: LoadedPolicy,
        actions: Mapping[str, Action],
        operators: OperatorSet,
        finder: Finder,
        *,
        skip_fields: tuple[str, ...] | None = None,
    ) -> None:
        self.actions = {e: a for e, a in actions.items() if not (isinstance(a, OperatorSpec) and a.op == "keep")}
        self.ops = operators
        self.find = finder
        self.loaded = loaded
        self.field_entities = loaded.field_entities()
        skip = loaded.policy.skip_fields if skip_fields is None else skip_fields
        self.skip = frozenset(skip)
        self.structured = frozenset(loaded.policy.structured_fields)
        self.counts: Counter[str] = Counter()  # entity -> values protected, over this protector's life
        self._cache: dict[bytes, str] = {}
        # structured text (a user agent, a referrer) -> what the recognisers found in it; keyed by a digest
        self._found: dict[bytes, tuple[tuple[str, int, int], ...]] = {}
        self._entity_of = lru_cache(maxsize=4096)(self._entity_of_uncached)

    # -- field names -------------------------------------------------------------
    def _entity_of_uncached(self, path: str) -> str | None:
        return self.loaded.entity_of(path, self.field_entities)

    def entity_of(self, path: str) -> str | None:
        """The entity the policy assigns to a field path (full path, or its last key)."""
        return self._entity_of(path)

    def _replace(self, entity: str, raw: str) -> str | None:
        action = self.actions.get(entity)
        if action is None:
            return raw
        if action == DROP:
            return None
        if action.op in ("pseudonym", "encrypt") and TOKEN.fullmatch(raw):
            return raw  # already a pseudonym or ciphertext: protecting twice changes nothing
        if action.op == "encrypt":  # random IV: equal values must not give equal ciphertexts
            return self.ops.apply(entity, raw)
        # The same identifier recurs in a line and across lines; keyed by a digest so no raw value is held.
        key = hashlib.blake2b(f"{entity}\0{raw}".encode(), digest_size=16).digest()
        new = self._cache.get(key)
        if new is None:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            new = self._cache[key] = self.ops.apply(entity, raw)
        return new

    def _span_value(self, entity: str, raw: str) -> str:
        """Inside text a dropped entity is redacted: the surrounding text stays."""
        new = self._replace(entity, raw)
        return f"<{entity}>" if new is None else new

    # -- public ----------------------------------------------------------------
    def protect(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """A protected copy of ``doc``; returns ``doc``'s copy unchanged when nothing applies."""
        changes = _Changes()
        failed = doc.get("event", {}).get("kind") == "pipeline_error"
        # a line that failed to parse has no fields parsed from it: its raw text is all the free text there is
        texts = _Texts(self.structured - {"event.original"} if failed else self.structured)
        originals: dict[str, Any] = {}
        self._collect(doc, "", changes, texts, originals)
        known = _pattern(changes.values)
        if known is not None:  # values named fields already gave need no recogniser to find them again
            texts.free = [known.sub(lambda m: changes.values[m.group(0)], t) for t in texts.free]
            texts.structured = [known.sub(lambda m: changes.values[m.group(0)], t) for t in texts.structured]
        self._scan(texts.free, changes, texts.structured)
        self.counts.update(changes.found)
        if not changes.values:  # nothing to replace (most events): skip the rewrite walk
            return dict(doc)
        pattern = _pattern(changes.values)
        return self._rewrite(doc, "", changes, pattern, originals)

    def protect_value(self, column: str | None, value: str) -> str | None:
        """Protect one cell: by the column's entity if the policy names it, else by scanning the text."""
        entity = self.entity_of(column) if column else None
        if entity is not None:
            if value:
                self.counts[entity] += 1
            return self._replace(entity, value) if value else value
        changes = _Changes()
        self._scan([value], changes)
        self.counts.update(changes.found)
        pattern = _pattern(changes.values)
        return pattern.sub(lambda m: changes.values[m.group(0)], value) if pattern else value

    # -- phase 1: collect ---------------------------------------------------------
    def _collect(
        self,
        node: Any,
        path: str,
        changes: _Changes,
        texts: _Texts,
        originals: dict[str, Any],
    ) -> None:
        if type(node) is dict or (type(node) not in _LEAF_TYPES and isinstance(node, Mapping)):
            skip, actions = self.skip, self.actions
            for key, value in node.items():
                sub = f"{path}.{key}" if path else str(key)
                if sub in skip:
                    continue
                kind = type(value)
                if kind is dict or kind is list or (kind not in _LEAF_TYPES and isinstance(value, Mapping | list)):
                    self._collect(value, sub, changes, texts, originals)
                    continue
                entity = self._entity_of(sub)
                if entity is not None and entity in actions:
                    self._whole_value(entity, value, changes)
                elif kind is str:  # the usual leaf, handled here rather than by another call
                    if sub == "event.original" and value.lstrip().startswith("{"):
                        parsed = _json_object(value)
                        if parsed is not None:
                            originals[sub] = parsed
                            self._collect(parsed, "", changes, texts, originals)
                            continue
                    self._text(value, changes, texts, sub)
                elif value is not None:
                    self._collect(value, sub, changes, texts, originals)
        elif isinstance(node, list):
            for item in node:
                self._collect(item, path, changes, texts, originals)
        elif isinstance(node, str):
            self._text(node, changes, texts, path)
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) >= _BIG_INT:
            texts.free.append(str(node))

    def _whole_value(self, entity: str, value: Any, changes: _Changes) -> None:
        for item in value if isinstance(value, list) else [value]:
            if item is None or isinstance(item, bool) or item == "":
                continue
            raw = str(item)
            new = self._span_value(entity, raw)
            changes.add(entity, raw, new)

    def _text(self, text: str, changes: _Changes, texts: _Texts, path: str) -> None:
        if "=" in text:
            for match in _PARAM.finditer(text):
                entity = self.entity_of(match.group(1))
                if entity is None or entity not in self.actions or not match.group(2):
                    continue
                encoded = match.group(2)
                decoded = unquote_plus(encoded)
                new = self._span_value(entity, decoded)
                changes.add(entity, decoded, new)
                if encoded != decoded:
                    changes.values[encoded] = quote(new, safe="-_.~=")
        texts.add(path, text)

    def _scan(self, texts: list[str], changes: _Changes, structured: Sequence[str] = ()) -> None:
        """One recogniser call over every distinct free string, one over the structured ones, then the glued pieces.

        A string inside a longer one is still read alone: inside the longer one it may be glued to
        other characters (``req-001099012345``) that make the recognisers refuse it. Structured
        strings (user agents, URLs, raw lines) are read without the name tagger.
        """
        if not self.actions:
            return
        # protocol and format tokens (a vendor's log code, SSH algorithm names) are not read, glued or not
        blank = structure_for(self.loaded.classifiers_dir).blank
        free = list(dict.fromkeys(map(blank, texts)))
        in_free = set(free)
        rest = [t for t in dict.fromkeys(map(blank, structured)) if t not in in_free]
        seen: set[str] = set()
        text = "\n".join(free)
        found = [(h.entity, text[h.start : h.end]) for h in self.find(text)] if text else []
        for raw_text in rest:
            found.extend(self._structured_hits(raw_text, free, rest))
        for entity, raw in found:
            if entity in self.actions:
                seen.add(raw)
                changes.add(entity, raw, self._span_value(entity, raw))
        self._scan_glued(free + rest, changes, seen)

    def _structured_hits(self, text: str, free: list[str], rest: list[str]) -> list[tuple[str, str]]:
        """(entity, raw) in one structured string, read alone and remembered: user agents and URLs repeat.

        The other strings of the document that it holds (the user agent inside the raw line) are read on
        their own, so they are blanked here: what is left of a parsed line is mostly addresses and numbers.
        """
        blanked = text
        for other in (*free, *rest):
            if len(other) >= _MIN_BLANKED and other != text and other in blanked:
                blanked = blanked.replace(other, " " * len(other))
        key = hashlib.blake2b(blanked.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        spans = self._found.get(key)
        if spans is None:
            if len(self._found) >= _CACHE_SIZE:
                self._found.clear()
            spans = self._found[key] = tuple((h.entity, h.start, h.end) for h in self.find(blanked, free_text=False))
        return [(entity, text[start:end]) for entity, start, end in spans]

    def _scan_glued(self, texts: list[str], changes: _Changes, seen: set[str]) -> None:
        """Identifiers glued to other characters (path segments, file names, tokens), each read on its own line."""
        lines: list[str] = []
        groups: list[int] = []  # the candidates of one ``@`` token share a group: the longest accepted wins
        for t in texts:
            for digits in glued_digits(t):
                if digits not in seen:
                    lines.append(digits)
                    groups.append(len(lines))
            for token in at_tokens(t):
                if token in seen:
                    continue
                group = -len(lines) - 1
                for candidate in email_candidates(token):
                    lines.append(candidate)
                    groups.append(group)
        if not lines:
            return
        text = "\n".join(lines)
        starts = list(accumulate((len(line) + 1 for line in lines[:-1]), initial=0))
        best: dict[int, tuple[str, str]] = {}  # group -> (entity, raw)
        for hit in self.find(text):
            index = bisect_right(starts, hit.start) - 1
            line = lines[index]
            if hit.entity not in self.actions or hit.start != starts[index] or hit.end - hit.start != len(line):
                continue  # only a whole piece is a value that occurs as such in the event
            group = groups[index]
            if group not in best or len(line) > len(best[group][1]):
                best[group] = (hit.entity, line)
        for entity, raw in best.values():
            if raw not in seen:
                seen.add(raw)
                changes.add(entity, raw, self._span_value(entity, raw))

    # -- phase 2: rewrite ---------------------------------------------------------
    def _rewrite(
        self,
        node: Any,
        path: str,
        changes: _Changes,
        pattern: re.Pattern[str] | None,
        originals: dict[str, Any],
    ) -> Any:
        if isinstance(node, Mapping):
            out: dict[str, Any] = {}
            for key, value in node.items():
                sub = f"{path}.{key}" if path else str(key)
                if sub in self.skip:
                    out[key] = value
                    continue
                entity = self.entity_of(sub) if not isinstance(value, Mapping | list) else None
                if entity is not None:  # the field is declared to hold this entity: its operator decides alone
                    if self.actions.get(entity) == DROP:
                        continue
                    out[key] = self._rewrite_whole(value, changes) if entity in self.actions else value
                elif sub in originals:
                    obj = self._rewrite(originals[sub], "", changes, pattern, {})
                    out[key] = orjson.dumps(obj).decode()
                else:
                    out[key] = self._rewrite(value, sub, changes, pattern, originals)
            return out
        if isinstance(node, list):
            return [self._rewrite(item, path, changes, pattern, originals) for item in node]
        if isinstance(node, str):
            if pattern is None:
                return node
            return pattern.sub(lambda m: changes.values[m.group(0)], node)
        if isinstance(node, int) and not isinstance(node, bool) and str(node) in changes.values:
            return changes.values[str(node)]
        return node

    @staticmethod
    def _rewrite_whole(value: Any, changes: _Changes) -> Any:
        if isinstance(value, list):
            return [changes.values.get(str(v), v) if v is not None else v for v in value]
        if value is None or isinstance(value, bool) or value == "":
            return value
        return changes.values.get(str(value), value)


@dataclass
class _Texts:
    """The strings of one document to scan: free text, and structure (``structured_fields``)."""

    structured_fields: frozenset[str]
    free: list[str] = field(default_factory=list)
    structured: list[str] = field(default_factory=list)

    def add(self, path: str, text: str) -> None:
        if path not in self.structured_fields:
            self.free.append(text)
            return
        self.structured.append(text)
        if "=" in text:  # search terms and form values in a URL are free text
            self.free.extend(_query_words(text))


_QUERY_VALUE = re.compile(r"(?:^|[?&;])[^=&;#?\s]{1,64}=([^&;#]+)")
_WORDS = re.compile(r"[\w\s'’.,()\-]+")
_LETTERS = re.compile(r"[^\W\d_]{2}")


def _query_words(text: str) -> list[str]:
    """The values of URL parameters in ``text`` that are words (decoded), not codes or encoded blobs."""
    words = []
    for match in _QUERY_VALUE.finditer(text):
        value = match.group(1)
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        value = value.strip()
        if _LETTERS.search(value) and _WORDS.fullmatch(value):
            words.append(value)
    return words


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def _edge(char: str, look: str) -> str:
    """The guard on one side of a value: a digit must not continue a digit, a letter not a letter or digit."""
    if char.isdigit():
        return f"(?{look}\\d)"
    if char.isalpha():
        return f"(?{look}[^\\W_])"
    return ""


def _pattern(values: Mapping[str, str]) -> re.Pattern[str] | None:
    """One alternation of every raw value worth replacing across the document, longest first.

    A value is replaced wherever it occurs, glued or not (``req-001099012345``, ``x001099012345``,
    ``CCCD_001099012345.pdf``): only a longer number of which it is a part (``9001099012345``), or a
    longer word, is a different value.
    """
    keys = sorted((k for k in values if len(k) >= MIN_GLOBAL_CHARS), key=len, reverse=True)
    if not keys:
        return None
    return re.compile("|".join(_edge(k[0], "<!") + re.escape(k) + _edge(k[-1], "!") for k in keys))
