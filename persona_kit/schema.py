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

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import narwhals as nw
import pandera.polars as pa
import polars as pl
import yaml

from persona_kit.errors import InputError, check_choice, check_columns, did_you_mean
from persona_kit.io import ENCODINGS, ROW, read_raw

__all__ = [
    "Column", "TABLES", "PII_COLUMNS", "ID_TYPES", "EVENT_TYPES", "ORDER_STATUSES", "REASONS",
    "ColumnMap", "Validated", "LoadedSources", "load_map", "load_maps", "apply_map", "validate",
    "load_frame", "load_sources", "identifiers_from", "QUARANTINE_COLUMNS",
]

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

# Reason codes of the quarantine, in the order a row's first problem is chosen; each has a sentence.
REASONS = {
    "unparseable_datetime": "not a date-time in any accepted format",
    "unparseable_date": "not a date in any accepted format",
    "unparseable_float": "not a number",
    "unparseable_int": "not a whole number",
    "unparseable_bool": "not a yes/no value",
    "missing_required": "a required value is empty",
    "invalid_choice": "a value outside the allowed vocabulary",
    "out_of_range": "a number outside the allowed range",
}
DEFAULT_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y%m%d", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%.f%z",
)
_MAP_KEYS = ("source", "table", "file", "columns", "encoding", "timezone", "values", "constants",
             "formats", "sheet", "separator", "dayfirst")
_FULL_WIDTH = list("０１２３４５６７８９．－＋，")
_HALF_WIDTH = list("0123456789.-+,")
_TRUE = ("true", "t", "yes", "y", "1", "是", "同意", "已同意")
_FALSE = ("false", "f", "no", "n", "0", "否", "不同意", "未同意")
SOURCE_FILE, SOURCE_ROW = "source_file", "source_row"


@dataclass(frozen=True)
class ColumnMap:
    """A parsed column map: how one raw file feeds one canonical table (see the module docstring)."""

    path: Path
    source: str
    table: str
    file: Path
    columns: dict[str, tuple[str, ...]]
    encoding: str = "auto"
    timezone: str = "Asia/Shanghai"
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    constants: dict[str, object] = field(default_factory=dict)
    formats: dict[str, tuple[str, ...]] = field(default_factory=dict)
    sheet: str | None = None
    separator: str = ","
    dayfirst: bool | None = None

    @property
    def provides(self) -> set[str]:
        """Canonical columns this map fills (mapped, constant, or derived by the loader)."""
        derived = {"source"} | ({"line_no"} if self.table == "orders" else set())
        if self.table == "orders" and {"quantity", "unit_price"} <= set(self.targets):
            derived.add("amount")
        return set(self.targets) | set(self.constants) | derived

    @property
    def targets(self) -> list[str]:
        """Canonical columns filled from source columns, in map order."""
        return [target for targets in self.columns.values() for target in targets]


def load_map(path: str | Path) -> ColumnMap:
    """Read and check one column-map YAML file.

    Raises
    ------
    InputError
        Unknown keys, an unknown table or canonical column, a required column the map cannot fill.
    """
    path = Path(path)
    where = path.name
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        mark, problem = getattr(err, "problem_mark", None), getattr(err, "problem", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise InputError(f"cannot read the column map{at}: {problem or str(err).splitlines()[0]}",
                         file=where) from err
    if not isinstance(spec, dict):
        raise InputError("a column map must be a YAML mapping with source, table, file, columns", file=where)
    for key in spec:
        if key not in _MAP_KEYS:
            near = did_you_mean(key, _MAP_KEYS)
            raise InputError(f"unknown key {key!r}" + (f"; did you mean {near!r}?" if near else
                             f"; allowed keys: {list(_MAP_KEYS)}"), file=where)
    check_columns(list(spec), ["source", "table", "file", "columns"], where=where)
    check_choice(f"{where}: table", spec["table"], list(TABLES))
    check_choice(f"{where}: encoding", spec.get("encoding", "auto"), ENCODINGS)
    for key in ("columns", "values", "constants", "formats"):
        if not isinstance(spec.get(key) or {}, dict):
            raise InputError(f"`{key}:` must be a mapping (name: value, one per line), got a "
                             f"{type(spec[key]).__name__}", file=where)
    _check_shapes(spec, where)
    _check_timezone("timezone", spec.get("timezone", "Asia/Shanghai"), where=where)
    dayfirst = spec.get("dayfirst")
    if dayfirst is not None and not isinstance(dayfirst, bool):
        raise InputError(f"`dayfirst:` must be true or false, got {dayfirst!r}", file=where)
    canonical = TABLES[spec["table"]]
    columns = {str(k): tuple(v) if isinstance(v, list) else (str(v),) for k, v in (spec["columns"] or {}).items()}
    mapped = [t for targets in columns.values() for t in targets]
    targets = mapped + list(spec.get("constants") or {}) + list(spec.get("values") or {}) \
        + list(spec.get("formats") or {})
    for target in targets:
        if target not in canonical:
            near = did_you_mean(target, canonical)
            raise InputError(f"{target!r} is not a column of the canonical table {spec['table']!r}"
                             + (f"; did you mean {near!r}?" if near else f"; columns: {list(canonical)}"),
                             file=where)
    repeated = sorted({v for v in mapped + list(spec.get("constants") or {})
                       if (mapped + list(spec.get("constants") or {})).count(v) > 1})
    if repeated:
        raise InputError(f"several source columns map to {repeated}; keep one", file=where)
    cmap = ColumnMap(
        path=path, source=str(spec["source"]), table=spec["table"], file=(path.parent / spec["file"]),
        columns=columns, encoding=spec.get("encoding", "auto"),
        timezone=spec.get("timezone", "Asia/Shanghai"),
        values={c: {str(k): v for k, v in m.items()} for c, m in (spec.get("values") or {}).items()},
        constants=dict(spec.get("constants") or {}),
        formats=_with_dayfirst({c: (f,) if isinstance(f, str) else tuple(f)
                                for c, f in (spec.get("formats") or {}).items()}, canonical, mapped, dayfirst),
        sheet=spec.get("sheet"), separator=spec.get("separator", ","), dayfirst=dayfirst,
    )
    unfilled = [c.name for c in canonical.values() if c.required and c.name not in cmap.provides]
    if unfilled:
        raise InputError(f"no source column or constant fills the required {unfilled} of table "
                         f"{cmap.table!r}; add them under `columns:` or `constants:`", file=where)
    return cmap


def _with_dayfirst(formats: dict[str, tuple[str, ...]], canonical: dict[str, Column], mapped: list[str],
                   dayfirst: bool | None) -> dict[str, tuple[str, ...]]:
    """Add day-first (or month-first) ``05/01/2024`` patterns to every mapped date and timestamp column."""
    if dayfirst is None:
        return formats
    date = "%d{0}%m{0}%Y" if dayfirst else "%m{0}%d{0}%Y"
    extra = tuple(date.format(sep) + clock for sep in "/.-" for clock in (" %H:%M:%S", " %H:%M", ""))
    return {**formats, **{c: formats.get(c, DEFAULT_FORMATS) + extra for c in mapped
                          if canonical[c].dtype in ("date", "datetime")}}


def _check_shapes(spec: dict, where: str) -> None:
    """Raise :class:`InputError` for a map value of the wrong shape (instead of a TypeError later)."""
    if not isinstance(spec["file"], str) or not spec["file"].strip():
        raise InputError(f"`file:` must be the path of one raw file, got {spec['file']!r}", file=where)
    for column, mapping in (spec.get("values") or {}).items():
        if not isinstance(mapping, dict):
            raise InputError(f"`values: {column}:` must be a mapping (raw value: canonical value), got "
                             f"{mapping!r}", file=where)
    for column, patterns in (spec.get("formats") or {}).items():
        if not (isinstance(patterns, str) or isinstance(patterns, list)
                and all(isinstance(p, str) for p in patterns)):
            raise InputError(f"`formats: {column}:` must be a strptime pattern or a list of them, got "
                             f"{patterns!r}", file=where)
    separator = spec.get("separator", ",")
    if not isinstance(separator, str) or len(separator) != 1:
        raise InputError(f"`separator:` must be one character (',', ';' or \"\\t\" for a tab), got "
                         f"{separator!r}", file=where)


_ZONE_OFFSET = re.compile(r"(?i)(utc|gmt)?\s*[+-]\s*\d{1,2}(:?\d{2})?")
_ZONE_ALIASES = {"beijing": "Asia/Shanghai", "asia/beijing": "Asia/Shanghai", "china": "Asia/Shanghai"}


def _check_timezone(name: str, value: object, *, where: str | None = None) -> None:
    try:
        zoneinfo.ZoneInfo(str(value))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        text = str(value).strip()
        if _ZONE_OFFSET.fullmatch(text) or (text.isalpha() and text.isupper() and len(text) <= 5):
            # no near name for an offset or an abbreviation: 'UTC+8' -> 'UTC' would shift every timestamp
            raise InputError(f"{name} {value!r} is not an IANA time zone; give a zone name, not an offset or "
                             "an abbreviation (e.g. 'Asia/Shanghai' for China time, 'UTC')", file=where) from None
        near = _ZONE_ALIASES.get(text.lower()) or did_you_mean(text, zoneinfo.available_timezones())
        raise InputError(f"{name} {value!r} is not an IANA time zone" + (f"; did you mean {near!r}?" if near
                         else " (e.g. 'Asia/Shanghai', 'Europe/London', 'UTC')"), file=where) from None


def load_maps(location: str | Path | Iterable[str | Path]) -> list[ColumnMap]:
    """Load every ``*.yaml`` map in a folder (sorted by name), or the given map files."""
    if isinstance(location, str | Path):
        folder = Path(location)
        if not folder.is_dir():
            raise InputError("column-map folder not found", file=str(folder))
        paths = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
        if not paths:
            raise InputError("no column maps (*.yaml) in this folder", file=str(folder))
    else:
        paths = [Path(p) for p in location]
    return [load_map(p) for p in paths]


def apply_map(raw: pl.DataFrame, cmap: ColumnMap) -> pl.DataFrame:
    """Rename, recode and fill a raw frame into the map's canonical columns (still untyped).

    The ``__row`` position column is kept. Unmapped raw columns are dropped.
    """
    available = [c for c in raw.columns if c != ROW]
    check_columns(available, list(cmap.columns), where=cmap.file.name,
                  candidates=[c for c in available if c not in cmap.columns])
    frame = raw.select([pl.col(src).alias(dst) for src, dsts in cmap.columns.items() for dst in dsts]
                       + [pl.col(ROW)])
    frame = frame.with_columns(
        [_recode(pl.col(c).cast(pl.String), m).alias(c) for c, m in cmap.values.items() if c in frame.columns]
        + [pl.lit(v).alias(c) for c, v in cmap.constants.items()]
    )
    if "source" not in frame.columns:
        frame = frame.with_columns(source=pl.lit(cmap.source))
    if cmap.table == "orders" and "line_no" not in frame.columns:
        frame = frame.with_columns(line_no=pl.int_range(1, pl.len() + 1).over("order_id"))
    return frame


def _recode(text: pl.Expr, mapping: dict[str, object]) -> pl.Expr:
    exact = {k: v for k, v in mapping.items() if not k.startswith("re:")}
    out = text.replace(exact) if exact else text
    patterns = [(k[3:], v) for k, v in mapping.items() if k.startswith("re:")]
    if not patterns:
        return out
    chained = pl.when(text.str.contains(patterns[0][0])).then(pl.lit(patterns[0][1]))
    for pattern, value in patterns[1:]:
        chained = chained.when(text.str.contains(pattern)).then(pl.lit(value))
    return pl.when(text.is_in(list(exact))).then(out).otherwise(chained.otherwise(text))


@dataclass(frozen=True)
class Validated:
    """Rows of one canonical table that passed (typed) and the rows quarantined with a reason."""

    table: str
    valid: pl.DataFrame
    quarantine: pl.DataFrame


def validate(frame: Any, table: str, *, timezone: str = "Asia/Shanghai",
             source_timezone: str | None = None, formats: dict[str, tuple[str, ...]] | None = None,
             file: str = "frame", raw: pl.DataFrame | None = None) -> Validated:
    """Type the canonical columns of ``frame`` and split its rows into valid and quarantined.

    Parameters
    ----------
    frame
        Canonical (mapped) columns as text or already typed, plus an optional ``__row`` position.
    table
        A key of :data:`TABLES`.
    timezone
        Zone of the output timestamps; ``source_timezone`` (default: the same) is the zone of naive
        timestamps in the input.
    formats
        strptime patterns per timestamp column, tried in order (``excel`` = Excel serial days).
    file
        The file name recorded with every row (quarantine ``file``, valid ``source_file``).
    raw
        The frame as read from the file (with ``__row``); the quarantine's ``record`` holds its row as
        JSON. Default: ``frame`` itself.

    Returns
    -------
    Validated
        ``valid`` and ``quarantine`` frames, of the same kind as ``frame`` (pandas or polars).

    Examples
    --------
    >>> raw = pl.DataFrame({"product_id": ["p1", "p2", None], "list_price": ["12.5", "abc", "3"]})
    >>> out = validate(raw, "products", file="products.csv")
    >>> out.valid["list_price"].to_list(), out.quarantine["reason"].to_list()
    ([12.5], ['unparseable_float', 'missing_required'])
    """
    native = nw.from_native(frame, eager_only=True)
    if not native.implementation.is_polars():
        out = validate(native.to_polars(), table, timezone=timezone, source_timezone=source_timezone,
                       formats=formats, file=file, raw=raw)
        return Validated(table, out.valid.to_pandas(), out.quarantine.to_pandas())
    check_choice("table", table, list(TABLES))
    _check_timezone("timezone", timezone)
    _check_timezone("source_timezone", source_timezone or timezone)
    spec = {name: col for name, col in TABLES[table].items() if name in frame.columns}
    for name in spec:
        _check_scalar(frame.get_column(name), file)
    if ROW not in frame.columns:
        frame = frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
    typed, parse_problems = _coerce(frame, spec, timezone, source_timezone or timezone, formats or {})
    if table == "orders" and "amount" not in frame.columns and {"quantity", "unit_price"} <= set(spec):
        typed = typed.with_columns(amount=pl.col("quantity") * pl.col("unit_price"))
    checked = _check(typed, spec).join(parse_problems.select(ROW, "column"), on=[ROW, "column"], how="anti")
    problems = pl.concat([parse_problems, checked], how="vertical")
    first = (problems.with_columns(rank=pl.col("reason").replace_strict(list(REASONS), range(len(REASONS))))
             .sort(ROW, "rank", "column").group_by(ROW, maintain_order=True).agg(
                 pl.col("column").first(), pl.col("reason").first(),
                 pl.col("message").str.join("; ")))
    bad_rows = first.get_column(ROW)
    source = frame if raw is None else raw
    record = (source.filter(pl.col(ROW).is_in(bad_rows.implode()))
              .select(ROW, record=pl.struct([_record_value(n, d) for n, d in source.schema.items() if n != ROW])
                      .struct.json_encode()))
    quarantine = (first.join(record, on=ROW, how="left", maintain_order="left")
                  .select(pl.lit(table).alias("table"), pl.lit(file).alias("file"),
                          pl.col(ROW).alias("row"), "column", "reason", "message", "record"))
    valid = typed.filter(~pl.col(ROW).is_in(bad_rows.implode()))
    # a validated table validated again keeps its provenance columns
    if SOURCE_FILE not in frame.columns:
        valid = valid.with_columns(pl.lit(file).alias(SOURCE_FILE))
    valid = valid.rename({ROW: SOURCE_ROW}) if SOURCE_ROW not in frame.columns else valid.drop(ROW)
    return Validated(table, valid, quarantine)


def _check_scalar(column: pl.Series, file: str) -> None:
    """Raise :class:`InputError` for a list / struct column, or bytes that are not UTF-8 text."""
    if column.dtype == pl.Binary:
        try:
            column.cast(pl.String)
            return
        except pl.exceptions.ComputeError:
            pass
    elif not column.dtype.is_nested():
        return
    raise InputError(f"holds {column.dtype} values, not text, numbers or dates; map another source column "
                     "to it", file=file, column=column.name)


def _record_value(name: str, dtype: pl.DataType) -> pl.Expr:
    """A raw column as the quarantine's JSON record shows it: text, lists and structs as JSON, bytes as hex."""
    if dtype.is_nested():
        return pl.col(name)
    return pl.col(name).bin.encode("hex") if dtype == pl.Binary else pl.col(name).cast(pl.String)


def _coerce(frame: pl.DataFrame, spec: dict[str, Column], tz_out: str, tz_in: str,
            formats: dict[str, tuple[str, ...]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    typed = frame.with_columns([_typed(pl.col(n), frame.schema[n], c, tz_out, tz_in, formats.get(n))
                                .alias(n) for n, c in spec.items()])
    problems = []
    for name, col in spec.items():
        if col.dtype == "str":
            continue
        raw = frame.get_column(name)
        blank = raw.cast(pl.String).str.strip_chars().eq("") if raw.dtype == pl.String else raw.is_null()
        failed = frame.filter(raw.is_not_null() & ~blank.fill_null(False) & typed.get_column(name).is_null())
        shown = pl.lit("<masked>") if col.pii else pl.col(name).cast(pl.String)
        problems.append(failed.select(
            ROW, column=pl.lit(name), reason=pl.lit(f"unparseable_{col.dtype}"),
            message=pl.format("{}: '{}' is {}", pl.lit(name), shown, pl.lit(REASONS[f"unparseable_{col.dtype}"]))
            + (pl.lit(f" (formats tried: {list(formats.get(name) or DEFAULT_FORMATS)})")
               if col.dtype in ("date", "datetime") else pl.lit(""))))
    return typed, _problem_frame(problems)


def _typed(expr: pl.Expr, dtype: pl.DataType, col: Column, tz_out: str, tz_in: str,
           formats: tuple[str, ...] | None) -> pl.Expr:
    if col.dtype == "str":
        if dtype.is_float():  # float ids (17850.0) read back as '17850'; NaN is a missing id
            whole = expr.is_finite() & (expr == expr.round()) & (expr.abs() < 2.0**63)
            return pl.when(expr.is_nan()).then(None).when(whole).then(
                expr.cast(pl.Int64, strict=False).cast(pl.String)).otherwise(expr.cast(pl.String))
        if col.choices:  # a blank vocabulary value is a missing one, not an invalid one
            return pl.when(expr.cast(pl.String).str.strip_chars() != "").then(expr.cast(pl.String))
        return expr.cast(pl.String)
    if dtype == pl.String:
        text = expr.str.strip_chars().str.replace_many(_FULL_WIDTH, _HALF_WIDTH)
        if col.dtype in ("float", "int"):
            plain = text.str.replace_all(r"[¥￥$£€]|RMB|CNY|元", "").str.strip_chars()
            # commas only as thousands separators: '1,234.5' is a number, '12,5' or '1.234,50' is not
            grouped = plain.str.contains(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
            number = pl.when(grouped).then(plain.str.replace_all(",", "")).otherwise(plain).cast(
                pl.Float64, strict=False)
            number = pl.when(number.is_finite()).then(number)  # 'nan' / 'inf' are not numbers
            if col.dtype == "float":
                return number
            return pl.when(number == number.round()).then(number.cast(pl.Int64, strict=False))
        if col.dtype == "bool":
            low = text.str.to_lowercase()
            return pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False)
        stamp = _parse_datetime(text, formats or DEFAULT_FORMATS, tz_in, tz_out)
        return stamp.dt.date() if col.dtype == "date" else stamp
    if col.dtype in ("float", "int"):  # as for text: NaN / inf are not numbers, 1.5 is not a whole number
        number = expr.cast(pl.Float64, strict=False)
        number = pl.when(number.is_finite()).then(number)
        if col.dtype == "float":
            return number
        return pl.when(number == number.round()).then(expr.cast(pl.Int64, strict=False))
    if col.dtype == "bool":
        return expr.cast(pl.Boolean, strict=False)
    if isinstance(dtype, pl.Datetime):
        stamp = expr.dt.convert_time_zone(tz_out) if dtype.time_zone else \
            expr.dt.replace_time_zone(tz_in, ambiguous="earliest", non_existent="null").dt.convert_time_zone(tz_out)
        return stamp.dt.date() if col.dtype == "date" else stamp.dt.cast_time_unit("us")
    if dtype == pl.Date:
        return expr if col.dtype == "date" else expr.cast(pl.Datetime("us")).dt.replace_time_zone(
            tz_in, ambiguous="earliest", non_existent="null").dt.convert_time_zone(tz_out)
    return _typed(expr.cast(pl.String), pl.String(), col, tz_out, tz_in, formats)


def _parse_datetime(text: pl.Expr, formats: tuple[str, ...], tz_in: str, tz_out: str) -> pl.Expr:
    attempts = []
    for fmt in formats:
        if fmt == "excel":
            days = text.cast(pl.Float64, strict=False)
            naive = (pl.datetime(1899, 12, 30) + pl.duration(microseconds=(days * 86_400_000_000).round()))
            attempts.append(pl.when(days.is_between(1, 2_958_465)).then(naive)
                            .dt.replace_time_zone(tz_in, ambiguous="earliest", non_existent="null")
                            .dt.convert_time_zone(tz_out))
        elif "%z" in fmt:
            attempts.append(text.str.strptime(pl.Datetime("us", "UTC"), fmt, strict=False)
                            .dt.convert_time_zone(tz_out))
        else:
            attempts.append(text.str.strptime(pl.Datetime("us"), fmt, strict=False)
                            .dt.replace_time_zone(tz_in, ambiguous="earliest", non_existent="null")
                            .dt.convert_time_zone(tz_out))
    return pl.coalesce(attempts)


def _pandera_schema(spec: dict[str, Column]) -> pa.DataFrameSchema:
    columns = {}
    for name, col in spec.items():
        checks = []
        if col.choices:
            checks.append(pa.Check.isin(list(col.choices)))
        if col.min_value is not None:
            checks.append(pa.Check.ge(col.min_value))
        if col.max_value is not None:
            checks.append(pa.Check.le(col.max_value))
        columns[name] = pa.Column(nullable=not col.required, checks=checks)
    return pa.DataFrameSchema(columns)


def _check(typed: pl.DataFrame, spec: dict[str, Column]) -> pl.DataFrame:
    blanked = typed.with_columns([pl.when(pl.col(n).str.strip_chars() != "").then(pl.col(n)).alias(n)
                                  for n, c in spec.items() if c.dtype == "str" and c.required])
    try:
        _pandera_schema(spec).validate(blanked, lazy=True)
        return _problem_frame([])
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases.filter(pl.col("index").is_not_null())
    rows = typed.get_column(ROW)
    problems = []
    for case in cases.iter_rows(named=True):
        name, check = case["column"], case["check"]
        col = spec[name]
        shown = "<masked>" if col.pii else f"'{case['failure_case']}'"
        if check == "not_nullable":
            reason, message = "missing_required", f"{name} is empty but required"
        elif check.startswith("isin"):
            reason, message = "invalid_choice", f"{name}: {shown} is not one of {list(col.choices)}"
        else:
            reason = "out_of_range"
            bound = f"below the minimum {col.min_value:g}" if check.startswith("greater") else \
                f"above the maximum {col.max_value:g}"
            message = f"{name}: {shown} is {bound}"
        problems.append({ROW: rows[case["index"]], "column": name, "reason": reason, "message": message})
    return _problem_frame([pl.DataFrame(problems, schema=_PROBLEM_SCHEMA)] if problems else [])


_PROBLEM_SCHEMA = {ROW: pl.Int64, "column": pl.String, "reason": pl.String, "message": pl.String}


def _problem_frame(parts: list[pl.DataFrame]) -> pl.DataFrame:
    parts = [p.select(pl.col(k).cast(v) for k, v in _PROBLEM_SCHEMA.items()) for p in parts]
    return pl.concat(parts, how="vertical") if parts else pl.DataFrame(schema=_PROBLEM_SCHEMA)


@dataclass(frozen=True)
class LoadedSources:
    """Every source of a run, validated: canonical tables, the quarantine, and the row accounting.

    ``accounting`` has one row per map: ``source, table, file, rows_in, rows_valid, rows_quarantined``,
    and ``rows_in == rows_valid + rows_quarantined`` always holds.
    """

    tables: dict[str, pl.DataFrame]
    quarantine: pl.DataFrame
    accounting: pl.DataFrame
    maps: list[ColumnMap]

    @property
    def numbered_by_loader(self) -> set[str]:
        """Sources whose order lines the loader numbered (their export has no line number)."""
        return {m.source for m in self.maps if m.table == "orders" and "line_no" not in m.targets}

    @property
    def provided(self) -> dict[tuple[str, str], set[str]]:
        """The canonical columns each ``(source, table)`` fills; the rest are empty by construction."""
        out: dict[tuple[str, str], set[str]] = {}
        for cmap in self.maps:
            out.setdefault((cmap.source, cmap.table), set()).update(cmap.provides)
        return out


QUARANTINE_COLUMNS = ("source", "table", "file", "row", "column", "reason", "message", "record")


def load_frame(raw: pl.DataFrame, cmap: ColumnMap, *, timezone: str = "Asia/Shanghai",
               mapped: pl.DataFrame | None = None) -> LoadedSources:
    """Map and validate one raw frame (as :func:`persona_kit.io.read_raw` returns it) through ``cmap``.

    ``mapped`` replaces :func:`apply_map` for sources that need their own reading (e.g. a public dataset
    in an odd format); the quarantine's ``record`` still holds the raw row.
    """
    mapped = apply_map(raw, cmap) if mapped is None else mapped
    result = validate(mapped, cmap.table, timezone=timezone, source_timezone=cmap.timezone,
                      formats=cmap.formats, file=cmap.file.name, raw=raw)
    quarantine = result.quarantine.with_columns(source=pl.lit(cmap.source)).select(QUARANTINE_COLUMNS)
    accounting = pl.DataFrame([{
        "source": cmap.source, "table": cmap.table, "file": cmap.file.name, "map": cmap.path.name,
        "rows_in": raw.height, "rows_valid": result.valid.height, "rows_quarantined": quarantine.height}])
    return LoadedSources({cmap.table: result.valid}, quarantine, accounting, [cmap])


def load_sources(maps: str | Path | Iterable[str | Path] | list[ColumnMap], *,
                 timezone: str = "Asia/Shanghai") -> LoadedSources:
    """Read, map and validate every source named by the column maps (each raw file is read once).

    Examples
    --------
    >>> loaded = load_sources("data/sample/maps")  # doctest: +SKIP
    >>> loaded.accounting.select("rows_in", "rows_valid", "rows_quarantined").sum()  # doctest: +SKIP
    """
    cmaps = maps if isinstance(maps, list) and all(isinstance(m, ColumnMap) for m in maps) else load_maps(maps)
    raw_cache: dict[tuple, pl.DataFrame] = {}
    parts = []
    for cmap in cmaps:
        key = (cmap.file.resolve(), cmap.encoding, cmap.sheet, cmap.separator)
        if key not in raw_cache:
            raw_cache[key] = read_raw(cmap.file, encoding=cmap.encoding, sheet=cmap.sheet,
                                      separator=cmap.separator)
        parts.append(load_frame(raw_cache[key], cmap, timezone=timezone))
    tables: dict[str, list[pl.DataFrame]] = {}
    for part in parts:
        for table, frame in part.tables.items():
            tables.setdefault(table, []).append(frame)
    return LoadedSources(
        tables={t: pl.concat(p, how="diagonal_relaxed") for t, p in tables.items()},
        quarantine=pl.concat([p.quarantine for p in parts], how="vertical_relaxed") if parts
        else pl.DataFrame(schema=dict.fromkeys(QUARANTINE_COLUMNS, pl.String)),
        accounting=pl.concat([p.accounting for p in parts], how="vertical"),
        maps=cmaps,
    )


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
