"""The one translation table: complete, consistent, and covering every key the notebooks use."""

import re
import string
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from persona_kit.errors import InputError
from persona_kit.i18n import labels, t, translate_values

ROOT = Path(__file__).parents[1]


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_every_label_is_bilingual_with_the_same_placeholders():
    for key, entry in labels().items():
        assert set(entry) == {"zh", "en"}, key
        assert entry["zh"].strip() and entry["en"].strip(), key
        assert _fields(entry["zh"]) == _fields(entry["en"]), key


def test_every_key_a_notebook_uses_exists():
    used = set()
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        source = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'(?:ctx\.md|ctx\.t|ctx\.headline)\(\\"([a-z0-9_.]+)\\"', source))
        used |= set(re.findall(r'title=\\"([a-z0-9_.]+)\\"', source))
        used |= {f"step.{path.stem}", f"step.{path.stem}.intro"}
    assert used, "no label keys found in notebooks"
    assert sorted(used - set(labels())) == []


def test_a_key_defined_twice_is_refused_with_the_file(tmp_path, monkeypatch):
    import persona_kit.i18n as i18n

    folder = tmp_path / "persona_kit" / "resources" / "labels"
    folder.mkdir(parents=True)
    (folder / "a.yaml").write_text("x.one: {zh: 一, en: one}\n", "utf-8")
    (folder / "b.yaml").write_text("x.one: {zh: 一, en: one}\n", "utf-8")
    monkeypatch.setattr(i18n.resources, "files", lambda _: tmp_path / "persona_kit")
    i18n.labels.cache_clear()
    try:
        with pytest.raises(InputError, match=r"labels/b.yaml: label keys already defined in another file: \['x.one'\]"):
            i18n.labels()
        (folder / "b.yaml").write_text("x.two: {zh: 二, en: two}\nx.two: {zh: 二, en: two}\n", "utf-8")
        i18n.labels.cache_clear()
        with pytest.raises(InputError, match=r"labels/b.yaml: label keys defined twice: \['x.two'\]"):
            i18n.labels()
    finally:
        i18n.labels.cache_clear()


def test_t_fills_placeholders_and_rejects_bad_input():
    assert t("dq.findings.none", "en") == "Nothing needs attention."
    assert "1,234" in t("dq.duplicates.intro", "zh", exact=1234)
    with pytest.raises(InputError, match=r"lang must be one of \['zh', 'en'\], got 'EN'"):
        t("lang.name", "EN")
    with pytest.raises(InputError, match=r"no label 'no.such.key' in persona_kit/resources/labels/"):
        t("no.such.key")


@pytest.mark.parametrize("kind", ["pandas", "polars"])
def test_translate_values_keeps_the_frame_kind_and_unknown_values(kind):
    data = {"reason": ["out_of_range", None, "custom"], "n": [1, 2, 3]}
    frame = pd.DataFrame(data) if kind == "pandas" else pl.DataFrame(data)
    out = translate_values(frame, "reason", "reason", "zh")
    assert type(out) is type(frame)
    assert list(out["reason"])[0] == "数值超出范围" and list(out["reason"])[2] == "custom"
    assert list(out["n"]) == [1, 2, 3]


def test_step_titles_do_not_repeat_the_step_number():
    """The index and each report number the steps themselves; a title is the step's name only."""
    titles = {k: v for k, v in labels().items() if re.fullmatch(r"step\.\d\d_[a-z_]+", k)}
    assert titles and sorted(k for k, v in titles.items() if re.match(r"\s*\d", v["zh"] + v["en"])) == []
