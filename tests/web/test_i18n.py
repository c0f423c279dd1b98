"""Chinese is the default and complete; the switch changes the language of a page."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from dialer.sample import RowProblem
from jobs.queue import STOPPED
from jobs.runner import UNEXPECTED
from survey.phones import PhoneProblem
from web.translations_zh import ZH

WEB = Path(__file__).resolve().parents[2] / "web"
TEMPLATE_CALL = re.compile(r"""_\(\s*(["'])(.+?)\1\s*[,)]""", re.S)
GETTEXT = {"_", "_l", "gettext", "lazy_gettext"}
RAISED = {"ConsoleError", "F2FError", "AnswerEditError", "CaseChangeError", "SurveyChangeError", "ConcernError",
          "TranscriptError", "UserError", "PasswordPolicyError", "DuplicateUserError", "ScheduleError", "SurveyError",
          "PolicyError", "FieldworkFileError", "FrameError", "SampleJobError", "WorkbookTooLarge", "StaffLineError"}


def _python_messages(path: Path) -> set[str]:
    """Strings passed to gettext, and the fixed messages of errors that views show with ``_(str(exc))``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name in GETTEXT or name in RAISED:
            found.add(node.args[0].value)
    return found


def message_ids() -> set[str]:
    ids = set()
    for template in WEB.rglob("*.html"):
        ids |= {m.group(2) for m in TEMPLATE_CALL.finditer(template.read_text("utf-8"))}
    root = WEB.parent  # the web app shows the messages of the office and the staff-call service too
    for module in [*WEB.rglob("*.py"), *(root / "office").glob("*.py"), root / "calls" / "staff.py",
                   root / "calls" / "staff_lines.py", root / "ivr" / "channels" / "staff_lines.py",
                   root / "ivr" / "channels" / "asterisk" / "staff.py", root / "calls" / "visits.py", root / "calls" / "callbacks.py", root / "dialer" / "schedule.py",
                   root / "dialer" / "policy.py", root / "dialer" / "fieldwork.py", root / "survey" / "surveys.py",
                   root / "dialer" / "frames.py", root / "survey" / "workbooks.py", *(root / "jobs").glob("*.py"),
                   root / "reports" / "survey_inputs.py", root / "ivr" / "channels" / "twilio" / "staff.py"]:
        ids |= _python_messages(module)
    # a sample upload's rejected rows by reason, and how a job ended when it did not end by a refusal
    ids |= {str(p) for p in PhoneProblem} | {str(p) for p in RowProblem} | {STOPPED, UNEXPECTED}
    return ids


def test_every_message_has_a_chinese_translation() -> None:
    missing = sorted(message_ids() - set(ZH))
    assert not missing, "untranslated:\n" + "\n".join(missing)


def test_no_translation_is_left_over() -> None:
    assert not sorted(set(ZH) - message_ids())


def test_chinese_by_default_and_the_switch(client) -> None:  # type: ignore[no-untyped-def]
    page = client.text("/login")
    assert "登录" in page and 'lang="zh-CN"' in page
    client.get("/lang/en?next=/login")
    page = client.text("/login")
    assert "Log in" in page and "登录" not in page
    assert client.get("/lang/en?next=https://evil.example/").headers["Location"] == "/"


def test_the_header_and_login_page_name_the_centre_in_the_pages_language(web) -> None:  # type: ignore[no-untyped-def]
    from survey.config import Settings
    from web import create_app

    settings = Settings(**{**web.settings.__dict__, "centre_name": "青石县社情民意调查中心",
                           "centre_name_en": "Qingshi County Opinion Survey Centre"})
    client = create_app(settings, web.sessions, web.clock).test_client()
    page = client.get("/login").get_data(as_text=True)
    assert page.count("青石县社情民意调查中心") == 2  # the header and the login box
    client.get("/lang/en?next=/login")
    page = client.get("/login").get_data(as_text=True)
    assert page.count("Qingshi County Opinion Survey Centre") == 2 and "青石县" not in page


def test_a_refusal_conversion_note_reads_as_what_happened_old_wording_too() -> None:
    """One hang-up in the introduction among seven no-answers is not 'hung up until the attempts ran out'."""
    from web.task_notes import _system

    for stored in ("the resident hung up in the introduction and the attempts ran out: one conversion call",
                   "the resident hung up in the introduction until the attempts ran out: one conversion call"):
        assert _system(stored) == ("The resident hung up in the introduction and the attempts ran out: "
                                   "one conversion call.")
