"""Three nodes as separate hosts (tests/integration/nodes.py).

Each node runs its own Postfix, Dovecot and mailbag daemons in a network
namespace of its own, on one Redis set. Mail for a user whose record
names another node crosses to that node's Dovecot over LMTP; each node's
processes really are in their own namespace; the Redis set's helpers
(master_address, kill_master, wait_failover, restart_as_replica) work."""

import os
import re
import socket
import subprocess
import sys
import time

import pytest

from conftest import wait_until
from helpers import add_user

_count = [0]


def new_domain(nodes):
    """A fresh domain, added on node a: every node reads it from Redis."""
    _count[0] += 1
    name = "n%d-%d.example" % (_count[0], os.getpid())
    nodes["a"].mailbag("domain", "add", name, check=True)
    return name


def user_on(nodes, node_name, local="user"):
    """A new user whose record names node_name."""
    address = "%s-%s@%s" % (local, node_name, new_domain(nodes))
    add_user(nodes["a"], address)
    nodes["a"].mailbag("user", "node", address, node_name, check=True)
    return address


def delivered_once_on(nodes, where, address, msgid):
    """The message reached address on node `where` only (once)."""
    wait_until(lambda: nodes[where].messages_with(address, msgid),
               what="delivery of %s to %s on node %s" % (msgid, address, where))
    assert len(nodes[where].messages_with(address, msgid)) == 1
    for other in nodes.names:
        if other != where:
            assert nodes[other].maildir_messages(address) == [], \
                "node %s has a mailbox for %s too" % (other, address)


def test_mail_for_b_sent_to_a_is_delivered_on_b(nodes):
    user = user_on(nodes, "b")
    msgid = nodes["a"].send([user], "a to b")
    delivered_once_on(nodes, "b", user, msgid)
    # a's bridge passed it on; b's Dovecot saved it (its log process may
    # write a moment after the file is there)
    wait_until(lambda: re.search(r"lmtp\(%s\).*(saved|stored) mail" % re.escape(user),
                                 nodes["b"].dovecot_log()), what="b's Dovecot log of the delivery")
    assert not re.search(r"lmtp\(%s\)" % re.escape(user), nodes["a"].dovecot_log())
    wait_until(lambda: re.search(r"<%s> node b: 250" % re.escape(user),
                                 open(nodes["a"].lmtpd_log).read()), what="a's mailbag-lmtpd log")


def test_mail_for_c_sent_to_b_is_delivered_on_c(nodes):
    user = user_on(nodes, "c")
    msgid = nodes["b"].send([user], "b to c")
    delivered_once_on(nodes, "c", user, msgid)


def test_mail_for_a_sent_to_a_stays_on_a(nodes):
    user = user_on(nodes, "a")
    msgid = nodes["a"].send([user], "a to a")
    delivered_once_on(nodes, "a", user, msgid)


def test_one_transaction_for_users_on_three_nodes(nodes):
    users = {name: user_on(nodes, name, "multi") for name in nodes.names}
    msgid = nodes["c"].send(list(users.values()), "to all three")
    for name, user in users.items():
        delivered_once_on(nodes, name, user, msgid)


def net_inode(pid):
    return os.stat("/proc/%d/ns/net" % pid).st_ino


def daemon_pids(node):
    """The main process of each daemon of the node."""
    with open(os.path.join(node.postfix_dir, "queue", "pid", "master.pid")) as f:
        postfix = int(f.read().split()[0])
    with open(os.path.join(node.dovecot_dir, "run", "master.pid")) as f:
        dovecot = int(f.read().split()[0])
    return {"postfix": postfix, "dovecot": dovecot, "policyd": node.policyd_proc.pid,
            "lmtpd": node.lmtpd_proc.pid, "milter": node.milter_proc.pid}


def test_each_node_runs_in_its_own_namespace(nodes):
    root = net_inode(os.getpid())
    seen = {}
    for name, node in nodes.items():
        own = os.stat("/run/netns/" + node.netns).st_ino
        assert own != root
        for daemon, pid in daemon_pids(node).items():
            assert net_inode(pid) == own, "%s of node %s is not in %s" % (daemon, name, node.netns)
        seen[name] = own
    assert len(set(seen.values())) == 3


def banner(address, port):
    with socket.create_connection((address, port), timeout=5) as s:
        return s.recv(200).decode(errors="replace")


def test_each_address_is_its_own_node(nodes):
    for name, node in nodes.items():
        # each address answers with its own node's Postfix...
        assert "mx-%s.mailbag.test" % name in banner(node.address, 25)
        # ...whose Dovecot answers on the same address
        assert banner(node.address, 143).startswith("* OK")
        # Postfix listens on the node's address only, not its loopback
        probe = node.run([sys.executable, "-c",
                          "import socket; socket.create_connection(('127.0.0.1', 25), 2)"],
                         check=False)
        assert probe.returncode != 0 and "refused" in probe.stderr, probe.stderr
    # nothing of the nodes on the root namespace's loopback
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 25), timeout=2).close()


def test_loopback_inside_a_namespace_is_its_own(nodes):
    # a listener on the root namespace's 127.0.0.1 ...
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        # ... is not the nodes' 127.0.0.1
        probe = nodes["a"].run([sys.executable, "-c",
                                "import socket; socket.create_connection(('127.0.0.1', %d), 2)" % port],
                               check=False)
        assert probe.returncode != 0 and "refused" in probe.stderr, probe.stderr
    # a listener on node b's loopback is seen by b only
    server = subprocess.Popen(nodes["b"].prefix + [
        sys.executable, "-c",
        "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1);"
        "print(s.getsockname()[1], flush=True); c,_=s.accept(); c.sendall(b'node b'); c.close()"],
        stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        connect = ("import socket; s=socket.create_connection(('127.0.0.1', %d), 2);"
                   "print(s.recv(10).decode())" % port)
        assert nodes["c"].run([sys.executable, "-c", connect], check=False).returncode != 0
        assert nodes["b"].run([sys.executable, "-c", connect]).stdout.strip() == "node b"
    finally:
        server.kill()
        server.wait(5)


def test_nodes_reach_the_subnet_only(nodes):
    routes = nodes["a"].run(["ip", "-4", "route", "show"]).stdout
    assert "default" not in routes, routes
    ping = nodes["a"].run([sys.executable, "-c",
                           "import socket; socket.create_connection(('192.0.2.1', 25), 2)"],
                          check=False)
    assert "unreachable" in ping.stderr, ping.stderr


def test_dovecot_of_a_node_stops_and_starts(nodes):
    user = user_on(nodes, "b", "outage")
    nodes["b"].stop_dovecot()
    try:
        msgid = nodes["a"].send([user], "while b is down")
        # a's bridge cannot reach b's LMTP: the mail waits in a's queue
        wait_until(lambda: re.search(r"<%s> node b: " % re.escape(user),
                                     open(nodes["a"].lmtpd_log).read()), what="a's attempt")
        assert nodes["b"].messages_with(user, msgid) == []
    finally:
        nodes["b"].start_dovecot()
    nodes["a"].flush_queue()
    delivered_once_on(nodes, "b", user, msgid)


def test_the_redis_set(nodes):
    """The last test: it fails the master over twice (and back)."""
    redis = nodes.redis
    first = redis.master_address()
    assert first == (redis.servers[0].address, redis.servers[0].port)
    assert redis.role(redis.servers[0]) == "master" and redis.role(redis.servers[1]) == "slave"
    # a write on the master reaches the replica
    assert redis.command(*first, "SET", "fixture-probe", "1") == "OK"
    wait_until(lambda: redis.command(redis.servers[1].address, redis.servers[1].port,
                                     "GET", "fixture-probe") == "1", what="replication")
    began = time.monotonic()
    killed = redis.kill_master()
    second = redis.wait_failover(killed)
    failover = time.monotonic() - began
    assert second == (redis.servers[1].address, redis.servers[1].port)
    assert failover < 20, "failover took %.1f s" % failover
    t = time.monotonic()
    redis.restart_as_replica(killed)
    assert redis.role(killed) == "slave"
    rejoin = time.monotonic() - t
    # and back: the first server is the master again, the second its replica
    t = time.monotonic()
    third = redis.wait_failover(redis.kill_master())
    back = time.monotonic() - t
    assert third == first
    redis.restart_as_replica(redis.servers[1])
    assert redis.command(*third, "GET", "fixture-probe") == "1"
    print("failover %.1f s, rejoin %.1f s, failover back %.1f s" % (failover, rejoin, back))
