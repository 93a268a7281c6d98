"""`mailbag dkim keygen|show`: keys that sign, and DNS records that verify
them, checked with dkimpy (python3-dkim) both ways: RSA-2048 and Ed25519
(RFC 8463). The DNS answers come from a test function, never the network."""

import base64
import json
import os
import stat
import subprocess

import dkim

from conftest import BUILD

MAILBAG = os.environ.get("MAILBAG_MAILBAG_BIN", os.path.join(BUILD, "cli", "mailbag"))

MESSAGE = (b"From: Ann <ann@example.org>\r\nTo: bob@remote.test\r\nSubject: signed\r\n"
           b"Date: Sun, 22 Nov 2026 02:00:00 +0000\r\nMessage-ID: <dkim@example.org>\r\n\r\n"
           b"Hello.\r\n")


def run(ctx, *args):
    return subprocess.run([MAILBAG, "--context", ctx, *args], capture_output=True, text=True)


def private_key_for_dkimpy(path, algorithm):
    pem = open(path, "rb").read()
    if algorithm == "rsa":
        return pem
    # dkimpy takes an Ed25519 key as the base64 of its 32-byte seed: the
    # last 32 bytes of the PKCS#8 DER
    der = subprocess.run(["openssl", "pkey", "-in", path, "-outform", "DER"],
                         capture_output=True, check=True).stdout
    return base64.b64encode(der[-32:])


def test_keys_sign_and_their_records_verify(tmp_path):
    ctx = tmp_path / "context.json"
    keys = tmp_path / "keys"
    ctx.write_text(json.dumps({"store": "lmdb:%s" % (tmp_path / "store"), "dkim": {"key_dir": str(keys)}}))
    out = run(str(ctx), "--json", "dkim", "keygen", "--selector", "t1", "example.org")
    assert out.returncode == 0, out.stderr
    records = {r["selector"]: r for r in json.loads(out.stdout)}
    assert set(records) == {"t1r", "t1e"}
    # the same records again from show, and nothing secret printed
    shown = {r["selector"]: r for r in json.loads(run(str(ctx), "--json", "dkim", "show", "example.org").stdout)}
    # show adds what each key does: both new keys sign
    assert {s: r.pop("state") for s, r in shown.items()} == {"t1r": "signing", "t1e": "signing"}
    assert shown == records
    assert "PRIVATE" not in out.stdout
    # safe modes: the group may read, others nothing
    for name in ("t1r.key", "t1e.key"):
        mode = stat.S_IMODE(os.stat(keys / "example.org" / name).st_mode)
        assert mode == 0o640, oct(mode)
    assert stat.S_IMODE(os.stat(keys / "example.org").st_mode) == 0o750

    def dns(name, timeout=5):
        for r in records.values():
            if name.decode().rstrip(".") == r["name"]:
                return r["value"].encode()
        return None

    for selector, algorithm, sigalg in (("t1r", "rsa", b"rsa-sha256"), ("t1e", "ed25519", b"ed25519-sha256")):
        assert ("k=%s;" % algorithm) in records[selector]["value"]
        key = private_key_for_dkimpy(keys / "example.org" / (selector + ".key"), algorithm)
        sig = dkim.sign(MESSAGE, selector.encode(), b"example.org", key, signature_algorithm=sigalg,
                        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
        assert dkim.verify(sig + MESSAGE, dnsfunc=dns), selector
        # a changed body no longer verifies
        assert not dkim.verify(sig + MESSAGE.replace(b"Hello", b"Hallo"), dnsfunc=dns)

    # never overwritten; bad input named
    again = run(str(ctx), "dkim", "keygen", "--selector", "t1", "example.org")
    assert again.returncode == 73 and "never overwritten" in again.stderr
    bad = run(str(ctx), "dkim", "keygen", "--selector", "Bad_Sel", "example.org")
    assert bad.returncode == 64 and "--selector 'Bad_Sel'" in bad.stderr
    none = run(str(ctx), "dkim", "show", "other.example")
    assert none.returncode == 66 and "mailbag dkim keygen other.example" in none.stderr
