"""Benchmark: weight (raking) and estimate 200,000 respondents in 20 townships.

    .venv/bin/python bench/bench_analysis.py [--respondents 200000] [--townships 20] [--no-r]

Prints the wall time of ``run_analysis`` from in-memory frames (best of --repeat runs: checks,
raking, SEs for every township, the county and every index, changes, ranks, small-area estimates),
its peak traced memory and the process's peak RSS. If Rscript with the survey package is installed
it also times R on the same data (rake() then svyby(svymean) per index and the county svymean)
and prints the ratio.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.pipeline import Options, run_analysis
from analysis.spec import Spec, parse_spec

AGES = np.array(["18-29", "30-44", "45-59", "60+"])
SEXES = np.array(["M", "F"])
ITEMS = ("q_safety", "q_police", "q_court", "q_procuratorate", "q_justice")
SPEC = {
    "indices": {
        "safety": {"question": "q_safety", "kind": "share", "favourable": [1, 2, 3], "exclude": [8, 9]},
        "safety_score": {"question": "q_safety", "kind": "score", "scores": {1: 100, 2: 80, 3: 60, 4: 40, 5: 0},
                         "exclude": [8, 9]},
        **{q[2:]: {"question": q, "kind": "share", "favourable": [1, 2], "exclude": [8]} for q in ITEMS[1:]},
        "justice_all": {"kind": "composite", "components": {q[2:]: 1 for q in ITEMS[1:]}},
    }
}
R_SCRIPT = r"""
suppressMessages(library(survey))
args <- commandArgs(TRUE)
d <- read.csv(args[1], colClasses = c(township = "character", age_group = "character", sex = "character"))
m <- read.csv(args[2], colClasses = c(township = "character", margin = "character", level = "character"))
tot <- m[m$margin == "total", ]; d$N <- tot$N[match(d$township, tot$township)]
pa <- setNames(m[m$margin == "age_group", c("township", "level", "N")], c("township", "age_group", "Freq"))
ps <- setNames(m[m$margin == "sex", c("township", "level", "N")], c("township", "sex", "Freq"))
d$safety <- ifelse(d$q_safety %in% c(8, 9), NA, as.numeric(d$q_safety %in% 1:3))
d$safety_score <- ifelse(d$q_safety %in% c(8, 9), NA, c(100, 80, 60, 40, 0)[pmin(d$q_safety, 5)])
for (q in c("police", "court", "procuratorate", "justice")) {
  v <- d[[paste0("q_", q)]]; d[[q]] <- ifelse(v == 8, NA, as.numeric(v %in% 1:2))
}
t <- system.time({
  des <- svydesign(ids = ~1, strata = ~township, fpc = ~N, data = d)
  rk <- rake(des, list(~township + age_group, ~township + sex), list(pa, ps),
             control = list(maxit = 1000, epsilon = 1e-12))
  for (v in c("safety", "safety_score", "police", "court", "procuratorate", "justice")) {
    f <- as.formula(paste0("~", v))
    svyby(f, ~township, rk, svymean, na.rm = TRUE)
    svymean(f, rk, na.rm = TRUE)
  }
})
cat(t[["elapsed"]], "\n")
"""


def synthetic(respondents: int, townships: int, seed: int = 1, counties: int = 0,
              sizes: tuple[int, int] = (40_000, 400_000)) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Respondents and margins; with ``counties`` > 0 each township also lies in a county (column
    ``county``, counties of unequal numbers of townships)."""
    rng = np.random.default_rng(seed)
    width = max(2, len(str(townships)))
    names = np.array([f"T{h:0{width}d}" for h in range(1, townships + 1)])
    population = rng.integers(*sizes, townships).astype(float)
    town = np.repeat(np.arange(townships), respondents // townships)
    n = town.size
    age = rng.choice(4, size=n, p=[0.15, 0.25, 0.3, 0.3])
    sex = rng.choice(2, size=n, p=[0.45, 0.55])
    frame = pd.DataFrame({"id": np.arange(1, n + 1).astype(str), "township": names[town],
                          "age_group": AGES[age], "sex": SEXES[sex]})
    if counties:
        county = np.sort(np.r_[np.arange(counties), rng.integers(0, counties, townships - counties)])
        frame.insert(1, "county", np.array([f"C{c:03d}" for c in range(counties)])[county][town])
    for q in ITEMS:
        codes = np.array([1, 2, 3, 4, 5, 8, 9]) if q == "q_safety" else np.array([1, 2, 3, 4, 8])
        p = rng.dirichlet(np.ones(codes.size) * 4, size=townships)
        pick = (rng.random(n)[:, None] > np.cumsum(p[town], axis=1)).sum(axis=1)
        frame[q] = codes[np.minimum(pick, codes.size - 1)]
    age_share, sex_share = np.array([0.2, 0.27, 0.28, 0.25]), np.array([0.49, 0.51])
    rows = []
    for h, name in enumerate(names):
        rows.append((name, "total", "all", population[h]))
        rows += [(name, "age_group", a, population[h] * s) for a, s in zip(AGES, age_share, strict=True)]
        rows += [(name, "sex", x, population[h] * s) for x, s in zip(SEXES, sex_share, strict=True)]
    return frame, pd.DataFrame(rows, columns=["township", "margin", "level", "N"])


def time_python(frame: pd.DataFrame, margins: pd.DataFrame, spec: Spec, repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        run_analysis(frame, margins, spec, Options(by=("age_group", "sex"), method="rake"))
        best = min(best, time.perf_counter() - start)
    return float(best)


def peak_traced(frame: pd.DataFrame, margins: pd.DataFrame, spec: Spec) -> float:
    tracemalloc.start()
    run_analysis(frame, margins, spec, Options(by=("age_group", "sex"), method="rake"))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def time_r(frame: pd.DataFrame, margins: pd.DataFrame) -> float | None:
    rscript = shutil.which("Rscript")
    if rscript is None or subprocess.run([rscript, "-e", "library(survey)"], capture_output=True).returncode:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        data, pop, script = Path(tmp, "d.csv"), Path(tmp, "m.csv"), Path(tmp, "bench.R")
        frame.to_csv(data, index=False)
        margins.to_csv(pop, index=False)
        script.write_text(R_SCRIPT)
        done = subprocess.run([rscript, str(script), str(data), str(pop)], capture_output=True, text=True,
                              check=True)
        return float(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--respondents", type=int, default=200_000)
    parser.add_argument("--townships", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-r", action="store_true", help="skip the R comparison")
    args = parser.parse_args()
    frame, margins = synthetic(args.respondents, args.townships)
    spec = parse_spec(SPEC)
    seconds = time_python(frame, margins, spec, args.repeat)
    print(f"python: {len(frame):,} respondents, {args.townships} townships, {len(spec.indices)} indices, "
          f"raking: {seconds:.3f} s (best of {args.repeat})")
    print(f"python: peak traced memory {peak_traced(frame, margins, spec):.1f} MiB, peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")
    r_seconds = None if args.no_r else time_r(frame, margins)
    if r_seconds is None:
        print("R survey: not run" + ("" if args.no_r else " (Rscript with the survey package not found)"))
    else:
        print(f"R survey: rake() + svyby(svymean) for 6 indices: {r_seconds:.2f} s; "
              f"R / python = {r_seconds / seconds:.0f}x")


if __name__ == "__main__":
    main()
