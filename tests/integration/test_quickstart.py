"""The README's first command, minus apt and meson install: the demo server
deploy/quickstart.sh execs (deploy/demo.py: `mailbag setup --root`, then
the servers started from what it wrote), run as a newcomer would, then used
as mail clients use it (IMAP with STARTTLS and IMAPS, submission with
STARTTLS and submissions, the servers its autoconfig names), its outbox
read and its DKIM signatures verified, stopped with Ctrl-C (SIGINT) and
started again with the same users and mail."""

import imaplib
import json
import os
import re
import signal
import smtplib
import ssl
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ElementTree

import dkim
import pytest

import mailstack
from conftest import BUILD, wait_until
from test_setup import setup_env

DEMO = "demo@example.test"


def programs():
    return {
        "mailbag": os.environ.get("MAILBAG_MAILBAG_BIN", os.path.join(BUILD, "cli", "mailbag")),
        "mailbag-policyd": os.environ.get("MAILBAG_POLICYD_BIN", os.path.join(BUILD, "policyd", "mailbag-policyd")),
        "mailbag-lmtpd": os.environ.get("MAILBAG_LMTPD_BIN", os.path.join(BUILD, "lmtp-bridge", "mailbag-lmtpd")),
        "mailbag-milter": os.environ.get("MAILBAG_MILTER_BIN", os.path.join(BUILD, "milter", "mailbag-milter")),
    }


def tls():
    # the demo's certificate is self-signed, for mx.mailbag.test
    return ssl._create_unverified_context()


class Demo:
    """One run of deploy/demo.py under root, on the given ports, with the
    build's programs and setup's files from the source tree."""

    def __init__(self, root, ports, out_path):
        self.root, self.ports, self.out_path = root, ports, out_path
        self.proc = None

    def start(self, *extra):
        with open(self.out_path, "w") as out:
            self.proc = subprocess.Popen(
                ["/usr/bin/python3", os.path.join(mailstack.SOURCE_ROOT, "deploy", "demo.py"),
                 "--root", self.root] +
                ["--%s=%s" % (name, path) for name, path in programs().items()] +
                ["--%s-port=%d" % (name, port) for name, port in self.ports.items()] + list(extra),
                stdout=out, stderr=subprocess.STDOUT, env=setup_env())
        wait_until(lambda: "stop it with" in self.text() or self.proc.poll() is not None,
                   timeout=90, what="the demo server to start")
        assert self.proc.poll() is None, self.text()
        return self.text()

    def text(self):
        return self.out_path.read_text()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(60)
        assert "stopped" in self.text(), self.text()
        time.sleep(1)
        for port in self.ports.values():
            assert not mailstack.port_open(port), port

    def mailbag(self, *args):
        return subprocess.run([programs()["mailbag"], *args], capture_output=True, text=True,
                              env=dict(os.environ, MAILBAG_CONTEXT=self.context()))

    def context(self):
        return re.search(r"export MAILBAG_CONTEXT=(\S+)", self.text()).group(1)


def imap_messages(port, password, implicit_tls):
    """Log in as the demo user (IMAPS, or STARTTLS first) and count INBOX."""
    if implicit_tls:
        im = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=tls())
    else:
        im = imaplib.IMAP4("127.0.0.1", port)
        assert "STARTTLS" in im.capabilities
        im.starttls(ssl_context=tls())
    try:
        im.login(DEMO, password)
        typ, data = im.select("INBOX")
        assert typ == "OK"
        return int(data[0])
    finally:
        im.logout()


def submit(port, password, implicit_tls, rcpt, subject):
    msgid = "<%s.%f@demo.test>" % (subject, time.time())
    body = ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\n\r\nsent from the demo\r\n"
            % (DEMO, rcpt, subject, msgid))
    if implicit_tls:
        smtp = smtplib.SMTP_SSL("127.0.0.1", port, timeout=30, context=tls())
    else:
        smtp = smtplib.SMTP("127.0.0.1", port, timeout=30)
        smtp.starttls(context=tls())
    with smtp:
        assert "vrfy" not in smtp.esmtp_features and "etrn" not in smtp.esmtp_features
        smtp.login(DEMO, password)
        smtp.sendmail(DEMO, [rcpt], body)
    return msgid


def autoconfig_servers(text):
    """(kind, port, socketType) of every server in the demo's autoconfig."""
    path = re.search(r"client settings +(\S+)", text).group(1)
    servers = []
    for element in ElementTree.parse(path).getroot().iter():
        if element.tag in ("incomingServer", "outgoingServer"):
            servers.append((element.get("type"), int(element.findtext("port")),
                            element.findtext("socketType")))
    return servers


def outbox_messages(text):
    new = os.path.join(re.search(r"sent mail +(\S+)", text).group(1))
    return [open(os.path.join(new, n), "rb").read() for n in sorted(os.listdir(new))]


def verify_each_signature(message, records):
    """dkimpy's verdict on each DKIM-Signature of message, by algorithm."""
    def dns(name, timeout=5):
        for r in records:
            if name.decode().rstrip(".") == r["name"]:
                return r["value"].encode()
        return None
    verdicts = {}
    count = len(re.findall(rb"(?mi)^DKIM-Signature:", message))
    for i in range(count):
        d = dkim.DKIM(message)
        ok = d.verify(idx=i, dnsfunc=dns)
        verdicts[d.signature_fields[b"a"].decode()] = ok
    return verdicts


@pytest.fixture
def demo(tmp_path, stack):
    """The demo on free ports (the session's stack has installed the
    build's Dovecot module, as meson install does for the quickstart)."""
    names = ("smtp", "submission", "submissions", "imap", "imaps", "sink")
    ports = {name: mailstack.free_port() for name in names}
    base = tempfile.mkdtemp(prefix="mailbag-demo-")
    os.chmod(base, 0o755)
    root = os.path.join(base, "root")
    d = Demo(root, ports, tmp_path / "demo.out")
    yield d
    if d.proc is not None and d.proc.poll() is None:
        d.proc.send_signal(signal.SIGINT)
        d.proc.wait(60)
    subprocess.run(["rm", "-rf", base])


def test_demo_server_as_clients_use_it_and_again_after_ctrl_c(demo):
    text = demo.start()
    password = re.search(r"password (\S+)", text).group(1)
    for name, port in demo.ports.items():
        if name != "sink":
            assert "127.0.0.1:%d" % port in text, name
    assert "Ctrl-C" in text

    # mail in from outside, read over IMAP with STARTTLS and over IMAPS
    with smtplib.SMTP("127.0.0.1", demo.ports["smtp"], timeout=30) as s:
        s.sendmail("friend@remote.test", [DEMO], "Subject: welcome\r\nMessage-ID: <demo@remote.test>\r\n\r\nhi\r\n")
    wait_until(lambda: imap_messages(demo.ports["imap"], password, False) == 1,
               timeout=30, what="the demo user to read the mail over IMAP")
    assert imap_messages(demo.ports["imaps"], password, True) == 1

    # every server the autoconfig names takes the demo user's login, the
    # way it says (STARTTLS or implicit TLS)
    servers = autoconfig_servers(text)
    assert sorted(servers) == sorted([
        ("imap", demo.ports["imap"], "STARTTLS"), ("imap", demo.ports["imaps"], "SSL"),
        ("smtp", demo.ports["submission"], "STARTTLS"), ("smtp", demo.ports["submissions"], "SSL")])
    sent = []
    for kind, port, socket_type in servers:
        if kind == "imap":
            assert imap_messages(port, password, socket_type == "SSL") == 1
        else:
            sent.append(submit(port, password, socket_type == "SSL", "friend@elsewhere.test",
                               "via-%d" % port))

    # what left is in the outbox, signed with both keys, which verify
    # against the records `mailbag dkim show` prints
    wait_until(lambda: len(outbox_messages(text)) == 2, timeout=60, what="two messages in the outbox")
    shown = demo.mailbag("--json", "dkim", "show", "example.test")
    assert shown.returncode == 0, shown.stderr
    records = json.loads(shown.stdout)
    for message in outbox_messages(text):
        assert any(msgid.encode() in message for msgid in sent)
        assert verify_each_signature(message, records) == {"rsa-sha256": True, "ed25519-sha256": True}
    # the printed export line reaches the demo's store
    listed = demo.mailbag("user", "list")
    assert listed.returncode == 0 and DEMO in listed.stdout, listed.stderr

    # Ctrl-C, and the same command again: the same user, password and mail
    demo.stop()
    text = demo.start()
    assert "running again" in text and re.search(r"password (\S+)", text).group(1) == password
    assert imap_messages(demo.ports["imaps"], password, True) == 1
    assert len(outbox_messages(text)) == 2
    demo.stop()

    # --fresh starts over
    text = demo.start("--fresh")
    assert "running again" not in text and re.search(r"password (\S+)", text).group(1) != password
    assert outbox_messages(text) == []
    demo.stop()
