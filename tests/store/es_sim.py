"""A scripted Elasticsearch endpoint on 127.0.0.1 for driving the real client in tests.

The official client and its real HTTP transport talk to this server, so the
exception and response types the store sees are the genuine ones. It holds
just enough state to exercise what the store relies on, with the documented
semantics of each call:

* data streams with backing indices and a write index; ``_bulk`` ``create``
  refuses an ``_id`` only if the *write* index has it (409
  ``version_conflict_engine_exception``), exactly the gap a rollover opens;
* documents become visible to ``_search`` only after ``_refresh`` (or a write
  with ``refresh``), while GET / mget are real-time;
* ``_seq_no``/``_primary_term`` on every document, with ``if_seq_no`` checks.

``script(method, path_regex, [(status, body), ...])`` makes the next matching
requests answer with canned responses (documented error bodies), for failures.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from sentinel import ecs
from tests.store.es_dsl import matches

ALL = {"match_all": {}}
HEADERS = {
    "X-Elastic-Product": "Elasticsearch",
    "Content-Type": "application/vnd.elasticsearch+json;compatible-with=9",
}


def error_body(status: int, etype: str, reason: str, **extra: Any) -> dict[str, Any]:
    """An error response shaped as Elasticsearch documents it."""
    return {
        "error": {"root_cause": [{"type": etype, "reason": reason}], "type": etype, "reason": reason, **extra},
        "status": status,
    }


@dataclass
class Doc:
    source: dict[str, Any]
    seq_no: int
    visible: bool


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


class MiniCluster:
    def __init__(self) -> None:
        self.indices: dict[str, Index] = {}
        self.streams: dict[str, list[str]] = {}  # data stream -> backing indices, last is the write index
        self.templates = {"logs-sentinel"}
        self.requests: list[Request] = []
        self.scripts: list[tuple[str, re.Pattern[str], list[Any]]] = []
        self.seq = itertools.count()
        self.lock = threading.RLock()
        self.pits: set[str] = set()
        self.put_objects: list[tuple[str, str, Any]] = []  # (kind, name, body) of every PUT template/policy

    # -- test controls ---------------------------------------------------------------------
    def script(self, method: str, path: str, responses: list[Any]) -> None:
        """Answer the next matching requests with ``(status, body)`` or ``fn(cluster, request)``."""
        self.scripts.append((method, re.compile(path), list(responses)))

    def rollover(self, stream: str) -> str:
        with self.lock:
            backing = self.streams[stream]
            name = f".ds-{stream}-{len(backing) + 1:06d}"
            backing.append(name)
            self.indices[name] = Index()
            return name

    def stream_docs(self, stream: str) -> list[tuple[str, str]]:
        """(backing index, id) of every document in the stream, visible or not."""
        return [(b, i) for b in self.streams.get(stream, []) for i in self.indices[b].docs]

    def calls(self, method: str | None = None, path: str = "") -> list[Request]:
        return [r for r in self.requests if (method is None or r.method == method) and path in r.path]

    # -- dispatch --------------------------------------------------------------------------
    def handle(self, req: Request) -> tuple[int, Any]:
        with self.lock:
            self.requests.append(req)
            for i, (method, pattern, responses) in enumerate(self.scripts):
                if method == req.method and pattern.search(req.path) and responses:
                    out = responses.pop(0)
                    if not responses:
                        del self.scripts[i]
                    return out(self, req) if callable(out) else out
            return self._route(req)

    def _route(self, req: Request) -> tuple[int, Any]:
        parts = [unquote(p) for p in req.path.split("/") if p]
        m = req.method
        if parts[:1] in (["_index_template"], ["_component_template"], ["_ilm"]):
            name = parts[-1]
            if m == "PUT":
                self.put_objects.append((parts[0], name, orjson.loads(req.body)))
                if parts[0] == "_index_template":
                    self.templates.add(name)
                return 200, {"acknowledged": True}
            return (200 if name in self.templates else 404), {}
        if parts[:1] == ["_alias"] and m == "HEAD":
            return (200 if any(parts[1] in i.aliases for i in self.indices.values()) else 404), {}
        if len(parts) == 1 and m == "PUT" and not parts[0].startswith("_"):
            if parts[0] in self.indices:
                return 400, error_body(400, "resource_already_exists_exception", f"index [{parts[0]}] already exists")
            body = orjson.loads(req.body)
            self.indices[parts[0]] = Index(aliases=set(body.get("aliases", {})), body=body)
            return 200, {"acknowledged": True, "shards_acknowledged": True, "index": parts[0]}
        if parts == ["_bulk"]:
            return self._bulk(req)
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
            self.pits.add(pit)
            return 200, {"id": pit}
        if parts == ["_pit"] and m == "DELETE":
            pit = orjson.loads(req.body)["id"]
            found = pit in self.pits
            self.pits.discard(pit)
            return (200 if found else 404), {"succeeded": found, "num_freed": int(found)}
        if len(parts) == 2 and parts[1] == "_mget":
            return self._mget(parts[0], orjson.loads(req.body))
        if len(parts) == 3 and parts[1] in ("_doc", "_create"):
            index, op, doc_id = parts
            if m == "GET":
                return self._get(index, doc_id)
            if m == "DELETE":
                return self._delete(index, doc_id, req.query)
            return self._write(index, doc_id, orjson.loads(req.body), op == "_create", req.query)
        return 400, error_body(400, "illegal_argument_exception", f"sim does not know {m} {req.path}")

    # -- documents ---------------------------------------------------------------------------
    def _index(self, name: str) -> Index | None:
        return self.indices.get(name)

    def _meta(self, index: str, doc_id: str, doc: Doc) -> dict[str, Any]:
        return {"_index": index, "_id": doc_id, "_version": 1, "_seq_no": doc.seq_no, "_primary_term": 1}

    def _missing_index(self, index: str) -> tuple[int, Any]:
        return 404, error_body(404, "index_not_found_exception", f"no such index [{index}]", index=index)

    def _get(self, index: str, doc_id: str) -> tuple[int, Any]:
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

    def _write(self, index: str, doc_id: str, source: dict, create: bool, q: dict[str, str]) -> tuple[int, Any]:
        idx = self.indices.setdefault(index, Index())
        old = idx.docs.get(doc_id)
        if create and old is not None:
            return self._conflict(index, doc_id, "document already exists (current version [1])")
        if "if_seq_no" in q:
            if old is None:
                return self._conflict(
                    index, doc_id, "required seqNo [" + q["if_seq_no"] + "], but no document was found"
                )
            if int(q["if_seq_no"]) != old.seq_no:
                return self._conflict(
                    index,
                    doc_id,
                    f"required seqNo [{q['if_seq_no']}], primary term [1]. current document has seqNo"
                    f" [{old.seq_no}] and primary term [1]",
                )
        doc = Doc(source, next(self.seq), visible="refresh" in q)
        idx.docs[doc_id] = doc
        status = 200 if old is not None else 201
        return status, {
            **self._meta(index, doc_id, doc),
            "result": "updated" if old else "created",
            "_shards": {"total": 2, "successful": 1, "failed": 0},
        }

    def _delete(self, index: str, doc_id: str, q: dict[str, str]) -> tuple[int, Any]:
        idx = self._index(index)
        old = idx.docs.get(doc_id) if idx else None
        if old is None:
            return 404, {"_index": index, "_id": doc_id, "result": "not_found"}
        if "if_seq_no" in q and int(q["if_seq_no"]) != old.seq_no:
            return self._conflict(index, doc_id, "stale seqNo")
        del idx.docs[doc_id]
        return 200, {"_index": index, "_id": doc_id, "result": "deleted", "_seq_no": next(self.seq), "_primary_term": 1}

    def _mget(self, index: str, body: dict) -> tuple[int, Any]:
        docs = []
        for doc_id in body.get("ids", []):
            status, got = self._get(index, doc_id)
            docs.append(got if status == 200 else {"_index": index, "_id": doc_id, "found": False})
        return 200, {"docs": docs}

    # -- data streams ------------------------------------------------------------------------
    def _backing(self, target: str) -> list[str]:
        names = []
        for pattern in target.split(","):
            rx = re.compile("^" + re.escape(pattern).replace(r"\*", ".*") + "$")
            for stream, backing in self.streams.items():
                if rx.match(stream):
                    names += backing
            names += [i for i in self.indices if rx.match(i) and not i.startswith(".ds-")]
        return names

    def _refresh(self, target: str) -> None:
        for name in self._backing(target):
            for doc in self.indices[name].docs.values():
                doc.visible = True

    def _bulk(self, req: Request) -> tuple[int, Any]:
        lines = [orjson.loads(x) for x in req.body.splitlines() if x.strip()]
        items = []
        errors = False
        for action, source in zip(lines[::2], lines[1::2], strict=True):
            ((op, meta),) = action.items()
            stream, doc_id = meta["_index"], meta["_id"]
            if stream not in self.streams:
                self.streams[stream] = []
                self.rollover(stream)
            write_index = self.streams[stream][-1]
            idx = self.indices[write_index]
            if op != "create":
                items.append(
                    {
                        op: {
                            "_index": stream,
                            "_id": doc_id,
                            "status": 400,
                            "error": {
                                "type": "illegal_argument_exception",
                                "reason": "only write ops with an op_type of create are allowed in data streams",
                            },
                        }
                    }
                )
                errors = True
            elif doc_id in idx.docs:
                items.append(
                    {
                        op: {
                            "_index": write_index,
                            "_id": doc_id,
                            "status": 409,
                            "error": {
                                "type": "version_conflict_engine_exception",
                                "reason": f"[{doc_id}]: version conflict, document already exists",
                                "index": write_index,
                                "shard": "0",
                            },
                        }
                    }
                )
                errors = True
            else:
                idx.docs[doc_id] = Doc(source, next(self.seq), visible="refresh" in req.query)
                items.append(
                    {
                        op: {
                            "_index": write_index,
                            "_id": doc_id,
                            "_version": 1,
                            "result": "created",
                            "_shards": {"total": 2, "successful": 1, "failed": 0},
                            "_seq_no": 0,
                            "_primary_term": 1,
                            "status": 201,
                        }
                    }
                )
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
                        hit["_source"] = doc.source
                    hits.append(hit)
        return 200, {"took": 1, "timed_out": False, "hits": {"hits": hits[: body.get("size", 10)]}}

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
        each hit's sort values, and answers 404 for an unknown (expired) PIT.
        """
        pit = body["pit"]["id"]
        if pit not in self.pits:
            return 404, error_body(404, "search_context_missing_exception", "No search context found for id [1]")
        target = pit.split(":", 1)[1]
        desc = next(iter(body["sort"][0].values()))["order"] == "desc"
        rows = []
        for name in self._backing(target):
            for n, (doc_id, doc) in enumerate(self.indices[name].docs.items()):
                if doc.visible and matches(body.get("query") or ALL, doc_id, doc.source):
                    ts = int(ecs.parse_ts(doc.source["@timestamp"]).timestamp() * 1000)
                    rows.append(([ts, doc.source["event"]["id"], n], doc_id, doc))
        rows.sort(key=lambda r: r[0][:2], reverse=desc)
        after = body.get("search_after")
        if after:
            key = after[:2]
            rows = [r for r in rows if (r[0][:2] < key if desc else r[0][:2] > key)]
        hits = [
            {"_index": "x", "_id": i, "_source": {k: v for k, v in d.source.items() if k != "data_stream"}, "sort": s}
            for s, i, d in rows[: body["size"]]
        ]
        return 200, {"pit_id": pit, "hits": {"hits": hits}}


class _Handler(BaseHTTPRequestHandler):
    cluster: MiniCluster

    def log_message(self, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        status, payload = self.server.cluster.handle(
            Request(self.command, url.path, query, body, {k.lower(): v for k, v in self.headers.items()})
        )  # type: ignore[attr-defined]
        data = b"" if self.command == "HEAD" else orjson.dumps(payload)
        self.send_response(status)
        for k, v in HEADERS.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve


class SimServer:
    """Runs a :class:`MiniCluster` behind HTTP on an ephemeral 127.0.0.1 port."""

    def __init__(self) -> None:
        self.cluster = MiniCluster()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.cluster = self.cluster  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
