"""ARI's REST side, lean: a few persistent HTTP/1.1 connections on asyncio streams, and the
operations of the api-docs the server itself serves, read once per connection.

Each call of an operation is checked against those api-docs (the operation exists, every
parameter is declared, the required ones are given), so a request that this Asterisk would not
understand fails here before anything is sent. A general HTTP client (httpx under asyncswagger)
spent about a millisecond of the event loop's time building and sending each request; with 500
calls that was the loop's whole time (issue 22). This one writes one prebuilt request line and
reads a Content-Length body: tens of microseconds.

Credentials travel only in the ``Authorization`` header; nothing here logs a URL (an originate's
``endpoint`` holds the resident's phone number).
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

_KEEP = ":/,@"  # readable in Asterisk's own logs, and unambiguous in a query value


class HttpFailed(Exception):
    """The request could not be completed (connection refused, reset, timed out, bad reply)."""


@dataclass(frozen=True)
class Response:
    status: int
    reason: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class HttpPool:
    """Up to ``size`` keep-alive connections to one server; a request waits for a free one. A
    connection that the server closed while idle (Asterisk's ``session_inactivity``) is noticed
    when its reply starts with the end of the stream, and the request goes out once more on a new
    connection - the server cannot have read it."""

    def __init__(self, url: str, authorization: str, *, size: int, timeout_s: float) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"ARI URL must be http(s)://host:port, not {parts.scheme}://...")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        # https (Asterisk's tlsenable): the system's trusted certificates, host name checked
        self.tls = ssl.create_default_context() if parts.scheme == "https" else None
        self.prefix = parts.path.rstrip("/")
        self.timeout_s = timeout_s
        self._head = f"Host: {parts.netloc.rpartition('@')[2]}\r\nAuthorization: {authorization}\r\n" \
                     "Accept: application/json\r\n"
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._slots = Slots(size)

    async def request(self, method: str, target: str, body: bytes | None = None) -> Response:
        """``target``: path and query under the URL's path, e.g. ``/ari/channels?endpoint=...``."""
        head = f"{method} {self.prefix}{target} HTTP/1.1\r\n{self._head}"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        else:
            head += "Content-Length: 0\r\n\r\n"
        data = head.encode() + (body or b"")
        async with self._slots:
            try:
                async with asyncio.timeout(self.timeout_s):
                    while self._idle:
                        conn = self._idle.pop()
                        reply = await _exchange(conn, data, method, reused=True)
                        if reply is not None:
                            return self._keep(conn, *reply)
                    conn = await asyncio.open_connection(self.host, self.port, ssl=self.tls)
                    reply = await _exchange(conn, data, method, reused=False)
                    assert reply is not None
                    return self._keep(conn, *reply)
            except TimeoutError:
                raise HttpFailed(f"no reply within {self.timeout_s:g} s") from None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
                raise HttpFailed(type(exc).__name__) from None

    def _keep(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], response: Response,
              keep: bool) -> Response:
        if keep:
            self._idle.append(conn)
        else:
            conn[1].close()
        return response

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for _, writer in idle:
            writer.close()


class Slots:
    """Up to ``size`` holders at once (``async with``); the others wait, first come first served.
    asyncio's Semaphore (3.11) looks at every waiter on each acquire while any are queued: with
    hundreds of requests of 500 calls waiting for 16 connections (the fake's replies slow on a
    loaded machine), 7% of the event loop's samples went on those looks (issue 22). Here an acquire and a release cost the same however
    many wait."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiting: deque[asyncio.Future[None]] = deque()  # a cancelled one is skipped when its turn comes

    async def __aenter__(self) -> None:
        if self._free:  # never while any wait: a slot freed with waiters goes to the first of them
            self._free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed the slot as it was cancelled: pass it on
                self._release()
            raise

    async def __aexit__(self, *_exc: object) -> None:
        self._release()

    def _release(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1


async def _exchange(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], data: bytes, method: str, *,
                    reused: bool) -> tuple[Response, bool] | None:
    """Send one request and read its reply, and whether the connection stays usable. None: a
    reused connection had been closed by the server before this request (send it elsewhere)."""
    reader, writer = conn
    try:
        writer.write(data)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        writer.close()
        if reused and (not isinstance(exc, asyncio.IncompleteReadError) or not exc.partial):
            return None
        raise
    except BaseException:  # cancelled or timed out mid-exchange: the connection's state is unknown
        writer.close()
        raise
    try:
        status_line, *lines = head[:-4].decode("latin-1").split("\r\n")
        version, status, reason = (status_line.split(" ", 2) + [""])[:3]
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await _chunked(reader)
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        elif method == "HEAD" or status in ("204", "304"):
            body = b""
        else:
            body, keep = await reader.read(), False
    except BaseException:
        writer.close()
        raise
    return Response(int(status), reason, body), keep


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
    while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
        pass
    return b"".join(parts)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # /channels/{channelId}/play
    params: dict[str, tuple[str, bool]]  # name -> (paramType: path/query/body, required)

    def target(self, name: str, args: dict[str, Any]) -> tuple[str, bytes | None]:
        """The path and query of a call with ``args`` (None values left out), and its JSON body."""
        unknown = [k for k in args if k not in self.params]
        if unknown:
            raise TypeError(f"ARI operation {name!r} has no parameter(s) {', '.join(unknown)}")
        path, query, body = self.path, [], {}
        for param, (kind, required) in self.params.items():
            value = args.get(param)
            if value is None:
                if required:
                    raise TypeError(f"ARI operation {name!r}: missing required parameter {param!r}")
                continue
            if kind == "body":
                body[param] = value
                continue
            text = _text(value)
            if kind == "path":
                path = path.replace("{" + param + "}", quote(text, safe=""))
            else:
                query.append(f"{param}={quote(text, safe=_KEEP)}")
        target = "/ari" + path + ("?" + "&".join(query) if query else "")
        return target, json.dumps(body).encode() if body else None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


class Operations:
    """Every operation of the server's api-docs, by resource and nickname."""

    def __init__(self, table: dict[tuple[str, str], Operation]) -> None:
        self.table = table

    @classmethod
    async def load(cls, get: Callable[[str], Awaitable[Response]]) -> Operations:
        """From the api-docs that ``get`` (a GET of a path under the server's URL) reads."""
        listing = (await get("/ari/api-docs/resources.json")).json()
        table: dict[tuple[str, str], Operation] = {}
        for api in listing["apis"]:
            resource = api["path"].rsplit("/", 1)[1].split(".")[0]  # /api-docs/channels.{format}
            declaration = (await get("/ari" + api["path"].replace("{format}", "json"))).json()
            for entry in declaration["apis"]:
                for op in entry["operations"]:
                    params = {p["name"]: (p["paramType"], bool(p.get("required"))) for p in op.get("parameters", ())}
                    table[resource, op["nickname"]] = Operation(op["httpMethod"], entry["path"], params)
        return cls(table)

    def get(self, resource: str, nickname: str) -> Operation:
        try:
            return self.table[resource, nickname]
        except KeyError:
            raise TypeError(f"this Asterisk's ARI has no operation {resource}.{nickname}") from None

