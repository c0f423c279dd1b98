"""Every fixed word of the bulletin in Chinese and English. Templates use ``str.format`` fields."""

from __future__ import annotations

from collections.abc import Sequence

from reports.bulletin_data import IndexDefinition, Lang

LABELS: dict[str, tuple[str, str]] = {
    # masthead and footer
    "issue": ("第{issue}期", "No. {issue}"),
    "title": ("{title}（{period}）", "{title}, {period}"),
    "released": ("发布日期：{date}", "Released {date}"),
    "next_release": ("下期发布：{date}", "Next release {date}"),
    "contact": ("联系方式：{contact}", "Contact: {contact}"),
    "page": ("第 {page} 页 / 共 {total} 页", "Page {page} of {total}"),
    "stamp": ("数据快照 {snapshot} · Minyi {version}", "Data snapshot {snapshot} · Minyi {version}"),
    # sections
    "main_points": ("要点", "Main points"),
    "headline": ("主要指数", "Headline indices"),
    "township_section": ("各乡镇{index}", "{index} by township"),
    "trend": ("全县指数走势", "County trend"),
    "concerns": ("群众反映问题及办理情况", "Residents' concerns and their handling"),
    "benchmark": ("外部参照", "Outside benchmark"),
    "methods": ("调查说明", "About the survey"),
    "completes_annex": ("附表　各乡镇完成访问数", "Annex: completed interviews by township"),
    # table headers
    "col_index": ("指数", "Index"),
    "col_ci": ("95%置信区间", "95% CI"),
    "col_vs_previous": ("较上期", "vs previous"),
    "col_vs_last_year": ("较上年同期", "vs a year ago"),
    "col_change": ("较上期", "Change"),
    "col_deff": ("设计效应", "Design effect"),
    "col_n": ("n", "n"),
    "col_rank": ("名次", "Rank"),
    "col_rank_with_range": ("名次", "Rank"),
    "col_p": ("p / Holm p", "p / Holm p"),
    "col_tier": ("与全县比较", "vs county"),
    "col_township": ("乡镇", "Township"),
    "col_completes": ("完成访问", "Completes"),
    "col_category": ("问题类别", "Category"),
    "col_unit": ("责任单位", "Responsible unit"),
    "col_count": ("件数", "Cases"),
    "col_open": ("未办结", "Open"),
    "col_top_category": ("主要类别", "Main category"),
    "col_closure": ("办结率", "Closure rate"),
    "col_on_time": ("按时办结率", "On-time rate"),
    "col_source": ("来源", "Source"),
    "col_period": ("时期", "Period"),
    "col_province_value": ("公布值", "Published"),
    "col_own_value": ("本中心估计", "Our estimate"),
    "col_province_rank": ("全省名次", "Rank in province"),
    "rank_of": ("{rank}/{of}", "{rank} of {of}"),
    "county": ("全县", "County"),
    # tiers
    "tier_above": ("高于全县", "Above"),
    "tier_same": ("未显示出差异", "Not shown to differ"),
    "tier_below": ("低于全县", "Below"),
    # statuses
    "accepted": ("受理", "Accepted"),
    "assigned": ("交办", "Assigned"),
    "in_progress": ("办理中", "In progress"),
    "closed": ("已办结", "Closed"),
    "revisited": ("已回访", "Called back"),
    # units
    "unit_share": ("%", "%"),
    "unit_score": ("分", "points"),
    "change_unit_share": ("个百分点", " percentage points"),
    "change_unit_score": ("分", " points"),
    # footnotes
    "note_units": (
        "比率类指数（%）是给出肯定回答者占有效回答者的百分比，其变化以百分点计；"
        "得分类指数为 0–100 分，其变化以分计。n 为对该指数作出有效回答的受访者人数（未加权）。",
        "Share indices (%) are the percentage of valid answers that are favourable; their changes are "
        "in percentage points. Score indices run from 0 to 100; their changes are in points. n is the "
        "unweighted number of respondents with a valid answer.",
    ),
    "note_significance": (
        "▲/▼：变化在统计上显著（检验规则见调查说明）；无标记表示变化不显著；—：无可比数据。",
        "▲/▼: statistically significant change (rule in About the survey); no mark: not significant; "
        "—: no comparable figure.",
    ),
    "note_deff": (
        "设计效应为“—”：无法计算。全部有效回答相同时，没有可与简单随机抽样相比的方差（比值为 0/0）；"
        "由多个问题合成的指数没有单一的回答方差。",
        "Design effect “—”: not defined. When every valid answer is the same there is no variance to "
        "compare with simple random sampling (the ratio is 0/0); an index combining several questions "
        "has no single answer variance.",
    ),
    "note_suppressed": (
        "—：样本量不足（n<{min_n} 或有效样本量<{min_n_eff}），不发布估计，也不参加排名：{names}。",
        "—: too few interviews (n < {min_n} or effective n < {min_n_eff}); not published and not "
        "ranked: {names}.",
    ),
    "note_flagged": (
        "※：样本量 {min_n}–{flag_max}，或95%置信区间宽于 ±{half_width} 个百分点（分），"
        "精度较低，请谨慎使用。",
        "※: n of {min_n}–{flag_max}, or a 95% CI wider than ±{half_width} points; less precise, "
        "use with care.",
    ),
    "note_rank": (
        "名次只在发布估计的乡镇之间排列（1 为最高），括号内为名次区间：各乡镇两两比较（Bonferroni 校正）得出，"
        "全部乡镇的名次区间同时包含真实名次的概率不低于 95%；名次相邻的乡镇多在误差范围内，"
        "不宜据名次先后作比较。与全县比较：{scale}检验乡镇与全县之差（计入乡镇是全县的一部分），"
        "经 Holm 法对 {towns} 个乡镇多重比较校正后 p<0.05 为高于或低于全县；“未显示出差异”只表示检验未能显示出差异，"
        "并不表示与全县相同。较上期的变化同样经 Holm 法对各乡镇校正。“p / Holm p”列先列未校正的 p 值，后列 Holm 校正后的 p 值。"
        "置信区间是否重叠不能用来判断差异是否显著。",
        "Ranks are among the published townships only (1 = highest), with a rank range in brackets: from "
        "pairwise comparisons of every two townships (Bonferroni-adjusted), the ranges of all townships together "
        "contain the true ranks with at least 95% probability; neighbouring ranks are mostly within the noise, "
        "so do not read much into them. vs county: "
        "the township's difference from the county (of which it is a part) is tested{scale}; "
        "Above or Below means a Holm-adjusted p below 0.05 over the {towns} townships. \"Not shown to "
        "differ\" means the test could not show a difference, not that the township equals the county. "
        "Changes on the previous period are Holm-adjusted over the townships in the same way. The \"p / Holm "
        "p\" columns give the unadjusted p-value, then the Holm-adjusted one. Whether two confidence intervals "
        "overlap does not tell whether they differ significantly.",
    ),
    "scale_share": ("在 logit 尺度上", " on the logit scale"),
    "scale_score": ("", ""),
    "note_dash": (
        "—：无法给出。样本量不足的乡镇不发布估计，也不排名、不检验；没有上期可比估计（或其中一期不发布）时没有变化；"
        "未作检验时没有 p 值。",
        "—: cannot be given. A township with too few interviews has no published estimate, rank or test; "
        "there is no change without a comparable published estimate for the previous period; there is no "
        "p-value where no test was made.",
    ),
    "note_interval_vs_test": (
        "{names}的 95% 置信区间不含全县估计，但与全县比较为“未显示出差异”：同时比较 {towns} 个乡镇时，"
        "Holm 法要求比单个区间更强的证据，且检验计入了乡镇是全县的一部分。",
        "The 95% interval of {names} leaves out the county figure, yet the comparison says \"Not shown to "
        "differ\": comparing {towns} townships at once, Holm's method asks for stronger evidence than one "
        "interval does, and the test allows for the township being part of the county.",
    ),
    "note_interval_vs_test_many": (
        "{names}的 95% 置信区间都不含全县估计，但与全县比较为“未显示出差异”：同时比较 {towns} 个乡镇时，"
        "Holm 法要求比单个区间更强的证据，且检验计入了乡镇是全县的一部分。",
        "The 95% intervals of {names} leave out the county figure, yet the comparison says \"Not shown to "
        "differ\": comparing {towns} townships at once, Holm's method asks for stronger evidence than one "
        "interval does, and the test allows for each township being part of the county.",
    ),
    "left_out_town": ("{name}（占全县成年常住人口 {share}）", "{name} ({share} of the county's adults)"),
    "left_out_more": ("{name}（{share}）", "{name} ({share})"),
    "chart_townships": ("各乡镇{index}及 95% 置信区间", "{index} by township, with 95% CIs"),
    "chart_townships_note": (
        "竖线为全县估计；空心点为※标记的估计。区间是否跨过全县线不等于与全县比较的检验结论（见表注）。",
        "The vertical line is the county estimate; hollow points are estimates flagged ※. Whether an "
        "interval crosses the county line is not the test against the county (see the notes under the table).",
    ),
    "chart_trend_note": (
        "阴影为 95% 置信区间。",
        "The shaded band is the 95% CI.",
    ),
    "trend_single": (
        "只有一期数据，暂无走势。",
        "Only one period so far, so there is no trend yet.",
    ),
    # concerns
    "concerns_summary": (
        "本期受理群众反映问题 {total} 件，已办结 {closed} 件，办结率 {closure}，按时办结率 {on_time}；"
        "已回访 {revisited} 件，回访满意率 {satisfied}。",
        "{total} concerns were received this period and {closed} closed: a closure rate of {closure}, "
        "{on_time} on time; {revisited} residents were called back and {satisfied} of them were "
        "satisfied with the handling.",
    ),
    "concerns_none": ("本期无群众反映问题记录。", "No concerns were recorded this period."),
    "concerns_by_category": ("按问题类别", "By category"),
    "concerns_by_township": ("按乡镇", "By township"),
    "concerns_by_unit": ("按责任单位", "By responsible unit"),
    "concerns_note": (
        "办结率 =（已办结 + 已回访）/ 件数；按时办结率 = 按时办结件数 / 办结件数；"
        "回访满意率 = 满意件数 / 已回访件数。本节只含汇总件数，不含反映人姓名、电话或可识别个人的细节。",
        "Closure rate = (closed + called back) / cases; on-time rate = closed within the deadline / "
        "closed; satisfaction = satisfied / called back. Counts only: no names, phone numbers or details "
        "that could identify a resident.",
    ),
    # benchmark
    "benchmark_note": (
        "外部数据由发布机关按其自身方法计算，与本中心估计的口径可能不同。",
        "Outside figures are computed by their publisher with its own method and may not be "
        "comparable with ours.",
    ),
    # highlights
    "hl_index": ("全县{name}为 {value}（95%置信区间 {ci}）", "{name} in the county: {value} (95% CI {ci})"),
    "hl_change": (
        "，较上期{direction} {size}{unit}，{significance}",
        ", {direction} {size}{unit} on the previous period, {significance}",
    ),
    "hl_up": ("上升", "up"),
    "hl_down": ("下降", "down"),
    "hl_unchanged": ("，与上期持平", ", unchanged on the previous period"),
    "hl_significant": ("变化显著", "a significant change"),
    "hl_not_significant": ("变化不显著", "not a significant change"),
    "hl_response": (
        "本期完成有效访问 {n} 个（{modes}），应答率 AAPOR RR3 {rr3}（RR1 {rr1}）。",
        "{n} completed interviews ({modes}); response rate AAPOR RR3 {rr3} (RR1 {rr1}).",
    ),
    "hl_movers": (
        "较上期变化显著的有 {count} 项：{items}。",
        "{count} significant changes on the previous period: {items}.",
    ),
    "hl_movers_largest": (
        "较上期变化显著的有 {count} 项，变化最大的 {shown} 项：{items}。",
        "{count} significant changes on the previous period; the {shown} largest: {items}.",
    ),
    "hl_mover": (
        "{township}{index}{direction} {size}{unit}",
        "{index} in {township} {direction} {size}{unit}",
    ),
    "hl_tiers": (
        "{index}显著高于全县的乡镇：{above}；显著低于全县的：{below}。",
        "Townships significantly above the county on {index}: {above}; below: {below}.",
    ),
    "hl_no_tier": ("无", "none"),
    "hl_no_tiers": (
        "没有乡镇的{index}显示出与全县有差异（经 Holm 法多重比较校正）。",
        "No township was shown to differ from the county on {index} (Holm-adjusted).",
    ),
    "hl_items": ("分项指标较上期变化显著的有：{items}。", "Items that changed significantly on the previous period: {items}."),
    "hl_item": ("{name} {value}，{direction} {size}{unit}", "{name} {value}, {direction} {size}{unit}"),
    "hl_more": ("等 {total} 个", " and {more} more"),  # Chinese counts them all: 甲、乙等 5 个
    "hl_concerns": (
        "受理群众反映问题 {total} 件，办结率 {closure}，按时办结率 {on_time}。",
        "{total} residents' concerns received; {closure} closed, {on_time} of them on time.",
    ),
    "hl_suppressed": (
        "{count} 个乡镇样本量不足，未发布其估计。",
        "{count} townships had too few interviews for their estimates to be published.",
    ),
    "hl_suppressed_some": (
        "{count} 个乡镇至少一项指数样本量不足，未发布该项估计（详见各指数的乡镇表）。",
        "{count} townships had too few interviews for at least one index; those estimates are not "
        "published (see each index's township table).",
    ),
    # methods box
    "m_sponsor": ("调查组织", "Sponsor and fieldwork"),
    "m_sponsor_text": (
        "{sponsor}委托，{organisation}实施。",
        "Commissioned by the {sponsor}; fieldwork by the {organisation}.",
    ),
    "m_population": ("调查对象", "Population"),
    "m_frame": ("抽样框与覆盖", "Frame and coverage"),
    "m_mode": ("调查方式", "Mode"),
    "m_mode_text": ("电话调查，{modes}。", "Telephone survey: {modes}."),
    "mode_IVR": ("自动语音（IVR）{n} 个", "automated voice (IVR) {n}"),
    "mode_CATI": ("访员电话访问（CATI）{n} 个", "interviewer (CATI) {n}"),
    "m_dates": ("调查时间", "Fieldwork"),
    "m_dates_text": (
        "{start}至{end}（{zone}）。拨打时间（{hours_zone}）：{hours}。",
        "{start} to {end} ({zone}). Calling hours ({hours_zone}): {hours}.",
    ),
    "hours_daily": ("每日 {hours}", "{hours} every day"),
    "hours_weekday": ("周一至周五 {hours}", "{hours} Monday to Friday"),
    "hours_weekend": ("周六、周日 {hours}", "{hours} on Saturdays and Sundays"),
    "hours_day": ("{day} {hours}", "{hours} on {day}"),
    "hours_none": ("不拨打", "no calls"),
    "hours_holidays": ("节假日 {count} 天不拨打", "no calls on {count} public holidays"),
    "hours_holiday": ("节假日 1 天不拨打", "no calls on 1 public holiday"),
    "weekday_0": ("周一", "Mondays"),
    "weekday_1": ("周二", "Tuesdays"),
    "weekday_2": ("周三", "Wednesdays"),
    "weekday_3": ("周四", "Thursdays"),
    "weekday_4": ("周五", "Fridays"),
    "weekday_5": ("周六", "Saturdays"),
    "weekday_6": ("周日", "Sundays"),
    "m_coverage": ("覆盖范围", "Coverage"),
    "m_coverage_all": (
        "全县估计覆盖全部 {towns} 个乡镇（街道），每个乡镇都有受访者。",
        "The county estimates cover all {towns} townships: every township has interviews.",
    ),
    "m_coverage_left_out": (
        "全县估计不含没有受访者的乡镇：{names}；全县估计只代表其余 {covered} 的成年常住人口，"
        "不对这些乡镇作任何假定。",
        "The county estimates leave out the townships with no interviews: {names}. They represent the "
        "other {covered} of the adult resident population and assume nothing about the townships left out.",
    ),
    "m_sample": ("样本量", "Interviews"),
    "m_sample_text": (
        "完成有效访问 {total} 个，各乡镇 {low}–{high} 个（见附表）。",
        "{total} completed interviews, {low}–{high} per township (see the annex).",
    ),
    "m_response": ("应答率", "Response rate"),
    "m_response_text": (
        "AAPOR RR3 {rr3}（RR1 {rr1}）。最终处置：完成 I={I}，部分完成 P={P}，拒访及中断 R={R}，"
        "未接触 NC={NC}，其他 O={O}，资格未知 UH+UR+UO={U}，不合格 NE={NE}；"
        "资格未知号码中合格者的估计比例 e={e}。",
        "AAPOR RR3 {rr3} (RR1 {rr1}). Final dispositions: complete I={I}, partial P={P}, refusal and "
        "break-off R={R}, non-contact NC={NC}, other O={O}, unknown eligibility UH+UR+UO={U}, not "
        "eligible NE={NE}; estimated eligible share of the unknown cases e={e}.",
    ),
    "m_weighting": ("加权", "Weighting"),
    "m_weighting_text": ("{method}。目标总体：{targets}", "{method}. Targets: {targets}"),
    "m_collapse": ("单元合并", "Merged cells"),
    "m_collapse_none": ("无：各加权单元的受访者都足够，未合并。", "None: every weighting cell had enough respondents."),
    "m_collapse_item": ("{township}{within}{levels}合并（{details}）", "{township}{within}: {levels} merged ({details})"),
    "m_collapse_whole": ("，该乡镇不按{variable}加权", ", so the township is not weighted by {variable}"),
    "m_collapse_level": ("{level} {n} 人", "{level}: {n}"),
    "m_collapse_empty": ("{level} 无受访者", "{level}: none"),
    "m_collapse_thin": ("{level} 仅 {n} 人（少于 {min_n} 人）", "{level}: only {n} (fewer than {min_n})"),
    "m_collapse_adjustment": ("{level} {n} 人（调整系数超过上限）", "{level}: {n} (adjustment above the maximum)"),
    "m_collapse_rule": (
        "规则：受访者为 0 或少于 {min_n} 人的加权单元，与同一乡镇内同一变量按答案顺序相邻的组合并，从不跨乡镇合并",
        "Rule: a weighting cell with no respondents or fewer than {min_n} is merged with the adjacent group "
        "of the same variable (in the order of its answers) in the same township, never across townships",
    ),
    "var_age_group": ("年龄", "age"),
    "var_sex": ("性别", "sex"),
    "level_M": ("男", "men"),
    "level_F": ("女", "women"),
    "m_deff": ("设计效应", "Design effect"),
    "m_deff_weights": ("权重的 Kish 设计效应 {deff}", "Kish design effect of the weights {deff}"),
    "m_deff_county": ("全县估计：{items}", "County estimates: {items}"),
    "m_moe": ("抽样误差", "Margin of error"),
    "m_moe_text": (
        "{name}：全县 ±{county}，各乡镇 ±{low} 至 ±{high}",
        "{name}: county ±{county}, townships ±{low} to ±{high}",
    ),
    "m_moe_county_only": ("{name}：全县 ±{county}", "{name}: county ±{county}"),
    "m_moe_note": (
        "（95% 置信水平，半宽，已计入加权的影响；比率类为百分点，得分类为分）",
        " (95% level, half-width, allowing for the weighting; percentage points for shares, points "
        "for scores)",
    ),
    "m_construction": ("指数构成", "Index construction"),
    "m_question": ("问卷题目", "Question wording"),
    "m_significance": ("显著性检验", "Significance"),
    "m_significance_text": (
        "两期为独立样本，变化的标准误为两期标准误平方和的平方根，按 t 检验（Satterthwaite 自由度）判断；"
        "各乡镇的变化、各乡镇与全县的比较（比率类在 logit 尺度上）分别经 Holm 法多重比较校正，校正后 p<0.05 为显著，"
        "各乡镇表中未校正的 p 值与 Holm 校正后的 p 值并列。置信区间重叠并不表示差异不显著。",
        "Independent samples in each period: the SE of a change is the root of the sum of the two squared "
        "SEs, tested by t with Satterthwaite df; township changes and township-county comparisons (on the "
        "logit scale for shares) are each Holm-adjusted over the townships, significant at adjusted p < 0.05 "
        "(the township tables give the unadjusted p-value beside the Holm-adjusted one). Overlapping "
        "intervals do not mean no significant difference.",
    ),
    "m_rule": ("发布规则", "Publication rule"),
    "m_rule_text": (
        "未加权样本量 n<{min_n} 或有效样本量<{min_n_eff} 的估计不发布（—）；n 为 {min_n}–{flag_max} "
        "或 95% 置信区间宽于 ±{half_width} 个百分点（分）的估计标※。先执行本规则，再对发布的乡镇排名。"
        "不发布可识别受访者的个案资料或开放题原文。",
        "Estimates with an unweighted n below {min_n} or an effective n below {min_n_eff} are not "
        "published (—); those with n of {min_n}–{flag_max} or a 95% CI wider than ±{half_width} points "
        "are flagged ※. The rule is applied before ranking. No case-level data or open-ended answers "
        "that could identify a respondent are published.",
    ),
    "m_limitations": ("局限性", "Limitations"),
    # the provincial bulletin and the county bulletins of one province's analysis (reports/province_bulletin.py)
    "p_centre": ("民意调查中心", "Public Opinion Survey Centre"),
    "p_title_province": ("全省各县（市、区）民意调查通报", "Provincial opinion survey bulletin: the counties"),
    "p_title_county": ("{area}民意调查通报", "{area}: opinion survey bulletin"),
    "p_period": ("（{period}）", ", {period}"),
    "p_round": ("第{n}轮", "round {n}"),
    "p_dateline": ("发布日期：{date}　受访者 {n} 人　{units}", "Released {date} · {n} respondents · {units}"),
    "p_units_province": ("{units} 个县（市、区）", "{units} counties"),
    "p_units_county": ("{units} 个乡镇（街道）", "{units} townships"),
    "p_whole_province": ("全省", "province"),
    "p_whole_county": ("全县", "county"),
    "p_key_findings": ("要点", "Key findings"),
    "p_headline": ("主要指数", "Headline indices"),
    "p_section_province": ("各县（市、区）{index}排名", "{index}: the counties ranked"),
    "p_section_county": ("各乡镇{index}排名", "{index}: the townships ranked"),
    "p_chart_province": ("各县（市、区）{index}（按名次排列）", "{index} by county, in rank order"),
    "p_chart_county": ("各乡镇{index}（按名次排列）", "{index} by township, in rank order"),
    "p_chart_note": (
        "点为估计值，横线为95%置信区间，虚线为{whole}估计；绿色：高于全省，红色：低于全省，蓝色：与全省未显示出差异；"
        "空心点：精度较低（※）。名称前的数字为名次。",
        "Dot: estimate; bar: 95% confidence interval; dashed line: the {whole} estimate. Green: above the "
        "province, red: below it, blue: not shown to differ from it; hollow: less precise (※). The number "
        "before each name is its rank.",
    ),
    "p_overview_province": ("各县（市、区）分布一览", "All counties at a glance"),
    "p_overview_county": ("各乡镇分布一览", "All townships at a glance"),
    "p_overview_note": (
        "每条竖线为一个单位的估计；绿色：高于全省，红色：低于全省，蓝色：与全省未显示出差异；红色虚线为{whole}估计。",
        "Each tick is one unit's estimate. Green: above the province, red: below it, blue: not shown to differ "
        "from it; the red dashed line is the {whole} estimate.",
    ),
    "p_col_county": ("县（市、区）", "County"),
    "p_col_rank_set": ("名次区间", "Rank set"),
    "p_col_vs_province": ("与全省比较", "vs province"),
    "p_col_place": ("在各县中的名次", "Rank among counties"),
    "p_place": ("{rank}/{of}", "{rank} of {of}"),
    "p_tier_above": ("高于全省", "Above"),
    "p_tier_below": ("低于全省", "Below"),
    "p_tier_same": ("≈ 未显示出差异", "≈ not shown to differ"),
    "p_unsampled": ("无受访者", "no respondents"),
    "p_note_table": (
        "名次只在发布估计的{units}之间排列（1 为最高）；名次区间为联合95%置信集：各{units}两两比较（Bonferroni 校正），"
        "全部名次区间同时包含真实名次的概率不低于95%，区间重叠的{units}谁先谁后不能确定。“与全省比较”检验{units}与全省之差，"
        "经 Holm 法多重比较校正后 p<0.05 为高于或低于全省；“≈ 未显示出差异”只表示检验未能显示出差异，并不表示与全省相同。",
        "Ranks are among the {units} with a published estimate (1 = highest). The rank set is a joint 95% "
        "confidence set: from Bonferroni-adjusted comparisons of every two {units}, all the rank sets together "
        "contain the true ranks with at least 95% probability; {units} whose sets overlap cannot be put in order. "
        "vs province: the difference from the province, Holm-adjusted; Above or Below at adjusted p < 0.05. "
        "\"≈ not shown to differ\" means the test could not show a difference, not that the two are equal.",
    ),
    "p_note_change": ("较上期的变化标▲▼者经 Holm 校正后显著。", "Changes marked ▲▼ are significant after Holm adjustment."),
    "p_units_word_province": ("县（市、区）", "counties"),
    "p_units_word_county": ("乡镇", "townships"),
    "p_note_partial": (
        "†：该县有乡镇无受访者，其估计只代表有受访者的乡镇（见调查说明）。",
        "†: the county has townships without respondents; its estimate covers the others only (see About the survey).",
    ),
    "p_note_whole_partial_province": (
        "†：有乡镇没有受访者，全省估计只代表其余乡镇（见调查说明“覆盖范围”）。",
        "†: some townships have no respondents; the province's estimates cover the others only (see About the "
        "survey, Coverage).",
    ),
    "p_note_whole_partial_county": (
        "†：本县有乡镇没有受访者，本县估计只代表其余乡镇（见调查说明“覆盖范围”）。",
        "†: some of the county's townships have no respondents; its estimates cover the others only (see About "
        "the survey, Coverage).",
    ),
    "p_note_withheld": (
        "—：样本量不足，不发布估计，也不排名、不检验。",
        "—: too few interviews: no published estimate, rank or test.",
    ),
    "p_note_unsampled": (
        "{names}没有受访者，不在估计和排名之内。",
        "{names}: no respondents; not in the estimates or the ranking.",
    ),
    "p_point_province": (
        "{index}：全省为{value}（95%置信区间 {ci}）{change}。{above} 个县（市、区）高于全省，{below} 个低于全省，"
        "{same} 个未显示出差异；{top}最高（{top_value}，名次区间 {top_set}），{bottom}最低（{bottom_value}，名次区间 {bottom_set}）",
        "{index}: {value} in the province (95% CI {ci}){change}. {above} counties are above the province, "
        "{below} below it and {same} not shown to differ; {top} is highest ({top_value}, rank set {top_set}) and "
        "{bottom} lowest ({bottom_value}, rank set {bottom_set})",
    ),
    "p_point_county": (
        "{index}：{area}为{value}（95%置信区间 {ci}）{change}，在全省 {of} 个县（市、区）中居第 {rank} 位"
        "（名次区间 {rank_set}），{tier}",
        "{index}: {value} in {area} (95% CI {ci}){change}, ranked {rank} of {of} counties (rank set "
        "{rank_set}); {tier}",
    ),
    "p_point_county_towns": (
        "乡镇中{top}最高（{top_value}），{bottom}最低（{bottom_value}）",
        "among its townships {top} is highest ({top_value}) and {bottom} lowest ({bottom_value})",
    ),
    "p_point_tier_above": ("高于全省", "above the province"),
    "p_point_tier_below": ("低于全省", "below the province"),
    "p_point_tier_same": ("与全省未显示出差异", "not shown to differ from the province"),
    "p_point_change": ("，较上期{change}{unit}{significance}", ", {change}{unit} on the previous period{significance}"),
    "p_significant": ("（显著）", " (significant)"),
    "p_not_significant": ("（不显著）", " (not significant)"),
    "p_m_data": ("数据", "Data"),
    "p_m_data_province": (
        "{n} 名受访者，{units} 个县（市、区）、{towns} 个乡镇（街道）；每个县（市、区）和乡镇的估计来自同一次分析（minyi analyze --group）",
        "{n} respondents in {units} counties and {towns} townships; every county's and township's estimate "
        "comes from one analysis (minyi analyze --group)",
    ),
    "p_m_data_county": (
        "本县 {n} 名受访者，{units} 个乡镇（街道）；与全省及其他县（市、区）的估计来自同一次分析（minyi analyze --group）",
        "{n} respondents in the county's {units} townships; the same analysis (minyi analyze --group) estimated the "
        "province and every other county",
    ),
    "p_m_coverage_all": ("全部乡镇均有受访者", "Every township has respondents"),
    "p_m_coverage_province": (
        "{count} 个乡镇没有受访者，占全省成年人口 {share}，全省估计不含这些乡镇：{names}",
        "{count} townships have no respondents ({share} of the province's adults); the province's estimates "
        "leave them out: {names}",
    ),
    "p_m_coverage_province_one": (
        "{count} 个乡镇没有受访者，占全省成年人口 {share}，全省估计不含这个乡镇：{names}",
        "{count} township has no respondents ({share} of the province's adults); the province's estimates "
        "leave it out: {names}",
    ),
    "p_m_coverage_county": (
        "{names}没有受访者（成年人口共 {population} 人），本县估计不含这些乡镇",
        "{names} have no respondents ({population} adults); the county's estimates leave them out",
    ),
    "p_m_coverage_county_one": (
        "{names}没有受访者（成年人口 {population} 人），本县估计不含这个乡镇",
        "{names} has no respondents ({population} adults); the county's estimates leave it out",
    ),
    "p_m_weighting": ("加权与估计", "Weighting and estimation"),
    "p_m_ranks": ("名次", "Ranks"),
    "p_m_ranks_text": (
        "名次按点估计排列，名次区间为联合95%置信集（Klein、Wright、Wieczorek 2020；Mogstad 等 2024）："
        "各单位两两比较，Bonferroni 校正，比率在 logit 尺度上比较。县（市、区）在全省各县之间排名；乡镇在本县各乡镇之间排名",
        "Ranks follow the point estimates; rank sets are joint 95% confidence sets (Klein, Wright and Wieczorek "
        "2020; Mogstad et al. 2024) from Bonferroni-adjusted pairwise comparisons, shares on the logit scale. "
        "Counties are ranked among the province's counties, townships among their county's townships",
    ),
    "p_m_rule_text": (
        "未加权样本量 n<{min_n} 或有效样本量<{min_n_eff} 的估计不发布（—）；n 为 {min_n}–{flag_max} "
        "或 95% 置信区间宽于 ±{half_width} 个百分点（分）的估计标※。先执行本规则，再对发布的{units}排名",
        "Estimates with an unweighted n below {min_n} or an effective n below {min_n_eff} are not "
        "published (—); those with n of {min_n}–{flag_max} or a 95% CI wider than ±{half_width} points "
        "are flagged ※. The rule is applied before the {units} are ranked",
    ),
    "p_m_tests": ("与全省比较", "Against the province"),
    "p_m_tests_text": (
        "每个县（市、区）或乡镇与全省之差按 t 检验，计入其为全省的一部分，经 Holm 法对同级各单位多重比较校正，"
        "校正后 p<0.05 为高于或低于全省。两期为独立样本，变化同样经 Holm 校正。置信区间重叠并不表示差异不显著",
        "Each county's or township's difference from the province is tested by t, counting that it is part of the "
        "province, and Holm-adjusted over its level; adjusted p < 0.05 is Above or Below. Periods are independent "
        "samples; changes are Holm-adjusted too. Overlapping intervals do not mean no significant difference",
    ),
}


def tr(key: str, lang: Lang, **fields: object) -> str:
    zh, en = LABELS[key]
    return (zh if lang == "zh" else en).format(**fields)


def unit_suffix(kind: str, lang: Lang) -> str:
    """``（%）`` or `` (points)``."""
    unit = tr(f"unit_{kind}", lang)
    return f"（{unit}）" if lang == "zh" else f" ({unit})"


def index_label(index: IndexDefinition, lang: Lang) -> str:
    """The index name with its unit, e.g. ``公众安全感（%）``."""
    return index.name.get(lang) + unit_suffix(index.kind, lang)


def change_unit(kind: str, lang: Lang) -> str:
    return tr(f"change_unit_{kind}", lang)


def join(items: Sequence[str], lang: Lang) -> str:
    return ("、" if lang == "zh" else ", ").join(items)


def join_and(items: Sequence[str], lang: Lang) -> str:
    """Names in a sentence: ``甲、乙、丙`` or ``A, B and C``."""
    if lang == "zh" or len(items) < 2:
        return join(items, lang)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def sentence_join(items: Sequence[str], lang: Lang) -> str:
    return ("；" if lang == "zh" else "; ").join(items)


def sentences(items: Sequence[str], lang: Lang) -> str:
    """Whole sentences one after another, each ending with a full stop."""
    stop = "。" if lang == "zh" else "."
    ended = [item if item.endswith(("。", ".", "？", "?")) else item + stop for item in items]
    return ("" if lang == "zh" else " ").join(ended)


def section_heading(number: int, title: str, lang: Lang) -> str:
    if lang == "en":
        return f"{number}  {title}"
    return f"{chinese_numeral(number)}、{title}"


def chinese_numeral(number: int) -> str:
    """一 … 九十九, as section numbers are written (十一, 二十, 二十三)."""
    if not 1 <= number <= 99:
        raise ValueError(f"no Chinese section numeral for {number}")
    digits = "〇一二三四五六七八九"
    tens, ones = divmod(number, 10)
    head = "" if tens == 0 else ("十" if tens == 1 else digits[tens] + "十")
    return head + (digits[ones] if ones else "")
