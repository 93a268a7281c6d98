#!/usr/bin/env python3
"""ratios.py RESULTS.tsv PEER - medians per target and the ratio to PEER.

PEER is a target name, or OURS=THEIRS (e.g. "mailbag-=opendkim-") to pair
each target named OURS... with THEIRS... (mailbag-rsa-unix with
opendkim-rsa-unix).

Reads the shared kit's rows (time bench target params run metric value
unit command) and prints, for each (params, metric) of throughput (rps,
rate), latency (p50, p99, batch_p50, batch_p99, cold_start) and memory
(auth_rss, auth_hwm, auth_anon, worker_rss, worker_anon, worker_hwm),
every target's median and its ratio to the peer's median in the same
file (the same run). For rps and rate a ratio above 1 is better; for the
others, below 1."""
import csv
import statistics
import sys
from collections import defaultdict

METRICS = ("rps", "rate", "p50", "p99", "batch_p50", "batch_p99", "cold_start", "auth_rss",
           "auth_hwm", "auth_anon", "worker_rss", "worker_anon", "worker_hwm", "inject_rate", "e2e_rate", "milter_cpu_per_msg")


def peer_of(target, peer):
    if "=" not in peer:
        return peer
    ours, theirs = peer.split("=", 1)
    return theirs + target[len(ours):] if target.startswith(ours) else None


def main():
    path, peer = sys.argv[1], sys.argv[2]
    values = defaultdict(list)
    with open(path) as f:
        for row in csv.reader(f, delimiter="\t"):
            if len(row) < 8 or row[5] not in METRICS:
                continue
            try:
                values[(row[3], row[5], row[2])].append(float(row[6]))
            except ValueError:
                continue
    print("| params | metric | target | median | ratio to %s |" % peer.split("=")[-1].rstrip("-"))
    print("|---|---|---|---|---|")
    for (params, metric, target) in sorted(values):
        median = statistics.median(values[(params, metric, target)])
        base = values.get((params, metric, peer_of(target, peer)))
        ratio = "%.2f" % (median / statistics.median(base)) if base and statistics.median(base) else "-"
        print("| %s | %s | %s | %.3f | %s |" % (params, metric, target, median, ratio))


if __name__ == "__main__":
    main()
