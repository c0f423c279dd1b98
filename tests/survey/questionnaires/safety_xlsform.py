"""The bundled questionnaire (survey/questionnaire/bundled/safety.yaml) written as an XLSForm,
the way a survey office would author it in Excel: shared choice lists, ``relevant`` expressions,
a group, an integer constraint, hint and required columns that Minyi ignores.

``python tests/survey/questionnaires/safety_xlsform.py`` rewrites ``safety.xlsx`` next to this
file; the tests also build a fresh copy and check the committed workbook has not drifted.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from openpyxl import Workbook

ZH, EN = "label::Chinese (zh)", "label::English (en)"
RE_ZH, RE_EN = "reprompt::Chinese (zh)", "reprompt::English (en)"
SHORT_ZH, SHORT_EN = "short_label::Chinese (zh)", "short_label::English (en)"

SURVEY_COLUMNS = ["type", "name", ZH, EN, "relevant", "constraint", "parameters", "role", RE_ZH, RE_EN,
                  SHORT_ZH, SHORT_EN, "hint::Chinese (zh)", "required"]
CHOICES_COLUMNS = ["list_name", "name", ZH, EN, "key", "code", "end", "missing"]
SETTINGS_COLUMNS = ["form_id", "version", "form_title::Chinese (zh)", "form_title::English (en)",
                    "default_language", "max_reprompts", "input_timeout", "repeat_key", "operator_key",
                    "language_menu"]

SAT_ZH = "满意请按1，比较满意请按2，基本满意请按3，不太满意请按4，不满意请按5，不了解请按6。"
SAT_EN = ("Satisfied 1, fairly satisfied 2, basically satisfied 3, not very satisfied 4, dissatisfied 5, "
          "don't know 6.")
SAT_REPROMPT = {RE_ZH: "请按1到6：1满意，2比较满意，3基本满意，4不太满意，5不满意，6不了解。",
                RE_EN: ("Please press 1 to 6. 1 satisfied, 2 fairly satisfied, 3 basically satisfied, "
                        "4 not very satisfied, 5 dissatisfied, 6 don't know.")}


def _satisfaction(name: str, organ_zh: str, organ_en: str, short_zh: str, short_en: str) -> dict[str, Any]:
    return {"type": "select_one sat", "name": name, ZH: f"您对{organ_zh}的执法工作满意吗？{SAT_ZH}",
            EN: f"How satisfied are you with the work of {organ_en}? {SAT_EN}", SHORT_ZH: short_zh,
            SHORT_EN: short_en, "required": "yes", **SAT_REPROMPT}


SURVEY: list[dict[str, Any]] = [
    {"type": "start", "name": "start"},
    {"type": "note", "name": "intro",
     ZH: "您好！这里是县社情民意调查中心。我们正在开展群众安全感和政法机关执法满意度调查，访问大约需要三分钟，"
         "您的回答只用于统计分析，我们会严格保密。任何时候按星号键可以重听问题，按零键可以请工作人员与您联系。",
     EN: "Hello, this is the county public opinion survey centre. We are asking residents how safe they feel "
         "and how satisfied they are with law enforcement. It takes about three minutes, and your answers are "
         "confidential and used only for statistics. Press star at any time to hear a question again, or zero "
         "to ask a staff member to call you."},
    {"type": "select_one consent", "name": "consent", "role": "consent",
     ZH: "同意接受访问请按1；现在不方便、希望另约时间请按2；不愿意参加请按3；今后不希望再接到本中心的调查电话请按9。",
     EN: "To take part press 1. If now is not a good time and you would like a call back, press 2. If you do "
         "not wish to take part press 3. If you never want to be called by us again, press 9.",
     RE_ZH: "请按1同意访问，按2另约时间，按3拒绝，按9今后不再来电。",
     RE_EN: "Press 1 to take part, 2 for a call back, 3 to decline, or 9 never to be called again."},
    {"type": "select_one screen", "name": "s_age", "role": "screening",
     ZH: "请问您是否年满18周岁？是请按1，否请按2。", EN: "Are you 18 or older? Press 1 for yes, 2 for no."},
    {"type": "select_one screen", "name": "s_resident", "role": "screening",
     ZH: "请问您在本乡镇或街道居住是否满半年？是请按1，否请按2。",
     EN: "Have you lived in this township for at least six months? Press 1 for yes, 2 for no."},
    {"type": "select_one safety", "name": "q_safety", SHORT_ZH: "安全感", SHORT_EN: "Feeling of safety",
     ZH: "在目前的社会治安环境下，您觉得安全吗？安全请按1，比较安全请按2，基本安全请按3，不太安全请按4，不安全请按5，"
         "不了解请按6。",
     EN: "In the current public order situation, do you feel safe? Safe press 1, fairly safe 2, basically "
         "safe 3, not very safe 4, unsafe 5, don't know 6.",
     RE_ZH: "请按1到6之间的数字键：1安全，2比较安全，3基本安全，4不太安全，5不安全，6不了解。",
     RE_EN: "Please press a key from 1 to 6. 1 safe, 2 fairly safe, 3 basically safe, 4 not very safe, "
            "5 unsafe, 6 don't know.",
     "hint::Chinese (zh)": "核心指标"},
    {"type": "begin group", "name": "unsafe", "relevant": "${q_safety} = '4' or ${q_safety} = 5"},
    {"type": "select_multiple worries", "name": "q_worries", "parameters": "max_choices=6",
     SHORT_ZH: "担心的治安问题", SHORT_EN: "Public-order worries",
     ZH: "您主要担心哪些治安问题？可多选：盗窃抢劫请按1，电信网络诈骗请按2，黑恶势力请按3，黄赌毒请按4，交通安全请按5，"
         "邻里和家庭纠纷请按6。选完请按井号键。",
     EN: "Which problems worry you most? Choose all that apply. Theft or robbery 1, phone and online fraud 2, "
         "organised crime 3, drugs, gambling or prostitution 4, road safety 5, neighbour or family disputes 6. "
         "Then press hash."},
    {"type": "end group"},
    {"type": "select_one trend", "name": "q_trend", SHORT_ZH: "治安变化", SHORT_EN: "Trend in public order",
     ZH: "与去年相比，您觉得本地社会治安状况：有好转请按1，和以前一样请按2，比以前差请按3，说不清请按4。",
     EN: "Compared with last year, is public order where you live better (press 1), about the same (2), "
         "worse (3), or can't say (4)?"},
    _satisfaction("q_police", "公安机关（派出所、交警等）", "the police (stations, traffic police)", "对公安的满意度",
                  "Satisfaction: the police (stations, traffic police)"),
    _satisfaction("q_court", "人民法院", "the courts", "对法院的满意度", "Satisfaction: the courts"),
    _satisfaction("q_procuratorate", "人民检察院", "the procuratorate", "对检察院的满意度",
                  "Satisfaction: the procuratorate"),
    _satisfaction("q_justice", "司法行政机关（司法所、法律援助等）", "the justice bureau (legal aid, mediation)",
                  "对司法行政的满意度", "Satisfaction: the justice bureau (legal aid, mediation)"),
    _satisfaction("q_overall", "政法队伍总体", "law enforcement overall", "对政法队伍的满意度",
                  "Satisfaction: law enforcement overall"),
    {"type": "yesno suggest", "name": "q_suggest_yn", SHORT_ZH: "是否留言", SHORT_EN: "Wants to leave a suggestion",
     ZH: "您对本地社会治安或政法工作有什么意见和建议吗？愿意留言请按1，没有请按2。",
     EN: "Do you have any comments or suggestions about public order or law enforcement here? Press 1 to "
         "leave a message, 2 if not."},
    {"type": "text", "name": "q_suggest", "relevant": "selected(${q_suggest_yn}, '1')",
     "parameters": "max_seconds=60", SHORT_ZH: "意见建议", SHORT_EN: "Comments and suggestions",
     ZH: "请在提示音后说出您的意见和建议，最长一分钟，说完请按井号键。",
     EN: "Please leave your comments after the tone, up to one minute, then press hash."},
    {"type": "select_one age_group", "name": "d_age", "role": "weighting", SHORT_ZH: "年龄组", SHORT_EN: "Age group",
     ZH: "最后几个问题用于统计。您的年龄是：18到29岁请按1，30到44岁请按2，45到59岁请按3，60岁及以上请按4。",
     EN: "A few last questions for statistics. Your age is 18 to 29, press 1; 30 to 44, 2; 45 to 59, 3; "
         "60 or over, 4."},
    {"type": "select_one sex", "name": "d_sex", "role": "weighting", SHORT_ZH: "性别", SHORT_EN: "Sex",
     ZH: "您的性别：男性请按1，女性请按2。", EN: "Are you male (press 1) or female (press 2)?"},
    {"type": "integer", "name": "d_years", "constraint": ". >= 0 and . <= 99", "parameters": "max_digits=2",
     SHORT_ZH: "本地居住年数", SHORT_EN: "Years lived here",
     ZH: "您在本地居住了多少年？请输入年数，按井号键结束。",
     EN: "How many years have you lived here? Enter the number of years, then press hash."},
    {"type": "end", "name": "end"},
]


def _choices(list_name: str, *rows: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Rows of (name, zh, en[, extra columns]) for one list."""
    return [{"list_name": list_name, "name": name, ZH: zh, EN: en, **(extra[0] if extra else {})}
            for name, zh, en, *extra in rows]


DK = {"key": 6, "code": 8, "missing": "yes"}
CHOICES: list[dict[str, Any]] = [
    *_choices("consent", (1, "同意", "Agree"), (2, "另约时间", "Call back later", {"end": "callback"}),
              (3, "拒绝", "Decline", {"end": "refused"}), (9, "今后不再来电", "Never call again", {"end": "opted_out"})),
    *_choices("screen", (1, "是", "Yes"), (2, "否", "No", {"end": "screened_out"})),
    *_choices("safety", (1, "安全", "Safe"), (2, "比较安全", "Fairly safe"), (3, "基本安全", "Basically safe"),
              (4, "不太安全", "Not very safe"), (5, "不安全", "Unsafe"), ("dk", "不了解", "Don't know", DK)),
    *_choices("worries", (1, "盗窃抢劫", "Theft or robbery"), (2, "电信网络诈骗", "Phone and online fraud"),
              (3, "黑恶势力", "Organised crime"), (4, "黄赌毒", "Drugs, gambling, prostitution"),
              (5, "交通安全", "Road safety"), (6, "邻里家庭纠纷", "Neighbour or family disputes")),
    *_choices("trend", (1, "有好转", "Better"), (2, "和以前一样", "About the same"), (3, "比以前差", "Worse"),
              ("cant_say", "说不清", "Can't say", {"key": 4, "code": 8, "missing": True})),
    *_choices("sat", (1, "满意", "Satisfied"), (2, "比较满意", "Fairly satisfied"),
              (3, "基本满意", "Basically satisfied"), (4, "不太满意", "Not very satisfied"),
              (5, "不满意", "Dissatisfied"), (8, "不了解", "Don't know", {"key": 6, "missing": "TRUE"})),
    *_choices("suggest", (1, "愿意留言", "Yes"), (2, "没有", "No")),
    *_choices("age_group", (1, "18-29岁", "18-29"), (2, "30-44岁", "30-44"), (3, "45-59岁", "45-59"),
              (4, "60岁及以上", "60+")),
    *_choices("sex", (1, "男", "Male"), (2, "女", "Female")),
]

SETTINGS: list[dict[str, Any]] = [{
    "form_id": "safety", "version": "2026.1", "form_title::Chinese (zh)": "公众安全感和政法机关执法满意度调查",
    "form_title::English (en)": "Public safety and satisfaction with law enforcement survey",
    "default_language": "Chinese (zh)", "max_reprompts": 2, "input_timeout": 8, "repeat_key": "*",
    "operator_key": "0", "language_menu": True,
}]

SHEETS = {"survey": (SURVEY_COLUMNS, SURVEY), "choices": (CHOICES_COLUMNS, CHOICES),
          "settings": (SETTINGS_COLUMNS, SETTINGS)}


def write_xlsform(path: Path, sheets: dict[str, tuple[list[str], list[dict[str, Any]]]] = SHEETS) -> Path:
    """Write ``sheets`` (title -> header, rows as dicts by header) as a workbook at ``path``."""
    book = Workbook()
    book.remove(book.active)
    for title, (columns, rows) in sheets.items():
        sheet = book.create_sheet(title)
        sheet.append(columns)
        for row in rows:
            sheet.append([row.get(column) for column in columns])
    book.save(path)
    return path


if __name__ == "__main__":
    print(write_xlsform(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("safety.xlsx")))
