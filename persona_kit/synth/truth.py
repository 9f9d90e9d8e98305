"""What only tests read: the planted truths (``truth/``) and ``DATA_DICTIONARY.md``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import yaml

from persona_kit.synth.base import _ARMS, _CHANNELS, PERSONAS, SOURCES, _Clock, _config

__all__: list[str] = []  # internal; the public API is persona_kit.synth


_ORDER_FILES = ("tmall_orders.csv", "wechat_orders.csv", "app_orders.csv", "pos_orders.csv")


def _truth(folder: Path, pp: dict, rec: dict, cus: dict, files: dict, ses: dict, n_events: np.ndarray,
           camp: pl.DataFrame, dirty: pl.DataFrame, clock: _Clock, seed: int, start: str, end: str) -> dict[str, int]:
    """Write truth/: what each record really is, personas, campaign and channel effects, dirty rows."""
    P, V = _config()
    n = len(pp["persona"])
    key = np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), 7))
    names = np.array(PERSONAS)
    records = pl.DataFrame({
        "source": np.array(SOURCES)[rec["src"]], "source_customer_id": cus["key"], "person_key": key[rec["person"]],
        "persona": names[pp["persona"][rec["person"]]], "second_card": rec["second"],
        "shared_identifier": pl.Series(rec["shared"].tolist(), dtype=pl.String).replace("", None)}).sort("source", "source_customer_id")
    o = pl.concat([files[f].select("_p", "_o", "_a", "_s", "_dirty") for f in _ORDER_FILES])
    agg = o.filter(pl.col("_dirty").is_null() & (pl.col("_s") == 0)).group_by("_p").agg(
        pl.col("_o").n_unique().alias("n"), pl.col("_a").sum().alias("a")).sort("_p")
    n_orders, spend = np.zeros(n, np.int64), np.zeros(n, np.int64)
    n_orders[agg["_p"].to_numpy()], spend[agg["_p"].to_numpy()] = agg["n"].to_numpy(), agg["a"].to_numpy()
    cities = [(c[0], c[1], t) for t in range(1, 5) for c in V["cities"][t]]
    arm = np.full(n, None, object)
    arm[camp["person"].to_numpy()] = camp["arm"].to_numpy()
    srcs = np.zeros((n, 4), bool)
    srcs[rec["person"], rec["src"]] = True
    persons = pl.DataFrame({
        "person_key": key, "persona": names[pp["persona"]], "gender": np.where(pp["female"], "female", "male"),
        "birth_date": pl.Series(pp["birth_day"], dtype=pl.Int32).cast(pl.Date),
        "city": [cities[c][0] for c in pp["city"]], "province": [cities[c][1] for c in pp["city"]],
        "city_tier": pp["tier"] + 1, "n_records": np.bincount(rec["person"], minlength=n),
        "sources": ["|".join(s for s, h in zip(SOURCES, row, strict=True) if h) for row in srcs],
        "n_orders": n_orders, "net_spend": spend / 100, "n_sessions": np.bincount(ses["person"], minlength=n),
        "n_events": n_events, "campaign_arm": pl.Series(arm.tolist(), dtype=pl.String)})
    camp = camp.with_columns(person_key=pl.Series(key)[camp["person"]]).select(
        "person_key", pl.exclude("person", "person_key")).sort("person_key")
    rows = []
    for pname in (*PERSONAS, "all"):
        g = camp if pname == "all" else camp.filter(pl.col("persona") == pname)
        ctrl = g.filter(pl.col("arm") == "control")
        for a in _ARMS[1:]:
            t = g.filter(pl.col("arm") == a)
            rows.append({
                "persona": pname, "arm": a, "n_eligible": g.height, "n_arm": t.height, "n_control": ctrl.height,
                "planted_extra_order_prob": P["personas"][pname]["campaign"][a] if pname != "all" else None,
                "true_conversion_uplift": float((g[f"converted_if_{a}"].cast(int) - g["converted_if_control"].cast(int)).mean() or 0),
                "true_revenue_uplift": float((g[f"revenue_if_{a}"] - g["revenue_if_control"]).mean() or 0),
                "observed_conversion_arm": float(t[f"converted_if_{a}"].mean() or 0),
                "observed_conversion_control": float(ctrl["converted_if_control"].mean() or 0)})
    effects = pl.DataFrame(rows).with_columns(
        observed_uplift=pl.col("observed_conversion_arm") - pl.col("observed_conversion_control")).with_columns(
        pl.col(pl.Float64).round(4))
    s = pl.DataFrame({"channel": np.array(_CHANNELS)[ses["channel"]], "touch": ses["touch"], "buy": ses["buy"]})
    chan = pl.concat([
        s.group_by("channel").agg(sessions=pl.len(), buy_sessions=pl.col("buy").sum()).rename({"channel": "group"}),
        s.group_by("touch").agg(sessions=pl.len(), buy_sessions=pl.col("buy").sum()).select(
            pl.when("touch").then(pl.lit("xiaohongshu_touch_7d")).otherwise(pl.lit("no_xiaohongshu_touch")).alias("group"),
            "sessions", "buy_sessions")]).with_columns(
        buy_rate=(pl.col("buy_sessions") / pl.col("sessions")).round(4)).sort("group")
    sh = P["shared"]
    shared = records.filter(pl.col("shared_identifier").is_not_null()).group_by("shared_identifier").agg(
        n_records=pl.len(), n_persons=pl.col("person_key").n_unique()).sort("shared_identifier").select(
        pl.col("shared_identifier").replace_strict({"store_phone": "phone", "test_email": "email"}).alias("id_type"),
        pl.col("shared_identifier").replace_strict({"store_phone": sh["store_phone"], "test_email": sh["test_email"]}).alias("id_value"),
        "n_records", "n_persons")
    rv = files["reviews.csv"]
    reviews = pl.DataFrame({"row": np.arange(rv.height) + 2, "row_index": np.arange(rv.height),
                            "person_key": key[rv["_p"].to_numpy()], "rating": rv["评分"].cast(pl.Int64),
                            "lang": rv["_lang"], "sentiment": rv["_sent"]})
    out = {"records.parquet": records, "persons.parquet": persons, "campaign.parquet": camp,
           "campaign_effects.csv": effects, "channel_effect.csv": chan, "dirty_rows.csv": dirty,
           "shared_identifiers.csv": shared, "reviews.parquet": reviews}
    for name, frame in out.items():
        (frame.write_parquet(folder / name, compression="zstd") if name.endswith(".parquet")
         else frame.write_csv(folder / name))
    ce = P["channel_effect"]
    rate = dict(zip(chan["group"], chan["buy_rate"], strict=True))
    doc = {
        "generator": {"seed": seed, "people": n, "start": start, "end": end, "module": "persona_kit.synth"},
        "person_key": "P + 7 digits; records.parquet maps every (source, source_customer_id) to it",
        "personas": {p: int((pp["persona"] == i).sum()) for i, p in enumerate(PERSONAS)},
        "campaign": {"id": P["campaign"]["id"], "assigned_on": f"{dt.datetime.fromtimestamp(clock.campaign, dt.UTC):%Y-%m-%d}",
                     "eligible": f"WeChat members registered >= {P['campaign']['min_tenure_days']} days before, consent 是",
                     "arms": P["campaign"]["arms"], "window_days": P["campaign"]["window_days"],
                     "members": camp.height, "effects": effects.filter(pl.col("persona") != "all").to_dicts()},
        "channel_effect": {**ce, "buy_rate_with_touch": rate.get("xiaohongshu_touch_7d"),
                           "buy_rate_without_touch": rate.get("no_xiaohongshu_touch")},
        "shared_identifiers": shared.to_dicts(),
        "dirty_rows": {f"{r['file']}:{r['kind']}": r["n"] for r in dirty.group_by("file", "kind").agg(
            n=pl.len()).sort("file", "kind").to_dicts()},
        "definitions": {"net_spend": "sum of amount over paid order lines that are not planted dirty rows",
                        "row": "the row number io.read_raw gives (CSV/Excel: file line, header = 1; Parquet: 1-based)"}}
    (folder / "truth.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return {f"truth/{k}": v.height for k, v in out.items()}


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join("" if v is None else str(v) for v in r) + " |" for r in rows])


def _dictionary(summary: dict, dirty: pl.DataFrame, stem: str) -> str:
    """Render DATA_DICTIONARY.md from the vocabularies, the persona parameters and the written counts."""
    P, V = _config()
    enc = {"tmall_orders.csv": "GB18030", "wechat_members.csv": "UTF-8 with BOM", "app_events.parquet": "Parquet",
           "products.xlsx": "Excel"}
    parts = [f"# Synthetic sample — data dictionary\n\nA fictional beauty brand seen through Tmall, its WeChat "
             f"mini-program, its app and its stores: {summary['persons']:,} real persons, seed {summary['seed']}, "
             f"{summary['start']} .. {summary['end']} (Asia/Shanghai). Written by `persona_kit.synth.generate`; "
             f"regenerate with\n\n    persona-kit generate --people {summary['persons']} --seed {summary['seed']} "
             f"--out data/sample\n\nSame arguments give byte-identical files. `raw/` is what the brand exports, "
             "`maps/` maps each raw file to a canonical table (`persona_kit/schema.py`), `truth/` holds the planted "
             "truths — **only tests read truth/; the pipeline never does**.\n",
             "## Files\n\n" + _table(["file", "rows", "encoding / format"], [
                 [f"`{k}`", f"{v:,}", enc.get(Path(k).name, "UTF-8" if k.startswith("raw/") else "")]
                 for k, v in summary["files"].items() if not k.startswith("maps/")])]
    for file, cols in V["columns"].items():
        name = f"{stem}.csv" if file == "campaign.csv" else file
        parts.append(f"### raw/{name}\n\n" + _table(["column", "中文", "meaning"], [[f"`{c}`", zh, en] for c, (zh, en) in cols.items()]))
    maps = [[f"`maps/{Path(m['file'].format(campaign=stem)).stem}.{m['table']}.yaml`", m["source"], m["table"],
             ", ".join(f"{k}: {v}" for k, v in m.get("constants", {}).items())] for m in V["maps"]]
    parts.append("## Column maps\n\n" + _table(["map", "source", "table", "constants"], maps) + (
        "\n\nNotes for loaders: `tmall_orders.csv` is GB18030 and has no line number (the loader numbers lines "
        "within an order); its `实付金额` is the paid amount net of `优惠金额`. `wechat_members.csv` starts with a BOM. "
        "A raw column may feed two canonical columns (`买家会员名: [source_customer_id, taobao_nick]`). "
        "`pos_members.register_date` mixes `%Y-%m-%d`, `%Y/%m/%d` (unpadded, 2024/1/5), `%Y%m%d` and Excel serial "
        "days (`excel` token, days since 1899-12-30); `pos_orders.txn_time` mixes `%Y-%m-%d %H:%M:%S` and "
        "`%Y/%m/%d %H:%M`. Phones carry +86 / 0086 / 86 prefixes, spaces, dashes and full-width digits; emails "
        "vary in case and surrounding spaces. `app_events.event_time` is a naive Parquet timestamp in Asia/Shanghai. "
        "`app_orders.csv` is the app's own order table (its `pay_success` events are these orders). "
        "POS amounts are net of discount (no discount column). Campaign coupons show as `coupon_id = CP2026Q1` "
        "in `wechat_orders.csv`."))
    pers = [[p, f"{P['personas'][p]['share']:.0%}", summary["personas"][p], f"{P['personas'][p]['female']:.0%}",
             "-".join(map(str, P["personas"][p]["age"])), P["personas"][p]["active"], P["personas"][p]["promo_share"],
             P["personas"][p]["orders"][0] + P["personas"][p]["orders"][1], P["personas"][p]["discount"],
             max(P["personas"][p]["categories"], key=P["personas"][p]["categories"].get),
             P["personas"][p]["sessions"][0] + P["personas"][p]["sessions"][1], P["personas"][p]["buy"]]
            for p in PERSONAS]
    ce, C = P["channel_effect"], P["campaign"]
    parts.append("## Planted truths (`truth/`)\n\n" + _table(["file", "what"], [
        ["`records.parquet`", "every source record (source, source_customer_id) → its true `person_key`, persona, "
         "second store card, over-shared identifier"],
        ["`persons.parquet`", "each person: persona, gender, birth date, city / tier, sources, clean paid orders and "
         "net spend, sessions, events, campaign arm"],
        ["`campaign.parquet`", "every campaign member: arm, assignment time and both potential outcomes (30-day "
         "conversion and revenue under control / coupon / reminder)"],
        ["`campaign_effects.csv`", "per persona × treatment arm: planted incremental-order probability, true and "
         "observed conversion uplift, true revenue uplift"],
        ["`channel_effect.csv`", "app sessions and purchase rate per traffic source and with / without a recent 小红书 touch"],
        ["`dirty_rows.csv`", "every planted dirty row: file, row (as `io.read_raw` numbers it), kind, column, key"],
        ["`shared_identifiers.csv`", "identifiers typed on records of different persons"],
        ["`reviews.parquet`", "language and true sentiment of each review row"],
        ["`truth.yaml`", "summary of all of the above"]]))
    parts.append("### Personas\n\nLabels: `persona.<name>` in `persona_kit/resources/labels/`. Parameters: "
                 "`persona_kit/resources/synth_personas.yaml`.\n\n" + _table(
                     ["persona", "share", "persons", "female", "age", "active", "promo share", "orders (mean)",
                      "discount", "top category", "app sessions (mean)", "session buy rate"], pers))
    parts.append(f"### Campaign `{C['id']}` (`raw/{stem}.csv`)\n\nAssigned {C['days_before_end']} days before the end "
                 f"among WeChat members registered ≥ {C['min_tenure_days']} days earlier with marketing consent, at "
                 f"random with P(arm) = {C['arms']}. Treated members get an extra (incremental) mini-program order "
                 f"within {C['window_days']} days with the planted probability below (coupon orders carry a "
                 f"{C['coupon_discount']:.0%} discount); control gets nothing. The effect is large for bargain hunters "
                 "and lapsed members and about zero for the rest.\n\n" + _table(
                     ["persona", "coupon", "reminder"], [[p, P["personas"][p]["campaign"]["coupon"],
                                                          P["personas"][p]["campaign"]["reminder"]] for p in PERSONAS]))
    parts.append(f"### Channel effect\n\nAn app session within {ce['carryover_days']} days after a session from "
                 f"{ce['channel']} (小红书, the session itself included) ends in a purchase {ce['multiplier']}× as often "
                 "as otherwise (see `truth/channel_effect.csv`).")
    parts.append(f"### Identity\n\nEach person has one record per source system they use (Tmall buyers: those with a "
                 f"Tmall order) and ~4 % of store members hold two cards with the same phone. Every record of a person "
                 f"with several records shares a phone, email or unionid (after normalization) with another of them; "
                 f"different persons never share one, except the store phone {P['shared']['store_phone']} typed on "
                 f"store cards of different persons and {P['shared']['test_email']} on app accounts of different persons.")
    counts = dirty.group_by("file", "kind").agg(n=pl.len()).sort("file", "kind")
    parts.append("### Dirty data\n\n" + _table(["file", "kind", "rows", "what"], [
        [f, k, c, V["dirty_kinds"][k]] for f, k, c in counts.iter_rows()]) + "\n\nCancelled (交易关闭 / 已取消 / void) "
                 "and refunded orders are ordinary data, not dirty rows; net spend in `truth/persons.parquet` counts "
                 "paid lines only.")
    return "\n\n".join(parts) + "\n"
