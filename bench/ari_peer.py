"""The floor under bench_ari's real-Asterisk figures: a lean ARI client, with no database and no
interview engine, holding the same calls on the same Asterisk.

Each call: answer, play a question's prompt, and on each key stop the prompt playing (barge-in,
the stop not awaited) and play the next question's at once; after ``--keys`` keys the goodbye, then
hang up. The same endpoint, prompts and measure as ``bench_ari.py`` with ``ARI_URL`` set: from the
timestamp of each ChannelDtmfReceived event to that of the next PlaybackStarted on that channel
(Asterisk's own clock), and the CPU of this process and of Asterisk per call. Its REST and events
go through aiohttp, not minyi's client, so the floor shares no code with what it measures.

What it tells: if this client's latency also grows at a number of calls, the machine (Asterisk and
the residents' SIP phones, sipp, on the same cores) has reached its limit there, whatever the app.

    ARI_URL=http://127.0.0.1:8088 ARI_USERNAME=minyi ARI_PASSWORD=... \\
        ASTERISK_ENDPOINT='PJSIP/{digits}@sipp' .venv/bin/python bench/ari_peer.py --calls 300,500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_ari import _asterisk_cpu_s, _env, _stamp  # noqa: E402
from survey.questionnaire import load_bundled  # noqa: E402

APP = "minyi-peer"


@dataclass
class _Call:
    keys: int = 0
    playing: str | None = None  # the playback that may still be heard
    pressed_at: float | None = None  # Asterisk's time of the last key not yet followed by a prompt
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Peer:
    def __init__(self, http: aiohttp.ClientSession, base: str, prompts: list[str], keys: int) -> None:
        self.http, self.base, self.prompts, self.keys = http, base, prompts, keys
        self.calls: dict[str, _Call] = {}
        self.latencies: list[float] = []
        self.refused = self.unfinished = 0  # originates refused; calls whose end never came

    async def rest(self, method: str, path: str, **params: str) -> int:
        async with self.http.request(method, f"{self.base}/ari{path}", params=params) as reply:
            await reply.read()
            return reply.status

    def spawn(self, method: str, path: str, **params: str) -> None:
        asyncio.get_running_loop().create_task(self.rest(method, path, **params))

    def play(self, channel_id: str, call: _Call, media: str) -> None:
        call.playing = f"peer-{uuid.uuid4().hex}"
        self.spawn("POST", f"/channels/{channel_id}/play", media=media, playbackId=call.playing)

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        channel_id = event["channel"]["id"] if "channel" in event else event.get("playback", {}).get("target_uri", "")[8:]
        call = self.calls.get(channel_id)
        if call is None:
            return
        if kind == "StasisStart":
            self.spawn("POST", f"/channels/{channel_id}/answer")
            self.play(channel_id, call, self.prompts[0])
        elif kind == "ChannelDtmfReceived":
            call.keys += 1
            call.pressed_at = _stamp(event["timestamp"])
            if call.playing:
                self.spawn("DELETE", f"/playbacks/{call.playing}")
            last = call.keys >= self.keys
            self.play(channel_id, call, "sound:minyi/zh/msg/goodbye_complete" if last
                      else self.prompts[call.keys % len(self.prompts)])
        elif kind == "PlaybackStarted" and call.pressed_at is not None:
            self.latencies.append(_stamp(event["timestamp"]) - call.pressed_at)
            call.pressed_at = None
        elif kind == "PlaybackFinished" and call.keys >= self.keys and event["playback"]["id"] == call.playing:
            self.spawn("DELETE", f"/channels/{channel_id}")
        elif kind in ("StasisEnd", "ChannelDestroyed"):
            call.done.set()

    async def events(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                self.on_event(json.loads(message.data))

    async def run(self, endpoint: str, calls: int) -> float:
        """Originate ``calls`` calls (16 at a time) and wait for all to end; the calls placed a second."""
        run = random.Random().randrange(10_000)
        gate = asyncio.Semaphore(16)

        async def originate(i: int) -> None:
            channel_id = f"peer-{run:04d}-{i}"
            self.calls[channel_id] = _Call()
            formats = {"formats": "ulaw"} if endpoint.startswith("Local/") else {}  # as minyi (options.formats_for)
            async with gate:
                status = await self.rest("POST", "/channels", endpoint=endpoint.format(digits=f"8615{run:04d}{i:05d}"),
                                         app=APP, channelId=channel_id, timeout="60", **formats)
            if status >= 400:  # refused: no event will come for it
                self.refused += 1
                self.calls[channel_id].done.set()

        began = time.monotonic()
        await asyncio.gather(*(originate(i) for i in range(calls)))
        rate = calls / (time.monotonic() - began)
        try:  # a call lasts about 80 s; one whose end never came is counted, not waited for
            await asyncio.wait_for(asyncio.gather(*(c.done.wait() for c in self.calls.values())), 300)
        except TimeoutError:
            self.unfinished = sum(not c.done.is_set() for c in self.calls.values())
        return rate


async def level(calls: int, keys: int) -> dict[str, float]:
    base = _env("URL").rstrip("/")
    auth = {"Authorization": aiohttp.encode_basic_auth(_env("USERNAME", "minyi"), _env("PASSWORD"))}
    prompts = [f"sound:minyi/zh/{q.id}/text" for q in load_bundled().questions]
    connector = aiohttp.TCPConnector(limit=16)
    async with aiohttp.ClientSession(headers=auth, connector=connector) as http, \
            http.ws_connect(f"{base.replace('http', 'ws', 1)}/ari/events?app={APP}") as ws:
        peer = Peer(http, base, prompts, keys)
        reader = asyncio.create_task(peer.events(ws))
        ast0, cpu0, wall0 = _asterisk_cpu_s(), time.process_time(), time.monotonic()
        rate = await peer.run(_endpoint(), calls)
        cpu, wall, ast1 = time.process_time() - cpu0, time.monotonic() - wall0, _asterisk_cpu_s()
        reader.cancel()
    lat = sorted(peer.latencies)
    if peer.refused or peer.unfinished:
        print(f"  {peer.refused} originates refused, {peer.unfinished} calls never ended")
    return {"calls": calls, "placed_per_s": rate, "wall_s": wall, "keys": len(lat),
            "cpu_ms_per_call": 1000 * cpu / calls, "cpu_ms_per_key": 1000 * cpu / max(len(lat), 1),
            "ast_ms_per_call": float("nan") if ast0 is None or ast1 is None else 1000 * (ast1 - ast0) / calls,
            "p50_ms": 1000 * statistics.median(lat) if lat else float("nan"),
            "p99_ms": 1000 * lat[int(0.99 * (len(lat) - 1))] if lat else float("nan")}


def _endpoint() -> str:
    return os.environ.get("ASTERISK_ENDPOINT", "Local/{digits}@minyi-bench-residents")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", default="300", help="simultaneous calls per run, comma-separated")
    parser.add_argument("--keys", type=int, default=16, help="keys a resident presses (bench/sipp: 16)")
    args = parser.parse_args()
    print(f"lean peer on the real Asterisk at {_env('URL')}, endpoint {_endpoint()}")
    print(f"{'calls':>6} {'placed/s':>8} {'wall s':>7} {'CPU ms/call':>11} {'(ast)':>7} {'keys':>6} {'CPU ms/key':>10} "
          f"{'DTMF->next prompt p50':>22} {'p99':>8}")
    for calls in (int(x) for x in args.calls.split(",")):
        r = asyncio.run(level(calls, args.keys))
        print(f"{r['calls']:>6.0f} {r['placed_per_s']:>8.0f} {r['wall_s']:>7.1f} {r['cpu_ms_per_call']:>11.1f} "
              f"{r['ast_ms_per_call']:>7.0f} {r['keys']:>6.0f} {r['cpu_ms_per_key']:>10.2f} {r['p50_ms']:>19.1f} ms "
              f"{r['p99_ms']:>5.1f} ms")


if __name__ == "__main__":
    main()
