"""Time-decayed category affinity per person, as of a date (ARCHITECTURE: models/interests.py).

Every event and purchase with a category adds ``w_type · 0.5 ** (age_days / half_life_days)`` to the person's
score for that category, where ``age_days`` is the (fractional) time from the row to the end of ``as_of``
(the midnight after it) and ``w_type`` comes from :data:`DEFAULT_TYPE_WEIGHTS`:

=============  ======  ==========================================================
type           weight  why
=============  ======  ==========================================================
exposure       0       shown, not chosen: says what we pushed, not what they like
view, click    1       the baseline signal of attention
share          2       spoke for the product to someone else
fav            3       kept it for later
cart           4       one step from buying
buy            6       paid (order lines, or ``buy`` events when no orders are given)
search         0       carries a query, rarely a category
=============  ======  ==========================================================

So a view today weighs as much as a purchase ``half_life_days · log2(6)`` ≈ 2.6 half-lives ago. When order
lines are given they are the record of purchases and ``buy`` events are skipped, so a purchase counts once.
Rows after ``as_of`` are never read.

Per person the scores become ``share`` (sums to 1 over their categories) and ``affinity`` (score / their top
score, in (0, 1]); :func:`interest_tags` gives ``interest_top1..N`` and :func:`interest_wide` one
``interest_<category>`` column per category.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import narwhals as nw
import polars as pl

from persona_kit.errors import InputError, check_columns
from persona_kit.features import exact_sum, observation_end, rows_as_of
from persona_kit.frames import as_polars, lazy_input

__all__ = ["DEFAULT_TYPE_WEIGHTS", "interest_scores", "interest_tags", "interest_wide", "interests"]

DEFAULT_TYPE_WEIGHTS: dict[str, float] = {"exposure": 0.0, "view": 1.0, "click": 1.0, "search": 0.0,
                                          "share": 2.0, "fav": 3.0, "cart": 4.0, "buy": 6.0}
_VALUES = ("share", "affinity", "score")
_SCALE = 10**9  # scores are summed exactly to 1e-9


def _decayed(lf: nw.LazyFrame, ts_col: str, weight: nw.Expr, end: Any, half_life_days: float,
             person_col: str, category_col: str) -> nw.LazyFrame:
    lf = rows_as_of(lf, ts_col, end).filter(~nw.col(category_col).is_null())
    age = (nw.lit(end) - nw.col("_ts")).dt.total_seconds() / 86_400
    return lf.select(nw.col(person_col), nw.col(category_col).alias("category"),
                     (weight * (age * (-math.log(2) / half_life_days)).exp()).alias("score"))


def interest_scores(events: Any = None, purchases: Any = None, *, as_of: Any, half_life_days: float = 30.0,
                    type_weights: Mapping[str, float] | None = None, person_col: str = "person_id",
                    category_col: str = "category", event_ts_col: str = "event_ts", type_col: str = "event_type",
                    order_ts_col: str = "order_ts") -> Any:
    """Long frame of time-decayed category interest: one row per person and category.

    Parameters
    ----------
    events : pandas or polars DataFrame (eager or lazy), optional
        Behaviour events with ``person_col``, ``event_ts_col``, ``type_col``, ``category_col``.
    purchases : DataFrame, optional
        Order lines customers kept (:func:`persona_kit.clean.netted_purchases`), each weighing ``buy``.
    as_of : date or 'YYYY-MM-DD'
        The last day observed.
    half_life_days : float
        Days after which a row's weight halves.
    type_weights : mapping, optional
        Weight per event type (default :data:`DEFAULT_TYPE_WEIGHTS`; unknown types weigh 0).

    Returns
    -------
    Same kind as the first given frame: ``person_col``, ``category``, ``score``, ``share`` (sums to 1 per
    person), ``affinity`` (score / the person's top score), sorted by person then score (highest first).
    People whose rows all weigh 0 are left out.

    Raises
    ------
    InputError
        No frame, missing columns, ``half_life_days`` not positive, a negative weight, or a bad ``as_of``.

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> ev = pl.DataFrame({"person_id": "a", "event_type": ["view", "cart", "view"], "category": ["护肤", "香水", "护肤"],
    ...                    "event_ts": [dt.datetime(2024, 6, 1), dt.datetime(2024, 5, 2), dt.datetime(2024, 7, 9)]})
    >>> s = interest_scores(ev, as_of="2024-06-30", half_life_days=30)  # ages 30 and 60 days; 07-09 is later
    >>> s.select("category", pl.col("score", "share", "affinity").round(3)).rows()
    [('香水', 1.0, 0.667, 1.0), ('护肤', 0.5, 0.333, 0.5)]
    """
    if events is None and purchases is None:
        raise InputError("interest_scores needs events or purchases")
    if isinstance(half_life_days, bool) or not isinstance(half_life_days, (int, float)) or not half_life_days > 0:
        raise InputError(f"half_life_days must be a positive number of days, got {half_life_days!r}")
    weights = dict(DEFAULT_TYPE_WEIGHTS if type_weights is None else type_weights)
    bad = {k: v for k, v in weights.items() if not isinstance(v, (int, float)) or v < 0}
    if bad:
        raise InputError(f"type_weights must be non-negative numbers, got {bad}")
    end = observation_end(as_of)
    parts, eager = [], None
    if events is not None:
        lf, eager = lazy_input(events, [person_col, event_ts_col, type_col, category_col], "events")
        skip = {"buy"} if purchases is not None else set()
        w = nw.lit(0.0)
        for kind, value in weights.items():
            if value > 0 and kind not in skip:
                w = nw.when(nw.col(type_col) == kind).then(nw.lit(float(value))).otherwise(w)
        parts.append(_decayed(lf, event_ts_col, w, end, half_life_days, person_col, category_col))
    if purchases is not None:
        lf, kind_eager = lazy_input(purchases, [person_col, order_ts_col, category_col], "purchases")
        eager = kind_eager if eager is None else eager
        parts.append(_decayed(lf, order_ts_col, nw.lit(float(weights.get("buy", 0.0))), end, half_life_days,
                              person_col, category_col))
    if len(parts) == 2 and parts[0].implementation != parts[1].implementation:
        raise InputError("events and purchases must be the same kind of frame (both pandas or both polars)")
    rows = nw.concat(parts) if len(parts) > 1 else parts[0]
    # exact sums (to 1e-9): a float sum depends on the order a parallel group-by adds rows in
    scores = (rows.filter(nw.col("score") > 0).group_by(person_col, "category")
              .agg(exact_sum(nw.col("score"), _SCALE)))
    per = scores.group_by(person_col).agg(exact_sum(nw.col("score"), _SCALE).alias("_sum"),
                                          nw.col("score").max().alias("_max"))
    out = (scores.join(per, on=person_col)
           .with_columns(share=nw.col("score") / nw.col("_sum"), affinity=nw.col("score") / nw.col("_max"))
           .select(person_col, "category", "score", "share", "affinity")
           .sort(person_col, "score", "category", descending=[False, True, False]))
    return (out.collect() if eager else out).to_native()


def interest_tags(scores: Any, *, top_n: int = 3, min_share: float = 0.0, person_col: str = "person_id") -> Any:
    """Top-``top_n`` interest categories per person: ``interest_top1`` … ``interest_top<N>``.

    Categories are ranked by score (ties: the category name); those under ``min_share`` of the person's
    interest are left out, and missing ranks are null.

    Parameters
    ----------
    scores : DataFrame
        :func:`interest_scores` output.
    top_n : int
        How many tags per person.
    min_share : float
        Smallest share a tag needs, in [0, 1).

    Returns
    -------
    Same kind as ``scores``: ``person_col``, ``interest_top1`` … ``interest_top<top_n>``.

    Raises
    ------
    InputError
        Missing columns, ``top_n`` < 1 or ``min_share`` outside [0, 1).

    Examples
    --------
    >>> s = pl.DataFrame({"person_id": ["a", "a", "b"], "category": ["护肤", "香水", "彩妆"],
    ...                   "score": [3.0, 1.0, 2.0], "share": [0.75, 0.25, 1.0], "affinity": [1.0, 1 / 3, 1.0]})
    >>> interest_tags(s, top_n=2).rows()
    [('a', '护肤', '香水'), ('b', '彩妆', None)]
    """
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1:
        raise InputError(f"top_n must be a whole number >= 1, got {top_n!r}")
    if not 0 <= min_share < 1:
        raise InputError(f"min_share must be in [0, 1), got {min_share!r}")
    df, back = as_polars(scores, where="scores")
    check_columns(df.columns, [person_col, "category", "score", "share"], where="scores")
    ranked = (df.filter(pl.col("share") >= min_share).sort([person_col, "score", "category"],
                                                           descending=[False, True, False])
              .with_columns(_rank=pl.int_range(pl.len()).over(person_col) + 1).filter(pl.col("_rank") <= top_n))
    people = df.select(person_col).unique()
    cols = [f"interest_top{i}" for i in range(1, top_n + 1)]
    wide = ranked.with_columns(_tag=pl.format("interest_top{}", "_rank")).pivot(
        "_tag", index=person_col, values="category", on_columns=cols) if ranked.height else \
        pl.DataFrame(schema={person_col: df.schema[person_col]})
    wide = people.join(wide, on=person_col, how="left")
    wide = wide.with_columns(*(pl.lit(None, pl.String).alias(c) for c in cols if c not in wide.columns))
    return back(wide.select(person_col, *cols).sort(person_col))


def interest_wide(scores: Any, *, value: str = "share", person_col: str = "person_id") -> Any:
    """One column per category, ``interest_<category>`` = the person's ``value`` (0 where no interest).

    Parameters
    ----------
    scores : DataFrame
        :func:`interest_scores` output.
    value : {'share', 'affinity', 'score'}
        Which number fills the cells.

    Returns
    -------
    Same kind as ``scores``: ``person_col`` and ``interest_<category>`` columns in category order.

    Raises
    ------
    InputError
        Missing columns or an unknown ``value``.

    Examples
    --------
    >>> s = pl.DataFrame({"person_id": ["a", "a", "b"], "category": ["护肤", "香水", "彩妆"],
    ...                   "score": [3.0, 1.0, 2.0], "share": [0.75, 0.25, 1.0], "affinity": [1.0, 1 / 3, 1.0]})
    >>> interest_wide(s).rows()
    [('a', 0.0, 0.75, 0.25), ('b', 1.0, 0.0, 0.0)]
    """
    if value not in _VALUES:
        raise InputError(f"value must be one of {list(_VALUES)}, got {value!r}")
    df, back = as_polars(scores, where="scores")
    check_columns(df.columns, [person_col, "category", value], where="scores")
    cats = sorted(df["category"].unique().to_list())
    cols = [f"interest_{c}" for c in cats]
    if not cats:
        return back(df.select(person_col).unique())
    wide = (df.with_columns(_col=pl.lit("interest_") + pl.col("category"))
            .pivot("_col", index=person_col, values=value, on_columns=cols))
    return back(wide.select(person_col, *(pl.col(c).fill_null(0.0) for c in cols)).sort(person_col))


def interests(events: Any = None, purchases: Any = None, *, as_of: Any, half_life_days: float = 30.0,
              top_n: int = 3, type_weights: Mapping[str, float] | None = None,
              person_col: str = "person_id") -> Any:
    """Tags and wide shares together: ``person_col``, ``interest_top1..N``, ``interest_<category>``.

    The convenience call for the tag step; see :func:`interest_scores` for the parameters.

    Examples
    --------
    >>> import datetime as dt
    >>> ev = pl.DataFrame({"person_id": ["a", "b"], "event_type": ["fav", "view"], "category": ["护肤", "香水"],
    ...                    "event_ts": dt.datetime(2024, 6, 1)})
    >>> interests(ev, as_of="2024-06-30", top_n=1).rows()
    [('a', '护肤', 1.0, 0.0), ('b', '香水', 0.0, 1.0)]
    """
    scores = interest_scores(events, purchases, as_of=as_of, half_life_days=half_life_days,
                             type_weights=type_weights, person_col=person_col)
    tags = nw.from_native(interest_tags(scores, top_n=top_n, person_col=person_col))
    wide = nw.from_native(interest_wide(scores, person_col=person_col))
    return tags.join(wide, on=person_col, how="left").sort(person_col).to_native()
