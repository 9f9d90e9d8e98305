"""Read raw exports (CSV / Excel / Parquet; utf-8, utf-8-sig, gb18030) and write artifacts atomically.

Raw files are read as they are — text columns stay text, ids keep their leading zeros — and every row
gets its position in the file (``__row``, as a spreadsheet numbers it: the header is row 1, so the
first data row is row 2; in Parquet the first record is row 1). Whole-file problems raise a one-line
:class:`~persona_kit.errors.InputError`.

Examples
--------
>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "members.csv"
>>> _ = p.write_bytes("卡号,手机\\n007,138 0013 8000\\n".encode("gb18030"))
>>> read_raw(p).rows()
[('007', '138 0013 8000', 2)]
>>> detect_encoding(p)
'gb18030'
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import json
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl

from persona_kit.errors import InputError, check_choice, check_columns

__all__ = [
    "ENCODINGS", "ROW", "detect_encoding", "read_raw", "sha256_file",
    "write_atomic", "write_parquet", "write_json",
]

ENCODINGS = ("auto", "utf-8", "utf-8-sig", "gb18030")
ROW = "__row"
_SNIFF_BYTES = 1 << 20
_TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
_EXCEL_SUFFIXES = (".xlsx", ".xlsm")


def detect_encoding(path: str | Path) -> str:
    """Return ``utf-8-sig``, ``utf-8`` or ``gb18030`` for a text file, judged from its first megabyte.

    Raises
    ------
    InputError
        If the bytes are neither valid UTF-8 nor GB18030.
    """
    path = Path(path)
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=False)
            return encoding
        except UnicodeDecodeError:
            continue
    raise InputError("cannot decode the file as utf-8 or gb18030 (the encodings persona-kit reads); save it "
                     "again as UTF-8 (in Excel: CSV UTF-8)", file=path.name)


def read_raw(path: str | Path, *, encoding: str = "auto", sheet: str | None = None,
             separator: str = ",", columns: list[str] | None = None) -> pl.DataFrame:
    """Read one raw export into a polars frame, adding the ``__row`` position column.

    Parameters
    ----------
    path
        A ``.csv`` / ``.tsv`` / ``.txt``, ``.xlsx`` or ``.parquet`` file.
    encoding
        One of :data:`ENCODINGS`; ``auto`` detects utf-8 (with or without BOM) or gb18030.
    sheet
        Excel sheet name (default: the first sheet).
    separator
        Field separator of text files (``.tsv`` defaults to a tab).
    columns
        Read only these columns (default: all), in file order; ``__row`` is still added.

    Raises
    ------
    InputError
        The file is missing, empty, undecodable, has duplicate or blank column names, or lacks one of
        ``columns``.
    """
    path = Path(path)
    check_choice("encoding", encoding, ENCODINGS)
    if not path.is_file():
        raise InputError("file not found; check the `file:` path in its column map", file=str(path))
    if path.stat().st_size == 0:
        raise InputError("file is empty (0 bytes); export it again", file=path.name)
    suffix = path.suffix.lower()
    if suffix in _TEXT_SUFFIXES:
        try:
            frame, first_row = _read_text(path, encoding, "\t" if suffix == ".tsv" else separator, columns), 2
        except UnicodeDecodeError as err:
            raise InputError(f"not valid {err.encoding} at byte {err.start}; set `encoding:` in its "
                             "column map (utf-8, utf-8-sig or gb18030)", file=path.name) from err
    elif suffix in _EXCEL_SUFFIXES:
        frame, first_row = _read_excel(path, sheet), 2
        frame = frame.select(_wanted(frame.columns, columns, path.name))
    elif suffix == ".parquet":
        names = _read_guarded(path, lambda: pl.read_parquet_schema(path)).names()
        _check_header(names, path.name)
        wanted = _wanted(names, columns, path.name)
        frame, first_row = _read_guarded(path, lambda: pl.read_parquet(path, columns=wanted)), 1
    else:
        raise InputError(f"unsupported file type {suffix!r}; use .csv, .tsv, .xlsx or .parquet",
                         file=path.name)
    # one contiguous chunk per column: selecting and renaming columns of it later copies nothing
    return frame.with_row_index(ROW, offset=first_row).select(pl.exclude(ROW), pl.col(ROW).cast(pl.Int64)).rechunk()


def _read_guarded(path: Path, read: Callable[[], pl.DataFrame]) -> pl.DataFrame:
    try:
        return read()
    except InputError:
        raise
    except (pl.exceptions.PolarsError, OSError, ValueError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InputError(f"cannot read the file: {first_line}", file=path.name) from err


def _wanted(names: list[str], columns: list[str] | None, file: str) -> list[str]:
    """The file's columns (``names``) to read, in file order: all, or ``columns`` after checking the file has them."""
    if columns is not None:
        check_columns(names, columns, where=file)
    return [n for n in names if columns is None or n in columns]


def _read_text(path: Path, encoding: str, separator: str, columns: list[str] | None) -> pl.DataFrame:
    if encoding == "auto":
        encoding = detect_encoding(path)
    text = path.read_bytes().decode(encoding) if encoding == "gb18030" else None
    # the header from the first megabyte (to its line end), not from a copy of the whole text
    head = None if text is None else text[:text.find("\n", _SNIFF_BYTES) + 1 or len(text)]
    with _csv_field_limit(path), \
            (io.StringIO(head) if head is not None else path.open(encoding=encoding, newline="")) as fh:
        reader = csv.reader(fh, delimiter=separator)
        header = next(reader, [])
        _check_header(header, path.name)
    wanted = _wanted(header, columns, path.name)
    source = text.encode("utf-8") if text is not None else path
    try:
        return pl.read_csv(source, infer_schema=False, separator=separator, encoding="utf8",
                           columns=None if columns is None else wanted,
                           empty_string_is_null=True, raise_if_empty=False, truncate_ragged_lines=False)
    except pl.exceptions.ComputeError as err:
        row, fields, width = _first_ragged_row(text, path, encoding, separator)
        if row is None:
            return _read_records(text, path, encoding, separator).select(wanted)
        raise InputError(f"has {fields} fields where the header has {width}; fix the quoting or "
                         "separators on that line", file=path.name, row=row) from err


def _first_ragged_row(text: str | None, path: Path, encoding: str,
                      separator: str) -> tuple[int | None, int, int]:
    with _csv_field_limit(path), \
            (io.StringIO(text) if text is not None else path.open(encoding=encoding, newline="")) as fh:
        reader = csv.reader(fh, delimiter=separator)
        width = len(next(reader, []))
        for number, record in enumerate(reader, start=2):
            if len(record) > width:
                return number, len(record), width
    return None, 0, width


def _read_records(text: str | None, path: Path, encoding: str, separator: str) -> pl.DataFrame:
    """Read what polars refuses, a quote inside an unquoted field (``5" brush``, ``=HYPERLINK("…")``), as a
    spreadsheet does; a quoted field that is never closed is an error naming its row."""
    records: list[list[str]] = []
    with _csv_field_limit(path), \
            (io.StringIO(text) if text is not None else path.open(encoding=encoding, newline="")) as fh:
        reader = csv.reader(fh, delimiter=separator, strict=True)
        header = next(reader)
        try:
            records.extend(reader)
        except csv.Error as err:
            raise InputError(f"a quoted field is not closed properly ({err}); fix the quotes from this row on",
                             file=path.name, row=len(records) + 2) from err
    columns = {name: [r[i] if i < len(r) and r[i] != "" else None for r in records] for i, name in enumerate(header)}
    return pl.DataFrame(columns, schema=dict.fromkeys(header, pl.String))


@contextlib.contextmanager
def _csv_field_limit(path: Path) -> Iterator[None]:
    """Let the csv module read a field as large as the file (its default limit is 128 KiB), then restore it."""
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, min(path.stat().st_size, 2**31 - 1)))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _read_excel(path: Path, sheet: str | None) -> pl.DataFrame:
    import openpyxl

    def read() -> pl.DataFrame:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            if sheet is not None and sheet not in book.sheetnames:
                raise InputError(f"no sheet {sheet!r}; sheets: {book.sheetnames}", file=path.name)
            rows = (book[sheet] if sheet else book.worksheets[0]).iter_rows(values_only=True)
            header = next(rows, None)
            if header is None:
                raise InputError("the sheet is empty", file=path.name)
            names = ["" if h is None else str(h).strip() for h in header]
            _check_header(names, path.name)
            data = [["" if v is None else _excel_text(v) for v in r] for r in rows]
        finally:
            book.close()
        columns = {n: [r[i] if i < len(r) else None for r in data] for i, n in enumerate(names)}
        return pl.DataFrame(columns, schema={n: pl.String for n in names}).with_columns(
            pl.all().replace("", None))

    return _read_guarded(path, read)


def _excel_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _check_header(names: list[str], file: str) -> None:
    blank = [i + 1 for i, n in enumerate(names) if not str(n).strip()]
    if blank:
        raise InputError(f"blank column name at position {blank[0]}; give every column a header",
                         file=file, row=1)
    dupes = sorted(n for n, k in Counter(names).items() if k > 1)
    if dupes:
        raise InputError(f"duplicate column names {dupes}; rename them so each is unique", file=file, row=1)


def sha256_file(path: str | Path) -> str:
    """Return the hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` then move the temporary file onto ``path`` in one step.

    A reader never sees a half-written artifact, and a failed write leaves the old file in place.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


_ROW_GROUP = 512**2  # rows per Parquet row group, fixed: without it the groups follow the frame's memory chunks


def write_parquet(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write a polars frame to Parquet atomically, without volatile metadata and in row groups of a fixed size:
    the same data gives the same bytes, however the frame happens to be chunked in memory."""
    return write_atomic(path, lambda tmp: frame.write_parquet(tmp, statistics=False, row_group_size=_ROW_GROUP))


def write_json(obj: object, path: str | Path) -> Path:
    """Write ``obj`` as indented UTF-8 JSON atomically (keys kept in their given order)."""
    text = json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n"
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
