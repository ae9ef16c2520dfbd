"""The data-protection policy: who sees which personal data, and how it is anonymised for each purpose.

A DPO edits the policy as YAML (``classifiers/policy.yaml`` by default). It is
validated in two steps: the shape, by the pydantic models here (a bad key or
value is a ``file:line: reason`` :class:`~sentinel.content.ContentError`), and
the meaning, by :func:`consistency_problems` (every role and entity covered,
sensitive data never treated more loosely than basic data, open data never
reversible...), which lists every problem with its line so ``sentinel policy
validate`` and the CI check can show them all at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sentinel.content import ContentError, YamlDocument, load_yaml

Decision = Literal["allow", "masked", "deny"]
Sensitivity = Literal["public", "basic", "sensitive"]
Scope = Literal["national", "province", "commune"]
OperatorName = Literal["keep", "redact", "mask", "pseudonym", "encrypt", "generalize"]

# Strictness order of access decisions: a role never sees sensitive data more
# openly than basic data.
STRICTNESS = {"allow": 0, "masked": 1, "deny": 2}
# Operators that keep a way back to the person (a key, or the value itself).
LINKABLE = {"keep", "pseudonym", "encrypt"}
# Entities with a generaliser (see sentinel.policy.operators).
GENERALIZABLE = {"DATE_OF_BIRTH", "LOCATION"}
INGEST = "ingest"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldRule(_Strict):
    """Field names that hold one kind of personal data (ECS paths, CSV columns, form keys)."""

    entity: str
    names: list[str] = Field(min_length=1)


class OperatorSpec(_Strict):
    """How one entity is anonymised for a purpose."""

    op: OperatorName
    keep_last: int = Field(0, ge=0, le=8, description="mask: how many trailing characters stay visible")

    @model_validator(mode="after")
    def _keep_last_only_for_mask(self) -> OperatorSpec:
        if self.keep_last and self.op != "mask":
            raise ValueError(f"keep_last applies to op: mask only (this is op: {self.op})")
        return self


class Release(_Strict):
    """Release by risk (open data): identifying columns and free text removed, quasi-identifiers generalised."""

    k: int = Field(5, ge=2, description="every combination of quasi-identifiers is shared by at least k records")
    l: int = Field(2, ge=1, description="distinct values of each kept sensitive attribute within every such group")  # noqa: E741
    max_suppression: float = Field(
        0.05, ge=0, le=1, description="share of records that may be left out rather than generalise further"
    )


class Purpose(_Strict):
    """An anonymisation purpose: ingest (before storage), triage, analytics export, open data..."""

    description: str = ""
    release: Release | None = Field(
        None, description="publish a table by measured re-identification risk (k-anonymity, l-diversity)"
    )
    irreversible: bool = Field(False, description="no operator may keep a way back to the person")
    default: OperatorSpec | None = None
    min_score: float = Field(0.5, gt=0, le=1, description="recogniser hits below this score are left alone")
    operators: dict[str, OperatorSpec] = Field(default_factory=dict)

    def spec_for(self, entity: str) -> OperatorSpec | None:
        return self.operators.get(entity, self.default)


class RoleAccess(_Strict):
    """What one role may see, by sensitivity, with per-entity exceptions, and how far its scope reaches."""

    scope: Scope = "national"
    public: Decision = "allow"
    basic: Decision
    sensitive: Decision
    entities: dict[str, Decision] = Field(default_factory=dict)


class Access(_Strict):
    masked_view: str = Field(description="the purpose whose operators produce a 'masked' value")
    roles: dict[str, RoleAccess]


class AllowRule(_Strict):
    """Paths where raw personal data is expected (synthetic fixtures, generated samples): no PD001/PD002 there."""

    paths: list[str] = Field(min_length=1)
    entities: list[str] = Field(default_factory=list, description="empty: every entity")
    reason: str = Field(min_length=3)


class Repository(_Strict):
    """What ``sentinel policy check`` scans in a repository and what it forbids there."""

    include: list[str] = Field(min_length=1)
    exclude: list[str] = Field(default_factory=list)
    forbid: list[str] = Field(min_length=1, description="entities that must not appear unmasked in files")
    allow: list[AllowRule] = Field(default_factory=list)
    min_score: float = Field(0.6, gt=0, le=1)
    sample_bytes: int = Field(256 * 1024, ge=4096, description="bytes read from a large file (head, middle, tail)")


class Policy(_Strict):
    version: Literal[1]
    skip_fields: list[str] = Field(
        default_factory=list, description="fields never scanned or changed: ids, timestamps, place labels"
    )
    structured_fields: list[str] = Field(
        default_factory=list,
        description="fields whose text is structure, not prose about people (user agents, URLs, the raw line of a "
        "parsed event): identifiers are looked for there, the name tagger reads only their query values that are words",
    )
    fields: list[FieldRule]
    purposes: dict[str, Purpose]
    access: Access
    repository: Repository

    @field_validator("purposes")
    @classmethod
    def _has_ingest(cls, v: dict[str, Purpose]) -> dict[str, Purpose]:
        if INGEST not in v:
            raise ValueError(f"define the '{INGEST}' purpose: it says what is pseudonymised before storage")
        return v


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated policy with what it was checked against."""

    policy: Policy
    path: Path
    categories: dict[str, str]  # entity -> "basic" | "sensitive" (from the classifier taxonomy)
    document: YamlDocument
    classifiers_dir: Path  # the recognizers and taxonomy this policy was loaded with

    def sensitivity(self, entity: str) -> Sensitivity:
        return "sensitive" if self.categories.get(entity) == "sensitive" else "basic"

    def field_entities(self) -> dict[str, str]:
        """Normalised field name -> entity, for every name the policy covers."""
        return {normalize_name(n): rule.entity for rule in self.policy.fields for n in rule.names}

    def entity_of(self, path: str, names: dict[str, str] | None = None) -> str | None:
        """The entity the policy assigns to a field path (the full path, or its last key); ``names`` caches
        :meth:`field_entities`."""
        names = self.field_entities() if names is None else names
        entity = names.get(normalize_name(path))
        if entity is None and "." in path:
            entity = names.get(normalize_name(path.rsplit(".", 1)[1]))
        return entity


def normalize_name(name: str) -> str:
    """Field names compare without case, separators or diacritics: ``soDienThoai`` == ``so_dien_thoai``."""
    from sentinel.classify import name_tokens

    return "".join(name_tokens(name))


@dataclass(frozen=True)
class Problem:
    line: int | None
    message: str


def consistency_problems(loaded: LoadedPolicy, known_roles: tuple[str, ...]) -> list[Problem]:
    """Everything that makes a well-formed policy contradictory or incomplete, with YAML lines."""
    p, doc, entities = loaded.policy, loaded.document, set(loaded.categories)
    out: list[Problem] = []

    def add(loc: tuple[str | int, ...], message: str) -> None:
        out.append(Problem(doc.line_of(loc), message))

    def check_entity(loc: tuple[str | int, ...], entity: str) -> None:
        if entity not in entities:
            add(loc, f"unknown entity {entity!r}; the taxonomy knows: {', '.join(sorted(entities))}")

    seen: dict[str, str] = {}
    for i, rule in enumerate(p.fields):
        check_entity(("fields", i, "entity"), rule.entity)
        for j, name in enumerate(rule.names):
            key = normalize_name(name)
            if key in seen and seen[key] != rule.entity:
                add(("fields", i, "names", j), f"field {name!r} is mapped to both {seen[key]} and {rule.entity}")
            seen[key] = rule.entity
    for pname, purpose in p.purposes.items():
        for entity in purpose.operators:
            check_entity(("purposes", pname, "operators", entity), entity)
        for entity in sorted(entities):
            spec = purpose.spec_for(entity)
            if spec is None:
                add(("purposes", pname), f"purpose {pname!r} has no operator for {entity}: add it or a default")
                continue
            where = ("purposes", pname, "operators", entity) if entity in purpose.operators else ("purposes", pname)
            if purpose.irreversible and spec.op in LINKABLE:
                add(where, f"purpose {pname!r} is irreversible but {entity} uses {spec.op}, which can be linked back")
            if spec.op == "generalize" and entity not in GENERALIZABLE:
                add(where, f"{entity} cannot be generalised (only {', '.join(sorted(GENERALIZABLE))}); pick another op")
            if pname == INGEST and spec.op == "keep" and loaded.sensitivity(entity) == "sensitive":
                add(where, f"sensitive {entity} would be stored raw at ingest; use pseudonym, encrypt or redact")
    if p.access.masked_view not in p.purposes:
        add(("access", "masked_view"), f"masked_view names no purpose; defined: {', '.join(p.purposes)}")
    elif not p.purposes[p.access.masked_view].irreversible:
        add(("access", "masked_view"), "the masked_view purpose must be irreversible (what a masked role sees)")
    for role in known_roles:
        if role not in p.access.roles:
            add(("access", "roles"), f"role {role!r} has no access entry; every role must be decided")
    for role, ra in p.access.roles.items():
        loc = ("access", "roles", role)
        if role not in known_roles:
            add(loc, f"unknown role {role!r}; roles are: {', '.join(known_roles)}")
        if ra.public == "masked":
            add((*loc, "public"), "public (non-personal) fields are either allowed or denied, not masked")
        if STRICTNESS[ra.sensitive] < STRICTNESS[ra.basic]:
            add(loc, f"role {role!r} sees sensitive data ({ra.sensitive}) more openly than basic data ({ra.basic})")
        for entity, decision in ra.entities.items():
            check_entity((*loc, "entities", entity), entity)
            if loaded.sensitivity(entity) == "sensitive" and STRICTNESS[decision] < STRICTNESS[ra.basic]:
                add((*loc, "entities", entity), f"sensitive {entity} is opened beyond the role's basic level")
    for i, entity in enumerate(p.repository.forbid):
        check_entity(("repository", "forbid", i), entity)
    for entity in sorted(e for e in entities if loaded.sensitivity(e) == "sensitive"):
        if entity not in p.repository.forbid:
            add(
                ("repository", "forbid"),
                f"sensitive {entity} is not forbidden in the repository; forbid it and allow the paths that need it",
            )
    for i, rule in enumerate(p.repository.allow):
        for j, entity in enumerate(rule.entities):
            check_entity(("repository", "allow", i, "entities", j), entity)
    return out


def load_policy(path: str | Path, *, classifiers_dir: Path, strict: bool = True) -> LoadedPolicy:
    """Load and validate the policy at ``path`` against the taxonomy in ``classifiers_dir``.

    With ``strict`` the first consistency problem raises :class:`ContentError`;
    the CI check passes ``strict=False`` and reports them all itself.
    """
    from sentinel.classify import load_taxonomy
    from sentinel.identity import ROLES

    file = Path(path)
    doc = load_yaml(file)
    policy = doc.validate(Policy)
    taxonomy = load_taxonomy(classifiers_dir)
    categories = {e: taxonomy.category(e) for e in taxonomy.personal_entities()}
    loaded = LoadedPolicy(policy, file, categories, doc, Path(classifiers_dir))
    if strict:
        problems = consistency_problems(loaded, ROLES)
        if problems:
            first, *rest = problems
            raise ContentError(file, first.line, first.message, [(p.line, p.message) for p in rest])
    return loaded
