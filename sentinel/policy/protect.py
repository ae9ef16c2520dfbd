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

What a string holds depends on the string alone, so it is remembered per string digest (a
:class:`_Read`: where its named parameters, query words, recogniser findings and glued identifiers
are, as offsets into the string; no raw value is kept); what the policy says of a field path is
remembered per path (:class:`_Node`). The raw line of a parsed event (``event.original``) is never
the same twice, so it is read afresh each time and never remembered.

Nothing here logs or raises with a value in the message.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import quote, quote_plus, unquote_plus

import orjson

from sentinel.classify import plain_text, structure_for
from sentinel.policy.candidates import prefilter_for
from sentinel.policy.finder import Finder
from sentinel.policy.glued import at_token_starts, digit_windows, email_candidates, glued_digit_spans
from sentinel.policy.model import LoadedPolicy, OperatorSpec
from sentinel.policy.operators import TOKEN, OperatorSet

DROP = "drop"
# Raw values shorter than this are replaced in their own field only, never across the document.
MIN_GLOBAL_CHARS = 4
_PARAM = re.compile(r"(?:(?<=[?&;])|^)([^=&?;#\s\"']{1,64})=([^&;#\s\"']*)")
_BIG_INT = 10**7  # integers this large may be identifiers and are scanned as text
# Values that are never a Mapping or a list: the walk tells them apart without an ABC check.
_LEAF_TYPES = frozenset({str, int, float, bool, type(None)})
# Leaves other than strings and integers: nothing to read in them unless a named field holds them.
_INERT_TYPES = frozenset({float, bool, type(None)})
# Entries each generation of a remembered-reads table keeps (memory stays bounded: two generations at most).
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
# Kinds of remembered reads: a free string; a structured string read whole (nothing of the document inside
# it); a structured string with the document's other strings blanked out; the structured string itself.
_FREE, _WHOLE, _BLANKED, _TEXT = b"f", b"w", b"b", b"t"
_READ_HASHERS = {kind: hashlib.blake2b(digest_size=16, person=kind) for kind in (_FREE, _WHOLE, _BLANKED, _TEXT)}


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
    """Values remembered per digest, bounded: two generations, the older dropped whole when the newer fills.

    User agents, paths and user names are asked on line after line. ``memo[key]`` is the value or None;
    a hit in the older generation moves the entry to the newer one (this dict), so what recurs stays while
    what was asked once (a record id, a first-seen name) ages out: no recency bookkeeping on the usual hit
    (a plain dict lookup), and at most twice ``size`` entries.
    """

    __slots__ = ("old", "size")

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        super().__init__()
        self.old: dict[bytes, Any] = {}
        self.size = size

    def __missing__(self, key: bytes) -> Any:
        found = self.old.get(key)
        if found is not None:
            self.put(key, found)
        return found

    def put(self, key: bytes, value: Any) -> Any:
        if len(self) >= self.size:
            self.old = dict(self)
            self.clear()
        self[key] = value
        return value


class _Read:
    """What one string holds, by offsets into it: its named URL parameters, query words, findings, glued pieces.

    ``params``: (entity, start, end) of each named parameter's encoded value; ``words``: (start, end,
    the key of its own read) of each query value that is words; ``spans``: (entity, start, end) of each
    recogniser finding of an entity acted on, in the string with its structural tokens blanked (``None``
    until first asked);
    ``pieces``: (entity, start, end) of the glued identifier kept per candidate group (``None`` until
    first asked); ``blanked``: structural tokens were blanked out of it (the findings are offsets into
    the blanked form); ``address``: an IPv4 address that nobody reads (the purpose keeps addresses).
    """

    __slots__ = ("address", "blanked", "params", "pieces", "spans", "words")

    def __init__(self) -> None:
        self.params: tuple[tuple[str, int, int], ...] = ()
        self.words: tuple[tuple[int, int, bytes], ...] = ()
        self.spans: tuple[tuple[str, int, int], ...] | None = None
        self.pieces: tuple[tuple[str, int, int], ...] | None = None
        self.blanked = False
        self.address = False


class _Node:
    """What the policy says of one field path, and the keys seen under it (documents repeat their keys)."""

    __slots__ = ("children", "declared", "entity", "original", "path", "skipped", "structured")

    def __init__(self, path: str, skipped: bool, entity: str | None, declared: str | None, structured: bool) -> None:
        self.path = path
        self.skipped = skipped
        self.entity = entity  # the entity the policy assigns, when the purpose acts on it
        self.declared = declared  # the entity the policy assigns, acted on or not
        self.structured = structured  # one of the policy's structured fields
        self.original = path == "event.original"  # its string is read as a whole only where it fails to parse
        self.children: dict[Any, _Node] = {}


Action = OperatorSpec | str  # an operator, or DROP


class _Changes:
    """What one document needs: raw value -> replacement, and per-field replacements."""

    __slots__ = ("found", "values")

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.found: dict[str, int] = {}  # entity -> count, for reports

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
        self._structured_failed = self.structured - {"event.original"}
        self.counts: Counter[str] = Counter()  # entity -> values protected, over this protector's life
        self._cache = _Memo()  # (entity, raw) digest -> its replacement
        self._reads = _Memo()  # (kind, string) digest -> _Read
        self._accepted = _Memo()  # piece digest -> the entity it is, whole ("" for none)
        self._reads_addresses = bool(prefilter_for(frozenset(self.actions), loaded.classifiers_dir).addresses)
        self._blank = structure_for(loaded.classifiers_dir).blank
        # words of the prefilter a skeleton cannot stand for (``covid-19``): looked for in the text itself
        self._digit_words = _digit_words(getattr(finder, "prefilter", None))
        self._skeletons = _Memo(4096) if self._digit_words is not None else None
        self._entity_of = lru_cache(maxsize=4096)(self._entity_of_uncached)
        self._root = _Node("", False, None, None, False)
        self._nodes = 0

    # -- field names -------------------------------------------------------------
    def _entity_of_uncached(self, path: str) -> str | None:
        return self.loaded.entity_of(path, self.field_entities)

    def entity_of(self, path: str) -> str | None:
        """The entity the policy assigns to a field path (full path, or its last key)."""
        return self._entity_of(path)

    def _child(self, node: _Node, key: Any) -> _Node:
        """What the policy says of ``key`` under ``node``: remembered, as documents repeat their keys."""
        sub = f"{node.path}.{key}" if node.path else str(key)
        entity = self._entity_of(sub)
        if self._nodes >= _CACHE_SIZE:  # documents with ever new keys (a JSON log's ids as keys): start afresh
            self._root, self._nodes = _Node("", False, None, None, False), 0
        acted = entity if entity in self.actions else None
        child = node.children[key] = _Node(sub, sub in self.skip, acted, entity, sub in self.structured)
        self._nodes += 1
        return child

    def _replace(self, entity: str, raw: str) -> str | None:
        action = self.actions.get(entity)
        if action is None:
            return raw
        if action == DROP:
            return None
        if action.op in ("pseudonym", "encrypt") and TOKEN.fullmatch(raw):
            return raw  # already a pseudonym or ciphertext: protecting twice changes nothing
        raw = plain_text(raw)  # the value as read: ０９８… is 098…, and so is its pseudonym
        if action.op == "encrypt":  # random IV: equal values must not give equal ciphertexts
            return self.ops.apply(entity, raw)
        # The same identifier recurs in a line and across lines; keyed by a digest so no raw value is held.
        key = _digest(f"{entity}\0{raw}")
        new = self._cache[key]
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
        texts = _Texts(self._structured_failed if failed else self.structured)
        originals: dict[str, Any] = {}
        self._collect_node(doc, self._root, changes, texts, originals)
        unique = texts.unique
        free = list(dict.fromkeys(texts.free))
        in_free = set(free)
        rest = [t for t in dict.fromkeys(texts.structured) if t not in in_free]
        # what a structured string holds of the others (a raw line holds its URL and user agent) is read with them
        blanked = _blank_each(rest, free)
        for text in free:
            if "=" in text:
                self._apply_params(text, self._free_read(text, text != unique).params, changes)
        reads = [self._structured_reads(t, b, t != unique) for t, b in zip(rest, blanked, strict=True)]
        worded = []
        for text, (_, read) in zip(blanked, reads, strict=True):
            if read.params:
                self._apply_params(text, read.params, changes)
            if read.words:  # search terms and form values in a URL are free text
                worded.append((text, read.words))
        known = _Replacer(changes.values) if changes.values else None
        if known is not None and not known.keys:
            known = None
        for text, words in worded:
            for start, end, key in words:
                if known is None and _holds_nothing(self._reads[key]):
                    continue  # read before and nothing found in it: the word need not even be decoded
                word = _word(text, start, end)
                if word not in in_free:
                    in_free.add(word)
                    free.append(word)
        if known is None:
            self._scan_reads(free, changes, rest, blanked, reads, unique)
        else:  # values named fields already gave need no recogniser to find them again
            free = list(dict.fromkeys(map(known.sub, free)))
            in_free = set(free)
            rest = [t for t in dict.fromkeys(map(known.sub, rest)) if t not in in_free]
            blanked = _blank_each(rest, free)
            if unique is not None:
                unique = known.sub(unique)
            self._scan(free, changes, rest, blanked, unique)
        if changes.found:
            self.counts.update(changes.found)
        if not changes.values:  # nothing to replace (most events): skip the rewrite walk
            return dict(doc)
        _add_url_encoded(changes.values)
        return _Rewrite(self, changes).mapping(doc, self._root, originals)

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
        return _Replacer(changes.values).sub(value)

    # -- phase 1: collect ---------------------------------------------------------
    def _collect(
        self,
        node: Mapping[Any, Any],
        trie: _Node,
        changes: _Changes,
        texts: _Texts,
        originals: dict[str, Any],
    ) -> None:
        """The strings of a mapping into ``texts``, named fields' values into ``changes``."""
        children = trie.children
        for key, value in node.items():
            child = children.get(key)
            if child is None:
                child = self._child(trie, key)
            if child.skipped:
                continue
            kind = type(value)
            if kind is str:  # the usual leaf
                if child.entity is not None:
                    self._whole_value(child.entity, value, changes)
                elif child.original and _json_like(value) and (parsed := _json_object(value)) is not None:
                    originals[child.path] = parsed
                    self._collect(parsed, self._root, changes, texts, originals)
                elif child.original:
                    texts.add(child.path, value, True)
                elif child.structured:
                    texts.structured.append(value)
                else:
                    texts.free.append(value)
            elif kind is dict:  # a named field holding an object is walked: its keys say what they hold
                self._collect(value, child, changes, texts, originals)
            elif kind is int or kind in _INERT_TYPES:
                if child.entity is not None:
                    self._whole_value(child.entity, value, changes)
                elif kind is int and abs(value) >= _BIG_INT:
                    texts.free.append(str(value))
            elif kind is list or isinstance(value, Mapping | list):
                if child.entity is not None and _leaves(value):  # ["0912...", "0983..."] in a named field
                    self._whole_value(child.entity, value, changes)
                else:
                    self._collect_node(value, child, changes, texts, originals)
            elif child.entity is not None:
                self._whole_value(child.entity, value, changes)
            else:
                self._collect_node(value, child, changes, texts, originals)

    def _collect_node(
        self, node: Any, trie: _Node, changes: _Changes, texts: _Texts, originals: dict[str, Any]
    ) -> None:
        """Any value under ``trie``'s path: a mapping, a list (its items under the same path), a string, a number."""
        if type(node) is dict or (type(node) not in _LEAF_TYPES and isinstance(node, Mapping)):
            self._collect(node, trie, changes, texts, originals)
        elif isinstance(node, list):
            for item in node:
                self._collect_node(item, trie, changes, texts, originals)
        elif isinstance(node, str):
            texts.add(trie.path, node, False)
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) >= _BIG_INT:
            texts.free.append(str(node))

    def _whole_value(self, entity: str, value: Any, changes: _Changes) -> None:
        for item in value if isinstance(value, list) else [value]:
            if item is None or isinstance(item, bool) or item == "":
                continue
            raw = str(item)
            new = self._span_value(entity, raw)
            changes.add(entity, raw, new)

    # -- what a string holds ------------------------------------------------------
    def _param_spans(self, text: str) -> tuple[tuple[tuple[str, int, int], ...], tuple[tuple[int, int, bytes], ...]]:
        """Where ``text``'s URL parameters the policy names (``?ho_ten=...``) and its query values that are words are.

        Each word comes with the key its own read is remembered by. A parameter starts the text or follows
        ``?``, ``&`` or ``;``: a text with none of those and no parameter at its start (what is left of a
        raw line once its URL is blanked out) has none.
        """
        separated = "?" in text or "&" in text or ";" in text
        if not (separated or _PARAM.match(text) or _QUERY_VALUE.match(text)):
            return (), ()
        params = []
        for match in _PARAM.finditer(text):
            entity = self.entity_of(match.group(1))
            if entity is not None and entity in self.actions and match.group(2):
                params.append((entity, match.start(2), match.end(2)))
        words = [(start, end, _digest(_word(text, start, end), _FREE)) for start, end in _query_word_spans(text)]
        return tuple(params), tuple(words)

    def _params(self, text: str, changes: _Changes) -> tuple[str, ...]:
        """Values of URL parameters the policy names (``?ho_ten=...``) into ``changes``; the values that are words."""
        params, words = self._param_spans(text)
        self._apply_params(text, params, changes)
        return tuple(_word(text, start, end) for start, end, _ in words)

    def _apply_params(self, text: str, params: Sequence[tuple[str, int, int]], changes: _Changes) -> None:
        for entity, start, end in params:
            encoded = text[start:end]
            decoded = unquote_plus(encoded)
            new = self._span_value(entity, decoded)
            changes.add(entity, decoded, new)
            if encoded != decoded:
                changes.values[encoded] = quote(new, safe="-_.~=")

    def _new_read(self, text: str, *, params: bool, shape: bool) -> _Read:
        """A read of ``text``: its parameters and words (``params``); whether it is blanked, an address (``shape``)."""
        read = _Read()
        if params and "=" in text:
            read.params, read.words = self._param_spans(text)
        if shape:
            read.blanked = self._blank(text) != text
            read.address = not self._reads_addresses and _ADDRESS.fullmatch(text) is not None
        return read

    def _remembered(self, text: str, kind: bytes, remember: bool, *, params: bool, shape: bool) -> _Read:
        if not remember:
            return self._new_read(text, params=params, shape=shape)
        hasher = _READ_HASHERS[kind].copy()  # _digest(text, kind), inline: this runs for every string of every event
        hasher.update(text.encode("utf-8", "surrogatepass"))
        key = hasher.digest()
        read = self._reads[key]
        if read is None:
            read = self._reads.put(key, self._new_read(text, params=params, shape=shape))
        return read

    def _free_read(self, text: str, remember: bool = True) -> _Read:
        return self._remembered(text, _FREE, remember, params=True, shape=True)

    def _structured_reads(self, text: str, blanked: str, remember: bool) -> tuple[_Read, _Read]:
        """(the read of the structured string itself, the read of it with the document's other strings blanked).

        One read when nothing of the document is inside it (a user agent, a referrer): the usual case.
        """
        if blanked == text:
            read = self._remembered(text, _WHOLE, remember, params=True, shape=True)
            return read, read
        return (
            self._remembered(text, _TEXT, remember, params=False, shape=True),
            self._remembered(blanked, _BLANKED, remember, params=True, shape=False),
        )

    def _spans(self, read: _Read, text: str, free_text: bool) -> tuple[tuple[str, int, int], ...]:
        """The findings of entities acted on in ``text`` (``read``'s string), its structural tokens blanked."""
        spans = read.spans
        if spans is None:
            text = self._blank(text)
            hits = self.find(text) if free_text else self.find(text, free_text=False)
            spans = read.spans = tuple((h.entity, h.start, h.end) for h in hits if h.entity in self.actions)
        return spans

    def _residue_spans(self, read: _Read, text: str) -> None:
        """The findings in what is left of a raw line once the strings parsed from it are blanked out.

        That is never the same twice (times, sizes, durations), but its skeleton -- ASCII digits as ``0``,
        runs of three spaces or more as two -- recurs line after line: when the prefilter finds no
        possible entity in a skeleton it finds none in any text with that skeleton (see
        :func:`_skeletons_exact`), so the analyzer would not run and nothing would be found.
        """
        if self._skeletons is None:
            return
        body = self._blank(text)
        if self._digit_words:
            lower = body.lower()
            if any(word in lower for word in self._digit_words):
                return
        skeleton = _squeeze(body.encode("utf-8", "surrogatepass").translate(_ZEROS))
        key = hashlib.blake2b(skeleton, digest_size=16, person=b"k").digest()
        if self._skeletons[key] is None:
            if self.find.prefilter.entities_in(skeleton.decode("utf-8", "surrogatepass")):  # type: ignore[attr-defined]
                return  # something may be there: the analyzer reads the text itself
            self._skeletons.put(key, True)
        read.spans = ()

    def _pieces(self, read: _Read, text: str) -> tuple[tuple[str, int, int], ...]:
        """The glued identifiers of ``text`` (``read``'s string, structural tokens blanked): one per candidate group.

        A digit run glued to other characters is a group of one; an ``@`` token's candidate addresses
        are a group, of which the longest accepted wins, so the whole glued address is replaced.
        """
        pieces = read.pieces
        if pieces is None:
            pieces = read.pieces = self._glued_pieces(text)
        return pieces

    def _glued_pieces(self, text: str) -> tuple[tuple[str, int, int], ...]:
        text = plain_text(text)  # ``+८४…`` is a +84 number too (same length: the offsets are the caller's)
        if text.isascii():  # where nine digits in a row are, found once (what _glue_free looks for)
            windows = digit_windows(text)
            if not windows and "@" not in text:
                return ()
        elif _glue_free(text):
            return ()
        else:
            windows = None
        best = []
        runs: set[str] = set()
        for start, end in glued_digit_spans(text, windows):
            digits = text[start:end]
            if digits not in runs:
                runs.add(digits)
                entity = self._piece_entity(digits)
                if entity is not None:
                    best.append((entity, start, end))
        tokens: set[str] = set()
        for at, token in at_token_starts(text):
            if token in tokens:
                continue
            tokens.add(token)
            accepted = [(entity, piece) for piece in email_candidates(token) if (entity := self._piece_entity(piece))]
            if accepted:
                entity, piece = max(accepted, key=lambda hit: len(hit[1]))
                start = at + token.find(piece)
                best.append((entity, start, start + len(piece)))
        return tuple(best)

    def _piece_entity(self, piece: str) -> str | None:
        """The entity the recognisers accept ``piece`` as, whole; None when they accept it as nothing we act on."""
        key = _digest(piece, b"p")
        entity = self._accepted[key]
        if entity is None:
            whole = [h.entity for h in self.find(piece) if h.start == 0 and h.end == len(piece)]
            entity = self._accepted.put(key, next((e for e in whole if e in self.actions), ""))
        return entity or None

    # -- phase 1: scan ------------------------------------------------------------
    def _scan(
        self,
        free: list[str],
        changes: _Changes,
        rest: Sequence[str] = (),
        blanked: Sequence[str] = (),
        unique: str | None = None,
    ) -> None:
        """:meth:`_scan_reads` for strings not yet read (``unique``: the one string not to remember)."""
        reads = [self._structured_reads(t, b, t != unique) for t, b in zip(rest, blanked, strict=True)]
        self._scan_reads(free, changes, rest, blanked, reads, unique)

    def _scan_reads(
        self,
        free: list[str],
        changes: _Changes,
        rest: Sequence[str],
        blanked: Sequence[str],
        reads: Sequence[tuple[_Read, _Read]],
        unique: str | None,
    ) -> None:
        """Every distinct string read on its own, then the glued pieces; what each string holds is remembered.

        ``free`` are distinct free strings, ``rest`` the structured ones not among them and ``blanked`` the
        same with the other strings they hold blanked out (``reads``: their reads). A string inside a longer
        one is still read alone: inside the longer one it may be glued to other characters
        (``req-001099012345``) that make the recognisers refuse it. Each string is its own context (a
        field's value, not its neighbours in the document), so what the recognisers find in it depends on
        the string alone and is remembered per string: user names, user agents, referrers and paths recur
        from line to line. Structured strings (user agents, URLs, raw lines) are read without the name
        tagger. An address with a port is read by nobody when no operator acts on IP addresses: it holds no
        other shape the recognisers know. Protocol and format tokens (a vendor's log code, SSH algorithm
        names) are blanked before any of this, glued or not.
        """
        if not self.actions:
            return
        blank = self._blank
        found: list[tuple[str, str]] = []
        glued: list[tuple[str, str]] = []
        bodies: set[str] = set()
        for text in free:
            if not self._reads_addresses and _ADDRESS.fullmatch(text):
                continue
            read = self._free_read(text, text != unique)
            body = blank(text) if read.blanked else text
            if body in bodies:  # two strings alike once their structural tokens are blanked: read once
                continue
            bodies.add(body)
            spans = read.spans
            for entity, start, end in self._spans(read, text, True) if spans is None else spans:
                found.append((entity, body[start:end]))
            pieces = read.pieces
            for entity, start, end in self._pieces(read, body) if pieces is None else pieces:
                glued.append((entity, body[start:end]))
        rest_glued: list[tuple[str, str]] = []
        for text, hidden, (whole, part) in zip(rest, blanked, reads, strict=True):
            if whole.address:
                continue
            if part.spans is None and text == unique:
                self._residue_spans(part, hidden)
            body = blank(text) if whole.blanked else text
            # findings in the string with the others blanked out, at the same offsets in the string itself
            spans = part.spans
            for entity, start, end in self._spans(part, hidden, False) if spans is None else spans:
                found.append((entity, body[start:end]))
            pieces = whole.pieces
            for entity, start, end in self._pieces(whole, body) if pieces is None else pieces:
                rest_glued.append((entity, body[start:end]))
        seen: set[str] = set()
        for entity, raw in found:
            seen.add(raw)
            changes.add(entity, raw, self._span_value(entity, raw))
        for entity, raw in (*glued, *rest_glued):
            if raw not in seen:
                seen.add(raw)
                changes.add(entity, raw, self._span_value(entity, raw))


class _Rewrite:
    """Phase 2: a copy of a document with every changed value replaced (named fields by their operator)."""

    def __init__(self, protector: Protector, changes: _Changes) -> None:
        self.protector = protector
        self.values = changes.values
        self.replacer = _Replacer(self.values)

    def mapping(self, node: Mapping[Any, Any], trie: _Node, originals: dict[str, Any]) -> dict[str, Any]:
        protector = self.protector
        actions = protector.actions
        out: dict[str, Any] = {}
        children = trie.children
        for key, value in node.items():
            child = children.get(key)
            if child is None:
                child = protector._child(trie, key)
            if child.skipped:
                out[key] = value
                continue
            kind = type(value)
            entity = child.declared
            if entity is not None and (kind in _LEAF_TYPES or not isinstance(value, Mapping | list) or _leaves(value)):
                # the field is declared to hold this entity: its operator decides alone
                if actions.get(entity) == DROP:
                    continue
                out[key] = self.whole(value) if entity in actions else value
            elif child.path in originals:
                obj = self.mapping(originals[child.path], protector._root, {})
                out[key] = orjson.dumps(obj).decode()
            elif kind is str:
                out[key] = self.text(value)
            elif kind is dict:
                out[key] = self.mapping(value, child, originals)
            else:
                out[key] = self.node(value, child, originals)
        return out

    def node(self, node: Any, trie: _Node, originals: dict[str, Any]) -> Any:
        if isinstance(node, Mapping):
            return self.mapping(node, trie, originals)
        if isinstance(node, list):
            return [self.node(item, trie, originals) for item in node]
        if isinstance(node, str):
            return self.text(node)
        if isinstance(node, int) and not isinstance(node, bool) and str(node) in self.values:
            return self.values[str(node)]
        return node

    def text(self, text: str) -> str:
        return self.replacer.sub(text)

    def whole(self, value: Any) -> Any:
        values = self.values
        if isinstance(value, list):
            return [values.get(str(v), v) if v is not None else v for v in value]
        if value is None or isinstance(value, bool) or value == "":
            return value
        return values.get(str(value), value)


class _Texts:
    """The strings of one document to scan: free text, and structure (``structured_fields``).

    ``unique``: the raw line of a parsed event (``event.original``), never the same twice, so never remembered.
    """

    __slots__ = ("free", "structured", "structured_fields", "unique")

    def __init__(self, structured_fields: frozenset[str]) -> None:
        self.structured_fields = structured_fields
        self.free: list[str] = []
        self.structured: list[str] = []
        self.unique: str | None = None

    def add(self, path: str, text: str, unique: bool = False) -> None:
        if unique:
            self.unique = text
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


def _query_word_spans(text: str) -> list[tuple[int, int]]:
    """Where the values of URL parameters in ``text`` that are words (decoded: not codes or encoded blobs) are."""
    spans = []
    for match in _QUERY_VALUE.finditer(text):
        value = match.group(1)
        if "%" in value or "+" in value:
            value = unquote_plus(value)
        value = value.strip()
        if _LETTERS.search(value) and _WORDS.fullmatch(value):
            spans.append(match.span(1))
    return spans


def _word(text: str, start: int, end: int) -> str:
    """The query value at ``start:end`` of ``text``, decoded."""
    value = text[start:end]
    if "%" in value or "+" in value:
        value = unquote_plus(value)
    return value.strip()


def _query_words(text: str) -> list[str]:
    """The values of URL parameters in ``text`` that are words (decoded), not codes or encoded blobs."""
    return [_word(text, start, end) for start, end in _query_word_spans(text)]


_ZEROS = bytes.maketrans(b"123456789", b"000000000")


# runs of three spaces or more; three literal spaces first, so the regex engine looks for them at memory
# speed instead of trying each position (half the time on a raw line's leftover, the same matches)
_SPACE_RUN = re.compile(rb"   +")


def _squeeze(data: bytes) -> bytes:
    """``data`` with every run of three spaces or more as two."""
    return _SPACE_RUN.sub(b"  ", data)


def _digit_words(prefilter: Any) -> tuple[str, ...] | None:
    """The words of ``prefilter`` holding an ASCII digit; None when a text's skeleton may hide something from it.

    Whatever the prefilter finds in a text it finds in its skeleton (ASCII digits as ``0``, runs of
    three spaces or more as two), but for the words returned here, which the caller looks for in the
    text itself: its shapes see any digit as a digit and have no two separators in a row (a shortened
    run keeps its first and last space, the neighbours every shape and word boundary looks at; a
    plate's window of digits can only gain digits; no timestamp is made or unmade); its raw needles
    are ``@``, ``ngày `` and ``(0`` (which a zeroed digit can only add); addresses are digits as well.
    A word with three spaces in a row would need them kept: then there is no skeleton (None).
    """
    words = getattr(prefilter, "words", None)
    if words is None or any("   " in w for w in words):
        return None
    return tuple(w for w in words if any(c in "0123456789" for c in w))


def _holds_nothing(read: _Read | None) -> bool:
    """A string read before in which nothing was found, alone or glued: it changes nothing wherever it is."""
    return read is not None and read.spans == () and read.pieces == ()


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


def _json_like(text: str) -> bool:
    """Whether ``text`` starts with ``{`` after blanks (a raw line's first character is no blank: no copy made)."""
    return text[:1] == "{" or (text[:1].isspace() and text.lstrip().startswith("{"))


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


class _Replacer:
    """Every raw value worth replacing across the document, replaced wherever it occurs, longest first.

    A value is replaced wherever it occurs, glued or not (``req-001099012345``, ``x001099012345``,
    ``CCCD_001099012345.pdf``): only a longer number of which it is a part (``9001099012345``), or a
    longer word, is a different value. This is what ``re.sub`` with one alternation of the values does
    (longest first, equal lengths in the order they were found; a value starting or ending with a digit
    guarded by ``(?<!\\d)``/``(?!\\d)``, with a letter by ``(?<![^\\W_])``/``(?![^\\W_])``; at each position the
    first value that matches, then on after it), without compiling a regex per document: values are found
    with ``str.find`` and a string holding none of them is returned as it is.
    """

    __slots__ = ("guards", "keys", "values")

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values
        self.keys = sorted((k for k in values if len(k) >= MIN_GLOBAL_CHARS), key=len, reverse=True)
        self.guards = [(_guard(k[0]), _guard(k[-1])) for k in self.keys]

    def sub(self, text: str) -> str:
        hits = []
        for rank, key in enumerate(self.keys):
            start = text.find(key)
            if start < 0:
                continue
            before, after = self.guards[rank]
            size = len(key)
            while start >= 0:
                end = start + size
                if not (
                    (before is not None and start > 0 and before(text[start - 1]))
                    or (after is not None and end < len(text) and after(text[end]))
                ):
                    hits.append((start, rank, end))
                start = text.find(key, start + 1)
        if not hits:
            return text
        hits.sort()
        out, done = [], 0
        for start, rank, end in hits:
            if start >= done:  # not inside a value replaced already (at one position, the longest value wins)
                out.append(text[done:start])
                out.append(self.values[self.keys[rank]])
                done = end
        out.append(text[done:])
        return "".join(out)


def _guard(char: str) -> Any:
    """What a value's first or last character must not touch: a digit no digit, a letter no letter or digit."""
    if char.isdigit():
        return str.isdecimal  # what the regex \\d matches
    if char.isalpha():
        return str.isalnum  # what [^\\W_] matches
    return None
