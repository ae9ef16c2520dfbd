"""Personal-data classification (PDPL 91/2025/QH15, Decree 356/2025/ND-CP).

Presidio-based recognizers for Vietnamese identifiers, names, addresses and
sensitive values (``analyzer``), a sensitivity taxonomy (``taxonomy``),
field-level classification of structured datasets (``fields``, ``readers``,
``scan``) and persisted DPO review decisions (``review``). Recognizers, context
words, field-name hints, the gazetteer and the taxonomy are YAML in
``classifiers/`` so DPOs can change them without touching code.
"""
