#!/usr/bin/env python3
"""Prints the benchmark figures table (markdown) from a bench/run.sh results folder."""
import csv
import os
import platform
import statistics
import sys
from collections import defaultdict


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def main(out):
    rows = list(csv.DictReader(open(os.path.join(out, "results.tsv")), delimiter="\t"))
    by = defaultdict(list)
    for r in rows:
        by[(int(r["size"]), r["measure"])].append(r)
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"Run {os.path.basename(out)} on {platform.node()}: {os.cpu_count()} CPUs ({cpu}), {mem_gib:.0f} GiB RAM, "
          f"load average at the end {open('/proc/loadavg').read().split()[0:3]}")
    print()
    print("| objects/cluster | measure | median wall s | median CPU s | CPU / wall | median peak RSS MiB | "
          "servers' CPU s during the run | load1 at runs | runs | exit codes |")
    print("|---:|---|---:|---:|---:|---:|---:|---|---:|---|")
    sizes = sorted({s for s, _ in by})
    order = ["kubectl-loop", "ceiling", "kparity", "parse-floor", "kparity-offline"]
    med = {}
    for s in sizes:
        for m in order:
            rs = by.get((s, m))
            if not rs:
                continue
            wall = median([float(r["wall_s"]) for r in rs])
            cpu_s = median([float(r["cpu_s"]) for r in rs])
            rss = median([int(r["rss_kib"]) for r in rs]) / 1024
            med[(s, m)] = (wall, cpu_s, rss)
            loads = ",".join(r["load1"] for r in rs)
            rcs = ",".join(r["rc"] for r in rs)
            # Older results folders have no servers' CPU column.
            servers = [float(r["servers_cpu_s"]) for r in rs if r.get("servers_cpu_s")]
            servers_s = f"{median(servers):.2f}" if servers else "n/a"
            print(f"| {s:,} | {m} | {wall:.2f} | {cpu_s:.2f} | {cpu_s / wall:.2f} | {rss:.0f} | {servers_s} | {loads} | "
                  f"{len(rs)} | {rcs} |")
    print()
    print("| objects/cluster | listed objects (blue / green) | JSON MiB (blue / green) | kparity / ceiling (goal ≤ 1.3 at 10k, ≤ 1.2 at 100k) | kubectl loop / kparity (goal ≥ 20) | offline kparity / parse floor (goal ≤ 1.2) | live kparity RSS / JSON of larger side (goal ≤ 1.0) | offline kparity RSS / JSON (goal ≤ 1.0) |")
    print("|---:|---|---|---:|---:|---:|---:|---:|")
    for s in sizes:
        def read(name):
            p = os.path.join(out, f"{s}.{name}")
            return open(p).read().strip() if os.path.exists(p) else None
        counts = read("counts") or "?"
        jb = [int(read(f"{side}.json_bytes") or 0) for side in ("blue", "green")]
        larger = max(jb) / 2**20 if max(jb) else float("nan")

        def ratio(a, b, i=0):
            return f"{med[(s, a)][i] / med[(s, b)][i]:.2f}" if (s, a) in med and (s, b) in med else "n/a"

        live_mem = f"{med[(s, 'kparity')][2] / larger:.2f}" if (s, "kparity") in med else "n/a"
        off_mem = f"{med[(s, 'kparity-offline')][2] / larger:.2f}" if (s, "kparity-offline") in med else "n/a"
        print(f"| {s:,} | {counts} | {jb[0] / 2**20:.1f} / {jb[1] / 2**20:.1f} | {ratio('kparity', 'ceiling')} | "
              f"{ratio('kubectl-loop', 'kparity')} | {ratio('kparity-offline', 'parse-floor')} | {live_mem} | {off_mem} |")


if __name__ == "__main__":
    main(sys.argv[1])
