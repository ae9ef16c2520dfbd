"""Process-wide tuning for Sentinel's long-running ingest processes."""

from __future__ import annotations

import gc

# Allocations between young-generation collections (CPython's default is 700).
YOUNG_THRESHOLD = 50_000


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
