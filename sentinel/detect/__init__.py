"""Detection: Sigma rules evaluated in-process over the event stream (see :mod:`sentinel.detect.engine`)."""

from sentinel.lazy import lazy_exports

_EXPORTS = {
    "DEFAULT_INDEX": "convert",
    "Detector": "detector",
    "Engine": "engine",
    "RuleProblem": "engine",
    "RuleText": "pack",
    "Scheduler": "scheduler",
    "convert_rules": "convert",
    "converted_lines": "convert",
    "install_offline": "attack_data",
    "lint": "pack",
    "load_pack": "pack",
    "rule_text": "pack",
    "rule_translations": "pack",
    "run_tests": "pack",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
