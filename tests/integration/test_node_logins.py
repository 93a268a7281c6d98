"""Logins reach the mailbox's node, across three hosts (nodes.py).

Each node's context names itself (`node`) and all three (`nodes`); each
node has a disk of its own. A user whose record names b logs in over
IMAP on a and works in b's mailbox (a's login process proxies the
session, b checks the password again against the shared store); a
user of a is served by a; b's Dovecot down: her login on a fails
temporarily while everyone else's works, and works again once b is back.
test_node_logins_loopback.py has POP3, TLS to the nodes and the answers
for other services.
"""

import imaplib
import os
import re

import pytest

from conftest import wait_until
from helpers import add_user

_count = [0]


def trust_the_nodes(node, nodes):
    """The template's block "nodes" uncommented in node's Dovecot, with
    the nodes' subnet, as its comment says (the fixture renders the
    template as it comes), and Dovecot told to read it again."""
    conf = os.path.join(node.dovecot_dir, "mailbag.conf")
    with open(conf) as f:
        text = f.read()
    head, rest = text.split("# -- nodes\n", 1)
    block, tail = rest.split("# -- end\n", 1)
    block = "".join(line[1:] for line in block.splitlines(True))
    with open(conf, "w") as f:
        f.write(head + block.replace("10.0.0.0/24", nodes.subnet + ".0/24") + tail)
    node.run(["doveadm", "-c", os.path.join(node.dovecot_dir, "dovecot.conf"), "reload"])


@pytest.fixture(scope="module")
def routed(nodes):
    """The three nodes, each naming itself and the others."""
    node_map = {name: {"host": node.address} for name, node in nodes.items()}
    for name, node in nodes.items():
        node.update_context({"node": name, "nodes": node_map})
        trust_the_nodes(node, nodes)
    return nodes


def user_on(nodes, node_name, local):
    """A new user whose record names node_name; her password."""
    _count[0] += 1
    address = "%s@l%d-%d.example" % (local, _count[0], os.getpid())
    nodes["a"].mailbag("domain", "add", address.split("@")[1], check=True)
    password = add_user(nodes["a"], address)
    nodes["a"].mailbag("user", "node", address, node_name, check=True)
    return address, password


def imap_login(node, user, password):
    im = node.imap()
    try:
        im.login(user, password)
    except imaplib.IMAP4.error:
        im.shutdown()
        raise
    return im


def logins(node, user):
    """The sessions node's Dovecot started itself for user (2.3
    "Login:", 2.4 "Logged in:")."""
    return re.findall(r"(?:Login|Logged in): user=<%s>.*" % re.escape(user), node.dovecot_log())


def proxied(node, user):
    return re.findall(r"proxy\(%s,.*Started proxying to" % re.escape(user), node.dovecot_log())


def test_her_login_on_a_works_in_bs_mailbox(routed):
    """Mail delivered to her on b is what she sees on a; what she APPENDs
    on a lands on b's disk and nowhere else."""
    a, b = routed["a"], routed["b"]
    her, password = user_on(routed, "b", "her")
    msgid = b.send([her], "delivered on b")
    wait_until(lambda: b.messages_with(her, msgid), what="the delivery on b")
    im = imap_login(a, her, password)
    try:
        typ, data = im.select("INBOX")
        assert typ == "OK" and int(data[0]) == 1, data
        typ, data = im.fetch("1", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        assert msgid.encode() in data[0][1]
        typ, _ = im.append("INBOX", None, None,
                           b"From: her@remote.test\r\nSubject: appended on a\r\n"
                           b"Message-ID: <appended-on-a@remote.test>\r\n\r\nbody\r\n")
        assert typ == "OK"
    finally:
        im.logout()
    assert b.messages_with(her, "<appended-on-a@remote.test>")
    assert a.maildir_messages(her) == []
    assert len(proxied(a, her)) == 1 and logins(a, her) == []
    wait_until(lambda: logins(b, her), what="her session in b's log")
    # b trusts a: it logs the client's own address, not a's
    assert "rip=%s," % routed.bridge_address in logins(b, her)[0], logins(b, her)


def test_a_user_of_a_is_served_by_a(routed):
    a, b = routed["a"], routed["b"]
    me, password = user_on(routed, "a", "me")
    im = imap_login(a, me, password)
    im.append("INBOX", None, None, b"Subject: kept on a\r\n\r\nbody\r\n")
    im.logout()
    wait_until(lambda: logins(a, me), what="my session in a's log")
    assert proxied(a, me) == [] and logins(b, me) == []
    assert len(a.maildir_messages(me)) == 1 and b.maildir_messages(me) == []


def test_a_wrong_password_through_the_proxy_fails_like_a_local_one(routed):
    a, b = routed["a"], routed["b"]
    her, _ = user_on(routed, "b", "wrong")
    mine, _ = user_on(routed, "a", "wrong-here")
    for user in (her, mine):
        with pytest.raises(imaplib.IMAP4.error) as failed:
            imap_login(a, user, "not the password")
        assert "AUTHENTICATIONFAILED" in str(failed.value), failed.value
    assert proxied(a, her) == [] and logins(b, her) == []


def test_b_down_her_login_fails_temporarily_and_others_work(routed):
    """b's Dovecot stopped: her login on a gets [UNAVAILABLE] (not a
    failed password, not an empty mailbox); a's user and c's user log in
    on a as before; b back: she is served again."""
    a, b = routed["a"], routed["b"]
    her, password = user_on(routed, "b", "down")
    mine, my_password = user_on(routed, "a", "up")
    theirs, their_password = user_on(routed, "c", "elsewhere")
    b.stop_dovecot()
    try:
        with pytest.raises(imaplib.IMAP4.error) as failed:
            imap_login(a, her, password)
        assert "UNAVAILABLE" in str(failed.value), failed.value
        for user, secret in ((mine, my_password), (theirs, their_password)):
            im = imap_login(a, user, secret)
            assert im.select("INBOX")[0] == "OK"
            im.logout()
    finally:
        b.start_dovecot()
        trust_the_nodes(b, routed)
    assert a.maildir_messages(her) == []
    im = imap_login(a, her, password)
    assert im.select("INBOX")[0] == "OK"
    im.logout()
    wait_until(lambda: logins(b, her), what="her session in b's log once b is back")
