"""The demo: a generated day of portal traffic run through the whole pipeline."""

from sentinel.lazy import lazy_exports

_EXPORTS = {
    "VN_TZ": "traffic",
    "generate": "traffic",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
