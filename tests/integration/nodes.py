"""nodes - three mailbag nodes as separate hosts, sharing one Redis set.

Each node (a, b, c) is a whole private mail server as mailstack.MailStack
builds it (Postfix, Dovecot, mailbag-policyd, mailbag-lmtpd,
mailbag-milter), but every one of its processes runs in the node's own
Linux network namespace, where the node has its own address and its own
loopback. What the nodes share sits in the root namespace on the
bridge's address: the Redis set (a master, a replica and three
sentinels), the SMTP sink standing in for the internet (every node's
relayhost) and the test DNS server (every node's milter resolver).

LAYOUT (slot S, 0-9, one per concurrent run: see "RUNS" below)

	root namespace: bridge mb19brS, 10.77.(19+S).1/24
	    Redis master, replica, sentinels 1-3, SMTP sink, DNS (port 53)
	namespace mb19nS-a: eth0 10.77.(19+S).11/24, lo 127.0.0.1
	namespace mb19nS-b: eth0 10.77.(19+S).12/24
	namespace mb19nS-c: eth0 10.77.(19+S).13/24

	The namespaces have no default route: a node reaches the subnet and
	nothing else. A blackhole route for the subnet (metric 4000) sits under
	the bridge's own route, so that nothing sent to a node's address after
	the bridge is gone can leave the machine.

	Every node listens on its address: SMTP 25, submission 587,
	submissions 465, IMAP 143, and Dovecot's LMTP 24 (for mailbag-lmtpd of
	the other nodes). Each node's context names all three nodes in
	lmtpd.nodes ("a": "10.77.19.11:24", ...), itself included, so that
	`mailbag user node ADDRESS b` works on any node and a record naming
	the node that receives the mail is delivered there too; its store is
	the Redis master (redis://:PASSWORD@10.77.19.1:PORT/0), or the
	sentinels when the fixture is asked for store="sentinel".

	Disks: every node's context names the same mail_root (RUN/vmail: a
	user's record holds her home, the same path on every node), and
	every command of a node runs in a mount namespace of its own (`ip
	netns exec` makes one) where the node's own RUN/node-X/vmail is
	mounted on that path. So b's mailbox of a user is b's alone, as on
	separate hosts; maildir_messages() reads the node's own directory.

	Also shared: one certificate naming mx-a/b/c.mailbag.test (the nodes'
	hostnames), one dkim.key_dir (a domain added on one node signs on
	all), and auth limits high enough for tests that fail logins on
	purpose. The context has no `node` key of its own (branch proxy's):
	a test that needs it sets it with update_context().

FIXTURE
	conftest.py's `nodes`, module-scoped: a started Nodes, stopped after
	the module. A module that sets NODES_STORE = "sentinel" gets stores
	that name the sentinels (sentinel://, the location syntax of branch
	`sentinel`) instead of the master. MAILBAG_KEEP_TEST_DIR=1 keeps the
	run's directory (RUN, /tmp/mailbag-nodesS-*).

API (what tests use)

	nodes["a"], nodes.items(), nodes.names   the Node objects, by name
	nodes.redis                              the RedisSet
	nodes.sink                               the shared SMTP sink (.messages)
	nodes.dns                                the shared TestDns (dnsserver.py)
	nodes.subnet, nodes.bridge_address       e.g. "10.77.19", "10.77.19.1"
	nodes.start_seconds, nodes.stop_seconds  what starting and stopping took

	Node (a mailstack.MailStack: every MailStack method works, in the
	node's namespace, e.g. stop_lmtpd(), update_context(), dovecot_log(),
	read_maillog(), flush_queue()):
	  .name, .address, .netns, .ports        "a", "10.77.19.11", "mb19n0-a",
	                                         {"smtp": 25, "imap": 143, "lmtp": 24, ...}
	  .lmtp_address                          "10.77.19.11:24"
	  .smtp(timeout=30)                      smtplib.SMTP connected to its port 25
	  .imap()                                imaplib.IMAP4 connected to its port 143
	  .send(rcpts, subject)                  one message through its SMTP; the Message-ID
	  .mailbag(*args, input=, check=)        the CLI on its context, in its namespace
	  .run(cmd, check=True, **kw)            subprocess.run(cmd) in its namespace
	  .stop_dovecot() / .start_dovecot()     its Dovecot down and up again
	  .maildir_messages(address)             message files in its own Maildir of address
	  .messages_with(address, msgid)         those of them holding msgid
	  .own_mail_root                         that disk, as the root namespace sees it
	  .stop()                                the orderly stop of MailStack
	  .kill()                                every process of the node SIGKILLed
	                                         (the teardown: under a second for three)

	RedisSet (redisset.py):
	  .password, .master_name                "test-redis-password", "mailbag"
	  .servers                               the two RedisServer (master and replica first)
	  .sentinels                             [(address, port)] of the three sentinels
	  .location                              redis:// location of the master at start
	  .sentinel_location                     sentinel:// location of the three sentinels
	  .command(address, port, *args)         one command (RESP), the password sent first
	  .master_address()                      (ip, port) of the master, asked of a sentinel
	  .role(server)                          "master", "slave", or None when it is down
	  .kill_master()                         SIGKILL the master; returns its RedisServer
	  .wait_failover(old, timeout=30)        until the sentinels name a new master that
	                                         says role:master; returns its (ip, port)
	  .restart_as_replica(server)            a killed server back, as the master's replica

	Module functions: start_nodes(build, store="master", keep=False) -> Nodes
	(torn down by Nodes.stop(); start() stops what it started when it
	fails half-way); cleanup_stale(slot) removes what a killed run left.

TIME
	Start about 3-5 s for the three (in parallel threads after the
	shared parts), stop under 1 s. What made it so: Postfix's queue
	directories made here with its quick-start mark (its integrity check
	took 2-4 s a node); main.cf dated back once written (Postfix rereads
	a file changed within the last second until it has "cooled down");
	the three configurations registered in the default main.cf in one
	change; one RSA key; the replica's first sync without the 5 s
	diskless delay; the sentinels' mutual discovery overlapped with the
	nodes' start; teardown by SIGKILL.

RUNS
	A run takes the first free slot by an exclusive flock on
	/dev/shm/mailbag-nodes-slotS.lock (/dev/shm is the same for the host
	and the Debian 13 tree, whose /tmp and /run are its own). Holding the
	lock, it first removes whatever a killed run left under the slot's
	names: processes in the slot's namespaces (found by namespace inode,
	recorded in /dev/shm/mailbag-nodes-slotS.state), its Redis servers
	(by the run directory in their command line), the namespaces, the
	veths, the bridge, the blackhole route, and its directories (unless
	marked KEPT) with their Postfix entries in the default main.cf. A run
	inside the Debian 13 tree cannot see the host's processes (nor the
	tree's /tmp from the host): there, the links and routes are removed,
	processes left by the other side stay until that side's next run.

Needs root, iproute2 (tests/packages) and the kernel's veth and bridge.
"""

import fcntl
import imaplib
import os
import shutil
import signal
import smtplib
import subprocess
import tempfile
import threading
import time

import dnsserver
import mailstack
from mailstack import MailStack, SmtpSink, free_port
from redisset import RedisSet

NODE_NAMES = ("a", "b", "c")
SLOTS = 10
LOCK_DIR = "/dev/shm"
NODE_PORTS = {"smtp": 25, "submission": 587, "submissions": 465, "imap": 143, "lmtp": 24}


def sh(*cmd, check=True):
    """One command; its failure says what ran and what it said."""
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), proc.returncode,
                                                   proc.stderr.strip()))
    return proc


# --- the network ----------------------------------------------------------
class Network:
    """The bridge, the namespaces and their veths of one slot."""

    def __init__(self, slot):
        self.slot = slot
        self.subnet = "10.77.%d" % (19 + slot)
        self.bridge = "mb19br%d" % slot
        self.bridge_address = self.subnet + ".1"
        self.made = []  # what teardown() removes, last made first

    def netns(self, name):
        return "mb19n%d-%s" % (self.slot, name)

    def address(self, name):
        return "%s.%d" % (self.subnet, 11 + NODE_NAMES.index(name))

    def veth(self, name):
        return "mb19v%d%s" % (self.slot, name)

    def setup(self):
        sh("ip", "route", "add", "blackhole", self.subnet + ".0/24", "metric", "4000")
        self.made.append(("route",))
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        self.made.append(("link", self.bridge))
        sh("ip", "addr", "add", self.bridge_address + "/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")
        for name in NODE_NAMES:
            ns, veth, peer = self.netns(name), self.veth(name), "mb19p%d%s" % (self.slot, name)
            sh("ip", "netns", "add", ns)
            self.made.append(("netns", ns))
            sh("ip", "link", "add", veth, "type", "veth", "peer", "name", peer)
            self.made.append(("link", veth))
            sh("ip", "link", "set", peer, "netns", ns)
            sh("ip", "link", "set", veth, "master", self.bridge, "up")
            sh("ip", "-n", ns, "link", "set", peer, "name", "eth0")
            sh("ip", "-n", ns, "addr", "add", self.address(name) + "/24", "dev", "eth0")
            sh("ip", "-n", ns, "link", "set", "eth0", "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        self._record_inodes()

    def _record_inodes(self):
        """The namespaces' inodes, for a later run's cleanup_stale()."""
        inodes = [str(os.stat("/run/netns/" + self.netns(n)).st_ino) for n in NODE_NAMES]
        with open(state_path(self.slot), "w") as f:
            f.write(" ".join(inodes) + "\n")

    def teardown(self):
        """Everything made, in reverse; the namespaces' processes killed first."""
        for item in reversed(self.made):
            if item[0] == "netns":
                kill_netns_processes(item[1])
                sh("ip", "netns", "del", item[1], check=False)
            elif item[0] == "link":
                sh("ip", "link", "del", item[1], check=False)
            elif item[0] == "route":
                sh("ip", "route", "del", "blackhole", self.subnet + ".0/24", "metric", "4000",
                   check=False)
        self.made = []
        try:
            os.unlink(state_path(self.slot))
        except OSError:
            pass


def state_path(slot):
    return os.path.join(LOCK_DIR, "mailbag-nodes-slot%d.state" % slot)


def kill_netns_processes(ns, timeout=5):
    """SIGKILL every process in namespace ns, again while any is left
    (one may have forked meanwhile); waits until none is."""
    try:
        inode = os.stat("/run/netns/" + ns).st_ino
    except OSError:
        return
    kill_by_netns_inode([inode], timeout)


def netns_pids(inodes):
    """The processes whose network namespace is one of inodes."""
    wanted = {"net:[%s]" % i for i in inodes}
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.readlink("/proc/%s/ns/net" % pid) in wanted:
                found.append(int(pid))
        except OSError:
            pass  # gone, or a zombie
    return found


def kill_by_netns_inode(inodes, timeout=5):
    """SIGKILL the processes whose network namespace is one of inodes
    (also a killed run's nodes, which may have lost their /run/netns
    name), until none is left or timeout."""
    deadline = time.time() + timeout
    while True:
        pids = netns_pids(inodes)
        if not pids or time.time() > deadline:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)


def cleanup_stale(slot, keep_dir=None):
    """What a killed run left in slot (call with the slot's lock held);
    keep_dir is this run's directory."""
    net = Network(slot)
    try:
        with open(state_path(slot)) as f:
            kill_by_netns_inode(f.read().split())
    except OSError:
        pass
    listed = sh("ip", "netns", "list", check=False).stdout.split("\n")
    for line in listed:
        ns = line.split(" ")[0]
        if ns.startswith("mb19n%d-" % slot):
            kill_netns_processes(ns)
            sh("ip", "netns", "del", ns, check=False)
    for link in [net.bridge] + [net.veth(n) for n in NODE_NAMES]:
        if os.path.exists("/sys/class/net/" + link):
            sh("ip", "link", "del", link, check=False)
    sh("ip", "route", "del", "blackhole", net.subnet + ".0/24", "metric", "4000", check=False)
    kill_stale_redis(slot)
    remove_stale_directories(slot, keep_dir)


def remove_stale_directories(slot, keep_dir):
    """A killed run's directories of this slot, and their Postfix
    configurations named in the default main.cf."""
    parent = tempfile.gettempdir()
    stale = [os.path.join(parent, d) for d in os.listdir(parent)
             if d.startswith("mailbag-nodes%d-" % slot) and os.path.join(parent, d) != keep_dir
             and not os.path.exists(os.path.join(parent, d, "KEPT"))]
    if not stale:
        return
    listed = sh("postconf", "-c", "/etc/postfix", "-h", "alternate_config_directories",
                check=False).stdout.replace(",", " ").split()
    gone = [d for d in listed if any(d.startswith(s + "/") for s in stale)]
    if gone:
        mailstack.register_postfix_config(gone, False)
    for d in stale:
        shutil.rmtree(d, ignore_errors=True)


def kill_stale_redis(slot):
    """The Redis servers and sentinels of a killed run of this slot (their
    command line or config path holds the run's directory name)."""
    mark = ("mailbag-nodes%d-" % slot).encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].startswith(b"redis-server") and any(mark in a for a in argv):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass


def take_slot():
    """(slot, open lock file) of the first slot no other run holds."""
    for slot in range(SLOTS):
        f = open(os.path.join(LOCK_DIR, "mailbag-nodes-slot%d.lock" % slot), "w")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            continue
        return slot, f
    raise RuntimeError("all %d node slots are taken (%s/mailbag-nodes-slot*.lock)" % (SLOTS, LOCK_DIR))


# --- a node -------------------------------------------------------------------
class Node(MailStack):
    """One node: a MailStack in its own network namespace."""

    def __init__(self, nodes, name, root, binaries, store):
        self.name = name
        self.nodes = nodes
        net = nodes.network
        super().__init__(root, *binaries, hostname="mx-%s.mailbag.test" % name,
                         ports=dict(NODE_PORTS), store=store, address=net.address(name),
                         netns=net.netns(name), sink=nodes.sink, dns=nodes.dns)
        self.lmtp_address = "%s:%d" % (self.address, self.ports["lmtp"])
        # one mail_root path for all (a user's record holds her home),
        # a disk of its own for each: the node's commands run in a mount
        # namespace (ip netns exec makes one) where its own directory is
        # mounted on the common path
        self.own_mail_root = os.path.join(self.root, "vmail")
        os.makedirs(self.own_mail_root, exist_ok=True)
        self.mail_root = nodes.mail_root
        self.prefix = ["ip", "netns", "exec", self.netns, "sh", "-c",
                       'mount --bind "$0" "$1" && shift && exec "$@"',
                       self.own_mail_root, self.mail_root]

    def customise_context(self, ctx):
        ctx["lmtpd"]["nodes"] = {n: "%s:%d" % (self.nodes.network.address(n), NODE_PORTS["lmtp"])
                                 for n in NODE_NAMES}
        # one key directory for the site: a domain added on one node signs on all
        ctx["dkim"] = {"key_dir": self.nodes.dkim_dir}
        ctx["auth"] = {"failures_per_ip": 1000, "failures_per_account": 1000}

    def dovecot_instance_name(self):
        return "mailbag-%s" % self.netns

    def before_postfix_start(self, queue):
        """Two things that make `postfix start` take seconds: the queue's
        directories made as postfix-files lists them, with the quick-start
        mark, so that Postfix skips its integrity check (post-install
        create-missing and a scan of the queue, which makes the same); and
        main.cf and master.cf, written by postconf a moment ago, dated a
        minute back, so that Postfix does not wait for them to "cool
        down" (it rereads a file changed within the last second)."""
        for name in ("main.cf", "master.cf"):
            path = os.path.join(self.postfix_etc, name)
            past = time.time() - 60
            os.utime(path, (past, past))
        wanted = {"mail_owner": "postfix", "setgid_group": "postdrop"}
        with open("/etc/postfix/postfix-files") as f:
            for line in f:
                fields = line.strip().split(":")
                if len(fields) < 5 or fields[1] != "d" or not fields[0].startswith("$queue_directory/"):
                    continue
                path = os.path.join(queue, fields[0][len("$queue_directory/"):])
                owner, group = (wanted.get(x.lstrip("$"), x) for x in fields[2:4])
                os.makedirs(path, exist_ok=True)
                shutil.chown(path, owner, None if group == "-" else group)
                os.chmod(path, int(fields[4], 8))
        open(os.path.join(queue, "quick-start"), "w").close()

    def kill(self):
        """Every process of the node SIGKILLed: the fixture's teardown,
        which keeps nothing (stop() is the orderly stop)."""
        kill_netns_processes(self.netns)
        for proc in (self.policyd_proc, self.lmtpd_proc, self.milter_proc):
            if proc is not None:
                proc.wait(10)
        self.policyd_proc = self.lmtpd_proc = self.milter_proc = None
        self.started = []

    def _register_postfix_config(self, add):
        pass  # Nodes registers the three at once

    def _install_auth_module(self):
        pass  # Nodes.start() installs it once, before the threads

    def _make_certificate(self):
        # one RSA key for all three nodes (openssl's key generation is
        # most of a node's preparation)
        self.nodes.certificate(self.hostname, self.cert, self.key)

    def run(self, cmd, check=True, **kw):
        """cmd (a list) in the node's namespace; capture_output and text by default."""
        kw.setdefault("capture_output", True)
        kw.setdefault("text", True)
        return subprocess.run(self.prefix + list(cmd), check=check, **kw)

    def smtp(self, timeout=30):
        return smtplib.SMTP(self.address, self.ports["smtp"], timeout=timeout)

    def imap(self):
        return imaplib.IMAP4(self.address, self.ports["imap"])

    def send(self, rcpts, subject="test", sender="someone@remote.test"):
        """One message through the node's SMTP port; returns its Message-ID."""
        msgid = "<%s.%f@remote.test>" % (subject.replace(" ", "-"), time.time())
        body = ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\n\r\nbody of %s\r\n"
                % (sender, ", ".join(rcpts), subject, msgid, subject))
        with self.smtp() as s:
            s.sendmail(sender, rcpts, body)
        return msgid

    def maildir_messages(self, address):
        """Every message file in the node's own Maildir of address."""
        local, domain = address.split("@")
        base = os.path.join(self.own_mail_root, domain, local, "Maildir")
        found = []
        for sub in ("new", "cur"):
            d = os.path.join(base, sub)
            if os.path.isdir(d):
                for name in sorted(os.listdir(d)):
                    with open(os.path.join(d, name), "rb") as f:
                        found.append(f.read())
        return found

    def messages_with(self, address, msgid):
        return [m for m in self.maildir_messages(address) if msgid.encode() in m]

    def __repr__(self):
        return "<Node %s %s in %s>" % (self.name, self.address, self.netns)


class Nodes:
    """Three nodes, their network and the Redis set: start(), then stop().
    The run's directory is made here (its name holds the slot, which
    cleanup_stale() looks for) and removed by stop() unless keep."""

    def __init__(self, build, store="master", keep=False):
        self.build = build
        self.store_kind = store
        self.keep = keep
        self.slot, self.lock = take_slot()
        self.root = tempfile.mkdtemp(prefix="mailbag-nodes%d-" % self.slot)
        self.network = Network(self.slot)
        self.subnet = self.network.subnet
        self.bridge_address = self.network.bridge_address
        self.names = NODE_NAMES
        self.nodes = {}
        self.redis = self.sink = self.dns = None
        self.dkim_dir = os.path.join(self.root, "dkim")
        # every node's context names this; each mounts its own disk on it
        self.mail_root = os.path.join(self.root, "vmail")
        self._cert_lock = threading.Lock()
        self._cert = None
        self.start_seconds = self.stop_seconds = None
        self.registered = False

    def __getitem__(self, name):
        return self.nodes[name]

    def items(self):
        return self.nodes.items()

    def values(self):
        return self.nodes.values()

    def binaries(self):
        env = os.environ.get
        return (env("MAILBAG_MAILBAG_BIN", os.path.join(self.build, "cli", "mailbag")),
                env("MAILBAG_POLICYD_BIN", os.path.join(self.build, "policyd", "mailbag-policyd")),
                os.path.join(self.build, "dovecot-plugin", "libauthdb_mailbag.so"))

    def certificate(self, hostname, cert, key):
        """A certificate for every node's hostname, made once."""
        with self._cert_lock:
            if self._cert is None:
                self._cert = (os.path.join(self.root, "cert.pem"), os.path.join(self.root, "key.pem"))
                mailstack.make_certificate("mx-a.mailbag.test", *self._cert,
                                           names=tuple("mx-%s.mailbag.test" % n for n in NODE_NAMES))
        shutil.copyfile(self._cert[0], cert)
        shutil.copyfile(self._cert[1], key)
        os.chmod(key, 0o600)

    def start(self):
        began = time.monotonic()
        try:
            cleanup_stale(self.slot, self.root)
            os.makedirs(self.dkim_dir, exist_ok=True)
            os.makedirs(self.mail_root, exist_ok=True)
            os.chmod(self.root, 0o755)
            self.network.setup()
            address = self.bridge_address
            self.dns = dnsserver.TestDns(address).start()
            self.sink = SmtpSink(free_port(address), address=address)
            self.sink.start()
            self.redis = RedisSet(self.root, address).start()
            if self.store_kind == "sentinel":
                self.redis.wait_ready()  # the nodes' first lookups ask them
            store = self.redis.location if self.store_kind == "master" else self.redis.sentinel_location
            for name in NODE_NAMES:
                self.nodes[name] = Node(self, name, os.path.join(self.root, "node-" + name),
                                        self.binaries(), store)
            # once, not in the threads: users, the Dovecot module,
            # the Postfix configurations
            mailstack.register_postfix_config([n.postfix_etc for n in self.nodes.values()], True)
            self.registered = True
            mailstack.ensure_system_user("mailbag")
            mailstack.ensure_system_user("vmail", "/var/vmail")
            mailstack.ensure_postfix_main_cf()
            MailStack._install_auth_module(self.nodes["a"])
            self._start_nodes()
            self.redis.wait_ready()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began
        return self

    def _start_nodes(self):
        """The three MailStacks, each in a thread of its own."""
        errors = {}

        def start(node):
            try:
                node.start()
            except BaseException as e:  # MailStack.start() stopped what it had started
                errors[node.name] = e
        threads = [threading.Thread(target=start, args=(n,)) for n in self.nodes.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            name, error = sorted(errors.items())[0]
            raise RuntimeError("node %s did not start: %s" % (name, error)) from error

    def stop(self):
        began = time.monotonic()
        for node in self.nodes.values():
            node.kill()
        if self.registered:
            mailstack.register_postfix_config([n.postfix_etc for n in self.nodes.values()], False)
            self.registered = False
        for name in NODE_NAMES:
            kill_netns_processes(self.network.netns(name))
        for part in (self.redis, self.sink, self.dns):
            if part is not None:
                try:
                    part.stop()
                except Exception:
                    pass
        self.network.teardown()
        self.stop_seconds = time.monotonic() - began
        if self.keep:
            open(os.path.join(self.root, "KEPT"), "w").close()  # not stale
            print("nodes' directory kept:", self.root)
        else:
            shutil.rmtree(self.root, ignore_errors=True)
        if self.lock is not None:
            self.lock.close()
            self.lock = None


def start_nodes(build, store="master", keep=False):
    """Three started nodes (see Nodes)."""
    return Nodes(build, store, keep).start()
