"""Audiences and triggers: named conditions over tags and features, sizes, overlaps, safe export, backtests.

An *audience* is a name and a condition in the safe grammar of :mod:`persona_kit.tags.expressions`
(``rfm_segment in ['at_risk', 'cant_lose_them'] and spend_365d >= 500 and consent_marketing``), evaluated
on the *universe*: one row per person joining step 04's features and wide tags with whatever later steps
wrote (segments, personas, churn, CLV, interests). A *trigger* is the same kind of condition over a daily
panel of event windows (``max_category_views_7d >= 3 and orders_7d == 0``); a backtest replays it day by
day over history.

Examples
--------
>>> import polars as pl
>>> universe = pl.DataFrame({"person_id": ["a", "b", "c"], "spend_365d": [900.0, 50.0, 700.0],
...                          "consent_marketing": [True, True, False]})
>>> members = evaluate(universe, {"big": "spend_365d >= 500", "big_ok": "spend_365d >= 500 and consent_marketing"})
>>> members.rows()
[('a', True, True), ('b', False, False), ('c', True, False)]
>>> evaluate(universe, {"typo": "spend_356d >= 500"})
Traceback (most recent call last):
...
persona_kit.errors.InputError: audience 'typo': unknown column 'spend_356d' at position 0 in "spend_356d >= 500"; did you mean 'spend_365d'?
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import altair as alt
import polars as pl

from persona_kit import privacy
from persona_kit.errors import InputError, check_columns
from persona_kit.frames import as_polars
from persona_kit.io import sha256_file, write_atomic, write_json, write_parquet
from persona_kit.tags.expressions import columns_of, compile_condition, parse

__all__ = ["build_universe", "needed_columns", "split_computable", "evaluate", "sizes", "composition",
           "overlaps", "intersections", "chart_upset", "export_audience", "trigger_panel", "backtest_triggers"]

PERSON = "person_id"
_NAME_OK = set("abcdefghijklmnopqrstuvwxyz0123456789_")


def build_universe(features: Any, tags: Any = None, *, extras: Iterable[Any] = ()) -> Any:
    """One row per person: ``features`` joined on ``person_id`` with wide ``tags`` and ``extras``.

    Every person of ``features`` is kept (left joins). A column already present is not replaced by a later
    frame (features first, then tags, then ``extras`` in order), so the universe never holds two versions
    of one name. Tag columns holding only ``"true"`` / ``"false"`` become booleans, so ``vip`` and
    ``not vip`` read naturally in a condition.

    >>> f = pl.DataFrame({"person_id": ["a", "b"], "spend_365d": [10.0, 0.0]})
    >>> t = pl.DataFrame({"person_id": ["a", "b"], "vip": ["true", "false"], "spend_365d": ["x", "y"]})
    >>> build_universe(f, t).rows()
    [('a', 10.0, True), ('b', 0.0, False)]
    """
    universe, back = as_polars(features, where="features")
    check_columns(universe.columns, [PERSON], where="features")
    universe = universe.unique(PERSON, keep="first", maintain_order=True)
    for i, frame in enumerate(([tags] if tags is not None else []) + list(extras)):
        other, _ = as_polars(frame, where=f"universe input {i + 1}")
        check_columns(other.columns, [PERSON], where=f"universe input {i + 1}")
        new = [c for c in other.columns if c not in universe.columns]
        if not new:
            continue
        other = other.select(PERSON, *new).unique(PERSON, keep="first")
        flags = [c for c in new if other.schema[c] == pl.String
                 and set(other[c].drop_nulls().unique().to_list()) in ({"true", "false"}, {"true"}, {"false"})]
        other = other.with_columns([(pl.col(c) == "true").alias(c) for c in flags])
        universe = universe.join(other, on=PERSON, how="left")
    return back(universe)


def needed_columns(expression: str) -> set[str]:
    """The columns a condition reads (parsed, never evaluated).

    >>> sorted(needed_columns("views_30d >= 3 and not vip"))
    ['views_30d', 'vip']
    """
    return columns_of(parse(expression))


def split_computable(audiences: dict[str, str], columns: Iterable[str],
                     known: Iterable[str] = ()) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Split definitions into those this data can compute and those that need a column it lacks.

    A definition is *skipped* only when every missing column is a ``known`` name (a feature, tag or model
    output that this dataset or run does not have); an unknown name stays in the computable set, so that
    :func:`evaluate` reports it as a typo with a suggestion.

    >>> split_computable({"a": "x > 1", "b": "views_7d > 1", "c": "xx > 1"}, ["x"], known=["views_7d"])
    ({'a': 'x > 1', 'c': 'xx > 1'}, {'b': ['views_7d']})
    """
    have, known = set(columns), set(known)
    usable, skipped = {}, {}
    for name, text in audiences.items():
        missing = sorted(needed_columns(text) - have)
        if missing and set(missing) <= known:
            skipped[name] = missing
        else:
            usable[name] = text
    return usable, skipped


def _check_names(audiences: dict[str, str]) -> None:
    if not isinstance(audiences, dict) or not audiences:
        raise InputError("audiences must map names to conditions, e.g. {'win_back': \"lifecycle_stage == '流失'\"}")
    for name, text in audiences.items():
        if not isinstance(name, str) or not name or not set(name) <= _NAME_OK or name == PERSON:
            raise InputError(f"audience name {name!r} must be lower-case letters, digits and '_' "
                             "(it names a column and an export file)")
        if not isinstance(text, str):
            raise InputError(f"audience {name!r}: the condition must be text, got {type(text).__name__}")


def evaluate(universe: Any, audiences: dict[str, str]) -> Any:
    """Membership of every person in every audience: ``person_id`` plus one boolean column per audience.

    A condition that is null for a person (a comparison with a missing value) counts as not a member.

    Raises
    ------
    InputError
        Naming the audience and the bad token or unknown column (with its position in the condition).
    """
    _check_names(audiences)
    frame, back = as_polars(universe, where="universe")
    check_columns(frame.columns, [PERSON], where="universe")
    exprs = []
    for name, text in audiences.items():
        try:
            exprs.append(compile_condition(text, frame.columns).fill_null(False).alias(name))
        except InputError as err:
            raise InputError(f"audience {name!r}: {err}") from None
    try:
        out = frame.select(PERSON, *exprs)
    except pl.exceptions.PolarsError as err:
        raise InputError(f"an audience compares values of different types: {str(err).splitlines()[0]}") from None
    return back(out)


def sizes(members: Any, *, consent: Any = None, min_group_size: int = privacy.MIN_GROUP_SIZE) -> Any:
    """Persons and share of the universe per audience; ``exportable`` persons with consent (when the
    ``consent`` boolean series, aligned with ``members``, is given); audiences under ``min_group_size`` flagged.

    >>> m = pl.DataFrame({"person_id": list("abcd"), "x": [True, True, False, True]})
    >>> sizes(m, min_group_size=2).rows()
    [('x', 3, 0.75, None, False)]
    """
    frame, back = as_polars(members, where="members")
    total = frame.height
    names = [c for c in frame.columns if c != PERSON]
    ok = pl.Series(consent).fill_null(False) if consent is not None else None
    rows = []
    for name in names:
        hit = frame[name]
        rows.append({"audience": name, "persons": int(hit.sum()), "share": hit.sum() / total if total else 0.0,
                     "exportable": int((hit & ok).sum()) if ok is not None else None,
                     "too_small": bool(hit.sum() < min_group_size)})
    return back(pl.DataFrame(rows, schema={"audience": pl.String, "persons": pl.Int64, "share": pl.Float64,
                                           "exportable": pl.Int64, "too_small": pl.Boolean}))


def composition(universe: Any, members: Any, *, audience: str, by: str,
                min_group_size: int = privacy.MIN_GROUP_SIZE) -> pl.DataFrame:
    """What an audience is made of: per value of ``by``, persons, share in the audience, share in the
    universe and their ratio ×100 (TGI: above 100 = over-represented). Small groups are suppressed.

    >>> u = pl.DataFrame({"person_id": list("abcdef"), "city": ["x", "x", "y", "y", "y", "y"]})
    >>> m = pl.DataFrame({"person_id": list("abcdef"), "aud": [True, True, True, False, False, False]})
    >>> composition(u, m, audience="aud", by="city", min_group_size=1).select("city", "persons", "tgi").rows()
    [('x', 2, 200.0), ('y', 1, 50.0)]
    """
    uni, back = as_polars(universe, where="universe")
    mem, _ = as_polars(members, where="members")
    check_columns(uni.columns, [PERSON, by], where="universe")
    check_columns(mem.columns, [PERSON, audience], where="members")
    frame = uni.select(PERSON, pl.col(by).cast(pl.String)).join(mem.select(PERSON, audience), on=PERSON)
    inside = frame.filter(pl.col(audience))
    base = frame.group_by(by).agg(universe_persons=pl.len())
    out = (inside.group_by(by).agg(persons=pl.len()).join(base, on=by, how="right")
           .with_columns(persons=pl.col("persons").fill_null(0))
           .with_columns(share=pl.col("persons") / max(inside.height, 1),
                         universe_share=pl.col("universe_persons") / max(frame.height, 1))
           .with_columns(tgi=(pl.col("share") / pl.col("universe_share") * 100).round(1))
           .select(by, "persons", "share", "universe_share", "tgi").sort("persons", by, descending=[True, False]))
    out = privacy.suppress_small_groups(out, min_group_size=min_group_size, columns=["persons", "share", "tgi"])
    return back(out)


def overlaps(members: Any) -> Any:
    """Pairwise overlap of audiences: persons in both, and the Jaccard index (both / either).

    >>> m = pl.DataFrame({"person_id": list("abc"), "x": [True, True, False], "y": [False, True, True]})
    >>> overlaps(m).filter(pl.col("audience") == "x").rows()
    [('x', 'x', 2, 1.0), ('x', 'y', 1, 0.3333333333333333)]
    """
    frame, back = as_polars(members, where="members")
    names = [c for c in frame.columns if c != PERSON]
    rows = []
    for a in names:
        for b in names:
            both = int((frame[a] & frame[b]).sum())
            either = int((frame[a] | frame[b]).sum())
            rows.append({"audience": a, "other": b, "persons": both, "jaccard": both / either if either else 0.0})
    return back(pl.DataFrame(rows))


def intersections(members: Any, *, min_group_size: int = privacy.MIN_GROUP_SIZE, top: int = 15) -> Any:
    """Exclusive intersections (UpSet): persons in exactly each combination of audiences, largest first.

    Combinations under ``min_group_size`` persons are not shown (privacy), nor persons in no audience;
    ``top`` keeps the largest combinations.

    >>> m = pl.DataFrame({"person_id": list("abcd"), "x": [True, True, True, False], "y": [False, True, True, False]})
    >>> intersections(m, min_group_size=1).rows()
    [('x & y', 2, 2), ('x', 1, 1)]
    """
    frame, back = as_polars(members, where="members")
    names = [c for c in frame.columns if c != PERSON]
    combo = pl.concat_str([pl.when(pl.col(n)).then(pl.lit(n)) for n in names], separator=" & ", ignore_nulls=True)
    counts = (frame.select(combo.alias("combination"), pl.sum_horizontal(names).alias("degree"))
              .filter(pl.col("degree") > 0).group_by("combination", "degree").agg(persons=pl.len())
              .filter(pl.col("persons") >= min_group_size)
              .sort(["persons", "combination"], descending=[True, False]).head(top))
    return back(counts.select("combination", "persons", pl.col("degree").cast(pl.Int64)))


def chart_upset(inter: Any, audiences: list[str], *, lang: str = "zh", title: str | None = None) -> Any:
    """An UpSet chart of :func:`intersections`: bars of persons per combination above a dot matrix."""
    from persona_kit.charts import FONT, PALETTE
    from persona_kit.i18n import label_or, t

    inter, _ = as_polars(inter, where="intersections")
    order = inter["combination"].to_list()
    dots = [{"combination": c, "audience": a, "member": a in c.split(" & ")} for c in order for a in audiences]
    bars = (alt.Chart(alt.Data(values=inter.to_dicts())).mark_bar(color=PALETTE[0]).encode(
        x=alt.X("combination:N", sort=order, axis=None),
        y=alt.Y("persons:Q", title=label_or("col.persons", lang, "persons")),
        tooltip=[alt.Tooltip("combination:N", title=label_or("col.audience", lang, "audience")),
                 alt.Tooltip("persons:Q", format=",", title=label_or("col.persons", lang, "persons"))])
        .properties(width=max(240, 34 * len(order)), height=220))
    matrix = (alt.Chart(alt.Data(values=dots)).mark_circle(size=120).encode(
        x=alt.X("combination:N", sort=order, axis=None),
        y=alt.Y("audience:N", sort=audiences, title=None),
        color=alt.Color("member:N", scale=alt.Scale(domain=[True, False], range=["#333", "#ddd"]), legend=None))
        .properties(width=max(240, 34 * len(order)), height=24 * len(audiences)))
    chart = alt.vconcat(bars, matrix, spacing=4)
    if title:
        chart = chart.properties(title=t(title, lang))
    return (chart.configure(font=FONT).configure_axis(labelFont=FONT, titleFont=FONT, labelFontSize=12)
            .configure_title(font=FONT, fontSize=16, anchor="start").configure_view(stroke=None))


def export_audience(universe: Any, *, name: str, definition: str, out_dir: str | Path, as_of: str,
                    consent_col: str = "consent_marketing", contacts: Any = None,
                    min_group_size: int = privacy.MIN_GROUP_SIZE, lineage: dict[str, str] | None = None,
                    formats: tuple[str, ...] = ("csv", "parquet")) -> dict[str, Any]:
    """Write an audience for activation: consented members only, ids only, plus a manifest.

    The file holds ``person_id`` (the OneID pseudonym) and, when ``contacts`` (``person_id``, ``phone``
    and / or ``email`` from the user's own CRM) is given, ``phone_sha256`` / ``email_sha256`` in the format
    ad platforms match on (:func:`persona_kit.privacy.hash_for_ads`) — never a raw contact. Text cells that a
    spreadsheet would run as formulas are neutralized. ``<name>.manifest.json`` records the definition,
    size, as-of date, the files' SHA-256 and ``lineage`` (e.g. input artifact hashes).

    Raises
    ------
    InputError
        A bad condition, no consent column, or fewer than ``min_group_size`` consented members.
    """
    _check_names({name: definition})
    frame, _ = as_polars(universe, where="universe")
    members = evaluate(frame, {name: definition})
    chosen = frame.filter(members[name])
    consented = privacy.filter_consent(chosen.select(PERSON, consent_col) if consent_col in chosen.columns
                                       else chosen.select(PERSON), consent_col=consent_col)
    privacy.check_export_size(consented.height, min_group_size=min_group_size, name=f"audience {name!r}")
    out = consented.select(PERSON).sort(PERSON)
    if contacts is not None:
        contact, _ = as_polars(contacts, where="contacts")
        check_columns(contact.columns, [PERSON], where="contacts")
        kinds = [k for k in ("phone", "email") if k in contact.columns]
        if not kinds:
            raise InputError(f"contacts need a phone or email column; available: {contact.columns}")
        contact = contact.unique(PERSON, keep="first", maintain_order=True)
        hashed = contact.select(PERSON, *[privacy.hash_for_ads(contact[k], k).alias(f"{k}_sha256") for k in kinds])
        out = out.join(hashed, on=PERSON, how="left")
    out = privacy.neutralize_formulas(out)
    folder = Path(out_dir)
    files = {}
    for fmt in formats:
        if fmt not in ("csv", "parquet"):
            raise InputError(f"formats must be among ['csv', 'parquet'], got {fmt!r}")
        path = folder / f"{name}.{fmt}"
        if fmt == "csv":
            write_atomic(path, lambda p: out.write_csv(p))
        else:
            write_parquet(out, path)
        files[path.name] = sha256_file(path)
    manifest = {"audience": name, "definition": definition, "persons": out.height,
                "members_before_consent": chosen.height, "as_of": as_of, "consent_column": consent_col,
                "columns": out.columns, "min_group_size": min_group_size,
                "created": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                "files": files, "lineage": dict(lineage or {})}
    write_json(manifest, folder / f"{name}.manifest.json")
    return manifest


# --- triggers ----------------------------------------------------------------------------------------

def _day(ts: str) -> pl.Expr:
    return pl.col(ts).dt.date().alias("day")


def _window_sums(daily: pl.LazyFrame, keys: list[str], values: list[str], window: int) -> pl.LazyFrame:
    """Sums of ``values`` over the ``window`` days ending on each day (each day's counts spread forward)."""
    return (daily.with_columns(pl.int_ranges(0, window).alias("_k")).explode("_k")
            .with_columns(day=pl.col("day") + pl.duration(days=pl.col("_k")))
            .group_by([*keys, "day"]).agg(pl.col(values).sum()))


def trigger_panel(events: Any = None, orders: Any = None, *, start: Any, end: Any,
                  windows: tuple[int, ...] = (7, 30), category_col: str = "category") -> pl.DataFrame:
    """A daily panel (one row per person and day from ``start`` to ``end``) of the columns triggers read.

    For each window ``w``: ``views_{w}d``, ``carts_{w}d``, ``max_category_views_{w}d`` (views of the most
    viewed category) from events, ``orders_{w}d`` from paid orders; plus ``orders_total`` (orders up to
    that day) and ``days_since_order``. Persons are those with any event or order before ``end``.

    >>> ev = pl.DataFrame({"person_id": ["a"] * 3, "event_type": "view", "category": "skin",
    ...                    "event_ts": [dt.datetime(2026, 6, d) for d in (1, 2, 3)]})
    >>> trigger_panel(ev, start="2026-06-03", end="2026-06-03", windows=(7,)).select("views_7d",
    ...     "max_category_views_7d").rows()
    [(3, 3)]
    """
    given = [f for f in (events, orders) if f is not None]
    if not given:
        raise InputError("trigger_panel needs events or orders")
    back = as_polars(given[0], where="events" if events is not None else "orders")[1]
    first, last = (dt.date.fromisoformat(str(d)) for d in (start, end))
    if last < first:
        raise InputError(f"the backtest ends ({last}) before it starts ({first})")
    parts, persons = [], []
    horizon = pl.col("day").is_between(first, last)
    if events is not None:
        ev, _ = as_polars(events, where="events")
        check_columns(ev.columns, [PERSON, "event_ts", "event_type"], where="events")
        cat = pl.col(category_col).fill_null("") if category_col in ev.columns else pl.lit("")
        daily = (ev.lazy().filter(pl.col("event_type").is_in(["view", "cart"]))
                 .with_columns(_day("event_ts"), cat.alias("_cat"))
                 .filter(pl.col("day") <= last)
                 .group_by(PERSON, "_cat", "day").agg(views=(pl.col("event_type") == "view").sum(),
                                                      carts=(pl.col("event_type") == "cart").sum()))
        persons.append(ev.lazy().select(PERSON))
        for w in windows:
            by_cat = _window_sums(daily, [PERSON, "_cat"], ["views", "carts"], w).filter(horizon)
            parts.append(by_cat.group_by(PERSON, "day").agg(
                pl.col("views").sum().alias(f"views_{w}d"), pl.col("carts").sum().alias(f"carts_{w}d"),
                pl.col("views").max().alias(f"max_category_views_{w}d")))
    order_days = None
    if orders is not None:
        od, _ = as_polars(orders, where="orders")
        check_columns(od.columns, [PERSON, "order_ts"], where="orders")
        kept = od.lazy().filter(pl.col("status") == "paid") if "status" in od.columns else od.lazy()
        key = "order_id" if "order_id" in od.columns else "order_ts"
        order_days = (kept.with_columns(_day("order_ts")).filter(pl.col("day") <= last)
                      .group_by(PERSON, "day").agg(orders=pl.col(key).n_unique()))
        persons.append(od.lazy().select(PERSON))
        for w in windows:
            parts.append(_window_sums(order_days, [PERSON], ["orders"], w).filter(horizon)
                         .rename({"orders": f"orders_{w}d"}))
    days = pl.LazyFrame({"day": pl.date_range(first, last, eager=True)})
    grid = pl.concat(persons).unique().join(days, how="cross")
    for part in parts:
        grid = grid.join(part, on=[PERSON, "day"], how="left")
    grid = grid.with_columns(pl.exclude(PERSON, "day").fill_null(0))
    if order_days is not None:
        history = (order_days.sort("day").with_columns(orders_total=pl.col("orders").cum_sum().over(PERSON),
                                                       last_order=pl.col("day")).drop("orders"))
        grid = (grid.sort("day").join_asof(history.sort("day"), on="day", by=PERSON, strategy="backward",
                                          check_sortedness=False)
                .with_columns(orders_total=pl.col("orders_total").fill_null(0).cast(pl.Int64),
                              days_since_order=(pl.col("day") - pl.col("last_order")).dt.total_days())
                .drop("last_order"))
    return back(grid.sort(PERSON, "day").collect())


def backtest_triggers(panel: Any, rules: dict[str, str], *, orders: Any = None, cap_days: int = 7,
                      horizon_days: int = 7) -> dict[str, Any]:
    """Replay trigger rules day by day over a :func:`trigger_panel`.

    A rule *fires* for a person on the day its condition becomes true (true that day, not the day before);
    the panel's first day is the baseline (a condition already true then does not fire), so start the
    panel one day before the period to replay.
    A frequency cap then keeps at most one message per person every ``cap_days`` days across all rules
    (earlier rules in ``rules`` win on the same day). With ``orders``, each fire is followed for
    ``horizon_days`` days: ``converted`` if the person ordered in ``(day, day + horizon_days]``.

    Returns
    -------
    dict with ``fires`` (person, day, rule, sent, converted), ``daily`` (fires and sent per rule and day),
    ``summary`` (per rule: fires, persons, sent after the cap, conversion) and ``overlap`` (persons fired
    by both rules of a pair).
    """
    _check_names(rules)
    panel, back = as_polars(panel, where="panel")
    check_columns(panel.columns, [PERSON, "day"], where="panel")
    if not isinstance(cap_days, int) or cap_days < 0:
        raise InputError(f"cap_days must be a whole number of days ≥ 0, got {cap_days!r}")
    hits = evaluate(panel, rules).with_columns(panel["day"])
    frames = []
    for i, rule in enumerate(rules):
        became = pl.col(rule) & ~pl.col(rule).shift(1, fill_value=True).over(PERSON, order_by="day")
        frames.append(hits.filter(became).select(PERSON, "day", pl.lit(rule).alias("rule"),
                                                 pl.lit(i).alias("_order")))
    fires = pl.concat(frames).sort(PERSON, "day", "_order")
    sent, last = [], {}
    for person, day in fires.select(PERSON, "day").iter_rows():
        ok = person not in last or (day - last[person]).days >= max(cap_days, 1)
        sent.append(ok)
        if ok:
            last[person] = day
    fires = fires.with_columns(sent=pl.Series(sent, dtype=pl.Boolean)).drop("_order")
    if orders is not None:
        od, _ = as_polars(orders, where="orders")
        kept = od.filter(pl.col("status") == "paid") if "status" in od.columns else od
        buys = kept.select(PERSON, _day("order_ts")).unique().rename({"day": "order_day"})
        later = (fires.select(PERSON, "day").unique().join(buys, on=PERSON)
                 .filter((pl.col("order_day") > pl.col("day"))
                         & (pl.col("order_day") <= pl.col("day") + pl.duration(days=horizon_days)))
                 .select(PERSON, "day").unique().with_columns(converted=pl.lit(True)))
        fires = fires.join(later, on=[PERSON, "day"], how="left").with_columns(pl.col("converted").fill_null(False))
    else:
        fires = fires.with_columns(converted=pl.lit(None, dtype=pl.Boolean))
    daily = fires.group_by("rule", "day").agg(fires=pl.len(), sent=pl.col("sent").sum()).sort("rule", "day")
    summary = (fires.group_by("rule").agg(fires=pl.len(), persons=pl.col(PERSON).n_unique(),
                                          sent=pl.col("sent").sum(), conversion=pl.col("converted").mean())
               .with_columns(capped_share=1 - pl.col("sent") / pl.col("fires")))
    summary = pl.DataFrame({"rule": list(rules)}).join(summary, on="rule", how="left").with_columns(
        pl.col("fires", "persons", "sent").fill_null(0))
    who = {r: set(fires.filter(pl.col("rule") == r)[PERSON].to_list()) for r in rules}
    overlap = pl.DataFrame([{"rule": a, "other": b, "persons": len(who[a] & who[b]),
                             "jaccard": len(who[a] & who[b]) / len(who[a] | who[b]) if who[a] | who[b] else 0.0}
                            for a in rules for b in rules])
    out = {"fires": fires, "daily": daily, "summary": summary, "overlap": overlap}
    return {name: back(frame) for name, frame in out.items()}
