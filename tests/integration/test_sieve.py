"""Sieve (issue 21 point 4) against the real Postfix and Dovecot with
Pigeonhole: a user's own script uploaded and activated with a real
ManageSieve client (Debian's sieve-connect, over STARTTLS with the
stack's certificate, logging in with the user's password), then mail
delivered through Postfix landing in the folder it files into (read
over IMAP); the administrator's global scripts (the context's
sieve.before_dir and sieve.after_dir) run before and after the user's
own, in that order; mailbag's dedupe script stays first, so a retried
delivery is saved once whatever the user's script keeps or files;
vacation answers a normal sender once, through Postfix to the sink, and
never a list, a null sender, an auto-reply, bulk mail or the user's own
address.

One stack for the module (its own: its Dovecot speaks ManageSieve and
TLS, and its global scripts would change other tests' deliveries)."""

import email
import json
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

import mailstack
from conftest import BUILD, TEST_AUTH_SETTINGS, new_domain, wait_until
from helpers import add_user, imap_login
from test_lmtpd import Lmtp, envelope

# the administrator's scripts, each acting only on a Subject tag so
# that the tests can tell which script filed a message
GLOBAL_BEFORE = """require ["fileinto", "mailbox"];
if header :contains "Subject" "[before]" {
  fileinto :create "Before";
}
"""
GLOBAL_AFTER = """require ["fileinto", "mailbox"];
if header :contains "Subject" "[after]" {
  fileinto :create "After";
}
"""
# the user's: files [user] into Filed, and keeps [keep] in the INBOX too
USER_SCRIPT = """require ["fileinto", "mailbox"];
if header :contains "Subject" "[user]" {
  fileinto :create "Filed";
}
if header :contains "Subject" "[keep]" {
  keep;
}
"""
VACATION_SCRIPT = """require ["vacation"];
vacation :days 1 :subject "Away" "I am away until Monday.";
"""


class SieveStack(mailstack.MailStack):
    """The fixture's stack, its Dovecot also with ManageSieve on a port of
    its own, the TLS settings `mailbag tls apply` wrote (ssl = required,
    the stack's certificate), and Postfix's sendmail for this instance
    (-C its configuration) for vacation replies."""

    def _start_dovecot(self):
        self.ports["sieve"] = mailstack.free_port()
        v24 = mailstack.dovecot24()
        self.dovecot_include = os.path.join(self.root, "etc", "dovecot-sieve-test.conf")
        with open(self.dovecot_include, "w") as f:
            f.write("!include %s\n" % self.dovecot_tls_conf)
            f.write("protocols {\n  sieve = yes\n}\n" if v24 else "protocols = $protocols sieve\n")
            f.write("service managesieve-login {\n  inet_listener sieve {\n    port = %d\n  }\n}\n"
                    % self.ports["sieve"])
            f.write("sendmail_path = %s\n" % self._sendmail_wrapper())
        super()._start_dovecot()

    def _sendmail_wrapper(self):
        """Postfix's sendmail with this instance's configuration first (-C),
        whatever arguments Dovecot adds (2.4 passes its own first)."""
        path = os.path.join(self.root, "etc", "sendmail")
        with open(path, "w") as f:
            f.write('#!/bin/sh\nexec /usr/sbin/sendmail -C %s "$@"\n' % self.postfix_etc)
        os.chmod(path, 0o755)
        return path


@pytest.fixture(scope="module")
def sstack():
    if os.geteuid() != 0:
        pytest.fail("the integration tests run Postfix and Dovecot and need root")
    root = tempfile.mkdtemp(prefix="mailbag-sieve-test-")
    s = SieveStack(root, os.path.join(BUILD, "cli", "mailbag"),
                   os.path.join(BUILD, "policyd", "mailbag-policyd"),
                   os.path.join(BUILD, "dovecot-plugin", "libauthdb_mailbag.so"),
                   hostname="mx.sieve.test")
    s.start()
    s.update_context({"auth": TEST_AUTH_SETTINGS})
    try:
        yield s
    finally:
        s.stop()
        if os.environ.get("MAILBAG_KEEP_TEST_DIR"):
            print("test directory kept:", root)
        else:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def global_scripts(sstack):
    """The administrator's before and after scripts, compiled as `mailbag
    setup` compiles them (Dovecot cannot write these directories)."""
    for directory, text in ((sstack.sieve_before_dir, GLOBAL_BEFORE),
                            (sstack.sieve_after_dir, GLOBAL_AFTER)):
        with open(os.path.join(directory, "10-test.sieve"), "w") as f:
            f.write(text)
        out = subprocess.run(["sievec", directory], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert os.path.exists(os.path.join(directory, "10-test.svbin"))
    return sstack


def sieve_connect(stack, user, password, *args, tls_ca=None):
    """sieve-connect as a user sets it up: the server's name checked
    against the certificate (its CA given), the password on a pipe."""
    cmd = ["sieve-connect", "--4", "--nosrv", "--server", "127.0.0.1",
           "--port", str(stack.ports["sieve"]), "--user", user, "--passwordfd", "0",
           "--tlscafile", tls_ca or stack.cert, "--tlshostname", stack.hostname,
           "--noclearauth", *args]
    return subprocess.run(cmd, input=password + "\n", capture_output=True, text=True, timeout=60)


def upload(stack, user, password, name, text, tmp_path):
    script = tmp_path / (name + ".sieve")
    script.write_text(text)
    put = sieve_connect(stack, user, password, "--upload", "--localsieve", str(script),
                        "--remotesieve", name)
    assert put.returncode == 0, put.stdout + put.stderr
    act = sieve_connect(stack, user, password, "--activate", "--remotesieve", name)
    assert act.returncode == 0, act.stdout + act.stderr


def smtp_send(stack, sender, rcpt, subject, headers="", header_from=None, port=None):
    msgid = "<%s.%f@remote.test>" % ("".join(c for c in subject if c.isalnum()), time.time())
    body = ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\n%s\r\nbody of %s\r\n"
            % (header_from or sender or "mailer-daemon@remote.test", rcpt, subject, msgid, headers, subject))
    with smtplib.SMTP("127.0.0.1", port or stack.ports["smtp"], timeout=30) as s:
        s.ehlo("client.remote.test")
        s.sendmail(sender, [rcpt], body)
    return msgid


def folder_subjects(stack, user, password, folder):
    """The Subject of each message in a folder, over IMAP (none: [])."""
    im = imap_login(stack, user, password)
    try:
        typ, _ = im.select('"%s"' % folder, readonly=True)
        if typ != "OK":
            return []
        _, data = im.search(None, "ALL")
        subjects = []
        for num in data[0].split():
            _, parts = im.fetch(num, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            subjects.append(email.message_from_bytes(parts[0][1])["Subject"])
        return subjects
    finally:
        im.logout()


def queue_empty(stack):
    out = subprocess.run(["postqueue", "-c", stack.postfix_etc, "-p"], capture_output=True, text=True)
    return "Mail queue is empty" in out.stdout


def test_managesieve_offers_starttls_and_takes_only_the_right_password(sstack, tmp_path):
    domain = new_domain(sstack)
    user = "upload@" + domain
    password = add_user(sstack, user)
    with socket.create_connection(("127.0.0.1", sstack.ports["sieve"]), timeout=10) as s:
        greeting = b""
        # the capabilities, then OK "..." (RFC 5804 1.7)
        while not greeting.startswith(b"OK") and b"\r\nOK" not in greeting:
            chunk = s.recv(4096)
            if not chunk:
                break
            greeting += chunk
    assert b'"STARTTLS"' in greeting and b'"SIEVE"' in greeting, greeting
    listed = sieve_connect(sstack, user, password, "--list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    # an app password is a login here too
    out = sstack.mailbag("user", "app-password", "add", user, "phone", check=True).stdout
    app = out.rsplit(": ", 1)[1].strip()
    by_app = sieve_connect(sstack, user, app, "--list")
    assert by_app.returncode == 0, by_app.stdout + by_app.stderr
    wrong = sieve_connect(sstack, user, password + "x", "--list")
    assert wrong.returncode != 0 and "uthentication" in wrong.stdout + wrong.stderr, wrong.stdout + wrong.stderr
    # a client that checks the certificate against another CA refuses it
    other = tmp_path / "other.pem"
    mailstack.make_certificate("other.test", str(other), str(tmp_path / "other.key"))
    untrusted = sieve_connect(sstack, user, password, "--list", tls_ca=str(other))
    assert untrusted.returncode != 0


def test_an_uploaded_script_files_mail_into_its_folder(sstack, tmp_path):
    domain = new_domain(sstack)
    user = "filer@" + domain
    password = add_user(sstack, user)
    upload(sstack, user, password, "filter", USER_SCRIPT, tmp_path)
    listed = sieve_connect(sstack, user, password, "--list")
    assert listed.stdout.split("\n")[0] == '"filter" ACTIVE', listed.stdout
    # stored under the user's home, the active one linked from ~/.dovecot.sieve
    home = os.path.join(sstack.mail_root, domain, "filer")
    assert os.path.exists(os.path.join(home, "sieve", "filter.sieve"))
    assert os.path.realpath(os.path.join(home, ".dovecot.sieve")) == \
        os.path.realpath(os.path.join(home, "sieve", "filter.sieve"))
    smtp_send(sstack, "friend@remote.test", user, "report [user]")
    smtp_send(sstack, "friend@remote.test", user, "plain hello")
    wait_until(lambda: folder_subjects(sstack, user, password, "Filed") == ["report [user]"], 30,
               "the message in Filed; maillog:\n" + sstack.read_maillog()[-2000:])
    wait_until(lambda: folder_subjects(sstack, user, password, "INBOX") == ["plain hello"], 30,
               "the other message in the INBOX")


def test_global_scripts_run_before_and_after_the_users(global_scripts, tmp_path):
    stack = global_scripts
    domain = new_domain(stack)
    user = "ordered@" + domain
    password = add_user(stack, user)
    upload(stack, user, password, "filter", USER_SCRIPT, tmp_path)
    cases = [
        # the global before script files it: the sequence ends there
        "one [before] [user]",
        # the user's script files it: the after script never sees it
        "two [user] [after]",
        # the user's script keeps it: the after script files it
        "three [after]",
        "four plain",
    ]
    for subject in cases:
        smtp_send(stack, "friend@remote.test", user, subject)
    want = {"Before": ["one [before] [user]"], "Filed": ["two [user] [after]"],
            "After": ["three [after]"], "INBOX": ["four plain"]}

    def got():
        return {folder: folder_subjects(stack, user, password, folder) for folder in want}
    wait_until(lambda: got() == want, 30, "the four messages filed; got %s" % got())


def test_the_dedupe_stays_first_whatever_the_users_script_does(global_scripts, tmp_path):
    """A retried delivery (Dovecot given one message twice with the same
    X-Mailbag-Delivery-Id, as mailbag-lmtpd does after dying past
    Dovecot's 250) is saved once, although the user's script files it
    and keeps it; another delivery ID is saved again."""
    stack = global_scripts
    domain = new_domain(stack)
    user = "retried@" + domain
    password = add_user(stack, user)
    upload(stack, user, password, "filter", USER_SCRIPT, tmp_path)

    def deliver(delivery_id, subject):
        message = ("X-Mailbag-Delivery-Id: %s\r\nFrom: friend@remote.test\r\nTo: %s\r\n"
                   "Message-ID: <%s>\r\nSubject: %s\r\n\r\nonce\r\n.\r\n"
                   % (delivery_id, user, delivery_id, subject)).encode()
        lmtp = Lmtp(stack.dovecot_lmtp)
        try:
            envelope(lmtp, "friend@remote.test", [user])
            assert lmtp.cmd("DATA").startswith("354")
            lmtp.send(message)
            assert lmtp.reply().startswith("250"), "Dovecot refused the delivery"
        finally:
            lmtp.close()
    deliver("4QRETRY1.dup@remote.test", "dup [user] [keep]")
    deliver("4QRETRY1.dup@remote.test", "dup [user] [keep]")
    assert folder_subjects(stack, user, password, "Filed") == ["dup [user] [keep]"]
    assert folder_subjects(stack, user, password, "INBOX") == ["dup [user] [keep]"]
    deliver("4QRETRY2.other@remote.test", "dup [user] [keep]")
    assert len(folder_subjects(stack, user, password, "Filed")) == 2


@pytest.fixture(scope="module")
def vacation(sstack):
    """A user on vacation, with one message of each kind it must not
    answer and two from a normal sender, all delivered; then the sink's
    messages for the module's senders, once Postfix's queue is empty."""
    domain = new_domain(sstack)
    # a key of its own, so that the reply can be signed (mailbag-milter)
    sstack.mailbag("dkim", "keygen", "--selector", "v1", domain, check=True)
    user = "away@" + domain
    password = add_user(sstack, user)
    tmp = tempfile.mkdtemp(prefix="sieve-vacation-")
    try:
        from pathlib import Path
        upload(sstack, user, password, "vacation", VACATION_SCRIPT, Path(tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sent = [
        ("list", smtp_send(sstack, "list-bounces@lists.remote.test", user, "on the list",
                           "List-Id: <talk.lists.remote.test>\r\n", header_from="poster@remote.test")),
        ("null", smtp_send(sstack, "", user, "delivery report", header_from="mailer-daemon@remote.test")),
        ("auto", smtp_send(sstack, "robot@remote.test", user, "auto reply",
                           "Auto-Submitted: auto-replied\r\n")),
        ("bulk", smtp_send(sstack, "news@remote.test", user, "newsletter", "Precedence: bulk\r\n")),
    ]
    # from the user's own address: submitted with the user's login
    msgid = "<own.%f@%s>" % (time.time(), domain)
    with smtplib.SMTP("127.0.0.1", sstack.ports["submission"], timeout=30) as s:
        s.starttls(context=ssl._create_unverified_context())
        s.login(user, password)
        s.sendmail(user, [user], "From: %s\r\nTo: %s\r\nSubject: note to self\r\nMessage-ID: %s\r\n\r\nx\r\n"
                   % (user, user, msgid))
    sent.append(("own", msgid))
    sent.append(("friend", smtp_send(sstack, "friend@remote.test", user, "hello")))
    sent.append(("friend again", smtp_send(sstack, "friend@remote.test", user, "hello again")))
    ids = [m for _, m in sent]
    wait_until(lambda: all(any(i.encode() in raw for raw in sstack.maildir_messages(user)) for i in ids),
               60, "every message delivered; maillog:\n" + sstack.read_maillog()[-3000:])
    wait_until(lambda: queue_empty(sstack), 60, "Postfix's queue to empty")
    senders = {"list-bounces@lists.remote.test", "poster@remote.test", "mailer-daemon@remote.test",
               "robot@remote.test", "news@remote.test", "friend@remote.test", user}
    replies = [m for m in list(sstack.sink.messages) if set(m[1]) & senders]
    return user, replies


def test_vacation_answers_a_normal_sender_once_through_postfix(vacation, sstack):
    user, replies = vacation
    to_friend = [m for m in replies if m[1] == ["friend@remote.test"]]
    assert len(to_friend) == 1, [(m[0], m[1]) for m in replies]
    mail_from, _, raw = to_friend[0]
    # from <> (RFC 5230), as an auto-reply from the user
    assert mail_from.split()[0] in ("", "<>"), mail_from
    reply = email.message_from_bytes(raw)
    assert reply["Subject"] == "Away"
    assert reply["Auto-Submitted"].startswith("auto-replied")
    assert user in reply["From"]
    assert b"I am away until Monday." in raw
    # it left through this Postfix (pickup, then the relayhost)
    assert "postfix/pickup" in sstack.read_maillog() or "mailbag-test/pickup" in sstack.read_maillog()


def test_vacation_never_answers_lists_bounces_auto_replies_bulk_or_ourselves(vacation, sstack):
    user, replies = vacation
    others = [(m[0], m[1]) for m in replies if m[1] != ["friend@remote.test"]]
    assert others == []
    # each for its own reason, not for one the others share (such as no
    # address of the user's in To)
    log = [line for line in sstack.dovecot_log().splitlines() if "(%s)" % user in line]
    for why in ("to mailinglist recipient <list-bounces@lists.remote.test>",
                "discarded vacation reply to <>",
                "to auto-submitted message from <robot@remote.test>",
                "to precedence=bulk message from <news@remote.test>",
                "discarded vacation reply to own address <%s>" % user,
                "discarded duplicate vacation response to <friend@remote.test>"):
        assert any(why in line for line in log), why


def test_vacation_reply_is_dkim_signed(vacation, sstack):
    """Signed by mailbag-milter for the From domain, when Postfix passes
    mail from sendmail to it (non_smtpd_milters, issue 21 point 3)."""
    milters = subprocess.run(["postconf", "-c", sstack.postfix_etc, "-h", "non_smtpd_milters"],
                             capture_output=True, text=True).stdout.strip()
    if not milters:
        pytest.skip("this Postfix has no non_smtpd_milters: mail from sendmail is not signed yet")
    import dkim
    user, replies = vacation
    raw = [m for m in replies if m[1] == ["friend@remote.test"]][0][2]
    records = json.loads(sstack.mailbag("--json", "dns", "records", user.split("@")[1], check=True).stdout)
    keys = {r["name"]: r["value"] for r in records if "._domainkey." in r["name"]}

    def dns(name, timeout=5):
        value = keys.get(name.decode().rstrip("."))
        return value.encode() if value else None
    assert email.message_from_bytes(raw).get_all("DKIM-Signature"), raw[:2000]
    assert dkim.DKIM(raw).verify(dnsfunc=dns)
