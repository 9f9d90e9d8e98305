"""Step 01 — data quality: what an analyst is dealing with before anything is cleaned.

Profiles the validated sources of a run (:func:`persona_kit.schema.load_sources`): rows per source, the
quarantine by reason, missing values, duplicates, suspicious values and date ranges — each a small
frame ready for a table or a chart, plus the findings worth acting on.

Examples
--------
>>> import polars as pl
>>> orders = pl.DataFrame({"source": ["a", "a", "a"], "order_id": ["1", "1", "2"],
...                        "line_no": [1, 1, 1], "amount": [5.0, 5.0, None]})
>>> missing_values({"orders": orders}).filter(pl.col("missing") > 0).rows()
[('orders', 'a', 'amount', 3, 1, 0.3333333333333333)]
>>> duplicates({"orders": orders}).select("exact_duplicates", "duplicate_keys").rows()
[(1, 1)]
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from persona_kit.schema import SOURCE_FILE, SOURCE_ROW, TABLES, LoadedSources

__all__ = ["TABLE_KEYS", "TIMESTAMPS", "source_overview", "quarantine_by_reason", "missing_values",
           "duplicates", "value_checks", "date_ranges", "findings", "FINDING_KINDS"]

# The columns that identify one row of each canonical table (duplicates of these are suspicious).
TABLE_KEYS = {
    "customers": ("source", "source_customer_id"),
    "identifiers": ("source", "source_customer_id", "id_type", "id_value"),
    "orders": ("source", "order_id", "line_no"),
    "events": ("source", "source_customer_id", "event_ts", "event_type", "item_id"),
    "reviews": ("source", "source_customer_id", "review_ts", "product_id"),
    "products": ("product_id",),
    "campaigns": ("campaign_id", "source", "source_customer_id"),
}
TIMESTAMPS = {"customers": "register_ts", "orders": "order_ts", "events": "event_ts",
              "reviews": "review_ts", "campaigns": "assigned_ts"}
_LINEAGE = (SOURCE_FILE, SOURCE_ROW)
FINDING_KINDS = ("quarantined", "duplicates", "mostly_missing")


def _by_source(frame: pl.DataFrame) -> pl.DataFrame:
    return frame if "source" in frame.columns else frame.with_columns(source=pl.lit("-"))


def source_overview(loaded: LoadedSources) -> pl.DataFrame:
    """Rows in, valid and quarantined per source and table, with the quarantined share."""
    return (loaded.accounting.group_by("source", "table", maintain_order=True)
            .agg(pl.col("file").first(), pl.col("rows_in", "rows_valid", "rows_quarantined").sum())
            .with_columns(quarantined_share=pl.col("rows_quarantined") / pl.col("rows_in").clip(1)))


def quarantine_by_reason(quarantine: pl.DataFrame) -> pl.DataFrame:
    """Quarantined rows per source, table, reason and column, with the first example's message and row."""
    columns = ["source", "table", "file", "reason", "column", "rows", "example_row", "example"]
    if quarantine.is_empty():
        return pl.DataFrame(schema=dict.fromkeys(columns, pl.String)).with_columns(
            pl.col("rows", "example_row").cast(pl.Int64))
    return (quarantine.sort("source", "table", "row")
            .group_by("source", "table", "file", "reason", "column", maintain_order=True)
            .agg(rows=pl.len(), example_row=pl.col("row").first(), example=pl.col("message").first())
            .sort("rows", "source", "reason", descending=[True, False, False]).select(columns))


def missing_values(tables: dict[str, pl.DataFrame], *,
                   provided: dict[tuple[str, str], set[str]] | None = None) -> pl.DataFrame:
    """Missing values per table, source and canonical column (long form: rows, missing, share).

    ``provided`` (``LoadedSources.provided``) limits each source to the columns its column map fills, so
    a column that a source never had is not reported as missing.
    """
    parts = []
    for table, frame in tables.items():
        frame = _by_source(frame)
        columns = [c for c in TABLES[table] if c in frame.columns and c != "source"]
        if not columns:
            continue
        counts = (frame.group_by("source").agg(
            [pl.len().alias("rows")] + [pl.col(c).null_count().alias(c) for c in columns])
            .unpivot(columns, index=["source", "rows"], variable_name="column", value_name="missing"))
        if provided is not None:
            keep = [(source, column) for (source, t), cols in provided.items() if t == table for column in cols]
            counts = counts.join(pl.DataFrame(keep, schema=["source", "column"], orient="row"),
                                 on=["source", "column"], how="semi")
        parts.append(counts.select(pl.lit(table).alias("table"), "source", "column", "rows",
                                   pl.col("missing").cast(pl.Int64), share=pl.col("missing") / pl.col("rows")))
    return pl.concat(parts).sort("table", "source", "column") if parts else pl.DataFrame()


def duplicates(tables: dict[str, pl.DataFrame], *, numbered_by_loader: set[str] | None = None) -> pl.DataFrame:
    """Exact duplicate rows and repeated keys (:data:`TABLE_KEYS`) per table and source.

    ``exact_duplicates`` counts the extra copies of identical rows, ignoring the raw file position and,
    for the sources in ``numbered_by_loader`` (``LoadedSources.numbered_by_loader``; default: every
    source), the order-line number — a line exported twice gets two numbers when the loader numbers the
    lines. ``duplicate_keys`` counts extra rows sharing a key, identical or not.
    """
    rows = []
    for table, frame in tables.items():
        frame = _by_source(frame)
        keys = [k for k in TABLE_KEYS[table] if k in frame.columns]
        for (source,), part in frame.group_by("source", maintain_order=True):
            loader_numbered = numbered_by_loader is None or source in numbered_by_loader
            content = [c for c in frame.columns
                       if c not in _LINEAGE and not (c == "line_no" and loader_numbered)]
            rows.append({"table": table, "source": source, "rows": part.height,
                         "exact_duplicates": part.height - part.select(content).unique().height,
                         "duplicate_keys": part.height - part.select(keys).unique().height if keys else 0})
    return pl.DataFrame(rows).sort("table", "source") if rows else pl.DataFrame()


def value_checks(tables: dict[str, pl.DataFrame], *, today: dt.date | None = None) -> pl.DataFrame:
    """Valid-but-suspicious values: negative or zero amounts, non-positive quantities, future dates.

    These rows are not quarantined (a refund line may well be negative); the cleaning step decides.
    """
    today = today or dt.date.today()
    checks: list[tuple[str, str, pl.Expr]] = [
        ("orders", "amount_negative", pl.col("amount") < 0),
        ("orders", "amount_zero", pl.col("amount") == 0),
        ("orders", "quantity_not_positive", pl.col("quantity") <= 0),
        ("orders", "unit_price_zero", pl.col("unit_price") == 0),
        ("events", "dwell_over_1h", pl.col("dwell_s") > 3600),
    ] + [(table, "date_in_future", pl.col(ts).dt.date() > today) for table, ts in TIMESTAMPS.items()]
    rows = []
    for table, check, expr in checks:
        frame = tables.get(table)
        needed = expr.meta.root_names()
        if frame is None or not set(needed) <= set(frame.columns):
            continue
        counts = _by_source(frame).group_by("source", maintain_order=True).agg(
            rows=pl.len(), flagged=expr.sum())
        rows += [{"table": table, "check": check, **r} for r in counts.iter_rows(named=True)]
    return (pl.DataFrame(rows).with_columns(share=pl.col("flagged") / pl.col("rows"))
            .filter(pl.col("flagged") > 0).sort("table", "check", "source")) if rows else pl.DataFrame()


def date_ranges(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """First and last timestamp per table and source, with the number of rows and days covered."""
    parts = []
    for table, ts in TIMESTAMPS.items():
        frame = tables.get(table)
        if frame is None or ts not in frame.columns:
            continue
        parts.append(_by_source(frame).filter(pl.col(ts).is_not_null()).group_by("source").agg(
            rows=pl.len(), first=pl.col(ts).min().dt.date(), last=pl.col(ts).max().dt.date())
            .select(pl.lit(table).alias("table"), pl.col("source"), "rows", "first", "last",
                    days=(pl.col("last") - pl.col("first")).dt.total_days() + 1))
    return pl.concat(parts).sort("table", "source") if parts else pl.DataFrame()


def findings(loaded: LoadedSources, *, missing_threshold: float = 0.2) -> list[dict[str, object]]:
    """The issues worth acting on: ``{"kind", "table", "source", "column", "rows", "share"}``.

    Kinds, in this order (then most rows first): ``quarantined`` (rows that will not reach the clean
    tables), ``duplicates`` (exact copies, which inflate counts and spend), ``mostly_missing`` (a column
    the source provides, empty in more than ``missing_threshold`` of its rows).
    """
    found: list[dict[str, object]] = []
    overview = source_overview(loaded)
    for r in overview.filter(pl.col("rows_quarantined") > 0).iter_rows(named=True):
        found.append({"kind": "quarantined", "table": r["table"], "source": r["source"], "column": None,
                      "rows": r["rows_quarantined"], "share": r["quarantined_share"]})
    missing = missing_values(loaded.tables, provided=loaded.provided)
    if not missing.is_empty():
        for r in missing.filter(pl.col("share") > missing_threshold).iter_rows(named=True):
            found.append({"kind": "mostly_missing", "table": r["table"], "source": r["source"],
                          "column": r["column"], "rows": r["missing"], "share": r["share"]})
    dupes = duplicates(loaded.tables, numbered_by_loader=loaded.numbered_by_loader)
    if not dupes.is_empty():
        for r in dupes.filter(pl.col("exact_duplicates") > 0).iter_rows(named=True):
            found.append({"kind": "duplicates", "table": r["table"], "source": r["source"], "column": None,
                          "rows": r["exact_duplicates"], "share": r["exact_duplicates"] / r["rows"]})
    order = {kind: i for i, kind in enumerate(FINDING_KINDS)}
    return sorted(found, key=lambda f: (order[f["kind"]], -int(f["rows"]), str(f["source"]), str(f["table"])))
