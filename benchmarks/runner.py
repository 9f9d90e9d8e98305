"""Run one benchmark case in a fresh process and measure the whole process.

A case is a function ``case(start, **kwargs) -> dict`` in a benchmark module: it imports what it needs,
calls ``start()`` when the work begins (so imports are left out of ``work_s``), does the work and returns
a small JSON-able dict (rows, a checksum …). :func:`measure` runs it ``repeat`` times, each time in a new
interpreter, and reports the median whole-process wall time, the median CPU time (user + system, less
sensitive to other jobs on a shared machine), the median in-process work time and the largest peak RSS,
read by the child from its own ``VmHWM`` as it ends.

``python -m benchmarks.runner module:function '{"kwarg": 1}'`` is the child side.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).parents[1]


def measure(target: str, *, repeat: int = 3, memory_cap_mb: int | None = None, **kwargs) -> dict:
    """Median whole-process wall / CPU / work seconds and max peak RSS (MB) of ``repeat`` fresh runs.

    ``memory_cap_mb`` runs the child in a memory cgroup of that limit (cgroup v1 ``memory.limit_in_bytes``
    under this process's own cgroup, like ``systemd-run -p MemoryMax``): the kernel reclaims page cache
    and kills the child rather than let it use more. Without a writable memory cgroup the cap falls back
    to the address space (``RLIMIT_AS``, like ``ulimit -v``), which is stricter: it counts reservations
    that are never touched. The result says which cap was used (``cap``).
    """
    runs, cap = [], None
    for _ in range(repeat):
        group = _memory_group(memory_cap_mb) if memory_cap_mb else None
        cap = None if memory_cap_mb is None else ("cgroup" if group else "rlimit_as")
        began = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "benchmarks.runner", target, json.dumps(kwargs)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                                preexec_fn=None if cap is None else _confine(group, memory_cap_mb))
        out, err = proc.communicate()
        wall = time.perf_counter() - began
        if group:
            group_peak = int((group / "memory.max_usage_in_bytes").read_text()) / 2**20
            group.rmdir()
        if proc.returncode != 0:
            raise RuntimeError(f"{target} failed ({proc.returncode}, cap {cap} {memory_cap_mb} MB):\n{err[-3000:]}")
        result = json.loads(out.strip().splitlines()[-1])
        runs.append({**result, "wall_s": wall, **({"group_peak_mb": group_peak} if group else {})})
    summary = {"target": target, "repeat": repeat, "wall_s": statistics.median(r["wall_s"] for r in runs),
               "cpu_s": statistics.median(r["cpu_s"] for r in runs),
               "work_s": statistics.median(r["work_s"] for r in runs),
               "peak_mb": max(r["peak_mb"] for r in runs), "info": runs[0]["info"]}
    if cap:
        summary.update(cap=cap, cap_mb=memory_cap_mb)
    if any("group_peak_mb" in r for r in runs):
        summary["group_peak_mb"] = max(r["group_peak_mb"] for r in runs)  # RSS + page cache charged
    return summary


_CGROUP = Path("/sys/fs/cgroup/memory")


def _memory_group(limit_mb: int) -> Path | None:
    """A fresh child memory cgroup limited to ``limit_mb``, or None when cgroups cannot be written here."""
    group = _CGROUP / f"persona-kit-bench-{os.getpid()}"
    try:
        group.mkdir(exist_ok=True)
        (group / "memory.limit_in_bytes").write_text(str(limit_mb * 2**20))
    except OSError:
        return None
    return group


def _confine(group: Path | None, limit_mb: int):
    def confine() -> None:
        if group is not None:
            (group / "cgroup.procs").write_text(str(os.getpid()))
        else:
            resource.setrlimit(resource.RLIMIT_AS, (limit_mb * 2**20, limit_mb * 2**20))
    return confine


def machine() -> str:
    """One line describing this machine: OS, CPU model, usable cores, RAM, Python."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{platform.platform()}, {cpu}, {len(os.sched_getaffinity(0))} cores, {ram:.0f} GB RAM, "
            f"Python {platform.python_version()}")


def _child() -> None:
    module, function = sys.argv[1].split(":")
    case = getattr(importlib.import_module(module), function)
    mark = [time.perf_counter()]
    info = case(lambda: mark.__setitem__(0, time.perf_counter()), **json.loads(sys.argv[2]))
    work = time.perf_counter() - mark[0]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"work_s": work, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_mb": rss_mb("VmHWM"),
                      "info": info}))


def rss_mb(field: str = "VmRSS") -> float:
    """This process's resident set now (``VmRSS``) or at its peak (``VmHWM``), in MB. Not ``ru_maxrss``: Linux
    carries that over from the parent through fork + exec, so a small case started by a big parent would
    report the parent's peak."""
    line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith(f"{field}:"))
    return int(line.split()[1]) / 1024


if __name__ == "__main__":
    _child()
