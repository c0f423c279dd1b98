"""The channel around the app: the dialer leaving calls to a `minyi ari` process, credentials that
never reach a log, prompt audio installed where Asterisk plays it from, the command line."""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest
from ari_fake import FakeAsterisk, Resident, answers
from asterisk_world import COMPLETE, SCALE, SQLITE_ONLY, World, wait_for, wait_until_idle
from typer.testing import CliRunner

from ivr.channels.asterisk import AsteriskChannel, AsteriskOptions, Timing, install_prompts, media_uri
from ivr.channels.asterisk.ari import AriUnavailable
from ivr.channels.asterisk.media import PromptAudioError
from ivr.channels.asterisk.options import endpoint_for, formats_for
from ivr.engine import Prompt
from ivr.prompts import PromptAudio, all_prompts, recording_name
from minyi.cli import app as minyi
from survey.config import load_settings
from survey.questionnaire import load_bundled
from survey.vocabulary import CallStatus, InterviewStatus

NUMBER = "+8613800138000"


@SQLITE_ONLY
def test_a_dialer_can_leave_the_calls_to_minyi_ari(fake: FakeAsterisk, world: World, settings, sessions, clock,
                                                   open_channel) -> None:
    options = AsteriskOptions.from_settings(settings, timing=Timing(scale=SCALE))
    dialer = AsteriskChannel(settings, sessions, clock, serve=False, options=options).start()
    try:
        with pytest.raises(AriUnavailable, match="minyi ari"):  # nobody serves the app yet
            dialer.place_call(world.dial(NUMBER))
        server = open_channel()  # what `minyi ari` runs
        fake.residents[NUMBER] = Resident(answers(*COMPLETE))
        wait_for(lambda: fake.connected, what="minyi ari's events connection")
        request = world.dial(NUMBER)
        assert dialer.place_call(request) is None
        assert dialer.lines_in_use() == 1
        wait_until_idle(dialer)
        wait_until_idle(server)
    finally:
        dialer.close()
    out = world.outcome(request.attempt_id)
    assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE
    assert out.attempt.started_at is not None and out.attempt.answered_at is not None


@SQLITE_ONLY
def test_credentials_and_numbers_never_reach_a_log(fake: FakeAsterisk, world: World, open_channel,
                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake.residents[NUMBER] = Resident(answers(*COMPLETE[:3]))  # then silence: timeouts, a break-off
    channel = open_channel()
    channel.place_call(world.dial(NUMBER))
    wait_until_idle(channel)
    fake.drop_websocket(refuse_s=0.2)  # and a reconnect, with its warnings
    channel.place_call(world.dial("+8613800138001"))  # once the new WebSocket is up
    wait_until_idle(channel)
    secret = fake.password
    basic = base64.b64encode(f"{fake.username}:{secret}".encode()).decode()
    assert len(caplog.records) > 20  # the handshake, requests and call steps were logged ...
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert "POST /ari/channels: 200" in logged  # the originates among them
    assert secret not in logged and basic not in logged  # ... without the password
    assert "13800138000" not in logged and "13800138001" not in logged  # ... or the numbers dialled
    assert secret not in repr(channel.config) and secret not in repr(channel.options)


def _wav(path: Path, rate: int = 8000, channels: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * (channels * rate // 10))


def test_prompts_are_installed_where_asterisk_finds_them(tmp_path: Path) -> None:
    questionnaire = load_bundled()
    prompts_dir, sounds = tmp_path / "prompts", tmp_path / "sounds"
    prompts = all_prompts(questionnaire)
    for prompt in prompts:  # every prompt recorded, in telephony format
        _wav(prompts_dir / questionnaire.id / prompt.language / recording_name(prompt.key))
    installed = install_prompts(questionnaire, PromptAudio(prompts_dir, questionnaire.id), sounds)
    assert len(installed) == len(prompts)
    for prompt in prompts:  # where the media URI of each prompt makes Asterisk look
        assert (sounds / (media_uri(prompt).removeprefix("sound:") + ".wav")).is_file(), prompt.key
    assert media_uri(Prompt("q_safety/text", "……", "zh")) == "sound:minyi/zh/q_safety/text"

    trend = prompts_dir / questionnaire.id / "zh" / recording_name("q_trend/text")
    _wav(trend, rate=16000)
    with pytest.raises(PromptAudioError, match="16000 Hz"):
        install_prompts(questionnaire, PromptAudio(prompts_dir, questionnaire.id), tmp_path / "elsewhere")
    trend.unlink()
    with pytest.raises(PromptAudioError, match="zh q_trend/text: no recording"):
        install_prompts(questionnaire, PromptAudio(prompts_dir, questionnaire.id), tmp_path / "elsewhere")
    assert not (tmp_path / "elsewhere").exists()  # nothing copied while anything is wrong


@SQLITE_ONLY
def test_missing_prompt_audio_fails_the_playback_but_not_the_call(fake: FakeAsterisk, world: World, open_channel,
                                                                  tmp_path: Path) -> None:
    fake.sounds_dir = tmp_path / "sounds"  # empty: every playback fails at once, as on Asterisk
    fake.residents[NUMBER] = Resident(answers(*COMPLETE))
    channel = open_channel()
    request = world.dial(NUMBER)
    channel.place_call(request)
    wait_until_idle(channel)
    out = world.outcome(request.attempt_id)
    assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE


@SQLITE_ONLY
def test_minyi_ari_command(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(minyi, ["ari", "--help"])
    assert shown.exit_code == 0 and "--install-prompts" in shown.output and "--sounds-dir" in shown.output
    refused = runner.invoke(minyi, ["ari", "--install-prompts", "NOPE", "--sounds-dir", str(tmp_path)],
                            env={"MINYI_DATABASE_URL": db_url})
    assert refused.exit_code == 2 and "no survey 'NOPE'" in refused.output


def test_settings_reach_the_channel_options() -> None:
    settings = load_settings({"ASTERISK_AMD_CONTEXT": "minyi-amd", "ASTERISK_OPERATOR_ENDPOINT": "PJSIP/desk",
                              "ASTERISK_ENDPOINT": "Local/{digits}@out", "MINYI_RECORDINGS_DIR": "/srv/rec"})
    options = AsteriskOptions.from_settings(settings)
    assert (options.amd_context, options.operator_endpoint, options.recordings_dir) == (
        "minyi-amd", "PJSIP/desk", Path("/srv/rec"))
    assert endpoint_for(options.endpoint, "+8613800138000") == "Local/8613800138000@out"
    assert formats_for("Local/8613800138000@out") == "ulaw" and formats_for("PJSIP/+86138@trunk") is None


DIALER = """
import sys
from dialer.protocol import CallRequest
from minyi.channels import open_channel
from survey.clock import SystemClock
from survey.config import load_settings
from survey.db import make_engine, session_factory
settings = load_settings()
channel = open_channel("asterisk", settings, session_factory(make_engine(settings.database_url)), SystemClock())
attempt_id, case_id = int(sys.argv[1]), int(sys.argv[2])
assert channel.place_call(CallRequest(attempt_id, case_id, None, "+8613800138000", "12340", None)) is None
print("placed", channel.lines_in_use())
"""  # builds the channel as `minyi dial` does, places a call and exits at once, without closing it


@SQLITE_ONLY
def test_a_dialer_that_just_exits_still_gets_its_calls_finished(fake: FakeAsterisk, world: World, settings,
                                                                 db_url: str) -> None:
    fake.residents[NUMBER] = Resident(answers(*COMPLETE))
    request = world.dial(NUMBER)
    env = {**os.environ, "MINYI_DATABASE_URL": db_url, "ARI_URL": settings.ari_url,
           "ARI_USERNAME": settings.ari_username, "ARI_PASSWORD": settings.ari_password,
           "ASTERISK_ENDPOINT": settings.asterisk_endpoint, "MINYI_RECORDINGS_DIR": settings.recordings_dir}
    done = subprocess.run([sys.executable, "-c", DIALER, str(request.attempt_id), str(request.case_id)], env=env,
                          capture_output=True, text=True, timeout=60, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "placed 1"
    out = world.outcome(request.attempt_id)  # the exit waited for the call and its result
    assert out.interview is not None and out.interview.status == InterviewStatus.COMPLETE
    assert out.attempt.outcome == CallStatus.ANSWERED
