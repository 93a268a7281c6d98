"""A Redis set as Sentinel runs it, on loopback, for the failover tests:
a master, a replica and three sentinels (Debian's redis-server, the
sentinels as `redis-server FILE --sentinel`), each data node with a
password and an append-only file, the sentinels with a password of their
own, and a short down-after-milliseconds so that a failover takes a few
seconds."""

import os
import signal
import subprocess
import time

import redis_cli
from mailstack import free_port, port_open, wait_for

MASTER_NAME = "mailbag"


class DataNode:
    """One redis-server of the set (a master, or a replica of master_port)."""

    def __init__(self, directory, password, master_port=None):
        self.dir = directory
        self.port = free_port()
        self.password = password
        self.master_port = master_port
        self.proc = None

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        args = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port),
                "--requirepass", self.password, "--masterauth", self.password,
                "--dir", self.dir, "--save", "", "--appendonly", "yes",
                "--appendfsync", "everysec", "--daemonize", "no"]
        if self.master_port is not None:
            args += ["--replicaof", "127.0.0.1", str(self.master_port)]
        log = open(os.path.join(self.dir, "redis.log"), "a")
        self.proc = subprocess.Popen(args, stdout=log, stderr=log)
        log.close()
        wait_for(lambda: port_open(self.port) or self.proc.poll() is not None, 10, "redis-server")
        if self.proc.poll() is not None:
            raise RuntimeError("redis-server exited: " + open(os.path.join(self.dir, "redis.log")).read())
        return self

    def kill(self):
        """SIGKILL: what a crashed host looks like to the others."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def command(self, *args):
        return redis_cli.command(self.port, self.password, *args)

    def role(self):
        try:
            return self.command("ROLE")[0]
        except OSError:
            return None


class Sentinel:
    def __init__(self, directory, password, master, quorum, down_after_ms):
        self.dir = directory
        self.port = free_port()
        self.password = password
        self.conf = os.path.join(directory, "sentinel.conf")
        self.master = master
        self.quorum = quorum
        self.down_after_ms = down_after_ms
        self.proc = None

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        if not os.path.exists(self.conf):
            # Sentinel rewrites this file as it learns the set
            with open(self.conf, "w") as f:
                f.write("port %d\nbind 127.0.0.1\ndir %s\n"
                        "requirepass %s\nsentinel sentinel-pass %s\n"
                        "sentinel monitor %s 127.0.0.1 %d %d\n"
                        "sentinel auth-pass %s %s\n"
                        "sentinel down-after-milliseconds %s %d\n"
                        "sentinel failover-timeout %s 5000\n"
                        "sentinel parallel-syncs %s 1\n"
                        % (self.port, self.dir, self.password, self.password,
                           MASTER_NAME, self.master.port, self.quorum,
                           MASTER_NAME, self.master.password,
                           MASTER_NAME, self.down_after_ms, MASTER_NAME, MASTER_NAME))
        log = open(os.path.join(self.dir, "sentinel.log"), "a")
        self.proc = subprocess.Popen(["redis-server", self.conf, "--sentinel"], stdout=log, stderr=log)
        log.close()
        wait_for(lambda: port_open(self.port) or self.proc.poll() is not None, 10, "redis sentinel")
        if self.proc.poll() is not None:
            raise RuntimeError("sentinel exited: " + open(os.path.join(self.dir, "sentinel.log")).read())
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def master_port(self):
        reply = redis_cli.command(self.port, self.password, "SENTINEL", "get-master-addr-by-name",
                                  MASTER_NAME)
        return int(reply[1]) if reply else None


class SentinelSet:
    def __init__(self, root_dir, password="test-redis-password",
                 sentinel_password="test-sentinel-password", down_after_ms=1000):
        self.dir = os.path.join(os.path.abspath(root_dir), "redis-set")
        self.password = password
        self.sentinel_password = sentinel_password
        self.master = DataNode(os.path.join(self.dir, "node-a"), password)
        self.replica = DataNode(os.path.join(self.dir, "node-b"), password, self.master.port)
        self.sentinels = [Sentinel(os.path.join(self.dir, "sentinel-%d" % i), sentinel_password,
                                   self.master, 2, down_after_ms) for i in range(3)]

    @property
    def location(self):
        return "sentinel://:%s@%s/%s/0?sentinel_password=%s" % (
            self.password, ",".join("127.0.0.1:%d" % s.port for s in self.sentinels),
            MASTER_NAME, self.sentinel_password)

    @property
    def nodes(self):
        return [self.master, self.replica]

    def start(self):
        self.master.start()
        self.replica.start()
        wait_for(lambda: self.replica.command("INFO", "replication").find("master_link_status:up") >= 0,
                 15, "the replica to sync")
        for s in self.sentinels:
            s.start()
        # every sentinel has found the replica and the other sentinels
        wait_for(lambda: all(self._sees_all(s) for s in self.sentinels), 20, "the sentinels to meet")
        return self

    def _sees_all(self, sentinel):
        try:
            info = dict(zip(*[iter(redis_cli.command(sentinel.port, self.sentinel_password,
                                                     "SENTINEL", "master", MASTER_NAME))] * 2))
        except OSError:
            return False
        return int(info.get("num-slaves", 0)) >= 1 and int(info.get("num-other-sentinels", 0)) >= 2

    def current_master(self):
        """The data node the sentinels name master now (None: no agreement)."""
        ports = set()
        for s in self.sentinels:
            try:
                ports.add(s.master_port())
            except OSError:
                return None
        if len(ports) != 1:
            return None
        port = ports.pop()
        return next((n for n in self.nodes if n.port == port), None)

    def wait_for_new_master(self, old, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            m = self.current_master()
            if m is not None and m is not old and m.role() == "master":
                return m
            time.sleep(0.1)
        raise AssertionError("no new master within %ss" % timeout)

    def stop(self):
        for s in self.sentinels:
            s.stop()
        for n in self.nodes:
            n.stop()
