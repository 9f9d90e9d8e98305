"""Column maps: how one raw file feeds one canonical table (the YAML format is in ``persona_kit.schema``)."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import yaml

from persona_kit.errors import InputError, check_choice, check_columns, did_you_mean
from persona_kit.io import ENCODINGS, ROW, read_raw
from persona_kit.schema.tables import TABLES, Column

__all__ = ["DEFAULT_FORMATS", "ColumnMap", "load_map", "load_maps", "apply_map", "mapped_columns"]

DEFAULT_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y%m%d", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z",
    "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%.f%z",
)
_MAP_KEYS = ("source", "table", "file", "columns", "encoding", "timezone", "values", "constants",
             "formats", "sheet", "separator", "dayfirst")


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

    @property
    def raw_key(self) -> tuple:
        """What identifies the raw frame this map reads: maps with equal keys share one read."""
        return (self.file.resolve(), self.encoding, self.sheet, self.separator)

    def sources(self, targets: Collection[str]) -> list[str]:
        """The source columns that fill any of the canonical columns ``targets``."""
        return [src for src, dsts in self.columns.items() if set(dsts) & set(targets)]

    def read_raw(self, columns: list[str] | None = None) -> pl.DataFrame:
        """Read this map's raw file (only ``columns``, when given) with its encoding, sheet and separator
        (:func:`persona_kit.io.read_raw`)."""
        return read_raw(self.file, encoding=self.encoding, sheet=self.sheet, separator=self.separator,
                        columns=columns)


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
    frame = mapped_columns(raw, cmap)
    if "source" not in frame.columns:
        frame = frame.with_columns(source=pl.lit(cmap.source))
    if cmap.table == "orders" and "line_no" not in frame.columns:
        frame = frame.with_columns(line_no=pl.int_range(1, pl.len() + 1).over("order_id"))
    return frame


def mapped_columns(raw: pl.DataFrame, cmap: ColumnMap, targets: Collection[str] | None = None) -> pl.DataFrame:
    """The map's source columns renamed and recoded, and its constants, with ``__row``; only ``targets``
    (canonical names) when given, so ``raw`` needs only their source columns (:meth:`ColumnMap.sources`)."""
    def wanted(column: str) -> bool:
        return targets is None or column in targets

    frame = raw.select([pl.col(src).alias(dst) for src, dsts in cmap.columns.items() for dst in dsts if wanted(dst)]
                       + [pl.col(ROW)])
    return frame.with_columns(
        [_recode(pl.col(c).cast(pl.String), m).alias(c) for c, m in cmap.values.items() if c in frame.columns]
        + [pl.lit(v).alias(c) for c, v in cmap.constants.items() if wanted(c)]
    )


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


