"""audience: universe, conditions, sizes / overlaps / UpSet, privacy-safe export, trigger panel and backtest."""

import datetime as dt
import hashlib
import json

import pandas as pd
import polars as pl
import pytest

from persona_kit import audience
from persona_kit.errors import InputError


def universe(n=40):
    return pl.DataFrame({
        "person_id": [f"P{i:03d}" for i in range(n)],
        "rfm_segment": (["at_risk", "cant_lose_them", "champions", "new"] * n)[:n],
        "interest_skincare": [i / n for i in range(n)],
        "consent_marketing": [i % 4 != 0 for i in range(n)],
        "spend_365d": [float(i * 10) for i in range(n)],
    })


ISSUE = "rfm_segment in ['at_risk', 'cant_lose_them'] and interest_skincare >= 0.6 and consent_marketing"


def test_the_issue_example_selects_the_right_persons():
    u = universe()
    got = audience.evaluate(u, {"reactivate": ISSUE})
    expected = [pid for pid, seg, share, ok, _ in u.iter_rows()
                if seg in ("at_risk", "cant_lose_them") and share >= 0.6 and ok]
    assert got.filter(pl.col("reactivate"))["person_id"].to_list() == expected
    as_pandas = audience.evaluate(u.to_pandas(), {"reactivate": ISSUE})
    assert isinstance(as_pandas, pd.DataFrame) and as_pandas["reactivate"].sum() == len(expected)


def test_bad_conditions_point_at_the_token_and_name_the_audience():
    with pytest.raises(InputError, match=r"audience 'x': unexpected token '>=' at position 21 in"):
        audience.evaluate(universe(), {"x": "interest_skincare >= >= 1"})
    with pytest.raises(InputError, match=r"audience 'x': unknown column 'rfm_segmnt'.*did you mean 'rfm_segment'"):
        audience.evaluate(universe(), {"x": "rfm_segmnt == 'new'"})
    with pytest.raises(InputError, match="audience name 'Bad Name' must be lower-case"):
        audience.evaluate(universe(), {"Bad Name": "spend_365d > 1"})
    with pytest.raises(InputError, match="different types"):
        audience.evaluate(universe(), {"x": "rfm_segment > 3"})


def test_universe_joins_later_steps_and_keeps_the_first_version_of_a_column():
    features = pl.DataFrame({"person_id": ["a", "b", "c"], "age": [30, 41, None]})
    tags = pl.DataFrame({"person_id": ["a", "b", "c"], "age": ["30", "41", None], "vip": ["true", "false", None],
                         "lifecycle_stage": ["活跃", "流失", "潜在"]})
    segments = pl.DataFrame({"person_id": ["b", "a"], "rfm_segment": ["at_risk", "champions"],
                             "lifecycle_stage": ["lapsed", "active"]})
    u = audience.build_universe(features, tags, extras=[segments])
    assert u.columns == ["person_id", "age", "vip", "lifecycle_stage", "rfm_segment"]
    assert u.schema["age"] == pl.Int64 and u.schema["vip"] == pl.Boolean
    assert u["rfm_segment"].to_list() == ["champions", "at_risk", None]
    assert u["lifecycle_stage"].to_list() == ["活跃", "流失", "潜在"]


def test_split_computable_skips_known_missing_columns_but_not_typos():
    usable, skipped = audience.split_computable(
        {"a": "views_30d >= 3", "b": "spend_365d > 1", "c": "spnd_365d > 1"}, ["spend_365d"],
        known=["views_30d", "spend_365d"])
    assert skipped == {"a": ["views_30d"]} and list(usable) == ["b", "c"]


def test_sizes_overlaps_and_intersections_add_up():
    u = universe()
    members = audience.evaluate(u, {"risk": "rfm_segment in ['at_risk', 'cant_lose_them']",
                                    "skin": "interest_skincare >= 0.5", "rich": "spend_365d >= 300"})
    size = audience.sizes(members, consent=u["consent_marketing"], min_group_size=10)
    assert dict(size.select("audience", "persons").iter_rows()) == {"risk": 20, "skin": 20, "rich": 10}
    risk = members["risk"]
    assert size.filter(pl.col("audience") == "risk")["exportable"].item() == int((risk & u["consent_marketing"]).sum())
    pairs = audience.overlaps(members)
    both = int((members["risk"] & members["skin"]).sum())
    assert pairs.filter((pl.col("audience") == "risk") & (pl.col("other") == "skin"))["persons"].item() == both
    inter = audience.intersections(members, min_group_size=1)
    anyone = members.select(pl.any_horizontal("risk", "skin", "rich")).to_series().sum()
    assert inter["persons"].sum() == anyone
    assert inter.filter(pl.col("combination") == "risk & skin & rich")["persons"].item() == 4  # 32, 33, 36, 37
    big = audience.intersections(members, min_group_size=6)
    assert big["persons"].min() >= 6
    chart = audience.chart_upset(inter, ["risk", "skin", "rich"], lang="en").to_dict()
    assert len(chart["vconcat"]) == 2


def test_composition_suppresses_small_groups():
    u = universe()
    members = audience.evaluate(u, {"skin": "interest_skincare >= 0.5"})
    comp = audience.composition(u, members, audience="skin", by="rfm_segment", min_group_size=5)
    assert comp["suppressed"].to_list() == [False] * 4
    assert comp["tgi"].to_list() == [100.0] * 4
    small = audience.composition(u, members, audience="skin", by="rfm_segment", min_group_size=10)
    assert small["suppressed"].all() and small["persons"].is_null().all()


def test_export_respects_consent_size_and_formulas_and_writes_a_manifest(tmp_path):
    u = universe().with_columns(person_id=pl.when(pl.col("person_id") == "P005").then(pl.lit("=cmd|' /C calc'!A0"))
                                .otherwise(pl.col("person_id")))
    contacts = pl.DataFrame({"person_id": ["P001", "P002"], "email": [" Ada@Example.COM", None],
                             "phone": ["138 0013 8000", "+86 139 0000 0000"]})
    manifest = audience.export_audience(u, name="risky", definition="spend_365d >= 0", out_dir=tmp_path,
                                        as_of="2026-06-30", contacts=contacts, lineage={"features": "abc"})
    out = pl.read_csv(tmp_path / "risky.csv")
    assert out.height == 30 == manifest["persons"] and manifest["members_before_consent"] == 40
    assert "'=cmd|' /C calc'!A0" in out["person_id"].to_list()
    assert out.columns == ["person_id", "phone_sha256", "email_sha256"]
    ada = out.filter(pl.col("person_id") == "P001").row(0, named=True)
    assert ada["email_sha256"] == hashlib.sha256(b"ada@example.com").hexdigest()
    assert ada["phone_sha256"] == hashlib.sha256(b"+8613800138000").hexdigest()
    text = (tmp_path / "risky.csv").read_text() + (tmp_path / "risky.manifest.json").read_text()
    assert "Example" not in text and "138 0013" not in text
    saved = json.loads((tmp_path / "risky.manifest.json").read_text())
    assert saved["definition"] == "spend_365d >= 0" and saved["as_of"] == "2026-06-30"
    assert saved["files"]["risky.parquet"] == hashlib.sha256((tmp_path / "risky.parquet").read_bytes()).hexdigest()
    assert pl.read_parquet(tmp_path / "risky.parquet").height == 30
    with pytest.raises(InputError, match="audience 'tiny' holds 7 persons, fewer than min_group_size 10"):
        audience.export_audience(u, name="tiny", definition="spend_365d < 100", out_dir=tmp_path, as_of="x")
    with pytest.raises(InputError, match="missing consent column"):
        audience.export_audience(u.drop("consent_marketing"), name="a", definition="spend_365d >= 0",
                                 out_dir=tmp_path, as_of="x")


def events_and_orders():
    day = dt.datetime(2026, 6, 1, 12)
    ev = pl.DataFrame({
        "person_id": ["a", "a", "a", "a", "b", "b", "b"],
        "event_type": ["view", "view", "view", "view", "view", "view", "cart"],
        "category": ["skin", "skin", "skin", "makeup", "skin", "makeup", "skin"],
        "event_ts": [day, day + dt.timedelta(days=1), day + dt.timedelta(days=2), day + dt.timedelta(days=2),
                     day, day + dt.timedelta(days=3), day + dt.timedelta(days=3)]})
    orders = pl.DataFrame({"person_id": ["b", "b", "a", "b"], "order_id": ["o1", "o2", "o3", "o4"],
                           "status": ["paid", "paid", "paid", "cancelled"],
                           "order_ts": [dt.datetime(2026, 3, 1), dt.datetime(2026, 4, 2), day + dt.timedelta(days=4),
                                        day + dt.timedelta(days=1)]})
    return ev, orders


def test_trigger_panel_counts_windows_by_hand():
    ev, orders = events_and_orders()
    panel = audience.trigger_panel(ev, orders, start="2026-05-31", end="2026-06-10", windows=(3,))
    a = panel.filter(pl.col("person_id") == "a").row(3, named=True)  # 2026-06-03: views on 1st, 2nd, 3rd
    assert (a["views_3d"], a["max_category_views_3d"], a["orders_total"]) == (4, 3, 0)
    b = panel.filter((pl.col("person_id") == "b") & (pl.col("day") == dt.date(2026, 6, 4))).row(0, named=True)
    assert (b["views_3d"], b["carts_3d"], b["orders_3d"], b["orders_total"]) == (1, 1, 0, 2)
    assert b["days_since_order"] == (dt.date(2026, 6, 4) - dt.date(2026, 4, 2)).days
    with pytest.raises(InputError, match="ends .* before it starts"):
        audience.trigger_panel(ev, start="2026-06-10", end="2026-06-01")


def test_backtest_fires_on_entry_caps_and_follows_conversion():
    ev, orders = events_and_orders()
    panel = audience.trigger_panel(ev, orders, start="2026-05-31", end="2026-06-10", windows=(3,))
    rules = {"browse": "max_category_views_3d >= 3 and orders_3d == 0",
             "lapsed": "orders_total >= 2 and days_since_order >= 60",
             "cart": "carts_3d >= 1 and orders_3d == 0"}
    out = audience.backtest_triggers(panel, rules, orders=orders, cap_days=7, horizon_days=2)
    fires = out["fires"].sort("rule", "person_id")
    # a enters `browse` on 06-03 and buys on 06-05 (within 2 days); b reaches 60 days since 04-02 on 06-01
    # and enters `cart` on 06-04, which the 7-day cap holds back
    assert fires.select("rule", "person_id", "day", "sent", "converted").rows() == [
        ("browse", "a", dt.date(2026, 6, 3), True, True),
        ("cart", "b", dt.date(2026, 6, 4), False, False),
        ("lapsed", "b", dt.date(2026, 6, 1), True, False)]
    summary = {r["rule"]: r for r in out["summary"].iter_rows(named=True)}
    assert summary["cart"]["capped_share"] == 1.0 and summary["browse"]["conversion"] == 1.0
    uncapped = audience.backtest_triggers(panel, rules, orders=orders, cap_days=0)
    assert uncapped["fires"]["sent"].all()
    pair = out["overlap"].filter((pl.col("rule") == "cart") & (pl.col("other") == "lapsed"))
    assert pair["persons"].item() == 1


def test_pandas_in_pandas_out():
    ev, orders = events_and_orders()
    panel = audience.trigger_panel(ev.to_pandas(), orders.to_pandas(), start="2026-05-31", end="2026-06-10",
                                   windows=(3,))
    assert isinstance(panel, pd.DataFrame) and len(panel) == 2 * 11
    out = audience.backtest_triggers(panel, {"browse": "max_category_views_3d > 2"}, orders=orders.to_pandas())
    assert all(isinstance(f, pd.DataFrame) for f in out.values()) and len(out["fires"]) == 1
    u = universe().to_pandas()
    members = audience.evaluate(u, {"a": "spend_365d > 100", "b": "interest_skincare > 0.5"})
    for frame in (audience.sizes(members), audience.overlaps(members), audience.intersections(members),
                  audience.composition(u, members, audience="a", by="rfm_segment"),
                  audience.build_universe(u, pl.DataFrame({"person_id": ["P001"], "x": [1]}))):
        assert isinstance(frame, pd.DataFrame)
