"""Aliases never cause backscatter (issue 16, part 3), through the real Postfix.

A bounce to an outside sender for mail we accepted is backscatter. So a
target of an alias that nothing here receives (a deleted or disabled
user) is left out of the socketmap's answer, an alias left with no
target is refused at RCPT, and `user del` takes the user out of its
aliases; the queue and the log must show no non-delivery notification.
"""

import json
import re
import subprocess

from conftest import wait_until
from helpers import add_user, messages_with, rcpt_reply, send


def queue_id_of(stack, msgid):
    m = re.search(r"([0-9A-Za-z]+): message-id=%s" % re.escape(msgid), stack.read_maillog())
    return m and m.group(1)


def assert_delivered_without_bounce(stack, msgid, local_users, external=None, sink_before=0):
    """Each local user and the external address got the message once; Postfix
    finished with it, bounced nothing and sent no notification."""
    for user in local_users:
        wait_until(lambda: messages_with(stack, user, msgid), what="delivery to " + user)
    if external:
        wait_until(lambda: any(msgid.encode() in m[2] for m in stack.sink.messages[sink_before:]),
                   what="the external copy at the sink")
    qid = wait_until(lambda: queue_id_of(stack, msgid), what="the queue ID of " + msgid)
    # "removed": every recipient is done, delivered or bounced
    wait_until(lambda: re.search(r"%s: removed" % qid, stack.read_maillog()), what=qid + " removed")
    log = stack.read_maillog()
    mine = "\n".join(line for line in log.splitlines() if qid + ":" in line)
    assert "status=bounced" not in mine, mine
    assert "sender non-delivery notification" not in mine, mine
    assert "status=deferred" not in mine, mine
    for user in local_users:
        assert len(messages_with(stack, user, msgid)) == 1
    # no bounce reached the outside sender (the sink) either
    assert not [m for m in stack.sink.messages[sink_before:] if m[0] in ("", "<>")], \
        "a bounce went out"
    queue = subprocess.run(["postqueue", "-c", stack.postfix_etc, "-p"], capture_output=True, text=True)
    assert "Mail queue is empty" in queue.stdout, queue.stdout


def alias_list(stack, domain):
    r = stack.mailbag("--json", "alias", "list", domain)
    assert r.returncode == 0, r.stderr
    return {a["source"]: a for a in json.loads(r.stdout)}


def test_user_del_takes_the_user_out_of_its_aliases(stack, domain):
    carol, bob = "carol@" + domain, "bob@" + domain
    add_user(stack, carol)
    add_user(stack, bob)
    team, solo = "team@" + domain, "solo@" + domain
    stack.mailbag("alias", "add", team, carol, bob, "partner@external.test", check=True)
    stack.mailbag("alias", "add", solo, bob, check=True)

    r = stack.mailbag("user", "del", bob)
    assert r.returncode == 0, r.stderr
    before = len(stack.sink.messages)
    msgid = send(stack, [team], "team after a delete")
    assert_delivered_without_bounce(stack, msgid, [carol], external=True, sink_before=before)
    # the alias whose only target was deleted is refused at RCPT
    code, text = rcpt_reply(stack, solo)
    assert code == 550, (code, text)

    assert "removed %s from alias %s" % (bob, team) in r.stdout, r.stdout
    assert "deleted alias %s (%s was its only target)" % (solo, bob) in r.stdout, r.stdout
    aliases = alias_list(stack, domain)
    assert aliases[team]["targets"] == [carol, "partner@external.test"]
    assert solo not in aliases


def test_user_del_takes_detail_spellings_out_too(stack, domain):
    bob = "bob@" + domain
    add_user(stack, bob)
    stack.mailbag("alias", "add", "lists@" + domain, "bob+lists@" + domain, check=True)
    r = stack.mailbag("user", "del", bob)
    assert "deleted alias lists@%s" % domain in r.stdout, r.stdout
    assert rcpt_reply(stack, "lists@" + domain)[0] == 550


def test_kept_alias_skips_the_deleted_user(stack, domain):
    carol, bob = "carol@" + domain, "bob@" + domain
    add_user(stack, carol)
    add_user(stack, bob)
    team, solo = "team@" + domain, "solo@" + domain
    stack.mailbag("alias", "add", team, carol, bob, check=True)
    stack.mailbag("alias", "add", solo, bob, check=True)

    r = stack.mailbag("--json", "user", "del", "--keep-aliases", bob)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert sorted((a["source"], a["action"]) for a in out["aliases"]) == [(solo, "kept"), (team, "kept")]
    aliases = alias_list(stack, domain)
    assert aliases[team]["targets"] == [carol, bob]
    assert aliases[team]["dangling"] == [{"target": bob, "state": "missing"}]
    assert "%s (missing)" % bob in stack.mailbag("alias", "list", domain, check=True).stdout

    msgid = send(stack, [team], "kept alias")
    assert_delivered_without_bounce(stack, msgid, [carol])
    code, text = rcpt_reply(stack, solo)
    assert code == 550, (code, text)


def test_disabled_target_is_skipped_not_bounced(stack, domain):
    carol, dora = "carol@" + domain, "dora@" + domain
    add_user(stack, carol)
    add_user(stack, dora)
    team, solo = "team@" + domain, "solo@" + domain
    stack.mailbag("alias", "add", team, carol, dora, check=True)
    stack.mailbag("alias", "add", solo, dora, check=True)
    stack.mailbag("user", "disable", dora, check=True)

    msgid = send(stack, [team], "disabled target")
    assert_delivered_without_bounce(stack, msgid, [carol])
    code, text = rcpt_reply(stack, solo)
    assert code == 550, (code, text)
    # enabled again: it receives through the alias again
    stack.mailbag("user", "enable", dora, check=True)
    assert rcpt_reply(stack, solo)[0] == 250


def test_dangling_targets_through_domain_alias_and_catch_all(stack, domain):
    erin = "erin@" + domain
    add_user(stack, erin)
    alias_domain = "alias-" + domain
    stack.mailbag("alias", "add", "@" + alias_domain, "@" + domain, check=True)
    # a target in the domain-alias domain nobody receives is refused at add
    r = stack.mailbag("alias", "add", "via@" + domain, "ghost@" + alias_domain)
    assert r.returncode == 67 and "--allow-missing" in r.stderr, r.stderr
    # ... and left out of the answer when it was added anyway
    stack.mailbag("alias", "add", "--allow-missing", "via@" + domain, "ghost@" + alias_domain,
                  "erin@" + alias_domain, check=True)
    msgid = send(stack, ["via@" + domain], "via the domain alias")
    assert_delivered_without_bounce(stack, msgid, [erin])

    # with a catch-all, an alias left with no target is as if it did not
    # exist: the catch-all takes its mail, nothing bounces
    stack.mailbag("alias", "add", "--allow-missing", "old@" + domain, "left@" + domain, check=True)
    assert rcpt_reply(stack, "old@" + domain)[0] == 550
    stack.mailbag("alias", "add", "@" + domain, erin, check=True)
    msgid = send(stack, ["old@" + domain], "dead alias with a catch-all")
    assert_delivered_without_bounce(stack, msgid, [erin])


def test_alias_add_refuses_a_missing_local_target(stack, domain):
    ann = "ann@" + domain
    add_user(stack, ann)
    r = stack.mailbag("alias", "add", "list@" + domain, "nobody@" + domain)
    assert r.returncode == 67 and "nobody@" + domain in r.stderr and "--allow-missing" in r.stderr, r.stderr
    assert "list@" + domain not in alias_list(stack, domain)
    # +detail of a user, and outside targets, are accepted as they are
    stack.mailbag("alias", "add", "list@" + domain, "ann+lists@" + domain, "x@external.test", check=True)
    r = stack.mailbag("alias", "add", "--allow-missing", "list@" + domain, "nobody@" + domain)
    assert r.returncode == 0, r.stderr
    entry = alias_list(stack, domain)["list@" + domain]
    assert entry["dangling"] == [{"target": "nobody@" + domain, "state": "missing"}]
    assert rcpt_reply(stack, "list@" + domain)[0] == 250
