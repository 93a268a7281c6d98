"""`mailbag dns records --format tinydns` (issue 21 point 6): the records
of `--format bind` (the default) as tinydns-data lines. A strict parser of
the tinydns-data line format (per its documentation,
https://cr.yp.to/djbdns/tinydns-data.html) checks every line, the records
must equal the bind output's, and `mailbag dns check` against the test
DNS server answering from the parsed lines finds nothing missing."""

import json
import os
import re
import subprocess

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

import dnsserver
from mailstack import make_certificate

DOMAIN = "tinydns.test"
HOST = "mx.tinydns.test"
ADDRESS4 = "192.0.2.20"
ADDRESS6 = "2001:db8::20"
REVERSE4 = "20.2.0.192.in-addr.arpa"
REVERSE6 = ".".join(reversed("20010db8000000000000000000000020")) + ".ip6.arpa"

# tinydns-data's line types and their most fields (after the type letter)
FIELDS = {"@": 7, "'": 5, "C": 5, ":": 6, "+": 5, "=": 5}
# tinydns-data refuses these as generic (":") lines: NS, CNAME, SOA, PTR, MX, AXFR
NOT_GENERIC = {2, 5, 6, 12, 15, 252}


class TinydnsError(AssertionError):
    pass


def unescape(field, line):
    """A field's bytes: \\NNN is one octal byte; any other backslash, or a
    raw byte outside printable ASCII, is refused (strict)."""
    out, i = bytearray(), 0
    while i < len(field):
        c = field[i]
        if c == "\\":
            octal = field[i + 1:i + 4]
            if not re.fullmatch(r"[0-7]{3}", octal) or int(octal, 8) > 255:
                raise TinydnsError("bad escape in %r" % line)
            out.append(int(octal, 8))
            i += 4
            continue
        if not " " <= c <= "~":
            raise TinydnsError("raw byte %r in %r" % (c, line))
        out.append(ord(c))
        i += 1
    return bytes(out)


def fqdn(field, line):
    name = unescape(field, line).decode("ascii")
    if not name or name.endswith(".") or not re.fullmatch(r"[A-Za-z0-9_.-]+", name) \
            or any(not 0 < len(label) < 64 for label in name.split(".")):
        raise TinydnsError("bad name %r in %r" % (name, line))
    return name.lower()


def number(field, line, top):
    if not re.fullmatch(r"[0-9]+", field) or int(field) > top:
        raise TinydnsError("bad number %r in %r" % (field, line))
    return int(field)


def parse_tinydns(text):
    """The records of a tinydns-data file: {(name, type): [value]} with
    values in zone presentation form ("10 host.", TXT text, ...)."""
    records = {}
    for line in text.split("\n"):
        if line == "" or line.startswith("#"):
            continue
        kind, rest = line[0], line[1:]
        if kind not in FIELDS:
            raise TinydnsError("unknown line type %r" % line)
        fields = rest.split(":")
        if len(fields) > FIELDS[kind]:
            raise TinydnsError("too many fields in %r" % line)
        fields += [""] * (FIELDS[kind] - len(fields))
        name = fqdn(fields[0], line)
        if kind == "@":
            _ip, x, dist, ttl = fields[1:5]
            if "." not in x:
                raise TinydnsError("MX host without a dot becomes x.mx.fqdn: %r" % line)
            value = "%d %s." % (number(dist or "0", line, 65535), fqdn(x, line))
            rtype = "MX"
        elif kind == "'":
            value, ttl, rtype = unescape(fields[1], line).decode("ascii"), fields[2], "TXT"
        elif kind == "C":
            value, ttl, rtype = fqdn(fields[1], line) + ".", fields[2], "CNAME"
        elif kind == ":":
            n = number(fields[1], line, 65535)
            if n == 0 or n in NOT_GENERIC:
                raise TinydnsError("type %d is not allowed in a generic line: %r" % (n, line))
            wire = unescape(fields[2], line)
            rdata = dns.rdata.from_wire(dns.rdataclass.IN, n, wire, 0, len(wire))
            value, ttl, rtype = rdata.to_text(), fields[3], dns.rdatatype.to_text(n)
        else:
            raise TinydnsError("mailbag prints no %r lines: %r" % (kind, line))
        if ttl != "":
            number(ttl, line, 2 ** 32 - 1)
        records.setdefault((name, rtype), []).append(value)
    return records


BIND_LINE = re.compile(r'^(\S+)\. IN (\S+) (.*?) ; .*$')


def parse_bind(text):
    """The records of `dns records` zone-file lines, the same form."""
    records = {}
    for line in text.splitlines():
        if line.startswith(";"):
            continue
        m = BIND_LINE.match(line)
        assert m, line
        name, rtype, value = m.group(1).lower(), m.group(2), m.group(3)
        if rtype == "TXT":
            assert value.startswith("(") and value.endswith(")"), line
            value = "".join(re.findall(r'"([^"]*)"', value))
        records.setdefault((name, rtype), []).append(value)
    return records


def test_the_parser_is_strict():
    for bad in ["+a.example:1.2.3.4", "'a.example:x\\9:3600", "'a.example:raw\x01:3600",
                ":a.example:15:\\000:3600", "@a.example::mx:10:3600", "'a..example:x:3600",
                "Ca.example:b.example:3600:1:2:3", "'a.example:x:ttl"]:
        with pytest.raises(TinydnsError):
            parse_tinydns(bad)
    got = parse_tinydns("'a.example:v=1\\072x:3600\n@a.example::mx.a.example:5:\n"
                        ":_s._tcp.a.example:33:\\000\\000\\000\\001\\002\\113\\002mx\\001a\\000:60\n")
    assert got == {("a.example", "TXT"): ["v=1:x"], ("a.example", "MX"): ["5 mx.a.example."],
                   ("_s._tcp.a.example", "SRV"): ["0 1 587 mx.a."]}


@pytest.fixture(scope="module")
def setup(stack, tmp_path_factory):
    """A context of its own (hostname HOST, its certificate for TLSA, DKIM
    keys of DOMAIN) beside the stack's store."""
    work = str(tmp_path_factory.mktemp("tinydns"))
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
                      "imaps_port": 0}
    context = os.path.join(work, "context.json")
    with open(context, "w") as f:
        json.dump(ctx, f)
    mailbag = [stack.mailbag_bin, "--context", context]
    subprocess.run(mailbag + ["dkim", "keygen", DOMAIN], check=True, capture_output=True)
    return mailbag


def run(mailbag, *args):
    return subprocess.run(mailbag + list(args), capture_output=True, text=True, timeout=60)


def test_tinydns_lines_are_the_bind_records(setup):
    mailbag = setup
    bind = run(mailbag, "dns", "records", DOMAIN)
    also_bind = run(mailbag, "dns", "records", "--format", "bind", DOMAIN)
    tiny = run(mailbag, "dns", "records", "--format", "tinydns", DOMAIN)
    assert bind.returncode == 0 and tiny.returncode == 0, bind.stderr + tiny.stderr
    assert also_bind.stdout == bind.stdout  # bind stays the default
    assert not any(line.startswith(";") for line in tiny.stdout.splitlines())
    got, want = parse_tinydns(tiny.stdout), parse_bind(bind.stdout)
    assert got == want
    kinds = {rtype for (_n, rtype) in got}
    assert {"MX", "TXT", "CNAME", "SRV", "TLSA"} <= kinds, kinds
    # a DKIM key is longer than one TXT string: tinydns-data splits it
    assert any(len(v[0]) > 255 for (n, t), v in got.items() if t == "TXT" and "._domainkey." in n)
    # every ':' inside a TXT value was escaped (else the line has more fields)
    assert "\\072" not in bind.stdout


def test_bad_format_is_refused(setup):
    proc = run(setup, "dns", "records", "--format", "djb", DOMAIN)
    assert proc.returncode == 64 and "bind or tinydns" in proc.stderr
    proc = run(setup, "--json", "dns", "records", "--format", "tinydns", DOMAIN)
    assert proc.returncode == 64 and "choose one" in proc.stderr


def test_dns_check_finds_nothing_missing_when_served_from_the_lines(setup):
    mailbag = setup
    tiny = run(mailbag, "dns", "records", "--format", "tinydns", DOMAIN)
    records = parse_tinydns(tiny.stdout)
    server = dnsserver.shared()
    records[(HOST, "A")] = [ADDRESS4]
    records[(HOST, "AAAA")] = [ADDRESS6]
    records[(REVERSE4, "PTR")] = [HOST + "."]
    records[(REVERSE6, "PTR")] = [HOST + "."]
    try:
        for (name, rtype), values in records.items():
            server.set(name, rtype, *values)
        proc = run(mailbag, "--json", "dns", "check", "--server", server.address, DOMAIN)
        results = json.loads(proc.stdout)
        bad = [r for r in results if r["status"] not in ("ok", "optional")]
        assert proc.returncode == 0 and bad == [], proc.stdout + proc.stderr
        checked = {(r["type"], r["name"]) for r in results}
        assert ("MX", DOMAIN) in checked and ("TLSA", "_25._tcp." + HOST) in checked, checked
        # and a record left out of the lines is found missing
        server.remove(DOMAIN, "MX")
        proc = run(mailbag, "--json", "dns", "check", "--server", server.address, DOMAIN)
        mx = [r for r in json.loads(proc.stdout) if r["type"] == "MX"]
        assert proc.returncode == 1 and mx[0]["status"] == "missing", proc.stdout
    finally:
        for (name, rtype) in records:
            server.remove(name, rtype)
