"""Authentication through the mailbag passdb, as clients do it."""

import base64
import imaplib
import json
import re
import smtplib
import ssl

import pytest

from conftest import wait_until
from helpers import add_user, login_from, submission_login


def plain(authzid, authcid, password):
    return base64.b64encode(("%s\0%s\0%s" % (authzid, authcid, password)).encode()).decode()


def test_plain_with_a_foreign_authorization_identity_is_refused(stack, domain):
    """SASL PLAIN "victim\\0attacker\\0attacker's password" must not log in
    as the victim (the bug class of CVE-2023-27582): no master users are
    configured, so any authzid other than the login itself is refused."""
    attacker, victim = "mallory@" + domain, "alice@" + domain
    password = add_user(stack, attacker)
    add_user(stack, victim)
    # IMAP
    im = imaplib.IMAP4("127.0.0.1", stack.ports["imap"])
    with pytest.raises(imaplib.IMAP4.error):
        im.authenticate("PLAIN", lambda _: base64.b64decode(plain(victim, attacker, password)))
    im.shutdown()
    # the same credentials without an authzid, or with the login's own, work
    im = imaplib.IMAP4("127.0.0.1", stack.ports["imap"])
    im.authenticate("PLAIN", lambda _: base64.b64decode(plain(attacker, attacker, password)))
    im.logout()
    # SMTP submission
    with smtplib.SMTP("127.0.0.1", stack.ports["submission"], timeout=30) as s:
        s.starttls(context=ssl._create_unverified_context())
        s.ehlo("client.test")
        code, _ = s.docmd("AUTH", "PLAIN " + plain(victim, attacker, password))
        assert code == 535, code
        code, _ = s.docmd("AUTH", "PLAIN " + plain("", attacker, password))
        assert code == 235, code


def test_failed_logins_lock_the_address_out(any_stack, any_domain):
    user = "brute@" + any_domain
    password = add_user(any_stack, user)
    with open(any_stack.context) as f:
        original = json.load(f).get("auth")
    # the driver rereads the context file when it changes
    any_stack.update_context({"auth": {"failures_per_ip": 3, "lockout": 60}})
    try:
        attacker, neighbour = "127.0.0.3", "127.0.0.4"
        for guess in ("guess-1", "guess-2", "guess-3"):
            assert not login_from(any_stack, attacker, user, guess)
        # the right password, from the locked address: refused unchecked
        assert not login_from(any_stack, attacker, user, password)
        wait_until(lambda: "password not checked" in any_stack.dovecot_log(), what="the lock-out in Dovecot's log")
        # from another address the account still works
        assert login_from(any_stack, neighbour, user, password)
    finally:
        any_stack.update_context({"auth": original})


def imap_ok(stack, user, password):
    return login_from(stack, "127.0.0.1", user, password)


def test_app_passwords_log_in_until_deleted(any_stack, any_domain):
    user = "apps@" + any_domain
    main = add_user(any_stack, user)
    out = any_stack.mailbag("user", "app-password", "add", user, "phone", check=True).stdout
    phone = re.search(r"\(shown once\): (\S+)", out).group(1)
    laptop = json.loads(any_stack.mailbag("--json", "user", "app-password", "add", user, "laptop",
                                          check=True).stdout)["password"]
    # shown once: the store keeps only hashes
    listing = any_stack.mailbag("--json", "user", "app-password", "list", user, check=True).stdout
    assert phone not in listing and laptop not in listing
    assert [a["name"] for a in json.loads(listing)["app_passwords"]] == ["phone", "laptop"]
    for password in (main, phone, laptop):
        assert imap_ok(any_stack, user, password)
        assert submission_login(any_stack, user, password)
    # revoking one leaves the others working
    any_stack.mailbag("user", "app-password", "del", user, "phone", check=True)
    assert not imap_ok(any_stack, user, phone)
    assert not submission_login(any_stack, user, phone)
    assert imap_ok(any_stack, user, laptop)
    # app passwords only: the main password stops logging in
    any_stack.mailbag("user", "app-password", "only", user, "on", check=True)
    assert not imap_ok(any_stack, user, main)
    assert not submission_login(any_stack, user, main)
    assert imap_ok(any_stack, user, laptop)
    any_stack.mailbag("user", "app-password", "only", user, "off", check=True)
    assert imap_ok(any_stack, user, main)
    # bad input: a clear refusal, nothing changed
    bad = any_stack.mailbag("user", "app-password", "add", user, "Bad Name")
    assert bad.returncode == 64 and "app password name" in bad.stderr
    dup = any_stack.mailbag("user", "app-password", "add", user, "laptop")
    assert dup.returncode == 65 and "already has" in dup.stderr


def test_auto_create_on_first_login(any_stack, any_domain):
    """The chatmail seed's sign-up: on a domain listed in auto_create, the
    first login of an unknown address creates it with that password."""
    other = "plain-" + any_domain  # a domain in the default mode
    any_stack.mailbag("domain", "add", other, check=True)
    with open(any_stack.context) as f:
        original = json.load(f).get("auto_create")
    any_stack.update_context({"auto_create": {"domains": [any_domain], "min_password_length": 12}})
    try:
        newcomer, password = "newcomer42@" + any_domain, "correct horse battery"
        assert imap_ok(any_stack, newcomer, password)
        users = json.loads(any_stack.mailbag("--json", "user", "list", any_domain, check=True).stdout)
        assert [u["address"] for u in users] == [newcomer]
        # from now on it is an ordinary account: the password is checked
        assert not imap_ok(any_stack, newcomer, "another password here")
        assert imap_ok(any_stack, newcomer, password)
        assert submission_login(any_stack, newcomer, password)
        # refused: the default mode, a short password, a bad local part
        assert not imap_ok(any_stack, "newcomer43@" + other, password)
        assert not imap_ok(any_stack, "short1@" + any_domain, "tooshort")
        assert not imap_ok(any_stack, "Has.Dots@" + any_domain, password)
        users = json.loads(any_stack.mailbag("--json", "user", "list", check=True).stdout)
        addresses = {u["address"] for u in users}
        assert "newcomer43@" + other not in addresses and "short1@" + any_domain not in addresses
        assert "has.dots@" + any_domain not in addresses
    finally:
        any_stack.update_context({"auto_create": original})


def test_random_account_logs_in(stack, domain):
    out = json.loads(stack.mailbag("--json", "user", "add", "--random", domain, check=True).stdout)
    local, at_domain = out["address"].split("@")
    assert at_domain == domain and re.fullmatch(r"[a-z0-9]{9}", local)
    assert imap_ok(stack, out["address"], out["password"])
    refused = stack.mailbag("user", "add", "--random", "--hash", "{SHA512-CRYPT}$6$x", domain)
    assert refused.returncode == 64 and "--random makes its own password" in refused.stderr
