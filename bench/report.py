#!/usr/bin/env python3
"""Turns a compare.sh results file into BENCHMARKS.md: one table per
workload, each peer's figure and Riffle's ratio to it."""

import json
import os
import platform
import subprocess
import sys

path = sys.argv[1]
rows = [json.loads(line) for line in open(path) if line.strip()]
labels = []
for row in rows:
    if row["label"] not in labels:
        labels.append(row["label"])


def find(label, workload, **params):
    for row in rows:
        if row["label"] == label and row["workload"] == workload and all(row.get("params", {}).get(k) == v for k, v in params.items()):
            return row
    return None


def fmt(value):
    if value is None:
        return "—"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
print("# Benchmarks\n")
print("Riffle side by side with its peers on one machine, every server on loopback with the load")
print("generator (`riffle-bench`) running beside it. Riffle runs in its default durable mode: a put is")
print("acknowledged only after `fdatasync`. Higher is better for throughput, lower for latency, startup")
print("and memory. *Ratio* is Riffle's figure over the peer's (for latency, startup and memory: the")
print("peer's over Riffle's), so above 1 means Riffle is ahead.\n")
print(f"- Machine: {os.cpu_count()} cores, {cpu()}, Linux {platform.release()}")
print(f"- Commit: `{commit}`; raw results: `{os.path.relpath(path, os.path.dirname(os.path.dirname(os.path.abspath(path))) )}`")
print("- Reproduce: `bash bench/compare.sh` (installs kinesalite and kinesis-local from npm and")
print("  ferrokinesis from crates.io into `target/peers`). Each run is bounded to a few seconds.\n")

workloads = [
    ("put-records", {"record_bytes": 100}, "records_per_sec", "PutRecords, 500 × 100 B, 4 connections (records/s)", True),
    ("put-records", {"record_bytes": 1024}, "payload_mb_per_sec", "PutRecords, 500 × 1 KiB, 4 connections (MB/s of payload)", True),
    ("put-record", {"clients": 16}, "requests_per_sec", "PutRecord, 16 concurrent clients (requests/s)", True),
    ("put-record", {"clients": 16}, "p99_ms", "PutRecord, 16 concurrent clients, p99 latency (ms)", False),
    ("put-record", {"clients": 64}, "requests_per_sec", "PutRecord, 64 concurrent clients (requests/s)", True),
    ("put-record", {"clients": 64}, "p99_ms", "PutRecord, 64 concurrent clients, p99 latency (ms)", False),
    ("read", {}, "records_per_sec", "Catch-up read from TRIM_HORIZON, 100k × 100 B (records/s)", True),
    ("tail", {"rate": 100}, "visible_p99_ms", "Put → visible to a polling reader at 100 puts/s, p99 (ms)", False),
    ("tail", {"rate": 1000}, "visible_p99_ms", "Put → visible to a polling reader at 1,000 puts/s, p99 (ms)", False),
    ("startup", {}, "startup_ms", "Startup to first answered request, empty data directory (ms)", False),
    ("startup", {}, "idle_rss_mib", "Idle RSS (MiB)", False),
    ("rss-after", {}, "rss_mib", "RSS after the workloads (MiB)", False),
]

peers = [label for label in labels if label != "riffle"]
print("| workload | riffle | " + " | ".join(f"{p} | ratio" for p in peers) + " |")
print("|---|---|" + "---|---|" * len(peers))
for workload, params, metric, title, higher_better in workloads:
    mine = find("riffle", workload, **params)
    ours = mine.get(metric) if mine else None
    cells = [title, fmt(ours)]
    for peer in peers:
        row = find(peer, workload, **params)
        theirs = row.get(metric) if row and not row.get("error") else None
        if ours is None or theirs is None or theirs == 0 or ours == 0:
            ratio = "—"
        else:
            ratio = f"{(ours / theirs) if higher_better else (theirs / ours):.1f}×"
        cells += [fmt(theirs), ratio]
    print("| " + " | ".join(cells) + " |")
print()
print("A dash means the run failed or the peer lacks the operation. The targets of the performance")
print("issue and how far each is met are discussed in the issue's notes; profiles come with that work.")
