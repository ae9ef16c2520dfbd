"""Generalisation hierarchies for open-data releases: each quasi-identifier's values, coarser level by level.

A release generalises a quasi-identifier along its hierarchy until every
combination of quasi-identifiers is shared by enough records:

- dates (``DATE_OF_BIRTH``): day -> month -> year -> 5-year band -> ``*``;
- places (``PLACE``, ``LOCATION``): commune -> province -> region -> ``*``, with
  the province read from the value, from the row's province column, or from the
  gazetteer when the commune's name is unique; a column of provinces: province
  -> region -> ``*``;
- ethnic groups: group -> majority / minority -> ``*``;
- anything else (gender, procedure, occupation): value -> ``*``.

Regions and the ethnic grouping are content (``classifiers/hierarchies.yaml``),
checked against the gazetteer when loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from sentinel.classify import birth_date, fold, load_catalog
from sentinel.content import ContentError, load_model

TOP = "*"
_PROVINCE_PREFIX = re.compile(r"^(?:thanh pho|tinh)\s+")
_COMMUNE_PREFIX = re.compile(r"^(?:phuong|xa|dac khu|thi tran)\s+")
_MONTH = re.compile(r"(\d{4})-(\d{1,2})|(\d{1,2})/(\d{4})")
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EthnicGrouping(_Strict):
    majority: list[str] = Field(min_length=1)
    majority_label: str
    minority_label: str


class HierarchiesFile(_Strict):
    regions: dict[str, list[str]] = Field(min_length=1, description="region -> its provinces (short names)")
    ethnicity: EthnicGrouping


@dataclass(frozen=True)
class Hierarchy:
    """The level names of one kind of quasi-identifier and how a value climbs them."""

    kind: str  # "date", "place", "ethnicity", "value"
    levels: tuple[str, ...]


DATE = Hierarchy("date", ("date", "month", "year", "5-year band", TOP))
PLACE = Hierarchy("place", ("commune", "province", "region", TOP))
PROVINCE = Hierarchy("province", ("province", "region", TOP))
ETHNICITY = Hierarchy("ethnicity", ("ethnic group", "majority/minority", TOP))
VALUE = Hierarchy("value", ("value", TOP))
_BY_ENTITY = {"DATE_OF_BIRTH": DATE, "PLACE": PLACE, "LOCATION": PLACE, "ETHNICITY": ETHNICITY}


def hierarchy_for(entity: str | None) -> Hierarchy:
    """The hierarchy a quasi-identifier column of ``entity`` is generalised along."""
    return _BY_ENTITY.get(entity or "", VALUE)


class Generalizer:
    """Climbs hierarchies: the values of one cell at every level of its column's hierarchy."""

    def __init__(self, spec: HierarchiesFile, provinces: dict[str, str], communes: dict[str, set[str]]) -> None:
        self.provinces = provinces  # folded short name -> short name
        self.communes = communes  # folded commune name without its prefix -> provinces it exists in
        self.region = {fold(p): region for region, members in spec.regions.items() for p in members}
        self.majority = {fold(m) for m in spec.ethnicity.majority}
        self.ethnic = spec.ethnicity

    def chain(self, hierarchy: Hierarchy, value: str, province_hint: str | None = None) -> list[str]:
        """``value`` at each level of ``hierarchy`` (the last is always ``*``)."""
        value = " ".join(value.split())
        if not value:
            return [""] * len(hierarchy.levels)
        if hierarchy is DATE:
            return self._date(value)
        if hierarchy is PLACE or hierarchy is PROVINCE:
            province = self.province_of(value, province_hint)
            region = self.region.get(fold(province), TOP) if province else TOP
            return [value, region, TOP] if hierarchy is PROVINCE else [value, province or TOP, region, TOP]
        if hierarchy is ETHNICITY:
            group = self.ethnic.majority_label if fold(value) in self.majority else self.ethnic.minority_label
            return [value, group, TOP]
        return [value, TOP]

    @staticmethod
    def _date(value: str) -> list[str]:
        day = birth_date(value)
        if day is not None:
            year = day.year
            return [day.isoformat(), f"{year:04d}-{day.month:02d}", str(year), _band(year), TOP]
        month = _MONTH.fullmatch(value)
        if month:
            year = int(month.group(1) or month.group(4))
            mon = int(month.group(2) or month.group(3))
            return [value, f"{year:04d}-{mon:02d}", str(year), _band(year), TOP]
        year_match = _YEAR.fullmatch(value)
        if year_match:
            year = int(year_match.group(1))
            return [value, str(year), str(year), _band(year), TOP]
        return [value, TOP, TOP, TOP, TOP]

    def province_of(self, value: str, hint: str | None = None) -> str | None:
        """The province (short name) a place value lies in, or None when it cannot be told."""
        folded = " " + " ".join(re.sub(r"[^\w]+", " ", fold(value)).split()) + " "
        for key in sorted(self.provinces, key=len, reverse=True):
            if f" {key} " in folded:
                return self.provinces[key]
        if hint:
            province = self.province_of(hint)
            if province:
                return province
        name = _COMMUNE_PREFIX.sub("", folded.strip())
        found = self.communes.get(name, set())
        return next(iter(found)) if len(found) == 1 else None

    def is_province(self, value: str) -> bool:
        key = _PROVINCE_PREFIX.sub("", " ".join(fold(value).split()))
        return key in self.provinces


def _band(year: int) -> str:
    start = year - year % 5
    return f"{start}-{start + 4}"


def load_generalizer(classifiers_dir: Path) -> Generalizer:
    """The hierarchies of ``classifiers_dir`` bound to its gazetteer (cached per folder)."""
    return _load(Path(classifiers_dir).resolve())


@lru_cache(maxsize=4)
def _load(folder: Path) -> Generalizer:
    path = folder / "hierarchies.yaml"
    spec = load_model(path, HierarchiesFile)
    catalog = load_catalog(folder)
    provinces: dict[str, str] = {}
    communes: dict[str, set[str]] = {}
    for p in catalog.gazetteer.provinces:
        short = re.sub(r"^(?:Thành phố|Tỉnh)\s+", "", p.name)
        provinces[fold(short)] = short
        for c in p.communes:
            communes.setdefault(_COMMUNE_PREFIX.sub("", " ".join(fold(c).split())), set()).add(short)
    listed = {fold(m) for members in spec.regions.values() for m in members}
    unknown = sorted(m for members in spec.regions.values() for m in members if fold(m) not in provinces)
    if unknown:
        raise ContentError(path, None, f"regions name provinces the gazetteer does not know: {', '.join(unknown)}")
    missing = sorted(short for key, short in provinces.items() if key not in listed)
    if missing:
        raise ContentError(path, None, f"provinces without a region: {', '.join(missing)}")
    return Generalizer(spec, provinces, communes)
