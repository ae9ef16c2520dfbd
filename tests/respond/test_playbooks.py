from __future__ import annotations

import re
from pathlib import Path

import pytest

from sentinel.content import ContentError
from sentinel.respond.conditions import ConditionError, compile_condition, evaluate
from sentinel.respond.playbook import PlaybookLibrary

from .conftest import REPO, make_alert

GOOD = """\
type: playbook
spec_version: cacao-2.0
id: playbook--t
name: T
playbook_types: [investigation]
x_sentinel_triggers: {tags: [attack.t1190]}
workflow_start: start--a
workflow:
  start--a:
    type: start
    on_completion: action--b
  action--b:
    type: action
    action: enrich_address
    args: {ip: __source_ip__}
    on_completion: end--c
  end--c:
    type: end
"""


def write(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "pb"
    folder.mkdir(exist_ok=True)
    (folder / "t.yml").write_text(text)
    return folder


def test_shipped_playbooks_are_valid_and_cover_the_families():
    lib = PlaybookLibrary.load(REPO / "playbooks")
    assert len(lib) >= 6
    cases = {
        "playbook--web-attack": ("attack.t1190",),
        "playbook--credential-attack": ("attack.credential-access", "attack.t1110.004"),
        "playbook--data-theft": ("attack.collection", "attack.t1213"),
        "playbook--commune-scan": ("attack.discovery", "attack.t1046"),
        "playbook--dns-tunnel": ("attack.t1071.004",),
        "playbook--firewall-change": ("attack.t1562.004",),
    }
    for pb_id, tags in cases.items():
        matched = [p.id for p in lib.for_alert(make_alert(tags=tags))]
        assert pb_id in matched, (pb_id, matched)
    by_id = make_alert(rule_id="68a07f65-7cae-4c67-9a66-ff519d5cf7ea", tags=())
    assert [p.id for p in lib.for_alert(by_id)] == ["playbook--firewall-change"]


def test_every_rule_of_the_pack_has_a_playbook_unless_informational():
    """Each rule family of rules/ gets a playbook (base rules at informational level need none)."""
    import yaml

    lib = PlaybookLibrary.load(REPO / "playbooks")
    missing = []
    for path in sorted((REPO / "rules").rglob("*.yml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if not isinstance(doc, dict) or "title" not in doc or doc.get("level") == "informational":
                continue
            alert = make_alert(rule_id=str(doc.get("id")), tags=tuple(doc.get("tags") or ()))
            if not lib.for_alert(alert):
                missing.append(f"{path.name}: {doc['title']}")
    assert not missing, missing


def test_good_playbook_loads(tmp_path):
    lib = PlaybookLibrary.load(write(tmp_path, GOOD))
    assert lib.get("playbook--t").applies_to(make_alert())
    assert not lib.get("playbook--t").applies_to(make_alert(tags=("attack.t1110",)))


@pytest.mark.parametrize(
    ("change", "line", "reason"),
    [
        (("action: enrich_address", "action: launch_missiles"), 12, "unknown action 'launch_missiles'"),
        (("on_completion: end--c", "on_completion: end--zz"), 12, "not a step of the workflow"),
        (("on_completion: end--c", "on_completion: start--a"), 12, "goes back to start--a"),
        (("{ip: __source_ip__}", "{ip: __nowhere__}"), 12, "undefined variable(s) __nowhere__"),
        (
            (
                "action: enrich_address\n    args: {ip: __source_ip__}",
                "action: block_address\n    args: {ip: __source_ip__}",
            ),
            12,
            "always needs approval",
        ),
        (("{ip: __source_ip__}", "{address: __source_ip__}"), 12, "args.ip: Field required"),
        (("workflow_start: start--a", "workflow_start: action--b"), 7, "type start"),
        (("playbook_types: [investigation]", "playbook_types: []"), 5, "playbook_types"),
    ],
)
def test_invalid_playbooks_report_file_line_reason(tmp_path, change, line, reason):
    folder = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ContentError) as err:
        PlaybookLibrary.load(folder)
    assert reason in err.value.reason
    assert err.value.line == line, str(err.value)
    assert str(err.value).startswith(str(folder / "t.yml") + f":{line}: ")


MANUAL = GOOD.replace(
    "    action: enrich_address\n    args: {ip: __source_ip__}\n",
    "    name: Check the address\n    action: manual\n    args: {instruction: 'Look at __source_ip__'}\n"
    "    requires_approval: true\n",
)
VI = """\
x_sentinel_translations:
  vi:
    name: Kiểm tra
    steps:
      action--b:
        name: Kiểm tra địa chỉ
        instruction: Xem __source_ip__
"""


def test_a_translation_table_gives_each_text_in_the_readers_language(tmp_path):
    pb = PlaybookLibrary.load(write(tmp_path, MANUAL + VI)).get("playbook--t")
    assert pb.text("vi", "name") == "Kiểm tra" and pb.text("en", "name") == "T"
    assert pb.text("vi", "name", "action--b") == "Kiểm tra địa chỉ"
    assert pb.text("en", "instruction", "action--b") == "Look at __source_ip__"
    assert pb.text("vi", "instruction", "action--b") == "Xem __source_ip__"
    assert pb.text("vi", "name", "end--c") == ""  # the step has no name in any language
    assert pb.untranslated() == []
    assert PlaybookLibrary.load(write(tmp_path, MANUAL)).get("playbook--t").untranslated() == ["vi"]


@pytest.mark.parametrize(
    ("change", "line", "reason"),
    [
        (("  vi:", "  fr:"), 21, "'fr' is not a language to translate into: use vi (Vietnamese)"),
        (("      action--b:", "      action--x:"), 24, "x_sentinel_translations.vi.steps: 'action--x' is not a step"),
        (("        name: Kiểm tra địa chỉ\n", ""), 25, "steps.action--b: no Vietnamese name (the step has one)"),
        (("__source_ip__\n", "__source_ip__ __url__\n"), 27, "instruction uses __url__, which the English does not"),
        (("    name: Kiểm tra\n", "    name: Kiểm tra\n    description: Mô tả\n"), 22, "gives a description"),
        (("    steps:\n", "    steps:\n      end--c: {name: Kết thúc}\n"), 25, "end--c.name: the step has no name"),
        (("        name: Kiểm tra địa chỉ", "        title: Kiểm tra địa chỉ"), 26, "title: Extra inputs"),
    ],
)
def test_translation_tables_are_checked_with_file_and_line(tmp_path, change, line, reason):
    folder = write(tmp_path, MANUAL + VI.replace(*change))
    with pytest.raises(ContentError) as err:
        PlaybookLibrary.load(folder)
    assert reason in err.value.reason, err.value.reason
    assert str(err.value).startswith(str(folder / "t.yml") + f":{line}: "), str(err.value)


def test_shipped_playbooks_speak_vietnamese():
    lib = PlaybookLibrary.load(REPO / "playbooks")
    assert lib.untranslated() == []
    for pb in lib.by_id.values():
        assert pb.text("vi", "name") != pb.name
        for sid, step in pb.workflow.items():
            if step.name:
                assert pb.text("vi", "name", sid) not in ("", step.name), (pb.id, sid)


def test_unreachable_step_is_reported(tmp_path):
    text = GOOD + "  end--orphan:\n    type: end\n"
    with pytest.raises(ContentError, match="cannot be reached"):
        PlaybookLibrary.load(write(tmp_path, text))


def test_duplicate_ids_are_reported(tmp_path):
    folder = write(tmp_path, GOOD)
    (folder / "u.yml").write_text(GOOD)
    with pytest.raises(ContentError, match="also used by"):
        PlaybookLibrary.load(folder)


def test_conditions_are_safe_and_evaluate():
    tree = compile_condition("__severity__ in ['high', 'critical'] and not __count__ < 5")
    assert evaluate(tree, {"__severity__": "high", "__count__": 9})
    assert not evaluate(tree, {"__severity__": "low", "__count__": 9})
    assert not evaluate(compile_condition("__count__ > 3"), {})  # unset compares false, never raises
    for bad in ("__import__('os').system('id')", "__a__.b", "[x for x in __a__]", "__a__ + 1 > 2", "lambda: 1"):
        with pytest.raises(ConditionError):
            compile_condition(bad)


NOTIFY = GOOD.replace(
    "    action: enrich_address\n    args: {ip: __source_ip__}\n",
    "    name: Tell the SOC\n    action: notify\n"
    "    args: {channel: soc, subject: 'Attack from __source_ip__', message: '__count__ matches'}\n",
)
NOTIFY_VI = """\
x_sentinel_translations:
  vi:
    name: Kiểm tra
    steps:
      action--b:
        name: Báo cho SOC
        subject: Tấn công từ __source_ip__
        message: __count__ lần khớp
"""


def test_messages_an_action_sends_are_translated_and_checked(tmp_path):
    pb = PlaybookLibrary.load(write(tmp_path, NOTIFY + NOTIFY_VI)).get("playbook--t")
    assert pb.args_in("vi", "action--b") == {
        "channel": "soc",
        "subject": "Tấn công từ __source_ip__",
        "message": "__count__ lần khớp",
    }
    assert pb.args_in("en", "action--b")["subject"] == "Attack from __source_ip__"
    for change, reason in [
        (("        message: __count__ lần khớp\n", ""), "no Vietnamese message (the step has one)"),
        (("lần khớp", "lần khớp __url__"), "message uses __url__, which the English does not"),
    ]:
        with pytest.raises(ContentError, match=re.escape(reason)):
            PlaybookLibrary.load(write(tmp_path, NOTIFY + NOTIFY_VI.replace(*change)))


def test_shipped_messages_speak_vietnamese():
    for pb in PlaybookLibrary.load(REPO / "playbooks").by_id.values():
        for sid, step in pb.workflow.items():
            for key in ("subject", "message"):
                if key in getattr(step, "args", {}):
                    assert pb.args_in("vi", sid)[key] != step.args[key], (pb.id, sid, key)
