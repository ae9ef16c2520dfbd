"""Anonymisation operators, run through presidio-anonymizer.

Presidio brings redaction (``replace``), ``keep`` and the engine that applies an
operator to each recognised span. Sentinel adds what the policy needs and
Presidio lacks: a keyed pseudonym (HMAC, stable across runs so joins still
work), masking that keeps the last N characters, reversible encryption whose
output is recognisable as a token, and generalisation (date of birth -> year,
address -> province).

Pseudonyms and encrypted values are tokens (``pz-vn_cccd-...``,
``pe-vn_cccd-...``) that no recogniser takes for personal data, so protecting
already-protected text changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import InvalidParamError, OperatorConfig, RecognizerResult
from presidio_anonymizer.operators import Operator, OperatorType
from presidio_anonymizer.operators.aes_cipher import AESCipher

from sentinel.policy.keys import PolicyKeys
from sentinel.policy.model import OperatorSpec

# Tokens this module writes; recognisers' hits inside them are ignored.
TOKEN = re.compile(r"\bp[ze]-[a-z_]+-[A-Za-z0-9_-]+=*")
_PSEUDONYM_CHARS = 16  # base32 characters = 80 bits of the HMAC


def _param(params: Mapping[str, Any] | None, name: str) -> Any:
    if not params or name not in params:
        raise InvalidParamError(f"operator parameter {name!r} is missing")
    return params[name]


def normalize_value(entity: str, value: str) -> str:
    """The canonical form of a value, so spellings of one identifier get one pseudonym."""
    text = unicodedata.normalize("NFC", value).strip()
    if entity == "VN_PHONE":
        digits = re.sub(r"\D", "", text)
        return "0" + digits[2:] if digits.startswith("84") and len(digits) >= 11 else digits
    if entity in ("VN_CCCD", "VN_CMND", "VN_BHXH", "VN_MST", "VN_BANK_ACCOUNT", "CREDIT_CARD"):
        return re.sub(r"[\s.\-]", "", text)
    if entity in ("VN_LICENSE_PLATE", "VN_PASSPORT"):
        return re.sub(r"[^0-9A-Za-z]", "", text).upper()
    return " ".join(text.casefold().split())


def entity_tag(entity: str) -> str:
    return entity.lower()


class Pseudonym(Operator):
    """Keyed pseudonym: HMAC-SHA256 of the normalised value under the policy's pseudonym key."""

    def operate(self, text: str = "", params: dict | None = None) -> str:
        entity = _param(params, "entity_type")
        mac = hmac.new(_param(params, "key"), f"{entity}\0{normalize_value(entity, text)}".encode(), hashlib.sha256)
        digest = base64.b32encode(mac.digest()).decode().lower()[:_PSEUDONYM_CHARS]
        return f"pz-{entity_tag(entity)}-{digest}"

    def validate(self, params: dict | None = None) -> None:
        if not isinstance(_param(params, "key"), bytes):
            raise InvalidParamError("pseudonym needs the policy key as bytes")

    def operator_name(self) -> str:
        return "sentinel_pseudonym"

    def operator_type(self) -> OperatorType:
        return OperatorType.Anonymize


class MaskKeepLast(Operator):
    """Replace every character with ``*`` except the last ``keep_last`` (all of them if the value is that short)."""

    def operate(self, text: str = "", params: dict | None = None) -> str:
        keep = int(_param(params, "keep_last"))
        if keep <= 0 or keep >= len(text):
            return "*" * len(text)
        return "*" * (len(text) - keep) + text[-keep:]

    def validate(self, params: dict | None = None) -> None:
        if int(_param(params, "keep_last")) < 0:
            raise InvalidParamError("keep_last must be 0 or more")

    def operator_name(self) -> str:
        return "sentinel_mask"

    def operator_type(self) -> OperatorType:
        return OperatorType.Anonymize


class TokenEncrypt(Operator):
    """AES encryption (Presidio's cipher) wrapped as a ``pe-<entity>-...`` token, reversible with the key."""

    def operate(self, text: str = "", params: dict | None = None) -> str:
        entity = _param(params, "entity_type")
        return f"pe-{entity_tag(entity)}-{AESCipher.encrypt(_param(params, 'key'), text)}"

    def validate(self, params: dict | None = None) -> None:
        if not AESCipher.is_valid_key_size(_param(params, "key")):
            raise InvalidParamError("encryption needs a 128, 192 or 256-bit key")

    def operator_name(self) -> str:
        return "sentinel_encrypt"

    def operator_type(self) -> OperatorType:
        return OperatorType.Anonymize


_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")


class Generalize(Operator):
    """Coarser but still useful values: a date of birth becomes its year, an address its province."""

    def operate(self, text: str = "", params: dict | None = None) -> str:
        entity = _param(params, "entity_type")
        if entity == "DATE_OF_BIRTH":
            match = _YEAR.search(text)
            return match.group(1) if match else f"<{entity}>"
        if entity == "LOCATION":
            return province_of(text, Path(_param(params, "classifiers_dir"))) or f"<{entity}>"
        return f"<{entity}>"

    def validate(self, params: dict | None = None) -> None:
        _param(params, "entity_type")
        _param(params, "classifiers_dir")

    def operator_name(self) -> str:
        return "sentinel_generalize"

    def operator_type(self) -> OperatorType:
        return OperatorType.Anonymize


def province_of(address: str, classifiers_dir: Path) -> str | None:
    """The province an address names (2025 provincial units, short name), or None.

    The place hierarchy of open-data releases knows the gazetteer: a province
    named in the text, or the province of a commune whose name is unique.
    """
    from sentinel.policy.hierarchies import load_generalizer

    return load_generalizer(classifiers_dir).province_of(address)


_OWN: tuple[type[Operator], ...] = (Pseudonym, MaskKeepLast, TokenEncrypt, Generalize)


def reveal(token: str, keys: PolicyKeys) -> str:
    """Decrypt a ``pe-`` token back to the value (the lawful re-identification path).

    Raises ValueError without echoing the token's content when it is not one
    of ours or the key is wrong.
    """
    prefix, _, rest = token.partition("-")
    _, _, cipher = rest.partition("-")
    if prefix != "pe" or not cipher:
        raise ValueError("not an encrypted token (expected pe-<entity>-<data>)")
    try:
        return AESCipher.decrypt(keys.encryption, cipher)
    except Exception:
        raise ValueError("cannot decrypt this token with the current policy key") from None


class OperatorSet:
    """One purpose's operators bound to the policy keys, applied through one Presidio engine."""

    def __init__(self, specs: Mapping[str, OperatorSpec], keys: PolicyKeys | None, classifiers_dir: Path) -> None:
        self.engine = AnonymizerEngine()
        for cls in _OWN:
            self.engine.add_anonymizer(cls)
        self.configs = {entity: self._config(entity, spec, keys, classifiers_dir) for entity, spec in specs.items()}
        # Sentinel's own operators, applied to a whole value without the engine (see apply)
        self._own: dict[str, Operator] = {cls().operator_name(): cls() for cls in _OWN}

    @staticmethod
    def _config(entity: str, spec: OperatorSpec, keys: PolicyKeys | None, classifiers_dir: Path) -> OperatorConfig:
        if spec.op in ("pseudonym", "encrypt") and keys is None:
            raise ValueError(f"{entity} uses {spec.op}, which needs the policy key")
        match spec.op:
            case "keep":
                return OperatorConfig("keep")
            case "redact":
                return OperatorConfig("replace")
            case "mask":
                return OperatorConfig("sentinel_mask", {"keep_last": spec.keep_last})
            case "pseudonym":
                return OperatorConfig("sentinel_pseudonym", {"key": keys.pseudonym})
            case "encrypt":
                return OperatorConfig("sentinel_encrypt", {"key": keys.encryption})
            case "generalize":
                return OperatorConfig("sentinel_generalize", {"classifiers_dir": str(classifiers_dir)})
        raise ValueError(f"unknown operator {spec.op}")

    def keeps(self, entity: str) -> bool:
        config = self.configs.get(entity)
        return config is None or config.operator_name == "keep"

    def apply(self, entity: str, value: str) -> str:
        """The anonymised form of a whole value of ``entity``."""
        if self.keeps(entity) or not value:
            return value
        config = self.configs[entity]
        own = self._own.get(config.operator_name)
        if own is not None:
            # What the engine does with one span over the whole value (nothing to merge or resolve): the
            # operator's output for the value, its parameters copied with the entity type added, validated
            # first. The engine would also build a new operator object and its registry per call (most of
            # the cost of a first-seen value at ingest).
            params = config.params.copy()
            params["entity_type"] = entity
            own.validate(params=params)
            return own.operate(params=params, text=value)
        span = RecognizerResult(entity_type=entity, start=0, end=len(value), score=1.0)
        return self.engine.anonymize(value, [span], {entity: config}).text
