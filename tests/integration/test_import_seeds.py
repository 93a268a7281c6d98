"""`mailbag import courier|mailorama PATH`: the Courier seed's userdb and the
Mail-o-Rama seed's four files move in, each tree built in the seed's own
layout with real hashes and Maildirs holding mail. The old passwords log
in over IMAP and submission, the imported aliases and virtuals receive,
the old messages are there beside the new delivery, a user whose only
password was an HMAC field logs in once `mailbag user passwd` gave it
one, a second import changes nothing, and a tree with one bad line
imports nothing and names FILE:LINE."""

import imaplib
import itertools
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import wait_until
from helpers import imap_login, send, submission_login

_serial = itertools.count(1)


def fresh(name):
    """A domain name unique in this session, not served yet."""
    return "%s%d-%d.example" % (name, next(_serial), os.getpid())


def doveadm_pw(scheme, password):
    return subprocess.run(["doveadm", "pw", "-s", scheme, "-p", password],
                          capture_output=True, text=True, check=True).stdout.strip()


def crypt_of(scheme, password):
    """What the seeds keep: the bare crypt string, without {SCHEME}."""
    return doveadm_pw(scheme, password).split("}", 1)[1]


def openssl_passwd(flag, password):
    return subprocess.run(["openssl", "passwd", flag, password],
                          capture_output=True, text=True, check=True).stdout.strip()


def maildir(path, messages, folders=(), owner=None):
    """A Maildir with messages ((subject, "new"|"cur")) and folders
    (name -> messages), as the old server left it."""
    def fill(base, items):
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(base, sub), exist_ok=True)
        for i, (subject, where) in enumerate(items):
            name = "1700000%03d.M%dP1.oldhost" % (i, i) + (":2,S" if where == "cur" else "")
            with open(os.path.join(base, where, name), "w") as f:
                f.write("From: old@remote.test\r\nSubject: %s\r\nMessage-ID: <%s@old>\r\n\r\nold mail\r\n"
                        % (subject, subject))
    fill(path, messages)
    for folder, items in dict(folders).items():
        fill(os.path.join(path, "." + folder), items)
    if owner is not None:
        for root, dirs, files in os.walk(path):
            for n in [root] + [os.path.join(root, x) for x in dirs + files]:
                os.chown(n, owner, owner)


def subjects(stack, user, password, folder="INBOX"):
    im = imap_login(stack, user, password)
    try:
        typ, data = im.select(folder, readonly=True)
        assert typ == "OK", (folder, data)
        typ, data = im.search(None, "ALL")
        found = []
        for num in data[0].split():
            typ, msg = im.fetch(num, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            found.append(msg[0][1].decode().strip().split(":", 1)[1].strip())
        return sorted(found)
    finally:
        im.logout()


def can_log_in(stack, user, password):
    try:
        imap_login(stack, user, password).logout()
        return True
    except imaplib.IMAP4.error:
        return False


def users_of(stack, domain):
    proc = stack.mailbag("--json", "user", "list", domain)
    return sorted(u["address"] for u in json.loads(proc.stdout)) if proc.returncode == 0 else []


def seed_dir(stack, name):
    """A directory below the stack's root (0755, so Dovecot's vmail user
    can reach a Maildir left in place there)."""
    path = os.path.join(stack.root, "seeds", name)
    os.makedirs(path)
    os.chmod(os.path.dirname(path), 0o755)
    os.chmod(path, 0o755)
    return path


# --- courier ---------------------------------------------------------------

def courier_tree(stack, domain):
    """/etc/authlib/userdb/DOMAIN and /opt/vmail/DOMAIN/USER/Maildir, made as
    the seed's README makes them (uid/gid 300, home=, systempw or HMAC)."""
    top = seed_dir(stack, "courier-" + domain)
    vmail = os.path.join(top, "opt", "vmail", domain)
    userdb = os.path.join(top, "etc", "authlib", "userdb")
    os.makedirs(userdb)
    homes = {u: os.path.join(vmail, u) for u in ("ann", "bob", "spacey")}
    maildir(os.path.join(homes["ann"], "Maildir"), [("ann-old-1", "cur"), ("ann-old-2", "new")],
            {"Archive": [("ann-archived", "cur")]}, owner=300)
    maildir(os.path.join(homes["bob"], "Maildir"), [("bob-old", "cur")], owner=300)
    maildir(os.path.join(homes["spacey"], "Maildir"), [("spacey-old", "cur")], owner=300)
    try:
        hmac = doveadm_pw("CRAM-MD5", "spacey-old-pw").split("}", 1)[1]  # the HMAC-MD5 state userdbpw makes
    except subprocess.CalledProcessError:
        hmac = "0" * 64
    lines = [
        "ann@%s\tuid=300|gid=300|home=%s|systempw=%s|quota=10485760S" % (
            domain, homes["ann"], crypt_of("SHA512-CRYPT", "ann-old-pw")),
        "bob@%s\tuid=300|gid=300|home=%s|systempw=%s|shell=/bin/false" % (
            domain, homes["bob"], openssl_passwd("-1", "bob-old-pw")),
        "spacey@%s\thmac-md5pw=%s|hmac-sha256pw=%s|gid=300|uid=300|home=%s" % (
            domain, hmac, "ab" * 32, homes["spacey"]),
        "cat@%s\tuid=300|gid=300|home=%s|systempw=%s" % (
            domain, os.path.join(vmail, "cat"), openssl_passwd("-6", "cat-old-pw")),
    ]
    with open(os.path.join(userdb, domain), "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(os.path.join(userdb, domain), 0o600)
    return userdb, homes


def test_courier_userdb_moves_in(stack):
    domain = fresh("rton")
    userdb, homes = courier_tree(stack, domain)

    dry = stack.mailbag("import", "courier", userdb, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run: nothing changed" in dry.stdout and "users         4 to make" in dry.stdout, dry.stdout
    assert users_of(stack, domain) == []
    assert os.path.isdir(os.path.join(homes["ann"], "Maildir", "cur"))

    run = stack.mailbag("import", "courier", userdb)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "users         4 made" in out, out
    assert "Maildir %s/Maildir moved into mailbag's home (3 messages)" % homes["ann"] in out, out
    assert "spacey@%s needs a new password (only hmac-md5pw" % domain in out, out
    assert "bob@%s: field shell is not carried over" % domain in out
    assert "bob@%s keeps a weak MD5-CRYPT password hash" % domain in out, out
    assert "ann-old-pw" not in out + run.stderr and "$6$" not in out + run.stderr
    assert users_of(stack, domain) == sorted("%s@%s" % (u, domain) for u in ("ann", "bob", "cat", "spacey"))
    # moved, not copied: the old place is empty, mailbag's home has it, vmail's
    assert not os.path.exists(os.path.join(homes["ann"], "Maildir"))
    moved = os.path.join(stack.mail_root, domain, "ann", "Maildir")
    assert os.stat(os.path.join(moved, "cur")).st_uid == stack.vmail_user.pw_uid

    # old passwords: SHA512-CRYPT, MD5-CRYPT and openssl's $6$, over IMAP and submission
    assert subjects(stack, "ann@" + domain, "ann-old-pw") == ["ann-old-1", "ann-old-2"]
    assert subjects(stack, "ann@" + domain, "ann-old-pw", "Archive") == ["ann-archived"]
    assert subjects(stack, "bob@" + domain, "bob-old-pw") == ["bob-old"]
    assert submission_login(stack, "bob@" + domain, "bob-old-pw")
    assert submission_login(stack, "cat@" + domain, "cat-old-pw")
    assert not submission_login(stack, "bob@" + domain, "ann-old-pw")
    listed = json.loads(stack.mailbag("--json", "user", "list", domain, check=True).stdout)
    assert [u["quota_bytes"] for u in listed if u["address"] == "ann@" + domain] == [10485760]

    # new mail lands beside the old
    send(stack, ["ann@" + domain], subject="ann-new")
    wait_until(lambda: "ann-new" in subjects(stack, "ann@" + domain, "ann-old-pw"), what="delivery to ann")
    assert subjects(stack, "ann@" + domain, "ann-old-pw") == ["ann-new", "ann-old-1", "ann-old-2"]

    # the HMAC-only user receives but cannot log in until it has a password
    assert not can_log_in(stack, "spacey@" + domain, "spacey-old-pw")
    assert not submission_login(stack, "spacey@" + domain, "spacey-old-pw")
    stack.mailbag("user", "passwd", "--password-stdin", "spacey@" + domain,
                  input="spacey-new-pw-1\n", check=True)
    assert subjects(stack, "spacey@" + domain, "spacey-new-pw-1") == ["spacey-old"]

    again = stack.mailbag("import", "courier", userdb)
    assert again.returncode == 0, again.stderr
    assert "nothing changed" in again.stdout and "users         0 made, 4 unchanged" in again.stdout, again.stdout
    assert can_log_in(stack, "spacey@" + domain, "spacey-new-pw-1")

    # the same user with another password is not overwritten
    changed = os.path.join(os.path.dirname(userdb), "userdb-changed")
    with open(changed, "w") as f:
        f.write("ann@%s\tsystempw=%s\n" % (domain, openssl_passwd("-6", "someone-else")))
    proc = stack.mailbag("import", "courier", changed)
    assert proc.returncode == 65, proc.stdout
    assert "%s:1: user ann@%s exists already with another password" % (changed, domain) in proc.stderr, proc.stderr
    assert can_log_in(stack, "ann@" + domain, "ann-old-pw")


def test_courier_bad_line_imports_nothing(stack):
    domain = fresh("rtonbad")
    userdb, homes = courier_tree(stack, domain)
    path = os.path.join(userdb, domain)
    with open(path, "a") as f:
        f.write("dan@%s\tuid=300|colour=blue\n" % domain)
        f.write("eve@%s\tsystempw=plaintext\n" % domain)
    proc = stack.mailbag("import", "courier", userdb)
    assert proc.returncode == 65, proc.stdout + proc.stderr
    assert "%s:5: dan@%s: unknown field 'colour'" % (path, domain) in proc.stderr, proc.stderr
    assert "%s:6: eve@%s: systempw: unknown hash" % (path, domain) in proc.stderr, proc.stderr
    assert "nothing was imported" in proc.stderr
    assert "plaintext" not in proc.stderr
    assert stack.mailbag("domain", "list").stdout.count(domain) == 0
    assert os.path.isdir(os.path.join(homes["ann"], "Maildir", "cur"))


# --- Mail-o-Rama ------------------------------------------------------------

def mailorama_tree(stack, bundy, chicago):
    top = seed_dir(stack, "mailorama-" + bundy)
    accounts = ("al    1000 %s\npeggy 1001 %s\nkelly 1002 %s\n"
                % (openssl_passwd("-6", "al-old-pw"), crypt_of("SHA512-CRYPT", "peggy-old-pw"),
                   openssl_passwd("-1", "kelly-old-pw")))
    files = {
        "accounts": accounts,
        "domains": "%s\n%s\n" % (bundy, chicago),
        "virtuals": ("al@{b}       al\nal@{c}     al\nbuck@{b}     al\npeggy@{b}    peggy\n"
                     "bud@{b}      grandmaster-b@remote.test\nfamily@{b}   al,peggy,bud@{b}\n")
        .format(b=bundy, c=chicago),
        "aliases": "root:al\npumpkin:kelly\n",
    }
    for name, text in files.items():
        with open(os.path.join(top, name), "w") as f:
            f.write(text)
    maildir(os.path.join(top, "mail", "al", "Maildir"), [("al-old", "cur")],
            {"Sent": [("al-sent", "cur")]}, owner=1000)
    maildir(os.path.join(top, "mail", "peggy", "Maildir"), [("peggy-old", "new")], owner=1001)
    return top


def test_mailorama_moves_in(stack, request):
    bundy, chicago = fresh("bundy"), fresh("chicago")
    # the store is the session's: its system aliases go back as they were
    request.addfinalizer(lambda: (stack.mailbag("alias", "del", "root", "al@" + bundy),
                                  stack.mailbag("alias", "del", "pumpkin", "kelly@" + bundy)))
    top = mailorama_tree(stack, bundy, chicago)

    dry = stack.mailbag("import", "mailorama", top, "--mail", "leave", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would leave Maildir %s/mail/al/Maildir in place" % top in dry.stdout, dry.stdout
    assert users_of(stack, bundy) == []

    run = stack.mailbag("import", "mailorama", top, "--mail", "leave")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "users         3 made" in out and "aliases       4 made" in out, out
    assert "account al logs in as al@%s now" % bundy in out, out
    assert "account kelly has no address of its own in virtuals: it becomes kelly@%s" % bundy in out
    assert "2 system aliases in place" in out, out
    assert "left in place" in out
    assert users_of(stack, bundy) == sorted("%s@%s" % (u, bundy) for u in ("al", "kelly", "peggy"))

    # the bare-name accounts log in at their addresses with the old passwords
    assert subjects(stack, "al@" + bundy, "al-old-pw") == ["al-old"]
    assert subjects(stack, "al@" + bundy, "al-old-pw", "Sent") == ["al-sent"]
    assert submission_login(stack, "peggy@" + bundy, "peggy-old-pw")
    assert can_log_in(stack, "kelly@" + bundy, "kelly-old-pw")
    assert not can_log_in(stack, "al", "al-old-pw")

    # al's other addresses and the several-target virtual receive
    sink_before = len(stack.sink.messages)
    send(stack, ["buck@" + bundy], subject="to-buck")
    send(stack, ["al@" + chicago], subject="to-chicago")
    family = send(stack, ["family@" + bundy], subject="to-family")
    # the seed's system alias root:al: the host's mail to root reaches al
    send(stack, ["root@" + stack.hostname], subject="to-root")
    wait_until(lambda: {"to-buck", "to-chicago", "to-family", "to-root"} <= set(subjects(stack, "al@" + bundy, "al-old-pw")),
               what="deliveries to al")
    wait_until(lambda: "to-family" in subjects(stack, "peggy@" + bundy, "peggy-old-pw"), what="peggy's copy")
    assert sorted(subjects(stack, "al@" + bundy, "al-old-pw")) == ["al-old", "to-buck", "to-chicago", "to-family",
                                                                   "to-root"]
    assert subjects(stack, "peggy@" + bundy, "peggy-old-pw") == ["peggy-old", "to-family"]
    wait_until(lambda: any(family.encode() in m[2] and "grandmaster-b@remote.test" in m[1]
                           for m in stack.sink.messages[sink_before:]),
               what="bud's outside copy at the sink")
    # left in place: the delivery is in the old Maildir, now vmail's
    new = os.listdir(os.path.join(top, "mail", "al", "Maildir", "new"))
    assert len(new) >= 1
    assert os.stat(os.path.join(top, "mail", "al", "Maildir")).st_uid == stack.vmail_user.pw_uid

    again = stack.mailbag("import", "mailorama", top)
    assert again.returncode == 0, again.stderr
    assert "nothing changed" in again.stdout, again.stdout
    assert "aliases       0 made, 4 unchanged" in again.stdout, again.stdout


def test_mailorama_bad_line_imports_nothing(stack):
    bundy, chicago = fresh("bundybad"), fresh("chicagobad")
    top = mailorama_tree(stack, bundy, chicago)
    with open(os.path.join(top, "virtuals"), "a") as f:
        f.write("marcy@%s   marcy\n" % bundy)
    proc = stack.mailbag("import", "mailorama", top)
    assert proc.returncode == 65, proc.stdout + proc.stderr
    assert "%s/virtuals:7: target 'marcy' names an unknown account" % top in proc.stderr, proc.stderr
    assert "nothing was imported" in proc.stderr
    assert users_of(stack, bundy) == []
    assert os.path.isdir(os.path.join(top, "mail", "al", "Maildir", "cur"))
    shutil.rmtree(top)


def test_courier_maildir_across_filesystems(stack):
    """A Maildir on another filesystem than mail_root (/dev/shm) is copied
    with progress, its times kept, a half copy of an interrupted run
    replaced, and only then removed."""
    other = tempfile.mkdtemp(prefix="mailbag-import-", dir="/dev/shm")
    try:
        if os.stat(other).st_dev == os.stat(stack.mail_root).st_dev:
            pytest.skip("/dev/shm is on mail_root's filesystem here")
        domain = fresh("bigmail")
        home = os.path.join(other, "vmail", domain, "big")
        count = 2100
        maildir(os.path.join(home, "Maildir"), [("big-%04d" % i, "cur") for i in range(count)], owner=300)
        first = sorted(os.listdir(os.path.join(home, "Maildir", "cur")))[0]
        os.utime(os.path.join(home, "Maildir", "cur", first), (1500000000, 1500000000))
        userdb = os.path.join(other, "userdb")
        with open(userdb, "w") as f:
            f.write("big@%s\thome=%s|systempw=%s\n" % (domain, home, openssl_passwd("-6", "big-old-pw")))
        # what an interrupted copy left in mailbag's home
        stale = os.path.join(stack.mail_root, domain, "big", "Maildir.mailbag-import")
        os.makedirs(os.path.join(stale, "cur"))

        run = stack.mailbag("import", "courier", userdb, "--mail", "move")
        assert run.returncode == 0, run.stderr
        assert "is on another filesystem than" in run.stderr and "copying" in run.stderr, run.stderr
        assert "big@%s: 1000 messages" % domain in run.stderr and "big@%s: 2000 messages" % domain in run.stderr
        assert "moved into mailbag's home (%d messages)" % count in run.stdout, run.stdout
        assert not os.path.exists(os.path.join(home, "Maildir"))
        assert not os.path.exists(stale)
        moved = os.path.join(stack.mail_root, domain, "big", "Maildir", "cur")
        assert os.stat(os.path.join(moved, first)).st_mtime == 1500000000
        assert os.stat(os.path.join(moved, first)).st_uid == stack.vmail_user.pw_uid
        im = imap_login(stack, "big@" + domain, "big-old-pw")
        try:
            typ, data = im.select("INBOX", readonly=True)
            assert (typ, int(data[0])) == ("OK", count)
        finally:
            im.logout()
    finally:
        shutil.rmtree(other, ignore_errors=True)
