"""Step 03 — OneID: link source records into persons with stable ids, explain the links, pseudonymize PII.

A *record* is one ``(source, source_customer_id)`` key, from any table (a customer row, an order's buyer,
an app user in the events). Records that share a normalized identifier (phone, email, member id, device
id, WeChat openid / unionid, Taobao nick) belong to one person; the persons are the connected components
of the record–identifier graph (:func:`scipy.sparse.csgraph.connected_components`).

How :func:`link` decides, in this order:

1. **Guard.** An identifier carried by more than ``max_records_per_identifier`` records (a store's phone
   typed on many cards, ``test@test.com``) links nothing and is reported as ``over_shared``.
2. **Priorities.** Identifier types link one level at a time, strongest first (``priorities``); types
   not listed never link. A person holds at most one value of each ``exclusive`` type (default: the
   WeChat unionid): an identifier that would join groups holding different values of such a type links
   nothing and is reported as a ``conflict`` — so a shared family iPad cannot merge two WeChat users,
   and which link wins depends on the order of ``priorities``. This is conservative: every identifier of
   a level that joins groups inside a conflicting component is dropped, not just one of them.
3. **Stable ids.** A person's id is minted from a salted hash of its first record, so the same data gives
   the same ids in any row order; given the previous run's ``record_map``, ids are kept and every merge
   and split is logged, with the survivor rule of :mod:`persona_kit.identity.ids`.

Privacy: the result's frames carry salted hashes only (``source_key`` for the source's customer id,
``id_hash`` for identifiers, masked display values for blocked identifiers). The raw keys and
identifier values stay in memory (``IdentityResult.keys`` / ``.identifiers``) for :func:`explain` and
:func:`pseudonymize_tables` and are never among :meth:`IdentityResult.artifacts`.

Examples
--------
>>> import polars as pl
>>> ids = pl.DataFrame({"source": ["app", "pos", "pos", "wechat"],
...                     "source_customer_id": ["U1", "C1", "C2", "o1"],
...                     "id_type": ["phone", "phone", "email", "wechat_unionid"],
...                     "id_value": ["+8613800000001", "+8613800000001", "a@b.cn", "u1"]})
>>> result = link(ids, salt="doctest-salt")
>>> result.persons.select("n_records", "sources").sort("n_records").rows()
[(1, 'pos'), (1, 'wechat'), (2, 'app+pos')]
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import narwhals as nw
import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from persona_kit.clean.standardize import _identifier_value
from persona_kit.errors import InputError, check_choice, check_columns, did_you_mean
from persona_kit.frames import as_polars
from persona_kit.identity.ids import CHANGES, assign_ids, previous_map, read_record_map
from persona_kit.privacy import (
    SALT_ENV,
    hash_expr,
    hash_value,
    mask_kind,
    mask_values,
    pseudonymize,
    resolve_salt,
)
from persona_kit.schema import ID_TYPES, PII_COLUMNS, identifiers_from

__all__ = [
    "DEFAULT_PRIORITIES", "DEFAULT_EXCLUSIVE", "MAX_RECORDS_PER_IDENTIFIER", "TABLES", "STATUSES", "CHANGES",
    "FUZZY", "IdentityResult", "normalize_identifiers", "collect_identifiers", "record_keys", "unkeyed_rows",
    "link", "explain", "pseudonymize_tables", "read_record_map", "source_overlap", "identifier_summary",
    "pairwise_scores",
]

DEFAULT_PRIORITIES = ("wechat_unionid", "phone", "email", "member_id", "taobao_nick", "wechat_openid",
                      "device_id")
"""Identifier types that link, strongest first."""
DEFAULT_EXCLUSIVE = ("wechat_unionid",)
"""Identifier types a person holds at most one value of."""
MAX_RECORDS_PER_IDENTIFIER = 10
"""An identifier on more records than this is over-shared and links nothing."""
TABLES = ("customers", "orders", "events", "reviews", "campaigns", "products", "non_product", "identifiers")
"""Tables the step reads (``non_product``: order lines step 02 set aside); all but ``identifiers`` are
written back pseudonymized, and every record key in any of them gets a person."""
STATUSES = ("linked", "single", "over_shared", "conflict", "not_used")
"""What became of an identifier: it joined records, sat on one record only, or was blocked / unused."""
FUZZY = "fuzzy"
"""The identifier type of pairs matched by :mod:`persona_kit.identity.fuzzy`; it links last."""

_KEY = ["source", "source_customer_id"]
_IDS = [*_KEY, "id_type", "id_value"]
_MAP = ["source", "source_key", "person_id"]
_SEP = "\x1f"


@dataclass(frozen=True)
class IdentityResult:
    """What :func:`link` found. Every frame is polars; the artifact frames hold hashes only.

    Attributes
    ----------
    record_map : source, source_key, person_id — the stable mapping (next run's ``previous``)
    persons : person_id, n_records, n_sources, sources, n_identifiers, link_types
    links : person_id, id_type, id_hash, source, source_key — which identifier joined which records
    blocked : id_type, id_hash, id_masked, reason, records, persons, sources — identifiers that link nothing
    merge_log : change, person_id, previous_person_id, records — empty without a previous run
    keys : **in memory only** — source, source_customer_id (raw), source_key, person_id
    identifiers : **in memory only** — the raw identifiers with id_hash and status
    """

    record_map: pl.DataFrame
    persons: pl.DataFrame
    links: pl.DataFrame
    blocked: pl.DataFrame
    merge_log: pl.DataFrame
    keys: pl.DataFrame = field(repr=False)
    identifiers: pl.DataFrame = field(repr=False)
    previous: bool = False
    _salt_check: str = field(default="", repr=False)

    def artifacts(self) -> dict[str, pl.DataFrame]:
        """The frames a run saves (no raw key, no raw identifier): name → frame."""
        return {"record_map": self.record_map, "persons": self.persons, "links": self.links,
                "blocked_identifiers": self.blocked, "merge_log": self.merge_log}

    def summary(self) -> dict[str, int]:
        """Key numbers: records, persons, multi-record / multi-source persons, identifiers, blocked ones,
        and the merges, splits and new persons against a previous run."""
        persons = self.persons
        changes = self.merge_log["change"].value_counts()
        counts = dict(zip(changes["change"].to_list(), changes["count"].to_list(), strict=True))
        return {"records": self.record_map.height, "persons": persons.height,
                "multi_record_persons": persons.filter(pl.col("n_records") > 1).height,
                "multi_source_persons": persons.filter(pl.col("n_sources") > 1).height,
                "distinct_identifiers": self.identifiers.filter(pl.col("id_type") != FUZZY)
                .select("id_type", "id_value").n_unique(),
                "blocked_identifiers": self.blocked.height,
                "merges": counts.get("merged", 0), "splits": counts.get("split", 0), "new": counts.get("new", 0)}


def _present(column: str) -> pl.Expr:
    return pl.col(column).is_not_null() & (pl.col(column).cast(pl.String).str.strip_chars() != "")


def normalize_identifiers(identifiers: Any, *, country_code: str = "86") -> Any:
    """Normalize identifier values for linking and drop the empty or implausible ones.

    Phones become E.164 (:func:`persona_kit.clean.normalize_phone`), e-mails are lower-cased
    (:func:`persona_kit.clean.normalize_email`), other values are trimmed. Both are idempotent, so the
    already-clean identifiers of step 02 pass unchanged. Rows are deduplicated and sorted.

    Parameters
    ----------
    identifiers : pandas or polars DataFrame with source, source_customer_id, id_type, id_value
    country_code : calling code of phones written without one

    Returns
    -------
    The same kind of frame, with the same columns.

    Examples
    --------
    >>> ids = pl.DataFrame({"source": ["pos"] * 3, "source_customer_id": ["C1"] * 3,
    ...                     "id_type": ["phone", "email", "phone"],
    ...                     "id_value": ["138 0013 8000", " Ann@X.CN", "123"]})
    >>> normalize_identifiers(ids)["id_value"].to_list()
    ['ann@x.cn', '+8613800138000']
    """
    frame, back = as_polars(identifiers, where="identifiers")
    check_columns(frame.columns, _IDS, where="identifiers")
    out = (frame.lazy().select(pl.col(_KEY).cast(pl.String), pl.col("id_type").cast(pl.String),
                               _identifier_value(country_code))
           .filter(_present("source_customer_id") & _present("id_value"))
           .unique().sort(_IDS).collect())
    return back(out)


def collect_identifiers(tables: Mapping[str, Any], *, country_code: str = "86") -> pl.DataFrame:
    """The normalized identifiers of a run: its ``identifiers`` table, else melted from ``customers``.

    Examples
    --------
    >>> customers = pl.DataFrame({"source": ["pos"], "source_customer_id": ["C1"], "phone": ["13800138000"]})
    >>> collect_identifiers({"customers": customers}).rows()
    [('pos', 'C1', 'phone', '+8613800138000')]
    """
    if "identifiers" in tables:
        frame = as_polars(tables["identifiers"], where="identifiers")[0]
    elif "customers" in tables:
        frame = identifiers_from(as_polars(tables["customers"], where="customers")[0])
    else:
        frame = pl.DataFrame(schema=dict.fromkeys(_IDS, pl.String))
    return normalize_identifiers(frame, country_code=country_code)


def record_keys(tables: Mapping[str, Any]) -> pl.DataFrame:
    """Every distinct ``(source, source_customer_id)`` of any table that has both columns, sorted.

    Rows without a customer id (guest orders) give no record; count them with :func:`unkeyed_rows`.

    Examples
    --------
    >>> orders = pl.DataFrame({"source": ["web", "web", "web"], "source_customer_id": ["17850", None, "17850"]})
    >>> record_keys({"orders": orders}).rows()
    [('web', '17850')]
    """
    parts = [as_polars(frame, where=name)[0].lazy().select(pl.col(_KEY).cast(pl.String)).unique()
             for name, frame in tables.items() if set(_KEY) <= set(nw.from_native(frame, eager_only=True).columns)]
    if not parts:
        raise InputError(f"no table has the record key columns {_KEY}; got tables {sorted(tables)}")
    return pl.concat(parts).filter(_present("source_customer_id")).unique().sort(_KEY).collect()


def unkeyed_rows(tables: Mapping[str, Any]) -> pl.DataFrame:
    """Rows per table and source with no customer id: they belong to no person (e.g. guest orders).

    Examples
    --------
    >>> orders = pl.DataFrame({"source": ["web", "web"], "source_customer_id": ["17850", None]})
    >>> unkeyed_rows({"orders": orders}).rows()
    [('orders', 'web', 1)]
    """
    parts = [as_polars(frame, where=name)[0].filter(~_present("source_customer_id").fill_null(False))
             .group_by("source").agg(rows=pl.len()).select(pl.lit(name).alias("table"), "source", "rows")
             for name, frame in tables.items() if set(_KEY) <= set(nw.from_native(frame, eager_only=True).columns)]
    empty = pl.DataFrame(schema={"table": pl.String, "source": pl.String, "rows": pl.UInt32})
    return pl.concat([empty, *parts]).filter(pl.col("rows") > 0).sort("table", "source")


def _components(n: int, edges: pl.DataFrame) -> np.ndarray:
    """Component label per node from edges ``node`` – ``anchor``."""
    rows, cols = edges["node"].to_numpy(), edges["anchor"].to_numpy()
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _conflicts(candidates: pl.DataFrame, before: np.ndarray, after: np.ndarray,
               exclusive: pl.DataFrame) -> set[int]:
    """Identifiers of one level that join groups into a component with more values of an exclusive type
    than any of its parts held."""
    if exclusive.is_empty():
        return set()
    ex = exclusive.with_columns(pre=before[exclusive["node"].to_numpy()], post=after[exclusive["node"].to_numpy()])
    per_part = ex.group_by("pre", "post", "id_type").agg(n=pl.col("ident").n_unique())
    most = per_part.group_by("post", "id_type").agg(pl.col("n").max())
    joined = ex.group_by("post", "id_type").agg(total=pl.col("ident").n_unique()).join(most, on=["post", "id_type"])
    bad = set(joined.filter(pl.col("total") > pl.col("n"))["post"].to_list())
    if not bad:
        return set()
    cand = candidates.with_columns(pre=before[candidates["node"].to_numpy()], post=after[candidates["node"].to_numpy()])
    joining = cand.group_by("ident").agg(parts=pl.col("pre").n_unique(), post=pl.col("post").first())
    return set(joining.filter((pl.col("parts") > 1) & pl.col("post").is_in(list(bad)))["ident"].to_list())


def _link_levels(ids: pl.DataFrame, idents: pl.DataFrame, n: int, levels: Sequence[str],
                 exclusive: Collection[str]) -> tuple[np.ndarray, set[int]]:
    """Component label per node after linking level by level, and the identifiers dropped as conflicts.

    ``ids`` holds ``node`` and ``ident``, the row of ``idents`` (id_type, status) it carries."""
    per_ident = idents.select(
        level=pl.when(pl.col("status") == "linked").then(
            pl.col("id_type").replace_strict(list(levels), list(range(len(levels))), default=None)),
        exclusive=pl.col("id_type").is_in(list(exclusive)) & (pl.col("status") != "over_shared"))
    exclusive_values = ids.filter(per_ident["exclusive"].gather(ids["ident"]))
    exclusive_values = exclusive_values.with_columns(id_type=idents["id_type"].gather(exclusive_values["ident"]))
    level_of = per_ident["level"].gather(ids["ident"])
    accepted = pl.DataFrame(schema={"node": pl.UInt32, "anchor": pl.UInt32})
    labels, rejected = np.arange(n), set()
    for level in range(len(levels)):
        cand = ids.filter(level_of == level)
        if cand.is_empty():
            continue
        edges = cand.with_columns(anchor=pl.col("node").min().over("ident"))
        after = _components(n, pl.concat([accepted, edges.select("node", "anchor")]))
        dropped = _conflicts(cand, labels, after, exclusive_values)
        rejected |= dropped
        accepted = pl.concat([accepted, edges.filter(~pl.col("ident").is_in(list(dropped))).select("node", "anchor")])
        labels = _components(n, accepted) if dropped else after
    return labels, rejected


def _limit(max_records: int | Mapping[str, int]) -> pl.Expr:
    if isinstance(max_records, Mapping):
        expr = pl.lit(MAX_RECORDS_PER_IDENTIFIER)
        for id_type, value in max_records.items():
            expr = pl.when(pl.col("id_type") == id_type).then(pl.lit(value)).otherwise(expr)
        return expr
    return pl.lit(max_records)


def _check_options(priorities: Sequence[str], exclusive: Collection[str],
                   max_records: int | Mapping[str, int]) -> None:
    if isinstance(priorities, str) or not priorities:
        raise InputError(f"priorities must be a non-empty list of identifier types, strongest first; got {priorities!r}")
    for id_type in [*priorities, *exclusive, *(max_records if isinstance(max_records, Mapping) else [])]:
        check_choice("identifier type", id_type, ID_TYPES)
    repeated = sorted({p for p in priorities if list(priorities).count(p) > 1})
    if repeated:
        raise InputError(f"priorities lists {repeated} more than once; keep one")
    limits = max_records.values() if isinstance(max_records, Mapping) else [max_records]
    if any(not isinstance(v, int) or isinstance(v, bool) or v < 2 for v in limits):
        raise InputError(f"max_records_per_identifier must be a whole number >= 2 (or a mapping of id type to "
                         f"one), got {max_records!r}")


def _pair_identifiers(pairs: Any) -> pl.DataFrame:
    """Matched pairs (``source_l, source_customer_id_l, source_r, source_customer_id_r``) as identifiers of
    type :data:`FUZZY`, one per pair, on its two records."""
    frame = as_polars(pairs, where="pairs")[0]
    sides = [f"{c}_{s}" for s in ("l", "r") for c in _KEY]
    check_columns(frame.columns, sides, where="pairs")
    frame = frame.select(pl.col(sides).cast(pl.String)).with_columns(
        id_value=pl.concat_str(sides, separator=_SEP))
    return pl.concat([frame.select(pl.col(f"source_{s}").alias("source"),
                                   pl.col(f"source_customer_id_{s}").alias("source_customer_id"),
                                   pl.lit(FUZZY).alias("id_type"), "id_value") for s in ("l", "r")])


def link(identifiers: Any, *, records: Any = None, priorities: Sequence[str] = DEFAULT_PRIORITIES,
         exclusive: Collection[str] = DEFAULT_EXCLUSIVE,
         max_records_per_identifier: int | Mapping[str, int] = MAX_RECORDS_PER_IDENTIFIER,
         pairs: Any = None, previous: Any = None, salt: str | None = None,
         salt_env: str = SALT_ENV) -> IdentityResult:
    """Link records that share an identifier into persons with stable ids (see the module docstring).

    Parameters
    ----------
    identifiers : pandas or polars DataFrame
        source, source_customer_id, id_type, id_value — normalized (:func:`normalize_identifiers`).
    records : DataFrame, optional
        Every record key (:func:`record_keys`); records without identifiers become one-record persons.
    priorities : identifier types that link, strongest first; other types never link
    exclusive : types a person holds at most one value of (a link that would join two values is a conflict)
    max_records_per_identifier : the guard: an int, or a mapping id type → int (others: the default)
    pairs : DataFrame, optional
        Fuzzy matches (``source_l, source_customer_id_l, source_r, source_customer_id_r``), linking last.
    previous : DataFrame, optional
        An earlier run's ``record_map`` (:func:`read_record_map`); its ids are kept and changes logged.
    salt, salt_env : the hashing salt, or the environment variable holding it (never stored)

    Returns
    -------
    IdentityResult

    Raises
    ------
    InputError
        Missing columns, unknown identifier types, a bad guard, no salt, or a previous map that shares no
        record with this data (made with another salt?).

    Examples
    --------
    >>> ids = pl.DataFrame({"source": ["app", "pos", "pos"], "source_customer_id": ["U1", "C1", "C2"],
    ...                     "id_type": ["phone"] * 3, "id_value": ["+8613800000001"] * 3})
    >>> result = link(ids, max_records_per_identifier=2, salt="doctest-salt")
    >>> result.persons.height, result.blocked.select("reason", "records").row(0)
    (3, ('over_shared', 3))
    """
    ids = as_polars(identifiers, where="identifiers")[0]
    check_columns(ids.columns, _IDS, where="identifiers")
    _check_options(priorities, exclusive, max_records_per_identifier)
    secret = resolve_salt(salt, env=salt_env)
    prev = None if previous is None else previous_map(previous)
    ids = ids.select(pl.col(_IDS).cast(pl.String)).filter(_present("source_customer_id") & _present("id_value"))
    if pairs is not None:
        ids = pl.concat([ids, _pair_identifiers(pairs)])
    keys = [_sourced(ids, "identifiers")]
    if records is not None:
        frame = as_polars(records, where="records")[0]
        check_columns(frame.columns, _KEY, where="records")
        keys.append(_sourced(frame.select(pl.col(_KEY).cast(pl.String)).filter(_present("source_customer_id")),
                             "records"))
    # integer codes instead of strings: ``node`` ranks the record keys, ``ident`` the (id_type, id_value) pairs
    keys = pl.concat(keys).with_columns(node=pl.struct(_KEY).rank("dense") - 1)
    nodes = keys[_a_row_per_code(keys["node"])].with_columns(source_key=hash_expr(pl.col("source_customer_id"), secret))
    nodes = nodes.with_columns(order=pl.struct("source", "source_key").rank("dense") - 1)
    ids = (ids.select("id_type", "id_value").with_columns(node=keys["node"].head(ids.height))
           .with_columns(ident=pl.struct("id_type", "id_value").rank("dense") - 1))
    idents = ids.select("id_type", "id_value")[_a_row_per_code(ids["ident"])]
    ids = _distinct_pairs(ids["node"], ids["ident"], idents.height)
    idents = idents.with_columns(id_hash=hash_expr(pl.col("id_value"), secret),
                                 records=pl.Series(np.bincount(ids["ident"].to_numpy(), minlength=idents.height)))
    idents = idents.with_columns(
        status=pl.when(~pl.col("id_type").is_in([*priorities, FUZZY])).then(pl.lit("not_used"))
        .when(pl.col("records") > _limit(max_records_per_identifier)).then(pl.lit("over_shared"))
        .when(pl.col("records") < 2).then(pl.lit("single")).otherwise(pl.lit("linked"))).drop("records")
    labels, rejected = _link_levels(ids, idents, nodes.height, [*priorities, FUZZY], exclusive)
    idents = idents.with_columns(status=pl.when(pl.int_range(pl.len()).is_in(list(rejected))).then(pl.lit("conflict"))
                                 .otherwise(pl.col("status")))
    nodes, merge_log = assign_ids(nodes.with_columns(component=labels), prev, secret)
    return _result(nodes, ids, idents, merge_log, previous=prev is not None, salt=secret)


def _a_row_per_code(code: pl.Series) -> np.ndarray:
    """For each value 0 … max of a dense rank, the index of a row holding it. Rows of one rank hold equal
    values, so any of them will do, and a scatter is cheaper than finding the first one.

    >>> _a_row_per_code(pl.Series([2, 0, 1])).tolist()
    [1, 2, 0]
    """
    rows = np.empty(int(code.max()) + 1 if code.len() else 0, dtype=np.int64)
    rows[code.to_numpy()] = np.arange(code.len())
    return rows


def _distinct_pairs(node: pl.Series, ident: pl.Series, n_idents: int) -> pl.DataFrame:
    """The distinct ``(node, ident)`` pairs, sorted: one 64-bit key ``node * n_idents + ident`` per pair, which
    sorts and deduplicates faster than the two columns.

    >>> _distinct_pairs(pl.Series([1, 0, 1], dtype=pl.UInt32), pl.Series([0, 1, 0], dtype=pl.UInt32), 2).rows()
    [(0, 1), (1, 0)]
    """
    width = np.uint64(max(n_idents, 1))
    key = pl.Series(node.to_numpy().astype(np.uint64) * width + ident.to_numpy()).unique().sort().to_numpy()
    return pl.DataFrame([pl.Series("node", key // width).cast(node.dtype), pl.Series("ident", key % width).cast(ident.dtype)])


def _sourced(frame: pl.DataFrame, where: str) -> pl.DataFrame:
    """The record keys of ``frame``; each needs its source."""
    missing = frame["source"].null_count()
    if missing:
        raise InputError(f"{where} has {missing:,} rows with a customer id but no source; give every record the "
                         "source it comes from")
    return frame.select(_KEY)


def _masked(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``id_masked``: phones keep head and last 4 digits, e-mails first letter and domain, other
    values only their first character."""
    parts = [part.with_columns(id_masked=mask_values(  # other values: a fixed length, so it hides their length
                 part["id_value"] if mask_kind(t) != "name" else part["id_value"].str.pad_end(6, "*").str.slice(0, 6),
                 mask_kind(t)))
             for (t,), part in frame.group_by("id_type", maintain_order=True)]
    return pl.concat(parts) if parts else frame.with_columns(id_masked=pl.lit(None, pl.String))


def _name_sets(component: np.ndarray, values: pl.Series, k: int) -> tuple[np.ndarray, pl.Series]:
    """For components 0 … k-1 (``component`` per value): how many distinct ``values`` each holds, and them sorted
    and joined by ``+`` ("" for none). Values become bits of 64-bit masks, so only the few distinct sets meet
    strings."""
    names = values.unique().sort()
    code = values.replace_strict(names, range(names.len())).cast(pl.UInt64).to_numpy()
    words = [f"w{w}" for w in range(max(1, -(-names.len() // 64)))]
    masks = np.zeros((len(words), k), dtype=np.uint64)
    np.bitwise_or.at(masks, (code // 64, component), np.left_shift(np.uint64(1), code % 64))
    per = pl.DataFrame(dict(zip(words, masks, strict=True)), schema=dict.fromkeys(words, pl.UInt64))
    sets = per.unique()
    held = [[names[64 * w + b] for w, mask in enumerate(row) for b in range(64) if mask >> b & 1]
            for row in sets.iter_rows()]
    sets = sets.with_columns(count=pl.Series([len(h) for h in held], dtype=pl.UInt32),
                             joined=pl.Series(["+".join(h) for h in held], dtype=pl.String))
    out = per.join(sets, on=words, maintain_order="left")
    return out["count"].to_numpy(), out["joined"]


def _result(nodes: pl.DataFrame, ids: pl.DataFrame, idents: pl.DataFrame, merge_log: pl.DataFrame, *,
            previous: bool, salt: str) -> IdentityResult:
    """The result frames from ``nodes`` (a record per row in ``node`` order, with ``order``, ``component`` 0 … k-1
    and ``person_id``), ``idents`` (an identifier per row in ``ident`` order, with id_hash and status) and ``ids``
    (node, ident; distinct, sorted). Sorts are on integer ranks that follow the string order of the artifact's sort columns."""
    component = nodes["component"].to_numpy()
    k = int(component.max()) + 1 if nodes.height else 0
    first_row = np.empty(k, dtype=np.int64)
    first_row[component[::-1]] = np.arange(nodes.height)[::-1]
    n_sources, sources = _name_sets(component, nodes["source"], k)
    persons = pl.DataFrame({"component": np.arange(k), "person_id": nodes["person_id"].gather(first_row),
                            "n_records": np.bincount(component, minlength=k).astype(np.uint32),
                            "n_sources": n_sources, "sources": sources}).sort("person_id")
    rank = np.empty(k, dtype=np.uint32)  # a component's place in person_id order
    rank[persons["component"].to_numpy()] = np.arange(k)
    nodes = nodes.with_columns(rank=rank[component])

    def rows(frame: pl.DataFrame, **columns: tuple[pl.DataFrame, str, str]) -> pl.DataFrame:
        """``frame`` plus ``name`` = ``table[column]`` at ``frame[index]`` for each ``name=(table, column, index)``."""
        return frame.with_columns(table[column].gather(frame[index]).alias(name)
                                  for name, (table, column, index) in columns.items())

    def status_in(*statuses: str) -> pl.Series:
        return idents["status"].is_in(statuses).gather(ids["ident"])

    record_map = nodes.sort("rank", "order").select(_MAP)
    linked = idents.with_row_index("ident").filter(pl.col("status") == "linked")
    id_rank = np.zeros(idents.height, dtype=np.uint32)
    id_rank[linked["ident"].to_numpy()] = linked.select(pl.struct("id_type", "id_hash").rank("dense").alias("r"))["r"]
    linked = rows(ids.filter(status_in("linked")), rank=(nodes, "rank", "node"), order=(nodes, "order", "node"),
                  component=(nodes, "component", "node"), id_type=(idents, "id_type", "ident"))
    links = rows(linked.with_columns(id_rank=id_rank[linked["ident"].to_numpy()]).sort("rank", "id_rank", "order"),
                 person_id=(nodes, "person_id", "node"), id_hash=(idents, "id_hash", "ident"),
                 source=(nodes, "source", "node"), source_key=(nodes, "source_key", "node"))
    links = links.select("person_id", "id_type", "id_hash", "source", "source_key")
    counted = rows(ids.filter(idents["id_type"].ne(FUZZY).gather(ids["ident"])), component=(nodes, "component", "node"))
    # ``ids`` holds each (node, ident) once, so an identifier counts twice in a component only through two records
    width = np.uint64(max(idents.height, 1))
    per_component = pl.Series(counted["component"].to_numpy().astype(np.uint64) * width + counted["ident"].to_numpy())
    n_identifiers = np.bincount((per_component.unique().to_numpy() // width).astype(np.int64), minlength=k)
    link_types = _name_sets(linked["component"].to_numpy(), linked["id_type"], k)[1]
    persons = (persons.with_columns(n_identifiers=n_identifiers.astype(np.uint32)[persons["component"].to_numpy()],
                                    link_types=link_types.gather(persons["component"]))
               .select("person_id", "n_records", "n_sources", "sources", "n_identifiers", "link_types"))
    blocked_ids = rows(ids.filter(status_in("over_shared", "conflict")), id_type=(idents, "id_type", "ident"),
                       id_hash=(idents, "id_hash", "ident"), id_value=(idents, "id_value", "ident"),
                       status=(idents, "status", "ident"), person_id=(nodes, "person_id", "node"),
                       source=(nodes, "source", "node"))
    blocked = (blocked_ids.group_by("id_type", "id_hash").agg(
        pl.col("id_value").first(), reason=pl.col("status").first(), records=pl.col("node").n_unique(),
        persons=pl.col("person_id").n_unique(), sources=pl.col("source").unique().sort().str.join("+")))
    blocked = (_masked(blocked).select("id_type", "id_hash", "id_masked", "reason", "records", "persons", "sources")
               .sort(["records", "id_type", "id_hash"], descending=[True, False, False]))
    keys = nodes.select(*_KEY, "source_key", "person_id")
    identifiers = rows(ids, **{c: (nodes, c, "node") for c in _KEY},
                       **{c: (idents, c, "ident") for c in ("id_type", "id_value", "id_hash", "status")},
                       person_id=(nodes, "person_id", "node")).select(*_IDS, "id_hash", "status", "person_id")
    return IdentityResult(record_map, persons, links, blocked, merge_log, keys, identifiers, previous=previous,
                          _salt_check=hash_value("persona-kit", salt))


def explain(result: IdentityResult, person_id: str) -> pl.DataFrame:
    """Which records make up a person and which identifiers joined them, values masked.

    One row per record and identifier: source, source_key, id_type, id_masked, id_hash, status
    (:data:`STATUSES`) and ``records`` — how many of this person's records carry the identifier. A record
    without identifiers has one row with empty identifier columns.

    Raises
    ------
    InputError
        If ``person_id`` is not in the result.

    Examples
    --------
    >>> ids = pl.DataFrame({"source": ["app", "pos"], "source_customer_id": ["U1", "C1"],
    ...                     "id_type": ["email", "email"], "id_value": ["ann@x.cn", "ann@x.cn"]})
    >>> result = link(ids, salt="doctest-salt")
    >>> explain(result, result.persons["person_id"][0]).select("source", "id_masked", "status", "records").rows()
    [('app', 'a***@x.cn', 'linked', 2), ('pos', 'a***@x.cn', 'linked', 2)]
    """
    records = result.keys.filter(pl.col("person_id") == person_id)
    if records.is_empty():
        near = did_you_mean(str(person_id), result.persons["person_id"].to_list())
        raise InputError(f"no person {person_id!r} in this result" + (f"; did you mean {near!r}?" if near else
                         f"; pick one from result.persons ({result.persons.height:,} persons)"))
    ids = result.identifiers.filter(pl.col("person_id") == person_id).with_columns(
        records=pl.col("source_customer_id").n_unique().over("id_type", "id_hash"))
    ids = _masked(ids) if ids.height else ids.with_columns(id_masked=pl.lit(None, pl.String))
    out = records.join(ids.drop("person_id"), on=_KEY, how="left")
    return (out.select("source", "source_key", "id_type", "id_masked", "id_hash", "status", "records")
            .sort(["source", "source_key", "records", "id_type"], descending=[False, False, True, False],
                  nulls_last=True))


def pseudonymize_tables(tables: Mapping[str, Any], result: IdentityResult, *, salt: str | None = None,
                        salt_env: str = SALT_ENV) -> dict[str, Any]:
    """Canonical tables ready for later steps: ``person_id`` first, ``source_customer_id`` replaced by its
    hashed ``source_key``, and every PII or identifier column replaced by salted hashes.

    Rows without a customer id keep a null ``person_id``. Each frame comes back as the kind it went in.

    Raises
    ------
    InputError
        If a table holds a record the result does not know (link with ``records=record_keys(tables)``),
        or the salt differs from the one :func:`link` used.

    Examples
    --------
    >>> orders = pl.DataFrame({"source": ["app", "app"], "source_customer_id": ["U1", None], "amount": [9.0, 5.0]})
    >>> ids = pl.DataFrame(schema=dict.fromkeys(["source", "source_customer_id", "id_type", "id_value"], pl.String))
    >>> result = link(ids, records=record_keys({"orders": orders}), salt="doctest-salt")
    >>> out = pseudonymize_tables({"orders": orders}, result, salt="doctest-salt")["orders"]
    >>> out.columns, out["person_id"].is_null().to_list()
    (['person_id', 'source', 'source_key', 'amount'], [False, True])
    """
    secret = resolve_salt(salt, env=salt_env)
    if hash_value("persona-kit", secret) != result._salt_check:
        raise InputError("this salt differs from the one the identity result was linked with; use the same "
                         f"salt (environment variable {salt_env} or the salt parameter) for both")
    out = {}
    for name, native in tables.items():
        frame, back = as_polars(native, where=name)
        if set(_KEY) <= set(frame.columns):
            frame = frame.with_columns(pl.col("source_customer_id").cast(pl.String))
            joined = (frame.lazy().select(_KEY).join(result.keys.lazy(), on=_KEY, how="left", maintain_order="left")
                      .select("person_id", "source_key").collect())
            keyed = frame.select(_present("source_customer_id").fill_null(False)).to_series()
            unknown = (keyed & joined["person_id"].is_null()).sum()
            if unknown:
                raise InputError(f"table {name!r} has {unknown:,} rows of records the identity result does "
                                 "not know; link with records=record_keys(tables) over the same tables")
            source_key, person_id = (_aligned(joined[c], frame["source"]) for c in ("source_key", "person_id"))
            frame = frame.with_columns(source_key.alias("source_customer_id")).rename({"source_customer_id": "source_key"})
            frame.insert_column(0, person_id)
        hashed = [c for c in frame.columns if c in PII_COLUMNS or c in ID_TYPES]
        out[name] = back(pseudonymize(frame, hashed, salt=secret))
    return out


def _aligned(series: pl.Series, like: pl.Series) -> pl.Series:
    """``series`` cut into the chunks of ``like``: a column added to a frame that way neither makes polars copy
    the frame's other columns to align their chunks nor changes the Parquet row groups the frame writes."""
    series, start, parts = series.rechunk(), 0, []
    for chunk in like.get_chunks():
        parts.append(series.slice(start, chunk.len()))
        start += chunk.len()
    return pl.concat(parts, rechunk=False)


def source_overlap(result: IdentityResult) -> pl.DataFrame:
    """For each pair of sources: persons seen in both, and their share of the first source's persons.

    Examples
    --------
    >>> ids = pl.DataFrame({"source": ["app", "pos", "app"], "source_customer_id": ["U1", "C1", "U2"],
    ...                     "id_type": ["email"] * 3, "id_value": ["a@x.cn", "a@x.cn", "b@x.cn"]})
    >>> source_overlap(link(ids, salt="doctest-salt")).rows()
    [('app', 'app', 2, 1.0), ('app', 'pos', 1, 0.5), ('pos', 'app', 1, 1.0), ('pos', 'pos', 1, 1.0)]
    """
    seen = result.record_map.select("person_id", "source").unique()
    pairs = seen.join(seen.rename({"source": "other_source"}), on="person_id")
    counts = pairs.group_by("source", "other_source").agg(persons=pl.len())
    totals = seen.group_by("source").agg(total=pl.len())
    return (counts.join(totals, on="source").with_columns(share=pl.col("persons") / pl.col("total"))
            .drop("total").sort("source", "other_source"))


def identifier_summary(result: IdentityResult) -> pl.DataFrame:
    """Distinct identifiers per type and :data:`STATUSES` value (id_type, status, identifiers, records).

    Examples
    --------
    >>> ids = pl.DataFrame({"source": ["app", "pos", "app"], "source_customer_id": ["U1", "C1", "U1"],
    ...                     "id_type": ["email", "email", "device_id"], "id_value": ["a@x.cn", "a@x.cn", "d1"]})
    >>> identifier_summary(link(ids, salt="doctest-salt")).rows()
    [('device_id', 'single', 1, 1), ('email', 'linked', 1, 2)]
    """
    return (result.identifiers.group_by("id_type", "status")
            .agg(identifiers=pl.col("id_hash").n_unique(), records=pl.struct(_KEY).n_unique())
            .sort(["identifiers", "id_type", "status"], descending=[True, False, False]))


def pairwise_scores(predicted: Any, truth: Any, *, person_col: str = "person_id",
                    truth_col: str = "person_key") -> dict[str, float]:
    """Pairwise precision and recall of a record → person assignment against a labelled one.

    Both frames carry source, source_customer_id and their person column; records in both are scored.
    A pair is two records in one person; precision = shared pairs / predicted pairs, recall = shared
    pairs / true pairs (1.0 when there are none).

    Examples
    --------
    >>> pred = pl.DataFrame({"source": ["a"] * 4, "source_customer_id": list("wxyz"), "person_id": [1, 1, 1, 2]})
    >>> true = pl.DataFrame({"source": ["a"] * 4, "source_customer_id": list("wxyz"), "person_key": [1, 1, 2, 2]})
    >>> pairwise_scores(pred, true)
    {'precision': 0.3333333333333333, 'recall': 0.5, 'predicted_pairs': 3, 'true_pairs': 2}
    """
    left, right = as_polars(predicted, where="predicted")[0], as_polars(truth, where="truth")[0]
    check_columns(left.columns, [*_KEY, person_col], where="predicted")
    check_columns(right.columns, [*_KEY, truth_col], where="truth")
    both = left.select(*_KEY, pl.col(person_col).alias("p")).join(
        right.select(*_KEY, pl.col(truth_col).alias("t")), on=_KEY)

    def pairs(*cols: str) -> int:
        sizes = both.group_by(*cols).len()["len"].cast(pl.Int64)
        return int((sizes * (sizes - 1) // 2).sum())

    shared, predicted_pairs, true_pairs = pairs("p", "t"), pairs("p"), pairs("t")
    return {"precision": shared / predicted_pairs if predicted_pairs else 1.0,
            "recall": shared / true_pairs if true_pairs else 1.0,
            "predicted_pairs": predicted_pairs, "true_pairs": true_pairs}
