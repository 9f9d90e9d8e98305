"""Deterministic synthetic multi-channel sample with planted truths, the test bed of every pipeline step.

:func:`generate` writes what a China-based beauty brand gets from Tmall, its WeChat mini-program, its app
and its stores (``raw/``), one column map per (raw file, canonical table) (``maps/``), the planted truths
that only tests read (``truth/``) and ``DATA_DICTIONARY.md``. The same arguments give byte-identical files.
Everything is vectorized (numpy draws, polars frames); persona parameters live in
``resources/synth_personas.yaml`` and vocabularies in ``resources/synth_vocab.yaml``.

The stages live in submodules: ``base`` (constants, parameters, clock, draw primitives), ``population``
(catalogue, persons, records, identifier noise), ``behaviour`` (sessions, orders, campaign, reviews),
``exports`` (raw files, dirty rows, events) and ``truth`` (planted truths, data dictionary).

Examples
--------
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     summary = generate(tmp, people=60, seed=1)
>>> summary["persons"], summary["personas"]["lapsed"]
(60, 10)
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import numpy as np
import polars as pl
import yaml

from persona_kit.errors import InputError
from persona_kit.synth.base import CATEGORIES, PERSONAS, SOURCES, _clock, _config, _stamp
from persona_kit.synth.behaviour import _big_order, _campaign, _concat, _orders, _reviews, _sessions
from persona_kit.synth.exports import (
    _cols,
    _customer_files,
    _dirty_rows,
    _inject,
    _order_files,
    _write,
    _write_events,
)
from persona_kit.synth.population import _customers, _people, _products, _records
from persona_kit.synth.truth import _dictionary, _truth

__all__ = ["generate", "PERSONAS", "SOURCES", "CATEGORIES"]

log = logging.getLogger(__name__)


def generate(out_dir: str | Path, *, people: int = 5000, seed: int = 7, start: str = "2024-07-01",
             end: str = "2026-06-30") -> dict:
    """Write a deterministic synthetic multi-channel sample with planted truths into ``out_dir``.

    Parameters
    ----------
    out_dir
        Folder to write ``raw/``, ``maps/``, ``truth/`` and ``DATA_DICTIONARY.md`` into (created if needed;
        files of an earlier sample are overwritten).
    people
        Number of real persons (at least 30); rows scale linearly (~40 events, ~5 order lines a person).
    seed
        Seed of the one ``numpy.random.SeedSequence`` every draw descends from.
    start, end
        First and last day of the observation window (at least 400 days apart); the campaign is assigned
        120 days before ``end``.

    Returns
    -------
    dict
        ``persons``, ``seed``, ``start``, ``end``, ``personas`` (persons per persona), ``files`` (rows per
        written file, by path relative to ``out_dir``), ``dirty_rows``, ``campaign`` (id, file, members).

    Raises
    ------
    InputError
        If ``people`` is below 30 or the dates are malformed or too close.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     summary = generate(tmp, people=40, seed=3)
    >>> summary["files"]["raw/tmall_orders.csv"] > 0, summary["persons"]
    (True, 40)
    """
    if isinstance(people, bool) or not isinstance(people, int) or people < 30:
        raise InputError(f"people must be an integer of at least 30, got {people!r}")
    clock = _clock(start, end)
    P, V = _config()
    root = Path(out_dir)
    for sub in ("raw", "maps", "truth"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    seqs = np.random.SeedSequence(seed).spawn(10)
    rng = [np.random.default_rng(s) for s in seqs[:9]]
    prods = _products(rng[0])
    pp = _people(rng[1], people, clock)
    ses = _sessions(rng[2], pp, clock, prods["cat"].to_numpy())
    lines = _orders(rng[3], pp, ses, prods, clock)
    lines.update(coupon=np.zeros(len(lines["order"]), bool), dirty=np.full(len(lines["order"]), None, object))
    lines = _concat([lines, _big_order(rng[3], lines, prods, clock)])
    rec = _records(rng[4], pp, lines)
    cus = _customers(rng[4], pp, rec, lines, ses, clock)
    extra, camp = _campaign(rng[5], pp, rec, cus, lines, prods, clock)
    extra["dirty"] = np.full(len(extra["order"]), None, object)
    lines = _concat([lines, {k: extra[k] for k in lines}])
    files = {**_order_files(rng[6], pp, lines, rec, cus, prods), **_customer_files(rng[6], pp, rec, cus)}
    files["reviews.csv"] = _reviews(rng[7], pp, files["tmall_orders.csv"], clock)
    files["products.xlsx"] = prods.select("product_id", "name", "zh", "en", "path", "brand", (
        pl.col("price_c") // 100).cast(pl.String)).rename(dict(zip(["product_id", "name", "zh", "en", "path", "brand", "price_c"],
                                                                   _cols("products.xlsx"), strict=True)))
    stem = f"campaign_{dt.datetime.fromtimestamp(clock.campaign, dt.UTC):%Y}q{(dt.datetime.fromtimestamp(clock.campaign, dt.UTC).month - 1) // 3 + 1}"
    C = P["campaign"]
    files[f"{stem}.csv"] = camp.sort("assigned_ts", "source_customer_id").select(
        pl.lit(C["id"]).alias("campaign_id"), pl.col("source_customer_id").alias("openid"), "arm",
        _stamp(camp.sort("assigned_ts", "source_customer_id")["assigned_ts"], "%Y-%m-%d %H:%M:%S").alias("assigned_at"),
        pl.col("arm").replace_strict(C["channel"]).alias("channel"),
        pl.col("arm").replace_strict({k: f"{v:.2f}" for k, v in C["cost"].items()}).alias("cost"))
    counts, dirty = {}, []
    for name in sorted(files):
        frame = files[name]
        if name in P["dirty"] or "_dirty" in frame.columns:
            frame = _inject(rng[8], frame, name, people) if name in P["dirty"] else frame.sort("_t", "_k")
            dirty.append(_dirty_rows(frame, name, 2))
            files[name] = frame
        enc = {"tmall_orders.csv": "gb18030", "wechat_members.csv": "utf-8-sig"}.get(name, "utf-8")
        counts[f"raw/{name}"] = _write(frame, root / "raw" / name, enc)
        files[name] = frame.select(pl.col("^_.*$"), *(["评分"] if name == "reviews.csv" else []))  # free the text
    n_ev, ev_dirty, n_events = _write_events(root / "raw" / "app_events.parquet", seqs[9], ses, pp, cus, prods, people)
    counts["raw/app_events.parquet"] = n_ev
    dirty = pl.concat([*dirty, ev_dirty]).filter(pl.col("kind").is_not_null()).sort("file", "row")
    for spec in V["maps"]:
        name = spec["file"].format(campaign=stem)
        doc = {"source": spec["source"], "table": spec["table"], "file": f"../raw/{name}"}
        doc.update({k: spec[k] for k in ("encoding",) if k in spec})
        doc["timezone"] = "Asia/Shanghai"
        doc.update({k: spec[k] for k in ("columns", "values", "constants", "formats") if k in spec})
        path = root / "maps" / f"{Path(name).stem}.{spec['table']}.yaml"
        path.write_text("# Column map written by persona_kit.synth (format: see persona_kit/schema.py)\n"
                        + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8")
        counts[f"maps/{path.name}"] = len(doc["columns"])
    truth = _truth(root / "truth", pp, rec, cus, files, ses, n_events, camp, dirty, clock, seed, start, end)
    counts.update(truth)
    summary = {"out_dir": str(root), "persons": people, "seed": seed, "start": start, "end": end,
               "personas": {p: int((pp["persona"] == i).sum()) for i, p in enumerate(PERSONAS)},
               "files": dict(sorted(counts.items())), "dirty_rows": dirty.height,
               "campaign": {"id": C["id"], "file": f"raw/{stem}.csv", "members": camp.height}}
    (root / "DATA_DICTIONARY.md").write_text(_dictionary(summary, dirty, stem), encoding="utf-8")
    log.info("wrote synthetic sample %s (%d persons, %d files)", root, people, len(counts))
    return summary
