"""Tests for persona_kit.widgets: the segment view behind the explorer, and the explorer's widgets."""

import subprocess
import sys

import polars as pl
import pytest

from persona_kit import widgets
from persona_kit.errors import InputError
from persona_kit.i18n import label_or

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
    box = widgets.segment_explorer(pl.DataFrame(SEGMENTS), tags=pl.DataFrame(TAGS), tag_names={"gender": "Gender"},
                                   lang="en")
    controls = box.children[0].children
    scheme, tag, values = controls
    assert [v for _, v in scheme.options] == ["rfm_segment", "lifecycle_stage"]
    assert list(tag.options) == [("—", ""), ("Gender", "gender")]  # as_of is not a tag
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


# --- person 360 viewer -------------------------------------------------------------------------------

PERSONS = {"person_id": ["p1", "p2"], "spend_365d": [1234.5, 0.0], "orders_365d": [3, 0],
           "phone": ["13912345678", "13800000000"], "email": ["amy@example.com", None], "city": ["上海", "昆明"]}


def _history():
    import datetime as dt

    rows = [("p1", "active_30d", "false", dt.date(2026, 3, 31)), ("p1", "active_30d", "true", dt.date(2026, 6, 30)),
            ("p1", "gender", "female", dt.date(2026, 3, 31)), ("p1", "gender", "female", dt.date(2026, 6, 30)),
            ("p2", "gender", "male", dt.date(2026, 6, 30))]
    return pl.DataFrame(rows, schema=["person_id", "tag_id", "value", "as_of"], orient="row")


def test_person_view_masks_pii_translates_and_marks_changes(frame):
    import datetime as dt

    events = frame({"person_id": ["p1"] * 3 + ["p2"], "event_type": ["view", "cart", "buy", "view"],
                    "event_ts": [dt.datetime(2026, 6, d, 10) for d in (1, 3, 2, 5)], "channel": ["app"] * 4})
    history = _history().to_pandas() if frame.__module__.startswith("pandas") else _history()
    card = widgets.person_view("p1", features=frame(PERSONS), tags_history=history, events=events, lang="en",
                               show=["spend_365d", "orders_365d", "phone", "email", "city"], recent=2)
    assert card.person_id == "p1"
    shown = dict(zip(["spend_365d", "orders_365d", "phone", "email", "city"], card.features["value"], strict=True))
    assert card.features["feature"].to_list() == [label_or(f"col.{c}", "en", c) for c in shown]  # translated
    assert shown["spend_365d"] == "1,234.5" and shown["orders_365d"] == "3" and shown["city"] == "上海"
    assert "13912345678" not in str(shown) and "amy@example.com" not in str(shown) and shown["phone"]
    tags = card.tags.rows(named=True)
    assert [(r["group"], r["tag_id"], r["tag_value"], r["before"]) for r in tags] == [
        ("Basic attributes", "Gender", "female", None), ("Behaviour", "Active in the last 30 days", "true", "false")]
    assert card.events.columns == ["event_ts", "event_type", "channel"]
    assert card.events["event_type"].to_list() == ["cart", "buy"]  # the two latest of p1, newest first
    assert dict(zip(*widgets.person_view("p2", features=frame(PERSONS), tags_history=history,
                                         show=["email"]).features, strict=True)) == {"email": "—"}  # missing
    zh = widgets.person_view("p2", features=frame(PERSONS), tags_history=history, lang="zh", show=["orders_365d"])
    assert zh.tags.rows() == [("基础属性", "性别", "male", None)] and zh.events is None
    with pytest.raises(InputError, match=r"^person 'p9' is in neither the features nor the tag history"):
        widgets.person_view("p9", features=frame(PERSONS), tags_history=history)


def _texts(box) -> str:
    """Everything a widget's output area shows, as text (its outputs are set without a kernel too)."""
    out = box.children[-1]
    return " ".join(str(o["data"].get("text/html", o["data"].get("text/plain", ""))) for o in out.outputs)


def test_person_viewer_updates_and_shows_errors_inline():
    pytest.importorskip("ipywidgets")
    box = widgets.person_viewer(pl.DataFrame(PERSONS), _history(), lang="en")
    person = box.children[0]
    assert list(person.options) == ["p1", "p2"] and person.value == "p1"
    assert "1,234.5" in _texts(box) and "13912345678" not in _texts(box)
    person.value = "p2"
    assert "1,234.5" not in _texts(box) and "male" in _texts(box)
    person.value = "nobody"
    assert "pk-widget-error" in _texts(box) and "is in neither the features nor the tag history" in _texts(box)
    assert all(o["output_type"] == "display_data" for o in box.children[-1].outputs)  # no traceback


# --- audience builder --------------------------------------------------------------------------------

def _universe(n: int = 60) -> dict:
    return {"person_id": [f"u{i:02d}" for i in range(n)], "spend_365d": [float(i * 10) for i in range(n)],
            "rfm_segment": ["champions", "lost", "new"] * (n // 3),
            "consent_marketing": [i % 4 != 0 for i in range(n)]}


def test_audience_view_size_overlap_and_consent_match_a_hand_count(frame):
    data = _universe()
    others = {"champs": "rfm_segment == 'champions'", "tiny": "spend_365d >= 570"}
    view = widgets.audience_view(frame(data), "spend_365d >= 200 and rfm_segment != 'new'", others=others,
                                 name="mine", lang="en")
    rows = list(zip(data["person_id"], data["spend_365d"], data["rfm_segment"], data["consent_marketing"],
                    strict=True))
    mine = {p for p, s, r, _ in rows if s >= 200 and r != "new"}
    champs = {p for p, _, r, _ in rows if r == "champions"}
    consented = {p for p, *_, c in rows if c}
    assert view.persons == len(mine) == 26 and not view.too_small
    first = view.sizes.row(0, named=True)
    assert (first["audience"], first["persons"], first["exportable"]) == ("mine", 26, len(mine & consented))
    assert first["share"] == pytest.approx(26 / 60)
    assert view.sizes["too_small"].to_list() == [False, False, True]
    assert view.sizes.filter(pl.col("audience") == "tiny")["persons"].to_list() == [None]  # 3 persons: suppressed
    champ = view.overlap.filter(pl.col("other_audience") == "champs").row(0, named=True)
    assert champ["persons"] == len(mine & champs) == 13
    assert champ["jaccard"] == pytest.approx(len(mine & champs) / len(mine | champs))
    assert champ["share"] == pytest.approx(13 / 26)
    assert view.overlap.filter(pl.col("other_audience") == "tiny").select("persons", "too_small").row(0) == (None, True)
    assert [r["audience"] for r in view.chart.to_dict()["data"]["values"]] == ["mine", "champs"]


def test_audience_view_bad_input(frame):
    u = frame(_universe())
    with pytest.raises(InputError, match=r"^the audience expression is empty"):
        widgets.audience_view(u, "   ")
    with pytest.raises(InputError, match=r"unknown column 'spend_356d' at position 0.*did you mean 'spend_365d'"):
        widgets.audience_view(u, "spend_356d >= 5")
    with pytest.raises(InputError, match=r"^audience 'new_audience': "):
        widgets.audience_view(u, "spend_365d >=")
    with pytest.raises(InputError, match=r"^audience name 'a' is already one of the audiences"):
        widgets.audience_view(u, "spend_365d > 1", others={"a": "spend_365d > 2"}, name="a")


def test_audience_builder_reacts_to_typing_and_shows_errors_inline():
    pytest.importorskip("ipywidgets")
    box = widgets.audience_builder(pl.DataFrame(_universe()), others={"champs": "rfm_segment == 'champions'"},
                                   lang="en")
    name, text = box.children[0].children
    assert _texts(box) == ""  # nothing typed yet
    text.value = "spend_365d >= 300"
    assert ">30<" in _texts(box) and "champs" in _texts(box) and "Too small" not in _texts(box)
    text.value = "spend_365d >= 500"  # 10 persons, 3 of them champs: that overlap is blanked and flagged
    assert ">10<" in _texts(box) and ">3<" not in _texts(box) and "Too small" in _texts(box)
    text.value = "spend_365d >= 500 and"
    shown = _texts(box)
    assert "pk-widget-error" in shown and "Traceback" not in shown
    text.value = "spend_365d >= 500"
    name.value = "big spenders"
    assert "must be lower-case letters" in _texts(box)
