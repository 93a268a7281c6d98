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
listen = {ips}
{ssl}
{cleartext}
auth_verbose = yes
service imap-login {{
  inet_listener imap {{
    {listen} = {ips}
    port = {imap}
  }}
  inet_listener imaps {{
    {listen} = {ips}
    port = {imaps}
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    {listen} = {ips}
    port = {pop3}
  }}
  inet_listener pop3s {{
    {listen} = {ips}
    port = 0
  }}
}}
!include {d}/mailbag.conf
"""


def uncomment_block(conf, name, replace=()):
    """The template's block "# -- NAME" ... "# -- end", uncommented as
    its comment says to, with each (old, new) of replace done in it."""
    head, rest = conf.split("# -- %s\n" % name, 1)
    block, tail = rest.split("# -- end\n", 1)
    block = "".join(line[1:] for line in block.splitlines(True))
    for old, new in replace:
        block = block.replace(old, new)
    return head + block + tail


class LoginNode:
    """One Dovecot node: its own context (a copy of the stack's naming
    this node), directory, address and ports."""

    def __init__(self, stack, name, ip, also=(), tls=None, ca_file=None):
        """also: more addresses it listens on; tls: (cert, key) for
        IMAP with STARTTLS and implicit TLS (imaps_port); ca_file: the
        CA its login proxy trusts (the template's block "nodes tls")."""
        self.stack, self.name, self.ip = stack, name, ip
        self.ips, self.tls, self.ca_file = (ip,) + tuple(also), tls, ca_file
        self.dir = os.path.join(stack.root, "node-" + name)
        self.context = os.path.join(self.dir, "context.json")
        self.imap_port, self.pop3_port = mailstack.free_port(), mailstack.free_port()
        self.imaps_port = mailstack.free_port() if tls else 0
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
            conf = uncomment_block(mailstack.render(mailstack.dovecot_template(), values), "nodes",
                                   [("10.0.0.0/24", "127.0.0.0/8")])
            if self.ca_file:
                conf = uncomment_block(conf, "nodes tls", [("/etc/mailbag/nodes-ca.pem", self.ca_file)])
            f.write(conf)
        names = mailstack.DOVECOT24_BASE_NAMES if mailstack.dovecot24() else mailstack.DOVECOT23_BASE_NAMES
        with open(os.path.join(self.dir, "dovecot.conf"), "w") as f:
            f.write(DOVECOT_NODE_BASE.format(d=self.dir, name=self.name, ips=" ".join(self.ips),
                                             imap=self.imap_port, imaps=self.imaps_port,
                                             pop3=self.pop3_port, ssl=self.ssl_settings(), **names))
        os.makedirs(os.path.join(self.dir, "state"), exist_ok=True)
        with open(os.path.join(self.dir, "start.out"), "w") as out:
            ret = subprocess.run(["dovecot", "-c", os.path.join(self.dir, "dovecot.conf")],
                                           stdin=subprocess.DEVNULL, stdout=out, stderr=out).returncode
        if ret != 0:
            raise RuntimeError("node %s: dovecot failed to start: %s"
                               % (self.name, open(os.path.join(self.dir, "start.out")).read()))
        mailstack.wait_for(self._port_open, 15, "node %s's IMAP port" % self.name)

    def ssl_settings(self):
        if not self.tls:
            return "ssl = no"
        if mailstack.dovecot24():
            return "ssl = yes\nssl_server_cert_file = %s\nssl_server_key_file = %s" % self.tls
        return "ssl = yes\nssl_cert = <%s\nssl_key = <%s" % self.tls

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


def user_on(stack, node, local, via=None):
    """A new user whose record names node, set through the context of
    via (default node a's: the stack's own has no nodes)."""
    address = "%s@%s" % (local, new_domain(stack))
    password = add_user(stack, address)
    context = via.context if via else os.path.join(stack.root, "node-a", "context.json")
    proc = subprocess.run([stack.mailbag_bin, "--context", context, "user", "node", address, node],
                          capture_output=True, text=True)
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


def doveadm(node, *args):
    return subprocess.run(["doveadm", "-c", os.path.join(node.dir, "dovecot.conf"), *args],
                          capture_output=True, text=True)


def test_services_without_a_hop(stack, nodes):
    """Through a's auth service: an SMTP or submission login for b's user
    is answered on a (no proxy fields), a ManageSieve login gets b's sieve
    port; the userdb answers doveadm for her but not LMTP."""
    a, b = nodes
    her, password = user_on(stack, "b", "svc")
    for service in ("smtp", "submission"):
        out = doveadm(a, "auth", "test", "-x", "service=" + service, her, password)
        assert out.returncode == 0 and "auth succeeded" in out.stdout, out
        assert "host=" not in out.stdout and "proxy" not in out.stdout, out.stdout
    out = doveadm(a, "auth", "test", "-x", "service=sieve", her, password)
    assert "host=127.0.0.3" in out.stdout and "port=4190" in out.stdout, out.stdout
    out = doveadm(a, "auth", "test", "-x", "service=imap", her, "wrong password")
    assert out.returncode != 0 and "host=" not in out.stdout, out
    assert doveadm(a, "user", her).returncode == 0
    out = doveadm(a, "user", "-x", "service=lmtp", her)
    assert out.returncode != 0, out
    wait_until(lambda: "the mailbox is on node b, not here (a)" in a.log(), what="the userdb refusal in a's log")
    assert doveadm(b, "user", "-x", "service=lmtp", her).returncode == 0


# --- TLS from the proxy to the node -------------------------------------

def make_ip_certificate(name, ip, cert, key):
    """A self-signed certificate for host name and IP address ip."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=" + name, "-addext", "subjectAltName=DNS:%s,IP:%s" % (name, ip),
                    "-keyout", key, "-out", cert], check=True, capture_output=True)
    os.chmod(key, 0o600)


@pytest.fixture(scope="module")
def tls_nodes(stack):
    """Node t speaks TLS (a certificate for 127.0.0.4 only, though it
    listens on 127.0.0.5 too); front node p proxies to it."""
    certdir = os.path.join(stack.root, "node-tls-certs")
    os.makedirs(certdir, exist_ok=True)
    os.chmod(certdir, 0o755)
    cert, key = os.path.join(certdir, "t.pem"), os.path.join(certdir, "t.key")
    make_ip_certificate("node-t.mailbag.test", "127.0.0.4", cert, key)
    t = LoginNode(stack, "t", "127.0.0.4", also=("127.0.0.5",), tls=(cert, key))
    p = LoginNode(stack, "p", "127.0.0.6", ca_file=cert)
    started = []
    try:
        for n in (t, p):
            n.write_context({"p": p.entry(), "t": dict(t.entry(), ssl="starttls")})
            n.start()
            started.append(n)
        yield p, t
    finally:
        for n in started:
            n.stop()


def set_node_entry(node, name, entry):
    """node's context with the nodes entry name replaced (the driver
    reads the file again when it changes)."""
    with open(node.context) as f:
        ctx = json.load(f)
    ctx["nodes"][name] = entry
    with open(node.context + ".new", "w") as f:
        json.dump(ctx, f)
    os.rename(node.context + ".new", node.context)


def tls_logins_in(node, user):
    return len(re.findall(r"(?:Login|Logged in): user=<%s>.*TLS" % re.escape(user), node.log()))


def test_tls_to_the_node_is_verified(stack, tls_nodes):
    """starttls and ssl yes reach t with its certificate checked; a host
    the certificate does not name is a temporary failure."""
    p, t = tls_nodes
    her, password = user_on(stack, "t", "tls", via=p)
    try:
        p.imap(her, password).logout()
        wait_until(lambda: tls_logins_in(t, her) == 1, what="her STARTTLS login in t's log")
        set_node_entry(p, "t", dict(t.entry(), ssl="yes", imap_port=t.imaps_port))
        p.imap(her, password).logout()
        wait_until(lambda: tls_logins_in(t, her) == 2, what="her implicit-TLS login in t's log")
        set_node_entry(p, "t", dict(t.entry(), host="127.0.0.5", ssl="starttls"))
        with pytest.raises(imaplib.IMAP4.error) as failed:
            p.imap(her, password)
        assert "UNAVAILABLE" in str(failed.value), failed.value
        assert tls_logins_in(t, her) == 2
    finally:
        set_node_entry(p, "t", dict(t.entry(), ssl="starttls"))
