"""`mailbag dns check` (issue 7) against a real DNS server: Debian's NSD,
run by the test on a loopback port with a test zone built from what
`mailbag dns records` prints. A complete zone passes; then each record in
turn is removed or made wrong and the check must name it."""

import ipaddress
import json
import os
import shutil
import signal
import subprocess
import time

import dns.message
import dns.query
import pytest

from mailstack import free_port, make_certificate

DOMAIN = "dnscheck.test"
HOST = "mx.dnscheck.test"
ADDRESS4 = "192.0.2.10"
ADDRESS6 = "2001:db8::10"
REVERSE4 = "10.2.0.192.in-addr.arpa"
REVERSE6 = ".".join(reversed("20010db8000000000000000000000010")) + ".ip6.arpa"
ZONES = {DOMAIN: DOMAIN, "rev4": "2.0.192.in-addr.arpa",
         "rev6": ".".join(reversed("20010db8")) + ".ip6.arpa"}


class Nsd:
    """NSD serving zone files from one directory on 127.0.0.1:port."""

    def __init__(self, directory):
        self.dir = directory
        self.port = free_port()
        self.proc = None
        os.makedirs(directory, exist_ok=True)

    def start(self, records):
        """records: (name, type, value) tuples, written into the zones."""
        self.stop()
        conf = os.path.join(self.dir, "nsd.conf")
        with open(conf, "w") as f:
            f.write('server:\n  ip-address: 127.0.0.1@%d\n  username: ""\n  zonesdir: "%s"\n'
                    '  pidfile: "%s/nsd.pid"\n  database: ""\n  zonelistfile: "%s/zone.list"\n'
                    '  xfrdfile: "%s/xfrd.state"\n  xfrdir: "%s"\n  logfile: "%s/nsd.log"\n'
                    '  server-count: 1\n  verbosity: 1\nremote-control:\n  control-enable: no\n'
                    % (self.port, self.dir, self.dir, self.dir, self.dir, self.dir, self.dir))
            for key, origin in ZONES.items():
                f.write('zone:\n  name: "%s"\n  zonefile: "%s.zone"\n' % (origin, key))
        for key, origin in ZONES.items():
            with open(os.path.join(self.dir, key + ".zone"), "w") as f:
                f.write("$TTL 300\n$ORIGIN %s.\n@ IN SOA ns.%s. hostmaster.%s. 1 3600 600 86400 300\n"
                        "@ IN NS ns.%s.\n" % (origin, DOMAIN, DOMAIN, DOMAIN))
                for name, rtype, value in records:
                    if name == origin or name.endswith("." + origin):
                        f.write("%s. IN %s %s\n" % (name, rtype, zone_value(rtype, value)))
        for stale in ("nsd.pid", "zone.list", "xfrd.state"):
            if os.path.exists(os.path.join(self.dir, stale)):
                os.unlink(os.path.join(self.dir, stale))
        self.proc = subprocess.Popen(["nsd", "-d", "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 15
        while time.time() < deadline:
            assert self.proc.poll() is None, open(os.path.join(self.dir, "nsd.log")).read()
            try:
                answer = dns.query.udp(dns.message.make_query(DOMAIN, "SOA"), "127.0.0.1",
                                       port=self.port, timeout=0.5)
                if answer.answer:
                    return
            except Exception:
                pass
            time.sleep(0.1)
        raise AssertionError("nsd did not answer: " + open(os.path.join(self.dir, "nsd.log")).read())

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None


def zone_value(rtype, value):
    if rtype != "TXT":
        return value
    return " ".join('"%s"' % value[i:i + 250] for i in range(0, len(value), 250))


@pytest.fixture(scope="module")
def setup(stack, tmp_path_factory):
    """A context of its own (hostname HOST, its certificate, DKIM keys of
    DOMAIN) beside the stack's store, the complete record set, and NSD."""
    work = str(tmp_path_factory.mktemp("dnscheck"))
    with open(stack.context) as f:
        ctx = json.load(f)
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    make_certificate(HOST, cert, key)
    ctx["hostname"] = HOST
    ctx["dkim"] = {"key_dir": os.path.join(work, "dkim")}
    ctx["tls"] = {"certificates": {HOST: {"cert": cert, "key": key}},
                  "postfix_sni_map": os.path.join(work, "sni"),
                  "dovecot_conf": os.path.join(work, "tls.conf")}
    ctx["clients"] = {"submission_port": 587, "submissions_port": 465, "imap_port": 143,
                      "imaps_port": 993}
    context = os.path.join(work, "context.json")
    with open(context, "w") as f:
        json.dump(ctx, f)
    mailbag = [stack.mailbag_bin, "--context", context]
    subprocess.run(mailbag + ["dkim", "keygen", DOMAIN], check=True, capture_output=True)
    out = subprocess.run(mailbag + ["--json", "dns", "records", DOMAIN], check=True,
                         capture_output=True, text=True).stdout
    records = [(r["name"], r["type"], r["value"]) for r in json.loads(out)]
    records += [(HOST, "A", ADDRESS4), (HOST, "AAAA", ADDRESS6),
                (REVERSE4, "PTR", HOST + "."), (REVERSE6, "PTR", HOST + ".")]
    nsd = Nsd(os.path.join(work, "nsd"))
    yield mailbag, records, nsd
    nsd.stop()


def check(setup, records):
    """Run dns check against NSD serving records: (exit code, {(type,
    name): (status, detail)}, text output)."""
    mailbag, _, nsd = setup
    nsd.start(records)
    server = ["--server", "127.0.0.1:%d" % nsd.port]
    proc = subprocess.run(mailbag + ["--json", "dns", "check"] + server + [DOMAIN],
                          capture_output=True, text=True, timeout=60)
    assert proc.stderr == "", proc.stderr
    results = {}
    for r in json.loads(proc.stdout):
        results.setdefault((r["type"], r["name"]), (r["status"], r["detail"]))
    text = subprocess.run(mailbag + ["dns", "check"] + server + [DOMAIN],
                          capture_output=True, text=True, timeout=60)
    assert text.returncode == proc.returncode
    return proc.returncode, results, text.stdout


def without(records, name, rtype):
    kept = [r for r in records if not (r[0] == name and r[1] == rtype)]
    assert len(kept) < len(records), (name, rtype)
    return kept


def replaced(records, name, rtype, value):
    return without(records, name, rtype) + [(name, rtype, value)]


def dkim_names(records):
    return [r[0] for r in records if r[1] == "TXT" and "._domainkey." in r[0]]


def test_complete_zone_passes(setup):
    _, records, _ = setup
    code, results, text = check(setup, records)
    bad = {k: v for k, v in results.items() if v[0] != "ok"}
    assert code == 0 and bad == {}, text
    assert results[("MX", DOMAIN)][0] == "ok"
    assert results[("SPF", DOMAIN)] == ("ok", "v=spf1 mx -all")
    assert results[("A", HOST)] == ("ok", "%s, %s" % (ADDRESS4, ADDRESS6))
    assert results[("PTR", REVERSE4)] == ("ok", HOST)
    assert results[("PTR", REVERSE6)] == ("ok", HOST)
    assert results[("TLSA", "_25._tcp." + HOST)][0] == "ok"
    assert len(dkim_names(records)) == 2
    for name in dkim_names(records):
        assert results[("DKIM", name)][0] == "ok"
    assert text.rstrip().endswith("0 problems")


@pytest.mark.parametrize("case", [
    "no MX", "MX elsewhere", "no SPF", "SPF not covering", "two SPF", "no DKIM",
    "DKIM changed", "no DMARC", "no A", "no PTR", "PTR elsewhere", "TLSA changed",
    "MTA-STS id changed", "SRV wrong port",
])
def test_each_record_removed_or_wrong_is_named(setup, case):
    _, records, _ = setup
    dkim = dkim_names(records)[0]
    tlsa = "_25._tcp." + HOST
    cases = {
        # names outside the zone would be REFUSED by NSD (not a resolver): kept inside
        "no MX": (without(records, DOMAIN, "MX"), ("MX", DOMAIN), "missing", "no MX record"),
        "MX elsewhere": (replaced(records, DOMAIN, "MX", "10 mx.elsewhere.dnscheck.test."), ("MX", DOMAIN),
                         "wrong", "none is " + HOST),
        "no SPF": ([r for r in records if not r[2].startswith("v=spf1")], ("SPF", DOMAIN),
                   "missing", "no v=spf1 record"),
        "SPF not covering": ([r for r in records if not r[2].startswith("v=spf1")] +
                             [(DOMAIN, "TXT", "v=spf1 ip4:198.51.100.0/24 a:other.dnscheck.test ~all")],
                             ("SPF", DOMAIN), "wrong", "does not let this host's %s, %s send"
                             % (ADDRESS4, ADDRESS6)),
        "two SPF": (records + [(DOMAIN, "TXT", "v=spf1 -all")], ("SPF", DOMAIN), "wrong",
                    "more than one v=spf1 record"),
        "no DKIM": (without(records, dkim, "TXT"), ("DKIM", dkim), "missing",
                    'publish "%s"' % [r[2] for r in records if r[0] == dkim][0]),
        "DKIM changed": (replaced(records, dkim, "TXT", "v=DKIM1; k=rsa; p=MIIBIjANBgkq"),
                         ("DKIM", dkim), "wrong", "signatures will fail"),
        "no DMARC": (without(records, "_dmarc." + DOMAIN, "TXT"), ("DMARC", "_dmarc." + DOMAIN),
                     "missing", "no v=DMARC1 record"),
        "no A": (without(without(records, HOST, "A"), HOST, "AAAA"), ("A", HOST), "missing",
                 "no A or AAAA record"),
        "no PTR": (without(records, REVERSE4, "PTR"), ("PTR", REVERSE4), "missing",
                   "%s has no PTR record" % ADDRESS4),
        "PTR elsewhere": (replaced(records, REVERSE6, "PTR", "host.provider.test."),
                          ("PTR", REVERSE6), "wrong", "names host.provider.test, not " + HOST),
        "TLSA changed": (replaced(records, tlsa, "TLSA", "3 1 1 " + "ab" * 32), ("TLSA", tlsa),
                         "wrong", "does not match the certificate's key"),
        "MTA-STS id changed": (replaced(records, "_mta-sts." + DOMAIN, "TXT", "v=STSv1; id=1"),
                               ("MTA-STS", "_mta-sts." + DOMAIN), "wrong", "want \"v=STSv1; id="),
        "SRV wrong port": (replaced(records, "_imaps._tcp." + DOMAIN, "SRV", "0 1 9993 %s." % HOST),
                           ("SRV", "_imaps._tcp." + DOMAIN), "wrong", "9993"),
    }
    zone, key, status, words = cases[case]
    code, results, text = check(setup, zone)
    assert code == 1, text
    assert results[key][0] == status and words in results[key][1], (results[key], text)
    others = {k: v for k, v in results.items() if v[0] != "ok" and k != key}
    if case == "no A":
        # without an address, SPF cannot be judged either
        assert set(others) == {("SPF", DOMAIN)} and others[("SPF", DOMAIN)][0] == "error"
    elif case in ("no MX", "MX elsewhere"):
        # "v=spf1 mx -all" covers this host through the MX only
        assert set(others) == {("SPF", DOMAIN)} and others[("SPF", DOMAIN)][0] == "wrong"
    else:
        assert others == {}, text
    assert "%s %s %s:" % (status.ljust(8), key[0].ljust(6), key[1]) in text


def test_spf_include_and_networks_are_evaluated(setup):
    _, records, _ = setup
    zone = [r for r in records if not r[2].startswith("v=spf1")] + [
        (DOMAIN, "TXT", "v=spf1 ip4:203.0.113.0/24 include:_spf.%s -all" % DOMAIN),
        ("_spf." + DOMAIN, "TXT", "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ?all")]
    code, results, text = check(setup, zone)
    assert code == 0 and results[("SPF", DOMAIN)][0] == "ok", text
    # a redirect to a record that fails the host is wrong
    zone = [r for r in records if not r[2].startswith("v=spf1")] + [
        (DOMAIN, "TXT", "v=spf1 redirect=_spf.%s" % DOMAIN),
        ("_spf." + DOMAIN, "TXT", "v=spf1 ip4:192.0.2.0/24 -all")]
    code, results, text = check(setup, zone)
    assert code == 1 and results[("SPF", DOMAIN)][0] == "wrong", text
    assert ADDRESS6 in results[("SPF", DOMAIN)][1] and ADDRESS4 + "," not in results[("SPF", DOMAIN)][1]


def spf_zone(records, *spf):
    """records with the domain's SPF replaced by spf: (name, value) TXT pairs."""
    return [r for r in records if not r[2].startswith("v=spf1")] + [
        (name, "TXT", value) for name, value in spf]


def nibbles(address6):
    """%{i} of an IPv6 address (RFC 7208 7.3): its nibbles, dot-separated."""
    return ".".join(ipaddress.ip_address(address6).exploded.replace(":", ""))


def test_spf_exists_macro_and_ptr_are_evaluated(setup):
    _, records, _ = setup
    exists = "v=spf1 exists:%%{i}._spf.%s -all" % DOMAIN
    both = spf_zone(records, (DOMAIN, exists))
    both += [("%s._spf.%s" % (ADDRESS4, DOMAIN), "A", "127.0.0.2"),
             ("%s._spf.%s" % (nibbles(ADDRESS6), DOMAIN), "A", "127.0.0.2")]
    code, results, text = check(setup, both)
    assert code == 0 and results[("SPF", DOMAIN)] == ("ok", exists), text
    # the IPv6 address's name gone: exists: does not match it
    one = [r for r in both if not r[0].startswith(nibbles(ADDRESS6))]
    code, results, text = check(setup, one)
    assert code == 1 and results[("SPF", DOMAIN)][0] == "wrong", text
    detail = results[("SPF", DOMAIN)][1]
    assert "does not let this host's %s send" % ADDRESS6 in detail, detail
    # ptr: the PTR names mx.dnscheck.test, whose A/AAAA are this host's
    code, results, text = check(setup, spf_zone(records, (DOMAIN, "v=spf1 ptr -all")))
    assert code == 0 and results[("SPF", DOMAIN)] == ("ok", "v=spf1 ptr -all"), text


def test_spf_include_chains_pass_and_fail(setup):
    _, records, _ = setup
    chain = [(DOMAIN, "v=spf1 include:one._spf.%s -all" % DOMAIN),
             ("one._spf." + DOMAIN, "v=spf1 ip4:203.0.113.0/24 include:two._spf.%s ?all" % DOMAIN)]
    passing = chain + [("two._spf." + DOMAIN, "v=spf1 a:%s -all" % HOST)]
    code, results, text = check(setup, spf_zone(records, *passing))
    assert code == 0 and results[("SPF", DOMAIN)][0] == "ok", text
    failing = chain + [("two._spf." + DOMAIN, "v=spf1 ip4:198.51.100.0/24 -all")]
    code, results, text = check(setup, spf_zone(records, *failing))
    assert code == 1 and results[("SPF", DOMAIN)][0] == "wrong", text
    assert "does not let this host's %s, %s send" % (ADDRESS4, ADDRESS6) in results[("SPF", DOMAIN)][1]
    # an include whose target has no record is a permanent error (RFC 7208 5.2)
    dangling = chain + [("two._spf." + DOMAIN, "not an spf record")]
    code, results, text = check(setup, spf_zone(records, *dangling))
    assert code == 1 and results[("SPF", DOMAIN)][0] == "wrong", text
    assert "permanent error" in results[("SPF", DOMAIN)][1], text


def test_spf_too_many_lookups_is_a_permanent_error(setup):
    _, records, _ = setup
    # eleven mechanisms that query DNS (RFC 7208 4.6.4 allows ten), none matching
    record = "v=spf1 " + " ".join("a:n%d.%s" % (i, DOMAIN) for i in range(11)) + " -all"
    code, results, text = check(setup, spf_zone(records, (DOMAIN, record)))
    assert code == 1, text
    status, detail = results[("SPF", DOMAIN)]
    assert status == "wrong" and "permanent error" in detail and "too many DNS lookups" in detail, text
    assert "%s, %s" % (ADDRESS4, ADDRESS6) in detail
    # ten are allowed
    record = "v=spf1 " + " ".join("a:n%d.%s" % (i, DOMAIN) for i in range(9)) + " a:%s -all" % HOST
    code, results, text = check(setup, spf_zone(records, (DOMAIN, record)))
    assert code == 0 and results[("SPF", DOMAIN)] == ("ok", record), text


def test_spf_lookup_that_fails_is_an_error(setup):
    _, records, _ = setup
    # NSD refuses names outside its zones: the include cannot be resolved
    record = "v=spf1 include:_spf.elsewhere.example -all"
    code, results, text = check(setup, spf_zone(records, (DOMAIN, record)))
    assert code == 1, text
    status, detail = results[("SPF", DOMAIN)]
    assert status == "error" and "cannot tell whether it lets" in detail, text
    assert "_spf.elsewhere.example" in detail, text


def test_optional_records_missing_do_not_fail(setup):
    _, records, _ = setup
    optional = [r for r in records if r[1] in ("SRV", "CNAME", "TLSA") or
                r[0].startswith("_smtp._tls.") or r[0].startswith("_mta-sts.")]
    zone = [r for r in records if r not in optional]
    code, results, text = check(setup, zone)
    assert code == 0, text
    assert results[("TLSA", "_25._tcp." + HOST)][0] == "optional"
    assert results[("SRV", "_imaps._tcp." + DOMAIN)][0] == "optional"
    assert results[("CNAME", "autoconfig." + DOMAIN)][0] == "optional"


def test_a_server_that_does_not_answer_is_an_error_not_missing(setup):
    mailbag, _, nsd = setup
    nsd.stop()
    silent = free_port()
    proc = subprocess.run(mailbag + ["--json", "dns", "check", "--server", "127.0.0.1:%d" % silent,
                                     DOMAIN], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 1
    statuses = {r["status"] for r in json.loads(proc.stdout)}
    assert "error" in statuses and "missing" not in statuses and "ok" not in statuses
    bad = subprocess.run(mailbag + ["dns", "check", "--server", "[::1]:53", DOMAIN],
                         capture_output=True, text=True)
    assert bad.returncode == 64 and "give an IPv4 address" in bad.stderr
