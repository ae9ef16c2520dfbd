"""Elastic's compiled REST API specification as an oracle for what a cluster accepts and answers.

``schema.json`` (``../shared/elasticsearch-specification``, built from
github.com/elastic/elasticsearch-specification) is the contract Elastic's
clients are generated from: endpoints with URL templates, path and query
parameters, request and response bodies, and a type system (the "metamodel"):
interfaces with inheritance, required properties and behaviours
(``AdditionalProperties``, ``AdditionalProperty``, ``OverloadOf``), containers
(exactly one variant key, as the query DSL), tagged and untagged unions,
enums, arrays, dictionaries, literals, generics and user-defined values
(documents). :class:`Spec` walks that model to say what is wrong with a
request or a response, each problem as ``<where>: <reason>``.

Availability: a property, parameter or endpoint the specification marks as
added in a later version than the cluster's (``availability.stack.since``),
behind a feature flag, or serverless-only is reported too, so a request that
only a 9.x cluster understands fails the check when the cluster is 8.x.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO_ROOT.parent / "shared" / "elasticsearch-specification" / "schema.json"
COMMON_QUERY = ("_spec_utils", "CommonQueryParameters")
COMMON_CAT_QUERY = ("_spec_utils", "CommonCatQueryParameters")
ERROR_RESPONSE = ("_types", "ErrorResponseBase")

Env = Mapping[str, tuple[Any, "Env"]]  # generic parameter "ns::name" -> (value type, the env it is read in)
_NO_ENV: Env = {}


def _key(name: Mapping[str, str]) -> str:
    return f"{name['namespace']}::{name['name']}"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


@dataclass
class Endpoint:
    name: str
    spec: dict[str, Any]
    templates: list[tuple[re.Pattern[str], set[str], int, str]] = field(default_factory=list)


@dataclass
class Match:
    endpoint: Endpoint
    template: str
    path_params: dict[str, str]


@dataclass
class _Props:
    """The properties of an interface after inheritance, with what unknown keys may be."""

    props: dict[str, tuple[dict[str, Any], Env]]
    additional: tuple[str, Any, Env] | None  # ("many" | "one", value type, env)


class Spec:
    """The specification, indexed for matching requests and checking values."""

    def __init__(self, model: Mapping[str, Any]) -> None:
        self.types: dict[str, dict[str, Any]] = {_key(t["name"]): t for t in model["types"]}
        self.endpoints: dict[str, Endpoint] = {}
        self._by_method: dict[str, list[tuple[int, int, re.Pattern[str], Endpoint, str]]] = {}
        for raw in model["endpoints"]:
            ep = Endpoint(raw["name"], raw)
            self.endpoints[ep.name] = ep
            for url in raw["urls"]:
                path = url["path"]
                parts = [p for p in path.split("/") if p]
                literal = sum(1 for p in parts if not p.startswith("{"))
                rx = (
                    "^/" + "/".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts) + "$"
                )
                pattern = re.compile(rx)
                for method in url["methods"]:
                    self._by_method.setdefault(method, []).append((literal, -len(parts), pattern, ep, path))
        for entries in self._by_method.values():
            entries.sort(key=lambda e: (-e[0], e[1]))
        self._props_cache: dict[str, _Props] = {}  # non-generic types only

    # -- matching --------------------------------------------------------------------------
    def match(self, method: str, path: str) -> Match | None:
        """The endpoint of a request: the template with most literal segments wins (``/_bulk`` over ``/{index}``)."""
        for _, _, pattern, ep, template in self._by_method.get(method, []):
            m = pattern.match(path)
            if m:
                return Match(ep, template, {k: unquote(v) for k, v in m.groupdict().items()})
        return None

    # -- requests ----------------------------------------------------------------------------
    def check_request(
        self,
        method: str,
        path: str,
        query: str | Mapping[str, str],
        body: bytes,
        version: str,
        content_type: str | None = None,
    ) -> tuple[Match | None, list[str]]:
        """Problems with one HTTP request as a cluster of ``version`` would see it."""
        where = f"{method} {path}"
        m = self.match(method, path)
        if m is None:
            return None, [f"{where}: no endpoint of the specification has this method and path"]
        problems = [f"{where} ({m.endpoint.name}): {p}" for p in self._request(m, query, body, version)]
        accepted = m.endpoint.spec.get("requestMediaType")
        if body.strip() and content_type and accepted:
            # the clients' compatibility form application/vnd.elasticsearch+x-ndjson is application/x-ndjson
            media = content_type.split(";")[0].strip().replace("vnd.elasticsearch+", "")
            if media not in accepted:
                problems.append(f"{where} ({m.endpoint.name}): Content-Type {media} is not {' or '.join(accepted)}")
        return m, problems

    def _request(self, m: Match, query: str | Mapping[str, str], body: bytes, version: str) -> Iterator[str]:
        ep = m.endpoint.spec
        yield from self._availability(ep.get("availability"), "the endpoint", version)
        req = self.types[_key(ep["request"])]
        # path parameters
        declared = {p["name"]: p for p in req.get("path", [])}
        for name in m.path_params:
            if name not in declared:
                yield f"path parameter {name} is not declared by the request type"
        # query parameters (the client sends booleans and lists as text)
        params = {p["name"]: p for p in req.get("query", [])}
        for behaviour, key in (("CommonQueryParameters", COMMON_QUERY), ("CommonCatQueryParameters", COMMON_CAT_QUERY)):
            if behaviour in req.get("attachedBehaviors", []):
                params.update({p["name"]: p for p in self.types["::".join(key)]["properties"]})
        pairs = parse_qsl(query, keep_blank_values=True) if isinstance(query, str) else list(query.items())
        for name, value in pairs:
            prop = params.get(name)
            if prop is None:
                yield f"query parameter {name}: unknown{_suggest(name, params)}"
                continue
            yield from self._availability(prop.get("availability"), f"query parameter {name}", version)
            if not self._param_ok(value, prop["type"]):
                yield f"query parameter {name}={value!r} is not a valid {_describe(prop['type'])}"
        for name, prop in params.items():
            if prop.get("required") and name not in dict(pairs):
                yield f"query parameter {name} is required"
        # body
        kind = req["body"]["kind"]
        if not body.strip():
            if ep.get("requestBodyRequired"):
                yield "a request body is required"
            return
        if kind == "no_body":
            yield "this endpoint takes no request body"
            return
        if m.endpoint.name in ("bulk", "msearch"):
            yield from self._ndjson(m.endpoint.name, body, req, version)
            return
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            yield f"body is not JSON: {exc}"
            return
        if kind == "properties":
            yield from self._object(value, req["body"]["properties"], _NO_ENV, "body", version, req)
        else:
            yield from self._value(value, req["body"]["value"], _NO_ENV, "body", version)

    def _ndjson(self, name: str, body: bytes, req: dict[str, Any], version: str) -> Iterator[str]:
        """``_bulk``: an operation line (``OperationContainer``), then the document or update line it expects."""
        if not body.endswith(b"\n"):
            yield "an NDJSON body must end with a newline"
        lines = [line for line in body.split(b"\n") if line.strip()]
        op_type = {"kind": "instance_of", "type": {"namespace": "_global.bulk", "name": "OperationContainer"}}
        update_type = {"kind": "instance_of", "type": {"namespace": "_global.bulk", "name": "UpdateAction"}}
        i = 0
        while i < len(lines):
            where = f"body line {i + 1}"
            try:
                op = orjson.loads(lines[i])
            except orjson.JSONDecodeError as exc:
                yield f"{where}: not JSON: {exc}"
                return
            errors = list(self._value(op, op_type, _NO_ENV, where, version))
            yield from errors
            if errors or not isinstance(op, dict):
                return
            action = next(iter(op))
            i += 1
            if action == "delete":
                continue
            if i >= len(lines):
                yield f"{where}: the {action} operation has no document line after it"
                return
            try:
                doc = orjson.loads(lines[i])
            except orjson.JSONDecodeError as exc:
                yield f"body line {i + 1}: not JSON: {exc}"
                return
            if action == "update":
                yield from self._value(doc, update_type, _NO_ENV, f"body line {i + 1}", version)
            elif not isinstance(doc, dict):  # a document is user-defined, but always an object
                yield f"body line {i + 1}: a {action} document must be a JSON object"
            i += 1

    # -- responses ---------------------------------------------------------------------------
    def check_response(self, m: Match, method: str, status: int, body: Any) -> list[str]:
        """Problems with a response body: the endpoint's response type, a declared exception, or an error."""
        where = f"response {status} to {method} {m.template} ({m.endpoint.name})"
        if method == "HEAD":
            return []
        resp = self.types[_key(m.endpoint.spec["response"])]
        for exc in resp.get("exceptions", []):
            if status in exc["statusCodes"]:
                return [f"{where}: {p}" for p in self._value(body, exc["body"]["value"], _NO_ENV, "body", None)]
        if status >= 400:
            error = {"kind": "instance_of", "type": {"namespace": ERROR_RESPONSE[0], "name": ERROR_RESPONSE[1]}}
            return [f"{where}: {p}" for p in self._value(body, error, _NO_ENV, "body", None)]
        kind = resp["body"]["kind"]
        if kind == "properties":
            problems = self._object(body, resp["body"]["properties"], _NO_ENV, "body", None, resp)
        elif kind == "value":
            problems = self._value(body, resp["body"]["value"], _NO_ENV, "body", None)
        else:
            problems = iter(() if body in (None, {}, b"") else ["this endpoint answers with no body"])
        return [f"{where}: {p}" for p in problems]

    # -- values ------------------------------------------------------------------------------
    def valid(self, value: Any, type_key: str, version: str | None = None) -> list[str]:
        """Problems with ``value`` as an instance of the type ``namespace::Name``."""
        if type_key not in self.types:
            raise KeyError(f"the specification has no type {type_key}")
        ns, name = type_key.split("::")
        return list(
            self._value(
                value, {"kind": "instance_of", "type": {"namespace": ns, "name": name}}, _NO_ENV, "value", version
            )
        )

    def _value(self, value: Any, vo: Mapping[str, Any], env: Env, where: str, version: str | None) -> Iterator[str]:
        kind = vo["kind"]
        if kind == "user_defined_value":
            return
        if kind == "literal_value":
            if value != vo["value"]:
                yield f"{where}: must be {vo['value']!r}, not {value!r}"
        elif kind == "array_of":
            if not isinstance(value, list):
                yield f"{where}: expected an array of {_describe(vo['value'])}, got {_kind_of(value)}"
                return
            for i, item in enumerate(value):
                yield from self._value(item, vo["value"], env, f"{where}[{i}]", version)
        elif kind == "dictionary_of":
            if not isinstance(value, dict):
                yield f"{where}: expected an object keyed by {_describe(vo['key'])}, got {_kind_of(value)}"
                return
            if vo.get("singleKey") and len(value) != 1:
                yield f"{where}: expected exactly one key, got {len(value)} ({', '.join(map(str, value))})"
            for k, item in value.items():
                yield from self._value(item, vo["value"], env, f"{where}.{k}", version)
        elif kind == "union_of":
            yield from self._union(value, vo["items"], env, where, version)
        elif kind == "instance_of":
            yield from self._instance(value, vo, env, where, version)
        else:
            yield f"{where}: the specification has an unknown value kind {kind}"

    def _union(self, value: Any, items: list[Any], env: Env, where: str, version: str | None) -> Iterator[str]:
        """Valid if any alternative is; otherwise the problems of the alternatives of the value's shape."""
        shaped: list[list[str]] = []
        for item in items:
            problems = list(self._value(value, item, env, where, version))
            if not problems:
                return
            if not any(p.startswith((f"{where}: expected", f"{where}: matches none")) for p in problems):
                shaped.append(problems)
        if len(shaped) == 1:  # one alternative has the value's shape: its problems are the useful ones
            yield from shaped[0]
            return
        closest = min(shaped, key=len)[0] if shaped else None
        alternatives = " | ".join(_describe(i) for i in items)
        yield f"{where}: matches none of {alternatives}" + (f"; closest: {closest}" if closest else "")

    def _instance(self, value: Any, vo: Mapping[str, Any], env: Env, where: str, version: str | None) -> Iterator[str]:
        key = _key(vo["type"])
        if key in env:  # an open generic parameter bound by the enclosing type
            bound, bound_env = env[key]
            yield from self._value(value, bound, bound_env, where, version)
            return
        ns, name = key.split("::")
        if ns == "_builtins":
            ok = {
                "string": isinstance(value, str),
                "boolean": isinstance(value, bool),
                "number": isinstance(value, int | float) and not isinstance(value, bool),
                "null": value is None,
                "object": isinstance(value, dict),
            }.get(name, True)
            if not ok:
                yield f"{where}: expected {name}, got {_kind_of(value)} {_short(value)}"
            return
        t = self.types.get(key)
        if t is None:  # an unbound generic parameter (e.g. TDocument): a user-defined value
            return
        inner = _bind(t, vo.get("generics"), env)
        kind = t["kind"]
        if kind == "enum":
            yield from self._enum(value, t, where, version)
        elif kind == "type_alias":
            yield from self._alias(value, t, inner, where, version)
        elif kind == "interface":
            yield from self._interface(value, t, inner, where, version)
        else:
            yield f"{where}: {key} is a {kind}, not a value type"

    def _enum(self, value: Any, t: Mapping[str, Any], where: str, version: str | None) -> Iterator[str]:
        text = ("true" if value else "false") if isinstance(value, bool) else value
        if not isinstance(text, str):
            yield f"{where}: expected one of the {t['name']['name']} values, got {_kind_of(value)}"
            return
        for member in t["members"]:
            if text == member["name"] or text in member.get("aliases", []):
                yield from self._availability(member.get("availability"), f"{where} value {text!r}", version)
                return
        if not t.get("isOpen"):
            names = [m["name"] for m in t["members"]]
            yield f"{where}: {text!r} is not a {t['name']['name']} (one of {', '.join(names)})"

    def _alias(self, value: Any, t: Mapping[str, Any], env: Env, where: str, version: str | None) -> Iterator[str]:
        variants = t.get("variants") or {}
        target = t["type"]
        if variants.get("kind") == "internal_tag" and isinstance(value, dict):
            tag = variants["tag"]
            wanted = value.get(tag, variants.get("defaultTag"))
            for item in target["items"]:
                it = self.types[_key(item["type"])]
                tag_prop = next((p for p in self._props(it, env).props.values() if p[0]["name"] == tag), None)
                if tag_prop and tag_prop[0]["type"].get("value") == wanted:
                    yield from self._value(value, item, env, where, version)
                    return
            yield f"{where}: {tag} {wanted!r} is not a known {t['name']['name']} variant"
            return
        yield from self._value(value, target, env, where, version)

    def _interface(self, value: Any, t: Mapping[str, Any], env: Env, where: str, version: str | None) -> Iterator[str]:
        if not isinstance(value, dict):
            shortcut = t.get("shortcutProperty")
            if shortcut:
                prop, penv = self._props(t, env).props[shortcut]
                yield from self._value(value, prop["type"], penv, where, version)
            else:
                yield f"{where}: expected an object ({t['name']['name']}), got {_kind_of(value)} {_short(value)}"
            return
        yield from self._checked_object(value, self._props(t, env), where, version, t)

    def _object(
        self, value: Any, properties: list[Any], env: Env, where: str, version: str | None, owner: Mapping[str, Any]
    ) -> Iterator[str]:
        if not isinstance(value, dict):
            yield f"{where}: expected an object, got {_kind_of(value)}"
            return
        props = _Props({}, None)
        for p in properties:
            for name in (p["name"], *p.get("aliases", [])):
                props.props[name] = (p, env)
        yield from self._checked_object(value, props, where, version, owner)

    def _checked_object(
        self, value: dict[str, Any], props: _Props, where: str, version: str | None, owner: Mapping[str, Any]
    ) -> Iterator[str]:
        unknown = []
        for k, item in value.items():
            entry = props.props.get(k)
            if entry is None:
                unknown.append(k)
                continue
            prop, penv = entry
            yield from self._availability(prop.get("availability"), f"{where}.{k}", version)
            yield from self._value(item, prop["type"], penv, f"{where}.{k}", version)
        if props.additional:
            how, vtype, venv = props.additional
            if how == "one" and len(unknown) > 1:
                yield f"{where}: at most one key besides the known properties, got {', '.join(unknown)}"
            for k in unknown:
                yield from self._value(value[k], vtype, venv, f"{where}.{k}", version)
        else:
            for k in unknown:
                yield f"{where}: unknown property {k!r} in {owner['name']['name']}{_suggest(k, props.props)}"
        seen = set(value)
        for name, (prop, _) in props.props.items():
            required = name == prop["name"] and prop.get("required")
            if required and not ({prop["name"], *prop.get("aliases", [])} & seen):
                yield f"{where}: missing required property {name!r} of {owner['name']['name']}"
        if (owner.get("variants") or {}).get("kind") == "container":
            # a container with an AdditionalProperty (sort options) takes the unknown key as its variant
            chosen = [k for k in value if k not in props.props or not props.props[k][0].get("containerProperty")]
            if len(chosen) != 1:
                yield f"{where}: a {owner['name']['name']} holds exactly one of its variants, got {chosen or 'none'}"

    def _props(self, t: Mapping[str, Any], env: Env) -> _Props:
        """Own and inherited properties (generics bound), and the behaviour for keys not listed."""
        name = _key(t["name"])
        if not env and name in self._props_cache:
            return self._props_cache[name]
        out = _Props({}, None)
        parents = []
        if t.get("inherits"):
            parents.append(t["inherits"])
        for b in t.get("behaviors", []):
            bname = b["type"]["name"]
            if bname == "OverloadOf":
                parents.append({"type": b["generics"][0]["type"], "generics": b["generics"][0].get("generics")})
            elif bname in ("AdditionalProperties", "AdditionalProperty"):
                out.additional = ("many" if bname == "AdditionalProperties" else "one", b["generics"][1], env)
        for parent in parents:
            pt = self.types[_key(parent["type"])]
            inherited = self._props(pt, _bind(pt, parent.get("generics"), env))
            out.props.update(inherited.props)
            out.additional = out.additional or inherited.additional
        for p in t.get("properties", []):
            for wire in (p["name"], *p.get("aliases", [])):
                out.props[wire] = (p, env)
        if not env:
            self._props_cache[name] = out
        return out

    # -- query parameters and availability ---------------------------------------------------
    def _param_ok(self, text: str, vo: Mapping[str, Any]) -> bool:
        kind = vo["kind"]
        if kind == "array_of":
            return all(self._param_ok(part, vo["value"]) for part in text.split(","))
        if kind == "union_of":
            return any(self._param_ok(text, item) for item in vo["items"])
        if kind == "literal_value":
            return text == str(vo["value"]).lower() if isinstance(vo["value"], bool) else text == str(vo["value"])
        if kind != "instance_of":
            return True
        ns, name = _key(vo["type"]).split("::")
        if ns == "_builtins":
            if name == "boolean":
                return text in ("true", "false", "")
            if name == "number":
                try:
                    float(text)
                except ValueError:
                    return False
            return name != "null"
        t = self.types.get(f"{ns}::{name}")
        if t is None:
            return True
        if t["kind"] == "enum":
            return t.get("isOpen", False) or any(
                text == m["name"] or text in m.get("aliases", []) for m in t["members"]
            )
        if t["kind"] == "type_alias":
            return self._param_ok(text, t["type"])
        return True

    @staticmethod
    def _availability(avail: Mapping[str, Any] | None, what: str, version: str | None) -> Iterator[str]:
        if version is None or avail is None:
            return
        stack = avail.get("stack")
        if stack is None:
            yield f"{what} exists only on Elastic Cloud Serverless, not on a self-managed cluster"
            return
        since = stack.get("since")
        if since and _version(since) > _version(version):
            yield f"{what} needs Elasticsearch {since}; the cluster is {version}"
        if stack.get("visibility") in ("feature_flag", "private"):
            yield f"{what} is {stack['visibility'].replace('_', ' ')} only in Elasticsearch {version}"


def _bind(t: Mapping[str, Any], generics: list[Any] | None, env: Env) -> Env:
    """The environment inside ``t``: its open generic parameters bound to the given value types."""
    params = t.get("generics") or []
    if not params:
        return _NO_ENV
    given = generics or []
    return {_key(p): (given[i], env) for i, p in enumerate(params) if i < len(given)}


def _describe(vo: Mapping[str, Any]) -> str:
    kind = vo["kind"]
    if kind == "instance_of":
        return vo["type"]["name"]
    if kind == "array_of":
        return f"{_describe(vo['value'])}[]"
    if kind == "dictionary_of":
        return f"Dict[{_describe(vo['value'])}]"
    if kind == "union_of":
        return " | ".join(_describe(i) for i in vo["items"])
    if kind == "literal_value":
        return repr(vo["value"])
    return "any"


def _kind_of(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _short(value: Any) -> str:
    text = orjson.dumps(value).decode() if not isinstance(value, bytes) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _suggest(name: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


@cache
def load_spec(path: Path = SPEC_PATH) -> Spec:
    """The specification, parsed once per process (the file is 9 MB)."""
    if not path.is_file():
        raise FileNotFoundError(
            f"Elastic's API specification is not at {path}: the conformance tests expect "
            "../shared/elasticsearch-specification/schema.json beside the repository"
        )
    return Spec(orjson.loads(path.read_bytes()))
