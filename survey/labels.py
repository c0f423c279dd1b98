"""Variable and value labels of a questionnaire's answer columns (for exports and displays)."""

from __future__ import annotations

from survey.questionnaire import Questionnaire
from survey.questionnaire import model as qm

FIXED_LABELS = {
    "zh": {"id": "访问编号", "wave": "调查期", "township": "乡镇/街道", "mode": "访问方式", "language": "访问语言",
           "status": "访问状态"},
    "en": {"id": "Interview id", "wave": "Period", "township": "Township", "mode": "Mode", "language": "Language",
           "status": "Interview status"},
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


def value_labels(q: Questionnaire, language: str = "zh") -> dict[str, dict[int, str]]:
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
    return labels
