"""`mailbag setup --root DIR` (issue 7) on a copy of Debian's default
Postfix (/usr/share/postfix: main.cf.debian, master.cf.dist) and Dovecot
(/etc/dovecot as dovecot-core installs it) configuration: the real
Postfix (`postfix check`) and Dovecot (`doveconf`) accept the result; a
second run changes nothing (the directory is byte for byte the same);
a private instance started from exactly those files, with the mailbag
daemons on the context setup wrote, accepts mail for the domain, signs
submitted mail (dkimpy verifies it against the printed DNS records) and
delivers it to IMAP over TLS; `mailbag unsetup` puts the distribution's
files back."""

import email
import imaplib
import json
import os
import shutil
import smtplib
import ssl
import subprocess
import tempfile
import time

import dkim
import pytest

from conftest import BUILD, wait_until
from mailstack import SOURCE_ROOT, free_port  # noqa: F401 (mailstack puts deploy/ on sys.path)
from demo import HostInstance, copy_distribution_configs, setup_command

HOST = "mx.setup.test"
DOMAIN = "setup.test"


def setup_env():
    return dict(os.environ,
                MAILBAG_TEMPLATES=os.path.join(SOURCE_ROOT, "config-templates"),
                MAILBAG_UNITS=os.path.join(BUILD, "deploy", "systemd"),
                MAILBAG_LIBEXEC=os.path.join(SOURCE_ROOT, "deploy"))


def run_setup(mailbag, root, ports, *extra):
    return subprocess.run(setup_command(mailbag, root, HOST, DOMAIN, ports, *extra),
                          capture_output=True, text=True, env=setup_env(), timeout=120)


def tree(root, ignore=("lock.mdb",)):
    """Every path under root: its kind, mode, and bytes or link target."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            if name in ignore:
                continue
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if os.path.islink(path):
                found[os.path.relpath(path, root)] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                found[os.path.relpath(path, root)] = ("dir", st.st_mode, st.st_uid)
            else:
                with open(path, "rb") as f:
                    found[os.path.relpath(path, root)] = ("file", st.st_mode, st.st_uid, f.read())
    return found


def Instance(root, ports):
    """Postfix, Dovecot and the mailbag daemons started from what setup
    wrote under root, as the demo starts them (deploy/demo.py), with the
    build's programs and the milter on the tests' DNS server."""
    import dnsserver
    resolv = os.path.join(root, "resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver %s\noptions timeout:2 attempts:1\n" % dnsserver.shared().address)
    binaries = {
        "mailbag": os.environ.get("MAILBAG_MAILBAG_BIN", os.path.join(BUILD, "cli", "mailbag")),
        "mailbag-policyd": os.environ.get("MAILBAG_POLICYD_BIN", os.path.join(BUILD, "policyd", "mailbag-policyd")),
        "mailbag-lmtpd": os.environ.get("MAILBAG_LMTPD_BIN", os.path.join(BUILD, "lmtp-bridge", "mailbag-lmtpd")),
        "mailbag-milter": os.environ.get("MAILBAG_MILTER_BIN", os.path.join(BUILD, "milter", "mailbag-milter")),
    }
    return HostInstance(root, ports, binaries, resolv_conf=resolv, instance_name="mailbag-setup-test")


@pytest.fixture(scope="module")
def installed(stack):
    """setup --root run once on fresh copies (the stack fixture has
    installed the Dovecot module and made the system users). Postfix,
    Dovecot and the daemons reach into it as their own users: it lives
    in a directory others may enter."""
    base = tempfile.mkdtemp(prefix="mailbag-setup-test-")
    os.chmod(base, 0o755)
    root = os.path.join(base, "root")
    os.makedirs(root)
    os.chmod(root, 0o755)
    pristine = copy_distribution_configs(root)
    ports = {name: free_port() for name in ("smtp", "submission", "submissions", "imap", "imaps", "sink")}
    first = run_setup(stack.mailbag_bin, root, ports)
    assert first.returncode == 0, first.stdout + first.stderr
    yield root, pristine, ports, first.stdout
    if not os.environ.get("MAILBAG_KEEP_TEST_DIR"):
        shutil.rmtree(base, ignore_errors=True)


def test_setup_writes_configs_postfix_and_dovecot_accept(installed):
    root, pristine, _, out = installed
    assert "set up:" in out and "_dmarc.%s. IN TXT" % DOMAIN in out
    check = subprocess.run(["postfix", "-c", os.path.join(root, "etc", "postfix"), "check"],
                           capture_output=True, text=True)
    assert check.returncode == 0 and check.stderr == "", check.stderr
    conf = subprocess.run(["doveconf", "-c", os.path.join(root, "etc", "dovecot", "dovecot.conf"), "-n"],
                          capture_output=True, text=True)
    assert conf.returncode == 0, conf.stderr
    assert "driver = mailbag" in conf.stdout and "local_name %s" % HOST in conf.stdout
    # the system users' passdb (PAM) is off: only mailbag's users log in
    assert "driver = pam" not in conf.stdout
    main = subprocess.run(["postconf", "-c", os.path.join(root, "etc", "postfix"), "-h",
                           "smtpd_milters", "virtual_transport", "tls_server_sni_maps"],
                          capture_output=True, text=True, check=True).stdout.split("\n")
    assert main[:3] == ["unix:private/mailbag-milter", "lmtp:unix:private/mailbag-lmtp",
                        "hash:%s/etc/postfix/mailbag-sni" % root]
    # the host's own mail (issue 21): its names local again, unknown
    # names refused, aliases (and local mailboxes) under --root, mail from
    # sendmail through the milter, told apart by {daemon_name}
    host_mail = subprocess.run(["postconf", "-c", os.path.join(root, "etc", "postfix"), "-n",
                                "mydestination", "myorigin", "local_recipient_maps", "alias_maps",
                                "alias_database", "non_smtpd_milters", "milter_macro_daemon_name",
                                "mail_spool_directory"],
                               capture_output=True, text=True, check=True).stdout.splitlines()
    assert host_mail == [
        "mydestination = $myhostname, localhost.$mydomain, localhost",
        "myorigin = $myhostname",
        "local_recipient_maps = proxy:unix:passwd.byname $alias_maps",
        "alias_maps = hash:%s/etc/aliases" % root,
        "alias_database = hash:%s/etc/aliases" % root,
        "non_smtpd_milters = unix:private/mailbag-milter",
        "milter_macro_daemon_name = $service_name",
        "mail_spool_directory = %s/var/mail" % root,
    ], host_mail
    assert os.path.exists(os.path.join(root, "etc", "aliases.db"))
    assert os.path.isdir(os.path.join(root, "var", "mail"))
    assert "mail to root stays on this host" in out and "mailbag alias add root ADDRESS" in out
    # backups of what was changed, byte for byte the distribution's
    for name in ("postfix/main.cf", "postfix/master.cf", "dovecot/conf.d/10-auth.conf",
                 "dovecot/conf.d/10-ssl.conf"):
        with open(os.path.join(root, "etc", name + ".mailbag-backup"), "rb") as f:
            assert f.read() == open(os.path.join(pristine, name), "rb").read()
    # what systemctl enable would have made
    link = os.path.join(root, "etc", "systemd", "system", "multi-user.target.wants", "mailbag-milter.service")
    assert os.readlink(link) == "/etc/systemd/system/mailbag-milter.service"
    assert os.path.islink(os.path.join(root, "etc", "systemd", "system", "timers.target.wants",
                                       "mailbag-tls-renew.timer"))


def test_second_run_and_dry_run_change_nothing(installed, stack):
    root, _, ports, _ = installed
    before = tree(root)
    dry = run_setup(stack.mailbag_bin, root, ports, "--dry-run")
    assert dry.returncode == 0 and "0 changes to make" in dry.stdout, dry.stdout
    second = run_setup(stack.mailbag_bin, root, ports)
    assert second.returncode == 0, second.stderr
    assert "already set up, nothing changed: 0 changes" in second.stdout
    # LMDB's lock file (its reader table) is rewritten by any open; it is
    # not configuration, and tree() leaves it out
    after = tree(root)
    assert sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p)) == []


def test_dry_run_on_a_fresh_copy_changes_nothing(stack, tmp_path):
    root = str(tmp_path / "root")
    os.makedirs(root)
    copy_distribution_configs(root)
    before = tree(root)
    ports = {name: free_port() for name in ("smtp", "submission", "submissions", "imap", "imaps")}
    dry = run_setup(stack.mailbag_bin, root, ports, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "would set smtpd_milters = unix:private/mailbag-milter" in dry.stdout
    assert "would write %s/etc/dovecot/conf.d/90-mailbag.conf" % root in dry.stdout
    assert tree(root) == before


def test_instance_from_setup_accepts_signs_and_delivers(installed, stack):
    root, _, ports, out = installed
    inst = Instance(root, ports)
    try:
        inst.start()
        add = inst.mailbag("user", "add", "alice@" + DOMAIN)
        assert add.returncode == 0, add.stderr
        password = add.stdout.split("password:")[1].strip()
        # inbound, from another server, on the SMTP port
        marker = "inbound-%f" % time.time()
        with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=60) as s:
            s.ehlo("client.remote.test")
            s.sendmail("someone@remote.test", ["alice@" + DOMAIN],
                       "From: someone@remote.test\r\nTo: alice@%s\r\nSubject: %s\r\n\r\nhello\r\n"
                       % (DOMAIN, marker))
        maildir = os.path.join(root, "var", "vmail", DOMAIN, "alice", "Maildir", "new")
        wait_until(lambda: os.path.isdir(maildir) and os.listdir(maildir), 30,
                   "delivery; maillog:\n" + inst.maillog()[-2000:])
        raw = open(os.path.join(maildir, os.listdir(maildir)[0]), "rb").read()
        assert marker.encode() in raw and b"Authentication-Results: " + HOST.encode() in raw
        # IMAP over TLS on the imaps port, with the certificate setup made
        ctx = ssl.create_default_context(cafile=os.path.join(root, "etc", "mailbag", "tls", HOST + ".pem"))
        ctx.check_hostname = False
        im = imaplib.IMAP4_SSL("127.0.0.1", ports["imaps"], ssl_context=ctx)
        im.login("alice@" + DOMAIN, password)
        im.select("INBOX")
        assert im.search(None, "SUBJECT", marker)[1][0].split()
        im.logout()
        # outbound: submission with STARTTLS, signed, relayed to the sink
        marker = "outbound-%f" % time.time()
        with smtplib.SMTP("127.0.0.1", ports["submission"], timeout=60) as s:
            s.starttls(context=ssl._create_unverified_context())
            s.login("alice@" + DOMAIN, password)
            s.sendmail("alice@" + DOMAIN, ["bob@remote.test"],
                       "From: alice@%s\r\nTo: bob@remote.test\r\nSubject: %s\r\n"
                       "Date: Sun, 22 Nov 2026 06:00:00 +0000\r\nMessage-ID: <%s@%s>\r\n\r\nhi bob\r\n"
                       % (DOMAIN, marker, marker, DOMAIN))
        wait_until(lambda: [m for m in inst.sink.messages if marker.encode() in m[2]], 30,
                   "the sink; maillog:\n" + inst.maillog()[-2000:])
        sent = [m for m in inst.sink.messages if marker.encode() in m[2]][0][2]
        records = json.loads(inst.mailbag("--json", "dns", "records", DOMAIN, check=True).stdout)
        keys = {r["name"]: r["value"] for r in records if "._domainkey." in r["name"]}
        assert len(keys) == 2

        def dns(name, timeout=5):
            value = keys.get(name.decode().rstrip("."))
            return value.encode() if value else None
        signatures = email.message_from_bytes(sent).get_all("DKIM-Signature")
        assert len(signatures) == 2
        for idx in range(2):
            assert dkim.DKIM(sent).verify(idx=idx, dnsfunc=dns)
    finally:
        inst.stop()


def test_unsetup_puts_the_distribution_configs_back(installed, stack):
    root, pristine, ports, _ = installed
    env = setup_env()
    dry = subprocess.run([stack.mailbag_bin, "unsetup", "--root", root, "--dry-run"],
                         capture_output=True, text=True, env=env)
    assert dry.returncode == 0 and "would put %s/etc/postfix/main.cf back" % root in dry.stdout
    out = subprocess.run([stack.mailbag_bin, "unsetup", "--root", root], capture_output=True,
                         text=True, env=env)
    assert out.returncode == 0, out.stderr
    # 10-mail.conf and 20-lmtp.conf: changed by setup on Dovecot 2.4 only
    for name in ("postfix/main.cf", "postfix/master.cf", "dovecot/conf.d/10-auth.conf",
                 "dovecot/conf.d/10-ssl.conf", "dovecot/conf.d/10-mail.conf", "dovecot/conf.d/20-lmtp.conf"):
        assert open(os.path.join(root, "etc", name), "rb").read() == \
            open(os.path.join(pristine, name), "rb").read(), name
    for gone in ("postfix/mailbag-sni", "postfix/mailbag-sni.db", "dovecot/conf.d/90-mailbag.conf",
                 "dovecot/conf.d/91-mailbag-tls.conf", "systemd/system/mailbag-policyd.service",
                 "systemd/system/multi-user.target.wants/mailbag-policyd.service"):
        assert not os.path.lexists(os.path.join(root, "etc", gone)), gone
    # the data stays
    assert os.path.exists(os.path.join(root, "etc", "mailbag", "context.json"))
    assert os.path.exists(os.path.join(root, "var", "lib", "mailbag", "store", "data.mdb"))
    # another host name than the context's is refused, before any change
    other = subprocess.run([stack.mailbag_bin, "setup", "--root", root, "--hostname", "mx.other.test",
                            "--domain", DOMAIN], capture_output=True, text=True, env=env)
    assert other.returncode != 0
    assert "names the hostname %s, not mx.other.test" % HOST in other.stderr
    assert not os.path.exists(os.path.join(root, "etc", "dovecot", "conf.d", "90-mailbag.conf"))
    # and setup again brings it all back
    again = run_setup(stack.mailbag_bin, root, ports)
    assert again.returncode == 0, again.stderr
    assert os.path.exists(os.path.join(root, "etc", "dovecot", "conf.d", "90-mailbag.conf"))


@pytest.mark.parametrize("args, code, words", [
    (["setup", "--help"], 0, "usage: mailbag setup --hostname HOST"),
    (["setup", "--domain", "a.test"], 64, "give --hostname"),
    (["setup", "--hostname", "nodot"], 64, "'nodot' is not a domain: the domain has no dot"),
    (["setup", "--hostname", "mx.a.test", "--root", "relative/dir"], 64, "give an absolute directory"),
    (["setup", "--hostname", "mx.a.test", "--imap-port", "70000"], 64, "--imap-port '70000'"),
    (["setup", "--hostname", "mx.a.test", "--domain", "no such!"], 64, "'no such!' is not a domain"),
    (["setup", "--hostname", "mx.a.test", "extra"], 64, "unexpected 'extra'"),
    (["setup", "--hostname", "mx.a.test", "--domain", "mx.a.test", "--dry-run"], 65,
     "--domain mx.a.test is this host's own name"),
    (["unsetup", "--bogus"], 64, "usage: mailbag setup"),
    (["tls"], 64, "usage: mailbag tls status"),
    (["tls", "renew"], 64, "usage: mailbag tls status"),
    (["web", "build", "relative"], 64, "give an absolute directory"),
    (["web", "build", "--listen-http", "80; evil", "/tmp/x"], 64, "a listen address is ADDR:PORT"),
    (["dns", "check", "a.test", "b.test"], 64, "give one domain"),
])
def test_bad_arguments_are_named(stack, args, code, words):
    proc = stack.mailbag(*args)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert words in proc.stdout + proc.stderr
