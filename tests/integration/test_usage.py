"""Mailbox usage in the store: Dovecot's quota plugin reports it through
quota_clone to mailbag-policyd's usage socket; `mailbag user list` shows
it. Checked against Dovecot's own `doveadm quota get` after deliveries
and after an expunge, on the LMDB and on the Redis store."""

import json
import subprocess

from conftest import wait_until
from helpers import add_user, imap_login, messages_with, send


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
