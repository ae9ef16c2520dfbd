"""Portal profile: what kind of request an access-log line is (login, record, download, form, admin, static).

Behaviour rules (credential stuffing, id enumeration, scraping) must not be bound to one portal's
URLs. A profile names which paths are logins, record lookups, downloads, admin areas, static
assets and health probes; :meth:`PortalProfile.tag` writes the kind to ``labels.request_kind``
(one value, so Elasticsearch queries on it behave like the engine) and the record id a request
names to ``labels.record_id``; a login request that names its account in the query string
(``account_params``) gets it as ``user.name``, so login rules can count per account. The shipped
default (``portal_profile.yaml`` beside this module)
works on a portal nobody described; a portal's own file has the same shape and is validated
with ``file:line`` errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field, field_validator

from sentinel.collect.parsers.common import LONGEST_REMEMBERED, remembered
from sentinel.content import load_model

DEFAULT_PROFILE = Path(__file__).with_name("portal_profile.yaml")
Kind = Literal["static", "health", "login", "admin", "form", "download", "record"]
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_CODE = re.compile(r"^(?=[^/]*\d)[A-Za-z0-9]+(?:[.\-_][A-Za-z0-9]+){2,}$")


class KindRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Kind
    paths: list[str] = Field(default_factory=list, description="regular expressions searched in the path")
    extensions: list[str] = Field(default_factory=list)
    ids: bool = Field(False, description="the request names a record: an id in the path or the query")

    @field_validator("paths")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        for pattern in v:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"{pattern!r} is not a regular expression: {exc}") from None
        return v

    @cached_property
    def pattern(self) -> re.Pattern[str] | None:
        return re.compile("|".join(f"(?:{p})" for p in self.paths), re.IGNORECASE) if self.paths else None


class IdRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_digits: int = Field(3, ge=1, le=32)
    code_like: bool = True
    uuid: bool = True
    params: list[str] = Field(default_factory=list)

    @cached_property
    def param_names(self) -> frozenset[str]:
        return frozenset(p.lower() for p in self.params)

    def is_id(self, value: str) -> bool:
        if not value or len(value) > 64:
            return False
        if value.isdigit():
            return len(value) >= self.min_digits
        return bool((self.uuid and _UUID.match(value)) or (self.code_like and _CODE.match(value)))


class PortalProfile(BaseModel):
    """Which requests of a portal are logins, record lookups, downloads, admin pages, static files, probes."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kinds: list[KindRule] = Field(min_length=1)
    ids: IdRules = IdRules()
    account_params: list[str] = Field(
        default_factory=list,
        description="query parameters of a login request that name the account tried (its user.name)",
    )

    @cached_property
    def account_names(self) -> frozenset[str]:
        return frozenset(p.lower() for p in self.account_params)

    def tag(self, event: dict[str, Any]) -> None:
        """Set ``labels.request_kind`` (and ``labels.record_id``) of an access event from its URL."""
        url = event.get("url")
        if not url:
            return
        path, ext, query = url.get("path", ""), url.get("extension"), url.get("query")
        if (
            type(path) is str
            and (ext is None or type(ext) is str)
            and (query is None or (type(query) is str and len(query) <= LONGEST_REMEMBERED))
        ):
            found = self._remembered_kind(path, ext, query)
        else:  # an over-long query, or an ECS document's own url object with whatever it holds
            found = self._kind(path, ext, query)
        if found is None:
            return
        kind, record_id, account = found
        labels = event.setdefault("labels", {})
        labels["request_kind"] = kind
        if account is not None and "name" not in event.get("user", {}):
            event.setdefault("user", {})["name"] = account
        if record_id is not None:
            labels["record_id"] = record_id

    @property
    def _remembered_kind(self) -> Callable[[str, str | None, str | None], tuple[Kind, str | None, str | None] | None]:
        """:meth:`_kind` remembered for this profile: a portal's pages and searches come back line after line.

        Kept with the profile it was made for: a copy of the profile (``model_copy``, ``deepcopy``) makes its own."""
        found = self.__dict__.get("_kind_cache")
        if found is None or found.__wrapped__.__self__ is not self:
            found = self.__dict__["_kind_cache"] = remembered(4096)(self._kind)
        return found

    def __getstate__(self) -> dict[Any, Any]:
        """A pickled profile (sent to a worker process) leaves what it remembered here."""
        state = super().__getstate__()
        state["__dict__"] = {k: v for k, v in state["__dict__"].items() if k != "_kind_cache"}
        return state

    def _kind(self, path: Any, ext: Any, query: Any) -> tuple[Kind, str | None, str | None] | None:
        """The first kind whose rule matches: (kind, the record id named, the account a login names), or None."""
        for rule in self.kinds:
            record_id = self._record_id(path, query) if rule.ids else None
            if (
                (ext and ext in rule.extensions)
                or (rule.pattern is not None and rule.pattern.search(path))
                or record_id is not None
            ):
                account = self._account(query) if rule.kind == "login" and query else None
                if record_id is None and rule.kind in ("download", "record"):
                    record_id = self._record_id(path, query)
                return rule.kind, record_id, account
        return None

    def _account(self, query: str) -> str | None:
        """The account a login request names in its query string (a form logged with GET, ``?username=``)."""
        for pair in query.split("&"):
            name, _, value = pair.partition("=")
            if value and name.lower() in self.account_names:
                return unquote_plus(value).strip()[:256] or None
        return None

    def _record_id(self, path: str, query: str | None) -> str | None:
        if query:
            for pair in query.split("&"):
                name, _, value = pair.partition("=")
                if value and (name.lower() in self.ids.param_names or self.ids.is_id(value)):
                    return value[:64]
        for segment in reversed(path.split("/")):
            if self.ids.is_id(segment):
                return segment
        return None


def load_profile(path: str | Path | None = None) -> PortalProfile:
    """The profile in ``path`` (``file:line`` errors), or the shipped default."""
    return load_model(path or DEFAULT_PROFILE, PortalProfile)


_default: PortalProfile | None = None


def default_profile() -> PortalProfile:
    global _default
    if _default is None:
        _default = load_profile()
    return _default
