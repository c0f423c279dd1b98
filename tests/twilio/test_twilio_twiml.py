"""Engine steps as TwiML, every document checked against Twilio's TwiML schema."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from ivr.channels.twilio.twiml import AudioUrl, TwimlRenderer
from ivr.channels.twilio.urls import WebhookUrls
from ivr.engine import Collect, Prompt, Record, Step

URLS = WebhookUrls("https://survey.example.gov.cn/")
HELLO = Prompt("msg/hello", "您好，这里是县社情民意调查中心。", "zh")
QUESTION = Prompt("q_safety/text", "您觉得安全吗？安全请按1。", "zh")
ENGLISH = Prompt("q_safety/text", "Do you feel safe? Press 1 if you do.", "en")

VOICED = TwimlRenderer(URLS, voices={"zh": "Polly.Zhiyu-Neural", "en": "Polly.Joanna-Neural"})


def _render(schema: etree.XMLSchema, step: Step, renderer: TwimlRenderer | None = None, seq: int = 4,
            audio: AudioUrl | None = None) -> etree._Element:
    xml = (renderer or VOICED).render(step, attempt_id=12, seq=seq, audio=audio)
    doc = etree.fromstring(xml.encode())
    assert schema.validate(doc), f"{schema.error_log}\n{xml}"
    return doc


def test_a_single_key_question_is_one_gather_around_its_prompts(twiml_schema: etree.XMLSchema) -> None:
    doc = _render(twiml_schema, Step(prompts=(HELLO, QUESTION), collect=Collect(1, 1, None, 8.0)))
    (gather,) = doc
    assert gather.tag == "Gather"
    assert dict(gather.attrib) == {
        "input": "dtmf", "action": "https://survey.example.gov.cn/twilio/voice/gather?attempt=12&seq=4",
        "method": "POST", "actionOnEmptyResult": "true", "timeout": "8", "numDigits": "1", "finishOnKey": ""}
    assert [(say.get("language"), say.get("voice"), say.text) for say in gather] == [
        ("cmn-CN", "Polly.Zhiyu-Neural", HELLO.text), ("cmn-CN", "Polly.Zhiyu-Neural", QUESTION.text)]


def test_a_number_entry_ends_on_hash_or_its_length(twiml_schema: etree.XMLSchema) -> None:
    (gather,) = _render(twiml_schema, Step(prompts=(ENGLISH,), collect=Collect(None, 2, "#", 7.5)))
    assert (gather.get("numDigits"), gather.get("finishOnKey"), gather.get("timeout")) == ("2", "#", "8")
    assert gather[0].get("language") == "en-US" and gather[0].get("voice") == "Polly.Joanna-Neural"


def test_recorded_prompts_play_and_the_rest_is_spoken(twiml_schema: etree.XMLSchema) -> None:
    audio = {"msg/hello": "https://survey.example.gov.cn/prompts/zh/msg-hello.wav"}
    renderer = TwimlRenderer(URLS, voices={"zh": "Google.cmn-CN-Standard-A", "en": "Polly.Joanna"})
    (gather,) = _render(twiml_schema, Step(prompts=(HELLO, QUESTION), collect=Collect(1, 1, None, 8)), renderer,
                        audio=lambda p: audio.get(p.key))
    assert [el.tag for el in gather] == ["Play", "Say"]
    assert gather[0].text == audio["msg/hello"] and gather[1].get("voice") == "Google.cmn-CN-Standard-A"


def test_an_open_answer_is_recorded_and_silence_still_comes_back(twiml_schema: etree.XMLSchema) -> None:
    doc = _render(twiml_schema, Step(prompts=(QUESTION,), record=Record(60), question_id="q_suggest"), seq=9)
    say, record, redirect = doc
    assert say.tag == "Say" and record.tag == "Record" and redirect.tag == "Redirect"
    action = "https://survey.example.gov.cn/twilio/voice/recorded?attempt=12&seq=9"
    assert dict(record.attrib) == {
        "action": action, "method": "POST", "maxLength": "60", "finishOnKey": "#", "playBeep": "true", "timeout": "5",
        "recordingStatusCallback": "https://survey.example.gov.cn/twilio/voice/recording?attempt=12",
        "recordingStatusCallbackMethod": "POST", "recordingStatusCallbackEvent": "completed"}
    assert redirect.text == action and redirect.get("method") == "POST"


def test_the_end_hangs_up(twiml_schema: etree.XMLSchema) -> None:
    doc = _render(twiml_schema, Step(prompts=(HELLO,), hangup=True))
    assert [el.tag for el in doc] == ["Say", "Hangup"]
    assert [el.tag for el in etree.fromstring(TwimlRenderer(URLS).hangup().encode())] == ["Hangup"]


def test_a_transfer_dials_the_operator_or_hangs_up_without_one(twiml_schema: etree.XMLSchema) -> None:
    step = Step(prompts=(HELLO,), transfer=True)
    doc = _render(twiml_schema, step, TwimlRenderer(URLS, operator_number="+8657112345678"))
    assert [el.tag for el in doc] == ["Say", "Dial"] and doc.findtext("Dial") == "+8657112345678"
    dial = doc.find("Dial")
    assert dial is not None and dial.get("method") == "POST"
    assert dial.get("action") == "https://survey.example.gov.cn/twilio/voice/dialed?attempt=12&seq=4"
    assert [el.tag for el in _render(twiml_schema, step)] == ["Say", "Hangup"]


def test_steps_twilio_cannot_play_are_refused() -> None:
    with pytest.raises(ValueError, match="per-key"):
        TwimlRenderer(URLS).render(Step(keep_playing=True), 1, 1)
    with pytest.raises(ValueError, match="'fr'"):
        TwimlRenderer(URLS).render(Step(prompts=(Prompt("x", "Bonjour", "fr"),), hangup=True), 1, 1)


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=60)
_prompts = st.lists(st.builds(Prompt, key=st.just("k"), text=_text, language=st.sampled_from(["zh", "en"])),
                    max_size=4).map(tuple)
_collect = st.builds(Collect, num_digits=st.none() | st.just(1), max_digits=st.integers(1, 12),
                     finish_key=st.none() | st.just("#"), timeout_s=st.floats(1, 60))
_steps = st.one_of(
    st.builds(Step, prompts=_prompts, collect=_collect),
    st.builds(Step, prompts=_prompts, record=st.builds(Record, max_seconds=st.integers(1, 600))),
    st.builds(Step, prompts=_prompts, hangup=st.booleans(), transfer=st.booleans()),
)


@settings(max_examples=60, deadline=None)
@given(step=_steps, seq=st.integers(1, 10_000))
def test_any_step_renders_to_valid_twiml_with_ascii_urls_and_its_text(twiml_schema: etree.XMLSchema, step: Step,
                                                                      seq: int) -> None:
    doc = _render(twiml_schema, step, TwimlRenderer(URLS, operator_number="+8657112345678"), seq)
    assert [say.text for say in doc.iter("Say")] == [p.text for p in step.prompts]
    for url in [el.get("action") for el in doc.iter() if el.get("action")] + [el.text for el in doc.iter("Redirect")]:
        assert url is not None and url.isascii()
        query = parse_qs(urlsplit(url).query)
        assert query["attempt"] == ["12"] and query["seq"] == [str(seq)]
