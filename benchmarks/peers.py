"""persona-kit against the libraries people would otherwise use, on the same input, with the same answer.

Pairs (ours first): RFM summary — :func:`persona_kit.models.clv.rfm_summary` vs pymc-marketing's
``rfm_summary`` and lifetimes' ``summary_data_from_transaction_data``; OneID — :func:`persona_kit.identity.link`
vs networkx connected components of the record–identifier graph; association rules —
:func:`persona_kit.recommend.association_rules` vs mlxtend ``fpgrowth`` + ``association_rules``; CLV —
our BG/NBD maximum-likelihood fit on the full CDNOW cohort vs pymc-marketing's ``BetaGeoModel`` (MAP fit under flat priors,
i.e. the same maximum-likelihood estimate).

Each case returns a fingerprint of its answer (counts, sums, a hash of the partition) so a run shows the
two sides agree; tests/test_benchmarks.py checks the full answers for equality on small inputs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

AS_OF = "2026-06-30"
SALT = "benchmark-salt-not-a-secret"
CDNOW = Path(__file__).parents[2] / "shared" / "datasets" / "cdnow" / "CDNOW_master.txt"
SOURCES = ("app", "pos", "tmall", "wechat")


# --- inputs -------------------------------------------------------------------------------------------------

def write_links(path: str | Path, links: int, seed: int = 7) -> None:
    """A deterministic identifier table of ``links`` rows (2 per record): records of 1–4 per person, each
    with a phone and an e-mail that are the person's own with probability 0.8 / 0.6, else the record's own;
    so persons are found only through chains of shared identifiers, as in real data."""
    import polars as pl

    rng = np.random.default_rng(seed)
    records = links // 2
    per_person = rng.integers(1, 5, records // 2 + 1)
    person = np.repeat(np.arange(len(per_person)), per_person)[:records]
    record = np.arange(records)
    phone = np.where(rng.random(records) < 0.8, "p" + person.astype(str), "q" + record.astype(str))
    email = np.where(rng.random(records) < 0.6, "e" + person.astype(str), "f" + record.astype(str))
    key = {"source": np.asarray(SOURCES)[record % len(SOURCES)], "source_customer_id": "c" + record.astype(str)}
    frame = pl.concat([pl.DataFrame({**key, "id_type": "phone", "id_value": phone}),
                       pl.DataFrame({**key, "id_type": "email", "id_value": email})])
    frame.write_parquet(path)


def write_purchases(orders: str | Path, path: str | Path) -> None:
    """What customers kept (:func:`persona_kit.features.purchases`) of the identity step's orders, as
    person_id, order_id, product_id, order_ts (local wall-clock time), amount."""
    import polars as pl

    from persona_kit.features import purchases

    kept = purchases(pl.read_parquet(orders))
    kept.select("person_id", "order_id", "product_id", pl.col("order_ts").dt.replace_time_zone(None),
                "amount").write_parquet(path)


def _partition_hash(labels: np.ndarray) -> str:
    """A hash of a partition of records 0 … n-1 given any component label per record: each record is
    renamed by the first record of its component, so equal partitions give equal hashes."""
    _, first = np.unique(labels, return_index=True)
    _, inverse = np.unique(labels, return_inverse=True)
    return hashlib.sha256(np.ascontiguousarray(first[inverse], dtype=np.int64).tobytes()).hexdigest()[:16]


# --- RFM summary --------------------------------------------------------------------------------------------

def rfm_ours(start: Callable[[], None], *, purchases: str, as_of: str = AS_OF) -> dict:
    import polars as pl

    from persona_kit.models.clv import rfm_summary

    start()
    out = rfm_summary(pl.read_parquet(purchases), calibration_end=as_of, time_unit="D")
    return _rfm_fingerprint(out.to_pandas())


def rfm_pymc_marketing(start: Callable[[], None], *, purchases: str, as_of: str = AS_OF) -> dict:
    import pandas as pd
    from pymc_marketing.clv.utils import rfm_summary

    start()
    out = rfm_summary(pd.read_parquet(purchases), customer_id_col="person_id", datetime_col="order_ts",
                      monetary_value_col="amount", observation_period_end=as_of, time_unit="D")
    return _rfm_fingerprint(out.rename(columns={"customer_id": "person_id"}))


def rfm_lifetimes(start: Callable[[], None], *, purchases: str, as_of: str = AS_OF) -> dict:
    import pandas as pd
    from lifetimes.utils import summary_data_from_transaction_data

    start()
    out = summary_data_from_transaction_data(pd.read_parquet(purchases), "person_id", "order_ts",
                                             monetary_value_col="amount", observation_period_end=as_of, freq="D")
    return _rfm_fingerprint(out.reset_index())


def _rfm_fingerprint(frame) -> dict:
    return {"customers": len(frame), **{c: round(float(frame[c].sum()), 4)
                                        for c in ("frequency", "recency", "T", "monetary_value")}}


# --- OneID --------------------------------------------------------------------------------------------------

def oneid_ours(start: Callable[[], None], *, links: str) -> dict:
    import polars as pl

    from persona_kit.identity import link

    ids = pl.read_parquet(links)
    start()
    result = link(ids, salt=SALT)
    keys = result.keys.with_columns(r=pl.col("source_customer_id").str.slice(1).cast(pl.Int64)).sort("r")
    return {"persons": result.persons.height, "records": keys.height,
            "partition": _partition_hash(keys["person_id"].to_numpy())}


def oneid_networkx(start: Callable[[], None], *, links: str) -> dict:
    import networkx as nx
    import pandas as pd

    ids = pd.read_parquet(links)
    start()
    graph = nx.Graph()
    graph.add_edges_from(zip(zip(ids["source"], ids["source_customer_id"], strict=True),
                             zip(ids["id_type"], ids["id_value"], strict=True), strict=True))
    label = {}
    for n, component in enumerate(nx.connected_components(graph)):
        label.update(dict.fromkeys(component, n))
    records = ids[ids["id_type"] == "phone"]  # every record once
    order = records["source_customer_id"].str.slice(1).astype("int64").argsort().to_numpy()
    labels = np.array([label[k] for k in zip(records["source"], records["source_customer_id"], strict=True)])[order]
    return {"persons": len(np.unique(labels)), "records": len(labels), "partition": _partition_hash(labels)}


# --- association rules --------------------------------------------------------------------------------------

def rules_ours(start: Callable[[], None], *, purchases: str, min_support: float) -> dict:
    import polars as pl

    from persona_kit.recommend import association_rules

    lines = pl.read_parquet(purchases, columns=["order_id", "product_id"])
    start()
    rules = association_rules(lines, min_support=min_support)
    return _rules_fingerprint(rules.to_pandas())


def mlxtend_rules(lines, min_support: float):
    """One-item → one-item rules by mlxtend (fpgrowth up to pairs, then association_rules), with our
    column names: antecedent, consequent, support, confidence, lift (pandas)."""
    from mlxtend.frequent_patterns import association_rules, fpgrowth

    onehot = lines[["order_id", "product_id"]].dropna().drop_duplicates()
    onehot = (onehot.assign(bought=True).pivot(index="order_id", columns="product_id", values="bought")
              .fillna(False).astype(bool))
    frequent = fpgrowth(onehot, min_support=min_support, use_colnames=True, max_len=2)
    rules = association_rules(frequent, num_itemsets=len(onehot), metric="support", min_threshold=min_support)
    return rules.assign(antecedent=rules["antecedents"].map(lambda s: next(iter(s))),
                        consequent=rules["consequents"].map(lambda s: next(iter(s))))[
        ["antecedent", "consequent", "support", "confidence", "lift"]]


def rules_mlxtend(start: Callable[[], None], *, purchases: str, min_support: float) -> dict:
    import pandas as pd

    lines = pd.read_parquet(purchases, columns=["order_id", "product_id"])
    start()
    return _rules_fingerprint(mlxtend_rules(lines, min_support))


def _rules_fingerprint(rules) -> dict:
    return {"rules": len(rules), "support": round(float(rules["support"].sum()), 9),
            "lift": round(float(rules["lift"].sum()), 6)}


# --- CLV on CDNOW -------------------------------------------------------------------------------------------

def cdnow_summary(path: str | Path = CDNOW):
    """The 39-week calibration summary of the full CDNOW cohort (polars)."""
    from persona_kit.datasets import load_cdnow
    from persona_kit.models.clv import rfm_summary

    orders = load_cdnow(path).tables["orders"]
    return rfm_summary(orders, calibration_end="1997-09-30", customer_col="source_customer_id")


def clv_ours(start: Callable[[], None]) -> dict:
    from persona_kit.models.clv import BGNBDModel

    summary = cdnow_summary()
    start()
    model = BGNBDModel().fit(summary)
    return {"customers": summary.height, **{k: round(v, 4) for k, v in model.params_.items()},
            "log_likelihood": round(model.log_likelihood_, 2)}


def clv_pymc_marketing(start: Callable[[], None]) -> dict:
    from pymc_extras.prior import Prior
    from pymc_marketing.clv import BetaGeoModel

    summary = cdnow_summary().rename({"source_customer_id": "customer_id"}).to_pandas()
    start()
    # flat priors: the MAP estimate is then the maximum-likelihood one, comparable with ours
    flat = {k: Prior("HalfFlat") for k in ("r", "alpha", "a", "b")}
    model = BetaGeoModel(data=summary[["customer_id", "frequency", "recency", "T"]], model_config=flat)
    model.fit(method="map", progressbar=False)
    return {"customers": len(summary), **{k: round(float(model.fit_result[k].mean()), 4) for k in ("r", "alpha", "a", "b")}}
