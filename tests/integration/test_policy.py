"""Policy delegation through the real Postfix: greylisting, rate limits,
the recipient cap. Each test switches its check on in the context, has
mailbag-policyd reload it (SIGHUP), and talks SMTP to Postfix as a remote
MTA or a submitting user would. The context is put back afterwards."""

import json
import smtplib
import time

import pytest

from conftest import wait_until
from helpers import add_user, messages_with, rcpt_replies, send, submit


@pytest.fixture
def policy_settings(stack):
    """Call with a dict of top-level context keys; restored at teardown."""
    with open(stack.context) as f:
        original = json.load(f)
    touched = set()

    def apply(changes):
        touched.update(changes)
        stack.update_context(changes)
    yield apply
    if touched:
        stack.update_context({key: original.get(key) for key in touched})


def test_greylisting_defers_the_first_attempt_and_passes_the_retry(stack, domain, policy_settings):
    user = "grey@" + domain
    add_user(stack, user)
    # the loopback exemption is replaced by an empty allowlist, so that
    # this test's client (127.0.0.1) is greylisted like a stranger
    policy_settings({"greylisting": {"enabled": True, "delay": 2, "allowlist": [],
                                     "auto_allow_after": 0}})
    sender = "first-contact@remote.test"
    [(code, text)] = rcpt_replies(stack, [user], sender)
    assert code == 450 and b"4.7.1" in text and b"Greylisted" in text, (code, text)
    # too early: still deferred
    [(code, text)] = rcpt_replies(stack, [user], sender)
    assert code == 450, (code, text)
    time.sleep(2.5)
    msgid = send(stack, [user], "after greylisting", sender=sender)
    wait_until(lambda: messages_with(stack, user, msgid), what="the retried message")
    # another sender is a new triplet; authenticated submission never waits
    [(code, text)] = rcpt_replies(stack, [user], "someone-else@remote.test")
    assert code == 450, (code, text)
    password = add_user(stack, "greyuser@" + domain)
    msgid = submit(stack, "greyuser@" + domain, password, "greyuser@" + domain, [user], "submitted")
    wait_until(lambda: messages_with(stack, user, msgid), what="the submitted message")


def test_greylisting_skips_allowlisted_clients(stack, domain, policy_settings):
    user = "allowed@" + domain
    add_user(stack, user)
    # the default allowlist holds loopback
    policy_settings({"greylisting": {"enabled": True, "delay": 3600}})
    msgid = send(stack, [user], "allowlisted", sender="new-sender@remote.test")
    wait_until(lambda: messages_with(stack, user, msgid), what="the allowlisted message")


def test_greylisting_survives_a_policyd_restart(stack, domain, policy_settings):
    user = "persist@" + domain
    add_user(stack, user)
    policy_settings({"greylisting": {"enabled": True, "delay": 1, "allowlist": [],
                                     "auto_allow_after": 0}})
    sender = "restart@remote.test"
    [(code, _)] = rcpt_replies(stack, [user], sender)
    assert code == 450
    stack.stop_policyd()
    stack.start_policyd()
    time.sleep(1.5)

    def accepted():
        try:
            [(code, text)] = rcpt_replies(stack, [user], sender)
        except smtplib.SMTPException:
            return False
        assert code < 500, (code, text)
        return code == 250
    # Postfix reconnects to the restarted policyd within seconds; the
    # triplet it remembered lets the retry through, no second delay
    wait_until(accepted, timeout=30, what="the retry to pass after the restart")


def test_rate_limit_on_recipients_per_client(stack, domain, policy_settings):
    users = ["rate%d@%s" % (i, domain) for i in range(4)]
    for u in users:
        add_user(stack, u)
    policy_settings({"rate_limits": [{"name": "test-ip", "key": "client_address",
                                      "count": "recipients", "per": "minute", "limit": 3}]})
    # the four RCPTs must fall into one minute's window
    if time.time() % 60 > 50:
        time.sleep(60 - time.time() % 60 + 0.2)
    replies = rcpt_replies(stack, users)
    assert [code for code, _ in replies] == [250, 250, 250, 450], replies
    text = replies[3][1].decode()
    assert "4.7.1" in text and 'Rate limit "test-ip"' in text and "127.0.0.1" in text
    assert "try again in" in text


def test_rate_limit_on_messages_per_login_counts_at_end_of_message(stack, domain, policy_settings):
    login = "limited@" + domain
    password = add_user(stack, login)
    rcpts = ["r%d@%s" % (i, domain) for i in range(3)]
    for r in rcpts:
        add_user(stack, r)
    policy_settings({"rate_limits": [{"key": "sasl_username", "count": "messages",
                                      "per": "hour", "limit": 2}]})
    # a message to three recipients counts once
    submit(stack, login, password, login, rcpts, "one")
    submit(stack, login, password, login, rcpts[:1], "two")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        submit(stack, login, password, login, rcpts[:1], "three")
    code, text = list(refused.value.recipients.values())[0]
    assert code == 450 and b"sasl_username-messages-per-hour" in text, (code, text)
    # another login has its own count
    other = "unlimited@" + domain
    other_password = add_user(stack, other)
    msgid = submit(stack, other, other_password, other, rcpts[:1], "other login")
    wait_until(lambda: messages_with(stack, rcpts[0], msgid), what="the other login's message")


def test_recipient_cap_per_message(stack, domain, policy_settings):
    users = ["cap%d@%s" % (i, domain) for i in range(3)]
    for u in users:
        add_user(stack, u)
    policy_settings({"checks": {"max_recipients_per_message": 2}})
    replies = rcpt_replies(stack, users)
    assert [code for code, _ in replies] == [250, 250, 452], replies
    assert b"4.5.3" in replies[2][1]
    # the cap is per message: the next transaction starts again
    replies = rcpt_replies(stack, users[2:])
    assert [code for code, _ in replies] == [250], replies


def test_a_context_that_does_not_load_keeps_the_running_settings(stack, domain, policy_settings):
    user, second = "keep@" + domain, "keep2@" + domain
    add_user(stack, user)
    add_user(stack, second)
    policy_settings({"checks": {"max_recipients_per_message": 1}})
    with open(stack.context) as f:
        good = f.read()
    with open(stack.context, "w") as f:
        f.write(good.replace('"max_recipients_per_message": 1', '"max_recipients_per_message": "many"'))
    before = open(stack.policyd_log).read().count("reload refused")
    stack.policyd_proc.send_signal(1)  # SIGHUP
    wait_until(lambda: open(stack.policyd_log).read().count("reload refused") > before,
               what="the refused reload to be logged")
    with open(stack.context, "w") as f:
        f.write(good)
    replies = rcpt_replies(stack, [user, second])
    assert replies[1][0] == 452, replies  # the old cap of 1 still holds
