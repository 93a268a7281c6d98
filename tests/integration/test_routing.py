"""The Exim seed's routing lists, done by mailbag against the real Postfix
and Dovecot: global aliases (postmaster@ and abuse@ of every domain, a
domain's own address first, the context's postmaster default when there
is neither), relay domains (backup MX: accepted from outside, queued
while the primary is down and sent on when it is up, never delivered
here; with a recipient list only the listed ones) and relay networks
(clients that relay without logging in, DKIM-signed like a submission;
any other source address is refused). Every change is made with
`mailbag` while Postfix and policyd run: live with no reload.

Everything made here is taken away at the end, so the other tests of a
session see the stack as it was."""

import email
import json
import smtplib
import time

import pytest

from helpers import add_user, messages_with
from mailstack import SmtpSink, free_port
from test_milter import dns_records, dnsfunc_for, verifies

G1, G2 = "g1.routing.test", "g2.routing.test"
BOSS = "boss@" + G1          # the global aliases' target
OWN = "own@" + G2            # G2's own postmaster, when it has one
RELAY_NET = "127.0.0.4"      # the "container" that relays without a login
OTHER_SOURCE = "127.0.0.3"   # an address in no relay network


def wait_until(check, timeout, what, flush=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if flush:
            flush()
        got = check()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError("timed out waiting for " + what)


def send_from(stack, source, sender, rcpts, subject, headers_from=None):
    """One message from an outside client at loopback address source."""
    msgid = "<%s.%f@remote.test>" % (subject, time.time())
    body = ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\n"
            "Date: Wed, 02 Dec 2026 02:00:00 +0000\r\n\r\nbody of %s\r\n"
            % (headers_from or sender, ", ".join(rcpts), subject, msgid, subject))
    with smtplib.SMTP("127.0.0.1", stack.ports["smtp"], timeout=60,
                      source_address=(source, 0)) as s:
        s.ehlo("client.remote.test")
        s.sendmail(sender, rcpts, body)
    return msgid


def rcpt_from(stack, source, rcpt, sender="someone@remote.test"):
    with smtplib.SMTP("127.0.0.1", stack.ports["smtp"], timeout=30,
                      source_address=(source, 0)) as s:
        s.ehlo("client.remote.test")
        s.mail(sender)
        return s.rcpt(rcpt)


def landed(stack, address, msgid):
    return wait_until(lambda: messages_with(stack, address, msgid), 30,
                      "%s in %s's mailbox; maillog:\n%s" % (msgid, address, stack.read_maillog()[-3000:]),
                      flush=stack.flush_queue)


def ok(stack, *args):
    out = stack.mailbag(*args)
    assert out.returncode == 0, (args, out.stderr)
    return out


@pytest.fixture(scope="module")
def world(stack):
    for d in (G1, G2):
        ok(stack, "domain", "add", d)
    add_user(stack, BOSS, "boss-password-123")
    add_user(stack, OWN, "own-password-123")
    ok(stack, "alias", "add", "--global", "postmaster", BOSS)
    ok(stack, "alias", "add", "--global", "abuse", BOSS)
    yield stack
    stack.mailbag("alias", "del", "--global", "postmaster")
    stack.mailbag("alias", "del", "--global", "abuse")
    for relay in ("backup.routing.test", "listed.routing.test"):
        stack.mailbag("relay", "domain", "del", relay)
    stack.mailbag("relay", "network", "del", RELAY_NET)
    for d in (G1, G2):
        stack.mailbag("domain", "del", "--force", d)


def test_global_aliases_reach_their_target_in_every_domain(world):
    stack = world
    listing = ok(stack, "alias", "list", "--global").stdout
    assert "postmaster@* -> " + BOSS in listing and "abuse@* -> " + BOSS in listing
    ids = [send_from(stack, "127.0.0.2", "someone@remote.test", [rcpt], "global-%d" % i)
           for i, rcpt in enumerate(["postmaster@" + G1, "abuse@" + G1, "postmaster@" + G2,
                                     "abuse@" + G2])]
    for msgid in ids:
        landed(stack, BOSS, msgid)
    # an address no list names is still unknown
    code, _ = rcpt_from(stack, "127.0.0.2", "hostmaster@" + G2)
    assert code == 550


def test_a_domains_own_postmaster_comes_before_the_global_one(world):
    stack = world
    ok(stack, "alias", "add", "postmaster@" + G2, OWN)
    try:
        msgid = send_from(stack, "127.0.0.2", "someone@remote.test", ["postmaster@" + G2], "own-pm")
        landed(stack, OWN, msgid)
        assert not messages_with(stack, BOSS, msgid)
        # the other domain still has the global one
        msgid = send_from(stack, "127.0.0.2", "someone@remote.test", ["postmaster@" + G1], "global-pm")
        landed(stack, BOSS, msgid)
    finally:
        ok(stack, "alias", "del", "postmaster@" + G2)


def test_postmaster_default_with_no_alias_at_all(world):
    stack = world
    with open(stack.context) as f:
        written = json.load(f).get("postmaster")
    # what `mailbag init` (and so setup) writes: the host's root
    assert written == ["root@" + stack.hostname]
    ok(stack, "alias", "del", "--global", "postmaster")
    try:
        code, _ = rcpt_from(stack, "127.0.0.2", "postmaster@" + G1)
        assert code == 250, "no alias: the default takes it"
        stack.update_context({"postmaster": []})
        code, _ = rcpt_from(stack, "127.0.0.2", "postmaster@" + G1)
        assert code == 550, "no alias and no default: unknown"
        stack.update_context({"postmaster": [OWN]})
        listing = ok(stack, "alias", "list", "--global").stdout
        assert "postmaster@* -> " + OWN in listing and "context key postmaster" in listing
        msgid = send_from(stack, "127.0.0.2", "someone@remote.test", ["postmaster@" + G1], "default-pm")
        landed(stack, OWN, msgid)
    finally:
        stack.update_context({"postmaster": written})
        ok(stack, "alias", "add", "--global", "postmaster", BOSS)


def test_relay_domain_is_queued_until_its_primary_is_up(world):
    stack = world
    port = free_port()                # nothing listens there yet: the primary is down
    relay = "backup.routing.test"
    ok(stack, "relay", "domain", "add", relay, "--next-hop", "127.0.0.1:%d" % port)
    assert "%s -> [127.0.0.1]:%d, any recipient" % (relay, port) in \
        ok(stack, "relay", "domain", "list").stdout
    before = len(stack.sink.messages)
    msgid = send_from(stack, "127.0.0.2", "someone@remote.test", ["anyone@" + relay], "backup-mx")
    wait_until(lambda: "to=<anyone@%s>" % relay in stack.read_maillog() and
               "status=deferred" in stack.read_maillog(), 30, "the deferral")
    primary = SmtpSink(port)
    primary.start()
    try:
        got = wait_until(lambda: [m for m in primary.messages if msgid.encode() in m[2]], 30,
                         "the relayed message at the primary; maillog:\n" + stack.read_maillog()[-3000:],
                         flush=stack.flush_queue)
        assert got[0][1] == ["anyone@" + relay]
        assert got[0][0].strip("<>") == "someone@remote.test"
    finally:
        primary.stop()
    # never delivered here, nor to the outside relayhost
    assert not any(msgid.encode() in m[2] for m in stack.sink.messages[before:])
    sent = [line for line in stack.read_maillog().splitlines()
            if "anyone@" + relay in line and "status=sent" in line]
    assert sent and "relay=127.0.0.1[127.0.0.1]:%d" % port in sent[0], sent


def test_relay_domain_with_recipient_list(world):
    stack = world
    port = free_port()
    primary = SmtpSink(port)
    primary.start()
    relay = "listed.routing.test"
    try:
        ok(stack, "relay", "domain", "add", relay, "--recipient", "ok@" + relay,
           "--next-hop", "127.0.0.1:%d" % port)
        code, _ = rcpt_from(stack, "127.0.0.2", "nope@" + relay)
        assert code == 550
        msgid = send_from(stack, "127.0.0.2", "someone@remote.test", ["ok@" + relay], "listed")
        wait_until(lambda: [m for m in primary.messages if msgid.encode() in m[2]], 30,
                   "the listed recipient's message at the primary", flush=stack.flush_queue)
        # a recipient added later is accepted at once
        ok(stack, "relay", "domain", "add", relay, "--recipient", "nope@" + relay)
        assert rcpt_from(stack, "127.0.0.2", "nope@" + relay)[0] == 250
    finally:
        primary.stop()


def test_relay_domain_and_served_domain_exclude_each_other(world):
    stack = world
    out = stack.mailbag("relay", "domain", "add", G1)
    assert out.returncode != 0 and G1 in out.stderr and "mailbox domain" in out.stderr
    ok(stack, "relay", "domain", "add", "backup.routing.test")
    out = stack.mailbag("domain", "add", "backup.routing.test")
    assert out.returncode != 0 and "relay domain" in out.stderr
    out = stack.mailbag("alias", "add", "@backup.routing.test", "@" + G1)
    assert out.returncode == 65 and "relay domain" in out.stderr
    out = stack.mailbag("relay", "domain", "add", "x.routing.test", "--next-hop", "[::1")
    assert out.returncode == 65 and "--next-hop '[::1'" in out.stderr
    out = stack.mailbag("relay", "network", "add", "127.0.0.9/8")
    assert out.returncode == 65 and "127.0.0.9/8" in out.stderr


def test_relay_networks_relay_without_login_and_nothing_else_does(world):
    stack = world
    ok(stack, "dkim", "keygen", "--selector", "r1", G1)
    outside = "friend@far.routing.test"
    code, text = rcpt_from(stack, RELAY_NET, outside, sender=BOSS)
    assert code == 554 and b"Relay access denied" in text, "not listed yet"
    ok(stack, "relay", "network", "add", RELAY_NET)
    assert RELAY_NET in ok(stack, "relay", "network", "list").stdout
    before = len(stack.sink.messages)
    msgid = send_from(stack, RELAY_NET, BOSS, [outside], "container")
    got = wait_until(lambda: [m for m in stack.sink.messages[before:] if msgid.encode() in m[2]], 30,
                     "the relayed message at the sink; maillog:\n" + stack.read_maillog()[-3000:],
                     flush=stack.flush_queue)
    assert got[0][1] == [outside]
    raw = got[0][2]
    sigs = email.message_from_bytes(raw).get_all("DKIM-Signature") or []
    assert any("d=" + G1 in s.replace(" ", "") for s in sigs), raw.decode(errors="replace")
    dns = dnsfunc_for(dns_records(stack, G1))
    assert any(verifies(raw, i, dns) for i in range(len(sigs)))
    # any other source address is refused, whatever it claims
    code, text = rcpt_from(stack, OTHER_SOURCE, outside, sender=BOSS)
    assert code == 554 and b"Relay access denied" in text
    # and taking the network off is live at once too
    ok(stack, "relay", "network", "del", RELAY_NET)
    code, _ = rcpt_from(stack, RELAY_NET, outside, sender=BOSS)
    assert code == 554


def test_routing_records_on_redis_are_live_through_the_read_cache(redis_stack):
    """On a Redis store the daemons keep a read cache that Redis
    invalidates: a routing record added or taken away after a lookup
    cached its absence is seen at once all the same."""
    stack = redis_stack
    domain, relay = "r.routing.test", "rr.routing.test"
    target = "rb@" + domain
    outside = "friend@far.routing.test"

    def answers(source, rcpt, code, sender="someone@remote.test"):
        last = []

        def got():
            last[:] = [rcpt_from(stack, source, rcpt, sender=sender)]
            return last[0][0] == code
        try:
            return wait_until(got, 30, "%s from %s to get %d" % (rcpt, source, code))
        except AssertionError as e:
            raise AssertionError("%s; the last answer: %r" % (e, last))

    ok(stack, "domain", "add", domain)
    add_user(stack, target, "rb-password-123")
    try:
        # each absence looked up (and cached) first
        assert rcpt_from(stack, "127.0.0.2", "abuse@" + domain)[0] == 550
        assert rcpt_from(stack, "127.0.0.2", "x@" + relay)[0] == 554
        assert rcpt_from(stack, RELAY_NET, outside, sender=target)[0] == 554
        ok(stack, "alias", "add", "--global", "abuse", target)
        ok(stack, "relay", "domain", "add", relay, "--recipient", "x@" + relay)
        ok(stack, "relay", "network", "add", RELAY_NET)
        answers("127.0.0.2", "abuse@" + domain, 250)
        answers("127.0.0.2", "x@" + relay, 250)
        answers("127.0.0.2", "y@" + relay, 550)
        answers(RELAY_NET, outside, 250, sender=target)
        ok(stack, "relay", "network", "del", RELAY_NET)
        answers(RELAY_NET, outside, 554, sender=target)
    finally:
        stack.mailbag("alias", "del", "--global", "abuse")
        stack.mailbag("relay", "domain", "del", relay)
        stack.mailbag("relay", "network", "del", RELAY_NET)
        stack.mailbag("domain", "del", "--force", domain)
