"""redisset - a Redis master, its replica and three sentinels, for tests.

The shared store of the nodes of nodes.py (and of any test that needs a
failover): two redis-server processes (the replica with replicaof, both
with requirepass and masterauth, append-only) and three sentinels
(redis-server CONF --sentinel) watching the master as MASTER_NAME with
quorum 2, auth-pass, down-after-milliseconds 1000 and failover-timeout
5000, so that a SIGKILLed master is replaced within a few seconds. All
listen on one address (nodes.py: the bridge's), on free ports.

	RedisSet(root, address, password)   .start(), .wait_ready(), .stop()
	  .servers                          the two RedisServer, master first
	  .sentinels                        [(address, port)] of the sentinels
	  .location, .sentinel_location     redis:// of the first master;
	                                    sentinel:// of the sentinels
	  .command(address, port, *args)    one command (after AUTH, unless
	                                    password=None, as to a sentinel)
	  .master_address()                 (ip, port) a sentinel names
	  .role(server)                     "master", "slave" or None (down)
	  .kill_master()                    SIGKILL it; returns its RedisServer
	  .wait_failover(old, timeout=30)   until every sentinel names another
	                                    master that says so; its (ip, port)
	  .restart_as_replica(server)       a killed server back as a replica

A small RESP client (resp_encode, resp_read) talks to them: the tests
need no Python Redis package.
"""

import os
import re
import socket
import subprocess

from mailstack import RedisServer, free_port, port_open, wait_for

MASTER_NAME = "mailbag"
REDIS_PASSWORD = "test-redis-password"
# the failover a test waits for: down after 1 s, elected within a few
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000


def resp_encode(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def resp_read(f):
    """One reply from a file on the socket: str, int, list, None, or
    RedisError for an error reply."""
    line = f.readline()
    if not line:
        raise ConnectionError("Redis closed the connection")
    kind, rest = line[:1], line[1:].rstrip(b"\r\n")
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        return RedisError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2].decode(errors="replace")
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [resp_read(f) for _ in range(n)]
    raise ConnectionError("not a Redis reply: %r" % line)


class RedisError(Exception):
    pass


class RedisSet:
    """A master and its replica (redis-server) and three sentinels
    (redis-server --sentinel), all on the bridge's address."""

    def __init__(self, root, address, password=REDIS_PASSWORD):
        self.root = root
        self.address = address
        self.password = password
        self.master_name = MASTER_NAME
        self.servers = [RedisServer(root, password, address, name="redis-" + n)
                        for n in ("master", "replica")]
        for s in self.servers:
            # a replica's first sync at once (the default waits 5 s for more)
            s.extra_args = ["--masterauth", password, "--repl-diskless-sync-delay", "0"]
        master = self.servers[0]
        self.servers[1].extra_args += ["--replicaof", address, str(master.port)]
        self.sentinels = [(address, free_port(address)) for _ in range(3)]
        self.sentinel_procs = []
        self.location = master.location

    @property
    def sentinel_location(self):
        """The store location naming the sentinels (the syntax of branch
        `sentinel`: sentinel://:PASSWORD@HOST:PORT,.../MASTER/DB); the
        sentinels themselves take no password."""
        return "sentinel://:%s@%s/%s/0" % (
            self.password, ",".join("%s:%d" % s for s in self.sentinels), self.master_name)

    def start(self):
        """The servers and the sentinels; wait_ready() waits until the
        sentinels know each other (a few seconds of their hello messages)."""
        for s in self.servers:
            s.start()
        self.wait_replica_synced()
        for i, (address, port) in enumerate(self.sentinels):
            self.sentinel_procs.append(self._start_sentinel(i, address, port))
        return self

    def wait_ready(self, timeout=20):
        for address, port in self.sentinels:
            wait_for(lambda: self._sentinel_ready(address, port), timeout,
                     "the sentinel on port %d to see the replica and the other sentinels" % port)

    def _start_sentinel(self, i, address, port):
        directory = os.path.join(self.root, "sentinel-%d" % (i + 1))
        os.makedirs(directory, exist_ok=True)
        conf = os.path.join(directory, "sentinel.conf")
        master = self.servers[0]
        with open(conf, "w") as f:
            f.write("port %d\nbind %s\nprotected-mode no\ndir %s\n"
                    "sentinel monitor %s %s %d 2\n"
                    "sentinel auth-pass %s %s\n"
                    "sentinel down-after-milliseconds %s %d\n"
                    "sentinel failover-timeout %s %d\n"
                    "sentinel parallel-syncs %s 1\n"
                    % (port, address, directory, self.master_name, master.address, master.port,
                       self.master_name, self.password, self.master_name, DOWN_AFTER_MS,
                       self.master_name, FAILOVER_TIMEOUT_MS, self.master_name))
        log = open(os.path.join(directory, "sentinel.log"), "a")
        proc = subprocess.Popen(["redis-server", conf, "--sentinel"], stdout=log, stderr=log)
        log.close()
        wait_for(lambda: port_open(port, address) or proc.poll() is not None, 10, "redis sentinel")
        if proc.poll() is not None:
            raise RuntimeError("redis sentinel exited: " +
                               open(os.path.join(directory, "sentinel.log")).read())
        return proc

    def _sentinel_ready(self, address, port):
        """The sentinel knows the master, its replica and the two other sentinels."""
        try:
            info = self.command(address, port, "SENTINEL", "MASTER", self.master_name, password=None)
        except (OSError, ConnectionError):
            return False
        if isinstance(info, RedisError) or not info:
            return False
        fields = dict(zip(info[::2], info[1::2]))
        return fields.get("num-slaves") == "1" and fields.get("num-other-sentinels") == "2"

    def command(self, address, port, *args, password="default", timeout=5):
        """One command to the server at (address, port), after AUTH with the
        set's password (password=None: none, as to a sentinel)."""
        if password == "default":
            password = self.password
        with socket.create_connection((address, port), timeout=timeout) as s:
            f = s.makefile("rb")
            if password is not None:
                s.sendall(resp_encode(["AUTH", password]))
                reply = resp_read(f)
                if isinstance(reply, RedisError):
                    raise reply
            s.sendall(resp_encode(args))
            return resp_read(f)

    def master_address(self):
        """(ip, port) of the master, as the first sentinel that answers says."""
        for address, port in self.sentinels:
            try:
                reply = self.command(address, port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                                     self.master_name, password=None)
            except (OSError, ConnectionError):
                continue
            if isinstance(reply, list) and len(reply) == 2:
                return reply[0], int(reply[1])
        raise RuntimeError("no sentinel names a master for %s" % self.master_name)

    def server_at(self, address):
        ip, port = address
        for s in self.servers:
            if s.port == port and s.address == ip:
                return s
        raise KeyError("no Redis server of the set at %s:%d" % address)

    def role(self, server):
        try:
            info = self.command(server.address, server.port, "INFO", "replication")
        except (OSError, ConnectionError):
            return None
        m = re.search(r"role:(\w+)", info or "")
        return m.group(1) if m else None

    def wait_replica_synced(self, timeout=15):
        master = self.servers[0]
        wait_for(lambda: "master_link_status:up" in str(self.command(
            self.servers[1].address, self.servers[1].port, "INFO", "replication")),
            timeout, "the replica to sync with the master on port %d" % master.port)

    def kill_master(self):
        """SIGKILL the current master; returns its RedisServer."""
        server = self.server_at(self.master_address())
        server.proc.kill()
        server.proc.wait(10)
        server.proc = None
        return server

    def wait_failover(self, old, timeout=30):
        """Until every sentinel names a master other than old ((ip, port) or a
        RedisServer) and that server says it is a master; returns (ip, port)."""
        if isinstance(old, RedisServer):
            old = (old.address, old.port)
        old = (old[0], int(old[1]))
        found = {}

        def switched():
            names = set()
            for address, port in self.sentinels:
                try:
                    reply = self.command(address, port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                                         self.master_name, password=None)
                except (OSError, ConnectionError):
                    return False
                if not isinstance(reply, list):
                    return False
                names.add((reply[0], int(reply[1])))
            if len(names) != 1 or old in names:
                return False
            new = names.pop()
            if self.role(self.server_at(new)) != "master":
                return False
            found["master"] = new
            return True
        wait_for(switched, timeout, "the sentinels to fail over from %s:%d" % old)
        return found["master"]

    def restart_as_replica(self, server):
        """A killed server started again as the current master's replica."""
        master = self.master_address()
        server.extra_args = ["--masterauth", self.password, "--repl-diskless-sync-delay", "0",
                             "--replicaof", master[0], str(master[1])]
        server.start()
        wait_for(lambda: "master_link_status:up" in str(self.command(
            server.address, server.port, "INFO", "replication")), 20,
            "the restarted server on port %d to sync as a replica" % server.port)
        # a sentinel elects only a replica it has seen in sync: until
        # then a failover would find no candidate and retry 10 s later.
        # A sentinel learns of the old master's return from its INFO
        # rounds (every 10 s to a replica) and clears its down flags
        # after them: on a loaded machine (a CI leg beside other work)
        # that took over 30 s once
        wait_for(lambda: all(self._sees_good_replica(s, server) for s in self.sentinels), 60,
                 "the sentinels to see the server on port %d as a good replica" % server.port)
        return server

    def _sees_good_replica(self, sentinel, server):
        try:
            replicas = self.command(*sentinel, "SENTINEL", "REPLICAS", self.master_name, password=None)
        except (OSError, ConnectionError):
            return False
        for entry in replicas if isinstance(replicas, list) else []:
            fields = dict(zip(entry[::2], entry[1::2]))
            if fields.get("port") == str(server.port) and fields.get("ip") == server.address:
                return fields.get("flags") == "slave" and fields.get("master-link-status") == "ok"
        return False

    def stop(self):
        for proc in self.sentinel_procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        self.sentinel_procs = []
        for s in self.servers:
            if s.proc is not None and s.proc.poll() is None:
                s.proc.kill()
                s.proc.wait(10)
            s.proc = None
