"""The composition root: everything a command or the server needs, built once from :class:`Settings`.

The CLI (``sentinel.cli.common.runtime_from``) and the API factory (``create_app``) build one
:class:`Runtime` and pass it, or the parts it holds, down. Nothing below them reads settings,
the environment or a default content folder on its own, so ``--config`` and
the ``content_dir`` setting decide the rules, recognizers, policy, keys and address plan of every
stage alike.
"""

from __future__ import annotations

import gc
from functools import cached_property
from typing import TYPE_CHECKING

from sentinel.config import Settings

if TYPE_CHECKING:
    from sentinel.collect import AddressPlan
    from sentinel.detect import Engine
    from sentinel.policy import LoadedPolicy, PolicyKeys
    from sentinel.store import Store

# Allocations between young-generation collections (CPython's default is 700).
YOUNG_THRESHOLD = 50_000


class Runtime:
    """Settings plus the content and secrets they point at, each loaded once on first use.

    Loading is lazy so a command pays only for what it uses (``sentinel search`` never loads
    the rule pack or the recognizers).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def policy(self) -> LoadedPolicy:
        """The data policy of the configured content folder, checked against its taxonomy."""
        from sentinel.policy import policy_for

        return policy_for(self.settings)

    @cached_property
    def keys(self) -> PolicyKeys:
        """The keys of pseudonyms and encryption (the ``policy_key`` setting, else ``<data_dir>/policy.key``)."""
        from sentinel.policy import load_keys

        secret = self.settings.policy_key
        return load_keys(self.settings.policy_key_path, secret.get_secret_value() if secret else None)

    @cached_property
    def address_plan(self) -> AddressPlan | None:
        """The configured address plan, else the content folder's, else none."""
        from sentinel.collect import AddressPlan

        path = self.settings.address_plan_path
        return AddressPlan.load(path) if path is not None else None

    def open_store(self) -> Store:
        """A new connection to the configured store (the caller closes it)."""
        from sentinel.store import open_store

        return open_store(self.settings)

    def engine(self) -> Engine:
        """A new detection engine over the configured rules (each pipeline keeps its own correlation state)."""
        from sentinel.detect import Engine

        return Engine.from_paths([self.settings.rules_dir])


def settle_heap() -> None:
    """Tell the garbage collector that what is loaded now (rules, policy, classifier, app) stays.

    Ingest allocates a few dozen containers per event. With CPython's default
    thresholds a young collection runs every 700 allocations and the older
    generations walk every object already loaded (the rule pack, the policy, the
    classifier's term lists) again and again. Freezing the loaded heap and
    collecting the young generation less often measured 23 % less CPU per line
    through the configured pipeline (bench/RESULTS.md, "Collectors"). Call once,
    after the pipeline is built; objects alive at that moment are never collected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 100)
