"""The inputs of the provincial bulletin: the analysis file ``minyi analyze --json`` wrote, the areas
file (each township's county, and the names to print), and the index names of the spec file.

Every problem is a :class:`BulletinInputError` naming the file (and line) and what is wrong.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from analysis.results import (
    AnalysisMethod,
    AnalysisResult,
    Change,
    Estimate,
    Rank,
    Unsampled,
    WeightDiagnostics,
)
from reports.bulletin_data import Text


class BulletinInputError(ValueError):
    """An input of ``minyi bulletin`` that cannot be used; the message says where and why."""


class AnalysisContentError(BulletinInputError):
    """An analysis file that reads well but cannot make the bulletins (no county estimates, ...):
    the message says why; the caller names the file."""


T = TypeVar("T")


def read_analysis(path: Path) -> AnalysisResult:
    """The estimates, changes, ranks, weights' diagnostics, unsampled townships and method of an
    analysis file (``minyi analyze --json``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BulletinInputError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    except UnicodeDecodeError:
        raise BulletinInputError(f"{path}: not a UTF-8 text file") from None
    if not isinstance(data, dict) or not isinstance(data.get("estimates"), list):
        raise BulletinInputError(f"{path}: not an analysis file (no 'estimates' list): write one with "
                                 "`minyi analyze ... --json FILE`")
    return AnalysisResult(
        estimates=_rows(data, "estimates", Estimate, path), changes=_rows(data, "changes", Change, path),
        ranks=_rows(data, "ranks", Rank, path), unsampled=_rows(data, "unsampled", Unsampled, path),
        diagnostics=_rows(data, "diagnostics", WeightDiagnostics, path),
        method=_one(data.get("method") or {}, AnalysisMethod, path, "method"), groups=_groups(data, path))


def _groups(data: Mapping[str, Any], path: Path) -> dict[str, str]:
    """Each township's county as the analysis had it (none in a file of an older Minyi)."""
    groups = data.get("groups") or {}
    if not isinstance(groups, dict) or not all(isinstance(v, str) for v in groups.values()):
        raise BulletinInputError(f"{path}: 'groups' must map each township to its county")
    return groups


def _rows(data: Mapping[str, Any], key: str, kind: type[T], path: Path) -> list[T]:
    rows = data.get(key) or []
    if not isinstance(rows, list):
        raise BulletinInputError(f"{path}: '{key}' must be a list")
    return [_one(row, kind, path, f"{key}[{i}]") for i, row in enumerate(rows)]


def _one(row: object, kind: type[T], path: Path, where: str) -> T:
    names = {f.name for f in fields(kind)}  # type: ignore[arg-type]  # kind is a dataclass
    if not isinstance(row, dict):
        raise BulletinInputError(f"{path}: {where} must be an object")
    try:
        value = kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in row.items() if k in names})
    except TypeError as exc:
        raise BulletinInputError(f"{path}: {where}: {exc}") from None
    return value


@dataclass(frozen=True)
class Areas:
    """Each township's county and the names of townships and counties (codes where none is given)."""

    county_of: Mapping[str, str]  # township code -> county code
    names: Mapping[str, Text]  # township or county code -> its names
    source: str = "the areas file"
    lines: Mapping[str, int] = field(default_factory=dict)  # township code -> its line in the file

    def name(self, code: str) -> Text:
        return self.names.get(code) or Text(code, code)

    def where(self, town: str) -> str:
        """``AREAS.csv:12``, the township's line."""
        return f"{self.source}:{self.lines[town]}" if town in self.lines else self.source


AREA_COLUMNS = ("township", "county")
NAME_COLUMNS = ("township_zh", "township_en", "county_zh", "county_en")


def read_areas(path: Path) -> Areas:
    """``township,county[,township_zh,township_en,county_zh,county_en]``: one row per township."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in AREA_COLUMNS if c not in header]
            if missing:
                raise BulletinInputError(f"{path}:1: the header needs the column(s) {', '.join(missing)} "
                                         f"(township,county[,{','.join(NAME_COLUMNS)}])")
            reader.fieldnames = header
            return _areas(path, reader)
    except UnicodeDecodeError:
        raise BulletinInputError(f"{path}: not a UTF-8 text file") from None


def _areas(path: Path, reader: csv.DictReader[str]) -> Areas:
    county_of: dict[str, str] = {}
    names: dict[str, Text] = {}
    lines: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        cell = {k: (v or "").strip() for k, v in row.items() if k is not None}
        town, county = cell["township"], cell["county"]
        if not town or not county:
            raise BulletinInputError(f"{path}:{line}: a township and its county are both needed")
        if town in county_of:
            raise BulletinInputError(f"{path}:{line}: township {town} is listed twice")
        county_of[town] = county
        lines[town] = line
        if cell.get("township_zh") or cell.get("township_en"):
            names[town] = _text(cell.get("township_zh", ""), cell.get("township_en", ""))
        if cell.get("county_zh") or cell.get("county_en"):
            named = _text(cell.get("county_zh", ""), cell.get("county_en", ""))
            if names.setdefault(county, named) != named:
                raise BulletinInputError(f"{path}:{line}: county {county} is named {named.zh}/{named.en} here "
                                         f"and {names[county].zh}/{names[county].en} on an earlier line")
    if not county_of:
        raise BulletinInputError(f"{path}: no townships")
    return Areas(county_of, names, str(path), lines)


def _text(zh: str, en: str) -> Text:
    """Names in both languages; one given stands for both."""
    return Text(zh or en, en or zh)


@dataclass(frozen=True)
class IndexNames:
    """What the spec file says of the indices' presentation: their names and the headline order."""

    names: Mapping[str, Text]
    headline: tuple[str, ...]


def read_index_names(path: Path) -> IndexNames:
    """``names`` and ``headline`` of a spec file (docs/formats.md "Index definitions")."""
    try:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except YAMLError as exc:
        raise BulletinInputError(f"{path}: not YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise BulletinInputError(f"{path}: not a spec file (a mapping with 'indices')")
    names = data.get("names") or {}
    headline = data.get("headline") or []
    if not isinstance(names, dict) or not all(isinstance(v, dict) for v in names.values()):
        raise BulletinInputError(f"{path}: 'names' must map each index to {{zh: ..., en: ...}}")
    if not isinstance(headline, list):
        raise BulletinInputError(f"{path}: 'headline' must be a list of indices")
    return IndexNames({str(k): _text(str(v.get("zh", "")), str(v.get("en", ""))) for k, v in names.items()},
                      tuple(str(h) for h in headline))
