"""Behaviour paths (用户行为轨迹) and multi-touch attribution (效果归因) over person-keyed events.

Paths: :func:`sessionize` cuts each person's events into sessions at an inactivity gap;
:func:`top_paths` lists the most frequent step sequences before a purchase or before churn with their
outcome rates; :func:`flow_links` gives the first K steps after a chosen start event (for a Sankey-style
flow, :func:`persona_kit.charts.chart_flow`); :func:`time_to_convert` measures the time from a start to
a target event; :func:`funnel` counts who passes an ordered funnel (strict or loose order, within a
window), per step and per segment.

Attribution: touches (:func:`touches_from_events`: one per session, its traffic channel;
:func:`touches_from_campaigns`: one per contacted campaign member) and conversions
(:func:`conversions_from_orders`) are joined into journeys (:func:`build_journeys`: the touches of a
person inside the lookback window before each conversion, and the touches that led nowhere).
:func:`attribute` credits conversions and revenue by a rule (first, last, linear, time-decay,
position-based); :func:`markov_attribution` by the removal effect of a first-order Markov chain
(Anderl et al. 2016), with bootstrap intervals over journeys; :func:`compare_models` puts all six side
by side.

Everything over events is polars lazy; every function accepts pandas or polars (eager or lazy) and
returns the same kind (a lazy input gives a lazy result where the result is a frame of rows).

Examples
--------
>>> import polars as pl, datetime as dt
>>> ts = [dt.datetime(2026, 1, 1, 10, m) for m in (0, 1, 2, 50, 51)]
>>> ev = pl.DataFrame({"person_id": ["a"] * 5, "event_ts": ts,
...                    "event_type": ["pv", "cart", "buy", "pv", "pv"]})
>>> sessionize(ev, gap_minutes=30)["session_no"].to_list()
[1, 1, 1, 2, 2]
>>> funnel(ev, ["pv", "cart", "buy"])["persons"].to_list()
[1, 1, 1]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy.sparse import csr_matrix

from persona_kit.errors import InputError, check_choice, check_columns
from persona_kit.frames import as_polars
from persona_kit.i18n import LANGS, label_or

__all__ = [
    "MODELS", "sessionize", "top_paths", "translate_path", "flow_links", "time_to_convert", "funnel",
    "touches_from_events", "touches_from_campaigns", "conversions_from_orders", "build_journeys",
    "attribute", "markov_removal", "markov_attribution", "compare_models",
]

MODELS = ("first", "last", "linear", "time_decay", "position", "markov")
"""Attribution models, rule-based first, then the data-driven Markov removal-effect model."""
ARROW = " → "
"""Separator of the steps of a path."""


# --- frames in and out -------------------------------------------------------------------------------

def _lazy(frame: Any, columns: Sequence[str], where: str) -> tuple[pl.LazyFrame, Callable[..., Any]]:
    """A polars LazyFrame of ``frame`` and ``back(result, rows=True)``, which gives a result the caller's
    kind: pandas or polars through :func:`persona_kit.frames.as_polars`; for a LazyFrame input, frames of
    rows stay lazy and aggregates (``rows=False``) are collected."""
    if isinstance(frame, pl.LazyFrame):
        lf = frame

        def back(out: pl.LazyFrame | pl.DataFrame, rows: bool = True) -> Any:
            return out.lazy() if rows else _collected(out)
    else:
        df, to_kind = as_polars(frame, where=where)
        lf = df.lazy()

        def back(out: pl.LazyFrame | pl.DataFrame, rows: bool = True) -> Any:
            return to_kind(_collected(out))
    check_columns(lf.collect_schema().names(), [c for c in columns if c], where=where)
    return lf, back


def _collected(out: pl.LazyFrame | pl.DataFrame) -> pl.DataFrame:
    return out.collect() if isinstance(out, pl.LazyFrame) else out


def _check_positive(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InputError(f"{name} must be a positive number, got {value!r}")


def _ts_literal(value: Any, dtype: pl.DataType, name: str) -> pl.Expr:
    """``value`` (ISO text, date or datetime) as a literal comparable with a column of ``dtype``."""
    try:
        day = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    except ValueError as err:
        raise InputError(f"{name} must be an ISO date like 2026-06-30, got {value!r}") from err
    lit = pl.lit(day.replace(tzinfo=None)).cast(pl.Datetime("us"))
    zone = getattr(dtype, "time_zone", None)
    return lit.dt.replace_time_zone(zone) if zone else lit


def _collapse(lf: pl.LazyFrame, value: str, key: str) -> pl.LazyFrame:
    """Drop rows that repeat the previous row's ``value`` within the same ``key`` (view, view, cart →
    view, cart). The rows of one ``key`` must be adjacent (the frame sorted by person and time)."""
    new_key = pl.col(key).shift(1).is_null() | (pl.col(key) != pl.col(key).shift(1))
    return lf.filter(new_key | (pl.col(value) != pl.col(value).shift(1)).fill_null(True))


def _sessions(lf: pl.LazyFrame, person_col: str, ts_col: str, gap_minutes: float) -> pl.LazyFrame:
    """``lf`` sorted by person and time with ``_sid``, a session id over the whole frame (no window:
    a session starts where the person changes or after ``gap_minutes`` without an event)."""
    _check_positive("gap_minutes", gap_minutes)
    person, ts = pl.col(person_col), pl.col(ts_col)
    new = (person.shift(1).is_null() | (person != person.shift(1))
           | (ts - ts.shift(1) > pl.duration(seconds=int(gap_minutes * 60)))).fill_null(True)
    return lf.sort(person_col, ts_col).with_columns(_sid=new.cast(pl.Int64).cum_sum())


# --- sessions and paths ------------------------------------------------------------------------------

def sessionize(events: Any, *, gap_minutes: float = 30, person_col: str = "person_id",
               ts_col: str = "event_ts") -> Any:
    """Number each person's sessions: a new session starts after ``gap_minutes`` without an event.

    Adds ``session_no`` (1, 2, … per person, in time order); rows come back sorted by person and time.

    Examples
    --------
    >>> import pandas as pd
    >>> ev = pd.DataFrame({"person_id": ["a", "a", "b"],
    ...                    "event_ts": pd.to_datetime(["2026-01-01 10:00", "2026-01-01 12:00", "2026-01-01 10:00"])})
    >>> sessionize(ev)["session_no"].tolist()
    [1, 2, 1]
    """
    lf, back = _lazy(events, [person_col, ts_col], "events")
    out = (_sessions(lf, person_col, ts_col, gap_minutes)
           .with_columns(session_no=(pl.col("_sid") - pl.col("_sid").min().over(person_col) + 1).cast(pl.Int32))
           .drop("_sid"))
    return back(out)


def top_paths(events: Any, *, outcome: str = "purchase", by: str = "event_type", target: str = "buy",
              unit: str = "session", steps: int = 4, n: int | None = 10, gap_minutes: float = 30,
              as_of: Any = None, churn_days: int = 90, person_col: str = "person_id",
              ts_col: str = "event_ts", type_col: str = "event_type") -> Any:
    """The most frequent paths (last ``steps`` values of ``by``) before a purchase or before churn.

    ``outcome="purchase"``: per session (or per person, ``unit="person"``), the steps before the first
    ``target`` event, or all steps when there is none; the rate is the share of units with that path
    that went on to the target. ``outcome="churn"``: per person active before ``as_of - churn_days``,
    the steps of their last session before that cut-off; the rate is the share with no event in the
    ``churn_days`` up to ``as_of``. Consecutive repeats are collapsed (view, view, cart → view, cart).

    Returns one row per path (the top ``n``, or all with ``n=None``), most outcomes first: ``path``,
    ``path_steps``, the units (``sessions`` or
    ``persons``), the outcomes (``purchases`` or ``churned``) and their rate and share of all outcomes.

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> t = [dt.datetime(2026, 1, d, 10) for d in (1, 1, 1, 2, 2)]
    >>> ev = pl.DataFrame({"person_id": ["a", "a", "a", "b", "b"], "event_ts": t,
    ...                    "event_type": ["pv", "cart", "buy", "pv", "cart"]})
    >>> ev = ev.with_columns(pl.col("event_ts") + pl.duration(minutes=pl.int_range(5)))
    >>> top_paths(ev, target="buy").select("path", "sessions", "purchases", "purchase_rate").rows()
    [('pv → cart', 2, 1, 0.5)]
    """
    check_choice("outcome", outcome, ["purchase", "churn"])
    check_choice("unit", unit, ["session", "person"])
    for name, value in (("steps", steps), ("n", 1 if n is None else n), ("churn_days", churn_days)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value!r}")
    lf, back = _lazy(events, [person_col, ts_col, type_col, by], "events")
    lf = _sessions(lf.select(list(dict.fromkeys([person_col, ts_col, type_col, by]))), person_col, ts_col,
                   gap_minutes)
    if outcome == "purchase":
        key = person_col if unit == "person" else "_sid"
        hit = pl.when(pl.col(type_col) == target).then(pl.col(ts_col)).min().over(key)
        lf = lf.with_columns(_hit=hit).filter(pl.col("_hit").is_null() | (pl.col(ts_col) < pl.col("_hit")))
        flag = pl.col("_hit").is_not_null()
        units, outcomes = ("persons" if unit == "person" else "sessions"), "purchases"
    else:
        if as_of is None:
            raise InputError("top_paths(outcome='churn') needs as_of, the date churn is judged on")
        end = _ts_literal(as_of, lf.collect_schema()[ts_col], "as_of")
        cut = end - pl.duration(days=churn_days)
        lf = (lf.filter(pl.col(ts_col) <= end)
              .with_columns(_later=(pl.col(ts_col) > cut).any().over(person_col))
              .filter(pl.col(ts_col) <= cut)
              .filter(pl.col("_sid") == pl.col("_sid").max().over(person_col)))
        key, flag = person_col, ~pl.col("_later")
        units, outcomes = "persons", "churned"
    last = pl.col(by).cast(pl.String).tail(steps)
    per_unit = (_collapse(lf.filter(pl.col(by).is_not_null()), by, key)
                .group_by(key)
                .agg(last.str.join(ARROW).alias("path"), last.len().alias("path_steps"), flag.first().alias("_flag")))
    rate = f"{'purchase' if outcome == 'purchase' else 'churn'}_rate"
    out = (per_unit.group_by("path", "path_steps")
           .agg(pl.len().alias(units), pl.col("_flag").sum().cast(pl.Int64).alias(outcomes))
           .with_columns((pl.col(outcomes) / pl.col(units)).alias(rate),
                         (pl.col(outcomes) / pl.col(outcomes).sum()).fill_nan(0.0).alias("outcome_share"))
           .sort([outcomes, units, "path"], descending=[True, True, False]))
    out = out if n is None else out.head(n)
    return back(out, rows=False)


def translate_path(frame: Any, column: str = "path", *, prefix: str, lang: str = "zh") -> Any:
    """Translate each step of the path texts in ``column`` (``a → b``) through the labels ``<prefix>.<step>``;
    steps without a label stay as they are.

    Examples
    --------
    >>> import polars as pl
    >>> translate_path(pl.DataFrame({"path": ["view → buy"]}), prefix="jr.event", lang="en")["path"].to_list()
    ['Product view → Purchase']
    """
    check_choice("lang", lang, LANGS)
    lf, back = _lazy(frame, [column], "frame")
    steps = (lf.select(pl.col(column).str.split(ARROW).explode().unique().drop_nulls()).collect()
             .to_series().to_list())
    mapping = {s: label_or(f"{prefix}.{s}", lang, s) for s in steps}
    out = lf.with_columns(pl.col(column).str.split(ARROW)
                          .list.eval(pl.element().replace(mapping)).list.join(ARROW))
    return back(out)


def flow_links(events: Any, *, start: str, by: str = "event_type", steps: int = 4, top: int = 6,
               gap_minutes: float = 30, person_col: str = "person_id", ts_col: str = "event_ts") -> Any:
    """Links of the first ``steps`` steps of sessions from their first ``start`` event (Sankey input).

    Each session that contains ``start`` contributes its collapsed steps 1 … ``steps`` from there; a
    session that ends earlier flows into ``"(exit)"``. Values outside the ``top`` most frequent become
    ``"(other)"``. Returns ``step`` (1-based position of ``node``), ``node``, ``next_node``, ``sessions``.

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> t = [dt.datetime(2026, 1, 1, 10, m) for m in range(5)]
    >>> ev = pl.DataFrame({"person_id": ["a", "a", "a", "b", "b"], "event_ts": t,
    ...                    "event_type": ["pv", "cart", "buy", "pv", "pv"]})
    >>> flow_links(ev, start="pv", steps=3).rows()
    [(1, 'pv', '(exit)', 1), (1, 'pv', 'cart', 1), (2, 'cart', 'buy', 1)]
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise InputError(f"steps must be an integer of at least 2, got {steps!r}")
    lf, back = _lazy(events, [person_col, ts_col, by], "events")
    lf = (_sessions(lf.select(list(dict.fromkeys([person_col, ts_col, by]))), person_col, ts_col, gap_minutes)
          .filter(pl.col(by).is_not_null())
          .with_columns(pl.col(by).cast(pl.String), _i=pl.int_range(pl.len())))
    first = pl.when(pl.col(by) == start).then(pl.col("_i")).min().over("_sid")
    nodes = (_collapse(lf.filter(pl.col("_i") >= first), by, "_sid")
             .group_by("_sid").agg(pl.col(by).head(steps).alias("node"))
             .with_columns(step=pl.int_ranges(1, pl.col("node").list.len() + 1),
                           next_node=pl.col("node").list.shift(-1))
             .explode(["node", "step", "next_node"]))
    common = (nodes.group_by("node").agg(pl.len().alias("_n")).sort(["_n", "node"], descending=[True, False])
              .head(top).select("node", _keep=pl.lit(True)))
    other = pl.lit("(other)")
    out = (nodes.filter(pl.col("step") < steps)
           .join(common, on="node", how="left")
           .join(common.rename({"node": "next_node", "_keep": "_keep_next"}), on="next_node", how="left")
           .select("step", pl.when(pl.col("_keep")).then(pl.col("node")).otherwise(other).alias("node"),
                   pl.when(pl.col("next_node").is_null()).then(pl.lit("(exit)"))
                   .when(pl.col("_keep_next")).then(pl.col("next_node")).otherwise(other).alias("next_node"))
           .group_by("step", "node", "next_node").agg(pl.len().alias("sessions"))
           .sort(["step", "node", "next_node"]))
    return back(out, rows=False)


def time_to_convert(events: Any, *, target: str = "buy", start: str | None = None,
                    person_col: str = "person_id", ts_col: str = "event_ts",
                    type_col: str = "event_type") -> Any:
    """Per person: the hours from their first ``start`` event (default: first event of any type) to
    the first ``target`` event from then on (null if there is none; 0 if the first event is the target).

    With ``start == target`` the target must come strictly later: the time from the first to the
    second purchase.

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> ev = pl.DataFrame({"person_id": ["a", "a", "b"], "event_type": ["pv", "buy", "pv"],
    ...                    "event_ts": [dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 2), dt.datetime(2026, 1, 1)]})
    >>> time_to_convert(ev, start="pv").sort("person_id")["hours"].to_list()
    [24.0, None]
    """
    lf, back = _lazy(events, [person_col, ts_col, type_col], "events")
    begins = lf if start is None else lf.filter(pl.col(type_col) == start)
    starts = begins.group_by(person_col).agg(pl.col(ts_col).min().alias("start_ts"))
    after = pl.col(ts_col) > pl.col("start_ts") if start == target else pl.col(ts_col) >= pl.col("start_ts")
    done = (lf.filter(pl.col(type_col) == target).select(person_col, ts_col).join(starts, on=person_col)
            .filter(after).group_by(person_col).agg(pl.col(ts_col).min().alias("convert_ts")))
    out = (starts.join(done, on=person_col, how="left")
           .with_columns(hours=(pl.col("convert_ts") - pl.col("start_ts")).dt.total_seconds() / 3600.0)
           .sort(person_col))
    return back(out, rows=False)


def funnel(events: Any, steps: Sequence[str], *, mode: str = "loose", window_hours: float = 168,
           segments: Any = None, segment_col: str | None = None, by: str = "event_type",
           person_col: str = "person_id", ts_col: str = "event_ts") -> Any:
    """Persons passing an ordered funnel within ``window_hours`` of its first step, with drop-off.

    ``mode="loose"``: each step must follow the previous one in time, other events may come between
    (the earliest later occurrence is taken, which is optimal for a given start). ``mode="strict"``:
    the next *different* event must be the next step (consecutive repeats are collapsed first).
    Every occurrence of the first step is tried as a start; a person counts at the deepest step
    reached from any start. Steps may repeat (``["buy", "buy"]`` = a second purchase).

    With ``segments`` (a frame of ``person_col`` and ``segment_col``), counts are per segment
    (persons without a segment fall in a null segment).

    Returns ``[segment_col,] step_no, funnel_step, persons, step_conversion`` (from the previous
    step), ``overall_conversion`` (from step 1) and ``drop_off`` (persons lost since the previous step).

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> t = [dt.datetime(2026, 1, 1, 10, m) for m in range(5)]
    >>> ev = pl.DataFrame({"person_id": ["a", "a", "a", "b", "b"], "event_ts": t,
    ...                    "event_type": ["pv", "fav", "cart", "pv", "cart"]})
    >>> funnel(ev, ["pv", "cart"], mode="strict")["persons"].to_list()
    [2, 1]
    """
    check_choice("mode", mode, ["loose", "strict"])
    steps = list(steps) if not isinstance(steps, str) else [steps]
    if len(steps) < 2:
        raise InputError(f"a funnel needs at least 2 steps, got {steps!r}")
    _check_positive("window_hours", window_hours)
    lf, back = _lazy(events, [person_col, ts_col, by], "events")
    lf = (lf.select(person_col, ts_col, pl.col(by).cast(pl.String))
          .filter(pl.col(by).is_not_null()).sort(person_col, ts_col))
    if mode == "strict":
        lf = _collapse(lf, by, person_col).with_columns(_i=pl.int_range(pl.len()))
    else:
        lf = lf.filter(pl.col(by).is_in(steps))
    window = pl.duration(seconds=int(window_hours * 3600))
    chains = (lf.filter(pl.col(by) == steps[0])
              .select(person_col, pl.col(ts_col).alias("_start"), pl.col(ts_col).alias("_cur"),
                      *([pl.col("_i")] if mode == "strict" else [])))
    levels = [chains.select(person_col, pl.lit(1).alias("_level"))]
    for k, step in enumerate(steps[1:], start=2):
        nxt = lf.filter(pl.col(by) == step)
        if mode == "strict":
            chains = (chains.with_columns(pl.col("_i") + 1)  # the next row of the frame, if the same person's
                      .join(nxt.select("_i", pl.col(person_col).alias("_p"), pl.col(ts_col).alias("_ts")), on="_i")
                      .filter(pl.col("_p") == pl.col(person_col)).drop("_p"))
        else:
            chains = (chains.sort("_cur")
                      .join_asof(nxt.select(person_col, pl.col(ts_col).alias("_ts")).sort("_ts"),
                                 left_on="_cur", right_on="_ts", by=person_col, strategy="forward",
                                 allow_exact_matches=False, check_sortedness=False)
                      .filter(pl.col("_ts").is_not_null()))
        chains = (chains.filter(pl.col("_ts") <= pl.col("_start") + window)
                  .with_columns(_cur=pl.col("_ts")).drop("_ts"))
        levels.append(chains.select(person_col, pl.lit(k).alias("_level")))
    reached = pl.concat(levels).group_by(person_col).agg(pl.col("_level").max())
    keys: list[str] = []
    if segments is not None:
        if not segment_col:
            raise InputError("funnel: give segment_col, the column of segments that holds the segment")
        seg, _ = _lazy(segments, [person_col, segment_col], "segments")
        reached = reached.join(seg.select(person_col, segment_col).unique(person_col), on=person_col, how="left")
        keys = [segment_col]
    table = pl.DataFrame({"step_no": list(range(1, len(steps) + 1)), "funnel_step": steps})
    counts = (reached.join(table.lazy(), how="cross").filter(pl.col("_level") >= pl.col("step_no"))
              .group_by([*keys, "step_no"]).agg(pl.len().alias("persons")))
    grid = (reached.select(keys).unique().join(table.lazy(), how="cross") if keys else table.lazy())
    out = (grid.join(counts, on=[*keys, "step_no"], how="left")
           .with_columns(pl.col("persons").fill_null(0).cast(pl.Int64))
           .sort([*keys, "step_no"], nulls_last=True)
           .with_columns(_prev=pl.col("persons").shift(1).over(keys) if keys else pl.col("persons").shift(1),
                         _first=pl.col("persons").first().over(keys) if keys else pl.col("persons").first())
           .with_columns(step_conversion=pl.when(pl.col("step_no") == 1).then(1.0)
                         .otherwise(pl.col("persons") / pl.col("_prev")),
                         overall_conversion=pl.col("persons") / pl.col("_first"),
                         drop_off=(pl.col("_prev") - pl.col("persons")).fill_null(0))
           .drop("_prev", "_first"))
    return back(out, rows=False)


# --- touches, conversions, journeys ------------------------------------------------------------------

def touches_from_events(events: Any, *, gap_minutes: float = 30, channel_col: str = "channel",
                        person_col: str = "person_id", ts_col: str = "event_ts") -> Any:
    """One touch per session: its start time and its (first non-null) traffic channel.

    Sessions without a channel are left out. Returns ``person_id, touch_ts, channel, campaign``
    (``campaign`` null), sorted by person and time.

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> ev = pl.DataFrame({"person_id": ["a", "a", "a"], "channel": ["search", "search", "push"],
    ...                    "event_ts": [dt.datetime(2026, 1, 1, 10), dt.datetime(2026, 1, 1, 10, 5),
    ...                                 dt.datetime(2026, 1, 2, 9)]})
    >>> touches_from_events(ev)["channel"].to_list()
    ['search', 'push']
    """
    lf, back = _lazy(events, [person_col, ts_col, channel_col], "events")
    lf = _sessions(lf.select(person_col, ts_col, channel_col), person_col, ts_col, gap_minutes)
    out = (lf.group_by("_sid")
           .agg(pl.col(person_col).first(), pl.col(ts_col).min().alias("touch_ts"),
                pl.col(channel_col).cast(pl.String).drop_nulls().first().alias("channel"))
           .filter(pl.col("channel").is_not_null())
           .select(pl.col(person_col).alias("person_id"), "touch_ts", "channel",
                   pl.lit(None, pl.String).alias("campaign"))
           .sort("person_id", "touch_ts"))
    return back(out)


def touches_from_campaigns(campaigns: Any, *, exclude_arms: Sequence[str] = ("control",),
                           person_col: str = "person_id", ts_col: str = "assigned_ts") -> Any:
    """One touch per contacted campaign member: ``campaign`` is ``campaign_id`` (``:arm`` when there
    are arms); members of ``exclude_arms`` (the untreated control) were not touched and are left out.

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> c = pl.DataFrame({"person_id": ["a", "b"], "campaign_id": ["Q1", "Q1"], "arm": ["coupon", "control"],
    ...                   "assigned_ts": [dt.datetime(2026, 3, 2)] * 2, "channel": ["wechat"] * 2})
    >>> touches_from_campaigns(c).select("person_id", "channel", "campaign").rows()
    [('a', 'wechat', 'Q1:coupon')]
    """
    lf, back = _lazy(campaigns, [person_col, ts_col, "campaign_id", "channel"], "campaigns")
    has_arm = "arm" in lf.collect_schema().names()
    if has_arm:
        lf = lf.filter(~pl.col("arm").is_in(list(exclude_arms)) | pl.col("arm").is_null())
    name = (pl.concat_str([pl.col("campaign_id"), pl.col("arm")], separator=":", ignore_nulls=True)
            if has_arm else pl.col("campaign_id"))
    out = lf.select(pl.col(person_col).alias("person_id"), pl.col(ts_col).alias("touch_ts"),
                    pl.col("channel").cast(pl.String), name.cast(pl.String).alias("campaign")
                    ).sort("person_id", "touch_ts")
    return back(out)


def conversions_from_orders(orders: Any, *, sources: Sequence[str] | None = None, amount_col: str | None = None,
                            person_col: str = "person_id", ts_col: str = "order_ts") -> Any:
    """One conversion per paid order: its time and revenue (``net_amount`` if present, else ``amount``).

    Orders with a ``status`` other than ``paid`` or with no positive revenue are left out; with
    ``sources``, only orders of those sources count (e.g. the sources whose touches are tracked, so
    store purchases are not credited to app sessions).

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> o = pl.DataFrame({"person_id": ["a", "a", "b"], "order_id": ["1", "1", "2"], "amount": [5.0, 3.0, 9.0],
    ...                   "status": ["paid", "paid", "cancelled"], "order_ts": [dt.datetime(2026, 1, 1)] * 3})
    >>> conversions_from_orders(o).select("person_id", "order_id", "revenue").rows()
    [('a', '1', 8.0)]
    """
    lf, back = _lazy(orders, [person_col, ts_col, "order_id"], "orders")
    names = lf.collect_schema().names()
    amount = amount_col or ("net_amount" if "net_amount" in names else "amount")
    check_columns(names, [amount], where="orders")
    if "status" in names:
        lf = lf.filter(pl.col("status") == "paid")
    if sources is not None:
        check_columns(names, ["source"], where="orders")
        lf = lf.filter(pl.col("source").is_in(list(sources)))
    out = (lf.group_by(person_col, "order_id")
           .agg(pl.col(ts_col).min().alias("conversion_ts"),
                pl.col(amount).sum().cast(pl.Float64).round(6).alias("revenue"))  # same sum whatever the row order
           .filter(pl.col("revenue") > 0)
           .select(pl.col(person_col).alias("person_id"), "order_id", "conversion_ts", "revenue")
           .sort("person_id", "conversion_ts", "order_id"))
    return back(out)


def build_journeys(touches: Any, conversions: Any, *, lookback_days: float = 30) -> Any:
    """Touches grouped into journeys: each touch joins the person's next conversion if it comes within
    ``lookback_days`` (a *converting* journey); other touches form non-converting journeys, split
    where a person's touches are more than ``lookback_days`` apart.

    Returns one row per touch: ``journey_id, person_id, touch_ts, channel, campaign, position,
    n_touches, converted, conversion_ts, revenue`` (revenue 0 for non-converting journeys).

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> d = lambda day: dt.datetime(2026, 1, day)
    >>> tch = pl.DataFrame({"person_id": ["a"] * 3, "touch_ts": [d(1), d(3), d(20)],
    ...                     "channel": ["search", "push", "live"], "campaign": [None, None, None]})
    >>> cv = pl.DataFrame({"person_id": ["a"], "conversion_ts": [d(4)], "revenue": [50.0]})
    >>> build_journeys(tch, cv).select("channel", "position", "converted").rows()
    [('search', 1, True), ('push', 2, True), ('live', 1, False)]
    """
    _check_positive("lookback_days", lookback_days)
    tl, back = _lazy(touches, ["person_id", "touch_ts", "channel"], "touches")
    cl, _ = _lazy(conversions, ["person_id", "conversion_ts", "revenue"], "conversions")
    if "campaign" not in tl.collect_schema().names():
        tl = tl.with_columns(campaign=pl.lit(None, pl.String))
    cl = (cl.select("person_id", "conversion_ts", pl.col("revenue").cast(pl.Float64))
          .sort("person_id", "conversion_ts").with_row_index("_conv").sort("conversion_ts"))
    lookback = pl.duration(seconds=int(lookback_days * 86400))
    tl = (tl.select("person_id", "touch_ts", pl.col("channel").cast(pl.String), pl.col("campaign").cast(pl.String))
          .sort("touch_ts")
          .join_asof(cl, left_on="touch_ts", right_on="conversion_ts", by="person_id", strategy="forward",
                     check_sortedness=False)
          .with_columns(converted=pl.col("conversion_ts").is_not_null()
                        & (pl.col("conversion_ts") - pl.col("touch_ts") <= lookback))
          .sort("person_id", "touch_ts"))
    part = pl.struct("person_id", "_conv", "converted")
    gap = pl.col("touch_ts").diff().over(part)
    tl = tl.with_columns(_piece=pl.when(pl.col("converted")).then(0)
                         .otherwise((gap > lookback).fill_null(False).cast(pl.Int32).cum_sum().over(part)))
    jid = pl.concat_str([pl.col("person_id"), pl.col("_conv").cast(pl.String).fill_null("end"),
                         pl.when(pl.col("converted")).then(pl.lit("c")).otherwise(pl.col("_piece").cast(pl.String))],
                        separator="|")
    out = (tl.with_columns(journey_id=jid)
           .with_columns(position=pl.int_range(1, pl.len() + 1).over("journey_id"),
                         n_touches=pl.len().over("journey_id").cast(pl.Int64),
                         conversion_ts=pl.when("converted").then(pl.col("conversion_ts")),
                         revenue=pl.when("converted").then(pl.col("revenue")).otherwise(0.0))
           .select("journey_id", "person_id", "touch_ts", "channel", "campaign", "position", "n_touches",
                   "converted", "conversion_ts", "revenue"))
    return back(out)


# --- attribution -------------------------------------------------------------------------------------

def _key(by: str) -> pl.Expr:
    """The attribution key: ``channel``, ``campaign`` (null → "(none)"), or ``touch`` (the campaign when
    the touch is a campaign contact, else the channel)."""
    if by == "touch":
        return pl.coalesce("campaign", "channel")
    return pl.col(by).fill_null("(none)")


_JOURNEY_COLS = ["journey_id", "touch_ts", "channel", "campaign", "position", "n_touches", "converted",
                 "conversion_ts", "revenue"]


def attribute(journeys: Any, *, model: str = "linear", by: str = "channel", half_life_days: float = 7,
              first_weight: float = 0.4, last_weight: float = 0.4) -> Any:
    """Credit each converting journey's conversion (1) and revenue to its touches by a rule.

    ``first`` / ``last``: all to the first / last touch. ``linear``: equal shares.
    ``time_decay``: weights ``2 ** (-age / half_life_days)`` with ``age`` the days from touch to
    conversion, normalized per journey. ``position``: ``first_weight`` to the first touch,
    ``last_weight`` to the last, the rest split over the middle touches (a journey of two touches splits
    ``first_weight : last_weight``; one touch takes all).

    Returns one row per ``by`` value (``channel``, ``campaign`` or ``touch``): ``model``,
    ``credited_conversions`` and ``credited_revenue``, most credit first.

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> d = lambda day: dt.datetime(2026, 1, day)
    >>> j = pl.DataFrame({"journey_id": ["1", "1"], "touch_ts": [d(1), d(2)], "channel": ["search", "push"],
    ...                   "campaign": [None, None], "position": [1, 2], "n_touches": [2, 2], "converted": [True] * 2,
    ...                   "conversion_ts": [d(3)] * 2, "revenue": [10.0] * 2})
    >>> attribute(j, model="linear").select("channel", "credited_conversions", "credited_revenue").rows()
    [('push', 0.5, 5.0), ('search', 0.5, 5.0)]
    """
    check_choice("model", model, MODELS[:-1])
    check_choice("by", by, ["channel", "campaign", "touch"])
    _check_positive("half_life_days", half_life_days)
    if not (0 <= first_weight <= 1 and 0 <= last_weight <= 1 and first_weight + last_weight <= 1):
        raise InputError(f"first_weight and last_weight must be in [0, 1] and sum to at most 1, got "
                         f"{first_weight!r} and {last_weight!r}")
    lf, back = _lazy(journeys, _JOURNEY_COLS, "journeys")
    pos, n = pl.col("position"), pl.col("n_touches")
    if model == "first":
        weight = (pos == 1).cast(pl.Float64)
    elif model == "last":
        weight = (pos == n).cast(pl.Float64)
    elif model == "linear":
        weight = 1.0 / n
    elif model == "time_decay":
        age = (pl.col("conversion_ts") - pl.col("touch_ts")).dt.total_seconds() / 86400.0
        raw = pl.lit(2.0).pow(-age / half_life_days)
        weight = raw / raw.sum().over("journey_id")
    else:
        pair = first_weight + last_weight
        weight = (pl.when(n == 1).then(1.0)
                  .when(n == 2).then(pl.when(pos == 1).then(first_weight / pair if pair else 0.5)
                                     .otherwise(last_weight / pair if pair else 0.5))
                  .when(pos == 1).then(first_weight).when(pos == n).then(last_weight)
                  .otherwise((1.0 - pair) / (n - 2)))
    out = (lf.filter(pl.col("converted")).with_columns(_w=weight, **{by: _key(by)})
           .group_by(by).agg(pl.col("_w").sum().round(9).alias("credited_conversions"),  # rounded: identical
                             (pl.col("_w") * pl.col("revenue")).sum().round(9).alias("credited_revenue"))  # reruns
           .select(by, pl.lit(model).alias("model"), "credited_conversions", "credited_revenue")
           .sort(["credited_conversions", by], descending=[True, False]))
    return back(out, rows=False)


def _path_types(lf: pl.LazyFrame, by: str) -> pl.DataFrame:
    """Distinct (path, outcome) journey types with their counts and revenue."""
    return (lf.with_columns(**{by: _key(by)}).sort("journey_id", "position")
            .group_by("journey_id")
            .agg(pl.col(by).alias("path"), pl.col("converted").first(), pl.col("revenue").first())
            .group_by("path", "converted")
            .agg(pl.len().alias("journeys"), pl.col("revenue").sum().round(6))
            .with_columns(_key=pl.col("path").list.join("\u241f"))  # a fixed order: the bootstrap draws repeat
            .sort(["converted", "journeys", "_key"], descending=[True, True, False])
            .drop("_key")
            .collect())


def _transitions(types: pl.DataFrame) -> tuple[list[str], Any]:
    """States (channels) and, per journey type, its transition counts as a (types × pairs) matrix."""
    states = sorted({s for path in types["path"] for s in path})
    index = {s: i + 1 for i, s in enumerate(states)}  # 0 = start; then channels; then conversion, null
    conv, null = len(states) + 1, len(states) + 2
    size = len(states) + 3
    rows, cols = [], []
    for r, (path, converted) in enumerate(zip(types["path"], types["converted"], strict=True)):
        seq = [0, *(index[s] for s in path), conv if converted else null]
        rows += [r] * (len(seq) - 1)
        cols += [a * size + b for a, b in zip(seq[:-1], seq[1:], strict=True)]
    pairs = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(types), size * size))
    return states, pairs


def _removal(counts: np.ndarray, n_states: int) -> tuple[float, np.ndarray]:
    """Conversion probability from the start, and each channel's removal effect, from pair counts."""
    size = n_states + 3
    m = counts.reshape(size, size)
    totals = m.sum(axis=1, keepdims=True)
    prob = np.divide(m, totals, out=np.zeros_like(m), where=totals > 0)
    transient = n_states + 1
    q, r = prob[:transient, :transient], prob[:transient, n_states + 1]
    eye = np.eye(transient)
    base = np.linalg.solve(eye - q, r)[0]
    effects = np.zeros(n_states)
    for c in range(1, transient):
        q_c = q.copy()
        q_c[:, c] = 0.0  # every step into the channel now ends in null
        effects[c - 1] = 1.0 - np.linalg.solve(eye - q_c, r)[0] / base if base > 0 else 0.0
    return base, effects


def markov_removal(journeys: Any, *, by: str = "channel") -> Any:
    """Removal effects of a first-order Markov chain over journeys (start → touches → conversion / null).

    The removal effect of a channel is ``1 - P(conversion without it) / P(conversion)``, where removing a
    channel sends every transition into it to null. Returns ``by, removal_effect, share`` (the effects
    normalized to sum to 1) and the conversion probability ``p_conversion`` of the full chain.

    Examples
    --------
    >>> import polars as pl
    >>> j = pl.DataFrame({"journey_id": ["1", "1", "2"], "channel": ["a", "b", "a"], "position": [1, 2, 1],
    ...                   "converted": [True, True, False], "revenue": [1.0, 1.0, 0.0], "campaign": [None] * 3})
    >>> markov_removal(j).select("channel", "removal_effect").rows()
    [('a', 1.0), ('b', 1.0)]
    """
    check_choice("by", by, ["channel", "campaign", "touch"])
    lf, back = _lazy(journeys, ["journey_id", "channel", "campaign", "position", "converted", "revenue"],
                     "journeys")
    types = _path_types(lf, by)
    if types.is_empty():
        raise InputError("markov_removal: no journeys with touches to attribute")
    states, pairs = _transitions(types)
    counts = np.asarray(pairs.T @ types["journeys"].to_numpy().astype(float)).ravel()
    base, effects = _removal(counts, len(states))
    total = effects.sum()
    out = pl.DataFrame({by: states, "removal_effect": effects,
                        "share": effects / total if total > 0 else np.zeros(len(states)),
                        "p_conversion": [base] * len(states)}).sort(["removal_effect", by], descending=[True, False])
    return back(out, rows=False)


def markov_attribution(journeys: Any, *, by: str = "channel", n_boot: int = 200, ci: float = 0.9,
                       seed: int = 0) -> Any:
    """Conversions and revenue credited by Markov removal-effect shares, with bootstrap intervals.

    Credit = share × all converting journeys (and their revenue). The intervals resample journeys with
    replacement ``n_boot`` times (multinomial weights on the distinct journey types) and take the
    central ``ci`` percentile range of each channel's credited conversions and revenue.

    Returns ``by, model, credited_conversions, credited_revenue, removal_effect, share`` and the
    intervals ``credited_conversions_low / _high``, ``credited_revenue_low / _high``.

    Examples
    --------
    >>> import polars as pl
    >>> j = pl.DataFrame({"journey_id": ["1", "1", "2"], "channel": ["a", "b", "a"], "position": [1, 2, 1],
    ...                   "converted": [True, True, False], "revenue": [8.0, 8.0, 0.0], "campaign": [None] * 3})
    >>> markov_attribution(j, n_boot=20).select("channel", "credited_conversions", "credited_revenue").rows()
    [('a', 0.5, 4.0), ('b', 0.5, 4.0)]
    """
    check_choice("by", by, ["channel", "campaign", "touch"])
    if isinstance(n_boot, bool) or not isinstance(n_boot, int) or n_boot < 0:
        raise InputError(f"n_boot must be a non-negative integer, got {n_boot!r}")
    if not 0 < ci < 1:
        raise InputError(f"ci must be between 0 and 1, got {ci!r}")
    lf, back = _lazy(journeys, ["journey_id", "channel", "campaign", "position", "converted", "revenue"],
                     "journeys")
    types = _path_types(lf, by)
    if types.is_empty():
        raise InputError("markov_attribution: no journeys with touches to attribute")
    states, pairs = _transitions(types)
    weights = types["journeys"].to_numpy().astype(float)
    won = types["converted"].to_numpy()
    revenue = types["revenue"].to_numpy().astype(float)
    per_journey = np.divide(revenue, weights, out=np.zeros_like(revenue), where=weights > 0)

    def credit(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        _, effects = _removal(np.asarray(pairs.T @ w).ravel(), len(states))
        share = effects / effects.sum() if effects.sum() > 0 else np.zeros(len(states))
        return effects, share, share * w[won].sum(), share * (w * per_journey).sum()

    effects, share, conversions, money = credit(weights)
    rng = np.random.default_rng(seed)
    total = int(weights.sum())
    boot_c, boot_r = np.zeros((n_boot, len(states))), np.zeros((n_boot, len(states)))
    for b in range(n_boot):
        w = rng.multinomial(total, weights / total).astype(float)
        _, _, boot_c[b], boot_r[b] = credit(w)
    lo, hi = (1 - ci) / 2, 1 - (1 - ci) / 2
    bounds = {name: (np.quantile(arr, lo, axis=0), np.quantile(arr, hi, axis=0)) if n_boot else
              (np.full(len(states), np.nan), np.full(len(states), np.nan))
              for name, arr in (("conversions", boot_c), ("revenue", boot_r))}
    out = pl.DataFrame({by: states, "model": ["markov"] * len(states), "credited_conversions": conversions,
                        "credited_revenue": money, "removal_effect": effects, "share": share,
                        "credited_conversions_low": bounds["conversions"][0],
                        "credited_conversions_high": bounds["conversions"][1],
                        "credited_revenue_low": bounds["revenue"][0], "credited_revenue_high": bounds["revenue"][1]}
                       ).sort(["credited_conversions", by], descending=[True, False])
    return back(out, rows=False)


def compare_models(journeys: Any, *, by: str = "channel", half_life_days: float = 7, n_boot: int = 200,
                   seed: int = 0) -> Any:
    """Credited conversions and revenue per ``by`` value under every model of :data:`MODELS`, long form
    (``by, model, credited_conversions, credited_revenue``; Markov rows also carry their intervals).

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> j = pl.DataFrame({"journey_id": ["1"], "touch_ts": [dt.datetime(2026, 1, 1)], "channel": ["a"],
    ...                   "campaign": [None], "position": [1], "n_touches": [1], "converted": [True],
    ...                   "conversion_ts": [dt.datetime(2026, 1, 2)], "revenue": [5.0]})
    >>> compare_models(j, n_boot=0)["credited_conversions"].to_list()
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    """
    lf, back = _lazy(journeys, _JOURNEY_COLS, "journeys")
    frame = lf.collect()
    parts = [attribute(frame, model=m, by=by, half_life_days=half_life_days) for m in MODELS[:-1]]
    parts.append(markov_attribution(frame, by=by, n_boot=n_boot, seed=seed))
    return back(pl.concat(parts, how="diagonal_relaxed"), rows=False)
