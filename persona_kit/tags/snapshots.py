"""Tag snapshots on disk, the diff between two snapshots, and the 360° view of one person.

A snapshot is the long tag frame of one ``as_of`` date (from :func:`~persona_kit.tags.engine.compute_tags`),
written under ``<root>/tags/snapshot=YYYY-MM-DD/`` as ``long.parquet`` (``person_id, tag_id, value, as_of``)
and ``wide.parquet`` (one row per person, one String column per tag), both with
:func:`persona_kit.io.write_parquet` (atomic, same data → same bytes).

Examples
--------
>>> import datetime as dt, tempfile, polars as pl
>>> root = tempfile.mkdtemp()
>>> day = dt.date(2024, 6, 30)
>>> old = pl.DataFrame({"person_id": ["p1", "p2"], "tag_id": ["vip", "vip"], "value": ["true", "false"],
...                     "as_of": [day, day]})
>>> write_snapshot(old, root).name
'snapshot=2024-06-30'
>>> list_snapshots(root)
[datetime.date(2024, 6, 30)]
>>> new = old.with_columns(value=pl.Series(["true", "true"]))
>>> diff(read_snapshot(root, day), new).filter(pl.col("value") == "true").select("entered", "left").rows()
[(1, 0)]
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import polars as pl

from persona_kit.errors import InputError, check_columns, check_date
from persona_kit.frames import as_polars
from persona_kit.io import write_parquet
from persona_kit.privacy import mask_pii
from persona_kit.tags.catalog import Catalog
from persona_kit.tags.engine import long_tags, wide

__all__ = ["snapshot_dir", "write_snapshot", "list_snapshots", "read_snapshot", "read_history", "diff",
           "person_360"]

_SNAPSHOT = re.compile(r"snapshot=(\d{4}-\d{2}-\d{2})\Z")


def snapshot_dir(root: str | Path, as_of: Any) -> Path:
    """``<root>/tags/snapshot=YYYY-MM-DD``.

    >>> snapshot_dir("runs/demo", "2024-06-30").as_posix()
    'runs/demo/tags/snapshot=2024-06-30'
    """
    return Path(root) / "tags" / f"snapshot={check_date('as_of', as_of).isoformat()}"


def write_snapshot(tags: Any, root: str | Path, *, catalog: Catalog | None = None) -> Path:
    """Write one snapshot (long and wide Parquet) and return its folder.

    Parameters
    ----------
    tags
        The long frame of a single ``as_of`` date.
    root
        The run folder; the snapshot goes to ``<root>/tags/snapshot=YYYY-MM-DD/``.
    catalog
        Orders the wide columns (and adds all-null columns for tags nobody has).

    Raises
    ------
    InputError
        If the frame lacks the tag columns or mixes several ``as_of`` dates.
    """
    frame, _ = long_tags(tags)
    dates = frame["as_of"].unique().drop_nulls().to_list()
    if len(dates) != 1 or frame["as_of"].null_count():
        raise InputError(f"a snapshot holds exactly one as_of date, got {sorted(str(d) for d in dates)}"
                         + (" and nulls" if frame["as_of"].null_count() else ""))
    folder = snapshot_dir(root, dates[0])
    write_parquet(frame.sort("tag_id", "person_id"), folder / "long.parquet")
    write_parquet(wide(frame, catalog=catalog), folder / "wide.parquet")
    return folder


def list_snapshots(root: str | Path) -> list[dt.date]:
    """The dates of the snapshots under ``<root>/tags``, oldest first."""
    base = Path(root) / "tags"
    found = [_SNAPSHOT.match(p.name) for p in base.iterdir()] if base.is_dir() else []
    return sorted(dt.date.fromisoformat(m.group(1)) for m in found if m and (base / m.group(0) / "long.parquet").is_file())


def read_snapshot(root: str | Path, as_of: Any, *, form: str = "long") -> pl.DataFrame:
    """Read one snapshot back (``form`` is ``long`` or ``wide``).

    Raises
    ------
    InputError
        If there is no snapshot of that date, naming the dates there are.
    """
    if form not in ("long", "wide"):
        raise InputError(f"form must be one of ['long', 'wide'], got {form!r}")
    path = snapshot_dir(root, as_of) / f"{form}.parquet"
    if not path.is_file():
        have = [d.isoformat() for d in list_snapshots(root)]
        raise InputError(f"no tag snapshot as of {check_date('as_of', as_of)} under {Path(root) / 'tags'}; snapshots: {have}; "
                         "run the tags step for that date first")
    return pl.read_parquet(path)


def read_history(root: str | Path) -> pl.DataFrame:
    """Every snapshot's long frame stacked (oldest first): the ``tags_history`` of :func:`person_360`."""
    frames = [read_snapshot(root, d) for d in list_snapshots(root)]
    if not frames:
        return pl.DataFrame(schema={"person_id": pl.String, "tag_id": pl.String, "value": pl.String,
                                    "as_of": pl.Date})
    return pl.concat(frames)


def diff(old: Any, new: Any) -> Any:
    """Who entered and who left each tag value between two snapshots.

    A person *enters* ``(tag_id, value)`` when they hold it in ``new`` but not in ``old`` (including persons
    new to the data), and *leaves* it in the opposite case.

    Returns
    -------
    DataFrame (the kind of ``new``)
        ``tag_id, value, before, after, entered, left, entered_persons, left_persons`` (counts, and the
        sorted person lists), one row per tag value held in either snapshot, sorted by tag and value.

    Examples
    --------
    >>> day = dt.date(2024, 6, 30)
    >>> old = pl.DataFrame({"person_id": ["p1", "p2"], "tag_id": ["tier", "tier"], "value": ["高", "低"],
    ...                     "as_of": [day, day]})
    >>> new = old.with_columns(value=pl.Series(["低", "低"]))
    >>> diff(old, new).select("value", "before", "after", "entered", "left", "left_persons").rows()
    [('低', 1, 2, 1, 0, []), ('高', 1, 0, 0, 1, ['p1'])]
    """
    before, _ = long_tags(old, where="old")
    after, back = long_tags(new, where="new")
    keys = ["tag_id", "value", "person_id"]
    marked = (before.select(keys).unique().with_columns(pl.lit(True).alias("in_old"))
              .join(after.select(keys).unique().with_columns(pl.lit(True).alias("in_new")), on=keys, how="full",
                    coalesce=True)
              .with_columns(pl.col("in_old").fill_null(False), pl.col("in_new").fill_null(False)))
    entered = pl.col("in_new") & ~pl.col("in_old")
    left = pl.col("in_old") & ~pl.col("in_new")
    return back(marked.sort("person_id").group_by("tag_id", "value").agg(
        pl.col("in_old").sum().cast(pl.Int64).alias("before"),
        pl.col("in_new").sum().cast(pl.Int64).alias("after"),
        entered.sum().cast(pl.Int64).alias("entered"),
        left.sum().cast(pl.Int64).alias("left"),
        pl.col("person_id").filter(entered).alias("entered_persons"),
        pl.col("person_id").filter(left).alias("left_persons"),
    ).sort("tag_id", "value"))


def person_360(person_id: str, *, features: Any, tags_history: Any, catalog: Catalog, events: Any = None,
               person_col: str = "person_id", ts_col: str = "event_ts", recent: int = 20) -> dict:
    """Everything known about one person, with PII masked (:func:`persona_kit.privacy.mask_pii`).

    Parameters
    ----------
    person_id
        The person to show.
    features
        The features frame (one row per person).
    tags_history
        Long tag frames of one or more snapshots (e.g. :func:`read_history`).
    catalog
        Gives each tag its names, category, type and definition.
    events
        Optional events with ``person_col`` and ``ts_col``; the ``recent`` latest are shown.

    Returns
    -------
    dict
        ``person_id``; ``features`` (1-row frame); ``tags`` (latest snapshot: ``category, tag_id, name_zh,
        name_en, type, value, definition``); ``history`` (``tag_id, as_of, value`` for every snapshot, oldest
        first); ``events`` (latest first, or ``None``). Every frame is polars with PII columns masked.

    Raises
    ------
    InputError
        If the person is in neither the features nor the tag history.
    """
    person_id = str(person_id)
    feats, back = as_polars(features, where="features")
    check_columns(feats.columns, [person_col], where="features")
    row = feats.filter(pl.col(person_col).cast(pl.String) == person_id)
    history = long_tags(tags_history, where="tags_history")[0].filter(pl.col("person_id") == person_id)
    if row.is_empty() and history.is_empty():
        raise InputError(f"person {person_id!r} is in neither the features nor the tag history; "
                         "check the id (persons are identified by the identity step's person_id)")
    latest = history.filter(pl.col("as_of") == pl.col("as_of").max())
    info = pl.DataFrame([{"tag_id": t.id, "category": t.category, "name_zh": t.name["zh"], "name_en": t.name["en"],
                          "type": t.type, "definition": _describe(t.definition)} for t in catalog],
                        schema=dict.fromkeys(["tag_id", "category", "name_zh", "name_en", "type", "definition"],
                                             pl.String))
    tags = latest.join(info, on="tag_id", how="left").select(
        "category", "tag_id", "name_zh", "name_en", "type", "value", "definition")
    order = {tag_id: i for i, tag_id in enumerate(catalog.ids)}
    tags = tags.with_columns(pl.col("tag_id").replace_strict(order, default=len(order)).alias("__o")) \
        .sort("__o").drop("__o")
    recent_events = None
    if events is not None:
        ev, _ = as_polars(events, where="events")
        check_columns(ev.columns, [person_col, ts_col], where="events")
        recent_events = mask_pii(ev.filter(pl.col(person_col).cast(pl.String) == person_id)
                                 .sort(ts_col, descending=True).head(recent))
    return {
        "person_id": person_id,
        "features": back(mask_pii(row)),
        "tags": back(tags),
        "history": back(history.select("tag_id", "as_of", "value").sort("tag_id", "as_of")),
        "events": None if recent_events is None else back(recent_events),
    }


def _describe(definition: dict) -> str:
    """A definition as one line of text, for display."""
    if "when" in definition:
        return definition["when"]
    if "cases" in definition:
        cases = "; ".join(f"{c['value']}: {c['when']}" for c in definition["cases"])
        return cases + (f"; else {definition['default']}" if definition.get("default") is not None else "")
    parts = [f"{k}={v}" for k, v in definition.items()]
    return ", ".join(parts)
