"""Campaigns: hash-based holdout design, power / MDE, per-person outcomes, the A/B review and uplift models.

The review works on any per-person results table — an arm column, binary and continuous outcomes,
optional segment and cost columns — so a campaign run outside persona-kit can be reviewed the same way:
per arm rates and means with confidence intervals, lift of each treatment arm against the control
(Wald and Newcombe for proportions, Welch and bootstrap for means), a sample-ratio-mismatch check,
per-segment effects with Benjamini–Hochberg correction and small cells suppressed, ROI from costs, and
uplift models (two-model / T-learner and class transformation) with Qini and uplift curves.

Examples
--------
>>> import polars as pl
>>> people = pl.DataFrame({"person_id": [f"p{i}" for i in range(1000)]})
>>> arms = assign_arms(people, arms={"control": 0.2, "treat": 0.8}, seed="spring")
>>> arms["arm"].value_counts().sort("arm").rows()
[('control', 200), ('treat', 800)]
>>> power_proportions(0.10, 0.02)["n_per_arm"]
3835
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy import stats
from sklearn.base import BaseEstimator

from persona_kit.errors import InputError, check_choice, check_columns
from persona_kit.frames import as_polars, lazy_input
from persona_kit.privacy import MIN_GROUP_SIZE

__all__ = ["assign_arms", "power_proportions", "power_means", "campaign_outcomes", "srm_check",
           "arm_summary", "lift", "segment_effects", "roi", "Review", "review", "UpliftModel",
           "uplift_curves", "auuc", "evaluate_uplift", "read_results"]


# --- design ------------------------------------------------------------------------------------------

def _hash_unit(values: list[str], seed: str) -> np.ndarray:
    """A uniform number in [0, 1) per value from SHA-256 of ``seed`` and the value (stable across runs)."""
    return np.array([int.from_bytes(hashlib.sha256(f"{seed}\x1f{v}".encode()).digest()[:8], "big") / 2**64
                     for v in values])


def assign_arms(units: Any, *, arms: dict[str, float], seed: str, id_col: str = "person_id",
                strata: list[str] | None = None, arm_col: str = "arm") -> Any:
    """Assign each unit to an arm, deterministically from ``seed``, stratified by ``strata``.

    Within each stratum of n units, units are ordered by the SHA-256 of ``seed`` + id and arm k takes the
    positions in [n·c₍ₖ₋₁₎, n·cₖ) of that order (c: cumulative shares), so every stratum is split in the given
    proportions and the same seed and ids always give the same arms, whatever the row order.

    Parameters
    ----------
    units : pandas or polars DataFrame, one row per unit
    arms : arm name → share (shares sum to 1), e.g. ``{"holdout": 0.1, "coupon": 0.9}``
    seed : text that makes the draw reproducible (e.g. the campaign id)
    id_col, strata, arm_col : the id column, stratification columns and the output column

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"person_id": list("abcdefgh"), "seg": ["x"] * 4 + ["y"] * 4})
    >>> out = assign_arms(df, arms={"control": 0.5, "treat": 0.5}, seed="s", strata=["seg"])
    >>> out.groupby(["seg", "arm"]).size().tolist()
    [2, 2, 2, 2]
    """
    frame, back = as_polars(units, where="units")
    strata = list(strata or [])
    check_columns(frame.columns, [id_col, *strata], where="units")
    if not arms or any(not isinstance(s, int | float) or s <= 0 for s in arms.values()):
        raise InputError(f"arms must map arm names to positive shares, got {arms!r}")
    if abs(sum(arms.values()) - 1) > 1e-9:
        raise InputError(f"arm shares must sum to 1, got {sum(arms.values()):g} in {arms!r}")
    if not isinstance(seed, str) or not seed:
        raise InputError("seed must be a non-empty text, e.g. the campaign id")
    if frame[id_col].is_duplicated().any():
        raise InputError(f"{id_col} must be unique to assign arms; found duplicated ids", column=id_col)
    keys = frame[id_col].cast(pl.String).to_list()
    frame = frame.with_columns(pl.Series("_u", _hash_unit(keys, seed)))
    rank = pl.col("_u").rank("ordinal").over(strata) if strata else pl.col("_u").rank("ordinal")
    size = pl.len().over(strata) if strata else pl.len()
    frame = frame.with_columns(_pos=(rank - 1) / size, _n=size)
    names, shares = list(arms), np.cumsum(list(arms.values()))
    expr = pl.lit(names[-1])
    for name, upper in zip(reversed(names[:-1]), reversed(shares[:-1]), strict=True):
        expr = pl.when(pl.col("_pos") < float(upper) - 1e-12).then(pl.lit(name)).otherwise(expr)
    out = frame.with_columns(expr.alias(arm_col)).drop("_u", "_pos", "_n")
    return back(out)


def _z(alpha: float, power: float) -> tuple[float, float]:
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise InputError(f"alpha and power must lie in (0, 1), got alpha={alpha}, power={power}")
    return stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)


def power_proportions(baseline: float, mde: float | None = None, *, n_per_arm: int | None = None,
                      alpha: float = 0.05, power: float = 0.8, ratio: float = 1.0) -> dict[str, float]:
    """Sample size for a conversion test, or the minimum detectable effect for a given size.

    Two-sided test on Cohen's effect size h = 2·asin√p₂ − 2·asin√p₁ (the convention of statsmodels'
    ``NormalIndPower``); ``ratio`` is treatment size / control size. Give ``mde`` (absolute lift) to get
    ``n_per_arm`` (control size), or ``n_per_arm`` to get ``mde``.

    >>> round(power_proportions(0.10, n_per_arm=3835)["mde"], 4)
    0.02
    """
    if not 0 < baseline < 1:
        raise InputError(f"baseline must be a rate in (0, 1), got {baseline}")
    za, zb = _z(alpha, power)
    factor = (za + zb) ** 2 * (1 + 1 / ratio)
    base = math.asin(math.sqrt(baseline))
    if mde is not None:
        if not 0 < baseline + mde < 1 or mde == 0:
            raise InputError(f"mde must be a non-zero lift keeping the rate in (0, 1), got {mde}")
        h = 2 * math.asin(math.sqrt(baseline + mde)) - 2 * base
        return {"baseline": baseline, "mde": mde, "n_per_arm": math.ceil(factor / h**2), "alpha": alpha,
                "power": power}
    if not n_per_arm or n_per_arm < 2:
        raise InputError("give either mde or n_per_arm (at least 2)")
    h = math.sqrt(factor / n_per_arm)
    target = min(base + h / 2, math.pi / 2)
    return {"baseline": baseline, "mde": math.sin(target) ** 2 - baseline, "n_per_arm": n_per_arm,
            "alpha": alpha, "power": power}


def power_means(sd: float, mde: float | None = None, *, n_per_arm: int | None = None, alpha: float = 0.05,
                power: float = 0.8, ratio: float = 1.0) -> dict[str, float]:
    """Sample size (or minimum detectable difference) for a test of means, e.g. revenue per person.

    >>> power_means(100.0, 10.0)["n_per_arm"]
    1570
    """
    if not sd or sd <= 0:
        raise InputError(f"sd must be positive, got {sd}")
    za, zb = _z(alpha, power)
    factor = (za + zb) ** 2 * (1 + 1 / ratio) * sd**2
    if mde is not None:
        if mde == 0:
            raise InputError("mde must be non-zero")
        return {"sd": sd, "mde": mde, "n_per_arm": math.ceil(factor / mde**2), "alpha": alpha, "power": power}
    if not n_per_arm or n_per_arm < 2:
        raise InputError("give either mde or n_per_arm (at least 2)")
    return {"sd": sd, "mde": math.sqrt(factor / n_per_arm), "n_per_arm": n_per_arm, "alpha": alpha,
            "power": power}


# --- outcomes ----------------------------------------------------------------------------------------

def campaign_outcomes(campaigns: Any, orders: Any, *, window_days: int = 30, person_col: str = "person_id",
                      amount_col: str = "amount", paid: str = "paid") -> Any:
    """Per-person results of a campaign: ``converted`` and ``revenue`` from paid orders in the window.

    An order counts when its ``order_ts`` falls in ``[assigned_ts, assigned_ts + window_days)`` and its
    ``status`` is ``paid`` (when the orders have a status). Keeps the campaign columns (arm, cost, …).

    >>> import datetime as dt
    >>> c = pl.DataFrame({"person_id": ["a", "b"], "arm": ["t", "c"], "assigned_ts": [dt.datetime(2026, 3, 2)] * 2})
    >>> o = pl.DataFrame({"person_id": ["a", "a", "b"], "amount": [5.0, 7.0, 9.0],
    ...                   "order_ts": [dt.datetime(2026, 3, 5), dt.datetime(2026, 5, 1), dt.datetime(2026, 1, 1)]})
    >>> campaign_outcomes(c, o).select("person_id", "converted", "revenue").rows()
    [('a', True, 5.0), ('b', False, 0.0)]
    """
    camp_pl, back = as_polars(campaigns, where="campaigns")
    check_columns(camp_pl.columns, [person_col, "arm", "assigned_ts"], where="campaigns")
    ords = lazy_input(orders, [person_col, "order_ts", amount_col], "orders")[0].collect().to_polars()
    if not isinstance(window_days, int) or window_days < 1:
        raise InputError(f"window_days must be a positive integer, got {window_days!r}")
    kept = ords.lazy().filter(pl.col("status") == paid) if "status" in ords.columns else ords.lazy()
    camp_pl = camp_pl.with_row_index("_assignment")  # one window per assignment (a person may be in several)
    stamp = camp_pl.select("_assignment", person_col, "assigned_ts").lazy()
    joined = (kept.select(person_col, "order_ts", amount_col).join(stamp, on=person_col)
              .filter((pl.col("order_ts") >= pl.col("assigned_ts"))
                      & (pl.col("order_ts") < pl.col("assigned_ts") + pl.duration(days=window_days)))
              .group_by("_assignment").agg(orders=pl.len(), revenue=pl.col(amount_col).sum().cast(pl.Float64))
              .collect())
    out = (camp_pl.join(joined, on="_assignment", how="left")
           .with_columns(converted=pl.col("orders").fill_null(0) > 0, revenue=pl.col("revenue").fill_null(0.0))
           .drop("orders", "_assignment"))
    return back(out)


def read_results(path: str | Path, *, arm_col: str, outcomes: list[str], segment_cols: list[str] | None = None,
                 cost_col: str | None = None, covariate_cols: list[str] | None = None) -> pl.DataFrame:
    """Read a per-person results table (CSV or Parquet) and check the named columns.

    Outcomes, cost and covariates are cast to numbers (``true`` / ``false`` and ``1`` / ``0`` become 0/1);
    arm and segment columns to text.

    Raises
    ------
    InputError
        A missing file, a missing column (named, with a near match) or a non-numeric outcome.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("results file not found; set results_path to a CSV or Parquet file", file=str(path))
    frame = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path, infer_schema_length=None)
    numeric = [*outcomes, *([cost_col] if cost_col else []), *(covariate_cols or [])]
    check_columns(frame.columns, [arm_col, *numeric, *(segment_cols or [])], where=path.name)
    out = frame.with_columns(pl.col(arm_col, *(segment_cols or [])).cast(pl.String))
    for col in numeric:
        values = out[col]
        if values.dtype == pl.String:
            values = values.str.strip_chars().str.to_lowercase().replace({"true": "1", "false": "0"})
        cast = values.cast(pl.Float64, strict=False)
        bad = cast.is_null() & values.is_not_null()
        if bad.any():
            row = int(bad.arg_max())
            raise InputError(f"expected numbers, got {values[row]!r}", file=path.name, column=col, row=row + 2)
        out = out.with_columns(cast.alias(col))
    return out


# --- the review --------------------------------------------------------------------------------------

def _frame(results: Any, needed: list[str], where: str) -> pl.DataFrame:
    frame, _ = as_polars(results, where=where)
    check_columns(frame.columns, needed, where=where)
    return frame


def _is_binary(series: pl.Series) -> bool:
    if series.dtype == pl.Boolean:
        return True
    values = set(series.drop_nulls().unique().to_list())
    return series.dtype.is_numeric() and values <= {0, 1}


def srm_check(counts: dict[str, int], shares: dict[str, float] | None = None, *,
              threshold: float = 0.001) -> dict[str, Any]:
    """Sample-ratio-mismatch check: chi-square of the arm counts against the planned shares.

    ``shares`` default to equal shares. ``mismatch`` is true when p < ``threshold`` (0.001, the usual
    line: a mismatch that strong means the assignment or the logging is broken, not chance).

    >>> r = srm_check({"control": 500, "treat": 600})
    >>> round(r["p_value"], 4), r["mismatch"]
    (0.0026, False)
    """
    arms = list(counts)
    shares = shares or {a: 1 / len(arms) for a in arms}
    missing = [a for a in arms if a not in shares]
    if missing:
        raise InputError(f"planned shares lack arms {missing}; shares given for {sorted(shares)}")
    total = sum(counts.values())
    weight = sum(shares[a] for a in arms)
    expected = np.array([shares[a] / weight * total for a in arms])
    chi2, p = stats.chisquare(np.array([counts[a] for a in arms], dtype=float), expected)
    return {"chi2": float(chi2), "dof": len(arms) - 1, "p_value": float(p), "mismatch": bool(p < threshold),
            "observed": dict(counts), "expected": {a: float(e) for a, e in zip(arms, expected, strict=True)}}


def _wilson(x: float, n: int, z: float) -> tuple[float, float]:
    p = x / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


def arm_summary(results: Any, *, arm_col: str = "arm", outcomes: list[str], alpha: float = 0.05) -> Any:
    """Per arm and outcome: n, rate or mean, and its CI (Wilson for rates, t for means).

    >>> df = pl.DataFrame({"arm": ["c"] * 4 + ["t"] * 4, "y": [0, 0, 1, 0, 1, 1, 0, 1]})
    >>> arm_summary(df, outcomes=["y"]).select("arm", "n", "mean").rows()
    [('c', 4, 0.25), ('t', 4, 0.75)]
    """
    frame = _frame(results, [arm_col, *outcomes], "results")
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for outcome in outcomes:
        binary = _is_binary(frame[outcome])
        for arm in sorted(frame[arm_col].drop_nulls().unique().to_list()):
            y = frame.filter(pl.col(arm_col) == arm)[outcome].drop_nulls().cast(pl.Float64).to_numpy()
            n, mean = len(y), float(y.mean()) if len(y) else float("nan")
            if binary:
                low, high = _wilson(y.sum(), n, z) if n else (float("nan"),) * 2
            else:
                sem = stats.sem(y) if n > 1 else float("nan")
                half = stats.t.ppf(1 - alpha / 2, n - 1) * sem if n > 1 else float("nan")
                low, high = mean - half, mean + half
            rows.append({"outcome": outcome, "arm": arm, "kind": "rate" if binary else "mean", "n": n,
                         "total": float(y.sum()), "mean": mean, "ci_low": low, "ci_high": high})
    out = pl.DataFrame(rows)
    return out if isinstance(results, pl.DataFrame) else out.to_pandas()


def _newcombe(x1: float, n1: int, x0: float, n0: int, z: float) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) for p1 − p0."""
    p1, p0 = x1 / n1, x0 / n0
    l1, u1 = _wilson(x1, n1, z)
    l0, u0 = _wilson(x0, n0, z)
    d = p1 - p0
    return (d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2))


def _binary_lift(y1: np.ndarray, y0: np.ndarray, z: float) -> dict[str, float]:
    n1, n0, x1, x0 = len(y1), len(y0), float(y1.sum()), float(y0.sum())
    p1, p0 = x1 / n1, x0 / n0
    se = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    pooled = (x1 + x0) / (n1 + n0)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    p_value = 2 * stats.norm.sf(abs(p1 - p0) / se0) if se0 > 0 else 1.0
    low, high = _newcombe(x1, n1, x0, n0, z)
    rel = rel_low = rel_high = float("nan")
    if x1 > 0 and x0 > 0:
        log_se = math.sqrt(1 / x1 - 1 / n1 + 1 / x0 - 1 / n0)  # Katz log interval of the risk ratio
        rel = p1 / p0 - 1
        rel_low, rel_high = (math.exp(math.log(p1 / p0) + s * z * log_se) - 1 for s in (-1, 1))
    return {"treat_mean": p1, "control_mean": p0, "lift": p1 - p0, "ci_low": low, "ci_high": high,
            "wald_low": p1 - p0 - z * se, "wald_high": p1 - p0 + z * se, "rel_lift": rel,
            "rel_ci_low": rel_low, "rel_ci_high": rel_high, "p_value": float(p_value), "method": "newcombe"}


def _mean_lift(y1: np.ndarray, y0: np.ndarray, alpha: float, n_boot: int, seed: int) -> dict[str, float]:
    m1, m0 = float(y1.mean()), float(y0.mean())
    test = stats.ttest_ind(y1, y0, equal_var=False)
    low, high = test.confidence_interval(1 - alpha)
    out = {"treat_mean": m1, "control_mean": m0, "lift": m1 - m0, "ci_low": float(low), "ci_high": float(high),
           "wald_low": float("nan"), "wald_high": float("nan"), "p_value": float(test.pvalue), "method": "welch",
           "rel_lift": m1 / m0 - 1 if m0 else float("nan"), "rel_ci_low": float("nan"),
           "rel_ci_high": float("nan"), "boot_low": float("nan"), "boot_high": float("nan")}
    if n_boot:
        def statistic(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
            ma, mb = a.mean(axis=axis), b.mean(axis=axis)
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.stack([ma - mb, ma / mb - 1])

        boot = stats.bootstrap((y1, y0), statistic, n_resamples=n_boot, confidence_level=1 - alpha,
                               method="percentile", vectorized=True, rng=np.random.default_rng(seed))
        out.update(boot_low=float(boot.confidence_interval.low[0]), boot_high=float(boot.confidence_interval.high[0]))
        if m0:
            out.update(rel_ci_low=float(boot.confidence_interval.low[1]),
                       rel_ci_high=float(boot.confidence_interval.high[1]))
    return out


def lift(results: Any, *, arm_col: str = "arm", control: str, outcomes: list[str], alpha: float = 0.05,
         n_boot: int = 2000, seed: int = 0, binary: list[str] | None = None) -> Any:
    """Lift of every treatment arm against ``control`` per outcome, with CIs and p-values.

    Binary outcomes: absolute lift with Newcombe's hybrid score CI (and the Wald CI), relative lift with the
    Katz log CI, pooled two-proportion z-test. Continuous outcomes: Welch's t CI and p-value, plus percentile
    bootstrap CIs of the absolute and relative lift (``n_boot`` resamples; 0 skips it). ``binary`` names the
    binary outcomes (default: those holding only 0 / 1 or booleans).

    >>> df = pl.DataFrame({"arm": ["c"] * 50 + ["t"] * 50, "y": [0] * 40 + [1] * 10 + [0] * 30 + [1] * 20})
    >>> row = lift(df, control="c", outcomes=["y"]).row(0, named=True)
    >>> row["arm"], row["lift"], round(row["p_value"], 4)
    ('t', 0.2, 0.0291)
    """
    frame = _frame(results, [arm_col, *outcomes], "results")
    arms = sorted(frame[arm_col].drop_nulls().unique().to_list())
    check_choice("control", control, arms)
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for outcome in outcomes:
        is_rate = outcome in binary if binary is not None else _is_binary(frame[outcome])
        y0 = frame.filter(pl.col(arm_col) == control)[outcome].drop_nulls().cast(pl.Float64).to_numpy()
        for arm in (a for a in arms if a != control):
            y1 = frame.filter(pl.col(arm_col) == arm)[outcome].drop_nulls().cast(pl.Float64).to_numpy()
            if len(y1) < 2 or len(y0) < 2:
                raise InputError(f"arm {arm!r} or control {control!r} has fewer than 2 values of {outcome!r}",
                                 column=outcome)
            stat = _binary_lift(y1, y0, z) if is_rate else _mean_lift(y1, y0, alpha, n_boot, seed)
            rows.append({"outcome": outcome, "arm": arm, "n_treat": len(y1), "n_control": len(y0), **stat})
    out = pl.DataFrame(rows, infer_schema_length=None)
    return out if isinstance(results, pl.DataFrame) else out.to_pandas()


def segment_effects(results: Any, *, arm_col: str = "arm", control: str, outcomes: list[str],
                    segment_cols: list[str], alpha: float = 0.05,
                    min_group_size: int = MIN_GROUP_SIZE) -> Any:
    """Lift per segment value, treatment arm and outcome, with Benjamini–Hochberg q-values per segment column.

    Cells where the treatment or control group is smaller than ``min_group_size`` are suppressed (no
    estimate) and left out of the correction, as are cells without a p-value (e.g. no variance in either
    group). Whether an outcome is binary is decided on the whole table. ``significant`` is q < ``alpha``.
    """
    frame = _frame(results, [arm_col, *outcomes, *segment_cols], "results")
    binary = [o for o in outcomes if _is_binary(frame[o])]  # decided on the whole table, not per cell
    parts = []
    for col in segment_cols:
        rows = []
        for value in sorted(frame[col].drop_nulls().unique().to_list(), key=str):
            cell = frame.filter(pl.col(col) == value)
            counts = dict(cell.group_by(arm_col).len().iter_rows())
            for outcome in outcomes:
                for arm in sorted(a for a in frame[arm_col].drop_nulls().unique().to_list() if a != control):
                    n1, n0 = counts.get(arm, 0), counts.get(control, 0)
                    row = {"segment_col": col, "segment_value": str(value), "outcome": outcome, "arm": arm, "n_treat": n1,
                           "n_control": n0, "suppressed": min(n1, n0) < max(min_group_size, 2)}
                    if not row["suppressed"]:
                        sub = cell.filter(pl.col(arm_col).is_in([arm, control]))
                        est = lift(sub, arm_col=arm_col, control=control, outcomes=[outcome], alpha=alpha,
                                   n_boot=0, binary=binary).row(0, named=True)
                        row.update({k: est[k] for k in ("lift", "ci_low", "ci_high", "p_value")})
                    rows.append(row)
        block = pl.DataFrame(rows, infer_schema_length=None)
        for name in ("lift", "ci_low", "ci_high", "p_value"):
            if name not in block.columns:
                block = block.with_columns(pl.lit(None, dtype=pl.Float64).alias(name))
        tested = block.filter(pl.col("p_value").is_not_null() & pl.col("p_value").is_not_nan())
        q = stats.false_discovery_control(tested["p_value"].to_numpy(), method="bh") if tested.height else []
        keys = ["segment_value", "outcome", "arm"]
        block = block.join(tested.select(keys).with_columns(q_value=pl.Series(q, dtype=pl.Float64)), on=keys,
                           how="left")
        parts.append(block.with_columns(significant=pl.col("q_value") < alpha))
    cols = ["segment_col", "segment_value", "outcome", "arm", "n_treat", "n_control", "lift", "ci_low", "ci_high", "p_value",
            "q_value", "significant", "suppressed"]
    out = pl.concat([p.select(cols) for p in parts]) if parts else pl.DataFrame(schema=dict.fromkeys(cols, pl.Float64))
    return out if isinstance(results, pl.DataFrame) else out.to_pandas()


def roi(results: Any, *, arm_col: str = "arm", control: str, revenue_col: str, cost_col: str,
        alpha: float = 0.05) -> Any:
    """Incremental revenue and ROI of each treatment arm, with CIs from Welch's interval of the lift.

    Incremental revenue = (mean revenue of the arm − mean of control) × persons in the arm; ROI =
    (incremental revenue − cost) / cost, the arm's cost taken as known.

    >>> df = pl.DataFrame({"arm": ["c"] * 3 + ["t"] * 3, "rev": [0.0, 1, 2, 3, 4, 5], "cost": [0.0] * 3 + [1.0] * 3})
    >>> roi(df, control="c", revenue_col="rev", cost_col="cost").select("incremental_revenue", "cost", "roi").rows()
    [(9.0, 3.0, 2.0)]
    """
    frame = _frame(results, [arm_col, revenue_col, cost_col], "results")
    effects = lift(frame, arm_col=arm_col, control=control, outcomes=[revenue_col], alpha=alpha, n_boot=0)
    costs = frame.group_by(arm_col).agg(cost=pl.col(cost_col).sum().cast(pl.Float64)).rename({arm_col: "arm"})
    out = (effects.join(costs, on="arm").with_columns(
        incremental_revenue=pl.col("lift") * pl.col("n_treat"), inc_low=pl.col("ci_low") * pl.col("n_treat"),
        inc_high=pl.col("ci_high") * pl.col("n_treat"))
        .with_columns([((pl.col(c) - pl.col("cost")) / pl.col("cost")).alias(r) for c, r in
                       (("incremental_revenue", "roi"), ("inc_low", "roi_low"), ("inc_high", "roi_high"))])
        .select("arm", "n_treat", "cost", "incremental_revenue", "inc_low", "inc_high", "roi", "roi_low",
                "roi_high"))
    return out if isinstance(results, pl.DataFrame) else out.to_pandas()


@dataclass(frozen=True)
class Review:
    """What :func:`review` found: per-arm figures, lifts, the SRM check, segment effects and ROI."""

    arms: Any
    effects: Any
    srm: dict[str, Any]
    segments: Any
    roi: Any


def review(results: Any, *, arm_col: str = "arm", control: str = "control", outcomes: list[str],
           segment_cols: list[str] | None = None, cost_col: str | None = None, revenue_col: str | None = None,
           shares: dict[str, float] | None = None, alpha: float = 0.05, n_boot: int = 2000, seed: int = 0,
           min_group_size: int = MIN_GROUP_SIZE) -> Review:
    """Review a campaign from any per-person results table.

    Parameters
    ----------
    results : pandas or polars DataFrame, one row per person
    arm_col, control : the arm column and the name of the control (holdout) arm
    outcomes : binary (0/1 or bool) and continuous outcome columns
    segment_cols : pre-treatment segment columns for per-segment effects (BH-corrected)
    cost_col, revenue_col : for ROI (``revenue_col`` defaults to the first continuous outcome)
    shares : planned arm shares for the SRM check (default: equal)

    Raises
    ------
    InputError
        Naming a missing column, an unknown control arm or an arm too small to compare.

    Examples
    --------
    >>> df = pl.DataFrame({"group": ["c"] * 30 + ["t"] * 30, "buy": [0, 1] * 15 + [1, 1, 0] * 10})
    >>> r = review(df, arm_col="group", control="c", outcomes=["buy"])
    >>> r.effects.select("arm", "lift").rows(), r.srm["mismatch"]
    ([('t', 0.16666666666666663)], False)
    >>> review(df, arm_col="arm", control="c", outcomes=["buy"])
    Traceback (most recent call last):
    ...
    persona_kit.errors.InputError: results: missing columns ['arm']; available: ['group', 'buy']
    """
    segment_cols = list(segment_cols or [])
    needed = [arm_col, *outcomes, *segment_cols, *([cost_col] if cost_col else [])]
    if not outcomes:
        raise InputError("outcomes must name at least one outcome column")
    frame = _frame(results, needed, "results")
    arms = frame[arm_col].drop_nulls().unique().to_list()
    check_choice("control", control, sorted(arms))
    if len(arms) < 2:
        raise InputError(f"{arm_col} holds only the control arm {control!r}; nothing to compare", column=arm_col)
    counts = dict(frame.group_by(arm_col).len().sort(arm_col).iter_rows())
    out = Review(
        arms=arm_summary(frame, arm_col=arm_col, outcomes=outcomes, alpha=alpha),
        effects=lift(frame, arm_col=arm_col, control=control, outcomes=outcomes, alpha=alpha, n_boot=n_boot,
                     seed=seed),
        srm=srm_check(counts, shares),
        segments=segment_effects(frame, arm_col=arm_col, control=control, outcomes=outcomes,
                                 segment_cols=segment_cols, alpha=alpha, min_group_size=min_group_size)
        if segment_cols else None,
        roi=None)
    continuous = [o for o in outcomes if not _is_binary(frame[o])]
    revenue_col = revenue_col or (continuous[0] if continuous else None)
    if cost_col and revenue_col:
        out = Review(out.arms, out.effects, out.srm, out.segments,
                     roi(frame, arm_col=arm_col, control=control, revenue_col=revenue_col, cost_col=cost_col,
                         alpha=alpha))
    if isinstance(results, pl.DataFrame):
        return out
    return Review(*(v.to_pandas() if isinstance(v, pl.DataFrame) else v for v in
                    (out.arms, out.effects, out.srm, out.segments, out.roi)))


# --- uplift ------------------------------------------------------------------------------------------

class UpliftModel(BaseEstimator):
    """Uplift (conditional treatment effect on a binary outcome) with scikit-learn classifiers.

    ``method="two_model"`` (T-learner) fits one classifier on the treated and one on the control and scores
    P(y|x, treated) − P(y|x, control). ``method="class_transformation"`` fits one classifier on
    z = y·t + (1−y)(1−t), treated and control reweighted to equal mass, and scores 2·P(z=1|x) − 1.

    Parameters
    ----------
    method : ``two_model`` or ``class_transformation``
    estimator : a scikit-learn classifier (cloned); default a random forest of 200 trees, leaves of ≥ 20
    random_state : seed of the default estimator

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(2000, 1)); t = rng.integers(0, 2, 2000)
    >>> y = (rng.random(2000) < 0.1 + 0.3 * t * (x[:, 0] > 0)).astype(int)
    >>> scores = UpliftModel().fit(x, t, y).predict(np.array([[-1.0], [1.0]]))
    >>> bool(scores[1] > scores[0] + 0.15)
    True
    """

    def __init__(self, method: str = "two_model", estimator: Any = None, random_state: int = 0) -> None:
        self.method = method
        self.estimator = estimator
        self.random_state = random_state

    def _base(self) -> Any:
        from sklearn.base import clone
        from sklearn.ensemble import RandomForestClassifier

        if self.estimator is not None:
            return clone(self.estimator)
        return RandomForestClassifier(n_estimators=200, min_samples_leaf=20, max_features=0.3, n_jobs=1,
                                      random_state=self.random_state)

    def fit(self, X: Any, treatment: Any, y: Any) -> UpliftModel:
        """Fit on features ``X``, a 0/1 ``treatment`` indicator and a 0/1 outcome ``y``."""
        check_choice("method", self.method, ["two_model", "class_transformation"])
        X, t, y = np.asarray(X, dtype=float), np.asarray(treatment).astype(int), np.asarray(y).astype(int)
        if not (len(X) == len(t) == len(y)):
            raise InputError(f"X, treatment and y differ in length: {len(X)}, {len(t)}, {len(y)}")
        if set(np.unique(t)) != {0, 1}:
            raise InputError("treatment must hold both 0 (control) and 1 (treated)")
        if self.method == "two_model":
            self.models_ = [self._base().fit(X[t == arm], y[t == arm]) for arm in (0, 1)]
        else:
            z = y * t + (1 - y) * (1 - t)
            share = t.mean()
            weight = np.where(t == 1, 0.5 / share, 0.5 / (1 - share))
            self.models_ = [self._base().fit(X, z, sample_weight=weight)]
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predicted uplift per row."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "models_")
        X = np.asarray(X, dtype=float)
        if self.method == "two_model":
            return self.models_[1].predict_proba(X)[:, 1] - self.models_[0].predict_proba(X)[:, 1]
        return 2 * self.models_[0].predict_proba(X)[:, 1] - 1


def uplift_curves(score: Any, treatment: Any, y: Any, *, points: int = 50) -> pl.DataFrame:
    """Qini and uplift curves of a ranking by ``score`` (highest first), at ``points`` cut-offs.

    At the top-k persons: ``qini = Y_t − Y_c · N_t / N_c`` (incremental outcomes) and
    ``uplift = (Y_t / N_t − Y_c / N_c) · (N_t + N_c)``; ``random_qini`` / ``random_uplift`` are the same
    share of the overall figure (a random ranking).

    >>> uplift_curves([0.9, 0.8, 0.2, 0.1], [1, 0, 1, 0], [1, 0, 0, 0], points=2).select("share", "qini").rows()
    [(0.0, 0.0), (0.5, 1.0), (1.0, 1.0)]
    """
    s, t, y = (np.asarray(v, dtype=float) for v in (score, treatment, y))
    order = np.argsort(-s, kind="stable")
    t, y = t[order], y[order]
    n = len(s)
    cut = np.unique(np.linspace(0, n, points + 1).round().astype(int))
    nt, nc = np.concatenate([[0], np.cumsum(t)]), np.concatenate([[0], np.cumsum(1 - t)])
    yt, yc = np.concatenate([[0], np.cumsum(y * t)]), np.concatenate([[0], np.cumsum(y * (1 - t))])
    nt, nc, yt, yc = nt[cut], nc[cut], yt[cut], yc[cut]
    with np.errstate(divide="ignore", invalid="ignore"):
        qini = yt - np.where(nc > 0, yc * nt / nc, 0.0)  # no control yet: nothing to subtract
        up = np.where((nt > 0) & (nc > 0), (yt / nt - yc / nc) * (nt + nc), 0.0)
    share = cut / n
    return pl.DataFrame({"share": share, "persons": cut, "qini": qini, "uplift": up,
                         "random_qini": share * qini[-1], "random_uplift": share * up[-1]})


def auuc(curves: pl.DataFrame) -> dict[str, float]:
    """Areas of :func:`uplift_curves` (trapezoid over the share of persons): ``auuc`` under the uplift
    curve, ``qini_coefficient`` between the Qini curve and random, and both normalized by the persons.

    >>> round(auuc(uplift_curves([0.9, 0.8, 0.2, 0.1], [1, 0, 1, 0], [1, 0, 0, 0], points=2))["qini_coefficient"], 4)
    0.0625
    """
    x = curves["share"].to_numpy()
    area = {name: float(np.trapezoid(curves[name].to_numpy(), x)) for name in
            ("qini", "uplift", "random_qini", "random_uplift")}
    total = float(curves["persons"].max())
    return {"auuc": area["uplift"] / total, "auuc_random": area["random_uplift"] / total,
            "qini_coefficient": (area["qini"] - area["random_qini"]) / total}


def evaluate_uplift(results: Any, *, arm_col: str = "arm", control: str, treatment: str, outcome: str,
                    feature_cols: list[str], test_share: float = 0.4, seed: int = 0,
                    methods: tuple[str, ...] = ("two_model", "class_transformation")) -> dict[str, Any]:
    """Fit uplift models on a random split of one treatment arm and the control; score the held-out part.

    Returns ``curves`` (Qini and uplift curves per method, long), ``areas`` (AUUC and Qini coefficient per
    method, with the random baseline) and ``scores`` (the held-out rows with one ``score_<method>`` each).
    Missing feature values are filled with −1 (the trees split them off).
    """
    frame = _frame(results, [arm_col, outcome, *feature_cols], "results")
    if not 0 < test_share < 1:
        raise InputError(f"test_share must lie in (0, 1), got {test_share}")
    data = frame.filter(pl.col(arm_col).is_in([control, treatment]))
    X = data.select(pl.col(feature_cols).cast(pl.Float64)).fill_null(-1).fill_nan(-1).to_numpy()
    t = (data[arm_col] == treatment).cast(pl.Int8).to_numpy()
    y = data[outcome].cast(pl.Float64).to_numpy()
    held = np.random.default_rng(seed).random(len(data)) < test_share
    if min(t[~held].sum(), (1 - t[~held]).sum(), t[held].sum(), (1 - t[held]).sum()) < 10:
        raise InputError(f"too few persons in {treatment!r} or {control!r} to fit and test an uplift model")
    scores, curves, areas = data.filter(pl.Series(held)), [], []
    for method in methods:
        score = UpliftModel(method, random_state=seed).fit(X[~held], t[~held], y[~held]).predict(X[held])
        scores = scores.with_columns(pl.Series(f"score_{method}", score))
        curve = uplift_curves(score, t[held], y[held])
        curves.append(curve.with_columns(method=pl.lit(method)))
        areas.append({"method": method, **auuc(curve)})
    out = {"curves": pl.concat(curves), "areas": pl.DataFrame(areas), "scores": scores}
    return out if isinstance(results, pl.DataFrame) else {k: v.to_pandas() for k, v in out.items()}
