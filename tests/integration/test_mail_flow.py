"""Mail flow end to end through mailbag, Postfix, policyd, lmtpd and
Dovecot: mail received and read over IMAP, logins refused, unknown users
and relaying refused, aliases fanned out, submission authenticated, and
what happens when a daemon, the store or a record is missing or damaged.

Every test talks to the real servers as a user or a remote MTA would:
smtplib for SMTP, imaplib for IMAP, raw sockets where the client must
misbehave. Nothing is faked but the rest of the internet (an SMTP sink).
"""

import imaplib
import json
import os
import re
import signal
import smtplib
import ssl
import subprocess
import time

import pytest

from conftest import wait_until
from helpers import (add_user, imap_login, messages_with, netstring, policy_query, raw_smtp,
                     rcpt_reply, send, send_until_accepted, socketmap_query, submit)


def test_user_receives_mail_and_reads_it_over_imap(stack, domain):
    user = "alice@" + domain
    password = add_user(stack, user)
    msgid = send(stack, [user], "hello alice")
    wait_until(lambda: messages_with(stack, user, msgid), what="delivery to " + user)

    im = imap_login(stack, user, password)
    typ, data = im.select("INBOX")
    assert typ == "OK" and int(data[0]) == 1
    typ, data = im.fetch("1", "(RFC822)")
    assert typ == "OK" and msgid.encode() in data[0][1]
    im.logout()


def test_wrong_password_and_disabled_user_are_refused(stack, domain):
    user = "bob@" + domain
    password = add_user(stack, user, "correct horse battery")
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED|Authentication failed"):
        imap_login(stack, user, "wrong password here")
    imap_login(stack, user, password).logout()

    assert stack.mailbag("user", "disable", user).returncode == 0
    with pytest.raises(imaplib.IMAP4.error):
        imap_login(stack, user, password)
    assert stack.mailbag("user", "enable", user).returncode == 0
    imap_login(stack, user, password).logout()


def test_unknown_user_gets_550_at_rcpt(stack, domain):
    code, text = rcpt_reply(stack, "nobody@" + domain)
    assert code == 550, text


def test_no_open_relay(stack):
    code, text = rcpt_reply(stack, "victim@elsewhere.test")
    assert code == 554 and b"Relay access denied" in text, (code, text)
    # a sender on a served-looking domain changes nothing
    code, text = rcpt_reply(stack, "victim@elsewhere.test", sender="postmaster@mailbag.test")
    assert 500 <= code < 600, (code, text)


def test_alias_fans_out_to_local_users_and_external(stack, domain):
    carol, dave = "carol@" + domain, "dave@" + domain
    add_user(stack, carol)
    add_user(stack, dave)
    team = "team@" + domain
    r = stack.mailbag("alias", "add", team, carol, dave, "partner@external.test")
    assert r.returncode == 0, r.stderr
    before = len(stack.sink.messages)
    msgid = send(stack, [team], "team news")
    wait_until(lambda: messages_with(stack, carol, msgid) and messages_with(stack, dave, msgid),
               what="both local copies")
    wait_until(lambda: any(msgid.encode() in m[2] for m in stack.sink.messages[before:]),
               what="the external copy at the sink")
    time.sleep(1)  # a duplicate would arrive by now
    assert len(messages_with(stack, carol, msgid)) == 1
    assert len(messages_with(stack, dave, msgid)) == 1
    external = [m for m in stack.sink.messages[before:] if msgid.encode() in m[2]]
    assert len(external) == 1 and external[0][1] == ["partner@external.test"]


def test_catch_all_domain_alias_and_subaddress(stack, domain):
    erin, frank = "erin@" + domain, "frank@" + domain
    add_user(stack, erin)
    add_user(stack, frank)
    assert stack.mailbag("alias", "add", "@" + domain, frank).returncode == 0
    alias_domain = "alias-" + domain
    r = stack.mailbag("alias", "add", "@" + alias_domain, "@" + domain)
    assert r.returncode == 0, r.stderr

    to_catchall = send(stack, ["whoever@" + domain], "catch all")
    to_existing = send(stack, [erin], "not swallowed by the catch-all")
    via_alias_domain = send(stack, ["erin@" + alias_domain], "domain alias")
    with_tag = send(stack, ["erin+lists@" + domain], "subaddress")

    wait_until(lambda: messages_with(stack, frank, to_catchall), what="catch-all delivery")
    for msgid in (to_existing, via_alias_domain, with_tag):
        wait_until(lambda: messages_with(stack, erin, msgid), what="delivery of " + msgid)
    assert not messages_with(stack, frank, to_existing)
    # an unknown user of the alias domain is refused at RCPT, not bounced later
    code, _ = rcpt_reply(stack, "ghost@" + alias_domain)
    assert code == 550


def test_deleted_user_is_refused_at_once(stack, domain):
    user = "gone@" + domain
    add_user(stack, user)
    code, _ = rcpt_reply(stack, user)
    assert code == 250
    assert stack.mailbag("user", "del", user).returncode == 0
    code, text = rcpt_reply(stack, user)
    assert code == 550, text


def user_list(stack):
    r = stack.mailbag("--json", "user", "list")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_bad_input_gives_one_line_error_and_leaves_store_unchanged(stack, domain, tmp_path):
    add_user(stack, "henry@" + domain)
    before = user_list(stack)

    r = stack.mailbag("user", "add", "not-an-address")
    assert r.returncode == 65 and r.stderr.count("\n") == 1 and "not an address" in r.stderr

    r = stack.mailbag("user", "add", "henry@" + domain)
    assert r.returncode == 73 and r.stderr.count("\n") == 1 and "already exists" in r.stderr

    r = stack.mailbag("user", "add", "ivy@not-served.example")
    assert r.returncode == 67 and "not served" in r.stderr

    bad = tmp_path / "context.json"
    bad.write_text('{"store": "lmdb:%s", "recipient_delimter": "+"}' % stack.store_dir)
    r = subprocess.run([stack.mailbag_bin, "--context", str(bad), "user", "add", "x@" + domain],
                       capture_output=True, text=True)
    assert r.returncode == 78, r.stderr
    assert r.stderr.count("\n") == 1 and "recipient_delimter" in r.stderr and "allowed" in r.stderr

    assert user_list(stack) == before


def test_policyd_down_gives_4xx_then_mail_flows(stack, domain):
    user = "judy@" + domain
    add_user(stack, user)
    stack.stop_policyd()
    try:
        start = time.time()
        code, text = rcpt_reply(stack, user)
        assert 400 <= code < 500, (code, text)
        assert time.time() - start < 10
    finally:
        stack.start_policyd()
    # a sending MTA retries the whole transaction after a 4xx; each Postfix
    # process (smtpd, trivial-rewrite, cleanup) reconnects on its own, so a
    # retry is accepted within seconds, not necessarily the first one
    restarted = time.time()
    msgid = send_until_accepted(stack, [user], "after the outage")
    print("accepted %.1fs after policyd restarted" % (time.time() - restarted))
    wait_until(lambda: messages_with(stack, user, msgid), what="delivery after restart")


def test_policyd_killed_while_mail_is_queued_delivers_later(stack, domain):
    """Mail accepted while policyd is healthy but expanded (cleanup's
    virtual_alias_maps) while it is down must wait in the queue, not bounce."""
    user = "kim@" + domain
    add_user(stack, user)
    stack.stop_policyd(signal.SIGKILL)
    try:
        # the local pickup path: sendmail hands the message to cleanup,
        # whose alias lookup fails while policyd is gone
        msgid = "<queued.%f@remote.test>" % time.time()
        p = subprocess.run(["sendmail", "-C", stack.postfix_etc, "-f", "sender@remote.test", user],
                           input=("Subject: queued\nMessage-ID: %s\n\nwaits\n" % msgid).encode(),
                           capture_output=True)
        assert p.returncode == 0, p.stderr
        time.sleep(3)
        assert not messages_with(stack, user, msgid)
        assert not re.search(r"to=<%s>.*status=bounced" % re.escape(user), stack.read_maillog())
    finally:
        stack.start_policyd()
    stack.flush_queue()
    wait_until(lambda: messages_with(stack, user, msgid), timeout=60, what="queued delivery")


SMTPD_LINE = re.compile(r"/smtpd\[(\d+)\]: (.*)$", re.M)


def ended_smtpd_session(stack, offset):
    """The log lines (text after "smtpd[PID]: ") of the first smtpd session
    that connected after offset in Postfix's log, once it has logged its
    disconnect."""
    def session():
        pid, lines = None, []
        for m in SMTPD_LINE.finditer(stack.read_maillog()[offset:]):
            if pid is None and m.group(2).startswith("connect from "):
                pid = m.group(1)
            if m.group(1) == pid:
                lines.append(m.group(2))
                if m.group(2).startswith("disconnect from "):
                    return lines
        return None
    return wait_until(session, what="smtpd's disconnect in Postfix's log")


def queue_file_end(stack, offset, queue_id):
    """How Postfix's log says queue_id ended, after offset: "removed" (qmgr
    is done with it: delivered or bounced), "reject" or "discard"; None
    while it has not."""
    m = re.search(r": %s: (removed$|milter-reject: |reject: |discard: )" % queue_id,
                  stack.read_maillog()[offset:], re.M)
    return m and m.group(1).rstrip(": ").replace("milter-", "")


@pytest.mark.parametrize("separator", [b"\n.\n", b"\n.\r\n", b"\r\n.\n"])
def test_smtp_smuggling_never_makes_two_messages(stack, domain, separator):
    victim = "leo@" + domain
    add_user(stack, victim)
    tag = "smuggle-%d-%f" % (len(separator), time.time())
    data = (b"From: a@remote.test\r\nSubject: " + tag.encode() + b"\r\n\r\nfirst part" +
            separator +
            b"MAIL FROM:<forged@" + domain.encode() + b">\r\nRCPT TO:<" + victim.encode() +
            b">\r\nDATA\r\nSubject: " + tag.encode() + b" smuggled\r\n\r\nsmuggled\r\n.\r\n")
    log_offset = len(stack.read_maillog())
    said = raw_smtp(stack.ports["smtp"], [
        b"MAIL FROM:<a@remote.test>\r\n",
        b"RCPT TO:<" + victim.encode() + b">\r\n",
        b"DATA\r\n",
        data,
        b"QUIT\r\n",
    ])
    # Postfix accepts at most the one transaction (or refuses it with 5xx);
    # what it accepted must arrive, as one message holding the "smuggled"
    # text in its body
    queued = said.count(b"queued as")
    refused = re.search(rb"(^|\n)5\d\d ", said) is not None
    assert queued == 1 or (queued == 0 and refused), said
    # Postfix's log: this connection's smtpd session has ended, and every
    # message it queued (a smuggled one would be a second queue ID of the
    # same session) has reached its end, so nothing more can arrive
    session = ended_smtpd_session(stack, log_offset)
    queue_ids = [m.group(1) for m in map(re.compile(r"([0-9A-Za-z]+): client=").match, session) if m]
    ends = [wait_until(lambda: queue_file_end(stack, log_offset, qid), what="the end of queue file " + qid)
            for qid in queue_ids]
    delivered = [qid for qid, end in zip(queue_ids, ends) if end == "removed"]
    assert len(delivered) == queued, (session, ends, said)
    if queued:
        accepted = re.search(rb"queued as ([0-9A-Za-z]+)", said).group(1).decode()
        assert delivered == [accepted], (delivered, said)
        assert re.search(r": %s: to=<%s>,.* status=sent " % (accepted, re.escape(victim)),
                         stack.read_maillog()[log_offset:]), "no delivery of " + accepted
    got = [m for m in stack.maildir_messages(victim) if tag.encode() in m]
    assert len(got) == queued, said
    assert all(b"first part" in m for m in got), got


def test_socketmap_bad_requests_get_perm_and_daemon_serves_on(stack, domain):
    user = "mia@" + domain
    add_user(stack, user)
    replies = socketmap_query(stack.socketmap, [
        netstring("no_such_map " + user),
        netstring("virtual_mailbox_maps " + user),
    ])
    assert replies == [netstring("PERM unknown map name"), netstring("OK " + user)]
    # a malformed netstring or an overlong one closes that connection only
    assert socketmap_query(stack.socketmap, [b"3:abc;"]) == [netstring("PERM malformed netstring")]
    assert socketmap_query(stack.socketmap, [b"x:abc,"]) == [netstring("PERM malformed netstring")]
    assert socketmap_query(stack.socketmap, [b"99999:" + b"x" * 100]) == \
        [netstring("PERM request longer than 1024 bytes")]
    assert socketmap_query(stack.socketmap, [netstring("virtual_mailbox_domains " + domain)]) == \
        [netstring("OK " + domain)]
    assert stack.policyd_proc.poll() is None


def test_submission_authenticates_against_the_store(stack, domain):
    user = "nora@" + domain
    password = add_user(stack, user)
    before = len(stack.sink.messages)
    msgid = submit(stack, user, password, user, ["friend@external.test"], "outbound")
    wait_until(lambda: any(msgid.encode() in m[2] for m in stack.sink.messages[before:]),
               what="submitted mail at the sink")
    with pytest.raises(smtplib.SMTPAuthenticationError):
        submit(stack, user, "not the password", user, ["friend@external.test"], "bad password")


def test_submission_refuses_a_sender_the_login_does_not_own(any_stack, any_domain):
    owner, other = "olga@" + any_domain, "pete@" + any_domain
    password = add_user(any_stack, owner)
    add_user(any_stack, other)
    shared = "sales@" + any_domain
    assert any_stack.mailbag("alias", "add", shared, owner).returncode == 0
    # an alias the login receives may be used as sender
    submit(any_stack, owner, password, shared, ["friend@external.test"], "as alias")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        submit(any_stack, owner, password, other, ["friend@external.test"], "forged")
    code, text = list(refused.value.recipients.values())[0]
    assert code == 553 and b"not owned by user" in text


def test_no_relay_without_authentication_on_submission(stack):
    with smtplib.SMTP("127.0.0.1", stack.ports["submission"], timeout=30) as s:
        s.starttls(context=ssl._create_unverified_context())
        s.ehlo("client.remote.test")
        code, _ = s.mail("x@remote.test")
        if code == 250:
            code, _ = s.rcpt("victim@elsewhere.test")
        assert 500 <= code < 600


@pytest.mark.parametrize("name", ["user%u@example.org", "a\x01b@example.org", "x" * 600 + "@example.org"])
def test_auth_refuses_hostile_user_names_before_lookup(stack, name):
    before = stack.dovecot_log().count("mailbag: refusing a user name")
    im = imaplib.IMAP4("127.0.0.1", stack.ports["imap"])
    try:
        # AUTHENTICATE PLAIN carries any bytes, where LOGIN would quote them
        with pytest.raises(imaplib.IMAP4.error):
            im.authenticate("PLAIN", lambda _: b"\0" + name.encode() + b"\0password123")
    finally:
        im.shutdown()
    wait_until(lambda: stack.dovecot_log().count("mailbag: refusing a user name") > before,
               timeout=10, what="the driver's refusal in Dovecot's log")


def test_missing_store_is_a_temporary_auth_failure_not_a_crash(stack, domain):
    user = "quinn@" + domain
    password = add_user(stack, user)
    away = stack.store_dir + ".away"
    stack.stop_dovecot()
    os.rename(stack.store_dir, away)
    try:
        stack.start_dovecot()
        with pytest.raises(imaplib.IMAP4.error, match="UNAVAILABLE|[Tt]emporary"):
            imap_login(stack, user, password)
        wait_until(lambda: "no store at " + stack.store_dir in stack.dovecot_log(), what="the driver's error in Dovecot's log")
    finally:
        os.rename(away, stack.store_dir)
    # the same auth process opens the store on the next lookup
    imap_login(stack, user, password).logout()
    assert "Fatal" not in stack.dovecot_log()


def test_declared_size_over_a_recipients_limit_is_refused_at_rcpt(any_stack, any_domain):
    small, big = "rosa@" + any_domain, "sam@" + any_domain
    any_stack.mailbag("user", "add", "--max-message-size", "10K", small, check=True)
    add_user(any_stack, big)
    list_alias = "both@" + any_domain
    any_stack.mailbag("alias", "add", list_alias, small, big, check=True)

    code, text = rcpt_reply(any_stack, small, size=20000)
    assert code == 552 and b"5.3.4" in text and b"10240" in text, (code, text)
    code, text = rcpt_reply(any_stack, "rosa+tag@" + any_domain, size=20000)
    assert code == 552, (code, text)
    # an alias reaching the small mailbox is refused as a whole
    code, text = rcpt_reply(any_stack, list_alias, size=20000)
    assert code == 552, (code, text)
    # within the limit, or the other user alone: accepted
    assert rcpt_reply(any_stack, small, size=5000)[0] == 250
    assert rcpt_reply(any_stack, big, size=20000)[0] == 250
    # refused before acceptance: nothing was queued, so nothing bounces
    assert not re.search(r"to=<(rosa|sam)[^>]*@%s>.*status=bounced" % re.escape(any_domain),
                         any_stack.read_maillog())


def test_policy_sender_login_rule(any_stack, any_domain):
    owner, other = "tina@" + any_domain, "uma@" + any_domain
    add_user(any_stack, owner)
    add_user(any_stack, other)
    any_stack.mailbag("alias", "add", "info@" + any_domain, owner, check=True)
    base = {"request": "smtpd_access_policy", "protocol_state": "RCPT",
            "recipient": "friend@external.test", "sasl_username": owner}
    assert policy_query(any_stack.policy_socket, dict(base, sender=owner)) == "action=DUNNO\n\n"
    assert policy_query(any_stack.policy_socket, dict(base, sender="info@" + any_domain)) == "action=DUNNO\n\n"
    refused = policy_query(any_stack.policy_socket, dict(base, sender=other))
    assert refused.startswith("action=553 5.7.1") and other in refused
    # malformed lines are skipped, the request still answered
    assert policy_query(any_stack.policy_socket, dict(base, sender=owner, **{"BAD NAME": "x"})) == \
        "action=DUNNO\n\n"
    # an overlong line gets a deferral and only that connection is closed
    assert policy_query(any_stack.policy_socket, {"request": "x" * 5000}).startswith(
        "action=DEFER_IF_PERMIT")
    assert policy_query(any_stack.policy_socket, dict(base, sender=owner)) == "action=DUNNO\n\n"


def damage_user_record(stack, address):
    """Put bytes no decoder accepts under a user's key, with LMDB's own tool."""
    local, dom = address.split("@")
    subprocess.run(["mdb_load", "-T", "-s", "users", stack.store_dir],
                   input=("%s/%s\n{broken\n" % (dom, local)).encode(), check=True)


def test_one_damaged_record_does_not_fail_other_lookups(stack, domain):
    good, bad = "vera@" + domain, "walt@" + domain
    add_user(stack, good)
    add_user(stack, bad)
    damage_user_record(stack, bad)
    replies = socketmap_query(stack.socketmap, [
        netstring("virtual_mailbox_maps " + bad),
        netstring("virtual_mailbox_maps " + good),
        netstring("virtual_mailbox_maps " + bad),
        netstring("virtual_mailbox_maps " + good),
    ])
    assert replies[0].split(b":", 1)[1].startswith(b"TEMP ")
    assert replies[1] == netstring("OK " + good)
    assert replies[3] == netstring("OK " + good)
    # and Postfix agrees: 4xx for the damaged one, 250 for the other
    assert 400 <= rcpt_reply(stack, bad)[0] < 500
    assert rcpt_reply(stack, good)[0] == 250
    stack.mailbag("user", "del", bad, check=True)


@pytest.mark.parametrize("option,value", [("--vmail-uid", "abc"), ("--vmail-uid", "0"),
                                          ("--vmail-gid", "12x"), ("--hostname", "nodot"),
                                          ("--store", "mysql://x")])
def test_init_refuses_bad_options_before_writing_anything(stack, tmp_path, option, value):
    context = tmp_path / "etc" / "context.json"
    r = subprocess.run([stack.mailbag_bin, "--context", str(context), "init",
                        "--store", "lmdb:%s/store" % tmp_path, option, value],
                       capture_output=True, text=True)
    assert r.returncode in (64, 65, 78), r
    assert r.stderr.count("\n") == 1 and option.lstrip("-").split("-")[-1] in r.stderr, r.stderr
    assert not context.exists()
    assert not (tmp_path / "store").exists()
