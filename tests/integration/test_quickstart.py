"""The README's first command, minus apt and meson install: the demo server
entry point deploy/quickstart.sh execs, run as a newcomer would, then used
with a mail client and stopped with Ctrl-C (SIGINT)."""

import imaplib
import os
import re
import signal
import smtplib
import subprocess
import tempfile
import time

import mailstack
from conftest import BUILD, wait_until


def test_demo_server_accepts_serves_and_stops(tmp_path):
    ports = {name: mailstack.free_port() for name in ("smtp", "submission", "imap")}
    root = tempfile.mkdtemp(prefix="mailbag-demo-")
    out_path = tmp_path / "demo.out"
    with open(out_path, "w") as out:
        proc = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(mailstack.HERE, "mailstack.py"), "--root", root,
             "--mailbag", os.environ.get("MAILBAG_MAILBAG_BIN", os.path.join(BUILD, "cli", "mailbag")),
             "--policyd", os.environ.get("MAILBAG_POLICYD_BIN",
                                         os.path.join(BUILD, "policyd", "mailbag-policyd")),
             "--auth-module", os.path.join(BUILD, "dovecot-plugin", "libauthdb_mailbag.so"),
             "--smtp-port", str(ports["smtp"]), "--submission-port", str(ports["submission"]),
             "--imap-port", str(ports["imap"])],
            stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: "stop it with" in out_path.read_text() or proc.poll() is not None,
                   timeout=60, what="the demo server to start")
        text = out_path.read_text()
        assert proc.poll() is None, text
        password = re.search(r"password (\S+)", text).group(1)
        assert "127.0.0.1:%d" % ports["imap"] in text and "Ctrl-C" in text

        with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=30) as s:
            s.sendmail("friend@remote.test", ["demo@example.test"],
                       "Subject: welcome\r\nMessage-ID: <demo@remote.test>\r\n\r\nhi\r\n")

        def fetched():
            im = imaplib.IMAP4("127.0.0.1", ports["imap"])
            try:
                im.login("demo@example.test", password)
                typ, data = im.select("INBOX")
                return typ == "OK" and int(data[0]) >= 1
            finally:
                im.logout()
        wait_until(fetched, timeout=30, what="the demo user to read the mail over IMAP")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    assert "stopped" in out_path.read_text()
    time.sleep(1)
    assert not mailstack.port_open(ports["smtp"]) and not mailstack.port_open(ports["imap"])
    subprocess.run(["rm", "-rf", root])
