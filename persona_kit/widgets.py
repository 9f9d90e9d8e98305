"""ipywidgets explorers for JupyterLab, with the function behind them for static reports.

:func:`segment_view` does the work — pick a segment scheme, keep the persons whose tags match the filters,
and return each segment's size, share and profile (means of the chosen columns) plus a chart;
:func:`segment_explorer` wires it to widgets (a scheme dropdown, a tag and its values, an output area that
updates). An exported HTML report cannot run widgets (their manager loads from a CDN and nothing is
interactive), so a notebook shows :func:`segment_view` for every scheme instead — the static equivalent.
``ipywidgets`` is imported only when an explorer is built, so this module imports without a kernel.

Examples
--------
>>> import polars as pl
>>> seg = pl.DataFrame({"person_id": [str(i) for i in range(30)], "rfm_class": ["important_value"] * 12
...                     + ["general_winback"] * 18, "monetary": [100.0] * 12 + [10.0] * 18})
>>> view = segment_view(seg, "rfm_class", lang="en")
>>> view.table.select("segment", "persons", "monetary").rows()
[('General win-back', 18, 10.0), ('Important value', 12, 100.0)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from persona_kit.errors import InputError, check_choice, check_columns
from persona_kit.frames import as_polars
from persona_kit.i18n import label_or
from persona_kit.privacy import MIN_GROUP_SIZE, suppress_small_groups
from persona_kit.segments import SCHEME_LABELS

__all__ = ["SegmentView", "segment_view", "segment_explorer"]

_PROFILE = ("recency_days", "frequency", "monetary")


@dataclass(frozen=True)
class SegmentView:
    """What the explorer shows for one scheme: a table (segment, persons, share, profile means) and a chart."""

    scheme: str
    persons: int
    table: pl.DataFrame
    chart: Any


def segment_view(segments: Any, scheme: str, *, tags: Any = None, filters: Mapping[str, Sequence[str]] | None = None,
                 profile: Sequence[str] | None = None, names: Mapping[str, str] | None = None, value: str | None = None,
                 lang: str = "zh", title: str | None = None, person_col: str = "person_id",
                 min_group_size: int = MIN_GROUP_SIZE) -> SegmentView:
    """Sizes and profiles of the segments of ``scheme`` among the persons whose tags pass ``filters``.

    Parameters
    ----------
    segments : pandas or polars DataFrame
        One row per person with the scheme column (e.g. step 05's ``segments``, joined with ``personas``).
    scheme : str
        The segment column: ``rfm_segment``, ``rfm_class``, ``lifecycle_stage``, ``aipl_stage``, ``persona``…
    tags : DataFrame, optional
        Wide tags (``person_id`` + one column per tag, step 04's ``wide.parquet``), for ``filters``.
    filters : mapping, optional
        ``{tag: [values]}``: keep persons whose tag is one of the values (all filters must hold).
    profile : sequence of str, optional
        Numeric columns of ``segments`` to average per segment (default: R, F, M when present).
    names : mapping, optional
        Segment code → display name (default: the labels ``segment.<scheme>.<code>``).
    value : str, optional
        A money column (e.g. ``monetary``): adds ``revenue_share``, each segment's share of its total.
    title : str, optional
        Label key of the chart title.

    Returns
    -------
    SegmentView
        ``table``: ``segment`` (translated), ``persons``, ``share`` (of the filtered persons), the profile
        means; persons without a segment are left out; segments under ``min_group_size`` are suppressed.
    """
    from persona_kit import charts

    check_choice("lang", lang, ["zh", "en"])
    frame, _ = as_polars(segments, where="segments")
    check_columns(frame.columns, [person_col, scheme], where="segments")
    if filters:
        if tags is None:
            raise InputError("filters need the tags frame (wide tags: person_id + one column per tag)")
        tag_frame, _ = as_polars(tags, where="tags")
        check_columns(tag_frame.columns, [person_col, *filters], where="tags")
        keep = tag_frame.filter(*(pl.col(t).cast(pl.String).is_in([str(v) for v in vals])
                                  for t, vals in filters.items()))
        frame = frame.join(keep.select(person_col), on=person_col, how="semi")
    cols = [c for c in (profile if profile is not None else _PROFILE) if c in frame.columns]
    known = frame.filter(pl.col(scheme).is_not_null())
    if value is not None:
        check_columns(frame.columns, [value], where="segments")
    money = [(pl.col(value).sum() / known[value].sum()).alias("revenue_share")] if value is not None else []
    table = (known.group_by(scheme).agg(pl.len().alias("persons"), *(pl.col(c).mean() for c in cols), *money)
             .sort(["persons", scheme], descending=[True, False])
             .with_columns(share=pl.col("persons") / max(frame.height, 1)))
    prefix = SCHEME_LABELS.get(scheme, f"segment.{scheme}")
    display = {str(c): (names or {}).get(str(c)) or label_or(f"{prefix}.{c}", lang, str(c))
               for c in table[scheme].to_list()}
    table = (table.with_columns(segment=pl.col(scheme).cast(pl.String).replace_strict(display))
             .select("segment", "persons", "share", *(["revenue_share"] if money else []), *cols))
    table = suppress_small_groups(table, count_col="persons", min_group_size=min_group_size,
                                  columns=[c for c in table.columns if c != "segment"])
    shown = table.filter(~pl.col("suppressed")).drop("suppressed")
    chart = (charts.chart_bar(shown, x="segment", y="persons", horizontal=True, lang=lang, title=title)
             if shown.height else None)
    return SegmentView(scheme=scheme, persons=frame.height, table=shown, chart=chart)


def segment_explorer(segments: Any, *, tags: Any = None, schemes: Sequence[str] | None = None,
                     profile: Sequence[str] | None = None, names: Mapping[str, Mapping[str, str]] | None = None,
                     tag_names: Mapping[str, str] | None = None, lang: str = "zh", max_values: int = 30) -> Any:
    """An ipywidgets explorer: pick a scheme, filter by one tag's values, see sizes, profile and a chart.

    ``names`` maps a scheme to its code → display names (e.g. the persona names of step 06); ``tag_names``
    maps a tag id to its name (e.g. from the tag catalog). Returns the widget (an ``ipywidgets.VBox``);
    display it in JupyterLab.
    """
    import ipywidgets as w
    from IPython.display import display

    from persona_kit.charts import table as html_table

    frame, _ = as_polars(segments, where="segments")
    schemes = [s for s in (schemes or [*SCHEME_LABELS, "persona"]) if s in frame.columns]
    if not schemes:
        raise InputError(f"no segment scheme column in segments; available: {frame.columns}")
    tag_frame = as_polars(tags, where="tags")[0] if tags is not None else None
    tag_ids = [c for c in (tag_frame.columns if tag_frame is not None else []) if c not in ("person_id", "as_of")]
    scheme_box = w.Dropdown(options=[(label_or(f"segment.scheme.{s}", lang, s), s) for s in schemes],
                            description=label_or("col.segment", lang, "segment"))
    tag_box = w.Dropdown(options=[("—", "")] + [((tag_names or {}).get(t, t), t) for t in tag_ids],
                         description="tag")
    value_box = w.SelectMultiple(options=[], rows=6, description="=")
    out = w.Output()

    def refresh(*_: Any) -> None:
        filters = {tag_box.value: list(value_box.value)} if tag_box.value and value_box.value else None
        view = segment_view(frame, scheme_box.value, tags=tag_frame, filters=filters, profile=profile,
                            names=(names or {}).get(scheme_box.value), lang=lang)
        out.clear_output(wait=True)
        with out:
            display(html_table(view.table, lang=lang, max_rows=len(view.table) or 1))
            if view.chart is not None:
                display(view.chart)

    def on_tag(*_: Any) -> None:
        values = (tag_frame[tag_box.value].drop_nulls().cast(pl.String).value_counts(sort=True)
                  .head(max_values)[tag_box.value].to_list() if tag_box.value else [])
        value_box.options = values
        refresh()

    scheme_box.observe(refresh, names="value")
    tag_box.observe(on_tag, names="value")
    value_box.observe(refresh, names="value")
    refresh()
    return w.VBox([w.HBox([scheme_box, tag_box, value_box]), out])


# --- person 360 viewer (PII masked) ------------------------------------------------------------------

_PERSON_FEATURES = ("spend_365d", "orders_365d", "aov_365d", "days_since_last_purchase", "purchase_interval_days",
                    "views_30d", "active_days_30d", "top_category", "preferred_channel", "price_band",
                    "member_level", "gender", "age", "city", "consent_marketing")
_EVENT_COLUMNS = ("event_ts", "event_type", "category", "channel")


def _as_text(value: Any) -> str | None:
    """One cell of a person's card as text: thousands separators, at most 2 decimals, ISO dates."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if hasattr(value, "isoformat"):
        return value.isoformat(sep=" ", timespec="minutes") if hasattr(value, "hour") else value.isoformat()
    return str(value)


@dataclass(frozen=True)
class PersonView:
    """One person's card: key features, the latest tags (with the previous snapshot's value where it changed)
    and the latest events; every frame is polars with PII masked."""

    person_id: str
    features: pl.DataFrame
    tags: pl.DataFrame
    events: pl.DataFrame | None


def person_view(person_id: str, *, features: Any, tags_history: Any, catalog: Any = None, events: Any = None,
                show: Sequence[str] | None = None, lang: str = "zh", recent: int = 10) -> PersonView:
    """The person-360 card behind :func:`person_viewer`, built on :func:`persona_kit.tags.person_360`.

    Parameters
    ----------
    person_id : str
        The OneID ``person_id`` (step 03).
    features, tags_history, catalog, events
        As for :func:`persona_kit.tags.person_360` (``catalog`` defaults to the shipped one).
    show : sequence of str, optional
        Feature columns on the card (default: spend, orders, recency, activity, preferences, profile).
    recent : int
        How many of the latest events to show.

    Returns
    -------
    PersonView
        ``features``: ``feature`` (translated name), ``value`` (text, "—" when missing); ``tags``:
        ``group`` (the tag's category), ``tag_id`` (the tag's name in ``lang``), ``tag_value``, ``before``
        (the value at the previous snapshot when it differs, else null); ``events``: time, type, category,
        channel.

    Raises
    ------
    InputError
        If the person is unknown (from :func:`~persona_kit.tags.person_360`) or ``lang`` is not zh / en.

    Examples
    --------
    >>> import datetime as dt
    >>> feats = pl.DataFrame({"person_id": ["p1"], "spend_365d": [1234.5], "phone": ["13912345678"]})
    >>> hist = pl.DataFrame({"person_id": ["p1", "p1"], "tag_id": ["active_30d"] * 2, "value": ["false", "true"],
    ...                      "as_of": [dt.date(2026, 3, 31), dt.date(2026, 6, 30)]})
    >>> card = person_view("p1", features=feats, tags_history=hist, show=["spend_365d", "phone"], lang="en")
    >>> card.features["value"].to_list()[0], "13912345678" in str(card.features.rows())
    ('1,234.5', False)
    >>> card.tags.select("tag_value", "before").rows()
    [('true', 'false')]
    """
    from persona_kit.tags import load_catalog, person_360

    check_choice("lang", lang, ["zh", "en"])
    catalog = catalog if catalog is not None else load_catalog()
    card = person_360(person_id, features=features, tags_history=tags_history, catalog=catalog, events=events,
                      recent=recent)
    feats = as_polars(card["features"], where="features")[0]
    row = feats.row(0, named=True) if feats.height else {}
    cols = [c for c in (show if show is not None else _PERSON_FEATURES) if c in feats.columns]
    feature_table = pl.DataFrame({"feature": [label_or(f"col.{c}", lang, c) for c in cols],
                                  "value": [_as_text(row[c]) or "—" for c in cols]},
                                 schema={"feature": pl.String, "value": pl.String})
    latest = as_polars(card["tags"], where="tags")[0]
    history = as_polars(card["history"], where="history")[0]
    dates = sorted(history["as_of"].unique().to_list())
    before = (history.filter(pl.col("as_of") == dates[-2]).select("tag_id", before=pl.col("value"))
              if len(dates) > 1 else pl.DataFrame(schema={"tag_id": pl.String, "before": pl.String}))
    groups = {c["id"]: c["name"][lang] for c in catalog.categories}
    tag_table = (latest.join(before, on="tag_id", how="left")
                 .select(group=pl.col("category").replace_strict(groups, default=pl.col("category")),
                         tag_id=pl.coalesce(f"name_{lang}", "tag_id"), tag_value=pl.col("value"),
                         before=pl.when(pl.col("before") != pl.col("value")).then(pl.col("before"))))
    recent_events = None
    if card["events"] is not None:
        ev = as_polars(card["events"], where="events")[0]
        recent_events = ev.select([pl.col(c).map_elements(_as_text, return_dtype=pl.String)
                                   if ev.schema[c] != pl.String else pl.col(c)
                                   for c in _EVENT_COLUMNS if c in ev.columns])
    return PersonView(person_id=card["person_id"], features=feature_table, tags=tag_table, events=recent_events)


def _error_html(message: str) -> Any:
    """An inline error line for a widget's output area (never a traceback)."""
    import html

    from IPython.display import HTML

    return HTML(f'<div class="pk-widget-error" style="color:#b00020;font-size:13px;padding:4px 0">'
                f"⚠ {html.escape(message)}</div>")


def _show(out: Any, items: Sequence[Any]) -> None:
    """Replace an ``Output`` widget's content with ``items`` in one update (no flicker; works without a
    kernel too, so the widgets' reactions are unit-testable)."""
    from IPython.core.interactiveshell import InteractiveShell

    fmt = InteractiveShell.instance().display_formatter.format
    shown = []
    for item in items:
        data, metadata = fmt(item)
        shown.append({"output_type": "display_data", "data": data, "metadata": metadata})
    out.outputs = tuple(shown)


def person_viewer(features: Any, tags_history: Any, *, catalog: Any = None, events: Any = None,
                  show: Sequence[str] | None = None, lang: str = "zh", max_options: int = 500) -> Any:
    """An ipywidgets person-360 viewer: type or pick a ``person_id``, see its card (PII masked).

    The id box suggests the first ``max_options`` persons and accepts any other id; an unknown id shows a
    one-line message in place of the card. Returns the widget (an ``ipywidgets.VBox``).
    """
    import ipywidgets as w

    from persona_kit.charts import table as html_table
    from persona_kit.tags import load_catalog

    check_choice("lang", lang, ["zh", "en"])
    feats, _ = as_polars(features, where="features")
    check_columns(feats.columns, ["person_id"], where="features")
    ids = feats["person_id"].cast(pl.String).head(max_options).to_list()
    if not ids:
        raise InputError("features has no persons to show")
    catalog = catalog if catalog is not None else load_catalog()
    box = w.Combobox(value=ids[0], options=ids, ensure_option=False, continuous_update=False,
                     description=label_or("col.person_id", lang, "person_id"))
    out = w.Output()

    def refresh(*_: Any) -> None:
        try:
            card = person_view(box.value.strip(), features=feats, tags_history=tags_history, catalog=catalog,
                               events=events, show=show, lang=lang)
        except InputError as err:
            _show(out, [_error_html(str(err))])
            return
        from IPython.display import HTML

        def cell(frame: pl.DataFrame) -> str:
            return html_table(frame, lang=lang, max_rows=max(frame.height, 1)).data

        left = cell(card.features) + (cell(card.events) if card.events is not None else "")
        _show(out, [HTML('<div style="display:flex;flex-wrap:wrap;gap:8px 32px;align-items:flex-start">'
                         f"<div>{left}</div><div>{cell(card.tags)}</div></div>")])

    box.observe(refresh, names="value")
    refresh()
    return w.VBox([box, out])


# --- audience builder --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AudienceView:
    """What the audience builder shows for one expression: its size and its overlap with other audiences.

    ``sizes``: ``audience``, ``persons``, ``share`` (of the universe), ``exportable`` (consented) for the
    new audience first, then the others; ``overlap``: ``other_audience``, ``persons`` in both, ``jaccard``,
    ``share`` (of the new audience also in the other). Figures of groups under the minimum group size are
    blanked and their ``too_small`` flag set.
    """

    name: str
    expression: str
    persons: int
    too_small: bool
    sizes: pl.DataFrame
    overlap: pl.DataFrame
    chart: Any


def audience_view(universe: Any, expression: str, *, others: Mapping[str, str] | None = None,
                  name: str = "new_audience", consent_col: str = "consent_marketing", lang: str = "zh",
                  min_group_size: int = MIN_GROUP_SIZE) -> AudienceView:
    """Size of the audience ``expression`` selects and its overlap with ``others`` (the builder's pure part).

    Parameters
    ----------
    universe : pandas or polars DataFrame
        One row per person (:func:`persona_kit.audience.build_universe`).
    expression : str
        A condition in the grammar of :mod:`persona_kit.tags.expressions`.
    others : mapping, optional
        Existing audiences ``{name: condition}`` to compare with (e.g. step 09's definitions).
    name : str
        The new audience's name (lower-case letters, digits, ``_``).
    consent_col : str
        Boolean consent column; when present, ``exportable`` counts the consented members.

    Raises
    ------
    InputError
        An empty or bad expression (naming the token or unknown column and its position), or a bad name.

    Examples
    --------
    >>> u = pl.DataFrame({"person_id": [str(i) for i in range(40)], "spend_365d": [float(i) for i in range(40)]})
    >>> view = audience_view(u, "spend_365d >= 20", others={"top": "spend_365d >= 30"}, lang="en")
    >>> view.persons, view.overlap.select("other_audience", "persons", "jaccard").rows()
    (20, [('top', 10, 0.5)])
    """
    from persona_kit import audience, charts

    check_choice("lang", lang, ["zh", "en"])
    if not isinstance(expression, str) or not expression.strip():
        raise InputError("the audience expression is empty; e.g. spend_365d >= 500 and consent_marketing")
    others = dict(others or {})
    if name in others:
        raise InputError(f"audience name {name!r} is already one of the audiences to compare with")
    frame, _ = as_polars(universe, where="universe")
    members = audience.evaluate(frame, {name: expression.strip(), **others})
    consent = frame[consent_col] if consent_col in frame.columns else None
    size = audience.sizes(members, consent=consent, min_group_size=min_group_size)
    size = (suppress_small_groups(size.drop("too_small"), min_group_size=min_group_size,
                                  columns=["persons", "share", "exportable"]).rename({"suppressed": "too_small"}))
    persons = int(members[name].sum())
    pairs = audience.overlaps(members).filter((pl.col("audience") == name) & (pl.col("other") != name))
    overlap = (pairs.select(other_audience="other", persons="persons", jaccard="jaccard",
                            share=pl.col("persons") / max(persons, 1)))
    overlap = suppress_small_groups(overlap, min_group_size=min_group_size,
                                    columns=["persons", "jaccard", "share"]).rename({"suppressed": "too_small"})
    shown = size.filter(pl.col("persons").is_not_null())
    chart = (charts.chart_bar(shown, x="audience", y="persons", horizontal=True, lang=lang)
             if shown.height else None)
    return AudienceView(name=name, expression=expression.strip(), persons=persons,
                        too_small=persons < min_group_size, sizes=size, overlap=overlap, chart=chart)


def audience_builder(universe: Any, *, others: Mapping[str, str] | None = None, expression: str = "",
                     consent_col: str = "consent_marketing", lang: str = "zh",
                     min_group_size: int = MIN_GROUP_SIZE) -> Any:
    """An ipywidgets audience builder: type a condition, see its size and overlap update as you type.

    A name box and an expression box over ``universe``; every edit re-evaluates (measured: about 20 ms
    for the sample's 5,007 persons and two other audiences). A bad expression shows the one-line reason
    (bad token, unknown column with a suggestion) in place of the results, never a traceback. Returns the
    widget (an ``ipywidgets.VBox``).
    """
    import ipywidgets as w

    from persona_kit.charts import table as html_table

    check_choice("lang", lang, ["zh", "en"])
    frame, _ = as_polars(universe, where="universe")
    check_columns(frame.columns, ["person_id"], where="universe")
    name_box = w.Text(value="new_audience", description=label_or("col.audience", lang, "audience"),
                      continuous_update=False)
    text_box = w.Text(value=expression, description=label_or("col.definition", lang, "definition"),
                      placeholder="spend_365d >= 500 and consent_marketing", continuous_update=True,
                      layout=w.Layout(width="70%"))
    out = w.Output()

    def refresh(*_: Any) -> None:
        if not text_box.value.strip():
            _show(out, [])
            return
        try:
            view = audience_view(frame, text_box.value, others=others, name=name_box.value.strip(),
                                 consent_col=consent_col, lang=lang, min_group_size=min_group_size)
        except InputError as err:
            _show(out, [_error_html(str(err))])
            return
        def shown(frame: pl.DataFrame) -> Any:  # the too_small column only when some group is too small
            frame = frame if frame["too_small"].any() else frame.drop("too_small")
            return html_table(frame, lang=lang, max_rows=max(frame.height, 1))

        items = [shown(view.sizes)] + ([shown(view.overlap)] if view.overlap.height else [])
        _show(out, items + ([view.chart] if view.chart is not None else []))

    name_box.observe(refresh, names="value")
    text_box.observe(refresh, names="value")
    refresh()
    return w.VBox([w.HBox([name_box, text_box]), out])


__all__ += ["PersonView", "person_view", "person_viewer", "AudienceView", "audience_view", "audience_builder"]
