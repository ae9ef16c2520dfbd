"""Sentinel: security monitoring and personal-data classification for Vietnam's e-government.

Data flows source -> parse/normalise (collect) -> store -> detect -> alerts -> respond,
with classify/policy deciding what personal data may be seen and how it is masked.
See docs/architecture.md for the map of modules.
"""

__version__ = "0.1.0"
