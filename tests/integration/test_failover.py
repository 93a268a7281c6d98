"""Redis through a failover: a private mail server whose store is a
Sentinel location (a master, a replica, three sentinels on loopback, see
sentinelset.py). The master is SIGKILLed while several hundred messages
go through SMTP with a shared rate limit on: nothing is lost or
delivered twice, the sender sees no 5xx (every refusal is a 4xx), the
daemons and the Dovecot driver find the new master without a restart,
the rate limit loses at most one window of counts, and the killed master
comes back as a replica without breaking anything."""

import imaplib
import os
import shutil
import smtplib
import tempfile
import time

import pytest

from conftest import BUILD, TEST_AUTH_SETTINGS, new_domain, wait_until
from failover_run import Run, delivered_or_bounced, fresh_smtpd_per_session, message_ids
from helpers import add_user
import mailstack
from sentinelset import SentinelSet

MESSAGES = 400          # the main run: each must arrive exactly once
FLOOD_ATTEMPTS = 100    # from the rate-limited sender domain, beside them
FLOOD_LIMIT = 50        # recipients per day from one sender domain
SENDER_DOMAINS = 40     # the main run's sender domains: 10 messages each
KILL_AFTER = 100        # accepted messages before the master is killed


@pytest.fixture(scope="module")
def failover_stack():
    if os.geteuid() != 0:
        pytest.fail("the integration tests run Postfix and Dovecot and need root")
    root = tempfile.mkdtemp(prefix="mailbag-failover-test-")
    os.chmod(root, 0o755)
    redis_set = SentinelSet(root).start()
    s = mailstack.MailStack(root,
                            os.environ.get("MAILBAG_MAILBAG_BIN", os.path.join(BUILD, "cli", "mailbag")),
                            os.environ.get("MAILBAG_POLICYD_BIN",
                                           os.path.join(BUILD, "policyd", "mailbag-policyd")),
                            os.path.join(BUILD, "dovecot-plugin", "libauthdb_mailbag.so"),
                            store=redis_set.location)
    s.redis_set = redis_set
    try:
        s.start()
        fresh_smtpd_per_session(s)
        s.update_context({"auth": TEST_AUTH_SETTINGS,
                          "rate_limits": [{"name": "flood", "key": "sender_domain",
                                           "count": "recipients", "per": "day",
                                           "limit": FLOOD_LIMIT}]})
        yield s
    finally:
        s.stop()
        redis_set.stop()
        if os.environ.get("MAILBAG_KEEP_TEST_DIR"):
            print("test directory kept:", root)
        else:
            shutil.rmtree(root, ignore_errors=True)


def imap_answer(stack, user, password):
    """('OK', None) or ('NO', the server's text) for a login now."""
    im = imaplib.IMAP4("127.0.0.1", stack.ports["imap"])
    try:
        im.login(user, password)
        im.logout()
        return "OK", None
    except imaplib.IMAP4.error as e:
        im.shutdown()
        return "NO", str(e)


def test_master_killed_during_a_run(failover_stack):
    stack, redis_set = failover_stack, failover_stack.redis_set
    domain = new_domain(stack)
    users = ["u%d@%s" % (i, domain) for i in range(10)]
    passwords = {u: add_user(stack, u) for u in users}
    pids = (stack.policyd_proc.pid, stack.lmtpd_proc.pid)

    started = time.time()
    run = Run([("127.0.0.1", stack.ports["smtp"])], users, MESSAGES, MESSAGES // FLOOD_ATTEMPTS,
              SENDER_DOMAINS)
    run.start()
    wait_until(lambda: len(run.accepted) >= KILL_AFTER, timeout=60, what="the run to get going")
    old = redis_set.master
    killed_at = time.time()
    old.kill()

    # during the switch: the command says the store is away (EX_TEMPFAIL),
    # naming it without its password; a login is a temporary failure,
    # never a wrong password
    proc = stack.mailbag("domain", "add", "during-failover.example")
    assert proc.returncode == 75, (proc.returncode, proc.stdout, proc.stderr)
    assert "Redis master mailbag" in proc.stderr and redis_set.password not in proc.stderr, proc.stderr
    answer, text = imap_answer(stack, users[0], passwords[users[0]])
    assert answer == "OK" or "UNAVAILABLE" in text or "Temporary" in text, text

    new = redis_set.wait_for_new_master(old)
    switched_in = time.time() - killed_at
    run.join(timeout=120)
    sent_in = time.time() - started

    # every message of the main run is in a mailbox exactly once
    expected = set(run.accepted)
    assert len(expected) == MESSAGES and not run.permanent, run.permanent[:5]
    found = wait_until(lambda: delivered_or_bounced(stack, [stack], users, expected),
                       timeout=90, what="every accepted message to be delivered")
    delivered_in = time.time() - started
    doubled = [m for m, n in found.items() if n > 1]
    assert doubled == [], doubled[:5]
    # every refusal the senders saw was temporary
    assert all(400 <= code < 500 for code in run.temporary), run.temporary
    # the rate limit held across the switch: at most one window of
    # counts lost (the replica's copy may lag the dead master's)
    assert len(run.flood_accepted) <= 2 * FLOOD_LIMIT, len(run.flood_accepted)
    assert run.flood_limited > 0, "the flood sender was never limited"
    print("failover in %.1fs; all sent in %.1fs, delivered in %.1fs; temporary refusals %s; "
          "lost connections %d; flood accepted %d, limited %d"
          % (switched_in, sent_in, delivered_in, dict(run.temporary), run.lost_connections,
             len(run.flood_accepted), run.flood_limited))

    # the same daemons serve on the new master: nothing was restarted
    assert stack.policyd_proc.poll() is None and stack.lmtpd_proc.poll() is None
    assert (stack.policyd_proc.pid, stack.lmtpd_proc.pid) == pids
    assert imap_answer(stack, users[1], passwords[users[1]]) == ("OK", None)
    stack.mailbag("domain", "add", "after-failover.example", check=True)
    assert new.command("HEXISTS", "mailbag:domains", "after-failover.example") == 1

    # the old master comes back as it was started (a master, stale):
    # the sentinels make it a replica of the new one, and nothing breaks
    old.start()
    wait_until(lambda: old.role() == "slave" and
               "master_link_status:up" in old.command("INFO", "replication"),
               timeout=30, what="the old master to become a replica")
    assert redis_set.current_master() is new
    late = ["<late-%d@failover.test>" % i for i in range(20)]
    for i, msgid in enumerate(late):
        with smtplib.SMTP("127.0.0.1", stack.ports["smtp"], timeout=30) as s:
            s.sendmail("late@sender%d.test" % i, [users[i % len(users)]],
                       "From: late@x.test\r\nMessage-ID: %s\r\n\r\nlate\r\n" % msgid)
    wait_until(lambda: set(late) <= set(message_ids(stack, users)), timeout=60,
               what="the late messages to be delivered")
    assert imap_answer(stack, users[2], passwords[users[2]]) == ("OK", None)
    # the change made after the switch reached the returned node too
    wait_until(lambda: old.command("HEXISTS", "mailbag:domains", "after-failover.example") == 1,
               timeout=10, what="the change to reach the old master")

    # no password in any log
    logs = [stack.policyd_log, stack.lmtpd_log]
    text = "".join(open(p).read() for p in logs) + stack.dovecot_log()
    assert redis_set.password not in text and redis_set.sentinel_password not in text
