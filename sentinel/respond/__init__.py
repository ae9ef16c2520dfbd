"""Response: alert lifecycle helpers, suppressions, playbooks, notifications and escalation.

Alerts themselves live in the configured :class:`~sentinel.store.base.Store`
(SQLite or Elasticsearch); what response adds (suppressions, playbook runs,
notification log, audit of response records) lives in its own small SQLite
database in ``data_dir`` (:mod:`sentinel.respond.db`), so it works the same
whatever store holds the alerts.
"""

from sentinel.lazy import lazy_exports

_EXPORTS = {
    "AlertAction": "lifecycle",
    "AlertWitness": "lifecycle",
    "CAMPAIGN_MIN": "case_suggest",
    "Case": "cases",
    "CaseAction": "cases",
    "CaseIn": "cases",
    "CaseStore": "case_store",
    "CaseWitness": "case_store",
    "OBSERVABLE_FIELDS": "cases",
    "PlaybookLibrary": "playbook",
    "ResponseDB": "db",
    "ResponseService": "service",
    "Run": "runs",
    "RunError": "runs",
    "RunWitness": "runs",
    "Suggestion": "case_suggest",
    "SuppressingDetector": "suppress",
    "Suppression": "suppress",
    "SuppressionWitness": "suppress",
    "Suppressions": "suppress",
    "alert_place": "alert_fields",
    "apply_action": "lifecycle",
    "apply_bulk": "lifecycle",
    "apply_patch": "lifecycle",
    "case_changes": "cases",
    "load_respond_config": "settings",
    "new_case": "cases",
    "parse_suppression": "suppress",
    "render": "runs",
    "shift_report": "reports",
    "shift_rows": "reports",
    "suggest": "case_suggest",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
