"""mailbag-milter's encryption-only mode (milter.encryption_only_domains,
the chatmail seed's filtermail) inside the real Postfix, with real
OpenPGP made here by GnuPG: what passes is what the packets are, not
what the armour lines look like. Each case is sent both ways: submitted
by a user of the encryption-only domain, and arriving from outside for
one (issue 16)."""

import base64
import os
import shutil
import smtplib
import subprocess
import tempfile
import time

import pytest

from helpers import add_user
from test_milter import send_raw, set_milter, submit_raw, wait_for_message

DOMAIN = "crypt.test"        # encryption-only
PLAIN = "plain.test"         # a local domain that is not
OUTSIDE = "outside.test"     # a remote sender
PASSWORDS = {"cat": "cat-password-123", "dog": "dog-password-123", "echo": "echo-password-123"}


def gpg(home, *args, data=b""):
    proc = subprocess.run(["gpg", "--homedir", home, "--batch", "--quiet", "--no-tty", *args],
                          input=data, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout


def crc24(data):
    crc = 0xB704CE
    for byte in data:
        crc ^= byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    return crc & 0xFFFFFF


def armor(binary):
    """RFC 9580 6: ASCII armour around binary OpenPGP, with its CRC-24."""
    b64 = base64.b64encode(binary).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    crc = base64.b64encode(crc24(binary).to_bytes(3, "big")).decode()
    return ("-----BEGIN PGP MESSAGE-----\r\n\r\n" + "\r\n".join(lines) + "\r\n=" + crc +
            "\r\n-----END PGP MESSAGE-----\r\n")


def dearmor(text):
    body = text.decode().split("\n\n", 1)[1]
    return base64.b64decode("".join(l for l in body.splitlines() if l and not l.startswith(("=", "-"))))


@pytest.fixture(scope="module")
def pgp():
    """A GnuPG home with a key for dog@crypt.test, and the OpenPGP
    messages the cases need, each ASCII-armoured."""
    home = tempfile.mkdtemp(prefix="mailbag-gpg-")
    os.chmod(home, 0o700)
    try:
        gpg(home, "--passphrase", "", "--quick-gen-key", "Dog <dog@%s>" % DOMAIN, "ed25519", "sign", "never")
        fpr = [l.split(":")[9] for l in gpg(home, "--with-colons", "--list-keys").decode().splitlines()
               if l.startswith("fpr:")][0]
        gpg(home, "--passphrase", "", "--quick-add-key", fpr, "cv25519", "encr", "never")
        text = b"meet me at noon, in the clear\n"
        enc = gpg(home, "--trust-model", "always", "--armor", "--encrypt", "-r", "dog@" + DOMAIN, data=text)
        signed = gpg(home, "--armor", "--sign", "-z", "0", data=text)
        m = {
            "encrypted": enc.decode().replace("\n", "\r\n"),
            # what the old check took for encrypted: the text, armoured
            "stored": gpg(home, "--armor", "--store", "-z", "0", data=text).decode(),
            "compressed": gpg(home, "--armor", "--store", "--compress-algo", "zlib", data=text).decode(),
            "signed": signed.decode(),
            "trailing": armor(dearmor(enc) + dearmor(signed)),
            "setup": gpg(home, "--armor", "--symmetric", "--pinentry-mode", "loopback",
                         "--passphrase", "1234-5678-9012", data=b"-----BEGIN PGP PRIVATE KEY BLOCK-----\n").decode(),
        }
        lines = m["encrypted"].split("\r\n")
        lines[3] = lines[3][:10] + "*" + lines[3][11:]  # a character outside base64
        m["bad_base64"] = "\r\n".join(lines)
        yield m
    finally:
        shutil.rmtree(home, ignore_errors=True)


def message(marker, sender, rcpt, content_type, body, extra=""):
    return ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@%s>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: %s\r\n%s\r\n%s" % (sender, rcpt, marker, marker, DOMAIN, content_type, extra, body))


def pgp_mime(armour, part2_type="application/octet-stream; name=\"encrypted.asc\""):
    return ("multipart/encrypted;\r\n\tprotocol=\"application/pgp-encrypted\"; boundary=\"XyZ\"",
            "This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n"
            "--XyZ\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n"
            "--XyZ\r\nContent-Type: %s\r\n\r\n%s\r\n--XyZ--\r\n" % (part2_type, armour.replace("\r\n", "\n").replace("\n", "\r\n")))


def setup_message(armour):
    return ("multipart/mixed; boundary=\"ASM\"",
            "--ASM\r\nContent-Type: text/plain\r\n\r\nThis message contains all information to transfer "
            "your Autocrypt settings.\r\n\r\n--ASM\r\nContent-Type: application/autocrypt-setup\r\n"
            "Content-Disposition: attachment; filename=\"autocrypt-setup-message.html\"\r\n\r\n"
            "<html><body><pre>\r\n%s</pre></body></html>\r\n--ASM--\r\n"
            % armour.replace("\r\n", "\n").replace("\n", "\r\n"))


REPORT = ("multipart/report; report-type=delivery-status; boundary=\"R\"",
          "--R\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
          "--R\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.outside.test\r\n\r\n"
          "Final-Recipient: rfc822; x@outside.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
          "--R\r\nContent-Type: text/rfc822-headers\r\n\r\nSubject: hello\r\n\r\n--R--\r\n")


@pytest.fixture(scope="module")
def chat(stack):
    stack.mailbag("domain", "add", DOMAIN, check=True)
    stack.mailbag("domain", "add", PLAIN, check=True)
    for name, password in PASSWORDS.items():
        add_user(stack, "%s@%s" % (name, DOMAIN), password)
    add_user(stack, "ann@" + PLAIN, "ann-password-123")
    stack.dns.set(OUTSIDE, "TXT", "v=spf1 ip4:127.0.0.0/8 -all")
    set_milter(stack, encryption_only_domains=[DOMAIN],
               encryption_passthrough_recipients=["echo@" + DOMAIN],
               encryption_passthrough_senders=["news@" + OUTSIDE, "@lists." + OUTSIDE])
    try:
        yield stack
    finally:
        set_milter(stack, encryption_only_domains=[], encryption_passthrough_recipients=[],
                   encryption_passthrough_senders=[])


def deliver(stack, direction, sender, rcpts, raw):
    """Submitted by cat (out) or arriving from outside (in)."""
    if direction == "out":
        submit_raw(stack, "cat@" + DOMAIN, PASSWORDS["cat"], sender, rcpts, raw)
    else:
        send_raw(stack, sender, rcpts, raw)


def envelope(direction, to_self=False):
    sender = "cat@" + DOMAIN if direction == "out" else "ann@" + OUTSIDE
    return sender, (sender if to_self else "dog@" + DOMAIN)


def refused(stack, direction, sender, rcpt, raw, reason):
    with pytest.raises(smtplib.SMTPDataError) as err:
        deliver(stack, direction, sender, [rcpt], raw)
    assert err.value.smtp_code == 550, err.value.smtp_error
    text = err.value.smtp_error.decode(errors="replace")
    assert "Encryption needed" in text and reason in text, text


def passes(stack, direction, sender, rcpt, raw, marker):
    deliver(stack, direction, sender, [rcpt], raw)
    wait_for_message(stack, rcpt, marker)


BOTH = pytest.mark.parametrize("direction", ["out", "in"])


@BOTH
def test_encrypted_to_a_key_passes(chat, pgp, direction):
    sender, rcpt = envelope(direction)
    marker = "eo-enc-%s-%f" % (direction, time.time())
    passes(chat, direction, sender, rcpt, message(marker, sender, rcpt, *pgp_mime(pgp["encrypted"])), marker)


# (name, message kind, the reason the refusal must give)
REFUSED = [
    ("stored", "its PGP message is a literal data packet: the text is in the clear"),
    ("compressed", "its PGP message is compressed data, not encrypted"),
    ("signed", "its PGP message is signed, not encrypted"),
    ("bad_base64", "not valid base64"),
    ("trailing", "its PGP message has data after its encrypted data packet"),
]


@BOTH
@pytest.mark.parametrize("kind,reason", REFUSED, ids=[r[0] for r in REFUSED])
def test_not_encrypted_packets_are_refused(chat, pgp, direction, kind, reason):
    sender, rcpt = envelope(direction)
    marker = "eo-%s-%s-%f" % (kind, direction, time.time())
    refused(chat, direction, sender, rcpt, message(marker, sender, rcpt, *pgp_mime(pgp[kind])), reason)


@BOTH
def test_part_two_must_be_octet_stream(chat, pgp, direction):
    sender, rcpt = envelope(direction)
    marker = "eo-type-%s-%f" % (direction, time.time())
    refused(chat, direction, sender, rcpt,
            message(marker, sender, rcpt, *pgp_mime(pgp["encrypted"], "text/plain")),
            "its second part is not application/octet-stream")


@BOTH
def test_setup_message_only_to_oneself(chat, pgp, direction):
    sender, rcpt = envelope(direction)
    marker = "eo-asm-other-%s-%f" % (direction, time.time())
    refused(chat, direction, sender, rcpt,
            message(marker, sender, rcpt, *setup_message(pgp["setup"]), "Autocrypt-Setup-Message: v1\r\n"),
            "an Autocrypt Setup Message passes unencrypted only from an address to itself")
    if direction == "out":
        sender, rcpt = envelope(direction, to_self=True)
        marker = "eo-asm-self-%f" % time.time()
        passes(chat, direction, sender, rcpt,
               message(marker, sender, rcpt, *setup_message(pgp["setup"]), "Autocrypt-Setup-Message: v1\r\n"),
               marker)
        # to oneself, but the setup data is the text in the clear
        marker = "eo-asm-clear-%f" % time.time()
        refused(chat, direction, sender, rcpt,
                message(marker, sender, rcpt, *setup_message(pgp["stored"]), "Autocrypt-Setup-Message: v1\r\n"),
                "literal data packet")
        # the old exemption: the header on a plain body
        marker = "eo-asm-plain-%f" % time.time()
        refused(chat, direction, sender, rcpt,
                message(marker, sender, rcpt, "text/plain", "in clear text\r\n", "Autocrypt-Setup-Message: v1\r\n"),
                "an Autocrypt Setup Message is multipart/mixed")


@BOTH
def test_secure_join_only_as_its_line(chat, direction):
    sender, rcpt = envelope(direction)
    marker = "eo-join-body-%s-%f" % (direction, time.time())
    refused(chat, direction, sender, rcpt,
            message(marker, sender, rcpt, "text/plain", "in clear text\r\n", "Secure-Join: vc-request\r\n"),
            "a Secure-Join request passes unencrypted only when its body is just its Secure-Join line")
    marker = "eo-join-%s-%f" % (direction, time.time())
    passes(chat, direction, sender, rcpt,
           message(marker, sender, rcpt, "text/plain", "Secure-Join: vc-request\r\n", "Secure-Join: vc-request\r\n"),
           marker)


def test_null_sender_from_a_submitter_is_refused(chat):
    marker = "eo-null-auth-%f" % time.time()
    rcpt = "dog@" + DOMAIN
    refused(chat, "out", "", rcpt, message(marker, "cat@" + DOMAIN, rcpt, *REPORT), "not multipart/encrypted")
    # an unencrypted-domain user writing to an encryption-only one
    marker = "eo-null-auth-plain-%f" % time.time()
    with pytest.raises(smtplib.SMTPDataError) as err:
        submit_raw(chat, "ann@" + PLAIN, "ann-password-123", "", [rcpt],
                   message(marker, "ann@" + PLAIN, rcpt, "text/plain", "in clear text\r\n"))
    assert err.value.smtp_code == 550 and b"takes only OpenPGP-encrypted mail" in err.value.smtp_error


def test_inbound_bounce_needs_a_report(chat):
    rcpt = "dog@" + DOMAIN
    marker = "eo-bounce-plain-%f" % time.time()
    refused(chat, "in", "", rcpt, message(marker, "MAILER-DAEMON@" + OUTSIDE, rcpt, "text/plain",
                                          "Your message could not be delivered.\r\n"),
            "takes only OpenPGP-encrypted mail")
    marker = "eo-bounce-%f" % time.time()
    passes(chat, "in", "", rcpt, message(marker, "MAILER-DAEMON@" + OUTSIDE, rcpt, *REPORT), marker)


def test_local_plain_domain_to_encryption_only(chat):
    marker = "eo-local-%f" % time.time()
    rcpt = "dog@" + DOMAIN
    with pytest.raises(smtplib.SMTPDataError) as err:
        submit_raw(chat, "ann@" + PLAIN, "ann-password-123", "ann@" + PLAIN, [rcpt],
                   message(marker, "ann@" + PLAIN, rcpt, "text/plain", "in clear text\r\n"))
    assert err.value.smtp_code == 550
    assert b"crypt.test takes only OpenPGP-encrypted mail" in err.value.smtp_error


def test_passthrough_senders_and_recipients(chat):
    # to a passthrough recipient, out and in
    rcpt = "echo@" + DOMAIN
    for direction in ("out", "in"):
        sender, _ = envelope(direction)
        marker = "eo-pass-rcpt-%s-%f" % (direction, time.time())
        passes(chat, direction, sender, rcpt, message(marker, sender, rcpt, "text/plain", "hello\r\n"), marker)
    # from passthrough senders: a whole address and an @domain entry
    rcpt = "dog@" + DOMAIN
    for sender in ("news@" + OUTSIDE, "any@lists." + OUTSIDE):
        marker = "eo-pass-from-%s-%f" % (sender, time.time())
        passes(chat, "in", sender, rcpt, message(marker, sender, rcpt, "text/plain", "hello\r\n"), marker)
    # a passthrough recipient beside one that is not: encrypted still
    marker = "eo-pass-mixed-%f" % time.time()
    with pytest.raises(smtplib.SMTPDataError) as err:
        send_raw(chat, "ann@" + OUTSIDE, ["echo@" + DOMAIN, "dog@" + DOMAIN],
                 message(marker, "ann@" + OUTSIDE, "echo@" + DOMAIN, "text/plain", "hello\r\n"))
    assert err.value.smtp_code == 550
