"""The shipped content folders, named once for the tests (the code itself always takes them from settings)."""

from sentinel.config import DEFAULT_CONTENT_DIR

CLASSIFIERS = DEFAULT_CONTENT_DIR / "classifiers"
RULES = DEFAULT_CONTENT_DIR / "rules"
