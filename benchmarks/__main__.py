"""Benchmarks of persona-kit side by side with its floor and with peer libraries, in one run.

``make bench`` (or ``python -m benchmarks``) generates ``--people`` synthetic persons with
``persona-kit generate`` (1M persons ≈ 43M events and 7.7M order lines), builds the whole profile from the raw
files, then times each pair of cases (ours, the peer) on the same inputs. Every case runs in a fresh
process (:func:`benchmarks.runner.measure`); the table gives the median whole-process wall time, CPU time,
in-process work time (imports left out) and peak RSS, and the ratios peer / ours. Families:

- ``load`` — step 01's loader on UCI Online Retail and the committed sample;
- ``profile`` — the full build (load → clean → OneID → features → tags → RFM / AIPL) against one polars
  group-by pass over the same raw events, and our event features against the same aggregation in pandas;
- ``peers`` — RFM summary vs pymc-marketing and lifetimes, OneID vs networkx on ``--links`` identifier
  links, association rules vs mlxtend, CLV (BG/NBD) on full CDNOW vs pymc-marketing;
- ``streaming`` — features + RFM streamed from date-partitioned Parquet under a memory cap; then tags.

Inputs are cached under ``--work``; a second run reuses them. Not a test: timings vary with the machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from benchmarks import load, peers, streaming
from benchmarks.runner import ROOT, machine, measure

FAMILIES = ("load", "profile", "peers", "streaming")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000, help="synthetic persons to generate")
    parser.add_argument("--links", type=int, default=10_000_000, help="identifier links of the OneID benchmark")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (median reported)")
    parser.add_argument("--peer-repeat", type=int, default=None, help="runs per peer case (default: --repeat)")
    parser.add_argument("--only", default=",".join(FAMILIES), help=f"comma-separated families of {FAMILIES}")
    parser.add_argument("--work", default="/tmp/persona-kit-bench", help="folder for generated inputs and outputs")
    parser.add_argument("--cap-mb", type=int, default=1000, help="memory cap of the streaming case (MB)")
    parser.add_argument("--copies", type=int, default=1, help="copies of the event log in the streaming case")
    parser.add_argument("--min-support", type=float, default=0.0002, help="min_support of the association rules")
    parser.add_argument("--peer-cap-mb", type=int, default=None,
                        help="memory cap of peer cases (MB): a peer that needs more is reported as failed, the run goes on")
    parser.add_argument("--json", default=None, help="also write the results here (default: <work>/results.json)")
    args = parser.parse_args(argv)
    only = [f.strip() for f in args.only.split(",") if f.strip()]
    unknown = sorted(set(only) - set(FAMILIES))
    if unknown:
        parser.error(f"unknown families {unknown}; choose from {FAMILIES}")
    work = Path(args.work)
    data = work / f"p{args.people}"
    run = work / f"p{args.people}_run"
    peer_repeat = args.peer_repeat or args.repeat
    print(f"machine: {machine()}", flush=True)
    rows: list[dict] = []
    out = Path(args.json) if args.json else work / "results.json"

    def keep(row: dict) -> None:
        """Print a result and rewrite the JSON, so a later failure loses nothing measured before it."""
        rows.append(row)
        print(_line(row), flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"machine": machine(), "argv": sys.argv[1:] if argv is None else argv,
                                   "rows": rows}, indent=1))

    def pair(name: str, ours: str, peer: str | None, *, ours_kw: dict, peer_kw: dict | None = None,
             peer_name: str = "") -> None:
        mine = measure(ours, repeat=args.repeat, **ours_kw)
        other = None
        if peer:
            try:
                other = measure(peer, repeat=peer_repeat, memory_cap_mb=args.peer_cap_mb, **(peer_kw or ours_kw))
            except RuntimeError as err:  # e.g. killed at the memory cap: recorded, the other pairs still run
                other = {"failed": str(err).splitlines()[0]}
        keep({"benchmark": name, "peer": peer_name, "ours": mine, "other": other})

    if "load" in only:
        for name, (maps, timezone) in load.CASES.items():
            if (ROOT / maps).is_dir():
                pair(name, "benchmarks.load:load_sources", None, ours_kw={"maps": str(ROOT / maps), "timezone": timezone})
    if {"profile", "peers", "streaming"} & set(only):
        _generate(data, args.people)
    identity_dir = run / "profile"
    if "profile" in only or not (identity_dir / "orders.parquet").exists():
        pair(f"full profile build, {args.people:,} persons (vs one polars group-by pass)",
             "benchmarks.profile:profile_build", "benchmarks.profile:floor",
             ours_kw={"data": str(data), "out": str(identity_dir)}, peer_kw={"data": str(data)},
             peer_name="polars group-by floor")
    if "profile" in only:
        events = str(identity_dir / "events.parquet")
        pair("event features (windowed behaviour aggregation)", "benchmarks.profile:event_features_ours",
             "benchmarks.profile:event_features_pandas", ours_kw={"events": events}, peer_name="pandas")
    if "peers" in only:
        purchases = run / "purchases.parquet"
        if not purchases.exists():
            peers.write_purchases(identity_dir / "orders.parquet", purchases)
        links = work / f"links_{args.links}.parquet"
        if not links.exists():
            peers.write_links(links, args.links)
        kw = {"purchases": str(purchases)}
        pair("RFM summary (frequency, recency, T, monetary)", "benchmarks.peers:rfm_ours",
             "benchmarks.peers:rfm_pymc_marketing", ours_kw=kw, peer_name="pymc-marketing rfm_summary")
        pair("RFM summary (frequency, recency, T, monetary)", "benchmarks.peers:rfm_ours",
             "benchmarks.peers:rfm_lifetimes", ours_kw=kw, peer_name="lifetimes summary_data_from_transaction_data")
        pair(f"OneID on {args.links:,} identifier links", "benchmarks.peers:oneid_ours",
             "benchmarks.peers:oneid_networkx", ours_kw={"links": str(links)}, peer_name="networkx connected_components")
        pair(f"association rules (min_support {args.min_support})", "benchmarks.peers:rules_ours",
             "benchmarks.peers:rules_mlxtend", ours_kw={**kw, "min_support": args.min_support},
             peer_name="mlxtend fpgrowth + association_rules")
        if peers.CDNOW.exists():
            pair("CLV: BG/NBD fit on full CDNOW (23,570 customers)", "benchmarks.peers:clv_ours",
                 "benchmarks.peers:clv_pymc_marketing", ours_kw={}, peer_name="pymc-marketing BetaGeoModel (MAP)")
    if "streaming" in only:
        log = run / f"log_x{args.copies}"
        sizes_file = log / "sizes.json"
        if not sizes_file.exists():
            sizes_file.parent.mkdir(parents=True, exist_ok=True)
            sizes_file.write_text(json.dumps(streaming.write_partitioned(identity_dir, log, copies=args.copies)))
        sizes = json.loads(sizes_file.read_text())
        print(f"streaming input: {sizes}", flush=True)
        mine = measure("benchmarks.streaming:stream_profile", repeat=args.repeat, memory_cap_mb=args.cap_mb,
                       data=str(log), out=str(run / "streamed"))
        row = {"benchmark": f"streamed features + RFM under a {args.cap_mb} MB memory cap ({mine['cap']}) "
                            f"({sizes['events']['rows']:,} events, {sizes['events']['memory_gb']} GB in memory)",
               "peer": "", "ours": mine, "other": None, "sizes": sizes, "cap_mb": args.cap_mb}
        keep(row)
        pair("tags from the streamed features (eager, no cap)", "benchmarks.streaming:tags_from_features", None,
             ours_kw={"out": str(run / "streamed")})
    print(f"\nresults: {out}\n")
    print(table(rows))
    return 0


def _generate(data: Path, people: int) -> None:
    if (data / "raw" / "app_events.parquet").exists():
        return
    print(f"generating {people:,} persons into {data} …", flush=True)
    subprocess.run([str(Path(sys.executable).with_name("persona-kit")), "generate", "--people", str(people),
                    "--seed", "7", "--out", str(data)], check=True, cwd=ROOT)


def _line(row: dict) -> str:
    o, p = row["ours"], row["other"]
    text = f"{row['benchmark']}: ours {o['wall_s']:.2f} s (work {o['work_s']:.2f} s), {o['peak_mb']:.0f} MB {o['info']}"
    if p and "failed" in p:
        text += f" | {row['peer']}: {p['failed']}"
    elif p:
        text += (f" | {row['peer']}: {p['wall_s']:.2f} s (work {p['work_s']:.2f} s), {p['peak_mb']:.0f} MB "
                 f"{p['info']}")
    return text


def table(rows: list[dict]) -> str:
    """The results as a Markdown table: ours vs peer, whole-process and work-only seconds, ratio, peak MB."""
    lines = ["| benchmark | peer | ours s (work) | peer s (work) | peer / ours, whole (work) | ours peak MB | peer peak MB |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        o, p = row["ours"], row["other"]
        if p and "failed" in p:
            ratio, peer_s, peer_mb = "", p["failed"], ""
        elif p:
            ratio = f"{p['wall_s'] / o['wall_s']:.2f}× ({p['work_s'] / max(o['work_s'], 1e-9):.2f}×)"
            peer_s, peer_mb = f"{p['wall_s']:.2f} ({p['work_s']:.2f})", f"{p['peak_mb']:.0f}"
        else:
            ratio, peer_s, peer_mb = "", "", ""
        lines.append(f"| {row['benchmark']} | {row['peer']} | {o['wall_s']:.2f} ({o['work_s']:.2f}) | {peer_s} | "
                     f"{ratio} | {o['peak_mb']:.0f} | {peer_mb} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
