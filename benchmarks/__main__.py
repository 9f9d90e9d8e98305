"""Time loading + validating sources (step 01's engine) on UCI Online Retail and the committed sample.

Run with ``make bench`` (or ``python -m benchmarks --repeat 5``). Each case runs in a fresh process so peak
memory (max RSS) is the case's own; the median wall time of ``--repeat`` runs is reported.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]
CASES = {
    "load_sources: UCI Online Retail (541,909 lines)": ("notebooks/params/maps/online_retail", "Europe/London"),
    "load_sources: synthetic sample (data/sample)": ("data/sample/maps", "Asia/Shanghai"),
}
_CHILD = """
import json, resource, sys, time
from persona_kit.schema import load_sources
began = time.perf_counter()
loaded = load_sources(sys.argv[1], timezone=sys.argv[2])
rows = int(loaded.accounting["rows_in"].sum())
print(json.dumps({"seconds": time.perf_counter() - began, "rows": rows,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (median reported)")
    args = parser.parse_args()
    print(f"machine: {platform.platform()}, python {platform.python_version()}, {_cores()} cores")
    print(f"{'case':<50} {'rows':>10} {'median s':>9} {'rows/s':>11} {'peak MB':>8}")
    for name, (maps, timezone) in CASES.items():
        if not (ROOT / maps).is_dir():
            print(f"{name:<50} skipped: {maps} not found")
            continue
        runs = [json.loads(subprocess.run([sys.executable, "-c", _CHILD, str(ROOT / maps), timezone],
                                          capture_output=True, text=True, check=True, cwd=ROOT).stdout)
                for _ in range(args.repeat)]
        seconds = statistics.median(r["seconds"] for r in runs)
        print(f"{name:<50} {runs[0]['rows']:>10,} {seconds:>9.2f} {runs[0]['rows'] / seconds:>11,.0f} "
              f"{max(r['max_rss_mb'] for r in runs):>8.0f}")
    return 0


def _cores() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    raise SystemExit(main())
