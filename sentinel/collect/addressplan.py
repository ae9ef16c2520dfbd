"""The address plan: which province, commune and unit owns each internal network.

An event only says ``source.ip: 10.20.4.17``; the SOC needs "Phường Ba Đình,
Hà Nội, one-stop centre". The plan file (``collectors/address-plan.yaml``)
lists CIDR blocks with the official province and commune codes (the 34
provinces and 3,321 communes of the 2025 reform, checked against the
``vietnam-provinces`` registry so a typo is an error, not a silent mislabel)
and the unit's name.

Enrichment sets ``labels.province``/``labels.commune`` (names and codes) from
the internal side of the traffic, ``labels.source_unit``/``labels.destination_unit``,
and ``network.direction`` (inbound, outbound, internal, external). Lookup is
longest-prefix match over one hash table per prefix length, cached per address.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sentinel import ecs
from sentinel.content import load_model

RFC1918 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
CACHE_LIMIT = 200_000


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a network in CIDR form such as 10.20.4.0/24 ({exc})") from None


@cache
def _registry() -> tuple[dict[int, str], dict[int, tuple[str, int]]]:
    """Province code -> name, commune code -> (name, province code), from vietnam-provinces."""
    import vietnam_provinces as vp

    provinces = {p.code.value: p.name for p in vp.Province.iter_all()}
    communes = {w.code.value: (w.name, w.province_code.value) for w in vp.Ward.iter_all()}
    return provinces, communes


class PlanEntry(BaseModel):
    """One network of the plan."""

    model_config = ConfigDict(extra="forbid")

    cidr: str
    unit: str = Field(min_length=1)
    province_code: int | None = None
    commune_code: int | None = None

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, v: str) -> str:
        return str(_network(v))

    @model_validator(mode="after")
    def _codes(self) -> PlanEntry:
        provinces, communes = _registry()
        if self.commune_code is not None:
            if self.commune_code not in communes:
                raise ValueError(f"commune_code {self.commune_code} is not one of the 3,321 commune codes")
            owner = communes[self.commune_code][1]
            if self.province_code is None:
                self.province_code = owner
            elif owner != self.province_code:
                raise ValueError(
                    f"commune {self.commune_code} ({communes[self.commune_code][0]}) belongs to province "
                    f"{owner:02d} ({provinces[owner]}), not {self.province_code:02d}"
                )
        if self.province_code is not None and self.province_code not in provinces:
            raise ValueError(f"province_code {self.province_code} is not one of the 34 province codes")
        return self


class AddressPlanFile(BaseModel):
    """``collectors/address-plan.yaml``."""

    model_config = ConfigDict(extra="forbid")

    internal: list[str] = Field(default_factory=lambda: list(RFC1918))
    networks: list[PlanEntry] = Field(default_factory=list)

    @field_validator("internal")
    @classmethod
    def _internal(cls, v: list[str]) -> list[str]:
        return [str(_network(n)) for n in v]

    @model_validator(mode="after")
    def _unique(self) -> AddressPlanFile:
        seen: set[str] = set()
        for entry in self.networks:
            if entry.cidr in seen:
                raise ValueError(f"network {entry.cidr} is listed twice")
            seen.add(entry.cidr)
        return self


@dataclass(frozen=True)
class Unit:
    """Who owns a network."""

    cidr: str
    unit: str
    province: str | None
    province_code: str | None
    commune: str | None
    commune_code: str | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class _Table:
    """Longest-prefix match: one dict per prefix length, longest first."""

    def __init__(self) -> None:
        self.by_len: dict[int, dict[int, Any]] = {}

    def add(self, net: ipaddress.IPv4Network | ipaddress.IPv6Network, value: Any) -> None:
        self.by_len.setdefault(net.prefixlen, {})[int(net.network_address)] = value
        self.by_len = dict(sorted(self.by_len.items(), reverse=True))

    def find(self, ip: int, bits: int) -> Any:
        for plen, table in self.by_len.items():
            hit = table.get(ip >> (bits - plen) << (bits - plen))
            if hit is not None:
                return hit
        return None


class AddressPlan:
    """Lookups and event enrichment from a validated plan."""

    def __init__(self, plan: AddressPlanFile) -> None:
        provinces, communes = _registry()
        self._units = {4: _Table(), 6: _Table()}
        self._internal = {4: _Table(), 6: _Table()}
        for entry in plan.networks:
            net = ipaddress.ip_network(entry.cidr)
            pc, cc = entry.province_code, entry.commune_code
            unit = Unit(
                cidr=entry.cidr,
                unit=entry.unit,
                province=provinces[pc] if pc is not None else None,
                province_code=f"{pc:02d}" if pc is not None else None,
                commune=communes[cc][0] if cc is not None else None,
                commune_code=f"{cc:05d}" if cc is not None else None,
            )
            self._units[net.version].add(net, unit)
            self._internal[net.version].add(net, True)
        for cidr in plan.internal:
            net = ipaddress.ip_network(cidr)
            self._internal[net.version].add(net, True)
        self._cache: dict[str, tuple[Unit | None, bool]] = {}
        self.size = len(plan.networks)

    @classmethod
    def load(cls, path: str | Path) -> AddressPlan:
        """Load and validate a plan file; errors are ``file:line: reason``."""
        return cls(load_model(path, AddressPlanFile))

    def resolve(self, ip: str) -> tuple[Unit | None, bool]:
        """The unit owning ``ip`` (if any) and whether the address is internal."""
        hit = self._cache.get(ip)
        if hit is not None:
            return hit
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None, False
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
            addr = addr.ipv4_mapped
        bits = 32 if addr.version == 4 else 128
        n = int(addr)
        unit = self._units[addr.version].find(n, bits)
        result = (unit, unit is not None or self._internal[addr.version].find(n, bits) is not None)
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        self._cache[ip] = result
        return result

    def lookup(self, ip: str) -> Unit | None:
        return self.resolve(ip)[0]

    def enrich_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """Add place labels, unit names and ``network.direction`` (existing values are kept)."""
        src = ecs.get_field(event, "source.ip")
        dst = ecs.get_field(event, "destination.ip")
        if not isinstance(src, str) and not isinstance(dst, str):
            return event
        s_unit, s_int = self.resolve(src) if isinstance(src, str) else (None, False)
        # A server log names only the client: the other end is this site, which is internal.
        d_unit, d_int = self.resolve(dst) if isinstance(dst, str) else (None, True)
        labels = event.get("labels")
        if not isinstance(labels, dict):
            labels = event["labels"] = {}
        place = s_unit if s_unit is not None and s_unit.province else d_unit
        if place is not None:
            for key in ("province", "province_code", "commune", "commune_code"):
                value = getattr(place, key)
                if value is not None:
                    labels.setdefault(key, value)
        if s_unit is not None:
            labels.setdefault("source_unit", s_unit.unit)
        if d_unit is not None:
            labels.setdefault("destination_unit", d_unit.unit)
        if isinstance(src, str):
            direction = ("internal" if d_int else "outbound") if s_int else ("inbound" if d_int else "external")
            network = event.get("network")
            if not isinstance(network, dict):
                network = event["network"] = {}
            network.setdefault("direction", direction)
        return event

    def enrich(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for event in events:
            if event.get("event", {}).get("kind") != "pipeline_error":
                self.enrich_event(event)
        return events
