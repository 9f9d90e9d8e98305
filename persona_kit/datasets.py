"""Loaders that map real public datasets to the canonical tables, from a path the user gives.

Each loader reads the file as published, maps it through a packaged column map
(``persona_kit/resources/maps/<dataset>.yaml``) and validates it with :func:`persona_kit.schema.validate`,
so a bad row lands in the quarantine exactly as it would for a user's own export. The result is a
:class:`~persona_kit.schema.LoadedSources` (``tables["orders"]``, ``quarantine``, ``accounting``).
The datasets themselves are never copied into the project; see ``../shared/datasets/README.md``.

Examples
--------
>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "CDNOW_master.txt"
>>> _ = p.write_text(" customer_id  date number_of_cds  dollar_value\\n"
...                  " 00001 19970101  1   11.77\\n 00002 19970112  5   77.00\\n")
>>> load_cdnow(p).tables["orders"].select("order_id", "quantity", "unit_price").rows()
[('cdnow-00001-19970101-1', 1.0, 11.77), ('cdnow-00002-19970112-1', 5.0, 15.4)]
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path

import polars as pl

from persona_kit.errors import InputError, check_columns
from persona_kit.io import ROW, detect_encoding, read_raw
from persona_kit.schema import ColumnMap, LoadedSources, apply_map, load_frame, load_map

__all__ = ["load_online_retail", "load_cdnow", "CDNOW_COLUMNS", "CDNOW_SAMPLE_COLUMNS"]

CDNOW_COLUMNS = ("customer_id", "date", "number_of_cds", "dollar_value")
CDNOW_SAMPLE_COLUMNS = ("customer_id", "sample_customer_id", "date", "number_of_cds", "dollar_value")


def load_online_retail(path: str | Path, *, timezone: str = "Europe/London") -> LoadedSources:
    """Load the UCI Online Retail dataset (id 352) as canonical ``orders``.

    Parameters
    ----------
    path
        ``online_retail.parquet``, the original ``Online Retail.xlsx``, or a CSV export of either
        (the reader is chosen by the extension).
    timezone
        Zone of the output ``order_ts``. The file's naive ``InvoiceDate`` is read as UK shop time
        (Europe/London, from the packaged map), so the default changes no clock reading.

    Returns
    -------
    LoadedSources
        ``tables["orders"]``: one row per invoice line; ``status`` is ``cancelled`` for invoices whose
        number starts with "C", else ``paid``; ``source_customer_id`` is text ('17850', null for guest
        checkouts); ``amount = quantity × unit_price``. Rows that fail validation (the two "A" bad-debt
        adjustments with a negative price) are in ``quarantine`` with the raw row as JSON in ``record``.

    Raises
    ------
    InputError
        The path is missing or a folder, the file cannot be read, or it lacks the dataset's columns.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "retail.csv"
    >>> _ = p.write_text("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\\n"
    ...                  "536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.55,17850.0,United Kingdom\\n"
    ...                  "C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,14527.0,United Kingdom\\n")
    >>> loaded = load_online_retail(p)
    >>> loaded.tables["orders"].select("order_id", "status", "source_customer_id", "quantity", "unit_price").rows()
    [('536365', 'paid', '17850', 6.0, 2.55), ('C536379', 'cancelled', '14527', -1.0, 27.5)]
    >>> loaded.accounting.select("rows_in", "rows_valid", "rows_quarantined").row(0)
    (2, 2, 0)

    The real file (541,909 lines):

    >>> load_online_retail("../shared/datasets/online_retail/online_retail.parquet")  # doctest: +SKIP
    """
    path = _dataset_file(path, "the UCI Online Retail file (online_retail.parquet or Online Retail.xlsx)")
    cmap = dataclasses.replace(_packaged_map("online_retail.yaml"), file=path)
    raw = read_raw(path, encoding=cmap.encoding, sheet=cmap.sheet, separator=cmap.separator)
    mapped = apply_map(raw, cmap)  # names any missing column, as for a user's own export
    if mapped.schema["source_customer_id"] == pl.String:
        # A CSV export of the float CustomerID column writes '17850.0'; the Parquet / Excel ids read '17850'.
        mapped = mapped.with_columns(pl.col("source_customer_id").str.replace(r"^\s*(\d+)\.0*\s*$", "$1"))
    return load_frame(raw, cmap, timezone=timezone, mapped=mapped)


def load_cdnow(path: str | Path, *, timezone: str = "America/New_York") -> LoadedSources:
    """Load the CDNOW cohort (``CDNOW_master.txt`` or ``CDNOW_sample.txt``) as canonical ``orders``.

    The layout is recognized from the first line: the master file has the header
    ``customer_id date number_of_cds dollar_value``; the 1/10 sample has no header and five columns
    (master id, sample id, yyyymmdd, cds, dollars). Fields are separated by any run of whitespace.

    Parameters
    ----------
    path
        The whitespace-separated text file.
    timezone
        Zone of the output ``order_ts``; the file's dates are read as midnight in America/New_York.

    Returns
    -------
    LoadedSources
        ``tables["orders"]``: one row per file record, ``order_id`` =
        ``cdnow-<customer>-<yyyymmdd>-<n>`` (n counts repeats of a customer-day in file order),
        ``line_no`` 1, ``source`` ``cdnow``, ``source_customer_id`` the master id as written ('00001'),
        ``quantity`` = CDs, ``amount`` = dollars, ``unit_price`` = amount / quantity where quantity > 0,
        ``status`` ``paid``. The sample file also keeps ``sample_customer_id`` ('0001'), the ``ID`` of the
        published calibration summary. Unparseable values go to ``quarantine``.

    Raises
    ------
    InputError
        The path is missing or not a CDNOW text file: a header without the expected columns (named),
        an unexpected number of columns, or a line with a different number of fields (row named).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "CDNOW_sample.txt"
    >>> _ = p.write_text(" 00004 0001 19970101  2   29.33\\n 00004 0001 19970101  1   x\\n")
    >>> loaded = load_cdnow(p)
    >>> loaded.tables["orders"].select("order_id", "sample_customer_id", "amount").rows()
    [('cdnow-00004-19970101-1', '0001', 29.33)]
    >>> loaded.quarantine.select("row", "reason", "message").rows()
    [(2, 'unparseable_float', "amount: 'x' is not a number")]

    The real files:

    >>> load_cdnow("../shared/datasets/cdnow/CDNOW_master.txt")  # doctest: +SKIP
    """
    path = _dataset_file(path, "a CDNOW text file (CDNOW_master.txt or CDNOW_sample.txt)")
    if path.suffix.lower() in (".parquet", ".xlsx", ".xlsm", ".xls", ".gz", ".zip"):
        raise InputError(f"expected the CDNOW whitespace-separated text file, got a {path.suffix!r} file",
                         file=path.name)
    raw = _read_cdnow(path)
    cmap = dataclasses.replace(_packaged_map("cdnow.yaml"), file=path)
    quantity = pl.col("number_of_cds").cast(pl.Float64, strict=False)
    derived = raw.with_columns(
        order_id=pl.format("cdnow-{}-{}-{}", "customer_id", "date",
                           pl.int_range(1, pl.len() + 1).over("customer_id", "date")),
        unit_price=pl.when(quantity > 0)
        .then(pl.col("dollar_value").cast(pl.Float64, strict=False) / quantity).cast(pl.String),
    )
    mapped = apply_map(derived, cmap)
    if "sample_customer_id" in raw.columns:
        mapped = mapped.with_columns(raw.get_column("sample_customer_id"))
    return load_frame(raw, cmap, timezone=timezone, mapped=mapped)


def _read_cdnow(path: Path) -> pl.DataFrame:
    """Split the text into a frame of text columns named as :data:`CDNOW_COLUMNS`, plus ``__row``."""
    try:
        text = path.read_bytes().decode(detect_encoding(path))
    except UnicodeDecodeError as err:
        raise InputError("not a text file; expected CDNOW_master.txt or CDNOW_sample.txt",
                         file=path.name) from err
    lines = (pl.DataFrame({"line": text.splitlines()})
             .with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
             .filter(pl.col("line").str.strip_chars() != "")
             .with_columns(fields=pl.col("line").str.strip_chars().str.split(r"\s+", literal=False)))
    if lines.height == 0:
        raise InputError("no data lines; expected CDNOW_master.txt or CDNOW_sample.txt", file=path.name)
    first = lines.get_column("fields")[0].to_list()
    if not first[0].isdigit():  # a header line
        check_columns(first, CDNOW_COLUMNS, where=path.name)
        names, lines = tuple(first), lines.slice(1)
    elif len(first) == len(CDNOW_SAMPLE_COLUMNS):
        names = CDNOW_SAMPLE_COLUMNS
    elif len(first) == len(CDNOW_COLUMNS):
        names = CDNOW_COLUMNS
    else:
        raise InputError(f"first line has {len(first)} fields; expected the header {' '.join(CDNOW_COLUMNS)} "
                         f"(CDNOW_master.txt) or 5 unlabelled columns {list(CDNOW_SAMPLE_COLUMNS)} "
                         "(CDNOW_sample.txt)", file=path.name, row=int(lines.get_column(ROW)[0]))
    ragged = lines.filter(pl.col("fields").list.len() != len(names))
    if ragged.height:
        raise InputError(f"has {ragged.get_column('fields').list.len()[0]} fields where {len(names)} are "
                         f"expected ({' '.join(names)}); fix or remove that line",
                         file=path.name, row=int(ragged.get_column(ROW)[0]))
    return lines.select(pl.col("fields").list.to_struct(fields=list(names)), ROW).unnest("fields")


def _packaged_map(name: str) -> ColumnMap:
    with resources.as_file(resources.files("persona_kit") / "resources" / "maps" / name) as map_path:
        return load_map(map_path)


def _dataset_file(path: str | Path, expected: str) -> Path:
    path = Path(path)
    if path.is_dir():
        raise InputError(f"is a folder; pass the path of {expected}", file=str(path))
    if not path.is_file():
        raise InputError(f"file not found; pass the path of {expected}", file=str(path))
    return path
