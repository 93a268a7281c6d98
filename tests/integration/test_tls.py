"""TLS (issue 7): one certificate per host name, served by SNI by the real
Postfix (STARTTLS on port 25 and submission, implicit TLS on submissions)
and the real Dovecot (local_name), from the context's tls.certificates
through `mailbag tls apply`; `mailbag tls status`; the certbot deploy
hook putting a renewed certificate in place; DANE TLSA in `mailbag dns
records`; and `mailbag web build` (autoconfig, autodiscover, MTA-STS)
served by a real nginx and checked against the running instance."""

import hashlib
import imaplib
import json
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import time
import xml.etree.ElementTree as ET

import pytest

from conftest import wait_until
from helpers import add_user
from mailstack import SOURCE_ROOT, free_port, make_certificate, port_open, wait_for

SECOND_HOST = "mx2.mailbag.test"
HOOK = os.path.join(SOURCE_ROOT, "deploy", "mailbag-certbot-deploy-hook")


def served_certificate(port, servername, starttls=None, extra=()):
    """The PEM certificate the server on port shows a client asking for
    servername (openssl s_client), or None when the handshake fails."""
    args = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
            "-servername", servername, *extra]
    if starttls:
        args += ["-starttls", starttls]
    out = subprocess.run(args, input="", capture_output=True, text=True, timeout=30).stdout
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
    return m.group(0) if m else None


def fingerprint(pem):
    der = ssl.PEM_cert_to_DER_cert(pem)
    return hashlib.sha256(der).hexdigest()


def file_fingerprint(path):
    with open(path) as f:
        return fingerprint(f.read())


def spki_sha256(pem):
    pub = subprocess.run(["openssl", "x509", "-pubkey", "-noout"], input=pem.encode(),
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         capture_output=True, check=True).stdout
    return hashlib.sha256(der).hexdigest()


def read_context(stack):
    with open(stack.context) as f:
        return json.load(f)


def reload_postfix(stack):
    subprocess.run(["postfix", "-c", stack.postfix_etc, "reload"], check=True,
                   capture_output=True)


def wait_served(port, servername, want_fp, starttls=None):
    """Wait until the server shows the certificate with want_fp for
    servername (a reload reaches new connections only)."""
    wait_until(lambda: (lambda pem: pem is not None and fingerprint(pem) == want_fp)(
        served_certificate(port, servername, starttls)), 20,
        "port %d to show %s's new certificate" % (port, servername))


@pytest.fixture(scope="module")
def tls_node(stack):
    """A second certificate (SECOND_HOST) in the context, applied to the
    stack's Postfix (reloaded) and to a Dovecot node that includes the
    TLS settings `mailbag tls apply` wrote."""
    etc = os.path.dirname(stack.context)
    second = {"cert": os.path.join(etc, "mx2.pem"), "key": os.path.join(etc, "mx2.key")}
    make_certificate(SECOND_HOST, second["cert"], second["key"])
    tls = read_context(stack)["tls"]
    tls["certificates"][SECOND_HOST] = second
    stack.update_context({"tls": tls})
    out = stack.mailbag("tls", "apply", check=True).stdout
    assert "wrote %s.db" % stack.sni_map in out
    reload_postfix(stack)
    node = stack.spawn_dovecot("tls-node", tls=True)
    try:
        yield node, second
    finally:
        node.stop()


def test_sni_gives_each_host_name_its_certificate(stack, tls_node):
    node, second = tls_node
    want = {stack.hostname: file_fingerprint(stack.cert),
            SECOND_HOST: file_fingerprint(second["cert"])}
    assert want[stack.hostname] != want[SECOND_HOST]
    for name, fp in want.items():
        wait_served(stack.ports["smtp"], name, fp, starttls="smtp")
        assert fingerprint(served_certificate(stack.ports["submission"], name, "smtp")) == fp
        assert fingerprint(served_certificate(stack.ports["submissions"], name)) == fp
        assert fingerprint(served_certificate(node.imaps_port, name)) == fp
        assert fingerprint(served_certificate(node.imap_port, name, "imap")) == fp
    # a name no certificate covers gets the hostname's
    for port, starttls in ((stack.ports["smtp"], "smtp"), (node.imaps_port, None)):
        pem = served_certificate(port, "unknown.mailbag.test", starttls)
        assert fingerprint(pem) == want[stack.hostname]


def test_tls_below_1_2_is_refused(stack, tls_node):
    node, _ = tls_node
    old = ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]
    # this client does speak TLS 1.1, to a server that allows it: a refusal
    # below is the server's
    port = free_port()
    server = subprocess.Popen(["openssl", "s_server", "-quiet", "-accept", "127.0.0.1:%d" % port,
                               "-cert", stack.cert, "-key", stack.key, "-tls1_1",
                               "-cipher", "DEFAULT@SECLEVEL=0"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: port_open(port), 10, "openssl s_server")
        assert served_certificate(port, stack.hostname, extra=old) is not None
    finally:
        server.kill()
        server.wait(10)
    assert served_certificate(stack.ports["submissions"], stack.hostname, extra=old) is None
    assert served_certificate(node.imaps_port, stack.hostname, extra=old) is None
    # while TLS 1.2 itself is served
    assert served_certificate(stack.ports["submissions"], stack.hostname,
                              extra=["-tls1_2"]) is not None


def ehlo_extensions(smtp):
    """The lines of smtp's last EHLO reply after the first (the host
    name): one extension each, as the server wrote it."""
    return smtp.ehlo_resp.decode().split("\n")[1:]


def test_auth_only_over_tls(stack, tls_node, domain):
    node, _ = tls_node
    address = "tlsuser@" + domain
    password = add_user(stack, address)
    with smtplib.SMTP("127.0.0.1", stack.ports["submission"], timeout=30) as s:
        s.ehlo("client.remote.test")
        assert "STARTTLS" in ehlo_extensions(s), s.ehlo_resp
        assert not s.has_extn("auth")
        s.starttls(context=ssl._create_unverified_context())
        s.ehlo("client.remote.test")
        assert "STARTTLS" not in ehlo_extensions(s), s.ehlo_resp
        assert s.has_extn("auth")
        s.login(address, password)
    # Dovecot with the TLS settings: no plaintext login before STARTTLS
    # from another address (this host's own connections count as secure)
    with socket.create_connection(("127.0.0.1", node.imap_port), timeout=10,
                                  source_address=("127.0.0.3", 0)) as sock:
        greeting = b""
        while not greeting.endswith(b"\r\n"):
            chunk = sock.recv(1024)
            assert chunk, greeting
            greeting += chunk
        # the greeting's CAPABILITY list, word by word
        m = re.match(rb"\* OK \[CAPABILITY ([^\]]*)\]", greeting)
        assert m, greeting
        capabilities = m.group(1).split()
        assert b"STARTTLS" in capabilities and b"LOGINDISABLED" in capabilities, greeting
        sock.sendall(b"a LOGIN %s %s\r\n" % (address.encode(), password.encode()))
        answer = b""
        while b"\r\na " not in b"\r\n" + answer:
            chunk = sock.recv(1024)
            assert chunk, answer
            answer += chunk
        assert b"a NO [PRIVACYREQUIRED]" in answer, answer
    im = imaplib.IMAP4_SSL("127.0.0.1", node.imaps_port,
                           ssl_context=ssl._create_unverified_context())
    im.login(address, password)
    im.logout()


def test_tls_status(stack, tls_node):
    _, second = tls_node
    proc = stack.mailbag("--json", "tls", "status")
    assert proc.returncode == 0, proc.stderr
    by_host = {c["hostname"]: c for c in json.loads(proc.stdout)}
    assert set(by_host) == {stack.hostname, SECOND_HOST}
    entry = by_host[SECOND_HOST]
    assert entry["ok"] and entry["problems"] == ""
    assert entry["names"] == [SECOND_HOST]
    assert entry["days_left"] in (1, 2)
    assert entry["cert"] == second["cert"]
    text = stack.mailbag("tls", "status").stdout
    assert "names: " + SECOND_HOST in text and "days left" in text


def test_tls_status_and_apply_name_what_is_wrong(stack, tmp_path):
    """A key that is not the certificate's, a certificate that does not
    cover its name, a key others may read: status says each and exits 65;
    apply writes nothing."""
    make_certificate("a.mailbag.test", str(tmp_path / "a.pem"), str(tmp_path / "a.key"))
    make_certificate("b.mailbag.test", str(tmp_path / "b.pem"), str(tmp_path / "b.key"))
    os.chmod(tmp_path / "b.key", 0o644)
    ctx = read_context(stack)
    ctx["tls"] = {
        "certificates": {
            stack.hostname: {"cert": stack.cert, "key": str(tmp_path / "a.key")},
            "c.mailbag.test": {"cert": str(tmp_path / "a.pem"), "key": str(tmp_path / "a.key")},
            "b.mailbag.test": {"cert": str(tmp_path / "b.pem"), "key": str(tmp_path / "b.key")},
            "d.mailbag.test": {"cert": str(tmp_path / "missing.pem"), "key": str(tmp_path / "a.key")},
        },
        "postfix_sni_map": str(tmp_path / "sni"),
        "dovecot_conf": str(tmp_path / "tls.conf"),
    }
    path = tmp_path / "context.json"
    path.write_text(json.dumps(ctx))
    with open(tmp_path / "sni", "w") as f:
        f.write("# the working table\n")
    cmd = [stack.mailbag_bin, "--context", str(path)]
    proc = subprocess.run(cmd + ["--json", "tls", "status"], capture_output=True, text=True)
    assert proc.returncode == 65
    problems = {c["hostname"]: c["problems"] for c in json.loads(proc.stdout)}
    assert "is not this certificate's" in problems[stack.hostname]
    assert "does not cover c.mailbag.test" in problems["c.mailbag.test"]
    assert "may be read by others" in problems["b.mailbag.test"]
    assert "cannot read %s" % (tmp_path / "missing.pem") in problems["d.mailbag.test"]
    proc = subprocess.run(cmd + ["tls", "apply"], capture_output=True, text=True)
    assert proc.returncode == 65
    assert "nothing written" in proc.stderr and "c.mailbag.test: it does not cover" in proc.stderr
    assert (tmp_path / "sni").read_text() == "# the working table\n"
    assert not (tmp_path / "sni.db").exists() and not (tmp_path / "tls.conf").exists()


def test_certbot_deploy_hook_serves_the_renewed_certificate(stack, tls_node):
    node, second = tls_node
    env = dict(os.environ, MAILBAG_BIN=stack.mailbag_bin, MAILBAG_CONTEXT=stack.context,
               MAILBAG_POSTFIX_CONFIG=stack.postfix_etc, MAILBAG_DOVECOT_CONFIG=node.conf)
    old_fp = file_fingerprint(second["cert"])
    # certbot renews: new files at the same paths (its live/ links)
    make_certificate(SECOND_HOST, second["cert"] + ".new", second["key"] + ".new", days=30)
    os.replace(second["key"] + ".new", second["key"])
    os.replace(second["cert"] + ".new", second["cert"])
    new_fp = file_fingerprint(second["cert"])
    assert new_fp != old_fp
    proc = subprocess.run([HOOK], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wait_served(stack.ports["smtp"], SECOND_HOST, new_fp, starttls="smtp")
    wait_served(node.imaps_port, SECOND_HOST, new_fp)
    # a broken renewal (the key of another certificate) is refused and the
    # certificate in service stays
    make_certificate(SECOND_HOST, str(second["cert"]) + ".other", second["key"] + ".other")
    os.replace(second["key"] + ".other", second["key"])
    proc = subprocess.run([HOOK], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "is not this certificate's" in proc.stderr
    reload_postfix(stack)
    time.sleep(1)
    assert fingerprint(served_certificate(stack.ports["smtp"], SECOND_HOST, "smtp")) == new_fp
    # mend it for the tests after this one
    make_certificate(SECOND_HOST, second["cert"], second["key"])
    stack.mailbag("tls", "apply", check=True)
    reload_postfix(stack)


def test_dns_records_tlsa_matches_the_served_key(stack):
    proc = stack.mailbag("--json", "dns", "records", "tlsa.example")
    assert proc.returncode == 0, proc.stderr
    tlsa = [r for r in json.loads(proc.stdout) if r["type"] == "TLSA"]
    assert [r["name"] for r in tlsa] == ["_25._tcp." + stack.hostname]
    served = served_certificate(stack.ports["smtp"], stack.hostname, "smtp")
    assert tlsa[0]["value"] == "3 1 1 " + spki_sha256(served)


# --- mailbag web build ------------------------------------------------------

AUTOCONFIG_SOCKET_TYPES = {"plain", "SSL", "STARTTLS"}
AUTOCONFIG_AUTH = {"password-cleartext", "password-encrypted", "NTLM", "GSAPI",
                   "client-IP-address", "TLS-client-cert", "OAuth2", "none"}


class Nginx:
    """Debian's nginx, private: its own prefix, loopback ports, the file
    `mailbag web build` wrote included in its http block."""

    def __init__(self, root, include):
        self.dir = os.path.join(root, "nginx")
        os.makedirs(os.path.join(self.dir, "logs"), exist_ok=True)
        self.conf = os.path.join(self.dir, "nginx.conf")
        with open(self.conf, "w") as f:
            f.write("user www-data;\npid %s/nginx.pid;\nerror_log %s/error.log;\nevents {}\n"
                    "http {\n  access_log off;\n  include /etc/nginx/mime.types;\n"
                    "  include %s;\n}\n" % (self.dir, self.dir, include))

    def start(self, port):
        check = subprocess.run(["nginx", "-t", "-c", self.conf, "-p", self.dir],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stderr
        subprocess.run(["nginx", "-c", self.conf, "-p", self.dir], check=True)
        wait_for(lambda: port_open(port), 10, "nginx")

    def stop(self):
        pid_file = os.path.join(self.dir, "nginx.pid")
        subprocess.run(["nginx", "-c", self.conf, "-p", self.dir, "-s", "stop"],
                       capture_output=True)
        wait_for(lambda: not os.path.exists(pid_file), 10, "nginx to stop")


def http(port, host, path, method="GET", body=None, tls=False):
    """(status, content type, body) from the nginx on port, as host."""
    import http.client
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
        # SNI must name the web host: connect by hand
        conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                                    server_hostname=host)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=body, headers={"Host": host})
    resp = conn.getresponse()
    data = resp.read()
    peer = conn.sock.getpeercert(binary_form=True) if tls else None
    conn.close()
    return resp.status, resp.getheader("Content-Type"), data, peer


def login_as_autoconfig_says(server, stack, address, password):
    """Connect and log in exactly as one <incomingServer>/<outgoingServer>
    tells a client to (the host name answers on 127.0.0.1 here)."""
    kind = server.get("type")
    hostname = server.findtext("hostname")
    port = int(server.findtext("port"))
    socket_type = server.findtext("socketType")
    assert hostname == stack.hostname
    assert socket_type in AUTOCONFIG_SOCKET_TYPES
    assert server.findtext("authentication") in AUTOCONFIG_AUTH
    user = server.findtext("username").replace("%EMAILADDRESS%", address)
    ctx = ssl._create_unverified_context()
    if kind == "imap":
        if socket_type == "SSL":
            im = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx)
        else:
            im = imaplib.IMAP4("127.0.0.1", port)
            im.starttls(ssl_context=ctx)
        im.login(user, password)
        im.logout()
    else:
        if socket_type == "SSL":
            s = smtplib.SMTP_SSL("127.0.0.1", port, context=ctx, timeout=30)
        else:
            s = smtplib.SMTP("127.0.0.1", port, timeout=30)
            s.starttls(context=ctx)
        s.login(user, password)
        s.quit()
    return kind, port, socket_type


def test_web_build_served_by_nginx_matches_the_running_instance(stack, tls_node, domain):
    node, _ = tls_node
    # what clients are told: this instance's ports (IMAP on the TLS node)
    clients = {"submission_port": stack.ports["submission"],
               "submissions_port": stack.ports["submissions"],
               "imap_port": node.imap_port, "imaps_port": node.imaps_port}
    etc = os.path.dirname(stack.context)
    web_cert = {"cert": os.path.join(etc, "web.pem"), "key": os.path.join(etc, "web.key")}
    make_certificate("mta-sts." + domain, web_cert["cert"], web_cert["key"],
                     names=("autoconfig." + domain, "autodiscover." + domain))
    tls = read_context(stack)["tls"]
    tls["certificates"]["mta-sts." + domain] = web_cert
    stack.update_context({"clients": clients, "tls": tls})
    address = "webuser@" + domain
    password = add_user(stack, address)
    # below the stack's root, which nginx's workers (www-data) may read
    web = os.path.join(stack.root, "web-" + domain)
    http_port, https_port = free_port(), free_port()
    args = ["web", "build", "--listen-http", "127.0.0.1:%d" % http_port,
            "--listen-https", "127.0.0.1:%d" % https_port, web, domain]
    out = stack.mailbag(*args, check=True).stdout
    assert "wrote %s/autoconfig.%s/mail/config-v1.1.xml" % (web, domain) in out
    # again: nothing changes
    again = stack.mailbag(*args, check=True).stdout
    assert "wrote" not in again and again.count("unchanged") == 4
    nginx = Nginx(web + "-nginx", os.path.join(web, "nginx-mailbag.conf"))
    nginx.start(http_port)
    try:
        # Thunderbird: GET autoconfig.DOMAIN/mail/config-v1.1.xml?emailaddress=...
        status, ctype, body, _ = http(http_port, "autoconfig." + domain,
                                      "/mail/config-v1.1.xml?emailaddress=" + address)
        assert status == 200 and "xml" in ctype
        root = ET.fromstring(body)
        assert root.tag == "clientConfig" and root.get("version") == "1.1"
        provider = root.find("emailProvider")
        assert provider.get("id") == domain and provider.findtext("domain") == domain
        servers = provider.findall("incomingServer") + provider.findall("outgoingServer")
        seen = [login_as_autoconfig_says(s, stack, address, password) for s in servers]
        assert seen == [("imap", node.imaps_port, "SSL"), ("imap", node.imap_port, "STARTTLS"),
                        ("smtp", stack.ports["submissions"], "SSL"),
                        ("smtp", stack.ports["submission"], "STARTTLS")]
        # Outlook POSTs to autodiscover.DOMAIN/Autodiscover/Autodiscover.xml
        request = ('<?xml version="1.0"?><Autodiscover xmlns="http://schemas.microsoft.com/'
                   'exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>'
                   '%s</EMailAddress></Request></Autodiscover>' % address)
        status, ctype, body, _ = http(http_port, "autodiscover." + domain,
                                      "/Autodiscover/Autodiscover.xml", "POST", request)
        assert status == 200, body
        ns = {"a": "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006",
              "o": "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"}
        protocols = ET.fromstring(body).findall("o:Response/o:Account/o:Protocol", ns)
        got = {p.findtext("o:Type", namespaces=ns): (p.findtext("o:Server", namespaces=ns),
                                                     int(p.findtext("o:Port", namespaces=ns)),
                                                     p.findtext("o:SSL", namespaces=ns))
               for p in protocols}
        assert got == {"IMAP": (stack.hostname, node.imaps_port, "on"),
                       "SMTP": (stack.hostname, stack.ports["submissions"], "on")}
        # MTA-STS: over HTTPS with a certificate for mta-sts.DOMAIN, and the
        # policy whose id `mailbag dns records` publishes
        status, ctype, body, peer = http(https_port, "mta-sts." + domain,
                                         "/.well-known/mta-sts.txt", tls=True)
        assert status == 200 and ctype.startswith("text/plain")
        assert body.decode() == ("version: STSv1\nmode: enforce\nmx: %s\nmax_age: 604800\n"
                                 % stack.hostname)
        assert hashlib.sha256(peer).hexdigest() == file_fingerprint(web_cert["cert"])
        records = json.loads(stack.mailbag("--json", "dns", "records", domain, check=True).stdout)
        sts = [r["value"] for r in records if r["name"] == "_mta-sts." + domain]
        assert sts == ["v=STSv1; id=" + hashlib.sha256(body).hexdigest()[:16]]
        srv = {r["name"].split(".")[0]: r["value"] for r in records if r["type"] == "SRV"}
        assert srv["_imaps"] == "0 1 %d %s." % (node.imaps_port, stack.hostname)
        assert srv["_submission"] == "0 1 %d %s." % (stack.ports["submission"], stack.hostname)
        # anything else: 404
        assert http(http_port, "autoconfig." + domain, "/etc/passwd")[0] == 404
    finally:
        nginx.stop()
