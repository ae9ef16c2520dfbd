"""A scripted Elasticsearch endpoint on 127.0.0.1 for driving the real client in tests.

The official client and its real HTTP transport talk to this server, so the
exception and response types the store sees are the genuine ones. It holds
just enough state to exercise what the store relies on, each with the
behaviour Elastic documents (the list, with links, is in docs/elasticsearch.md):

* a version (``GET /``) and REST compatibility: a request asking for
  ``compatible-with=N`` is refused (400 ``media_type_header_exception``) unless
  N is the cluster's major or the one before, so client 9 against an 8.x
  cluster fails here as it does against a real one;
* data streams with backing indices and a write index; ``_bulk`` ``create``
  refuses an ``_id`` only if the *write* index has it (409
  ``version_conflict_engine_exception``), exactly the gap a rollover opens;
* documents become visible to ``_search`` only after ``_refresh`` (or a write
  with ``refresh``), while GET / mget are real-time;
* ``_seq_no``/``_primary_term`` on every document; ``if_seq_no`` and
  ``if_primary_term`` go together and a mismatch is a 409;
* points in time that expire after their ``keep_alive`` (each search extends
  it), answering 404 once gone;
* back-pressure: :meth:`MiniCluster.reject_items` makes the next bulk items fail
  alone with 429 ``es_rejected_execution_exception`` (partial failure, the
  others are written); :meth:`MiniCluster.script` can fail whole requests.

When given the API specification (:mod:`tests.store.es_spec`), every request
is matched to its endpoint and checked, and every answer is checked against
the endpoint's response type; what is wrong collects in ``problems``.

``script(method, path_regex, [(status, body), ...])`` makes the next matching
requests answer with canned responses (documented error bodies), for failures.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson
from elasticsearch import __versionstr__ as CLIENT_VERSION

from sentinel import ecs
from tests.store.es_dsl import matches
from tests.store.es_spec import Spec

ALL = {"match_all": {}}
# The oldest release of each major Sentinel supports: availability is checked against these.
RELEASES = {8: "8.13.0", 9: "9.0.0"}
DEFAULT_VERSION = RELEASES[int(CLIENT_VERSION.split(".")[0])]
_COMPAT = re.compile(r"compatible-with=(\d+)")
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def error_body(status: int, etype: str, reason: str, **extra: Any) -> dict[str, Any]:
    """An error response shaped as Elasticsearch documents it."""
    return {
        "error": {"root_cause": [{"type": etype, "reason": reason}], "type": etype, "reason": reason, **extra},
        "status": status,
    }


def _seconds(duration: str) -> float:
    m = _DURATION.match(duration)
    if not m:
        raise ValueError(duration)
    return int(m.group(1)) * _SECONDS[m.group(2)]


def _stored_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Index settings as Elasticsearch returns them: under ``index``, every value a string."""

    def flat(node: Any, prefix: str) -> dict[str, Any]:
        if isinstance(node, dict):
            out: dict[str, Any] = {}
            for k, v in node.items():
                out.update(flat(v, f"{prefix}.{k}" if prefix else k))
            return out
        value = [str(v) for v in node] if isinstance(node, list) else node
        return {
            prefix: (
                "true"
                if value is True
                else "false"
                if value is False
                else value
                if isinstance(value, list)
                else str(value)
            )
        }

    nested: dict[str, Any] = {}
    for key, value in flat(settings, "").items():
        parts = (key if key.startswith("index.") else f"index.{key}").split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return nested


@dataclass
class Doc:
    source: dict[str, Any]
    seq_no: int
    visible: bool
    version: int = 1


@dataclass
class Index:
    docs: dict[str, Doc] = field(default_factory=dict)
    aliases: set[str] = field(default_factory=set)
    body: dict[str, Any] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


# Already there on a cluster set up by ``sentinel es setup`` (the store checks it before writing).
SET_UP_TEMPLATE = {
    "index_patterns": ["logs-sentinel.*-*"],
    "composed_of": ["sentinel@settings", "sentinel-ecs@mappings"],
    "data_stream": {},
    "priority": 150,
}


class MiniCluster:
    def __init__(self, version: str = DEFAULT_VERSION, spec: Spec | None = None, *, set_up: bool = True) -> None:
        self.version = version
        self.major = int(version.split(".")[0])
        self.spec = spec
        self.problems: list[str] = []  # requests or answers the specification does not allow
        self.indices: dict[str, Index] = {}
        self.streams: dict[str, list[str]] = {}  # data stream -> backing indices, last is the write index
        self.objects: dict[str, dict[str, Any]] = {"_index_template": {}, "_component_template": {}, "_ilm": {}}
        if set_up:
            self.objects["_index_template"]["logs-sentinel"] = SET_UP_TEMPLATE
        self.roles: dict[str, dict[str, Any]] = {}
        self.license = "basic"
        self.security = True
        self.requests: list[Request] = []
        self.scripts: list[tuple[str, re.Pattern[str], list[Any]]] = []
        self.seq = itertools.count()
        self.lock = threading.RLock()
        self.pits: dict[str, float] = {}  # id -> monotonic time it expires
        self.rejections = 0
        self.put_objects: list[tuple[str, str, Any]] = []  # (kind, name, body) of every PUT template/policy

    # -- test controls ---------------------------------------------------------------------
    def script(self, method: str, path: str, responses: list[Any]) -> None:
        """Answer the next matching requests with ``(status, body)`` or ``fn(cluster, request)``."""
        self.scripts.append((method, re.compile(path), list(responses)))

    def rollover(self, stream: str) -> str:
        """A new write index, named as Elasticsearch names backing indices (``.ds-<stream>-<date>-<generation>``)."""
        with self.lock:
            backing = self.streams[stream]
            day = datetime.now(UTC).strftime("%Y.%m.%d")
            name = f".ds-{stream}-{day}-{len(backing) + 1:06d}"
            backing.append(name)
            self.indices[name] = Index()
            return name

    def reject_items(self, n: int) -> None:
        """The next ``n`` bulk items are rejected with 429 (a full write queue); the rest of each request is written."""
        self.rejections = n

    def expire_pits(self) -> None:
        """Let every point in time run past its keep-alive."""
        with self.lock:
            self.pits = dict.fromkeys(self.pits, 0.0)

    def stream_docs(self, stream: str) -> list[tuple[str, str]]:
        """(backing index, id) of every document in the stream, visible or not."""
        return [(b, i) for b in self.streams.get(stream, []) for i in self.indices[b].docs]

    def calls(self, method: str | None = None, path: str = "") -> list[Request]:
        return [r for r in self.requests if (method is None or r.method == method) and path in r.path]

    # -- dispatch --------------------------------------------------------------------------
    def handle(self, req: Request) -> tuple[int, Any]:
        with self.lock:
            self.requests.append(req)
            refused = self._compatibility(req)
            if refused:
                return refused
            match = None
            if self.spec is not None:
                match, problems = self.spec.check_request(
                    req.method, req.path, req.query, req.body, self.version, req.headers.get("content-type")
                )
                self.problems += problems
            status, body = self._answer(req)
            if match is not None and self.spec is not None:
                self.problems += self.spec.check_response(match, req.method, status, body)
            return status, body

    def _answer(self, req: Request) -> tuple[int, Any]:
        for i, (method, pattern, responses) in enumerate(self.scripts):
            if method == req.method and pattern.search(req.path) and responses:
                out = responses.pop(0)
                if not responses:
                    del self.scripts[i]
                return out(self, req) if callable(out) else out
        return self._route(req)

    def _compatibility(self, req: Request) -> tuple[int, Any] | None:
        """REST API compatibility: a cluster understands its own major and the one before."""
        for header in ("accept", "content-type"):
            m = _COMPAT.search(req.headers.get(header, ""))
            if m and int(m.group(1)) not in (self.major, self.major - 1):
                name = "Accept" if header == "accept" else "Content-Type"
                return 400, error_body(
                    400,
                    "media_type_header_exception",
                    f"Invalid media-type value on headers [{name}]",
                    caused_by={
                        "type": "status_exception",
                        "reason": f"{name} version must be either version {self.major} or {self.major - 1}, "
                        f"but found {m.group(1)}. {name}={req.headers[header]}",
                    },
                )
        return None

    def _route(self, req: Request) -> tuple[int, Any]:
        parts = [unquote(p) for p in req.path.split("/") if p]
        m = req.method
        if not parts and m in ("GET", "HEAD"):
            return 200, self._info()
        if parts == ["_xpack"]:
            return 200, self._xpack()
        if parts == ["_license"]:
            return 200, self._license()
        if parts[:1] in (["_index_template"], ["_component_template"]) or parts[:2] == ["_ilm", "policy"]:
            return self._object(m, parts[0], parts[-1], req)
        if parts[:2] == ["_security", "role"]:
            return self._role(m, parts[2] if len(parts) > 2 else None, req)
        if parts[:1] == ["_alias"]:
            holders = {n: {"aliases": {parts[1]: {}}} for n, i in self.indices.items() if parts[1] in i.aliases}
            if holders:
                return 200, holders
            return 404, {"error": f"alias [{parts[1]}] missing", "status": 404}
        if len(parts) == 1 and m == "PUT" and not parts[0].startswith("_"):
            if parts[0] in self.indices:
                return 400, error_body(400, "resource_already_exists_exception", f"index [{parts[0]}] already exists")
            body = orjson.loads(req.body)
            self.indices[parts[0]] = Index(aliases=set(body.get("aliases", {})), body=body)
            return 200, {"acknowledged": True, "shards_acknowledged": True, "index": parts[0]}
        if parts == ["_bulk"]:
            return self._bulk(req)
        if parts == ["_query"] and m == "POST":
            return self._esql(orjson.loads(req.body))
        if len(parts) == 2 and parts[1] == "_refresh":
            self._refresh(parts[0])
            return 200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}
        if len(parts) == 2 and parts[1] == "_search":
            return self._search(parts[0], orjson.loads(req.body or b"{}"))
        if parts == ["_search"]:
            return self._pit_search(orjson.loads(req.body))
        if len(parts) == 2 and parts[1] == "_count":
            return self._count(parts[0], orjson.loads(req.body or b"{}"))
        if len(parts) == 2 and parts[1] == "_pit" and m == "POST":
            pit = f"pit-{next(self.seq)}:{parts[0]}"
            self.pits[pit] = time.monotonic() + _seconds(req.query["keep_alive"])
            return 200, {"id": pit, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}}
        if parts == ["_pit"] and m == "DELETE":
            pit = orjson.loads(req.body)["id"]
            found = self.pits.pop(pit, 0.0) > time.monotonic()
            return (200 if found else 404), {"succeeded": found, "num_freed": int(found)}
        if parts[-1:] == ["_mget"]:
            return self._mget(parts[0] if len(parts) == 2 else None, orjson.loads(req.body))
        if len(parts) == 3 and parts[1] in ("_doc", "_create"):
            index, op, doc_id = parts
            if m == "GET":
                return self._get(index, doc_id)
            if m == "DELETE":
                return self._delete(index, doc_id, req.query)
            return self._write(index, doc_id, orjson.loads(req.body), op == "_create", req.query)
        return 400, error_body(400, "illegal_argument_exception", f"sim does not know {m} {req.path}")

    # -- cluster information -------------------------------------------------------------------
    def _info(self) -> dict[str, Any]:
        return {
            "name": "sim-node-1",
            "cluster_name": "sim",
            "cluster_uuid": "c1uSt3rUU1D0000000000A",
            "version": {
                "number": self.version,
                "build_flavor": "default",
                "build_type": "docker",
                "build_hash": "0" * 40,
                "build_date": "2026-01-01T00:00:00.000Z",
                "build_snapshot": False,
                "lucene_version": "9.12.0" if self.major == 8 else "10.1.0",
                "minimum_wire_compatibility_version": "7.17.0" if self.major == 8 else "8.18.0",
                "minimum_index_compatibility_version": "7.0.0" if self.major == 8 else "8.0.0",
            },
            "tagline": "You Know, for Search",
        }

    def _xpack(self) -> dict[str, Any]:
        paid = self.license in ("platinum", "enterprise", "trial")
        names = [
            "aggregate_metric", "analytics", "archive", "ccr", "data_streams", "data_tiers", "enrich",
            "enterprise_search", "eql", "esql", "gpu_vector_indexing", "graph", "ilm", "logstash", "logsdb", "ml",
            "monitoring", "rollup", "searchable_snapshots", "security", "slm", "spatial", "sql", "transform",
            "universal_profiling", "voting_only", "watcher",
        ]  # fmt: skip
        features = {n: {"available": n not in ("ccr", "ml", "graph") or paid, "enabled": True} for n in names}
        features["security"]["enabled"] = self.security
        return {
            "build": {"hash": "0" * 40, "date": "2026-01-01T00:00:00.000Z"},
            "license": {
                "uid": "00000000-0000-0000-0000-000000000000",
                "type": self.license,
                "mode": self.license,
                "status": "active",
                "expiry_date_in_millis": 4102444800000,
            },
            "features": features,
            "tagline": "You know, for X",
        }

    def _license(self) -> dict[str, Any]:
        return {
            "license": {
                "status": "active",
                "uid": "00000000-0000-0000-0000-000000000000",
                "type": self.license,
                "issue_date": "2026-01-01T00:00:00.000Z",
                "issue_date_in_millis": 1767225600000,
                "max_nodes": 1000,
                "max_resource_units": None,
                "issued_to": "sim",
                "issuer": "elasticsearch",
                "start_date_in_millis": -1,
            }
        }

    def _object(self, method: str, kind: str, name: str, req: Request) -> tuple[int, Any]:
        """Index and component templates and ILM policies: PUT replaces, GET returns the stored form."""
        store = self.objects[kind]
        if method == "PUT":
            body = orjson.loads(req.body)
            self.put_objects.append((kind, name, body))
            store[name] = body
            return 200, {"acknowledged": True}
        if method == "DELETE":
            store.pop(name, None)
            return 200, {"acknowledged": True}
        body = store.get(name)
        if body is None:
            what = {"_index_template": "index template", "_component_template": "component template"}
            return 404, error_body(
                404, "resource_not_found_exception", f"{what.get(kind, 'policy')} matching [{name}] not found"
            )
        if kind == "_ilm":
            policy = orjson.loads(orjson.dumps(body["policy"]))
            for phase in policy["phases"].values():
                phase.setdefault("min_age", "0ms")  # the default Elasticsearch fills in
            return 200, {name: {"version": 1, "modified_date": "2026-01-01T00:00:00.000Z", "policy": policy}}
        stored = orjson.loads(orjson.dumps(body))
        template = stored.get("template")
        if template and "settings" in template:
            template["settings"] = _stored_settings(template["settings"])
        if kind == "_component_template":
            return 200, {"component_templates": [{"name": name, "component_template": stored}]}
        return 200, {"index_templates": [{"name": name, "index_template": stored}]}

    def _role(self, method: str, names: str | None, req: Request) -> tuple[int, Any]:
        if method in ("PUT", "POST") and names:
            created = names not in self.roles
            self.roles[names] = orjson.loads(req.body)
            return 200, {"role": {"created": created}}
        wanted = names.split(",") if names else list(self.roles)
        found = {
            n: {"applications": [], "run_as": [], "transient_metadata": {"enabled": True}, **self.roles[n]}
            for n in wanted
            if n in self.roles
        }
        if names and not found:
            return 404, error_body(404, "resource_not_found_exception", f"role [{names}] not found")
        return 200, found

    # -- documents ---------------------------------------------------------------------------
    def _concrete(self, name: str) -> str:
        """An alias resolves to the index it names (Sentinel's alert aliases have one, their write index)."""
        if name in self.indices:
            return name
        return next((n for n, i in self.indices.items() if name in i.aliases), name)

    def _index(self, name: str) -> Index | None:
        return self.indices.get(self._concrete(name))

    def _meta(self, index: str, doc_id: str, doc: Doc) -> dict[str, Any]:
        return {"_index": index, "_id": doc_id, "_version": doc.version, "_seq_no": doc.seq_no, "_primary_term": 1}

    def _missing_index(self, index: str) -> tuple[int, Any]:
        return 404, error_body(404, "index_not_found_exception", f"no such index [{index}]", index=index)

    def _get(self, index: str, doc_id: str) -> tuple[int, Any]:
        index = self._concrete(index)
        idx = self._index(index)
        if idx is None:
            return self._missing_index(index)
        doc = idx.docs.get(doc_id)
        if doc is None:
            return 404, {"_index": index, "_id": doc_id, "found": False}
        return 200, {**self._meta(index, doc_id, doc), "found": True, "_source": doc.source}

    def _conflict(self, index: str, doc_id: str, why: str) -> tuple[int, Any]:
        return 409, error_body(
            409, "version_conflict_engine_exception", f"[{doc_id}]: version conflict, {why}", index=index
        )

    def _precondition(self, index: str, doc_id: str, old: Doc | None, q: dict[str, str]) -> tuple[int, Any] | None:
        """``if_seq_no`` and ``if_primary_term``: both or neither, and both must match the current document."""
        if ("if_seq_no" in q) != ("if_primary_term" in q):
            return 400, error_body(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: ifSeqNo is set, but primary term is [0];",
            )
        if "if_seq_no" not in q:
            return None
        if old is None:
            return self._conflict(index, doc_id, f"required seqNo [{q['if_seq_no']}], but no document was found")
        if int(q["if_seq_no"]) != old.seq_no or int(q["if_primary_term"]) != 1:
            return self._conflict(
                index,
                doc_id,
                f"required seqNo [{q['if_seq_no']}], primary term [{q['if_primary_term']}]. current document has"
                f" seqNo [{old.seq_no}] and primary term [1]",
            )
        return None

    def _write(self, index: str, doc_id: str, source: dict, create: bool, q: dict[str, str]) -> tuple[int, Any]:
        index = self._concrete(index)
        idx = self.indices.setdefault(index, Index())
        old = idx.docs.get(doc_id)
        if create and old is not None:
            return self._conflict(index, doc_id, f"document already exists (current version [{old.version}])")
        refused = self._precondition(index, doc_id, old, q)
        if refused:
            return refused
        doc = Doc(source, next(self.seq), visible="refresh" in q, version=old.version + 1 if old else 1)
        idx.docs[doc_id] = doc
        status = 200 if old is not None else 201
        return status, {
            **self._meta(index, doc_id, doc),
            "result": "updated" if old else "created",
            "_shards": {"total": 2, "successful": 1, "failed": 0},
        }

    def _delete(self, index: str, doc_id: str, q: dict[str, str]) -> tuple[int, Any]:
        index = self._concrete(index)
        idx = self._index(index)
        old = idx.docs.get(doc_id) if idx else None
        if old is None:
            shards = {"total": 2, "successful": 1, "failed": 0}
            return 404, {"_index": index, "_id": doc_id, "result": "not_found", "_shards": shards, "_version": 1}
        refused = self._precondition(index, doc_id, old, q)
        if refused:
            return refused
        del idx.docs[doc_id]
        return 200, {
            "_index": index,
            "_id": doc_id,
            "result": "deleted",
            "_seq_no": next(self.seq),
            "_primary_term": 1,
            "_version": old.version + 1,
            "_shards": {"total": 2, "successful": 1, "failed": 0},
        }

    def _mget(self, index: str | None, body: dict) -> tuple[int, Any]:
        wanted = [(index, i) for i in body.get("ids", [])] + [
            (d.get("_index", index), d["_id"]) for d in body.get("docs", [])
        ]
        docs = []
        for idx_name, doc_id in wanted:
            target = next(
                (n for n, i in self.indices.items() if idx_name in (n, *i.aliases) and doc_id in i.docs), idx_name
            )
            status, got = self._get(target, doc_id)
            docs.append(got if status == 200 else {"_index": idx_name, "_id": doc_id, "found": False})
        return 200, {"docs": docs}

    # -- data streams ------------------------------------------------------------------------
    def _backing(self, target: str) -> list[str]:
        names = []
        for pattern in target.split(","):
            rx = re.compile("^" + re.escape(pattern).replace(r"\*", ".*") + "$")
            for stream, backing in self.streams.items():
                if rx.match(stream):
                    names += backing
            names += [
                n for n, i in self.indices.items() if not n.startswith(".ds-") and (rx.match(n) or pattern in i.aliases)
            ]
        return names

    def _refresh(self, target: str) -> None:
        for name in self._backing(target):
            for doc in self.indices[name].docs.values():
                doc.visible = True

    def _bulk(self, req: Request) -> tuple[int, Any]:
        lines = [orjson.loads(x) for x in req.body.splitlines() if x.strip()]
        items = []
        errors = False
        shards = {"total": 2, "successful": 1, "failed": 0}
        for action, source in zip(lines[::2], lines[1::2], strict=True):
            ((op, meta),) = action.items()
            stream, doc_id = meta["_index"], meta["_id"]
            if stream not in self.streams:
                self.streams[stream] = []
                self.rollover(stream)
            write_index = self.streams[stream][-1]
            idx = self.indices[write_index]
            if op != "create":
                reason = "only write ops with an op_type of create are allowed in data streams"
                item = {
                    "_index": stream,
                    "_id": doc_id,
                    "status": 400,
                    "error": {"type": "illegal_argument_exception", "reason": reason},
                }
            elif self.rejections > 0:
                self.rejections -= 1
                reason = "rejected execution of coordinating operation [queue capacity = 200]"
                item = {
                    "_index": stream,
                    "_id": doc_id,
                    "status": 429,
                    "error": {"type": "es_rejected_execution_exception", "reason": reason},
                }
            elif doc_id in idx.docs:
                error = {
                    "type": "version_conflict_engine_exception",
                    "reason": f"[{doc_id}]: version conflict, document already exists (current version [1])",
                    "index": write_index,
                    "shard": "0",
                }
                item = {"_index": write_index, "_id": doc_id, "status": 409, "error": error}
            else:
                seq = next(self.seq)
                idx.docs[doc_id] = Doc(source, seq, visible="refresh" in req.query)
                item = {
                    "_index": write_index,
                    "_id": doc_id,
                    "_version": 1,
                    "result": "created",
                    "_shards": shards,
                    "_seq_no": seq,
                    "_primary_term": 1,
                    "status": 201,
                }
            errors = errors or "error" in item
            items.append({op: item})
        return 200, {"took": 3, "errors": errors, "items": items}

    def _search(self, target: str, body: dict) -> tuple[int, Any]:
        """Visible documents matching the query (evaluated by ``es_dsl``), in index order."""
        query = body.get("query", {})
        wanted = None
        for f in query.get("bool", {}).get("filter", []):
            if "ids" in f:
                wanted = set(f["ids"]["values"])
        if "ids" in query:
            wanted = set(query["ids"]["values"])
        hits = []
        for name in self._backing(target):
            for doc_id, doc in self.indices[name].docs.items():
                if doc.visible and (wanted is None or doc_id in wanted) and matches(query or ALL, doc_id, doc.source):
                    hit = {"_index": name, "_id": doc_id, "_score": 0.0}
                    if body.get("_source", True) is not False:
                        hit["_source"] = {
                            k: v for k, v in doc.source.items() if k not in body.get("_source_excludes", [])
                        }
                    hits.append(hit)
        for key in reversed(body.get("sort", [])):  # stable sorts, last key first; missing values go last
            ((name, spec),) = key.items() if isinstance(key, dict) else ((key, "asc"),)
            desc = (spec if isinstance(spec, str) else spec.get("order", "asc")) == "desc"
            present = [h for h in hits if ecs.get_field(h.get("_source", {}), name) is not None]
            present.sort(key=lambda h, n=name: ecs.get_field(h["_source"], n), reverse=desc)
            hits = present + [h for h in hits if ecs.get_field(h.get("_source", {}), name) is None]
        start = body.get("from", 0)
        extra = {"aggregations": self._aggregations(body["aggs"], hits)} if body.get("aggs") else {}
        return 200, self._search_response(hits[start : start + body.get("size", 10)], **extra)

    def _aggregations(self, aggs: dict[str, Any], hits: list[dict[str, Any]]) -> dict[str, Any]:
        """``date_histogram`` with a ``fixed_interval`` and ``offset``: bucket keys are ``offset + n * interval``
        (epoch milliseconds), oldest first; ``min_doc_count`` 0 (the default) fills the gaps between the first
        and last non-empty buckets, as Elasticsearch does without ``extended_bounds``."""
        out: dict[str, Any] = {}
        for name, spec in aggs.items():
            ((kind, params),) = spec.items()
            if kind != "date_histogram" or "fixed_interval" not in params:
                raise ValueError(f"sim does not know the aggregation {spec}")
            width = int(_seconds(params["fixed_interval"]) * 1000)
            offset = params.get("offset", "0ms")
            shift = int(_seconds(offset.lstrip("+-")) * 1000) * (-1 if offset.startswith("-") else 1)
            counts: dict[int, int] = {}
            for h in hits:
                value = ecs.get_field(h.get("_source", {}), params["field"])
                if value is not None:
                    ms = int(ecs.parse_ts(value).timestamp() * 1000)
                    key = (ms - shift) // width * width + shift
                    counts[key] = counts.get(key, 0) + 1
            if params.get("min_doc_count", 0) == 0 and counts:
                for key in range(min(counts), max(counts), width):
                    counts.setdefault(key, 0)
            out[name] = {
                "buckets": [
                    {"key_as_string": ecs.format_ts(datetime.fromtimestamp(k / 1000, UTC)), "key": k, "doc_count": n}
                    for k, n in sorted(counts.items())
                    if n >= params.get("min_doc_count", 0)
                ]
            }
        return out

    @staticmethod
    def _search_response(hits: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        shards = {"total": 1, "successful": 1, "skipped": 0, "failed": 0}
        return {"took": 1, "timed_out": False, "_shards": shards, "hits": {"hits": hits, "max_score": None}, **extra}

    def _count(self, target: str, body: dict) -> tuple[int, Any]:
        query = body.get("query") or ALL
        n = sum(
            1
            for name in self._backing(target)
            for doc_id, doc in self.indices[name].docs.items()
            if doc.visible and matches(query, doc_id, doc.source)
        )
        return 200, {"count": n, "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0}}

    def _pit_search(self, body: dict) -> tuple[int, Any]:
        """A search under a point in time, sorted by (@timestamp, event.id) with search_after.

        Like Elasticsearch, it appends the implicit ``_shard_doc`` tiebreaker to
        each hit's sort values, extends the PIT by the request's ``keep_alive``,
        and answers 404 once the PIT has expired.
        """
        pit = body["pit"]["id"]
        if self.pits.get(pit, 0.0) <= time.monotonic():
            self.pits.pop(pit, None)
            reason = f"No search context found for id [{pit.split(':')[0]}]"
            return 404, error_body(
                404,
                "search_phase_execution_exception",
                "all shards failed",
                phase="query",
                grouped=True,
                caused_by={"type": "search_context_missing_exception", "reason": reason},
            )
        self.pits[pit] = time.monotonic() + _seconds(body["pit"].get("keep_alive", "1m"))
        target = pit.split(":", 1)[1]
        desc = next(iter(body["sort"][0].values()))["order"] == "desc"
        rows = []
        for name in self._backing(target):
            for n, (doc_id, doc) in enumerate(self.indices[name].docs.items()):
                if doc.visible and matches(body.get("query") or ALL, doc_id, doc.source):
                    ts = int(ecs.parse_ts(doc.source["@timestamp"]).timestamp() * 1000)
                    rows.append(([ts, doc.source["event"]["id"], n], doc_id, name, doc))
        rows.sort(key=lambda r: r[0][:2], reverse=desc)
        after = body.get("search_after")
        if after:
            key = after[:2]
            rows = [r for r in rows if (r[0][:2] < key if desc else r[0][:2] > key)]
        hits = [
            {
                "_index": name,
                "_id": i,
                "_score": None,
                "_source": {k: v for k, v in d.source.items() if k != "data_stream"},
                "sort": s,
            }
            for s, i, name, d in rows[: body["size"]]
        ]
        return 200, self._search_response(hits, pit_id=pit)

    def _esql(self, body: dict) -> tuple[int, Any]:
        """ES|QL: the visible events of the ``from`` pattern inside the query's time range, as ``_id, _index,
        @timestamp`` rows (the rule's own conditions are taken as true); aggregations find no groups."""
        query = body["query"]
        source = re.match(r"\s*from\s+(\S+)", query, re.IGNORECASE)
        bounds = dict(re.findall(r'`@timestamp` (>=|<) TO_DATETIME\("([^"]+)"\)', query))
        columns = [
            {"name": "_id", "type": "keyword"},
            {"name": "_index", "type": "keyword"},
            {"name": "@timestamp", "type": "date"},
        ]
        if "| stats" in query or not source or len(bounds) != 2:
            return 200, {"took": 1, "is_partial": False, "columns": [], "values": []}
        start, end = ecs.parse_ts(bounds[">="]), ecs.parse_ts(bounds["<"])
        rows = []
        for name in self._backing(source.group(1)):
            for doc_id, doc in self.indices[name].docs.items():
                ts = ecs.parse_ts(doc.source["@timestamp"])
                if doc.visible and start <= ts < end:
                    rows.append([doc_id, name, ecs.format_ts(ts)])
        rows.sort(key=lambda r: r[2])
        return 200, {"took": 1, "is_partial": False, "columns": columns, "values": rows}


class _Handler(BaseHTTPRequestHandler):
    cluster: MiniCluster

    def log_message(self, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        cluster: MiniCluster = self.server.cluster  # type: ignore[attr-defined]
        status, payload = cluster.handle(Request(self.command, url.path, query, body, headers))
        data = b"" if self.command == "HEAD" else orjson.dumps(payload)
        asked = _COMPAT.search(headers.get("accept", ""))
        self.send_response(status)
        self.send_header("X-Elastic-Product", "Elasticsearch")
        kind = f"application/vnd.elasticsearch+json;compatible-with={asked.group(1)}" if asked else "application/json"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve


class SimServer:
    """Runs a :class:`MiniCluster` behind HTTP on an ephemeral 127.0.0.1 port."""

    def __init__(self, cluster: MiniCluster | None = None) -> None:
        self.cluster = cluster or MiniCluster()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.cluster = self.cluster  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
