"""Console languages: the message catalogue and the caller's language.

Language: ``?lang=vi|en`` (remembered in a cookie), else the cookie, else
``Accept-Language``; Vietnamese by default. The languages are
:data:`sentinel.translations.LANGUAGES`, the same the rule and playbook files translate into.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from pydantic import BaseModel, ConfigDict, model_validator

from sentinel.content import load_model
from sentinel.translations import LANGUAGES as LANGS

CATALOGUE = Path(__file__).resolve().parent.parent / "templates" / "i18n.yml"


class Catalogue(BaseModel):
    """The message catalogue: each key in every console language."""

    model_config = ConfigDict(extra="forbid")

    messages: dict[str, dict[str, str]]

    @model_validator(mode="after")
    def _complete(self) -> Catalogue:
        for key, texts in self.messages.items():
            missing = [lang for lang in LANGS if not texts.get(lang)]
            if missing:
                raise ValueError(f"message {key} has no {', '.join(missing)} text")
        return self


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, str]]:
    return load_model(CATALOGUE, Catalogue).messages


def language(request: Request) -> str:
    asked = request.query_params.get("lang")
    if asked in LANGS:
        return asked
    cookie = request.cookies.get("sentinel_lang")
    if cookie in LANGS:
        return cookie
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGS:
            return code
    return "vi"


def remember_language(request: Request, response: Response) -> None:
    """Keep a language picked with ``?lang=`` in a cookie, so the next pages speak it too."""
    lang = request.query_params.get("lang")
    if lang in LANGS:
        response.set_cookie("sentinel_lang", lang, max_age=365 * 86400, samesite="strict", httponly=True)


def translator(lang: str) -> Callable[..., str]:
    """``t(key, **values)``: a catalogue message in ``lang``. An unknown key is a bug (KeyError), never English."""
    messages = catalogue()

    def t(key: str, **values: Any) -> str:
        text = messages[key][lang]
        return text.format(**values) if values else text

    return t


def value_translator(lang: str) -> Callable[[str, Any], str]:
    """``tr(prefix, value)``: the message ``prefix + value`` for a value from data (a status, an action name,
    an HTTP status), or the value itself when the catalogue has no message for it (a name a later version
    added); ``tests/console/test_language.py`` checks every value the code can produce has its message."""
    messages = catalogue()

    def tr(prefix: str, value: Any) -> str:
        texts = messages.get(f"{prefix}{value}")
        return texts[lang] if texts else str(value)

    return tr
