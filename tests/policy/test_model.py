"""Policy loading: the default is valid; structural and consistency errors point at file:line."""

from __future__ import annotations

import pytest

from sentinel.content import ContentError
from sentinel.identity import ROLES
from sentinel.policy.model import consistency_problems, load_policy
from tests.content import CLASSIFIERS

from .conftest import write_policy


def test_default_policy_is_consistent(loaded):
    assert consistency_problems(loaded, ROLES) == []
    assert set(loaded.policy.access.roles) == set(ROLES)
    assert {"ingest", "triage", "analytics_export", "open_data"} <= set(loaded.policy.purposes)


def test_unknown_operator_is_reported_with_its_line(tmp_path, policy_text):
    text = policy_text.replace("VN_BANK_ACCOUNT: {op: encrypt}", "VN_BANK_ACCOUNT: {op: scramble}")
    path = write_policy(tmp_path, text)
    line = text.splitlines().index("      VN_BANK_ACCOUNT: {op: scramble}") + 1
    with pytest.raises(ContentError) as err:
        load_policy(path, classifiers_dir=CLASSIFIERS)
    assert err.value.line == line and "op" in err.value.reason and str(path) in str(err.value)


def test_keep_last_only_with_mask(tmp_path, policy_text):
    path = write_policy(tmp_path, policy_text.replace("{op: mask, keep_last: 3}", "{op: redact, keep_last: 3}", 1))
    with pytest.raises(ContentError, match="keep_last applies to op: mask only"):
        load_policy(path, classifiers_dir=CLASSIFIERS)


OPEN_DATA = "    release: {k: 5, l: 2, max_suppression: 0.05}\n    default: "


def test_inconsistencies_are_all_listed_with_lines(tmp_path, policy_text):
    text = (
        policy_text.replace(
            "soc_analyst: {scope: national, basic: allow, sensitive: masked}",
            "soc_analyst: {scope: national, basic: deny, sensitive: allow}",
        )
        .replace(OPEN_DATA + "{op: redact}", OPEN_DATA + "{op: pseudonym}")
        .replace("    auditor: {scope: national, basic: masked, sensitive: masked}\n", "")
        .replace("  - entity: GENDER\n", "  - entity: GENDRE\n")
    )
    path = write_policy(tmp_path, text)
    lines = text.splitlines()
    loaded = load_policy(path, strict=False, classifiers_dir=CLASSIFIERS)
    problems = {p.message: p.line for p in consistency_problems(loaded, ROLES)}
    joined = "\n".join(problems)
    assert "soc_analyst' sees sensitive data (allow) more openly than basic data (deny)" in joined
    assert "irreversible but PERSON uses pseudonym" in joined
    assert "role 'auditor' has no access entry" in joined
    assert "unknown entity 'GENDRE'" in joined
    analyst = next(m for m in problems if "soc_analyst" in m)
    assert lines[problems[analyst] - 1].strip().startswith("soc_analyst:")
    with pytest.raises(ContentError) as err:
        load_policy(path, classifiers_dir=CLASSIFIERS)
    # every problem, each on its own file:line, not "and N more"
    assert len(err.value.problems) == len(problems) >= 4
    assert str(err.value).count(f"{path}:") == len(problems)


def test_sensitive_entity_cannot_be_kept_raw_at_ingest(tmp_path, policy_text):
    path = write_policy(tmp_path, policy_text.replace("HEALTH: {op: redact}", "HEALTH: {op: keep}", 1))
    with pytest.raises(ContentError, match="sensitive HEALTH would be stored raw at ingest"):
        load_policy(path, classifiers_dir=CLASSIFIERS)


def test_ingest_purpose_is_required(tmp_path, policy_text):
    path = write_policy(tmp_path, policy_text.replace("  ingest:\n", "  intake:\n"))
    with pytest.raises(ContentError, match="define the 'ingest' purpose"):
        load_policy(path, classifiers_dir=CLASSIFIERS)


def test_role_view_scope_reading_and_labels(loaded):
    from sentinel.identity import Principal
    from sentinel.policy.access import AccessDenied, RoleView

    local = RoleView(loaded, Principal(name="an", role="soc_analyst", province="Huế", commune="Thuận Hóa"))
    national = RoleView(loaded, Principal(name="lead", role="soc_lead"))
    assert local.scope_labels == {"province": "Huế", "commune": "Thuận Hóa"} and national.scope_labels == {}
    assert local.in_scope({"province": "Huế", "commune": "Thuận Hóa", "other": "x"})
    assert not local.in_scope({"province": "Huế"}) and not local.in_scope(None)  # unlabelled: not provably local
    assert national.in_scope(None) and national.in_scope({"province": "Huế"})
    local.require_read()
    national.require_read()
    with pytest.raises(AccessDenied, match="may not read events or alerts"):
        RoleView(loaded, Principal(name="ci", role="ci")).require_read()
