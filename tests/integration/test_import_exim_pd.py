"""`mailbag import exim-mibe|postfix-dovecot PATH` (issue 21 point 5): the
mi-poop-mail (Exim) /srv/mail tree and the dockerised Postfix+Dovecot
checkout move in, each built in its seed's own layout with real hashes
(`doveadm pw`), Maildirs holding mail and, for postfix-dovecot, a real
OpenDKIM key (openssl genrsa). --dry-run changes nothing; then the old
passwords log in over IMAP and submission, the imported aliases (and the
rewritten domain) receive, the old messages are there, the routing lists
the applier does not carry over yet are said, outbound mail is signed with
the imported key (dkimpy against the old public key), a second run
changes nothing, and a tree with one bad line imports nothing."""

import base64
import email
import json
import os
import re
import subprocess

import dkim

from conftest import wait_until
from helpers import send, submission_login, submit
from mailstack import make_certificate
from test_import_seeds import can_log_in, doveadm_pw, fresh, maildir, seed_dir, subjects, users_of


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def private_context(stack, work):
    """The stack's context with a tls section of its own, so an imported
    certificate changes neither the stack's context nor its TLS files."""
    with open(stack.context) as f:
        ctx = json.load(f)
    ctx["tls"] = {"certificates": {}, "postfix_sni_map": os.path.join(work, "sni"),
                  "dovecot_conf": os.path.join(work, "tls.conf")}
    # the seed's global Sieve scripts are copied here, not into /etc
    ctx["sieve"] = {"before_dir": os.path.join(work, "sieve-before"),
                    "after_dir": os.path.join(work, "sieve-after")}
    path = os.path.join(work, "context.json")
    with open(path, "w") as f:
        json.dump(ctx, f)
    os.chmod(path, 0o644)
    return path


def mailbag(stack, context, *args):
    return subprocess.run([stack.mailbag_bin, "--context", context, *args],
                          capture_output=True, text=True, timeout=120)


# --- exim-mibe ----------------------------------------------------------------

def exim_tree(stack, domain, old_domain):
    top = seed_dir(stack, "mibe-" + domain)
    srv = os.path.join(top, "srv", "mail")
    write(os.path.join(srv, "passwd", domain),
          "ann:%s\nbob:%s\ncarol:%s\n" % (doveadm_pw("SHA512-CRYPT", "ann-old-pw"),
                                          doveadm_pw("BLF-CRYPT", "bob-old-pw"),
                                          doveadm_pw("PLAIN-MD5", "carol-old-pw")), 0o600)
    write(os.path.join(srv, "aliases", domain),
          "# aliases of %s\ninfo: ann, bob\nteam: ann,\n  friend@remote.test\n" % domain)
    conf = os.path.join(srv, "exim", "conf")
    write(os.path.join(conf, "global_aliases"), "postmaster: ann@%s\n" % domain)
    write(os.path.join(conf, "rewrite_domains"), "%s: %s\n" % (old_domain, domain))
    write(os.path.join(conf, "relay_from_hosts"), "10.0.0.0/8\n2001:db8::/32\n")
    write(os.path.join(conf, "relay_to_domains"), "backup-%s\n" % domain)
    write(os.path.join(conf, "dkim_required"), "*.bank.example\n")
    write(os.path.join(conf, "senderverify_exceptions"), "list@lists.example\n")
    write(os.path.join(srv, "dovecot", "sieve", "before", "10-spam.sieve"), "keep;\n")
    gen = os.path.join(srv, "ssl", "mail." + domain, "2026-11")
    os.makedirs(gen)
    make_certificate("mail." + domain, os.path.join(gen, "cert"), os.path.join(gen, "key"))
    with open(os.path.join(gen, "cert")) as f:
        write(os.path.join(gen, "chained"), f.read())
    os.symlink("2026-11", os.path.join(srv, "ssl", "mail." + domain, "current"))
    maildir(os.path.join(srv, domain, "ann", "Maildir"), [("ann-old-1", "cur"), ("ann-old-2", "new")],
            {"Archive": [("ann-archived", "cur")]}, owner=1000)
    maildir(os.path.join(srv, domain, "bob", "Maildir"), [("bob-old", "cur")], owner=1000)
    return srv


def test_exim_mibe_moves_in(stack, tmp_path, request):
    domain, old = fresh("poop"), fresh("poopold")
    srv = exim_tree(stack, domain, old)
    context = private_context(stack, str(tmp_path))

    def take_routing_back():
        """the store is the session's: leave its global aliases and relay
        lists as other tests expect them"""
        for args in (("alias", "del", "--global", "postmaster", "ann@" + domain),
                     ("relay", "domain", "del", "backup-" + domain),
                     ("relay", "network", "del", "10.0.0.0/8"),
                     ("relay", "network", "del", "2001:db8::/32")):
            mailbag(stack, context, *args)
    request.addfinalizer(take_routing_back)

    dry = mailbag(stack, context, "import", "exim-mibe", srv, "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "dry run: nothing changed" in dry.stdout and "users         3 to make" in dry.stdout, dry.stdout
    assert users_of(stack, domain) == []
    assert os.path.isdir(os.path.join(srv, domain, "ann", "Maildir", "cur"))

    run = mailbag(stack, context, "import", "exim-mibe", srv)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "users         3 made" in out, out
    assert "carol@%s needs a new password" % domain in out and "{PLAIN-MD5}" in out, out
    assert "list@lists.example" not in out and "sender verification" in out, out
    assert "ann-old-pw" not in out + run.stderr and "$6$" not in out + run.stderr
    # the routing lists, dkim_required and the global Sieve scripts
    assert "1 global aliases in place" in out, out
    assert "1 relay domains in place" in out and "2 relay networks in place" in out, out
    assert "1 patterns added to milter.dkim_required" in out, out
    assert "1 Sieve scripts copied into %s/sieve-before" % tmp_path in out, out
    assert os.path.isfile(os.path.join(str(tmp_path), "sieve-before", "10-spam.sieve"))
    globals_ = mailbag(stack, context, "alias", "list", "--global")
    assert re.search(r"postmaster@\*\s.*ann@%s" % re.escape(domain), globals_.stdout), globals_.stdout
    relays = mailbag(stack, context, "relay", "domain", "list")
    assert "backup-" + domain in relays.stdout, relays.stdout + relays.stderr
    networks = mailbag(stack, context, "relay", "network", "list")
    assert "10.0.0.0/8" in networks.stdout and "2001:db8::/32" in networks.stdout, networks.stdout
    with open(context) as f:
        saved = json.load(f)
    assert saved["milter"]["dkim_required"] == ["*.bank.example"], saved.get("milter")
    certs = saved["tls"]["certificates"]
    assert certs["mail." + domain]["cert"].endswith("/ssl/mail.%s/current/chained" % domain), certs

    # the old passwords, over IMAP and submission; PLAIN-MD5 is refused until reset
    assert subjects(stack, "ann@" + domain, "ann-old-pw") == ["ann-old-1", "ann-old-2"]
    assert subjects(stack, "ann@" + domain, "ann-old-pw", "Archive") == ["ann-archived"]
    assert subjects(stack, "bob@" + domain, "bob-old-pw") == ["bob-old"]
    assert submission_login(stack, "bob@" + domain, "bob-old-pw")
    assert not submission_login(stack, "bob@" + domain, "ann-old-pw")
    assert not can_log_in(stack, "carol@" + domain, "carol-old-pw")

    # the aliases, with an unqualified target, a continuation line and the
    # rewritten domain, receive
    sink_before = len(stack.sink.messages)
    send(stack, ["info@" + domain], subject="to-info")
    team = send(stack, ["team@" + domain], subject="to-team")
    send(stack, ["ann@" + old], subject="to-old-domain")
    wait_until(lambda: {"to-info", "to-team", "to-old-domain"} <= set(subjects(stack, "ann@" + domain, "ann-old-pw")),
               what="deliveries to ann")
    wait_until(lambda: "to-info" in subjects(stack, "bob@" + domain, "bob-old-pw"), what="bob's copy")
    wait_until(lambda: any(team.encode() in m[2] and "friend@remote.test" in m[1]
                           for m in stack.sink.messages[sink_before:]), what="team's outside copy at the sink")

    again = mailbag(stack, context, "import", "exim-mibe", srv)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing changed" in again.stdout and "users         0 made, 3 unchanged" in again.stdout, again.stdout


def test_exim_mibe_bad_line_imports_nothing(stack, tmp_path):
    domain, old = fresh("poopbad"), fresh("poopbadold")
    srv = exim_tree(stack, domain, old)
    with open(os.path.join(srv, "passwd", domain), "a") as f:
        f.write("dan:{PLAIN}plaintext-secret\n")
    with open(os.path.join(srv, "aliases", domain), "a") as f:
        f.write("prog: |/usr/bin/procmail\n")
    context = private_context(stack, str(tmp_path))
    proc = mailbag(stack, context, "import", "exim-mibe", srv)
    assert proc.returncode == 65, proc.stdout + proc.stderr
    assert "%s/passwd/%s:4: plain-text passwords are not imported" % (srv, domain) in proc.stderr, proc.stderr
    assert "%s/aliases/%s:5: prog@%s: delivery to a pipe" % (srv, domain, domain) in proc.stderr, proc.stderr
    assert "nothing was imported" in proc.stderr and "plaintext-secret" not in proc.stderr
    assert users_of(stack, domain) == []
    assert os.path.isdir(os.path.join(srv, domain, "ann", "Maildir", "cur"))


# --- postfix-dovecot --------------------------------------------------------------

def dkim_key(path):
    """An RSA key as opendkim-genkey leaves it, and its DNS record."""
    subprocess.run(["openssl", "genrsa", "-out", path, "2048"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", path, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def pd_tree(stack, domain, other):
    top = seed_dir(stack, "pd-" + domain)
    write(os.path.join(top, "settings.env"),
          "# Name of your main email domain.\nDOMAIN=%s\nHOSTNAME=mail.%s\nADMIN_EMAIL=admin@%s\n"
          "ADDITIONAL_DOMAINS=%s\nDKIM_KEY_SELECTOR=mailserver\nMETRICS=false\n"
          "GF_SERVER_ROOT_URL=https://${HOSTNAME}/monitoring/\n" % (domain, domain, domain, other), 0o600)
    ws = os.path.join(top, "_server_workspace_")
    users = [("karl@" + domain, "SHA512-CRYPT", "karl-old-pw"), ("meier@" + other, "BLF-CRYPT", "meier-old-pw"),
             ("jens@" + domain, "SSHA256", "jens-old-pw"), ("otto@" + domain, "PLAIN-MD5", "otto-old-pw")]
    write(os.path.join(ws, "etc", "dovecot", "passwd"),
          "".join("%s:%s:2001:2001:/host/mail/inboxes/%s::\n" % (u, doveadm_pw(s, p), u) for u, s, p in users), 0o600)
    write(os.path.join(ws, "etc", "postfix", "valias"),
          "postmaster@%s karl\nabuse@%s karl\nteam@%s karl, meier@%s, friend@remote.test\n"
          % (other, other, domain, other))
    keys = os.path.join(ws, "etc", "opendkim", "keys")
    os.makedirs(keys, mode=0o700)
    record = dkim_key(os.path.join(keys, "mailserver.private"))
    maildir(os.path.join(ws, "mail", "inboxes", domain, "karl@" + domain, "Maildir"),
            [("karl-old", "cur")], {"Sent": [("karl-sent", "cur")]}, owner=2001)
    return top, record


def test_postfix_dovecot_moves_in(stack):
    domain, other = fresh("wombathub"), fresh("entropiesenke")
    top, record = pd_tree(stack, domain, other)

    dry = stack.mailbag("import", "postfix-dovecot", top, "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "dry run: nothing changed" in dry.stdout and "users         4 to make" in dry.stdout, dry.stdout
    assert users_of(stack, domain) == []

    run = stack.mailbag("import", "postfix-dovecot", top)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "users         4 made" in out, out
    assert "otto@%s needs a new password" % domain in out and "{PLAIN-MD5}" in out, out
    assert "meier@%s has no Maildir" % other in out, out
    assert "the server was mail.%s" % domain in out, out
    assert users_of(stack, other) == ["meier@" + other]

    assert subjects(stack, "karl@" + domain, "karl-old-pw") == ["karl-old"]
    assert subjects(stack, "karl@" + domain, "karl-old-pw", "Sent") == ["karl-sent"]
    assert submission_login(stack, "meier@" + other, "meier-old-pw")
    assert submission_login(stack, "karl@" + domain, "karl-old-pw")
    # the seed's own scheme (user.sh: doveadm pw -s SSHA256) is kept and logs in
    assert can_log_in(stack, "jens@" + domain, "jens-old-pw")
    assert submission_login(stack, "jens@" + domain, "jens-old-pw")
    assert not can_log_in(stack, "otto@" + domain, "otto-old-pw")

    # valias: a bare target is a user of DOMAIN; several targets, one outside
    sink_before = len(stack.sink.messages)
    send(stack, ["postmaster@" + other], subject="to-postmaster")
    team = send(stack, ["team@" + domain], subject="to-team")
    wait_until(lambda: {"to-postmaster", "to-team"} <= set(subjects(stack, "karl@" + domain, "karl-old-pw")),
               what="deliveries to karl")
    wait_until(lambda: "to-team" in subjects(stack, "meier@" + other, "meier-old-pw"), what="meier's copy")
    wait_until(lambda: any(team.encode() in m[2] and "friend@remote.test" in m[1]
                           for m in stack.sink.messages[sink_before:]), what="team's outside copy")

    # outbound mail is signed with the imported key: the old DNS record verifies it
    marker = submit(stack, "karl@" + domain, "karl-old-pw", "karl@" + domain, ["someone@remote.test"],
                    "signed-with-the-old-key")
    wait_until(lambda: [m for m in stack.sink.messages if marker.encode() in m[2]], what="the signed message")
    sent = [m for m in stack.sink.messages if marker.encode() in m[2]][0][2]
    signatures = email.message_from_bytes(sent).get_all("DKIM-Signature") or []
    ours = [i for i, s in enumerate(signatures) if "s=mailserver" in s.replace(" ", "")
            and ("d=%s" % domain) in s.replace(" ", "")]
    assert ours, signatures

    def old_dns(name, timeout=5):
        return record.encode() if name.decode().rstrip(".") == "mailserver._domainkey." + domain else None
    assert dkim.DKIM(sent).verify(idx=ours[0], dnsfunc=old_dns)

    again = stack.mailbag("import", "postfix-dovecot", top)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing changed" in again.stdout and "users         0 made, 4 unchanged" in again.stdout, again.stdout


def test_postfix_dovecot_bad_line_imports_nothing(stack):
    domain, other = fresh("wombatbad"), fresh("entropiebad")
    top, _ = pd_tree(stack, domain, other)
    valias = os.path.join(top, "_server_workspace_", "etc", "postfix", "valias")
    with open(valias, "a") as f:
        f.write("info@%s nobody\n" % domain)
    proc = stack.mailbag("import", "postfix-dovecot", top)
    assert proc.returncode == 65, proc.stdout + proc.stderr
    assert "%s:4: info@%s: the target nobody@%s is no user" % (valias, domain, domain) in proc.stderr, proc.stderr
    assert "nothing was imported" in proc.stderr
    assert users_of(stack, domain) == [] and users_of(stack, other) == []
    # a quoted value in settings.env is refused too
    settings = os.path.join(top, "settings.env")
    with open(settings) as f:
        text = f.read()
    with open(settings, "w") as f:
        f.write(text.replace("DOMAIN=%s" % domain, 'DOMAIN="%s"' % domain))
    proc = stack.mailbag("import", "postfix-dovecot", top)
    assert proc.returncode == 65 and "%s:2: DOMAIN is quoted" % settings in proc.stderr, proc.stderr
