#!/usr/bin/env python3
"""bench/redis-stall.py - what mailbag-policyd answers while Redis is stalled.

Driven by bench-redis-stall.sh. Runs, each in its own process (no GIL
between the clients' clocks):
  socketmap clients: lookups of data the daemon already holds (a user
    and its domain, looked up before the run), one request in flight each;
  policy clients: RCPT requests with triplets never seen (each must reach
    Redis: greylisting reads and writes its triplet);
and, STALL_AT seconds in, `redis-cli DEBUG SLEEP STALL_SECONDS`. Every
answer is recorded with its start time and latency; the summary, as the
shared kit's TSV rows (time bench target params run metric value unit
command), counts per phase (before, during, after the stall) and answer
kind, with p50/p99/max latency. A wrong answer: a lookup that is not the
expected OK, or a policy answer other than greylisted or a temporary
failure (DUNNO for a triplet never seen)."""

import multiprocessing as mp
import os
import socket
import subprocess
import sys
import time


def netstring(text):
    b = text.encode()
    return str(len(b)).encode() + b":" + b + b","


def socketmap_client(path, queries, until, out):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    rows = []
    i = 0
    while time.time() < until:
        q, want = queries[i % len(queries)]
        i += 1
        t0 = time.time()
        s.sendall(netstring(q))
        data = b""
        while not data.endswith(b","):
            chunk = s.recv(4096)
            if not chunk:
                raise SystemExit("socketmap connection closed")
            data += chunk
        t1 = time.time()
        kind = "ok" if data.split(b":", 1)[1].startswith(want.encode()) else "wrong"
        rows.append((t0, t1 - t0, kind))
    out.put(("socketmap", rows))


def policy_client(path, number, until, out):
    rows = []
    i = 0
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    while time.time() < until:
        i += 1
        req = ("request=smtpd_access_policy\nprotocol_state=RCPT\nclient_address=198.51.%d.%d\n"
               "client_name=mx.sender.test\nsender=s%d.%d@sender.test\nrecipient=r%d@remote.test\n"
               "instance=%d.%d\n\n" % (number, i % 250, number, i, i, number, i))
        t0 = time.time()
        s.sendall(req.encode())
        data = b""
        while not data.endswith(b"\n\n"):
            chunk = s.recv(4096)
            if not chunk:
                raise SystemExit("policy connection closed")
            data += chunk
        t1 = time.time()
        if b"Greylisted" in data:
            kind = "greylisted"
        elif b"DEFER_IF_PERMIT 4.3.0" in data:
            kind = "tempfail"
        else:
            kind = "wrong"
        rows.append((t0, t1 - t0, kind))
    out.put(("policy", rows))


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def main():
    socketmap, policy, redis_sock, user, domain, results, run = sys.argv[1:8]
    stall_at = float(os.environ.get("STALL_AT", "2"))
    stall = float(os.environ.get("STALL_SECONDS", "5"))
    tail = float(os.environ.get("STALL_TAIL", "2"))
    clients = int(os.environ.get("STALL_SOCKETMAP_CLIENTS", "2"))
    policy_clients = int(os.environ.get("STALL_POLICY_CLIENTS", "4"))
    queries = [("virtual_mailbox_maps " + user, "OK"), ("virtual_mailbox_domains " + domain, "OK"),
               ("virtual_alias_maps " + user, "OK")]
    start = time.time()
    until = start + stall_at + stall + tail
    out = mp.Queue()
    procs = [mp.Process(target=socketmap_client, args=(socketmap, queries, until, out)) for _ in range(clients)]
    procs += [mp.Process(target=policy_client, args=(policy, n + 1, until, out)) for n in range(policy_clients)]
    for p in procs:
        p.start()
    time.sleep(stall_at)
    stall_start = time.time()
    done = subprocess.run(["redis-cli", "-s", redis_sock, "DEBUG", "SLEEP", str(stall)], check=True,
                          capture_output=True, text=True)
    if done.stdout.strip() != "OK":
        raise SystemExit("DEBUG SLEEP: " + done.stdout.strip())
    stall_end = time.time()
    collected = [out.get() for _ in procs]
    for p in procs:
        p.join()

    def phase(t0, latency):
        if t0 + latency < stall_start:
            return "before"
        if t0 < stall_end:
            return "during"
        return "after"

    params = "stall_s=%g socketmap_clients=%d policy_clients=%d" % (stall, clients, policy_clients)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    lines = []
    for what in ("socketmap", "policy"):
        rows = [r for w, rs in collected if w == what for r in rs]
        for ph in ("before", "during", "after"):
            sel = [r for r in rows if phase(r[0], r[1]) == ph]
            lat = [r[1] * 1000 for r in sel]
            kinds = {}
            for r in sel:
                kinds[r[2]] = kinds.get(r[2], 0) + 1
            p = "%s phase=%s" % (params, ph)
            metrics = [("count", len(sel), "count"), ("p50", percentile(lat, 0.5), "ms"),
                       ("p99", percentile(lat, 0.99), "ms"), ("max", max(lat) if lat else float("nan"), "ms")]
            metrics += [("answers_" + k, v, "count") for k, v in sorted(kinds.items())]
            for name, value, unit in metrics:
                lines.append("\t".join([stamp, "redis-stall-" + what, "mailbag-redis", p, run, name,
                                        "%.3f" % value if isinstance(value, float) else str(value), unit,
                                        "bench/redis-stall.py"]))
            print("%-9s %-6s n=%-6d p50=%.3f ms p99=%.3f ms max=%.3f ms %s" % (
                what, ph, len(sel), percentile(lat, 0.5), percentile(lat, 0.99),
                max(lat) if lat else float("nan"), " ".join("%s=%d" % kv for kv in sorted(kinds.items()))))
    print("stall measured by redis-cli: %.3f s" % (stall_end - stall_start))
    with open(results, "a") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
