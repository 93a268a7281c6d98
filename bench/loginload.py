#!/usr/bin/env python3
"""loginload.py - Dovecot logins of a chosen set of users, for bench/auth-logins.sh.

The shared kit's tools/authload.py picks users at random with replacement,
in lock-step rounds; issue 20 needs two things it cannot do without a
change to the kit: first logins (distinct users, each at most once, so no
credential cache can serve them) and a cheap lookup timed while logins
run. This tool reuses authload's protocol pieces (imported from the kit:
Conn, handshake, make_request) and adds:

  logins  AUTH PLAIN on auth-client for users u<from>..u<to>@DOMAIN:
          --distinct takes each user at most once (a random order), else
          users are drawn at random with replacement (repeat logins).
          Each of --conc connections keeps --window requests in flight and
          sends the next as soon as a reply comes (no lock-step rounds), so
          one slow verification holds back only its own connection. Bounded
          by --count, the users available (--distinct) and --time-limit;
          after the limit no new request is sent and the ones in flight are
          waited for. Latency percentiles are per login.
  mixed   the logins above run in a child process (this tool's `logins`,
          typically --distinct --conc 8 --window 1) while one auth-master
          connection sends USER lookups one at a time (the cheap lookup an
          imap or lmtp process makes), timed one by one: first for
          --idle-seconds with no logins running, then while the logins run.

Output: one line of key=value pairs (mixed: probe_* and idle_* for the
lookups, login_* for the child's line).

Examples:
  loginload.py --kit ../shared/bench logins --socket RUN/auth-client \\
      --from 1 --to 1000000 --distinct --count 3000 --conc 8 --window 32
  loginload.py --kit ../shared/bench mixed --socket RUN/auth-client \\
      --master RUN/auth-master --from 101 --to 2100 --distinct --conc 8 \\
      --window 1 --time-limit 8 --password benchpass
"""
import argparse
import importlib.util
import os
import random
import resource
import selectors
import subprocess
import sys
import time

DRAIN_SECONDS = 60.0   # how long to wait for the logins in flight at the end


def load_authload(kit):
    """The shared kit's authload module (protocol helpers), by path."""
    path = os.path.join(kit, "tools", "authload.py")
    spec = importlib.util.spec_from_file_location("authload", path)
    if spec is None:
        raise SystemExit("loginload: no authload.py in %s/tools (--kit)" % kit)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pct(sorted_vals, p):
    if not sorted_vals:
        return 0.0
    return sorted_vals[int(p * (len(sorted_vals) - 1) + 0.5)]


def user_numbers(a):
    """The user numbers to log in, in order: distinct or with replacement."""
    rng = random.Random(a.seed)
    available = a.to - a.from_ + 1
    if available < 1:
        raise SystemExit("loginload: empty user range %d..%d" % (a.from_, a.to))
    if a.distinct:
        return iter(rng.sample(range(a.from_, a.to + 1), min(a.count, available)))
    return (rng.randint(a.from_, a.to) for _ in range(a.count))


class LoginConn:
    """One auth-client connection with its requests in flight (id -> start)."""

    def __init__(self, al, path, cpid):
        self.conn = al.Conn(path)
        al.handshake(self.conn, "auth", cpid)
        self.inflight = {}


def run_logins(a):
    al = load_authload(a.kit)
    users = user_numbers(a)
    password = a.password.encode()
    dom = a.domain.encode()
    base_cpid = (os.getpid() & 0x3FFFFF) << 8
    conns = [LoginConn(al, a.socket, base_cpid + i) for i in range(a.conc)]
    sel = selectors.DefaultSelector()
    for c in conns:
        sel.register(c.conn.s, selectors.EVENT_READ, c)
    rid = 0
    sent = ok = 0
    bad = {}
    lat = []
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t_start = time.monotonic()
    deadline = t_start + a.time_limit
    exhausted = False

    def send_next(c):
        nonlocal rid, sent, exhausted
        if exhausted or time.monotonic() >= deadline:
            return
        n = next(users, None)
        if n is None:
            exhausted = True
            return
        rid += 1
        user = b"u%d@%s" % (n, dom)
        c.inflight[rid] = time.monotonic()
        c.conn.s.sendall(al.make_request("auth", rid, user, password, 1024 + rid % 60000))
        sent += 1

    for c in conns:
        for _ in range(a.window):
            send_next(c)
    t_last = t_start
    while any(c.inflight for c in conns):
        if time.monotonic() > deadline + DRAIN_SECONDS:
            break
        for key, _ in sel.select(timeout=1.0):
            c = key.data
            data = c.conn.s.recv(262144)
            if not data:
                raise SystemExit("loginload: the auth server closed a connection")
            c.conn.buf += data
            while b"\n" in c.conn.buf:
                line, c.conn.buf = c.conn.buf.split(b"\n", 1)
                fields = line.split(b"\t", 2)
                if len(fields) < 2 or not fields[1].isdigit() or int(fields[1]) not in c.inflight:
                    continue   # not a reply to one of our requests
                now = time.monotonic()
                lat.append((now - c.inflight.pop(int(fields[1]))) * 1000.0)
                t_last = now
                if fields[0] == b"OK":
                    ok += 1
                else:
                    bad[fields[0]] = bad.get(fields[0], 0) + 1
                    if a.verbose and sum(bad.values()) <= 3:
                        print("unexpected reply:", line[:200], file=sys.stderr)
                send_next(c)
    done = len(lat)
    el = max(t_last - t_start, 1e-9)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru.ru_utime + ru.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    lat.sort()
    fails = ",".join("%s:%d" % (k.decode(errors="replace"), v) for k, v in bad.items()) or "none"
    lost = sent - done
    print(f"op=logins distinct={int(a.distinct)} users={a.from_}..{a.to} conc={a.conc} "
          f"window={a.window} sent={sent} completed={done} ok={ok} failed={done - ok + lost} "
          f"lost={lost} elapsed_s={el:.3f} rps={done / el:.2f} p50_ms={pct(lat, 0.5):.3f} "
          f"p99_ms={pct(lat, 0.99):.3f} max_ms={pct(lat, 1.0):.3f} client_cpu_pct={100 * cpu / el:.1f} "
          f"bad={fails}", flush=True)
    for c in conns:
        c.conn.s.close()
    return 0 if ok == sent and done == sent else 2


def probe_lookups(al, conn, a, rng, seconds, rid0):
    """USER lookups one at a time for SECONDS; returns (latencies_ms, failed)."""
    lat = []
    failed = 0
    rid = rid0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        rid += 1
        user = b"u%d@%s" % (rng.randint(a.from_, a.to), a.domain.encode())
        t0 = time.monotonic()
        conn.send(al.make_request("user", rid, user, b"", 0))
        (line,) = conn.lines(1)
        lat.append((time.monotonic() - t0) * 1000.0)
        if not line.startswith(b"USER\t"):
            failed += 1
    lat.sort()
    return lat, failed


def lookup_keys(prefix, lat, failed, seconds):
    return (f"{prefix}_count={len(lat)} {prefix}_failed={failed} "
            f"{prefix}_rps={len(lat) / seconds:.1f} {prefix}_p50_ms={pct(lat, 0.5):.3f} "
            f"{prefix}_p99_ms={pct(lat, 0.99):.3f} {prefix}_max_ms={pct(lat, 1.0):.3f}")


def run_mixed(a):
    al = load_authload(a.kit)
    rng = random.Random(a.seed + 1000)
    conn = al.Conn(a.master)
    al.handshake(conn, "user", 0)
    idle, idle_failed = probe_lookups(al, conn, a, rng, a.idle_seconds, 0)
    child_args = [sys.executable, os.path.abspath(__file__), "--kit", a.kit, "logins",
                  "--socket", a.socket, "--from", str(a.from_), "--to", str(a.to),
                  "--count", str(a.count), "--conc", str(a.conc), "--window", str(a.window),
                  "--time-limit", str(a.time_limit), "--seed", str(a.seed),
                  "--domain", a.domain, "--password", a.password]
    if a.distinct:
        child_args.append("--distinct")
    child = subprocess.Popen(child_args, stdout=subprocess.PIPE, text=True)
    try:
        # the child's connections and first requests are out by then; stop
        # before its time limit so every probe overlaps running logins
        time.sleep(a.settle)
        busy_s = max(a.time_limit - a.settle - 0.5, 0.5)
        busy, busy_failed = probe_lookups(al, conn, a, rng, busy_s, len(idle))
        out, _ = child.communicate(timeout=a.time_limit + DRAIN_SECONDS + 10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    logins = " ".join("login_" + kv for kv in out.split())
    print(f"op=mixed {lookup_keys('idle', idle, idle_failed, a.idle_seconds)} "
          f"{lookup_keys('probe', busy, busy_failed, busy_s)} {logins}", flush=True)
    return 0 if child.returncode == 0 and busy_failed == 0 and idle_failed == 0 else 2


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kit", required=True, help="the shared bench kit (holds tools/authload.py)")
    sub = ap.add_subparsers(dest="mode", required=True)
    for name in ("logins", "mixed"):
        p = sub.add_parser(name)
        p.add_argument("--socket", required=True, help="auth-client socket")
        p.add_argument("--from", dest="from_", type=int, default=1, help="first user number")
        p.add_argument("--to", type=int, required=True, help="last user number")
        p.add_argument("--distinct", action="store_true", help="each user at most once")
        p.add_argument("--count", type=int, default=1 << 40, help="logins at most")
        p.add_argument("--conc", type=int, default=8)
        p.add_argument("--window", type=int, default=1)
        p.add_argument("--time-limit", type=float, default=10.0)
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--domain", default="bench.test")
        p.add_argument("--password", default="benchpw")
        p.add_argument("-v", "--verbose", action="store_true")
        if name == "mixed":
            p.add_argument("--master", required=True, help="auth-master socket (USER lookups)")
            p.add_argument("--idle-seconds", type=float, default=1.0)
            p.add_argument("--settle", type=float, default=0.5,
                           help="seconds between starting the logins and the first timed lookup")
    a = ap.parse_args()
    return run_logins(a) if a.mode == "logins" else run_mixed(a)


if __name__ == "__main__":
    sys.exit(main())
