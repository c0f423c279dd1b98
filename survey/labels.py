"""Variable and value labels of a questionnaire's answer columns (for exports and displays)."""

from __future__ import annotations

from survey.questionnaire import Questionnaire
from survey.questionnaire import model as qm

FIXED_LABELS = {
    "zh": {"id": "访问编号", "wave": "调查期", "township": "乡镇/街道代码", "township_name": "乡镇/街道",
           "stratum": "抽样层（乡镇/街道代码）", "psu": "初级抽样单位（样本号码编号）", "mode": "访问方式",
           "language": "访问语言", "status": "访问状态", "weight": "最终权数", "design_weight": "设计权数（N_h/n_h）"},
    "en": {"id": "Interview id", "wave": "Period", "township": "Township code", "township_name": "Township",
           "stratum": "Stratum (township code)", "psu": "Primary sampling unit (case id)", "mode": "Mode",
           "language": "Language", "status": "Interview status", "weight": "Final weight",
           "design_weight": "Design weight (N_h/n_h)"},
}


def variable_labels(q: Questionnaire, language: str = "zh") -> dict[str, str]:
    labels = dict(FIXED_LABELS.get(language, FIXED_LABELS["en"]))
    for question in q.questions:
        if not question.collects_answer:
            continue
        title = qm.text_in(question.label or question.text, language)
        if question.type == qm.MULTIPLE:
            for c in question.choices:
                labels[f"{question.id}_{c.code}"] = f"{title}: {qm.text_in(c.label, language)}"
        else:
            labels[question.id] = title
    return labels


def value_labels(q: Questionnaire, language: str = "zh", not_asked: bool = False) -> dict[str, dict[int, str]]:
    """Answer column -> code -> label; with ``not_asked``, :data:`NOT_ASKED` is labelled for the
    questions the skip logic can pass over."""
    labels: dict[str, dict[int, str]] = {}
    yes_no = {0: "否" if language == "zh" else "No", 1: "是" if language == "zh" else "Yes"}
    for question in q.questions:
        if question.type in (qm.SINGLE, qm.YESNO):
            labels[question.id] = {c.code: qm.text_in(c.label, language) for c in question.choices}
        elif question.type == qm.MULTIPLE:
            labels.update({f"{question.id}_{c.code}": yes_no for c in question.choices})
        elif question.type == qm.OPEN:
            recorded = {0: "未录音" if language == "zh" else "not recorded", 1: "已录音" if language == "zh" else "recorded"}
            labels[question.id] = recorded
    if not_asked:
        text = NOT_ASKED_LABEL.get(language, NOT_ASKED_LABEL["en"])
        for column, codes in missing_codes(q, True).items():
            if NOT_ASKED in codes:
                labels.setdefault(column, {})[NOT_ASKED] = text
    return labels


NOT_ASKED = -1  # the code of a question the skip logic passed over, in files that declare missing values
NOT_ASKED_LABEL = {"zh": "未问（跳答）", "en": "not asked (skip logic)"}


def answer_columns_of(question: qm.Question) -> list[str]:
    """The export columns of a question's answer: one, or one 0/1 column per code of a multiple choice."""
    return [f"{question.id}_{c.code}" for c in question.choices] if question.type == qm.MULTIPLE else [question.id]


def skippable(q: Questionnaire) -> frozenset[str]:
    """The questions the skip logic can pass over: those with a ``when`` condition and those
    between a choice with ``goto`` and its target."""
    out = {question.id for question in q.questions if question.when is not None}
    for i, question in enumerate(q.questions):
        for target in {c.goto for c in question.choices if c.goto}:
            out.update(later.id for later in q.questions[i + 1:q.index_of(target)])
    return frozenset(out)


def missing_codes(q: Questionnaire, not_asked: bool) -> dict[str, list[int]]:
    """Answer column -> its declared missing codes: the choices marked ``missing`` (don't know,
    refused), and :data:`NOT_ASKED` for a question the skip logic can pass over when ``not_asked``."""
    out: dict[str, list[int]] = {}
    skipped = skippable(q) if not_asked else frozenset()
    for question in q.questions:
        if not question.collects_answer:
            continue
        columns = answer_columns_of(question)
        codes = [c.code for c in question.choices if c.missing and question.type != qm.MULTIPLE]
        codes += [NOT_ASKED] if question.id in skipped else []
        out.update({column: codes for column in columns if codes})
    return out
