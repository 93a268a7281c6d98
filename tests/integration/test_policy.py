"""Policy delegation through the real Postfix: greylisting, rate limits,
the recipient cap, quota at RCPT. Each test switches its check on in the
context, has mailbag-policyd reload it (SIGHUP), and talks SMTP to Postfix
as a remote MTA or a submitting user would; the context is put back
afterwards. Every test runs twice: on the LMDB store and on Redis."""

import json
import smtplib
import subprocess
import time

import pytest

from conftest import wait_until
from helpers import add_user, messages_with, rcpt_replies, rcpt_reply, send, submit


@pytest.fixture
def policy_settings(any_stack):
    """Call with a dict of top-level context keys; restored at teardown."""
    with open(any_stack.context) as f:
        original = json.load(f)
    touched = set()

    def apply(changes):
        touched.update(changes)
        any_stack.update_context(changes)
    yield apply
    if touched:
        any_stack.update_context({key: original.get(key) for key in touched})


def test_greylisting_defers_the_first_attempt_and_passes_the_retry(any_stack, any_domain, policy_settings):
    user = "grey@" + any_domain
    add_user(any_stack, user)
    # the loopback exemption is replaced by an empty allowlist, so that
    # this test's client (127.0.0.1) is greylisted like a stranger
    policy_settings({"greylisting": {"enabled": True, "delay": 2, "allowlist": [],
                                     "auto_allow_after": 0}})
    sender = "first-contact@remote.test"
    [(code, text)] = rcpt_replies(any_stack, [user], sender)
    assert code == 450 and b"4.7.1" in text and b"Greylisted" in text, (code, text)
    # too early: still deferred
    [(code, text)] = rcpt_replies(any_stack, [user], sender)
    assert code == 450, (code, text)
    time.sleep(2.5)
    msgid = send(any_stack, [user], "after greylisting", sender=sender)
    wait_until(lambda: messages_with(any_stack, user, msgid), what="the retried message")
    # another sender is a new triplet; authenticated submission never waits
    [(code, text)] = rcpt_replies(any_stack, [user], "someone-else@remote.test")
    assert code == 450, (code, text)
    password = add_user(any_stack, "greyuser@" + any_domain)
    msgid = submit(any_stack, "greyuser@" + any_domain, password, "greyuser@" + any_domain, [user], "submitted")
    wait_until(lambda: messages_with(any_stack, user, msgid), what="the submitted message")


def test_greylisting_skips_allowlisted_clients(any_stack, any_domain, policy_settings):
    user = "allowed@" + any_domain
    add_user(any_stack, user)
    sender = "new-sender@remote.test"
    # the default allowlist holds loopback
    policy_settings({"greylisting": {"enabled": True, "delay": 3600}})
    msgid = send(any_stack, [user], "allowlisted", sender=sender)
    wait_until(lambda: messages_with(any_stack, user, msgid), what="the allowlisted message")
    # the negative control: the same client (127.0.0.1), sender and
    # recipient, with an allowlist that holds other networks and not
    # loopback, is greylisted; so it was the allowlist that let it through
    policy_settings({"greylisting": {"enabled": True, "delay": 3600,
                                     "allowlist": ["192.0.2.0/24", "::1"]}})
    [(code, text)] = rcpt_replies(any_stack, [user], sender)
    assert code == 450 and b"4.7.1" in text and b"Greylisted" in text, (code, text)


def test_greylisting_survives_a_policyd_restart(any_stack, any_domain, policy_settings):
    user = "persist@" + any_domain
    add_user(any_stack, user)
    policy_settings({"greylisting": {"enabled": True, "delay": 1, "allowlist": [],
                                     "auto_allow_after": 0}})
    sender = "restart@remote.test"
    [(code, _)] = rcpt_replies(any_stack, [user], sender)
    assert code == 450
    any_stack.stop_policyd()
    any_stack.start_policyd()
    time.sleep(1.5)

    def accepted():
        try:
            [(code, text)] = rcpt_replies(any_stack, [user], sender)
        except smtplib.SMTPException:
            return False
        assert code < 500, (code, text)
        return code == 250
    # Postfix reconnects to the restarted policyd within seconds; the
    # triplet it remembered lets the retry through, no second delay
    wait_until(accepted, timeout=30, what="the retry to pass after the restart")


def test_rate_limit_on_recipients_per_client(any_stack, any_domain, policy_settings):
    users = ["rate%d@%s" % (i, any_domain) for i in range(4)]
    for u in users:
        add_user(any_stack, u)
    policy_settings({"rate_limits": [{"name": "test-ip", "key": "client_address",
                                      "count": "recipients", "per": "minute", "limit": 3}]})
    # the four RCPTs must fall into one minute's window
    if time.time() % 60 > 50:
        time.sleep(60 - time.time() % 60 + 0.2)
    replies = rcpt_replies(any_stack, users)
    assert [code for code, _ in replies] == [250, 250, 250, 450], replies
    text = replies[3][1].decode()
    assert "4.7.1" in text and 'Rate limit "test-ip"' in text and "127.0.0.1" in text
    assert "try again in" in text


def test_rate_limit_on_messages_per_login_counts_at_end_of_message(any_stack, any_domain, policy_settings):
    login = "limited@" + any_domain
    password = add_user(any_stack, login)
    rcpts = ["r%d@%s" % (i, any_domain) for i in range(3)]
    for r in rcpts:
        add_user(any_stack, r)
    policy_settings({"rate_limits": [{"key": "sasl_username", "count": "messages",
                                      "per": "hour", "limit": 2}]})
    # a message to three recipients counts once
    submit(any_stack, login, password, login, rcpts, "one")
    submit(any_stack, login, password, login, rcpts[:1], "two")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        submit(any_stack, login, password, login, rcpts[:1], "three")
    code, text = list(refused.value.recipients.values())[0]
    assert code == 450 and b"sasl_username-messages-per-hour" in text, (code, text)
    # another login has its own count
    other = "unlimited@" + any_domain
    other_password = add_user(any_stack, other)
    msgid = submit(any_stack, other, other_password, other, rcpts[:1], "other login")
    wait_until(lambda: messages_with(any_stack, rcpts[0], msgid), what="the other login's message")


def test_recipient_cap_per_message(any_stack, any_domain, policy_settings):
    users = ["cap%d@%s" % (i, any_domain) for i in range(3)]
    for u in users:
        add_user(any_stack, u)
    policy_settings({"checks": {"max_recipients_per_message": 2}})
    replies = rcpt_replies(any_stack, users)
    assert [code for code, _ in replies] == [250, 250, 452], replies
    assert b"4.5.3" in replies[2][1]
    # the cap is per message: the next transaction starts again
    replies = rcpt_replies(any_stack, users[2:])
    assert [code for code, _ in replies] == [250], replies


def test_a_context_that_does_not_load_keeps_the_running_settings(any_stack, any_domain, policy_settings):
    user, second = "keep@" + any_domain, "keep2@" + any_domain
    add_user(any_stack, user)
    add_user(any_stack, second)
    policy_settings({"checks": {"max_recipients_per_message": 1}})
    with open(any_stack.context) as f:
        good = f.read()
    with open(any_stack.context, "w") as f:
        f.write(good.replace('"max_recipients_per_message": 1', '"max_recipients_per_message": "many"'))
    before = open(any_stack.policyd_log).read().count("reload refused")
    any_stack.policyd_proc.send_signal(1)  # SIGHUP
    wait_until(lambda: open(any_stack.policyd_log).read().count("reload refused") > before,
               what="the refused reload to be logged")
    with open(any_stack.context, "w") as f:
        f.write(good)
    replies = rcpt_replies(any_stack, [user, second])
    assert replies[1][0] == 452, replies  # the old cap of 1 still holds


def test_full_mailbox_is_refused_at_rcpt_and_nothing_bounces(any_stack, any_domain):
    """Dovecot's quota_clone reports usage to policyd; RCPT for a mailbox
    without room gets 452 4.2.2, so Postfix never accepts mail it would
    later bounce."""
    user = "quota@" + any_domain
    add_user(any_stack, user)
    any_stack.mailbag("user", "quota", user, "20K", check=True)
    with smtplib.SMTP("127.0.0.1", any_stack.ports["smtp"], timeout=30) as s:
        msgid = "<fill.%f@remote.test>" % time.time()
        s.sendmail("someone@remote.test", [user],
                   "Subject: fill\r\nMessage-ID: %s\r\n\r\n%s\r\n" % (msgid, "x" * 12000))
    wait_until(lambda: messages_with(any_stack, user, msgid), what="the first message")
    # about 12 KB used of 20 KB: a declared 10 KB no longer fits
    wait_until(lambda: rcpt_reply(any_stack, user, size=10000)[0] == 452, what="the usage report to arrive")
    code, text = rcpt_reply(any_stack, user, size=10000)
    assert b"4.2.2" in text and b"has no room" in text, (code, text)
    assert rcpt_reply(any_stack, user, size=2000)[0] == 250
    # the limit lowered below the usage: full, whatever the size
    any_stack.mailbag("user", "quota", user, "10K", check=True)
    [(code, text)] = rcpt_replies(any_stack, [user])
    assert code == 452 and b"is full" in text, (code, text)
    # an alias reaching the full mailbox is refused too
    any_stack.mailbag("alias", "add", "quota-team@" + any_domain, user, check=True)
    [(code, text)] = rcpt_replies(any_stack, ["quota-team@" + any_domain])
    assert code == 452, (code, text)
    # nothing was accepted and bounced: no bounce in the log, queue empty
    log = any_stack.read_maillog()
    assert "status=bounced" not in log.split(msgid)[-1]
    queue = subprocess.run(["postqueue", "-c", any_stack.postfix_etc, "-p"], capture_output=True, text=True)
    assert "Mail queue is empty" in queue.stdout, queue.stdout
