"""Access decisions: what one caller may see, filter on and search, given their role and scope.

A :class:`RoleView` is the policy as one principal sees it. The API asks it to
(1) narrow every store query to the caller's province/commune *inside* the
query, so pagination, counts and text search never touch other scopes;
(2) refuse filters and text search that could probe a value the caller sees
masked (``user.email:a*``, then ``ab*``...); (3) mask or drop fields in every
event and alert it returns. :func:`field_access` turns the same decisions into
Elasticsearch field-level security for the clusters' own roles.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sentinel import ecs
from sentinel.errors import Denied
from sentinel.identity import Principal
from sentinel.models import Alert
from sentinel.policy.finder import classifier_finder
from sentinel.policy.model import INGEST, Decision, LoadedPolicy, RoleAccess
from sentinel.policy.operators import OperatorSet
from sentinel.policy.protect import DROP, Action, Protector
from sentinel.store import AlertQuery, EventQuery, Store

SCOPE_FIELDS = {"province": "labels.province", "commune": "labels.commune"}
# Alert fields that are the alert's own bookkeeping, never a citizen's data: masking leaves them alone.
_ALERT_BOOKKEEPING = frozenset(
    {
        "id",
        "@timestamp",
        "rule",
        "group_key",
        "entity",
        "count",
        "first_seen",
        "last_seen",
        "event_ids",
        "events",
        "status",
        "disposition",
        "severity",
        "risk_score",
        "assignee",
        "tags",
        "labels",
        "updated_by",
        "updated_at",
        "status_by",
        "status_at",
        "acknowledged_at",
        "closed_at",
        "version",
    }
)


class AccessDenied(Denied):
    """The caller may not do this; the message says why (and never contains a stored value)."""


def _clear_entities(loaded: LoadedPolicy) -> set[str]:
    """Entities stored readable after ingest (kept or generalised): these can sit in any text field."""
    ingest = loaded.policy.purposes[INGEST]
    return {e for e in loaded.categories if (s := ingest.spec_for(e)) is not None and s.op in ("keep", "generalize")}


def decision(loaded: LoadedPolicy, role: RoleAccess, entity: str) -> Decision:
    return role.entities.get(entity) or (role.sensitive if loaded.sensitivity(entity) == "sensitive" else role.basic)


@dataclass
class RoleView:
    loaded: LoadedPolicy
    principal: Principal

    @cached_property
    def role(self) -> RoleAccess:
        role = self.loaded.policy.access.roles.get(self.principal.role)
        if role is None:
            raise AccessDenied(f"role {self.principal.role!r} has no access in the data policy")
        return role

    def decision(self, entity: str) -> Decision:
        return decision(self.loaded, self.role, entity)

    @cached_property
    def hidden(self) -> dict[str, Decision]:
        """Entities this role does not see in clear: entity -> masked | deny."""
        return {e: d for e in self.loaded.categories if (d := self.decision(e)) != "allow"}

    @cached_property
    def free_text_hidden(self) -> bool:
        """Whether free text (original line, message, URL) may hold a value this role must not see."""
        return bool(_clear_entities(self.loaded) & set(self.hidden))

    # -- what may be read ------------------------------------------------------------
    def require_read(self) -> None:
        if self.role.public == "deny":
            raise AccessDenied(f"role {self.principal.role} may not read events or alerts")
        self.scope  # noqa: B018 - raises when the principal lacks the scope its role requires

    @cached_property
    def scope(self) -> dict[str, str]:
        """Label field -> the one value the caller is limited to (empty: everywhere)."""
        p, role = self.principal, self.role
        if role.scope == "commune" and not (p.commune and p.province):
            raise AccessDenied(f"role {p.role} is limited to one commune, but {p.name} has no commune assigned")
        if role.scope == "province" and not p.province:
            raise AccessDenied(f"role {p.role} is limited to one province, but {p.name} has no province assigned")
        out = {}
        if p.province:
            out[SCOPE_FIELDS["province"]] = p.province
        if p.commune:
            out[SCOPE_FIELDS["commune"]] = p.commune
        return out

    @property
    def scope_labels(self) -> dict[str, str]:
        """The caller's scope as alert labels (``{"province": ...}``; empty: everywhere)."""
        return {field.split(".", 1)[1]: value for field, value in self.scope.items()}

    def in_scope(self, labels: Mapping[str, Any] | None) -> bool:
        """Whether a record with these ``labels`` (``province``, ``commune``) is within the caller's scope."""
        labels = labels or {}
        return all(labels.get(f.split(".", 1)[1]) == v for f, v in self.scope.items())

    def event_in_scope(self, event: Mapping[str, Any]) -> bool:
        return all(ecs.get_field(event, f) == v for f, v in self.scope.items())

    # -- what may be asked -------------------------------------------------------------
    def field_hidden(self, field: str) -> bool:
        """Whether filtering on ``field`` could reveal a value this role sees masked or not at all."""
        if field in self.loaded.policy.skip_fields:
            return False
        entity = self.protector.entity_of(field)
        if entity is not None:
            return entity in self.hidden
        return self.free_text_hidden

    def restrict(self, query: EventQuery) -> EventQuery:
        """Narrow ``query`` to the caller's scope and refuse conditions on values it may not see."""
        self.require_read()
        named, free_text = query.asked()
        for field, values in named.items():
            if field in self.scope:
                if any(v != self.scope[field] for v in values):
                    raise AccessDenied(f"{field} is outside your scope: you see {field}:{self.scope[field]} only")
            elif self.field_hidden(field):
                raise AccessDenied(f"you cannot filter on {field}: your role sees it masked")
        if free_text and self.free_text_hidden:
            raise AccessDenied(
                "free-text search is not available to your role: it would search personal data you see masked; "
                "filter on fields instead"
            )
        for field, value in self.scope.items():
            query.filters[field] = [value]
        return query

    def list_alerts(self, store: Store, query: AlertQuery) -> tuple[list[Alert], int]:
        """One page of the alerts in the caller's scope, and how many there are in all.

        The scope becomes label conditions of the store query, so offsets and
        totals count in-scope alerts only and the store does the selecting; asking
        for another province or commune than one's own is refused.
        """
        self.require_read()
        labels = dict(query.labels)
        for field, value in self.scope.items():
            name = field.split(".", 1)[1]
            if labels.get(name, value) != value:
                raise AccessDenied(f"{field} is outside your scope: you see {field}:{value} only")
            labels[name] = value
        scoped = dataclasses.replace(query, labels=labels)
        return store.list_alerts(scoped), store.count_alerts(scoped)

    # -- what is returned ----------------------------------------------------------------
    @cached_property
    def protector(self) -> Protector:
        view = self.loaded.policy.purposes[self.loaded.policy.access.masked_view]
        actions: dict[str, Action] = {}
        specs = {}
        for entity, d in self.hidden.items():
            if d == "deny":
                actions[entity] = DROP
            elif (spec := view.spec_for(entity)) is not None:
                actions[entity] = specs[entity] = spec
        # Every entity the role may not see is looked for again in the whole document, not only those
        # ingest keeps readable: a value that slipped through ingest must not reach this screen in clear.
        finder = classifier_finder(list(actions), view.min_score, self.loaded.classifiers_dir)
        return Protector(self.loaded, actions, OperatorSet(specs, None, self.loaded.classifiers_dir), finder)

    def mask_event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        if not self.hidden:
            return dict(event)
        return self.protector.protect(event)

    def mask_alert(self, doc: Mapping[str, Any]) -> dict[str, Any]:
        """An alert document as this role may see it: every text field, entity values, group key and evidence masked.

        Only the alert's own bookkeeping (ids, rule, scope labels, times, status) is left as it is.
        """
        if not self.hidden:
            return dict(doc)
        out = dict(doc)
        text = {k: v for k, v in doc.items() if k not in _ALERT_BOOKKEEPING}
        keyed = self.protector.protect({**ecs.unflatten(doc.get("entity") or {}), "\0group_key": doc["group_key"]})
        out["group_key"] = keyed.pop("\0group_key")
        out["entity"] = {k: v for k, v in ecs.flatten(keyed).items() if k in (doc.get("entity") or {})}
        out["events"] = [self.protector.protect(e) for e in doc.get("events") or []]
        out.update(self.protector.protect(text))
        return out


def field_access(loaded: LoadedPolicy) -> dict[str, dict[str, list[str]]]:
    """Elasticsearch field-level security per role: ``{role: {"grant": [...], "except": [...]}}``.

    A cluster cannot mask, so fields a role sees masked are withheld. Roles
    whose free text could hold such values get only the fields known to be
    safe; roles that may read nothing get no fields.
    """
    out: dict[str, dict[str, list[str]]] = {}
    ecs_fields: dict[str, list[str]] = {}
    for rule in loaded.policy.fields:
        ecs_fields.setdefault(rule.entity, []).extend(n for n in rule.names if "." in n)
    for name, role in loaded.policy.access.roles.items():
        view = RoleView(loaded, Principal(name=name, role=name))
        if role.public == "deny":
            out[name] = {"grant": [], "except": []}
            continue
        hidden = sorted(f for e in view.hidden for f in ecs_fields.get(e, []))
        if view.free_text_hidden:
            visible = [f for e, fs in ecs_fields.items() if e not in view.hidden for f in fs]
            out[name] = {"grant": sorted({*loaded.policy.skip_fields, *visible}), "except": []}
        else:
            out[name] = {"grant": ["*"], "except": hidden}
    return out
