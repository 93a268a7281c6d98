"""mailbag-lmtpd, the delivery bridge between the real Postfix and the real
Dovecot: per-recipient outcomes that Postfix logs, LMTP spoken badly,
duplicates recognised, two Dovecot nodes in one transaction, and a full
spool."""

import os
import re
import socket
import subprocess
import time

import pytest

from conftest import new_domain, wait_until
from helpers import add_user, messages_with, send
from test_usage import send_sized, usage_matches_dovecot


class Lmtp:
    """A raw LMTP client on the bridge's socket."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(30)
        self.sock.connect(path)
        self.buf = b""
        self.greeting = self.reply()

    def line(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("the bridge closed the connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode()

    def reply(self):
        """One whole reply: its last line."""
        while True:
            line = self.line()
            if line[3:4] != "-":
                return line

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def cmd(self, command):
        self.send(command + "\r\n")
        return self.reply()

    def close(self):
        self.sock.close()


def envelope(lmtp, sender, rcpts):
    assert lmtp.cmd("LHLO test.client").startswith("250")
    assert lmtp.cmd("MAIL FROM:<%s>" % sender).startswith("250")
    return [lmtp.cmd("RCPT TO:<%s>" % r) for r in rcpts]


def test_one_message_three_outcomes_in_postfix_log(stack, domain):
    """Postfix holds one message for three recipients while each one's
    state changes; then each gets its own outcome: delivered, refused for
    good (disabled), deferred (mailbox full)."""
    ok, disabled, full = ("ok@" + domain, "off@" + domain, "full@" + domain)
    for user in (ok, disabled, full):
        add_user(stack, user)
    # fill "full": one message in, then a quota below its usage
    msgid = send_sized(stack, full, "filler", 20000)
    wait_until(lambda: messages_with(stack, full, msgid), what="the filler")
    wait_until(lambda: usage_matches_dovecot(stack, full, 1), what="usage reported")
    stack.stop_lmtpd()
    try:
        msgid = send(stack, [ok, disabled, full], "three outcomes")
        wait_until(lambda: re.search(r"to=<%s>.*status=deferred" % re.escape(ok), stack.read_maillog()),
                   what="the first attempt, deferred while the bridge is down")
        stack.mailbag("user", "disable", disabled, check=True)
        stack.mailbag("user", "quota", full, "10K", check=True)
    finally:
        stack.start_lmtpd()
    stack.flush_queue()
    wait_until(lambda: messages_with(stack, ok, msgid), what="delivery to the enabled user")
    log = stack.read_maillog()
    wait_until(lambda: re.search(r"to=<%s>.*status=bounced.*550 5\.2\.1" % re.escape(disabled),
                                 stack.read_maillog()), what="the disabled user's bounce in the log")
    wait_until(lambda: re.search(r"to=<%s>.*status=deferred.*452 4\.2\.2" % re.escape(full),
                                 stack.read_maillog()), what="the full mailbox's deferral in the log")
    # Postfix logs "sent" once the whole LMTP transaction has ended, which
    # may be after Dovecot has saved the message: wait for the line too
    wait_until(lambda: re.search(r"to=<%s>.*relay=.*lmtp.*status=sent \(250 2\.0\.0" % re.escape(ok),
                                 stack.read_maillog()), what="the enabled user's delivery in the log")
    assert not messages_with(stack, disabled, msgid)
    assert not messages_with(stack, full, msgid)
    # room again: the deferred recipient gets it on the next retry
    stack.mailbag("user", "quota", full, "default", check=True)
    stack.flush_queue()
    wait_until(lambda: messages_with(stack, full, msgid), what="the deferred delivery")
    assert len(messages_with(stack, ok, msgid)) == 1


def test_lmtp_answers_per_recipient_and_keeps_dot_lines(stack, domain):
    a, b = "dot-a@" + domain, "dot-b@" + domain
    add_user(stack, a)
    add_user(stack, b)
    lmtp = Lmtp(stack.lmtpd_socket)
    try:
        assert lmtp.greeting.startswith("220 ")
        replies = envelope(lmtp, "x@remote.test", [a, "nobody@" + domain, b, "x@elsewhere.test"])
        assert replies[0].startswith("250") and replies[2].startswith("250"), replies
        assert replies[1].startswith("550 5.1.1") and replies[3].startswith("550 5.1.1"), replies
        assert lmtp.cmd("DATA").startswith("354")
        # a line "." in the body is sent stuffed as ".."; a bare-LF line
        # ".\n" is no end of data
        lmtp.send(b"Subject: dots\r\nMessage-ID: <dots@remote.test>\r\n\r\n"
                  b"before\r\n..\r\n...two\r\nbare\n.\nafter\r\n.\r\n")
        first, second = lmtp.reply(), lmtp.reply()
        assert first.startswith("250 2.0.0 <%s>" % a) and second.startswith("250 2.0.0 <%s>" % b)
        assert lmtp.cmd("QUIT").startswith("221")
    finally:
        lmtp.close()
    [msg] = messages_with(stack, a, "<dots@remote.test>")
    body = msg.split(b"\n\n", 1)[1] if b"\r\n\r\n" not in msg else msg.split(b"\r\n\r\n", 1)[1]
    assert body.replace(b"\r\n", b"\n") == b"before\n.\n..two\nbare\n\nafter\n", body


def test_bad_lmtp_gets_defined_answers(stack, domain):
    user = "bad@" + domain
    add_user(stack, user)
    lmtp = Lmtp(stack.lmtpd_socket)
    try:
        assert lmtp.cmd("MAIL FROM:<x@remote.test>").startswith("503")  # before LHLO
        assert lmtp.cmd("EHLO x").startswith("500 5.5.1")
        assert lmtp.cmd("LHLO x").startswith("250")
        assert lmtp.cmd("RCPT TO:<%s>" % user).startswith("503")     # before MAIL
        assert lmtp.cmd("DATA").startswith("503")
        assert lmtp.cmd("MAIL FROM:x@remote.test").startswith("501")
        assert lmtp.cmd("MAIL FROM:<x@remote.test> SIZE=999999999999").startswith("552")
        assert lmtp.cmd("MAIL FROM:<x@remote.test>").startswith("250")
        assert lmtp.cmd("MAIL FROM:<y@remote.test>").startswith("503")  # nested
        assert lmtp.cmd("DATA").startswith("503")                        # no recipient
        assert lmtp.cmd("FOO").startswith("500 5.5.2")
        # pipelining: a whole transaction in one write
        lmtp.send("RSET\r\nMAIL FROM:<p@remote.test>\r\nRCPT TO:<%s>\r\nDATA\r\n"
                  "Subject: piped\r\n\r\npiped\r\n.\r\nNOOP\r\n" % user)
        codes = [lmtp.reply()[:3] for _ in range(6)]
        assert codes == ["250", "250", "250", "354", "250", "250"], codes
        # an overlong line: a defined answer, then the connection closes
        lmtp.send(b"NOOP " + b"x" * 5000 + b"\r\n")
        assert lmtp.reply().startswith("500 5.5.6")
        with pytest.raises(EOFError):
            lmtp.reply()
    finally:
        lmtp.close()
    # a client that vanishes mid-DATA: nothing delivered, others served
    lmtp = Lmtp(stack.lmtpd_socket)
    envelope(lmtp, "x@remote.test", [user])
    lmtp.cmd("DATA")
    lmtp.send(b"Subject: vanished\r\nMessage-ID: <vanished@remote.test>\r\n\r\nhalf a messa")
    lmtp.close()
    lmtp = Lmtp(stack.lmtpd_socket)
    try:
        envelope(lmtp, "x@remote.test", [user])
        lmtp.cmd("DATA")
        lmtp.send(b"Subject: after\r\nMessage-ID: <after@remote.test>\r\n\r\nwhole\r\n.\r\n")
        assert lmtp.reply().startswith("250")
    finally:
        lmtp.close()
    assert not messages_with(stack, user, "<vanished@remote.test>")
    assert messages_with(stack, user, "<after@remote.test>")
    assert stack.lmtpd_proc.poll() is None


def test_a_retry_of_a_delivery_already_made_is_not_delivered_twice(stack, domain):
    """What Postfix sends again when the bridge died after Dovecot's 250:
    the same queue ID, Message-ID and recipient."""
    user = "twice@" + domain
    add_user(stack, user)
    message = (b"Received: from client.remote.test (client.remote.test [192.0.2.1])\r\n"
               b"\tby mx.mailbag.test (Postfix) with ESMTP id 4QTESTID42abc\r\n"
               b"\tfor <%s>; Sun, 22 Nov 2026 01:00:00 +0000 (UTC)\r\n"
               b"Message-ID: <twice@remote.test>\r\nSubject: twice\r\n\r\nonce\r\n.\r\n" % user.encode())
    answers = []
    for _ in range(2):
        lmtp = Lmtp(stack.lmtpd_socket)
        try:
            envelope(lmtp, "x@remote.test", [user])
            lmtp.cmd("DATA")
            lmtp.send(message)
            answers.append(lmtp.reply())
        finally:
            lmtp.close()
    assert answers[0].startswith("250 2.0.0"), answers
    assert answers[1].startswith("250 2.0.0") and "not delivered twice" in answers[1], answers
    assert len(messages_with(stack, user, "<twice@remote.test>")) == 1
    # another recipient of the same message is still delivered
    other = "twice2@" + domain
    add_user(stack, other)
    lmtp = Lmtp(stack.lmtpd_socket)
    try:
        envelope(lmtp, "x@remote.test", [other])
        lmtp.cmd("DATA")
        lmtp.send(message)
        assert "not delivered twice" not in lmtp.reply()
    finally:
        lmtp.close()
    assert len(messages_with(stack, other, "<twice@remote.test>")) == 1


def test_the_first_delivery_to_a_new_user_is_deduplicated_too(stack, domain):
    """The dedupe Sieve script behind the journal: Dovecot itself is given
    one message twice with the same X-Mailbag-Delivery-Id, as when the
    bridge died after Dovecot's 250 and before its journal was written,
    for a user who has never had mail. Pigeonhole keeps its duplicate
    database in the home, which must exist before the first delivery."""
    user = "firstmail@" + domain
    add_user(stack, user)
    home = os.path.join(stack.mail_root, domain, "firstmail")
    assert os.path.isdir(home) and os.stat(home).st_uid == stack.vmail_user.pw_uid
    assert not os.path.exists(os.path.join(home, "Maildir"))
    message = (b"X-Mailbag-Delivery-Id: 4QFIRST42abc.first@remote.test\r\n"
               b"Message-ID: <first@remote.test>\r\nSubject: first\r\n\r\nonce\r\n.\r\n")
    for _ in range(2):
        lmtp = Lmtp(stack.dovecot_lmtp)
        try:
            envelope(lmtp, "x@remote.test", [user])
            assert lmtp.cmd("DATA").startswith("354")
            lmtp.send(message)
            assert lmtp.reply().startswith("250"), "Dovecot refused the delivery"
        finally:
            lmtp.close()
    # Dovecot answers 250 once the message is saved (or discarded)
    assert len(messages_with(stack, user, "<first@remote.test>")) == 1


@pytest.fixture
def node2(stack):
    """A second Dovecot (another node) and the bridge told about it."""
    node = stack.spawn_dovecot("dovecot-node2")
    with open(stack.context) as f:
        original = __import__("json").load(f).get("lmtpd")
    stack.update_context({"lmtpd": dict(original, nodes={"node2": node.lmtp_socket})})
    stack.reload_lmtpd()
    yield node
    stack.update_context({"lmtpd": original})
    stack.reload_lmtpd()
    node.stop()


def test_two_nodes_in_one_transaction(stack, node2):
    domain = new_domain(stack)
    here, there = "here@" + domain, "there@" + domain
    add_user(stack, here)
    add_user(stack, there)
    bad = stack.mailbag("user", "node", there, "nowhere")
    assert bad.returncode == 65 and "nowhere" in bad.stderr
    stack.mailbag("user", "node", there, "node2", check=True)
    msgid = send(stack, [here, there], "two nodes")
    for user in (here, there):
        wait_until(lambda: messages_with(stack, user, msgid), what="delivery to " + user)
    # each was delivered by its own node's Dovecot (whose log process may
    # write the line a moment after the message is in the Maildir)
    wait_until(lambda: re.search(r"lmtp\(%s\).*%s.*(saved|stored) mail" % (re.escape(there), re.escape(msgid)),
                                 node2.log()), what="node2's log of the delivery to " + there)
    wait_until(lambda: re.search(r"lmtp\(%s\).*(saved|stored) mail" % re.escape(here), stack.dovecot_log()),
               what="the local Dovecot's log of the delivery to " + here)
    assert not re.search(r"lmtp\(%s\)" % re.escape(there), stack.dovecot_log())
    assert "node2" in open(stack.lmtpd_log).read()


@pytest.fixture
def small_fs(stack):
    """A 2 MB tmpfs below the stack's root (which the daemons may walk
    through): a disk that fills."""
    mount = os.path.join(stack.root, "small-%d" % time.monotonic_ns())
    os.mkdir(mount)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0755", "tmpfs", mount], check=True)
    yield mount
    subprocess.run(["umount", "-l", mount])


def big_message(msgid, size):
    line = b"y" * 998 + b"\r\n"
    return (b"Subject: big\r\nMessage-ID: %s\r\n\r\n" % msgid.encode() +
            line * (size // len(line)) + b".\r\n")


def test_a_full_spool_gives_4xx_per_recipient(stack, domain, small_fs):
    user = "spool@" + domain
    add_user(stack, user)
    with open(stack.context) as f:
        original = __import__("json").load(f)["lmtpd"]
    stack.update_context({"lmtpd": dict(original, spool_dir=small_fs)})
    stack.stop_lmtpd()
    stack.start_lmtpd()  # the spool directory is fixed at start
    try:
        lmtp = Lmtp(stack.lmtpd_socket)
        try:
            envelope(lmtp, "x@remote.test", [user, user])
            lmtp.cmd("DATA")
            lmtp.send(big_message("<spool-full@remote.test>", 3 << 20))
            answers = [lmtp.reply(), lmtp.reply()]
            assert all(a.startswith("452 4.3.1") for a in answers), answers
            assert "No space left on device" in open(stack.lmtpd_log).read()
            # the session goes on: a small message passes
            envelope(lmtp, "x@remote.test", [user])[0]
            lmtp.cmd("DATA")
            lmtp.send(big_message("<spool-small@remote.test>", 10000))
            assert lmtp.reply().startswith("250")
        finally:
            lmtp.close()
        assert not messages_with(stack, user, "<spool-full@remote.test>")
        # the unnamed spool file is gone, from a spool that is still there
        assert os.path.isdir(small_fs) and os.path.ismount(small_fs), small_fs
        assert os.listdir(small_fs) == []
    finally:
        stack.update_context({"lmtpd": original})
        stack.stop_lmtpd()
        stack.start_lmtpd()


def test_a_full_mail_disk_gives_4xx_and_nothing_half_written(stack, domain, small_fs, tmp_path):
    user = "disk@" + domain
    home = os.path.join(small_fs, "disk")
    hashed = subprocess.run(["doveadm", "pw", "-s", "SHA512-CRYPT", "-p", "disk-password-1"],
                            capture_output=True, text=True, check=True).stdout.strip()
    passwd = tmp_path / "passwd"
    passwd.write_text("%s:%s::::%s::\n" % (user, hashed, home))
    stack.mailbag("user", "import", str(passwd), check=True)
    subprocess.run(["chown", "%d:%d" % (stack.vmail_user.pw_uid, stack.vmail_user.pw_gid), small_fs],
                   check=True)
    lmtp = Lmtp(stack.lmtpd_socket)
    try:
        envelope(lmtp, "x@remote.test", [user])
        lmtp.cmd("DATA")
        lmtp.send(big_message("<disk-full@remote.test>", 3 << 20))
        answer = lmtp.reply()
    finally:
        lmtp.close()
    assert answer.startswith("4"), answer
    assert re.search(r"lmtp\(%s\).*(No space left|Not enough disk space)" % re.escape(user),
                     stack.dovecot_log()), stack.dovecot_log()[-2000:]
    assert not messages_with(stack, user, "<disk-full@remote.test>")
    # no half-written file left in the Maildir, which Dovecot made and
    # began to write in (a missing directory proves nothing)
    for sub in ("new", "cur", "tmp"):
        d = os.path.join(home, "Maildir", sub)
        assert os.path.isdir(d), d
        assert os.listdir(d) == [], (sub, os.listdir(d))


def maildir_message_ids(stack, address):
    ids = []
    for msg in stack.maildir_messages(address):
        m = re.search(rb"^Message-Id: (<[^>]+>)", msg, re.M | re.I)
        ids.append(m.group(1).decode() if m else None)
    return ids


def queue_empty(stack):
    out = subprocess.run(["postqueue", "-c", stack.postfix_etc, "-p"], capture_output=True, text=True).stdout
    return "Mail queue is empty" in out


def test_nothing_lost_nothing_twice_while_the_bridge_is_killed(stack):
    """smtp-source sends 2,000 messages to two mailboxes while mailbag-lmtpd
    is killed with SIGKILL and restarted several times and Dovecot is
    stopped and started once; every message Postfix accepted ends up in
    each mailbox exactly once."""
    domain = new_domain(stack)
    # an alias of the two, so that each message reaches both in one LMTP
    # transaction (smtp-source -r names its recipients one way up to
    # Postfix 3.9 and another from 3.10 on)
    users = ["fault-a@" + domain, "fault-b@" + domain]
    for u in users:
        add_user(stack, u)
    stack.mailbag("alias", "add", "fault@" + domain, *users, check=True)
    client = "fault-%d.client.test" % os.getpid()
    source = subprocess.Popen(["smtp-source", "-s", "4", "-m", "2000", "-l", "2000",
                               "-M", client, "-f", "sender@remote.test", "-t", "fault@" + domain,
                               "127.0.0.1:%d" % stack.ports["smtp"]],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for round in range(5):
            time.sleep(1.5)
            stack.stop_lmtpd(signal_kill=True)
            time.sleep(0.3)
            stack.start_lmtpd()
            if round == 2:
                stack.stop_dovecot()
                time.sleep(2)
                stack.start_dovecot()
        out, _ = source.communicate(timeout=600)
        assert source.returncode == 0, out
    finally:
        if source.poll() is None:
            source.kill()
        if stack.lmtpd_proc is None:
            stack.start_lmtpd()
    deadline = time.time() + 300
    while not queue_empty(stack) and time.time() < deadline:
        stack.flush_queue()
        time.sleep(2)
    assert queue_empty(stack), "mail still queued"
    accepted = set(re.findall(r"message-id=(<[^>]+@%s>)" % re.escape(client), stack.read_maillog()))
    assert len(accepted) == 2000, len(accepted)
    for user in users:
        ids = maildir_message_ids(stack, user)
        assert len(ids) == len(set(ids)), "duplicates in %s: %d of %d" % (
            user, len(ids) - len(set(ids)), len(ids))
        assert set(ids) == accepted, "%s: %d missing" % (user, len(accepted - set(ids)))
    assert not re.search(r"to=<fault-[ab]@%s>.*status=bounced" % re.escape(domain), stack.read_maillog())


def test_a_delivery_notice_goes_to_the_notify_socket(stack, domain):
    """The push hook: after Dovecot's 250, one datagram per recipient;
    with no listener, deliveries go on as before."""
    user = "push@" + domain
    add_user(stack, user)
    path = os.path.join(stack.root, "notify-%d" % time.monotonic_ns())
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    os.chmod(path, 0o666)
    listener.settimeout(10)
    with open(stack.context) as f:
        original = __import__("json").load(f)["lmtpd"]
    stack.update_context({"lmtpd": dict(original, notify_socket=path)})
    stack.reload_lmtpd()
    try:
        for n, present in ((1, True), (2, False)):
            if not present:
                listener.close()
                os.unlink(path)
            lmtp = Lmtp(stack.lmtpd_socket)
            try:
                envelope(lmtp, "x@remote.test", [user])
                lmtp.cmd("DATA")
                lmtp.send(b"Subject: push\r\nMessage-ID: <push%d@remote.test>\r\n\r\nhi\r\n.\r\n" % n)
                assert lmtp.reply().startswith("250")
            finally:
                lmtp.close()
            if present:
                assert listener.recv(1024) == ("delivered %s INBOX\n" % user).encode()
        assert messages_with(stack, user, "<push2@remote.test>")
        assert "delivery notices to %s not sent" % path in open(stack.lmtpd_log).read()
    finally:
        stack.update_context({"lmtpd": original})
        stack.reload_lmtpd()


def test_lmtp_over_tcp_when_configured(stack, domain):
    user = "tcp@" + domain
    add_user(stack, user)
    port = __import__("mailstack").free_port()
    with open(stack.context) as f:
        original = __import__("json").load(f)["lmtpd"]
    stack.update_context({"lmtpd": dict(original, listen_tcp="127.0.0.1:%d" % port)})
    stack.stop_lmtpd()
    stack.start_lmtpd()  # the listeners are fixed at start
    try:
        conn = socket.create_connection(("127.0.0.1", port), timeout=30)
        lmtp = Lmtp.__new__(Lmtp)
        lmtp.sock, lmtp.buf = conn, b""
        assert lmtp.reply().startswith("220 ")
        envelope(lmtp, "x@remote.test", [user])
        lmtp.cmd("DATA")
        lmtp.send(b"Subject: tcp\r\nMessage-ID: <tcp@remote.test>\r\n\r\nover tcp\r\n.\r\n")
        assert lmtp.reply().startswith("250")
        lmtp.close()
        assert messages_with(stack, user, "<tcp@remote.test>")
    finally:
        stack.update_context({"lmtpd": original})
        stack.stop_lmtpd()
        stack.start_lmtpd()
