"""Bigger than memory on one machine: the feature and RFM build over date-partitioned Parquet, streamed.

:func:`write_partitioned` lays the identity step's events and orders out as Hive-partitioned Parquet
(``day=YYYY-MM-DD/…``), optionally ``copies`` times: events are repeated as they are (same persons, days and
sessions) and orders with new order ids, so the log grows as large as wanted while what a streamed group-by
has to remember stays the same — it grows with the persons and their distinct days and sessions, not with
the events. :func:`stream_profile` — run under a memory cap (a memory cgroup, see
:func:`benchmarks.runner.measure`) by ``python -m benchmarks --only streaming`` — scans those folders lazily and writes the
features (:func:`persona_kit.features.build_features`) and the RFM table
(:func:`persona_kit.segments.rfm_table`) with ``sink_parquet``: polars' streaming engine runs the plan in
batches and never holds the log. Tags are then computed eagerly from the written features
(:func:`tags_from_features`, one row per person; measured without the cap: the long tag frame has a row
per person and tag).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

AS_OF = "2026-06-30"
EVENT_COLUMNS = ("person_id", "event_ts", "event_type", "session_id", "dwell_s")
ORDER_COLUMNS = ("person_id", "order_id", "source_key", "product_id", "category", "channel", "quantity",
                 "unit_price", "discount", "amount", "status", "order_ts", "net_quantity", "net_amount")


def write_partitioned(identity_dir: str | Path, out: str | Path, *, copies: int = 1) -> dict:
    """Write ``events`` and ``orders`` of ``identity_dir`` to ``out/events/day=…`` and ``out/orders/day=…``;
    returns rows and in-memory size (GB, as polars estimates it) of the written events."""
    import polars as pl

    out = Path(out)
    sizes = {}
    for table, columns, ts, ids in (("events", EVENT_COLUMNS, "event_ts", ()),
                                    ("orders", ORDER_COLUMNS, "order_ts", ("order_id",))):
        frame = pl.scan_parquet(Path(identity_dir) / f"{table}.parquet").select(columns)
        parts = [frame.with_columns(pl.col(c) + f"~{k}" for c in ids) if k else frame for k in range(copies)]
        log = pl.concat(parts).with_columns(day=pl.col(ts).dt.date())
        log.sink_parquet(pl.PartitionBy(out / table, key="day", include_key=False), mkdir=True)
        scan = scan_partitioned(out / table)
        sizes[table] = {"rows": scan.select(pl.len()).collect().item()}
    one = pl.read_parquet(Path(identity_dir) / "events.parquet", columns=list(EVENT_COLUMNS))
    sizes["events"]["memory_gb"] = round(copies * one.estimated_size() / 2**30, 2)  # the log as one frame
    sizes["events"]["disk_gb"] = round(sum(f.stat().st_size for f in (out / "events").rglob("*.parquet")) / 2**30, 2)
    return sizes


def scan_partitioned(folder: str | Path):
    """A lazy scan of a Hive-partitioned Parquet folder (the ``day`` key comes back as a column)."""
    import polars as pl

    return pl.scan_parquet(Path(folder) / "**" / "*.parquet", hive_partitioning=True)


def stream_profile(start: Callable[[], None], *, data: str, out: str, as_of: str = AS_OF) -> dict:
    """Features + RFM from ``data/events`` and ``data/orders`` (partitioned), streamed to ``out``."""
    import polars as pl

    from persona_kit.features import build_features, purchases
    from persona_kit.segments import rfm_table

    start()
    target = Path(out)
    target.mkdir(parents=True, exist_ok=True)
    events, orders = (scan_partitioned(Path(data) / t).drop("day") for t in ("events", "orders"))
    build_features(events, orders, as_of=as_of).sink_parquet(target / "features.parquet", engine="streaming")
    rfm_table(purchases(orders), as_of=as_of).sink_parquet(target / "rfm.parquet", engine="streaming")
    count = {name: pl.scan_parquet(target / f"{name}.parquet").select(pl.len()).collect().item()
             for name in ("features", "rfm")}
    return {"persons": count["features"], "rfm_rows": count["rfm"]}


def tags_from_features(start: Callable[[], None], *, out: str, as_of: str = AS_OF) -> dict:
    """Tags (:func:`persona_kit.tags.compute_tags`, eager) from the features :func:`stream_profile` wrote."""
    import polars as pl

    from persona_kit import tags

    start()
    feats = pl.read_parquet(Path(out) / "features.parquet")
    usable = tags.load_catalog().computable(feats.columns)
    tagged = tags.compute_tags(feats, usable, as_of=as_of)
    tags.write_snapshot(tagged, out, catalog=usable)
    return {"persons": feats.height, "tags": len(usable.ids), "tag_rows": tagged.height}
