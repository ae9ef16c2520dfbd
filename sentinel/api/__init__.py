from sentinel.lazy import lazy_exports

_EXPORTS = {
    "Accounts": "accounts",
    "create_app": "app",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
