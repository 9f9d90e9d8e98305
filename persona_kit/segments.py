"""Segments as of a date: RFM scores and named segments, lifecycle stages, AIPL stages, and stage flows.

Every function reads pandas or polars (eager or lazy) through narwhals, runs one lazy pass over the orders
or events, and returns the kind it was given. Output columns are canonical whatever the inputs call theirs:

RFM (:func:`rfm_table`, :func:`rfm_scores`, :func:`rfm_segments`)
    ``recency_days`` — whole days, floored, from the person's last purchase to the end of ``as_of`` (the
    midnight after it); ``frequency`` — distinct orders; ``monetary`` — the sum of ``amount``;
    ``r_score`` / ``f_score`` / ``m_score`` — 1 … 5 by quantiles (see :func:`rfm_scores` for ties);
    ``rfm_segment`` — the common 11-segment scheme (:data:`RFM_SEGMENTS`, a grid over R and FM =
    ⌊(F + M) / 2⌋, :data:`RFM_GRID`); ``rfm_class`` — the 8-class high / low R × F × M scheme of Chinese
    platforms (:data:`RFM_CLASSES`: 重要价值 / 重要发展 / 重要保持 / 重要挽留 / 一般…).
Lifecycle (:func:`lifecycle_stages`)
    ``lifecycle_stage`` — new / active / silent / churned / returned, by configurable windows.
AIPL (:func:`aipl_stages`)
    Awareness → Interest → Purchase → Loyalty (Alibaba's brand funnel) from configurable rules over events,
    orders, reviews and membership, optionally for one category or brand; ``aipl_stage`` is the highest
    stage reached.
Flows (:func:`stage_flow`)
    Who moved from which stage to which between two dates (lifecycle transitions, AIPL stage flow).

Persons who never bought have no RFM row; :func:`segment_table` gives every person of the identity step a
row, with null RFM columns and a null lifecycle stage for them (and a null AIPL stage for persons without
any awareness). Codes are snake_case English; their zh / en names are the labels
``segment.rfm.<code>``, ``segment.class.<code>``, ``segment.lifecycle.<code>``, ``segment.aipl.<code>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import narwhals as nw
import polars as pl

from persona_kit.errors import InputError, check_columns
from persona_kit.features import day_number, exact_sum, observation_end, rows_as_of
from persona_kit.features import purchases as features_purchases
from persona_kit.frames import as_polars, collect_like, lazy_input

__all__ = ["RFM_SEGMENTS", "VALUE_GROUPS", "RFM_GRID", "RFM_CLASSES", "LIFECYCLE_STAGES", "AIPL_STAGES", "AIPL_EVENTS",
           "SEGMENT_SCHEMES", "SCHEME_LABELS", "rfm_table", "rfm_scores", "rfm_segments", "lifecycle_stages", "aipl_stages",
           "stage_flow", "segment_table", "aipl_by_scope"]

RFM_SEGMENTS = ("champions", "loyal", "potential_loyalist", "new", "promising", "need_attention",
                "about_to_sleep", "at_risk", "cant_lose_them", "hibernating", "lost")
"""The 11 RFM segment codes, best first."""
VALUE_GROUPS = {"high_value": ("champions", "loyal"), "potential": ("potential_loyalist", "promising", "new"),
                "churn_risk": ("at_risk", "cant_lose_them", "about_to_sleep")}
"""The three groups marketing talks about — 高价值客户 / 潜在客户 / 流失风险客户 — as sets of RFM segments."""

RFM_GRID = {  # r_score -> segment for FM = 1 .. 5
    5: ("new", "potential_loyalist", "loyal", "champions", "champions"),
    4: ("promising", "potential_loyalist", "loyal", "champions", "champions"),
    3: ("about_to_sleep", "about_to_sleep", "need_attention", "loyal", "loyal"),
    2: ("hibernating", "hibernating", "at_risk", "at_risk", "at_risk"),
    1: ("lost", "lost", "at_risk", "cant_lose_them", "cant_lose_them"),
}
"""The segment of each (R score, FM score) cell: the usual ranges (Champions R 4–5 / FM 4–5, Loyal R 3–5 /
FM 3–5, Can't Lose Them R 1 / FM 4–5, …) laid out so that every cell has exactly one segment."""

RFM_CLASSES = {  # (R high, F high, M high) -> class
    (True, True, True): "important_value", (True, False, True): "important_development",
    (False, True, True): "important_retention", (False, False, True): "important_winback",
    (True, True, False): "general_value", (True, False, False): "general_development",
    (False, True, False): "general_retention", (False, False, False): "general_winback",
}
"""The 8 classes of the high / low R × F × M scheme (重要价值 = recent, frequent, high spend, …)."""

LIFECYCLE_STAGES = ("new", "active", "returned", "silent", "churned")
AIPL_STAGES = ("awareness", "interest", "purchase", "loyalty")
AIPL_EVENTS = {"awareness": ("exposure", "view", "pv", "click"), "interest": ("fav", "cart", "search", "share"),
               "purchase": ("buy",)}
"""Default event types per AIPL stage; ``pv`` is the page view of raw public behaviour logs."""
SEGMENT_SCHEMES = ("rfm_segment", "rfm_class", "lifecycle_stage", "aipl_stage")
"""Segment columns of :func:`segment_table`; their labels are ``segment.<scheme>.<code>``."""
SCHEME_LABELS = {"rfm_segment": "segment.rfm", "rfm_class": "segment.class", "lifecycle_stage": "segment.lifecycle",
                 "aipl_stage": "segment.aipl"}
"""Label prefix of each scheme's codes: the zh / en name of ``champions`` is ``segment.rfm.champions``."""


def _whole_days(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"{name} must be a positive whole number of days, got {value!r}")
    return value


# --- RFM ----------------------------------------------------------------------------------------------------

def rfm_table(orders: Any, *, as_of: Any, person_col: str = "person_id", ts_col: str = "order_ts",
              order_col: str = "order_id", amount_col: str = "amount") -> Any:
    """Recency, frequency and monetary value per person from purchase lines up to ``as_of``.

    Pass the lines that count as purchases (e.g. :func:`persona_kit.clean.netted_purchases`, or
    :func:`persona_kit.clean.reference_purchases` for the textbook rule); lines after ``as_of`` are ignored.

    Parameters
    ----------
    orders : pandas or polars DataFrame (eager or lazy)
    as_of : date or 'YYYY-MM-DD'
        The last day observed; recency counts to the midnight after it, in the timestamps' local time.
    person_col, ts_col, order_col, amount_col : str
        Column names (canonical by default).

    Returns
    -------
    Same kind as ``orders``: ``person_col``, ``recency_days`` (whole days, floored, from the last purchase
    to the end of ``as_of``), ``frequency`` (distinct orders), ``monetary`` (sum of ``amount_col``).

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> o = pl.DataFrame({"person_id": ["a", "a", "b"], "order_id": ["1", "2", "3"],
    ...     "order_ts": [dt.datetime(2011, 12, 1, 9), dt.datetime(2011, 12, 9, 12), dt.datetime(2011, 1, 5)],
    ...     "amount": [10.0, 5.5, 100.0]})
    >>> rfm_table(o, as_of="2011-12-09").rows()
    [('a', 0, 2, 15.5), ('b', 339, 1, 100.0)]
    """
    end = observation_end(as_of)
    lf, eager = lazy_input(orders, [person_col, ts_col, order_col, amount_col], "orders")
    lf = rows_as_of(lf, ts_col, end)
    out = lf.group_by(person_col).agg(nw.col("_ts").max().alias("_last"),
                                      nw.col(order_col).n_unique().alias("frequency"),
                                      exact_sum(nw.col(amount_col)).alias("monetary"))
    # whole days from the last purchase to the end of as_of, from calendar fields (no duration arithmetic:
    # pyspark has none in narwhals): a purchase at 00:00:00 is a whole number of days before the end
    last = nw.col("_last")
    midnight = ((last.dt.hour() == 0) & (last.dt.minute() == 0) & (last.dt.second() == 0)
                & (last.dt.microsecond() == 0)).cast(nw.Int64)
    recency = (day_number(end) - day_number(last) - 1 + midnight).cast(nw.Int64)
    out = out.select(nw.col(person_col), recency.alias("recency_days"), nw.col("frequency").cast(nw.Int64),
                     nw.col("monetary").cast(nw.Float64))
    return collect_like(out.sort(person_col), eager)


def rfm_scores(rfm: Any, *, bins: int = 5) -> Any:
    """Add ``r_score``, ``f_score``, ``m_score``: 1 … ``bins`` by quantiles of the RFM table.

    Ties: a value's score is ``1 + ⌊bins · (rank − 1) / n⌋`` with ``rank`` the *lowest* rank of its tied
    group (``n`` persons with a value), i.e. ``1 + ⌊bins · share of persons strictly worse⌋``. Equal values
    always share a score, and a heavy tie (a third of the customers buying once) stays in the lowest score
    instead of being split arbitrarily, so some scores can be empty. Recency is ranked from the longest ago
    (score 1) to the most recent; frequency and monetary from the smallest (1) to the largest.

    Examples
    --------
    >>> import pandas as pd
    >>> r = pd.DataFrame({"person_id": list("abcde"), "recency_days": [1, 10, 10, 40, 300],
    ...                   "frequency": [5, 1, 1, 1, 2], "monetary": [50.0, 5.0, 8.0, 9.0, 20.0]})
    >>> rfm_scores(r)[["r_score", "f_score", "m_score"]].values.tolist()
    [[5, 5, 5], [3, 1, 1], [3, 1, 2], [2, 1, 3], [1, 4, 4]]
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise InputError(f"bins must be a whole number >= 2, got {bins!r}")
    lf, eager = lazy_input(rfm, ["recency_days", "frequency", "monetary"], "rfm table")

    def score(column: str, descending: bool) -> nw.Expr:
        rank = nw.col(column).rank("min", descending=descending)
        return (((rank - 1) * bins) // nw.col(column).count() + 1).cast(nw.Int64)

    out = lf.with_columns(r_score=score("recency_days", True), f_score=score("frequency", False),
                          m_score=score("monetary", False))
    return collect_like(out, eager)


def rfm_segments(scored: Any, *, split: str = "mean") -> Any:
    """Add ``rfm_segment`` (11 segments, :data:`RFM_GRID`) and ``rfm_class`` (8 classes, :data:`RFM_CLASSES`).

    ``rfm_segment`` reads ``r_score`` and FM = ⌊(``f_score`` + ``m_score``) / 2⌋ (5 bins needed).
    ``rfm_class`` splits each raw value at its ``split`` ("mean", the usual rule, or "median") over the
    persons of the table: R is high when ``recency_days`` is *below* it, F and M when above it (a value equal
    to the split is low).

    Examples
    --------
    >>> import polars as pl
    >>> r = pl.DataFrame({"recency_days": [2, 200, 30], "frequency": [9, 1, 2], "monetary": [900.0, 20.0, 40.0],
    ...                   "r_score": [5, 1, 3], "f_score": [5, 1, 3], "m_score": [5, 1, 4]})
    >>> rfm_segments(r).select("rfm_segment", "rfm_class").rows()
    [('champions', 'important_value'), ('lost', 'general_winback'), ('need_attention', 'general_development')]
    """
    if split not in ("mean", "median"):
        raise InputError(f"split must be one of ['mean', 'median'], got {split!r}")
    lf, eager = lazy_input(scored, ["recency_days", "frequency", "monetary", "r_score", "f_score", "m_score"],
                           "rfm scores")
    cells = {r * 10 + fm: seg for r, row in RFM_GRID.items() for fm, seg in enumerate(row, start=1)}
    key = nw.col("r_score") * 10 + (nw.col("f_score") + nw.col("m_score")) // 2
    bad = lf.filter(~key.is_in(list(cells)) & ~nw.col("r_score").is_null()).select(nw.len()).collect().item()
    if bad:
        raise InputError(f"rfm_segment needs scores from 1 to 5 (rfm_scores with bins=5); {bad} rows are outside")

    def high(column: str) -> nw.Expr:
        centre = nw.col(column).mean() if split == "mean" else nw.col(column).median()
        return nw.col(column) < centre if column == "recency_days" else nw.col(column) > centre

    code = (high("recency_days").cast(nw.Int64) * 4 + high("frequency").cast(nw.Int64) * 2
            + high("monetary").cast(nw.Int64))
    classes = {int(r) * 4 + int(f) * 2 + int(m): name for (r, f, m), name in RFM_CLASSES.items()}
    out = lf.with_columns(rfm_segment=key.replace_strict(cells, default=None, return_dtype=nw.String),
                          _class=code).with_columns(
        rfm_class=nw.col("_class").replace_strict(classes, default=None, return_dtype=nw.String)).drop("_class")
    return collect_like(out, eager)


# --- lifecycle ----------------------------------------------------------------------------------------------

def lifecycle_stages(orders: Any, *, as_of: Any, new_days: int = 30, active_days: int = 90, churn_days: int = 180,
                     person_col: str = "person_id", ts_col: str = "order_ts") -> Any:
    """Lifecycle stage of every buyer as of a date, from the days they bought on.

    With "within N days" meaning the N calendar days ending with ``as_of`` (as in the features), and the
    first rule that holds winning:

    - ``new`` — the first purchase is within ``new_days``;
    - ``returned`` — bought within ``active_days`` after more than ``churn_days`` without a purchase (the gap
      between the last purchase before the window and the first one in it);
    - ``active`` — the last purchase is within ``active_days``;
    - ``silent`` — the last purchase is within ``churn_days``;
    - ``churned`` — otherwise.

    Persons without a purchase up to ``as_of`` get no row (prospects).

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> o = pl.DataFrame({"person_id": ["n", "a", "a", "r", "r", "s", "c"], "order_ts": [dt.datetime(2024, 6, 20),
    ...     dt.datetime(2024, 1, 1), dt.datetime(2024, 6, 1), dt.datetime(2023, 1, 1), dt.datetime(2024, 6, 1),
    ...     dt.datetime(2024, 2, 1), dt.datetime(2023, 6, 1)]})
    >>> lifecycle_stages(o, as_of="2024-06-30").rows()
    [('a', 'active'), ('c', 'churned'), ('n', 'new'), ('r', 'returned'), ('s', 'silent')]
    """
    new_days, active_days = _whole_days("new_days", new_days), _whole_days("active_days", active_days)
    churn_days = _whole_days("churn_days", churn_days)
    if not new_days <= active_days <= churn_days:
        raise InputError(f"lifecycle windows must satisfy new_days <= active_days <= churn_days, got "
                         f"{new_days}, {active_days}, {churn_days}")
    lf, eager = lazy_input(orders, [person_col, ts_col], "orders")
    days = rows_as_of(lf, ts_col, observation_end(as_of)).select(person_col, "_a").unique()
    inside = nw.col("_a") <= active_days
    days = days.with_columns(_in=nw.when(inside).then(nw.col("_a")), _out=nw.when(~inside).then(nw.col("_a")))
    per = days.group_by(person_col).agg(
        nw.col("_a").max().alias("_first"), nw.col("_a").min().alias("_last"),
        nw.col("_in").max().alias("_first_in"), nw.col("_out").min().alias("_before"))
    stage = (nw.when(nw.col("_first") <= new_days).then(nw.lit("new"))
             .when((nw.col("_before") - nw.col("_first_in")) > churn_days).then(nw.lit("returned"))
             .when(nw.col("_last") <= active_days).then(nw.lit("active"))
             .when(nw.col("_last") <= churn_days).then(nw.lit("silent"))
             .otherwise(nw.lit("churned")))
    return collect_like(per.select(nw.col(person_col), stage.alias("lifecycle_stage")).sort(person_col), eager)


# --- AIPL ---------------------------------------------------------------------------------------------------

def _in_scope(lf: nw.LazyFrame, column: str | None, value: Any, where: str) -> nw.LazyFrame:
    if value is None:
        return lf
    check_columns(lf.collect_schema().names(), [column], where=where)
    return lf.filter(nw.col(column) == value)


def aipl_stages(events: Any = None, orders: Any = None, reviews: Any = None, customers: Any = None, *,
                as_of: Any, window_days: int = 90, loyalty_days: int = 365, long_dwell_s: float = 60.0,
                repeat_orders: int = 2, positive_rating: int = 4, member_col: str | None = "member_level",
                stage_events: dict[str, Sequence[str]] | None = None, scope: Any = None,
                scope_col: str = "category", person_col: str = "person_id") -> Any:
    """AIPL stage per person as of a date (Awareness → Interest → Purchase → Loyalty).

    Rules (each over the ``window_days`` ending with ``as_of`` unless said otherwise):

    - **A**wareness — an event of the awareness types (default exposure, view, pv, click);
    - **I**nterest — an event of the interest types (fav, cart, search, share) or one with
      ``dwell_s >= long_dwell_s``;
    - **P**urchase — an order (distinct ``order_id``), or a purchase event (``buy``) when no orders are given;
    - **L**oyalty — at least ``repeat_orders`` purchases within ``loyalty_days``, or a purchase in the window
      plus a review rated ``>= positive_rating`` within ``loyalty_days`` or a membership (non-null
      ``member_col`` of ``customers``).

    ``aipl_stage`` is the highest stage reached; a person reaching none gets no row. With ``scope`` (e.g.
    ``"护肤"``) only events and orders whose ``scope_col`` (``category``, or ``brand`` when present) equals it
    count; reviews and memberships are brand-wide. Any event log with ``person_id``, ``event_ts``,
    ``event_type`` works, including raw logs with only pv / fav / cart / buy.

    Returns
    -------
    Kind of the first given frame: ``person_col``, ``awareness``, ``interest``, ``purchase``, ``loyalty``
    (booleans) and ``aipl_stage``.

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> ev = pl.DataFrame({"person_id": ["a", "b", "b", "c", "c"], "event_type": ["pv", "pv", "fav", "buy", "buy"],
    ...                    "event_ts": [dt.datetime(2024, 6, d) for d in (1, 2, 3, 4, 20)]})
    >>> aipl_stages(ev, as_of="2024-06-30").select("person_id", "aipl_stage").rows()
    [('a', 'awareness'), ('b', 'interest'), ('c', 'loyalty')]
    """
    given = [f for f in (events, orders) if f is not None]
    if not given:
        raise InputError("aipl_stages needs events or orders")
    window_days, loyalty_days = _whole_days("window_days", window_days), _whole_days("loyalty_days", loyalty_days)
    repeat_orders = _whole_days("repeat_orders", repeat_orders)
    rules = {**AIPL_EVENTS, **(stage_events or {})}
    unknown = sorted(set(rules) - set(AIPL_EVENTS))
    if unknown:
        raise InputError(f"stage_events keys must be among {list(AIPL_EVENTS)}, got {unknown}")
    end = observation_end(as_of)
    eager = isinstance(nw.from_native(given[0]), nw.DataFrame)
    p = person_col
    recent = nw.col("_a") <= window_days
    parts: list[nw.LazyFrame] = []
    if events is not None:
        ev, _ = lazy_input(events, [p, "event_ts", "event_type"], "events")
        ev = rows_as_of(_in_scope(ev, scope_col, scope, "events"), "event_ts", end)
        has_dwell = "dwell_s" in ev.collect_schema().names()
        long = (nw.col("dwell_s") >= long_dwell_s).fill_null(False) if has_dwell else nw.lit(False)
        kind = nw.col("event_type")
        flags = ev.filter(recent).select(p, kind.is_in(list(rules["awareness"])).cast(nw.Int8).alias("awareness"),
                                         (kind.is_in(list(rules["interest"])) | long).cast(nw.Int8).alias("interest"))
        parts.append(flags.group_by(p).agg(nw.col("awareness").max() > 0, nw.col("interest").max() > 0))
        if orders is None:
            buys = ev.filter(kind.is_in(list(rules["purchase"]))).select(p, "_a", nw.col("_ts").alias("_order"))
    if orders is not None:
        od, _ = lazy_input(orders, [p, "order_ts", "order_id"], "orders")
        od = rows_as_of(_in_scope(od, scope_col, scope, "orders"), "order_ts", end)
        buys = od.select(p, "_a", nw.col("order_id").cast(nw.String).alias("_order"))
    per_order = buys.group_by(p, "_order").agg(nw.col("_a").min()).select(
        p, (nw.col("_a") <= window_days).cast(nw.Int64).alias("_recent"),
        (nw.col("_a") <= loyalty_days).cast(nw.Int64).alias("_loyal"))
    bought = per_order.group_by(p).agg(nw.col("_recent").sum(), nw.col("_loyal").sum())
    parts.append(bought)
    extras = []
    if reviews is not None:
        rv, _ = lazy_input(reviews, [p, "review_ts", "rating"], "reviews")
        rv = rows_as_of(rv, "review_ts", end).filter((nw.col("_a") <= loyalty_days)
                                                     & (nw.col("rating") >= positive_rating))
        extras.append(rv.select(p).unique().with_columns(_praise=nw.lit(True)))
    if customers is not None and member_col is not None:
        cu, _ = lazy_input(customers, [p, member_col], "customers")
        extras.append(cu.filter(~nw.col(member_col).is_null()).select(p).unique().with_columns(_member=nw.lit(True)))
    people = nw.concat([part.select(p) for part in parts]).unique(p)
    out = people
    for part in parts + extras:
        out = out.join(part, on=p, how="left")
    names = out.collect_schema().names()
    flag = {c: nw.col(c).fill_null(False) if c in names else nw.lit(False)
            for c in ("awareness", "interest", "_praise", "_member")}
    purchase = nw.col("_recent").fill_null(0) > 0
    loyalty = (nw.col("_loyal").fill_null(0) >= repeat_orders) | (purchase & (flag["_praise"] | flag["_member"]))
    out = out.select(nw.col(p), flag["awareness"].alias("awareness"), flag["interest"].alias("interest"),
                     purchase.alias("purchase"), loyalty.alias("loyalty"))
    stage = (nw.when(nw.col("loyalty")).then(nw.lit("loyalty")).when(nw.col("purchase")).then(nw.lit("purchase"))
             .when(nw.col("interest")).then(nw.lit("interest")).when(nw.col("awareness")).then(nw.lit("awareness")))
    out = out.with_columns(aipl_stage=stage).filter(~nw.col("aipl_stage").is_null()).sort(p)
    return collect_like(out, eager)


# --- flows and the segment table ----------------------------------------------------------------------------

def stage_flow(before: Any, after: Any, *, stage_col: str, person_col: str = "person_id",
               none: str = "none") -> Any:
    """Persons per (``from_stage``, ``to_stage``) between two stage tables of the same scheme.

    A person in only one of the tables (or with a null stage) is in stage ``none`` on the other side: a
    ``to_stage`` of ``none`` is a drop-out, a ``from_stage`` of ``none`` an entrant. Rows are sorted by
    ``from_stage`` then ``to_stage``; the kind of ``before`` is returned (eager).

    Examples
    --------
    >>> import polars as pl
    >>> b = pl.DataFrame({"person_id": ["a", "b", "c"], "aipl_stage": ["awareness", "interest", "purchase"]})
    >>> a = pl.DataFrame({"person_id": ["a", "b", "d"], "aipl_stage": ["interest", "interest", "awareness"]})
    >>> stage_flow(b, a, stage_col="aipl_stage").rows()
    [('awareness', 'interest', 1), ('interest', 'interest', 1), ('none', 'awareness', 1), ('purchase', 'none', 1)]
    """
    old, _ = lazy_input(before, [person_col, stage_col], "before")
    new, _ = lazy_input(after, [person_col, stage_col], "after")
    old = old.select(nw.col(person_col), nw.col(stage_col).alias("from_stage")).filter(~nw.col("from_stage").is_null())
    new = new.select(nw.col(person_col), nw.col(stage_col).alias("to_stage")).filter(~nw.col("to_stage").is_null())
    people = nw.concat([old.select(person_col), new.select(person_col)]).unique(person_col)
    both = people.join(old, on=person_col, how="left").join(new, on=person_col, how="left")
    out = (both.with_columns(nw.col("from_stage").fill_null(none), nw.col("to_stage").fill_null(none))
           .group_by("from_stage", "to_stage").agg(nw.len().alias("persons"))
           .with_columns(nw.col("persons").cast(nw.Int64)).sort("from_stage", "to_stage"))
    return out.collect().to_native()


def segment_table(persons: Any, orders: Any, events: Any = None, reviews: Any = None, customers: Any = None, *,
                  as_of: Any, split: str = "mean", new_days: int = 30, active_days: int = 90,
                  churn_days: int = 180, aipl_window_days: int = 90, person_col: str = "person_id") -> Any:
    """Every segment of every person as of a date: the ``segments`` artifact of step 05.

    ``orders`` are the clean (step 02) or identity (step 03) order lines; RFM, lifecycle and AIPL read what
    customers kept, by the features' rule (:func:`persona_kit.clean.netted_purchases`). ``events``,
    ``reviews`` and ``customers`` are optional (no events → AIPL from orders, reviews and membership only).

    Returns
    -------
    Kind of ``persons``, one row per person: ``person_id``, ``recency_days``, ``frequency``, ``monetary``,
    ``r_score``, ``f_score``, ``m_score``, ``rfm_segment``, ``rfm_class``, ``lifecycle_stage``,
    ``aipl_stage`` (null RFM / lifecycle columns for persons who never bought up to ``as_of``). When
    every frame is of one lazy engine (Spark, duckdb), all of it runs there and a frame of that engine
    comes back; frames of mixed kinds are computed in polars.

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> people = pl.DataFrame({"person_id": ["a", "b", "c"]})
    >>> o = pl.DataFrame({"person_id": ["a", "a", "b"], "order_id": ["1", "2", "3"], "amount": [10.0, 5.0, 3.0],
    ...     "order_ts": [dt.datetime(2024, 6, 1), dt.datetime(2024, 6, 20), dt.datetime(2023, 1, 1)],
    ...     "source_key": "k", "status": "paid", "quantity": 1.0, "unit_price": 1.0, "net_quantity": 1.0,
    ...     "net_amount": [10.0, 5.0, 3.0]})
    >>> segment_table(people, o, as_of="2024-06-30").select("person_id", "rfm_class", "lifecycle_stage").rows()
    [('a', 'important_value', 'new'), ('b', 'general_winback', 'churned'), ('c', None, None)]
    """
    base, eager = lazy_input(persons, [person_col], "persons")
    given = [f for f in (orders, events, reviews, customers) if f is not None]
    kinds = {base.implementation, *(nw.from_native(f).implementation for f in given)}
    native = len(kinds) == 1 and not eager and not base.implementation.is_polars()  # one lazy engine: Spark …
    to = _lazy if native else _polars
    purchases = to(features_purchases(orders))
    events, reviews, customers = (None if f is None else to(f) for f in (events, reviews, customers))
    rfm = rfm_segments(rfm_scores(rfm_table(purchases, as_of=as_of, person_col=person_col)), split=split)
    life = lifecycle_stages(purchases, as_of=as_of, new_days=new_days, active_days=active_days,
                            churn_days=churn_days, person_col=person_col)
    aipl = aipl_stages(events, purchases, reviews, customers, as_of=as_of, window_days=aipl_window_days,
                       person_col=person_col)
    out = _lazy(to(base)).select(person_col).unique(person_col)
    for part in (rfm, life, nw.from_native(aipl).drop(list(AIPL_STAGES))):
        out = out.join(_lazy(to(part)), on=person_col, how="left")
    out = out.sort(person_col)
    if native:
        return out.to_native()
    out = out.collect().to_polars()
    if not eager:
        return out.lazy()
    return out.to_pandas() if base.implementation.is_pandas_like() else out


def aipl_by_scope(events: Any, purchases: Any = None, *, as_of: Any, scopes: Sequence[Any],
                  scope_col: str = "category", window_days: int = 90, person_col: str = "person_id") -> Any:
    """AIPL stage sizes per category (or brand) — the brand's audience assets split by scope.

    Each scope runs :func:`aipl_stages` over the events and purchases of that ``scope_col`` value only
    (reviews and membership are brand-wide, so they are left out here).

    Returns
    -------
    Kind of ``events`` (eager): ``scope``, ``aipl_stage``, ``persons``, sorted by scope order then stage.

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> ev = pl.DataFrame({"person_id": ["a", "a", "b"], "event_type": ["view", "cart", "view"],
    ...                    "category": ["护肤", "彩妆", "彩妆"], "event_ts": dt.datetime(2024, 6, 1)})
    >>> aipl_by_scope(ev, as_of="2024-06-30", scopes=["护肤", "彩妆"]).rows()
    [('护肤', 'awareness', 1), ('彩妆', 'awareness', 1), ('彩妆', 'interest', 1)]
    """
    if isinstance(scopes, str) or not scopes:
        raise InputError(f"scopes must be a non-empty list of {scope_col} values, got {scopes!r}")
    order = {s: i for i, s in enumerate(AIPL_STAGES)}
    parts = []
    for rank, scope in enumerate(scopes):
        stages, _ = as_polars(aipl_stages(events, purchases, as_of=as_of, window_days=window_days, scope=scope,
                                          scope_col=scope_col, person_col=person_col), where="aipl")
        parts.append(stages.group_by("aipl_stage").agg(persons=pl.len())
                     .with_columns(scope=pl.lit(str(scope)), _r=pl.lit(rank),
                                   _s=pl.col("aipl_stage").replace_strict(order, return_dtype=pl.Int64)))
    out = pl.concat(parts).sort("_r", "_s").select("scope", "aipl_stage", pl.col("persons").cast(pl.Int64))
    _, back = as_polars(events, where="events")
    return back(out)


def _lazy(frame: Any) -> nw.LazyFrame:
    """A lazy frame of any engine (polars, Spark, duckdb …) as a narwhals LazyFrame."""
    return nw.from_native(frame).lazy()


def _polars(frame: Any) -> pl.LazyFrame:
    """Any frame narwhals reads as a polars LazyFrame (segment_table joins frames of mixed kinds)."""
    native = nw.from_native(frame)
    if isinstance(native, nw.LazyFrame):
        native = native.collect()
    return native.to_polars().lazy()
