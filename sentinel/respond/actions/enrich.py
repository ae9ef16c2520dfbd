"""Read-only enrichment: where an address sits in the address plan, and what the store knows about an entity."""

from __future__ import annotations

import ipaddress
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sentinel import ecs
from sentinel.respond.actions import ActionContext, ActionFailed, ActionSpec
from sentinel.respond.settings import Duration, parse_duration
from sentinel.store import AlertQuery, EventQuery

HISTORY_FIELDS = ("source.ip", "user.name", "labels.commune", "destination.ip", "host.name")


# Internal networks of the government WAN and offices. Everything else, including the
# documentation ranges that stand in for Internet addresses in examples, counts as global.
PRIVATE_NETS = [
    ipaddress.ip_network(n)
    for n in (
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "100.64.0.0/10",
        "169.254.0.0/16",
        "fc00::/7",
        "fe80::/10",
    )
]


def scope_of(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    if addr.is_loopback:
        return "loopback"
    if any(addr in net for net in PRIVATE_NETS if net.version == addr.version):
        return "private"
    return "global"


class AddressArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ip: str


def enrich_address(args: AddressArgs, ctx: ActionContext) -> dict[str, Any]:
    try:
        addr = ipaddress.ip_address(args.ip.strip())
    except ValueError:
        raise ActionFailed(f"{args.ip!r} is not an IP address") from None
    out: dict[str, Any] = {"ip": str(addr), "version": addr.version, "scope": scope_of(addr)}
    unit = ctx.address_plan.lookup(str(addr)) if ctx.address_plan is not None else None
    plan = unit.as_dict() if unit is not None else None
    if plan:
        out.update(
            {
                "address_plan": plan,
                "province": plan.get("province"),
                "commune": plan.get("commune"),
                "unit": plan.get("unit"),
                "scope": "private",
            }
        )
        return out
    for event in ctx.alert.events:
        if str(ecs.get_field(event, "source.ip")) == str(addr):
            out["province"] = ecs.get_field(event, "labels.province")
            out["commune"] = ecs.get_field(event, "labels.commune")
            out["address_plan"] = "labels on the evidence events"
            break
    else:
        out["address_plan"] = "not found"
    return out


class HistoryArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: str = Field(description="one of " + ", ".join(HISTORY_FIELDS))
    value: str
    window: Duration = parse_duration("7d")


def entity_history(args: HistoryArgs, ctx: ActionContext) -> dict[str, Any]:
    if args.field not in HISTORY_FIELDS:
        raise ActionFailed(f"history of {args.field!r} is not supported; use one of {', '.join(HISTORY_FIELDS)}")
    if not args.value:
        raise ActionFailed(f"no value for {args.field} on this alert")
    now = datetime.now(UTC)
    base = {args.field: [args.value]}
    q_day = EventQuery(filters=base, since=now - parse_duration("24h"))
    q_win = EventQuery(filters=base, since=now - args.window, limit=500)
    page = ctx.store.search_events(q_win)
    datasets = Counter(str(ecs.get_field(e, "event.dataset")) for e in page.events)
    outcomes = Counter(str(ecs.get_field(e, "event.outcome")) for e in page.events if ecs.get_field(e, "event.outcome"))
    timestamps = sorted(str(e.get("@timestamp")) for e in page.events if e.get("@timestamp"))
    related = [
        a
        for a in ctx.store.list_alerts(AlertQuery(since=now - args.window, limit=1000))
        if a.id != ctx.alert.id and _mentions(a, args.field, args.value)
    ]
    return {
        "field": args.field,
        "value": args.value,
        "events_24h": ctx.store.count_events(q_day),
        "events_window": ctx.store.count_events(q_win),
        "window": f"{int(args.window.total_seconds() // 3600)}h",
        "first_seen_sampled": timestamps[0] if timestamps else None,
        "last_seen": timestamps[-1] if timestamps else None,
        "top_datasets": dict(datasets.most_common(5)),
        "outcomes": dict(outcomes.most_common(5)),
        "other_alerts": len(related),
        "other_alert_rules": sorted({a.rule.title for a in related})[:10],
    }


def _mentions(alert: Any, field: str, value: str) -> bool:
    if str(ecs.get_field(alert.entity, field)) == value:
        return True
    return any(str(ecs.get_field(e, field)) == value for e in alert.events[:5])


SPECS = [
    ActionSpec(
        "enrich_address",
        AddressArgs,
        enrich_address,
        side_effect=False,
        needs_approval=False,
        summary="address plan lookup: province, commune, scope of an IP address",
    ),
    ActionSpec(
        "entity_history",
        HistoryArgs,
        entity_history,
        side_effect=False,
        needs_approval=False,
        summary="events and alerts of an address, user or commune in the store",
    ),
]
