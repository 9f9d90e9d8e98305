"""The canonical tables: their columns, types, vocabularies and PII flags (ARCHITECTURE §2)."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

__all__ = ["Column", "TABLES", "PII_COLUMNS", "ID_TYPES", "EVENT_TYPES", "ORDER_STATUSES", "SOURCE_FILE",
           "SOURCE_ROW", "identifiers_from"]

EVENT_TYPES = ("exposure", "view", "click", "search", "fav", "cart", "buy", "share", "review")
ORDER_STATUSES = ("paid", "cancelled", "refunded")
ID_TYPES = ("phone", "email", "member_id", "device_id", "wechat_openid", "wechat_unionid", "taobao_nick")


@dataclass(frozen=True)
class Column:
    """One canonical column: its type, whether a row needs it, and what values it may take.

    ``dtype`` is one of ``str``, ``int``, ``float``, ``bool``, ``date``, ``datetime``.
    """

    name: str
    dtype: str = "str"
    required: bool = False
    pii: bool = False
    choices: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None


def _cols(*columns: Column) -> dict[str, Column]:
    return {c.name: c for c in columns}


_SOURCE_KEY = (Column("source", required=True), Column("source_customer_id", required=True))

TABLES: dict[str, dict[str, Column]] = {
    "customers": _cols(
        *_SOURCE_KEY,
        Column("name", pii=True), Column("gender", choices=("female", "male", "unknown")),
        Column("birth_date", "date"), Column("city"), Column("province"), Column("country"),
        Column("address", pii=True), Column("register_ts", "datetime"), Column("member_level"),
        Column("consent_marketing", "bool"), Column("store_id"),
        Column("phone", pii=True), Column("email", pii=True), Column("member_id"),
        Column("device_id"), Column("wechat_openid", pii=True), Column("wechat_unionid", pii=True),
        Column("taobao_nick", pii=True),
    ),
    "identifiers": _cols(
        *_SOURCE_KEY, Column("id_type", required=True, choices=ID_TYPES),
        Column("id_value", required=True, pii=True),
    ),
    "orders": _cols(
        Column("order_id", required=True), Column("line_no", "int", required=True, min_value=1),
        Column("source", required=True), Column("source_customer_id"),
        Column("order_ts", "datetime", required=True), Column("product_id"), Column("product_name"),
        Column("category"), Column("quantity", "float"), Column("unit_price", "float", min_value=0),
        Column("amount", "float"), Column("discount", "float", min_value=0), Column("channel"),
        Column("store_id"), Column("country"),
        Column("status", required=True, choices=ORDER_STATUSES),
    ),
    "events": _cols(
        *_SOURCE_KEY, Column("event_ts", "datetime", required=True),
        Column("event_type", required=True, choices=EVENT_TYPES), Column("item_id"), Column("category"),
        Column("brand"), Column("query"), Column("channel"), Column("session_id"),
        Column("dwell_s", "float", min_value=0),
    ),
    "reviews": _cols(
        *_SOURCE_KEY, Column("review_ts", "datetime", required=True), Column("order_id"),
        Column("product_id"), Column("rating", "int", min_value=1, max_value=5), Column("text"),
        Column("lang", choices=("zh", "en")),
    ),
    "products": _cols(
        Column("product_id", required=True), Column("product_name"), Column("category"),
        Column("category_en"), Column("category_path"), Column("brand"),
        Column("list_price", "float", min_value=0),
    ),
    "campaigns": _cols(
        Column("campaign_id", required=True), *_SOURCE_KEY, Column("arm", required=True),
        Column("assigned_ts", "datetime"), Column("channel"), Column("cost", "float", min_value=0),
    ),
}

PII_COLUMNS = frozenset(c.name for cols in TABLES.values() for c in cols.values() if c.pii)

SOURCE_FILE, SOURCE_ROW = "source_file", "source_row"


def identifiers_from(customers: pl.DataFrame) -> pl.DataFrame:
    """Melt the identifier columns of a customers table into the canonical identifiers table.

    >>> c = pl.DataFrame({"source": ["pos"], "source_customer_id": ["c1"], "phone": ["138"], "email": [None]})
    >>> identifiers_from(c).rows()
    [('pos', 'c1', 'phone', '138')]
    """
    present = [c for c in ID_TYPES if c in customers.columns]
    return (customers.select("source", "source_customer_id", *present)
            .unpivot(present, index=["source", "source_customer_id"], variable_name="id_type",
                     value_name="id_value")
            .filter(pl.col("id_value").is_not_null() & (pl.col("id_value").str.strip_chars() != ""))
            .unique(maintain_order=True))
