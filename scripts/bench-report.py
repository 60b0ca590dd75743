#!/usr/bin/env python3
"""Turns `make bench`'s results (one JSON object per line) into the table it prints and writes
into docs/PERFORMANCE.md, between the bench markers (the text around them is kept).

usage: bench-report.py RESULTS MACHINE VERSIONS PINNING COMMAND WRITE(0|1) PERFORMANCE_MD
"""
import datetime
import json
import sys

results_path, machine, versions, pinning, command, write, document = sys.argv[1:8]
rows = [json.loads(line) for line in open(results_path) if line.strip()]
by = {(r["scenario"], r["target"]): r for r in rows}
targets = ["backend", "nginx", "haproxy", "portico"]
names = {"backend": "backend alone", "nginx": "nginx (1 worker)", "haproxy": "HAProxy (1 thread)", "portico": "Portico gateway"}


def value(scenario, target, key):
    row = by.get((scenario, target))
    if row is None:
        return None
    if key == "cpuPerMessage":
        messages = row["generator"].get("messages", 0)
        return row["proxyCPUSeconds"] * 1e6 / messages if messages else None
    if key == "cpuPerHandshake":
        count = row["generator"].get("handshakes", 0)
        return row["proxyCPUSeconds"] * 1e6 / count if count else None
    if key == "kbPerConnection":
        return (row["residentKBAfter"] - row["residentKBBefore"]) / row["connections"] if row["connections"] else None
    if key == "connections":
        return row["connections"]
    return row["generator"].get(key)


def fmt(number, digits=1):
    if number is None:
        return "—"
    if abs(number) >= 1000:
        return f"{number:,.0f}"
    if float(number).is_integer() and digits == 1:
        return f"{number:.0f}"
    return f"{number:.{digits}f}"


lines = [
    ("1. closed loop, 64 B, 50 conns", "messages/s", "echo64", "messagesPerSecond"),
    ("", "p50 / p99 / p99.9 latency (µs)", "echo64", "latency"),
    ("", "proxy CPU per message (µs)", "echo64", "cpuPerMessage"),
    ("", "generator CPU (% of its core)", "echo64", "generatorCPUPercent"),
    ("2. closed loop, 16 KiB, 50 conns", "messages/s", "echo16k", "messagesPerSecond"),
    ("", "p50 / p99 / p99.9 latency (µs)", "echo16k", "latency"),
    ("", "proxy CPU per message (µs)", "echo16k", "cpuPerMessage"),
    ("", "generator CPU (% of its core)", "echo16k", "generatorCPUPercent"),
    ("3. fixed rate, 64 B", "messages/s achieved", "rate", "messagesPerSecond"),
    ("", "p50 / p99 / p99.9 latency (µs)", "rate", "latency"),
    ("", "proxy CPU per message (µs)", "rate", "cpuPerMessage"),
    ("4. handshake burst, 50 at a time", "handshakes/s", "handshakes", "handshakesPerSecond"),
    ("", "p50 / p99 handshake latency (µs)", "handshakes", "hslatency"),
    ("", "proxy CPU per handshake (µs)", "handshakes", "cpuPerHandshake"),
    ("", "failed handshakes", "handshakes", "failed"),
    ("5. idle connections", "connections held", "idle", "connections"),
    ("", "proxy resident memory per connection (kB)", "idle", "kbPerConnection"),
]


def pooled(scenario_prefix, target):
    """CPU per message over the interleaved enforcement rounds: total CPU / total messages."""
    cpu = messages = 0
    for (scenario, t), row in by.items():
        if t == target and scenario.startswith(scenario_prefix + "-r"):
            cpu += row["proxyCPUSeconds"]
            messages += row["generator"].get("messages", 0)
    return cpu * 1e6 / messages if messages else None


enforcement = []
for scenario_prefix, label in [("rate", "fixed rate, 64 B"), ("echo64", "closed loop, 64 B, 50 conns")]:
    off, on = pooled(scenario_prefix, "portico"), pooled(scenario_prefix, "portico-limits")
    overhead = (on / off - 1) * 100 if off and on else None
    enforcement.append(f"| {label} | {fmt(off)} | {fmt(on)} | {fmt(overhead)} % |")

def rest(scenario, key):
    """A REST figure over the interleaved rounds: requests/s and latencies averaged, CPU pooled."""
    rounds = [row for (s, t), row in by.items() if t == "devportal" and s.startswith(scenario + "-r")]
    if not rounds:
        return None
    if key == "cpuPerRequest":
        requests = sum(r["generator"].get("requests", 0) + r["generator"].get("noiseRequests", 0) for r in rounds)
        return sum(r["proxyCPUSeconds"] for r in rounds) * 1e6 / requests if requests else None
    figures = [r["generator"].get(key, 0) for r in rounds]
    return sum(figures) / len(figures)


rest_rows = []
for scenario, label in [("rest-anonymous", "anonymous (baseline)"), ("rest-signed-in", "signed in (Basic)"),
                        ("rest-under-guessing", "signed in, while 16 connections send wrong passwords")]:
    noise = f"{fmt(rest(scenario, 'noise401'))} / {fmt(rest(scenario, 'noise429'))} / {fmt(rest(scenario, 'noise503'))}" \
        if scenario == "rest-under-guessing" else "—"
    rest_rows.append(f"| {label} | {fmt(rest(scenario, 'requestsPerSecond'))} | {fmt(rest(scenario, 'p50Micros'))} / "
                     f"{fmt(rest(scenario, 'p99Micros'))} | {fmt(rest(scenario, 'failed'))} | {fmt(rest(scenario, 'cpuPerRequest'))} | {noise} |")

table = ["| scenario | figure | " + " | ".join(names[t] for t in targets) + " |", "|---|---|" + "---|" * len(targets)]
for scenario_name, figure, scenario, key in lines:
    cells = []
    for target in targets:
        if key == "latency":
            cells.append(" / ".join(fmt(value(scenario, target, k)) for k in ("p50Micros", "p99Micros", "p999Micros")))
        elif key == "hslatency":
            cells.append(" / ".join(fmt(value(scenario, target, k)) for k in ("p50Micros", "p99Micros")))
        else:
            cells.append(fmt(value(scenario, target, key)))
    table.append(f"| {scenario_name} | {figure} | " + " | ".join(cells) + " |")


def ratio(a, b):
    return a / b if a is not None and b else None


def best_peer(scenario, key):
    """The lower of nginx's and HAProxy's figure: either can come out ahead on a noisy machine."""
    figures = [f for f in (value(scenario, "nginx", key), value(scenario, "haproxy", key)) if f is not None]
    return min(figures) if figures else None


def median_round(rounds, target, key):
    """A proxy's median figure over the interleaved rounds whose scenarios start with `rounds`."""
    figures = sorted(f for f in (value(s, t, key) for (s, t) in by if t == target and s.startswith(rounds)) if f is not None)
    return figures[len(figures) // 2] if figures else None


def median_round_p99(target):
    return median_round("rate-round-r", target, "p99Micros")


def median_round_cpu_per_handshake(target):
    return median_round("handshakes-round-r", target, "cpuPerHandshake")


def push(target, key):
    """A push figure over the interleaved rounds: rates and latencies averaged, CPU pooled."""
    rounds = [row for (s, t), row in by.items() if t == target and s.startswith("push-r")]
    if not rounds:
        return None
    if key == "cpuPerPush":
        pushes = sum(r["generator"].get("pushes", 0) for r in rounds)
        return sum(r["proxyCPUSeconds"] for r in rounds) * 1e6 / pushes if pushes else None
    figures = [r["generator"].get(key, 0) for r in rounds]
    return sum(figures) / len(figures)


push_rows = []
for target, label in [("push-same", "on the gateway called"), ("push-other", "on another gateway (through PostgreSQL)")]:
    push_rows.append(f"| {label} | {fmt(push(target, 'pushesPerSecond'))} | {fmt(push(target, 'p50Micros'))} / {fmt(push(target, 'p99Micros'))} | "
                     f"{fmt(push(target, 'failed'))} | {fmt(push(target, 'delivered'))} | {fmt(push(target, 'cpuPerPush'))} |")
push_ratios = ", ".join(f"{name} {fmt(ratio(push('push-other', key), push('push-same', key)), 2)}×"
                        for name, key in [("pushes/s", "pushesPerSecond"), ("p50", "p50Micros"), ("p99", "p99Micros")])

def routed(target, key):
    """A figure of section 9 over its interleaved rounds: rates averaged, CPU pooled."""
    rounds = [row for (s, t), row in by.items() if t == target and s.startswith("routed-r")]
    if not rounds:
        return None
    if key == "cpuPerMessage":
        messages = sum(r["generator"].get("messages", 0) for r in rounds)
        return sum(r["proxyCPUSeconds"] for r in rounds) * 1e6 / messages if messages else None
    figures = [r["generator"].get(key, 0) for r in rounds]
    return sum(figures) / len(figures)


routed_rows = [
    f"| {label} | {fmt(routed(target, 'messagesPerSecond'))} | {fmt(routed(target, 'p50Micros'))} / {fmt(routed(target, 'p99Micros'))} | "
    f"{fmt(routed(target, 'cpuPerMessage'))} |"
    for target, label in [("portico", "proxied to the echo backend"), ("portico-routes", "routed to an HTTP integration")]
]
routed_ratio = fmt(ratio(routed("portico-routes", "cpuPerMessage"), routed("portico", "cpuPerMessage")), 2)

checks = []
rate_off, rate_on = pooled("rate", "portico"), pooled("rate", "portico-limits")
for label, mine, theirs, limit, peer in [
    ("proxy CPU per 64 B message", value("echo64", "portico", "cpuPerMessage"), best_peer("echo64", "cpuPerMessage"), 1.0, "the best peer"),
    ("proxy CPU per 16 KiB message", value("echo16k", "portico", "cpuPerMessage"), best_peer("echo16k", "cpuPerMessage"), 1.0, "the best peer"),
    ("p99 latency at the fixed rate, median of 3 rounds", median_round_p99("portico"), median_round_p99("nginx"), 1.0, "nginx"),
    ("CPU per authenticated handshake, median of 3 rounds", median_round_cpu_per_handshake("portico"),
     median_round_cpu_per_handshake("nginx"), 1.5, "nginx (unauthenticated)"),
    ("resident memory per idle connection", value("idle", "portico", "kbPerConnection"), value("idle", "nginx", "kbPerConnection"), 1.0, "nginx"),
    ("resident memory per idle connection", value("idle", "portico", "kbPerConnection"), value("idle", "haproxy", "kbPerConnection"), 1.5, "HAProxy"),
    ("CPU per message with plan enforcement", rate_on, rate_off, 1.1, "the gateway without (fixed rate)"),
    ("signed-in REST call, p50 latency", rest("rest-signed-in", "p50Micros"), rest("rest-anonymous", "p50Micros"), 2.0, "anonymous"),
    ("signed-in REST call while guessing, p99", rest("rest-under-guessing", "p99Micros"), rest("rest-signed-in", "p99Micros"), 2.0,
     "signed in without guessing"),
]:
    r = ratio(mine, theirs)
    verdict = "no figure" if r is None else ("met" if r <= limit else "missed")
    checks.append(f"| {label} | ≤ {limit:g}× {peer} | {fmt(r, 2)}× | {verdict} |")

generated = "\n".join([
    f"Run of {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.",
    "",
    f"- Machine: {machine}",
    f"- Versions: {versions}",
    f"- Pinning: {pinning}",
    f"- Command: `{command}`",
    "",
    *table,
    "",
    "6. Enforcement: the gateway's CPU per message (µs) with rate limits off (plan Unlimited) and on",
    "(subscription plan and API ceiling: two buckets per message, plus the cluster sync), two",
    "interleaved rounds each, pooled:",
    "",
    "| load | limits off | limits on | overhead |",
    "|---|---|---|---|",
    *enforcement,
    "",
    "7. REST sign-in: the devportal's catalog (`GET /api/am/devportal/v3/apis`), 16 connections in a",
    "closed loop, bcrypt cost 10, two interleaved rounds averaged (the devportal on the proxy's CPU):",
    "",
    "| callers | requests/s | p50 / p99 latency (µs) | failed | devportal CPU per request (µs) | wrong passwords answered 401 / 429 / 503 |",
    "|---|---|---|---|---|---|",
    *rest_rows,
    "",
    "8. Connection management: `POST …/@connections/{id}` (64 B), 4 callers in a closed loop to the first",
    "gateway's management listener, the client on it or on a second gateway; two interleaved rounds",
    "averaged, CPU of both gateways pooled:",
    "",
    "| client | pushes/s | p50 / p99 call latency (µs) | not 200 | delivered | gateways' CPU per push (µs) |",
    "|---|---|---|---|---|---|",
    *push_rows,
    "",
    f"Another gateway's client against the called gateway's: {push_ratios}.",
    "",
    "9. Routes: 50 connections sending 64 B in a closed loop, to the proxied Echo and to an API whose",
    "`$default` route is a two-way HTTP integration (a local nginx answering \"ok\", keep-alive); two",
    "interleaved rounds, rates averaged, the gateway's CPU pooled:",
    "",
    "| messages | round trips/s | p50 / p99 (µs) | gateway CPU per message (µs) |",
    "|---|---|---|---|",
    *routed_rows,
    "",
    f"A routed message costs the gateway {routed_ratio}× a proxied one (an HTTP request and its answer",
    "against two WebSocket frames).",
    "",
    "Fixed-rate p99 (µs) in three interleaved rounds, median: "
    + ", ".join(f"{names[t]} {fmt(median_round_p99(t))}" for t in ("nginx", "haproxy", "portico")) + ".",
    "",
    "CPU per handshake (µs) in three interleaved rounds, median: "
    + ", ".join(f"{names[t]} {fmt(median_round_cpu_per_handshake(t))}" for t in ("nginx", "haproxy", "portico")) + ".",
    "",
    "Targets, as ratios of the gateway's figure to the peer's in the same run (\"the best peer\": the",
    "lower of nginx's and HAProxy's figure):",
    "",
    "| target | goal | gateway / peer | |",
    "|---|---|---|---|",
    *checks,
])
print(generated)

if write == "1":
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    try:
        text = open(document).read()
    except FileNotFoundError:
        text = f"# Performance\n\n{begin}\n{end}\n"
    if begin not in text or end not in text:
        text = text.rstrip() + f"\n\n{begin}\n{end}\n"
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    open(document, "w").write(f"{head}{begin}\n{generated}\n{end}{tail}")
    print(f"\nwritten to {document}")
