"""The benchmarks at a small size: every family runs, and where a benchmark compares us with a peer library the
answers are equal (RFM summary vs pymc-marketing and lifetimes, OneID vs networkx, rules vs mlxtend, event
features vs pandas, streamed vs in-memory features). No timing is asserted: speed is for ``make bench``."""

import json

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from benchmarks import peers, profile, streaming
from benchmarks.__main__ import main
from persona_kit import features, identity, recommend
from persona_kit.models import clv
from persona_kit.synth import generate

PEOPLE = 300


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A generated sample of 300 persons, built by the profile benchmark; its purchases and links."""
    root = tmp_path_factory.mktemp("bench")
    generate(root / "data", people=PEOPLE, seed=11)
    info = profile.profile_build(lambda: None, data=str(root / "data"), out=str(root / "profile"))
    peers.write_purchases(root / "profile" / "orders.parquet", root / "purchases.parquet")
    peers.write_links(root / "links.parquet", 4000, seed=3)
    return root, info


def test_profile_build_writes_every_artifact(built):
    root, info = built
    assert info["persons"] > 0.9 * PEOPLE and info["features"][0] == info["segmented"] == info["persons"]
    assert info["tags"] > 20 and info["events"] > 0 and info["order_lines"] > 0
    for name in ("events", "orders", "features", "segments"):
        assert pl.read_parquet(root / "profile" / f"{name}.parquet").height > 0
    assert list((root / "profile" / "tags").glob("snapshot=2026-06-30/*.parquet"))


def test_our_rfm_summary_equals_pymc_marketing_and_lifetimes(built):
    pymc_utils = pytest.importorskip("pymc_marketing.clv.utils")
    lifetimes_utils = pytest.importorskip("lifetimes.utils")
    purchases = pl.read_parquet(built[0] / "purchases.parquet")
    ours = clv.rfm_summary(purchases, calibration_end=profile.AS_OF, time_unit="D").to_pandas()
    cols = ["person_id", "frequency", "recency", "T", "monetary_value"]
    theirs = pymc_utils.rfm_summary(purchases.to_pandas(), customer_id_col="person_id", datetime_col="order_ts",
                                    monetary_value_col="amount", observation_period_end=profile.AS_OF, time_unit="D")
    old = lifetimes_utils.summary_data_from_transaction_data(
        purchases.to_pandas(), "person_id", "order_ts", monetary_value_col="amount",
        observation_period_end=profile.AS_OF, freq="D").reset_index()
    for other in (theirs.rename(columns={"customer_id": "person_id"}), old):
        other = other[cols].sort_values("person_id", ignore_index=True)
        assert len(ours) == len(other) > 100
        assert (ours["person_id"] == other["person_id"]).all()
        assert (ours["frequency"].to_numpy() == other["frequency"].to_numpy()).all()
        for c in ("recency", "T", "monetary_value"):
            np.testing.assert_allclose(ours[c].to_numpy(), other[c].to_numpy(dtype=float), rtol=1e-12, atol=1e-9)


def test_our_oneid_partition_equals_networkx_components(built):
    nx = pytest.importorskip("networkx")
    links = pl.read_parquet(built[0] / "links.parquet")
    result = identity.link(links, salt=peers.SALT)
    ours = {frozenset(g) for g in result.keys.group_by("person_id").agg(pl.col("source_customer_id"))
            ["source_customer_id"].to_list()}
    graph = nx.Graph()
    graph.add_edges_from((("r", c), ("i", t, v)) for c, t, v in
                         links.select("source_customer_id", "id_type", "id_value").iter_rows())
    theirs = {frozenset(n[1] for n in comp if n[0] == "r") for comp in nx.connected_components(graph)}
    assert ours == theirs
    assert 1 < len(ours) < links.height // 2  # some records were joined, not all


def test_our_association_rules_equal_mlxtend(built):
    lines = pl.read_parquet(built[0] / "purchases.parquet", columns=["order_id", "product_id"])
    ours = recommend.association_rules(lines, min_support=0.001).to_pandas()
    theirs = peers.mlxtend_rules(lines.to_pandas(), 0.001)
    key = ["antecedent", "consequent"]
    ours, theirs = (f.sort_values(key, ignore_index=True) for f in (ours, theirs[ours.columns.intersection(theirs.columns)]))
    assert len(ours) == len(theirs) > 5
    assert (ours[key] == theirs[key]).all().all()
    for c in ("support", "confidence", "lift"):
        np.testing.assert_allclose(ours[c].to_numpy(), theirs[c].to_numpy(), rtol=1e-12)


def test_pandas_event_features_equal_ours(built):
    events = pl.read_parquet(built[0] / "profile" / "events.parquet")
    ours = features.event_features(events, as_of=profile.AS_OF, windows=profile.WINDOWS).to_pandas()
    theirs = profile.pandas_event_features(events.to_pandas(), profile.AS_OF)
    assert list(ours["person_id"]) == list(theirs["person_id"]) and len(ours) > 100
    for c in theirs.columns.drop("person_id"):
        np.testing.assert_allclose(ours[c].to_numpy(dtype=float), theirs[c].to_numpy(dtype=float), rtol=1e-9,
                                   err_msg=c)


def test_streamed_build_over_partitioned_parquet_equals_the_in_memory_build(built, tmp_path):
    root = built[0]
    sizes = streaming.write_partitioned(root / "profile", tmp_path / "log")
    assert sizes["events"]["rows"] == pl.read_parquet(root / "profile" / "events.parquet").height
    assert len(list((tmp_path / "log" / "events").glob("day=*"))) > 300  # one folder per day
    info = streaming.stream_profile(lambda: None, data=str(tmp_path / "log"), out=str(tmp_path / "out"))
    events, orders = (pl.read_parquet(root / "profile" / f"{t}.parquet") for t in ("events", "orders"))
    eager = features.build_features(events, orders, as_of=streaming.AS_OF)
    streamed = pl.read_parquet(tmp_path / "out" / "features.parquet")
    assert_frame_equal(streamed, eager, check_dtypes=False)
    assert info["persons"] == eager.height and info["rfm_rows"] > 0.5 * eager.height
    tagged = streaming.tags_from_features(lambda: None, out=str(tmp_path / "out"))
    assert tagged["persons"] == eager.height and tagged["tags"] > 20


def test_the_command_builds_the_profile_and_streams_it_under_a_memory_cap(built, tmp_path):
    root = built[0]
    work = tmp_path / "work"
    work.mkdir()
    (work / f"p{PEOPLE}").symlink_to(root / "data")  # reuse the generated sample
    out = tmp_path / "results.json"
    assert main(["--people", str(PEOPLE), "--repeat", "1", "--work", str(work), "--only", "streaming",
                 "--cap-mb", "2000", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    build, streamed, tagged = rows  # the profile build (needed by the streamed one), the streamed build, tags
    assert 0.99 * build["other"]["info"]["events"] <= build["ours"]["info"]["events"] <= build["other"]["info"]["events"]
    assert streamed["cap_mb"] == 2000 and 0 < streamed["ours"]["peak_mb"] < 2000
    assert streamed["ours"]["info"]["persons"] == build["ours"]["info"]["features"][0] == tagged["ours"]["info"]["persons"]


def test_a_peer_case_runs_in_a_fresh_measured_process(built):
    pytest.importorskip("networkx")
    from benchmarks.runner import measure

    links = str(built[0] / "links.parquet")
    ours, theirs = (measure(f"benchmarks.peers:{case}", repeat=1, links=links) for case in ("oneid_ours", "oneid_networkx"))
    assert ours["info"] == theirs["info"] and ours["info"]["records"] == 2000
    assert ours["wall_s"] >= ours["work_s"] > 0 and ours["peak_mb"] > 0
