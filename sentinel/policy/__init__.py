"""Data policies: who sees which personal data, and how it is anonymised, enforced everywhere.

- ``model``: the policy YAML (``classifiers/policy.yaml``), validated, with consistency checks;
- ``keys``: the managed secret for keyed pseudonyms and reversible encryption;
- ``operators``: Presidio operators (pseudonym, mask, encrypt, generalise) and the lawful ``reveal``;
- ``candidates`` / ``detect``: a cheap prefilter, then the classifier's recognisers;
- ``protect``: one purpose applied to a document (event, record, CSV row);
- ``purposes``: protectors per purpose and the ingest transform;
- ``access`` / ``http``: role and scope decisions for the API, Elasticsearch field security;
- ``check`` / ``report``: ``sentinel policy check`` and its text, JSON, SARIF and JUnit output.
"""

from sentinel.lazy import lazy_exports

_EXPORTS = {
    "AccessDenied": "access",
    "ColumnPlan": "release",
    "FORMATS": "report",
    "LoadedPolicy": "model",
    "PolicyKeys": "keys",
    "Protector": "protect",
    "RoleView": "access",
    "Table": "open_data",
    "check_file": "open_data",
    "check_text": "open_data",
    "field_access": "access",
    "ingest_transform": "purposes",
    "load_generalizer": "hierarchies",
    "load_keys": "keys",
    "load_policy": "model",
    "plan_table": "open_data",
    "policy_findings": "check",
    "policy_for": "purposes",
    "policy_path": "purposes",
    "purpose_protector": "purposes",
    "release_file": "open_data",
    "render": "report",
    "reveal": "operators",
    "run_check": "check",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
