"""Standardization and duplicates for step 02: phones, emails, text, money, dates; exact and near copies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import polars as pl

from persona_kit.errors import InputError
from persona_kit.frames import as_polars
from persona_kit.io import ROW
from persona_kit.schema import SOURCE_FILE, SOURCE_ROW, TABLES, LoadedSources
from persona_kit.schema.maps import mapped_columns
from persona_kit.schema.validation import per_distinct

__all__ = ["normalize_phone", "normalize_email", "standardize", "standardization_changes", "date_changes",
           "mark_duplicates", "dedupe_orders"]

_MONEY = ("unit_price", "amount", "discount", "list_price", "cost")
_LINEAGE = (SOURCE_FILE, SOURCE_ROW)
_IGNORE = (SOURCE_FILE, SOURCE_ROW, "line_no")
_I = "__i"
_SEPARATORS = r"[\s\-\.\(\)/]"
_CN_MOBILE = r"^1[3-9]\d{9}$"
_EMAIL = r"^[a-z0-9!#$%&'*+/=?^_`{|}~.\-]+@([a-z0-9\-]+\.)+[a-z]{2,}$"


def _folded(expr: pl.Expr) -> pl.Expr:
    """Text with full-width forms folded (NFKC: ０-９ → 0-9, ＠ → @, U+3000 → space) and trimmed."""
    return expr.cast(pl.String).str.normalize("NFKC").str.strip_chars()


def normalize_phone(expr: pl.Expr, *, country_code: str = "86") -> pl.Expr:
    """Phone numbers as E.164 text (``+8613800138000``); null when not a plausible number.

    Full-width digits are folded; spaces, dashes, dots, slashes and parentheses are removed; a
    ``+<country_code>``, ``00<country_code>`` or bare ``<country_code>`` prefix is recognised. For
    ``country_code="86"`` the national number must be a mainland mobile (11 digits, ``1[3-9]…``);
    for other codes the full number must have 8–15 digits; a leading trunk ``0`` is dropped.
    Numbers of another country are kept when they carry an international prefix (``+`` or ``00``)
    and 8–15 digits. A float rendering such as ``13800138000.0`` is read as the whole number.
    The result is idempotent: normalizing an E.164 value returns it unchanged.

    Parameters
    ----------
    expr
        A text (or integer) expression.
    country_code
        The default country's calling code, digits only.

    Returns
    -------
    pl.Expr
        A ``String`` expression.

    Examples
    --------
    >>> s = pl.Series(["0086 138-0013-8000", "１３８００１３８０００", "(86)138.0013.8000",
    ...                "+44 20 7946 0958", "12345"])
    >>> s.to_frame("p").select(normalize_phone(pl.col("p")))["p"].to_list()
    ['+8613800138000', '+8613800138000', '+8613800138000', '+442079460958', None]
    """
    if not country_code.isdigit():
        raise InputError(f"country_code must be digits only (e.g. '86'), got {country_code!r}")
    return expr.map_batches(lambda values: per_distinct(values.cast(pl.String), partial(_e164, cc=country_code),
                                                         pl.String), return_dtype=pl.String,
                            is_elementwise=True).name.keep()


def _e164(text: pl.Series, cc: str) -> pl.Series:
    """:func:`normalize_phone` of a text Series, each step computed once."""
    steps = (text.to_frame("raw")
             .with_columns(compact=_folded(pl.col("raw")).str.replace(r"\.0$", "").str.replace_all(_SEPARATORS, ""))
             .with_columns(intl=pl.col("compact").str.starts_with("+") | pl.col("compact").str.starts_with("00"),
                           digits=pl.col("compact").str.replace(r"^(\+00|\+|00)", ""))
             .with_columns(own=pl.col("digits").str.starts_with(cc), size=pl.col("digits").str.len_chars()))
    intl, digits, own, size = pl.col("intl"), pl.col("digits"), pl.col("own"), pl.col("size")
    domestic = (pl.when(intl & own).then(digits.str.slice(len(cc))).when(intl).then(None)
                .when(own & (size == len(cc) + 11) & (cc == "86")).then(digits.str.slice(len(cc)))
                .otherwise(digits))
    steps = steps.with_columns(trunk=domestic.str.replace(r"^0", ""))  # a trunk prefix: 0138…, +44 (0)20…
    trunk = pl.col("trunk")
    if cc == "86":
        national = pl.when(trunk.str.contains(_CN_MOBILE)).then(trunk)
    else:
        national = pl.when((trunk.str.len_chars() + len(cc)).is_between(8, 15)).then(trunk)
    foreign = pl.when(intl & ~own & size.is_between(8, 15)).then(pl.lit("+") + digits)
    return steps.select(pl.when(digits.str.contains(r"^\d+$"))
                        .then(pl.coalesce(pl.lit(f"+{cc}") + national, foreign)).cast(pl.String)).to_series()


def normalize_email(expr: pl.Expr) -> pl.Expr:
    """E-mail addresses trimmed, full-width folded and lower-cased; null unless ``local@domain.tld``.

    Parameters
    ----------
    expr
        A text expression.

    Returns
    -------
    pl.Expr
        A ``String`` expression; normalizing its output again changes nothing.

    Examples
    --------
    >>> s = pl.Series(["  Ada@Example.COM ", "ｂｏｂ＠ｍａｉｌ．ｃｎ", "not-an-email", "  "])
    >>> s.to_frame("e").select(normalize_email(pl.col("e")))["e"].to_list()
    ['ada@example.com', 'bob@mail.cn', None, None]
    """
    text = _folded(expr).str.to_lowercase()
    return pl.when(text.str.contains(_EMAIL)).then(text).otherwise(None).cast(pl.String).name.keep()


def _identifier_value(country_code: str) -> pl.Expr:
    """``id_value`` normalized by its ``id_type``: phones E.164, e-mails lower case, other values trimmed."""
    value = pl.col("id_value").cast(pl.String)
    return (pl.when(pl.col("id_type") == "phone").then(normalize_phone(value, country_code=country_code))
            .when(pl.col("id_type") == "email").then(normalize_email(value))
            .otherwise(value.str.strip_chars()).alias("id_value"))


# --- standardization ---------------------------------------------------------------------------------------

def _standard_exprs(schema: pl.Schema, *, country_code: str, money_factors: Mapping[str, float] | None,
                    money_decimals: int, timezone: str | None) -> list[pl.Expr]:
    exprs = []
    factor = (pl.col("source").replace_strict(dict(money_factors), default=1.0, return_dtype=pl.Float64)
              if money_factors and "source" in schema else pl.lit(1.0))
    for name, dtype in schema.items():
        if name in _LINEAGE or name == _I:
            continue
        if name == "phone":
            exprs.append(normalize_phone(pl.col(name), country_code=country_code))
        elif name == "email":
            exprs.append(normalize_email(pl.col(name)))
        elif dtype == pl.String:
            text = pl.col(name).str.strip_chars()
            exprs.append(pl.when(text != "").then(text).alias(name))
        elif name in _MONEY and dtype.is_float():
            exprs.append((pl.col(name) * factor).round(money_decimals).alias(name))
        elif isinstance(dtype, pl.Datetime) and timezone and dtype.time_zone:
            exprs.append(pl.col(name).dt.convert_time_zone(timezone))
    return exprs


def standardize(frame: Any, *, country_code: str = "86", money_factors: Mapping[str, float] | None = None,
                money_decimals: int = 4, timezone: str | None = None) -> Any:
    """Standardize the values of a canonical table without adding, dropping or reordering rows.

    Parameters
    ----------
    frame
        A canonical table (pandas or polars), typed by :func:`persona_kit.schema.validate`.
    country_code
        Default calling code for :func:`normalize_phone`.
    money_factors
        ``{source: factor}`` multiplying the money columns (``unit_price``, ``amount``, ``discount``,
        ``list_price``, ``cost``) of that source: a unit (fen → yuan: 0.01) or a fixed exchange rate.
    money_decimals
        Money is rounded to this many decimals, which removes floating-point noise (15.299999999999999 →
        15.3) and keeps sub-cent unit prices (0.001).
    timezone
        Convert zoned timestamps to this zone (default: keep the zone they have).

    Returns
    -------
    The same kind of frame; running it again changes nothing.

    Examples
    --------
    >>> f = pl.DataFrame({"source": ["pos", "pos", "app"], "name": [" Ada ", "  ", "Bo"],
    ...                   "phone": ["138 0013 8000", "12", None], "amount": [19900.0, 5.0, 0.1 + 0.2]})
    >>> standardize(f, money_factors={"pos": 0.01}).rows()  # pos exports fen
    [('pos', 'Ada', '+8613800138000', 199.0), ('pos', None, None, 0.05), ('app', 'Bo', None, 0.3)]
    """
    polars, back = as_polars(frame)
    if not isinstance(money_decimals, int) or money_decimals < 0:
        raise InputError(f"money_decimals must be a whole number >= 0, got {money_decimals!r}")
    bad = {k: v for k, v in (money_factors or {}).items() if not isinstance(v, int | float) or not v > 0}
    if bad:
        raise InputError(f"money_factors must be positive numbers per source, got {bad}")
    out = polars.with_columns(_standard_exprs(polars.schema, country_code=country_code, money_factors=money_factors,
                                              money_decimals=money_decimals, timezone=timezone))
    # text that trimming left alone keeps the given column, so the two frames share its memory: trimming only
    # shortens a value or blanks it to null, so equal null counts and equal total lengths mean nothing changed
    same = [name for name, dtype in polars.schema.items() if dtype == pl.String and name not in ("phone", "email")
            and out.get_column(name).null_count() == polars.get_column(name).null_count()
            and out.get_column(name).str.len_bytes().sum() == polars.get_column(name).str.len_bytes().sum()]
    return back(out.with_columns(polars.select(same)) if same else out)


def _rule(column: str, after: pl.Expr) -> pl.Expr:
    if column in ("phone", "email"):
        return pl.when(after.is_null()).then(pl.lit(f"{column}_invalid")).otherwise(pl.lit(f"{column}_normalized"))
    return pl.lit("money_standardized" if column in _MONEY else "text_trimmed")


def _shape(text: pl.Expr) -> pl.Expr:
    """The form of a value: runs of digits → 9, of full-width digits → ９, of lower / upper letters → a / A."""
    return (text.str.replace_all(r"[0-9]+", "9").str.replace_all(r"[０-９]+", "９")
            .str.replace_all(r"[a-z]+", "a").str.replace_all(r"[A-Z]+", "A"))


_CHANGE_SCHEMA = {"table": pl.String, "source": pl.String, "column": pl.String, "rule": pl.String,
                  "rows": pl.Int64, "before": pl.String, "after": pl.String}


def standardization_changes(before: pl.DataFrame, after: pl.DataFrame, *, table: str,
                            examples: int = 3) -> pl.DataFrame:
    """What :func:`standardize` changed: rows per source, column and rule, with before → after examples.

    Rules: ``text_trimmed``, ``phone_normalized`` / ``phone_invalid`` (not a plausible number → null),
    ``email_normalized`` / ``email_invalid``, ``money_standardized``. Phones and emails get one example
    per form (``+9 9-9``, ``Aa9@a.a``…), the ``examples`` most frequent first, and ``rows`` counts that
    form; other rules get one example. Values are not masked: mask them
    (:func:`persona_kit.privacy.mask_values`) before showing them.

    Examples
    --------
    >>> b = pl.DataFrame({"source": ["app", "app", "app"], "email": ["A@B.CN", "C@D.CN", "x"]})
    >>> standardization_changes(b, standardize(b), table="customers").select("rule", "rows", "after").rows()
    [('email_normalized', 2, 'a@b.cn'), ('email_invalid', 1, None)]
    """
    parts = []
    for name in before.columns:
        if name in _LINEAGE or name == "source" or not (before.schema[name] == pl.String or name in _MONEY):
            continue
        differs = before.get_column(name).ne_missing(after.get_column(name))
        if not differs.any():
            continue
        frame = pl.DataFrame({"source": before.get_column("source") if "source" in before.columns else None,
                              "old": before.get_column(name), "new": after.get_column(name)}).filter(differs)
        old, new = pl.col("old"), pl.col("new")
        blanked = old.cast(pl.String).str.strip_chars().eq("").fill_null(False) & new.is_null()
        changed = ~blanked
        if name in _MONEY:  # floating-point noise removed by rounding is not a change worth showing
            changed = changed & ((old - new).abs() > 1e-6).fill_null(True)
        frame = frame.filter(changed).select("source", before=old.cast(pl.String), after=new.cast(pl.String))
        if frame.is_empty():
            continue
        shape = _shape(pl.col("before")) if name in ("phone", "email") else pl.lit("")
        parts.append(frame.with_columns(column=pl.lit(name), rule=_rule(name, pl.col("after")), shape=shape)
                     .group_by("source", "column", "rule", "shape", maintain_order=True)
                     .agg(rows=pl.len(), before=pl.col("before").first(), after=pl.col("after").first())
                     .sort("rows", descending=True, maintain_order=True)
                     .group_by("source", "column", "rule", maintain_order=True).head(examples))
    if not parts:
        return pl.DataFrame(schema=_CHANGE_SCHEMA)
    return pl.concat(parts).select(pl.lit(table).alias("table"), *list(_CHANGE_SCHEMA)[1:]).cast(_CHANGE_SCHEMA)


def _date_shape(text: pl.Expr) -> pl.Expr:
    """The form of a date text: every digit → 9, every ASCII letter → a (``2024/1/5`` → ``9999/9/9``)."""
    return text.str.replace_all(r"\d", "9").str.replace_all(r"[A-Za-z]", "a")


def _shape_pattern(shape: str) -> str:
    """A regex matching exactly the texts of :func:`_date_shape` ``shape``."""
    return "^" + "".join(r"\d" if c == "9" else "[A-Za-z]" if c == "a" else f"\\x{{{ord(c):X}}}"
                         for c in shape) + "$"


def _shape_counts(pairs: pl.DataFrame, *, sample: int = 1000, tries: int = 3) -> pl.DataFrame:
    """Per :func:`_date_shape` of ``before``: ``rows`` and the first ``before`` and ``__row``, in order of
    first appearance. The frequent shapes of the first ``sample`` rows are counted by matching (cheap),
    only the rest is rewritten character by character."""
    parts, rest = [], pairs
    frequent = pairs.head(sample).select(_date_shape(pl.col("before"))).to_series().value_counts(sort=True)
    for shape in frequent.get_column("before").head(tries):
        hit = rest.get_column("before").str.contains(_shape_pattern(shape))
        parts.append(rest.filter(hit).select(shape=pl.lit(shape), rows=pl.len(), before=pl.col("before").first(),
                                             row=pl.col(ROW).first()).filter(pl.col("rows") > 0))
        rest = rest.filter(~hit)
    parts.append(rest.group_by(shape=_date_shape(pl.col("before")), maintain_order=True)
                 .agg(rows=pl.len(), before=pl.col("before").first(), row=pl.col(ROW).first()))
    return pl.concat(parts).with_columns(pl.col("rows").cast(pl.Int64)).sort("row")


def date_changes(loaded: LoadedSources, *, per_column: int = 5) -> pl.DataFrame:
    """Raw date text → the zoned value it became, one example per text shape (``9999/9/9``, ``99999``…).

    Reads the date columns of each raw file named by ``loaded.maps`` again (the loaded tables keep typed
    values only) and matches rows by file position; rows that did not parse are in the quarantine, not here.

    Returns
    -------
    pl.DataFrame
        ``table, source, column, rule ("date_parsed"), rows, before, after`` — the ``per_column`` most
        frequent shapes of each date or timestamp column.
    """
    plans = []
    for cmap in loaded.maps:
        columns = [c for c in dict.fromkeys(cmap.targets) if TABLES[cmap.table][c].dtype in ("date", "datetime")]
        if columns and cmap.table in loaded.tables:
            plans.append((cmap, columns))
    wanted: dict[tuple, dict[str, None]] = {}  # raw file → the source columns of its dates, read once
    for cmap, columns in plans:
        wanted.setdefault(cmap.raw_key, {}).update(dict.fromkeys(cmap.sources(columns)))
    parts, raws = [], {}
    for cmap, columns in plans:
        if cmap.raw_key not in raws:
            raws[cmap.raw_key] = cmap.read_raw(list(wanted[cmap.raw_key]))
        mapped = mapped_columns(raws[cmap.raw_key], cmap, columns)
        mine = (loaded.tables[cmap.table].lazy()
                .filter((pl.col("source") == cmap.source) & (pl.col(SOURCE_FILE) == cmap.file.name))
                .select(pl.col(SOURCE_ROW).alias(ROW), *columns).collect())
        for column in columns:
            fmt = "%Y-%m-%d" if TABLES[cmap.table][column].dtype == "date" else "%Y-%m-%d %H:%M:%S%:z"
            parsed = mine.filter(pl.col(column).is_not_null())
            pairs = (mapped.select(ROW, column)  # text only for the rows kept: a typed raw column becomes text here
                     .filter(pl.col(column).is_not_null() & pl.col(ROW).is_in(parsed.get_column(ROW).implode()))
                     .select(ROW, before=pl.col(column).cast(pl.String)).filter(pl.col("before").is_not_null()))
            shapes = _shape_counts(pairs).sort("rows", descending=True, maintain_order=True).head(per_column)
            after = (parsed.filter(pl.col(ROW).is_in(shapes.get_column("row").implode()))
                     .select(ROW, after=pl.col(column).dt.to_string(fmt)))
            shapes = shapes.join(after, left_on="row", right_on=ROW, how="left", maintain_order="left")
            parts.append(shapes.select(pl.lit(cmap.table).alias("table"), pl.lit(cmap.source).alias("source"),
                                       pl.lit(column).alias("column"), pl.lit("date_parsed").alias("rule"),
                                       "rows", "before", "after"))
    return pl.concat(parts) if parts else pl.DataFrame(schema=_CHANGE_SCHEMA)


# --- duplicates --------------------------------------------------------------------------------------------

def mark_duplicates(frame: Any, *, ignore: Sequence[str] = _IGNORE, country_code: str = "86",
                    standardized: Any = None) -> Any:
    """Mark exact and near duplicate rows; the first occurrence (in file order) is kept unmarked.

    ``duplicate`` is ``exact_duplicate`` (identical as given, apart from the ``ignore`` columns: file
    position and the order-line number, which a loader assigns afresh to a line exported twice) or
    ``near_duplicate`` (identical only after :func:`standardize`); ``duplicate_of`` is the
    ``source_row`` (else the position) of the earlier row it copies. ``standardized`` is
    ``standardize(frame, country_code=country_code)`` when the caller has it already (zones may differ).

    Examples
    --------
    >>> f = pl.DataFrame({"order_id": ["1", "1", "1 ", "2"], "amount": [199.0, 199.0, 199.0, 5.0],
    ...                   "source_row": [2, 3, 4, 5]})
    >>> mark_duplicates(f).select("duplicate", "duplicate_of").rows()
    [(None, None), ('exact_duplicate', 2), ('near_duplicate', 2), (None, None)]
    """
    polars, back = as_polars(frame)
    content = [c for c in polars.columns if c not in ignore]
    if not content:
        raise InputError(f"no columns left to compare after ignoring {list(ignore)}")
    if standardized is None:
        std = polars.with_columns(_standard_exprs(polars.schema, country_code=country_code, money_factors=None,
                                                  money_decimals=4, timezone=None))
    else:
        std = as_polars(standardized)[0]
        if std.height != polars.height or not set(content) <= set(std.columns):
            raise InputError("standardized must be standardize(frame): same rows and columns")
    # only rows whose content hashes like another row's can be copies: compare those few exactly
    copied = _repeated(polars.select(content).hash_rows()) | _repeated(std.select(content).hash_rows())
    at = copied.arg_true()
    position = pl.Series(_I, at)
    exact = polars[at].with_columns(position).select(_I, exact=pl.col(_I).min().over(content))
    near = std[at].with_columns(position).select(near=pl.col(_I).min().over(content))
    marks = pl.concat([exact, near], how="horizontal").select(
        duplicate=pl.when(pl.col("exact") != pl.col(_I)).then(pl.lit("exact_duplicate"))
        .when(pl.col("near") != pl.col(_I)).then(pl.lit("near_duplicate")),
        first=pl.when(pl.col("exact") != pl.col(_I)).then("exact").when(pl.col("near") != pl.col(_I)).then("near"))
    first = marks.get_column("first")
    of = (polars.get_column(SOURCE_ROW).gather(first) if SOURCE_ROW in polars.columns
          else first.cast(pl.Int64) + 1)
    def spread(values: pl.Series, name: str) -> pl.Series:  # null outside the compared rows
        return pl.repeat(None, polars.height, dtype=values.dtype, eager=True).alias(name).scatter(at, values)

    return back(polars.with_columns(spread(marks.get_column("duplicate"), "duplicate"), spread(of, "duplicate_of")))


def _repeated(hashes: pl.Series) -> pl.Series:
    """Whether each value occurs more than once (neighbours after a sort: faster than ``is_duplicated``)."""
    ordered = hashes.sort()
    return hashes.is_in(ordered.filter(ordered == ordered.shift(1)).unique().implode())


def dedupe_orders(orders: Any, *, ignore: Sequence[str] = _IGNORE) -> Any:
    """Order lines without their exact and near duplicates (see :func:`mark_duplicates`).

    This drops the copies; :func:`clean` keeps them in its quarantine with a reason instead.

    Examples
    --------
    >>> o = pl.DataFrame({"order_id": ["A", "A", "A"], "line_no": [1, 2, 3], "product_id": ["p", "p ", "q"],
    ...                   "amount": [199.0, 199.00, 5.0]})
    >>> dedupe_orders(o).rows()
    [('A', 1, 'p', 199.0), ('A', 3, 'q', 5.0)]
    """
    polars, back = as_polars(orders)
    marked = mark_duplicates(polars, ignore=ignore)
    return back(marked.filter(pl.col("duplicate").is_null()).drop("duplicate", "duplicate_of"))

