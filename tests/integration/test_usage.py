"""Mailbox usage and last logins in the store: Dovecot's quota plugin
(through quota_clone) and its last_login plugin report them to
mailbag-policyd's usage socket; `mailbag user list` shows them and
`mailbag expire` acts on them. Usage is checked against Dovecot's own
`doveadm quota get` after deliveries and an expunge; everything runs on
the LMDB and on the Redis store."""

import json
import os
import smtplib
import socket
import subprocess
import time

import mailstack
from conftest import BUILD, wait_until
from helpers import add_user, imap_login, messages_with, send


def send_sized(stack, address, subject, size):
    """A message of about size bytes; returns its Message-ID."""
    msgid = "<%s.%f@remote.test>" % (subject.replace(" ", "-"), time.time())
    body = "\r\n".join(["x" * 70] * (size // 72))
    with smtplib.SMTP("127.0.0.1", stack.ports["smtp"], timeout=30) as s:
        s.sendmail("someone@remote.test", [address],
                   "Subject: %s\r\nMessage-ID: %s\r\n\r\n%s\r\n" % (subject, msgid, body))
    return msgid


def listed_usage(stack, address):
    out = stack.mailbag("--json", "user", "list", address.split("@")[1], check=True).stdout
    for entry in json.loads(out):
        if entry["address"] == address:
            return entry["usage_bytes"], entry["usage_messages"]
    raise AssertionError("%s not listed" % address)


def doveadm_quota(stack, address):
    """(storage in KiB, messages) as Dovecot itself counts them."""
    out = subprocess.run(["doveadm", "-c", stack.dovecot_conf, "-f", "tab", "quota", "get", "-u", address],
                         capture_output=True, text=True, check=True).stdout
    values = {}
    for line in out.splitlines()[1:]:
        fields = line.split("\t")
        values[fields[1]] = int(fields[2])
    return values["STORAGE"], values["MESSAGE"]


def usage_matches_dovecot(stack, address, messages):
    used, count = listed_usage(stack, address)
    if count != messages:
        return False
    kib, dovecot_messages = doveadm_quota(stack, address)
    # doveadm rounds kilobytes up
    return dovecot_messages == messages and (used + 1023) // 1024 == kib


def test_usage_follows_deliveries_and_expunges(any_stack, any_domain):
    user = "usage@" + any_domain
    password = add_user(any_stack, user)
    any_stack.mailbag("user", "quota", user, "1M", check=True)
    assert listed_usage(any_stack, user) == (None, None)  # nothing reported yet
    ids = [send(any_stack, [user], "usage %d" % i) for i in range(2)]
    for msgid in ids:
        wait_until(lambda: messages_with(any_stack, user, msgid), what="delivery")
    wait_until(lambda: usage_matches_dovecot(any_stack, user, 2), what="usage of two messages")
    used_two = listed_usage(any_stack, user)[0]
    # an expunge over IMAP lowers it, as Dovecot counts it
    im = imap_login(any_stack, user, password)
    im.select("INBOX")
    im.store("1", "+FLAGS", "\\Deleted")
    im.expunge()
    im.logout()
    wait_until(lambda: usage_matches_dovecot(any_stack, user, 1), what="usage after the expunge")
    assert 0 < listed_usage(any_stack, user)[0] < used_two
    # the table view shows it too
    table = any_stack.mailbag("user", "list", any_domain, check=True).stdout
    line = [l for l in table.splitlines() if l.startswith(user)][0]
    assert "1.0M" in line and "-" not in line.split()[2], line


def report_login(stack, address, when):
    """Tell policyd's usage socket of a login, as Dovecot's last_login
    plugin does (the same dict protocol); lets the test date one back."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(stack.usage_socket)
    try:
        s.sendall(("H3\t2\t0\t\tlastlogin\nB1\t%s\nS1\tshared/last-login/%s\t%d\nC1\n"
                   % (address, address, when)).encode())
        assert s.recv(64) == b"O1\n"
    finally:
        s.close()


def listed(stack, domain):
    out = stack.mailbag("--json", "user", "list", domain, check=True).stdout
    return {entry["address"]: entry for entry in json.loads(out)}


def test_last_login_inactive_list_and_expire(any_stack, any_domain):
    active, idle, fresh = ("active@" + any_domain, "idle@" + any_domain, "fresh@" + any_domain)
    password = add_user(any_stack, active)
    add_user(any_stack, idle)
    add_user(any_stack, fresh)  # created now, never logged in
    # a real IMAP login, recorded by Dovecot's last_login plugin
    imap_login(any_stack, active, password).logout()
    today = int(time.time()) // 86400 * 86400
    wait_until(lambda: listed(any_stack, any_domain)[active]["last_login"] == today,
               what="the login to be recorded")
    report_login(any_stack, idle, int(time.time()) - 200 * 86400)
    users = listed(any_stack, any_domain)
    assert users[fresh]["last_login"] is None
    assert users[idle]["last_login"] < today - 199 * 86400
    # only the idle one has been away for 90 days
    out = any_stack.mailbag("--json", "user", "list", "--inactive", "90d", any_domain, check=True).stdout
    assert [e["address"] for e in json.loads(out)] == [idle]
    bad = any_stack.mailbag("user", "list", "--inactive", "soon", any_domain)
    assert bad.returncode == 64 and "--inactive 'soon'" in bad.stderr
    with open(any_stack.context) as f:
        original = json.load(f).get("expire")
    try:
        any_stack.update_context({"expire": {"after": "90d"}})
        # a dry run by default: listed, nothing changed
        out = any_stack.mailbag("expire", check=True).stdout
        assert out.strip() == "would disable %s (last login %s)" % (
            idle, time.strftime("%Y-%m-%d", time.gmtime(users[idle]["last_login"]))), out
        assert listed(any_stack, any_domain)[idle]["enabled"]
        any_stack.mailbag("expire", "--apply", check=True)
        users = listed(any_stack, any_domain)
        assert not users[idle]["enabled"] and users[active]["enabled"] and users[fresh]["enabled"]
        # the disabled account can no longer log in; deleting takes it away
        any_stack.update_context({"expire": {"after": "90d", "delete": True}})
        out = json.loads(any_stack.mailbag("--json", "expire", "--apply", check=True).stdout)
        assert [(e["address"], e["action"], e["applied"]) for e in out] == [(idle, "delete", True)]
        assert idle not in listed(any_stack, any_domain)
    finally:
        any_stack.update_context({"expire": original})


def subjects(stack, address):
    found = []
    for message in stack.maildir_messages(address):
        for line in message.split(b"\n"):
            if line.startswith(b"Subject: "):
                found.append(line[9:].strip().decode())
                break
    return found


def test_quota_warning_arrives_once_per_crossing(stack, domain):
    user = "warned@" + domain
    add_user(stack, user)
    stack.mailbag("user", "quota", user, "100K", check=True)

    def deliver(subject, size):
        msgid = send_sized(stack, user, subject, size)
        wait_until(lambda: messages_with(stack, user, msgid), what=subject)
    # sizes leave room for the headers Postfix and Dovecot add
    deliver("half", 40000)     # about 41%: no notice
    time.sleep(1)
    assert not [s for s in subjects(stack, user) if "full" in s]
    deliver("over 80", 45000)  # about 87%: the 80% notice
    wait_until(lambda: "Your mailbox is 80% full" in subjects(stack, user), what="the 80% notice")
    deliver("still 88", 1000)  # still between 80% and 95%: nothing new
    time.sleep(1)
    notices = [s for s in subjects(stack, user) if "full" in s]
    assert notices == ["Your mailbox is 80% full"], notices


def test_expire_refuses_when_no_last_login_is_recorded(tmp_path):
    """Without a single recorded login (last_login not reporting, or the
    state lost), every old account would look unused: expire refuses."""
    mailstack.ensure_system_user("mailbag")  # init gives the store to it
    mailbag = os.environ.get("MAILBAG_MAILBAG_BIN", os.path.join(BUILD, "cli", "mailbag"))
    context = str(tmp_path / "context.json")

    def run(*args):
        return subprocess.run([mailbag, "--context", context, *args], capture_output=True, text=True)
    assert run("init", "--hostname", "mx.expire.test", "--store", "lmdb:%s/store" % tmp_path).returncode == 0
    with open(context) as f:
        ctx = json.load(f)
    ctx.update({"mail_root": str(tmp_path / "vmail"), "expire": {"after": 1, "delete": True}})
    with open(context, "w") as f:
        json.dump(ctx, f)
    assert run("domain", "add", "expire.test").returncode == 0
    assert run("user", "add", "old@expire.test").returncode == 0
    time.sleep(2)
    refused = run("expire", "--apply")
    assert refused.returncode == 69 and "no account has a recorded last login" in refused.stderr
    assert "old@expire.test" in run("user", "list").stdout


def listed_entry(stack, address):
    out = stack.mailbag("--json", "user", "list", address.split("@")[1], check=True).stdout
    return [e for e in json.loads(out) if e["address"] == address][0]


def append(stack, address, password, size):
    """IMAP APPEND of about size bytes: Dovecot's answer ('OK' or 'NO')."""
    im = imap_login(stack, address, password)
    try:
        body = "Subject: sized\r\n\r\n" + "\r\n".join(["y" * 70] * (size // 72)) + "\r\n"
        typ, data = im.append("INBOX", None, None, body.encode())
        return typ, b" ".join(d for d in data if isinstance(d, bytes))
    finally:
        im.logout()


def test_domain_default_quota_applies_to_users_without_their_own(any_stack, any_domain):
    plain, own = "plain@" + any_domain, "own@" + any_domain
    password = add_user(any_stack, plain)
    add_user(any_stack, own)
    any_stack.mailbag("user", "quota", own, "5M", check=True)
    assert listed_entry(any_stack, plain)["quota_from"] == "server"
    # a bad size is refused by name, and nothing changes
    bad = any_stack.mailbag("domain", "limits", "--quota", "lots", any_domain)
    assert bad.returncode == 65 and "--quota 'lots'" in bad.stderr, bad.stderr
    any_stack.mailbag("domain", "limits", "--quota", "30K", any_domain, check=True)
    shown = json.loads(any_stack.mailbag("--json", "domain", "limits", any_domain, check=True).stdout)
    assert shown["quota_bytes"] == 30 * 1024 and shown["max_message_bytes"] is None, shown
    entry = listed_entry(any_stack, plain)
    assert (entry["quota_bytes"], entry["quota_from"]) == (30 * 1024, "domain"), entry
    entry = listed_entry(any_stack, own)
    assert (entry["quota_bytes"], entry["quota_from"]) == (5 << 20, "user"), entry
    # Dovecot enforces the domain's quota at once, on the next login
    assert append(any_stack, plain, password, 20000)[0] == "OK"
    typ, text = append(any_stack, plain, password, 20000)
    assert typ == "NO" and b"OVERQUOTA" in text, (typ, text)
    assert doveadm_quota_limit(any_stack, plain) == 30
    # back to the server's default (none in this context): no limit
    any_stack.mailbag("domain", "limits", "--quota", "default", any_domain, check=True)
    assert listed_entry(any_stack, plain)["quota_from"] == "server"
    assert append(any_stack, plain, password, 20000)[0] == "OK"


def doveadm_quota_limit(stack, address):
    """The STORAGE limit in KiB Dovecot applies to address."""
    out = subprocess.run(["doveadm", "-c", stack.dovecot_conf, "-f", "tab", "quota", "get", "-u", address],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines()[1:]:
        fields = line.split("\t")
        if fields[1] == "STORAGE":
            return int(fields[3])
    raise AssertionError("no STORAGE line: " + out)
