"""Output formats of ``sentinel policy check``: text, JSON, SARIF 2.1.0 (code scanning), JUnit XML (CI reports)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import orjson

from sentinel import __version__
from sentinel.policy.check import RULES, CheckReport, Finding

FORMATS = ("text", "json", "sarif", "junit")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def render(report: CheckReport, fmt: str) -> str:
    if fmt == "text":
        return text(report)
    if fmt == "json":
        return orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "sarif":
        return orjson.dumps(sarif(report), option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "junit":
        return junit(report)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def text(report: CheckReport) -> str:
    lines = []
    for f in report.findings:
        where = f"{f.path}:{f.line}" if f.line else f.path
        lines.append(f"{where}: {f.rule} {RULES[f.rule][0]}: {f.message}")
    s = report.summary()
    counts = ", ".join(f"{rule} {n}" for rule, n in s["findings"].items() if n) or "no findings"
    verdict = "FAILED" if report.failed else "passed"
    rate = s["bytes_read"] / 1e6 / s["seconds"] if s["seconds"] else 0.0
    lines.append(
        f"policy check {verdict}: {s['files']:,} files ({s['sampled_files']:,} sampled, "
        f"{s['bytes_read'] / 1e6:.1f} MB read) in {s['seconds']:.1f}s ({rate:,.1f} MB/s); {counts}"
    )
    return "\n".join(lines) + "\n"


def _uri(path: str) -> str:
    return Path(path).as_posix().removeprefix("./")


def sarif(report: CheckReport) -> dict[str, Any]:
    """A SARIF 2.1.0 log with one run, the four rules and one result per finding."""
    rule_ids = list(RULES)
    rules = [
        {
            "id": rule,
            "name": name,
            "shortDescription": {"text": desc},
            "fullDescription": {"text": desc},
            "defaultConfiguration": {"level": level},
            "properties": {"tags": ["privacy", "personal-data"]},
        }
        for rule, (name, level, desc) in RULES.items()
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "sentinel-policy-check",
                        "version": __version__,
                        "rules": rules,
                    }
                },
                "results": [_sarif_result(f, rule_ids.index(f.rule)) for f in report.findings],
                "properties": report.summary(),
            }
        ],
    }


def _sarif_result(f: Finding, rule_index: int) -> dict[str, Any]:
    location: dict[str, Any] = {"artifactLocation": {"uri": _uri(f.path), "uriBaseId": "%SRCROOT%"}}
    if f.line:
        location["region"] = {"startLine": f.line}
    result: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": f.level,
        "message": {"text": f.message},
        "locations": [{"physicalLocation": location}],
    }
    if f.entity:
        result["properties"] = {"entity": f.entity}
    return result


def junit(report: CheckReport) -> str:
    """JUnit XML: one failing test case per finding, or one passing case for a clean tree."""
    s = report.summary()
    errors = [f for f in report.findings if f.level == "error"]
    suite = ET.Element(
        "testsuite",
        name="sentinel-policy-check",
        tests=str(max(len(report.findings), 1)),
        failures=str(len(errors)),
        errors="0",
        skipped=str(len(report.findings) - len(errors)),
        time=f"{s['seconds']:.3f}",
    )
    for f in report.findings:
        where = f"{f.path}:{f.line}" if f.line else f.path
        case = ET.SubElement(suite, "testcase", classname=f"policy.{RULES[f.rule][0]}", name=f"{f.rule} {where}")
        if f.level == "error":
            ET.SubElement(case, "failure", message=f.message, type=f.rule).text = f"{where}: {f.message}"
        else:
            ET.SubElement(case, "skipped", message=f.message)
    if not report.findings:
        ET.SubElement(suite, "testcase", classname="policy", name=f"{s['files']} files respect the data policy")
    suites = ET.Element("testsuites")
    suites.append(suite)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"
