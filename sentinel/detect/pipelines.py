"""pySigma processing pipelines that map rule field names to the ECS fields our events carry.

Sigma rules name fields the way the log source does (``cs-uri-query`` for a web
server, ``src_ip`` for a firewall); Sentinel events are ECS. The ``ecs`` pipeline
renames rule fields per log source so one event shape serves every rule. Fields
already written in ECS (what our own rule pack uses) pass through unchanged.

Windows rules go through pySigma's own ``ecs_windows`` mapping (Winlogbeat
layout); the Elasticsearch-only ``.caseless`` sub-fields it targets are folded
back onto the base field because our engine already matches case-insensitively.
Log-source *conditions* are not added to the rule here: the engine indexes rules
by log source instead (see :mod:`sentinel.detect.logsource`).
"""

from __future__ import annotations

from sigma.pipelines.elasticsearch.windows import ecs_windows
from sigma.processing.conditions import LogsourceCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldFunctionTransformation, FieldMappingTransformation

PIPELINES = ("ecs", "none")

# Web server access logs (Sigma taxonomy, W3C-style names) -> ECS.
WEBSERVER_FIELDS = {
    "c-ip": "source.ip",
    "cs-uri": "url.original",
    "cs-uri-stem": "url.path",
    "cs-uri-query": "url.query",
    "cs-uri-extension": "url.extension",
    "cs-method": "http.request.method",
    "sc-status": "http.response.status_code",
    "cs-user-agent": "user_agent.original",
    "cs-referer": "http.request.referrer",
    "cs-referrer": "http.request.referrer",
    "cs-username": "user.name",
    "cs-host": "url.domain",
    "cs-version": "http.version",
    "sc-bytes": "http.response.body.bytes",
    "cs-bytes": "http.request.body.bytes",
    "s-ip": "destination.ip",
    "s-port": "destination.port",
}

# Proxy logs use the same vocabulary with a few client-side names of their own.
PROXY_FIELDS = {
    **WEBSERVER_FIELDS,
    "c-uri": "url.original",
    "c-uri-stem": "url.path",
    "c-uri-query": "url.query",
    "c-uri-extension": "url.extension",
    "c-useragent": "user_agent.original",
    "r-dns": "url.domain",
    "dst_ip": "destination.ip",
}

# Firewalls, NetFlow and other network connection records.
NETWORK_FIELDS = {
    "src_ip": "source.ip",
    "dst_ip": "destination.ip",
    "src_port": "source.port",
    "dst_port": "destination.port",
    "SourceIp": "source.ip",
    "DestinationIp": "destination.ip",
    "SourcePort": "source.port",
    "DestinationPort": "destination.port",
    "DestinationHostname": "destination.domain",
    "Protocol": "network.transport",
    "protocol": "network.transport",
    "action": "event.action",
    "username": "user.name",
    "bytes_in": "source.bytes",
    "bytes_out": "destination.bytes",
}

DNS_FIELDS = {
    "query": "dns.question.name",
    "QueryName": "dns.question.name",
    "record_type": "dns.question.type",
    "answer": "dns.answers.data",
    "QueryResults": "dns.answers.data",
    "response_code": "dns.response_code",
    "src_ip": "source.ip",
    "dst_ip": "destination.ip",
}

# Linux / syslog records (auth.log, syslog) as parsed into ECS.
SYSLOG_FIELDS = {
    "host": "host.name",
    "hostname": "host.name",
    "program": "process.name",
    "pid": "process.pid",
    "user": "user.name",
    "username": "user.name",
    "src_ip": "source.ip",
    "message": "message",
}

# (logsource condition, field mapping), applied in this order.
_MAPPINGS: list[tuple[dict[str, str], dict[str, str]]] = [
    ({"category": "webserver"}, WEBSERVER_FIELDS),
    ({"category": "proxy"}, PROXY_FIELDS),
    ({"category": "firewall"}, NETWORK_FIELDS),
    ({"category": "network_connection"}, NETWORK_FIELDS),
    ({"category": "dns"}, DNS_FIELDS),
    ({"product": "linux"}, SYSLOG_FIELDS),
    ({"product": "portal"}, WEBSERVER_FIELDS),
    ({"product": "nginx"}, WEBSERVER_FIELDS),
    ({"product": "apache"}, WEBSERVER_FIELDS),
]

_ES_SUBFIELDS = (".caseless", ".keyword", ".text")


def _strip_es_subfield(field: str) -> str:
    for suffix in _ES_SUBFIELDS:
        if field.endswith(suffix):
            return field[: -len(suffix)]
    return field


def ecs_pipeline() -> ProcessingPipeline:
    """Field mappings from Sigma log-source vocabularies to ECS (a fresh pipeline per call)."""
    items = [
        ProcessingItem(
            identifier=f"sentinel-ecs-{'-'.join(cond.values())}",
            transformation=FieldMappingTransformation(dict(mapping)),
            rule_conditions=[LogsourceCondition(**cond)],
        )
        for cond, mapping in _MAPPINGS
    ]
    strip = ProcessingItem(
        identifier="sentinel-ecs-strip-es-subfields",
        transformation=FieldFunctionTransformation(transform_func=_strip_es_subfield, mapping={}),
        rule_conditions=[LogsourceCondition(product="windows")],
    )
    # pySigma's Windows pipeline adds winlog.channel conditions; keep them (they are event data
    # on Winlogbeat events) but drop the Elasticsearch-only sub-field suffixes afterwards.
    return (
        ProcessingPipeline(name="Sentinel ECS mappings", items=items)
        + ecs_windows()
        + ProcessingPipeline(name="Sentinel ECS sub-fields", items=[strip])
    )


def sigma_pipeline(name: str) -> ProcessingPipeline | None:
    """The processing pipeline called ``name`` ('ecs' or 'none'); raise ValueError otherwise."""
    if name == "ecs":
        return ecs_pipeline()
    if name == "none":
        return None
    raise ValueError(f"unknown pipeline {name!r}; use one of: {', '.join(PIPELINES)}")
