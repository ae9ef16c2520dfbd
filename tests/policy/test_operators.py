"""Presidio operators the policy adds: keyed pseudonym, mask keeping the tail, encryption, generalisation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.policy.keys import PolicyKeys
from sentinel.policy.model import OperatorSpec
from sentinel.policy.operators import TOKEN, OperatorSet, province_of, reveal
from tests.content import CLASSIFIERS

from .conftest import CCCD


def ops(keys, **specs):
    return OperatorSet({e: OperatorSpec(**s) for e, s in specs.items()}, keys, classifiers_dir=CLASSIFIERS)


def test_pseudonym_is_keyed_stable_and_normalised(keys):
    a = ops(keys, VN_PHONE={"op": "pseudonym"}, VN_CCCD={"op": "pseudonym"})
    b = ops(keys, VN_PHONE={"op": "pseudonym"})  # another engine, same key: a later run
    token = a.apply("VN_PHONE", "0912345678")
    assert TOKEN.fullmatch(token) and token.startswith("pz-vn_phone-")
    assert b.apply("VN_PHONE", "+84 912 345 678") == token == a.apply("VN_PHONE", "0912.345.678")
    assert a.apply("VN_PHONE", "0912345679") != token
    other = ops(PolicyKeys.from_master(b"z" * 32, "other"), VN_PHONE={"op": "pseudonym"})
    assert other.apply("VN_PHONE", "0912345678") != token
    assert a.apply("VN_CCCD", CCCD) != a.apply("VN_PHONE", CCCD)  # the entity is part of the pseudonym


def test_mask_keeps_only_the_tail(keys):
    o = ops(keys, VN_PHONE={"op": "mask", "keep_last": 3}, EMAIL_ADDRESS={"op": "mask"})
    assert o.apply("VN_PHONE", "0912345678") == "*******678"
    assert o.apply("VN_PHONE", "678") == "***"  # never reveal a whole short value
    assert o.apply("EMAIL_ADDRESS", "a@b.vn") == "******"


def test_encryption_round_trip_and_wrong_key(keys):
    o = ops(keys, VN_BANK_ACCOUNT={"op": "encrypt"})
    token = o.apply("VN_BANK_ACCOUNT", "0123456789012")
    assert token.startswith("pe-vn_bank_account-") and "0123456789012" not in token
    assert o.apply("VN_BANK_ACCOUNT", "0123456789012") != token  # random IV: equal values are not linkable
    assert reveal(token, keys) == "0123456789012"
    with pytest.raises(ValueError) as err:
        reveal(token, PolicyKeys.from_master(b"w" * 32, "wrong"))
    assert "0123456789012" not in str(err.value)


def test_pseudonym_and_encryption_need_the_key():
    with pytest.raises(ValueError, match="needs the policy key"):
        OperatorSet({"VN_CCCD": OperatorSpec(op="pseudonym")}, None, classifiers_dir=CLASSIFIERS)


def test_generalisation(keys):
    o = ops(keys, DATE_OF_BIRTH={"op": "generalize"}, LOCATION={"op": "generalize"})
    assert o.apply("DATE_OF_BIRTH", "15/03/1990") == "1990"
    assert o.apply("DATE_OF_BIRTH", "1990-03-15") == "1990"
    assert o.apply("DATE_OF_BIRTH", "mười lăm tháng ba") == "<DATE_OF_BIRTH>"
    assert o.apply("LOCATION", "12 Lý Thường Kiệt, phường Cửa Nam, Thành phố Hà Nội") == "Hà Nội"
    assert o.apply("LOCATION", "so 5 duong Tran Phu, xa Ea Kar, tinh Dak Lak") == "Đắk Lắk"
    assert o.apply("LOCATION", "ấp 3, không rõ") == "<LOCATION>"
    assert province_of("Quận 1, TP Hồ Chí Minh", classifiers_dir=CLASSIFIERS) == "Hồ Chí Minh"


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="0123456789 +.-", min_size=1, max_size=16))
def test_pseudonym_is_a_token_for_any_input(keys, value):
    token = ops(keys, VN_PHONE={"op": "pseudonym"}).apply("VN_PHONE", value)
    assert TOKEN.fullmatch(token)


def _through_the_engine(o: OperatorSet, entity: str, value: str) -> str:
    """What apply returned when every operator went through Presidio's engine (one span over the value)."""
    from presidio_anonymizer.entities import RecognizerResult

    span = RecognizerResult(entity_type=entity, start=0, end=len(value), score=1.0)
    return o.engine.anonymize(value, [span], {entity: o.configs[entity]}).text


@settings(max_examples=150, deadline=None)
@given(
    st.text(min_size=1, max_size=40),
    st.sampled_from(["VN_PHONE", "VN_CCCD", "PERSON", "LOCATION", "DATE_OF_BIRTH"]),
)
def test_own_operators_applied_directly_as_the_engine_would(keys, value, entity):
    for spec in ({"op": "pseudonym"}, {"op": "mask", "keep_last": 3}, {"op": "generalize"}, {"op": "redact"}):
        o = ops(keys, **{entity: spec})
        assert o.apply(entity, value) == _through_the_engine(o, entity, value), spec
    o = ops(keys, **{entity: {"op": "encrypt"}})
    token = o.apply(entity, value)
    assert token.startswith(f"pe-{entity.lower()}-") and reveal(token, keys) == value
