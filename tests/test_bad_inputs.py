"""The malformed-input corpus: every case in tests/data/bad/ gets exactly the outcome its expected.yaml states.

A case folder holds raw file(s), one or more column maps (``map*.yaml``) and ``expected.yaml`` — either an
``error`` (the exact one-line :class:`InputError` message) or the exact outcome of a load: ``rows`` (data rows
in the input), ``valid_rows``, the ``quarantine`` as a set of ``{row, column, reason}`` and optional checks on the
valid output. Every non-error case must account for each input row exactly once, in a valid table
(``source_row``) or in the quarantine (``row``). Any exception other than InputError fails its case. The format
is described in tests/data/bad/README.md.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
import yaml

from persona_kit.errors import InputError
from persona_kit.io import ROW, read_raw
from persona_kit.privacy import neutralize_formulas
from persona_kit.schema import REASONS, SOURCE_FILE, SOURCE_ROW, LoadedSources, load_sources

CORPUS = Path(__file__).resolve().parent / "data" / "bad"
CASES = sorted(p for p in CORPUS.iterdir() if p.is_dir())


def _reviews(big_row: str, after: list[str]) -> bytes:
    return "\n".join(["buyer,time,text", f"b1,2024-06-30 12:00:00,{big_row}", *after, ""]).encode()


# files too big to commit, written by the test into a copy of the case folder
GENERATORS: dict[str, Callable[[Path], None]] = {
    "ten_mb_cell": lambda folder: (folder / "reviews.csv").write_bytes(
        _reviews("ok", ["b2,2024-06-30 12:00:00," + "x" * (10 * 1024 * 1024), "b3,2024-06-30 12:00:00,好评"])),
    "big_cell_before_ragged_row": lambda folder: (folder / "reviews.csv").write_bytes(
        _reviews("y" * (1024 * 1024), ["b2,2024-06-30 12:00:00,ok", "b3,2024-06-30 12:00:00,a,b"])),
}


def _expected(case: Path) -> dict:
    return yaml.safe_load((case / "expected.yaml").read_text(encoding="utf-8"))


def _prepare(case: Path, expected: dict, tmp_path: Path) -> Path:
    if "generate" not in expected:
        return case
    folder = tmp_path / case.name
    shutil.copytree(case, folder)
    GENERATORS[expected["generate"]](folder)
    return folder


def _load(folder: Path) -> LoadedSources:
    """load_sources on the case's maps; any exception but InputError is a bare traceback, so a failure."""
    try:
        return load_sources(sorted(folder.glob("map*.yaml")))
    except InputError:
        raise
    except Exception as err:  # noqa: BLE001 - the point of the corpus
        pytest.fail(f"bare traceback: {type(err).__name__}: {err}")


def _per(value: int | dict, key: str) -> int:
    return value[key] if isinstance(value, dict) else value


def _same(actual: object, expected: object) -> bool:
    if expected is None or actual is None:
        return actual is expected
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected  # True is not 1
    if isinstance(expected, str) and not isinstance(actual, str):
        return str(actual) == expected  # dates and time-zone-aware datetimes, written as text in YAML
    return actual == expected


def _cell(tables: dict[str, pl.DataFrame], check: dict) -> object:
    if "table" not in check:
        assert len(tables) == 1, f"say which table {check} is about"
    table = check.get("table", next(iter(tables)))
    rows = tables[table].filter(pl.col(SOURCE_ROW) == check["row"])
    assert rows.height == 1, f"{table} has {rows.height} rows with source_row {check['row']}"
    return rows.get_column(check["column"])[0]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input(case: Path, tmp_path: Path) -> None:
    expected = _expected(case)
    folder = _prepare(case, expected, tmp_path)

    if "error" in expected:
        with pytest.raises(InputError) as info:
            _load(folder)
        message = str(info.value)
        assert message == expected["error"].replace("{case}", str(folder))
        assert len(message.splitlines()) == 1, "an error message is one line"
        where = expected["where"]
        assert where["file"] in message
        if "column" in where:
            assert f"'{where['column']}'" in message
        if "row" in where:
            assert f"row {where['row']}" in message
        if "line" in where:
            assert f"line {where['line']}" in message
        return

    loaded = _load(folder)

    # row accounting: each input row once, in a valid table or in the quarantine
    accounting = loaded.accounting
    assert (accounting["rows_in"] == accounting["rows_valid"] + accounting["rows_quarantined"]).all()
    for cmap in loaded.maps:
        raw = read_raw(cmap.file, encoding=cmap.encoding, sheet=cmap.sheet, separator=cmap.separator)
        first = 1 if cmap.file.suffix == ".parquet" else 2
        count = _per(expected["rows"], cmap.path.name)
        assert raw.get_column(ROW).to_list() == list(range(first, first + count)), "rows read"
        valid = loaded.tables[cmap.table].filter(
            (pl.col(SOURCE_FILE) == cmap.file.name) & (pl.col("source") == cmap.source)).get_column(SOURCE_ROW)
        quarantined = loaded.quarantine.filter(
            (pl.col("file") == cmap.file.name) & (pl.col("table") == cmap.table)
            & (pl.col("source") == cmap.source)).get_column("row")
        assert sorted(valid.to_list() + quarantined.to_list()) == raw.get_column(ROW).to_list(), \
            f"{cmap.path.name}: rows lost or counted twice"

    for table, frame in loaded.tables.items():
        assert frame.height == _per(expected["valid_rows"], table), table

    # the quarantine, exactly
    files = {m.file.name for m in loaded.maps}
    default_file = next(iter(files)) if len(files) == 1 else None
    actual = loaded.quarantine.select("file", "row", "column", "reason").rows()
    wanted = [(q.get("file", default_file), q["row"], q["column"], q["reason"]) for q in expected["quarantine"]]
    assert sorted(actual) == sorted(wanted)
    for q in expected["quarantine"]:
        hit = loaded.quarantine.filter((pl.col("file") == q.get("file", default_file)) & (pl.col("row") == q["row"]))
        for key in ("message", "record"):
            if key in q:
                assert hit.get_column(key)[0] == q[key], key

    for check in expected.get("values", []):
        value = _cell(loaded.tables, check)
        if "length" in check:
            assert len(value) == check["length"]
        else:
            assert _same(value, check["value"]), f"{check}: got {value!r}"
    if "neutralized" in expected:
        safe = {t: neutralize_formulas(f) for t, f in loaded.tables.items()}
        for check in expected["neutralized"]:
            value = _cell(safe, check)
            assert _same(value, check["value"]), f"{check}: got {value!r}"
    for table, frame in loaded.tables.items():
        assert not set(expected.get("absent_columns", [])) & set(frame.columns), table


def test_the_corpus_is_small_complete_and_covers_every_reason() -> None:
    assert len(CASES) >= 40
    size = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    assert size < 200 * 1024, f"corpus is {size} bytes; generate big files in the test (GENERATORS)"
    reasons = set()
    for case in CASES:
        expected = _expected(case)
        assert list(case.glob("map*.yaml")), case.name
        assert {"input", "outcome"} <= set(expected), case.name
        assert ("error" in expected) != ("quarantine" in expected), case.name
        assert "generate" not in expected or expected["generate"] in GENERATORS, case.name
        reasons |= {q["reason"] for q in expected.get("quarantine", [])}
    assert reasons == set(REASONS)
