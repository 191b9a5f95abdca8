"""HTTP/JSON round trips (issue 4): one keep-alive client against the server in a child process.

Run: .venv/bin/python -m pytest bench/test_bench_http.py --benchmark-enable
The full load table (peak, 50% and 90% of peak, p50/p99): .venv/bin/python bench/http_load.py
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from http_load import AT, ServerChild, _complete, requests


@pytest.fixture(scope="module")
def server() -> Iterator[ServerChild]:
    child = ServerChild()
    yield child
    child.close()


class Client:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def roundtrip(self, req: bytes) -> bytes:
        self.sock.sendall(req)
        while not (n := _complete(self.buf)):
            self.buf += self.sock.recv(65536)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def client(server: ServerChild) -> Iterator[Client]:
    c = Client(server.port)
    yield c
    c.close()


def test_get_route(benchmark, client: Client) -> None:
    reqs = iter(requests(200_000))
    out = benchmark(lambda: client.roundtrip(next(reqs)))
    assert out.startswith(b"HTTP/1.1 200")
    assert json.loads(out.partition(b"\r\n\r\n")[2])["action"] == "FORWARD"


def test_post_route(benchmark, client: Client) -> None:
    body = json.dumps({"called": "4006666666", "caller": "13800138000", "time": AT}).encode()
    req = b"POST /v1/route HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )
    out = benchmark(client.roundtrip, req)
    assert out.startswith(b"HTTP/1.1 200")


def test_healthz(benchmark, client: Client) -> None:
    out = benchmark(client.roundtrip, b"GET /healthz HTTP/1.1\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200")
