"""Events a real Asterisk 22.10.1 sent (tests/asterisk/recorded/*.json, recorded with Local
channels and the dialplan of docs/asterisk.md): they pass the fake's checks against events.json,
the channel reads the right hang-up cause from them, and the fake says the same in the same cases."""

from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path
from typing import Any

import anyio
import pytest
from ari_fake import AriSpec, FakeAsterisk, Resident

from ivr.channels.asterisk.ari import AriConfig, AriUnavailable, connect
from ivr.channels.asterisk.calls import Call
from ivr.channels.asterisk.causes import CONNECTION_LOST, unanswered_status
from ivr.channels.asterisk.line import CallLine
from ivr.channels.asterisk.options import Timing
from survey.vocabulary import CallStatus

RECORDED = Path(__file__).parent / "recorded"


def _recorded(name: str) -> list[dict[str, Any]]:
    return [row["event"] for row in json.loads((RECORDED / f"{name}.json").read_text())["events"]]


def _ours(events: list[dict[str, Any]]) -> str:
    """The channel the app originated (the first half of the Local channel)."""
    for event in events:
        channel = event.get("channel") or event.get("peer")
        if channel and channel["id"].startswith("minyi-") and ";" not in channel["id"]:
            return str(channel["id"])
    raise AssertionError("no channel of the app")


def _replay(events: list[dict[str, Any]]) -> Call:
    """What the call's line makes of the events, as the runner would feed them."""
    call = Call(1, None, 30, channel_id=_ours(events))  # type: ignore[arg-type]
    line = CallLine(call, None, Timing(), None)  # type: ignore[arg-type]  # only ends_call is used
    for event in events:
        line.ends_call(event)
    return call


@pytest.mark.parametrize("name", sorted(p.stem for p in RECORDED.glob("*.json")))
def test_real_events_pass_the_fakes_checks(ari_spec: AriSpec, name: str) -> None:
    for event in _recorded(name):
        assert ari_spec.check_event(event) == [], event["type"]


@pytest.mark.parametrize(("name", "cause", "status"), [
    ("local_busy", 17, CallStatus.BUSY),  # ChannelDestroyed says 0; the Dial event says BUSY
    ("local_congestion", 34, CallStatus.FAILED),
    ("local_ring_out", 19, CallStatus.NO_ANSWER),
    ("local_unallocated", 1, CallStatus.NON_WORKING),
])
def test_the_cause_of_an_unanswered_call(name: str, cause: int, status: str) -> None:
    events = _recorded(name)
    destroyed = [e for e in events if e["type"] == "ChannelDestroyed" and e["channel"]["id"] == _ours(events)]
    call = _replay(events)
    assert call.ended and call.cause == cause and unanswered_status(call.cause) == status
    if name in ("local_busy", "local_congestion"):
        assert destroyed[0]["cause"] == 0  # what a real Asterisk sends for the half the app originated


def test_a_soft_hangup_request_carries_no_q850_cause() -> None:
    """Our hang-up: ChannelHangupRequest {"cause": 32, "soft": true} (AST_SOFTHANGUP_EXPLICIT),
    StasisEnd, then ChannelDestroyed 16. Up to StasisEnd, no cause is known yet."""
    events = _recorded("our_hangup")
    soft = next(e for e in events if e["type"] == "ChannelHangupRequest" and e["channel"]["id"] == _ours(events))
    assert (soft["cause"], soft["soft"]) == (32, True)
    until_end = events[:next(i for i, e in enumerate(events) if e["type"] == "StasisEnd") + 1]
    call = _replay(until_end)
    assert call.ended and call.cause is None
    assert _replay(events).cause == 16
    assert _replay(_recorded("resident_hangup")).cause == 16  # the resident's: not soft, Q.850 16
    assert _replay(_recorded("amd_machine")).cause == 16


def test_a_recording_without_audio_ends_by_itself_empty() -> None:
    events = _recorded("recording_no_audio")
    started = next(i for i, e in enumerate(events) if e["type"] == "RecordingStarted")
    finished = next(e for e in events if e["type"] == "RecordingFinished")
    assert finished["recording"]["state"] == "done" and finished["recording"]["duration"] == 0
    rows = json.loads((RECORDED / "recording_no_audio.json").read_text())["events"]
    assert 3.5 < rows[started + 1]["at_s"] - rows[started]["at_s"] < 5  # two 2 s waits for a frame
    with_hash = _recorded("recording_hash")
    kinds = [e["type"] for e in with_hash if e["type"] in ("ChannelDtmfReceived", "RecordingFinished")]
    assert kinds == ["ChannelDtmfReceived", "RecordingFinished"]  # the # comes first


@pytest.mark.parametrize(("outcome", "name"), [("busy", "local_busy"), ("congestion", "local_congestion")])
def test_the_fake_ends_a_local_channel_as_asterisk_does(fake: FakeAsterisk, outcome: str, name: str) -> None:
    fake.residents["8613900000017"] = Resident(outcome=outcome, ring_s=0.1)

    async def scenario() -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        async with connect(AriConfig(fake.url, fake.username, fake.password)) as ari:
            await ari.originate("Local/8613900000017@minyi-residents", channel_id="minyi-1-ab", app_args="1",
                                caller_id=None, timeout_s=30, formats="ulaw")
            async for event in ari.events():
                seen.append(event)
                if event["type"] == "ChannelDestroyed" and event["channel"]["id"] == "minyi-1-ab":
                    return seen
        return seen

    def summary(events: list[dict[str, Any]]) -> tuple[list[str], dict[str, int]]:
        ours = _ours(events)
        statuses = [e["dialstatus"] for e in events if e["type"] == "Dial" and e["peer"]["id"] == ours]
        causes = {("ours" if e["channel"]["id"] == ours else "other half"): e["cause"]
                  for e in events if e["type"] == "ChannelDestroyed"}
        return statuses[-1:], causes

    faked = anyio.run(scenario)
    fake_status, fake_causes = summary(faked)
    real_status, real_causes = summary(_recorded(name))
    assert fake_status == real_status and fake_causes.get("ours") == real_causes["ours"] == 0


@pytest.mark.parametrize("name", ["asterisk_restart", "asterisk_restart_ringing"])
def test_a_call_cut_by_an_asterisk_restart_is_connection_lost(name: str) -> None:
    """`core restart now`: a soft hang-up with the shutdown flag (4), then cause 0 - and, while
    ringing, a Dial NOANSWER, which is no resident's answer."""
    events = _recorded(name)
    soft = next(e for e in events if e["type"] == "ChannelHangupRequest" and e["channel"]["id"] == _ours(events))
    assert (soft["cause"], soft["soft"]) == (4, True)
    call = _replay(events)
    assert call.ended and call.cause is None and call.lost_cause == CONNECTION_LOST


def test_the_fake_restarts_as_asterisk_does(fake: FakeAsterisk) -> None:
    """The events of our channel, in order, as a real Asterisk sent them in a restart."""
    fake.residents["8613800138000"] = Resident(ring_s=0.1, by_prompt={})
    fake.residents["8613900000019"] = Resident(ring_s=600)

    async def scenario(number: str, channel_id: str, answer: bool) -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        async with connect(AriConfig(fake.url, fake.username, fake.password)) as ari:
            await ari.originate(f"Local/{number}@minyi-residents", channel_id=channel_id, app_args="1",
                                caller_id=None, timeout_s=30 if answer else 60, formats="ulaw")
            with contextlib.suppress(AriUnavailable):
                async for event in ari.events():
                    seen.append(event)
                    if answer and event["type"] == "StasisStart" or not answer and event.get("dialstatus") == "RINGING":
                        threading.Thread(target=fake.restart, kwargs={"refuse_s": 0.0}).start()
        return seen

    def ours(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        channel = _ours(events)
        shut = next(i for i, e in enumerate(events) if e.get("cause") == 4)
        return [(e["type"], e.get("cause"), e.get("soft"), e.get("dialstatus")) for e in events[shut:]
                if (e.get("channel") or e.get("peer") or {}).get("id") == channel and e["type"] != "ChannelVarset"]

    assert ours(anyio.run(scenario, "8613800138000", "minyi-1-ab", True)) == ours(_recorded("asterisk_restart"))
    assert ours(anyio.run(scenario, "8613900000019", "minyi-2-ab", False)) == ours(_recorded("asterisk_restart_ringing"))
