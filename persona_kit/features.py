"""Per-person windowed features as of a date: behaviour, purchases, reviews, preference, demographics.

One lazy pass per table (polars lazy under narwhals, so pandas and pyspark run the same code); the output
has one row per ``person_id`` and these columns (``<w>`` is each window in days, default 7, 30, 90, 365):

Behaviour (events)
    ``views_<w>d``, ``clicks_<w>d``, ``searches_<w>d``, ``favs_<w>d``, ``carts_<w>d`` — events of that type;
    ``sessions_<w>d`` — distinct sessions that started in the window; ``dwell_s_<w>d`` — total dwell seconds;
    ``bounce_rate_<w>d`` — share of those sessions with a single event; ``active_days_<w>d`` — distinct days
    with any event; ``days_since_last_active`` — days from the last event's day to ``as_of`` (0 = that day).
Purchases (netted order lines: what customers kept)
    ``orders_<w>d`` — distinct orders; ``items_<w>d`` — units; ``spend_<w>d`` — netted amount;
    ``aov_<w>d`` — average order value 客单价 = spend / orders; ``categories_<w>d`` — distinct categories
    bought; ``discount_share_<w>d`` — price sensitivity: discount / (spend + discount), the share of the list
    value taken off (a spend-weighted discount depth: on the sample 99 % of lines carry some discount, so
    "share of spend bought at any discount" is ~1 for everyone and tells nothing);
    ``first_purchase_date``, ``last_purchase_date``, ``days_since_last_purchase``; ``purchase_interval_days``
    — mean days between consecutive orders (null with fewer than two orders).
Interaction (reviews; sentiment in [0, 1] comes in as a column, see :mod:`persona_kit.sentiment`)
    ``reviews_<w>d``, ``avg_rating_<w>d``, ``avg_sentiment_<w>d``.
Preference (over the longest window)
    ``top_category`` — category with the most spend; ``top_brand`` — brand with the most spend (only when
    orders carry ``brand``); ``price_band`` — low / mid / high: the person's mean paid unit price against the
    terciles (1/3 and 2/3 quantiles) of that price over every buyer in the frame; ``preferred_channel`` —
    channel with the most orders; ``peak_hour`` (0–23) and ``peak_weekday`` (1 = Monday … 7 = Sunday) —
    the hour and weekday with the most events. Ties go to the smallest value.
Demographics (customers; several source records of one person are combined per column: the most frequent
non-null value, ties to the smallest; ``consent_marketing`` is True only if no record says False)
    ``gender``, ``age`` (whole years at ``as_of``), ``city``, ``province``, ``member_level``,
    ``consent_marketing``.

Windows: a ``w``-day window is the ``w`` calendar days ending with ``as_of`` — from midnight ``as_of - (w-1)``
days (inclusive) to the midnight after ``as_of`` (exclusive), in the timestamps' own local time. Nothing after
``as_of`` is read, so a later event or order never changes a feature. :data:`FEATURE_COLUMNS` maps each
name (default windows) to its meaning.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import narwhals as nw

from persona_kit.errors import InputError
from persona_kit.frames import collect_like, computed_once, lazy_input

__all__ = ["FEATURE_COLUMNS", "DEFAULT_WINDOWS", "feature_columns", "build_features", "event_features",
           "order_features", "review_features", "demographics", "observation_end", "rows_as_of", "day_number", "purchases", "exact_sum",
           "from_fixed"]

DEFAULT_WINDOWS = (7, 30, 90, 365)

_EVENT_WINDOWED = {
    "views": "product views", "clicks": "clicks", "searches": "searches", "favs": "favourites (fav events)",
    "carts": "add-to-cart events", "sessions": "distinct sessions started",
    "dwell_s": "total dwell time in seconds", "bounce_rate": "share of sessions with a single event",
    "active_days": "distinct days with any event",
}
_ORDER_WINDOWED = {
    "orders": "distinct orders (netted purchases)", "items": "units bought (netted)",
    "spend": "netted spend", "aov": "average order value (客单价) = spend / orders",
    "categories": "distinct categories bought",
    "discount_share": "price sensitivity: discount / (spend + discount), the share of list value taken off",
}
_REVIEW_WINDOWED = {
    "reviews": "reviews written", "avg_rating": "mean rating (1-5)",
    "avg_sentiment": "mean review sentiment in [0, 1]",
}
_SCALARS = {
    "days_since_last_active": "days from the day of the last event to as_of (0 = active on as_of)",
    "first_purchase_date": "day of the first netted purchase up to as_of",
    "last_purchase_date": "day of the last netted purchase up to as_of",
    "days_since_last_purchase": "days from the last purchase day to as_of",
    "purchase_interval_days": "mean days between consecutive orders (null with fewer than two)",
    "top_category": "category with the most spend in the longest window",
    "top_brand": "brand with the most spend in the longest window (when orders carry a brand)",
    "price_band": "low / mid / high: mean paid unit price vs the buyers' terciles (longest window)",
    "preferred_channel": "channel with the most orders in the longest window",
    "peak_hour": "hour of day (0-23) with the most events in the longest window",
    "peak_weekday": "weekday (1 = Monday ... 7 = Sunday) with the most events in the longest window",
    "gender": "gender (most frequent non-null value over the person's records)",
    "age": "age in whole years at as_of, from birth_date",
    "city": "city (most frequent non-null value over the person's records)",
    "province": "province (most frequent non-null value over the person's records)",
    "member_level": "membership level (most frequent non-null value over the person's records)",
    "consent_marketing": "marketing consent: True only if no record says False",
}


def feature_columns(windows: tuple[int, ...] = DEFAULT_WINDOWS) -> dict[str, str]:
    """Every output column of :func:`build_features` for ``windows``, name → English meaning.

    Examples
    --------
    >>> cols = feature_columns((30,))
    >>> cols["aov_30d"]
    'average order value (客单价) = spend / orders in the last 30 days'
    >>> [c for c in cols if c.startswith("views")]
    ['views_30d']
    """
    out = {"person_id": "the person (OneID from the identity step)", "as_of": "the day the features describe"}
    for group in (_EVENT_WINDOWED, _ORDER_WINDOWED, _REVIEW_WINDOWED):
        for metric, meaning in group.items():
            out.update({f"{metric}_{w}d": f"{meaning} in the last {w} days" for w in windows})
    out.update(_SCALARS)
    return out


FEATURE_COLUMNS: dict[str, str] = feature_columns()


# --- shared helpers -----------------------------------------------------------------------------------------

_EVENT_TYPES = {"views": "view", "clicks": "click", "searches": "search", "favs": "fav", "carts": "cart"}
_COUNTS = ("views", "clicks", "searches", "favs", "carts", "sessions", "dwell_s", "active_days", "orders",
           "items", "spend", "categories", "reviews")


def observation_end(as_of: Any) -> dt.datetime:
    """The exclusive end of the observation: the midnight after ``as_of`` (a date or 'YYYY-MM-DD').

    >>> observation_end("2024-06-30")
    datetime.datetime(2024, 7, 1, 0, 0)
    """
    if isinstance(as_of, dt.datetime):
        raise InputError(f"as_of must be a date (the last day observed), got the datetime {as_of!r}; "
                         "pass as_of.date() or 'YYYY-MM-DD'")
    if isinstance(as_of, str):
        try:
            as_of = dt.date.fromisoformat(as_of)
        except ValueError:
            raise InputError(f"as_of must be a date 'YYYY-MM-DD', got {as_of!r}") from None
    if not isinstance(as_of, dt.date):
        raise InputError(f"as_of must be a date 'YYYY-MM-DD', got {as_of!r}")
    return dt.datetime.combine(as_of, dt.time()) + dt.timedelta(days=1)


def _windows(windows: Sequence[int]) -> tuple[int, ...]:
    if isinstance(windows, (str, bytes)) or not isinstance(windows, Sequence) or not windows:
        raise InputError(f"windows must be a non-empty sequence of positive whole days, got {windows!r}")
    bad = [w for w in windows if isinstance(w, bool) or not isinstance(w, int) or w < 1]
    if bad:
        raise InputError(f"windows must be positive whole days, got {list(windows)}; bad: {bad}")
    return tuple(sorted(set(windows)))


def rows_as_of(lf: nw.LazyFrame, ts_col: str, end: dt.datetime) -> nw.LazyFrame:
    """Rows before ``end`` (:func:`observation_end`) with ``_ts`` (local wall-clock time), ``_day`` and
    ``_a`` = days from the row's day to ``end`` (1 = the as_of day, so a ``w``-day window is ``_a <= w``).

    >>> import polars as pl, datetime as dt, narwhals as nw
    >>> lf = nw.from_native(pl.LazyFrame({"ts": [dt.datetime(2024, 6, 30, 9), dt.datetime(2024, 7, 1)]}))
    >>> rows_as_of(lf, "ts", observation_end("2024-06-30")).select("_a").collect().to_native()["_a"].to_list()
    [1]
    """
    dtype = lf.collect_schema()[ts_col]
    ts = nw.col(ts_col)
    if isinstance(dtype, nw.Datetime) and dtype.time_zone is not None:
        ts = ts.dt.replace_time_zone(None)
    elif not isinstance(dtype, nw.Datetime):
        ts = ts.cast(nw.Datetime("us"))
    # compare calendar days, not against a datetime literal: on Spark a naive literal is read in the Python
    # process's time zone while the column's wall-clock fields are read in the session time zone
    lf = lf.with_columns(ts.alias("_ts")).with_columns(_a=day_number(end) - day_number(nw.col("_ts")))
    return lf.filter(nw.col("_a") >= 1).with_columns(_day=nw.col("_ts").dt.truncate("1d"))


def day_number(value: dt.datetime | nw.Expr) -> int | nw.Expr:
    """Days since 1970-01-01 of a datetime (or a datetime expression), from its year and day of year only:
    duration arithmetic (``dt.total_minutes``) is not available on every backend narwhals drives (pyspark).

    >>> day_number(dt.datetime(1970, 1, 2, 5)), day_number(dt.datetime(2024, 3, 1))
    (1, 19783)
    """
    if isinstance(value, dt.datetime):
        return (value.date() - dt.date(1970, 1, 1)).days
    y = value.dt.year().cast(nw.Int64)
    leap_days = (y - 1969) // 4 - (y - 1901) // 100 + (y - 1601) // 400  # leap years in 1970 … y-1
    return 365 * (y - 1970) + leap_days + value.dt.ordinal_day().cast(nw.Int64) - 1


def _in(w: int, value: Any = 1) -> nw.Expr:
    """``value`` inside the ``w``-day window, else 0."""
    v = nw.lit(value) if not isinstance(value, nw.Expr) else value
    return nw.when(nw.col("_a") <= w).then(v).otherwise(0)


_FIXED = 10_000  # money, quantities and seconds are summed as exact integers of 1/10,000


def _fixed(value: nw.Expr, scale: int = _FIXED) -> nw.Expr:
    """``value`` (null = 0) as an integer number of 1/``scale`` units: integer sums do not depend on the order
    a parallel group-by adds rows in, so the same data gives byte-identical features."""
    return (value.fill_null(0.0) * scale).round(0).cast(nw.Int64)


def exact_sum(value: nw.Expr, scale: int = _FIXED) -> nw.Expr:
    """Sum (an aggregation) of ``value`` rounded to 1/``scale``, the same whatever order a parallel group-by
    adds the rows in — float sums are not, so reruns would write different artifacts. Use it for money,
    quantities and scores; ``scale`` · the largest sum must stay below 9.2e18.

    >>> import polars as pl, narwhals as nw
    >>> df = nw.from_native(pl.DataFrame({"p": ["a"] * 3, "x": [0.1, 0.2, 0.3]}))
    >>> df.group_by("p").agg(exact_sum(nw.col("x"))).to_native()["x"].to_list()
    [0.6]
    """
    return from_fixed(_fixed(value, scale).sum(), scale)


def from_fixed(units: nw.Expr, scale: int = _FIXED) -> nw.Expr:
    """An integer number of 1/``scale`` units (``scale`` a power of ten) as the nearest float, on every backend:
    written out as decimal text and parsed. Dividing by ``scale`` would not do: polars divides by a constant
    through its reciprocal, one unit in the last place off for about a third of values, where Spark divides
    exactly — 51898200 / 10000 gives 5189.820000000001 in polars, 5189.82 in Spark.

    >>> import polars as pl, narwhals as nw
    >>> df = nw.from_native(pl.DataFrame({"u": [51898200, -15, None]}))
    >>> df.select(from_fixed(nw.col("u"))).to_native()["u"].to_list()
    [5189.82, -0.0015, None]
    """
    size, digits = units.abs(), len(str(scale)) - 1
    text = nw.concat_str((size // scale).cast(nw.String), nw.lit("."), (size % scale).cast(nw.String).str.zfill(digits))
    return text.cast(nw.Float64) * nw.when(units < 0).then(nw.lit(-1.0)).otherwise(nw.lit(1.0))


def _ratio(num: str, den: str) -> nw.Expr:
    return nw.when(nw.col(den) > 0).then(nw.col(num) / nw.col(den))


def _top(lf: nw.LazyFrame, person: str, key: str, weight: str | None, name: str) -> nw.LazyFrame:
    """Per person, the ``key`` with the largest total ``weight`` (row count if None); ties → smallest key."""
    lf = lf.filter(~nw.col(key).is_null())
    w = nw.len() if weight is None else nw.col(weight).sum()
    counts = lf.group_by(person, key).agg(w.alias("_w"))
    best = counts.group_by(person).agg(nw.col("_w").max().alias("_m"))
    return (counts.join(best, on=person).filter(nw.col("_w") == nw.col("_m"))
            .group_by(person).agg(nw.col(key).min().alias(name)))


def _join_all(base: nw.LazyFrame, parts: Sequence[nw.LazyFrame], person: str) -> nw.LazyFrame:
    for part in parts:
        base = base.join(part, on=person, how="left")
    return base


# --- per-table features -------------------------------------------------------------------------------------

def event_features(events: Any, *, as_of: Any, windows: Sequence[int] = DEFAULT_WINDOWS,
                   person_col: str = "person_id", ts_col: str = "event_ts", type_col: str = "event_type",
                   session_col: str = "session_id", dwell_col: str = "dwell_s") -> Any:
    """Behaviour features per person from events up to ``as_of`` (see the module docstring).

    Parameters
    ----------
    events : pandas or polars DataFrame (eager or lazy)
        One row per event, with ``person_col``, ``ts_col``, ``type_col``, ``session_col``, ``dwell_col``.
    as_of : date or 'YYYY-MM-DD'
        The last day observed; later events are ignored.
    windows : sequence of int
        Window lengths in days; the longest also sets ``peak_hour`` / ``peak_weekday``.
    person_col, ts_col, type_col, session_col, dwell_col : str
        Column names (canonical by default).

    Returns
    -------
    Same kind as ``events``: one row per person with an event up to ``as_of``; ``views_<w>d`` … ,
    ``days_since_last_active``, ``peak_hour``, ``peak_weekday``. Sessions belong to the day they start.

    Raises
    ------
    InputError
        Missing columns, bad ``windows`` or ``as_of``.

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> ev = pl.DataFrame({"person_id": ["a", "a", "a", "b"], "event_type": ["view", "view", "cart", "view"],
    ...     "event_ts": [dt.datetime(2024, 6, 1, 9), dt.datetime(2024, 6, 30, 9), dt.datetime(2024, 6, 30, 9, 5),
    ...                  dt.datetime(2024, 7, 2)], "session_id": ["s1", "s2", "s2", "s3"], "dwell_s": 10.0})
    >>> f = event_features(ev, as_of="2024-06-30", windows=(7, 30))
    >>> f.select("person_id", "views_7d", "views_30d", "sessions_30d", "bounce_rate_30d", "days_since_last_active").rows()
    [('a', 1, 2, 2, 0.5, 0)]
    """
    end, windows = observation_end(as_of), _windows(windows)
    lf, eager = lazy_input(events, [person_col, ts_col, type_col, session_col, dwell_col], "events")
    p = person_col
    # one narrow frame the aggregations below read, computed once; a day is counted by ``_a`` (one value per
    # calendar day)
    lf = computed_once(rows_as_of(lf, ts_col, end).select(
        p, session_col, "_a", _hour=nw.col("_ts").dt.hour().cast(nw.Int64), _dwell=_fixed(nw.col(dwell_col)),
        **{f"_{m}": (nw.col(type_col) == t).cast(nw.Int64) for m, t in _EVENT_TYPES.items()}), eager)
    # per person and day first (several events a day), then the windows over the days
    daily = [f"_{m}" for m in _EVENT_TYPES] + ["_dwell"]
    days = computed_once(lf.group_by(p, "_a").agg(*(nw.col(c).sum() for c in daily), nw.len().alias("_events")),
                         eager)
    ind = {f"{c}_{w}": _in(w, nw.col(c)) for c in daily for w in windows}
    ind |= {f"_active_days_{w}": _in(w) for w in windows}
    base = days.with_columns(**ind).group_by(p).agg(*(nw.col(c).sum() for c in ind),
                                                    nw.col("_a").min().alias("_last"))
    sessions = (lf.filter(~nw.col(session_col).is_null()).group_by(p, session_col)
                .agg(nw.col("_a").max(), nw.len().alias("_n"))
                .with_columns(**{f"_sessions_{w}": _in(w) for w in windows},
                              **{f"_bounces_{w}": _in(w, (nw.col("_n") == 1).cast(nw.Int64)) for w in windows})
                .group_by(p).agg(*(nw.col(f"_{k}_{w}").sum() for k in ("sessions", "bounces") for w in windows)))
    # ISO weekday from the day number (1970-01-01 was a Thursday, 4): narwhals' dt.weekday() on pyspark
    # gives Sunday as 0 instead of 7
    recent_days = days.filter(nw.col("_a") <= windows[-1]).with_columns(
        _weekday=(day_number(end) - nw.col("_a") + 3) % 7 + 1)
    out = _join_all(base, [sessions, _top(lf.filter(nw.col("_a") <= windows[-1]), p, "_hour", None, "peak_hour"),
                           _top(recent_days, p, "_weekday", "_events", "peak_weekday")], p)
    out = out.with_columns(*(nw.col(f"_sessions_{w}").fill_null(0) for w in windows),
                           *(nw.col(f"_bounces_{w}").fill_null(0) for w in windows))
    cols = [nw.col(p)]
    for metric in (*_EVENT_TYPES, "sessions"):
        cols += [nw.col(f"_{metric}_{w}").alias(f"{metric}_{w}d") for w in windows]
    cols += [from_fixed(nw.col(f"_dwell_{w}")).alias(f"dwell_s_{w}d") for w in windows]
    cols += [_ratio(f"_bounces_{w}", f"_sessions_{w}").alias(f"bounce_rate_{w}d") for w in windows]
    cols += [nw.col(f"_active_days_{w}").alias(f"active_days_{w}d") for w in windows]
    cols += [(nw.col("_last") - 1).alias("days_since_last_active"), nw.col("peak_hour"), nw.col("peak_weekday")]
    return collect_like(out.select(*cols).sort(p), eager)


def order_features(purchases: Any, *, as_of: Any, windows: Sequence[int] = DEFAULT_WINDOWS,
                   person_col: str = "person_id", ts_col: str = "order_ts", order_col: str = "order_id",
                   amount_col: str = "amount", quantity_col: str = "quantity", category_col: str = "category",
                   discount_col: str = "discount", channel_col: str = "channel",
                   brand_col: str | None = "brand") -> Any:
    """Purchase and preference features per person from purchased order lines up to ``as_of``.

    Pass what customers kept — :func:`persona_kit.clean.netted_purchases` (``build_features`` does it): every
    line counts as bought. ``discount_col`` is the money taken off the line (null = none).

    Parameters
    ----------
    purchases : pandas or polars DataFrame (eager or lazy)
        Order lines with the named columns. ``category_col``, ``discount_col`` and ``channel_col`` may be
        absent (e.g. UCI Online Retail has none): the features that need them are then null, not zero;
        ``brand_col`` is used only if present (then ``top_brand``).
    as_of : date or 'YYYY-MM-DD'
        The last day observed; later orders are ignored.
    windows : sequence of int
        Window lengths in days; the longest sets ``top_category``, ``price_band``, ``preferred_channel``.
    person_col, ts_col, order_col, amount_col, quantity_col, category_col, discount_col, channel_col, brand_col
        Column names (canonical by default).

    Returns
    -------
    Same kind as ``purchases``: one row per person with a purchase up to ``as_of``: ``orders_<w>d``,
    ``items_<w>d``, ``spend_<w>d``, ``aov_<w>d``, ``categories_<w>d``, ``discount_share_<w>d``,
    ``first_purchase_date``, ``last_purchase_date``, ``days_since_last_purchase``, ``purchase_interval_days``
    (mean gap in days between the days of consecutive orders), ``top_category``, [``top_brand``,]
    ``price_band``, ``preferred_channel``.

    Raises
    ------
    InputError
        Missing columns, bad ``windows`` or ``as_of``.

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> o = pl.DataFrame({"person_id": "a", "order_id": ["1", "2", "3"], "amount": [100.0, 50.0, 30.0],
    ...     "order_ts": [dt.datetime(2024, 6, 1), dt.datetime(2024, 6, 21), dt.datetime(2024, 6, 29)],
    ...     "quantity": 1.0, "category": "护肤", "discount": [0.0, 10.0, 0.0], "channel": "tmall"})
    >>> f = order_features(o, as_of="2024-06-30", windows=(30,))
    >>> f.select("orders_30d", "aov_30d", "purchase_interval_days", "days_since_last_purchase").rows()
    [(3, 60.0, 14.0, 1)]
    """
    end, windows = observation_end(as_of), _windows(windows)
    required = [person_col, ts_col, order_col, amount_col, quantity_col]
    lf, eager = lazy_input(purchases, required, "orders")
    present = set(lf.collect_schema().names())
    absent = [c for c in (category_col, discount_col, channel_col) if c not in present]
    if absent:
        lf = lf.with_columns(*(nw.lit(None, dtype=nw.Float64 if c == discount_col else nw.String).alias(c)
                               for c in absent))
    p, longest = person_col, windows[-1]
    has_brand = brand_col is not None and brand_col in lf.collect_schema().names()
    keys = [p, order_col, category_col, channel_col, *([brand_col] if has_brand else [])]
    lf = computed_once(rows_as_of(lf, ts_col, end).select(
        *keys, "_a", "_day", _spend=_fixed(nw.col(amount_col)), _qty=_fixed(nw.col(quantity_col)),
        _disc=_fixed(nw.col(discount_col))), eager)
    ind = {f"_{m}_{w}": _in(w, nw.col(c)) for m, c in (("items", "_qty"), ("spend", "_spend"), ("disc", "_disc"))
           for w in windows}
    lf = lf.with_columns(**ind)
    base = lf.group_by(p).agg(*(nw.col(c).sum() for c in ind))
    orders = lf.group_by(p, order_col).agg(nw.col("_a").min(), nw.col("_day").min(), nw.col(channel_col).min())
    per_order = (orders.with_columns(**{f"_orders_{w}": _in(w) for w in windows})
                 .group_by(p).agg(*(nw.col(f"_orders_{w}").sum() for w in windows), nw.len().alias("_n"),
                                  nw.col("_a").min().alias("_last_a"), nw.col("_a").max().alias("_first_a"),
                                  nw.col("_day").min().alias("_first"), nw.col("_day").max().alias("_lastd")))
    cats = (lf.filter(~nw.col(category_col).is_null()).group_by(p, category_col).agg(nw.col("_a").min())
            .with_columns(**{f"_categories_{w}": _in(w) for w in windows})
            .group_by(p).agg(*(nw.col(f"_categories_{w}").sum() for w in windows)))
    recent = lf.filter(nw.col("_a") <= longest)
    parts = [per_order, cats, _top(recent, p, category_col, "_spend", "top_category")]
    if has_brand:
        parts.append(_top(recent, p, brand_col, "_spend", "top_brand"))
    parts.append(_top(orders.filter(nw.col("_a") <= longest), p, channel_col, None, "preferred_channel"))
    out = _join_all(base, parts, p)
    price = nw.col("_price")
    out = out.with_columns(_price=_ratio(f"_spend_{longest}", f"_items_{longest}")).with_columns(
        _q1=price.quantile(1 / 3, interpolation="linear"), _q2=price.quantile(2 / 3, interpolation="linear"))
    band = (nw.when(price <= nw.col("_q1")).then(nw.lit("low")).when(price <= nw.col("_q2")).then(nw.lit("mid"))
            .when(~price.is_null()).then(nw.lit("high")))
    cols = [nw.col(p)]
    cols += [nw.col(f"_orders_{w}").alias(f"orders_{w}d") for w in windows]
    cols += [from_fixed(nw.col(f"_{m}_{w}")).alias(f"{m}_{w}d") for m in ("items", "spend") for w in windows]
    cols += [nw.when(nw.col(f"_orders_{w}") > 0).then(from_fixed(nw.col(f"_spend_{w}")) / nw.col(f"_orders_{w}"))
             .alias(f"aov_{w}d") for w in windows]
    cols += [nw.col(f"_categories_{w}").alias(f"categories_{w}d") for w in windows]
    list_value = {w: nw.col(f"_spend_{w}") + nw.col(f"_disc_{w}") for w in windows}
    known = nw.lit(discount_col not in absent)  # no discount column: the share is unknown, not zero
    cols += [nw.when((list_value[w] > 0) & known).then(nw.col(f"_disc_{w}") / list_value[w])
             .alias(f"discount_share_{w}d") for w in windows]
    cols += [nw.col("_first").cast(nw.Date).alias("first_purchase_date"),
             nw.col("_lastd").cast(nw.Date).alias("last_purchase_date"),
             (nw.col("_last_a") - 1).alias("days_since_last_purchase"),
             nw.when(nw.col("_n") > 1).then((nw.col("_first_a") - nw.col("_last_a")) / (nw.col("_n") - 1))
             .alias("purchase_interval_days"),
             nw.col("top_category"), *([nw.col("top_brand")] if has_brand else []),
             band.alias("price_band"), nw.col("preferred_channel")]
    return collect_like(out.select(*cols).sort(p), eager)


def review_features(reviews: Any, *, as_of: Any, windows: Sequence[int] = DEFAULT_WINDOWS,
                    person_col: str = "person_id", ts_col: str = "review_ts", rating_col: str = "rating",
                    sentiment_col: str = "sentiment") -> Any:
    """Interaction features per person from reviews up to ``as_of``.

    Parameters
    ----------
    reviews : pandas or polars DataFrame (eager or lazy)
        One row per review; ``sentiment_col`` in [0, 1] comes from :func:`persona_kit.sentiment.score_reviews`.
    as_of : date or 'YYYY-MM-DD'
        The last day observed; later reviews are ignored.
    windows : sequence of int
        Window lengths in days.
    person_col, ts_col, rating_col, sentiment_col : str
        Column names.

    Returns
    -------
    Same kind as ``reviews``: ``reviews_<w>d``, ``avg_rating_<w>d``, ``avg_sentiment_<w>d`` (means over the
    reviews with a value; null when there is none).

    Raises
    ------
    InputError
        Missing columns (score the reviews first), bad ``windows`` or ``as_of``.

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> r = pl.DataFrame({"person_id": ["a", "a", "b"], "rating": [5, 2, 4], "sentiment": [0.9, 0.2, 0.8],
    ...     "review_ts": [dt.datetime(2024, 6, 29), dt.datetime(2024, 1, 1), dt.datetime(2024, 6, 1)]})
    >>> review_features(r, as_of="2024-06-30", windows=(7, 365)).rows()
    [('a', 1, 2, 5.0, 3.5, 0.9, 0.55), ('b', 0, 1, None, 4.0, None, 0.8)]
    """
    end, windows = observation_end(as_of), _windows(windows)
    lf, eager = lazy_input(reviews, [person_col, ts_col, rating_col, sentiment_col], "reviews")
    lf = rows_as_of(lf, ts_col, end)
    ind: dict[str, nw.Expr] = {}
    for w in windows:
        ind[f"_reviews_{w}"] = _in(w)
        for m, c in (("rating", rating_col), ("sentiment", sentiment_col)):
            ind[f"_{m}_{w}"] = _in(w, nw.col(c).cast(nw.Float64).fill_null(0.0))
            ind[f"_{m}_n_{w}"] = _in(w, (~nw.col(c).is_null()).cast(nw.Int64))
    out = lf.with_columns(**ind).group_by(person_col).agg(*(nw.col(c).sum() for c in ind))
    cols = [nw.col(person_col)]
    cols += [nw.col(f"_reviews_{w}").alias(f"reviews_{w}d") for w in windows]
    cols += [_ratio(f"_{m}_{w}", f"_{m}_n_{w}").alias(f"avg_{m}_{w}d") for m in ("rating", "sentiment")
             for w in windows]
    return collect_like(out.select(*cols).sort(person_col), eager)


_DEMOGRAPHICS = ("gender", "city", "province", "member_level")


def demographics(customers: Any, *, as_of: Any, person_col: str = "person_id",
                 columns: Sequence[str] = _DEMOGRAPHICS, birth_col: str = "birth_date",
                 consent_col: str = "consent_marketing") -> Any:
    """One row per person from the customers table: ``columns``, ``age`` and ``consent_marketing``.

    A person's several source records are combined per column: the most frequent non-null value wins
    (ties go to the smallest value; ``gender`` 'unknown' counts as missing, and stays 'unknown' only when no
    record knows better). ``age`` is whole years at ``as_of`` from the combined ``birth_col``;
    ``consent_marketing`` is True only if at least one record says True and none says False.

    Parameters
    ----------
    customers : pandas or polars DataFrame (eager or lazy)
        One row per source record, with ``person_col``, ``columns``, ``birth_col`` (a date) and ``consent_col``.
    as_of : date or 'YYYY-MM-DD'
        The day ages are measured at.
    person_col, columns, birth_col, consent_col
        Column names.

    Returns
    -------
    Same kind as ``customers``: ``person_col``, ``*columns``, ``age``, ``consent_marketing``.

    Raises
    ------
    InputError
        Missing columns or a bad ``as_of``.

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> c = pl.DataFrame({"person_id": ["a", "a", "a"], "gender": ["female", "unknown", None],
    ...     "city": ["上海", "上海", "杭州"], "province": None, "member_level": ["gold", None, None],
    ...     "birth_date": [dt.date(1990, 7, 1), None, dt.date(1990, 7, 1)], "consent_marketing": [True, None, True]})
    >>> demographics(c, as_of="2024-06-30").rows()
    [('a', 'female', '上海', None, 'gold', 33, True)]
    """
    end = observation_end(as_of)
    day = end.date() - dt.timedelta(days=1)
    columns = list(columns)
    lf, eager = lazy_input(customers, [person_col, *columns, birth_col, consent_col], "customers")
    p = person_col
    if "gender" in columns:
        lf = lf.with_columns(_gender_raw=nw.col("gender"),
                             gender=nw.when(nw.col("gender") != "unknown").then(nw.col("gender")))
    consent = nw.col(consent_col)
    lf = lf.with_columns(_no=(consent == False).fill_null(False).cast(nw.Int64),  # noqa: E712
                         _yes=(consent == True).fill_null(False).cast(nw.Int64))  # noqa: E712
    base = lf.group_by(p).agg(nw.col("_no").sum(), nw.col("_yes").sum())
    parts = [_top(lf, p, c, None, c) for c in [*columns, birth_col]]
    if "gender" in columns:
        parts.append(_top(lf, p, "_gender_raw", None, "_gender_any"))
    out = _join_all(base, parts, p)
    birth = nw.col(birth_col)
    later = ((birth.dt.month() > day.month) | ((birth.dt.month() == day.month) & (birth.dt.day() > day.day)))
    age = (nw.lit(day.year) - birth.dt.year() - later.fill_null(False).cast(nw.Int64)).alias("age")
    cols = [nw.col(p)]
    cols += [nw.coalesce(nw.col(c), nw.col("_gender_any")).alias(c) if c == "gender" else nw.col(c)
             for c in columns]
    cols += [age, nw.when(nw.col("_no") > 0).then(nw.lit(False)).when(nw.col("_yes") > 0).then(nw.lit(True))
             .alias(consent_col)]
    return collect_like(out.select(*cols).sort(p), eager)


# --- everything ---------------------------------------------------------------------------------------------

def _purchases(orders: Any, products: Any) -> nw.LazyFrame:
    """Netted purchases (what customers kept) of clean / identity orders, with ``brand`` from ``products``;
    lazy, on the orders' own backend."""
    from persona_kit.clean import netted_purchases

    lf, _ = lazy_input(orders, [], "orders")
    renamed = "source_customer_id" not in lf.collect_schema().names() and "source_key" in lf.collect_schema().names()
    if renamed:
        lf = lf.rename({"source_key": "source_customer_id"})
    kept = nw.from_native(netted_purchases(lf.to_native()))
    kept = kept.lazy() if isinstance(kept, nw.DataFrame) else kept  # pandas has no lazy native frame
    if renamed:
        kept = kept.rename({"source_customer_id": "source_key"})
    if products is not None and "brand" not in kept.collect_schema().names():
        prod, _ = lazy_input(products, ["product_id", "brand"], "products")
        if prod.implementation != kept.implementation:
            raise InputError(f"products and orders must be the same kind of frame, got {prod.implementation} "
                             f"and {kept.implementation}")
        kept = kept.join(prod.select("product_id", "brand").unique("product_id"), on="product_id", how="left")
    return kept


def purchases(orders: Any, products: Any = None) -> Any:
    """What each person kept: the identity step's order lines netted by
    :func:`persona_kit.clean.netted_purchases` (``quantity`` / ``amount`` are the netted ones), with
    ``brand`` joined from ``products`` when given. Same kind of frame as ``orders`` (lazy stays lazy).

    >>> import polars as pl, datetime as dt
    >>> o = pl.DataFrame({"person_id": "p", "source_key": "k", "product_id": "x", "unit_price": 2.0,
    ...     "order_ts": dt.datetime(2024, 6, 1), "status": ["paid", "cancelled"], "quantity": [5.0, -2.0],
    ...     "amount": [10.0, -4.0], "net_quantity": [3.0, 0.0], "net_amount": [6.0, 0.0]})
    >>> purchases(o).select("source_key", "quantity", "amount").rows()
    [('k', 3.0, 6.0)]
    """
    return collect_like(_purchases(orders, products), isinstance(nw.from_native(orders), nw.DataFrame))


def build_features(events: Any = None, orders: Any = None, reviews: Any = None, customers: Any = None, *,
                   as_of: Any, windows: Sequence[int] = DEFAULT_WINDOWS, person_col: str = "person_id",
                   products: Any = None) -> Any:
    """Every feature of :data:`FEATURE_COLUMNS` per person, as of a date, from the identity step's tables.

    Parameters
    ----------
    events, orders, reviews, customers : pandas or polars DataFrame, optional
        The ``03_identity`` tables (any may be None; its columns are then left out). ``orders`` are netted
        first with :func:`persona_kit.clean.netted_purchases` (they need ``net_quantity`` / ``net_amount``);
        ``reviews`` need a ``sentiment`` column (:func:`persona_kit.sentiment.score_reviews`).
    as_of : date or 'YYYY-MM-DD'
        The last day observed: nothing later is read.
    windows : sequence of int
        Window lengths in days.
    person_col : str
        The person id column.
    products : DataFrame, optional
        Adds ``brand`` to the orders by ``product_id`` (then ``top_brand``).

    Returns
    -------
    One row per person seen in any given table, the kind of the first given frame (a lazy frame — polars,
    duckdb, pyspark — stays lazy). Counts are 0 for a person without rows in a table; averages,
    rates and dates are null.

    Raises
    ------
    InputError
        No table given, missing columns, bad ``windows`` or ``as_of``.

    Examples
    --------
    >>> import polars as pl, datetime as dt
    >>> ev = pl.DataFrame({"person_id": ["a", "b"], "event_type": "view", "session_id": ["s1", "s2"],
    ...     "event_ts": [dt.datetime(2024, 6, 30, 10), dt.datetime(2024, 6, 1)], "dwell_s": 5.0})
    >>> c = pl.DataFrame({"person_id": ["a", "c"], "gender": "female", "city": "上海", "province": "上海",
    ...     "member_level": "gold", "birth_date": dt.date(2000, 1, 1), "consent_marketing": True})
    >>> build_features(ev, customers=c, as_of="2024-06-30", windows=(7,)).select("person_id", "views_7d", "age").rows()
    [('a', 1, 24), ('b', 0, None), ('c', 0, 24)]
    """
    given = [f for f in (events, orders, reviews, customers) if f is not None]
    if not given:
        raise InputError("build_features needs at least one of events, orders, reviews, customers")
    day = (observation_end(as_of) - dt.timedelta(days=1)).date()
    windows = _windows(windows)
    eager = isinstance(nw.from_native(given[0]), nw.DataFrame)
    kw = {"as_of": as_of, "person_col": person_col}
    outs = []
    if events is not None:
        outs.append(event_features(events, windows=windows, **kw))
    if orders is not None:
        outs.append(order_features(purchases(orders, products), windows=windows, **kw))
    if reviews is not None:
        outs.append(review_features(reviews, windows=windows, **kw))
    if customers is not None:
        outs.append(demographics(customers, **kw))
    lazies = [nw.from_native(o) for o in outs]
    lazies = [f.lazy() if isinstance(f, nw.DataFrame) else f for f in lazies]
    people = nw.concat([f.select(person_col) for f in lazies]).unique(person_col)
    out = _join_all(people, lazies, person_col)
    counts = [f"{m}_{w}d" for m in _COUNTS for w in windows if f"{m}_{w}d" in out.collect_schema().names()]
    out = out.with_columns(*(nw.col(c).fill_null(0) for c in counts), nw.lit(day).alias("as_of")).sort(person_col)
    return collect_like(out, eager)
