"""Building protectors from the policy: one per purpose, and the ingest transform.

The ingest transform is what makes "the raw value is never stored" true: the
pipeline runs it on every event (after address-plan enrichment, before the
store and detection), so the store, the full-text index, Elasticsearch and the
Sigma engine only ever see pseudonyms. The consequence for detection: rules
must match on pseudonyms (``pz-vn_cccd-...``) or on field presence, never on a
citizen's raw identifier.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sentinel.config import Settings
from sentinel.policy.finder import Finder, classifier_finder
from sentinel.policy.keys import PolicyKeys
from sentinel.policy.model import INGEST, LoadedPolicy, load_policy
from sentinel.policy.operators import OperatorSet
from sentinel.policy.protect import Protector


def policy_path(settings: Settings) -> Path:
    return settings.classifiers_dir / "policy.yaml"


def policy_for(settings: Settings) -> LoadedPolicy:
    """The policy the configuration points at (``<content_dir>/classifiers/policy.yaml``)."""
    return load_policy(policy_path(settings), classifiers_dir=settings.classifiers_dir)


def purpose_protector(
    loaded: LoadedPolicy, purpose: str, keys: PolicyKeys | None, finder: Finder | None = None
) -> Protector:
    """A protector applying ``purpose``'s operator to every personal-data entity."""
    spec = loaded.policy.purposes.get(purpose)
    if spec is None:
        raise ValueError(f"no purpose {purpose!r} in {loaded.path}; defined: {', '.join(loaded.policy.purposes)}")
    actions = {e: s for e in loaded.categories if (s := spec.spec_for(e)) is not None}
    acting = [e for e, s in actions.items() if s.op != "keep"]
    return Protector(
        loaded,
        actions,
        OperatorSet(actions, keys, loaded.classifiers_dir),
        finder or classifier_finder(acting, spec.min_score, loaded.classifiers_dir),
    )


def ingest_transform(loaded: LoadedPolicy, keys: PolicyKeys) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The pipeline transform that pseudonymises personal data per the ``ingest`` purpose."""
    return purpose_protector(loaded, INGEST, keys).protect
