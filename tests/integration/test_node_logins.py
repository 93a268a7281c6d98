"""Logins reach the mailbox's node: two Dovecot nodes on one store.

Node a listens on 127.0.0.2, node b on 127.0.0.3 (proxy_maybe compares
the backend's host with the address the client reached); each has its
own context naming itself (`node`) and both (`nodes`). A user whose
record names b logs in on a and is proxied to b, which checks her
password again; a user of a is served by a itself.
"""

import imaplib
import json
import os
import poplib
import re
import socket
import subprocess
import time

import pytest

import mailstack
from conftest import new_domain, wait_until
from helpers import add_user

DOVECOT_NODE_BASE = """# a node of test_node_logins.py
{versions}base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
instance_name = mailbag-node-{name}
protocols = imap pop3 lmtp
listen = {ip}
ssl = no
{cleartext}
auth_verbose = yes
service imap-login {{
  inet_listener imap {{
    {listen} = {ip}
    port = {imap}
  }}
  inet_listener imaps {{
    {listen} = {ip}
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    {listen} = {ip}
    port = {pop3}
  }}
  inet_listener pop3s {{
    {listen} = {ip}
    port = 0
  }}
}}
!include {d}/mailbag.conf
"""


def uncomment_nodes_block(conf):
    """The template's settings for several nodes, as its comment says to
    set them: uncommented, with the nodes' network (loopback here); no
    CA file (the nodes speak no TLS in this test)."""
    head, rest = conf.split("# -- nodes\n", 1)
    block, tail = rest.split("# -- end\n", 1)
    lines = [line[1:] for line in block.splitlines(True) if not line.startswith("#ssl_client_ca_file")]
    return head + "".join(lines).replace("10.0.0.0/24", "127.0.0.0/8") + tail


class LoginNode:
    """One Dovecot node: its own context (a copy of the stack's naming
    this node), directory, address and ports."""

    def __init__(self, stack, name, ip):
        self.stack, self.name, self.ip = stack, name, ip
        self.dir = os.path.join(stack.root, "node-" + name)
        self.context = os.path.join(self.dir, "context.json")
        self.imap_port, self.pop3_port = mailstack.free_port(), mailstack.free_port()
        os.makedirs(self.dir, exist_ok=True)
        os.chmod(self.dir, 0o755)

    def entry(self):
        return {"host": self.ip, "imap_port": self.imap_port, "pop3_port": self.pop3_port}

    def write_context(self, nodes):
        with open(self.stack.context) as f:
            ctx = json.load(f)
        ctx["node"] = self.name
        ctx["nodes"] = nodes
        with open(self.context, "w") as f:
            json.dump(ctx, f, indent=2)
        os.chmod(self.context, 0o644)

    def start(self):
        values = self.stack.template_values()
        values.update({"CONTEXT": self.context,
                       "DOVECOT_LMTP": os.path.join(self.dir, "dovecot-lmtp"),
                       "DOVECOT_AUTH": os.path.join(self.dir, "dovecot-auth"),
                       "DOVECOT_CONF": os.path.join(self.dir, "dovecot.conf")})
        with open(os.path.join(self.dir, "mailbag.conf"), "w") as f:
            f.write(uncomment_nodes_block(mailstack.render(mailstack.dovecot_template(), values)))
        names = mailstack.DOVECOT24_BASE_NAMES if mailstack.dovecot24() else mailstack.DOVECOT23_BASE_NAMES
        with open(os.path.join(self.dir, "dovecot.conf"), "w") as f:
            f.write(DOVECOT_NODE_BASE.format(d=self.dir, name=self.name, ip=self.ip,
                                             imap=self.imap_port, pop3=self.pop3_port, **names))
        os.makedirs(os.path.join(self.dir, "state"), exist_ok=True)
        with open(os.path.join(self.dir, "start.out"), "w") as out:
            ret = subprocess.run(["dovecot", "-c", os.path.join(self.dir, "dovecot.conf")],
                                           stdin=subprocess.DEVNULL, stdout=out, stderr=out).returncode
        if ret != 0:
            raise RuntimeError("node %s: dovecot failed to start: %s"
                               % (self.name, open(os.path.join(self.dir, "start.out")).read()))
        mailstack.wait_for(self._port_open, 15, "node %s's IMAP port" % self.name)

    def _port_open(self):
        try:
            socket.create_connection((self.ip, self.imap_port), timeout=1).close()
            return True
        except OSError:
            return False

    def stop(self):
        subprocess.run(["dovecot", "-c", os.path.join(self.dir, "dovecot.conf"), "stop"],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        mailstack.wait_for(lambda: not self._port_open() and
                           not os.path.exists(os.path.join(self.dir, "run", "master.pid")),
                           15, "node %s's Dovecot to stop" % self.name)

    def log(self):
        return mailstack.read_dovecot_log(self.dir)

    def imap(self, user, password):
        im = imaplib.IMAP4(self.ip, self.imap_port, timeout=30)
        try:
            im.login(user, password)
        except imaplib.IMAP4.error:
            im.shutdown()
            raise
        return im


@pytest.fixture(scope="module")
def nodes(stack):
    a, b = LoginNode(stack, "a", "127.0.0.2"), LoginNode(stack, "b", "127.0.0.3")
    node_map = {"a": a.entry(), "b": b.entry()}
    for n in (a, b):
        n.write_context(node_map)
    started = []
    try:
        for n in (a, b):
            n.start()
            started.append(n)
        yield a, b
    finally:
        for n in started:
            n.stop()


def user_on(stack, node, local):
    """A new user whose record names node (through node a's context:
    the stack's own has no nodes)."""
    address = "%s@%s" % (local, new_domain(stack))
    password = add_user(stack, address)
    proc = subprocess.run([stack.mailbag_bin, "--context", os.path.join(stack.root, "node-a", "context.json"),
                           "user", "node", address, node], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return address, password


def logins_in(node, user):
    """Sessions node's login process started itself (2.3 "Login:",
    2.4 "Logged in:")."""
    return len(re.findall(r"(?:Login|Logged in): user=<%s>" % re.escape(user), node.log()))


def test_a_user_of_b_on_a_is_proxied_to_b(stack, nodes):
    """IMAP on a for a mailbox on b: proxied, APPEND lands on b, and b
    authenticated the session again."""
    a, b = nodes
    her, password = user_on(stack, "b", "her")
    im = a.imap(her, password)
    try:
        typ, _ = im.append("INBOX", None, None,
                           b"From: x@remote.test\r\nSubject: appended on a\r\n\r\nbody\r\n")
        assert typ == "OK"
        typ, data = im.select("INBOX")
        assert typ == "OK" and int(data[0]) == 1
    finally:
        im.logout()
    wait_until(lambda: "Started proxying to" in a.log(), what="a's proxy log line")
    wait_until(lambda: logins_in(b, her) == 1, what="the login in b's log")
    assert logins_in(a, her) == 0
    # b trusts a (login_trusted_networks): it took the addresses a passed
    # on, so it logs the address the client reached (a's), not its own
    assert re.search(r"user=<%s>.*lip=127\.0\.0\.2," % re.escape(her), b.log())
    assert any(b"appended on a" in m for m in stack.maildir_messages(her))


def test_a_user_of_a_is_served_by_a(stack, nodes):
    a, b = nodes
    me, password = user_on(stack, "a", "me")
    proxied_before = a.log().count("Started proxying to")
    im = a.imap(me, password)
    im.select("INBOX")
    im.logout()
    wait_until(lambda: logins_in(a, me) == 1, what="the login in a's log")
    assert a.log().count("Started proxying to") == proxied_before
    assert logins_in(b, me) == 0


def test_wrong_password_through_the_proxy_fails_like_a_local_one(stack, nodes):
    a, b = nodes
    her, _ = user_on(stack, "b", "wrong")
    mine, _ = user_on(stack, "a", "wrong-here")
    for user in (her, mine):
        with pytest.raises(imaplib.IMAP4.error) as failed:
            a.imap(user, "not the password")
        assert "AUTHENTICATIONFAILED" in str(failed.value), failed.value
    assert logins_in(b, her) == 0


def test_pop3_is_proxied_too(stack, nodes):
    a, b = nodes
    her, password = user_on(stack, "b", "pop")
    p = poplib.POP3(a.ip, a.pop3_port, timeout=30)
    p.user(her)
    p.pass_(password)
    assert p.stat()[0] == 0
    p.quit()
    wait_until(lambda: logins_in(b, her) == 1, what="the POP3 login in b's log")


def test_a_node_the_context_does_not_know_is_a_temporary_failure(stack, nodes):
    a, b = nodes
    her, password = user_on(stack, "b", "lost")
    # the record names a node a's context lacks (set directly in the store
    # through a context that knows it)
    ctx = json.load(open(a.context))
    ctx["nodes"]["gone"] = {"host": "127.0.0.9"}
    other = os.path.join(a.dir, "context-gone.json")
    with open(other, "w") as f:
        json.dump(ctx, f)
    proc = subprocess.run([stack.mailbag_bin, "--context", other, "user", "node", her, "gone"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    with pytest.raises(imaplib.IMAP4.error) as failed:
        a.imap(her, password)
    assert "UNAVAILABLE" in str(failed.value), failed.value
    wait_until(lambda: "names node gone, which the context's nodes does not have" in a.log(),
               what="the reason in a's log")


def test_b_stopped_her_login_on_a_fails_temporarily(stack, nodes):
    """b down: her login on a gets [UNAVAILABLE] (not a failed password,
    not an empty mailbox), a's own users are unaffected; b back: she is
    served again."""
    a, b = nodes
    her, password = user_on(stack, "b", "down")
    me, mine = user_on(stack, "a", "up")
    b.stop()
    try:
        started = time.monotonic()
        with pytest.raises(imaplib.IMAP4.error) as failed:
            a.imap(her, password)
        assert "UNAVAILABLE" in str(failed.value), failed.value
        print("her login with b down failed after %.1f s" % (time.monotonic() - started))
        im = a.imap(me, mine)
        im.select("INBOX")
        im.logout()
    finally:
        b.start()
    im = a.imap(her, password)
    im.select("INBOX")
    im.logout()
    wait_until(lambda: logins_in(b, her) == 1, what="her login in b's log once b is back")
