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
import signal
import smtplib
import ssl
import subprocess
import tempfile
import time

import dkim
import pytest

from conftest import BUILD, wait_until
from mailstack import (SOURCE_ROOT, SmtpSink, free_port, port_open, register_postfix_config,
                       wait_for)

HOST = "mx.setup.test"
DOMAIN = "setup.test"


def setup_env():
    return dict(os.environ,
                MAILBAG_TEMPLATES=os.path.join(SOURCE_ROOT, "config-templates"),
                MAILBAG_UNITS=os.path.join(BUILD, "deploy", "systemd"),
                MAILBAG_LIBEXEC=os.path.join(SOURCE_ROOT, "deploy"))


def copy_distribution_configs(root):
    """DIR/etc/postfix as Debian's postfix package writes it for an
    Internet site, DIR/etc/dovecot as dovecot-core installs it."""
    etc = os.path.join(root, "etc")
    os.makedirs(os.path.join(etc, "postfix"))
    shutil.copyfile("/usr/share/postfix/main.cf.debian", os.path.join(etc, "postfix", "main.cf"))
    shutil.copyfile("/usr/share/postfix/master.cf.dist", os.path.join(etc, "postfix", "master.cf"))
    shutil.copytree("/etc/dovecot", os.path.join(etc, "dovecot"), symlinks=True)
    for stale in ("90-mailbag.conf", "91-mailbag-tls.conf"):
        path = os.path.join(etc, "dovecot", "conf.d", stale)
        if os.path.exists(path):
            os.unlink(path)
    pristine = os.path.join(root + "-pristine")
    shutil.copytree(etc, pristine, symlinks=True)
    return pristine


def run_setup(mailbag, root, ports, *extra):
    return subprocess.run([mailbag, "setup", "--root", root, "--hostname", HOST, "--domain", DOMAIN,
                           "--smtp-port", str(ports["smtp"]),
                           "--submission-port", str(ports["submission"]),
                           "--submissions-port", str(ports["submissions"]),
                           "--imap-port", str(ports["imap"]), "--imaps-port", str(ports["imaps"]),
                           *extra], capture_output=True, text=True, env=setup_env(), timeout=120)


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


class Instance:
    """Postfix, Dovecot and the mailbag daemons started from what setup
    wrote under root. The only settings added are those a private test
    instance needs (loopback, a log file, the sink as relayhost)."""

    def __init__(self, root, ports):
        self.root = root
        self.ports = ports
        self.postfix = os.path.join(root, "etc", "postfix")
        self.dovecot_conf = os.path.join(root, "etc", "dovecot", "dovecot.conf")
        self.context = os.path.join(root, "etc", "mailbag", "context.json")
        self.procs = []
        self.started = []

    def postconf(self, *args):
        subprocess.run(["postconf", "-c", self.postfix, *args], check=True, capture_output=True)

    def start(self):
        self.sink = SmtpSink(self.ports["sink"])
        self.sink.start()
        self.postconf("-e", "inet_interfaces = 127.0.0.1", "inet_protocols = ipv4",
                      "maillog_file = %s/maillog" % self.root,
                      "maillog_file_prefixes = /var, %s" % self.root,
                      "myorigin = $myhostname", "mynetworks = 127.0.0.0/8",
                      "alias_maps =", "alias_database =",
                      "relayhost = [127.0.0.1]:%d" % self.ports["sink"],
                      "smtp_dns_support_level = disabled", "smtp_tls_security_level = none",
                      "queue_run_delay = 1s", "minimal_backoff_time = 1s",
                      "maximal_backoff_time = 2s")
        # port 25 stays the host's: this instance takes SMTP on its own port
        self.postconf("-MX", "smtp/inet")
        # smtpd, cleanup and trivial-rewrite stay chrooted as Debian has
        # them: the relative socket paths setup wrote must work there
        self._register(True)
        self.started.append("postfix")
        out = subprocess.run(["script", "-qec", "postfix -c %s start" % self.postfix, "/dev/null"],
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + self.maillog()
        with open(os.path.join(self.root, "etc", "dovecot", "local.conf"), "w") as f:
            f.write("# the private test instance\nbase_dir = %s/run/dovecot\nstate_dir = %s/var/lib/dovecot\n"
                    "log_path = %s/dovecot.log\nlisten = 127.0.0.1\ninstance_name = mailbag-setup-test\n"
                    % (self.root, self.root, self.root))
        os.makedirs(os.path.join(self.root, "var", "lib", "dovecot"), exist_ok=True)
        # the daemon keeps its stdio: a pipe would never reach EOF
        start_out = os.path.join(self.root, "dovecot-start.out")
        with open(start_out, "w") as f:
            ret = subprocess.run(["dovecot", "-c", self.dovecot_conf], stdin=subprocess.DEVNULL,
                                 stdout=f, stderr=f).returncode
        assert ret == 0, open(start_out).read()
        self.started.append("dovecot")
        wait_for(lambda: port_open(self.ports["imap"]), 15, "Dovecot's IMAP port")
        # systemd's RuntimeDirectory=mailbag on a real host
        os.makedirs(os.path.join(self.root, "run", "mailbag"), exist_ok=True)
        for name, binary in (("policyd", os.path.join(BUILD, "policyd", "mailbag-policyd")),
                             ("lmtpd", os.path.join(BUILD, "lmtp-bridge", "mailbag-lmtpd"))):
            self._spawn(name, [os.environ.get("MAILBAG_%s_BIN" % name.upper(), binary), "-c", self.context])
        import dnsserver
        resolv = os.path.join(self.root, "resolv.conf")
        with open(resolv, "w") as f:
            f.write("nameserver %s\noptions timeout:2 attempts:1\n" % dnsserver.shared().address)
        milter = os.environ.get("MAILBAG_MILTER_BIN", os.path.join(BUILD, "milter", "mailbag-milter"))
        self._spawn("milter", ["unshare", "--mount", "--", "sh", "-c",
                               'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv,
                               milter, "-c", self.context])
        private = os.path.join(self.root, "var", "spool", "postfix", "private")
        for sock in ("mailbag-socketmap", "mailbag-policy", "mailbag-lmtp", "mailbag-milter"):
            wait_for(lambda: os.path.exists(os.path.join(private, sock)), 10, sock)
        wait_for(lambda: port_open(self.ports["smtp"]), 15, "Postfix's SMTP port")

    def _spawn(self, name, argv):
        log = open(os.path.join(self.root, name + ".log"), "a")
        self.procs.append(subprocess.Popen(argv, stdout=log, stderr=log))
        log.close()

    def _register(self, add):
        register_postfix_config(self.postfix, add)

    def maillog(self):
        path = os.path.join(self.root, "maillog")
        return open(path).read() if os.path.exists(path) else ""

    def mailbag(self, *args, **kw):
        return subprocess.run([os.environ.get("MAILBAG_MAILBAG_BIN", os.path.join(BUILD, "cli", "mailbag")),
                               "--context", self.context, *args], capture_output=True, text=True, **kw)

    def stop(self):
        if "postfix" in self.started:
            subprocess.run(["script", "-qec", "postfix -c %s stop" % self.postfix, "/dev/null"],
                           capture_output=True)
            self._register(False)
        if "dovecot" in self.started:
            subprocess.run(["dovecot", "-c", self.dovecot_conf, "stop"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(10)
        if hasattr(self, "sink"):
            self.sink.stop()
        self.started = []


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
    for name in ("postfix/main.cf", "postfix/master.cf", "dovecot/conf.d/10-auth.conf",
                 "dovecot/conf.d/10-ssl.conf"):
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
