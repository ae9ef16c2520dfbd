"""Syslog receivers on loopback: UDP, TCP (both framings), TLS; framing edge cases; no crash on junk."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

from sentinel.collect.syslog import Framer, Listen, SyslogOptions, SyslogSource


class Receiver:
    def __init__(self, specs: list[str], **opts: object) -> None:
        self.src = SyslogSource("t", [Listen.parse(s) for s in specs], SyslogOptions(**opts))  # type: ignore[arg-type]
        self.events: list[dict] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)
        self.thread.start()
        assert self.src.ready.wait(5)

    def _run(self) -> None:
        for batch in self.src.batches(self.stop):
            self.events += batch.events

    def port(self, transport: str) -> int:
        return next(b.port for b in self.src.bound if b.transport == transport)

    def wait_for(self, n: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while len(self.events) < n:
            assert time.monotonic() < deadline, f"got {len(self.events)} of {n}"
            time.sleep(0.02)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(10)
        assert not self.thread.is_alive()


@pytest.fixture
def rx() -> Receiver:
    r = Receiver(["udp://127.0.0.1:0", "tcp://127.0.0.1:0"])
    yield r
    r.close()


def test_udp_messages_and_peer_address(rx: Receiver) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(200):
        s.sendto(f"<13>Jul  1 10:00:00 h app: udp {i}".encode(), ("127.0.0.1", rx.port("udp")))
    rx.wait_for(200)
    assert sorted(e["message"] for e in rx.events) == sorted(f"udp {i}" for i in range(200))
    assert rx.events[0]["log"]["source"]["address"].startswith("127.0.0.1:")
    assert len({e["event"]["id"] for e in rx.events}) == 200
    assert rx.src.status().read == 200 and rx.src.status().dropped == 0


def test_tcp_octet_counting_and_newline_framing_on_one_connection(rx: Receiver) -> None:
    with socket.create_connection(("127.0.0.1", rx.port("tcp"))) as c:
        m1 = b"<13>1 2026-07-01T03:00:00Z h app - - - multi\nline message"
        m2 = b"<13>Jul  1 10:00:00 h app: newline framed"
        c.sendall(f"{len(m1)} ".encode() + m1 + m2 + b"\n")
        payload = b"".join(
            f"{len(m)} ".encode() + m for m in (f"<13>Jul  1 10:00:00 h a: n{i}".encode() for i in range(100))
        )
        for i in range(0, len(payload), 7):  # dribble the stream in tiny pieces
            c.sendall(payload[i : i + 7])
    rx.wait_for(102)
    messages = [e["message"] for e in rx.events]
    assert messages[:2] == ["multi\nline message", "newline framed"]
    assert messages[2:] == [f"n{i}" for i in range(100)]


def test_junk_is_counted_and_the_receiver_keeps_working(rx: Receiver) -> None:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for junk in (b"", b"\x00\xff\xfe garbage", b"<>", b"<13", b"A" * 70000):
        u.sendto(junk[:65000], ("127.0.0.1", rx.port("udp")))
    with socket.create_connection(("127.0.0.1", rx.port("tcp"))) as c:
        c.sendall(b"99999999999 x\n12abc <13>y\n\x00\x00\n")
    time.sleep(0.3)
    with socket.create_connection(("127.0.0.1", rx.port("tcp"))) as c:
        c.sendall(b"<13>Jul  1 10:00:00 h app: still alive\n")
    deadline = time.monotonic() + 15

    def errors() -> list[dict]:
        return [e for e in rx.events if e["event"]["kind"] == "pipeline_error"]

    # 5 junk datagrams; on TCP the absurd length swallows the rest of that stream: 1 error, kept
    while len(errors()) < 6 or not any(e.get("message") == "still alive" for e in rx.events):
        assert time.monotonic() < deadline, f"{len(errors())} errors so far"
        time.sleep(0.02)
    time.sleep(0.2)
    assert len(errors()) == 6
    assert rx.src.status().parse_errors == 6
    assert all(e["event"]["original"] is not None for e in errors())


def test_framer_edge_cases() -> None:
    f = Framer(max_message=10)
    assert f.feed(b"5 ab") == []
    assert f.feed(b"cde3 xyz") == [(b"abcde", None), (b"xyz", None)]
    out = f.feed(b"20 0123456789")
    assert out[0][0] == b"0123456789" and "longer" in (out[0][1] or "")
    assert f.feed(b"abcdefghij4 next") == [(b"next", None)]  # the rest of the long frame was skipped
    assert f.feed(b"<1>a\r\n<1>b") == [(b"<1>a", None)]
    assert f.close() == [(b"<1>b", None)]
    g = Framer(max_message=100)
    assert g.feed(b"7 <1>") == []
    assert g.close()[0][1] == "connection closed in the middle of an octet-counted frame"


def test_listen_address_errors() -> None:
    with pytest.raises(ValueError, match="udp://, tcp:// or tls://"):
        Listen.parse("http://0.0.0.0:514")
    with pytest.raises(ValueError, match="host and a port"):
        Listen.parse("udp://0.0.0.0")
    assert str(Listen.parse("tcp://[::1]:6514")) == "tcp://[::1]:6514"


def test_port_in_use_is_a_clear_error() -> None:
    busy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    src = SyslogSource("t", [Listen("tcp", "127.0.0.1", busy.getsockname()[1])])
    with pytest.raises(OSError, match=r"cannot listen on tcp://127\.0\.0\.1"):
        next(src.batches(threading.Event()))
    busy.close()


def _self_signed(tmp_path: Path) -> tuple[str, str]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


def test_tls(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    r = Receiver(["tls://127.0.0.1:0"], tls_cert=cert, tls_key=key)
    try:
        ctx = ssl.create_default_context(cafile=cert)
        with (
            socket.create_connection(("127.0.0.1", r.port("tls"))) as raw,
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as c,
        ):
            for i in range(20):
                m = f"<13>1 2026-07-01T03:00:00Z h app - - - tls {i}".encode()
                c.sendall(f"{len(m)} ".encode() + m)
        # a client that does not speak TLS is refused and counted, the listener stays up
        with socket.create_connection(("127.0.0.1", r.port("tls"))) as plain:
            plain.sendall(b"<13>plain text\n")
        r.wait_for(20)
        assert sorted(e["message"] for e in r.events) == sorted(f"tls {i}" for i in range(20))
    finally:
        r.close()
    assert any("TLS handshake" in err for err in r.src.status().errors)


def test_tls_needs_a_certificate() -> None:
    with pytest.raises(ValueError, match="tls_cert and tls_key"):
        SyslogSource("t", [Listen.parse("tls://127.0.0.1:6514")])


def test_a_repeated_message_counts_as_n_events(rx: Receiver) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(
        b"<38>Jul  1 10:00:00 srv sshd[9]: message repeated 4 times: [ Failed password for root from "
        b"203.0.113.7 port 22 ssh2]",
        ("127.0.0.1", rx.port("udp")),
    )
    s.close()
    rx.wait_for(4)
    assert len(rx.events) == 4 and len({e["event"]["id"] for e in rx.events}) == 4
    assert {e["user"]["name"] for e in rx.events} == {"root"} and rx.events[0]["event"]["dataset"] == "system.auth"
