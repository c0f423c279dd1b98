"""Prompt audio: the catalogue, recordings before synthesis, telephony format, the cache, and
``minyi prompts build``."""

from __future__ import annotations

import subprocess
import wave
from datetime import datetime
from pathlib import Path

import pytest
from engine_driver import WALK_ALL, Call
from typer.testing import CliRunner

from ivr.prompts import (
    MISSING,
    RECORDED,
    SYNTH,
    AudioTools,
    PromptAudio,
    all_prompts,
    build_prompts,
    missing_tools,
    recording_name,
    script_runs,
    wav_info,
)
from ivr.prompts.catalogue import CHANNEL_SPOKEN
from ivr.prompts.tts import VOICES
from minyi.cli import app
from survey.clock import VirtualClock
from survey.db import make_engine, session_factory, session_scope, upgrade
from survey.questionnaire import load_bundled, loads
from survey.surveys import StratumSpec, create_survey

Q = load_bundled()
needs_audio = pytest.mark.skipif(bool(missing_tools()), reason=f"needs {' and '.join(missing_tools())} "
                                 "(apt-get install espeak-ng sox)")
TINY = """\
id: tiny
version: "1"
languages: [zh]
questions:
  - id: q1
    type: yesno
    text: {zh: 您觉得安全吗？是请按1，否请按2。}
"""
TINY_Q = loads(TINY, name="tiny.yaml")


def write_wav(path: Path, rate: int, channels: int, seconds: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x10\x00" * int(rate * seconds) * channels)
    return path


@pytest.mark.parametrize(("text", "language", "runs"), [
    ("普通话请按1。For English, press 2.", "zh", [("zh", "普通话请按1。"), ("en", "For English, press 2.")]),
    ("Press 1 for 普通话", "en", [("en", "Press 1 for"), ("zh", "普通话")]),
    ("18-29岁请按1", "zh", [("zh", "18-29岁请按1")]),
    ("123 #", "en", [("en", "123 #")]),
    ("（派出所、交警等）", "zh", [("zh", "（派出所、交警等）")]),
    ("...", "zh", []),
])
def test_text_is_cut_into_runs_of_one_script(text: str, language: str, runs: list[tuple[str, str]]) -> None:
    assert script_runs(text, language) == runs


# Each question once timed out, once given a wrong key, then answered: every text and re-prompt.
WITH_SLIPS = {**{qid: f"T 7 {keys}" for qid, keys in WALK_ALL.items()},
              "q_worries": "T 77# 13#", "d_years": "T 150 12#", "q_suggest": "T R5"}
ENDINGS = ("3", "9", "2 7 1", "1 2", "0", "T T T")  # at consent: refusal, opt-out, callback, screen-out, ...


def spoken(call: Call) -> set[tuple[str, str, str]]:
    return {(p.key, p.language, p.text) for step in call.steps for p in step.prompts}


def test_the_catalogue_is_exactly_what_the_engine_can_say(clock: VirtualClock) -> None:
    said: set[tuple[str, str, str]] = set()
    for language in ("1", "2"):
        walk = Call(Q, clock)
        walk.run(language)
        walk.walk(WITH_SLIPS, stop_at="d_sex")
        walk.run("H")
        again = Call(Q, clock, state=walk.engine.snapshot())
        again.run("1")
        again.walk(WITH_SLIPS)
        transfer = Call(Q, clock, can_transfer=True, recorded=True)  # a recorded call is told so
        transfer.run(f"{language} 0")
        left_early = Call(Q, clock)  # hung up in the introduction: the next call asks the language again
        left_early.run(f"{language} H")
        recalled = Call(Q, clock, state=left_early.engine.snapshot())
        recalled.start()
        said |= spoken(walk) | spoken(again) | spoken(transfer) | spoken(recalled)
        for ending in ENDINGS:
            c = Call(Q, clock)
            c.run(f"{language} {ending}")
            said |= spoken(c)
    by_channel = {f"msg/{name}" for name in CHANNEL_SPOKEN}
    catalogue = {(p.key, p.language, p.text) for p in all_prompts(Q)}
    assert said == {p for p in catalogue if p[0] not in by_channel}
    assert {(key, language) for key, language, _ in catalogue - said} == {(k, lang) for k in by_channel
                                                                          for lang in Q.languages}


def test_a_recording_is_found_by_its_name_and_wins(tmp_path: Path) -> None:
    prompt = next(p for p in all_prompts(Q) if p.key == "q_safety/text" and p.language == "en")
    assert recording_name(prompt.key) == "q_safety__text.wav"
    audio = PromptAudio(tmp_path, Q.id)
    assert audio.resolve(prompt).source == MISSING and audio.path(prompt) is None
    recorded = write_wav(tmp_path / "safety" / "en" / "q_safety__text.wav", 8000, 1, 0.5)
    assert audio.resolve(prompt).source == RECORDED and audio.path(prompt) == recorded
    other_language = next(p for p in all_prompts(Q) if p.key == "q_safety/text" and p.language == "zh")
    assert audio.path(other_language) is None


def test_a_file_that_is_not_a_wav_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "x.wav"
    bad.write_text("not audio")
    with pytest.raises(ValueError, match="x.wav: not a PCM WAV file"):
        wav_info(bad)


def test_the_mandarin_voice_is_installed() -> None:
    if missing_tools():
        pytest.skip("needs espeak-ng")
    voices = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True, check=True).stdout
    assert VOICES["zh"] in voices.lower()


@needs_audio
def test_speech_is_telephony_audio_of_a_sensible_length(tmp_path: Path) -> None:
    tools = AudioTools(tmp_path)
    text = "在目前的社会治安环境下，您觉得安全吗？"
    info = wav_info(tools.speak(text, "zh"))
    assert (info.rate, info.channels, info.bits) == (8000, 1, 16)
    assert len(text) / 8 < info.duration_s < len(text) / 1.5
    mixed = wav_info(tools.speak("普通话请按1。For English, press 2.", "zh"))
    assert 2.0 < mixed.duration_s < 12.0


@needs_audio
def test_speech_is_cached_by_text(tmp_path: Path) -> None:
    tools = AudioTools(tmp_path)
    first = tools.speak("谢谢，再见。", "zh")
    stamp = first.stat().st_mtime_ns
    assert tools.speak("谢谢，再见。", "zh") == first and first.stat().st_mtime_ns == stamp
    assert tools.speak("谢谢。", "zh") != first
    assert tools.speak("谢谢，再见。", "en") == first  # the same Chinese text: the same voice, the same file
    assert list(tmp_path.rglob("*.wav")) and not list(tmp_path.rglob("out.wav"))  # no leftovers


@needs_audio
def test_a_recording_in_another_format_is_converted(tmp_path: Path) -> None:
    original = write_wav(tmp_path / "tiny" / "zh" / "q1__text.wav", 44100, 2, 1.0)
    audio = PromptAudio.with_tools(tmp_path, "tiny")
    prompt = all_prompts(TINY_Q)[0]
    resolved = audio.resolve(prompt)
    assert resolved.source == RECORDED and resolved.path != original
    info = wav_info(resolved.path)  # type: ignore[arg-type]
    assert info.telephony and info.duration_s == pytest.approx(1.0, abs=0.01)
    built = {b.prompt.key: b for b in build_prompts(TINY_Q, audio)}
    assert built["q1/text"].problem == "recorded as 44100 Hz, 2 channel(s), 16-bit; converted to 8000 Hz mono 16-bit"
    assert built["msg/invalid"].source == SYNTH and built["msg/invalid"].problem is None


@pytest.fixture(scope="module")
def bundled_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[object]]:
    if missing_tools():
        pytest.skip("needs espeak-ng and sox")
    folder = tmp_path_factory.mktemp("prompts")
    return folder, build_prompts(Q, PromptAudio.with_tools(folder, Q.id))  # type: ignore[return-value]


def test_every_bundled_prompt_renders_to_telephony_audio(bundled_build: tuple[Path, list[object]]) -> None:
    _folder, built = bundled_build
    assert len(built) == len(all_prompts(Q))
    for b in built:
        assert b.source == SYNTH and b.problem is None, b  # type: ignore[attr-defined]
        info = wav_info(b.path)  # type: ignore[attr-defined]
        assert info.telephony
        assert 0.5 < info.duration_s < len(b.prompt.text) / 1.5 + 1, b.prompt.key  # type: ignore[attr-defined]


# -- minyi prompts build ------------------------------------------------------------------------

runner = CliRunner()


def test_the_command_needs_exactly_one_source() -> None:
    result = runner.invoke(app, ["prompts", "build"])
    assert result.exit_code == 2 and "either --survey CODE or --questionnaire FILE" in result.output


@needs_audio
def test_the_command_lists_every_prompt_and_the_missing_recordings(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY, encoding="utf-8")
    write_wav(tmp_path / "p" / "tiny" / "zh" / "msg__invalid.wav", 8000, 1, 0.8)
    result = runner.invoke(app, ["prompts", "build", "--questionnaire", str(tmp_path / "tiny.yaml"),
                                 "--prompts-dir", str(tmp_path / "p")], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "q1/text" in result.output and "recorded" in result.output and "0.8 s" in result.output
    assert "1 recorded" in result.output and "0 failed" in result.output
    assert "zh/q1__text.wav" in result.output and "zh/msg__invalid.wav" not in result.output


@needs_audio
def test_the_command_reads_a_surveys_questionnaire_from_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/m.db"
    engine = make_engine(url)
    upgrade(engine)
    with session_scope(session_factory(engine)) as s:
        create_survey(s, "W1", TINY_Q, VirtualClock(datetime(2026, 1, 1)), period="2026",
                      strata=[StratumSpec("T01", "城关镇")])
    engine.dispose()
    env = {"MINYI_DATABASE_URL": url, "MINYI_PROMPTS_DIR": str(tmp_path / "p"), "COLUMNS": "160"}
    result = runner.invoke(app, ["prompts", "build", "--survey", "W1"], env=env)
    assert result.exit_code == 0, result.output
    assert "tiny v1" in result.output and (tmp_path / "p" / ".cache").is_dir()
    missing = runner.invoke(app, ["prompts", "build", "--survey", "W2"], env=env)
    assert missing.exit_code == 2 and "no survey 'W2'" in missing.output


def test_the_command_says_which_audio_tools_are_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ivr.prompts.tts.shutil.which", lambda tool: None)
    result = runner.invoke(app, ["prompts", "build", "--questionnaire", "bundled"])
    assert result.exit_code == 2
    assert "espeak-ng and sox not found" in result.output and "apt-get install" in result.output


def test_the_command_reports_an_invalid_questionnaire(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\n", encoding="utf-8")
    result = runner.invoke(app, ["prompts", "build", "--questionnaire", str(bad)])
    assert result.exit_code == 2 and "does not validate" in result.output
