"""mailbag-milter judges each DKIM signature of a message on its own
(RFC 6376 section 6.1): a malformed one, one whose key does not exist
and one whose key DNS cannot give now sit beside a valid one without
hiding it. Each message carries two signatures; the Authentication-
Results field carries one dkim= result per signature, in their order,
and each one's pass or not is dkimpy's `verify` of that signature alone.
Keys come from the test DNS server (dnsserver.py): published, NXDOMAIN,
an empty TXT, a name with no TXT, SERVFAIL and no answer at all. Then the
policies: milter.dkim_required and DMARC p=reject answer 451 only when a
missing DNS answer could have changed the decision."""

import base64
import email
import re
import smtplib
import subprocess
import time

import dkim
import pytest

from helpers import add_user
from test_milter import authentication_results, send_raw, set_milter, wait_for_message

RCPT_DOMAIN = "sigs.test"
RCPT = "rcv@" + RCPT_DOMAIN
ALIGNED = "good.test"        # the From domain: DMARC p=reject, SPF none
OTHER = "other.test"         # a valid signer that is not the From domain
ENVELOPE = "bounce@env.test"  # no SPF record: DMARC rests on DKIM alone
SIGNED_HEADERS = [b"from", b"to", b"subject", b"date", b"message-id"]


@pytest.fixture(scope="module")
def key(tmp_path_factory):
    """One RSA key (PEM, DNS record) for every signer of these tests."""
    d = tmp_path_factory.mktemp("sigs")
    pem = d / "key.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", str(pem)], check=True, capture_output=True)
    der = subprocess.run(["openssl", "pkey", "-in", str(pem), "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return pem.read_bytes(), "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


@pytest.fixture(scope="module")
def world(stack, key):
    stack.mailbag("domain", "add", RCPT_DOMAIN, check=True)
    add_user(stack, RCPT, "rcv-password-123")
    dns = stack.dns
    for domain in (ALIGNED, "mail." + ALIGNED, OTHER):
        dns.set("s1._domainkey." + domain, "TXT", key[1])
        dns.set("_dmarc." + domain, "TXT", "v=DMARC1; p=reject")
        # the key names that fail, one way each
        dns.set("empty._domainkey." + domain, "TXT", "")              # a TXT that is empty
        dns.set("nodata._domainkey." + domain, "A", "192.0.2.1")       # no TXT at the name
        dns.servfail.add("servfail._domainkey." + domain)              # SERVFAIL
        dns.silent.add("silent._domainkey." + domain)                  # no answer at all
        # nx._domainkey.DOMAIN is in no record: NXDOMAIN
    yield dns
    for domain in (ALIGNED, "mail." + ALIGNED, OTHER):
        dns.servfail.discard("servfail._domainkey." + domain)
        dns.silent.discard("silent._domainkey." + domain)


def message(marker, sender="ann@" + ALIGNED, from_field=True):
    return (("From: %s\r\n" % sender if from_field else "") +
            "To: %s\r\nSubject: %s\r\nDate: Sun, 22 Nov 2026 05:00:00 +0000\r\n"
            "Message-ID: <%s@remote.test>\r\n\r\nHello from outside.\r\n"
            % (RCPT, marker, marker)).encode()


def signature(msg, key, domain, selector, **kw):
    """A DKIM-Signature field of msg by dkimpy (the field, CRLF ended)."""
    return dkim.sign(msg, selector.encode(), domain.encode(), key[0], include_headers=SIGNED_HEADERS, **kw)


def with_fields(msg, *fields):
    return b"".join(fields) + msg


def malformed_tag(msg, key):
    """A field that does not parse: a tag without a value."""
    return b"DKIM-Signature: v=1; a=rsa-sha256; d=" + ALIGNED.encode() + b"; s=s1; bh\r\n"


def no_version(msg, key):
    """A real signature with its v= taken out."""
    return signature(msg, key, ALIGNED, "s1").replace(b"v=1; ", b"", 1)


def unknown_algorithm(name):
    def make(msg, key):
        return signature(msg, key, ALIGNED, "s1").replace(b"a=rsa-sha256", b"a=" + name.encode(), 1)
    return make


def signed_by(domain, selector):
    def make(msg, key):
        return signature(msg, key, domain, selector)
    return make


def dkim_results(ar):
    """[(result, reason, header.s, header.a)] of an A-R value, in order."""
    out = []
    for entry in re.split(r";\s*(?=[a-z]+=)", ar):
        m = re.match(r"\s*dkim=(\w+)", entry)
        if not m:
            continue
        rest = entry[m.end():]
        reason = re.match(r"\s*\((.*)\)\s*(header\.d=|$)", rest, re.S)
        s = re.search(r"header\.s=(\S+)", rest)
        a = re.search(r"header\.a=(\S+)", rest)
        out.append((m.group(1), reason.group(1) if reason else "", s.group(1) if s else None,
                    a.group(1) if a else None))
    return out


def dnsfunc(dns):
    def lookup(name, timeout=5):
        values = dns.records.get((name.decode().lower().rstrip("."), "TXT"))
        return values[0].encode() if values else None
    return lookup


def dkimpy_verdicts(raw, dns):
    """dkimpy's verify of each signature alone."""
    msg = email.message_from_bytes(raw)
    verdicts = []
    for i in range(len(msg.get_all("DKIM-Signature", []))):
        try:
            verdicts.append(bool(dkim.DKIM(raw).verify(idx=i, dnsfunc=dnsfunc(dns))))
        except Exception:   # dkimpy raises for some malformed signatures
            verdicts.append(False)
    return verdicts


def deliver(stack, raw):
    marker = re.search(rb"Subject: (\S+)", raw).group(1).decode()
    send_raw(stack, ENVELOPE, [RCPT], raw)
    got = wait_for_message(stack, RCPT, marker)
    ars = authentication_results(got, stack.hostname)
    assert len(ars) == 1, got.decode(errors="replace")
    return got, ars[0]


def refused(stack, raw):
    with pytest.raises(smtplib.SMTPDataError) as e:
        send_raw(stack, ENVELOPE, [RCPT], raw)
    return e.value.smtp_code, e.value.smtp_error.decode(errors="replace")


# (second signature, its result, a word its reason must have)
BESIDE_A_VALID_ONE = [
    ("malformed", malformed_tag, "neutral", "syntax"),
    ("no-version", no_version, "neutral", "syntax"),
    ("nxdomain", signed_by(ALIGNED, "nx"), "permerror", "no key"),
    ("empty-txt", signed_by(ALIGNED, "empty"), "permerror", "key"),
    ("no-txt", signed_by(ALIGNED, "nodata"), "permerror", "no key"),
    ("servfail", signed_by(ALIGNED, "servfail"), "temperror", "DNS"),
    ("timeout", signed_by(ALIGNED, "silent"), "temperror", "DNS"),
    ("rsa-md5", unknown_algorithm("rsa-md5"), "neutral", "rsa-md5"),
    ("dsa-sha1", unknown_algorithm("dsa-sha1"), "neutral", "dsa-sha1"),
]


@pytest.mark.parametrize("name,make,want,why", BESIDE_A_VALID_ONE, ids=[c[0] for c in BESIDE_A_VALID_ONE])
@pytest.mark.parametrize("order", ["valid-first", "valid-last"])
def test_each_signature_on_its_own(stack, world, key, name, make, want, why, order):
    marker = "sig-%s-%s-%f" % (name, order, time.time())
    msg = message(marker)
    valid, other = signature(msg, key, ALIGNED, "s1"), make(msg, key)
    fields = (valid, other) if order == "valid-first" else (other, valid)
    raw, ar = deliver(stack, with_fields(msg, *fields))
    results = dkim_results(ar)
    assert len(results) == 2, ar
    mine = dict(zip(("valid", "other"), results if order == "valid-first" else results[::-1]))
    assert mine["valid"][0] == "pass" and mine["valid"][2] == "s1", ar
    assert mine["other"][0] == want, ar
    assert why in mine["other"][1], ar
    assert "dmarc=pass" in ar, ar
    # each signature's pass or not is dkimpy's
    assert [r[0] == "pass" for r in results] == dkimpy_verdicts(raw, world), ar


@pytest.mark.parametrize("algorithm", ["rsa-md5", "dsa-sha1"])
def test_unknown_algorithm_is_named(stack, world, key, algorithm):
    marker = "sig-alg-%s-%f" % (algorithm, time.time())
    msg = message(marker)
    raw, ar = deliver(stack, with_fields(msg, unknown_algorithm(algorithm)(msg, key),
                                         signature(msg, key, ALIGNED, "s1")))
    results = dkim_results(ar)
    assert results[0][0] == "neutral" and results[0][3] == algorithm, ar
    assert "rsa-sha1" not in ar, ar
    assert results[1][0] == "pass", ar


def test_signature_without_from_field(stack, world, key):
    marker = "sig-nofrom-%f" % time.time()
    msg = message(marker, from_field=False)
    raw, ar = deliver(stack, with_fields(msg, signature(msg, key, OTHER, "s1")))
    results = dkim_results(ar)
    assert len(results) == 1 and results[0][0] == "permerror", ar
    assert "From" in results[0][1] and results[0][2] == "s1", ar
    assert "dkim=none" not in ar


@pytest.fixture
def required(stack, world):
    set_milter(stack, dkim_required=[ALIGNED])
    yield
    set_milter(stack, dkim_required=[])


REQUIRED_ALONE = [
    ("nxdomain", "nx", 550),
    ("empty-txt", "empty", 550),
    ("no-txt", "nodata", 550),
    ("servfail", "servfail", 451),
    ("timeout", "silent", 451),
]


@pytest.mark.parametrize("name,selector,code", REQUIRED_ALONE, ids=[c[0] for c in REQUIRED_ALONE])
def test_dkim_required_missing_key_is_permanent(stack, required, key, name, selector, code):
    marker = "req-%s-%f" % (name, time.time())
    msg = message(marker)
    got, text = refused(stack, with_fields(msg, signature(msg, key, ALIGNED, selector)))
    assert got == code, text


def test_dkim_required_valid_beside_malformed_passes(stack, required, key):
    marker = "req-malformed-%f" % time.time()
    msg = message(marker)
    raw, ar = deliver(stack, with_fields(msg, malformed_tag(msg, key), signature(msg, key, ALIGNED, "s1")))
    assert [r[0] for r in dkim_results(ar)] == ["neutral", "pass"], ar


def test_dkim_required_unaligned_timeout_does_not_defer(stack, required, key):
    # a valid aligned signature is missing and the one that timed out is
    # not of the From domain: nothing DNS could say would change that
    marker = "req-unaligned-timeout-%f" % time.time()
    msg = message(marker)
    got, text = refused(stack, with_fields(msg, signature(msg, key, OTHER, "silent"),
                                           signature(msg, key, ALIGNED, "nx")))
    assert got == 550, text


DMARC_CASES = [
    # (name, From domain, signatures (domain, selector), outcome)
    ("unaligned-valid+aligned-nxdomain", ALIGNED, [(OTHER, "s1"), (ALIGNED, "nx")], 550),
    ("unaligned-valid+aligned-malformed", ALIGNED, [(OTHER, "s1"), (ALIGNED, "malformed")], 550),
    ("unaligned-valid+unaligned-timeout", ALIGNED, [(OTHER, "s1"), (OTHER, "silent")], 550),
    ("unaligned-valid+unaligned-servfail", ALIGNED, [(OTHER, "s1"), (OTHER, "servfail")], 550),
    ("unaligned-valid+aligned-timeout", ALIGNED, [(OTHER, "s1"), (ALIGNED, "silent")], 451),
    ("unaligned-valid+aligned-servfail", ALIGNED, [(OTHER, "s1"), (ALIGNED, "servfail")], 451),
    ("aligned-valid+aligned-timeout", ALIGNED, [(ALIGNED, "s1"), (ALIGNED, "silent")], "pass"),
    ("aligned-timeout+aligned-valid", ALIGNED, [(ALIGNED, "silent"), (ALIGNED, "s1")], "pass"),
    # From mail.good.test, signed by its parent good.test (relaxed alignment)
    ("parent-valid+parent-timeout", "mail." + ALIGNED, [(ALIGNED, "s1"), (ALIGNED, "silent")], "pass"),
    ("parent-valid+parent-nxdomain", "mail." + ALIGNED, [(ALIGNED, "s1"), (ALIGNED, "nx")], "pass"),
    ("parent-valid+exact-nxdomain", "mail." + ALIGNED, [(ALIGNED, "s1"), ("mail." + ALIGNED, "nx")], "pass"),
]


@pytest.mark.parametrize("name,from_domain,sigs,outcome", DMARC_CASES, ids=[c[0] for c in DMARC_CASES])
def test_dmarc_reject_waits_only_for_what_could_change_it(stack, world, key, name, from_domain, sigs, outcome):
    marker = "dmarc-%s-%f" % (name, time.time())
    msg = message(marker, sender="ann@" + from_domain)
    fields = [malformed_tag(msg, key) if s == "malformed" else signature(msg, key, d, s) for d, s in sigs]
    raw = with_fields(msg, *fields)
    if outcome == "pass":
        got, ar = deliver(stack, raw)
        assert "dmarc=pass" in ar, ar
        assert len(dkim_results(ar)) == 2, ar
        assert [r[0] == "pass" for r in dkim_results(ar)] == dkimpy_verdicts(got, world), ar
    else:
        code, text = refused(stack, raw)
        assert code == outcome, text
        if code == 550:
            assert "DMARC policy of %s" % from_domain in text, text
