"""The failover tests' senders: clients that behave as remote MTAs
(a 4xx or a lost connection is tried again, a 5xx fails the test, 20
messages per connection), spread over one or more SMTP servers, and the
counting of Message-IDs in the mailboxes afterwards."""

import collections
import email.parser
import smtplib
import subprocess
import threading
import time
import zlib

MESSAGES_PER_CONNECTION = 20


class Run:
    """Messages sent by `threads` clients that behave as a remote MTA: a 4xx
    or a lost connection is tried again, a 5xx is a failure of the test."""

    def __init__(self, targets, users, messages, flood_every, sender_domains, threads=4):
        self.targets = targets        # [(address, port)]: each thread keeps to one
        self.users = users
        self.thread_count = threads
        self.lock = threading.Lock()
        self.queue = collections.deque()
        self.accepted = []            # Message-IDs of the main run
        self.flood_accepted = []
        self.flood_limited = 0
        self.temporary = collections.Counter()   # code -> count
        self.permanent = []           # (msgid, code, text): must stay empty
        self.lost_connections = 0
        for i in range(messages):
            self.queue.append(("s%d@sender%d.test" % (i, i % sender_domains), "<fo-%d@failover.test>" % i))
            if i % flood_every == 0:
                self.queue.append(("f%d@flood.test" % i, "<flood-%d@failover.test>" % i))

    def take(self):
        with self.lock:
            return self.queue.popleft() if self.queue else None

    def send_one(self, target, conn, sender, msgid):
        """Send one message (on conn, reconnecting when it is gone) until it
        is accepted, refused for good, or limited; returns the connection."""
        rcpt = self.users[zlib.crc32(msgid.encode()) % len(self.users)]
        body = ("From: %s\r\nTo: %s\r\nSubject: failover\r\nMessage-ID: %s\r\n\r\n%s\r\n"
                % (sender, rcpt, msgid, msgid))
        flood = sender.endswith("@flood.test")
        deadline = time.time() + 120
        last = "nothing"
        while time.time() < deadline:
            try:
                if conn is None:
                    conn = smtplib.SMTP(*target, timeout=30)
                conn.sendmail(sender, [rcpt], body)
                with self.lock:
                    (self.flood_accepted if flood else self.accepted).append(msgid)
                return conn
            except smtplib.SMTPRecipientsRefused as e:
                code, text = list(e.recipients.values())[0]
            except smtplib.SMTPResponseException as e:
                code, text = e.smtp_code, e.smtp_error
            except (smtplib.SMTPServerDisconnected, ConnectionError, OSError) as e:
                last = "%s at %.1f" % (e, time.time())
                with self.lock:
                    self.lost_connections += 1
                conn = None
                time.sleep(0.2)
                continue
            last = "%d %s at %.1f" % (code, text, time.time())
            with self.lock:
                if code >= 500:
                    self.permanent.append((msgid, code, text))
                    return conn
                self.temporary[code] += 1
                if flood and b"Rate limit" in text:
                    self.flood_limited += 1
                    return conn  # over the limit: a real sender would wait hours
            # as an MTA's queue does, try a deferred message again on a new
            # session: Postfix's smtpd remembers a failed address resolution
            # (its resolve cache) for as long as the process lives, so the
            # failover stacks give each session a fresh smtpd (fresh_smtpd_per_session)
            # where a real sender's retry minutes later would meet one
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError, AttributeError):
                pass
            conn = None
            time.sleep(0.2)
        with self.lock:
            self.permanent.append((msgid, 0, "not accepted within 120 s via %s:%d; last: %s"
                                   % (target[0], target[1], last)))
        return conn

    def worker(self, target):
        """One client: up to MESSAGES_PER_CONNECTION messages on a connection,
        as an MTA with a queue for this server does"""
        conn, sent = None, 0
        while True:
            item = self.take()
            if item is None:
                break
            conn = self.send_one(target, conn, *item)
            sent += 1
            if conn is not None and sent % MESSAGES_PER_CONNECTION == 0:
                try:
                    conn.quit()
                except (smtplib.SMTPException, OSError):
                    pass
                conn = None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                pass

    def start(self):
        self.threads = [threading.Thread(target=self.worker, daemon=True,
                                         args=(self.targets[i % len(self.targets)],))
                        for i in range(self.thread_count)]
        for t in self.threads:
            t.start()

    def join(self, timeout):
        deadline = time.time() + timeout
        for t in self.threads:
            t.join(max(0, deadline - time.time()))
        assert not any(t.is_alive() for t in self.threads), "the senders did not finish in %ss" % timeout


def message_ids(stack, users):
    """Every Message-ID in the users' mailboxes, with how often it is there."""
    found = collections.Counter()
    parser = email.parser.BytesHeaderParser()
    for u in users:
        for raw in stack.maildir_messages(u):
            found[parser.parsebytes(raw)["Message-ID"]] += 1
    return found


def delivered_or_bounced(mailboxes, mx_stacks, users, expected):
    """The Message-IDs in the mailboxes (a stack or node) once every
    expected one is there; a bounce (a 5xx after the message was queued)
    on any MX fails at once."""
    for mx in mx_stacks:
        bounced = [line for line in mx.read_maillog().splitlines() if "status=bounced" in line]
        assert bounced == [], bounced[:3]
    found = message_ids(mailboxes, users)
    return found if expected <= set(found) else None


def fresh_smtpd_per_session(stack, run=subprocess.run):
    """Give each SMTP session of stack's port 25 service a new smtpd
    (master.cf's max_use=1 for that service alone): Postfix's smtpd caches
    every address resolution, failures included, for its process's life, so
    that a sender retrying at once would meet a failure of the switch again
    where a real MTA's retry minutes later meets a new process. run: how to
    run a command where the stack's Postfix runs (a node's namespace)."""
    service = "%s:%d/inet" % (stack.address, stack.ports["smtp"])
    subprocess.run(["postconf", "-c", stack.postfix_etc, "-P", service + "/max_use=1"],
                   check=True, capture_output=True)
    run(["postfix", "-c", stack.postfix_etc, "reload"], check=True, capture_output=True)
