"""Host auth logs through ``sentinel detect`` and ``sentinel ingest``: parsing, years, repeats and the host rules.

The log is written here in the formats sshd, PAM, sudo and rsyslog use on real
servers (addresses from the documentation ranges, invented accounts).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sentinel.cli.main import cli
from sentinel.config import DEFAULT_CONTENT_DIR

RULES = DEFAULT_CONTENT_DIR / "rules"


def _auth_log() -> str:
    lines = []
    # brute force of root from one address, sshd and PAM lines interleaved as OpenSSH writes them
    for i in range(12):
        t = f"Dec 31 23:50:{i * 4:02d}"
        pid = 24200 + i
        lines += [
            f"{t} bastion sshd[{pid}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh "
            f"ruser= rhost=203.0.113.50  user=root",
            f"{t} bastion sshd[{pid}]: Failed password for root from 203.0.113.50 port {40000 + i} ssh2",
            f"{t} bastion sshd[{pid}]: Received disconnect from 203.0.113.50 port {40000 + i}:11: Bye Bye [preauth]",
        ]
    # two lines from another address, the second standing for nine attempts: ten in all
    lines += [
        "Dec 31 23:55:00 bastion sshd[25001]: Failed password for admin from 203.0.113.60 port 50000 ssh2",
        "Dec 31 23:55:30 bastion sshd[25001]: message repeated 9 times: [ Failed password for admin from "
        "203.0.113.60 port 50000 ssh2]",
    ]
    # after midnight: spraying of invented names, then a success after failures
    names = ["admin", "test", "oracle", "postgres", "ubuntu", "git", "ftpuser", "support", "guest"]
    for i, name in enumerate(names):
        lines += [
            f"Jan  1 00:0{i}:10 bastion sshd[{26000 + i}]: Invalid user {name} from 203.0.113.77 port {41000 + i}",
            f"Jan  1 00:0{i}:12 bastion sshd[{26000 + i}]: Failed password for invalid user {name} from 203.0.113.77 "
            f"port {41000 + i} ssh2",
        ]
    lines += [
        "Jan  1 08:00:01 bastion sshd[27001]: Failed password for deploy from 198.51.100.20 port 50111 ssh2",
        "Jan  1 08:00:09 bastion sshd[27001]: Accepted password for deploy from 198.51.100.20 port 50111 ssh2",
        "Jan  1 08:00:09 bastion sshd[27001]: pam_unix(sshd:session): session opened for user deploy by (uid=0)",
        "Jan  1 08:02:00 bastion sudo:  www-data : TTY=unknown ; PWD=/var/www ; USER=root ; COMMAND=/bin/sh -i",
        "Jan  1 08:03:00 bastion sudo:   deploy : TTY=pts/0 ; PWD=/home/deploy ; USER=root ; "
        "COMMAND=/usr/bin/truncate -s 0 /var/log/auth.log",
        "Jan  1 08:04:00 bastion sshd[27050]: Accepted publickey for root from 198.51.100.21 port 50200 ssh2: "
        "ED25519 SHA256:q8m0Jx0cGmYbUkqk3jYV8wL8rEm5b2C1b5rVQ1r9bZs",
        "Jan  1 08:05:00 bastion CRON[27060]: pam_unix(cron:session): session opened for user root by (uid=0)",
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def auth_log(tmp_path: Path) -> Path:
    path = tmp_path / "auth.log"
    path.write_text(_auth_log())
    return path


def test_detect_raises_the_host_rules_on_an_auth_log(auth_log: Path) -> None:
    result = CliRunner().invoke(
        cli, ["detect", "--rules", str(RULES), "--year", "2005", "--timezone", "UTC", str(auth_log)]
    )
    assert result.exit_code == 0, result.output
    alerts = [json.loads(line) for line in result.stdout.splitlines()]
    by_rule: dict[str, list[dict]] = {}
    for a in alerts:
        by_rule.setdefault(a["rule"]["title"], []).append(a)
    brute = {a["entity"]["source.address"]: a for a in by_rule.pop("SSH brute force from one address")}
    assert set(brute) == {"203.0.113.50", "203.0.113.60"}  # the sprayer's nine tries in nine minutes are not
    # PAM's line repeats sshd's: twelve attempts are counted as twelve, not twenty-four
    assert brute["203.0.113.50"]["count"] == 10 and brute["203.0.113.50"]["@timestamp"] == "2005-12-31T23:50:36.000Z"
    # "message repeated 9 times" stands for nine attempts
    assert brute["203.0.113.60"]["count"] == 10
    [spray] = by_rule.pop("SSH password spraying across accounts from one address")
    assert spray["entity"] == {"source.address": "203.0.113.77"} and spray["@timestamp"].startswith("2006-01-01")
    [after] = by_rule.pop("Successful SSH login from an address that just failed")
    assert after["entity"] == {"source.address": "198.51.100.20"}
    [root] = by_rule.pop("Direct root login on a server")
    assert root["events"][0]["source"]["ip"] == "198.51.100.21"
    [daemon] = by_rule.pop("sudo or su to root by a service account")
    assert daemon["events"][0]["process"]["command_line"] == "/bin/sh -i"
    [cleared] = by_rule.pop("Audit or system log deleted or truncated on a server")
    assert cleared["events"][0]["user"]["name"] == "deploy"
    assert by_rule == {}


def test_the_timezone_option_places_yearless_times(auth_log: Path) -> None:
    args = ["detect", "--rules", str(RULES / "host"), "--year", "2005", str(auth_log)]
    utc = CliRunner().invoke(cli, [*args, "--timezone", "UTC"])
    hanoi = CliRunner().invoke(cli, [*args, "--timezone", "Asia/Ho_Chi_Minh"])
    first = [json.loads(line)["@timestamp"] for line in (utc.stdout.splitlines()[0], hanoi.stdout.splitlines()[0])]
    assert first == ["2005-12-31T23:50:36.000Z", "2005-12-31T16:50:36.000Z"]


def test_a_bad_timezone_is_a_usage_error(auth_log: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sentinel.cli.main", "detect", "--timezone", "Mars/Olympus", str(auth_log)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "is not a time zone" in proc.stderr and "Traceback" not in proc.stderr


def test_ingest_stores_syslog_and_firewall_lines_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("SENTINEL_ES_URL", raising=False)
    log = tmp_path / "mixed.log"
    log.write_text(
        _auth_log()
        + 'date=2026-07-01 time=09:00:00 logid="0000000013" type="traffic" subtype="forward" srcip=10.1.1.2 '
        "dstip=203.0.113.5 srcport=5000 dstport=443 proto=6 action=deny\n"
    )
    run = CliRunner().invoke
    first = run(cli, ["ingest", "--year", "2005", "--timezone", "UTC", str(log)], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    lines = len(_auth_log().splitlines()) + 1
    # the repeated message stands for nine events: eight more than lines
    assert f"read {lines + 8:,}  stored {lines + 8:,}  parse errors 0" in first.stdout
    again = run(cli, ["ingest", "--year", "2005", "--timezone", "UTC", str(log)], catch_exceptions=False)
    assert f"stored 0  parse errors 0  duplicates skipped {lines + 8:,}" in again.stdout
    count = run(cli, ["search", "event.dataset:system.auth user.name:root", "--count"]).stdout.strip()
    assert int(count) >= 24
    fw = run(cli, ["search", "event.dataset:fortinet.firewall", "--format", "jsonl"]).stdout.splitlines()
    assert json.loads(fw[0])["destination"]["port"] == 443
