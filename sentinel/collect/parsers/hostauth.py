"""Host authentication messages (auth.log / secure): sshd, PAM, sudo, su, login, klogind, ftpd.

The syslog header gives the program; the message holds who logged in from
where, which Sigma rules need as fields. :func:`parse_auth` reads the message of
a known program into ECS the way Elastic's ``system.auth`` integration lays it
out (``event.action: ssh_login``, ``system.auth.ssh.event: Failed``,
``user.effective.name`` for sudo's target), plus ``process.command_line`` for
sudo and ``source.address`` for every remote peer (PAM's ``rhost`` may be a
host name, so rules group by ``source.address``).

Attempt counting: sshd writes one ``Failed <method> for ...`` line per attempt
and its PAM module writes an ``authentication failure`` line for the first
attempt of a connection. Rules count the former; the latter carries
``system.auth.pam.*`` so it can be told apart.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

AUTH_DATASET = "system.auth"

# Programs whose messages belong to the system.auth dataset (after removing a "(pam_unix)" suffix).
AUTH_PROGRAMS = frozenset(
    {
        "sshd", "sudo", "su", "login", "klogind", "ftpd", "vsftpd", "proftpd", "passwd", "chpasswd", "useradd",
        "userdel", "usermod", "groupadd", "groupdel", "gpasswd", "chage", "chfn", "sshd-session", "systemd-logind",
        "gdm", "gdm-password", "polkitd", "pkexec", "cron", "crond", "unix_chkpwd", "runuser", "doas",
    }
)  # fmt: skip

_PAM_TAG = re.compile(r"^([\w.-]+)\((pam_\w+)\)$")  # "sshd(pam_unix)": RHEL 4-era tag of a PAM module's line
_PAM_PREFIX = re.compile(r"^(pam_\w+)\(([\w.-]+):(\w+)\): ")
_KV = re.compile(r"(\w+)=(\S*)")

_ACCEPTED = re.compile(
    r"^Accepted (?P<method>\S+) for (?P<user>.{0,256}?) from (?P<addr>\S+) port (?P<port>\d+)"
    r"(?: ssh\d?)?(?:: (?P<sig>.+))?$"
)
_FAILED = re.compile(
    r"^Failed (?P<method>\S+) for (?P<invalid>(?:invalid|illegal) user )?(?P<user>.{0,256}?) from (?P<addr>\S+)"
    r"(?: port (?P<port>\d+))?(?: ssh\d?)?(?:: (?P<sig>.+?))?(?: \[preauth\])?$"
)
_INVALID = re.compile(r"^(?:Invalid|Illegal) user (?P<user>.{0,256}?) from (?P<addr>\S+)(?: port (?P<port>\d+))?$")
_PAM_ERROR = re.compile(
    r"^error: PAM: (?P<reason>.+?) for (?P<invalid>illegal user |invalid user )?(?P<user>\S*) from (?P<addr>\S+)$"
)
_MAX_TRIES = re.compile(
    r"^(?:error: )?maximum authentication attempts exceeded for (?:invalid user )?(?P<user>.{0,256}?) "
    r"from (?P<addr>\S+)(?: port (?P<port>\d+))?"
)
_DISCONNECT = re.compile(
    r"^(?:error: )?(?:Received disconnect|Disconnected|Connection closed|Connection reset) (?:from|by) "
    r"(?:(?:invalid|authenticating) user (?P<user>\S*) |user (?P<known>\S+) )?(?P<addr>[0-9A-Fa-f.:]+)"
    r"(?: port (?P<port>\d+))?"
)
_NO_IDENT = re.compile(r"^Did not receive identification string from (?P<addr>\S+)(?: port (?P<port>\d+))?")
_BREAKIN = re.compile(
    r"^(?:reverse mapping checking getaddrinfo for (?P<host>\S+) \[(?P<addr>[^\]]+)\] failed"
    r"|Address (?P<addr2>\S+) maps to (?P<host2>\S+), but this does not map back to the address)"
    r"(?: - POSSIBLE BREAK-IN ATTEMPT!)?"
)
_SUDO = re.compile(r"^\s*(?P<user>\S+) : (?P<rest>.*)$")
_SU_OK = re.compile(r"^(?P<ok>Successful|FAILED) su for (?P<target>\S+) by (?P<user>\S+)$")
_SU_TTY = re.compile(r"^(?P<sign>[+-]) (?P<tty>\S+) (?P<user>[^:\s]+):(?P<target>\S+)$")
_SU_RHEL = re.compile(r"^\(to (?P<target>\S+)\) (?P<user>\S+) on (?P<tty>\S+)$")
_SESSION = re.compile(r"^session (?P<what>opened|closed) for user (?P<user>\S+)(?: by (?P<by>\S*?)(?:\(uid=\d+\))?)?$")
_LOGIN_FAIL = re.compile(
    r"^FAILED LOGIN \(?(?P<n>\d+)\)? (?:on '?(?P<tty>[^' ]+)'? )?(?:FROM (?P<addr>\S+) )?FOR '?(?P<user>[^', ]+)'?"
)
_LOGIN_ROOT = re.compile(r"^ROOT LOGIN +(?:ON|on) '?(?P<tty>[^' ]+)'?(?: FROM (?P<addr>\S+))?")
_KLOGIN_FAIL = re.compile(r"^Authentication failed from (?P<addr>\S+)")
_FTP_CONN = re.compile(r"^connection from (?P<addr>\S+)")
_PAM_MORE = re.compile(r"^PAM (?P<n>\d+) more authentication failures?; (?P<kv>.*)$")


def is_auth_program(app: str | None) -> bool:
    """Whether syslog program ``app`` writes to the auth log (``sshd``, ``sudo``, ``sshd(pam_unix)``, ...)."""
    return app is not None and program_name(app).lower() in AUTH_PROGRAMS


def program_name(app: str) -> str:
    """``sshd(pam_unix)`` -> ``sshd``: the program, without the PAM module an old syslog tag appends."""
    m = _PAM_TAG.match(app)
    return m.group(1) if m else app


def parse_auth(app: str, message: str) -> dict[str, Any]:
    """ECS fields of one auth-log message of program ``app``; an unknown message yields the envelope only.

    Never raises for unexpected text: a message this module does not know is
    still an auth-log event (dataset, process), searchable by its text.
    """
    name = program_name(app)
    doc: dict[str, Any] = {"event": {"dataset": AUTH_DATASET, "kind": "event"}}
    legacy = _PAM_TAG.match(app)
    text = message.rstrip()
    if legacy:
        _pam(doc, legacy.group(2), name, text)
        return doc
    pam = _PAM_PREFIX.match(text)
    if pam:
        _pam(doc, pam.group(1), pam.group(2), text[pam.end() :], pam.group(3))
        return doc
    handler = _HANDLERS.get(name.lower())
    if handler is not None:
        handler(doc, text)
    return doc


# -- helpers ---------------------------------------------------------------------------------------


def _set_source(doc: dict[str, Any], addr: str | None, port: str | None = None) -> None:
    """``source.address`` always; ``source.ip`` when it is an address, else ``source.domain``."""
    if not addr or addr in ("-", "UNKNOWN", "::"):
        return
    addr = addr.strip("[]")
    ip = _ip(addr) or (_ip(addr[:-1]) if addr.endswith(":") else None)  # "from 10.0.2.2: 11: bye"
    if ip is not None:
        src: dict[str, Any] = {"address": ip, "ip": ip}
    else:
        src = {"address": addr, "domain": addr}
    if port and port.isdigit() and int(port) <= 65535:
        src["port"] = int(port)
    doc["source"] = src


def _ip(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.split("%", 1)[0]))
    except ValueError:
        return None


def _auth(doc: dict[str, Any], action: str, outcome: str | None, *, session: bool = False) -> None:
    ev = doc["event"]
    ev["action"] = action
    ev["category"] = ["authentication", "session"] if session and outcome == "success" else ["authentication"]
    if outcome == "success":
        ev["type"] = ["authentication_success", "info"]
    elif outcome == "failure":
        ev["type"] = ["authentication_failure", "info"]
    else:
        ev["type"] = ["info"]
    if outcome:
        ev["outcome"] = outcome


def _user(doc: dict[str, Any], name: str | None, **extra: str) -> None:
    if name and name not in ("-", "UNKNOWN"):
        doc.setdefault("user", {})["name"] = name
    for key, value in extra.items():
        if value:
            doc.setdefault("user", {})[key] = {"name": value}


def _system(doc: dict[str, Any], section: str, **values: Any) -> None:
    kept = {k: v for k, v in values.items() if v not in (None, "")}
    if kept:
        doc.setdefault("system", {}).setdefault("auth", {}).setdefault(section, {}).update(kept)


# -- sshd ------------------------------------------------------------------------------------------


def _sshd(doc: dict[str, Any], text: str) -> None:
    if m := _ACCEPTED.match(text):
        _auth(doc, "ssh_login", "success", session=True)
        _user(doc, m["user"])
        _set_source(doc, m["addr"], m["port"])
        _system(doc, "ssh", event="Accepted", method=m["method"], signature=m["sig"])
    elif m := _FAILED.match(text):
        _auth(doc, "ssh_login", "failure")
        _user(doc, m["user"])
        _set_source(doc, m["addr"], m["port"])
        _system(doc, "ssh", event="Failed", method=m["method"], invalid_user=bool(m["invalid"]) or None)
    elif m := _INVALID.match(text):
        _auth(doc, "ssh_login", "failure")
        _user(doc, m["user"])
        _set_source(doc, m["addr"], m["port"])
        _system(doc, "ssh", event="Invalid")
    elif m := _PAM_ERROR.match(text):
        _auth(doc, "ssh_login", "failure")
        _user(doc, m["user"])
        _set_source(doc, m["addr"])
        _system(doc, "ssh", event="Failed", method="pam", error=m["reason"])
    elif m := _MAX_TRIES.match(text):
        _auth(doc, "ssh_max_attempts_exceeded", "failure")
        _user(doc, m["user"])
        _set_source(doc, m["addr"], m["port"])
    elif m := _PAM_MORE.match(text):
        _pam_failure(doc, "sshd", m["kv"], repeated=int(m["n"]))
    elif m := _BREAKIN.match(text):
        doc["event"].update(action="ssh_reverse_mapping_failed", category=["network"], type=["info"])
        _set_source(doc, m["addr"] or m["addr2"])
        if host := m["host"] or m["host2"]:
            _system(doc, "ssh", claimed_hostname=host)
        if "BREAK-IN" in text:
            _system(doc, "ssh", possible_break_in=True)
    elif m := _NO_IDENT.match(text):
        doc["event"].update(action="ssh_no_identification", category=["network"], type=["connection", "end"])
        _set_source(doc, m["addr"], m["port"])
        _system(doc, "ssh", dropped_ip=doc.get("source", {}).get("ip"))
    elif m := _DISCONNECT.match(text):
        doc["event"].update(action="ssh_disconnect", category=["network", "session"], type=["connection", "end"])
        _user(doc, m["user"] or m["known"])
        _set_source(doc, m["addr"], m["port"])
        if "[preauth]" in text:
            _system(doc, "ssh", preauth=True)
    elif text.startswith("input_userauth_request: invalid user "):
        # repeats the "Invalid user" line of the same connection, without the address
        _user(doc, text.removeprefix("input_userauth_request: invalid user ").removesuffix(" [preauth]"))
        _system(doc, "ssh", event="Invalid")


# -- PAM -------------------------------------------------------------------------------------------

# Services where PAM's ``ruser`` (or ``logname``) is who asks and ``user`` whom they want to become.
_SWITCH_USER = frozenset({"su", "su-l", "sudo", "sudo-i", "runuser", "runuser-l", "pkexec", "doas"})


def _pam(doc: dict[str, Any], module: str, service: str, text: str, kind: str | None = None) -> None:
    """A PAM module's message: authentication failures, sessions, unknown users."""
    _system(doc, "pam", module=module, service=service, kind=kind)
    if text.startswith("authentication failure;"):
        _pam_failure(doc, service, text.removeprefix("authentication failure;"))
    elif m := _SESSION.match(text):
        opened = m["what"] == "opened"
        doc["event"].update(
            action="session_opened" if opened else "session_closed",
            category=["session"],
            type=["start" if opened else "end"],
        )
        target, by = m["user"], (m["by"] or "").strip()
        if service.lower() in _SWITCH_USER and by:
            _user(doc, by, effective=target)
        else:
            _user(doc, target)
    elif text.startswith("check pass; user unknown"):
        _auth(doc, "pam_user_unknown", "failure")
    elif m := _PAM_MORE.match(text):
        _pam_failure(doc, service, m["kv"], repeated=int(m["n"]))


def _pam_failure(doc: dict[str, Any], service: str, kv_text: str, repeated: int | None = None) -> None:
    kv = dict(_KV.findall(kv_text))
    _auth(doc, "pam_authentication_failure", "failure")
    _set_source(doc, kv.get("rhost"))
    target = kv.get("user")
    if service.lower() in _SWITCH_USER:
        _user(doc, kv.get("ruser") or kv.get("logname"), target=target or "")
    else:
        _user(doc, target)
    _system(doc, "pam", service=service, tty=kv.get("tty"), repeated=repeated)


# -- sudo, su, login ------------------------------------------------------------------------------


def _sudo(doc: dict[str, Any], text: str) -> None:
    m = _SUDO.match(text)
    if m is None or "=" not in m["rest"]:
        return
    user, rest = m["user"], m["rest"]
    parts = [p.strip() for p in rest.split(" ; ")]
    fields: dict[str, str] = {}
    error = None
    for i, part in enumerate(parts):
        key, eq, value = part.partition("=")
        if eq and key.isupper():
            if key == "COMMAND":  # the command may itself hold " ; ": it runs to the end of the line
                value = " ; ".join([value, *parts[i + 1 :]])
                fields[key] = value
                break
            fields[key] = value
        elif i == 0:
            error = part
    target = fields.get("USER", "root")
    command = fields.get("COMMAND")
    ev = doc["event"]
    ev["action"] = "sudo"
    if error:
        ev.update(category=["authentication"], type=["authentication_failure", "info"], outcome="failure")
    else:
        ev.update(category=["process"], type=["start"], outcome="success")
    _user(doc, user, effective=target)
    if command:
        doc["process"] = {"command_line": command, "executable": command.split(" ", 1)[0]}
    _system(doc, "sudo", user=target, command=command, pwd=fields.get("PWD"), tty=fields.get("TTY"), error=error)


def _su(doc: dict[str, Any], text: str) -> None:
    ok = None
    if m := _SU_OK.match(text):
        ok, user, target = m["ok"] == "Successful", m["user"], m["target"]
    elif m := _SU_TTY.match(text):
        ok, user, target = m["sign"] == "+", m["user"], m["target"]
    elif m := _SU_RHEL.match(text):
        ok, user, target = True, m["user"], m["target"]
    if ok is None:
        return
    _auth(doc, "su", "success" if ok else "failure")
    _user(doc, user, effective=target)
    _system(doc, "su", target=target)


def _login(doc: dict[str, Any], text: str) -> None:
    if m := _LOGIN_FAIL.match(text):
        _auth(doc, "login", "failure")
        _user(doc, m["user"])
        _set_source(doc, m["addr"])
    elif m := _LOGIN_ROOT.match(text):
        _auth(doc, "login", "success", session=True)
        _user(doc, "root")
        _set_source(doc, m["addr"])


def _klogind(doc: dict[str, Any], text: str) -> None:
    if m := _KLOGIN_FAIL.match(text):
        _auth(doc, "kerberos_login", "failure")
        _set_source(doc, m["addr"])


def _ftpd(doc: dict[str, Any], text: str) -> None:
    if m := _FTP_CONN.match(text):
        doc["event"].update(action="ftp_connection", category=["network"], type=["connection", "start"])
        _set_source(doc, m["addr"].rstrip(","))


_HANDLERS = {
    "sshd": _sshd,
    "sshd-session": _sshd,
    "sudo": _sudo,
    "su": _su,
    "login": _login,
    "klogind": _klogind,
    "ftpd": _ftpd,
}
