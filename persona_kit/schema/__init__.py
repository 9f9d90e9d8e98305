"""Canonical tables, YAML column maps from a user's export to them, and validation into a quarantine.

A *column map* is a small YAML file per (raw file, canonical table)::

    source: tmall                  # source system; fills the canonical `source` column
    table: orders                  # canonical table this file feeds
    file: ../raw/tmall_orders.csv  # path relative to the map file
    encoding: auto                 # auto | utf-8 | utf-8-sig | gb18030
    timezone: Asia/Shanghai        # zone of naive timestamps in the file
    columns:                       # source column -> canonical column (or a list of them)
      订单编号: order_id
      买家会员名: source_customer_id
    values:                        # optional recoding of values, per canonical column; a key
      status: {交易成功: paid, 交易关闭: cancelled}   # "re:<pattern>" matches by regex, first match wins
    constants:                     # optional canonical columns with one fixed value
      channel: tmall
    formats:                       # optional strptime formats per timestamp/date column, tried in order
      order_ts: ["%Y-%m-%d %H:%M:%S"]
    dayfirst: true                 # optional: read 05/01/2024 (also 05.01.2024, 05-01-2024) as 5 January;
                                   # false reads it month first; absent, such dates are not accepted

Validation never fails a run for a bad row: each row either passes, typed, into the canonical table or
goes to the quarantine with a reason code and a sentence. Whole-file problems (unreadable, empty,
missing required column) raise a one-line :class:`~persona_kit.errors.InputError`.
"""

from persona_kit.schema.maps import DEFAULT_FORMATS, ColumnMap, apply_map, load_map, load_maps
from persona_kit.schema.tables import (
    EVENT_TYPES,
    ID_TYPES,
    ORDER_STATUSES,
    PII_COLUMNS,
    SOURCE_FILE,
    SOURCE_ROW,
    TABLES,
    Column,
    identifiers_from,
)
from persona_kit.schema.validation import (
    QUARANTINE_COLUMNS,
    REASONS,
    LoadedSources,
    Validated,
    load_frame,
    load_sources,
    validate,
)

__all__ = [
    "Column", "TABLES", "PII_COLUMNS", "ID_TYPES", "EVENT_TYPES", "ORDER_STATUSES", "REASONS", "DEFAULT_FORMATS",
    "SOURCE_FILE", "SOURCE_ROW", "ColumnMap", "Validated", "LoadedSources", "load_map", "load_maps", "apply_map",
    "validate", "load_frame", "load_sources", "identifiers_from", "QUARANTINE_COLUMNS",
]
