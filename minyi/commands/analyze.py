"""``minyi analyze``: weight and estimate a flat file (design.md "Flat-file analysis").

A plain function with typer annotations; minyi/cli.py registers it. A run with more townships than
the console can show prints a summary and writes every row to the --csv file (or, without one,
to RESPONSES' name + ``.estimates.csv`` in the current directory). Bad input exits 2 with a
message naming the file, line and column; it never shows a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    import pandas as pd


def analyze(
    responses: Path = typer.Argument(..., help="RESPONSES.csv (or .parquet): one row per respondent.",
                                     show_default=False),
    population: Path = typer.Option(..., "--population", help="POP.csv: cell counts or margins per township."),
    spec: Path = typer.Option(..., "--spec", help="SPEC.yaml: the indices."),
    method: str | None = typer.Option(None, "--method",
                                      help="county (township totals and the county's cells), poststratify "
                                      "(each township's cells) or rake (each township's margins) [default: county "
                                      "for cell counts, rake for margins]"),
    by: str | None = typer.Option(None, "--by", help="Weighting variables, comma-separated (e.g. age_group,sex) "
                                  "[default: those in POP.csv]"),
    id_column: str = typer.Option("id", "--id-column", help="Respondent id column."),
    stratum: str = typer.Option("township", "--stratum", help="Stratum (township) column."),
    period_column: str = typer.Option("wave", "--period-column", help="Period column (optional in the data)."),
    group: str | None = typer.Option(None, "--group", help="Column naming each township's group (e.g. county): "
                                     "estimates per group too, as strata GROUP:VALUE (level 'group')."),
    json_out: Path | None = typer.Option(None, "--json", help="Write every result as JSON."),
    csv_out: Path | None = typer.Option(None, "--csv", help="Write one row per period x stratum x index."),
    weights_out: Path | None = typer.Option(None, "--weights", help="Write each respondent's final weight."),
    ci: str = typer.Option("logit", "--ci", help="Interval for shares: logit, wilson or kg."),
    score_ci: str = typer.Option("logit", "--score-ci", help="Interval for scores: logit (on the score rescaled "
                                 "to its range, so it stays inside it) or t (estimate +- t SE, symmetric)."),
    trim_upper: float | None = typer.Option(None, "--trim-upper", help="Cap on w/d (weight over base weight)."),
    trim_lower: float | None = typer.Option(None, "--trim-lower", help="Floor on w/d."),
    trim_median: float | None = typer.Option(None, "--trim-median",
                                             help="Cap w at this multiple of the township's median weight."),
    min_cell: int = typer.Option(5, "--min-cell", help="Fewest respondents in a weighting cell."),
    max_adjustment: float | None = typer.Option(None, "--max-adjustment", help="Also merge a cell whose adjustment "
                                                "N/(n d) exceeds this (the old rule; biases the estimate) "
                                                "[default: cells merge only for too few respondents]"),
    no_collapse: bool = typer.Option(False, "--no-collapse", help="Never merge thin cells (empty ones fail)."),
    variance: str = typer.Option("jackknife", "--variance",
                                 help="jackknife (delete-one replicates, each weighted again), exact (linearised "
                                 "with calibration residuals) or rake-sweeps (linearised as R rake())."),
    adjust: str = typer.Option("holm", "--adjust", help="Multiplicity adjustment of change p-values: holm or bh."),
    rank_family: str = typer.Option("joint", "--ranks", help="Rank intervals covering every township's rank at "
                                    "once with 95% (joint) or each township's on its own (marginal)."),
    aux: Path | None = typer.Option(None, "--aux", help="Township covariates (CSV, first column the township) "
                                    "for the Fay-Herriot estimates."),
) -> None:
    """Weight RESPONSES to POP and estimate the indices of SPEC per period, township and county."""
    # Imported here so that `minyi analyze --help` does not wait for pandas and scipy.
    from analysis.errors import AnalysisError, WeightingError
    from analysis.flatfile import read_population, read_responses
    from analysis.output import is_large, print_summary, write_csv, write_json, write_weights
    from analysis.pipeline import Options, run_analysis
    from analysis.responses import ResponseColumns
    from analysis.spec import load_spec
    from analysis.weights import CollapseRule, TrimRule

    full_table = csv_out
    try:
        if variance not in ("jackknife", "exact", "rake-sweeps"):
            raise AnalysisError(f"--variance must be jackknife, exact or rake-sweeps, not {variance!r}")
        index_spec = load_spec(spec)
        by_vars = tuple(v.strip() for v in by.split(",") if v.strip()) if by else None
        pop = read_population(population, stratum, by_vars)
        by_vars = by_vars or pop.by
        columns = ResponseColumns(tuple(index_spec.questions()), by_vars, id_column, stratum, period_column, group)
        options = Options(
            id_column=id_column, stratum=stratum, period_column=period_column, group=group, by=by_vars,
            method=method, ci=ci, score_ci=score_ci,
            variance="jackknife" if variance == "jackknife" else "linear",
            projection="exact" if variance == "jackknife" else variance,
            collapse=CollapseRule(min_cell, max_adjustment, not no_collapse),
            trim=TrimRule(trim_upper, trim_lower, trim_median), adjust=adjust, ranks=rank_family,
            aux=_covariates(aux) if aux else None)
        run = run_analysis(read_responses(responses, columns), pop, index_spec, options)
        for path, write in ((csv_out, lambda p: write_csv(run.result, p)),
                            (json_out, lambda p: write_json(run.result, p)),
                            (weights_out, lambda p: write_weights(run.weights, p, id_column))):
            if path is not None:
                _write(path, write)
        if full_table is None and is_large(run.result):
            full_table = Path(f"{responses.stem}.estimates.csv")
            _write(full_table, lambda p: write_csv(run.result, p))
    except WeightingError as exc:  # the responses against the population file's counts and margins
        typer.echo(f"error: weighting {responses} to {population}: {exc}", err=True)
        raise typer.Exit(2) from None
    except AnalysisError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    print_summary(run.result, full_table=full_table)


def _covariates(path: Path) -> pd.DataFrame:
    from analysis.flatfile import read_csv_strings

    frame = read_csv_strings(path)
    return frame.set_index(frame.columns[0])


def _write(path: Path, write: Callable[[Path], None]) -> None:
    from analysis.errors import InputError

    try:
        write(path)
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", file=str(path)) from exc
