"""mailbag-milter inside the real Postfix: outbound mail signed with both
keys (checked with dkimpy against the records `mailbag dkim show`
prints), the submitter's headers removed, the header From checked
against the login; inbound mail given one Authentication-Results field
from SPF, DKIM and DMARC, forged ones removed, and the policies
(duplicate From, DMARC p=reject, dkim_required, l=, rsa-sha1, a DNS
timeout) answered as configured. DNS comes from the test's own server
(dnsserver.py) on loopback."""

import base64
import email
import json
import re
import smtplib
import ssl
import subprocess
import time

import dkim
import pytest

from helpers import add_user

DOMAIN = "signed.test"


def dns_records(stack, domain):
    shown = json.loads(stack.mailbag("--json", "dkim", "show", domain, check=True).stdout)
    return {r["name"]: r["value"] for r in shown}


def dnsfunc_for(records):
    def dns(name, timeout=5):
        return records.get(name.decode().rstrip(".")).encode() if name.decode().rstrip(".") in records else None
    return dns


def verifies(raw, idx, dns):
    """dkimpy's verdict; it raises for some failures instead of saying False."""
    try:
        return dkim.DKIM(raw).verify(idx=idx, dnsfunc=dns)
    except dkim.DKIMException:
        return False


def wait_for_message(stack, address, marker, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        stack.flush_queue()
        found = [m for m in stack.maildir_messages(address) if marker.encode() in m]
        if found:
            return found[0]
        time.sleep(0.3)
    raise AssertionError("no message with %s for %s; maillog:\n%s\nmilter log:\n%s"
                         % (marker, address, stack.read_maillog()[-3000:], open(stack.milter_log).read()[-3000:]))


def submit_raw(stack, login, password, sender, rcpts, message):
    with smtplib.SMTP("127.0.0.1", stack.ports["submission"], timeout=30) as s:
        s.starttls(context=ssl._create_unverified_context())
        s.login(login, password)
        s.sendmail(sender, rcpts, message)


def send_raw(stack, sender, rcpts, message):
    # from 127.0.0.2: libspf2 lets 127.0.0.1 pass whatever the record says
    with smtplib.SMTP("127.0.0.1", stack.ports["smtp"], timeout=60,
                      source_address=("127.0.0.2", 0)) as s:
        s.ehlo("client.remote.test")
        s.sendmail(sender, rcpts, message)


@pytest.fixture(scope="module")
def users(stack):
    stack.mailbag("domain", "add", DOMAIN, check=True)
    ann = add_user(stack, "ann@" + DOMAIN, "ann-password-123")
    add_user(stack, "bob@" + DOMAIN, "bob-password-123")
    stack.mailbag("alias", "add", "sales@" + DOMAIN, "ann@" + DOMAIN, check=True)
    out = stack.mailbag("dkim", "keygen", "--selector", "t1", DOMAIN)
    assert out.returncode == 0, out.stderr
    return {"ann": ann}


def outbound_message(marker, sender="ann@" + DOMAIN):
    return ("From: Ann <%s>\r\nTo: bob@%s\r\nSubject: %s\r\nDate: Sun, 22 Nov 2026 05:00:00 +0000\r\n"
            "Message-ID: <%s@%s>\r\nX-Mailer: LeakyMail 1.0\r\nUser-Agent: LeakyMail/1.0 (192.0.2.55)\r\n"
            "X-Originating-IP: [192.0.2.55]\r\n\r\nHello Bob,\r\n\r\nsigned, I hope.\r\n"
            % (sender, DOMAIN, marker, marker, DOMAIN))


def test_submission_leaves_signed_with_both_algorithms(stack, users):
    marker = "signed-%f" % time.time()
    submit_raw(stack, "ann@" + DOMAIN, "ann-password-123", "ann@" + DOMAIN, ["bob@" + DOMAIN],
               outbound_message(marker))
    raw = wait_for_message(stack, "bob@" + DOMAIN, marker)
    msg = email.message_from_bytes(raw)
    sigs = msg.get_all("DKIM-Signature")
    assert len(sigs) == 2, raw.decode(errors="replace")
    algorithms = sorted(re.search(r"a=([\w-]+)", s).group(1) for s in sigs)
    assert algorithms == ["ed25519-sha256", "rsa-sha256"]
    for s in sigs:
        assert re.search(r"h=from:from:", s), s       # From oversigned
        assert "c=relaxed/relaxed" in s
    dns = dnsfunc_for(dns_records(stack, DOMAIN))
    assert verifies(raw, 0, dns), "first signature"
    assert verifies(raw, 1, dns), "second signature"
    # a changed body fails both
    tampered = raw.replace(b"signed, I hope.", b"signed, I hoped.")
    assert not verifies(tampered, 0, dns)
    assert not verifies(tampered, 1, dns)
    # so does a second Subject put in front: Subject is oversigned
    head, _, rest = raw.partition(b"DKIM-Signature:")
    prepended = head + b"Subject: pay this invoice now\n" + b"DKIM-Signature:" + rest
    assert not verifies(prepended, 0, dns)
    assert not verifies(prepended, 1, dns)
    # the submitter's traces are gone: software, address, and Postfix's
    # own Received line for the submission
    for name in ("X-Mailer", "User-Agent", "X-Originating-IP"):
        assert msg.get(name) is None, name
    assert b"192.0.2.55" not in raw
    assert b"ESMTPSA" not in raw, raw.decode(errors="replace")


def test_header_from_must_belong_to_the_login(stack, users):
    marker = "forged-from-%f" % time.time()
    with pytest.raises(smtplib.SMTPDataError) as refused:
        submit_raw(stack, "ann@" + DOMAIN, "ann-password-123", "ann@" + DOMAIN, ["bob@" + DOMAIN],
                   outbound_message(marker, sender="bob@" + DOMAIN))
    assert refused.value.smtp_code == 550
    assert b"5.7.1" in refused.value.smtp_error
    assert b"bob@signed.test" in refused.value.smtp_error and b"ann@signed.test" in refused.value.smtp_error
    # an alias that reaches ann is hers to send as, and is signed
    marker = "alias-from-%f" % time.time()
    submit_raw(stack, "ann@" + DOMAIN, "ann-password-123", "ann@" + DOMAIN, ["bob@" + DOMAIN],
               outbound_message(marker, sender="sales@" + DOMAIN))
    raw = wait_for_message(stack, "bob@" + DOMAIN, marker)
    assert verifies(raw, 0, dnsfunc_for(dns_records(stack, DOMAIN)))


def test_two_from_fields_are_refused(stack, users):
    message = ("From: a@remote.test\r\nFrom: b@remote.test\r\nTo: bob@%s\r\nSubject: two\r\n\r\nx\r\n" % DOMAIN)
    with pytest.raises(smtplib.SMTPDataError) as refused:
        send_raw(stack, "a@remote.test", ["bob@" + DOMAIN], message)
    assert refused.value.smtp_code == 550
    assert b"2 From: fields" in refused.value.smtp_error


# --- inbound -----------------------------------------------------------------

@pytest.fixture(scope="module")
def sender_key(tmp_path_factory):
    """An outside sender's RSA key: (PEM, DNS record)."""
    d = tmp_path_factory.mktemp("sender")
    key = d / "key.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", str(key)], check=True, capture_output=True)
    der = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return key.read_bytes(), "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def inbound(marker, sender, extra_headers=""):
    return ("From: %s\r\nTo: bob@%s\r\nSubject: %s\r\nDate: Sun, 22 Nov 2026 05:00:00 +0000\r\n"
            "Message-ID: <%s@remote.test>\r\n%s\r\nHello from outside.\r\n"
            % (sender, DOMAIN, marker, marker, extra_headers)).encode()


def signed(message, key, domain, selector="s1", **kw):
    sig = dkim.sign(message, selector.encode(), domain.encode(), key,
                    include_headers=[b"from", b"to", b"subject", b"date", b"message-id"], **kw)
    return sig + message


def authentication_results(raw, authserv_id):
    msg = email.message_from_bytes(raw)
    return [v for v in msg.get_all("Authentication-Results", [])
            if v.strip().split(";")[0].strip().lower() == authserv_id]


@pytest.fixture(scope="module")
def sender_dns(stack, sender_key):
    dns = stack.dns
    # sender.test: SPF allows loopback, DKIM key published, DMARC p=reject
    dns.set("sender.test", "TXT", "v=spf1 ip4:127.0.0.0/8 -all")
    dns.set("s1._domainkey.sender.test", "TXT", sender_key[1])
    dns.set("_dmarc.sender.test", "TXT", "v=DMARC1; p=reject")
    # strict.test: SPF refuses loopback, DMARC p=reject, same key
    dns.set("strict.test", "TXT", "v=spf1 -all")
    dns.set("s1._domainkey.strict.test", "TXT", sender_key[1])
    dns.set("_dmarc.strict.test", "TXT", "v=DMARC1; p=reject")
    return dns


def test_inbound_valid_signature_passes(stack, users, sender_key, sender_dns):
    marker = "in-valid-%f" % time.time()
    send_raw(stack, "ann@sender.test", ["bob@" + DOMAIN],
             signed(inbound(marker, "Ann <ann@sender.test>"), sender_key[0], "sender.test"))
    raw = wait_for_message(stack, "bob@" + DOMAIN, marker)
    ar = authentication_results(raw, stack.hostname)
    assert len(ar) == 1, raw.decode(errors="replace")
    assert "spf=pass smtp.mailfrom=sender.test" in ar[0]
    assert re.search(r"dkim=pass header\.d=sender\.test header\.s=s1 header\.a=rsa-sha256", ar[0]), ar[0]
    assert "dmarc=pass" in ar[0] and "header.from=sender.test" in ar[0]


def test_inbound_broken_and_missing_signatures(stack, users, sender_key, sender_dns):
    # broken: the body changed after signing; SPF still passes, so DMARC passes
    marker = "in-broken-%f" % time.time()
    message = signed(inbound(marker, "ann@sender.test"), sender_key[0], "sender.test")
    send_raw(stack, "ann@sender.test", ["bob@" + DOMAIN], message.replace(b"from outside", b"from elsewhere"))
    raw = wait_for_message(stack, "bob@" + DOMAIN, marker)
    ar = authentication_results(raw, stack.hostname)[0]
    assert "dkim=fail" in ar and "header.d=sender.test" in ar, ar
    assert "dmarc=pass" in ar
    # none at all
    marker = "in-none-%f" % time.time()
    send_raw(stack, "ann@sender.test", ["bob@" + DOMAIN], inbound(marker, "ann@sender.test"))
    ar = authentication_results(wait_for_message(stack, "bob@" + DOMAIN, marker), stack.hostname)[0]
    assert "dkim=none" in ar, ar


def test_dmarc_reject_is_enforced(stack, users, sender_key, sender_dns):
    marker = "in-dmarc-%f" % time.time()
    with pytest.raises(smtplib.SMTPDataError) as refused:
        # SPF passes for the envelope's sender.test, which is not aligned
        # with the From domain; no signature either: DMARC fails
        send_raw(stack, "bounce@sender.test", ["bob@" + DOMAIN], inbound(marker, "ann@strict.test"))
    assert refused.value.smtp_code == 550
    assert b"DMARC policy of strict.test" in refused.value.smtp_error
    # with a valid aligned signature the same message passes
    marker = "in-dmarc-signed-%f" % time.time()
    send_raw(stack, "bounce@sender.test", ["bob@" + DOMAIN],
             signed(inbound(marker, "ann@strict.test"), sender_key[0], "strict.test"))
    ar = authentication_results(wait_for_message(stack, "bob@" + DOMAIN, marker), stack.hostname)[0]
    assert "dkim=pass header.d=strict.test" in ar and "dmarc=pass" in ar, ar


def test_forged_authentication_results_are_all_removed(stack, users, sender_dns):
    marker = "in-forged-%f" % time.time()
    forged = ("Authentication-Results: %s; dkim=pass header.d=bank.test\r\n"
              "Authentication-Results: other.example; spf=pass smtp.mailfrom=x\r\n"
              "Authentication-Results: %s; dmarc=pass header.from=bank.test\r\n"
              "Authentication-Results: (comment) %s; spf=pass\r\n"
              % (stack.hostname, stack.hostname.upper(), stack.hostname))
    send_raw(stack, "ann@sender.test", ["bob@" + DOMAIN], inbound(marker, "ann@sender.test", forged))
    raw = wait_for_message(stack, "bob@" + DOMAIN, marker)
    ours = authentication_results(raw, stack.hostname)
    assert len(ours) == 1, raw.decode(errors="replace")
    assert "bank.test" not in ours[0]
    assert b"other.example; spf=pass" in raw  # someone else's is left alone


def test_short_rsa_key_fails(stack, users, sender_dns, tmp_path):
    key = tmp_path / "short.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:768",
                    "-out", str(key)], check=True, capture_output=True)
    der = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    stack.dns.set("short._domainkey.sender.test", "TXT",
                  "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode())
    marker = "in-short-%f" % time.time()
    send_raw(stack, "ann@sender.test", ["bob@" + DOMAIN],
             signed(inbound(marker, "ann@sender.test"), key.read_bytes(), "sender.test", selector="short"))
    ar = authentication_results(wait_for_message(stack, "bob@" + DOMAIN, marker), stack.hostname)[0]
    assert re.search(r"dkim=(fail|permerror)", ar) and "dkim=pass" not in ar, ar


def test_length_tag_and_rsa_sha1_do_not_pass(stack, users, sender_key, sender_dns):
    marker = "in-ltag-%f" % time.time()
    message = signed(inbound(marker, "ann@sender.test"), sender_key[0], "sender.test", length=True)
    send_raw(stack, "ann@sender.test", ["bob@" + DOMAIN], message + b"Appended: click here\r\n")
    ar = authentication_results(wait_for_message(stack, "bob@" + DOMAIN, marker), stack.hostname)[0]
    assert "dkim=policy" in ar and "unsigned" in ar, ar
    marker = "in-sha1-%f" % time.time()
    message = signed(inbound(marker, "ann@sender.test"), sender_key[0], "sender.test",
                     signature_algorithm=b"rsa-sha1")
    send_raw(stack, "ann@sender.test", ["bob@" + DOMAIN], message)
    ar = authentication_results(wait_for_message(stack, "bob@" + DOMAIN, marker), stack.hostname)[0]
    assert "dkim=fail (rsa-sha1" in ar, ar


def set_milter(stack, **settings):
    with open(stack.context) as f:
        ctx = json.load(f)
    ctx["milter"].update(settings)
    with open(stack.context, "w") as f:
        json.dump(ctx, f, indent=2)
    stack.restart_milter()


def test_dkim_required_domains_and_dns_timeouts(stack, users, sender_key, sender_dns):
    dns = stack.dns
    dns.set("pay.bank.test", "TXT", "v=spf1 ip4:127.0.0.0/8 -all")
    dns.set("s1._domainkey.pay.bank.test", "TXT", sender_key[1])
    set_milter(stack, dkim_required=["*.bank.test"])
    try:
        marker = "in-required-%f" % time.time()
        with pytest.raises(smtplib.SMTPDataError) as refused:
            send_raw(stack, "x@pay.bank.test", ["bob@" + DOMAIN], inbound(marker, "x@pay.bank.test"))
        assert refused.value.smtp_code == 550
        assert b"must carry a valid DKIM signature" in refused.value.smtp_error
        marker = "in-required-signed-%f" % time.time()
        send_raw(stack, "x@pay.bank.test", ["bob@" + DOMAIN],
                 signed(inbound(marker, "x@pay.bank.test"), sender_key[0], "pay.bank.test"))
        wait_for_message(stack, "bob@" + DOMAIN, marker)
        # the key's DNS server does not answer: 451, not a refusal
        dns.silent.add("s2._domainkey.pay.bank.test")
        marker = "in-required-timeout-%f" % time.time()
        started = time.time()
        with pytest.raises(smtplib.SMTPDataError) as deferred:
            send_raw(stack, "x@pay.bank.test", ["bob@" + DOMAIN],
                     signed(inbound(marker, "x@pay.bank.test"), sender_key[0], "pay.bank.test", selector="s2"))
        assert deferred.value.smtp_code == 451, deferred.value.smtp_error
        assert time.time() - started < 30
    finally:
        dns.silent.discard("s2._domainkey.pay.bank.test")
        set_milter(stack, dkim_required=[])


def test_world_readable_key_stops_the_milter(stack, users):
    key = "%s/%s/t1r.key" % (stack.dkim_dir, DOMAIN)
    os_mode = __import__("os").stat(key).st_mode & 0o777
    __import__("os").chmod(key, 0o644)
    try:
        # it refuses before it touches the socket of the running milter
        proc = subprocess.run([stack.milter_bin, "-c", stack.context], capture_output=True,
                              text=True, timeout=30)
        assert proc.returncode == 78, proc.stderr
        assert "t1r.key can be read by anyone (mode 0644)" in proc.stderr
    finally:
        __import__("os").chmod(key, os_mode)
    assert stack.milter_proc.poll() is None


PGP_BODY = ("This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n"
            "--XyZ\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"
            "--XyZ\r\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\r\n\r\n"
            "-----BEGIN PGP MESSAGE-----\r\n\r\nhF4DAAAAAAAAAAASAQdAxyz\r\n=abcd\r\n"
            "-----END PGP MESSAGE-----\r\n\r\n--XyZ--\r\n")


def chat_message(marker, sender, rcpt, encrypted, extra=""):
    if encrypted:
        mime = ("MIME-Version: 1.0\r\nContent-Type: multipart/encrypted;\r\n"
                "\tprotocol=\"application/pgp-encrypted\"; boundary=\"XyZ\"\r\n")
        body = PGP_BODY
    else:
        mime, body = "Content-Type: text/plain\r\n", "in clear text\r\n"
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@chat.test>\r\n%s%s\r\n%s"
            % (sender, rcpt, marker, marker, mime, extra, body))


def test_encryption_only_domain_both_ways(stack, users, sender_dns):
    stack.mailbag("domain", "add", "chat.test", check=True)
    for name in ("cat", "dog", "echo"):
        add_user(stack, name + "@chat.test", name + "-password-123")
    set_milter(stack, encryption_only_domains=["chat.test"], encryption_passthrough=["echo@chat.test"])
    try:
        # outgoing: plain refused, saying why; encrypted passes
        marker = "chat-out-plain-%f" % time.time()
        with pytest.raises(smtplib.SMTPDataError) as refused:
            submit_raw(stack, "cat@chat.test", "cat-password-123", "cat@chat.test", ["dog@chat.test"],
                       chat_message(marker, "cat@chat.test", "dog@chat.test", False))
        assert refused.value.smtp_code == 550
        assert b"Encryption needed: chat.test sends only OpenPGP-encrypted mail" in refused.value.smtp_error
        assert b"not multipart/encrypted" in refused.value.smtp_error
        # the armour lines alone no longer pass: the packets are walked
        # (real OpenPGP, the exemptions: test_encryption_only.py)
        marker = "chat-out-pgp-%f" % time.time()
        with pytest.raises(smtplib.SMTPDataError) as refused:
            submit_raw(stack, "cat@chat.test", "cat-password-123", "cat@chat.test", ["dog@chat.test"],
                       chat_message(marker, "cat@chat.test", "dog@chat.test", True))
        assert b"not valid base64" in refused.value.smtp_error
        # exceptions: a passthrough recipient
        marker = "chat-out-echo-%f" % time.time()
        submit_raw(stack, "cat@chat.test", "cat-password-123", "cat@chat.test", ["echo@chat.test"],
                   chat_message(marker, "cat@chat.test", "echo@chat.test", False))
        wait_for_message(stack, "echo@chat.test", marker)
        # incoming: plain refused
        marker = "chat-in-plain-%f" % time.time()
        with pytest.raises(smtplib.SMTPDataError) as refused:
            send_raw(stack, "ann@sender.test", ["dog@chat.test"],
                     chat_message(marker, "ann@sender.test", "dog@chat.test", False))
        assert refused.value.smtp_code == 550
        assert b"chat.test takes only OpenPGP-encrypted mail" in refused.value.smtp_error
        # a domain not in the list is not touched
        marker = "chat-other-%f" % time.time()
        send_raw(stack, "ann@sender.test", ["bob@" + DOMAIN],
                 chat_message(marker, "ann@sender.test", "bob@" + DOMAIN, False))
        wait_for_message(stack, "bob@" + DOMAIN, marker)
    finally:
        set_milter(stack, encryption_only_domains=[], encryption_passthrough=[])


def selectors_of(raw):
    msg = email.message_from_bytes(raw)
    return sorted(re.search(r"\bs=([\w-]+)", s).group(1) for s in msg.get_all("DKIM-Signature", []))


def mailbag_with_test_dns(stack, *args):
    """The mailbag command asking the test DNS server, as the milter does."""
    return subprocess.run(["unshare", "--mount", "--", "sh", "-c",
                           'mount --bind "$0" /etc/resolv.conf && exec "$@"', stack.resolv_conf,
                           stack.mailbag_bin, "--context", stack.context, *args],
                          capture_output=True, text=True)


def test_key_rotation_publishes_first_then_switches(stack, users):
    stack.mailbag("domain", "add", "rot.test", check=True)
    add_user(stack, "rob@rot.test", "rob-password-123")
    stack.mailbag("dkim", "keygen", "--selector", "a1", "rot.test", check=True)

    def signed_selectors(tag):
        marker = "rot-%s-%f" % (tag, time.time())
        submit_raw(stack, "rob@rot.test", "rob-password-123", "rob@rot.test", ["rob@rot.test"],
                   outbound_message(marker, sender="rob@rot.test").replace("bob@" + DOMAIN, "rob@rot.test"))
        raw = wait_for_message(stack, "rob@rot.test", marker)
        dns = dnsfunc_for(dns_records(stack, "rot.test"))
        assert verifies(raw, 0, dns) and verifies(raw, 1, dns)
        return selectors_of(raw)

    assert signed_selectors("before") == ["a1e", "a1r"]
    out = stack.mailbag("dkim", "rotate", "--selector", "b2", "rot.test")
    assert out.returncode == 0, out.stderr
    assert "b2r._domainkey.rot.test" in out.stdout and "publish the records above now" in out.stdout
    # published first: the old pair keeps signing until the new one is seen
    time.sleep(1.1)
    assert signed_selectors("pending") == ["a1e", "a1r"]
    states = {r["selector"]: r["state"] for r in
              json.loads(stack.mailbag("--json", "dkim", "show", "rot.test", check=True).stdout)}
    assert states["a1r"] == "signing" and states["b2r"].startswith("pending")
    out = mailbag_with_test_dns(stack, "dkim", "activate", "rot.test")
    assert out.returncode == 75, out.stdout + out.stderr
    assert "not in DNS yet" in out.stderr
    records = dns_records(stack, "rot.test")
    for selector in ("b2r", "b2e"):
        name = "%s._domainkey.rot.test" % selector
        stack.dns.set(name, "TXT", records[name])
    out = mailbag_with_test_dns(stack, "dkim", "activate", "rot.test")
    assert out.returncode == 0, out.stderr
    time.sleep(1.1)  # the milter looks at the key directory once a second
    assert signed_selectors("after") == ["b2e", "b2r"]
    states = {r["selector"]: r["state"] for r in
              json.loads(stack.mailbag("--json", "dkim", "show", "rot.test", check=True).stdout)}
    assert states["b2e"] == "signing" and states["a1e"].startswith("retired: keep published until")


def test_strict_mode_and_dmarc_quarantine(stack, users, sender_key, sender_dns):
    # the chatmail seed's strict mode: nothing unsigned gets in
    set_milter(stack, require_dkim=True)
    try:
        marker = "strict-unsigned-%f" % time.time()
        with pytest.raises(smtplib.SMTPDataError) as refused:
            send_raw(stack, "ann@sender.test", ["bob@" + DOMAIN], inbound(marker, "ann@sender.test"))
        assert refused.value.smtp_code == 550
        assert b"must carry a valid DKIM signature" in refused.value.smtp_error
        marker = "strict-signed-%f" % time.time()
        send_raw(stack, "ann@sender.test", ["bob@" + DOMAIN],
                 signed(inbound(marker, "ann@sender.test"), sender_key[0], "sender.test"))
        wait_for_message(stack, "bob@" + DOMAIN, marker)
    finally:
        set_milter(stack, require_dkim=False)
    # DMARC p=reject failures held in Postfix's hold queue instead
    set_milter(stack, dmarc_reject_action="quarantine")
    try:
        marker = "quarantine-%f" % time.time()
        send_raw(stack, "bounce@sender.test", ["bob@" + DOMAIN], inbound(marker, "ann@strict.test"))
        deadline = time.time() + 15
        held = ""
        while time.time() < deadline and "!" not in held:
            held = subprocess.run(["postqueue", "-c", stack.postfix_etc, "-p"],
                                  capture_output=True, text=True).stdout
            time.sleep(0.3)
        assert "!" in held, held            # "!" marks a held message
        assert not any(marker.encode() in m for m in stack.maildir_messages("bob@" + DOMAIN))
        subprocess.run(["postsuper", "-c", stack.postfix_etc, "-d", "ALL", "hold"], capture_output=True)
    finally:
        set_milter(stack, dmarc_reject_action="reject")


def test_dns_records_publish_what_the_server_needs(stack, users):
    import dns.zone
    records = json.loads(stack.mailbag("--json", "dns", "records", DOMAIN, check=True).stdout)
    by = {}
    for r in records:
        by.setdefault((r["name"], r["type"]), []).append(r["value"])
    assert by[(DOMAIN, "MX")] == ["10 %s." % stack.hostname]
    assert by[(DOMAIN, "TXT")] == ["v=spf1 mx -all"]
    assert by[("_dmarc." + DOMAIN, "TXT")][0].startswith("v=DMARC1; p=reject")
    assert by[("_mta-sts." + DOMAIN, "TXT")][0].startswith("v=STSv1; id=")
    assert by[("_smtp._tls." + DOMAIN, "TXT")][0].startswith("v=TLSRPTv1; rua=mailto:")
    # the ports of the context's clients.*_port, 0 as "not offered"
    with open(stack.context) as f:
        clients = json.load(f)["clients"]
    assert by[("_submissions._tcp." + DOMAIN, "SRV")] == [
        "0 1 %d %s." % (clients["submissions_port"], stack.hostname)]
    assert by[("_imaps._tcp." + DOMAIN, "SRV")] == (
        ["0 0 0 ."] if clients["imaps_port"] == 0 else
        ["0 1 %d %s." % (clients["imaps_port"], stack.hostname)])
    assert ("autoconfig." + DOMAIN, "CNAME") in by and ("autodiscover." + DOMAIN, "CNAME") in by
    # the DKIM records are the signing keys', and a message the milter
    # signs verifies against them
    dkim_records = {name: values[0] for (name, rtype), values in by.items() if "._domainkey." in name}
    assert set(dkim_records) == {"t1r._domainkey." + DOMAIN, "t1e._domainkey." + DOMAIN}
    marker = "dnsrecords-%f" % time.time()
    submit_raw(stack, "ann@" + DOMAIN, "ann-password-123", "ann@" + DOMAIN, ["bob@" + DOMAIN],
               outbound_message(marker))
    raw = wait_for_message(stack, "bob@" + DOMAIN, marker)
    assert verifies(raw, 0, dnsfunc_for(dkim_records)) and verifies(raw, 1, dnsfunc_for(dkim_records))
    # the zone-file form is a zone a DNS server takes
    text = stack.mailbag("dns", "records", DOMAIN, check=True).stdout
    zone = dns.zone.from_text("$TTL 3600\n@ IN SOA ns. host. 1 2 3 4 5\n@ IN NS ns.\n" + text,
                              origin=DOMAIN + ".", relativize=False, check_origin=False)
    assert zone.get_rdataset("t1r._domainkey." + DOMAIN + ".", "TXT") is not None
    assert len(list(zone.iterate_rdatas("SRV"))) == 4
