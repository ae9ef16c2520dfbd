"""Package public names, loaded on first use.

Each package of ``sentinel`` lists in its ``__init__`` the names other packages
may import, and the module each lives in; other packages import them through
the package (``from sentinel.store import Store``), never from its
modules, so a package can reorganise its modules without touching its callers.

The module behind a name is imported only when the name is first used
(PEP 562). Why: a package's public names include heavy ones (FastAPI, Presidio,
the Elasticsearch client, the name tagger); importing one light name must not
load them all, or ``sentinel --help`` and small commands would pay for every
stage, and packages that use each other's names would import in a cycle.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose names map to their module (relative to it)."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)  # later uses are plain attribute reads
        return value

    def __dir__() -> list[str]:
        return sorted(set(exports) | set(vars(sys.modules[package])))

    return __getattr__, __dir__
