"""The profile build against its floor and against pandas.

- ``floor`` — one polars group-by pass over the raw event log (events per user and type, dwell, last time):
  the least any profile build has to do;
- ``profile_build`` — the whole build from raw files: load → clean → OneID → features → tags → RFM /
  lifecycle / AIPL segments, writing the identity tables, features, the tag snapshot and segments as Parquet;
- ``event_features_ours`` vs ``event_features_pandas`` — the windowed behaviour aggregation
  (:func:`persona_kit.features.event_features`) and the same aggregation written in plain pandas, on the
  identity step's events.

Reviews enter the build with a null ``sentiment``: scoring review text is a separate NLP cost
(:mod:`persona_kit.sentiment`) that is not part of this benchmark.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

AS_OF = "2026-06-30"
TIMEZONE = "Asia/Shanghai"
SALT = "benchmark-salt-not-a-secret"
WINDOWS = (7, 30, 90, 365)
EVENT_TYPES = {"views": "view", "clicks": "click", "searches": "search", "favs": "fav", "carts": "cart"}
PROFILE_TABLES = ("events", "orders", "reviews", "customers", "products")


def floor(start: Callable[[], None], *, data: str) -> dict:
    """One group-by pass over the raw events (``raw/app_events.parquet``)."""
    import polars as pl

    start()
    out = (pl.scan_parquet(Path(data) / "raw" / "app_events.parquet")
           .group_by("user_id", "event_name")
           .agg(pl.len(), pl.col("dwell_seconds").sum(), pl.col("event_time").max())
           .collect())
    return {"groups": out.height, "events": int(out["len"].sum())}


def profile_build(start: Callable[[], None], *, data: str, out: str, as_of: str = AS_OF) -> dict:
    """Raw files → every profile artifact, written to ``out`` (identity tables, features, tags, segments).

    ``stages`` in the result: seconds and the process's RSS (MB) at the end of each stage."""
    import polars as pl

    from benchmarks.runner import rss_mb
    from persona_kit import clean, identity, schema, segments, tags
    from persona_kit.features import build_features

    start()
    stages, began = {}, [time.perf_counter()]

    def stage(name: str) -> None:
        now = time.perf_counter()
        stages[name] = {"s": round(now - began[0], 2), "rss_mb": round(rss_mb())}
        began[0] = now

    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    loaded = schema.load_sources(Path(data) / "maps", timezone=TIMEZONE)
    stage("load")
    tables = clean.clean(loaded, timezone=TIMEZONE, release=True).tables  # each raw table let go once cleaned
    del loaded
    stage("clean")
    result = identity.link(identity.collect_identifiers(tables), records=identity.record_keys(tables), salt=SALT)
    stage("link")
    person = identity.pseudonymize_tables({n: f for n, f in tables.items() if n != "identifiers"}, result,
                                          salt=SALT)
    del tables
    for name in PROFILE_TABLES:
        person[name].write_parquet(target / f"{name}.parquet")
    stage("pseudonymize")
    reviews = person["reviews"].with_columns(sentiment=pl.lit(None, pl.Float64))
    inputs = {"events": person["events"], "orders": person["orders"], "reviews": reviews,
              "customers": person["customers"]}
    feats = build_features(**inputs, products=person["products"], as_of=as_of)
    feats.write_parquet(target / "features.parquet")
    stage("features")
    usable = tags.load_catalog().computable(feats.columns)
    tags.write_snapshot(tags.compute_tags(feats, usable, as_of=as_of), target, catalog=usable)
    stage("tags")
    segs = segments.segment_table(result.persons, **inputs, as_of=as_of)
    segs.write_parquet(target / "segments.parquet")
    stage("segments")
    return {"persons": result.persons.height, "events": person["events"].height,
            "order_lines": person["orders"].height, "features": list(feats.shape), "tags": len(usable.ids),
            "segmented": segs.height, "stages": stages}


def event_features_ours(start: Callable[[], None], *, events: str, as_of: str = AS_OF) -> dict:
    """:func:`persona_kit.features.event_features` over the events Parquet (polars lazy)."""
    import polars as pl

    from persona_kit.features import event_features

    start()
    out = event_features(pl.scan_parquet(events), as_of=as_of, windows=WINDOWS).collect()
    return {"persons": out.height, "views_365d": int(out["views_365d"].sum())}


def pandas_event_features(events, as_of: str = AS_OF, windows: tuple[int, ...] = WINDOWS):
    """The behaviour aggregation of :func:`persona_kit.features.event_features` in plain pandas: per person
    and window, events per type, dwell seconds, sessions and bounce rate, active days; and the days since the
    last event. ``events`` is a pandas frame with person_id, event_ts, event_type, session_id, dwell_s."""
    import pandas as pd

    ts = events["event_ts"]
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_localize(None)  # local wall-clock time, like the features
    day = ts.dt.normalize()
    age = (pd.Timestamp(as_of) + pd.Timedelta(days=1) - day).dt.days  # 1 = the as_of day
    keep = age >= 1
    ev = events.loc[keep, ["person_id", "event_type", "session_id", "dwell_s"]].assign(_a=age[keep], _day=day[keep])
    cols = {}
    for w in windows:
        inside = ev["_a"] <= w
        for metric, kind in EVENT_TYPES.items():
            cols[f"{metric}_{w}d"] = (inside & (ev["event_type"] == kind)).astype("int64")
        cols[f"dwell_s_{w}d"] = ev["dwell_s"].fillna(0.0).where(inside, 0.0)
    base = pd.DataFrame(cols).assign(person_id=ev["person_id"]).groupby("person_id").sum()
    base["days_since_last_active"] = ev.groupby("person_id")["_a"].min() - 1
    days = ev.groupby(["person_id", "_day"])["_a"].min().reset_index()
    sessions = (ev.dropna(subset=["session_id"]).groupby(["person_id", "session_id"])["_a"]
                .agg(["max", "size"]).reset_index())
    for w in windows:
        base[f"active_days_{w}d"] = (days["_a"] <= w).groupby(days["person_id"]).sum()
        inside = sessions["max"] <= w
        n = inside.groupby(sessions["person_id"]).sum()
        bounces = (inside & (sessions["size"] == 1)).groupby(sessions["person_id"]).sum()
        base[f"sessions_{w}d"] = n.reindex(base.index, fill_value=0)
        base[f"bounce_rate_{w}d"] = (bounces / n.where(n > 0)).reindex(base.index)
    return base.reset_index().sort_values("person_id", ignore_index=True)


def event_features_pandas(start: Callable[[], None], *, events: str, as_of: str = AS_OF) -> dict:
    """:func:`pandas_event_features` over the same events Parquet."""
    import pandas as pd

    start()
    frame = pd.read_parquet(events, columns=["person_id", "event_ts", "event_type", "session_id", "dwell_s"])
    out = pandas_event_features(frame, as_of)
    return {"persons": len(out), "views_365d": int(out["views_365d"].sum())}
