"""The local HTTP API's request framing, over a real socket: what API Gateway refuses, it
refuses (400), a chunked body arrives whole, and a body that never comes times out instead of
holding the connection for good."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tts_local.stack.functions import Invocation
from tts_local.stack.http_api import ApiServer, HttpResponse, RouteTable

BODY_TIMEOUT = 0.5


@pytest.fixture
def server() -> Iterator[ApiServer]:
    def echo(method: str, path: str, body: bytes) -> HttpResponse:
        return HttpResponse(200, [("content-type", "application/octet-stream")], body)

    def no_function(name: str, event: object) -> Invocation:
        raise AssertionError("no route is declared: no function may be invoked")

    api = ApiServer(RouteTable([]), no_function, echo, port=0, body_timeout=BODY_TIMEOUT)
    api.start()
    yield api
    api.stop()


def exchange(server: ApiServer, raw: bytes) -> tuple[int, bytes, bytes]:
    """Send raw bytes, read until the server closes or answers one response: (status, body,
    anything after the first response)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(raw)
        connection.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, rest = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")[1:]
        if line.lower().startswith(b"content-length:")
    )
    return status, rest[:length], rest[length:]


def test_a_plain_request_is_echoed(server):
    raw = b"POST /_local/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    assert exchange(server, raw)[:2] == (200, b"hello")


def test_a_header_line_without_a_colon_is_refused_not_read_as_a_second_request(server):
    raw = (
        b"POST /_local/echo HTTP/1.1\r\nHost: x\r\nno colon here\r\nContent-Length: 5\r\n\r\nhello"
    )
    status, _, after = exchange(server, raw)
    assert status == 400
    assert after == b""  # one answer, then the connection closes


def test_two_different_content_lengths_are_refused(server):
    raw = (
        b"POST /_local/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 2\r\n\r\n"
        b"hello"
    )
    assert exchange(server, raw)[0] == 400


def test_content_length_beside_transfer_encoding_is_refused(server):
    raw = (
        b"POST /_local/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    )
    assert exchange(server, raw)[0] == 400


def test_a_chunked_body_arrives_whole(server):
    raw = (
        b"POST /_local/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'4\r\n{"a"\r\nA;ext=1\r\n: "0123456\r\n2\r\n"}\r\n0\r\nX-Trailer: t\r\n\r\n'
    )
    assert exchange(server, raw)[:2] == (200, b'{"a": "0123456"}')


@pytest.mark.parametrize(
    "chunks",
    [b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n", b"5\r\nhel"],
    ids=["size not hex", "chunk not followed by CRLF", "ends inside a chunk"],
)
def test_a_malformed_chunked_body_is_refused(server, chunks):
    raw = b"POST /_local/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
    assert exchange(server, raw)[0] == 400


def test_an_unknown_transfer_encoding_is_refused(server):
    raw = b"POST /_local/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nxx"
    assert exchange(server, raw)[0] in (400, 501)


def test_a_body_shorter_than_its_content_length_times_out(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        # The socket stays open for writing: the server must give up on its own.
        connection.sendall(b"POST /_local/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhi")
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 408"), received[:80]
