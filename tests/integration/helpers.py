"""Helpers the integration tests share: talking to the stack as clients do."""

import imaplib
import re
import smtplib
import socket
import ssl
import time


def add_user(stack, address, password=None):
    if password is None:
        out = stack.mailbag("user", "add", address, check=True).stdout
        return re.search(r"password: (\S+)", out).group(1)
    stack.mailbag("user", "add", "--password-stdin", address, input=password + "\n", check=True)
    return password


def send(stack, rcpts, subject="test", sender="someone@remote.test", port=None):
    msgid = "<%s.%f@remote.test>" % (subject.replace(" ", "-"), time.time())
    body = ("From: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\n\r\nbody of %s\r\n"
            % (sender, ", ".join(rcpts), subject, msgid, subject))
    with smtplib.SMTP("127.0.0.1", port or stack.ports["smtp"], timeout=30) as s:
        s.sendmail(sender, rcpts, body)
    return msgid


def messages_with(stack, address, msgid):
    return [m for m in stack.maildir_messages(address) if msgid.encode() in m]


def imap_login(stack, user, password):
    im = imaplib.IMAP4("127.0.0.1", stack.ports["imap"])
    try:
        im.login(user, password)
    except imaplib.IMAP4.error:
        im.shutdown()
        raise
    return im


def rcpt_reply(stack, rcpt, sender="someone@remote.test", size=None):
    """The (code, text) Postfix answers to RCPT TO from an outside client."""
    with smtplib.SMTP("127.0.0.1", stack.ports["smtp"], timeout=30) as s:
        s.ehlo("client.remote.test")
        s.mail(sender, ["SIZE=%d" % size] if size is not None else [])
        return s.rcpt(rcpt)


def raw_smtp(port, payload):
    """Send bytes as given; return everything the server said."""
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    said = b""
    try:
        s.recv(1024)
        s.sendall(b"EHLO smuggler.remote.test\r\n")
        time.sleep(0.3)
        said += s.recv(4096)
        for chunk in payload:
            s.sendall(chunk)
            time.sleep(0.4)
            try:
                said += s.recv(4096)
            except socket.timeout:
                pass
    except (ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    return said


def socketmap_query(path, requests):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    replies = []
    try:
        for req in requests:
            s.sendall(req)
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                m = re.match(rb"(\d+):", data)
                if m and len(data) >= m.end() + int(m.group(1)) + 1:
                    break
            replies.append(data)
    finally:
        s.close()
    return replies


def netstring(text):
    b = text.encode()
    return str(len(b)).encode() + b":" + b + b","


def submit(stack, login, password, sender, rcpts, subject):
    """Authenticated submission over STARTTLS; returns the Message-ID."""
    msgid = "<%s.%f@submit.test>" % (subject.replace(" ", "-"), time.time())
    body = "From: %s\r\nSubject: %s\r\nMessage-ID: %s\r\n\r\nsubmitted\r\n" % (sender, subject, msgid)
    with smtplib.SMTP("127.0.0.1", stack.ports["submission"], timeout=30) as s:
        s.starttls(context=ssl._create_unverified_context())
        s.login(login, password)
        s.sendmail(sender, rcpts, body)
    return msgid


def policy_query(path, attributes):
    """One request on mailbag-policyd's policy socket, as Postfix sends it."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    try:
        s.sendall(("".join("%s=%s\n" % kv for kv in attributes.items()) + "\n").encode())
        data = b""
        while not data.endswith(b"\n\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.decode()
    finally:
        s.close()


def rcpt_replies(stack, rcpts, sender="someone@remote.test"):
    """One SMTP transaction from an outside client: the reply to each RCPT."""
    with smtplib.SMTP("127.0.0.1", stack.ports["smtp"], timeout=30) as s:
        s.ehlo("client.remote.test")
        s.mail(sender)
        replies = [s.rcpt(r) for r in rcpts]
        s.rset()
        return replies


def send_until_accepted(stack, rcpts, subject, timeout=30):
    """Send as a remote MTA does after an outage: retry the whole
    transaction while the answer is 4xx (a 5xx fails the test at once).
    Returns the Message-ID of the accepted message."""
    deadline = time.time() + timeout
    while True:
        try:
            return send(stack, rcpts, subject)
        except smtplib.SMTPRecipientsRefused as e:
            code = list(e.recipients.values())[0][0]
            assert 400 <= code < 500, e.recipients  # never a 5xx
            if time.time() > deadline:
                raise AssertionError("still refused after %ss: %s" % (timeout, e.recipients))
        time.sleep(0.1)


class IMAPFrom(imaplib.IMAP4):
    """IMAP from a chosen loopback source address (127.0.0.0/8 is all ours)."""

    def __init__(self, source, port):
        self.source = source
        super().__init__("127.0.0.1", port)

    def _create_socket(self, timeout):
        return socket.create_connection(("127.0.0.1", self.port), timeout or 30,
                                        source_address=(self.source, 0))


def login_from(stack, source, user, password, port=None):
    """An IMAP login from source (to the stack's Dovecot, or port):
    True if it succeeded."""
    im = IMAPFrom(source, port or stack.ports["imap"])
    try:
        im.login(user, password)
    except imaplib.IMAP4.error:
        im.shutdown()
        return False
    im.logout()
    return True


def submission_login(stack, user, password):
    with smtplib.SMTP("127.0.0.1", stack.ports["submission"], timeout=30) as s:
        s.starttls(context=ssl._create_unverified_context())
        try:
            s.login(user, password)
        except smtplib.SMTPAuthenticationError:
            return False
        return True
