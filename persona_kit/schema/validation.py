"""Validation: type a mapped frame and split its rows into valid and quarantined; load every source."""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import narwhals as nw
import polars as pl

with warnings.catch_warnings():
    # importing pandera imports pyspark.pandas when pyspark is installed (the [spark] extra), which warns
    # about pandas 3 into every report; we never use pandas-on-Spark
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
    import pandera.polars as pa

from persona_kit.errors import InputError, check_choice
from persona_kit.io import ROW
from persona_kit.schema.maps import DEFAULT_FORMATS, ColumnMap, _check_timezone, apply_map, load_maps
from persona_kit.schema.tables import SOURCE_FILE, SOURCE_ROW, TABLES, Column

__all__ = ["REASONS", "QUARANTINE_COLUMNS", "Validated", "LoadedSources", "validate", "load_frame",
           "load_sources", "per_distinct"]

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
_FULL_WIDTH = list("０１２３４５６７８９．－＋，")
_HALF_WIDTH = list("0123456789.-+,")
_TRUE = ("true", "t", "yes", "y", "1", "是", "同意", "已同意")
_FALSE = ("false", "f", "no", "n", "0", "否", "不同意", "未同意")


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
    # text columns that typing leaves as they are (no vocabulary, or no blank value to null) are not rewritten
    same = {n for n, c in spec.items() if c.dtype == "str" and frame.schema[n] == pl.String
            and not (c.choices and _has_blank(frame.get_column(n)))}
    typed = frame.with_columns([_typed(pl.col(n), frame.schema[n], c, tz_out, tz_in, formats.get(n))
                                .alias(n) for n, c in spec.items() if n not in same])
    problems = []
    for name, col in spec.items():
        if col.dtype == "str":
            continue
        # given but not typed, and not blank text (checked on those few rows only)
        failed = frame.filter(pl.col(name).is_not_null() & typed.get_column(name).is_null())
        if frame.schema[name] == pl.String:
            failed = failed.filter(pl.col(name).str.strip_chars() != "")
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
        target = _PARSED.get(col.dtype) or pl.Datetime("us", tz_out)
        return expr.map_batches(lambda values: per_distinct(values, partial(
            _parsed, col=col, tz_out=tz_out, tz_in=tz_in, formats=formats), target), return_dtype=target,
            is_elementwise=True)
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


_PARSED = {"float": pl.Float64, "int": pl.Int64, "bool": pl.Boolean, "date": pl.Date}


def per_distinct(values: pl.Series, compute: Callable[[pl.Series], pl.Series], dtype: pl.DataType) -> pl.Series:
    """``compute`` (elementwise, null stays null) of ``values``, run once per distinct value: a long column of a
    few distinct values (phones, dates, codes) is computed at the cost of its distinct values.

    >>> per_distinct(pl.Series(["a", "b", "a", None]), lambda s: s.str.to_uppercase(), pl.String).to_list()
    ['A', 'B', 'A', None]
    """
    distinct = values.unique().drop_nulls()
    if distinct.is_empty():
        return pl.repeat(None, values.len(), dtype=dtype, eager=True).alias(values.name)
    return values.replace_strict(distinct, compute(distinct), return_dtype=dtype)


def _parsed(values: pl.Series, *, col: Column, tz_out: str, tz_in: str, formats: tuple[str, ...] | None) -> pl.Series:
    """Text typed as ``col.dtype`` (not ``str``), each step computed once."""
    steps = values.to_frame("raw").select(text=pl.col("raw").str.strip_chars().str.replace_many(_FULL_WIDTH, _HALF_WIDTH))
    text = pl.col("text")
    if col.dtype in ("float", "int"):
        plain = pl.col("plain")
        # commas only as thousands separators: '1,234.5' is a number, '12,5' or '1.234,50' is not
        grouped = plain.str.contains(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
        number = pl.col("number")
        steps = (steps.select(plain=text.str.replace_all(r"[¥￥$£€]|RMB|CNY|元", "").str.strip_chars())
                 .select(number=pl.when(grouped).then(plain.str.replace_all(",", "")).otherwise(plain)
                         .cast(pl.Float64, strict=False))
                 .select(number=pl.when(number.is_finite()).then(number)))  # 'nan' / 'inf' are not numbers
        out = number if col.dtype == "float" else pl.when(number == number.round()).then(
            number.cast(pl.Int64, strict=False))
    elif col.dtype == "bool":
        steps = steps.select(low=text.str.to_lowercase())
        out = pl.when(pl.col("low").is_in(_TRUE)).then(True).when(pl.col("low").is_in(_FALSE)).then(False)
    else:
        stamp = _parse_datetime(text, formats or DEFAULT_FORMATS, tz_in, tz_out)
        out = stamp.dt.date() if col.dtype == "date" else stamp
    return steps.select(out).to_series()


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


def _has_blank(text: pl.Series) -> bool:
    """Whether some value is empty or white space only (what trimming turns into ``""``)."""
    return bool(text.str.contains(r"^\s*$").any())


def _check(typed: pl.DataFrame, spec: dict[str, Column]) -> pl.DataFrame:
    # a required text that is blank is missing; only columns holding a blank one need rewriting
    blank = [n for n, c in spec.items() if c.dtype == "str" and c.required and _has_blank(typed.get_column(n))]
    blanked = typed.with_columns([pl.when(pl.col(n).str.strip_chars() != "").then(pl.col(n)).alias(n) for n in blank])
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
    uses = Counter(cmap.raw_key for cmap in cmaps)
    parts = []
    for cmap in cmaps:
        if cmap.raw_key not in raw_cache:
            raw_cache[cmap.raw_key] = cmap.read_raw()
        parts.append(load_frame(raw_cache[cmap.raw_key], cmap, timezone=timezone))
        uses[cmap.raw_key] -= 1
        if not uses[cmap.raw_key]:  # the last map of this file: let its raw frame go
            del raw_cache[cmap.raw_key]
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


