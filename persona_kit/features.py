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
    bought; ``discount_share_<w>d`` — price sensitivity: share of spend on lines bought at a discount;
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

__all__ = ["FEATURE_COLUMNS", "DEFAULT_WINDOWS", "feature_columns"]

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
    "discount_share": "price sensitivity: share of spend on lines bought at a discount",
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
    out = {"person_id": "the person (OneID from the identity step)"}
    for group in (_EVENT_WINDOWED, _ORDER_WINDOWED, _REVIEW_WINDOWED):
        for metric, meaning in group.items():
            out.update({f"{metric}_{w}d": f"{meaning} in the last {w} days" for w in windows})
    out.update(_SCALARS)
    return out


FEATURE_COLUMNS: dict[str, str] = feature_columns()
