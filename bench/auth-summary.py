#!/usr/bin/env python3
"""auth-summary.py RESULTS.tsv [OURS] [PEER] - issue 20's tables from one auth run.

Reads the rows bench/bench-auth.sh leaves (the shared kit's bench-auth.sh
and bench/auth-logins.sh, one file) and prints, as Markdown, the medians
over the runs of OURS (default mailbag) and PEER (default passwd-file)
and their ratio, with issue 20's goals marked:

  lookups and logins (the kit): auth, pass, user per second; pass and user
      at least the peer's (ratio >= 1)
  SHA512-CRYPT logins: repeat (ratio >= 10) and first (ratio >= 1)
  Argon2id at mailbag's default cost: first and repeat logins per second
      at 1 and 8 clients; USER lookup p50/p99, idle and while 8 clients
      make first logins
  memory: the auth process (the kit's RSS after its runs; RSS, its
      anonymous part and peak after the login loads) and the auth-worker
      processes
"""
import csv
import statistics
import sys
from collections import defaultdict


def load(path):
    values = defaultdict(list)
    with open(path) as f:
        for row in csv.reader(f, delimiter="\t"):
            if len(row) < 8 or row[0] == "time" or row[1] != "auth":
                continue
            try:
                values[(row[2], row[3], row[5])].append(float(row[6]))
            except ValueError:
                continue
    return values


class Table:
    def __init__(self, values, ours, peer):
        self.values, self.ours, self.peer = values, ours, peer

    def median(self, target, params, metric):
        v = self.values.get((target, params, metric))
        return statistics.median(v) if v else None

    def runs(self, target, params, metric):
        return len(self.values.get((target, params, metric), ()))

    def pair(self, params, metric):
        return (self.median(self.peer, params, metric), self.median(self.ours, params, metric))

    def params_like(self, **want):
        """Every params string of the file whose key=value pairs include WANT."""
        found = set()
        for (_, params, _) in self.values:
            kv = dict(tok.split("=", 1) for tok in params.split() if "=" in tok)
            if all(kv.get(k) == v for k, v in want.items()):
                found.add(params)
        return found


def num(x, digits=None):
    if x is None:
        return "-"
    if digits is None:
        digits = 0 if abs(x) >= 100 else (1 if abs(x) >= 10 else 2)
    return f"{x:,.{digits}f}"


def ratio(peer, ours, goal=None, lower_is_better=False):
    if peer is None or ours is None or peer == 0:
        return "-"
    r = ours / peer
    text = f"{r:.2f}"
    if goal is not None:
        met = r <= goal if lower_is_better else r >= goal
        text += " (goal %s %g: %s)" % ("<=" if lower_is_better else ">=", goal, "met" if met else "NOT met")
    return text


def user_counts(t, scheme):
    counts = {int(dict(tok.split("=", 1) for tok in p.split())["users"])
              for p in t.params_like(scheme=scheme)}
    return sorted(counts)


def kit_table(t):
    print("### Lookups and logins (the shared kit's bench-auth.sh, 8 connections x 32 pipelined)\n")
    print(f"| users | op | {t.peer} /s | {t.ours} /s | ratio |")
    print("|---|---|---|---|---|")
    for users in user_counts(t, "SHA512-CRYPT"):
        for op, goal in (("auth", None), ("pass", 1), ("user", 1)):
            p = f"users={users} scheme=SHA512-CRYPT op={op}"
            peer, ours = t.pair(p, "rps")
            if peer is None and ours is None:
                continue
            print(f"| {users:,} | {op} | {num(peer)} | {num(ours)} | {ratio(peer, ours, goal)} |")
    print()


def sha512_table(t):
    rows = []
    for users in user_counts(t, "SHA512-CRYPT"):
        rep = t.params_like(users=str(users), scheme="SHA512-CRYPT", op="repeat")
        first = t.params_like(users=str(users), scheme="SHA512-CRYPT", op="first")
        if rep or first:
            rows.append((users, next(iter(rep), None), next(iter(first), None)))
    if not rows:
        return
    print("### SHA512-CRYPT logins/s (repeat: u1..u100 again and again after a warm-up; "
          "first: distinct users, each once, fresh Dovecot)\n")
    print(f"| users | repeat {t.peer} | repeat {t.ours} | ratio | first {t.peer} | first {t.ours} | ratio |")
    print("|---|---|---|---|---|---|---|")
    for users, rep, first in rows:
        rp, ro = t.pair(rep, "rps") if rep else (None, None)
        fp, fo = t.pair(first, "rps") if first else (None, None)
        print(f"| {users:,} | {num(rp)} | {num(ro)} | {ratio(rp, ro, 10)} | "
              f"{num(fp)} | {num(fo)} | {ratio(fp, fo, 1)} |")
    print()


def argon_tables(t):
    users = user_counts(t, "ARGON2ID")
    if not users:
        return
    base = f"users={users[0]} scheme=ARGON2ID"
    print(f"### Argon2id at mailbag's default cost ({users[0]:,} users, one login in flight per client)\n")
    print(f"| logins | clients | {t.peer} /s | {t.ours} /s | ratio | p99 ms {t.peer} / {t.ours} |")
    print("|---|---|---|---|---|---|")
    for op in ("first", "repeat"):
        for conc in (1, 8):
            p = f"{base} op={op} conc={conc}"
            peer, ours = t.pair(p, "rps")
            p99p, p99o = t.pair(p, "p99")
            print(f"| {op} | {conc} | {num(peer)} | {num(ours)} | {ratio(peer, ours)} | "
                  f"{num(p99p, 1)} / {num(p99o, 1)} |")
    p = f"{base} op=first-beside-lookups conc=8"
    peer, ours = t.pair(p, "rps")
    print(f"| first, beside the lookups below | 8 | {num(peer)} | {num(ours)} | {ratio(peer, ours)} | |")
    print()
    print("USER lookups on auth-master, 1 client, 1 at a time (ms):\n")
    print(f"| while | p50 {t.peer} | p50 {t.ours} | p99 {t.peer} | p99 {t.ours} | p99 ratio | max {t.peer} / {t.ours} |")
    print("|---|---|---|---|---|---|---|")
    for during, label in (("idle", "nothing else"), ("8-first-logins", "8 clients make Argon2id first logins")):
        p = f"{base} op=user-lookup during={during}"
        p50p, p50o = t.pair(p, "p50")
        p99p, p99o = t.pair(p, "p99")
        mxp, mxo = t.pair(p, "max")
        print(f"| {label} | {num(p50p, 3)} | {num(p50o, 3)} | {num(p99p, 3)} | {num(p99o, 3)} | "
              f"{ratio(p99p, p99o, lower_is_better=True)} | {num(mxp, 1)} / {num(mxo, 1)} |")
    print()


def memory_table(t):
    print("### Memory (MiB): the auth process and the auth-worker processes\n")
    print("| users | scheme | when | target | auth RSS | auth anon | auth peak | workers | workers' RSS | workers' anon | largest worker peak |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for scheme in ("SHA512-CRYPT", "ARGON2ID"):
        for users in user_counts(t, scheme):
            base = f"users={users} scheme={scheme}"
            whens = [("after the kit's runs", base)]
            for at in ("repeat", "first", "during-mixed", "end"):
                whens.append((f"after {at} logins" if at not in ("during-mixed", "end") else
                              {"during-mixed": "during the mixed load", "end": "after the Argon2id loads"}[at],
                              f"{base} at={at}"))
            for when, p in whens:
                for target in (t.peer, t.ours):
                    rss = t.median(target, p, "auth_rss")
                    if rss is None:
                        continue
                    n = t.median(target, p, "worker_count")
                    print(f"| {users:,} | {scheme} | {when} | {target} | {num(rss, 1)} | "
                          f"{num(t.median(target, p, 'auth_anon'), 1)} | "
                          f"{num(t.median(target, p, 'auth_hwm'), 1)} | {num(n, 0)} | "
                          f"{num(t.median(target, p, 'worker_rss'), 1)} | "
                          f"{num(t.median(target, p, 'worker_anon'), 1)} | "
                          f"{num(t.median(target, p, 'worker_hwm'), 1)} |")
    print()


def failures(t):
    bad = [(target, params, sum(v)) for (target, params, metric), v in t.values.items()
           if metric == "failed" and sum(v) > 0]
    if bad:
        print("Failed requests (sum over runs): " +
              "; ".join(f"{target} {params}: {int(n)}" for target, params, n in sorted(bad)) + "\n")
    else:
        print("No request failed.\n")


def main():
    if len(sys.argv) < 2:
        raise SystemExit("usage: auth-summary.py RESULTS.tsv [OURS] [PEER]")
    ours = sys.argv[2] if len(sys.argv) > 2 else "mailbag"
    peer = sys.argv[3] if len(sys.argv) > 3 else "passwd-file"
    t = Table(load(sys.argv[1]), ours, peer)
    kit_table(t)
    sha512_table(t)
    argon_tables(t)
    memory_table(t)
    failures(t)


if __name__ == "__main__":
    main()
