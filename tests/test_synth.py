"""Tests of persona_kit.synth: determinism, the column-map contract, and that every planted truth is real."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

import numpy as np
import openpyxl
import polars as pl
import pyarrow.parquet as pq
import pytest
import yaml
from scipy import stats

from persona_kit.errors import InputError
from persona_kit.schema import TABLES, load_map, load_sources
from persona_kit.synth import PERSONAS, generate

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
TZ_FORMATS = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y/%m/%d %H:%M"]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    generate(out, people=300, seed=7)
    return out


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("medium")
    generate(out, people=3000, seed=11)
    return out


def _hashes(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _read(path: Path) -> pl.DataFrame:
    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    if path.suffix == ".xlsx":
        rows = list(openpyxl.load_workbook(path, read_only=True).worksheets[0].iter_rows(values_only=True))
        return pl.DataFrame([list(map(str, r)) for r in rows[1:]], schema=[str(c) for c in rows[0]], orient="row")
    encoding = "gb18030" if path.name == "tmall_orders.csv" else "utf-8-sig"
    return pl.read_csv(path.read_text(encoding=encoding).encode(), infer_schema=False)


def _phone(value: str | None) -> str | None:
    if value is None:
        return None
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", value))
    for prefix in ("0086", "86"):
        if len(digits) > 11 and digits.startswith(prefix):
            digits = digits[len(prefix):]
    return digits or None


def _email(value: str | None) -> str | None:
    return value.strip().lower() if value and value.strip() else None


def _persons_of(root: Path) -> pl.DataFrame:
    return pl.read_parquet(root / "truth" / "records.parquet").select("source", "source_customer_id", "person_key",
                                                                      "persona")


def _paid_orders(root: Path) -> pl.DataFrame:
    """Every paid order line of the four order exports, with its true person (read the raw way)."""
    specs = {"tmall": ("tmall_orders.csv", "买家会员名", "订单编号", "订单状态", "下单时间", ["交易成功"]),
             "wechat": ("wechat_orders.csv", "openid", "order_no", "status", "created_at", ["已完成", "已发货"]),
             "app": ("app_orders.csv", "user_id", "order_id", "status", "paid_at", ["PAID"]),
             "pos": ("pos_orders.csv", "card_no", "receipt_no", "status", "txn_time", ["completed"])}
    parts = []
    for source, (file, key, order, status, ts, paid) in specs.items():
        raw = _read(root / "raw" / file).filter(pl.col(status).is_in(paid))
        parts.append(raw.select(pl.lit(source).alias("source"), pl.col(key).alias("source_customer_id"),
                                pl.col(order).alias("order_id"), pl.coalesce(
                                    [pl.col(ts).str.strptime(pl.Datetime, f, strict=False) for f in TZ_FORMATS])
                                .alias("order_ts")))
    return pl.concat(parts).join(_persons_of(root), on=["source", "source_customer_id"])


def test_same_arguments_give_byte_identical_files(small: Path, tmp_path: Path) -> None:
    generate(tmp_path, people=300, seed=7)
    first, second = _hashes(small), _hashes(tmp_path)
    assert len(first) > 30
    assert first == second


def test_another_seed_gives_other_data(small: Path, tmp_path: Path) -> None:
    generate(tmp_path, people=300, seed=8)
    first, second = _hashes(small), _hashes(tmp_path)
    assert first.keys() == second.keys()
    changed = [k for k in first if k.startswith(("raw/", "truth/")) and first[k] != second[k]]
    assert len(changed) >= 15


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"people": 10}, "people must be an integer of at least 30, got 10"),
    ({"people": 100, "start": "2024-13-01"}, "start and end must be dates"),
    ({"people": 100, "start": "2025-01-01", "end": "2025-06-30"}, "at least 400 days after start"),
])
def test_bad_arguments_raise_input_error(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        generate(tmp_path, **kwargs)


def test_summary_counts_match_the_files(small: Path, tmp_path: Path) -> None:
    summary = generate(tmp_path, people=300, seed=7)
    assert summary["persons"] == 300 and sum(summary["personas"].values()) == 300
    for rel, rows in summary["files"].items():
        if rel.startswith("raw/"):
            assert _read(tmp_path / rel).height == rows, rel
    raw = [k for k in summary["files"] if k.startswith("raw/")]
    assert (tmp_path / "DATA_DICTIONARY.md").read_text("utf-8").count("### raw/") == len(raw) == 11


def test_tmall_export_is_gb18030_and_members_have_a_bom(small: Path) -> None:
    data = (small / "raw" / "tmall_orders.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert data.decode("gb18030").startswith("订单编号,买家会员名")
    assert (small / "raw" / "wechat_members.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert not (small / "raw" / "wechat_orders.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_every_map_uses_raw_columns_and_canonical_names(small: Path) -> None:
    maps = sorted((small / "maps").glob("*.yaml"))
    assert {(m.stem.split(".")[1]) for m in maps} == {"orders", "customers", "events", "reviews", "products",
                                                       "campaigns"}
    for path in maps:
        spec = yaml.safe_load(path.read_text("utf-8"))
        raw = path.parent / spec["file"]
        assert raw.is_file(), path.name
        header = _read(raw).columns
        canonical = TABLES[spec["table"]]
        assert spec["timezone"] == "Asia/Shanghai"
        for source_col, targets in spec["columns"].items():
            assert source_col in header, (path.name, source_col)
            for target in targets if isinstance(targets, list) else [targets]:
                assert target in canonical, (path.name, target)
        for section in ("values", "constants", "formats"):
            assert set(spec.get(section) or {}) <= set(canonical), (path.name, section)
        for col, mapping in (spec.get("values") or {}).items():
            if canonical[col].choices:
                assert set(mapping.values()) <= set(canonical[col].choices), (path.name, col)
        load_map(path)  # the loader's own checks (required columns filled, no duplicates)


def test_every_source_record_is_in_the_truth_once(small: Path) -> None:
    truth = _persons_of(small)
    assert truth.select("source", "source_customer_id").is_unique().all()
    keys = {"tmall": [("tmall_orders.csv", "买家会员名"), ("reviews.csv", "买家会员名")],
            "wechat": [("wechat_members.csv", "openid"), ("wechat_orders.csv", "openid"),
                       ("campaign_2026q1.csv", "openid")],
            "app": [("app_users.csv", "user_id"), ("app_orders.csv", "user_id"), ("app_events.parquet", "user_id")],
            "pos": [("pos_members.csv", "card_no"), ("pos_orders.csv", "card_no")]}
    for source, files in keys.items():
        seen = set()
        for file, col in files:
            values = set(_read(small / "raw" / file)[col].drop_nulls().to_list())
            known = set(truth.filter(pl.col("source") == source)["source_customer_id"])
            assert values <= known, (file, sorted(values - known)[:3])
            seen |= values
        missing = known - seen
        assert len(missing) <= 3, (source, sorted(missing)[:3])  # only records whose key was blanked as dirty


def _identifiers(root: Path) -> pl.DataFrame:
    cols = {"tmall_orders.csv": ("tmall", "买家会员名", {"联系手机": "phone"}),
            "wechat_members.csv": ("wechat", "openid", {"phone": "phone", "unionid": "unionid"}),
            "app_users.csv": ("app", "user_id", {"phone": "phone", "email": "email", "wx_unionid": "unionid"}),
            "pos_members.csv": ("pos", "card_no", {"mobile": "phone", "email": "email"})}
    parts = []
    for file, (source, key, ids) in cols.items():
        raw = _read(root / "raw" / file).filter(pl.col(key).is_not_null())
        for col, kind in ids.items():
            norm = {"phone": _phone, "email": _email}.get(kind, lambda v: v)
            parts.append(raw.select(pl.lit(source).alias("source"), pl.col(key).alias("source_customer_id"),
                                    pl.lit(kind).alias("id_type"),
                                    pl.col(col).map_elements(norm, return_dtype=pl.String).alias("id_value")))
    return pl.concat(parts).drop_nulls().unique().join(_persons_of(root), on=["source", "source_customer_id"])


def test_identifiers_link_a_persons_records_and_never_two_persons(medium: Path) -> None:
    ids = _identifiers(medium)
    phones = ids.filter(pl.col("id_type") == "phone")["id_value"]
    assert phones.str.contains(r"^1[3-9]\d{9}$").all()
    raw_phones = pl.concat([_read(medium / "raw" / f)[c].drop_nulls() for f, c in (
        ("tmall_orders.csv", "联系手机"), ("pos_members.csv", "mobile"), ("app_users.csv", "phone"))])
    for noise in (r"^\+86", r"^0086", "-", " ", "[０-９]"):
        assert raw_phones.str.contains(noise).any(), noise
    shared = ids.group_by("id_type", "id_value").agg(pl.col("person_key").n_unique().alias("n"))
    over = shared.filter(pl.col("n") > 1)
    assert sorted(over["id_value"].to_list()) == ["13800138000", "test@test.com"]
    assert over["n"].min() >= 20
    clean = ids.join(over, on=["id_type", "id_value"], how="anti")
    multi = _persons_of(medium).group_by("person_key").len().filter(pl.col("len") > 1)
    assert multi.height > 500
    peers = clean.join(clean, on=["id_type", "id_value", "person_key"], suffix="_peer").filter(
        (pl.col("source") != pl.col("source_peer")) | (pl.col("source_customer_id") != pl.col("source_customer_id_peer")))
    linked = peers.select("source", "source_customer_id").unique()
    in_multi = _persons_of(medium).join(multi, on="person_key").select("source", "source_customer_id")
    dirty_keys = pl.read_csv(medium / "truth" / "dirty_rows.csv").filter(pl.col("kind") == "missing_id")
    unlinked = in_multi.join(linked, on=["source", "source_customer_id"], how="anti")
    assert unlinked.height <= dirty_keys.height, unlinked.head()
    assert pl.read_parquet(medium / "truth" / "records.parquet")["second_card"].sum() > 5


def test_persona_sizes_and_demographics(medium: Path) -> None:
    persons = pl.read_parquet(medium / "truth" / "persons.parquet")
    sizes = dict(persons.group_by("persona").len().iter_rows())
    assert set(sizes) == set(PERSONAS)
    assert len(set(sizes.values())) >= 4  # a mix of sizes
    assert 0.06 <= min(sizes.values()) / 3000 and max(sizes.values()) / 3000 <= 0.25
    by = persons.group_by("persona").agg(
        pl.col("n_orders").mean(), pl.col("net_spend").mean(), pl.col("n_events").mean(),
        (pl.col("gender") == "female").mean().alias("female"),
        ((pl.date(2026, 6, 30) - pl.col("birth_date")).dt.total_days() / 365.25).mean().alias("age"),
        pl.col("city_tier").mean().alias("tier")).sort("persona")
    row = {r["persona"]: r for r in by.to_dicts()}
    assert row["browser"]["n_orders"] < 0.5 < row["bargain_hunter"]["n_orders"]
    assert row["skincare_loyalist"]["n_orders"] == max(r["n_orders"] for r in row.values())
    assert row["luxury_fragrance"]["net_spend"] / row["luxury_fragrance"]["n_orders"] > 2 * max(
        r["net_spend"] / r["n_orders"] for p, r in row.items() if p not in ("luxury_fragrance", "browser"))
    assert row["makeup_trend"]["age"] < 25 < row["luxury_fragrance"]["age"] - 15
    assert row["bargain_hunter"]["tier"] > 3 > row["luxury_fragrance"]["tier"] + 1.5
    assert row["browser"]["n_events"] > 5 * row["luxury_fragrance"]["n_events"]


def test_campaign_arms_are_balanced_as_randomized(medium: Path) -> None:
    camp = pl.read_csv(medium / "raw" / "campaign_2026q1.csv").join(
        _persons_of(medium).filter(pl.col("source") == "wechat"), left_on="openid", right_on="source_customer_id")
    design = yaml.safe_load((medium / "truth" / "truth.yaml").read_text("utf-8"))["campaign"]["arms"]
    counts = camp.group_by("arm").len().sort("arm")
    observed = counts["len"].to_numpy()
    expected = np.array([design[a] for a in counts["arm"]]) * camp.height
    assert stats.chisquare(observed, expected).pvalue > 0.01
    table = camp.group_by("persona", "arm").len().pivot("arm", index="persona", values="len").fill_null(0)
    assert stats.chi2_contingency(table.drop("persona").to_numpy()).pvalue > 0.01
    assert camp["openid"].is_unique().all() and camp.height > 500


def test_campaign_uplift_is_visible_in_the_orders(medium: Path) -> None:
    camp = pl.read_csv(medium / "raw" / "campaign_2026q1.csv").join(
        _persons_of(medium).filter(pl.col("source") == "wechat"), left_on="openid", right_on="source_customer_id"
    ).with_columns(pl.col("assigned_at").str.strptime(pl.Datetime, "%Y-%m-%d %H:%M:%S"))
    orders = _paid_orders(medium).select("person_key", "order_ts")
    hits = camp.join(orders, on="person_key").filter(
        (pl.col("order_ts") > pl.col("assigned_at")) & (pl.col("order_ts") <= pl.col("assigned_at") + pl.duration(days=30)))
    camp = camp.with_columns(converted=pl.col("person_key").is_in(hits["person_key"].implode()))
    rate = {(p, a): c for p, a, c in camp.group_by("persona", "arm").agg(pl.col("converted").mean()).iter_rows()}
    for persona in ("bargain_hunter", "lapsed"):
        assert rate[(persona, "coupon")] - rate[(persona, "control")] > 0.15, persona
    others = camp.filter(~pl.col("persona").is_in(["bargain_hunter", "lapsed"]))
    pooled = dict(others.group_by("arm").agg(pl.col("converted").mean()).iter_rows())
    assert abs(pooled["coupon"] - pooled["control"]) < 0.08  # about zero for everyone else
    effects = pl.read_csv(medium / "truth" / "campaign_effects.csv")
    true = dict(effects.filter(pl.col("arm") == "coupon").select("persona", "true_conversion_uplift").iter_rows())
    assert true["bargain_hunter"] > 0.3 and true["lapsed"] > 0.15 and abs(true["luxury_fragrance"]) < 0.02


def test_xiaohongshu_sessions_buy_more_often(medium: Path) -> None:
    events = pl.read_parquet(medium / "raw" / "app_events.parquet")
    sessions = events.group_by("session_id").agg(pl.col("traffic_source").first(),
                                                  (pl.col("event_name") == "pay_success").any().alias("buy"))
    rate = dict(sessions.group_by(pl.col("traffic_source") == "小红书").agg(pl.col("buy").mean()).iter_rows())
    assert rate[True] > 1.8 * rate[False]
    truth = yaml.safe_load((medium / "truth" / "truth.yaml").read_text("utf-8"))["channel_effect"]
    assert truth["channel"] == "xiaohongshu" and truth["buy_rate_with_touch"] > 1.8 * truth["buy_rate_without_touch"]
    assert set(events["event_name"].drop_nulls()) >= {"impression", "product_view", "click", "search", "add_favorite",
                                                       "add_to_cart", "pay_success", "share"}


def test_planted_dirty_rows_are_where_the_truth_says(small: Path) -> None:
    dirty = pl.read_csv(small / "truth" / "dirty_rows.csv", infer_schema=False)
    kinds = set(dirty["kind"])
    assert kinds >= {"exact_duplicate", "near_duplicate", "bad_date", "negative_amount", "zero_amount", "missing_id",
                     "bad_event_type", "cancelled_big_order"}
    frames = {f: _read(small / "raw" / f) for f in dirty["file"].unique()}
    for r in dirty.iter_rows(named=True):
        frame = frames[r["file"]]
        row = frame.row(int(r["row_index"]), named=True)
        assert int(r["row"]) == int(r["row_index"]) + (1 if r["file"].endswith(".parquet") else 2)
        if r["kind"] in ("exact_duplicate", "near_duplicate"):
            original = frame.row(int(r["detail"].split()[-1]) - 2, named=True)
            same = [k for k in row if row[k] == original[k]]
            assert (len(same) == len(row)) == (r["kind"] == "exact_duplicate"), r
            assert all((row[k] or "").strip() == (original[k] or "").strip().removesuffix(".00") or
                       float(row[k]) == float(original[k]) for k in row), r
        elif r["kind"] == "bad_date":
            assert row[r["column"]] in (None, "2025-02-30 14:00:00", "待定", "2025-13-45 10:00:00", "2025-02-30",
                                        "0000-00-00")
        elif r["kind"] == "missing_id":
            assert row[r["column"]] is None
        elif r["kind"] == "negative_amount":
            assert row[r["column"]].startswith("-")
        elif r["kind"] == "bad_event_type":
            assert row["event_name"] in ("app_crash", "heartbeat", "未知事件")
        elif r["kind"] == "cancelled_big_order":
            assert row["订单状态"] == "交易关闭" and int(row["购买数量"]) >= 20


def test_the_loader_quarantines_the_unusable_planted_rows(small: Path) -> None:
    loaded = load_sources(small / "maps")
    assert (loaded.accounting["rows_in"] == loaded.accounting["rows_valid"] + loaded.accounting["rows_quarantined"]).all()
    dirty = pl.read_csv(small / "truth" / "dirty_rows.csv").filter(
        pl.col("kind").is_in(["missing_id", "bad_event_type"])
        | ((pl.col("kind") == "bad_date") & pl.col("file").str.contains("orders")))
    caught = dirty.join(loaded.quarantine.select("file", "row").unique(), on=["file", "row"])
    assert caught.height == dirty.height > 0
    assert loaded.quarantine["reason"].is_in(["missing_required", "invalid_choice", "unparseable_datetime"]).all()


def test_reviews_follow_their_ratings(medium: Path) -> None:
    reviews = pl.read_csv(medium / "raw" / "reviews.csv")
    truth = pl.read_parquet(medium / "truth" / "reviews.parquet")
    buyers = _read(medium / "raw" / "tmall_orders.csv")["买家会员名"].n_unique()
    assert 0.05 <= reviews["买家会员名"].n_unique() / buyers <= 0.15
    mean = dict(truth.group_by("sentiment").agg(pl.col("rating").mean()).iter_rows())
    assert mean["positive"] > 4 > mean["neutral"] > mean["negative"] + 1
    assert 0 < (truth["lang"] == "en").sum() < 0.1 * truth.height
    assert reviews["评价内容"].n_unique() > 0.8 * reviews.height


def test_rows_scale_with_people(medium: Path) -> None:
    events = pq.read_metadata(medium / "raw" / "app_events.parquet").num_rows
    lines = sum(_read(medium / "raw" / f).height for f in ("tmall_orders.csv", "wechat_orders.csv", "app_orders.csv",
                                                           "pos_orders.csv"))
    assert 20 <= events / 3000 <= 60 and 3 <= lines / 3000 <= 8


def test_committed_sample_is_current_and_small(tmp_path: Path) -> None:
    if not (SAMPLE / "truth" / "truth.yaml").is_file():
        pytest.skip("data/sample not generated")
    total = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert total <= 15 * 1024 * 1024
    generate(tmp_path, people=5000, seed=7)
    assert _hashes(tmp_path) == {k: v for k, v in _hashes(SAMPLE).items() if not k.startswith(".")}
