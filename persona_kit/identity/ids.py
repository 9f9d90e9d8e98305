"""Step 03: person ids that stay stable across runs — minting, the survivor rule and the merge log.

Without a previous mapping a person's id is ``P`` + 16 hex digits of a salted hash of its first record
(the smallest ``(source, source_key)``): the same data and salt give the same ids, in any row order.

With the previous run's ``record_map`` (``source, source_key, person_id``) every person keeps the
previous id that covers most of its records, unless another person covers more of that id's records
(ties: the smaller id, then the person whose first record sorts first). So:

* the **survivor of a merge** is the previous person with the most records in the merged person; each
  other previous person is logged as ``merged`` into it;
* a previous person whose records now fall into several persons keeps its id on the part with most of
  them; the records of the other parts are logged as ``split`` (they get new ids);
* records new to this run are logged as ``added`` (to a kept person) or ``new`` (a new person), and
  records gone from the data as ``removed``;
* a new id never reuses an id of the previous run: when the minted one is taken (its first record once
  anchored a person that lives on elsewhere), a counter is appended before hashing.

The salt must stay the same between runs; a previous map that shares no record with the data (another
salt, other data) is refused rather than silently minting every id anew.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import narwhals as nw
import numpy as np
import polars as pl

from persona_kit.errors import InputError, check_columns
from persona_kit.privacy import hash_expr

__all__ = ["CHANGES", "assign_ids", "previous_map", "read_record_map"]

CHANGES = ("new", "added", "merged", "split", "removed")
"""Kinds of change in the merge log between a previous run and this one."""
_MAP = ["source", "source_key", "person_id"]
_SEP = "\x1f"
_LOG = {"change": pl.String, "person_id": pl.String, "previous_person_id": pl.String, "records": pl.UInt32}


def read_record_map(path: str | Path) -> pl.DataFrame:
    """Read an earlier run's ``record_map``: the Parquet file, its step folder or its run folder.

    Raises
    ------
    InputError
        If no record map is found there, or it lacks source, source_key, person_id.
    """
    path = Path(path)
    candidates = [path, path / "record_map.parquet", path / "03_identity" / "record_map.parquet"]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None:
        raise InputError("no record_map.parquet here; give the file, its 03_identity folder or the run folder "
                         "of an earlier run", file=str(path))
    frame = pl.read_parquet(found)
    check_columns(frame.columns, _MAP, where=found.name)
    return frame


def previous_map(previous: Any) -> pl.DataFrame:
    """Check a previous ``record_map`` (pandas or polars) and return it as polars text columns.

    >>> previous_map(pl.DataFrame({"source": ["app"], "source_key": ["h_1"], "person_id": ["P1"]})).height
    1
    """
    try:
        frame = nw.from_native(previous, eager_only=True).to_polars()
    except TypeError as err:
        raise InputError(f"previous: expected a pandas or polars DataFrame, got {type(previous).__name__}") from err
    check_columns(frame.columns, _MAP, where="previous record_map")
    frame = frame.select(pl.col(_MAP).cast(pl.String))
    if frame.select("source", "source_key").is_duplicated().any():
        raise InputError("the previous record_map lists a record twice; pass the record_map artifact of one run")
    return frame


def _mint(frame: pl.DataFrame, column: str, salt: str) -> pl.DataFrame:
    """``person_id`` = ``P`` + 16 hex digits of the salted hash of ``column``."""
    minted = hash_expr(pl.concat_str(pl.lit("person\x1f"), column), salt)
    return frame.with_columns(person_id=pl.concat_str(pl.lit("P"), minted.str.slice(2, 16)))


def assign_ids(nodes: pl.DataFrame, prev: pl.DataFrame | None, salt: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Give each component of ``nodes`` (source, source_key, order, component, …) a person id and log changes.

    ``order`` ranks the records by ``(source, source_key)``; a component's first record is its smallest.
    Components are numbered 0 … k-1.
    Returns ``nodes`` (in their order) with ``person_id``, and the merge log (empty without ``prev``).

    Examples
    --------
    >>> nodes = pl.DataFrame({"source": ["a", "a"], "source_key": ["h_1", "h_2"], "order": [0, 1],
    ...                       "component": [0, 0]})
    >>> prev = pl.DataFrame({"source": ["a", "a"], "source_key": ["h_1", "h_2"], "person_id": ["P1", "P2"]})
    >>> out, log = assign_ids(nodes, prev, "doctest-salt")
    >>> out["person_id"].to_list(), log.rows()
    (['P1', 'P1'], [('merged', 'P1', 'P2', 1)])
    """
    comps = nodes.group_by("component").agg(first=pl.col("order").min())
    row_of_order = np.empty(nodes.height, dtype=np.int64)
    row_of_order[nodes["order"].to_numpy()] = np.arange(nodes.height)
    first = nodes.select("source", "source_key")[row_of_order[comps["first"].to_numpy()]]
    comps = comps.with_columns(first.select(rk=pl.concat_str("source", "source_key", separator=_SEP))["rk"])
    if prev is None:
        minted = _mint(comps, "rk", salt).sort("component")["person_id"]
        return nodes.with_columns(minted.gather(nodes["component"])), pl.DataFrame(schema=_LOG)
    nodes = nodes.join(prev.rename({"person_id": "previous_person_id"}), on=["source", "source_key"], how="left",
                       maintain_order="left")
    if nodes["previous_person_id"].is_null().all() and prev.height and nodes.height:
        raise InputError("the previous record_map shares no record with this data; it was made from other data "
                         "or with another salt (the salt must stay the same for ids to be stable)")
    overlap = (nodes.filter(pl.col("previous_person_id").is_not_null())
               .group_by("component", "previous_person_id").agg(n=pl.len())
               .join(comps.drop("rk"), on="component")
               .sort(["n", "previous_person_id", "first"], descending=[True, False, False]))
    kept: dict[int, str] = {}
    taken: set[str] = set()
    for component, pid, _n, _first in overlap.iter_rows():
        if component not in kept and pid not in taken:
            kept[component] = pid
            taken.add(pid)
    assigned, used = dict(kept), set(prev["person_id"].to_list()) | taken
    for component, rk, pid in _mint(comps.filter(~pl.col("component").is_in(list(kept))).sort("first"),
                                    "rk", salt).select("component", "rk", "person_id").iter_rows():
        attempt = 0
        while pid in used:
            attempt += 1
            pid = _mint(pl.DataFrame({"s": [f"{rk}#{attempt}"]}), "s", salt)["person_id"][0]
        assigned[component] = pid
        used.add(pid)
    ids = pl.DataFrame({"component": list(assigned), "person_id": list(assigned.values()),
                        "kept": [c in kept for c in assigned]},
                       schema_overrides={"component": nodes["component"].dtype, "person_id": pl.String, "kept": pl.Boolean})
    nodes = nodes.join(ids, on="component", maintain_order="left")
    moved = (nodes.group_by("person_id", "kept", "previous_person_id").agg(records=pl.len())
             .filter(pl.col("previous_person_id").is_null() | (pl.col("previous_person_id") != pl.col("person_id"))))
    change = (pl.when(pl.col("previous_person_id").is_null() & pl.col("kept")).then(pl.lit("added"))
              .when(pl.col("previous_person_id").is_null()).then(pl.lit("new"))
              .when(pl.col("previous_person_id").is_in(list(taken))).then(pl.lit("split"))
              .otherwise(pl.lit("merged")))
    removed = (prev.join(nodes.select("source", "source_key"), on=["source", "source_key"], how="anti")
               .group_by("person_id").agg(records=pl.len()).select(
                   pl.lit("removed").alias("change"),
                   pl.when(pl.col("person_id").is_in(list(taken))).then(pl.col("person_id")).alias("person_id"),
                   pl.col("person_id").alias("previous_person_id"), "records"))
    log = pl.concat([moved.select(change.alias("change"), "person_id", "previous_person_id", "records").cast(_LOG),
                     removed.cast(_LOG)]).sort("change", "person_id", "previous_person_id", nulls_last=True)
    return nodes.drop("kept", "previous_person_id"), log
