"""Auth-log lines (sshd, PAM, sudo, su, login) in the formats real servers write, to system.auth ECS."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sentinel.collect.parsers import LineReader
from sentinel.collect.syslog_parse import SyslogStream, YearClock, parse_syslog

NOW = datetime(2026, 7, 1, 3, 30, tzinfo=UTC)


def parse(line: str) -> dict:
    return parse_syslog(line.encode(), source="auth.log", position=0, now=NOW, from_file=True)


def test_accepted_publickey_is_a_successful_ssh_login_with_the_key() -> None:
    e = parse(
        "Jul  1 09:12:44 srv-app-01 sshd[3402]: Accepted publickey for deploy from 198.51.100.4 port 63673 ssh2: "
        "RSA SHA256:Vh0sQmTw6UoLhD5q6mJx2bDUZ8dk6lq1QWmJ0x2y9aE"
    )
    assert e["event"]["dataset"] == "system.auth"
    assert e["event"]["action"] == "ssh_login" and e["event"]["outcome"] == "success"
    assert e["event"]["category"] == ["authentication", "session"]
    assert e["event"]["type"] == ["authentication_success", "info"]
    assert e["user"] == {"name": "deploy"}
    assert e["source"] == {"address": "198.51.100.4", "ip": "198.51.100.4", "port": 63673}
    ssh = e["system"]["auth"]["ssh"]
    assert ssh["event"] == "Accepted" and ssh["method"] == "publickey" and ssh["signature"].startswith("RSA SHA256:")
    assert e["process"] == {"name": "sshd", "pid": 3402}
    assert e["@timestamp"] == "2026-07-01T02:12:44.000Z"


@pytest.mark.parametrize(
    ("message", "user", "invalid"),
    [
        ("Failed password for root from 203.0.113.7 port 29160 ssh2", "root", False),
        ("Failed password for invalid user oracle from 203.0.113.7 port 51234 ssh2", "oracle", True),
        ("Failed none for invalid user admin from 203.0.113.7 port 40022 ssh2", "admin", True),
        ("Failed publickey for git from 203.0.113.7 port 40022 ssh2: ECDSA SHA256:abc", "git", False),
    ],
)
def test_failed_attempts(message: str, user: str, invalid: bool) -> None:
    e = parse(f"Jul  1 09:12:44 srv-app-01 sshd[5774]: {message}")
    assert e["event"]["action"] == "ssh_login" and e["event"]["outcome"] == "failure"
    assert e["event"]["type"] == ["authentication_failure", "info"] and e["event"]["category"] == ["authentication"]
    assert e["user"]["name"] == user and e["source"]["ip"] == "203.0.113.7"
    assert e["system"]["auth"]["ssh"]["event"] == "Failed"
    assert e["system"]["auth"]["ssh"].get("invalid_user", False) is invalid


def test_invalid_user_and_its_preauth_echo() -> None:
    e = parse("Jul  1 09:12:44 srv-app-01 sshd[24200]: Invalid user webmaster from 203.0.113.186 port 38926")
    assert e["event"]["outcome"] == "failure" and e["system"]["auth"]["ssh"]["event"] == "Invalid"
    assert e["user"]["name"] == "webmaster" and e["source"]["port"] == 38926
    echo = parse("Jul  1 09:12:44 srv-app-01 sshd[24200]: input_userauth_request: invalid user webmaster [preauth]")
    assert echo["user"]["name"] == "webmaster" and "outcome" not in echo["event"]


@pytest.mark.parametrize(
    ("message", "action", "address"),
    [
        ("Received disconnect from 203.0.113.9 port 52020:11: Bye Bye [preauth]", "ssh_disconnect", "203.0.113.9"),
        ("Received disconnect from 203.0.113.9: 11: Bye Bye [preauth]", "ssh_disconnect", "203.0.113.9"),
        ("Connection closed by 203.0.113.9 [preauth]", "ssh_disconnect", "203.0.113.9"),
        (
            "Connection closed by authenticating user root 203.0.113.9 port 40788 [preauth]",
            "ssh_disconnect",
            "203.0.113.9",
        ),
        ("Disconnected from invalid user ubnt 2001:db8::5 port 40788 [preauth]", "ssh_disconnect", "2001:db8::5"),
        ("Did not receive identification string from 203.0.113.9", "ssh_no_identification", "203.0.113.9"),
        (
            "reverse mapping checking getaddrinfo for host-9.example.net [203.0.113.9] failed - "
            "POSSIBLE BREAK-IN ATTEMPT!",
            "ssh_reverse_mapping_failed",
            "203.0.113.9",
        ),
        (
            "Address 203.0.113.9 maps to host-9.example.net, but this does not map back to the address - "
            "POSSIBLE BREAK-IN ATTEMPT!",
            "ssh_reverse_mapping_failed",
            "203.0.113.9",
        ),
    ],
)
def test_connection_events(message: str, action: str, address: str) -> None:
    e = parse(f"Jul  1 09:12:44 srv-app-01 sshd[3430]: {message}")
    assert e["event"]["action"] == action and e["source"]["ip"] == address
    assert "outcome" not in e["event"]  # not an authentication attempt
    if "BREAK-IN" in message:
        assert e["system"]["auth"]["ssh"]["possible_break_in"] is True


def test_disconnect_of_a_named_user() -> None:
    e = parse(
        "Jul  1 09:12:44 srv-app-01 sshd[3430]: Disconnected from authenticating user root 203.0.113.9 port 4 [preauth]"
    )
    assert e["user"]["name"] == "root" and e["source"]["port"] == 4


def test_pam_failures_old_and_new_tags() -> None:
    old = parse(
        "Jun 15 02:04:59 srv-old sshd(pam_unix)[20884]: authentication failure; logname= uid=0 euid=0 "
        "tty=NODEVssh ruser= rhost=host-1.example.net  user=root"
    )
    assert old["process"]["name"] == "sshd"  # not "sshd(pam_unix)"
    assert old["log"]["syslog"]["appname"] == "sshd(pam_unix)"
    assert old["event"]["action"] == "pam_authentication_failure" and old["event"]["outcome"] == "failure"
    assert old["source"] == {"address": "host-1.example.net", "domain": "host-1.example.net"}
    assert old["user"]["name"] == "root"
    new = parse(
        "Jul  1 09:12:44 srv-app-01 sshd[2742]: pam_unix(sshd:auth): authentication failure; logname= uid=0 "
        "euid=0 tty=ssh ruser= rhost=203.0.113.106  user=root"
    )
    assert new["system"]["auth"]["pam"] == {"module": "pam_unix", "service": "sshd", "kind": "auth", "tty": "ssh"}
    assert new["source"]["ip"] == "203.0.113.106" and new["user"]["name"] == "root"
    more = parse(
        "Jul  1 09:12:44 srv-app-01 sshd[2738]: PAM 4 more authentication failures; logname= uid=0 euid=0 tty=ssh "
        "ruser= rhost=203.0.113.106  user=root"
    )
    assert more["system"]["auth"]["pam"]["repeated"] == 4 and more["event"]["outcome"] == "failure"


def test_pam_sessions_and_su_sudo_failures() -> None:
    opened = parse(
        "Jul  1 09:12:44 srv-app-01 sshd[3007]: pam_unix(sshd:session): session opened for user deploy by (uid=0)"
    )
    assert opened["event"]["action"] == "session_opened" and opened["user"] == {"name": "deploy"}
    assert opened["event"]["category"] == ["session"] and "outcome" not in opened["event"]
    su = parse(
        "Jul  1 09:12:44 srv-app-01 su[4496]: pam_unix(su:session): session opened for user tsg by ops(uid=1000)"
    )
    assert su["user"] == {"name": "ops", "effective": {"name": "tsg"}}
    sudo = parse(
        "Jul  1 09:12:44 srv-app-01 sudo: pam_unix(sudo:auth): authentication failure; logname=bob uid=1117 euid=0 "
        "tty=/dev/pts/1 ruser=alice rhost= user=root"
    )
    assert sudo["user"] == {"name": "alice", "target": {"name": "root"}} and "source" not in sudo


@pytest.mark.parametrize(
    ("message", "user", "target", "command", "outcome", "error"),
    [
        (
            "   ops.an : TTY=pts/0 ; PWD=/home/ops.an ; USER=root ; COMMAND=/bin/cat /var/log/secure",
            "ops.an",
            "root",
            "/bin/cat /var/log/secure",
            "success",
            None,
        ),
        (
            "webdev : user NOT in sudoers ; TTY=pts/1 ; PWD=/srv ; USER=root ; COMMAND=/bin/ls",
            "webdev",
            "root",
            "/bin/ls",
            "failure",
            "user NOT in sudoers",
        ),
        (
            "webdev : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/srv ; USER=postgres ; COMMAND=/usr/bin/psql",
            "webdev",
            "postgres",
            "/usr/bin/psql",
            "failure",
            "3 incorrect password attempts",
        ),
        (
            "deploy : TTY=pts/0 ; PWD=/ ; USER=root ; ENV=LANG=C ; COMMAND=/bin/sh -c echo a ; rm -rf /tmp/x",
            "deploy",
            "root",
            "/bin/sh -c echo a ; rm -rf /tmp/x",
            "success",
            None,
        ),
    ],
)
def test_sudo(message: str, user: str, target: str, command: str, outcome: str, error: str | None) -> None:
    e = parse(f"Jul  1 09:12:44 srv-app-01 sudo: {message}")
    assert e["event"]["action"] == "sudo" and e["event"]["outcome"] == outcome
    assert e["user"] == {"name": user, "effective": {"name": target}}
    assert e["process"]["command_line"] == command and e["process"]["name"] == "sudo"
    assert e["system"]["auth"]["sudo"].get("error") == error


@pytest.mark.parametrize(
    ("message", "user", "target", "outcome"),
    [
        ("Successful su for tsg by root", "root", "tsg", "success"),
        ("FAILED su for root by webdev", "webdev", "root", "failure"),
        ("+ /dev/pts/1 ops:root", "ops", "root", "success"),
        ("- /dev/pts/1 nginx:root", "nginx", "root", "failure"),
        ("(to root) ops on pts/0", "ops", "root", "success"),
    ],
)
def test_su(message: str, user: str, target: str, outcome: str) -> None:
    e = parse(f"Jul  1 09:12:44 srv-app-01 su[4496]: {message}")
    assert e["event"]["action"] == "su" and e["event"]["outcome"] == outcome
    assert e["user"] == {"name": user, "effective": {"name": target}}


def test_login_root_and_failed_login() -> None:
    root = parse("Jul  1 09:12:44 srv-app-01 login[2421]: ROOT LOGIN ON tty1")
    assert root["event"]["action"] == "login" and root["event"]["outcome"] == "success"
    assert root["user"]["name"] == "root"
    failed = parse("Jul  1 09:12:44 srv-app-01 login[2421]: FAILED LOGIN (1) on '/dev/tty1' FOR 'UNKNOWN', Bad")
    assert failed["event"]["outcome"] == "failure" and "user" not in failed


def test_unknown_auth_message_is_still_an_auth_event() -> None:
    e = parse("Jul  1 09:12:44 srv-app-01 sshd[1]: Server listening on 0.0.0.0 port 22.")
    assert e["event"]["dataset"] == "system.auth" and "action" not in e["event"]
    assert e["message"] == "Server listening on 0.0.0.0 port 22."


def test_other_programs_stay_syslog() -> None:
    e = parse("Jul  1 09:12:44 srv-app-01 kernel: eth0: link up")
    assert e["event"]["dataset"] == "syslog" and e["process"]["name"] == "kernel"


def _stream_lines(lines: list[str], **kw: object) -> list[dict]:
    stream = SyslogStream(**kw)  # type: ignore[arg-type]
    out: list[dict] = []
    for i, line in enumerate(lines):
        out.extend(stream.parse(line.encode(), source="auth.log", position=i * 100))
    return out


def test_message_repeated_counts_as_n_events_with_their_own_ids() -> None:
    events = _stream_lines(
        [
            "Jul  1 09:12:44 srv-app-01 sshd[24200]: message repeated 5 times: [ Failed password for root from "
            "203.0.113.7 port 38424 ssh2]"
        ],
        clock=YearClock(year=2026),
    )
    assert len(events) == 5 and len({e["event"]["id"] for e in events}) == 5
    assert all(e["event"]["action"] == "ssh_login" and e["user"]["name"] == "root" for e in events)
    assert [e["event"].get("sequence", 0) for e in events] == [0, 1, 2, 3, 4]
    assert events[0]["message"] == "Failed password for root from 203.0.113.7 port 38424 ssh2"


def test_last_message_repeated_copies_the_host_previous_message() -> None:
    events = _stream_lines(
        [
            "Jul  1 09:12:40 srv-a sshd[10]: Failed password for root from 203.0.113.7 port 1 ssh2",
            "Jul  1 09:12:41 srv-b kernel: unrelated",
            "Jul  1 09:12:44 srv-a sshd[10]: last message repeated 3 times",
        ],
        clock=YearClock(year=2026),
    )
    assert len(events) == 5
    copies = events[2:]
    assert all(c["user"]["name"] == "root" and c["@timestamp"] == "2026-07-01T02:12:44.000Z" for c in copies)
    assert copies[0]["event"]["original"].endswith("last message repeated 3 times")
    assert len({e["event"]["id"] for e in events}) == 5


def test_the_year_follows_the_sequence_not_today() -> None:
    lines = [
        "Dec 30 23:00:00 srv sshd[1]: Failed password for root from 203.0.113.7 port 1 ssh2",
        "Dec 31 23:59:59 srv sshd[1]: Failed password for root from 203.0.113.7 port 1 ssh2",
        "Jan  1 00:00:05 srv sshd[1]: Failed password for root from 203.0.113.7 port 1 ssh2",
        "Dec 31 23:59:58 srv sshd[1]: a late line from the old year",
        "Feb 10 08:00:00 srv sshd[1]: Accepted password for deploy from 203.0.113.7 port 1 ssh2",
    ]
    events = _stream_lines(lines, clock=YearClock(year=2005))
    assert [e["@timestamp"][:10] for e in events] == [
        "2005-12-30",
        "2005-12-31",
        "2005-12-31",  # 00:00:05 on 1 January 2006 at +07:00 is still 31 December in UTC
        "2005-12-31",
        "2006-02-10",
    ]
    # without a year, the anchor (the file's modification time) decides: a log written up to 5 Jan 2006
    anchored = _stream_lines(lines, clock=YearClock(anchor=datetime(2006, 1, 5, tzinfo=UTC)))
    assert anchored[0]["@timestamp"].startswith("2005-12-30")


def test_timezone_is_applied_to_yearless_timestamps() -> None:
    from zoneinfo import ZoneInfo

    [e] = _stream_lines(
        ["Jul  1 09:00:00 srv sshd[1]: Server listening"], tz=ZoneInfo("Europe/Paris"), clock=YearClock(year=2026)
    )
    assert e["@timestamp"] == "2026-07-01T07:00:00.000Z"


def test_line_reader_sniffs_each_format() -> None:
    reader = LineReader(anchor=NOW)
    samples = {
        "syslog": b"Jul  1 09:12:44 srv sshd[1]: Failed password for root from 203.0.113.7 port 1 ssh2",
        "pri": b"<38>Jul  1 09:12:44 srv sshd[1]: Failed password for root from 203.0.113.7 port 1 ssh2",
        "fortigate": b'date=2026-07-01 time=09:00:00 logid="0000000013" type="traffic" subtype="forward" '
        b"srcip=10.1.1.2 dstip=203.0.113.5 srcport=5000 dstport=443 proto=6 action=deny",
        "filterlog": b"5,,,1000000103,igb0,match,block,in,4,0x0,,64,0,0,DF,6,tcp,60,203.0.113.5,10.1.1.2,4444,22,0,S",
        "iptables": b"[wan-in]IN=eth0 OUT= MAC= SRC=203.0.113.5 DST=10.1.1.2 LEN=60 PROTO=TCP SPT=1 DPT=22",
        "access": b'203.0.113.5 - - [01/Jul/2026:09:00:00 +0700] "GET / HTTP/1.1" 200 10 "-" "curl/8"',
        "json": b'{"ts": "2026-07-01T02:00:00Z", "msg": "hello"}',
    }
    datasets = {
        name: reader.parse(raw, source="mixed", position=i)[0]["event"]["dataset"]
        for i, (name, raw) in enumerate(samples.items())
    }
    assert datasets == {
        "syslog": "system.auth",
        "pri": "system.auth",
        "fortigate": "fortinet.firewall",
        "filterlog": "pfsense.log",
        "iptables": "iptables.log",
        "access": "nginx.access",
        "json": "portal.app",
    }


def test_line_reader_keeps_unreadable_firewall_lines_as_errors() -> None:
    [e] = LineReader("firewall").parse(b"hello world", source="fw", position=0)
    assert e["event"]["kind"] == "pipeline_error" and "not a firewall line" in e["error"]["message"]
    with pytest.raises(ValueError, match="unknown format"):
        LineReader("csv")


@pytest.mark.parametrize("head", ["Failed password for ", "Invalid user ", "Accepted password for ", "sudo: x : "])
def test_hostile_long_messages_parse_in_linear_time(head: str) -> None:
    import time

    program = "sudo" if head.startswith("sudo") else "sshd[1]"
    body = head.removeprefix("sudo: ") + "a from b " * 100_000
    started = time.perf_counter()
    e = parse(f"Jul  1 09:12:44 srv {program}: {body}")
    assert time.perf_counter() - started < 1.0
    assert e["event"]["dataset"] == "system.auth"
