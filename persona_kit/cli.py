"""The ``persona-kit`` command: ``run`` the report pipeline, ``generate`` a synthetic sample,
``validate`` a folder of column maps.

Bad input ends with one line on stderr (``persona-kit: error: ...``) and exit code 2; a run whose step
failed exits 1.

Examples
--------
>>> main(["validate", "--sources", "no/such/folder"])
2
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from persona_kit.errors import InputError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="persona-kit", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the step notebooks and write reports/<run>/")
    run.add_argument("--params", help="params YAML file (e.g. notebooks/params/sample.yaml)")
    run.add_argument("--steps", help="comma-separated steps to run, by number or name (default: all)")
    run.add_argument("--run", dest="run_name", help="run name (default: `run` in the params file)")
    run.add_argument("--lang", choices=["zh", "en"], help="report language (overrides the params file)")
    run.add_argument("--show-code", action="store_true", help="show code cells in the HTML reports")
    run.add_argument("--spark", metavar="MASTER",
                     help="run the steps that can on Spark (04 features and tags, 05 RFM / lifecycle / AIPL): a master URL "
                          "such as local[*] or spark://host:7077 (needs the [spark] extra and Java)")
    run.add_argument("--quiet", action="store_true", help="no progress bar")

    generate = commands.add_parser("generate", help="write a deterministic synthetic sample")
    generate.add_argument("--people", type=int, default=5000, help="number of real persons")
    generate.add_argument("--seed", type=int, default=7, help="random seed")
    generate.add_argument("--out", required=True, help="output folder")

    validate = commands.add_parser("validate", help="load and validate every source of a column-map folder")
    validate.add_argument("--sources", required=True, help="folder of column maps (*.yaml)")
    validate.add_argument("--timezone", default="Asia/Shanghai", help="zone of the output timestamps")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "generate":
            return _generate(args)
        return _validate(args)
    except InputError as err:
        sys.stderr.write(f"persona-kit: error: {err}\n")
        return 2


def _run(args: argparse.Namespace) -> int:
    from persona_kit.pipeline import run

    overrides = {k: v for k, v in {"lang": args.lang, "show_code": args.show_code or None,
                                   "spark_master": args.spark}.items() if v}
    record = run(args.params, params=overrides, only=args.steps.split(",") if args.steps else None,
                 run_name=args.run_name, progress=not args.quiet)
    for step in record["steps"]:
        line = f"{step['status']:>7}  {step['step']}  {step['duration_s'] or 0:.1f}s"
        sys.stderr.write(line + (f"  {step['error']}" if step["error"] else "") + "\n")
    sys.stderr.write(f"reports/{record['run']}/index.html ({record['status']}, {record['duration_s']:.1f}s)\n")
    return 0 if record["status"] == "ok" else 1


def _generate(args: argparse.Namespace) -> int:
    from persona_kit.synth import generate

    summary = generate(args.out, people=args.people, seed=args.seed)
    sys.stderr.write(f"wrote {args.out}: {summary}\n")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from persona_kit.schema import load_sources

    loaded = load_sources(args.sources, timezone=args.timezone)
    sys.stdout.write(str(loaded.accounting) + "\n")
    if loaded.quarantine.height:
        sys.stdout.write(str(loaded.quarantine.group_by("source", "reason").len().sort("source", "reason")) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
