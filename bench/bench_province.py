"""Benchmark: ``minyi analyze``'s stages on a province and on a county.

    .venv/bin/python bench/bench_province.py [--case province|province-default|county|all] [--no-peers] [--keep DIR]

* province: 1,000,000 respondents, 157 counties, 3,350 townships, raking by age x sex, 4 indices,
  estimates per township, county (``--group county``) and the province, then what ``minyi bulletin``
  does with them: the analysis' JSON read back, the provincial bulletin (zh, en) and 157 county ones (zh);
* province-default: the province with a population of age x sex cells and no ``--method`` or
  ``--variance``: what ``minyi analyze --group county`` does by default (``county`` weighting, its
  variance by block elimination, :mod:`analysis.pooled_variance`; the jackknife gives way to the
  linearised variance at this size);
* county: 200,000 respondents, 20 townships, raking, township and county SEs, the 7 indices of
  bench_analysis.py, and R ``survey`` (when Rscript has it) and the Python package ``svy`` (when
  it is installed; a bench-only peer, not a dependency) on the same data.

Data are generated (seeded) by bench_analysis.synthetic and written as CSV and Parquet to a
temporary directory. For each stage the wall time and the peak resident memory during that stage
(``VmHWM`` after resetting it through /proc/self/clear_refs) are printed; the figures are
measurements, not pass/fail limits.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
from bench_analysis import SPEC, synthetic, time_r
from bench_svy import svy_version, time_svy
from pypdf import PdfReader
from rich.console import Console

from analysis.flatfile import read_population, read_responses
from analysis.output import print_summary, write_csv, write_json
from analysis.pipeline import Options, run_analysis
from analysis.responses import ResponseColumns
from analysis.results import AnalysisResult
from analysis.spec import Spec, parse_spec
from reports.analysis_file import Areas, read_analysis
from reports.bulletin_data import Text
from reports.province_bulletin import Issue, render_area_bulletin, write_bulletins
from reports.province_data import county_reports, indices, province_report

PROVINCE_INDICES = ("safety", "safety_score", "police", "court")


@dataclass
class Recorder:
    """Wall time and peak RSS per stage; a stage entered again adds its time."""

    seconds: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    peak_mib: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        _reset_peak()
        start, start_cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
            self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - start_cpu
            self.peak_mib[name] = max(self.peak_mib.get(name, 0.0), _peak_rss_mib())

    def report(self, title: str) -> None:
        """Wall and CPU seconds per stage: on a machine other jobs load, CPU time is what the stage
        would take on an idle core (the work is single-threaded but for BLAS)."""
        print(f"{title} (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")
        for name, seconds in self.seconds.items():
            print(f"  {name:<14} {seconds:8.3f} s wall {self.cpu[name]:8.3f} s CPU   "
                  f"peak RSS {self.peak_mib[name]:8.0f} MiB")
        print(f"  {'total':<14} {sum(self.seconds.values()):8.3f} s wall {sum(self.cpu.values()):8.3f} s CPU   "
              f"peak RSS {max(self.peak_mib.values()):8.0f} MiB (largest stage)")


def _reset_peak() -> None:
    """Linux: writing 5 to clear_refs resets the high-water mark of the resident set."""
    with suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass(frozen=True)
class Case:
    name: str
    respondents: int
    townships: int
    counties: int
    indices: tuple[str, ...] | None  # None: every index of bench_analysis.SPEC
    method: str | None = "rake"  # None: minyi analyze's default
    cells: bool = False  # population as township x age x sex cells instead of margins


CASES = {
    "province": Case("province", 1_000_000, 3_350, 157, PROVINCE_INDICES),
    "province-default": Case("province-default", 1_000_000, 3_350, 157, PROVINCE_INDICES, None, cells=True),
    "county": Case("county", 200_000, 20, 0, None),
}


def cells_of(margins: pd.DataFrame) -> pd.DataFrame:
    """township x age_group x sex cells from synthetic()'s margins (age and sex independent)."""
    total = margins[margins.margin == "total"].set_index("township").N.rename("total")
    age, sex = (margins[margins.margin == m][["township", "level", "N"]] for m in ("age_group", "sex"))
    cells = age.merge(sex, on="township", suffixes=("_age", "_sex")).join(total, on="township")
    return pd.DataFrame({"township": cells.township, "age_group": cells.level_age, "sex": cells.level_sex,
                         "N": cells.N_age * cells.N_sex / cells.total})


def run_case(case: Case, directory: Path, peers: bool) -> None:
    frame, margins = synthetic(case.respondents, case.townships, counties=case.counties,
                               sizes=(5_000, 60_000) if case.counties else (40_000, 400_000))
    spec_dict = {"indices": {k: v for k, v in SPEC["indices"].items()
                             if case.indices is None or k in case.indices}}
    spec = parse_spec(spec_dict)
    data, parquet, pop = directory / f"{case.name}.csv", directory / f"{case.name}.parquet", directory / "pop.csv"
    frame.to_csv(data, index=False)
    frame.to_parquet(parquet, index=False)
    (cells_of(margins) if case.cells else margins).to_csv(pop, index=False)
    group = "county" if case.counties else None
    by = ("age_group", "sex")
    columns = ResponseColumns(tuple(spec.questions()), by, group=group)
    stages = Recorder()
    with stages("read csv"):
        responses = read_responses(data, columns)
    with stages("read parquet"):
        read_responses(parquet, columns)
    with stages("read pop"):
        population = read_population(pop, "township", by)
    began, began_cpu = time.perf_counter(), time.process_time()
    run = run_analysis(responses, population, spec, Options(by=by, method=case.method, group=group), stages)
    pipeline, pipeline_cpu = time.perf_counter() - began, time.process_time() - began_cpu
    with stages("write csv"):
        write_csv(run.result, directory / "out.csv")
    with stages("console"):
        print_summary(run.result, Console(file=io.StringIO(), width=160))
    if case.counties:
        bulletins(run.result, frame, directory, stages)
    print(f"{case.name}: {len(frame):,} respondents, {case.townships:,} townships"
          + (f", {case.counties} counties" if case.counties else "") + f", {len(spec.indices)} indices, "
          + f"weighting {run.result.method.weighting}" + (" (the default)" if case.method is None else ""))
    stages.report("stages")
    print(f"weights and every estimate (run_analysis, variance {run.result.method.variance}): "
          f"{pipeline:.2f} s wall, {pipeline_cpu:.2f} s CPU")
    if peers:
        _compare_peers(frame, margins, spec, stages)


def _compare_peers(frame: pd.DataFrame, margins: pd.DataFrame, spec: Spec, stages: Recorder) -> None:
    """R ``survey`` and the Python package ``svy`` on the same data, reading excluded for both;
    minyi end to end (reading CSV to writing CSV) against each."""
    total = sum(stages.seconds.values()) - stages.seconds["read parquet"]
    total_cpu = sum(stages.cpu.values()) - stages.cpu["read parquet"]
    print(f"minyi end to end (read CSV .. write CSV): {total:.2f} s wall, {total_cpu:.2f} s CPU")
    r_seconds = time_r(frame, margins)
    if r_seconds is None:
        print("R survey: not run (Rscript with the survey package not found)")
    else:
        print(f"R survey: rake() + svyby(svymean) for {len(spec.indices) - 1} indices (reading excluded): "
              f"{r_seconds:.2f} s; R / minyi = {r_seconds / total:.1f}x")
    timed = time_svy(frame, margins)
    if timed is None:
        print("svy: not run (pip install svy; a bench-only peer, not a dependency of minyi)")
        return
    seconds, cpu = timed
    print(f"svy {svy_version()}: rake + mean by township and overall for {len(spec.indices) - 1} indices "
          f"(reading excluded): {seconds:.2f} s wall, {cpu:.2f} s CPU; svy / minyi = {seconds / total:.1f}x wall, "
          f"{cpu / total_cpu:.1f}x CPU")


def bulletins(result: AnalysisResult, frame: pd.DataFrame, directory: Path, stages: Recorder) -> None:
    """What `minyi bulletin` does after the analysis: read its JSON file back, the provincial bulletin
    in Chinese and in English, and every county's bulletin in Chinese (a process per CPU, as `minyi
    bulletin`). Their CPU seconds are printed
    too: on a loaded machine the wall time mostly waits for a core."""
    cpu: dict[str, float] = {}
    with stages("write json"):
        write_json(result, directory / "province.json")
    with stages("read json"), _cpu(cpu, "read json"):
        result = read_analysis(directory / "province.json")
    areas = Areas(dict(zip(frame["township"], frame["county"], strict=True)), {})
    issue = Issue(Text("省民意调查中心", "Provincial Opinion Survey Centre"), date.today(), "bench_province")
    shown = indices(result, None)
    for lang in ("zh", "en"):
        with stages(f"province {lang}"), _cpu(cpu, f"province {lang}"):
            render_area_bulletin(province_report(result, areas, shown), issue, directory / f"province-{lang}.pdf",
                                 lang)
    with stages("county pdfs zh"), _cpu(cpu, "county pdfs zh"):  # as `minyi bulletin`: a process per CPU
        paths = write_bulletins(county_reports(result, areas, shown), issue, directory / "counties", ("zh",),
                                os.cpu_count() or 1)
    pages = len(PdfReader(directory / "province-zh.pdf").pages)
    print(f"bulletins: the province's {pages} pages (zh), {len(paths)} county bulletins; CPU seconds: "
          + ", ".join(f"{name} {seconds:.2f}" for name, seconds in cpu.items())
          + f" ({cpu['county pdfs zh'] / len(paths):.2f} a county)")


@contextmanager
def _cpu(seconds: dict[str, float], name: str) -> Iterator[None]:
    """CPU seconds of this process and of the child processes that ended meanwhile (the bulletins' pool)."""
    start = _cpu_now()
    try:
        yield
    finally:
        seconds[name] = _cpu_now() - start


def _cpu_now() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=(*CASES, "all"), default="all")
    parser.add_argument("--no-peers", action="store_true", help="skip R survey and svy in the county case")
    parser.add_argument("--keep", type=Path, help="write the data, the analysis and the bulletins here and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.keep or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        for name in CASES if args.case == "all" else (args.case,):
            run_case(CASES[name], directory, peers=not args.no_peers and name == "county")


if __name__ == "__main__":
    main()
