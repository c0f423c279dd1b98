"""调查说明 / About the survey: the disclosure box (AAPOR disclosure items, NBS 附注 style)."""

from __future__ import annotations

from collections.abc import Callable
from xml.sax.saxutils import escape

from reportlab.platypus import Paragraph, Table, TableStyle

from analysis.results import CellMerge, Estimate
from reports import formatting as fmt
from reports.bulletin_data import BulletinData, CallingHours, Hours, IndexDefinition, Lang, ReliabilityRule
from reports.i18n import LABELS, join, join_and, sentence_join, sentences, tr
from reports.reliability import Reliability, finite, points, township_rows
from reports.styles import BOX, CONTENT_WIDTH, RULE, Styles


def methods_box(data: BulletinData, lang: Lang, styles: Styles) -> Table:
    return disclosure_box([(tr(key, lang), text) for key, text in methods_items(data, lang)], lang, styles)


def disclosure_box(items: list[tuple[str, str]], lang: Lang, styles: Styles) -> Table:
    """The boxed two-column table of (label, text) items; each text ends as a sentence."""
    rows = [
        [Paragraph(escape(label), styles.box_label),
         Paragraph(escape(text if text == fmt.DASH else sentences([text], lang)), styles.box_text)]
        for label, text in items
    ]  # fmt: skip
    table = Table(rows, colWidths=[0.17 * CONTENT_WIDTH, 0.83 * CONTENT_WIDTH])
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), styles.font, 8.5),
        ("BACKGROUND", (0, 0), (-1, -1), BOX),
        ("BOX", (0, 0), (-1, -1), 0.6, RULE),
        ("LINEBELOW", (0, 0), (-1, -2), 0.25, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 3.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
        ("LEFTPADDING", (0, 0), (-1, -1), 6),
    ]))  # fmt: skip
    return table


def methods_items(data: BulletinData, lang: Lang) -> list[tuple[str, str]]:
    """(label key, text) pairs in the order the box shows them."""
    work = data.fieldwork
    return [
        (
            "m_sponsor",
            tr(
                "m_sponsor_text",
                lang,
                sponsor=work.sponsor.get(lang),
                organisation=work.organisation.get(lang),
            ),
        ),
        ("m_population", work.population.get(lang)),
        ("m_frame", work.frame.get(lang)),
        ("m_mode", tr("m_mode_text", lang, modes=_modes(data, lang))),
        ("m_dates", _dates(data, lang)),
        ("m_sample", _sample(data, lang)),
        ("m_coverage", _coverage(data, lang)),
        ("m_response", _response(data, lang)),
        (
            "m_weighting",
            tr(
                "m_weighting_text",
                lang,
                method=work.weighting_method.get(lang),
                targets=work.weighting_targets.get(lang),
            ),
        ),
        ("m_collapse", _merged_cells(data, lang)),
        ("m_deff", _design_effect(data, lang)),
        ("m_moe", _margins(data, lang)),
        ("m_construction", sentences(_per_index(data, lang, lambda i: i.construction.get(lang)), lang)),
        (
            "m_question",
            sentence_join(_per_index(data, lang, lambda i: _quoted(i.question.get(lang), lang)
                                     if i.question.get(lang) else ""), lang),
        ),
        ("m_significance", work.significance_rule.get(lang)),
        ("m_rule", tr("m_rule_text", lang, **rule_fields(data))),
        ("m_limitations", work.limitations.get(lang)),
    ]


def rule_fields(data: BulletinData) -> dict[str, object]:
    return rule_fields_of(data.rule)


def rule_fields_of(rule: ReliabilityRule) -> dict[str, object]:
    """The publication rule's figures as the notes and the methods box print them."""
    return {
        "min_n": rule.min_n,
        "min_n_eff": f"{rule.min_n_eff:g}",
        "flag_max": rule.flag_n_below - 1,
        "half_width": f"{rule.flag_half_width_points:g}",
    }


def _modes(data: BulletinData, lang: Lang) -> str:
    """Known modes (IVR, CATI) are spelt out; any other mode is printed as given."""
    items = [
        tr(f"mode_{mode}", lang, n=fmt.integer(n)) if f"mode_{mode}" in LABELS else f"{mode} {fmt.integer(n)}"
        for mode, n in data.fieldwork.completes_by_mode.items()
    ]
    return join(items, lang)


def _dates(data: BulletinData, lang: Lang) -> str:
    """The field period (dates in the centre's zone) and the calling hours as the survey configured them."""
    work = data.fieldwork
    return tr("m_dates_text", lang, start=fmt.day(work.start, lang), end=fmt.day(work.end, lang),
              zone=fmt.zone(data.timezone, lang, work.start), hours_zone=fmt.zone(work.calling_hours.timezone,
              lang, work.start), hours=calling_hours(work.calling_hours, lang))  # fmt: skip


def calling_hours(hours: CallingHours, lang: Lang) -> str:
    """``周一至周五 18:30–21:00；周六、周日 09:00–21:00；周五 18:30–21:30``, or every day alike."""
    if hours.weekday == hours.weekend and not hours.days:
        parts = [tr("hours_daily", lang, hours=_ranges(hours.weekday, lang))]
    else:
        parts = [tr("hours_weekday", lang, hours=_ranges(hours.weekday, lang)),
                 tr("hours_weekend", lang, hours=_ranges(hours.weekend, lang))]  # fmt: skip
        parts += [tr("hours_day", lang, day=tr(f"weekday_{day}", lang), hours=_ranges(ranges, lang))
                  for day, ranges in sorted(hours.days.items())]  # fmt: skip
    if hours.holidays:
        parts.append(tr("hours_holiday" if hours.holidays == 1 else "hours_holidays", lang, count=hours.holidays))
    return sentence_join(parts, lang)


def _ranges(ranges: Hours, lang: Lang) -> str:
    if not ranges:
        return tr("hours_none", lang)
    return join([f"{_clock(a)}–{_clock(b)}" for a, b in ranges], lang)


def _clock(minute: int) -> str:
    """Minutes after midnight as ``HH:MM``; 1440 is ``24:00``, as calling windows write it."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _coverage(data: BulletinData, lang: Lang) -> str:
    """Whether the county estimates cover every township, and if not which ones they leave out."""
    if not data.left_out:
        return tr("m_coverage_all", lang, towns=len(data.townships))
    return left_out_text(data, lang)


def left_out_note(data: BulletinData, lang: Lang, marked: bool = True) -> str:
    """The headline table's footnote to the county estimates marked † (unmarked when none is published)."""
    return (("†：" if lang == "zh" else "†: ") if marked else "") + left_out_text(data, lang)


def left_out_text(data: BulletinData, lang: Lang) -> str:
    """Which townships the county estimates leave out, each with its share of the adult population."""
    names = [
        tr("left_out_town" if i == 0 else "left_out_more", lang, name=data.township_name(u.stratum, lang),
           share=fmt.rate(u.share))
        for i, u in enumerate(data.left_out)
    ]  # fmt: skip
    covered = fmt.rate(1 - sum(u.share for u in data.left_out))
    return tr("m_coverage_left_out", lang, names=join_and(names, lang), covered=covered)


def _sample(data: BulletinData, lang: Lang) -> str:
    counts = [data.fieldwork.completes_by_township.get(t.code, 0) for t in data.townships] or [0]
    return tr(
        "m_sample_text",
        lang,
        total=fmt.integer(sum(data.fieldwork.completes_by_township.values())),
        low=fmt.integer(min(counts)),
        high=fmt.integer(max(counts)),
    )


def _response(data: BulletinData, lang: Lang) -> str:
    d = data.fieldwork.dispositions
    return tr(
        "m_response_text",
        lang,
        rr3=fmt.rate(d.rr3),
        rr1=fmt.rate(d.rr1),
        I=fmt.integer(d.complete),
        P=fmt.integer(d.partial),
        R=fmt.integer(d.refusal_breakoff),
        NC=fmt.integer(d.non_contact),
        O=fmt.integer(d.other),
        U=fmt.integer(d.unknown),
        NE=fmt.integer(d.not_eligible),
        e=f"{d.e:.2f}",
    )


def _merged_cells(data: BulletinData, lang: Lang) -> str:
    """Which weighting cells were merged, with each level's respondents and why (or that none were)."""
    if not data.merges:
        return tr("m_collapse_none", lang)
    items = [_merge(m, data, lang) for m in data.merges]
    return sentences([sentence_join(items, lang), tr("m_collapse_rule", lang, min_n=data.merges[0].min_n)], lang)


def _merge(m: CellMerge, data: BulletinData, lang: Lang) -> str:
    """One township's merge; levels by the questionnaire's labels, and its variable named, when it has them."""
    labels = [data.cell_label(m.variable, level, lang) for level in m.levels]
    details = [tr(f"m_collapse_{reason or 'level'}", lang, level=label, n=n, min_n=m.min_n)
               for label, n, reason in zip(labels, m.respondents, m.reasons, strict=True)]
    within = join([_level(part, lang) for part in m.within.split(", ")], lang) if m.within else ""
    variable = data.cell_label(m.variable, "", lang)
    levels = ("" if variable == "" else f"{variable} ") + "+".join(labels)
    item = tr("m_collapse_item", lang, township=data.township_name(m.stratum, lang), levels=levels,
              within=(f"（{within}）" if lang == "zh" else f" ({within})") if within else "",
              details=join(details, lang))
    return item + (tr("m_collapse_whole", lang, variable=variable or m.variable) if m.whole_margin else "")


def _level(part: str, lang: Lang) -> str:
    """``sex=M`` as 男 / men when the level is known, else with the variable's name."""
    variable, _, level = part.partition("=")
    if f"level_{level}" in LABELS:
        return tr(f"level_{level}", lang)
    name = tr(f"var_{variable}", lang) if f"var_{variable}" in LABELS else variable
    return f"{name} {level}"


def _design_effect(data: BulletinData, lang: Lang) -> str:
    items = [
        f"{index.name.get(lang)} {est.deff:.2f}"
        for index in (*data.indices, *data.items)
        if (est := data.estimate(index.id)) is not None and finite(est.deff)
    ]
    parts = [tr("m_deff_county", lang, items=join(items, lang))] if items else []
    if data.fieldwork.weight_deff_kish is not None:
        parts.append(tr("m_deff_weights", lang, deff=f"{data.fieldwork.weight_deff_kish:.2f}"))
    return sentence_join(parts, lang) or fmt.DASH


def half_width(est: Estimate | None) -> float | None:
    if est is None or not finite(est.ci_low) or not finite(est.ci_high):
        return None
    return points(est.ci_high - est.ci_low, est.kind) / 2


def _margins(data: BulletinData, lang: Lang) -> str:
    items = []
    for index in (*data.indices, *data.items):
        county = half_width(data.estimate(index.id))
        if county is None:
            continue
        towns = [
            w for row in township_rows(data, index.id)
            if row.reliability is not Reliability.SUPPRESSED and (w := half_width(row.estimate)) is not None
        ]  # fmt: skip
        name = index.name.get(lang)
        if towns:
            items.append(
                tr(
                    "m_moe_text",
                    lang,
                    name=name,
                    county=f"{county:.1f}",
                    low=f"{min(towns):.1f}",
                    high=f"{max(towns):.1f}",
                )
            )
        else:
            items.append(tr("m_moe_county_only", lang, name=name, county=f"{county:.1f}"))
    return sentence_join(items, lang) + tr("m_moe_note", lang) if items else fmt.DASH


def _per_index(data: BulletinData, lang: Lang, text: Callable[[IndexDefinition], str]) -> list[str]:
    """Each index's ``text`` after its name; an index without one (a composite's wording) left out."""
    separator = "：" if lang == "zh" else ": "
    return [f"{i.name.get(lang)}{separator}{said}" for i in (*data.indices, *data.items) if (said := text(i))]


def _quoted(text: str, lang: Lang) -> str:
    """Curly quotes are full-width glyphs in a CJK font, so English text gets straight ones."""
    return f"“{text}”" if lang == "zh" else f'"{text}"'
