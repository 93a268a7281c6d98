"""`mailbag user move` between two nodes that are separate hosts: nodes a
and b of the three-node fixture (tests/integration/nodes.py: each node in
its own network namespace with its own address, Postfix, Dovecot and
disk, one Redis store). Each node's Dovecot gets the template's doveadm
over TCP block on its own address; the move runs on node a, the mailbox's
node. A mailbox of N messages moves while M more are sent to node a's
SMTP and she is logged in on a; afterwards every message is on b once (by
Message-ID), flags kept, nothing bounced, and a login on a reaches b's
mailbox through the proxy."""

import imaplib
import os
import re
import secrets
import subprocess
import time

import pytest

from conftest import wait_until
from mailstack import MailStack
from helpers import add_user
from test_user_move import (LoginProbe, Sender, doveadm_block, fill_mailbox, mailbox_state,
                            set_flags)

MAILBOX = 1000
DURING = 500
DOVEADM_PORT = 2425


@pytest.fixture(scope="module")
def moving(nodes):
    """nodes a and b with doveadm over TCP and a shared password; node
    map and move settings in each context."""
    password_file = os.path.join(os.path.dirname(nodes["a"].root), "doveadm.password")
    with open(password_file, "w") as f:
        f.write(secrets.token_hex(16))
    os.chmod(password_file, 0o600)
    node_map = {n: {"host": node.address, "lmtp": node.lmtp_address, "doveadm_port": DOVEADM_PORT,
                    "imap_port": node.ports["imap"]} for n, node in nodes.items()}
    # this build's auth module in Dovecot's one module directory (another
    # checkout's run may have put its own there since the nodes started)
    MailStack._install_auth_module(nodes["a"])
    for name in ("a", "b"):
        node = nodes[name]
        node.dovecot_include = os.path.join(node.root, "doveadm.conf")
        with open(node.dovecot_include, "w") as f:
            f.write(doveadm_block(DOVEADM_PORT, password_file, node.address))
        node.update_context({"node": name, "nodes": node_map,
                             "move": {"doveadm_password_file": password_file,
                                      "dovecot_config": node.dovecot_conf, "grace": 2, "freeze": 120}})
        node.reload_lmtpd()
        node.stop_dovecot()
        node.start_dovecot()
    yield nodes


def where_missing(a, b, address, password, want):
    """What a stuck wait for node b saw: the messages missing there, which
    of them lie on node a's disk (delivered to the old node after the
    move), node a's queue and its log lines about the address."""
    on_b = mailbox_state(b.ports["imap"], address, password, host=b.address)
    missing = sorted(set(want) - set(on_b))
    on_a_disk = set()
    for raw in a.maildir_messages(address):
        m = re.search(rb"Message-ID:\s*(<[^>]+>)", raw, re.I)
        if m:
            on_a_disk.add(m.group(1).decode())
    queue = subprocess.run(["postqueue", "-c", a.postfix_etc, "-p"], capture_output=True, text=True).stdout
    log = [line for line in a.read_maillog().splitlines() if address in line][-15:]
    return ("%d of %d messages not on node b; %d of those on node a's disk: %s\n"
            "node a's queue:\n%s\nnode a's last log lines for %s:\n%s"
            % (len(missing), len(want), len(set(missing) & on_a_disk), missing[:5],
               queue[-3000:], address, "\n".join(log)))


def domain_on(nodes):
    name = "mv%d-%d.example" % (int(time.time() * 1000) % 100000, os.getpid())
    nodes["a"].mailbag("domain", "add", name, check=True)
    return name


def test_move_between_hosts(moving):
    a, b = moving["a"], moving["b"]
    address = "mover@" + domain_on(moving)
    password = add_user(a, address, "move-password-1")
    a.mailbag("user", "node", address, "a", check=True)
    before = fill_mailbox(a, address, MAILBOX, "hosts", lmtp=(a.address, a.ports["lmtp"]))
    set_flags(a.ports["imap"], address, password, host=a.address)
    flags = mailbox_state(a.ports["imap"], address, password, host=a.address)
    assert len(flags) == MAILBOX
    session = imaplib.IMAP4(a.address, a.ports["imap"])
    session.login(address, password)
    session.select("INBOX")
    sender = Sender(a, address, DURING, "hosts", smtp=(a.address, a.ports["smtp"]))
    probe = LoginProbe(a.ports["imap"], address, password, host=a.address)
    sender.start()
    wait_until(lambda: len(sender.ids) >= 50, 30, "the first deliveries")
    probe.start()
    started = time.time()
    result = a.mailbag("user", "move", address, "b")
    took = time.time() - started
    probe.stop.set()
    probe.join()
    sender.join()
    print("move between hosts of %d messages took %.1fs:\n%s" % (MAILBOX, took, result.stdout))
    assert result.returncode == 0, result.stdout + result.stderr
    assert not sender.errors, sender.errors[:3]
    with pytest.raises((imaplib.IMAP4.abort, OSError)):
        session.noop()
        session.noop()
    assert not [x for x in probe.answers if "AUTHENTICATIONFAILED" in x], probe.answers
    want = before + sender.ids

    def arrived():
        a.flush_queue()
        return len(mailbox_state(b.ports["imap"], address, password, host=b.address)) >= len(want)
    try:
        wait_until(arrived, 120, "every message on node b")
    except AssertionError:
        raise AssertionError(where_missing(a, b, address, password, want))
    time.sleep(1)
    state = mailbox_state(b.ports["imap"], address, password, host=b.address)
    assert not {m: v for m, v in state.items() if len(v) != 1}, "doubled on node b"
    assert sorted(state) == sorted(want)
    assert not [m for m in before if state[m][0] != flags[m][0]], "flags changed by the move"
    assert not [line for line in a.read_maillog().splitlines()
                if address in line and "status=bounced" in line]
    assert re.search(r"to=<%s>.*status=deferred.*being moved" % re.escape(address), a.read_maillog())
    # b's disk holds the mailbox; a login on a is proxied to it
    assert len(b.maildir_messages(address)) == len(want)
    via_a = mailbox_state(a.ports["imap"], address, password, host=a.address)
    assert sorted(via_a) == sorted(want)
    purged = a.mailbag("user", "move", "--purge", address, "b")
    assert purged.returncode == 0, purged.stdout + purged.stderr
    assert a.maildir_messages(address) == []
    assert len(b.maildir_messages(address)) == len(want)
