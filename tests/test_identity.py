"""Step 03 — OneID: known partitions, guards, priorities, stable ids, explain, pseudonymization, the sample."""

from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from persona_kit import clean, identity, privacy, schema
from persona_kit.errors import InputError
from persona_kit.identity import fuzzy as identity_fuzzy

ROOT = Path(__file__).parents[1]
SALT = "test-salt-for-identity"
KEY = ["source", "source_customer_id"]
ID_COLUMNS = ["id_type", "id_value", "id_hash"]


@pytest.fixture(params=["pandas", "polars"])
def frame(request):
    def make(data):
        return pd.DataFrame(data) if request.param == "pandas" else pl.DataFrame(data)
    return make


def ids(*rows: tuple[str, str, str, str]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["source", "source_customer_id", "id_type", "id_value"], orient="row")


def partition(result: identity.IdentityResult) -> set[frozenset[str]]:
    """The persons as sets of ``source:id`` records (ids themselves are opaque)."""
    groups = result.keys.group_by("person_id").agg(pl.format("{}:{}", "source", "source_customer_id"))
    return {frozenset(g) for g in groups.get_column("source").to_list()}


CHAIN = ids(("app", "A", "phone", "+8613800000001"), ("pos", "B", "phone", "+8613800000001"),
            ("pos", "B", "email", "b@x.cn"), ("tmall", "C", "email", "b@x.cn"),
            ("tmall", "C", "wechat_unionid", "u1"), ("wechat", "D", "wechat_unionid", "u1"),
            ("app", "E", "email", "e@x.cn"))


def test_a_chain_through_different_identifier_types_is_one_person(frame):
    result = identity.link(frame(CHAIN.to_dict(as_series=False)), salt=SALT)
    assert partition(result) == {frozenset({"app:A", "pos:B", "tmall:C", "wechat:D"}), frozenset({"app:E"})}
    big = result.persons.filter(pl.col("n_records") == 4).row(0, named=True)
    assert (big["n_sources"], big["sources"], big["link_types"]) == (4, "app+pos+tmall+wechat",
                                                                    "email+phone+wechat_unionid")
    assert result.links.filter(pl.col("person_id") == big["person_id"]).height == 6  # 3 identifiers × 2 records
    assert result.merge_log.is_empty() and not result.previous


def test_every_record_of_any_table_gets_a_person_and_guests_are_counted(frame):
    orders = frame({"source": ["web"] * 4, "source_customer_id": ["17850", None, "13047", "17850"]})
    tables = {"orders": orders, "customers": frame({"source": ["app"], "source_customer_id": ["A"],
                                                    "phone": ["13800000001"]})}
    keys = identity.record_keys(tables)
    assert keys.rows() == [("app", "A"), ("web", "13047"), ("web", "17850")]
    assert identity.unkeyed_rows(tables).rows() == [("orders", "web", 1)]
    result = identity.link(identity.collect_identifiers(tables), records=keys, salt=SALT)
    assert partition(result) == {frozenset({"app:A"}), frozenset({"web:13047"}), frozenset({"web:17850"})}
    out = identity.pseudonymize_tables(tables, result, salt=SALT)["orders"]
    assert type(out) is type(orders)
    person = pl.from_pandas(out) if isinstance(out, pd.DataFrame) else out
    assert person["person_id"].null_count() == 1 and person["person_id"][0] == person["person_id"][3]


def test_an_over_shared_identifier_links_nothing_and_is_reported():
    store = [("pos", f"C{i}", "phone", "+8613800138000") for i in range(4)]
    data = ids(*store, ("pos", "C0", "email", "c0@x.cn"), ("app", "U0", "email", "c0@x.cn"))
    result = identity.link(data, max_records_per_identifier=3, salt=SALT)
    assert partition(result) == {frozenset({"pos:C0", "app:U0"}), frozenset({"pos:C1"}), frozenset({"pos:C2"}),
                                 frozenset({"pos:C3"})}
    blocked = result.blocked.row(0, named=True)
    assert (blocked["id_type"], blocked["id_masked"], blocked["reason"], blocked["records"], blocked["persons"],
            blocked["sources"]) == ("phone", "+86138****8000", "over_shared", 4, 4, "pos")
    assert blocked["id_hash"].startswith("h_") and result.summary()["blocked_identifiers"] == 1
    per_type = identity.link(data, max_records_per_identifier={"phone": 4}, salt=SALT)
    assert len(partition(per_type)) == 1


def test_priorities_decide_which_link_wins_a_unionid_conflict():
    # A–C share a phone, A–B a device; B and C hold different unionids: they cannot be one person.
    data = ids(("app", "A", "phone", "+8613800000001"), ("app", "A", "device_id", "d1"),
               ("wechat", "B", "device_id", "d1"), ("wechat", "B", "wechat_unionid", "u2"),
               ("pos", "C", "phone", "+8613800000001"), ("pos", "C", "wechat_unionid", "u1"))
    phone_first = identity.link(data, priorities=["phone", "wechat_unionid", "device_id"], salt=SALT)
    assert partition(phone_first) == {frozenset({"app:A", "pos:C"}), frozenset({"wechat:B"})}
    assert phone_first.blocked.select("id_type", "reason", "records").rows() == [("device_id", "conflict", 2)]
    device_first = identity.link(data, priorities=["device_id", "phone", "wechat_unionid"], salt=SALT)
    assert partition(device_first) == {frozenset({"app:A", "wechat:B"}), frozenset({"pos:C"})}
    assert device_first.blocked.select("id_type", "reason").rows() == [("phone", "conflict")]
    no_rule = identity.link(data, exclusive=[], salt=SALT)
    assert len(partition(no_rule)) == 1


def test_types_left_out_of_the_priorities_never_link():
    data = ids(("app", "A", "device_id", "d1"), ("app", "B", "device_id", "d1"))
    result = identity.link(data, priorities=["phone", "email"], salt=SALT)
    assert len(partition(result)) == 2
    assert set(result.identifiers["status"]) == {"not_used"}


def test_same_data_and_shuffled_rows_give_the_same_ids():
    first = identity.link(CHAIN, salt=SALT).record_map
    assert identity.link(CHAIN, salt=SALT).record_map.equals(first)
    assert identity.link(CHAIN.sample(fraction=1.0, shuffle=True, seed=3), salt=SALT).record_map.equals(first)
    assert first["person_id"].str.contains(r"^P[0-9a-f]{16}$").all()
    assert not identity.link(CHAIN, salt="another-salt-123").record_map.equals(first)


GRAPHS = st.lists(st.tuples(st.sampled_from(["app", "pos", "wechat"]), st.integers(0, 7),
                            st.sampled_from(["phone", "email", "wechat_unionid", "device_id"]), st.integers(0, 5)),
                  min_size=1, max_size=30)


def _frame(rows) -> pl.DataFrame:
    return ids(*[(s, f"r{i}", t, f"{t}{v}") for s, i, t, v in rows])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=GRAPHS, seed=st.integers(0, 10_000))
def test_reordering_rows_changes_nothing(rows, seed):
    data = _frame(rows)
    first = identity.link(data, max_records_per_identifier=4, salt=SALT)
    again = identity.link(data.sample(fraction=1.0, shuffle=True, seed=seed), max_records_per_identifier=4, salt=SALT)
    for name, table in first.artifacts().items():
        assert again.artifacts()[name].equals(table), name


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(st.sampled_from(["a", "ab", "b", "微信"]), st.sampled_from(["1", "10", "2", "张", ""]),
                               st.sampled_from(["phone", "email", "device_id"]), st.integers(0, 4)), max_size=25),
       records=st.lists(st.tuples(st.sampled_from(["a", "c"]), st.sampled_from(["1", "9"])), max_size=3))
def test_link_equals_a_plain_python_union_find_with_string_sorts(rows, records):
    # an independent computation of every artifact: union-find over records, ids from the smallest
    # (source, source_key), each frame sorted on its string columns
    data = ids(*[(s, f"c{i}", t, f"{t}{v}") for s, i, t, v in rows])
    recs = pl.DataFrame(records, schema=dict.fromkeys(KEY, pl.String), orient="row")
    result = identity.link(data, records=recs, max_records_per_identifier=100, exclusive=(), salt=SALT)
    keys = sorted({(s, f"c{i}") for s, i, _, _ in rows} | set(records))
    parent = {k: k for k in keys}

    def root(k):
        while parent[k] != k:
            k = parent[k]
        return k
    by_value = {}
    for s, i, t, v in rows:
        by_value.setdefault((t, f"{t}{v}"), set()).add((s, f"c{i}"))
    for members in by_value.values():
        first, *rest = sorted(members)
        for other in rest:
            parent[root(other)] = root(first)
    hashed = {k: privacy.hash_value(k[1], SALT) for k in keys}
    smallest = {}
    for k in keys:
        smallest[root(k)] = min(smallest.get(root(k), (k[0], hashed[k])), (k[0], hashed[k]))
    person = {k: "P" + privacy.hash_value("person\x1f" + "\x1f".join(smallest[root(k)]), SALT)[2:18] for k in keys}
    expected_keys = pl.DataFrame([(*k, hashed[k], person[k]) for k in keys], orient="row",
                                 schema=dict.fromkeys([*KEY, "source_key", "person_id"], pl.String))
    assert result.keys.equals(expected_keys)
    assert result.record_map.equals(expected_keys.select("source", "source_key", "person_id")
                                    .sort("person_id", "source", "source_key"))
    rows_out = sorted({(s, f"c{i}", t, f"{t}{v}") for s, i, t, v in rows})
    status = {k: "linked" if len(m) > 1 else "single" for k, m in by_value.items()}
    expected_ids = pl.DataFrame([(*r, privacy.hash_value(r[3], SALT), status[r[2:]], person[r[:2]]) for r in rows_out],
                                orient="row", schema=dict.fromkeys([*KEY, *ID_COLUMNS, "status", "person_id"], pl.String))
    assert result.identifiers.equals(expected_ids)
    links = (expected_ids.filter(pl.col("status") == "linked").join(expected_keys.drop("person_id"), on=KEY)
             .select("person_id", "id_type", "id_hash", "source", "source_key"))
    assert result.links.equals(links.sort(links.columns))
    persons = (expected_keys.group_by("person_id").agg(
        n_records=pl.len(), n_sources=pl.col("source").n_unique(), sources=pl.col("source").unique().sort().str.join("+"))
        .join(expected_ids.group_by("person_id").agg(n_identifiers=pl.struct("id_type", "id_hash").n_unique()),
              on="person_id", how="left")
        .join(links.group_by("person_id").agg(link_types=pl.col("id_type").unique().sort().str.join("+")),
              on="person_id", how="left")
        .with_columns(pl.col("n_identifiers").fill_null(0), pl.col("link_types").fill_null("")))
    assert result.persons.equals(persons.cast(result.persons.schema).sort("person_id"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=GRAPHS, new=GRAPHS)
def test_new_data_keeps_old_ids_and_logs_every_change(old, new):
    before = identity.link(_frame(old), salt=SALT)
    rerun = identity.link(_frame(old), previous=before.record_map, salt=SALT)
    assert rerun.record_map.equals(before.record_map) and rerun.merge_log.is_empty()
    after = identity.link(pl.concat([_frame(old), _frame(new)]), previous=before.record_map, salt=SALT)
    joined = before.record_map.join(after.record_map, on=["source", "source_key"], suffix="_new")
    moved = joined.filter(pl.col("person_id") != pl.col("person_id_new"))
    log = after.merge_log
    assert log.filter(pl.col("change").is_in(["merged", "split"]))["records"].sum() == moved.height
    gone = set(before.record_map["person_id"]) - set(after.record_map["person_id"])
    assert gone == set(log.filter(pl.col("change") == "merged")["previous_person_id"])
    assert set(after.record_map["person_id"]) >= set(before.record_map["person_id"]) - gone


def test_a_merge_keeps_the_larger_persons_id_and_a_split_keeps_the_larger_part():
    base = ids(("pos", "A", "phone", "p1"), ("app", "B", "phone", "p1"), ("wechat", "C", "phone", "p1"),
               ("pos", "D", "email", "d@x.cn"))
    before = identity.link(base, salt=SALT)
    old = dict(zip(before.keys["source_customer_id"], before.keys["person_id"], strict=True))
    bridged = pl.concat([base, ids(("app", "E", "email", "d@x.cn"), ("app", "E", "phone", "p1"))])
    merged = identity.link(bridged, previous=before.record_map, salt=SALT)
    assert set(merged.keys["person_id"]) == {old["A"]}  # 3 records beat 1: A's person survives
    log = merged.merge_log.select("change", "person_id", "previous_person_id", "records").rows()
    assert sorted(log) == [("added", old["A"], None, 1), ("merged", old["A"], old["D"], 1)]
    # phones stop linking (left out of the priorities) and E is gone: four one-record persons, one keeps the id
    split = identity.link(base, previous=merged.record_map, priorities=["email"], salt=SALT)
    assert split.merge_log.filter(pl.col("change") == "removed")["records"].to_list() == [1]
    changes = split.merge_log.filter(pl.col("change") == "split").select("previous_person_id", "records").rows()
    assert changes == [(old["A"], 1), (old["A"], 1), (old["A"], 1)]
    assert old["A"] in set(split.keys["person_id"])


def test_no_identifiers_and_no_records_give_empty_typed_outputs():
    empty = pl.DataFrame(schema=dict.fromkeys(["source", "source_customer_id", "id_type", "id_value"], pl.String))
    result = identity.link(empty, salt=SALT)
    again = identity.link(empty, previous=result.record_map, salt=SALT)
    assert all(t.is_empty() for t in again.artifacts().values()) and again.summary()["persons"] == 0
    assert again.merge_log.schema["person_id"] == pl.String


def test_a_previous_map_from_another_salt_is_refused():
    before = identity.link(CHAIN, salt="first-salt-123")
    with pytest.raises(InputError, match=r"the previous record_map shares no record with this data; .*another salt"):
        identity.link(CHAIN, previous=before.record_map, salt="second-salt-123")
    with pytest.raises(InputError, match=r"previous record_map: missing columns \['person_id'\]"):
        identity.link(CHAIN, previous=before.record_map.drop("person_id"), salt=SALT)


def test_read_record_map_takes_the_file_the_step_folder_or_the_run_folder(tmp_path):
    step = tmp_path / "run" / "03_identity"
    step.mkdir(parents=True)
    identity.link(CHAIN, salt=SALT).record_map.write_parquet(step / "record_map.parquet")
    for place in (step / "record_map.parquet", step, tmp_path / "run"):
        assert identity.read_record_map(place).height == 5
    with pytest.raises(InputError, match=r"no record_map.parquet here; give the file, its 03_identity folder"):
        identity.read_record_map(tmp_path / "nowhere")


def test_explain_shows_records_identifier_types_and_masked_values():
    result = identity.link(CHAIN.vstack(ids(("app", "A", "device_id", "DEV-1"))), salt=SALT)
    person = result.keys.filter(pl.col("source_customer_id") == "A")["person_id"][0]
    why = identity.explain(result, person)
    assert why.columns == ["source", "source_key", "id_type", "id_masked", "id_hash", "status", "records"]
    assert why.filter(pl.col("source") == "app").select("id_type", "id_masked", "status", "records").rows() == [
        ("phone", "+86138****0001", "linked", 2), ("device_id", "D*****", "single", 1)]
    assert set(why["source"]) == {"app", "pos", "tmall", "wechat"}
    shown = set(why.to_pandas().astype(str).to_numpy().ravel())
    assert not shown & (set(CHAIN["id_value"]) | {"A", "B", "C", "D", "DEV-1"})
    with pytest.raises(InputError, match=r"no person 'P0' in this result; pick one from result.persons \(2 persons\)"):
        identity.explain(result, "P0")


def _raw_values(tables: dict[str, pl.DataFrame]) -> set[str]:
    pii = schema.PII_COLUMNS | set(schema.ID_TYPES) | {"source_customer_id"}
    return {str(v) for t in tables.values() for c in t.columns if c in pii for v in t[c].drop_nulls()}


def test_pseudonymized_tables_share_the_chunks_of_the_input():
    # a table whose new columns are chunked differently is copied whole by polars to align them (events: GBs)
    part = pl.DataFrame({"source": ["app", "pos"], "source_customer_id": ["U1", "C1"], "amount": [1.0, 2.0]})
    orders = pl.concat([part, part, part], rechunk=False)
    result = identity.link(ids(), records=identity.record_keys({"orders": orders}), salt=SALT)
    out = identity.pseudonymize_tables({"orders": orders}, result, salt=SALT)["orders"]
    assert out.columns == ["person_id", "source", "source_key", "amount"]
    assert out.n_chunks("all") == [3, 3, 3, 3]
    assert out.rechunk().equals(orders.join(result.keys, on=KEY).select(out.columns))


def test_no_raw_pii_or_source_key_reaches_any_output():
    customers = pl.DataFrame({"source": ["tmall", "wechat", "pos"], "source_customer_id": ["小熊_1", "oAbc", "C9"],
                              "name": ["张小明", None, "张小明"], "address": ["上海市浦东新区1号", None, None],
                              "phone": ["13800000001", "+86 138 0000 0001", None], "email": [None, None, "zx@x.cn"],
                              "wechat_openid": [None, "oAbc", None], "taobao_nick": ["小熊_1", None, None],
                              "member_id": [None, None, "C9"], "city": ["上海", "上海", "北京"]})
    orders = pl.DataFrame({"source": ["wechat", "tmall"], "source_customer_id": ["oAbc", "小熊_1"], "amount": [1.0, 2.0]})
    tables = {"customers": customers, "orders": orders}
    result = identity.link(identity.collect_identifiers(tables), records=identity.record_keys(tables), salt=SALT)
    outputs = {**result.artifacts(), **identity.pseudonymize_tables(tables, result, salt=SALT)}
    raw = _raw_values(tables) | set(identity.collect_identifiers(tables)["id_value"])
    for name, table in outputs.items():
        for column in table.columns:
            if table.schema[column] == pl.String:
                assert not set(table[column].drop_nulls()) & raw, (name, column)
    assert "source_customer_id" not in outputs["orders"].columns
    assert outputs["customers"]["city"].to_list() == ["上海", "上海", "北京"]  # not PII: kept
    assert outputs["orders"]["person_id"].n_unique() == 1 and len(partition(result)) == 2  # same phone


def test_the_salt_comes_from_the_environment_or_the_parameter(monkeypatch):
    monkeypatch.setenv("MY_OWN_SALT", SALT)
    from_env = identity.link(CHAIN, salt_env="MY_OWN_SALT")
    assert from_env.record_map.equals(identity.link(CHAIN, salt=SALT).record_map)
    monkeypatch.delenv("MY_OWN_SALT")
    with pytest.raises(InputError, match=r"environment variable MY_OWN_SALT must hold a secret"):
        identity.link(CHAIN, salt_env="MY_OWN_SALT")
    with pytest.raises(InputError, match=r"this salt differs from the one the identity result was linked with"):
        identity.pseudonymize_tables({}, from_env, salt="not-the-same-salt")
    assert SALT not in repr(from_env)


def test_sample_persons_are_recovered_with_pairwise_precision_and_recall_over_99_percent():
    tables = clean.clean(schema.load_sources(ROOT / "data/sample/maps"), dates=False).tables  # steps 01 + 02
    result = identity.link(identity.collect_identifiers(tables), records=identity.record_keys(tables), salt=SALT)
    truth = pl.read_parquet(ROOT / "data/sample/truth/records.parquet")
    scores = identity.pairwise_scores(result.keys, truth)
    assert scores["precision"] >= 0.99 and scores["recall"] >= 0.99, scores
    shared = pl.read_csv(ROOT / "data/sample/truth/shared_identifiers.csv")
    assert sorted(result.blocked.select("id_type", "records").rows()) == sorted(
        shared.select("id_type", "n_records").rows())
    assert result.summary()["records"] == identity.record_keys(tables).height


def test_fuzzy_matching_with_splink_on_a_small_frame():
    customers = pl.DataFrame({
        "source": ["pos", "tmall", "pos", "tmall", "pos", "tmall", "pos"],
        "source_customer_id": ["C1", "nick1", "C2", "nick2", "C3", "nick3", "C4"],
        "name": ["张小明", "张小明", "李华", "王芳", "陈静", "陈静", "张小明"],
        "address": [None, "上海市浦东新区世纪大道1号", None, "北京市朝阳区建国路8号", None, "广州市天河区体育西路", None],
        "birth_date": ["1990-01-02", "1990-01-02", "1985-03-04", "1992-05-06", "1979-09-09", "1979-09-09",
                       "2001-01-01"]})
    data = ids(("pos", "C3", "phone", "+8613800000003"), ("tmall", "nick3", "phone", "+8613800000003"))
    exact = identity.link(data, records=customers.select(KEY), salt=SALT)
    matches = identity_fuzzy.fuzzy_match(customers, labels=exact.keys, threshold=0.5)
    assert matches.pairs.select("source_customer_id_l", "source_customer_id_r").rows() == [("C1", "nick1"),
                                                                                          ("C3", "nick3")]
    weights = matches.weights.filter((pl.col("comparison") == "name") & (pl.col("level") == "exact"))
    assert weights["match_weight"][0] > 0
    linked = identity.link(data, records=customers.select(KEY), pairs=matches.pairs, salt=SALT)
    assert frozenset({"pos:C1", "tmall:nick1"}) in partition(linked)
    assert "fuzzy" in linked.persons["link_types"].str.split("+").explode().to_list()


@pytest.mark.parametrize(("call", "message"), [
    (lambda: identity.link(CHAIN.drop("id_value"), salt=SALT),
     r"identifiers: missing columns \['id_value'\]; available: \['source', 'source_customer_id', 'id_type'\]"),
    (lambda: identity.link(CHAIN, priorities="phone", salt=SALT),
     r"priorities must be a non-empty list of identifier types, strongest first; got 'phone'"),
    (lambda: identity.link(CHAIN, priorities=["phone", "fone"], salt=SALT),
     r"identifier type must be one of \[.*\], got 'fone'; did you mean 'phone'\?"),
    (lambda: identity.link(CHAIN, priorities=["phone", "phone"], salt=SALT),
     r"priorities lists \['phone'\] more than once; keep one"),
    (lambda: identity.link(CHAIN, max_records_per_identifier=1, salt=SALT),
     r"max_records_per_identifier must be a whole number >= 2 .*got 1"),
    (lambda: identity.link(CHAIN, pairs=pl.DataFrame({"source_l": ["a"]}), salt=SALT),
     r"pairs: missing columns \['source_customer_id_l', 'source_r', 'source_customer_id_r'\]"),
    (lambda: identity.link([1, 2], salt=SALT), r"identifiers: expected a pandas or polars DataFrame, got list"),
    # a record without a source used to get a null person_id, shared with every other such record
    (lambda: identity.link(ids((None, "U1", "phone", "1"), ("pos", "C1", "phone", "1")), salt=SALT),
     r"identifiers has 1 rows with a customer id but no source; give every record the source it comes from"),
    (lambda: identity.link(CHAIN, records=pl.DataFrame({"source": [None], "source_customer_id": ["U9"]}), salt=SALT),
     r"records has 1 rows with a customer id but no source"),
    (lambda: identity.record_keys({"products": pl.DataFrame({"product_id": ["P1"]})}),
     r"no table has the record key columns \['source', 'source_customer_id'\]; got tables \['products'\]"),
    (lambda: identity.pseudonymize_tables({"orders": pl.DataFrame({"source": ["x"], "source_customer_id": ["zz"]})},
                                          identity.link(CHAIN, salt=SALT), salt=SALT),
     r"table 'orders' has 1 rows of records the identity result does not know; link with records=record_keys"),
    (lambda: identity_fuzzy.fuzzy_match(pl.DataFrame({"source": ["a"], "source_customer_id": ["b"]}),
                                        labels=pl.DataFrame({"source": [], "source_customer_id": [], "person_id": []})),
     r"customers has none of the fuzzy columns \['name', 'address', 'birth_date'\]"),
    (lambda: identity_fuzzy.fuzzy_match(pl.DataFrame({"source": ["a"]}), labels=None, threshold=1.5),
     r"threshold must be a match probability between 0 and 1, got 1.5"),
    (lambda: identity_fuzzy.fuzzy_match(pl.DataFrame({"source": ["a"], "source_customer_id": ["b"], "name": ["c"]}),
                                        labels=None, columns=["nickname"]),
     r"fuzzy matching compares \['name', 'address', 'birth_date'\]; got \['nickname'\]"),
    (lambda: identity_fuzzy.fuzzy_match(None, labels=None),
     r"fuzzy matching needs the customers table \(name, address, birth date\) as a pandas or polars DataFrame, "
     r"got NoneType"),
], ids=["columns", "priorities-str", "unknown-type", "repeated", "guard", "pairs", "not-a-frame", "no-source",
                         "no-record-source", "no-keys",
        "unknown-record", "no-fuzzy-columns", "threshold", "fuzzy-columns", "no-customers"])
def test_errors_say_what_is_wrong_and_how_to_fix_it(call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_pairwise_scores_count_pairs_within_persons():
    pred = pl.DataFrame({"source": ["a"] * 5, "source_customer_id": list("vwxyz"), "person_id": [1, 1, 2, 2, 3]})
    assert identity.pairwise_scores(pred, pred.rename({"person_id": "person_key"})) == {
        "precision": 1.0, "recall": 1.0, "predicted_pairs": 2, "true_pairs": 2}
