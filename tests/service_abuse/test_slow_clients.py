"""Slow-loris style clients against a real uvicorn (issue 8, part 3).

A stalled or trickling body is cut off with 408 once ``SCREENING_BODY_TIMEOUT_S`` has passed since the request
began (3 s here), and connections that send their headers or body slowly do not keep other clients from being
served. Headers that never finish do not reach the app at all; uvicorn keeps such a connection open, and the
reverse proxy's ``client_header_timeout`` bounds it (see SECURITY.md).
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from .conftest import PROFILE, Server

pytestmark = pytest.mark.slow
TEXT = "Workers said the employer keeps their passports and overtime is compulsory."


def _connect(server: Server) -> socket.socket:
    s = socket.create_connection((server.host, server.port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def _read_response(s: socket.socket, within: float) -> tuple[int, dict, float]:
    """Status, JSON body and seconds waited for the answer on ``s`` (status 0: the server closed it)."""
    started = time.monotonic()
    s.settimeout(within)
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pytest.fail(f"no answer within {within} s")
    waited = time.monotonic() - started
    if not data:
        return 0, {}, waited
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body or b"{}"), waited


def _length(data: bytes) -> int:
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    for line in head.split("\r\n"):
        if line.startswith("content-length:"):
            return int(line.split(":", 1)[1])
    return 0


def _request_head(length: int) -> bytes:
    return (f"POST /v1/screen HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


def test_a_stalled_body_is_answered_408_after_the_body_timeout(server: Server) -> None:
    s = _connect(server)
    try:
        s.sendall(_request_head(1000) + b'{"text": "')
        status, body, waited = _read_response(s, within=15)
    finally:
        s.close()
    assert status == 408 and body["error"]["code"] == "body_timeout", (status, body)
    assert 2.5 < waited < 8


def test_a_body_trickling_in_is_cut_off_at_the_timeout_not_kept_alive_by_each_byte(server: Server) -> None:
    payload = json.dumps({"text": TEXT, "profile": PROFILE}).encode()
    s = _connect(server)
    started = time.monotonic()
    try:
        s.sendall(_request_head(len(payload)))
        for byte in payload:  # one byte every 0.2 s: the whole body would take ~20 s
            try:
                s.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            s.settimeout(0.2)
            try:
                if s.recv(1, socket.MSG_PEEK):
                    break  # the server has answered
            except TimeoutError:
                pass
        status, body, _ = _read_response(s, within=15)
    finally:
        s.close()
    assert status == 408 and body["error"]["code"] == "body_timeout", (status, body)
    assert time.monotonic() - started < 8


@pytest.fixture()
def slow_crowd(server: Server) -> Iterator[list[socket.socket]]:
    """100 connections stuck in their headers and 30 stuck in their bodies, held open during the test."""
    crowd = []
    try:
        for n in range(100):
            s = _connect(server)
            s.sendall(f"POST /v1/screen HTTP/1.1\r\nHost: test\r\nX-Slow-{n}: ".encode())
            crowd.append(s)
        for _ in range(30):
            s = _connect(server)
            s.sendall(_request_head(10_000) + b"{")
            crowd.append(s)
        yield crowd
    finally:
        for s in crowd:
            s.close()


def test_slow_clients_do_not_keep_others_from_being_served(server: Server, slow_crowd: list[socket.socket]) -> None:
    latencies = []
    with httpx.Client(base_url=server.base, timeout=10) as client:
        for _ in range(20):
            started = time.monotonic()
            r = client.post("/v1/screen", json={"text": TEXT, "profile": PROFILE})
            latencies.append(time.monotonic() - started)
            assert r.status_code == 200, r.text
            for s in slow_crowd[:5]:  # the crowd keeps trickling
                try:
                    s.sendall(b"x")
                except OSError:
                    pass
        assert client.get("/readyz").status_code == 200
    # Not a speed check: a request held up behind the crowd would wait for it to be cut off (the 3 s body
    # timeout) or for the client's 10 s timeout; every one answered sooner was served beside it.
    assert max(latencies) < 3.0, latencies
