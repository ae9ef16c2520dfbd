"""Which Elasticsearch a cluster runs, and whether the installed Python client can talk to it.

Elasticsearch clients send ``compatible-with=<client major>`` in their
``Accept`` and ``Content-Type`` headers; a cluster accepts its own major and
the one before (REST API compatibility). So client 8 works with Elasticsearch
8 and 9, while client 9, which ``elasticsearch>=8.13,<10`` installs by default,
is refused by every 8.x cluster (400 ``media_type_header_exception``). The
probe here asks with ``compatible-with=8``, which both supported majors accept,
and :func:`compatibility` says exactly what to install when the client does
not fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from elasticsearch import __versionstr__ as CLIENT_VERSION

CLIENT_MAJOR = int(CLIENT_VERSION.split(".")[0])
MINIMUM = (8, 13)  # oldest supported cluster: index.mapping.total_fields.ignore_dynamic_beyond_limit (setup)
SUPPORTED_MAJORS = (8, 9)
# both supported majors accept a request that asks for 8.x behaviour; the client rewrites only plain
# application/json, so this header reaches the cluster as written
PROBE_HEADERS = {"accept": "application/vnd.elasticsearch+json; compatible-with=8"}
INSTALL = {
    8: "pip install 'sentinel-vn[es8]'  (the 8.x client: elasticsearch>=8.13,<9)",
    9: "pip install 'sentinel-vn[es9]'  (the 9.x client: elasticsearch>=9,<10)",
}


@dataclass(frozen=True)
class ClusterInfo:
    """What ``GET /`` says about the cluster."""

    number: str
    name: str
    flavor: str

    @property
    def version(self) -> tuple[int, ...]:
        return tuple(int(p) for p in self.number.split("-")[0].split(".")[:3] if p.isdigit())

    @property
    def major(self) -> int:
        return self.version[0]


def cluster_info(client: Any) -> ClusterInfo:
    """``GET /`` with headers every supported major accepts, whatever client is installed."""
    body = client.perform_request("GET", "/", headers=PROBE_HEADERS).body
    version = body.get("version") or {}
    return ClusterInfo(
        str(version.get("number", "0")), str(body.get("cluster_name", "")), str(version.get("build_flavor", ""))
    )


def compatibility(info: ClusterInfo, client_major: int = CLIENT_MAJOR) -> tuple[str | None, str | None]:
    """``(refusal, advice)``: why Sentinel cannot use this cluster with this client, or what would be better."""
    if info.version[:2] < MINIMUM:
        wanted = ".".join(map(str, MINIMUM))
        return f"Elasticsearch {info.number} is too old: Sentinel needs {wanted} or newer (8.x or 9.x)", None
    if info.major not in SUPPORTED_MAJORS:
        return f"Elasticsearch {info.number} is not supported yet: Sentinel supports 8.x and 9.x", None
    if client_major > info.major:
        return (
            f"Elasticsearch {info.number} refuses the installed Python client elasticsearch {CLIENT_VERSION}, "
            f"which asks for {client_major}.x behaviour (compatible-with={client_major}); install the "
            f"{info.major}.x client in Sentinel's environment: {INSTALL[info.major]}",
            None,
        )
    if client_major < info.major:
        return None, (
            f"Elasticsearch {info.number} serves the {client_major}.x client through REST API compatibility; "
            f"for the matching client: {INSTALL[info.major]}"
        )
    return None, None


def refusal_of(error: Any) -> str | None:
    """The install advice for a request the cluster refused because of the client's compatibility headers."""
    if getattr(error, "error", None) != "media_type_header_exception":
        return None
    return (
        f"Elasticsearch refused the headers of the installed Python client elasticsearch {CLIENT_VERSION} "
        f"({error.message}); if the cluster is 8.x: {INSTALL[8]}"
    )
