"""Tests for persona_kit.widgets: the segment view behind the explorer, and the explorer's widgets."""

import subprocess
import sys

import polars as pl
import pytest

from persona_kit import widgets
from persona_kit.errors import InputError

SEGMENTS = {"person_id": [f"p{i:02d}" for i in range(40)],
            "rfm_segment": ["champions"] * 20 + ["lost"] * 15 + ["new"] * 3 + [None] * 2,
            "lifecycle_stage": ["active"] * 25 + ["churned"] * 15,
            "monetary": [100.0] * 20 + [10.0] * 15 + [5.0] * 3 + [None] * 2}
TAGS = {"person_id": [f"p{i:02d}" for i in range(40)], "gender": ["female", "male"] * 20,
        "as_of": ["2026-06-30"] * 40}


def test_segment_view_sizes_profile_labels_and_suppression(frame):
    view = widgets.segment_view(frame(SEGMENTS), "rfm_segment", lang="en")
    assert view.persons == 40
    assert view.table.select("segment", "persons", "monetary").rows() == [("Champions", 20, 100.0), ("Lost", 15, 10.0)]
    assert view.table["share"].to_list() == [0.5, 0.375]  # of all persons; "new" (3) is suppressed
    spec = view.chart.to_dict()
    assert [r["segment"] for r in spec["data"]["values"]] == ["Champions", "Lost"]
    money = widgets.segment_view(frame(SEGMENTS), "rfm_segment", value="monetary", profile=[], title="sg.rfm.chart")
    assert money.table["revenue_share"].to_list() == [2000 / 2165, 150 / 2165]
    assert money.chart.to_dict()["title"] == "各 RFM 分群人数"
    zh = widgets.segment_view(frame(SEGMENTS), "lifecycle_stage", profile=[], lang="zh")
    assert zh.table.columns == ["segment", "persons", "share"] and zh.table["segment"].to_list() == ["活跃", "流失"]


def test_segment_view_filters_by_tags_and_takes_display_names(frame):
    view = widgets.segment_view(frame(SEGMENTS), "rfm_segment", tags=frame(TAGS), filters={"gender": ["female"]},
                                names={"champions": "VIP"}, lang="en", min_group_size=5)
    assert view.persons == 20
    assert view.table.select("segment", "persons").rows() == [("VIP", 10), ("Lost", 8)]  # even rows 20, 22 … 34


def test_segment_view_bad_input(frame):
    with pytest.raises(InputError, match=r"^segments: missing columns \['rfm_clas'\]"):
        widgets.segment_view(frame(SEGMENTS), "rfm_clas")
    with pytest.raises(InputError, match=r"^filters need the tags frame"):
        widgets.segment_view(frame(SEGMENTS), "rfm_segment", filters={"gender": ["female"]})
    with pytest.raises(InputError, match=r"^tags: missing columns \['age'\]"):
        widgets.segment_view(frame(SEGMENTS), "rfm_segment", tags=frame(TAGS), filters={"age": ["30"]})


def test_segment_explorer_widgets_react():
    pytest.importorskip("ipywidgets")
    box = widgets.segment_explorer(pl.DataFrame(SEGMENTS), tags=pl.DataFrame(TAGS), lang="en")
    controls = box.children[0].children
    scheme, tag, values = controls
    assert [v for _, v in scheme.options] == ["rfm_segment", "lifecycle_stage"]
    assert [v for _, v in tag.options] == ["", "gender"]  # as_of is not a tag
    tag.value = "gender"
    assert list(values.options) == ["female", "male"]
    values.value = ("male",)
    scheme.value = "lifecycle_stage"  # refreshes without error
    with pytest.raises(InputError, match=r"^no segment scheme column in segments"):
        widgets.segment_explorer(pl.DataFrame({"person_id": ["a"]}))


def test_importing_widgets_does_not_need_ipywidgets_or_a_kernel():
    code = "import sys, persona_kit.widgets; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
