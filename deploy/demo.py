"""demo.py - a private mailbag mail server on loopback, installed the way a
host is installed.

    python3 deploy/demo.py [--root DIR] [--domain D] [--user U] [--fresh]
                           [--smtp-port N] [--submission-port N] [--submissions-port N]
                           [--imap-port N] [--imaps-port N] [--sink-port N]

The path of a real install, under DIR (default /var/lib/mailbag-demo):
Debian's own default Postfix and Dovecot configuration copied to DIR/etc,
then `mailbag setup --root DIR` with the demo's host name, domain and
ports (context, store, DKIM keys, a self-signed certificate, main.cf,
master.cf, the Dovecot conf.d file, the units), the demo user, and
`mailbag web build` (client autoconfig). Postfix and Dovecot then start
from exactly those files, and mailbag-policyd, mailbag-lmtpd and
mailbag-milter as their units start them (as root, on the context, each
dropping to its own user), resolving names with the host's resolver. The
only settings added are what a private instance on loopback needs: its
own ports, a log file, and a relayhost, an SMTP sink that writes each
outgoing message, signed as it would leave, into the outbox Maildir
DIR/outbox. Ctrl-C stops it all; the same command again brings the same
demo back (setup changes nothing the second time; the password is kept
0600 in DIR/etc/mailbag/demo-password); --fresh starts over.

It needs root, Debian's postfix and dovecot packages and an installed
mailbag (deploy/quickstart.sh does all of it). The integration tests
start the same HostInstance on what setup writes (tests/integration/
test_setup.py), and their own stack reuses SmtpSink.
"""

import argparse
import fcntl
import os
import re
import shutil
import signal
import socket
import socketserver
import subprocess
import threading
import time

POSTFIX_DEFAULT_CONFIG = "/etc/postfix"


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError("timed out after %ss waiting for %s" % (timeout, what))


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def ensure_postfix_main_cf():
    """Postfix's tools need /etc/postfix/main.cf, which Debian's package
    leaves out under "No configuration"."""
    main_cf = os.path.join(POSTFIX_DEFAULT_CONFIG, "main.cf")
    if not os.path.exists(main_cf):
        open(main_cf, "a").close()


def register_postfix_config(directory, add):
    """directory (or a list of them) added to (or taken out of)
    alternate_config_directories of the default main.cf, which `postfix
    -c` requires. Under a lock: instances in several processes at once (a
    test run, the demo) must not undo each other's entries. Several at
    once in one change: Postfix rereads a main.cf changed in the last
    second until it has cooled down, which costs each change 1-2 s."""
    directories = [directory] if isinstance(directory, str) else list(directory)
    ensure_postfix_main_cf()
    with open(os.path.join(POSTFIX_DEFAULT_CONFIG, ".mailbag-tests.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        cur = subprocess.run(["postconf", "-c", POSTFIX_DEFAULT_CONFIG, "-h",
                              "alternate_config_directories"],
                             capture_output=True, text=True).stdout.split()
        cur = [d.strip(",") for d in cur if d.strip(",")]
        want = [d for d in cur if d not in directories] + (directories if add else [])
        subprocess.run(["postconf", "-c", POSTFIX_DEFAULT_CONFIG, "-e",
                        "alternate_config_directories = " + " ".join(want)],
                       check=True, capture_output=True)


class SmtpSink:
    """A tiny SMTP server keeping every message it is given (and, with
    maildir, writing each into that Maildir's new/ as it arrives), as
    (reverse-path, [rcpt], data): the path only ("<a@b>", "<>"), without
    MAIL parameters such as BODY=8BITMIME. Recipients in refuse (lower
    case) are answered 550 at RCPT."""

    def __init__(self, port, maildir=None, address="127.0.0.1", refuse=()):
        self.port = port
        self.refuse = set(refuse)
        self.address = address
        self.messages = []  # (mail_from, [rcpt], data bytes)
        self.lock = threading.Lock()
        self.maildir = maildir
        if maildir:
            for sub in ("tmp", "new", "cur"):
                os.makedirs(os.path.join(maildir, sub), exist_ok=True)
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"220 sink.mailbag.test ESMTP\r\n")
                mail_from, rcpts = None, []
                while True:
                    line = self.rfile.readline(4096)
                    if not line:
                        return
                    cmd = line.strip().upper()
                    if cmd.startswith(b"EHLO") or cmd.startswith(b"HELO"):
                        self.wfile.write(b"250-sink.mailbag.test\r\n250 8BITMIME\r\n")
                    elif cmd.startswith(b"MAIL FROM:"):
                        mail_from, rcpts = line.strip()[10:].decode().split(" ")[0], []
                        self.wfile.write(b"250 ok\r\n")
                    elif cmd.startswith(b"RCPT TO:"):
                        rcpt = line.strip()[8:].decode().split(" ")[0].strip("<>")
                        if rcpt.lower() in sink.refuse:
                            self.wfile.write(b"550 5.1.1 no such user here\r\n")
                            continue
                        rcpts.append(rcpt)
                        self.wfile.write(b"250 ok\r\n")
                    elif cmd == b"DATA":
                        if not rcpts:
                            self.wfile.write(b"554 no valid recipients\r\n")
                            continue
                        self.wfile.write(b"354 go\r\n")
                        data = b""
                        while True:
                            chunk = self.rfile.readline(65536)
                            if not chunk or chunk == b".\r\n":
                                break
                            data += chunk
                        with sink.lock:
                            sink.messages.append((mail_from, rcpts, data))
                            sink.keep(mail_from, rcpts, data)
                        self.wfile.write(b"250 queued\r\n")
                    elif cmd == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server((address, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def keep(self, mail_from, rcpts, data):
        """One message into the Maildir, with the envelope on top as
        Return-Path and X-Envelope-To (Maildir's tmp/ then new/)."""
        if not self.maildir:
            return
        name = "%d.%d_%d.outbox" % (time.time(), os.getpid(), len(self.messages))
        envelope = ("Return-Path: %s\r\nX-Envelope-To: %s\r\n" % (mail_from, ", ".join(rcpts))).encode()
        unstuffed = re.sub(rb"(?m)^\.\.", b".", data)
        tmp = os.path.join(self.maildir, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(envelope + unstuffed)
        os.rename(tmp, os.path.join(self.maildir, "new", name))

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def copy_distribution_configs(root):
    """DIR/etc/postfix as Debian's postfix package writes it for an
    Internet site, DIR/etc/dovecot as dovecot-core installs it (without
    what an earlier setup of the host added); returns a pristine copy's
    path beside root."""
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


def setup_command(mailbag, root, hostname, domain, ports, *extra):
    """`mailbag setup --root` with the instance's host name, domain and ports."""
    return [mailbag, "setup", "--root", root, "--hostname", hostname, "--domain", domain,
            "--smtp-port", str(ports["smtp"]), "--submission-port", str(ports["submission"]),
            "--submissions-port", str(ports["submissions"]),
            "--imap-port", str(ports["imap"]), "--imaps-port", str(ports["imaps"]), *extra]


class HostInstance:
    """Postfix, Dovecot and the mailbag daemons started from what setup
    wrote under root. The only settings added are those a private
    instance needs (loopback, a log file, the sink as relayhost).
    binaries: mailbag, mailbag-policyd, mailbag-lmtpd, mailbag-milter;
    resolv_conf: a resolv.conf for the milter (the tests' DNS server),
    None for the host's own."""

    def __init__(self, root, ports, binaries, outbox=None, resolv_conf=None,
                 instance_name="mailbag-demo"):
        self.root = root
        self.ports = ports
        self.binaries = binaries
        self.outbox = outbox
        self.resolv_conf = resolv_conf
        self.instance_name = instance_name
        self.postfix = os.path.join(root, "etc", "postfix")
        self.dovecot_conf = os.path.join(root, "etc", "dovecot", "dovecot.conf")
        self.context = os.path.join(root, "etc", "mailbag", "context.json")
        self.procs = []
        self.started = []

    def postconf(self, *args):
        subprocess.run(["postconf", "-c", self.postfix, *args], check=True, capture_output=True)

    def start(self):
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self):
        self.sink = SmtpSink(self.ports["sink"], maildir=self.outbox)
        self.sink.start()
        self.started.append("sink")
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
        register_postfix_config(self.postfix, True)
        self.started.append("postfix")
        out = subprocess.run(["script", "-qec", "postfix -c %s start" % self.postfix, "/dev/null"],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError("postfix start failed: " + out.stdout + self.maillog())
        with open(os.path.join(self.root, "etc", "dovecot", "local.conf"), "w") as f:
            f.write("# the private instance\nbase_dir = %s/run/dovecot\nstate_dir = %s/var/lib/dovecot\n"
                    "log_path = %s/dovecot.log\nlisten = 127.0.0.1\ninstance_name = %s\n"
                    % (self.root, self.root, self.root, self.instance_name))
        os.makedirs(os.path.join(self.root, "var", "lib", "dovecot"), exist_ok=True)
        # the daemon keeps its stdio: a pipe would never reach EOF
        start_out = os.path.join(self.root, "dovecot-start.out")
        with open(start_out, "w") as f:
            ret = subprocess.run(["dovecot", "-c", self.dovecot_conf], stdin=subprocess.DEVNULL,
                                 stdout=f, stderr=f).returncode
        if ret != 0:
            raise RuntimeError("dovecot failed to start: " + open(start_out).read())
        self.started.append("dovecot")
        wait_for(lambda: port_open(self.ports["imap"]), 15, "Dovecot's IMAP port")
        # systemd's RuntimeDirectory=mailbag on a real host
        os.makedirs(os.path.join(self.root, "run", "mailbag"), exist_ok=True)
        for name in ("mailbag-policyd", "mailbag-lmtpd"):
            self._spawn(name, [self.binaries[name], "-c", self.context])
        milter = [self.binaries["mailbag-milter"], "-c", self.context]
        if self.resolv_conf:
            milter = ["unshare", "--mount", "--", "sh", "-c",
                      'mount --bind "$0" /etc/resolv.conf && exec "$@"', self.resolv_conf] + milter
        self._spawn("mailbag-milter", milter)
        private = os.path.join(self.root, "var", "spool", "postfix", "private")
        for sock in ("mailbag-socketmap", "mailbag-policy", "mailbag-lmtp", "mailbag-milter"):
            wait_for(lambda: os.path.exists(os.path.join(private, sock)) or self._one_died(), 10, sock)
            if self._one_died():
                raise RuntimeError("a mailbag daemon exited: see %s/*.log" % self.root)
        wait_for(lambda: port_open(self.ports["smtp"]), 15, "Postfix's SMTP port")

    def _one_died(self):
        return any(p.poll() is not None for p in self.procs)

    def _spawn(self, name, argv):
        log = open(os.path.join(self.root, name + ".log"), "a")
        self.procs.append(subprocess.Popen(argv, stdout=log, stderr=log))
        log.close()

    def maillog(self):
        path = os.path.join(self.root, "maillog")
        return open(path).read() if os.path.exists(path) else ""

    def mailbag(self, *args, **kw):
        return subprocess.run([self.binaries["mailbag"], "--context", self.context, *args],
                              capture_output=True, text=True, **kw)

    def stop(self):
        if "postfix" in self.started:
            subprocess.run(["script", "-qec", "postfix -c %s stop" % self.postfix, "/dev/null"],
                           capture_output=True)
            register_postfix_config(self.postfix, False)
        if "dovecot" in self.started:
            subprocess.run(["dovecot", "-c", self.dovecot_conf, "stop"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for(lambda: not os.path.exists(os.path.join(self.root, "run", "dovecot", "master.pid")),
                     15, "Dovecot to stop")
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(10)
        self.procs = []
        if "sink" in self.started:
            self.sink.stop()
        self.started = []


def installed_binaries():
    """The mailbag programs meson install put on this host."""
    found = {}
    for name in ("mailbag", "mailbag-policyd", "mailbag-lmtpd", "mailbag-milter"):
        path = shutil.which(name) or shutil.which(name, path="/usr/local/sbin:/usr/local/bin:/usr/sbin")
        if path is None:
            raise SystemExit("demo: %s is not installed (deploy/quickstart.sh installs it)" % name)
        found[name] = path
    return found


def prepare_root(root, fresh):
    """True when root holds a demo from an earlier run (kept unless
    fresh); a directory that is not a demo's is never removed."""
    marker = os.path.join(root, "etc", "mailbag", "demo-password")
    if os.path.exists(marker):
        if not fresh:
            return True
        shutil.rmtree(root)
        shutil.rmtree(root + "-pristine", ignore_errors=True)
    elif os.path.isdir(root) and os.listdir(root):
        raise SystemExit("demo: %s is not empty and holds no demo (etc/mailbag/demo-password); "
                         "give another --root" % root)
    return False


def demo_password(inst, address, again):
    """The demo user's password: made by `user add` the first time, kept
    0600 beside the context for the next run."""
    kept = os.path.join(inst.root, "etc", "mailbag", "demo-password")
    if again:
        with open(kept) as f:
            return f.read().strip()
    out = inst.mailbag("user", "add", address)
    if out.returncode != 0:
        raise RuntimeError("mailbag user add %s: %s" % (address, out.stderr))
    password = out.stdout.split("password:")[1].strip()
    fd = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(password + "\n")
    return password


BANNER = """
mailbag demo server {state} under {root}
  installed as a host is: mailbag setup --root {root} (files under {root}/etc)
  domain {domain}, user {address}, password {password}
  SMTP (incoming)   127.0.0.1:{smtp}
  submission        127.0.0.1:{submission}    (STARTTLS)
  submissions       127.0.0.1:{submissions}    (implicit TLS)
  IMAP              127.0.0.1:{imap}    (STARTTLS)
  IMAPS             127.0.0.1:{imaps}    (implicit TLS)
  TLS certificate   self-signed, for {hostname}
  DKIM              mailbag dkim show {domain}
  sent mail         {outbox}/new/ (mail to other domains, as it left, signed)
  client settings   {web}/autoconfig.{domain}/mail/config-v1.1.xml
  manage it with:   export MAILBAG_CONTEXT={context}
                    mailbag user list
  send a test:      swaks --server 127.0.0.1:{submission} --tls --auth-user {address} \\
                      --auth-password '{password}' --from {address} --to friend@elsewhere.test
  stop it with:     Ctrl-C (the same command again comes back; --fresh starts over)
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default="/var/lib/mailbag-demo")
    parser.add_argument("--fresh", action="store_true", help="remove the kept demo and start over")
    parser.add_argument("--domain", default="example.test")
    parser.add_argument("--user", default="demo")
    parser.add_argument("--hostname", default=None, help="default: mx.DOMAIN")
    defaults = {"smtp": 2525, "submission": 2587, "submissions": 2465, "imap": 2143, "imaps": 2993,
                "sink": 2526}
    for name, port in defaults.items():
        parser.add_argument("--%s-port" % name, type=int, default=port)
    # a build instead of the installed programs (the tests; setup then
    # needs MAILBAG_TEMPLATES, MAILBAG_UNITS and MAILBAG_LIBEXEC too)
    for name in ("mailbag", "mailbag-policyd", "mailbag-lmtpd", "mailbag-milter"):
        parser.add_argument("--" + name, metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("demo: run as root: Postfix and Dovecot drop privileges to their own users")
    root = os.path.abspath(args.root)
    hostname = args.hostname or "mx." + args.domain
    ports = {name: getattr(args, name + "_port") for name in defaults}
    binaries = {name: getattr(args, name.replace("-", "_")) for name in
                ("mailbag", "mailbag-policyd", "mailbag-lmtpd", "mailbag-milter")}
    if not all(binaries.values()):
        binaries = installed_binaries()
    again = prepare_root(root, args.fresh)
    if not again:
        os.makedirs(root, exist_ok=True)
        os.chmod(root, 0o755)
        copy_distribution_configs(root)
    setup = subprocess.run(setup_command(binaries["mailbag"], root, hostname, args.domain, ports),
                           capture_output=True, text=True)
    if setup.returncode != 0:
        raise SystemExit("demo: mailbag setup failed:\n" + setup.stdout + setup.stderr)
    # handlers, not a blocked mask: children must not inherit a mask, and
    # a shell that started us in the background set SIGINT to ignored
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    outbox = os.path.join(root, "outbox")
    inst = HostInstance(root, ports, binaries, outbox=outbox).start()
    try:
        address = "%s@%s" % (args.user, args.domain)
        password = demo_password(inst, address, again)
        web = os.path.join(root, "web")
        built = inst.mailbag("web", "build", web)
        if built.returncode != 0:
            raise RuntimeError("mailbag web build: " + built.stderr)
        print(BANNER.format(state="running again" if again else "running", root=root,
                            domain=args.domain, address=address, password=password,
                            hostname=hostname, outbox=outbox, web=web, context=inst.context,
                            **ports), flush=True)
        while not stop.wait(1):
            pass
    finally:
        inst.stop()
        print("stopped; the demo's users and mail are kept under %s" % root, flush=True)


if __name__ == "__main__":
    main()
