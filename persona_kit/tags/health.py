"""Health checks of tag snapshots: coverage, value distribution, drift (PSI), value churn, redundancy.

Each check takes long tag frames (``person_id, tag_id, value, as_of``) and returns a polars frame with a
boolean ``flag`` column marking what needs a look.

- **coverage** — share of persons with a value (for bool tags: with ``true``); flag below ``min_coverage``.
- **distribution** — persons and share per tag value; flag groups under the privacy minimum
  (:data:`persona_kit.privacy.MIN_GROUP_SIZE`), which a report must suppress.
- **drift** — population stability index between two snapshots,
  ``PSI = Σ (pₙ − pₒ) · ln(pₙ / pₒ)`` over bins, with each share floored at ``epsilon`` (default 1e-4) so
  an empty bin does not give an infinite PSI. Category and bool tags use their values as bins; number tags
  use ``bins`` (default 10) quantile bins of the *old* snapshot (edges deduplicated, lower bin closed on
  the right). A person with no value counts in a "missing" bin. Flag PSI > 0.2.
- **churn** — share of persons (in both snapshots) whose value changed; flag above ``max_churn``.
- **redundancy** — Cramér's V (no bias correction, as ``scipy.stats.contingency.association``) between
  every pair of bool / category tags over persons holding both; flag V > 0.9.

Examples
--------
>>> import datetime as dt
>>> day = dt.date(2024, 6, 30)
>>> tags = pl.DataFrame({"person_id": ["p1", "p2", "p1"], "tag_id": ["vip", "vip", "city"],
...                      "value": ["true", "false", "上海"], "as_of": [day] * 3})
>>> coverage(tags).select("tag_id", "coverage").rows()
[('city', 0.5), ('vip', 0.5)]
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import Any

import numpy as np
import polars as pl

from persona_kit.errors import InputError
from persona_kit.privacy import MIN_GROUP_SIZE
from persona_kit.tags.catalog import Catalog
from persona_kit.tags.engine import long_tags

__all__ = ["PSI_EPSILON", "PSI_FLAG", "V_FLAG", "coverage", "distribution", "psi", "drift", "value_churn",
           "cramers_v", "redundancy"]

PSI_EPSILON = 1e-4
PSI_FLAG = 0.2
V_FLAG = 0.9
_MISSING = "<missing>"


def _value_types(frame: pl.DataFrame, catalog: Catalog | None) -> dict[str, str]:
    """A tag's value type from the catalog, else guessed: only true/false → bool, else category."""
    known = {t.id: t.value_type for t in catalog} if catalog is not None else {}
    out = {}
    for tag_id, vals in frame.group_by("tag_id").agg(pl.col("value").unique()).iter_rows():
        out[tag_id] = known.get(tag_id) or ("bool" if set(vals) <= {"true", "false"} else "category")
    return out


def coverage(tags: Any, *, persons: int | None = None, catalog: Catalog | None = None,
             min_coverage: float = 0.01) -> Any:
    """Share of persons with a value (bool tags: with ``true``) per tag.

    Parameters
    ----------
    persons
        The number of persons tagged (default: distinct persons in ``tags``; pass the features' row count
        when some persons may have no tag at all).
    catalog
        Gives value types, and lists tags nobody has (coverage 0).

    Returns
    -------
    DataFrame (the kind of ``tags``)
        ``tag_id, persons, coverage, flag`` (flag: coverage < ``min_coverage``).
    """
    frame, back = long_tags(tags)
    total = persons if persons is not None else frame["person_id"].n_unique()
    types = _value_types(frame, catalog)
    bools = [t for t, v in types.items() if v == "bool"]
    held = frame.filter(pl.col("value").is_not_null()
                        & ((pl.col("value") == "true") | ~pl.col("tag_id").is_in(bools)))
    out = held.group_by("tag_id").agg(pl.col("person_id").n_unique().cast(pl.Int64).alias("persons"))
    ids = catalog.ids if catalog is not None else sorted(frame["tag_id"].unique().to_list())
    out = pl.DataFrame({"tag_id": ids}, schema={"tag_id": pl.String}).join(out, on="tag_id", how="left")
    return back(out.with_columns(pl.col("persons").fill_null(0)).with_columns(
        (pl.col("persons") / total if total else pl.lit(None, dtype=pl.Float64)).alias("coverage")
    ).with_columns((pl.col("coverage") < min_coverage).fill_null(True).alias("flag")))


def distribution(tags: Any, *, min_group_size: int = MIN_GROUP_SIZE) -> Any:
    """Persons and share per tag value: ``tag_id, value, persons, share, flag`` (flag: fewer persons than
    ``min_group_size`` — suppress before reporting).

    >>> day = __import__("datetime").date(2024, 6, 30)
    >>> distribution(pl.DataFrame({"person_id": ["a", "b", "c"], "tag_id": ["t"] * 3,
    ...                            "value": ["x", "x", "y"], "as_of": [day] * 3}), min_group_size=2).rows()
    [('t', 'x', 2, 0.6666666666666666, False), ('t', 'y', 1, 0.3333333333333333, True)]
    """
    frame, back = long_tags(tags)
    return back(frame.group_by("tag_id", "value").agg(pl.col("person_id").n_unique().cast(pl.Int64).alias("persons"))
                .with_columns((pl.col("persons") / pl.col("persons").sum().over("tag_id")).alias("share"))
                .with_columns((pl.col("persons") < min_group_size).alias("flag"))
                .sort("tag_id", "value"))


def psi(expected: Any, actual: Any, *, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index of two share (or count) vectors over the same bins.

    >>> round(psi([0.5, 0.5], [0.6, 0.4]), 6)
    0.040547
    """
    old = np.asarray(expected, dtype=float)
    new = np.asarray(actual, dtype=float)
    if old.shape != new.shape or old.ndim != 1 or old.size == 0:
        raise InputError(f"psi needs two equal-length lists of shares, got {old.shape} and {new.shape}")
    old = np.maximum(old / old.sum() if old.sum() else old, epsilon)
    new = np.maximum(new / new.sum() if new.sum() else new, epsilon)
    return float(np.sum((new - old) * np.log(new / old)))


def _number_bins(old: pl.Series, new: pl.Series, bins: int) -> tuple[pl.Series, pl.Series]:
    values = old.cast(pl.Float64, strict=False).drop_nulls()
    edges = sorted({float(values.quantile(i / bins, interpolation="linear")) for i in range(1, bins)}) \
        if values.len() else []

    def label(series: pl.Series) -> pl.Series:
        numbers = series.cast(pl.Float64, strict=False).to_numpy()
        index = np.searchsorted(np.asarray(edges), numbers, side="left")
        return pl.Series([_MISSING if math.isnan(x) else f"bin{int(i)}" for x, i in zip(numbers, index, strict=True)])
    return label(old), label(new)


def drift(old: Any, new: Any, *, catalog: Catalog | None = None, bins: int = 10, epsilon: float = PSI_EPSILON,
          threshold: float = PSI_FLAG) -> Any:
    """PSI per tag between two snapshots: ``tag_id, psi, flag`` (flag: PSI > ``threshold``).

    Persons are those of either snapshot; one without a value for a tag falls in the missing bin. Number
    tags (``value_type: number`` in ``catalog``) are binned by the old snapshot's quantiles. Returns the
    kind of frame ``new`` is.
    """
    before, _ = long_tags(old, where="old")
    after, back = long_tags(new, where="new")
    types = _value_types(pl.concat([before, after]), catalog)
    rows = []
    for tag_id in sorted(types):
        o = _values(before, tag_id)
        n = _values(after, tag_id)
        if types[tag_id] == "number":
            o, n = _number_bins(o, n, bins)
        o = o.fill_null(_MISSING)
        n = n.fill_null(_MISSING)
        levels = sorted(set(o.to_list()) | set(n.to_list()))
        counts_o = [int((o == v).sum()) for v in levels]
        counts_n = [int((n == v).sum()) for v in levels]
        rows.append({"tag_id": tag_id, "bins": len(levels), "psi": psi(counts_o, counts_n, epsilon=epsilon)})
    out = pl.DataFrame(rows, schema={"tag_id": pl.String, "bins": pl.Int64, "psi": pl.Float64})
    return back(out.with_columns((pl.col("psi") > threshold).alias("flag")))


def _values(frame: pl.DataFrame, tag_id: str) -> pl.Series:
    """The tag's value for every person of the snapshot (null where the person has none)."""
    persons = frame.select("person_id").unique()
    return persons.join(frame.filter(pl.col("tag_id") == tag_id).select("person_id", "value"), on="person_id",
                        how="left")["value"]


def value_churn(old: Any, new: Any, *, max_churn: float = 0.2) -> Any:
    """Share of persons in both snapshots whose value of a tag changed (gaining or losing a value counts).

    Returns ``tag_id, persons, changed, churn, flag`` (flag: churn > ``max_churn``), the kind of ``new``.
    """
    before, _ = long_tags(old, where="old")
    after, back = long_tags(new, where="new")
    common = before.select("person_id").unique().join(after.select("person_id").unique(), on="person_id")
    tag_ids = sorted(set(before["tag_id"].to_list()) | set(after["tag_id"].to_list()))
    grid = common.join(pl.DataFrame({"tag_id": tag_ids}, schema={"tag_id": pl.String}), how="cross")
    both = (grid.join(before.select("person_id", "tag_id", "value"), on=["person_id", "tag_id"], how="left")
            .join(after.select("person_id", "tag_id", pl.col("value").alias("value_new")),
                  on=["person_id", "tag_id"], how="left"))
    return back(both.group_by("tag_id").agg(
        pl.len().cast(pl.Int64).alias("persons"),
        pl.col("value").ne_missing(pl.col("value_new")).sum().cast(pl.Int64).alias("changed"))
        .with_columns((pl.col("changed") / pl.col("persons")).alias("churn"))
        .with_columns((pl.col("churn") > max_churn).alias("flag")).sort("tag_id"))


def cramers_v(x: Any, y: Any) -> float | None:
    """Cramér's V of two categorical sequences (pairs with a null dropped), without bias correction.

    Returns ``None`` when either has a single level (V is undefined).

    >>> cramers_v(["a", "a", "b", "b"], ["x", "x", "y", "y"])
    1.0
    """
    pairs = pl.DataFrame({"x": pl.Series(list(x), dtype=pl.String), "y": pl.Series(list(y), dtype=pl.String)}
                         ).drop_nulls()
    return _cramers_v_of_codes(_level_codes(pairs["x"]), _level_codes(pairs["y"]))


def _level_codes(values: pl.Series) -> np.ndarray:
    """Each value's level in sorted order (0, 1, …); -1 for null."""
    return values.rank("dense").fill_null(0).cast(pl.Int64).to_numpy() - 1


def _cramers_v_of_codes(rows: np.ndarray, cols: np.ndarray) -> float | None:
    """:func:`cramers_v` of level codes (no nulls); levels that do not occur are left out of the table."""
    if not len(rows):
        return None
    width = int(cols.max()) + 1
    observed = np.bincount(rows * width + cols, minlength=(int(rows.max()) + 1) * width).reshape(-1, width)
    observed = observed[observed.any(axis=1)][:, observed.any(axis=0)].astype(np.float64)
    if min(observed.shape) < 2:
        return None
    n = observed.sum()
    expected = observed.sum(axis=1, keepdims=True) * observed.sum(axis=0, keepdims=True) / n
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    return math.sqrt(chi2 / (n * (min(observed.shape) - 1)))


def redundancy(tags: Any, *, catalog: Catalog | None = None, threshold: float = V_FLAG) -> Any:
    """Cramér's V for every pair of bool / category tags: ``tag_a, tag_b, persons, cramers_v, flag``
    (flag: V > ``threshold``; the pair says nearly the same thing about everyone — keep one)."""
    frame, back = long_tags(tags)
    types = _value_types(frame, catalog)
    ids = [t for t in (catalog.ids if catalog is not None else sorted(types))
           if types.get(t) in ("bool", "category")]
    table = frame.filter(pl.col("tag_id").is_in(ids)).pivot(
        on="tag_id", index="person_id", values="value", aggregate_function="first") if ids else pl.DataFrame()
    codes = {t: _level_codes(table[t].cast(pl.String)) for t in ids if t in table.columns}  # once per tag
    rows = []
    for a, b in combinations(codes, 2):
        both = (codes[a] >= 0) & (codes[b] >= 0)
        rows.append({"tag_a": a, "tag_b": b, "persons": int(both.sum()),
                     "cramers_v": _cramers_v_of_codes(codes[a][both], codes[b][both])})
    out = pl.DataFrame(rows, schema={"tag_a": pl.String, "tag_b": pl.String, "persons": pl.Int64,
                                     "cramers_v": pl.Float64})
    return back(out.with_columns((pl.col("cramers_v") > threshold).fill_null(False).alias("flag")))
