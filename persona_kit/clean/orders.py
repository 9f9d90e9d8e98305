"""Order lines in step 02: non-product lines, cancellations netted, outliers flagged, two purchase views."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import narwhals as nw
import polars as pl

from persona_kit.clean.standardize import _I
from persona_kit.errors import InputError, check_columns
from persona_kit.frames import as_polars, collect_like, lazy_input

__all__ = ["NON_PRODUCT_CODES", "NON_PRODUCT_REASONS", "REVERSAL_STATUSES", "split_non_product",
           "net_cancellations", "flag_outliers", "reference_purchases", "netted_purchases"]

NON_PRODUCT_CODES = ("POST", "D", "M", "C2", "DOT", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS", "S", "B")
REVERSAL_STATUSES = ("cancelled", "refunded")
NON_PRODUCT_REASONS = {
    "fee_code": "a fee, postage or adjustment code, not a product",
    "stock_adjustment": "a stock adjustment (negative quantity at zero price), not a purchase",
}

def _non_product_reason(codes: Iterable[str], statuses: Sequence[str]) -> pl.Expr:
    wanted = sorted({str(c).strip().upper() for c in codes})
    fee = pl.col("product_id").cast(pl.String).str.strip_chars().str.to_uppercase().is_in(wanted)
    adjustment = (~pl.col("status").is_in(list(statuses)) & (pl.col("quantity") < 0) & (pl.col("unit_price") == 0))
    return (pl.when(fee).then(pl.lit("fee_code")).when(adjustment.fill_null(False))
            .then(pl.lit("stock_adjustment")))


def split_non_product(orders: Any, *, codes: Iterable[str] = NON_PRODUCT_CODES,
                      statuses: Sequence[str] = REVERSAL_STATUSES) -> tuple[Any, Any]:
    """Split order lines into product lines and non-product lines (fees, postage, adjustments).

    A line is non-product when its ``product_id`` (trimmed, upper case) is one of ``codes`` (reason
    ``fee_code``) or when it takes stock away at zero price outside a cancellation (negative quantity,
    ``unit_price`` 0, status not in ``statuses``: reason ``stock_adjustment``).

    Returns
    -------
    (product lines, non-product lines)
        The second adds ``reason`` and ``message``. Same frame kind as ``orders``.

    Examples
    --------
    >>> o = pl.DataFrame({"product_id": ["85123A", "POST", "post ", "22139"], "status": ["paid"] * 4,
    ...                   "quantity": [6.0, 1.0, 1.0, -12.0], "unit_price": [2.55, 18.0, 18.0, 0.0]})
    >>> goods, fees = split_non_product(o)
    >>> goods.height, fees["reason"].to_list()
    (1, ['fee_code', 'fee_code', 'stock_adjustment'])
    """
    polars, back = as_polars(orders)
    check_columns(polars.columns, ["product_id", "status", "quantity", "unit_price"], where="orders")
    if isinstance(codes, str):
        raise InputError(f"codes must be a list of product codes, got the string {codes!r}")
    marked = polars.with_columns(reason=_non_product_reason(codes, statuses))
    separated = marked.filter(pl.col("reason").is_not_null()).with_columns(
        message=pl.col("reason").replace_strict(NON_PRODUCT_REASONS, return_dtype=pl.String))
    return back(marked.filter(pl.col("reason").is_null()).drop("reason")), back(separated)


def _reversals(statuses: Sequence[str]) -> tuple[pl.Expr, pl.Expr]:
    cancelled = pl.col("status").is_in(list(statuses))
    return cancelled & (pl.col("quantity") < 0), cancelled & (pl.col("quantity") >= 0)


def net_cancellations(orders: Any, *, by: Sequence[str] = ("source", "source_customer_id", "product_id"),
                      statuses: Sequence[str] = REVERSAL_STATUSES) -> Any:
    """Take each cancellation off the purchase it cancels: adds ``net_quantity``, ``net_amount``, ``netted``.

    Two conventions are handled. A *void line* (status in ``statuses``, quantity ≥ 0 — the sample's
    交易关闭 / 已退款 lines) is itself the cancelled purchase: it nets to 0. A *reversal line* (status in
    ``statuses``, quantity < 0 — Online Retail's "C" invoices) cancels earlier paid lines of the same
    ``by`` key, the most recent first, at or before its own time; partial cancellations reduce the
    purchase line, and units that find no earlier purchase (bought before the data starts) stay on the
    reversal line as a negative ``net_quantity``. ``net_amount`` is ``amount`` scaled by
    ``net_quantity / quantity``. Recorded columns are never changed, so netting twice gives the same.

    Examples
    --------
    >>> import datetime as dt
    >>> ts = [dt.datetime(2011, 1, 18, 10, m) for m in (1, 5, 17)]
    >>> o = pl.DataFrame({"source": "uk", "source_customer_id": "12346", "product_id": "23166",
    ...                   "order_ts": ts, "status": ["paid", "paid", "cancelled"],
    ...                   "quantity": [10.0, 74215.0, -74219.0], "amount": [10.4, 77183.6, -77187.76]})
    >>> net_cancellations(o).select("net_quantity", "netted").rows()
    [(6.0, True), (0.0, True), (0.0, True)]
    """
    polars, back = as_polars(orders)
    check_columns(polars.columns, [*by, "order_ts", "status", "quantity", "amount"], where="orders")
    reversal, void = _reversals(statuses)
    order = ["order_ts"] + [c for c in ("order_id", "line_no") if c in polars.columns]
    frame = polars.with_row_index(_I).with_columns(rev=reversal.fill_null(False), void=void.fill_null(False),
                                                   paid=(pl.col("status") == "paid") & (pl.col("quantity") > 0))
    keyed = pl.all_horizontal(pl.col(c).is_not_null() for c in by)
    involved = (frame.filter(keyed & pl.col("rev").any().over(by))
                .sort([*by, *order, "rev"], nulls_last=True)
                .select(_I, "rev", "paid", "quantity", group=pl.struct(by).rank("dense")))
    removed: dict[int, float] = {}
    stack: list[list[float]] = []
    last_group = None
    for i, rev, paid, qty, group in involved.iter_rows():
        if group != last_group:
            stack, last_group = [], group
        if paid:
            stack.append([i, qty])
        elif rev:
            need = -qty
            while need > 1e-9 and stack:
                take = min(stack[-1][1], need)
                removed[stack[-1][0]] = removed.get(stack[-1][0], 0.0) + take
                removed[i] = removed.get(i, 0.0) - take
                stack[-1][1] -= take
                need -= take
                if stack[-1][1] <= 1e-9:
                    stack.pop()
    taken = pl.DataFrame({_I: list(removed), "taken": list(removed.values())},
                         schema={_I: pl.UInt32, "taken": pl.Float64})
    netted = frame.join(taken, on=_I, how="left", maintain_order="left").with_columns(
        net_quantity=pl.when(pl.col("void")).then(0.0)
        .otherwise(pl.col("quantity") - pl.col("taken").fill_null(0.0)))
    share = pl.when(pl.col("quantity") != 0).then(pl.col("net_quantity") / pl.col("quantity")).otherwise(1.0)
    out = netted.with_columns(net_amount=(pl.col("amount") * share).round(6),
                              netted=pl.col("void") | pl.col("taken").fill_null(0.0).ne(0.0))
    return back(out.drop(_I, "rev", "void", "paid", "taken"))


def flag_outliers(orders: Any, *, by: str | None = "category", value_col: str = "amount", k: float = 3.5,
                  min_group: int = 20) -> Any:
    """Flag (never remove) unusual line amounts with a robust rule: adds ``outlier`` and ``outlier_score``.

    Within each ``by`` group (one group when ``by`` is None; a null category is a group of its own), the
    score of a positive value is the modified z-score of its logarithm,
    ``0.6745 · (ln x − median) / MAD`` (Iglewicz & Hoaglin), and ``|score| > k`` is an outlier. Values ≤ 0
    and groups with fewer than ``min_group`` positive values or a MAD of 0 are not scored.

    Examples
    --------
    >>> o = pl.DataFrame({"category": ["a"] * 5, "amount": [10.0, 12.0, 11.0, 9.0, 900.0]})
    >>> flag_outliers(o, min_group=5)["outlier"].to_list()
    [False, False, False, False, True]
    """
    polars, back = as_polars(orders)
    check_columns(polars.columns, [value_col] + ([by] if by else []), where="orders")
    if not isinstance(k, int | float) or not k > 0:
        raise InputError(f"k must be a positive number of MADs, got {k!r}")
    if not isinstance(min_group, int) or min_group < 3:
        raise InputError(f"min_group must be a whole number >= 3, got {min_group!r}")
    group = [by] if by else [pl.lit(0)]
    logged = pl.when(pl.col(value_col) > 0).then(pl.col(value_col).log())
    median = logged.median().over(group)
    mad = (logged - median).abs().median().over(group)
    enough = (logged.count().over(group) >= min_group) & (mad > 0)
    score = pl.when(enough).then(0.6745 * (logged - median) / mad)
    return back(polars.with_columns(outlier_score=score.round(4))
                .with_columns(outlier=(pl.col("outlier_score").abs() > k).fill_null(False)))


def reference_purchases(orders: Any) -> Any:
    """The textbook clean purchases: customer present, ``status == "paid"``, quantity > 0, unit price > 0.

    Cancellation lines are dropped, **not netted**: a purchase cancelled in full still counts (on Online
    Retail this rule gives the published 397,884 lines, £8,911,407.90 and 4,338 customers, including two
    huge orders that were cancelled the same day). Use :func:`netted_purchases` for what customers kept.

    Examples
    --------
    >>> o = pl.DataFrame({"source_customer_id": ["1", None, "1"], "status": ["paid", "paid", "cancelled"],
    ...                   "quantity": [2.0, 1.0, -2.0], "unit_price": [3.0, 3.0, 3.0]})
    >>> reference_purchases(o).height
    1
    """
    lf, eager = lazy_input(orders, ["source_customer_id", "status", "quantity", "unit_price"], "orders")
    return collect_like(lf.filter(_is_reference_purchase()), eager)


def _is_reference_purchase() -> nw.Expr:
    return (~nw.col("source_customer_id").is_null() & (nw.col("status") == "paid") & (nw.col("quantity") > 0)
            & (nw.col("unit_price") > 0))


def netted_purchases(orders: Any) -> Any:
    """What customers kept: paid lines of known customers still holding units after netting.

    Needs :func:`net_cancellations` (or :func:`clean`) output. ``quantity`` and ``amount`` are replaced by
    ``net_quantity`` and ``net_amount`` (so RFM and features read netted spend); lines cancelled in full,
    void and reversal lines are left out. Compare :func:`reference_purchases`.

    Examples
    --------
    >>> import datetime as dt
    >>> o = pl.DataFrame({"source": "uk", "source_customer_id": "1", "product_id": "p", "unit_price": 2.0,
    ...                   "order_ts": [dt.datetime(2011, 1, 1), dt.datetime(2011, 1, 2)],
    ...                   "status": ["paid", "cancelled"], "quantity": [5.0, -2.0], "amount": [10.0, -4.0]})
    >>> netted_purchases(net_cancellations(o)).select("quantity", "amount").rows()
    [(3.0, 6.0)]
    """
    lf, eager = lazy_input(orders, [], "orders")
    columns = lf.collect_schema().names()
    if not {"net_quantity", "net_amount"} <= set(columns):
        raise InputError("netted_purchases needs net_quantity and net_amount; run net_cancellations(orders) "
                         "first, or use the orders of clean()")
    check_columns(columns, ["source_customer_id", "status", "quantity", "unit_price"], where="orders")
    kept = lf.filter(_is_reference_purchase() & (nw.col("net_quantity") > 0))
    return collect_like(kept.with_columns(quantity=nw.col("net_quantity"), amount=nw.col("net_amount"))
                        .drop("net_quantity", "net_amount", *(["netted"] if "netted" in columns else [])), eager)

