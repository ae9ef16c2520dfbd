"""Which Sigma log sources an ECS event belongs to, and which rules therefore apply to it.

A Sigma rule names its log source (``category: webserver``, ``product: nginx``);
an ECS event says where it came from in ``event.dataset``, ``event.module``,
``event.category`` and ``observer.type``. :data:`ECS_TO_LOGSOURCE` is the one
table translating the second into the first. An event may belong to several
log sources at once (an nginx access line is ``product: nginx`` and
``category: webserver``). A rule applies to an event when every log-source key
the rule sets is among the event's values for that key; a rule that sets none
applies to every event.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sigma.rule import SigmaLogSource

from sentinel.detect.view import EventView, FieldReader
from sentinel.ecs import compile_reader

# (ECS field, value) -> Sigma log-source keys the event then carries.
ECS_TO_LOGSOURCE: dict[tuple[str, str], dict[str, str]] = {
    # web servers and the portal front end
    ("event.dataset", "nginx.access"): {"product": "nginx", "category": "webserver", "service": "access"},
    ("event.dataset", "nginx.error"): {"product": "nginx", "service": "error"},
    ("event.dataset", "apache.access"): {"product": "apache", "category": "webserver", "service": "access"},
    ("event.dataset", "apache.error"): {"product": "apache", "service": "error"},
    ("event.dataset", "portal.access"): {"product": "portal", "category": "webserver", "service": "access"},
    ("event.dataset", "portal.app"): {"product": "portal", "service": "application"},
    ("event.dataset", "portal.audit"): {"product": "portal", "service": "audit"},
    ("event.module", "nginx"): {"product": "nginx"},
    ("event.module", "apache"): {"product": "apache"},
    ("event.category", "web"): {"category": "webserver"},
    # network devices
    ("observer.type", "firewall"): {"category": "firewall"},
    ("observer.type", "proxy"): {"category": "proxy"},
    ("event.dataset", "firewall.log"): {"category": "firewall"},
    ("event.dataset", "netflow.log"): {"category": "network_connection"},
    ("event.category", "network"): {"category": "network_connection"},
    ("event.category", "dns"): {"category": "dns"},
    ("event.dataset", "dns.log"): {"category": "dns"},
    # hosts
    ("event.dataset", "system.auth"): {"product": "linux", "service": "auth"},
    ("event.dataset", "system.syslog"): {"product": "linux", "service": "syslog"},
    ("event.dataset", "syslog"): {"product": "linux", "service": "syslog"},
    ("host.os.type", "linux"): {"product": "linux"},
    ("host.os.type", "windows"): {"product": "windows"},
    ("event.module", "windows"): {"product": "windows"},
    ("event.module", "sysmon"): {"product": "windows", "service": "sysmon"},
    ("event.category", "authentication"): {"category": "authentication"},
}

LOGSOURCE_FIELDS = tuple(sorted({field for field, _ in ECS_TO_LOGSOURCE}))
KEYS = ("category", "product", "service")

# An event's log sources: for each key, the values it carries.
EventLogsource = tuple[frozenset[str], frozenset[str], frozenset[str]]


_READER = FieldReader(LOGSOURCE_FIELDS)


def signature(view: EventView) -> tuple[Any, ...]:
    """The values of the log-source fields of an event (hashable, cheap, used as a cache key)."""
    return tuple([tuple(v) if type(v) is list else v for v in _READER.read(view)])


def _hashable(names: Sequence[str]) -> str:
    kept = (f"tuple({v}) if type({v}) is list else None if type({v}) is dict and {v} else {v}" for v in names)
    return "(" + ", ".join(kept) + ",)"


# :func:`signature` of a plain event (see EventView.plain), or None for the general path.
plain_signature = compile_reader(LOGSOURCE_FIELDS, _hashable)


def event_logsource(sig: tuple[Any, ...]) -> EventLogsource:
    """Translate a :func:`signature` into the Sigma log sources the event belongs to."""
    found: dict[str, set[str]] = {k: set() for k in KEYS}
    for field, value in zip(LOGSOURCE_FIELDS, sig, strict=True):
        values = value if isinstance(value, tuple) else (value,)
        for v in values:
            if not isinstance(v, str):
                continue
            for key, sigma_value in ECS_TO_LOGSOURCE.get((field, v.lower()), {}).items():
                found[key].add(sigma_value)
    return (frozenset(found["category"]), frozenset(found["product"]), frozenset(found["service"]))


def applies(rule_logsource: SigmaLogSource, event: EventLogsource) -> bool:
    """Whether a rule with ``rule_logsource`` applies to an event from ``event`` log sources."""
    for wanted, have in zip(
        (rule_logsource.category, rule_logsource.product, rule_logsource.service), event, strict=True
    ):
        if wanted is not None and wanted.lower() not in have:
            return False
    return True
