"""Step 02 — cleaning (数据清洗与整合): standardize, deduplicate, net cancellations, flag outliers,
separate non-product lines — and account for every input row.

What happens to a row, and where it ends up:

* **standardized** (stays): text trimmed (blank → null); ``phone`` → E.164 (:func:`normalize_phone`),
  ``email`` → trimmed lower case (:func:`normalize_email`), invalid ones → null; money per source times
  ``money_factors`` (units, currency) and rounded to cents; timestamps in one zone. Dates in mixed
  formats were already typed by :func:`persona_kit.schema.validate` (``formats:``, ``excel``, ``%z``,
  ``dayfirst:``); :func:`date_changes` shows the raw text each became.
* **quarantined** (reason code + sentence, :data:`REASONS`): ``exact_duplicate`` (identical as loaded),
  ``near_duplicate`` (identical only after standardization: trailing spaces, 199 vs 199.00),
  ``repeated_record`` (a customers row repeating a record with the same identifiers — a Tmall export
  has one per order line), ``negative_amount`` (a minus sign on a line with positive quantity and
  price). Step 01's validation quarantine is carried along.
* **separated** into ``non_product`` (:data:`NON_PRODUCT_REASONS`): fee / postage / adjustment codes
  (:data:`NON_PRODUCT_CODES`) and stock adjustments (negative quantity at zero price, not a sale).
* **netted** (stays, :func:`net_cancellations`): ``net_quantity`` / ``net_amount`` after cancellations.
* **flagged** (stays): ``outlier`` / ``outlier_score`` (:func:`flag_outliers`), ``zero_amount`` (a free
  line such as a gift).

Two views of purchases: :func:`reference_purchases` (the textbook rule: customer present, paid,
quantity > 0, price > 0 — cancellations dropped, *not* netted) and :func:`netted_purchases` (what
customers actually kept: each cancellation taken off the purchase it cancels).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from persona_kit.clean.orders import (
    NON_PRODUCT_CODES,
    NON_PRODUCT_REASONS,
    REVERSAL_STATUSES,
    flag_outliers,
    net_cancellations,
    netted_purchases,
    reference_purchases,
    split_non_product,
)
from persona_kit.clean.standardize import (
    _I,
    _LINEAGE,
    _identifier_value,
    date_changes,
    dedupe_orders,
    mark_duplicates,
    normalize_email,
    normalize_phone,
    standardization_changes,
    standardize,
)
from persona_kit.privacy import mask_kind, mask_values
from persona_kit.schema import (
    ID_TYPES,
    PII_COLUMNS,
    QUARANTINE_COLUMNS,
    SOURCE_FILE,
    SOURCE_ROW,
    TABLES,
    ColumnMap,
    LoadedSources,
    identifiers_from,
)

__all__ = [
    "NON_PRODUCT_CODES", "REVERSAL_STATUSES", "REASONS", "NON_PRODUCT_REASONS", "OUTCOMES", "CleanResult",
    "normalize_phone", "normalize_email", "standardize", "standardization_changes", "date_changes",
    "mark_duplicates", "dedupe_orders", "split_non_product", "net_cancellations", "flag_outliers",
    "reference_purchases", "netted_purchases", "row_accounting", "accounting_summary", "clean",
    "sources_from_artifacts", "masked_changes", "spend_views", "outlier_summary",
]

REASONS = {
    "negative_amount": "the amount is negative although quantity and unit price are positive",
    "exact_duplicate": "an exact copy of an earlier row",
    "near_duplicate": "a copy of an earlier row once text is trimmed and numbers are standardized",
    "repeated_record": "the same customer record again, with the same identifiers",
}
OUTCOMES = ("in", "clean", "quarantined", "separated")

_KEYS = ("source", "table", "file")


def row_accounting(rows_in: pl.DataFrame, tables: Mapping[str, pl.DataFrame], quarantine: pl.DataFrame,
                   non_product: pl.DataFrame) -> pl.DataFrame:
    """Rows per source, table, file, outcome and reason, starting from the raw rows read.

    ``rows_in`` is the validation accounting (:attr:`LoadedSources.accounting`: ``source, table, file,
    rows_in``). Outcomes (:data:`OUTCOMES`): ``in`` (raw rows), ``clean``, ``quarantined`` (step 01's
    validation reasons and this step's), ``separated`` (non-product lines). For every source, table and
    file, ``in = clean + quarantined + separated`` (see :func:`accounting_summary`).

    Examples
    --------
    >>> rows_in = pl.DataFrame({"source": ["pos"], "table": ["orders"], "file": ["o.csv"], "rows_in": [3]})
    >>> kept = pl.DataFrame({"source": ["pos", "pos"], "source_file": ["o.csv"] * 2, "source_row": [2, 4]})
    >>> quarantine = pl.DataFrame({"source": ["pos"], "table": ["orders"], "file": ["o.csv"], "row": [3],
    ...                            "reason": ["exact_duplicate"]})
    >>> row_accounting(rows_in, {"orders": kept}, quarantine, pl.DataFrame()).select("outcome", "rows").rows()
    [('in', 3), ('clean', 2), ('quarantined', 1)]
    """
    schema = {"source": pl.String, "table": pl.String, "file": pl.String, "outcome": pl.String,
              "reason": pl.String, "rows": pl.Int64}
    parts = [rows_in.group_by(*_KEYS).agg(pl.col("rows_in").sum().alias("rows"))
             .with_columns(outcome=pl.lit("in"), reason=pl.lit(None, pl.String))]
    for name, frame in tables.items():
        if name == "identifiers" or frame.is_empty():  # identifiers are derived from customers
            continue
        parts.append(frame.group_by("source", pl.col(SOURCE_FILE).alias("file")).agg(rows=pl.len())
                     .with_columns(table=pl.lit(name), outcome=pl.lit("clean"), reason=pl.lit(None, pl.String)))
    parts.append(quarantine.group_by(*_KEYS, "reason").agg(rows=pl.len()).with_columns(outcome=pl.lit("quarantined")))
    if not non_product.is_empty():
        parts.append(non_product.group_by("source", pl.col(SOURCE_FILE).alias("file"), "reason")
                     .agg(rows=pl.len()).with_columns(table=pl.lit("orders"), outcome=pl.lit("separated")))
    order = {o: i for i, o in enumerate(OUTCOMES)}
    return (pl.concat([p.select(list(schema)).cast(schema) for p in parts])
            .sort(pl.col("source"), pl.col("table"), pl.col("file"),
                  pl.col("outcome").replace_strict(order, return_dtype=pl.Int8), pl.col("reason"),
                  nulls_last=False))


def accounting_summary(accounting: pl.DataFrame) -> pl.DataFrame:
    """One row per source, table and file: ``rows_in, rows_clean, rows_quarantined, rows_separated`` and
    ``balanced`` (``rows_in`` equals the other three added up).

    Examples
    --------
    >>> acc = pl.DataFrame({"source": "pos", "table": "orders", "file": "pos.csv",
    ...                     "outcome": ["in", "clean", "quarantined"], "reason": [None, None, "exact_duplicate"],
    ...                     "rows": [10, 8, 2]})
    >>> accounting_summary(acc).row(0)
    ('pos', 'orders', 'pos.csv', 10, 8, 2, 0, True)
    """
    sums = [pl.col("rows").filter(pl.col("outcome") == o).sum().alias(f"rows_{o}") for o in OUTCOMES]
    return (accounting.group_by(*_KEYS, maintain_order=True).agg(sums)
            .with_columns(pl.col(f"rows_{o}").cast(pl.Int64) for o in OUTCOMES)
            .with_columns(balanced=pl.col("rows_in") == pl.col("rows_clean") + pl.col("rows_quarantined")
                          + pl.col("rows_separated")))


@dataclass(frozen=True)
class CleanResult:
    """What :func:`clean` returns.

    ``tables``: the clean canonical tables plus ``identifiers`` (normalized values, one row per source
    record and identifier); ``quarantine``: :data:`~persona_kit.schema.QUARANTINE_COLUMNS`, step 01's rows
    and this step's; ``non_product``: separated order lines with ``reason`` and ``message``;
    ``accounting``: :func:`row_accounting`; ``changes``: rows changed and one before → after example per
    source, column and standardization rule (values not masked).
    """

    tables: dict[str, pl.DataFrame]
    quarantine: pl.DataFrame
    non_product: pl.DataFrame
    accounting: pl.DataFrame
    changes: pl.DataFrame

    def summary(self) -> dict[str, int]:
        """Key numbers: rows in, clean, quarantined, separated, and what each rule did."""
        totals = accounting_summary(self.accounting).select(pl.col("^rows_.*$").sum()).row(0, named=True)
        reasons = dict(self.quarantine.group_by("reason").len().iter_rows())
        orders = self.tables.get("orders", pl.DataFrame())
        count = {c: int(orders.get_column(c).sum()) if c in orders.columns else 0
                 for c in ("netted", "outlier", "zero_amount")}
        return {"rows_in": totals["rows_in"], "rows_clean": totals["rows_clean"],
                "quarantined": totals["rows_quarantined"], "separated": totals["rows_separated"],
                "duplicates": reasons.get("exact_duplicate", 0) + reasons.get("near_duplicate", 0),
                "repeated_records": reasons.get("repeated_record", 0),
                "negative_amounts": reasons.get("negative_amount", 0),
                "netted_lines": count["netted"], "outliers": count["outlier"],
                "zero_amount_lines": count["zero_amount"],
                "identifier_rows": self.tables["identifiers"].height if "identifiers" in self.tables else 0}


def _to_quarantine(loaded: pl.DataFrame, table: str, reason: pl.Expr, message: pl.Expr,
                   column: pl.Expr) -> pl.DataFrame:
    content = [c for c in loaded.columns if c not in (*_LINEAGE, _I, "reason", "message", "column")]
    return loaded.select(
        "source", pl.lit(table).alias("table"), pl.col(SOURCE_FILE).alias("file"),
        pl.col(SOURCE_ROW).cast(pl.Int64).alias("row"), column.cast(pl.String).alias("column"),
        reason.alias("reason"), message.alias("message"),
        pl.struct(pl.col(content).cast(pl.String)).struct.json_encode().alias("record"))


def _routed(frame: pl.DataFrame, std: pl.DataFrame, table: str, *, country_code: str,
            numbered_by_loader: set[str], plain_money: bool) -> tuple[pl.DataFrame, pl.Series]:
    """Quarantine rows of one table, and the mask of rows that stay. ``plain_money``: ``std`` has the money
    of :func:`mark_duplicates`' standardization (no factors, 4 decimals), so it need not standardize again."""
    compared, std_compared = frame, std
    if "line_no" in frame.columns:  # line numbers the loader assigned say nothing about a line
        own = pl.when(~pl.col(SOURCE_FILE).is_in(sorted(numbered_by_loader))).then(pl.col("line_no"))
        compared, std_compared = frame.with_columns(line_no=own), std.with_columns(line_no=own)
    marks = mark_duplicates(compared, ignore=_LINEAGE, country_code=country_code,
                            standardized=std_compared if plain_money else None)
    reason = marks.get_column("duplicate")
    if table == "orders" and {"amount", "quantity", "unit_price"} <= set(std.columns):
        bad = (std.get_column("amount") < 0) & (std.get_column("quantity") > 0) & (std.get_column("unit_price") > 0)
        reason = pl.select(pl.when(bad.fill_null(False)).then(pl.lit("negative_amount")).otherwise(reason)).to_series()
    of = marks.get_column("duplicate_of")
    if table == "customers":  # copies of a customer record, exact or not, are one repeated record
        key = ["source", "source_customer_id", *[c for c in ID_TYPES if c in std.columns]]
        first = std.with_row_index(_I).select(pl.col(SOURCE_ROW), kept=pl.col(_I).min().over(key)).select(
            of=pl.col(SOURCE_ROW).gather(pl.col("kept")),
            repeated=pl.col("kept") != pl.int_range(pl.len(), dtype=pl.UInt32))
        repeated = first.get_column("repeated") | reason.is_not_null()
        reason = pl.select(pl.when(repeated).then(pl.lit("repeated_record")).otherwise(reason)).to_series()
        of = pl.select(pl.when(repeated).then(first.get_column("of"))).to_series()
    out = reason.is_not_null()
    reason, of = reason.filter(out), of.filter(out)
    tagged = frame.filter(out).with_columns(
        reason=reason, column=pl.when(reason == "negative_amount").then(pl.lit("amount")),
        message=reason.replace_strict(REASONS, default=None, return_dtype=pl.String)
        + pl.when(of.is_not_null()).then(pl.format(" (row {}, kept)", of)).otherwise(pl.lit("")))
    return _to_quarantine(tagged, table, pl.col("reason"), pl.col("message"), pl.col("column")), ~out


def clean(loaded: LoadedSources, *, country_code: str = "86", money_factors: Mapping[str, float] | None = None,
          money_decimals: int = 4, timezone: str | None = None,
          non_product_codes: Iterable[str] = NON_PRODUCT_CODES, statuses: Sequence[str] = REVERSAL_STATUSES,
          outlier_by: str | None = "category", outlier_k: float = 3.5, min_group: int = 20,
          dates: bool = True, release: bool = False) -> CleanResult:
    """Clean every table of a run: standardize, quarantine, separate, net, flag — and account for each row.

    Parameters
    ----------
    loaded
        The validated sources (:func:`persona_kit.schema.load_sources`, or step 01's artifacts).
    country_code, money_factors, money_decimals, timezone
        See :func:`standardize`.
    non_product_codes, statuses
        See :func:`split_non_product` and :func:`net_cancellations`.
    outlier_by, outlier_k, min_group
        See :func:`flag_outliers`; orders without an ``outlier_by`` column form one group. Order lines
        missing a category or product name get them from the ``products`` table by ``product_id``.
    dates
        Add :func:`date_changes` (reads the raw files again) to ``changes``.
    release
        Take each table out of ``loaded.tables`` once it is cleaned, so the loaded and the clean copy of
        a table are not held together (lower peak memory); for callers done with ``loaded`` afterwards.

    Examples
    --------
    >>> result = clean(schema.load_sources("data/sample/maps"))  # doctest: +SKIP
    >>> accounting_summary(result.accounting)["balanced"].all()  # doctest: +SKIP
    True
    >>> netted_purchases(result.tables["orders"])  # spend customers kept  # doctest: +SKIP

    Notes
    -----
    Duplicates are found per table by :func:`mark_duplicates`, ignoring file positions; an order's
    ``line_no`` is compared when the source file has one and ignored when the loader numbered the lines
    (its map has no ``line_no`` column), so a line exported twice is caught either way while two real
    lines of the same item on one receipt are not.

    Returns
    -------
    CleanResult
        Orders carry ``net_quantity``, ``net_amount``, ``netted``, ``outlier``, ``outlier_score`` and
        ``zero_amount``; :func:`netted_purchases` / :func:`reference_purchases` give the two purchase views.
    """
    tables, quarantined, changes, non_product = {}, [loaded.quarantine.select(QUARANTINE_COLUMNS)], [], None
    dated = date_changes(loaded) if dates else None  # first, while the clean tables do not take memory yet
    options = dict(country_code=country_code, money_factors=money_factors, money_decimals=money_decimals,
                   timezone=timezone)
    products = (standardize(loaded.tables["products"], **options)
                if "products" in loaded.tables else None)
    numbered_by_loader = {m.file.name for m in loaded.maps if m.table == "orders" and "line_no" not in m.targets}
    for name in list(loaded.tables):
        frame = loaded.tables.pop(name) if release else loaded.tables[name]
        std = products if name == "products" else standardize(frame, **options)
        changes.append(standardization_changes(frame, std, table=name))
        rows, keep = _routed(frame, std, name, country_code=country_code, numbered_by_loader=numbered_by_loader,
                             plain_money=not money_factors and money_decimals == 4)
        quarantined.append(rows)
        std = std if keep.all() else std.filter(keep)
        if name == "orders":
            std, non_product = split_non_product(std, codes=non_product_codes, statuses=statuses)
            std = _with_products(std, products)
            by = outlier_by if outlier_by and outlier_by in std.columns else None
            std = flag_outliers(net_cancellations(std, statuses=statuses), by=by, k=outlier_k, min_group=min_group)
            std = std.with_columns(zero_amount=((pl.col("amount") == 0) & (pl.col("quantity") > 0)).fill_null(False))
        tables[name] = std
        del frame, std, rows, keep  # nothing of this table but its clean copy is held from here on
    if "customers" in tables:
        derived = identifiers_from(tables["customers"])
        given = tables.get("identifiers")
        tables["identifiers"] = derived if given is None else pl.concat(
            [_normalized_identifiers(given, country_code).select(derived.columns), derived]).unique(maintain_order=True)
    if dated is not None:
        changes.append(dated)
    non_product = non_product if non_product is not None else pl.DataFrame(
        schema={"source": pl.String, SOURCE_FILE: pl.String, SOURCE_ROW: pl.Int64, "reason": pl.String})
    quarantine = pl.concat(quarantined, how="vertical_relaxed")
    return CleanResult(tables, quarantine, non_product,
                       row_accounting(loaded.accounting, tables, quarantine, non_product),
                       pl.concat(changes, how="vertical_relaxed"))


def _with_products(orders: pl.DataFrame, products: pl.DataFrame | None) -> pl.DataFrame:
    fill = [c for c in ("category", "product_name") if products is not None and c in products.columns]
    if not fill or "product_id" not in orders.columns:
        return orders
    lookup = products.select("product_id", *[pl.col(c).alias(f"__{c}") for c in fill]).unique("product_id", keep="first")
    joined = orders.join(lookup, on="product_id", how="left", maintain_order="left")
    return joined.with_columns(pl.coalesce(c, f"__{c}").alias(c) if c in orders.columns else pl.col(f"__{c}").alias(c)
                               for c in fill).drop(f"__{c}" for c in fill)


def _normalized_identifiers(identifiers: pl.DataFrame, country_code: str) -> pl.DataFrame:
    return identifiers.with_columns(_identifier_value(country_code)).filter(pl.col("id_value").is_not_null())


# --- for the report ----------------------------------------------------------------------------------------

def sources_from_artifacts(load: Callable[[str], pl.DataFrame], maps: Iterable[ColumnMap]) -> LoadedSources:
    """Step 01's :class:`LoadedSources` rebuilt from its artifacts.

    ``load(name)`` reads one artifact of step 01 (``lambda name: ctx.load("01_data_quality", name)``);
    of ``maps``, those step 01's accounting names are kept (they tell which files numbered their lines).
    """
    accounting = load("accounting")
    used = set(accounting.get_column("map"))
    return LoadedSources({t: load(t) for t in TABLES if t in set(accounting.get_column("table"))},
                         load("quarantine"), accounting, [m for m in maps if m.path.name in used])


def masked_changes(changes: pl.DataFrame) -> pl.DataFrame:
    """``changes`` with the examples of PII columns masked (:func:`persona_kit.privacy.mask_values`).

    >>> c = pl.DataFrame({"column": ["phone", "city"], "before": ["138 0013 8000", " 上海"],
    ...                   "after": ["+8613800138000", "上海"]})
    >>> masked_changes(c).rows()
    [('phone', '138****8000', '+86138****8000'), ('city', ' 上海', '上海')]
    """
    rows = []
    for row in changes.iter_rows(named=True):
        if row["column"] in PII_COLUMNS:
            row["before"], row["after"] = mask_values(pl.Series([row["before"], row["after"]], dtype=pl.String),
                                                      mask_kind(row["column"])).to_list()
        rows.append(row)
    return pl.DataFrame(rows, schema=changes.schema)


def spend_views(orders: pl.DataFrame) -> pl.DataFrame:
    """Spend per source under the two views: ``reference`` (:func:`reference_purchases`) and ``netted``
    (:func:`netted_purchases`); columns ``source, view, lines, spend``.

    >>> import datetime as dt
    >>> o = net_cancellations(pl.DataFrame({
    ...     "source": "uk", "source_customer_id": "1", "product_id": "p", "unit_price": 2.0,
    ...     "order_ts": [dt.datetime(2011, 1, 1), dt.datetime(2011, 1, 2)], "status": ["paid", "cancelled"],
    ...     "quantity": [5.0, -5.0], "amount": [10.0, -10.0]}))
    >>> spend_views(o).rows()  # cancelled in full: no netted spend
    [('uk', 'reference', 1, 10.0), ('uk', 'netted', 0, 0.0)]
    """
    views = {"reference": reference_purchases(orders), "netted": netted_purchases(orders)}
    sums = pl.concat([frame.group_by("source").agg(lines=pl.len(), spend=pl.col("amount").sum().round(2))
                      .with_columns(view=pl.lit(view)) for view, frame in views.items()])
    every = orders.select(pl.col("source").unique()).join(pl.DataFrame({"view": list(views)}), how="cross")
    return (every.join(sums, on=["source", "view"], how="left")
            .with_columns(pl.col("lines").fill_null(0).cast(pl.Int64), pl.col("spend").fill_null(0.0))
            .select("source", "view", "lines", "spend").sort("source", "view", descending=[False, True]))


def outlier_summary(orders: pl.DataFrame, *, by: str | None = "category") -> pl.DataFrame:
    """Per ``by`` group: lines scored by :func:`flag_outliers`, outliers, their share and the median amount.

    >>> o = flag_outliers(pl.DataFrame({"category": ["a"] * 5, "amount": [10.0, 12.0, 11.0, 9.0, 900.0]}),
    ...                   min_group=5)
    >>> outlier_summary(o).rows()
    [('a', 5, 1, 11.0, 0.2)]
    """
    key = by if by and by in orders.columns else "group"
    frame = orders if key == by else orders.with_columns(group=pl.lit("-"))
    return (frame.filter(pl.col("outlier_score").is_not_null()).group_by(key)
            .agg(scored=pl.len(), outliers=pl.col("outlier").sum(), median_amount=pl.col("amount").median())
            .with_columns(share=pl.col("outliers") / pl.col("scored"))
            .sort("outliers", "scored", key, descending=[True, True, False]))
