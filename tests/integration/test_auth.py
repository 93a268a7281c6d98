"""Authentication through the mailbag passdb, as clients do it."""

import base64
import imaplib
import smtplib
import ssl

import pytest

from helpers import add_user


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
