"""The Python package ``svy`` as a peer in the county benchmark (bench_province.py --case county).

``svy`` is not a dependency of minyi and nothing outside ``bench/`` imports it: install it into
the venv to compare (``pip install svy``); without it the benchmark says so and skips it.

The same work as bench_analysis.R_SCRIPT: a stratified design (townships, fpc from N_h, design
weights N_h/n_h), raking to each township's age and sex margins (township x level keys, tolerance
1e-10), then the Taylor-linearised mean of the six item indices per township and overall.
"""

from __future__ import annotations

import time
from importlib import metadata
from typing import Any

import pandas as pd

ITEMS = ("police", "court", "procuratorate", "justice")


def svy_version() -> str:
    try:
        return metadata.version("svy")
    except metadata.PackageNotFoundError:
        return "(not installed)"


def time_svy(frame: pd.DataFrame, margins: pd.DataFrame) -> tuple[float, float] | None:
    """Wall and CPU seconds of design, rake and means, or None when svy is not installed."""
    try:
        import polars as pl
        import svy
    except ImportError:
        return None
    start, start_cpu = time.perf_counter(), time.process_time()
    totals = margins[margins["margin"] == "total"].set_index("township")["N"].to_dict()
    data = pl.from_pandas(frame[["township", "age_group", "sex", "q_safety", *(f"q_{q}" for q in ITEMS)]])
    data = data.with_columns(pl.col("township").replace_strict(totals, return_dtype=pl.Float64).alias("N"),
                             pl.len().over("township").alias("n"))
    data = data.with_columns((pl.col("N") / pl.col("n")).alias("w0"),
                             (pl.col("township") + "|" + pl.col("age_group")).alias("t_age"),
                             (pl.col("township") + "|" + pl.col("sex")).alias("t_sex"),
                             _unless(pl.col("q_safety").is_in([8, 9]),
                                     pl.col("q_safety").is_in([1, 2, 3]).cast(pl.Float64)).alias("safety"),
                             _unless(pl.col("q_safety").is_in([8, 9]),
                                     pl.col("q_safety").replace_strict({1: 100, 2: 80, 3: 60, 4: 40, 5: 0}, default=0,
                                                                       return_dtype=pl.Float64)).alias("safety_score"),
                             *(_unless(pl.col(f"q_{q}") == 8, pl.col(f"q_{q}").is_in([1, 2]).cast(pl.Float64)).alias(q)
                               for q in ITEMS))
    controls = {f"t_{v[:3]}": {f"{r.township}|{r.level}": float(r.N) for r in margins[margins["margin"] == v].itertuples()}
                for v in ("age_group", "sex")}
    sample = svy.Sample(data=data, design=svy.Design(stratum="township", wgt="w0", pop_size="N"))
    sample = sample.weighting.rake(controls=controls, tol=1e-10, max_iter=1000)
    indices = ["safety", "safety_score", *ITEMS]
    sample.estimation.mean(indices, by="township", drop_nulls=True)
    sample.estimation.mean(indices, drop_nulls=True)
    return time.perf_counter() - start, time.process_time() - start_cpu


def _unless(missing: Any, value: Any) -> Any:
    import polars as pl

    return pl.when(missing).then(None).otherwise(value)
