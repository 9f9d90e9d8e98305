"""Tests for persona_kit.io: raw readers (encodings, Excel, Parquet), whole-file errors, artifact writes."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import openpyxl
import polars as pl
import pytest

from persona_kit.errors import InputError
from persona_kit.io import (
    ROW,
    detect_encoding,
    read_raw,
    sha256_file,
    write_atomic,
    write_json,
    write_parquet,
)


def exact(message: str) -> str:
    """A ``match=`` pattern for exactly this message."""
    return "^" + re.escape(message) + "$"


@pytest.fixture
def write(tmp_path):
    def _write(name: str, data: str | bytes, encoding: str = "utf-8"):
        path = tmp_path / name
        path.write_bytes(data.encode(encoding) if isinstance(data, str) else data)
        return path
    return _write


def _xlsx(path, rows):
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    book.save(path)
    return path


# --- encodings -------------------------------------------------------------------------------------------

def test_utf8_keeps_text_and_leading_zeros(write):
    frame = read_raw(write("m.csv", "卡号,姓名,金额\n007,张三,12.50\n010,李四,\n"))
    assert frame.columns == ["卡号", "姓名", "金额", ROW]
    assert frame.schema["卡号"] == pl.String and frame.schema[ROW] == pl.Int64
    assert frame.rows() == [("007", "张三", "12.50", 2), ("010", "李四", None, 3)]


@pytest.mark.parametrize("encoding", ["auto", "utf-8", "utf-8-sig"])
def test_bom_does_not_leak_into_first_column_name(write, encoding):
    path = write("bom.csv", "\ufeffid,name\n1,x\n")
    assert detect_encoding(path) == "utf-8-sig"
    frame = read_raw(path, encoding=encoding)
    assert frame.columns == ["id", "name", ROW]
    assert frame.rows() == [("1", "x", 2)]


def test_gb18030_is_detected(write):
    path = write("gb.csv", "卡号,手机\n007,138 0013 8000\n", encoding="gb18030")
    assert detect_encoding(path) == "gb18030"
    assert read_raw(path).rows() == [("007", "138 0013 8000", 2)]
    assert read_raw(path, encoding="gb18030").columns == ["卡号", "手机", ROW]


def test_gb18030_declared_utf8_names_file_and_fix(write):
    path = write("gb.csv", "卡号,手机\n007,138\n", encoding="gb18030")
    with pytest.raises(InputError, match=exact("gb.csv: not valid utf-8 at byte 0; set `encoding:` in its "
                                               "column map (utf-8, utf-8-sig or gb18030)")):
        read_raw(path, encoding="utf-8")


def test_gb18030_body_declared_utf8_names_byte(write):
    path = write("gb.csv", "id,name\n1,张三\n", encoding="gb18030")
    with pytest.raises(InputError, match=exact("gb.csv: not valid utf-8 at byte 10; set `encoding:` in its "
                                               "column map (utf-8, utf-8-sig or gb18030)")):
        read_raw(path, encoding="utf-8")


def test_undecodable_bytes(write):
    path = write("bad.csv", b"id,name\n1,\xff\xfe\x00\x81\n")
    with pytest.raises(InputError, match=exact("bad.csv: cannot decode the file as utf-8 or gb18030 (the encodings "
                                               "persona-kit reads); save it again as UTF-8 (in Excel: CSV UTF-8)")):
        read_raw(path)


def test_unknown_encoding_is_rejected(write):
    path = write("a.csv", "a\n1\n")
    with pytest.raises(InputError, match=exact("encoding must be one of ['auto', 'utf-8', 'utf-8-sig', "
                                               "'gb18030'], got 'latin1'")):
        read_raw(path, encoding="latin1")


# --- formats ---------------------------------------------------------------------------------------------

def test_xlsx_ids_stay_text(tmp_path):
    path = _xlsx(tmp_path / "members.xlsx", [
        ["卡号", "金额", "注册时间", "同意"],
        ["007", 12.0, dt.datetime(2024, 1, 2, 3, 4, 5), True],
        [8, 12.5, None, False],
    ])
    frame = read_raw(path)
    assert frame.columns == ["卡号", "金额", "注册时间", "同意", ROW]
    assert all(dtype == pl.String for name, dtype in frame.schema.items() if name != ROW)
    assert frame.rows() == [("007", "12", "2024-01-02 03:04:05", "True", 2), ("8", "12.5", None, "False", 3)]


def test_xlsx_named_sheet(tmp_path):
    path = tmp_path / "two.xlsx"
    book = openpyxl.Workbook()
    book.active.append(["a"])
    book.active.append(["first"])
    other = book.create_sheet("订单")
    other.append(["b"])
    other.append(["second"])
    book.save(path)
    assert read_raw(path).rows() == [("first", 2)]
    assert read_raw(path, sheet="订单").rows() == [("second", 2)]


def test_xlsx_missing_sheet_is_one_clean_message(tmp_path):
    # Regression: InputErrors raised inside the Excel reader were wrapped again as "cannot read the file:
    # <file>: ...", repeating the file name and losing the row.
    path = _xlsx(tmp_path / "b.xlsx", [["id"], ["1"]])
    with pytest.raises(InputError, match=exact("b.xlsx: no sheet 'nope'; sheets: ['Sheet']")):
        read_raw(path, sheet="nope")


def test_xlsx_blank_header_names_position_and_row(tmp_path):
    path = _xlsx(tmp_path / "b.xlsx", [["id", None, "x"], ["1", "2", "3"]])
    with pytest.raises(InputError, match=exact("b.xlsx, row 1: blank column name at position 2; give every "
                                               "column a header")) as info:
        read_raw(path)
    assert info.value.row == 1


def test_parquet_rows_start_at_one(tmp_path):
    path = tmp_path / "a.parquet"
    pl.DataFrame({"id": ["007", "008"], "n": [1, 2]}).write_parquet(path)
    frame = read_raw(path)
    assert frame.rows() == [("007", 1, 1), ("008", 2, 2)]
    assert frame.schema["n"] == pl.Int64  # Parquet keeps its types


def test_not_a_parquet_file(write):
    path = write("bad.parquet", b"not parquet")
    with pytest.raises(InputError, match=r"^bad\.parquet: cannot read the file: "):
        read_raw(path)


def test_tsv_and_custom_separator(write):
    assert read_raw(write("a.tsv", "id\tname\n007\tx, y\n")).rows() == [("007", "x, y", 2)]
    assert read_raw(write("a.txt", "id;name\n007;x\n"), separator=";").rows() == [("007", "x", 2)]


# --- whole-file problems ---------------------------------------------------------------------------------

def test_zero_byte_file(write):
    with pytest.raises(InputError, match=exact("empty.csv: file is empty (0 bytes); export it again")):
        read_raw(write("empty.csv", b""))


@pytest.mark.parametrize("text", ["id,name\n", "id,name"])
def test_header_only_file_has_zero_rows(write, text):
    frame = read_raw(write("h.csv", text))
    assert frame.height == 0
    assert frame.columns == ["id", "name", ROW]


def test_duplicate_headers(write):
    with pytest.raises(InputError, match=exact("dup.csv, row 1: duplicate column names ['id']; rename them so "
                                               "each is unique")):
        read_raw(write("dup.csv", "id,name,id\n1,2,3\n"))


@pytest.mark.parametrize("header", ["id,,x", "id, ,x"])
def test_blank_header(write, header):
    with pytest.raises(InputError, match=exact("blank.csv, row 1: blank column name at position 2; give every "
                                               "column a header")):
        read_raw(write("blank.csv", header + "\n1,2,3\n"))


def test_ragged_row_is_named(write):
    with pytest.raises(InputError, match=exact("rag.csv, row 3: has 3 fields where the header has 2; fix the "
                                               "quoting or separators on that line")) as info:
        read_raw(write("rag.csv", "id,name\n1,a\n2,b,c\n3,d\n"))
    assert (info.value.file, info.value.row) == ("rag.csv", 3)


def test_ragged_row_in_gb18030(write):
    with pytest.raises(InputError, match=exact("rag.csv, row 2: has 3 fields where the header has 2; fix the "
                                               "quoting or separators on that line")):
        read_raw(write("rag.csv", "id,name\n1,张三,x\n", encoding="gb18030"))


def test_unsupported_suffix(write):
    with pytest.raises(InputError, match=exact("x.json: unsupported file type '.json'; use .csv, .tsv, .xlsx "
                                               "or .parquet")):
        read_raw(write("x.json", "{}"))


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(InputError, match=exact(f"{missing}: file not found; check the `file:` path in its "
                                               "column map")):
        read_raw(missing)


# --- row numbering ---------------------------------------------------------------------------------------

def test_row_numbers_follow_the_spreadsheet(write):
    # header = row 1; a quoted field spanning two lines is still one record; a blank line is kept as a row
    frame = read_raw(write("q.csv", 'id,note\n1,"two\nlines"\n2,x\n\n3,y\n'))
    assert frame.get_column(ROW).to_list() == [2, 3, 4, 5]
    assert frame.rows()[0] == ("1", "two\nlines", 2)
    assert frame.rows()[2] == (None, None, 4)


def test_short_row_fills_nulls(write):
    assert read_raw(write("s.csv", "id,name\n1\n2,b\n")).rows() == [("1", None, 2), ("2", "b", 3)]


# --- artifacts -------------------------------------------------------------------------------------------

def test_write_parquet_is_byte_identical(tmp_path):
    frame = pl.DataFrame({"person_id": ["p1", "p2"], "amount": [1.5, None],
                          "ts": [dt.datetime(2024, 1, 1), dt.datetime(2024, 6, 30, 12)]})
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    write_parquet(frame, first)
    write_parquet(frame, second)
    assert first.read_bytes() == second.read_bytes()
    assert pl.read_parquet(first).equals(frame)


def test_write_atomic_keeps_old_file_when_writer_fails(tmp_path):
    target = tmp_path / "out" / "a.txt"
    write_atomic(target, lambda tmp: tmp.write_text("old"))

    def failing(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomic(target, failing)
    assert target.read_text() == "old"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.txt"]  # no temporary file left behind


def test_write_json_round_trips(tmp_path):
    path = write_json({"b": 1, "a": "画像", "d": dt.date(2024, 6, 30)}, tmp_path / "run.json")
    assert path.read_text(encoding="utf-8") == '{\n  "b": 1,\n  "a": "画像",\n  "d": "2024-06-30"\n}\n'


def test_sha256_file_matches_hashlib(tmp_path):
    path = tmp_path / "blob.bin"
    data = bytes(range(256)) * 5000  # > 1 MiB, so several blocks
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


# --- reading some columns ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name, data, encoding", [
    ("a.csv", "\ufeffid,when,note\n007,2024-01-05,x\n008,,y\n", "utf-8"),
    ("a.csv", "id,when,note\n007,2024-01-05,5\" brush\n008,2024/1/5,y\n", "utf-8"),  # the csv-module fallback
    ("a.csv", "卡号,时间,备注\n007,2024-01-05,张\n", "gb18030"),
])
def test_reading_some_columns_equals_reading_all_then_selecting(write, name, data, encoding):
    path = write(name, data, encoding)
    full = read_raw(path)
    wanted = [full.columns[2], full.columns[1]]
    assert read_raw(path, columns=wanted).equals(full.select(full.columns[1], full.columns[2], ROW))


def test_reading_some_columns_of_parquet_and_xlsx(tmp_path):
    pq = tmp_path / "a.parquet"
    pl.DataFrame({"id": ["007", "008"], "n": [1, 2]}).write_parquet(pq)
    xlsx = _xlsx(tmp_path / "a.xlsx", [["id", "n"], ["007", 1]])
    for path in (pq, xlsx):
        assert read_raw(path, columns=["n"]).equals(read_raw(path).select("n", ROW))
        with pytest.raises(InputError, match=r"missing columns \['m'\]"):
            read_raw(path, columns=["m"])


def test_large_gb18030_file_reads_like_its_utf8_twin(write):
    text = "卡号,备注\n" + "".join(f"{i:07d},第{i}行\n" for i in range(120_000))  # well past the sniffed megabyte
    assert len(text.encode("gb18030")) > 1 << 20
    gb, utf = read_raw(write("gb.csv", text, "gb18030")), read_raw(write("u.csv", text))
    assert gb.columns == ["卡号", "备注", ROW] and gb.equals(utf)


def test_write_parquet_gives_the_same_bytes_however_the_frame_is_chunked(tmp_path):
    whole = pl.DataFrame({"x": range(100_000), "y": [str(i) for i in range(100_000)]})
    pieces = pl.concat([whole.head(30_000), whole.tail(70_000)], rechunk=False)
    assert pieces.n_chunks() == 2
    write_parquet(whole, tmp_path / "whole.parquet")
    write_parquet(pieces, tmp_path / "pieces.parquet")
    assert (tmp_path / "whole.parquet").read_bytes() == (tmp_path / "pieces.parquet").read_bytes()
