"""Tag snapshots: write / read round trip, diff counts and person lists, person_360 with PII masked."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import polars as pl
import pytest

from persona_kit.errors import InputError
from persona_kit.tags.catalog import load_catalog
from persona_kit.tags.snapshots import (
    diff,
    list_snapshots,
    person_360,
    read_history,
    read_snapshot,
    snapshot_dir,
    write_snapshot,
)

D1, D2 = dt.date(2024, 5, 31), dt.date(2024, 6, 30)


def long(rows, day):
    return pl.DataFrame({"person_id": [r[0] for r in rows], "tag_id": [r[1] for r in rows],
                         "value": [r[2] for r in rows], "as_of": [day] * len(rows)},
                        schema={"person_id": pl.String, "tag_id": pl.String, "value": pl.String, "as_of": pl.Date})


OLD = long([("p1", "city", "上海"), ("p2", "city", "北京"), ("p1", "spending_power", "高"),
            ("p2", "spending_power", "低"), ("p3", "spending_power", "低")], D1)
NEW = long([("p1", "city", "上海"), ("p2", "city", "上海"), ("p1", "spending_power", "中"),
            ("p2", "spending_power", "低"), ("p4", "spending_power", "低")], D2)


def test_round_trip_long_and_wide(tmp_path):
    catalog = load_catalog().select(["city", "spending_power"])
    folder = write_snapshot(OLD, tmp_path, catalog=catalog)
    assert folder == tmp_path / "tags" / "snapshot=2024-05-31" == snapshot_dir(tmp_path, D1)
    assert sorted(p.name for p in folder.iterdir()) == ["long.parquet", "wide.parquet"]
    back = read_snapshot(tmp_path, "2024-05-31")
    assert back.sort("tag_id", "person_id").equals(OLD.sort("tag_id", "person_id"))
    table = read_snapshot(tmp_path, D1, form="wide")
    assert table.columns == ["person_id", "as_of", "city", "spending_power"]
    assert table.rows() == [("p1", D1, "上海", "高"), ("p2", D1, "北京", "低"), ("p3", D1, None, "低")]
    first = (folder / "long.parquet").read_bytes()
    write_snapshot(OLD.reverse(), tmp_path, catalog=catalog)
    assert (folder / "long.parquet").read_bytes() == first  # same data, same bytes


def test_list_read_history_and_errors(tmp_path):
    assert list_snapshots(tmp_path) == [] and read_history(tmp_path).is_empty()
    write_snapshot(NEW, tmp_path)
    write_snapshot(OLD, tmp_path)
    assert list_snapshots(tmp_path) == [D1, D2]
    assert read_history(tmp_path)["as_of"].unique(maintain_order=True).to_list() == [D1, D2]
    with pytest.raises(InputError, match="no tag snapshot as of 2024-01-01 under .*; snapshots: "
                                         "\\['2024-05-31', '2024-06-30'\\]; run the tags step"):
        read_snapshot(tmp_path, "2024-01-01")
    with pytest.raises(InputError, match="form must be one of \\['long', 'wide'\\], got 'tall'"):
        read_snapshot(tmp_path, D1, form="tall")
    with pytest.raises(InputError, match="a snapshot holds exactly one as_of date, got \\['2024-05-31', '2024-06-30'\\]"):
        write_snapshot(pl.concat([OLD, NEW]), tmp_path)
    with pytest.raises(InputError, match="tags: missing columns \\['as_of'\\]"):
        write_snapshot(OLD.drop("as_of"), tmp_path)


def test_diff_counts_and_person_lists():
    out = diff(OLD, NEW)
    rows = {(r["tag_id"], r["value"]): r for r in out.iter_rows(named=True)}
    assert set(rows) == {("city", "上海"), ("city", "北京"), ("spending_power", "高"), ("spending_power", "中"),
                         ("spending_power", "低")}
    shanghai = rows[("city", "上海")]
    assert (shanghai["before"], shanghai["after"], shanghai["entered"], shanghai["left"]) == (1, 2, 1, 0)
    assert shanghai["entered_persons"] == ["p2"] and shanghai["left_persons"] == []
    assert rows[("city", "北京")]["left_persons"] == ["p2"]
    low = rows[("spending_power", "低")]  # p3 left (gone from the data), p4 entered (new), p2 stayed
    assert (low["before"], low["after"], low["entered"], low["left"]) == (2, 2, 1, 1)
    assert (low["entered_persons"], low["left_persons"]) == (["p4"], ["p3"])
    assert rows[("spending_power", "中")]["entered_persons"] == ["p1"]
    assert rows[("spending_power", "高")]["left_persons"] == ["p1"]
    assert diff(OLD, OLD)["entered"].sum() == 0 and diff(OLD, OLD)["left"].sum() == 0
    from_pandas = diff(OLD.to_pandas(), NEW.to_pandas())
    assert isinstance(from_pandas, pd.DataFrame)
    assert from_pandas["entered_persons"].map(list).tolist() == out["entered_persons"].to_list()


def test_person_360_masks_pii_and_collects_everything():
    catalog = load_catalog().select(["city", "spending_power"])
    features = pl.DataFrame({"person_id": ["p1", "p2"], "phone": ["+8613800138000", "+8613900139000"],
                             "name": ["张小明", "李四"], "spend_365d": [900.0, 10.0], "as_of": [D2, D2]})
    events = pl.DataFrame({"person_id": ["p1", "p1", "p2"],
                           "event_ts": [dt.datetime(2024, 6, 1), dt.datetime(2024, 6, 20), dt.datetime(2024, 6, 5)],
                           "event_type": ["view", "buy", "view"], "email": ["ada@example.com", None, None]})
    view = person_360("p1", features=features, tags_history=pl.concat([OLD, NEW]), catalog=catalog,
                      events=events, recent=5)
    assert view["person_id"] == "p1"
    assert view["features"].rows() == [("p1", "+86138****8000", "张**", 900.0, D2)]
    assert view["tags"].select("tag_id", "name_zh", "value", "definition").rows() == [
        ("city", "城市", "上海", "column=city"),
        ("spending_power", "消费能力", "中", "column=spend_365d, quantiles=[0.33, 0.66], labels=['低', '中', '高'], "
                                         "where=spend_365d > 0")]
    assert view["history"].rows() == [("city", D1, "上海"), ("city", D2, "上海"),
                                      ("spending_power", D1, "高"), ("spending_power", D2, "中")]
    assert view["events"]["event_type"].to_list() == ["buy", "view"]  # latest first
    assert view["events"]["email"].to_list() == [None, "a***@example.com"]
    flat = str(view)
    assert "13800138000" not in flat and "张小明" not in flat and "ada@" not in flat
    assert person_360("p2", features=features, tags_history=OLD, catalog=catalog)["events"] is None
    pandas_view = person_360("p1", features=features.to_pandas(), tags_history=OLD, catalog=catalog)
    assert isinstance(pandas_view["tags"], pd.DataFrame) and pandas_view["features"]["phone"].tolist() == [
        "+86138****8000"]
    with pytest.raises(InputError, match="person 'p9' is in neither the features nor the tag history"):
        person_360("p9", features=features, tags_history=OLD, catalog=catalog)
