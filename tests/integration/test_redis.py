"""The Redis store: several nodes, one set of users and counters.

A second private mail server (real Postfix, Dovecot, mailbag-policyd) runs
on a real redis-server with a password. Mail, IMAP logins and policy
counters go through Redis; a second mailbag-policyd on the same Redis
stands for a second MX node; Redis is stopped and started mid-test."""

import json
import os
import shutil
import subprocess
import threading
import time

import pytest

from conftest import new_domain, wait_until
from helpers import (add_user, imap_login, login_from, messages_with, netstring, policy_query,
                     rcpt_replies, send, send_until_accepted, socketmap_query)


@pytest.fixture
def rdomain(redis_stack):
    return new_domain(redis_stack)


@pytest.fixture
def second_node(redis_stack):
    """Another mailbag-policyd on the same Redis, with its own sockets."""
    node_dir = os.path.join(redis_stack.root, "node2")
    os.makedirs(node_dir, exist_ok=True)
    shutil.chown(node_dir, "mailbag")
    context = os.path.join(node_dir, "context.json")
    with open(redis_stack.context) as f:
        ctx = json.load(f)
    ctx["policyd"] = dict(ctx["policyd"], socketmap_socket=os.path.join(node_dir, "socketmap"),
                          policy_socket=os.path.join(node_dir, "policy"),
                          usage_socket=os.path.join(node_dir, "usage"))
    # the file holds the Redis password: closed to others, as init makes it
    fd = os.open(context, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w") as f:
        json.dump(ctx, f)
    # ... and readable by the daemons' group: policyd rereads it on SIGHUP
    # after it has dropped root
    shutil.chown(context, group="mailbag")
    proc = redis_stack.spawn_policyd(context, os.path.join(node_dir, "policyd.log"))
    proc.context = context
    proc.policy_socket = ctx["policyd"]["policy_socket"]
    proc.socketmap = ctx["policyd"]["socketmap_socket"]
    proc.log = os.path.join(node_dir, "policyd.log")
    yield proc
    proc.terminate()
    proc.wait(10)


def rcpt_request(recipient):
    return {"request": "smtpd_access_policy", "protocol_state": "RCPT",
            "client_address": "127.0.0.1", "client_name": "localhost",
            "sender": "someone@remote.test", "recipient": recipient, "instance": "node2.1"}


def test_redis_store_serves_mail_and_imap(redis_stack, rdomain):
    user = "ann@" + rdomain
    password = add_user(redis_stack, user)
    msgid = send(redis_stack, [user], "through redis")
    wait_until(lambda: messages_with(redis_stack, user, msgid), what="delivery via the Redis store")
    imap_login(redis_stack, user, password).logout()
    assert "s3cret" not in open(redis_stack.policyd_log).read()
    assert redis_stack.redis.password not in open(redis_stack.policyd_log).read()
    assert redis_stack.redis.password not in redis_stack.dovecot_log()


def test_two_policyds_share_one_rate_limit(redis_stack, rdomain, second_node):
    users = ["s%d@%s" % (i, rdomain) for i in range(5)]
    for u in users:
        add_user(redis_stack, u)
    limit = [{"name": "shared", "key": "client_address", "count": "recipients",
              "per": "hour", "limit": 3}]
    redis_stack.update_context({"rate_limits": limit})
    with open(second_node.context) as f:
        ctx = json.load(f)
    ctx["rate_limits"] = limit
    with open(second_node.context, "w") as f:
        json.dump(ctx, f)
    second_node.send_signal(1)  # SIGHUP
    wait_until(lambda: "reloaded" in open(second_node.log).read(), what="node 2 to reload")
    try:
        # node 1 (Postfix's policyd) counts two, node 2 one: three in all
        assert [c for c, _ in rcpt_replies(redis_stack, users[:2])] == [250, 250]
        assert policy_query(second_node.policy_socket, rcpt_request(users[2])) == "action=DUNNO\n\n"
        # the fourth is over the shared limit, on either node
        [(code, text)] = rcpt_replies(redis_stack, users[3:4])
        assert code == 450 and b'Rate limit "shared"' in text, (code, text)
        reply = policy_query(second_node.policy_socket, rcpt_request(users[4]))
        assert reply.startswith('action=450 4.7.1 Rate limit "shared"'), reply
    finally:
        redis_stack.update_context({"rate_limits": None})


def test_redis_stopped_and_started_mid_test(redis_stack, rdomain, second_node):
    user = "bob@" + rdomain
    add_user(redis_stack, user)
    redis_stack.redis.stop()
    try:
        # every answer is temporary: Postfix says 4xx, never 5xx, never 250
        [(code, text)] = rcpt_replies(redis_stack, [user])
        assert 400 <= code < 500, (code, text)
        # the default size and quota checks read the store: deferred
        reply = policy_query(second_node.policy_socket, rcpt_request(user))
        assert reply.startswith("action=DEFER_IF_PERMIT 4.3.0 mailbag store unavailable"), reply
        redis_stack.update_context({"greylisting": {"enabled": True, "allowlist": []}})
        reply = policy_query(redis_stack.policy_socket, rcpt_request(user))
        assert reply.startswith("action=DEFER_IF_PERMIT 4.3.0 mailbag store unavailable"), reply
        assert redis_stack.redis.password not in reply
    finally:
        redis_stack.update_context({"greylisting": None})
        redis_stack.redis.start()
    # the same daemons reconnect by themselves; the data survived
    msgid = send_until_accepted(redis_stack, [user], "after redis restart")
    wait_until(lambda: messages_with(redis_stack, user, msgid), what="delivery after Redis is back")


@pytest.fixture
def second_dovecot(redis_stack):
    """Another Dovecot on the same Redis store and context: a second IMAP node."""
    node = redis_stack.spawn_dovecot("dovecot2")
    yield node
    node.stop()


def test_two_dovecots_share_one_lockout_count(redis_stack, rdomain, second_dovecot):
    user = "locked@" + rdomain
    password = add_user(redis_stack, user)
    with open(redis_stack.context) as f:
        original = json.load(f).get("auth")
    # both drivers reread the context file when it changes
    redis_stack.update_context({"auth": {"failures_per_ip": 3, "failures_per_account": 1000,
                                         "lockout": 60}})
    node1, node2 = redis_stack.ports["imap"], second_dovecot.imap_port
    attacker, neighbour = "127.0.0.7", "127.0.0.8"
    try:
        # the right password works on node 2: it reads the same users
        assert login_from(redis_stack, neighbour, user, password, port=node2)
        # two failures on node 1, the third on node 2: three in all
        assert not login_from(redis_stack, attacker, user, "guess-1", port=node1)
        assert not login_from(redis_stack, attacker, user, "guess-2", port=node1)
        assert not login_from(redis_stack, attacker, user, "guess-3", port=node2)
        # locked on both nodes, the right password unchecked
        assert not login_from(redis_stack, attacker, user, password, port=node1)
        assert not login_from(redis_stack, attacker, user, password, port=node2)
        # Dovecot's log process may write a moment after the answer
        wait_until(lambda: "password not checked" in redis_stack.dovecot_log(), what="node 1's log")
        wait_until(lambda: "password not checked" in second_dovecot.log(), what="node 2's log")
        # another address is not locked
        assert login_from(redis_stack, neighbour, user, password, port=node1)
        assert redis_stack.redis.password not in second_dovecot.log()
    finally:
        redis_stack.update_context({"auth": original})


def lookup(socketmap, address):
    [reply] = socketmap_query(socketmap, [netstring("virtual_mailbox_maps " + address)])
    return reply


def seen_within(socketmaps, address, predicate, seconds):
    """Poll every node's socketmap until predicate holds on each: the elapsed time."""
    start = time.monotonic()
    pending = list(socketmaps)
    while pending and time.monotonic() - start < 5:
        pending = [s for s in pending if not predicate(lookup(s, address))]
    elapsed = time.monotonic() - start
    assert not pending, "%s still answered the old record after 5 s" % pending
    assert elapsed < seconds, "a change took %.3f s to be seen" % elapsed
    return elapsed


def test_a_change_is_seen_by_every_running_policyd_within_100ms(redis_stack, rdomain, second_node):
    """The read cache (store_cache_entries, on by default) never answers
    from before a change: mailbag's change is seen by both nodes' next
    lookups, the negative answers they cached included."""
    user = "cached@" + rdomain
    socketmaps = [redis_stack.socketmap, second_node.socketmap]
    for s in socketmaps:  # cache the absence, twice to be sure it is cached
        assert b"NOTFOUND" in lookup(s, user) and b"NOTFOUND" in lookup(s, user)
    add_user(redis_stack, user)
    seen_within(socketmaps, user, lambda r: b"OK" in r, 0.1)
    redis_stack.mailbag("user", "disable", user, check=True)
    seen_within(socketmaps, user, lambda r: b"NOTFOUND" in r, 0.1)
    redis_stack.mailbag("user", "enable", user, check=True)
    seen_within(socketmaps, user, lambda r: b"OK" in r, 0.1)
    redis_stack.mailbag("user", "del", user, check=True)
    seen_within(socketmaps, user, lambda r: b"NOTFOUND" in r, 0.1)


def test_the_cache_is_off_while_its_connection_is_lost(redis_stack, rdomain):
    """Killing the invalidation connections (CLIENT KILL TYPE pubsub)
    empties the caches: a change made meanwhile is still seen."""
    user = "lost@" + rdomain
    assert b"NOTFOUND" in lookup(redis_stack.socketmap, user)
    assert b"NOTFOUND" in lookup(redis_stack.socketmap, user)
    subprocess.run(["redis-cli", "-p", str(redis_stack.redis.port), "--no-auth-warning",
                    "-a", redis_stack.redis.password, "CLIENT", "KILL", "TYPE", "pubsub"],
                   check=True, capture_output=True)
    add_user(redis_stack, user)
    seen_within([redis_stack.socketmap], user, lambda r: b"OK" in r, 0.1)


def redis_cli(redis_stack, *args):
    return subprocess.run(["redis-cli", "-p", str(redis_stack.redis.port), "--no-auth-warning",
                           "-a", redis_stack.redis.password] + list(args),
                          check=True, capture_output=True, text=True).stdout


def test_a_stalled_redis_holds_up_only_what_needs_it(redis_stack, rdomain):
    """While Redis answers nothing (CLIENT PAUSE), lookups policyd holds
    are answered at once, and a policy request that needs Redis waits
    for policyd.store_timeout and is deferred, not answered wrongly."""
    user = "stall@" + rdomain
    add_user(redis_stack, user)
    with open(redis_stack.context) as f:
        policyd = json.load(f)["policyd"]
    redis_stack.update_context({"greylisting": {"enabled": True, "allowlist": []},
                                "policyd": dict(policyd, store_timeout=1)})
    try:
        # what the lookups and the decision read of the tables is held
        # now (state is not: each triplet and counter is Redis's)
        assert b"OK" in lookup(redis_stack.socketmap, user)
        reply = policy_query(redis_stack.policy_socket, dict(rcpt_request(user), sender="warm@remote.test"))
        assert reply.startswith("action=DEFER_IF_PERMIT 4.7.1 Greylisted"), reply
        redis_cli(redis_stack, "CLIENT", "PAUSE", "4000", "ALL")
        replies = {}

        def ask():
            start = time.monotonic()
            replies["policy"] = policy_query(redis_stack.policy_socket, rcpt_request(user))
            replies["elapsed"] = time.monotonic() - start
        asking = threading.Thread(target=ask)
        asking.start()
        slowest = 0
        while asking.is_alive():
            start = time.monotonic()
            assert b"OK" in lookup(redis_stack.socketmap, user)
            slowest = max(slowest, time.monotonic() - start)
            time.sleep(0.01)
        asking.join()
        assert replies["policy"].startswith(
            "action=DEFER_IF_PERMIT 4.3.0 mailbag store did not answer within 1000 ms"), replies
        assert 0.9 < replies["elapsed"] < 3, replies
        assert slowest < 0.5, "a held lookup took %.3f s while Redis was paused" % slowest
        redis_cli(redis_stack, "CLIENT", "UNPAUSE")
        # Redis back: decided again (a new triplet: greylisted)
        reply = policy_query(redis_stack.policy_socket, dict(rcpt_request(user), sender="new@remote.test"))
        assert reply.startswith("action=DEFER_IF_PERMIT 4.7.1 Greylisted"), reply
    finally:
        redis_cli(redis_stack, "CLIENT", "UNPAUSE")
        redis_stack.update_context({"greylisting": None, "policyd": policyd})
