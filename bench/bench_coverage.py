"""Benchmark: do the 95% intervals cover the truth 95% of the time, for townships and the county?

    .venv/bin/python bench/bench_coverage.py [--reps 1000] [--seed 7] [--methods ps-jackknife,rake-linear]

One finite population of 20 townships of unequal size (the largest 20x the smallest), each with
its own age x sex composition and true favourable rates that differ by township, age and sex.
Every replicate draws 15-40 respondents per township (fixed per township) where the chance of
responding depends on age and sex (the young and men answer least), so the raw sample is skewed
and the weighting has to correct it. Each replicate runs the real analysis (``run_analysis``) once
per candidate method and compares every interval with the finite-population truth.

Printed per method, index kind and level: coverage of the 95% intervals and its Monte-Carlo SE,
mean bias in points and in SE units, mean SE over the spread of the estimates across replicates
(se/sd), and the mean interval width in points. Townships are also split at n = 30 (the bulletin
withholds townships below it), and the Fay-Herriot EBLUP +- 1.96 sqrt(MSE) of the thin townships
is scored beside their direct intervals.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.errors import WeightingError
from analysis.pipeline import Options, run_analysis
from analysis.population import Population
from analysis.responses import ResponseColumns, Responses
from analysis.results import COUNTY
from analysis.spec import parse_spec

AGES = np.array(["18-29", "30-44", "45-59", "60+"])
SEXES = np.array(["M", "F"])
TOWNSHIPS = 20
BY = ("age_group", "sex")
THIN = 30  # the bulletin's smallest published township n (reports.bulletin_data.ReliabilityRule.min_n)
PROPENSITY_AGE = np.array([0.25, 0.5, 0.8, 1.0])
PROPENSITY_SEX = np.array([0.6, 1.0])
SPEC = parse_spec({"indices": {
    "safety": {"question": "q_safety", "kind": "share", "favourable": [1, 2, 3], "exclude": [8]},
    "safety_score": {"question": "q_safety", "kind": "score", "scores": {1: 100, 2: 80, 3: 60, 4: 40, 5: 0},
                     "exclude": [8]},
}})
METHODS = {
    "ps-linear": Options(method="poststratify", variance="linear"),
    "ps-jackknife": Options(method="poststratify", variance="jackknife"),
    "rake-linear": Options(method="rake", variance="linear"),
    "rake-jackknife": Options(method="rake", variance="jackknife"),
    "county-linear": Options(method="county", variance="linear"),
    "county-jackknife": Options(method="county", variance="jackknife"),
}
DEFAULT = ("ps-linear", "ps-jackknife", "rake-linear", "county-linear", "county-jackknife")  # rake-jackknife: slow
CHUNK = 10  # replicates per job
COLUMNS = ResponseColumns(tuple(SPEC.questions()), BY)
LEVELS = ("township", f"  n<{THIN}", f"  n>={THIN}", "county")


@dataclass(frozen=True)
class World:
    people: pd.DataFrame  # township, age_group, sex, q_safety, propensity
    cells: pd.DataFrame  # township, age_group, sex, N
    margins: pd.DataFrame  # township, margin, level, N
    n: dict[str, int]  # respondents per township
    truth: dict[tuple[str, str], float]  # (stratum, index) -> finite-population value


def world(seed: int) -> World:
    rng = np.random.default_rng(seed)
    names = [f"T{h:02d}" for h in range(1, TOWNSHIPS + 1)]
    sizes = np.round(np.geomspace(3_000, 60_000, TOWNSHIPS)[rng.permutation(TOWNSHIPS)]).astype(int)
    frames = []
    for h, (name, size) in enumerate(zip(names, sizes, strict=True)):
        age = rng.choice(4, size=size, p=rng.dirichlet([20, 27, 28, 25]))
        sex = rng.choice(2, size=size, p=[0.49, 0.51])
        tilt = 0.6 + 0.3 * np.sin(h) + np.array([-0.9, -0.3, 0.3, 0.8])[age] + 0.35 * sex - 0.3 * (age == 0) * sex
        favourable = rng.random(size) < 1 / (1 + np.exp(-tilt))
        code = np.where(favourable, rng.choice([1, 2, 3], size=size, p=[0.3, 0.4, 0.3]),
                        rng.choice([4, 5], size=size, p=[0.6, 0.4]))
        code = np.where(rng.random(size) < 0.06, 8, code)
        frames.append(pd.DataFrame({"township": name, "age_group": AGES[age], "sex": SEXES[sex], "q_safety": code,
                                    "propensity": PROPENSITY_AGE[age] * PROPENSITY_SEX[sex]}))
    people = pd.concat(frames, ignore_index=True)
    cells = people.groupby(["township", "age_group", "sex"], as_index=False).size().rename(columns={"size": "N"})
    n = {name: int(k) for name, k in zip(names, rng.integers(15, 41, TOWNSHIPS), strict=True)}
    return World(people, cells, _margins(cells), n, _truth(people))


def _margins(cells: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for town, block in cells.groupby("township"):
        rows.append((town, "total", "all", block.N.sum()))
        for variable in ("age_group", "sex"):
            rows += [(town, variable, level, k) for level, k in block.groupby(variable).N.sum().items()]
    return pd.DataFrame(rows, columns=["township", "margin", "level", "N"])


def _truth(people: pd.DataFrame) -> dict[tuple[str, str], float]:
    valid = people[people.q_safety != 8]
    score = valid.q_safety.map({1: 100, 2: 80, 3: 60, 4: 40, 5: 0})
    out = {}
    for stratum, rows in [*valid.groupby("township").groups.items(), (COUNTY, valid.index)]:
        out[(str(stratum), "safety")] = float((valid.q_safety[rows] <= 3).mean())
        out[(str(stratum), "safety_score")] = float(score[rows].mean())
    return out


def draw(w: World, rng: np.random.Generator, groups: dict[str, np.ndarray]) -> pd.DataFrame:
    """n_h respondents per township, each person's chance proportional to their response propensity
    (successive sampling without replacement: the n_h largest of U^(1/p))."""
    picks = []
    for town, rows in groups.items():
        keys = np.log(rng.random(rows.size)) / w.people.propensity.to_numpy()[rows]
        picks.append(rows[np.argpartition(-keys, w.n[town])[:w.n[town]]])
    chosen = np.concatenate(picks)
    return w.people.iloc[chosen].assign(id=np.arange(chosen.size).astype(str))


@dataclass
class Tally:
    hits: list[float]
    errors: list[float]  # estimate - truth (points)
    z: list[float]  # (estimate - truth) / se
    widths: list[float]
    se: dict[str, list[float]]  # per domain, for se/sd
    values: dict[str, list[float]]


def new_tally() -> Tally:
    return Tally([], [], [], [], defaultdict(list), defaultdict(list))


def score(run_estimates: list, small_area: list, w: World, tallies: dict[tuple[str, str, str], Tally],
          method: str) -> None:
    for e in run_estimates:
        if e.estimate is None or e.ci_low is None or e.ci_high is None or e.se is None:
            continue
        scale = 100.0 if e.kind == "share" else 1.0
        truth = w.truth[(e.stratum, e.index)]
        levels = [LEVELS[3]] if e.stratum == COUNTY else [LEVELS[0], LEVELS[1] if w.n[e.stratum] < THIN else LEVELS[2]]
        for level in levels:
            t = tallies[(method, e.kind, level)]
            t.hits.append(float(e.ci_low <= truth <= e.ci_high))
            t.errors.append(scale * (e.estimate - truth))
            t.z.append((e.estimate - truth) / e.se if e.se > 0 else np.nan)
            t.widths.append(scale * (e.ci_high - e.ci_low))
            t.se[e.stratum].append(e.se)
            t.values[e.stratum].append(e.estimate)
    for s in small_area:
        if w.n[s.stratum] >= THIN:
            continue
        kind = "share" if s.index == "safety" else "score"
        truth, half = w.truth[(s.stratum, s.index)], 1.959964 * np.sqrt(s.mse)
        t = tallies[(method, kind, f"  n<{THIN} Fay-Herriot")]
        scale = 100.0 if kind == "share" else 1.0
        t.hits.append(float(s.eblup - half <= truth <= s.eblup + half))
        t.errors.append(scale * (s.eblup - truth))
        t.z.append((s.eblup - truth) / np.sqrt(s.mse) if s.mse > 0 else np.nan)
        t.widths.append(scale * 2 * half)
        t.se[s.stratum].append(float(np.sqrt(s.mse)))
        t.values[s.stratum].append(s.eblup)


def table(tallies: dict[tuple[str, str, str], Tally]) -> list[str]:
    lines = [f"{'method':<15} {'index':<6} {'level':<22} {'cover%':>7} {'mcse':>5} {'bias':>6} {'bias/se':>7} "
             f"{'se/sd':>6} {'width':>6} {'n':>6}"]
    for (method, kind, level), t in tallies.items():
        hits = np.array(t.hits)
        cover, mcse = hits.mean(), np.sqrt(hits.mean() * (1 - hits.mean()) / hits.size)
        ratio = np.mean([np.mean(t.se[d]) / np.std(t.values[d], ddof=1) for d in t.se if len(t.values[d]) > 2])
        lines.append(f"{method:<15} {kind:<6} {level:<22} {100 * cover:7.1f} {100 * mcse:5.1f} "
                     f"{np.mean(t.errors):6.2f} {np.nanmean(t.z):7.3f} {ratio:6.3f} {np.mean(t.widths):6.1f} "
                     f"{hits.size:6d}")
    return lines


def simulate(args: tuple[int, int, int, list[str]]) -> tuple[dict[tuple[str, str, str], Tally], dict[str, float],
                                                              dict[str, int]]:
    """Replicates ``first`` .. ``last - 1``; replicate r's sample comes from its own seed (seed, r), so
    the figures do not depend on how the replicates are split between processes."""
    seed, first, last, methods = args
    w = world(seed)
    groups = {str(k): np.asarray(v) for k, v in w.people.groupby("township").indices.items()}
    populations = {"cells": Population.from_frame(w.cells, "township", BY),
                   "margins": Population.from_frame(w.margins, "township", BY)}
    tallies: dict[tuple[str, str, str], Tally] = {}
    for method in methods:
        for kind in ("share", "score"):
            for level in (*LEVELS[:2], f"  n<{THIN} Fay-Herriot", *LEVELS[2:]):
                tallies[(method, kind, level)] = new_tally()
    seconds, failed = dict.fromkeys(methods, 0.0), dict.fromkeys(methods, 0)
    for r in range(first, last):
        sample = Responses.from_frame(draw(w, np.random.default_rng([seed, r]), groups), COLUMNS)
        for method in methods:
            began = time.perf_counter()
            base = METHODS[method]
            options = Options(by=BY, method=base.method, variance=base.variance)
            try:
                run = run_analysis(sample, populations["margins" if base.method == "rake" else "cells"], SPEC, options)
            except WeightingError:  # e.g. raking that cannot meet thin margins: counted, not scored
                failed[method] += 1
                continue
            finally:
                seconds[method] += time.perf_counter() - began
            score(run.result.estimates, run.result.small_area, w, tallies, method)
    return tallies, seconds, failed


def merge(parts: list[tuple[dict[tuple[str, str, str], Tally], dict[str, float], dict[str, int]]]
          ) -> tuple[dict[tuple[str, str, str], Tally], dict[str, float], dict[str, int]]:
    tallies, seconds, failed = parts[0]
    for more, s, f in parts[1:]:
        for key, t in more.items():
            mine = tallies[key]
            mine.hits += t.hits
            mine.errors += t.errors
            mine.z += t.z
            mine.widths += t.widths
            for d in t.se:
                mine.se[d] += t.se[d]
                mine.values[d] += t.values[d]
        seconds = {m: seconds[m] + s[m] for m in seconds}
        failed = {m: failed[m] + f[m] for m in failed}
    return tallies, seconds, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--methods", default=",".join(DEFAULT), help=f"comma-separated, of {', '.join(METHODS)}")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--budget", type=float, default=0.0, help="stop after this many seconds (0: never)")
    args = parser.parse_args()
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}; have {', '.join(METHODS)}")
    w = world(args.seed)
    sizes = w.cells.groupby("township").N.sum()
    print(f"population: {TOWNSHIPS} townships of {sizes.min():,.0f}-{sizes.max():,.0f} adults; "
          f"{min(w.n.values())}-{max(w.n.values())} respondents each ({sum(w.n.values())} in all, "
          f"{sum(k < THIN for k in w.n.values())} townships under {THIN}); response propensity by age "
          f"{PROPENSITY_AGE.tolist()} x sex {PROPENSITY_SEX.tolist()}; {args.reps} replicates, seed {args.seed}",
          flush=True)
    began = time.perf_counter()
    jobs = [(args.seed, a, min(a + CHUNK, args.reps), methods) for a in range(0, args.reps, CHUNK)]
    parts, done = [], 0
    with multiprocessing.Pool(max(1, args.processes)) as pool:
        for part in pool.imap(simulate, jobs):  # in replicate order, so a budget cut keeps replicates 0..done-1
            parts.append(part)
            done = min(done + CHUNK, args.reps)
            if args.budget and time.perf_counter() - began > args.budget:
                pool.terminate()
                break
    if done < args.reps:
        print(f"time budget of {args.budget:.0f} s spent: the table covers replicates 0-{done - 1} only")
    tallies, seconds, failed = merge(parts)
    print("\n".join(table(tallies)))
    print("replicates the weighting refused: " + ", ".join(f"{m} {k}" for m, k in failed.items()))
    print("seconds per replicate: " + ", ".join(f"{m} {s / done:.3f}" for m, s in seconds.items())
          + f"; wall {time.perf_counter() - began:.0f} s on {args.processes} processes")


if __name__ == "__main__":
    main()
