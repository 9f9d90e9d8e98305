"""The raw exports as each source system writes them: order and member files, planted dirty rows,
app events in Parquet blocks, CSV in the declared encoding and a reproducible Excel file."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq

from persona_kit.synth.base import (
    _BLOCK,
    _CHANNELS,
    _EVENTS,
    CATEGORIES,
    DAY,
    SOURCES,
    _config,
    _digits,
    _gather,
    _mat,
    _money,
    _rand_str,
    _scramble,
    _stamp,
)
from persona_kit.synth.population import _addresses, _categories, _noisy_email, _noisy_phone, _product_for

__all__: list[str] = []  # internal; the public API is persona_kit.synth


_STATUS = {"tmall": ("交易成功", "交易关闭", "退款成功"), "wechat": ("已完成", "已取消", "已退款"),
           "app": ("PAID", "CANCELLED", "REFUNDED"), "pos": ("completed", "void", "returned")}


def _cols(file: str) -> list[str]:
    return list(_config()[1]["columns"][file])


def _order_files(rng: np.random.Generator, pp: dict, lines: dict, rec: dict, cus: dict, prods: pl.DataFrame
                 ) -> dict[str, pl.DataFrame]:
    """The four order exports (Tmall, mini-program, app, store) from the order lines."""
    V, r = _config()[1], lines["rec"]
    nord = int(lines["order"].max()) + 1
    d = _digits(nord)
    store_of_order = np.where(rng.random(nord) < 0.85, -1, rng.integers(0, len(V["stores"]), nord))
    store = np.where(store_of_order[lines["order"]] >= 0, store_of_order[lines["order"]], cus["store"][r])
    f = pl.DataFrame({
        "_o": lines["order"], "_p": lines["person"], "_t": lines["ts"], "_s": lines["status"], "_src": lines["src"],
        "_dirty": pl.Series(lines["dirty"].tolist(), dtype=pl.String), "line_no": lines["line_no"],
        "key": _gather(cus["key"], r), "prod": lines["product"], "qty": lines["qty"], "price": lines["price"],
        "disc": lines["disc"], "session": lines["session"], "coupon": lines["coupon"],
        "store": _gather([s[0] for s in V["stores"]], store), "scr": _scramble(lines["order"], d),
        "tm": _scramble(lines["order"], 10, 1) * 10**7 + rng.integers(0, 10**7, nord)[lines["order"]],
        "wide": rng.random(nord)[lines["order"]] < 0.3, "alt": rng.random(nord)[lines["order"]] < 0.15})
    f = f.with_columns(_a=pl.col("price") * pl.col("qty") - pl.col("disc"), _k=pl.int_range(pl.len()) * 4,
                       date=_stamp(lines["ts"], "%Y%m%d"), scr=pl.col("scr").cast(pl.String).str.zfill(d))
    p = prods.with_row_index("prod").with_columns(pl.col("prod").cast(pl.Int64))
    f = f.join(p.select("prod", "product_id", "name", "zh"), on="prod", how="left", maintain_order="left")
    money = {c: _money(pl.col(c)) for c in ("price", "disc", "_a")}
    status = lambda s: pl.col("_s").replace_strict(range(3), _STATUS[s], return_dtype=pl.String)  # noqa: E731
    hidden = [pl.col(c) for c in ("_o", "_p", "_t", "_s", "_a", "_k", "_dirty")]
    tm = rec["src"] == 0
    nick = pl.DataFrame({"key": cus["key"][tm], "收货人姓名": np.where(
        rng.random(tm.sum()) < 0.9, pp["name"][rec["person"][tm]], pp["name"][rng.integers(0, len(pp["name"]), tm.sum())]),
        "联系手机": _noisy_phone(rng, pl.Series(rec["phone"][tm])), "收货地址": _addresses(rng, pp, rec["person"][tm])})
    ts = pl.from_epoch("_t")
    out = {"tmall_orders.csv": [pl.lit("2") + pl.col("tm").cast(pl.String).str.zfill(17), pl.col("key"), "收货人姓名",
                                "联系手机", "收货地址", "product_id", "name", "zh", "qty", money["price"], money["disc"],
                                money["_a"], status("tmall"), ts.dt.strftime("%Y-%m-%d %H:%M:%S")],
           "wechat_orders.csv": ["WX" + pl.col("date") + pl.col("scr"), "line_no", "key", "product_id", "name", "qty",
                                 money["price"], money["disc"], money["_a"],
                                 pl.when((pl.col("_s") == 0) & pl.col("alt")).then(pl.lit("已发货")).otherwise(status("wechat")),
                                 ts.dt.strftime("%Y-%m-%dT%H:%M:%S"),
                                 pl.when(pl.col("coupon")).then(pl.lit("CP2026Q1")).otherwise(pl.lit(""))],
           "app_orders.csv": ["AP" + pl.col("date") + pl.col("scr"), "line_no", "key", "S" + pl.col("session").cast(
               pl.String).str.zfill(9), "product_id", "qty", money["price"], money["disc"], money["_a"], status("app"),
               ts.dt.strftime("%Y-%m-%d %H:%M:%S")],
           "pos_orders.csv": [pl.col("store") + "-" + pl.col("date") + "-" + pl.col("scr"), "line_no", "key", "store",
                              "product_id", "qty", money["price"], money["_a"], status("pos"),
                              pl.when(pl.col("wide")).then(ts.dt.strftime("%Y/%-m/%-d %H:%M"))
                              .otherwise(ts.dt.strftime("%Y-%m-%d %H:%M:%S"))]}
    f = f.join(nick, on="key", how="left", maintain_order="left")
    return {k: f.filter(pl.col("_src") == SOURCES.index(k.split("_")[0]))
            .select([(pl.col(e) if isinstance(e, str) else e).cast(pl.String).alias(c)
                     for e, c in zip(v, _cols(k), strict=True)] + hidden) for k, v in out.items()}


def _customer_files(rng: np.random.Generator, pp: dict, rec: dict, cus: dict) -> dict[str, pl.DataFrame]:
    V = _config()[1]
    person, src = rec["person"], rec["src"]
    cities = [c for t in range(1, 5) for c in V["cities"][t]]
    base = pl.DataFrame({"_p": person, "_t": cus["reg"], "src": src, "key": cus["key"], "union": rec["union"],
                         "female": pp["female"][person], "city": cus["city_name"], "consent": cus["consent"],
                         "province": np.array([c[1] for c in cities])[pp["city"][person]], "name": pp["name"][person],
                         "level": np.array(V["member_levels"])[cus["level"]], "store": cus["store"],
                         "birth": pp["birth_day"][person] * DAY, "u": rng.random(len(person)),
                         "v": rng.random(len(person)), "w": rng.integers(0, 4, len(person))})
    base = base.with_columns(phone=_noisy_phone(rng, pl.Series(rec["phone"])),
                             email=_noisy_email(rng, pl.Series(rec["email"])),
                             _k=pl.int_range(pl.len()) * 4, _dirty=pl.lit(None, pl.String))
    blank = lambda c, p: pl.when(pl.col("u") < p).then(pl.lit("")).otherwise(c)  # noqa: E731
    stamp = pl.from_epoch("_t").dt.strftime("%Y-%m-%d %H:%M:%S")
    day = pl.from_epoch("_t")
    nick = np.char.add(np.array(V["nick_words"])[rng.integers(0, len(V["nick_words"]), len(person))],
                       np.array(V["nick_marks"])[rng.integers(0, len(V["nick_marks"]), len(person))])
    base = base.with_columns(nick=pl.Series(nick), device=pl.Series(_rand_str(rng, len(person), 32, "0123456789ABCDEF")))
    hidden = ["_p", "_t", "_k", "_dirty"]
    wx = (1, [
        "key", "union", "phone", "nick",
        pl.when(pl.col("v") < 0.05).then(pl.lit("0")).when(pl.col("female")).then(pl.lit("2")).otherwise(pl.lit("1")),
        blank(pl.col("city"), 0.15), blank(pl.col("province"), 0.15), stamp, "level",
        pl.when(pl.col("consent")).then(pl.lit("是")).otherwise(pl.lit("否"))])
    dev = pl.col("device")
    app = (2, [
        "key", dev.str.slice(0, 8) + "-" + dev.str.slice(8, 4) + "-" + dev.str.slice(12, 4) + "-" + dev.str.slice(16, 4)
        + "-" + dev.str.slice(20, 12), "phone", "email", "union",
        pl.when(pl.col("v") < 0.55).then(pl.lit("iOS")).otherwise(pl.lit("Android")), stamp])
    serial = (pl.col("_t") // DAY + 25569).cast(pl.String)
    pos = (3, [
        "key", "name", "phone", "email", blank(pl.from_epoch("birth").dt.strftime("%Y-%m-%d"), 0.1),
        pl.when(pl.col("v") < 0.03).then(pl.lit("")).when(pl.col("female")).then(pl.lit("F")).otherwise(pl.lit("M")),
        pl.col("store").replace_strict(range(len(V["stores"])), [s[1] for s in V["stores"]], return_dtype=pl.String),
        pl.col("store").replace_strict(range(len(V["stores"])), [s[0] for s in V["stores"]], return_dtype=pl.String),
        pl.when(pl.col("w") == 0).then(day.dt.strftime("%Y/%-m/%-d")).when(pl.col("w") == 1).then(day.dt.strftime("%Y%m%d"))
        .when(pl.col("v") < 0.1).then(serial).otherwise(day.dt.strftime("%Y-%m-%d"))])
    out = {"wechat_members.csv": wx, "app_users.csv": app, "pos_members.csv": pos}
    return {k: base.filter(pl.col("src") == i).select(
        [(pl.col(e) if isinstance(e, str) else e).cast(pl.String).alias(c) for e, c in zip(v, _cols(k), strict=True)]
        + hidden) for k, (i, v) in out.items()}


_DIRTY_COLS = {
    "tmall_orders.csv": {"date": "下单时间", "amount": "实付金额", "id": "订单编号", "text": ("宝贝标题", "收货地址"),
                         "money": ("单价", "优惠金额", "实付金额")},
    "wechat_orders.csv": {}, "wechat_members.csv": {"id": "openid"}, "pos_members.csv": {"date": "register_date"},
    "pos_orders.csv": {"date": "txn_time", "amount": "amount", "text": ("sku",), "money": ("price", "amount")},
    "app_events.parquet": {"id": "user_id", "event": "event_name"},
}


def _inject(rng: np.random.Generator, frame: pl.DataFrame, file: str, people: int) -> pl.DataFrame:
    """Plant the dirty rows of ``file``; copies go right after their original (hidden columns mark them)."""
    spec, cols = _config()[0]["dirty"].get(file, {}), _DIRTY_COLS.get(file, {})
    frame = frame.with_columns(_i=pl.int_range(pl.len()), _col=pl.lit(None, pl.String), _orig=pl.lit(None, pl.Int64),
                               _det=pl.lit(None, pl.String))
    perm = rng.permutation(frame.filter(pl.col("_dirty").is_null())["_i"].to_numpy())
    pos, copies = 0, []
    bad = {"date": ["2025-02-30 14:00:00", "待定", None, "2025-13-45 10:00:00"], "event": _config()[1]["bad_event_names"]}
    if file == "pos_members.csv":
        bad["date"] = ["2025-02-30", "待定", None, "0000-00-00"]
    for kind, base in spec.items():
        k = min(len(perm) - pos, max(1, min(4 * base, round(base * people / 5000))))
        idx, pos = pl.Series(perm[pos:pos + k], dtype=pl.Int64), pos + k
        sel = pl.col("_i").is_in(idx.implode())
        mark = {"_dirty": pl.when(sel).then(pl.lit(kind)).otherwise("_dirty")}
        if kind.endswith("duplicate"):
            c = frame.filter(sel).with_columns(_orig=pl.col("_k"), _k=pl.col("_k") + 1 + (kind == "near_duplicate"),
                                               _dirty=pl.lit(kind))
            if kind == "near_duplicate":
                c = c.with_columns([pl.col(x) + " " for x in cols["text"]] + [pl.col(x).str.replace(r"\.00$", "").str.replace(
                    r"(\.\d)0$", "${1}") for x in cols["money"]])
            copies.append(c)
            continue
        col = {"bad_date": "date", "missing_id": "id", "bad_event_type": "event", "negative_amount": "amount",
               "zero_amount": "amount"}[kind]
        name = cols[col]
        if kind in ("bad_date", "missing_id", "bad_event_type"):
            values = bad.get(col, [None])
            patch = pl.DataFrame({"_i": idx, "_v": [values[j % len(values)] for j in range(k)]},
                                 schema={"_i": pl.Int64, "_v": pl.String})
            frame = frame.join(patch, on="_i", how="left", maintain_order="left").with_columns(
                pl.when(sel).then(pl.col("_v")).otherwise(pl.col(name)).alias(name),
                _det=pl.when(sel).then(pl.format("value {}", pl.col("_v").fill_null("(empty)"))).otherwise("_det"),
                **mark).drop("_v")
        elif kind == "negative_amount":
            frame = frame.with_columns(pl.when(sel).then("-" + pl.col(name)).otherwise(pl.col(name)).alias(name), **mark)
        else:
            frame = frame.with_columns([pl.when(sel).then(pl.lit("0.00")).otherwise(pl.col(x)).alias(x) for x in cols["money"]]
                                       + [pl.when(sel).then("【赠品】" + pl.col("宝贝标题")).otherwise("宝贝标题").alias("宝贝标题")],
                                       **mark)
        frame = frame.with_columns(_col=pl.when(sel).then(pl.lit(name)).otherwise("_col"))
    return pl.concat([frame, *copies]).sort("_t", "_k").drop("_i")


def _dirty_rows(frame: pl.DataFrame, file: str, offset: int, start: int = 0) -> pl.DataFrame:
    f = frame.with_row_index("row_index", offset=start).with_columns(pl.col("row_index").cast(pl.Int64))
    rows = dict(zip(f["_k"].to_list(), f["row_index"].to_list(), strict=True))
    d = f.filter(pl.col("_dirty").is_not_null())
    return pl.DataFrame({
        "file": [file] * d.height, "row": (d["row_index"] + offset).to_list(), "row_index": d["row_index"].to_list(),
        "kind": d["_dirty"], "column": d["_col"] if "_col" in d.columns else [None] * d.height,
        "key": d[d.columns[1]].cast(pl.String),
        "detail": [f"copy of row {rows[o] + offset}" if o is not None else det for o, det in zip(
            d["_orig"] if "_orig" in d.columns else [None] * d.height,
            d["_det"] if "_det" in d.columns else [None] * d.height, strict=True)]},
        schema={"file": pl.String, "row": pl.Int64, "row_index": pl.Int64, "kind": pl.String, "column": pl.String,
                "key": pl.String, "detail": pl.String})


def _write_events(path: Path, seq: np.random.SeedSequence, ses: dict, pp: dict, cus: dict, prods: pl.DataFrame,
                  people: int) -> tuple[int, pl.DataFrame, np.ndarray]:
    """Expand sessions into app events block by block and write them as one Parquet file."""
    V = _config()[1]
    prod_cat, pid = prods["cat"].to_numpy(), prods["product_id"].to_numpy()
    queries = [V["queries"][c] for c in CATEGORIES]
    qstart = np.cumsum([0] + [len(q) for q in queries])
    zh = np.array([V["categories"][c]["zh"] for c in CATEGORIES])
    names = np.array([V["event_names"][e] for e in _EVENTS])
    s_all = len(ses["ts"])
    blocks = [(a, min(a + _BLOCK, s_all)) for a in range(0, max(s_all, 1), _BLOCK)]
    writer, total, dirty = None, 0, []
    n_events = np.zeros(len(pp["persona"]), np.int64)
    for b, (a, z) in enumerate(blocks):
        rng = np.random.default_rng(seq.spawn(1)[0])
        cnt = ses["counts"][a:z]
        tot = cnt.sum(1)
        etype = np.repeat(np.tile(np.arange(len(_EVENTS)), z - a), cnt.ravel())
        sess = np.repeat(np.arange(a, z), tot)
        rank = np.arange(len(etype)) - np.repeat(np.cumsum(tot) - tot, tot)
        jit = rng.random(len(etype))
        jit[etype == _EVENTS.index("buy")] = 0
        ts = ses["ts"][sess] + (ses["dur"][sess] * (rank + jit) / tot[sess - a]).astype(np.int64)
        person, persona, cat = ses["person"][sess], ses["persona"][sess], ses["cat"][sess]
        browse = _product_for(rng, cat, prod_cat)
        exposed = _product_for(rng, _categories(rng, persona, ~pp["female"][person]), prod_cat)
        item = np.where(etype == 0, exposed, np.where(np.isin(etype, [2, 3]) & (rng.random(len(etype)) < 0.6),
                                                       browse, ses["focal"][sess]))
        search = etype == _EVENTS.index("search")
        dwell = np.where(etype == 2, rng.lognormal(np.log(_mat("dwell")[persona]), 0.6),
                         np.where(etype == 3, rng.lognormal(np.log(5), 0.5), np.nan)).round(1)
        query = (qstart[cat] + (rng.random(len(cat)) * (qstart[cat + 1] - qstart[cat]))).astype(np.int64)
        n_events += np.bincount(person, minlength=len(n_events))
        frame = pl.DataFrame({
            "user_id": _gather(cus["key"], cus["first"][2, person]),
            "event_time": pl.from_epoch(pl.Series(ts), time_unit="s").cast(pl.Datetime("ms")),
            "event_name": _gather(names, etype), "item_id": _gather(pid, item),
            "category": _gather(zh, np.where(search, cat, prod_cat[item])),
            "session_id": "S" + pl.Series(sess).cast(pl.String).str.zfill(9),
            "dwell_seconds": pl.Series(dwell).fill_nan(None),
            "traffic_source": _gather([V["channels"][c] for c in _CHANNELS], ses["channel"][sess]),
            "search_query": _gather([q for qs in queries for q in qs], query), "_search": search,
            "_t": ts, "_k": (np.arange(len(ts)) + total) * 4}
        ).with_columns(_dirty=pl.lit(None, pl.String), item_id=pl.when(~pl.col("_search")).then("item_id"),
                       search_query=pl.when("_search").then("search_query"))
        if b == 0:
            frame = _inject(rng, frame, "app_events.parquet", people)
            dirty.append(_dirty_rows(frame, "app_events.parquet", 1, total))
        else:
            frame = frame.sort("_t", "_k")
        table = frame.select(pl.exclude("^_.*$")).to_arrow()
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema, compression="zstd", compression_level=9)
        writer.write_table(table, row_group_size=1_000_000)
        total += frame.height
    writer.close()
    return total, pl.concat(dirty), n_events


def _write(frame: pl.DataFrame, path: Path, encoding: str = "utf-8") -> int:
    visible = frame.select(pl.exclude("^_.*$")).with_columns(pl.col(pl.String).replace("", None))
    if path.suffix == ".xlsx":
        _write_xlsx(visible, path)
    else:
        with path.open("wb") as fh:
            for i in range(0, max(visible.height, 1), 500_000):
                fh.write(visible.slice(i, 500_000).write_csv(include_header=i == 0).encode(encoding if i == 0 else
                                                                                            encoding.replace("-sig", "")))
    return visible.height


def _write_xlsx(frame: pl.DataFrame, path: Path) -> None:
    """Write one sheet with openpyxl, then re-zip with fixed timestamps so the bytes are reproducible."""
    import re

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "products"
    sheet.append(frame.columns)
    for row in frame.iter_rows():
        sheet.append(list(row))
    raw = io.BytesIO()
    book.save(raw)
    out = io.BytesIO()
    with zipfile.ZipFile(raw) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>2024-01-01T00:00:00Z", data)
            dst.writestr(zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
    path.write_bytes(out.getvalue())
