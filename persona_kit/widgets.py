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
                     lang: str = "zh", max_values: int = 30) -> Any:
    """An ipywidgets explorer: pick a scheme, filter by one tag's values, see sizes, profile and a chart.

    ``names`` maps a scheme to its code → display names (e.g. the persona names of step 06). Returns the
    widget (an ``ipywidgets.VBox``); display it in JupyterLab.
    """
    import ipywidgets as w
    from IPython.display import display

    from persona_kit.charts import table as html_table

    frame, _ = as_polars(segments, where="segments")
    schemes = [s for s in (schemes or [*SCHEME_LABELS, "persona"]) if s in frame.columns]
    if not schemes:
        raise InputError(f"no segment scheme column in segments; available: {frame.columns}")
    tag_frame = as_polars(tags, where="tags")[0] if tags is not None else None
    tag_names = [c for c in (tag_frame.columns if tag_frame is not None else []) if c not in ("person_id", "as_of")]
    scheme_box = w.Dropdown(options=[(label_or(f"segment.scheme.{s}", lang, s), s) for s in schemes],
                            description=label_or("col.segment", lang, "segment"))
    tag_box = w.Dropdown(options=[("—", "")] + [(label_or(f"tag.{t}", lang, t), t) for t in tag_names],
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
