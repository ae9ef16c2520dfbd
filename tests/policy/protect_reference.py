"""The protector as it was before protection read each string through remembered reads (commit e939814).

Kept verbatim (but for this docstring) as the reference ``tests/policy/test_protect_same.py`` compares
:class:`sentinel.policy.protect.Protector` with: the same documents must come out the same, whatever the
order the strings of a document are read in, what was remembered from earlier documents, or how the raw
line of a parsed event is read. Not used by Sentinel itself.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus

import orjson

from sentinel.classify import structure_for
from sentinel.policy.candidates import prefilter_for
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
# Entries each remembered-findings table keeps before it starts afresh (memory stays bounded).
_CACHE_SIZE = 50_000
# Strings at least this long are blanked out of a structured string that holds them (read on their own).
_MIN_BLANKED = 8
# An IPv4 address, with a port or not: no shape an identifier, a name or a term needs is in it.
_ADDRESS = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?")
# A glued identifier is a run of nine digits or more: ASCII digits are looked for in the bytes' shape (at
# memory speed); other scripts' digits, which the piece patterns read too, by a regex on non-ASCII text only.
_DIGIT_SHAPE = bytes(0x39 if 0x30 <= c <= 0x39 else 0x5F for c in range(256))
_NINE_SHAPE = b"9" * 9
_NINE_DIGITS = re.compile(r"\d{9}")
# One keyed hasher per kind of entry, copied for each string (half the cost of making one each time).
_HASHERS: dict[bytes, Any] = {}


def _digest(text: str, kind: bytes = b"") -> bytes:
    """The key a string is remembered by: a digest, so no table holds a raw value."""
    base = _HASHERS.get(kind)
    if base is None:
        base = _HASHERS[kind] = hashlib.blake2b(digest_size=16, person=kind)
    hasher = base.copy()
    hasher.update(text.encode("utf-8", "surrogatepass"))
    return hasher.digest()


def _glue_free(text: str) -> bool:
    """No digit run a glued identifier needs and no ``@``: the usual string, with no piece to read."""
    if "@" in text or _NINE_SHAPE in text.encode("utf-8", "surrogatepass").translate(_DIGIT_SHAPE):
        return False
    return text.isascii() or _NINE_DIGITS.search(text) is None


class _Memo(dict):
    """Findings remembered per string digest, bounded: a full table forgets its oldest quarter.

    User agents, paths and user names are asked on line after line; a string forgotten while it
    still recurs is read once more and remembered again, which costs less than keeping the table
    in recency order on every hit.
    """

    def put(self, key: bytes, value: Any) -> Any:
        if len(self) >= _CACHE_SIZE:
            for old in list(islice(self, _CACHE_SIZE // 4)):
                del self[old]
        self[key] = value
        return value


Action = OperatorSpec | str  # an operator, or DROP
# A key under a path, as the policy sees it: (full path, skipped, entity acted on, entity declared).
_Field = tuple[str, bool, str | None, str | None]


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
        self._cache = _Memo()  # (entity, raw) digest -> its replacement
        self._found = _Memo()  # string digest -> what the recognisers found in it, (entity, start, end)
        self._pieces = _Memo()  # string digest -> its glued candidate pieces
        self._accepted = _Memo()  # piece digest -> the entity it is, whole ("" for none)
        self._query = _Memo()  # string digest -> (named URL parameters, query values that are words)
        self._reads_addresses = bool(prefilter_for(frozenset(self.actions), loaded.classifiers_dir).addresses)
        self._entity_of = lru_cache(maxsize=4096)(self._entity_of_uncached)
        self._fields: dict[tuple[str, Any], _Field] = {}

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
        key = _digest(f"{entity}\0{raw}")
        new = self._cache.get(key)
        if new is None:
            new = self._cache.put(key, self.ops.apply(entity, raw))
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
        free = list(dict.fromkeys(texts.free))
        in_free = set(free)
        rest = [t for t in dict.fromkeys(texts.structured) if t not in in_free]
        # what a structured string holds of the others (a raw line holds its URL and user agent) is read with them
        blanked = _blank_each(rest, free)
        for text in free:
            if "=" in text:
                self._params(text, changes)
        for text in blanked:
            if "=" in text:  # search terms and form values in a URL are free text
                for word in self._params(text, changes):
                    if word not in in_free:
                        in_free.add(word)
                        free.append(word)
        known = _pattern(changes.values)
        if known is not None:  # values named fields already gave need no recogniser to find them again
            free = list(dict.fromkeys(known.sub(lambda m: changes.values[m.group(0)], t) for t in free))
            in_free = set(free)
            rest = [t for t in dict.fromkeys(known.sub(lambda m: changes.values[m.group(0)], t) for t in rest)]
            rest = [t for t in rest if t not in in_free]
            blanked = _blank_each(rest, free)
        self._scan(free, changes, rest, blanked)
        self.counts.update(changes.found)
        if not changes.values:  # nothing to replace (most events): skip the rewrite walk
            return dict(doc)
        _add_url_encoded(changes.values)
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
            fields, field = self._fields, self._field
            for key, value in node.items():
                sub, skipped, entity, _ = fields.get((path, key)) or field(path, key)
                if skipped:
                    continue
                kind = type(value)
                if kind is dict or kind is list or (kind not in _LEAF_TYPES and isinstance(value, Mapping | list)):
                    if entity is not None and _leaves(value):  # ["0912...", "0983..."] in a named field
                        self._whole_value(entity, value, changes)
                    else:
                        self._collect(value, sub, changes, texts, originals)
                    continue
                if entity is not None:
                    self._whole_value(entity, value, changes)
                elif kind is str:  # the usual leaf, handled here rather than by another call
                    if sub == "event.original" and value.lstrip().startswith("{"):
                        parsed = _json_object(value)
                        if parsed is not None:
                            originals[sub] = parsed
                            self._collect(parsed, "", changes, texts, originals)
                            continue
                    texts.add(sub, value)
                elif value is not None:
                    self._collect(value, sub, changes, texts, originals)
        elif isinstance(node, list):
            for item in node:
                self._collect(item, path, changes, texts, originals)
        elif isinstance(node, str):
            texts.add(path, node)
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) >= _BIG_INT:
            texts.free.append(str(node))

    def _field(self, path: str, key: Any) -> _Field:
        """What the policy says of ``key`` under ``path``: remembered, as documents repeat their keys."""
        sub = f"{path}.{key}" if path else str(key)
        entity = self._entity_of(sub)
        if len(self._fields) >= _CACHE_SIZE:  # documents with ever new keys (a JSON log's ids as keys)
            self._fields.clear()
        found = self._fields[(path, key)] = (
            sub,
            sub in self.skip,
            entity if entity in self.actions else None,
            entity,
        )
        return found

    def _whole_value(self, entity: str, value: Any, changes: _Changes) -> None:
        for item in value if isinstance(value, list) else [value]:
            if item is None or isinstance(item, bool) or item == "":
                continue
            raw = str(item)
            new = self._span_value(entity, raw)
            changes.add(entity, raw, new)

    def _params(self, text: str, changes: _Changes) -> tuple[str, ...]:
        """Values of URL parameters the policy names (``?ho_ten=...``) into ``changes``; the values that are words.

        Both are remembered per string: a portal's URLs and referrers recur. A parameter starts the text
        or follows ``?``, ``&`` or ``;``: a text with none of those and no parameter at its start (what is
        left of a raw line once its URL is blanked out) has none, and is not remembered.
        """
        separated = "?" in text or "&" in text or ";" in text
        if not (separated or _PARAM.match(text) or _QUERY_VALUE.match(text)):
            return ()
        key = _digest(text, b"q")
        found = self._query.get(key)
        if found is None:
            params = []
            for match in _PARAM.finditer(text):
                entity = self.entity_of(match.group(1))
                if entity is not None and entity in self.actions and match.group(2):
                    params.append((entity, unquote_plus(match.group(2)), match.group(2)))
            found = self._query.put(key, (tuple(params), tuple(_query_words(text))))
        for entity, decoded, encoded in found[0]:
            new = self._span_value(entity, decoded)
            changes.add(entity, decoded, new)
            if encoded != decoded:
                changes.values[encoded] = quote(new, safe="-_.~=")
        return found[1]

    def _scan(self, free: list[str], changes: _Changes, rest: Sequence[str] = (), blanked: Sequence[str] = ()) -> None:
        """Every distinct string read on its own, then the glued pieces; what each string holds is remembered.

        ``free`` are distinct free strings, ``rest`` the structured ones not among them and ``blanked`` the
        same with the other strings they hold blanked out. A string inside a longer one is still read
        alone: inside the longer one it may be glued to other characters (``req-001099012345``) that
        make the recognisers refuse it. Each string is its own context (a field's value, not its
        neighbours in the document), so what the recognisers find in it depends on the string alone
        and is remembered per string: user names, user agents, referrers and paths recur from line to
        line. Structured strings (user agents, URLs, raw lines) are read without the name tagger. An
        address with a port is read by nobody when no operator acts on IP addresses: it holds no
        other shape the recognisers know.
        """
        if not self.actions:
            return
        # protocol and format tokens (a vendor's log code, SSH algorithm names) are not read, glued or not
        blank = structure_for(self.loaded.classifiers_dir).blank
        free = list(dict.fromkeys(map(blank, free)))
        rest, blanked = [blank(t) for t in rest], [blank(t) for t in blanked]
        if not self._reads_addresses:
            free = [t for t in free if not _ADDRESS.fullmatch(t)]
            kept = [i for i, t in enumerate(rest) if not _ADDRESS.fullmatch(t)]
            rest, blanked = [rest[i] for i in kept], [blanked[i] for i in kept]
        seen: set[str] = set()
        found: list[tuple[str, str]] = []
        for text in free:
            found.extend(self._free_hits(text))
        for text, hidden in zip(rest, blanked, strict=True):
            found.extend(self._structured_hits(text, hidden))
        for entity, raw in found:
            if entity in self.actions:
                seen.add(raw)
                changes.add(entity, raw, self._span_value(entity, raw))
        self._scan_glued([*free, *rest], changes, seen)

    def _free_hits(self, text: str) -> list[tuple[str, str]]:
        """(entity, raw) in one free string, read alone and remembered."""
        key = _digest(text)
        spans = self._found.get(key)
        if spans is None:
            spans = self._found.put(key, tuple((h.entity, h.start, h.end) for h in self.find(text)))
        return [(entity, text[start:end]) for entity, start, end in spans]

    def _structured_hits(self, text: str, blanked: str) -> list[tuple[str, str]]:
        """(entity, raw) in one structured string, read alone and remembered: user agents and URLs repeat.

        The other strings of the document that it holds (the user agent inside the raw line) are read on
        their own, so they are blanked out of it (``blanked``, the same length): what is left of a parsed
        line is mostly addresses and numbers.
        """
        key = _digest(blanked, b"s")
        spans = self._found.get(key)
        if spans is None:
            spans = self._found.put(key, tuple((h.entity, h.start, h.end) for h in self.find(blanked, free_text=False)))
        return [(entity, text[start:end]) for entity, start, end in spans]

    def _scan_glued(self, texts: list[str], changes: _Changes, seen: set[str]) -> None:
        """Identifiers glued to other characters (path segments, file names, tokens), each piece read on its own.

        The pieces of a string and what the recognisers say of each piece are remembered (a user name
        like ``cd825125200`` recurs on every line of a session); of the candidates of one ``@`` token
        the longest accepted wins.
        """
        if all(map(_glue_free, texts)):
            return  # no digit run an identifier needs and no address in any string: most events
        best: list[tuple[str, str]] = []
        for text in texts:
            for group in self._glued_pieces(text):
                accepted = [(entity, piece) for piece in group if (entity := self._piece_entity(piece)) is not None]
                if accepted:
                    best.append(max(accepted, key=lambda hit: len(hit[1])))
        for entity, raw in best:
            if raw not in seen:
                seen.add(raw)
                changes.add(entity, raw, self._span_value(entity, raw))

    def _glued_pieces(self, text: str) -> tuple[tuple[str, ...], ...]:
        """The candidate pieces of ``text``, in groups: a glued digit run alone, an ``@`` token's addresses."""
        if _glue_free(text):
            return ()
        key = _digest(text, b"g")
        groups = self._pieces.get(key)
        if groups is None:
            found = [(digits,) for digits in dict.fromkeys(glued_digits(text))]
            found += [tuple(email_candidates(token)) for token in dict.fromkeys(at_tokens(text))]
            groups = self._pieces.put(key, tuple(g for g in found if g))
        return groups

    def _piece_entity(self, piece: str) -> str | None:
        """The entity the recognisers accept ``piece`` as, whole; None when they accept it as nothing we act on."""
        key = _digest(piece, b"p")
        entity = self._accepted.get(key)
        if entity is None:
            whole = [h.entity for h in self.find(piece) if h.start == 0 and h.end == len(piece)]
            entity = self._accepted.put(key, next((e for e in whole if e in self.actions), ""))
        return entity or None

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
            fields, field = self._fields, self._field
            for key, value in node.items():
                sub, skipped, _, declared = fields.get((path, key)) or field(path, key)
                if skipped:
                    out[key] = value
                    continue
                entity = declared if not isinstance(value, Mapping | list) or _leaves(value) else None
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


_QUERY_VALUE = re.compile(r"(?:^|[?&;])[^=&;#?\s]{1,64}=([^&;#]+)")
_WORDS = re.compile(r"[\w\s'’.,()\-]+")
_LETTERS = re.compile(r"[^\W\d_]{2}")


def _add_url_encoded(values: dict[str, str]) -> None:
    """Each value also as a URL carries it (``Gi%C3%A1p+Thu`` for ``Giáp Thu``), so it is replaced there too.

    A name the tagger finds in a decoded search term, or in a message, is often also in ``url.query`` or
    the raw request line, encoded; the replacement is URL-safe, so it stands in for the encoded form as is.
    """
    for raw, new in list(values.items()):
        forms = {quote_plus(raw, safe="-_.~"), quote(raw, safe="-_.~")}
        if " " in raw:  # only the spaces encoded, as many logs write a decoded request
            forms |= {raw.replace(" ", "+"), raw.replace(" ", "%20")}
        for encoded in forms:
            if encoded != raw:
                values.setdefault(encoded, quote_plus(new, safe="-_.~<>"))


def _leaves(value: Any) -> bool:
    """A list of plain values (not objects or lists): a named field holding several values is protected by its name."""
    return type(value) is list and all(type(v) in _LEAF_TYPES for v in value)


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


def _blank_each(texts: Sequence[str], others: Sequence[str]) -> list[str]:
    """Each of ``texts`` with the other strings it holds (of ``_MIN_BLANKED`` characters or more) blanked out.

    Longest first, so a URL inside a raw line goes as a whole, not after its path.
    """
    if not texts:
        return []
    pieces = sorted({t for t in (*others, *texts) if len(t) >= _MIN_BLANKED}, key=len, reverse=True)
    out = []
    for text in texts:
        blanked = text
        for other in pieces:
            if len(other) < len(text) and other in blanked:
                blanked = blanked.replace(other, " " * len(other))
        out.append(blanked)
    return out


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
