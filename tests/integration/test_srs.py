"""Forwarding that survives SPF: the Sender Rewriting Scheme (issue 21,
point 1), through the real Postfix.

An alias with a local and an outside target: the local copy keeps the
original sender, the copy the outside sink receives has an SRS0 sender at
srs.domain that mailbag-policyd's srs_reverse map turns back; a local
sender's forwarded mail keeps its sender; a bounce of the forwarded copy,
and a DSN sent from outside to the SRS address, reach the original sender
through the sink; forged, altered and expired SRS addresses are refused at
RCPT. srs.domain is first the host name (a local-class domain: mydestination
lists it, as `mailbag setup` makes it for mail from the host itself), then
a served virtual domain.
"""

import base64
import grp
import hashlib
import hmac
import os
import re
import tempfile
import time
import shutil
import subprocess

import pytest

from conftest import BUILD, wait_until
from helpers import add_user, netstring, rcpt_reply, send, socketmap_query, submit
import mailstack
from demo import SmtpSink  # noqa: E402 (mailstack puts deploy/ on the path)

HOSTNAME = "mx.srs.test"
SECRET = "an SRS secret of the test, long enough"
REFUSING = "refuse-me@external.test"  # the sink answers 550 to this recipient


class SrsStack(mailstack.MailStack):
    """A stack with SRS on, its secret file made before policyd starts (the
    host name is in mydestination, as the shipped main.cf has it)."""

    def customise_context(self, ctx):
        ctx["srs"]["enabled"] = True
        with open(self.srs_secrets, "w") as f:
            f.write(SECRET + "\n")
        os.chown(self.srs_secrets, 0, grp.getgrnam("mailbag").gr_gid)
        os.chmod(self.srs_secrets, 0o640)


@pytest.fixture(scope="module")
def srs():
    if os.geteuid() != 0:
        pytest.fail("the integration tests run Postfix and Dovecot and need root")
    root = tempfile.mkdtemp(prefix="mailbag-srs-test-")
    sink = SmtpSink(mailstack.free_port(), refuse={REFUSING}).start()
    s = SrsStack(root, os.path.join(BUILD, "cli", "mailbag"),
                 os.path.join(BUILD, "policyd", "mailbag-policyd"),
                 os.path.join(BUILD, "dovecot-plugin", "libauthdb_mailbag.so"),
                 hostname=HOSTNAME, sink=sink)
    s.start()
    s.domain = "srs-home.example"
    s.mailbag("domain", "add", s.domain, check=True)
    s.carol_password = add_user(s, "carol@" + s.domain)
    s.mailbag("alias", "add", "team@" + s.domain, "carol@" + s.domain, "partner@external.test",
              check=True)
    s.mailbag("alias", "add", "gone@" + s.domain, REFUSING, check=True)
    try:
        yield s
    finally:
        s.stop()
        sink.stop()
        if os.environ.get("MAILBAG_KEEP_TEST_DIR"):
            print("test directory kept:", root)
        else:
            shutil.rmtree(root, ignore_errors=True)


def lookup(stack, map_name, key):
    reply = socketmap_query(stack.socketmap, [netstring("%s %s" % (map_name, key))])[0].decode()
    return reply[reply.index(":") + 1:-1]


def at_sink(stack, msgid, before):
    found = [m for m in stack.sink.messages[before:] if msgid.encode() in m[2]]
    return found or None


def srs0(local, domain, srs_domain, days_ago=0, secret=SECRET):
    """An SRS0 address as libsrs2 makes it, signed here with secret."""
    day = (int(time.time()) // 86400 - days_ago) % 1024
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    stamp = alphabet[day >> 5] + alphabet[day & 31]
    mac = hmac.new(secret.encode(), (stamp + domain + local).lower().encode(), hashlib.sha1).digest()
    hash4 = base64.urlsafe_b64encode(mac).decode()[:4]
    return "SRS0=%s=%s=%s=%s@%s" % (hash4, stamp, domain, local, srs_domain)


def return_path(message):
    m = re.search(rb"^Return-Path: <([^>]*)>", message, re.M)
    return m and m.group(1).decode()


def test_forwarded_copy_has_the_srs_sender_and_the_local_copy_the_original(srs):
    before = len(srs.sink.messages)
    msgid = send(srs, ["team@" + srs.domain], subject="srs fan-out", sender="alice@outside.test")
    carol = "carol@" + srs.domain
    local = wait_until(lambda: [m for m in srs.maildir_messages(carol) if msgid.encode() in m],
                       what="the local copy")
    assert return_path(local[0]) == "alice@outside.test"
    (mail_from, rcpts, data), = wait_until(lambda: at_sink(srs, msgid, before), what="the forwarded copy")
    assert rcpts == ["partner@external.test"]
    sender = mail_from.strip("<>")
    assert re.fullmatch(r"SRS0=[A-Za-z0-9_-]{4}=[A-Z2-7]{2}=outside\.test=alice@" + re.escape(HOSTNAME),
                        sender), sender
    assert sender == srs0("alice", "outside.test", HOSTNAME)  # libsrs2's address, our secret
    assert lookup(srs, "srs_reverse", sender.lower()) == "OK alice@outside.test"
    # the headers are the sender's own; the log names the real recipient
    assert b"From: alice@outside.test" in data
    assert re.search(r"to=<partner@external\.test>.*status=sent", srs.read_maillog())


def test_a_system_alias_forwarding_outside_gets_the_srs_sender(srs):
    """root of the host -> an outside address: mail to it from outside is
    forwarded like an alias's, with the SRS sender."""
    srs.mailbag("alias", "add", "root", "admin@external.test", check=True)
    try:
        before = len(srs.sink.messages)
        msgid = send(srs, ["root@" + HOSTNAME], subject="to root", sender="alice@outside.test")
        (mail_from, rcpts, data), = wait_until(lambda: at_sink(srs, msgid, before), what="root's forwarded copy")
        assert rcpts == ["admin@external.test"]
        assert mail_from.strip("<>") == srs0("alice", "outside.test", HOSTNAME)
    finally:
        srs.mailbag("alias", "del", "root", check=True)


def test_a_local_senders_forwarded_mail_keeps_its_sender(srs):
    before = len(srs.sink.messages)
    carol = "carol@" + srs.domain
    msgid = submit(srs, carol, srs.carol_password, carol, ["team@" + srs.domain], "srs local sender")
    (mail_from, rcpts, _), = wait_until(lambda: at_sink(srs, msgid, before), what="the forwarded copy")
    assert mail_from == "<%s>" % carol
    assert rcpts == ["partner@external.test"]
    assert lookup(srs, "srs_forward", carol) == "NOTFOUND "


def test_a_bounce_of_the_forwarded_copy_reaches_the_original_sender(srs):
    before = len(srs.sink.messages)
    msgid = send(srs, ["gone@" + srs.domain], subject="srs bounce", sender="bob@outside.test")
    bounce = wait_until(lambda: [m for m in srs.sink.messages[before:]
                                 if m[0] in ("<>", "") and msgid.encode() in m[2]],
                        timeout=40, what="the bounce at the sink")
    mail_from, rcpts, data = bounce[0]
    assert rcpts == ["bob@outside.test"]
    assert b"refuse-me@external.test" in data and b"550" in data


def test_a_dsn_from_outside_to_the_srs_address_reaches_the_original_sender(srs):
    address = srs0("dave", "outside.test", HOSTNAME)
    before = len(srs.sink.messages)
    msgid = send(srs, [address], subject="srs dsn", sender="")
    (mail_from, rcpts, _), = wait_until(lambda: at_sink(srs, msgid, before), what="the DSN at the sink")
    assert rcpts == ["dave@outside.test"]
    assert mail_from in ("<>", "")


def test_forged_altered_and_expired_srs_addresses_are_refused_at_rcpt(srs):
    good = srs0("erin", "outside.test", HOSTNAME)
    assert rcpt_reply(srs, good, sender="")[0] == 250
    forged = srs0("erin", "outside.test", HOSTNAME, secret="not our secret at all")
    altered = good.replace("=erin@", "=eric@")
    expired = srs0("erin", "outside.test", HOSTNAME, days_ago=22)
    future = srs0("erin", "outside.test", HOSTNAME, days_ago=-2)
    for address in (forged, altered, expired, future, "SRS0=xx@" + HOSTNAME):
        code, text = rcpt_reply(srs, address, sender="")
        assert code == 550, (address, code, text)
    assert rcpt_reply(srs, srs0("erin", "outside.test", HOSTNAME, days_ago=21), sender="")[0] == 250


def test_rotation_is_live_and_the_old_secret_still_verifies(srs):
    old = srs0("frank", "outside.test", HOSTNAME)
    before = lookup(srs, "srs_forward", "frank@outside.test")
    assert before == "OK " + old
    r = srs.mailbag("srs", "rotate")
    assert r.returncode == 0, r.stderr
    assert SECRET not in r.stdout + r.stderr
    st = os.stat(srs.srs_secrets)
    assert st.st_mode & 0o777 == 0o640 and st.st_uid == 0
    with open(srs.srs_secrets) as f:
        lines = f.read().splitlines()
    assert len(lines) == 2 and lines[1] == SECRET
    # policyd re-reads the file on the next lookup (within a second)
    wait_until(lambda: lookup(srs, "srs_forward", "frank@outside.test") ==
               "OK " + srs0("frank", "outside.test", HOSTNAME, secret=lines[0]), what="the new secret")
    assert lookup(srs, "srs_reverse", old.lower()) == "OK frank@outside.test"
    assert rcpt_reply(srs, old, sender="")[0] == 250


def test_a_served_virtual_domain_as_srs_domain(srs):
    with open(srs.context) as f:
        import json
        section = json.load(f)["srs"]
    section["domain"] = srs.domain
    srs.update_context({"srs": section})
    try:
        before = len(srs.sink.messages)
        msgid = send(srs, ["team@" + srs.domain], subject="srs virtual", sender="gina@outside.test")
        (mail_from, rcpts, _), = wait_until(lambda: at_sink(srs, msgid, before), what="the forwarded copy")
        assert re.fullmatch(r"<SRS0=.{4}=..=outside\.test=gina@%s>" % re.escape(srs.domain), mail_from), mail_from
        sender = mail_from.strip("<>")
        # a DSN to it comes back to gina; a forged one is refused
        before = len(srs.sink.messages)
        msgid = send(srs, [sender], subject="srs virtual dsn", sender="")
        (_, rcpts, _), = wait_until(lambda: at_sink(srs, msgid, before), what="the DSN at the sink")
        assert rcpts == ["gina@outside.test"]
        forged = sender[:5] + ("AAAA" if sender[5:9] != "AAAA" else "BBBB") + sender[9:]
        assert rcpt_reply(srs, forged, sender="")[0] == 550
    finally:
        section["domain"] = ""
        srs.update_context({"srs": section})


def postfix_reload(stack):
    subprocess.run(["postfix", "-c", stack.postfix_etc, "reload"], check=True, capture_output=True)


def test_a_down_forward_smtpd_leaves_the_copy_queued(srs):
    """Nothing is lost: while the loopback smtpd is down the forwarded copy
    waits in the queue (the local one is delivered), and leaves with its
    SRS sender once it is back."""
    master_cf = os.path.join(srs.postfix_etc, "master.cf")
    with open(master_cf) as f:
        saved = f.read()
    service = "127.0.0.1:%d/inet" % srs.ports["srs_forward"]
    subprocess.run(["postconf", "-c", srs.postfix_etc, "-M#", service], check=True, capture_output=True)
    postfix_reload(srs)
    wait_until(lambda: not mailstack.port_open(srs.ports["srs_forward"]), what="the forward smtpd to stop")
    before = len(srs.sink.messages)
    try:
        msgid = send(srs, ["team@" + srs.domain], subject="srs down", sender="hank@outside.test")
        carol = "carol@" + srs.domain
        wait_until(lambda: [m for m in srs.maildir_messages(carol) if msgid.encode() in m],
                   what="the local copy")
        wait_until(lambda: "partner=external.test@mailbag-forward.invalid" in subprocess.run(
            ["postqueue", "-c", srs.postfix_etc, "-p"], capture_output=True, text=True).stdout,
            what="the forwarded copy deferred in the queue")
        assert not at_sink(srs, msgid, before)
    finally:
        with open(master_cf, "w") as f:
            f.write(saved)
        postfix_reload(srs)
    wait_until(lambda: mailstack.port_open(srs.ports["srs_forward"]), what="the forward smtpd back")
    srs.flush_queue()
    (mail_from, rcpts, _), = wait_until(lambda: at_sink(srs, msgid, before), timeout=40,
                                        what="the forwarded copy after the smtpd came back")
    with open(srs.srs_secrets) as f:
        signing = f.readline().strip()
    assert mail_from == "<%s>" % srs0("hank", "outside.test", HOSTNAME, secret=signing)
    assert rcpts == ["partner@external.test"]
