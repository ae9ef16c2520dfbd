"""What Sentinel creates in an Elasticsearch cluster: ILM policy, templates, alert indices.

Events live in data streams named ``logs-sentinel.<dataset>-<namespace>``
(Elastic's ``type-dataset-namespace`` scheme), one namespace per province so
retention, access and shard placement can differ per province. Index templates
are composed from component templates: shared settings, the ECS field mappings,
and one small component per known dataset; a catch-all template covers any
other dataset with the same ECS mappings.

Alerts are mutable (analysts edit them with optimistic concurrency), so they
live in ordinary indices behind aliases, not in a data stream.

:func:`build_plan` returns everything as plain JSON bodies: ``sentinel es setup
--print`` shows it for review and :func:`apply_plan` sends it. Every request is
a PUT of a full definition or a create that tolerates "already exists", so
running setup twice changes nothing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Names:
    """Every name Sentinel uses in a cluster, derived from one prefix.

    The default prefix ``sentinel`` is what deployments use; another prefix
    keeps a second deployment (staging, the contract tests) apart in one cluster.
    """

    prefix: str = "sentinel"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,30}", self.prefix):
            raise ValueError(f"prefix {self.prefix!r}: use lower-case letters, digits and _ (e.g. sentinel)")

    @property
    def events_pattern(self) -> str:
        return f"logs-{self.prefix}.*"

    @property
    def catch_all_template(self) -> str:
        return f"logs-{self.prefix}"

    @property
    def ilm_policy(self) -> str:
        return f"{self.prefix}-logs"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}-alerts"

    @property
    def history(self) -> str:
        return f"{self.prefix}-alert-history"

    @property
    def open_alerts(self) -> str:
        return f"{self.prefix}-alert-open"

    def stream(self, dataset: str | None, namespace: str | None, default_namespace: str = "default") -> str:
        """``logs-<prefix>.<dataset>-<namespace>``, both parts made safe for Elasticsearch."""
        return f"logs-{self.prefix}.{dataset_name(dataset)}-{namespace_name(namespace, default_namespace)}"


DEFAULT_NAMES = Names()
EVENTS_PATTERN = DEFAULT_NAMES.events_pattern
ALERTS_ALIAS = DEFAULT_NAMES.alerts
HISTORY_ALIAS = DEFAULT_NAMES.history
OPEN_ALIAS = DEFAULT_NAMES.open_alerts

# Analyzer for free-text search: case- and diacritic-insensitive ("Hà Nội" matches "ha noi").
FOLDED = "sentinel_folded"
TEXT = {"type": "text", "analyzer": FOLDED, "norms": False}
KW = {"type": "keyword", "ignore_above": 1024}
ANALYSIS = {"analyzer": {FOLDED: {"type": "custom", "tokenizer": "standard", "filter": ["lowercase", "asciifolding"]}}}

# ECS fields Sentinel's collectors and detections use, by dotted name. Fields not
# listed are still indexed (strings as keyword) through the dynamic templates.
ECS_FIELDS: dict[str, dict[str, Any]] = {
    "@timestamp": {"type": "date"},
    "message": TEXT,
    "tags": KW,
    "ecs.version": KW,
    "data_stream.type": {"type": "constant_keyword"},
    "data_stream.dataset": {"type": "constant_keyword"},
    "data_stream.namespace": {"type": "constant_keyword"},
    "event.id": KW,
    "event.kind": KW,
    "event.category": KW,
    "event.type": KW,
    "event.action": KW,
    "event.outcome": KW,
    "event.dataset": KW,
    "event.module": KW,
    "event.provider": KW,
    "event.code": KW,
    "event.reason": KW,
    "event.severity": {"type": "long"},
    "event.risk_score": {"type": "float"},
    "event.duration": {"type": "long"},
    "event.created": {"type": "date"},
    "event.ingested": {"type": "date"},
    # ECS leaves event.original unindexed; the SOC greps raw lines, so it is searchable text here.
    "event.original": TEXT,
    "error.message": TEXT,
    "error.type": KW,
    "error.code": KW,
    "error.stack_trace": {"type": "wildcard"},
    "log.level": KW,
    "log.logger": KW,
    "log.file.path": KW,
    "log.offset": KW,
    "log.syslog.appname": KW,
    "log.syslog.hostname": KW,
    "log.syslog.priority": {"type": "long"},
    "log.syslog.facility.name": KW,
    "log.syslog.severity.name": KW,
    "http.version": KW,
    "http.request.method": KW,
    "http.request.id": KW,
    "http.request.referrer": KW,
    "http.request.bytes": {"type": "long"},
    "http.request.body.bytes": {"type": "long"},
    "http.response.status_code": {"type": "long"},
    "http.response.bytes": {"type": "long"},
    "http.response.body.bytes": {"type": "long"},
    "url.original": {"type": "wildcard", "fields": {"text": TEXT}},
    "url.full": {"type": "wildcard"},
    "url.path": {"type": "wildcard"},
    "url.query": KW,
    "url.domain": KW,
    "url.scheme": KW,
    "url.port": {"type": "long"},
    "url.extension": KW,
    "user_agent.original": {**KW, "fields": {"text": TEXT}},
    # decoded copies the web rules search with wildcards anywhere in the value; headers can be long
    "normalized.url": {"type": "wildcard"},
    "normalized.user_agent": {"type": "wildcard"},
    "normalized.referrer": {"type": "wildcard"},
    "normalized.headers": {"type": "wildcard"},
    "user_agent.name": KW,
    "user_agent.version": KW,
    "user_agent.os.name": KW,
    "user_agent.device.name": KW,
    "user.id": KW,
    "user.name": KW,
    "user.email": KW,
    "user.domain": KW,
    "user.roles": KW,
    "host.name": KW,
    "host.hostname": KW,
    "host.ip": {"type": "ip"},
    "service.name": KW,
    "service.type": KW,
    "service.environment": KW,
    "process.name": KW,
    "process.pid": {"type": "long"},
    "process.executable": KW,
    "network.protocol": KW,
    "network.transport": KW,
    "network.type": KW,
    "network.direction": KW,
    "network.community_id": KW,
    "network.bytes": {"type": "long"},
    "network.packets": {"type": "long"},
    "observer.name": KW,
    "observer.hostname": KW,
    "observer.vendor": KW,
    "observer.product": KW,
    "observer.type": KW,
    "rule.id": KW,
    "rule.name": KW,
    "rule.ruleset": KW,
    "rule.category": KW,
    "trace.id": KW,
    "transaction.id": KW,
    "organization.id": KW,
    "organization.name": KW,
    "threat.indicator.type": KW,
    "threat.technique.id": KW,
    "threat.tactic.id": KW,
}
for _side in ("source", "destination", "client", "server"):
    ECS_FIELDS.update(
        {
            f"{_side}.ip": {"type": "ip"},
            f"{_side}.port": {"type": "long"},
            f"{_side}.address": KW,
            f"{_side}.domain": KW,
            f"{_side}.bytes": {"type": "long"},
            f"{_side}.packets": {"type": "long"},
            f"{_side}.mac": KW,
            f"{_side}.nat.ip": {"type": "ip"},
            f"{_side}.geo.country_iso_code": KW,
            f"{_side}.geo.city_name": KW,
            f"{_side}.geo.location": {"type": "geo_point"},
            f"{_side}.as.number": {"type": "long"},
            f"{_side}.as.organization.name": KW,
        }
    )

# Fields specific to one dataset (beyond ECS). Known datasets get their own index
# template; others fall back to the catch-all template with the ECS mappings.
DATASET_FIELDS: dict[str, dict[str, dict[str, Any]]] = {
    "nginx.access": {"nginx.access.upstream_response_time": {"type": "float"}},
    "apache.access": {},
    "portal.app": {
        "portal.dossier_code": KW,
        "portal.procedure_code": KW,
        "portal.transaction_id": KW,
        "portal.channel": KW,
    },
    "portal.stacktrace": {},
    "syslog": {},
    "fortinet.firewall": {"fortinet.firewall.type": KW, "fortinet.firewall.subtype": KW},
    "pfsense.log": {},
    "iptables.log": {},
    "network.flow": {"flow.id": KW, "flow.duration_ms": {"type": "long"}},
    "sentinel.collector": {},
    "sentinel.ingest": {},
}

DYNAMIC_TEMPLATES = [
    {"labels": {"path_match": "labels.*", "mapping": {"type": "keyword", "ignore_above": 1024}}},
    {"strings_as_keyword": {"match_mapping_type": "string", "mapping": {"type": "keyword", "ignore_above": 1024}}},
]

_NAME_CHARS = re.compile(r"[^a-z0-9_.]+")


def _slug(value: str, *, allow_dots: bool) -> str:
    """Lower-case ASCII with ``_`` for anything else; Vietnamese letters lose their marks."""
    text = unicodedata.normalize("NFKD", value.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = _NAME_CHARS.sub("_", text)
    if not allow_dots:
        text = text.replace(".", "_")
    return text.strip("_.")[:100]


def dataset_name(value: str | None) -> str:
    """The ``<dataset>`` part of a stream name; Elasticsearch forbids ``-`` and upper case there."""
    return _slug(value or "", allow_dots=True) or "generic"


def namespace_name(value: str | None, default: str = "default") -> str:
    """The ``<namespace>`` part: one per province (``Hà Nội`` -> ``ha_noi``), else ``default``."""
    return _slug(value or "", allow_dots=False) or default


def data_stream_name(dataset: str | None, namespace: str | None, default_namespace: str = "default") -> str:
    return DEFAULT_NAMES.stream(dataset, namespace, default_namespace)


def nest(fields: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Dotted field definitions to the nested ``properties`` form mappings use."""
    root: dict[str, Any] = {}
    for dotted, spec in sorted(fields.items()):
        node = root
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {"properties": {}})["properties"]
        node[parts[-1]] = dict(spec)
    return root


def field_type(name: str) -> str | None:
    """The mapped type of a dotted field (``None`` when dynamic: then a keyword for strings)."""
    if name.startswith("labels."):
        return "keyword"
    spec = ECS_FIELDS.get(name) or next((f[name] for f in DATASET_FIELDS.values() if name in f), None)
    return spec["type"] if spec else None


@dataclass
class TemplateOptions:
    """Knobs an operator sets at setup time (``sentinel es setup --retention 365d ...``)."""

    retention: str = "180d"
    warm_after: str = "7d"
    rollover_max_age: str = "30d"
    rollover_max_primary_shard_size: str = "50gb"
    shards: int = 1
    replicas: int = 1
    refresh_interval: str = "5s"
    extra_datasets: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("retention", "warm_after", "rollover_max_age"):
            value = getattr(self, name)
            if not re.fullmatch(r"\d+[dhms]", value):
                raise ValueError(f"{name} {value!r} is not a duration: use e.g. 180d, 12h")
        if _days(self.warm_after) >= _days(self.retention):
            raise ValueError(f"warm_after ({self.warm_after}) must be shorter than retention ({self.retention})")
        if self.shards < 1 or self.replicas < 0:
            raise ValueError("shards must be >= 1 and replicas >= 0")


def _days(duration: str) -> float:
    unit = {"d": 86400, "h": 3600, "m": 60, "s": 1}[duration[-1]]
    return int(duration[:-1]) * unit / 86400


def ilm_policy(opts: TemplateOptions) -> dict[str, Any]:
    """Hot (rollover by size or age), warm (merge, read-only, lower priority), delete at retention."""
    return {
        "policy": {
            "_meta": {"managed_by": "sentinel", "description": "Sentinel event retention"},
            "phases": {
                "hot": {
                    "actions": {
                        "rollover": {
                            "max_age": opts.rollover_max_age,
                            "max_primary_shard_size": opts.rollover_max_primary_shard_size,
                        },
                        "set_priority": {"priority": 100},
                    }
                },
                "warm": {
                    "min_age": opts.warm_after,
                    "actions": {
                        "forcemerge": {"max_num_segments": 1},
                        "readonly": {},
                        "set_priority": {"priority": 50},
                    },
                },
                "delete": {"min_age": opts.retention, "actions": {"delete": {}}},
            },
        }
    }


def _settings_component(opts: TemplateOptions, names: Names) -> dict[str, Any]:
    return {
        "template": {
            "settings": {
                "index": {
                    "lifecycle": {"name": names.ilm_policy},
                    "codec": "best_compression",
                    "number_of_shards": opts.shards,
                    "number_of_replicas": opts.replicas,
                    "refresh_interval": opts.refresh_interval,
                    # hostile or sloppy input must not reject a whole document
                    "mapping": {
                        "total_fields": {"limit": 5000, "ignore_dynamic_beyond_limit": True},
                        "ignore_malformed": True,
                    },
                },
                "analysis": ANALYSIS,
            }
        },
        "_meta": {"managed_by": "sentinel"},
    }


def _ecs_component() -> dict[str, Any]:
    return {
        "template": {
            "mappings": {
                "date_detection": False,
                "dynamic_templates": DYNAMIC_TEMPLATES,
                "properties": nest(ECS_FIELDS),
            }
        },
        "_meta": {"managed_by": "sentinel", "ecs_version": "8.11.0"},
    }


def _dataset_component(dataset: str) -> dict[str, Any]:
    return {
        "template": {"mappings": {"properties": nest(DATASET_FIELDS.get(dataset, {}))}},
        "_meta": {"managed_by": "sentinel", "dataset": dataset},
    }


def _alert_indices(names: Names) -> dict[str, dict[str, Any]]:
    """Alerts, their audited history and the open-alert pointers (one per rule and group)."""
    settings = {"number_of_shards": 1, "number_of_replicas": 1, "refresh_interval": "1s"}
    kw = {"type": "keyword"}
    dt = {"type": "date"}
    alerts = {
        "dynamic": False,
        "properties": {
            "id": kw,
            "@timestamp": dt,
            "rule": {
                "properties": {
                    "id": kw,
                    "title": {"type": "keyword", "fields": {"text": TEXT}},
                    "level": kw,
                    "tags": kw,
                }
            },
            "group_key": kw,
            "entity": {"type": "flattened"},
            "count": {"type": "long"},
            "first_seen": dt,
            "last_seen": dt,
            "event_ids": kw,
            "events": {"type": "object", "enabled": False},
            "status": kw,
            "disposition": kw,
            "severity": kw,
            "risk_score": {"type": "long"},
            "assignee": kw,
            "tags": kw,
            "labels": {"type": "flattened"},
            "notes": {"type": "object", "enabled": False},
            "updated_by": kw,
            "updated_at": dt,
            "status_by": kw,
            "status_at": dt,
            "acknowledged_at": dt,
            "closed_at": dt,
            "close_reason": TEXT,
            "version": {"type": "long"},
        },
    }
    history = {
        "dynamic": False,
        "properties": {
            "alert_id": kw,
            "version": {"type": "long"},
            "at": dt,
            "actor": kw,
            "action": kw,
            "before": {"type": "object", "enabled": False},
            "after": {"type": "object", "enabled": False},
            "digest": kw,
        },
    }
    pointer = {"dynamic": False, "properties": {"rule_id": kw, "group_key": kw, "alert_id": kw}}
    out = {}
    for alias, mappings in ((names.alerts, alerts), (names.history, history), (names.open_alerts, pointer)):
        out[f"{alias}-000001"] = {
            "settings": {"index": settings, "analysis": ANALYSIS},
            "mappings": mappings,
            "aliases": {alias: {"is_write_index": True}},
        }
    return out


def build_plan(opts: TemplateOptions | None = None, names: Names = DEFAULT_NAMES) -> dict[str, Any]:
    """Everything ``sentinel es setup`` creates, as request bodies keyed by kind and name."""
    opts = opts or TemplateOptions()
    p = names.prefix
    datasets = sorted({*DATASET_FIELDS, *(dataset_name(d) for d in opts.extra_datasets)})
    components = {
        f"{p}@settings": _settings_component(opts, names),
        f"{p}-ecs@mappings": _ecs_component(),
    }
    index_templates: dict[str, Any] = {
        # catch-all for datasets without their own template; beats the built-in logs-*-* (priority 100)
        f"logs-{p}": {
            "index_patterns": [f"logs-{p}.*-*"],
            "data_stream": {},
            "priority": 150,
            "composed_of": [f"{p}@settings", f"{p}-ecs@mappings"],
            "_meta": {"managed_by": "sentinel"},
        }
    }
    for ds in datasets:
        component = f"{p}.{ds}@mappings"
        components[component] = _dataset_component(ds)
        index_templates[f"logs-{p}.{ds}"] = {
            "index_patterns": [f"logs-{p}.{ds}-*"],
            "data_stream": {},
            "priority": 200,
            "composed_of": [f"{p}@settings", f"{p}-ecs@mappings", component],
            "_meta": {"managed_by": "sentinel", "dataset": ds},
        }
    return {
        "ilm_policies": {names.ilm_policy: ilm_policy(opts)},
        "component_templates": components,
        "index_templates": index_templates,
        "indices": _alert_indices(names),
    }


def apply_plan(client: Any, plan: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Send ``plan`` to the cluster; returns ``(kind, name, outcome)`` for each object.

    Policies and templates are PUT whole (creating or replacing them, so a
    second run is a no-op); indices are created only when missing.
    """
    from elasticsearch import BadRequestError

    done: list[tuple[str, str, str]] = []
    for name, body in plan["ilm_policies"].items():
        client.ilm.put_lifecycle(name=name, policy=body["policy"])
        done.append(("ilm_policy", name, "applied"))
    for name, body in plan["component_templates"].items():
        client.cluster.put_component_template(name=name, template=body["template"], meta=body.get("_meta"))
        done.append(("component_template", name, "applied"))
    for name, body in plan["index_templates"].items():
        client.indices.put_index_template(
            name=name,
            index_patterns=body["index_patterns"],
            data_stream=body["data_stream"],
            priority=body["priority"],
            composed_of=body["composed_of"],
            meta=body.get("_meta"),
        )
        done.append(("index_template", name, "applied"))
    for name, body in plan["indices"].items():
        alias = next(iter(body["aliases"]))
        if client.indices.exists_alias(name=alias):
            done.append(("index", name, "exists"))
            continue
        try:
            client.indices.create(
                index=name, settings=body["settings"], mappings=body["mappings"], aliases=body["aliases"]
            )
            done.append(("index", name, "created"))
        except BadRequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
            done.append(("index", name, "exists"))
    return done
