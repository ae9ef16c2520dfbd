"""Response: alert lifecycle helpers, suppressions, playbooks, notifications and escalation.

Alerts themselves live in the configured :class:`~sentinel.store.base.Store`
(SQLite or Elasticsearch); what response adds (suppressions, playbook runs,
notification log, audit of response records) lives in its own small SQLite
database in ``data_dir`` (:mod:`sentinel.respond.db`), so it works the same
whatever store holds the alerts.
"""
