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
scale_path = sys.argv[2] if len(sys.argv) > 2 else None
scale_rows = [json.loads(line) for line in open(scale_path) if line.strip()] if scale_path else []
labels = []
for row in rows:
    # "machine" rows describe the machine (the disk probe), not a server.
    if row["label"] not in labels and row["label"] != "machine":
        labels.append(row["label"])


def find(label, workload, encoding="json", **params):
    for row in rows:
        if (row["label"] == label and row["workload"] == workload
                and row.get("encoding", "json") == encoding
                and all(row.get("params", {}).get(k) == v for k, v in params.items())):
            return row
    return None


def scale(label, workload):
    for row in scale_rows:
        if row["label"] == label and row["workload"] == workload:
            return row
    return {}


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


# The commit the results were measured at (BENCH_COMMIT), when that is not HEAD.
commit = os.environ.get("BENCH_COMMIT") or subprocess.run(
    ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
print("# Benchmarks\n")
print("Riffle side by side with its peers on one machine, every server on loopback with the load")
print("generator (`riffle-bench`) running beside it. Riffle runs in its default durable mode: a put is")
print("acknowledged only after `fdatasync`. Higher is better for throughput, lower for latency, startup")
print("and memory. *Ratio* is Riffle's figure over the peer's (for latency, startup and memory: the")
print("peer's over Riffle's), so above 1 means Riffle is ahead.\n")
print(f"- Machine: {os.cpu_count()} cores, {cpu()}, Linux {platform.release()}")
# BENCH_PEERS_NOTE: when the peers' rows come from an earlier run (compare.sh
# keeps the lines of peers it did not re-run), say so.
peers_note = os.environ.get("BENCH_PEERS_NOTE")
print(f"- Commit: `{commit}`{'; ' + peers_note if peers_note else ''}; raw results: `{os.path.relpath(path, os.path.dirname(os.path.dirname(os.path.abspath(path))) )}`")
probe = next((r for r in rows if r["label"] == "machine" and r["workload"] == "disk"), None)
if probe:
    print(f"- The device's flush latency at the time (`riffle-bench disk`: a 200 B append then `fdatasync`,")
    print(f"  {probe['params']['syncs']} times): p50 {fmt(probe.get('fdatasync_p50_ms'))} ms, p99 {fmt(probe.get('fdatasync_p99_ms'))} ms,"
          f" p99.9 {fmt(probe.get('fdatasync_p999_ms'))} ms. Every durable acknowledgement waits for at least one flush.")
print("- Reproduce: `bash bench/compare.sh` (installs kinesalite and kinesis-local from npm and")
print("  ferrokinesis from crates.io into `target/peers`). Each run is bounded to a few seconds.\n")

workloads = [
    ("put-records", {"record_bytes": 100, "connections": 4}, "records_per_sec", "PutRecords, 500 × 100 B, 4 connections (records/s)", True),
    ("put-records", {"record_bytes": 100, "connections": 16}, "records_per_sec", "PutRecords, 500 × 100 B, 16 connections (records/s)", True),
    ("put-records", {"record_bytes": 1024, "connections": 4}, "payload_mb_per_sec", "PutRecords, 500 × 1 KiB, 4 connections (MB/s of payload)", True),
    ("put-record", {"clients": 16, "rate": None}, "requests_per_sec", "PutRecord, 16 concurrent clients (requests/s)", True),
    ("put-record", {"clients": 16, "rate": None}, "p99_ms", "PutRecord, 16 concurrent clients, p99 latency (ms)", False),
    ("put-record", {"clients": 64, "rate": None}, "requests_per_sec", "PutRecord, 64 concurrent clients (requests/s)", True),
    ("put-record", {"clients": 64, "rate": None}, "p99_ms", "PutRecord, 64 concurrent clients, p99 latency (ms)", False),
    # The same clients on a schedule (`--rate`): the latency a server gives
    # at that load rather than at its saturation, counted from when each
    # request was due.
    ("put-record", {"clients": 64, "rate": 10000}, "p50_ms", "PutRecord, 64 clients paced at 10,000 requests/s: p50 latency (ms)", False),
    ("put-record", {"clients": 64, "rate": 10000}, "p99_ms", "PutRecord, 64 clients paced at 10,000 requests/s: p99 latency (ms)", False),
    ("put-record", {"clients": 64, "rate": 40000}, "requests_per_sec", "PutRecord, 64 clients paced at 40,000 requests/s: achieved (requests/s)", True),
    ("put-record", {"clients": 64, "rate": 40000}, "p99_ms", "PutRecord, 64 clients paced at 40,000 requests/s: p99 latency (ms)", False),
    ("read", {}, "records_per_sec", "Catch-up read from TRIM_HORIZON, 100k × 100 B (records/s)", True),
    ("tail", {"rate": 100}, "visible_p99_ms", "Put → visible to a polling reader at 100 puts/s, p99 (ms)", False),
    ("tail", {"rate": 1000}, "visible_p99_ms", "Put → visible to a polling reader at 1,000 puts/s, p99 (ms)", False),
    ("fanout", {"rate": 1000, "subscribers": 1}, "visible_p99_ms", "Put → SubscribeToShard event at 1,000 puts/s, p99 (ms)", False),
    ("put-records", {"record_bytes": 100, "encoding": "cbor"}, "records_per_sec", "PutRecords in CBOR, 500 × 100 B (records/s)", True),
    ("read", {"encoding": "cbor"}, "records_per_sec", "Catch-up read in CBOR, 100k × 100 B (records/s)", True),
    ("startup", {}, "startup_p50_ms", "Startup to first answered request, empty data directory, p50 of 5 (ms)", False),
    ("startup", {}, "rss_after_start_mib", "RSS at the first answered request (MiB)", False),
    ("rss-after", {}, "rss_mib", "RSS after the workloads (MiB)", False),
]

# "floor" and "floor-bare" are not peers (`riffle-bench floor`: an endpoint
# that stores nothing, on hyper or on a bare HTTP/1.1 stack); they have
# their own table below.
floors = [label for label in ("floor", "floor-bare") if label in labels]
peers = [label for label in labels if label != "riffle" and label not in floors]
print("| workload | riffle | " + " | ".join(f"{p} | ratio" for p in peers) + " |")
print("|---|---|" + "---|---|" * len(peers))
for workload, params, metric, title, higher_better in workloads:
    mine = find("riffle", workload, **params)
    ours = mine.get(metric) if mine and not mine.get("error") else None
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
print("A dash means the run failed (kinesis-local's catch-up read did not finish within the run's")
print("300 s bound) or the ratio is meaningless. *Put → visible* is measured from the moment the")
print("writer received the put's acknowledgement to the moment a reader polling GetRecords in a tight")
print("loop saw the record; a record seen before its acknowledgement arrived counts as 0 (servers")
print("that show records before making them durable score near 0 here). *Paced* PutRecord runs")
print("(`riffle-bench put-record --rate`) send on a schedule, one request in flight per client; a")
print("request sent late because the server had not answered the client's last one counts its")
print("latency from when it was due, so a server that cannot keep up shows it in the latency.")
print("PutRecord runs, paced or not, first send for one second unmeasured on the same schedule")
print("(`--warmup-seconds`), so that every server is measured in its steady state rather than")
print("answering the first puts to a stream created a moment before. Their clients share one")
print("thread and send over bare HTTP/1.1 keep-alive connections (about 12 µs of CPU a request).\n")
print("This machine is a shared 2-core VM and figures move by up to 2× between runs, so compare")
print("ratios within one run. Startup is timed by `riffle-bench startup`: from spawning the server")
print("to its first answered ListStreams, polling every 0.5 ms.\n")

floor_rows = [(w, p, m, t) for w, p, m, t, _ in workloads
              if w == "put-record" and any(find(f, w, **p) for f in floors)]
if floor_rows:
    print("## The floor: an endpoint that does nothing\n")
    print("`riffle-bench floor` answers every request with a fixed body and stores nothing, on hyper")
    print("on tokio's multi-thread runtime with Riffle's timeouts: the stack Riffle served every request")
    print("with until it parsed HTTP/1.1 itself (hyper still serves HTTP/2 and what that path hands over).")
    print("The same PutRecord workloads against it measure what this machine gives any server built on")
    print("that stack: the HTTP layer, loopback TCP and the load generator, all on the same cores.")
    print("`floor --bare` (*floor-bare*) gives the same answers without hyper, parsing with httparse as")
    print("Riffle's own HTTP/1.1 path does, from one single-threaded runtime a core: little is left but")
    print("loopback TCP and the load generator. *Share* is Riffle's throughput as a share of the floor's,")
    print("or the floor's latency as a share of Riffle's.\n")
    print("| workload | " + " | ".join(floors) + " | riffle | share of " + floors[0] + " |")
    print("|---|" + "---|" * len(floors) + "---|---|")
    for workload, params, metric_name, title in floor_rows:
        figures = []
        for label in floors:
            row = find(label, workload, **params)
            figures.append(row.get(metric_name) if row and not row.get("error") else None)
        mine = find("riffle", workload, **params)
        ours = mine.get(metric_name) if mine and not mine.get("error") else None
        theirs = figures[0]
        higher_better = metric_name == "requests_per_sec"
        share = "—" if not ours or not theirs else f"{100 * (ours / theirs if higher_better else theirs / ours):.0f}%"
        print(f"| {title} | " + " | ".join(fmt(f) for f in figures) + f" | {fmt(ours)} | {share} |")
    print()

# How busy the machine was during each of Riffle's runs: idle time means the
# run waited (on the device, or on the other side), steal is CPU the
# hypervisor gave to other guests.
loaded = [(title, find("riffle", workload, **params)) for workload, params, _, title, _ in workloads]
loaded = [(title, row) for title, row in loaded if row and row.get("machine_steal_pct") is not None]
seen = set()
if loaded:
    print("Machine CPU during Riffle's runs (from `/proc/stat`; *steal* is time the hypervisor gave to")
    print("other guests, *idle* includes waiting for the disk):\n")
    print("| run | idle | steal |")
    print("|---|---|---|")
    for title, row in loaded:
        key = (row["workload"], json.dumps(row.get("params"), sort_keys=True), row.get("encoding"))
        if key in seen:
            continue
        seen.add(key)
        run_name = title.split(' (')[0].split(': ')[0]
        print(f"| {run_name} | {fmt(row.get('machine_idle_pct'))}% | {fmt(row.get('machine_steal_pct'))}% |")
    print()


def metric(workload, metric_name, **params):
    row = find("riffle", workload, **params)
    return row.get(metric_name) if row and not row.get("error") else None


many = find("riffle", "fanout", subscribers=300) or {}
if many and not many.get("error"):
    print("## Hundreds of subscribers on one shard\n")
    print("Riffle alone (`--consumer-limit 500`; AWS allows 20 consumers per stream and no peer serves")
    put = many.get("params", {}).get("rate", 0) * many.get("params", {}).get("seconds", 0)
    fewest = many.get("fewest_seen_by_one")
    print(f"this many): 300 SubscribeToShard subscriptions on one shard while {fmt(put)} records are put,")
    print(f"one at a time, at up to 1,000 a second (achieved: {fmt(many.get('puts_per_sec'))} a second).")
    if fewest == put:
        print(f"Every subscriber received every record ({fmt(fewest)} of {fmt(put)} for the slowest); ", end="")
    else:
        print(f"NOT every subscriber received every record: {fmt(fewest)} of {fmt(put)} for the slowest; ", end="")
    print(f"put → event p50 {fmt(many.get('visible_p50_ms'))} ms, p99 {fmt(many.get('visible_p99_ms'))} ms; "
          f"server RSS {fmt(many.get('server_rss_mib'))} MiB with all 300 connected.\n")

empty = scale("empty", "startup")
s100 = scale("s100x10", "startup")
s1000 = scale("s1000x1", "startup")
wide_start = scale("shards-10000", "startup")
narrow = scale("shards-4", "put-records")
wide = scale("shards-10000", "put-records")
fill = next((r for r in scale_rows if r["label"].startswith("fill-") and r["workload"] == "put-records"), {})
disk = next((r for r in scale_rows if r["label"].startswith("fill-") and r["workload"] == "disk"), {})
restart = next((r for r in scale_rows if r["label"].startswith("restart-")), {})
if scale_rows:
    print("## Scale, startup and restart (Riffle alone)\n")
    scale_commit = os.environ.get("BENCH_SCALE_COMMIT")
    print(f"From `bash bench/scale.sh`{f' at commit `{scale_commit}`' if scale_commit else ''} "
          f"(raw results: `{os.path.relpath(scale_path, os.path.dirname(os.path.dirname(os.path.abspath(scale_path))))}`).")
    print("Startup is the time from spawning `riffle serve` to its first answered ListStreams.\n")
    print("| measurement | figure |")
    print("|---|---|")
    rows_out = [
        ("Startup, empty data directory (p50 of 10)", f"{fmt(empty.get('startup_p50_ms'))} ms; RSS {fmt(empty.get('rss_after_start_mib'))} MiB"),
        ("Startup with 100 streams × 10 shards on disk, after kill -9 (p50 of 10)", f"{fmt(s100.get('startup_p50_ms'))} ms; RSS {fmt(s100.get('rss_after_start_mib'))} MiB"),
        ("Startup with 1,000 streams × 1 shard, after kill -9 (p50 of 5)", f"{fmt(s1000.get('startup_p50_ms'))} ms; RSS {fmt(s1000.get('rss_after_start_mib'))} MiB"),
        ("Startup with one 10,000-shard stream, after kill -9 (p50 of 5)", f"{fmt(wide_start.get('startup_p50_ms'))} ms; RSS {fmt(wide_start.get('rss_after_start_mib'))} MiB"),
        ("PutRecords 500 × 100 B into 4 shards", f"{fmt(narrow.get('records_per_sec'))} records/s"),
        ("PutRecords 500 × 100 B into 10,000 shards (each batch touches ~490 shard files)", f"{fmt(wide.get('records_per_sec'))} records/s; RSS {fmt(wide.get('server_rss_mib'))} MiB"),
        (f"Filling {fmt((disk.get('bytes_on_disk') or 0) / 1e9)} GB with PutRecords 500 × 1 KiB", f"{fmt(fill.get('payload_mb_per_sec'))} MB/s; server RSS at the end {fmt(fill.get('server_rss_mib'))} MiB"),
        ("Restart after kill -9 with that data on disk (p50 of 3)", f"{fmt(restart.get('startup_p50_ms'))} ms; RSS {fmt(restart.get('rss_after_start_mib'))} MiB"),
    ]
    for title, value in rows_out:
        print(f"| {title} | {value} |")
    print()

def ratio(workload, metric_name, peer, **params):
    ours, theirs = metric(workload, metric_name, **params), find(peer, workload, **params)
    theirs = theirs.get(metric_name) if theirs and not theirs.get("error") else None
    return ours / theirs if ours and theirs else None


def per_record_cost_growth():
    narrow_rate, wide_rate = narrow.get("records_per_sec"), wide.get("records_per_sec")
    return narrow_rate / wide_rate if narrow_rate and wide_rate else None


targets = [
    ("PutRecords 500 × 100 B ≥ 1,000,000 records/s (durable), 4 connections", metric("put-records", "records_per_sec", record_bytes=100, connections=4), 1_000_000, True),
    ("PutRecords 500 × 100 B ≥ 1,000,000 records/s (durable), 16 connections", metric("put-records", "records_per_sec", record_bytes=100, connections=16), 1_000_000, True),
    ("PutRecords 500 × 1 KiB ≥ 300 MB/s", metric("put-records", "payload_mb_per_sec", record_bytes=1024), 300, True),
    ("PutRecords 500 × 100 B ≥ 50× kinesalite (ratio), 4 connections", ratio("put-records", "records_per_sec", "kinesalite", record_bytes=100, connections=4), 50, True),
    ("PutRecords 500 × 100 B ≥ 10× ferrokinesis in memory (ratio), 4 connections", ratio("put-records", "records_per_sec", "ferrokinesis-memory", record_bytes=100, connections=4), 10, True),
    ("PutRecords 500 × 100 B ≥ 10× ferrokinesis in memory (ratio), 16 connections", ratio("put-records", "records_per_sec", "ferrokinesis-memory", record_bytes=100, connections=16), 10, True),
    ("PutRecord, 64 clients ≥ 40,000 requests/s", metric("put-record", "requests_per_sec", clients=64, rate=None), 40_000, True),
    ("PutRecord, 64 clients, p99 ≤ 2 ms, at saturation (as many requests as the server answers)", metric("put-record", "p99_ms", clients=64, rate=None), 2, False),
    ("PutRecord, 64 clients paced at 40,000 requests/s: achieved ≥ 39,000", metric("put-record", "requests_per_sec", clients=64, rate=40000), 39_000, True),
    ("PutRecord, 64 clients paced at 40,000 requests/s: p99 ≤ 2 ms (from when due)", metric("put-record", "p99_ms", clients=64, rate=40000), 2, False),
    ("Catch-up read ≥ 1,000,000 records/s", metric("read", "records_per_sec"), 1_000_000, True),
    ("Tail-follow at 1,000 puts/s, p99 ≤ 0.7 ms", metric("tail", "visible_p99_ms", rate=1000), 0.7, False),
    ("Startup ≤ 15 ms (empty data directory)", empty.get("startup_p50_ms", metric("startup", "startup_p50_ms")), 15, False),
    ("Startup ≤ 50 ms with 100 streams and 1,000 shards", s100.get("startup_p50_ms"), 50, False),
    ("Idle RSS ≤ 8 MiB", empty.get("rss_after_start_mib", metric("startup", "rss_after_start_mib")), 8, False),
    ("RSS bounded with 10 GB retained (here: MiB after filling, and after restart)", fill.get("server_rss_mib"), 64, False),
    ("Restart within seconds with 10 GB on disk (ms)", restart.get("startup_p50_ms"), 5_000, False),
    ("10,000 shards in one stream work (records/s into them)", wide.get("records_per_sec"), 1, True),
    ("1,000 streams on one server work (startup with them, ms)", s1000.get("startup_p50_ms"), 1_000, False),
    ("Cost per record grows sub-linearly with shards: 4 → 10,000 shards (×2,500) costs ×N per record", per_record_cost_growth(), 2_500, False),
]
print("## Against the performance issue's targets\n")
print("| target | Riffle | met |")
print("|---|---|---|")
for title, value, goal, higher_better in targets:
    met = value is not None and (value >= goal if higher_better else value <= goal)
    print(f"| {title} | {fmt(value)} | {'yes' if met else 'no'} |")
print()
for label, stack in (("floor", "hyper on tokio"), ("floor-bare", "a bare HTTP/1.1 stack")):
    saturated = find(label, "put-record", clients=64, rate=None) or {}
    paced = find(label, "put-record", clients=64, rate=40000) or {}
    if not (saturated.get("p99_ms") and paced.get("p99_ms")):
        continue
    print(f"For the two p99 targets, *{label}* (an endpoint that does nothing on {stack}, above):")
    print(f"p99 {fmt(saturated['p99_ms'])} ms at saturation ({fmt(saturated.get('requests_per_sec'))} requests/s)"
          f" and {fmt(paced['p99_ms'])} ms paced at 40,000 requests/s.", end="")
    below = [name for name, row in (("at saturation", saturated), ("paced", paced)) if row["p99_ms"] > 2]
    if below:
        print(f" Where it is over 2 ms ({' and '.join(below)}), no server on {stack}")
        print("meets the target on this machine with the load generator beside it.")
    else:
        print()
    print()
print("Where the time goes in the misses (perf, on this machine) is written up in `docs/performance.md`.")
