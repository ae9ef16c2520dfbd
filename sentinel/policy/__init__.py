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
