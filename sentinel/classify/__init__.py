"""Personal-data classification (PDPL 91/2025/QH15, Decree 356/2025/ND-CP).

Presidio-based recognizers for Vietnamese identifiers, names, addresses and
sensitive values (``analyzer``), a sensitivity taxonomy (``taxonomy``),
field-level classification of structured datasets (``fields``, ``readers``,
``scan``) and persisted DPO review decisions (``review``). Recognizers, context
words, field-name hints, the gazetteer and the taxonomy are YAML in
``classifiers/`` so DPOs can change them without touching code.
"""

from sentinel.lazy import lazy_exports

_EXPORTS = {
    "ClassificationStore": "review",
    "FieldClassifier": "fields",
    "FieldReport": "fields",
    "ReviewError": "review",
    "ReviewIn": "review",
    "ReviewWitness": "review",
    "Taxonomy": "taxonomy",
    "analyze_text": "analyzer",
    "birth_date": "distribution",
    "dumps_value": "readers",
    "fold": "normalize",
    "iter_fields": "fields",
    "load_catalog": "catalog",
    "load_taxonomy": "taxonomy",
    "name_tokens": "normalize",
    "open_classification_store": "review",
    "plain_text": "normalize",
    "scan_dataset": "scan",
    "structure_for": "structure",
    "supported_entities": "analyzer",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
