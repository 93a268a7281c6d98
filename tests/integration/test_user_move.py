"""`mailbag user move`: a mailbox moved live between two Dovecot nodes that
share one store, with Dovecot's dsync over the nodes' doveadm servers.

Node a is the stack's own Dovecot, node b a second instance whose homes
live under their own directory (the userdb's home overridden: on real
hosts both would have the same path on their own disks). Both listen for
doveadm over TCP on 127.0.0.1 with the template's commented-out block,
uncommented. A mailbox of N messages is moved while M more are delivered
through Postfix and the user is logged in; afterwards every message is on
b exactly once (by Message-ID), flags kept, nothing bounced, and the
deliveries of the freeze were deferred and arrived later. The same with
the command SIGKILLed in the middle of its freeze and run again, and with
the target node stopped during the move."""

import imaplib
import json
import os
import re
import secrets
import signal
import smtplib
import socket
import subprocess
import threading
import time

import pytest

import mailstack
from conftest import new_domain, wait_until
from helpers import add_user

MAILBOX = 1000      # messages in the mailbox before the move
DURING = 500        # delivered through Postfix while it moves
KILLED_MAILBOX = 300
KILLED_DURING = 100


def doveadm_block(port, password_file, address="127.0.0.1"):
    """The template's doveadm-over-TCP block, uncommented, on address:port."""
    text = open(os.path.join(mailstack.SOURCE_ROOT, "config-templates", mailstack.dovecot_template())).read()
    block = re.search(r"^# -- doveadm over TCP\n(.*?)^# -- end\n", text, re.S | re.M).group(1)
    block = "".join(line[1:] + "\n" for line in block.splitlines())
    block = block.replace("10.0.0.1", address).replace("2425", str(port))
    return block.replace("/etc/dovecot/mailbag-doveadm.password", password_file)


def override_home(conf_text, root):
    """Node b's homes under root: the userdb's home replaced after the lookup."""
    if mailstack.dovecot24():
        fields = "  fields {\n    home = %s/%%{user | domain}/%%{user | username}\n  }\n" % root
        return conf_text.replace("userdb mailbag {\n", "userdb mailbag {\n" + fields, 1)
    return conf_text.replace("userdb {\n", "userdb {\n  override_fields = home=%s/%%d/%%n\n" % root, 1)


class NodeB:
    """Node b: its own Dovecot and context file (the same store, "node": "b")."""

    def __init__(self, stack, doveadm_port, password_file):
        self.dir = os.path.join(stack.root, "move-node-b")
        self.context = os.path.join(self.dir, "context.json")
        self.stack = stack
        self.home_root = os.path.join(self.dir, "vmail")
        self.imap_port = mailstack.free_port()
        self.doveadm_port = doveadm_port
        self.lmtp_socket = os.path.join(self.dir, "dovecot-lmtp")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        os.makedirs(self.home_root, exist_ok=True)
        os.chmod(self.dir, 0o755)
        os.chown(self.home_root, stack.vmail_user.pw_uid, stack.vmail_user.pw_gid)
        values = stack.template_values()
        values.update({"DOVECOT_LMTP": self.lmtp_socket, "DOVECOT_AUTH": os.path.join(self.dir, "dovecot-auth"),
                       "DOVECOT_CONF": self.conf, "CONTEXT": self.context})
        self.mailbag_conf = override_home(mailstack.render(mailstack.dovecot_template(), values), self.home_root)
        self.include = os.path.join(self.dir, "doveadm.conf")
        with open(self.include, "w") as f:
            f.write(doveadm_block(doveadm_port, password_file))

    def write_context(self, stack):
        with open(stack.context) as f:
            ctx = json.load(f)
        ctx["node"] = "b"
        with open(self.context + ".new", "w") as f:
            json.dump(ctx, f, indent=2)
        os.chmod(self.context + ".new", os.stat(stack.context).st_mode & 0o777)
        os.rename(self.context + ".new", self.context)

    def start(self):
        # Dovecot loads auth modules from its one compiled-in directory:
        # make sure it holds this build's (another checkout's test run may
        # have put its own there since the stack started)
        self.stack._install_auth_module()
        mailstack.start_dovecot_instance(self.dir, self.imap_port, {}, include=self.include)
        wait_until(lambda: mailstack.port_open(self.doveadm_port), 15, "node b's doveadm port")

    def stop(self):
        mailstack.stop_dovecot_instance(self.dir, self.imap_port)


@pytest.fixture(scope="module")
def nodes(stack, monkeypatch_module):
    password_file = os.path.join(stack.root, "doveadm.password")
    with open(password_file, "w") as f:
        f.write(secrets.token_hex(16))
    os.chmod(password_file, 0o600)
    port_a, port_b = mailstack.free_port(), mailstack.free_port()
    include_a = os.path.join(stack.root, "doveadm-a.conf")
    with open(include_a, "w") as f:
        f.write(doveadm_block(port_a, password_file))
    b = NodeB(stack, port_b, password_file)
    # start_dovecot_instance renders the template; node b's has its home override
    real_render = mailstack.render
    monkeypatch_module.setattr(mailstack, "render", lambda name, values: b.mailbag_conf if not values
                               else real_render(name, values))
    with open(stack.context) as f:
        original = json.load(f)
    saved = {k: original.get(k) for k in ("node", "nodes", "move")}
    stack.update_context({
        "node": "a",
        "nodes": {"a": {"host": "127.0.0.1", "lmtp": stack.dovecot_lmtp, "doveadm_port": port_a,
                        "imap_port": stack.ports["imap"]},
                  "b": {"host": "127.0.0.1", "lmtp": b.lmtp_socket, "doveadm_port": port_b,
                        "imap_port": b.imap_port}},
        "move": {"doveadm_password_file": password_file, "dovecot_config": stack.dovecot_conf,
                 "grace": 2, "freeze": 120},
    })
    stack.reload_lmtpd()
    # after the context is written: an auth process starting while it is
    # being rewritten would read it half-written
    stack.stop_dovecot()
    mailstack.start_dovecot_instance(stack.dovecot_dir, stack.ports["imap"], stack.template_values(),
                                     include=include_a)
    stack.started.append("dovecot")
    b.write_context(stack)
    b.start()
    try:
        yield b
    finally:
        b.stop()
        stack.stop_dovecot()
        stack.update_context(saved)
        stack.reload_lmtpd()
        stack.start_dovecot()


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def fill_mailbox(stack, address, count, tag, lmtp=None):
    """count messages straight into node a's Dovecot over LMTP (its unix
    socket, or lmtp: (host, port)): the mailbox as it stands before the
    move; their Message-IDs."""
    ids = []
    sock = socket.socket(socket.AF_INET if lmtp else socket.AF_UNIX)
    sock.settimeout(60)
    sock.connect(lmtp or stack.dovecot_lmtp)
    f = sock.makefile("rwb")

    def reply():
        while True:
            line = f.readline().decode()
            if line[3:4] != "-":
                return line

    def cmd(text):
        f.write(text.encode() + b"\r\n")
        f.flush()
        return reply()

    reply()
    assert cmd("LHLO test").startswith("250")
    for i in range(count):
        msgid = "<%s-%d@before.test>" % (tag, i)
        assert cmd("MAIL FROM:<filler@remote.test>").startswith("250")
        assert cmd("RCPT TO:<%s>" % address).startswith("250")
        assert cmd("DATA").startswith("354")
        f.write(("From: filler@remote.test\r\nTo: %s\r\nSubject: before %d\r\nMessage-ID: %s\r\n\r\n"
                 "message %d\r\n.\r\n" % (address, i, msgid, i)).encode())
        f.flush()
        assert reply().startswith("250")
        ids.append(msgid)
    cmd("QUIT")
    sock.close()
    return ids


def set_flags(port, address, password, host="127.0.0.1"):
    """\\Seen on every 3rd message, \\Flagged on every 7th (by sequence)."""
    im = imaplib.IMAP4(host, port)
    im.login(address, password)
    im.select("INBOX")
    typ, data = im.search(None, "ALL")
    seqs = data[0].split()
    for n, seq in enumerate(seqs):
        if n % 3 == 0:
            im.store(seq, "+FLAGS", "\\Seen")
        if n % 7 == 0:
            im.store(seq, "+FLAGS", "\\Flagged")
    im.logout()


def mailbox_state(port, address, password, host="127.0.0.1"):
    """{Message-ID: [flags, ...]} of every message of INBOX on the node at port."""
    im = imaplib.IMAP4(host, port)
    im.login(address, password)
    im.select("INBOX", readonly=True)
    typ, data = im.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    im.logout()
    found = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        flags = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode().split()
        msgid = re.search(rb"Message-ID:\s*(<[^>]+>)", item[1], re.I).group(1).decode()
        found.setdefault(msgid, []).append(sorted(f for f in flags if f != "\\Recent"))
    return found


class Sender(threading.Thread):
    """count messages through Postfix's SMTP port, paced over the move."""

    def __init__(self, stack, address, count, tag, pace=0.02, smtp=None):
        super().__init__(daemon=True)
        self.smtp = smtp or ("127.0.0.1", stack.ports["smtp"])
        self.stack, self.address, self.count, self.tag, self.pace = stack, address, count, tag, pace
        self.ids, self.errors = [], []

    def run(self):
        with smtplib.SMTP(*self.smtp, timeout=30) as s:
            for i in range(self.count):
                msgid = "<%s-%d@during.test>" % (self.tag, i)
                body = ("From: sender@remote.test\r\nTo: %s\r\nSubject: during %d\r\nMessage-ID: %s\r\n\r\n"
                        "sent while moving\r\n" % (self.address, i, msgid))
                try:
                    s.sendmail("sender@remote.test", [self.address], body)
                    self.ids.append(msgid)
                except smtplib.SMTPException as e:
                    self.errors.append(repr(e))
                time.sleep(self.pace)


class LoginProbe(threading.Thread):
    """Logs in on node a again and again until stopped: what it was told."""

    def __init__(self, port, address, password, host="127.0.0.1"):
        super().__init__(daemon=True)
        self.port, self.address, self.password, self.host = port, address, password, host
        self.answers = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                im = imaplib.IMAP4(self.host, self.port)
                try:
                    im.login(self.address, self.password)
                    self.answers.append("OK")
                    im.logout()
                except imaplib.IMAP4.error as e:
                    self.answers.append(str(e))
                    im.shutdown()
            except OSError as e:
                self.answers.append("connect: %s" % e)
            time.sleep(0.2)


def user_record(stack, address):
    out = stack.mailbag("--json", "user", "list", address.split("@")[1], check=True).stdout
    return next(u for u in json.loads(out) if u["address"] == address)


def wait_for_all(stack, nodes, address, password, want, timeout=120):
    def arrived():
        stack.flush_queue()
        return len(mailbox_state(nodes.imap_port, address, password)) >= len(want)
    wait_until(arrived, timeout, "every message of %s on node b" % address)
    time.sleep(1)  # nothing more arriving (a duplicate would)
    return mailbox_state(nodes.imap_port, address, password)


def check_moved(stack, nodes, address, password, before, during, flags_before):
    state = wait_for_all(stack, nodes, address, password, before + during)
    doubled = {m: v for m, v in state.items() if len(v) != 1}
    assert not doubled, "messages on node b more than once: %s" % list(doubled)[:5]
    missing = [m for m in before + during if m not in state]
    assert not missing, "%d messages missing on node b, e.g. %s" % (len(missing), missing[:5])
    strays = [m for m in state if m not in before + during]
    assert not strays, strays[:5]
    changed = [m for m in before if state[m][0] != flags_before[m][0]]
    assert not changed, "flags changed by the move: %s" % [(m, flags_before[m], state[m]) for m in changed[:5]]
    log = stack.read_maillog()
    bounced = [line for line in log.splitlines() if address in line and "status=bounced" in line]
    assert not bounced, bounced[:3]


def prepare_user(stack, tag, count):
    domain = new_domain(stack)
    address = "mover-%s@%s" % (tag, domain)
    password = add_user(stack, address, "move-password-1")
    before = fill_mailbox(stack, address, count, tag)
    set_flags(stack.ports["imap"], address, password)
    flags = mailbox_state(stack.ports["imap"], address, password)
    assert len(flags) == count
    return address, password, before, flags


def test_move_while_delivering_and_logged_in(stack, nodes):
    address, password, before, flags = prepare_user(stack, "live", MAILBOX)
    session = imaplib.IMAP4("127.0.0.1", stack.ports["imap"])
    session.login(address, password)
    session.select("INBOX")
    sender = Sender(stack, address, DURING, "live")
    probe = LoginProbe(stack.ports["imap"], address, password)
    sender.start()
    wait_until(lambda: len(sender.ids) >= 50, 30, "the first deliveries")
    probe.start()
    started = time.time()
    result = stack.mailbag("user", "move", address, "b")
    took = time.time() - started
    probe.stop.set()
    probe.join()
    sender.join()
    print("move of %d messages took %.1fs:\n%s" % (MAILBOX, took, result.stdout))
    assert result.returncode == 0, result.stdout + result.stderr
    assert not sender.errors, sender.errors[:3]
    assert len(sender.ids) == DURING
    record = user_record(stack, address)
    assert record["node"] == "b"
    assert record["move"]["phase"] == "done"
    # the session open on node a was kicked by the freeze
    with pytest.raises((imaplib.IMAP4.abort, OSError)):
        session.noop()
        session.noop()
    # logins during the freeze failed temporarily, never as a wrong password
    assert not [a for a in probe.answers if "AUTHENTICATIONFAILED" in a], probe.answers
    # (2.3 and 2.4 answer NO [UNAVAILABLE]; when the freeze begins between
    # the password check and the userdb lookup after it, 2.4's imap-login
    # closes the connection with "Internal login failure" in its log)
    refused = [a for a in probe.answers if "UNAVAILABLE" in a or "socket error: EOF" in a]
    assert refused, "no login was refused during the freeze: %s" % probe.answers
    check_moved(stack, nodes, address, password, before, sender.ids, flags)
    # deliveries of the freeze were deferred (451 from mailbag-lmtpd) and arrived later
    log = stack.read_maillog()
    assert re.search(r"to=<%s>.*status=deferred.*being moved" % re.escape(address), log), \
        "no delivery was deferred during the freeze"
    # the old copy is kept, then purged on node a with --purge
    assert len(stack.maildir_messages(address)) >= MAILBOX
    again = stack.mailbag("user", "move", address, "b")
    assert again.returncode == 0 and "until --purge" in again.stdout
    purged = stack.mailbag("user", "move", "--purge", address, "b")
    assert purged.returncode == 0, purged.stdout + purged.stderr
    assert stack.maildir_messages(address) == []
    assert "move" not in user_record(stack, address)
    assert len(mailbox_state(nodes.imap_port, address, password)) == MAILBOX + DURING


def test_move_killed_in_its_freeze_then_run_again(stack, nodes):
    address, password, before, flags = prepare_user(stack, "killed", KILLED_MAILBOX)
    # a long grace keeps the command in its freeze long enough to kill it there
    stack.update_context({"move": dict(user_record_move_settings(stack), grace=8)})
    sender = Sender(stack, address, KILLED_DURING, "killed", pace=0.05)
    sender.start()
    proc = subprocess.Popen([stack.mailbag_bin, "--context", stack.context, "user", "move", address, "b"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_until(lambda: user_record(stack, address).get("move", {}).get("phase") == "freeze", 60,
               "the move's freeze")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    record = user_record(stack, address)
    assert record["node"] == "local" or record["node"] == "a"
    assert record["move"]["phase"] == "freeze"
    stack.update_context({"move": dict(user_record_move_settings(stack), grace=2)})
    result = stack.mailbag("user", "move", address, "b")
    sender.join()
    assert result.returncode == 0, result.stdout + result.stderr
    assert user_record(stack, address)["node"] == "b"
    check_moved(stack, nodes, address, password, before, sender.ids, flags)


def test_move_with_the_target_stopped(stack, nodes):
    address, password, before, flags = prepare_user(stack, "stopped", 50)
    nodes.stop()
    try:
        result = stack.mailbag("user", "move", address, "b")
        assert result.returncode == 75, result.stdout + result.stderr  # EX_TEMPFAIL: run it again
        record = user_record(stack, address)
        assert record["node"] in ("local", "a")
        assert record["move"]["phase"] == "copy"  # not frozen: still served on node a
        im = imaplib.IMAP4("127.0.0.1", stack.ports["imap"])
        im.login(address, password)
        im.logout()
    finally:
        nodes.start()
    result = stack.mailbag("user", "move", address, "b")
    assert result.returncode == 0, result.stdout + result.stderr
    check_moved(stack, nodes, address, password, before, [], flags)


def user_record_move_settings(stack):
    with open(stack.context) as f:
        return json.load(f)["move"]


def test_unknown_node_or_user(stack, nodes, domain):
    address = "someone@" + domain
    add_user(stack, address, "move-password-1")
    r = stack.mailbag("user", "move", address, "zz")
    assert r.returncode == 65 and "node 'zz' is not in the context's nodes" in r.stderr, r.stderr
    r = stack.mailbag("user", "move", "nobody@" + domain, "b")
    assert r.returncode == 67 and "no such user nobody@" + domain in r.stderr, r.stderr
    r = stack.mailbag("user", "move", address, "a")
    assert r.returncode == 0 and "nothing to move" in r.stdout
