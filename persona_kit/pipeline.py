"""The ordered steps, their notebooks and artifacts; the papermill runner; the context a notebook runs in.

A *step* is a notebook ``notebooks/NN_name.ipynb``; steps run in the order of ``NN``. A *run* is named
in its params file and writes artifacts to ``runs/<run>/<step>/`` and reports to ``reports/<run>/``
(one HTML page per step, ``index.html``, ``run.json``, and the executed notebooks).

A params file is YAML: global parameters (each must be declared by at least one step notebook), plus
optional ``run`` (the run's name), ``show_code`` and per-step overrides under ``steps``::

    run: sample
    lang: zh
    sources: data/sample/maps
    steps:
      01_data_quality: {max_examples: 5}

Examples
--------
>>> [s.name for s in discover_steps("notebooks")][:1]  # doctest: +SKIP
['01_data_quality']
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from persona_kit.errors import InputError, check_choice, did_you_mean
from persona_kit.i18n import LANGS, label_or, t
from persona_kit.io import sha256_file, write_json, write_parquet

__all__ = ["Step", "StepContext", "discover_steps", "find_root", "load_params", "plan_run", "run",
           "start_step"]

log = logging.getLogger(__name__)
_STEP_FILE = re.compile(r"^(\d{2})_([a-z0-9_]+)\.ipynb$")
_RUNNER_KEYS = ("run", "steps", "show_code")
_TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "list": (list,),
          "dict": (dict,)}
PACKAGES = ("persona-kit", "polars", "pandas", "narwhals", "pyarrow", "pandera", "scikit-learn", "scipy",
            "altair", "vl-convert-python", "papermill", "nbconvert", "ipykernel")


def find_root(start: str | Path | None = None) -> Path:
    """Return the project folder: the nearest ancestor of ``start`` (default: cwd) with ``notebooks/``
    and ``pyproject.toml``; ``start`` itself if there is none."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "notebooks").is_dir():
            return folder
    return here


@dataclass(frozen=True)
class Step:
    """One pipeline step: its name (``01_data_quality``), notebook and declared parameters."""

    name: str
    notebook: Path
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)

    def title(self, lang: str = "zh") -> str:
        """The step's translated title (label ``step.<name>``), or its name."""
        return label_or(f"step.{self.name}", lang, self.name)


def discover_steps(notebooks: str | Path) -> list[Step]:
    """List the step notebooks ``NN_name.ipynb`` of a folder in order, with their parameters."""
    import papermill

    folder = Path(notebooks)
    paths = sorted(p for p in folder.glob("*.ipynb") if _STEP_FILE.match(p.name))
    if not paths:
        raise InputError("no step notebooks (NN_name.ipynb) in this folder", file=str(folder))
    return [Step(p.stem, p, papermill.inspect_notebook(str(p))) for p in paths]


def load_params(path: str | Path) -> dict[str, Any]:
    """Read a params YAML file (dates are kept as ISO text)."""
    path = Path(path)
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise InputError(f"cannot read the params file: {str(err).splitlines()[0]}", file=str(path)) from err
    if not isinstance(params, dict):
        raise InputError("a params file must be a YAML mapping of name: value", file=str(path))
    return _iso_dates(params)


def _iso_dates(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _iso_dates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_iso_dates(v) for v in value]
    return value.isoformat() if isinstance(value, dt.date) else value


def _check_value(step: str, name: str, value: Any, declared: dict[str, Any]) -> None:
    expected = declared.get("inferred_type_name", "None")
    allowed = _TYPES.get(expected)
    if allowed and (not isinstance(value, allowed) or (expected != "bool" and isinstance(value, bool))):
        raise InputError(f"parameter {name!r} of step {step} expects {expected}, got "
                         f"{type(value).__name__} {value!r}")


def _unknown(name: str, valid: list[str], where: str) -> InputError:
    near = did_you_mean(name, valid)
    hint = f"did you mean {near!r}? " if near else ""
    return InputError(f"unknown parameter {name!r} {where}; {hint}valid parameters: {sorted(valid)}")


def plan_run(params: dict[str, Any], steps: list[Step], *, only: list[str] | None = None,
             run_name: str | None = None) -> tuple[str, list[tuple[Step, dict[str, Any]]]]:
    """Check ``params`` against the steps' declared parameters and give each selected step its values.

    Returns the run name and ``[(step, parameters), ...]``. Unknown or mistyped parameters raise an
    :class:`InputError` that names the valid ones (papermill itself only warns).
    """
    declared = {name for s in steps for name in s.parameters} - {"run_dir"}
    overrides = params.get("steps") or {}
    if "run_dir" in params or any("run_dir" in (v or {}) for v in overrides.values()):
        raise InputError("run_dir is set by the runner (runs/<run>); set `run:` to name the run instead")
    for name in params:
        if name not in declared and name not in _RUNNER_KEYS:
            raise _unknown(name, sorted(declared) + list(_RUNNER_KEYS), "in the params file")
    by_name = {s.name: s for s in steps}
    for step_name, values in overrides.items():
        if step_name not in by_name:
            raise _unknown(step_name, list(by_name), "under `steps:` (not a step)")
        for name in values or {}:
            if name not in by_name[step_name].parameters:
                raise _unknown(name, sorted(set(by_name[step_name].parameters) - {"run_dir"}),
                               f"for step {step_name}")
    selected = steps
    if only:
        wanted = [w.strip() for w in only if w.strip()]
        selected = [s for s in steps if any(s.name == w or s.name.startswith(f"{w}_") for w in wanted)]
        missing = [w for w in wanted if not any(s.name == w or s.name.startswith(f"{w}_") for s in steps)]
        if missing:
            raise _unknown(missing[0], list(by_name), "in --steps (not a step)")
    name = run_name or str(params.get("run", "default"))
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise InputError(f"run name {name!r} may only hold letters, digits, '_', '-' and '.'")
    plan = []
    for step in selected:
        values = {k: v for k, v in params.items() if k in step.parameters}
        values.update(overrides.get(step.name) or {})
        if "run_dir" in step.parameters:
            values["run_dir"] = f"runs/{name}"
        for key, value in values.items():
            _check_value(step.name, key, value, step.parameters[key])
        plan.append((step, values))
    return name, plan


def _lineage(root: Path, params: dict[str, Any]) -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return {"git_sha": git("rev-parse", "HEAD") or None, "git_dirty": bool(git("status", "--porcelain")),
            "python": platform.python_version(), "platform": platform.platform(), "packages": versions,
            "inputs": _input_files(root, params)}


def _input_files(root: Path, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Hash every input a run reads: the column maps named by ``sources`` and the files they name."""
    from persona_kit.schema import load_maps

    files: set[Path] = set()
    sources = params.get("sources")
    if sources and (root / sources).is_dir():
        for cmap in load_maps(root / sources):
            files.update({cmap.path.resolve(), cmap.file.resolve()})
    return [{"path": _relative(p, root), "sha256": sha256_file(p), "bytes": p.stat().st_size}
            for p in sorted(files) if p.is_file()]


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def run(params_file: str | Path | None = None, *, params: dict[str, Any] | None = None,
        only: list[str] | None = None, run_name: str | None = None, root: str | Path | None = None,
        progress: bool = True) -> dict[str, Any]:
    """Run the selected steps with papermill, export each to HTML and write ``index.html`` + ``run.json``.

    A failing step keeps its executed notebook and HTML, is marked ``failed`` (later steps ``skipped``),
    and the returned record has ``status == "failed"``.

    Returns
    -------
    dict
        The run record saved as ``reports/<run>/run.json``.
    """
    import papermill
    from tqdm.auto import tqdm

    from persona_kit.report import export_html, write_index

    root = find_root(root)
    values = dict(load_params(params_file) if params_file else {})
    values.update(params or {})
    steps = discover_steps(root / "notebooks")
    name, plan = plan_run(values, steps, only=only, run_name=run_name)
    lang = values.get("lang", "zh")
    check_choice("lang", lang, LANGS)
    show_code = bool(values.get("show_code", False))
    report_dir = root / "reports" / name
    (report_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {"run": name, "status": "running", "started": _now(), "finished": None,
                              "duration_s": None, "lang": lang,
                              "params": {k: v for k, v in values.items() if k != "steps"},
                              "steps": [], "lineage": _lineage(root, values)}
    start, failed = time.perf_counter(), False
    bar = tqdm(plan, desc=f"persona-kit {name}", unit="step", disable=not progress, file=sys.stderr)
    for step, step_params in bar:
        bar.set_postfix_str(step.name)
        entry = {"step": step.name, "title": {lang_: step.title(lang_) for lang_ in LANGS},
                 "notebook": _relative(step.notebook, root), "status": "skipped", "duration_s": None,
                 "html": None, "error": None, "params": step_params, "summary": {}}
        record["steps"].append(entry)
        if failed:
            continue
        executed = report_dir / "notebooks" / step.notebook.name
        began = time.perf_counter()
        try:
            papermill.execute_notebook(str(step.notebook), str(executed), parameters=step_params,
                                       kernel_name="python3", cwd=str(root), progress_bar=False,
                                       log_output=False, extra_arguments=["--IPKernelApp.log_level=ERROR"])
            entry["status"] = "ok"
        except papermill.PapermillExecutionError as err:
            entry["status"], failed = "failed", True
            entry["error"] = f"{err.ename}: {str(err.evalue).splitlines()[0] if err.evalue else ''}"
        entry["duration_s"] = round(time.perf_counter() - began, 2)
        entry["summary"] = _summary(root / f"runs/{name}" / step.name)
        if executed.is_file():
            entry["html"] = export_html(executed, report_dir / f"{step.name}.html", lang=lang,
                                        show_code=show_code).name
    bar.close()
    record.update(status="failed" if failed else "ok", finished=_now(),
                  duration_s=round(time.perf_counter() - start, 2))
    write_json(record, report_dir / "run.json")
    write_index(report_dir, record, lang=lang)
    return record


def _summary(step_dir: Path) -> dict[str, Any]:
    path = step_dir / "summary.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


class StepContext:
    """What a step notebook works with: its validated parameters, run folder, language and artifacts.

    Create it with :func:`start_step` in the cell after the parameters cell.
    """

    def __init__(self, step: str, run_dir: Path, lang: str, params: dict[str, Any]) -> None:
        self.step, self.run_dir, self.lang, self.params = step, run_dir, lang, params
        self.root = find_root()
        self.summary: dict[str, Any] = {}
        self._headline: Any = None

    @property
    def step_dir(self) -> Path:
        """This step's artifact folder, ``runs/<run>/<step>/``."""
        return self.run_dir / self.step

    def t(self, key: str, **values: object) -> str:
        """Translate ``key`` into this run's language."""
        return t(key, self.lang, **values)

    def md(self, key: str, **values: object) -> None:
        """Show the translated Markdown text ``key`` (narrative lives in the translation table)."""
        from IPython.display import Markdown, display

        display(Markdown(self.t(key, **values)))

    def path(self, value: str | Path) -> Path:
        """Resolve a parameter path against the project folder."""
        value = Path(value)
        return value if value.is_absolute() else self.root / value

    def save(self, name: str, frame: Any) -> Path:
        """Write an artifact ``<step>/<name>.parquet`` (pandas or polars) atomically."""
        if not isinstance(frame, pl.DataFrame):
            frame = pl.from_pandas(frame) if hasattr(frame, "to_numpy") else pl.DataFrame(frame)
        return write_parquet(frame, self.step_dir / f"{name}.parquet")

    def load(self, step: str, name: str) -> pl.DataFrame:
        """Read the artifact ``<name>`` of an earlier ``step``; say which step to run if it is missing."""
        path = self.run_dir / step / f"{name}.parquet"
        if not path.is_file():
            raise InputError(f"missing artifact {name!r} of step {step}; run it first: "
                             f"persona-kit run --steps {step[:2]} (run folder {self.run_dir})")
        return pl.read_parquet(path)

    def artifacts(self, step: str) -> list[str]:
        """Names of the Parquet artifacts an earlier ``step`` wrote in this run (sorted)."""
        return sorted(p.stem for p in (self.run_dir / step).glob("*.parquet"))

    def headline(self, key: str, **values: object) -> None:
        """Show the translated findings ``key`` at the TOP of the report, under the step's title.

        A step computes its numbers as it goes; its summary can only be written at the end. The title cell
        leaves an empty display there (:func:`start_step`), and this fills it: papermill (nbclient) applies
        the update to that earlier output, so the saved notebook and the HTML report open with the findings.
        Called again, it replaces the text.
        """
        from IPython.display import Markdown

        if self._headline is None:  # not started by start_step (e.g. a test): show it here instead
            self.md(key, **values)
        else:
            self._headline.update(Markdown(self.t(key, **values)))

    def finish(self) -> None:
        """Save the step's key numbers (``summary``) and show the parameters and versions it ran with."""
        from IPython.display import display

        from persona_kit.charts import table

        write_json(self.summary, self.step_dir / "summary.json")
        lineage = _lineage(self.root, {})
        rows = [{"name": k, "value": str(v)} for k, v in self.params.items()]
        rows += [{"name": f"{k} version", "value": v} for k, v in lineage["packages"].items()]
        rows.append({"name": "git", "value": f"{lineage['git_sha'] or '-'}"
                                             f"{' (uncommitted changes)' if lineage['git_dirty'] else ''}"})
        display(table(pl.DataFrame(rows), lang=self.lang, max_rows=len(rows), title="pipeline.lineage"))


def start_step(step: str, *, run_dir: str, lang: str = "zh", **params: Any) -> StepContext:
    """Validate a notebook's parameters, enable offline charts and show the step's title.

    Parameters
    ----------
    step
        The step name, e.g. ``"01_data_quality"``.
    run_dir
        The run folder (``runs/<run>``), relative to the project folder or absolute.
    lang
        ``zh`` or ``en``: the language of every label, title and narrative.
    **params
        The notebook's other parameters, recorded with the step.
    """
    from persona_kit.charts import enable_offline

    check_choice("lang", lang, LANGS)
    if not isinstance(run_dir, str) or not run_dir:
        raise InputError(f"run_dir must be a folder path, got {run_dir!r}")
    root = find_root()
    folder = Path(run_dir) if Path(run_dir).is_absolute() else root / run_dir
    (folder / step).mkdir(parents=True, exist_ok=True)
    enable_offline()
    ctx = StepContext(step, folder, lang, {"run_dir": run_dir, "lang": lang, **params})
    ctx.md(f"step.{step}.intro")
    from IPython.display import Markdown, display

    ctx._headline = display(Markdown(""), display_id=True)  # filled by ctx.headline(...) once numbers exist
    return ctx
