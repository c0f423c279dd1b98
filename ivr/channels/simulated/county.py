"""A synthetic county: townships (乡镇/街道) with an adult population by age group and sex.

Urban subdistricts (街道) are large and young, towns (镇) in between, rural townships (乡) small
and old (the young have left for work), as in a county census table. Everything is drawn from a
seed, so the same seed always gives the same county.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass

AGE_GROUPS = ("18-29", "30-44", "45-59", "60+")
SEXES = ("M", "F")
# The bundled questionnaire's codes for the weighting questions (d_age, d_sex).
AGE_CODES = {"18-29": 1, "30-44": 2, "45-59": 3, "60+": 4}
SEX_CODES = {"M": 1, "F": 2}
# Years of residence an adult of each age group can have (d_years allows 0-99).
MAX_YEARS = {"18-29": 29, "30-44": 44, "45-59": 59, "60+": 85}

Cell = tuple[str, str]  # (age group, sex)

# (name_zh, name_en, kind): kind is "subdistrict", "town" or "township".
NAMES: tuple[tuple[str, str, str], ...] = (
    ("城关镇", "Chengguan Town", "town"),
    ("东城街道", "Dongcheng Subdistrict", "subdistrict"),
    ("西城街道", "Xicheng Subdistrict", "subdistrict"),
    ("南关街道", "Nanguan Subdistrict", "subdistrict"),
    ("北关街道", "Beiguan Subdistrict", "subdistrict"),
    ("新桥镇", "Xinqiao Town", "town"),
    ("石门镇", "Shimen Town", "town"),
    ("青山镇", "Qingshan Town", "town"),
    ("河口镇", "Hekou Town", "town"),
    ("柳林镇", "Liulin Town", "town"),
    ("白马镇", "Baima Town", "town"),
    ("龙泉镇", "Longquan Town", "town"),
    ("马坊镇", "Mafang Town", "town"),
    ("杨庄镇", "Yangzhuang Town", "town"),
    ("桃园镇", "Taoyuan Town", "town"),
    ("高桥镇", "Gaoqiao Town", "town"),
    ("大王庄乡", "Dawangzhuang Township", "township"),
    ("红星乡", "Hongxing Township", "township"),
    ("双河乡", "Shuanghe Township", "township"),
    ("太平乡", "Taiping Township", "township"),
    ("黄土岭乡", "Huangtuling Township", "township"),
)

# Adults (thousands, range) and age-group shares by kind of township.
_SIZE = {"subdistrict": (30, 60), "town": (12, 30), "township": (5, 12)}
KINDS = tuple(_SIZE)
_AGE_SHARES = {"subdistrict": (0.24, 0.31, 0.26, 0.19), "town": (0.17, 0.26, 0.29, 0.28),
               "township": (0.12, 0.22, 0.30, 0.36)}
_MALE_SHARE = {"18-29": 0.52, "30-44": 0.51, "45-59": 0.50, "60+": 0.46}


def seeded(*parts: object) -> random.Random:
    """A random generator determined by ``parts`` alone (stable across runs and machines)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


@dataclass(frozen=True)
class Township:
    code: str
    name_zh: str
    name_en: str
    kind: str  # subdistrict / town / township
    population: Mapping[Cell, int]  # adults by (age group, sex)

    @property
    def urban(self) -> bool:
        return self.kind == "subdistrict" or self.name_en.startswith("Chengguan")

    @property
    def adults(self) -> int:
        return sum(self.population.values())

    def cells(self) -> list[tuple[Cell, int]]:
        return [((a, s), self.population[(a, s)]) for a in AGE_GROUPS for s in SEXES]


def make_townships(seed: int, count: int = len(NAMES)) -> tuple[Township, ...]:
    """``count`` townships (codes T01, T02, ...) with census-like populations."""
    if not 1 <= count <= len(NAMES):
        raise ValueError(f"a synthetic county has 1 to {len(NAMES)} townships, not {count}")
    return tuple(_township(seed, i, *NAMES[i]) for i in range(count))


def _township(seed: int, index: int, name_zh: str, name_en: str, kind: str) -> Township:
    return Township(f"T{index + 1:02d}", name_zh, name_en, kind, drawn_population(seeded(seed, "township", index), kind))


def drawn_population(rng: random.Random, kind: str) -> dict[Cell, int]:
    """Census-like adults by (age group, sex) for a township of ``kind``."""
    low, high = _SIZE[kind]
    adults = rng.randint(low * 1000, high * 1000)
    jittered = [share * rng.uniform(0.85, 1.15) for share in _AGE_SHARES[kind]]
    total = sum(jittered)
    population: dict[Cell, int] = {}
    for age, share in zip(AGE_GROUPS, jittered, strict=True):
        in_group = adults * share / total
        male = _MALE_SHARE[age] + rng.uniform(-0.02, 0.02)
        population[(age, "M")] = round(in_group * male)
        population[(age, "F")] = round(in_group * (1 - male))
    return population
