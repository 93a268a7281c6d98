"""Redis through a failover, the issue's full case: two MX nodes (a and
b of tests/integration/nodes.py, each its own host in a network
namespace) take a run of messages for users whose mailboxes are on node
c, all three on one Redis set through a Sentinel location, while the
master is SIGKILLed. Nothing is lost or delivered twice (by Message-ID in
c's mailboxes), the senders see no 5xx, the rate limit the two MX share
holds within one window, and every node works on the new master and
after the old one is back as a replica, without a restart."""

import time

from conftest import wait_until
from failover_run import Run, delivered_or_bounced, fresh_smtpd_per_session, message_ids
from helpers import add_user

NODES_STORE = "sentinel"

MESSAGES = 2000
FLOOD_EVERY = 20        # one flood message per 20: 100 attempts
FLOOD_LIMIT = 50        # recipients per day from one sender domain, over both MX
SENDER_DOMAINS = 100    # 20 messages from each: under the limit
KILL_AFTER = 400


def test_master_killed_during_a_run_through_two_mx(nodes):
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    domain = "fo-%d.example" % time.time_ns()
    a.mailbag("domain", "add", domain, check=True)
    users = ["u%d@%s" % (i, domain) for i in range(10)]
    passwords = {}
    for u in users:
        passwords[u] = add_user(a, u)
        a.mailbag("user", "node", u, "c", check=True)
    limit = [{"name": "flood", "key": "sender_domain", "count": "recipients", "per": "day",
              "limit": FLOOD_LIMIT}]
    for mx in (a, b):
        mx.update_context({"rate_limits": limit})
        fresh_smtpd_per_session(mx, mx.run)
    pids = {n.name: (n.policyd_proc.pid, n.lmtpd_proc.pid) for n in (a, b, c)}

    started = time.time()
    run = Run([(a.address, a.ports["smtp"]), (b.address, b.ports["smtp"])], users, MESSAGES,
              FLOOD_EVERY, SENDER_DOMAINS, threads=6)
    run.start()
    wait_until(lambda: len(run.accepted) >= KILL_AFTER, timeout=120, what="the run to get going")
    killed_at = time.time()
    old = nodes.redis.kill_master()
    nodes.redis.wait_failover(old)
    switched_in = time.time() - killed_at
    run.join(timeout=240)
    sent_in = time.time() - started

    expected = set(run.accepted)
    assert len(expected) == MESSAGES and not run.permanent, run.permanent[:5]
    found = wait_until(lambda: delivered_or_bounced(c, (a, b), users, expected),
                       timeout=120, what="every accepted message to reach node c")
    delivered_in = time.time() - started
    doubled = [m for m, n in found.items() if n > 1]
    assert doubled == [], doubled[:5]
    assert all(400 <= code < 500 for code in run.temporary), run.temporary
    # the MX nodes have no mailbox of these users
    for mx in (a, b):
        assert not message_ids(mx, users)
    # two policyds, one counter: at most one window of counts lost
    assert len(run.flood_accepted) <= 2 * FLOOD_LIMIT, len(run.flood_accepted)
    assert run.flood_limited > 0
    print("two MX, %d messages: failover in %.1fs; all sent in %.1fs, delivered in %.1fs; "
          "temporary refusals %s; lost connections %d; flood accepted %d, limited %d"
          % (MESSAGES, switched_in, sent_in, delivered_in, dict(run.temporary),
             run.lost_connections, len(run.flood_accepted), run.flood_limited))

    # nothing was restarted; IMAP on c (the Dovecot driver) on the new master
    for n in (a, b, c):
        assert n.policyd_proc.poll() is None and n.lmtpd_proc.poll() is None
        assert (n.policyd_proc.pid, n.lmtpd_proc.pid) == pids[n.name]
    im = c.imap()
    im.login(users[0], passwords[users[0]])
    im.logout()

    # the old master back as a replica: mail still flows on every MX
    nodes.redis.restart_as_replica(old)
    late = [a.send([users[1]], "late on a"), b.send([users[2]], "late on b")]
    wait_until(lambda: set(late) <= {m.strip() for m in message_ids(c, users)}, timeout=60,
               what="mail after the old master's return")
