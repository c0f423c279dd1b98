"""``minyi bulletin``: the provincial bulletin and the county bulletins from one analysis file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, cast

import typer

if TYPE_CHECKING:
    from reports.bulletin_data import Text


def bulletin(
    analysis: Path = typer.Argument(..., help="ANALYSIS.json: `minyi analyze ... --group county --json FILE`.",
                                    show_default=False),
    out: Path = typer.Option(..., "--out", help="Directory for the PDF files."),
    areas: Path | None = typer.Option(None, "--areas", help="AREAS.csv: township,county and optionally "
                                      "township_zh,township_en,county_zh,county_en (needed for county bulletins)."),
    spec: Path | None = typer.Option(None, "--spec", help="SPEC.yaml: the indices' names and headline order."),
    counties: str | None = typer.Option(None, "--counties", help="all, none or county codes, comma-separated "
                                        "(default: all with --areas, else none)."),
    lang: str = typer.Option("zh", "--lang", help="zh, en or zh,en."),
    centre: str | None = typer.Option(None, "--centre", help="The publishing centre's name, as ZH or ZH/EN "
                                      "[default: MINYI_CENTRE_NAME and MINYI_CENTRE_NAME_EN when set]."),
    jobs: int = typer.Option(0, "--jobs", min=0, help="Processes drawing bulletins at once (0: one per CPU)."),
) -> None:
    """The provincial bulletin (every county ranked) and a bulletin for each county (its townships ranked,
    its place among the counties), in each language, as province-LANG.pdf and county-CODE-LANG.pdf."""
    from datetime import date

    from reports.analysis_file import (
        AnalysisContentError,
        BulletinInputError,
        read_analysis,
        read_areas,
        read_index_names,
    )
    from reports.bulletin_data import Lang
    from reports.i18n import LABELS
    from reports.province_bulletin import Issue, write_bulletins
    from reports.province_data import county_reports, indices, province_report

    try:
        languages = _languages(lang)
        wanted = _counties(counties, areas)
        result = read_analysis(analysis)
        area_file = read_areas(areas) if areas else None
        shown = indices(result, read_index_names(spec) if spec else None)
        reports = [("", province_report(result, area_file, shown))]
        if wanted is not None and area_file is not None:
            reports += county_reports(result, area_file, shown, wanted or None)
        issue = Issue(_centre(centre, _configured_centre(LABELS["p_centre"])), date.today(),
                      f"Minyi {_version()} · {analysis.name}")
        paths = write_bulletins(reports, issue, out, cast(tuple[Lang, ...], languages), jobs or os.cpu_count() or 1)
    except AnalysisContentError as exc:
        _fail(f"{analysis}: {exc}")
    except BulletinInputError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"{exc.filename or out}: {exc.strerror}")
    typer.echo(f"{len(paths)} bulletins written to {out}: {paths[0].name}"
               + (f" ... {paths[-1].name}" if len(paths) > 1 else ""))


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _languages(lang: str) -> tuple[str, ...]:
    from reports.analysis_file import BulletinInputError

    chosen = tuple(dict.fromkeys(part.strip() for part in lang.split(",") if part.strip()))
    if not chosen or any(part not in ("zh", "en") for part in chosen):
        raise BulletinInputError(f"--lang must be zh, en or zh,en, not {lang!r}")
    return chosen


def _counties(counties: str | None, areas: Path | None) -> list[str] | None:
    """None: no county bulletins; []: every county's; else the codes asked for."""
    from reports.analysis_file import BulletinInputError

    if counties is None:
        return [] if areas else None
    if counties.strip() == "none":
        return None
    if areas is None:
        raise BulletinInputError("county bulletins need --areas AREAS.csv (each township's county)")
    if counties.strip() == "all":
        return []
    return [c.strip() for c in counties.split(",") if c.strip()]


def _centre(given: str | None, default: tuple[str, str]) -> Text:
    from reports.bulletin_data import Text

    if not given:
        return Text(*default)
    zh, _, en = given.partition("/")
    return Text(zh.strip(), (en or zh).strip())


def _configured_centre(generic: tuple[str, str]) -> tuple[str, str]:
    """The centre's names as MINYI_CENTRE_NAME(_EN) set them; where one is left at its default, a county
    centre's name, the generic name instead (a provincial bulletin is not a county centre's)."""
    from survey.config import Settings, load_settings

    settings, default = load_settings(), Settings()
    return (settings.centre_name if settings.centre_name != default.centre_name else generic[0],
            settings.centre_name_en if settings.centre_name_en != default.centre_name_en else generic[1])


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("minyi")
    except PackageNotFoundError:
        return "dev"
