"""mailstack - a private, loopback-only mailbag mail server.

Starts the real Debian Postfix and Dovecot under one directory, wired to a
mailbag build (mailbag, mailbag-policyd, the Dovecot auth module) through
the files in config-templates/, plus an SMTP sink standing in for the rest
of the internet (Postfix's relayhost). The integration tests' fixture,
always torn down by stop(); the demo server a user runs is deploy/demo.py,
which takes the path of a host install (`mailbag setup`).

Needs root: Postfix and Dovecot drop privileges to their own users, and the
store belongs to the `mailbag` system user that this creates if missing.
"""

import json
import re
import os
import pwd
import grp
import shlex
import shutil
import signal
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
# the product's demo (deploy/demo.py) holds what a private instance needs
# whichever way it is configured: these tests reuse it
sys.path.insert(0, os.path.join(SOURCE_ROOT, "deploy"))
from demo import (SmtpSink, ensure_postfix_main_cf, register_postfix_config,  # noqa: E402
                  wait_for)
TEMPLATES = os.path.join(SOURCE_ROOT, "config-templates")
DOVECOT_MODULE_DIR = "/usr/lib/dovecot/modules"
DOVECOT_AUTH_MODULE_DIR = DOVECOT_MODULE_DIR + "/auth"
# Dovecot 2.4's config process accepts a plugin's settings only when a
# settings module under here declares them
DOVECOT_SETTINGS_MODULE_DIR = DOVECOT_MODULE_DIR + "/settings"
_dovecot_version = None


def dovecot_version():
    """(major, minor) of the Dovecot installed, from `dovecot --version`."""
    global _dovecot_version
    if _dovecot_version is None:
        out = subprocess.run(["dovecot", "--version"], capture_output=True, text=True, check=True).stdout
        m = re.match(r"(\d+)\.(\d+)", out)
        if not m:
            raise RuntimeError("cannot read Dovecot's version from %r" % out)
        _dovecot_version = (int(m.group(1)), int(m.group(2)))
    return _dovecot_version


def dovecot24():
    return dovecot_version() >= (2, 4)


def dovecot_template():
    """The mailbag conf.d template for the Dovecot installed."""
    return "dovecot24-mailbag.conf" if dovecot24() else "dovecot-mailbag.conf"


def free_port(address="127.0.0.1"):
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def port_open(port, address="127.0.0.1"):
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def ensure_system_user(name, home="/nonexistent"):
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", home,
                        "--shell", "/usr/sbin/nologin", name], check=True)
        return pwd.getpwnam(name)


def render(template_name, values):
    """A template from config-templates/ with every @NAME@ filled."""
    with open(os.path.join(TEMPLATES, template_name)) as f:
        text = f.read()
    for key, value in values.items():
        text = text.replace("@%s@" % key, str(value))
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise ValueError("%s: no value for %s" % (template_name, ", ".join(sorted(set(left)))))
    return text


def make_certificate(hostname, cert, key, days=2, names=()):
    """A self-signed certificate for hostname (and names), key mode 0600."""
    san = ",".join("DNS:" + n for n in (hostname,) + tuple(names))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-days", str(days), "-subj", "/CN=" + hostname,
                    "-addext", "subjectAltName=" + san,
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)


def install_module(module, directory):
    """A Dovecot module copied into directory (unless it is there already)."""
    target = os.path.join(directory, os.path.basename(module))
    if os.path.realpath(module) == os.path.realpath(target):
        return
    os.makedirs(directory, exist_ok=True)
    tmp = target + ".new"
    shutil.copyfile(module, tmp)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)


class RedisServer:
    """Debian's redis-server on a loopback port, with a password and an
    append-only file (fsync always), so that stop() and start() keep the
    data as a restarted production Redis would."""

    def __init__(self, root_dir, password="test-redis-password", address="127.0.0.1",
                 name="redis", port=None):
        self.dir = os.path.join(os.path.abspath(root_dir), name)
        self.address = address
        self.port = port or free_port(address)
        self.password = password
        self.proc = None
        # more redis-server options (replicaof, masterauth...), for start()
        self.extra_args = []

    @property
    def location(self):
        return "redis://:%s@%s:%d/0" % (self.password, self.address, self.port)

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        log = open(os.path.join(self.dir, "redis.log"), "a")
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", self.address, "--port", str(self.port),
             "--requirepass", self.password, "--dir", self.dir, "--save", "",
             "--appendonly", "yes", "--appendfsync", "always"] + self.extra_args,
            stdout=log, stderr=log)
        log.close()
        wait_for(lambda: port_open(self.port, self.address) or self.proc.poll() is not None, 10,
                 "redis-server")
        if self.proc.poll() is not None:
            raise RuntimeError("redis-server exited: " + open(os.path.join(self.dir, "redis.log")).read())
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

# The private test instance's own settings, before the mailbag template:
# allow every character in user names (auth_username_chars empty), so
# that the mailbag driver's own refusal of hostile user names is what the
# tests see (Dovecot's default list would stop them first)
DOVECOT_BASE = """# private test instance: see tests/integration/mailstack.py
{versions}base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
instance_name = {instance}
protocols = imap lmtp
listen = {address}
ssl = no
{cleartext}
auth_verbose = yes
auth_username_chars =
service imap-login {{
  inet_listener imap {{
    {listen} = {address}
    port = {port}
  }}
  inet_listener imaps {{
    {listen} = {address}
    port = {imaps}
  }}
}}
{lmtp_tcp}!include {d}/mailbag.conf
"""

# LMTP over TCP too, for mailbag-lmtpd on other nodes (tests/integration/nodes.py)
DOVECOT_LMTP_TCP = """service lmtp {{
  inet_listener lmtp {{
    {listen} = {address}
    port = {lmtp_port}
  }}
}}
"""

# what 2.3 and 2.4 call the same things
DOVECOT23_BASE_NAMES = {"versions": "", "cleartext": "disable_plaintext_auth = no", "listen": "address"}
DOVECOT24_BASE_NAMES = {"versions": "dovecot_config_version = 2.4.0\ndovecot_storage_version = 2.4.0\n",
                        "cleartext": "auth_allow_cleartext = yes", "listen": "listen"}


def start_dovecot_instance(dovecot_dir, imap_port, values, imaps_port=0, include=None,
                           address="127.0.0.1", prefix=(), lmtp_port=0, instance=None):
    """Dovecot as root with its own base_dir under dovecot_dir, the
    mailbag template (values) included, IMAP on imap_port; with include,
    that file too, last (`mailbag tls apply`'s TLS settings), and IMAP
    with implicit TLS on imaps_port. A node of nodes.py gives its own
    address, the command prefix that runs Dovecot in its network
    namespace, and a TCP port for LMTP from the other nodes."""
    conf = os.path.join(dovecot_dir, "dovecot.conf")
    names = DOVECOT24_BASE_NAMES if dovecot24() else DOVECOT23_BASE_NAMES
    with open(os.path.join(dovecot_dir, "mailbag.conf"), "w") as f:
        f.write(render(dovecot_template(), values))
    lmtp_tcp = (DOVECOT_LMTP_TCP.format(address=address, lmtp_port=lmtp_port, **names)
                if lmtp_port else "")
    with open(conf, "w") as f:
        f.write(DOVECOT_BASE.format(d=dovecot_dir, port=imap_port, imaps=imaps_port,
                                    address=address, lmtp_tcp=lmtp_tcp,
                                    instance=instance or "mailbag-%d" % imap_port, **names))
        if include:
            f.write("!include %s\n" % include)
    os.makedirs(os.path.join(dovecot_dir, "state"), exist_ok=True)
    # the daemon keeps its stdio: a pipe here would never reach EOF
    with open(os.path.join(dovecot_dir, "start.out"), "w") as out:
        ret = subprocess.run([*prefix, "dovecot", "-c", conf], stdin=subprocess.DEVNULL,
                             stdout=out, stderr=out).returncode
    if ret != 0:
        raise RuntimeError("dovecot failed to start: " +
                           open(os.path.join(dovecot_dir, "start.out")).read())
    wait_for(lambda: port_open(imap_port, address), 15, "Dovecot's IMAP port")


def stop_dovecot_instance(dovecot_dir, imap_port, address="127.0.0.1", prefix=()):
    subprocess.run([*prefix, "dovecot", "-c", os.path.join(dovecot_dir, "dovecot.conf"), "stop"],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    wait_for(lambda: not port_open(imap_port, address) and
             not os.path.exists(os.path.join(dovecot_dir, "run", "master.pid")),
             15, "Dovecot to stop")


def read_dovecot_log(dovecot_dir):
    try:
        with open(os.path.join(dovecot_dir, "dovecot.log")) as f:
            return f.read()
    except OSError:
        return ""


class DovecotNode:
    """A second (third...) Dovecot of one installation: see
    MailStack.spawn_dovecot."""

    def __init__(self, directory, imap_port):
        self.dir = directory
        self.imap_port = imap_port
        self.conf = os.path.join(directory, "dovecot.conf")
        self.lmtp_socket = os.path.join(directory, "dovecot-lmtp")
        self.auth_socket = os.path.join(directory, "dovecot-auth")

    def log(self):
        return read_dovecot_log(self.dir)

    def stop(self):
        stop_dovecot_instance(self.dir, self.imap_port)


class MailStack:
    """A private mail server under root_dir. Call start(), then stop().

    By default on loopback (127.0.0.1) with its own SMTP sink. A node of
    nodes.py gives address (what Postfix and Dovecot listen on), netns
    (the network namespace every process of the stack runs in, through
    `ip netns exec`), and the sink and DNS server it shares with the
    other nodes (started and stopped by their owner)."""

    def __init__(self, root_dir, mailbag, policyd, auth_module, hostname="mx.mailbag.test",
                 ports=None, store=None, lmtpd=None, address="127.0.0.1", netns=None,
                 sink=None, dns=None):
        self.root = os.path.abspath(root_dir)
        self.address = address
        self.netns = netns
        # what every command of this stack starts with
        self.prefix = ["ip", "netns", "exec", netns] if netns else []
        self.shared_sink = sink
        self.shared_dns = dns
        self.mailbag_bin = mailbag
        self.policyd_bin = policyd
        # beside policyd when installed; in the build tree, its own folder
        self.lmtpd_bin = lmtpd or os.environ.get("MAILBAG_LMTPD_BIN") or next(
            (p for p in (os.path.join(os.path.dirname(policyd), "mailbag-lmtpd"),
                         os.path.join(os.path.dirname(os.path.dirname(policyd)), "lmtp-bridge",
                                      "mailbag-lmtpd")) if os.path.exists(p)),
            "mailbag-lmtpd")
        self.milter_bin = os.environ.get("MAILBAG_MILTER_BIN") or next(
            (p for p in (os.path.join(os.path.dirname(policyd), "mailbag-milter"),
                         os.path.join(os.path.dirname(os.path.dirname(policyd)), "milter",
                                      "mailbag-milter")) if os.path.exists(p)),
            "mailbag-milter")
        self.auth_module = auth_module
        self.hostname = hostname
        self.ports = {name: free_port() for name in ("smtp", "submission", "submissions", "imap", "sink",
                                                     "srs_forward")}
        if sink is not None:
            self.ports["sink"] = sink.port
        self.ports.update(ports or {})
        self.context = os.path.join(self.root, "etc", "context.json")
        self.store_dir = os.path.join(self.root, "store")
        self.store = store or "lmdb:" + self.store_dir
        self.mail_root = os.path.join(self.root, "vmail")
        self.run_dir = os.path.join(self.root, "run")
        self.socketmap = os.path.join(self.run_dir, "socketmap")
        self.policy_socket = os.path.join(self.run_dir, "policy")
        self.usage_socket = os.path.join(self.run_dir, "usage")
        self.dovecot_dir = os.path.join(self.root, "dovecot")
        self.dovecot_conf = os.path.join(self.dovecot_dir, "dovecot.conf")
        self.postfix_dir = os.path.join(self.root, "postfix")
        self.postfix_etc = os.path.join(self.postfix_dir, "etc")
        self.maillog = os.path.join(self.postfix_dir, "maillog")
        self.policyd_log = os.path.join(self.root, "policyd.log")
        self.policyd_proc = None
        self.lmtpd_socket = os.path.join(self.run_dir, "lmtp")
        self.dovecot_lmtp = os.path.join(self.run_dir, "dovecot-lmtp")
        self.spool_dir = os.path.join(self.root, "spool")
        self.lmtpd_log = os.path.join(self.root, "lmtpd.log")
        self.lmtpd_proc = None
        self.milter_socket = os.path.join(self.run_dir, "milter")
        self.milter_log = os.path.join(self.root, "milter.log")
        self.milter_proc = None
        self.dkim_dir = os.path.join(self.root, "etc", "dkim")
        self.resolv_conf = os.path.join(self.root, "etc", "resolv.conf")
        self.cert = os.path.join(self.root, "etc", "cert.pem")
        self.key = os.path.join(self.root, "etc", "key.pem")
        self.sni_map = os.path.join(self.root, "etc", "postfix-sni")
        self.dovecot_tls_conf = os.path.join(self.root, "etc", "dovecot-tls.conf")
        # the host's own mail (mydestination): its aliases file and
        # local(8)'s mailboxes, never the real /etc/aliases and /var/mail
        self.aliases = os.path.join(self.root, "etc", "aliases")
        self.mail_spool = os.path.join(self.root, "mail")
        self.sink = None
        self.started = []

    # --- the mailbag command -------------------------------------------
    def mailbag(self, *args, input=None, check=False):
        proc = subprocess.run([*self.prefix, self.mailbag_bin, "--context", self.context, *args],
                              input=input, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise RuntimeError("mailbag %s failed (%d): %s" % (" ".join(args), proc.returncode, proc.stderr))
        return proc

    # --- start ------------------------------------------------------------
    def start(self):
        try:
            self._prepare()
            if self.shared_sink is not None:
                self.sink = self.shared_sink
            else:
                self.sink = SmtpSink(self.ports["sink"])
                self.sink.start()
                self.started.append("sink")
            self.start_policyd()
            self._start_dovecot()
            self.start_lmtpd()
            self.start_milter()
            self._start_postfix()
        except Exception:
            self.stop()
            raise
        return self

    def _prepare(self):
        os.makedirs(self.root, exist_ok=True)
        # Postfix, Dovecot and policyd run as their own users and must
        # reach sockets and files below root
        os.chmod(self.root, 0o755)
        for d in (os.path.dirname(self.context), self.run_dir, self.dovecot_dir,
                  self.postfix_etc):
            os.makedirs(d, exist_ok=True)
        self.mailbag_user = ensure_system_user("mailbag")
        self.vmail_user = ensure_system_user("vmail", "/var/vmail")
        os.chown(self.run_dir, 0, grp.getgrnam("postfix").gr_gid)
        os.chmod(self.run_dir, 0o755)
        subprocess.run([*self.prefix, self.mailbag_bin, "--context", self.context, "init",
                        "--hostname", self.hostname,
                        "--store", self.store,
                        "--vmail-uid", str(self.vmail_user.pw_uid),
                        "--vmail-gid", str(self.vmail_user.pw_gid)],
                       check=True, capture_output=True)
        with open(self.context) as f:
            ctx = json.load(f)
        ctx["mail_root"] = self.mail_root
        ctx["policyd"] = {"socketmap_socket": self.socketmap, "policy_socket": self.policy_socket,
                          "usage_socket": self.usage_socket,
                          "socket_group": "postfix", "socket_mode": "0660"}
        ctx["lmtpd"] = {"socket": self.lmtpd_socket, "dovecot_lmtp": self.dovecot_lmtp,
                        "spool_dir": self.spool_dir, "socket_group": "postfix"}
        ctx["milter"] = {"socket": self.milter_socket, "socket_group": "postfix", "dns_timeout": "3s"}
        ctx["dkim"] = {"key_dir": self.dkim_dir}
        # SRS off unless a test turns it on (test_srs.py): its secret file
        # would be in the stack's own etc/
        self.srs_secrets = os.path.join(self.root, "etc", "srs.secrets")
        ctx["srs"] = {"enabled": False, "secret_file": self.srs_secrets,
                      "forward_port": self.ports["srs_forward"]}
        ctx["tls"] = {"certificates": {self.hostname: {"cert": self.cert, "key": self.key}},
                      "postfix_sni_map": self.sni_map, "dovecot_conf": self.dovecot_tls_conf}
        # what clients are told (autoconfig, SRV): this instance's ports;
        # its Dovecot speaks no TLS unless a test starts one that does
        ctx["clients"] = {"submission_port": self.ports["submission"],
                          "submissions_port": self.ports["submissions"],
                          "imap_port": self.ports["imap"], "imaps_port": 0}
        self.customise_context(ctx)
        with open(self.context, "w") as f:
            json.dump(ctx, f, indent=2)
        # init again: creates the mail root named by the edited context
        subprocess.run([*self.prefix, self.mailbag_bin, "--context", self.context, "init"],
                       check=True, capture_output=True)
        self._make_certificate()
        # Postfix's SNI table and Dovecot's local_name blocks (postmap
        # reads the default main.cf, which Debian's package may not have made)
        ensure_postfix_main_cf()
        self.mailbag("tls", "apply", check=True)
        self._install_auth_module()
        self._compile_sieve()

    def before_postfix_start(self, queue):
        """What a subclass does once Postfix's configuration is written."""

    def customise_context(self, ctx):
        """What a subclass adds to the context before the daemons start."""

    def _make_certificate(self):
        make_certificate(self.hostname, self.cert, self.key)

    def _compile_sieve(self):
        """Dovecot's sieve_before script, compiled where Dovecot reads it."""
        self.sieve_dedupe = os.path.join(self.root, "etc", "mailbag-dedupe.sieve")
        shutil.copyfile(os.path.join(SOURCE_ROOT, "config-templates", "mailbag-dedupe.sieve"),
                        self.sieve_dedupe)
        subprocess.run(["sievec", self.sieve_dedupe], check=True, capture_output=True)
        os.chmod(os.path.dirname(self.sieve_dedupe), 0o755)
        # the context's sieve.before_dir and sieve.after_dir (empty: tests
        # that want global scripts put them there and run sievec)
        self.sieve_before_dir = os.path.join(self.root, "etc", "sieve", "before")
        self.sieve_after_dir = os.path.join(self.root, "etc", "sieve", "after")
        for d in (self.sieve_before_dir, self.sieve_after_dir):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        os.chmod(os.path.dirname(self.sieve_before_dir), 0o755)

    def _install_auth_module(self):
        # Dovecot loads auth modules from its compiled-in directory only;
        # on 2.4 the settings module that declares mailbag_context_path
        # is built beside the auth module
        install_module(self.auth_module, DOVECOT_AUTH_MODULE_DIR)
        if not dovecot24():
            return
        built = os.path.dirname(os.path.abspath(self.auth_module))
        if os.path.realpath(built) == os.path.realpath(DOVECOT_AUTH_MODULE_DIR):
            # installed by meson: the settings module is in its place
            built = DOVECOT_SETTINGS_MODULE_DIR
        settings_module = os.path.join(built, "libmailbag_settings.so")
        if not os.path.exists(settings_module):
            raise RuntimeError("no Dovecot 2.4 settings module %s (built beside %s)"
                               % (settings_module, self.auth_module))
        install_module(settings_module, DOVECOT_SETTINGS_MODULE_DIR)

    def template_values(self):
        return {
            "SOCKETMAP": self.socketmap,
            "POLICY": self.policy_socket,
            "USAGE_SOCKET": self.usage_socket,
            "DOVECOT_LMTP": self.dovecot_lmtp,
            "LMTPD": self.lmtpd_socket,
            "MILTER": "unix:" + self.milter_socket,
            "LMTPD_USER": "mailbag",
            "DOVECOT_AUTH": os.path.join(self.run_dir, "dovecot-auth"),
            "DELIMITER": "+",
            "TLS_CERT": self.cert,
            "TLS_KEY": self.key,
            "SUBMISSION_LISTEN": "%s:%d" % (self.address, self.ports["submission"]),
            "SUBMISSIONS_LISTEN": "%s:%d" % (self.address, self.ports["submissions"]),
            "SNI_MAP": self.sni_map,
            "ALIASES": self.aliases,
            "CONTEXT": self.context,
            "STORE_GROUP": "mailbag",
            "HOSTNAME": self.hostname,
            "VMAIL_UID": self.vmail_user.pw_uid,
            "VMAIL_USER": self.vmail_user.pw_name,
            "QUOTA_WARNING": os.path.join(SOURCE_ROOT, "deploy", "mailbag-quota-warning"),
            "DOVECOT_CONF": self.dovecot_conf,
            "SIEVE_DEDUPE": self.sieve_dedupe,
            "SIEVE_BEFORE_DIR": self.sieve_before_dir,
            "SIEVE_AFTER_DIR": self.sieve_after_dir,
            "VMAIL_GID": self.vmail_user.pw_gid,
            "SRS_FORWARD_PORT": self.ports["srs_forward"],
        }

    def start_policyd(self):
        self.policyd_proc = self.spawn_policyd(self.context, self.policyd_log)
        if "policyd" not in self.started:
            self.started.append("policyd")

    def spawn_policyd(self, context, log_path):
        """A mailbag-policyd on context, running once its sockets exist."""
        with open(context) as f:
            ctx = json.load(f)
        sockets = (ctx["policyd"]["socketmap_socket"], ctx["policyd"]["policy_socket"],
                   ctx["policyd"]["usage_socket"])
        for path in sockets:
            if os.path.exists(path):
                os.unlink(path)
        log = open(log_path, "a")
        proc = subprocess.Popen([*self.prefix, self.policyd_bin, "-c", context] +
                                (["-d"] if os.environ.get("MAILBAG_DEBUG") else []),
                                stdout=log, stderr=log)
        log.close()
        wait_for(lambda: all(os.path.exists(p) for p in sockets) or proc.poll() is not None,
                 10, "mailbag-policyd's sockets")
        if proc.poll() is not None:
            raise RuntimeError("mailbag-policyd exited: " + open(log_path).read())
        return proc

    def update_context(self, changes):
        """Set top-level context keys (a value of None removes the key)
        and make policyd reload it (SIGHUP); returns once it has."""
        with open(self.context) as f:
            ctx = json.load(f)
        for key, value in changes.items():
            if value is None:
                ctx.pop(key, None)
            else:
                ctx[key] = value
        with open(self.context, "w") as f:
            json.dump(ctx, f, indent=2)
        self.reload_policyd()

    def reload_policyd(self):
        with open(self.policyd_log) as f:
            before = f.read().count(" reloaded")
        self.policyd_proc.send_signal(signal.SIGHUP)
        wait_for(lambda: open(self.policyd_log).read().count(" reloaded") > before,
                 10, "mailbag-policyd to reload its context")

    def start_lmtpd(self):
        """mailbag-lmtpd on the context, running once its socket exists."""
        if os.path.exists(self.lmtpd_socket):
            os.unlink(self.lmtpd_socket)
        log = open(self.lmtpd_log, "a")
        self.lmtpd_proc = subprocess.Popen([*self.prefix, self.lmtpd_bin, "-c", self.context] +
                                           (["-d"] if os.environ.get("MAILBAG_DEBUG") else []),
                                           stdout=log, stderr=log)
        log.close()
        wait_for(lambda: os.path.exists(self.lmtpd_socket) or self.lmtpd_proc.poll() is not None,
                 10, "mailbag-lmtpd's socket")
        if self.lmtpd_proc.poll() is not None:
            raise RuntimeError("mailbag-lmtpd exited: " + open(self.lmtpd_log).read())
        if "lmtpd" not in self.started:
            self.started.append("lmtpd")

    def start_milter(self, context=None):
        """mailbag-milter on the context, running once its socket exists.
        It runs in its own mount namespace whose /etc/resolv.conf names the
        test DNS server (dnsserver.py), so nothing asks the real DNS."""
        import dnsserver
        self.dns = self.shared_dns or dnsserver.shared()
        with open(self.resolv_conf, "w") as f:
            f.write("nameserver %s\noptions timeout:2 attempts:1\n" % self.dns.address)
        milter = [*self.prefix, "unshare", "--mount", "--", "sh", "-c",
                  'mount --bind "$0" /etc/resolv.conf && exec "$@"', self.resolv_conf,
                  self.milter_bin, "-c", context or self.context] + (
            ["-d"] if os.environ.get("MAILBAG_DEBUG") else [])
        if os.path.exists(self.milter_socket):
            os.unlink(self.milter_socket)
        log = open(self.milter_log, "a")
        self.milter_proc = subprocess.Popen(milter, stdout=log, stderr=log)
        log.close()
        wait_for(lambda: os.path.exists(self.milter_socket) or self.milter_proc.poll() is not None,
                 10, "mailbag-milter's socket")
        if self.milter_proc.poll() is not None:
            raise RuntimeError("mailbag-milter exited: " + open(self.milter_log).read())
        if "milter" not in self.started:
            self.started.append("milter")

    def stop_milter(self):
        if self.milter_proc is not None and self.milter_proc.poll() is None:
            self.milter_proc.send_signal(signal.SIGTERM)
            try:
                self.milter_proc.wait(10)
            except subprocess.TimeoutExpired:
                self.milter_proc.kill()
                self.milter_proc.wait(5)
        self.milter_proc = None

    def restart_milter(self):
        self.stop_milter()
        self.start_milter()

    def reload_lmtpd(self):
        with open(self.lmtpd_log) as f:
            before = f.read().count(" reloaded")
        self.lmtpd_proc.send_signal(signal.SIGHUP)
        wait_for(lambda: open(self.lmtpd_log).read().count(" reloaded") > before,
                 10, "mailbag-lmtpd to reload its context")

    def stop_lmtpd(self, signal_kill=False):
        if self.lmtpd_proc is not None and self.lmtpd_proc.poll() is None:
            self.lmtpd_proc.send_signal(signal.SIGKILL if signal_kill else signal.SIGTERM)
            self.lmtpd_proc.wait(10)
        self.lmtpd_proc = None

    def stop_policyd(self, sig=signal.SIGTERM):
        if self.policyd_proc is not None and self.policyd_proc.poll() is None:
            self.policyd_proc.send_signal(sig)
            self.policyd_proc.wait(10)
        self.policyd_proc = None

    def _start_dovecot(self):
        start_dovecot_instance(self.dovecot_dir, self.ports["imap"], self.template_values(),
                               address=self.address, prefix=self.prefix,
                               lmtp_port=self.ports.get("lmtp", 0),
                               instance=self.dovecot_instance_name(),
                               include=getattr(self, "dovecot_include", None))
        self.started.append("dovecot")

    def dovecot_instance_name(self):
        return None  # mailbag-IMAPPORT

    def stop_dovecot(self):
        stop_dovecot_instance(self.dovecot_dir, self.ports["imap"], self.address, self.prefix)
        self.started.remove("dovecot")

    def start_dovecot(self):
        self._start_dovecot()

    def spawn_dovecot(self, name, tls=False, include=None, context=None):
        """Another Dovecot on the same store and context (another node):
        its own directory, IMAP port, LMTP and auth sockets. Stop it with
        its stop(). With tls: the TLS settings `mailbag tls apply` wrote
        (SNI by local_name) and IMAP with implicit TLS on node.imaps_port.
        With include: that Dovecot settings file, last (instead of the TLS
        one); with context: its driver reads that context file instead."""
        node = DovecotNode(os.path.join(self.root, name), free_port())
        node.imaps_port = free_port() if tls else 0
        values = self.template_values()
        values.update({"DOVECOT_LMTP": node.lmtp_socket, "DOVECOT_AUTH": node.auth_socket,
                       "DOVECOT_CONF": node.conf})
        if context is not None:
            values["CONTEXT"] = context
        os.makedirs(node.dir, exist_ok=True)
        os.chmod(node.dir, 0o755)
        start_dovecot_instance(node.dir, node.imap_port, values, imaps_port=node.imaps_port,
                               include=include or (self.dovecot_tls_conf if tls else None))
        return node

    def dovecot_log(self):
        return read_dovecot_log(self.dovecot_dir)

    def _postconf(self, *args):
        subprocess.run(["postconf", "-c", self.postfix_etc, *args], check=True,
                       capture_output=True, text=True)

    def _local_mail_files(self):
        """The aliases file and database main.cf names, and local(8)'s
        spool, under root (mode 1777: local(8) writes as the recipient)."""
        if not os.path.exists(self.aliases):
            with open(self.aliases, "w") as f:
                f.write("postmaster: root\n")
        # in the instance's namespace (a node's): Postfix's tools check
        # that inet_interfaces are local
        subprocess.run(self.prefix + ["postalias", "-c", self.postfix_etc, "hash:" + self.aliases], check=True,
                       capture_output=True)
        os.makedirs(self.mail_spool, exist_ok=True)
        os.chmod(self.mail_spool, 0o1777)

    def _register_postfix_config(self, add):
        register_postfix_config(self.postfix_etc, add)

    def _start_postfix(self):
        queue = os.path.join(self.postfix_dir, "queue")
        data = os.path.join(self.postfix_dir, "data")
        os.makedirs(queue, exist_ok=True)
        os.makedirs(data, exist_ok=True)
        shutil.chown(data, "postfix")
        shutil.copyfile("/usr/share/postfix/master.cf.dist",
                        os.path.join(self.postfix_etc, "master.cf"))
        open(os.path.join(self.postfix_etc, "main.cf"), "w").close()
        self._postconf("-e",
                       "compatibility_level = 3.6",
                       "queue_directory = " + queue,
                       "data_directory = " + data,
                       "mail_owner = postfix",
                       "setgid_group = postdrop",
                       "syslog_name = mailbag-test",
                       "maillog_file = " + self.maillog,
                       "maillog_file_prefixes = /tmp, /var, " + self.root,
                       "mail_spool_directory = " + self.mail_spool,
                       "myhostname = " + self.hostname,
                       "mydomain = mailbag.test",
                       "myorigin = $myhostname",
                       "inet_interfaces = " + self.address,
                       "inet_protocols = ipv4",
                       "mynetworks = 127.0.0.0/8" + (
                           "" if self.address.startswith("127.") else " %s/32" % self.address),
                       "alias_maps =",
                       "alias_database =",
                       "biff = no",
                       "relayhost = [%s]:%d" % (getattr(self.sink, "address", "127.0.0.1"),
                                                self.ports["sink"]),
                       "smtp_dns_support_level = disabled",
                       "smtp_tls_security_level = none",
                       "delay_warning_time = 0",
                       # retry deferred mail quickly in tests
                       "queue_run_delay = 1s",
                       "minimal_backoff_time = 1s",
                       "maximal_backoff_time = 2s")
        settings = []
        for line in render("postfix-main.cf", self.template_values()).splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                settings.append(line)
        self._postconf("-e", *settings)
        self._local_mail_files()
        self._postconf("-MX", "smtp/inet")
        self._postconf("-M", "{a}:{p}/inet = {a}:{p} inet n - n - - smtpd".format(
                       a=self.address, p=self.ports["smtp"]))
        with open(os.path.join(self.postfix_etc, "master.cf"), "a") as f:
            f.write(render("postfix-master.cf", self.template_values()))
        self._postconf("-F", "*/*/chroot = n")
        self._register_postfix_config(True)
        self.before_postfix_start(queue)
        self.started.append("postfix")
        # under script(1): Postfix tells its fatal errors only to a tty
        start_out = os.path.join(self.postfix_dir, "start.out")
        with open(start_out, "w") as out:
            ret = subprocess.run(["script", "-qec", shlex.join(
                                      self.prefix + ["postfix", "-c", self.postfix_etc, "start"]),
                                  "/dev/null"], stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=out).returncode
        if ret != 0:
            raise RuntimeError("postfix start failed: %s %s" % (open(start_out).read(),
                                                                  self.read_maillog()))
        wait_for(lambda: port_open(self.ports["smtp"], self.address), 15, "Postfix's SMTP port")

    # --- stop -------------------------------------------------------------
    def stop(self):
        if "postfix" in self.started:
            subprocess.run(["script", "-qec", shlex.join(
                                self.prefix + ["postfix", "-c", self.postfix_etc, "stop"]), "/dev/null"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            self._register_postfix_config(False)
        if "dovecot" in self.started:
            subprocess.run([*self.prefix, "dovecot", "-c", self.dovecot_conf, "stop"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if "lmtpd" in self.started:
            self.stop_lmtpd()
        if "milter" in self.started:
            self.stop_milter()
        if "policyd" in self.started:
            self.stop_policyd()
        if "sink" in self.started:
            self.sink.stop()
        self.started = []

    # --- what tests read --------------------------------------------------
    def read_maillog(self):
        try:
            with open(self.maillog) as f:
                return f.read()
        except OSError:
            return ""

    def maildir_messages(self, address):
        """Every message file in a user's Maildir (new and cur), as bytes."""
        local, domain = address.split("@")
        base = os.path.join(self.mail_root, domain, local, "Maildir")
        found = []
        for sub in ("new", "cur"):
            d = os.path.join(base, sub)
            if os.path.isdir(d):
                for name in sorted(os.listdir(d)):
                    with open(os.path.join(d, name), "rb") as f:
                        found.append(f.read())
        return found

    def flush_queue(self):
        subprocess.run(["postqueue", "-c", self.postfix_etc, "-f"], capture_output=True)


if __name__ == "__main__":
    raise SystemExit("mailstack.py is the tests' fixture; the demo server is deploy/demo.py "
                     "(deploy/quickstart.sh runs it)")
