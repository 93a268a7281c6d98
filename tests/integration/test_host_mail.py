"""Mail from the host itself (issue 21 point 3, the Mail-o-Rama seed):
cron and the host's programs send to root, www-data and the like
through sendmail. With system aliases in the store (`mailbag alias add
root al@DOMAIN`), `mail -s test root` (bsd-mailx, through the private
Postfix's sendmail: MAIL_CONFIG) lands in al's INBOX, read over IMAP; a
changed system alias is live at once; a host account with no system
alias still gets its mail from local(8), into the instance's own spool
(never the real /var/mail); an unknown local name is refused at RCPT and
relayed nowhere. Mail injected with `sendmail -f al@DOMAIN` passes
mailbag-milter (non_smtpd_milters) and reaches the sink DKIM-signed
(dkimpy verifies it against the domain's published keys), while an SMTP
client on 127.0.0.1 sending the same is treated as inbound."""

import email
import os
import pwd
import smtplib
import subprocess
import time

import pytest

from conftest import wait_until
from helpers import add_user, imap_login, netstring, socketmap_query
from test_milter import dns_records, dnsfunc_for, verifies

DOMAIN = "hostmail.test"
AL = "al@" + DOMAIN
KELLY = "kelly@" + DOMAIN
ACCOUNT = "mbhosttest"   # a host account with no system alias


@pytest.fixture(scope="module")
def host(stack):
    stack.mailbag("domain", "add", DOMAIN, check=True)
    add_user(stack, AL, "al-password-123")
    add_user(stack, KELLY, "kelly-password-123")
    out = stack.mailbag("dkim", "keygen", "--selector", "h1", DOMAIN)
    assert out.returncode == 0, out.stderr
    try:
        pwd.getpwnam(ACCOUNT)
        made = False
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", ACCOUNT], check=True)
        made = True
    yield stack
    stack.mailbag("alias", "del", "root")
    if made:
        subprocess.run(["userdel", ACCOUNT], capture_output=True)


def env(stack):
    """What the host's programs see: the private Postfix as "the" Postfix."""
    return dict(os.environ, MAIL_CONFIG=stack.postfix_etc)


def mailx(stack, rcpt, subject, body="from cron\n"):
    proc = subprocess.run(["mail", "-s", subject, rcpt], input=body, text=True, env=env(stack),
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def sendmail(stack, sender, rcpts, message):
    proc = subprocess.run(["sendmail", "-C", stack.postfix_etc, "-i", "-f", sender, *rcpts],
                          input=message, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def inbox_subjects(stack, user, password, subject):
    im = imap_login(stack, user, password)
    try:
        im.select("INBOX")
        found = im.search(None, "SUBJECT", subject)[1][0].split()
        return [im.fetch(n, "(RFC822)")[1][0][1] for n in found]
    finally:
        im.logout()


def delivered(stack, user, password, subject, timeout=40):
    def look():
        stack.flush_queue()
        return inbox_subjects(stack, user, password, subject)
    return wait_until(look, timeout, "%s in %s's INBOX; maillog:\n%s"
                      % (subject, user, stack.read_maillog()[-3000:]))


def rcpt_code(stack, rcpt):
    with smtplib.SMTP("127.0.0.1", stack.ports["smtp"], timeout=30) as s:
        s.ehlo("client.remote.test")
        s.mail("someone@remote.test")
        return s.rcpt(rcpt)


def test_mail_to_root_lands_in_the_aliased_inbox(host):
    stack = host
    out = stack.mailbag("alias", "add", "root", AL)
    assert out.returncode == 0 and "updated system alias root" in out.stdout, out.stderr
    listed = stack.mailbag("alias", "list", check=True).stdout
    assert "root -> %s" % AL in listed
    subject = "cron-%f" % time.time()
    mailx(stack, "root", subject)
    raw = delivered(stack, AL, "al-password-123", subject)[0]
    msg = email.message_from_bytes(raw)
    # sent by the host's root, as Postfix names it (myorigin)
    assert msg["From"] is not None and "root@" + stack.hostname in msg["From"], msg["From"]
    # policyd's answer is what Postfix asked for: the full address
    hostname_key = netstring("virtual_alias_maps root@" + stack.hostname)
    reserved = netstring("virtual_alias_maps root@*system")
    replies = socketmap_query(stack.socketmap, [hostname_key, reserved])
    assert replies == [netstring("OK " + AL), netstring("NOTFOUND ")]


def test_a_changed_system_alias_is_live_at_once(host):
    stack = host
    # a name with no host account: known at RCPT only through its alias
    assert rcpt_code(stack, "pumpkin@" + stack.hostname)[0] == 550
    stack.mailbag("alias", "add", "pumpkin", KELLY, check=True)
    assert rcpt_code(stack, "pumpkin@" + stack.hostname)[0] == 250
    subject = "pumpkin-%f" % time.time()
    mailx(stack, "pumpkin", subject)
    assert delivered(stack, KELLY, "kelly-password-123", subject)
    # root moved from al to kelly: the next message follows
    stack.mailbag("alias", "del", "root", check=True)
    stack.mailbag("alias", "add", "root", KELLY, check=True)
    subject = "moved-%f" % time.time()
    mailx(stack, "root", subject)
    assert delivered(stack, KELLY, "kelly-password-123", subject)
    assert inbox_subjects(stack, AL, "al-password-123", subject) == []
    stack.mailbag("alias", "del", "pumpkin", check=True)
    assert rcpt_code(stack, "pumpkin@" + stack.hostname)[0] == 550
    stack.mailbag("alias", "del", "root", check=True)
    stack.mailbag("alias", "add", "root", AL, check=True)


def test_a_host_account_without_alias_gets_local_delivery(host):
    stack = host
    subject = "local-%f" % time.time()
    mailx(stack, ACCOUNT, subject)
    mailbox = os.path.join(stack.mail_spool, ACCOUNT)

    def arrived():
        stack.flush_queue()
        return os.path.exists(mailbox) and subject.encode() in open(mailbox, "rb").read()
    wait_until(arrived, 40, "local(8) delivery to %s; maillog:\n%s" % (mailbox, stack.read_maillog()[-3000:]))
    assert os.stat(mailbox).st_uid == pwd.getpwnam(ACCOUNT).pw_uid
    assert not os.path.exists(os.path.join("/var/mail", ACCOUNT))
    wait_until(lambda: "status=sent (delivered to mailbox)" in stack.read_maillog(), 10, "local's log line")


def test_an_unknown_local_name_is_refused_not_relayed(host):
    stack = host
    before = len(stack.sink.messages)
    for rcpt in ("nosuchname@" + stack.hostname, "nosuchname@localhost.mailbag.test"):
        code, text = rcpt_code(stack, rcpt)
        assert code == 550 and b"User unknown in local recipient table" in text, (rcpt, code, text)
    assert len(stack.sink.messages) == before


def test_sendmail_from_the_host_is_signed(host):
    stack = host
    subject = "signed-%f" % time.time()
    sendmail(stack, AL, ["outside@example.net"], report(subject, "outside@example.net"))

    def at_sink():
        stack.flush_queue()
        return [m for m in stack.sink.messages if subject.encode() in m[2]]
    sent = wait_until(at_sink, 40, "the sink; maillog:\n" + stack.read_maillog()[-3000:])[0]
    assert sent[0].strip("<>") == AL and sent[1] == ["outside@example.net"]
    raw = sent[2]
    sigs = email.message_from_bytes(raw).get_all("DKIM-Signature")
    assert sigs and len(sigs) == 2, raw.decode(errors="replace")
    dns = dnsfunc_for(dns_records(stack, DOMAIN))
    assert verifies(raw, 0, dns) and verifies(raw, 1, dns)
    assert "signed for %s" % DOMAIN in open(stack.milter_log).read()
    # an SMTP client on 127.0.0.1 claiming the same is inbound: checked,
    # never signed
    subject = "loopback-%f" % time.time()
    with smtplib.SMTP("127.0.0.1", stack.ports["smtp"], timeout=30) as s:
        s.sendmail(AL, [KELLY], report(subject, KELLY))
    raw = delivered(stack, KELLY, "kelly-password-123", subject)[0]
    msg = email.message_from_bytes(raw)
    assert msg.get_all("DKIM-Signature") is None
    assert msg["Authentication-Results"] is not None


def report(subject, rcpt):
    return ("From: Al <%s>\nTo: %s\nSubject: %s\nDate: Wed, 02 Dec 2026 02:00:00 +0000\n"
            "Message-ID: <%s@%s>\n\nnightly report\n" % (AL, rcpt, subject, subject, DOMAIN)).encode()


def test_domain_add_refuses_the_host_names(host):
    stack = host
    for name in (stack.hostname, "localhost.mailbag.test"):
        out = stack.mailbag("domain", "add", name)
        assert out.returncode == 65 and "is this host's own name" in out.stderr, out.stderr
    # nor a domain alias's source (virtual_alias_domains)
    out = stack.mailbag("alias", "add", "@" + stack.hostname, "@" + DOMAIN)
    assert out.returncode == 65 and "is this host's own name" in out.stderr, out.stderr
