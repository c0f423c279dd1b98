"""The fake is only useful if it is strict: its checks against the api-docs fail when they should,
and it behaves as the real Asterisk was seen to behave."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest
from ari_fake import AriSpec, FakeAsterisk, Mute, Resident, Silent
from asterisk_world import wait_for
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from ivr.channels.asterisk.ari import AriConfig, connect


def test_requests_outside_the_api_docs_are_violations(ari_spec: AriSpec) -> None:
    ok, problems = ari_spec.check_request("POST", "/channels/abc/record", {
        "name": "r", "format": "wav", "beep": "True", "terminateOn": "*#", "maxSilenceSeconds": "-1", "foo": "1"},
        None)
    assert ok is not None and ok.nickname == "record"
    assert sorted(problems) == sorted([
        "channels.record: beep='True': booleans must be 'true' or 'false'",
        "channels.record: terminateOn='*#' not in ['none', 'any', '*', '#']",
        "channels.record: maxSilenceSeconds=-1 outside {'valueType': 'RANGE', 'min': 0}",
        "channels.record: unknown query parameter 'foo'"])
    assert ari_spec.check_request("POST", "/channels/abc/play", {}, None)[1] == [
        "channels.play: required query parameter 'media' missing"]
    assert ari_spec.check_request("POST", "/channels/abc/flyaway", {}, None)[1] == [
        "POST /channels/abc/flyaway: no such ARI operation"]
    assert ari_spec.check_request("POST", "/channels/create", {"endpoint": "PJSIP/1", "app": "a"}, None)[0].nickname \
        == "create"  # a literal path segment wins over {channelId}
    assert ari_spec.check_request("POST", "/channels", {"endpoint": "PJSIP/1", "app": "a"},
                                  {"variables": {"A": "1"}, "bogus": 1})[1] == [
        "channels.originate: unknown body field 'bogus'"]


def test_events_outside_events_json_are_violations(ari_spec: AriSpec) -> None:
    channel = {"id": "c", "name": "PJSIP/x", "state": "Up", "protocol_id": "", "caller": {"name": "", "number": ""},
               "connected": {"name": "", "number": ""}, "accountcode": "", "language": "en",
               "creationtime": "2026-11-02T18:30:00.000+0800",
               "dialplan": {"context": "c", "exten": "s", "priority": 1, "app_name": "", "app_data": ""}}
    event = {"type": "StasisStart", "application": "minyi", "timestamp": "2026-11-02T18:30:00.000+0800",
             "args": ["1"], "channel": channel}
    assert ari_spec.check_event(event) == []
    assert ari_spec.check_event({**event, "args": None}) == ["StasisStart.args: expected a list"]
    broken = {**event, "channel": {**channel, "state": "Talking", "dialplan": {"context": "c"}}}
    assert set(ari_spec.check_event(broken)) >= {
        "StasisStart.channel.state: 'Talking' not in ['Down', 'Rsrved', 'OffHook', 'Dialing', 'Ring', 'Ringing', "
        "'Up', 'Busy', 'Dialing Offhook', 'Pre-ring', 'Unknown']",
        "StasisStart.channel.dialplan: DialplanCEP.exten is required"}
    assert ari_spec.check_event({"type": "ChannelDtmfReceived", "application": "minyi",
                                 "timestamp": "2026-11-02T18:30:00.000+0800", "digit": "1", "channel": channel}) \
        == ["ChannelDtmfReceived: ChannelDtmfReceived.duration_ms is required"]
    assert ari_spec.check_event({**event, "type": "Dial2"}) == ["event type 'Dial2' is not declared"]


def _rest(fake: FakeAsterisk) -> httpx.Client:
    config = AriConfig(fake.url, fake.username, fake.password)
    return httpx.Client(base_url=fake.url + "/ari", headers={"Authorization": config.authorization})


def test_the_fake_behaves_like_asterisk(fake: FakeAsterisk) -> None:
    fake.residents["+861"] = Resident([Silent(), Mute()], ring_s=100)
    with _rest(fake) as http:
        assert httpx.get(fake.url + "/ari/channels").status_code == 401  # credentials required
        r = http.post("/channels", params={"endpoint": "PJSIP/+861@trunk", "app": "minyi", "channelId": "c1"})
        assert r.status_code == 200 and r.json()["state"] == "Down"
        # Ringing: the channel enters Stasis only when answered, so requests on it are refused.
        assert http.post("/channels/c1/answer").status_code == 409
        assert http.post("/channels/c1/play", params={"media": "sound:x"}).status_code == 409
        assert http.post("/channels", params={"endpoint": "PJSIP/+861@trunk", "app": "minyi",
                                              "channelId": "c1"}).status_code == 409
        assert http.delete("/playbacks/nope").status_code == 404
        assert http.post("/channels", params={"endpoint": "nonsense", "app": "minyi"}).status_code == 400
        assert http.post("/channels", params={"endpoint": "PJSIP/+861@trunk", "app": "minyi",
                                              "beep": "1"}).status_code == 400
        assert http.delete("/channels/c1", params={"reason": "normal"}).status_code == 204
    assert fake.violations == ["channels.originate: unknown query parameter 'beep'"]
    assert [t.split(":")[0] for t in fake.traps] == ["originate while the app 'minyi' is not registered"]
    fake.violations.clear()  # all on purpose
    fake.traps.clear()


def test_a_silent_recording_runs_until_stopped(fake: FakeAsterisk) -> None:
    """As seen on Asterisk: no audio means no silence detection and no length limit; only a
    stop (or the terminate key, or a hang-up) ends the recording, and it is empty."""
    fake.residents["+862"] = Resident(ring_s=0.1)

    async def scenario() -> list[dict[str, Any]]:
        async with connect(AriConfig(fake.url, fake.username, fake.password)) as ari, \
                anyio.create_task_group() as tasks:
            send, received = anyio.create_memory_object_stream[dict[str, Any]](100)

            async def read() -> None:
                async for event in ari.events():
                    await send.send(event)
            tasks.start_soon(read)

            async def until(kind: str) -> dict[str, Any]:
                while (event := await received.receive())["type"] != kind:
                    pass
                return event

            await ari.originate("PJSIP/+862@trunk", channel_id="c2", app_args="7", caller_id=None, timeout_s=30,
                                formats=None)
            await until("StasisStart")
            await ari.record("c2", "r2", max_seconds=2, max_silence_s=1, beep=True, terminate_on="#")
            await until("RecordingStarted")
            with anyio.move_on_after(20 * fake.scale):  # ten times the maximum length
                await until("RecordingFinished")
                raise AssertionError("a silent recording ended on its own")
            await ari.stop_recording("r2")
            finished = await until("RecordingFinished")
            await ari.hangup("c2")
            tasks.cancel_scope.cancel()
            return [finished]

    [finished] = anyio.run(scenario)
    assert finished["recording"]["state"] == "done" and finished["recording"]["duration"] == 0


@pytest.mark.parametrize("clean", [False, True])
def test_dropping_the_websocket_with_nobody_connected_is_harmless(fake: FakeAsterisk, clean: bool) -> None:
    fake.drop_websocket(clean=clean)
    assert not fake.connected


def _events_socket(fake: FakeAsterisk, app: str | None = None) -> ClientConnection:
    url = fake.url.replace("http", "ws", 1) + f"/ari/events?app={app or fake.app}"
    return ws_connect(url, additional_headers={"Authorization": AriConfig(fake.url, fake.username,
                                                                          fake.password).authorization})


def _next_event(ws: ClientConnection, timeout_s: float = 5.0) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(ws.recv(timeout=timeout_s))
    return event


def test_the_app_is_replaced_deactivated_and_removed_as_asterisk_does(fake: FakeAsterisk) -> None:
    """res_stasis.c and ari_websockets.c of 22.10.1: the newer WebSocket takes the app, the older
    gets ApplicationReplaced and then nothing, though it stays open; when the holder closes, the
    app stays listed (inactive) while a channel is subscribed to it - and, as a real Asterisk
    showed, after the channel ends, until some app registers or unregisters."""
    fake.residents["+863"] = Resident([Silent()], ring_s=0.1)
    with _rest(fake) as http, _events_socket(fake) as first:
        assert http.get("/applications/minyi").status_code == 200
        http.post("/channels", params={"endpoint": "PJSIP/+863@trunk", "app": "minyi", "channelId": "c3"})
        while _next_event(first)["type"] != "StasisStart":
            pass
        with _events_socket(fake) as second:
            assert _next_event(first)["type"] == "ApplicationReplaced"
            http.post("/channels/c3/answer")
            assert http.post("/channels/c3/play", params={"media": "sound:x"}).status_code == 201
            assert _next_event(second)["type"] == "PlaybackStarted"  # the holder hears the app's events
        with pytest.raises(TimeoutError):  # open, and silent
            first.recv(timeout=20 * fake.scale)
        listed = http.get("/applications/minyi")
        assert listed.status_code == 200 and listed.json()["channel_ids"] == ["c3"] and not fake.connected
        assert http.delete("/channels/c3").status_code == 204
        wait_for(lambda: http.get("/applications/minyi").json()["channel_ids"] == [], what="the call to end")
        assert http.get("/applications/minyi").status_code == 200
        with _events_socket(fake, app="another-app"):
            pass
        wait_for(lambda: http.get("/applications/minyi").status_code == 404, what="the app to go")
        with pytest.raises(TimeoutError):
            first.recv(timeout=5 * fake.scale)


def test_a_restart_cuts_every_connection_and_forgets_every_channel(fake: FakeAsterisk) -> None:
    fake.residents["+864"] = Resident([Silent()], ring_s=0.1)
    with _rest(fake) as http, _events_socket(fake) as events:
        http.post("/channels", params={"endpoint": "PJSIP/+864@trunk", "app": "minyi", "channelId": "c4"})
        while _next_event(events)["type"] != "StasisStart":
            pass
        fake.restart(refuse_s=0.5)
        seen = []
        with pytest.raises(ConnectionClosed):
            while True:
                seen.append(json.loads(events.recv(timeout=5)))
        assert [(e["type"], e.get("cause")) for e in seen] == [  # then the connection is cut
            ("ChannelHangupRequest", 4), ("StasisEnd", None), ("ChannelDestroyed", 0)]
        assert http.get("/channels").status_code == 503
        wait_for(lambda: http.get("/channels").status_code == 200, what="Asterisk to be back")
        assert http.get("/channels").json() == []
        assert http.get("/applications/minyi").status_code == 404
