"""A realistic synthetic bulletin: a county of 21 townships (or more, for benches).

Estimates are drawn around plausible true values with binomial/score standard errors, a
design effect and logit CIs, so that the renderer meets every case it must handle: a township
with no completes, one below the suppression threshold, one in the flag band, significant
movers, a county trend, concerns and an outside benchmark.
"""

from __future__ import annotations

import math
from datetime import date, datetime

import numpy as np
from scipy import stats

from analysis.changes import changes, holm
from analysis.results import COUNTY, CellMerge, Change, Estimate, Rank, Unsampled
from reports.bulletin_data import (
    STATUSES,
    Benchmark,
    BuildStamp,
    BulletinData,
    CallingHours,
    ConcernCell,
    Concerns,
    Dispositions,
    Fieldwork,
    IndexDefinition,
    Periods,
    Text,
    Township,
)
from reports.i18n import LABELS

TOWNSHIP_NAMES = (
    ("城关镇", "Chengguan"), ("河口镇", "Hekou"), ("石门镇", "Shimen"), ("青山乡", "Qingshan"),
    ("白沙镇", "Baisha"), ("龙潭乡", "Longtan"), ("新市镇", "Xinshi"), ("桃源乡", "Taoyuan"),
    ("东岗街道", "Donggang Subdistrict"), ("西湖街道", "Xihu Subdistrict"), ("马桥镇", "Maqiao"),
    ("柳林乡", "Liulin"), ("高坪镇", "Gaoping"), ("黄土岭乡", "Huangtuling"), ("双溪镇", "Shuangxi"),
    ("金塘乡", "Jintang"), ("三元镇", "Sanyuan"), ("枫树坪乡", "Fengshuping"), ("大观镇", "Daguan"),
    ("云台乡", "Yuntai"), ("太平镇", "Taiping"),
)  # fmt: skip
NAME_HEADS = {
    "东": "Dong", "西": "Xi", "南": "Nan", "北": "Bei", "上": "Shang", "下": "Xia", "青": "Qing",
    "白": "Bai", "金": "Jin", "石": "Shi", "龙": "Long", "凤": "Feng", "桃": "Tao", "柳": "Liu",
    "马": "Ma", "高": "Gao", "黄": "Huang", "双": "Shuang", "大": "Da", "云": "Yun", "新": "Xin",
}  # fmt: skip
NAME_TAILS = {
    "山": "shan", "河": "he", "湖": "hu", "桥": "qiao", "林": "lin", "坪": "ping", "岭": "ling",
    "溪": "xi", "塘": "tang", "门": "men", "沙": "sha", "潭": "tan", "源": "yuan", "岗": "gang",
    "台": "tai", "田": "tian", "庄": "zhuang", "铺": "pu",
}  # fmt: skip
MONTHS = ("2025-10", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10")
CURRENT, PREVIOUS, LAST_YEAR = "2026-10", "2026-09", "2025-10"
EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: How every satisfaction share is built (the police index and the court item alike).
SHARE_CONSTRUCTION = Text(
    "回答“满意”或“比较满意”者占有效回答者的百分比；“不了解”不计入分母。",
    "Percentage answering 'satisfied' or 'fairly satisfied' among valid answers; 'don't know' "
    "is left out of the base.",
)

INDICES = (
    IndexDefinition(
        id="safety",
        name=Text("公众安全感", "Sense of safety"),
        kind="share",
        construction=Text(
            "回答“安全”或“比较安全”者占有效回答者的百分比；“说不清”和拒答不计入分母。",
            "Percentage answering 'safe' or 'fairly safe' among valid answers; 'can't say' and "
            "refusals are left out of the base.",
        ),
        question=Text(
            "请问在目前的社会治安环境下，您感觉安全吗？（安全／比较安全／不太安全／不安全／说不清）",
            "In the present public-order situation, do you feel safe? (safe / fairly safe / not very "
            "safe / unsafe / can't say)",
        ),
    ),
    IndexDefinition(
        id="enforcement",
        name=Text("政法机关执法满意度", "Satisfaction with law enforcement"),
        kind="score",
        construction=Text(
            "满意 100 分、比较满意 80 分、基本满意 60 分、不太满意 40 分、不满意 0 分的加权平均分；"
            "“不了解”不计分。",
            "Weighted mean of satisfied 100, fairly satisfied 80, basically satisfied 60, not very "
            "satisfied 40, dissatisfied 0; 'don't know' is not scored.",
        ),
        question=Text(
            "总的来说，您对本地公安、法院、检察院和司法行政机关的执法工作满意吗？",
            "Overall, how satisfied are you with the law-enforcement work of the local police, courts, "
            "procuratorate and justice bureau?",
        ),
    ),
    IndexDefinition(
        id="police",
        name=Text("公安机关满意率", "Satisfaction with the police"),
        kind="share",
        construction=SHARE_CONSTRUCTION,
        question=Text(
            "您对本地公安机关（派出所）的工作满意吗？（满意／比较满意／不太满意／不满意／不了解）",
            "Are you satisfied with the work of the local police station? (satisfied / fairly satisfied "
            "/ not very satisfied / dissatisfied / don't know)",
        ),
    ),
)

#: A satisfaction item: county-wide real movement this period, shown in the headline table and main points.
ITEMS = (
    IndexDefinition(
        id="court",
        name=Text("法院满意率", "Satisfaction with the courts"),
        kind="share",
        construction=SHARE_CONSTRUCTION,
        question=Text(
            "您对本地法院的工作满意吗？（满意／比较满意／不太满意／不满意／不了解）",
            "Are you satisfied with the work of the local courts? (satisfied / fairly satisfied / not very "
            "satisfied / dissatisfied / don't know)",
        ),
    ),
)
ITEM_RISE = 0.07  # the item's real rise in every township this period

CATEGORIES = {
    "theft": Text("盗窃及财产安全", "Theft and property"),
    "fraud": Text("电信网络诈骗", "Phone and online fraud"),
    "traffic": Text("道路交通秩序", "Road traffic"),
    "disputes": Text("邻里及家庭纠纷", "Neighbour and family disputes"),
    "noise": Text("噪声及环境扰民", "Noise and nuisance"),
    "conduct": Text("执法作风", "Conduct of officers"),
}
UNITS = {
    "police": Text("县公安局", "County Public Security Bureau"),
    "traffic_police": Text("县交警大队", "County Traffic Police"),
    "justice": Text("县司法局", "County Justice Bureau"),
    "township_centre": Text("乡镇综治中心", "Township governance centres"),
    "environment": Text("县生态环境分局", "County Environment Office"),
}
CATEGORY_UNIT = {
    "theft": "police",
    "fraud": "police",
    "traffic": "traffic_police",
    "disputes": "township_centre",
    "noise": "environment",
    "conduct": "justice",
}


def sample_bulletin_data(townships: int = 21, seed: int = 11) -> BulletinData:
    """A full synthetic issue: 2026年10月, 第11期, three indices, ``townships`` townships."""
    rng = np.random.default_rng(seed)
    towns = _townships(townships)
    codes = [t.code for t in towns]
    population = dict(zip(codes, rng.integers(15_000, 45_000, len(codes)).tolist(), strict=True))
    completes = _completes(codes, rng)
    estimates: list[Estimate] = []
    for index in INDICES:
        estimates += _index_estimates(index, codes, population, completes, rng)
    item_rng = np.random.default_rng(seed + 1)  # apart, so that the indices' draws do not depend on the items
    for item in ITEMS:
        estimates += _index_estimates(item, codes, population, completes, item_rng, ITEM_RISE)
    changes = [c for index in (*INDICES, *ITEMS) for c in _changes(index.id, codes, estimates)]
    ranks = [r for index in INDICES for r in _ranks(index.id, estimates, rng)]
    total = sum(population.values())
    unsampled = tuple(Unsampled(CURRENT, code, float(n), n / total) for code, n in population.items()
                      if completes[code] == 0)
    return BulletinData(
        centre=Text("云溪县社情民意调查中心", "Yunxi County Public Opinion Survey Centre"),
        title=Text(
            "公众安全感和政法机关执法满意度调查通报", "Public Safety and Law-Enforcement Survey Bulletin"
        ),
        issue=11,
        periods=Periods(
            current=CURRENT,
            previous=PREVIOUS,
            last_year=LAST_YEAR,
            trend=MONTHS[1:],
            labels={m: _month_label(m) for m in MONTHS},
        ),
        release_date=date(2026, 11, 6),
        next_release=date(2026, 12, 4),
        contact=Text("县社情民意调查中心 0000-12340", "County survey centre, tel. 0000-12340"),
        languages=("zh", "en"),
        indices=INDICES,
        items=ITEMS,
        unsampled=unsampled,
        townships=tuple(towns),
        estimates=tuple(estimates),
        changes=tuple(changes),
        ranks=tuple(ranks),
        fieldwork=_fieldwork(completes),
        merges=(CellMerge(CURRENT, codes[2], "age_group", ("18-29", "30-44"), (3, 27), ("thin", None), "sex=M"),),
        concerns=_concerns(codes, rng),
        benchmarks=(
            Benchmark(
                "safety",
                Text(
                    "省平安建设群众满意度调查（省统计局）",
                    "Provincial public safety survey (provincial statistics bureau)",
                ),
                Text("2026年上半年", "H1 2026"),
                0.953,
                12,
                87,
            ),
        ),
        build=BuildStamp(datetime(2026, 11, 3, 10, 0), "0.1.0", "sample"),  # naive UTC: 18:00 in Beijing
    )


def _month_label(period: str) -> Text:
    year, month = (int(x) for x in period.split("-"))
    return Text(f"{year}年{month}月", f"{EN_MONTHS[month - 1]} {year}")


def _townships(count: int) -> list[Township]:
    """The 21 named townships, then made-up names (for benches with more areas)."""
    names = list(TOWNSHIP_NAMES[:count])
    taken = {zh for zh, _ in names}
    combos = ((a + b, pa + pb) for a, pa in NAME_HEADS.items() for b, pb in NAME_TAILS.items())
    for i, (stem, pinyin) in enumerate(
        c for c in combos if c[0] + "镇" not in taken and c[0] + "乡" not in taken
    ):
        if len(names) >= count:
            break
        names.append((stem + "镇", pinyin) if i % 3 else (stem + "乡", pinyin))
    return [Township(f"T{i + 1:03d}", Text(zh, _english(zh, en))) for i, (zh, en) in enumerate(names)]


def _english(zh: str, en: str) -> str:
    if zh.endswith("街道"):
        return en
    return f"{en} {'Township' if zh.endswith('乡') else 'Town'}"


def _completes(codes: list[str], rng: np.random.Generator) -> dict[str, int]:
    """Around 100–130 per township, with one empty, one too small and one in the flag band."""
    completes = dict(zip(codes, rng.integers(95, 131, len(codes)).tolist(), strict=True))
    for code, n in zip(codes[-3:], (0, 24, 47), strict=False):
        completes[code] = n
    return completes


def _index_estimates(
    index: IndexDefinition,
    codes: list[str],
    population: dict[str, int],
    completes: dict[str, int],
    rng: np.random.Generator,
    rise: float = 0.0,
) -> list[Estimate]:
    """``rise``: real change in every township in the current period (on top of the movers)."""
    truth = {c: _truth(index, rng) - (rise if index.kind == "share" else 0.0) for c in codes}
    estimates: list[Estimate] = []
    for period in MONTHS:
        shift = _period_shift(index, period) | ({c: rise for c in codes} if period == CURRENT and rise else {})
        by_town = {
            c: _draw(index, period, c, truth[c] + shift.get(c, 0.0), _n(completes[c], period, rng), rng)
            for c in codes
        }
        estimates += [e for e in by_town.values() if e.n > 0]
        estimates.append(_county(index, period, by_town, population))
    return estimates


def _truth(index: IndexDefinition, rng: np.random.Generator) -> float:
    return float(rng.uniform(0.84, 0.97)) if index.kind == "share" else float(rng.uniform(78, 92))


def _period_shift(index: IndexDefinition, period: str) -> dict[str, float]:
    """Real movement in two townships this period, so the bulletin has significant movers."""
    if period != CURRENT:
        return {}
    scale = 1.0 if index.kind == "share" else 100.0
    return {"T003": 0.12 * scale, "T007": -0.15 * scale}


def _n(completes: int, period: str, rng: np.random.Generator) -> int:
    if period == CURRENT or completes == 0:
        return int(completes * 0.96)
    return int(rng.integers(95, 131))


def _draw(
    index: IndexDefinition, period: str, code: str, true: float, n: int, rng: np.random.Generator
) -> Estimate:
    if n == 0:
        return Estimate(period, code, index.id, index.kind, 0, None, None, None, None, None, None, None)
    deff = float(rng.uniform(1.2, 1.6))
    if index.kind == "share":
        true = min(max(true, 0.5), 0.985)
        p = min(max(true + rng.normal(0, math.sqrt(true * (1 - true) * deff / n)), 0.5), 0.995)
        se = math.sqrt(p * (1 - p) * deff / n)
    else:
        p = min(true + rng.normal(0, 22 * math.sqrt(deff / n)), 99.0)
        se = 22 * math.sqrt(deff / n)
    return _estimate(index, period, code, p, se, n, deff)


def _estimate(
    index: IndexDefinition, period: str, stratum: str, p: float, se: float, n: int, deff: float
) -> Estimate:
    if index.kind == "share":
        half = 1.96 * se / (p * (1 - p))
        logit = math.log(p / (1 - p))
        low, high = 1 / (1 + math.exp(-(logit - half))), 1 / (1 + math.exp(-(logit + half)))
    else:
        low, high = max(p - 1.96 * se, 0.0), min(p + 1.96 * se, 100.0)
    return Estimate(period, stratum, index.id, index.kind, n, p, se, low, high, deff, deff * 0.95, n / deff)


def _known(est: Estimate) -> tuple[float, float]:
    """Estimate and SE of an estimable domain."""
    if est.estimate is None or est.se is None:
        raise ValueError(f"{est.stratum} has no estimate")
    return est.estimate, est.se


def _county(
    index: IndexDefinition, period: str, by_town: dict[str, Estimate], population: dict[str, int]
) -> Estimate:
    towns = [(population[e.stratum], e.n, *_known(e)) for e in by_town.values() if e.estimate is not None]
    total = sum(size for size, *_ in towns)
    p = sum(size / total * value for size, _, value, _ in towns)
    se = math.sqrt(sum((size / total * town_se) ** 2 for size, _, _, town_se in towns))
    n = sum(town_n for _, town_n, _, _ in towns)
    srs = p * (1 - p) / n if index.kind == "share" else 22**2 / n
    return _estimate(index, period, COUNTY, p, se, n, se**2 / srs)


def _changes(index: str, codes: list[str], estimates: list[Estimate]) -> list[Change]:
    """Change since the previous period and since the same period last year, as the analysis tests it."""
    mine = [e for e in estimates if e.index == index and e.stratum in {COUNTY, *codes}]
    return [c for since in (PREVIOUS, LAST_YEAR) for c in changes(mine, [since, CURRENT])]


def _ranks(index: str, estimates: list[Estimate], rng: np.random.Generator) -> list[Rank]:
    """Ranks over every estimable township, as an analysis that does not suppress would give."""
    towns = [
        e
        for e in estimates
        if e.index == index and e.period == CURRENT and e.stratum != COUNTY and e.estimate is not None
    ]
    county = next(e for e in estimates if e.index == index and e.period == CURRENT and e.stratum == COUNTY)
    values, ses = np.array([_known(e) for e in towns]).T
    draws = rng.normal(values, ses, size=(2000, len(towns)))
    simulated = (-draws).argsort(axis=1).argsort(axis=1) + 1
    low, high = np.quantile(simulated, [0.025, 0.975], axis=0, method="inverted_cdf")
    point = (values[None, :] > values[:, None]).sum(axis=1) + 1
    z = (values - _known(county)[0]) / ses
    p = 2 * stats.norm.sf(np.abs(z))
    adjusted = holm(p)
    return [
        Rank(
            CURRENT,
            index,
            e.stratum,
            int(point[i]),
            int(min(low[i], point[i])),
            int(max(high[i], point[i])),
            ("above" if z[i] > 0 else "below") if adjusted[i] < 0.05 else "same",
            float(p[i]),
            float(adjusted[i]),
        )
        for i, e in enumerate(towns)
    ]


def _fieldwork(completes: dict[str, int]) -> Fieldwork:
    total = sum(completes.values())
    return Fieldwork(
        sponsor=Text("县委政法委", "County Political and Legal Affairs Commission"),
        organisation=Text("县社情民意调查中心", "County Public Opinion Survey Centre"),
        population=Text(
            "在本县居住满 6 个月、年龄 18 周岁及以上的常住居民。",
            "Residents aged 18 and over who have lived in the county for at least six months.",
        ),
        frame=Text(
            "按乡镇分层，从本县移动电话号段随机生成号码（约占 75%），并从固定电话号段随机生成（约占 25%）。"
            "没有电话或常年在外务工的居民不在抽样框内。",
            "Random numbers generated within the county's mobile prefixes (about 75%) and landline "
            "exchanges (about 25%), stratified by township. Residents without a phone, or working "
            "away all year, are not covered.",
        ),
        start=date(2026, 10, 8),
        end=date(2026, 10, 28),
        calling_hours=CallingHours(weekday=((18 * 60 + 30, 21 * 60),), weekend=((9 * 60, 12 * 60), (14 * 60, 21 * 60)),
                                   days={4: ((18 * 60 + 30, 21 * 60 + 30),)}, holidays=1),
        completes_by_mode={"IVR": round(total * 0.72), "CATI": total - round(total * 0.72)},
        completes_by_township=completes,
        dispositions=Dispositions(
            complete=total,
            partial=round(total * 0.06),
            refusal_breakoff=round(total * 2.1),
            non_contact=round(total * 1.4),
            other=round(total * 0.2),
            unknown_household=round(total * 3.9),
            unknown_respondent=round(total * 0.3),
            unknown_other=round(total * 0.1),
            not_eligible=round(total * 2.6),
            e=0.62,
        ),
        weighting_targets=Text(
            "各乡镇 18 岁及以上常住人口的性别 × 年龄组分布（第七次全国人口普查常住人口，不用户籍人口）。",
            "Sex by age group of the adult resident population of each township (7th national census, "
            "resident population, not household registration counts).",
        ),
        weighting_method=Text(
            "设计权重（乡镇人口 / 乡镇完成数）经乡镇内性别、年龄组边际迭代加权（raking），"
            "权重截尾于中位数的 5 倍",
            "Design weights (township population over township completes) raked to sex and age-group "
            "margins within each township, trimmed at five times the median",
        ),
        significance_rule=Text(*LABELS["m_significance_text"]),
        limitations=Text(
            "电话调查难以覆盖老年人和外出务工人员；自动语音（IVR）中途挂断较多，与访员访问混合可能带来方式效应；"
            "由政府部门组织的调查可能存在社会期许偏差。乡镇样本量较小，名次相近的乡镇之间差异多不显著。",
            "Phone surveys under-cover older people and migrant workers; IVR interviews break off more "
            "often, and mixing IVR with interviewers may cause mode effects; a government-sponsored "
            "survey invites socially desirable answers. Township samples are small, and neighbouring "
            "ranks are mostly not distinguishable.",
        ),
        weight_deff_kish=1.31,
    )


def _concerns(codes: list[str], rng: np.random.Generator) -> Concerns:
    cells = []
    for code in codes:
        for category in rng.choice(list(CATEGORIES), size=3, replace=False):
            for status in STATUSES:
                count = int(rng.poisson(1.2 if status in ("closed", "revisited") else 0.4))
                if count:
                    cells.append(_concern_cell(str(category), code, status, count, rng))
    return Concerns(tuple(cells), CATEGORIES, UNITS)


def _concern_cell(category: str, code: str, status: str, count: int, rng: np.random.Generator) -> ConcernCell:
    closed = status in ("closed", "revisited")
    on_time = int(rng.binomial(count, 0.85)) if closed else 0
    satisfied = int(rng.binomial(count, 0.9)) if status == "revisited" else 0
    return ConcernCell(category, code, CATEGORY_UNIT[category], status, count, on_time, satisfied)
