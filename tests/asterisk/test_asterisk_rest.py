"""The lean ARI REST client against a bare HTTP server: keep-alive connections that the server
closes while idle (Asterisk's session_inactivity) are replaced without losing the request, chunked
and Content-Length bodies are read, and an operation is checked against the api-docs."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from ivr.channels.asterisk.rest import HttpFailed, HttpPool, Operation, Slots


async def _serve(replies: list[bytes], *, close_after_each: bool) -> tuple[asyncio.Server, list[bytes]]:
    """A server answering each request with the next reply; with ``close_after_each`` it closes
    the connection after answering, without saying so (as an idle timeout would, later)."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            seen.append(head.split(b"\r\n", 1)[0])
            writer.write(replies.pop(0))
            await writer.drain()
            if close_after_each:
                break
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0), seen


def _pool(server: asyncio.Server) -> HttpPool:
    port = server.sockets[0].getsockname()[1]
    return HttpPool(f"http://127.0.0.1:{port}", "Basic eDp5", size=2, timeout_s=2.0)


def test_a_connection_closed_while_idle_is_replaced_and_the_request_still_answered() -> None:
    async def run() -> list[int]:
        ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
        server, seen = await _serve([ok, ok, ok], close_after_each=True)
        pool = _pool(server)
        statuses = []
        for _ in range(3):
            statuses.append((await pool.request("POST", "/ari/channels/x/answer")).status)
            await asyncio.sleep(0.05)  # the server has closed the kept connection meanwhile
        await pool.aclose()
        server.close()
        assert seen == [b"POST /ari/channels/x/answer HTTP/1.1"] * 3  # each request reached it once
        return statuses

    assert asyncio.run(run()) == [200, 200, 200]


def test_chunked_and_empty_bodies_are_read_and_the_connection_kept() -> None:
    async def run() -> list[bytes]:
        chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n[1,\r\n2\r\n2]\r\n0\r\n\r\n"
        empty = b"HTTP/1.1 204 No Content\r\n\r\n"
        server, _seen = await _serve([chunked, empty], close_after_each=False)
        pool = _pool(server)
        bodies = [(await pool.request("GET", "/ari/channels")).body, (await pool.request("DELETE", "/ari/x")).body]
        await pool.aclose()
        server.close()
        return bodies

    assert asyncio.run(run()) == [b"[1,2]", b""]


def test_no_server_is_a_clear_failure() -> None:
    async def run() -> None:
        server, _ = await _serve([], close_after_each=True)
        pool = _pool(server)
        server.close()
        await server.wait_closed()
        await pool.request("GET", "/ari/asterisk/info")

    with pytest.raises(HttpFailed, match="ConnectionRefusedError"):
        asyncio.run(run())


def test_an_operation_is_checked_against_the_api_docs_before_it_is_sent() -> None:
    play = Operation("POST", "/channels/{channelId}/play",
                     {"channelId": ("path", True), "media": ("query", True), "playbackId": ("query", False)})
    target, body = play.target("play", {"channelId": "minyi-1-ab", "media": ["sound:a", "sound:b"], "playbackId": None})
    assert (target, body) == ("/ari/channels/minyi-1-ab/play?media=sound:a,sound:b", None)
    with pytest.raises(TypeError, match="no parameter"):
        play.target("play", {"channelId": "c", "media": ["m"], "lang": "zh"})
    with pytest.raises(TypeError, match="missing required parameter 'media'"):
        play.target("play", {"channelId": "c"})


def test_an_https_url_speaks_tls_and_checks_the_certificate(tmp_path: Path) -> None:
    """Asterisk with ``tlsenable``: the pool talks TLS, and a certificate nobody trusts is
    refused (no request goes out in the clear, none to an impostor)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    assert HttpPool("https://asterisk.example:8089", "Basic eDp5", size=1, timeout_s=1.0).port == 8089
    assert HttpPool("https://asterisk.example", "Basic eDp5", size=1, timeout_s=1.0).port == 443
    with pytest.raises(ValueError, match="http"):
        HttpPool("ftp://asterisk.example", "Basic eDp5", size=1, timeout_s=1.0)

    async def main() -> None:
        served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        served.load_cert_chain(cert, key)
        handshakes: list[bool] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            handshakes.append(True)
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=served)
        port = server.sockets[0].getsockname()[1]
        pool = HttpPool(f"https://127.0.0.1:{port}", "Basic eDp5", size=1, timeout_s=2.0)
        assert pool.tls is not None and pool.tls.verify_mode == ssl.CERT_REQUIRED
        with pytest.raises(HttpFailed):
            await pool.request("GET", "/ari/asterisk/info")
        server.close()
        await server.wait_closed()

    asyncio.run(main())


def test_requests_beyond_the_connections_wait_in_order_and_a_cancelled_one_gives_up_its_turn() -> None:
    async def run() -> list[str]:
        slots, order = Slots(2), []

        async def hold(name: str, seconds: float) -> None:
            async with slots:
                order.append(name)
                await asyncio.sleep(seconds)

        holders = [asyncio.create_task(hold(n, 0.05)) for n in ("a", "b")]
        await asyncio.sleep(0)
        waiting = [asyncio.create_task(hold(n, 0.0)) for n in ("c", "d", "e")]
        await asyncio.sleep(0)
        waiting[1].cancel()  # d: gone before its turn, takes none
        await asyncio.gather(*holders, waiting[0], waiting[2])
        async with slots, slots:  # both slots free again
            order.append("f")
        return order

    assert asyncio.run(run()) == ["a", "b", "c", "e", "f"]
