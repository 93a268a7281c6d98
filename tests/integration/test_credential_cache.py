"""The Dovecot driver's verified-credential cache (issue 20), through the
real Dovecot.

A repeat IMAP login with the right password is served from the cache of
the auth process (or of its auth-workers on Redis), which Dovecot's auth
debug log shows as `mailbag: credential cache hit`; the first login, which
verifies the hash, as `mailbag: credential cache miss`. Every login still
reads the user record, so a changed password, a disabled or deleted user
or a revoked app password refuses the old secret at the very next attempt,
on this node and on another Dovecot sharing the Redis store. A wrong
password is never a hit; the address lock-out refuses even a cached
password; a store outage is a temporary failure, never a wrong password;
with auth.credential_cache_entries = 0 nothing is served from a cache.

The module runs its own two small stacks (mailbag-policyd and Dovecot
with auth_debug, no Postfix): one on LMDB, one on a real Redis with a
second Dovecot beside it. Whether a login came from the cache is read
from the log (its debug lines, and the auth-workers' PASSW requests that
verify hashes), never from timing.
"""

import imaplib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

import mailstack
from conftest import BUILD, TEST_AUTH_SETTINGS, new_domain, wait_until
from helpers import IMAPFrom, add_user

HIT = "mailbag: credential cache hit"
MISS = "mailbag: credential cache miss"
# auth_debug is both 2.3's and 2.4's name; it never logs passwords
# unless auth_debug_passwords is on too
AUTH_DEBUG_CONF = "auth_debug = yes\n"
# Dovecot's default delay before it answers a failed login (auth_failure_delay)
FAILURE_DELAY = 2.0


class Teardown:
    """The module's Dovecots stopped side by side at its end, each taking
    3 to 7 s, and then their directories removed."""

    def __init__(self):
        self.stopping = []
        self.roots = []

    def stop_dovecot(self, conf):
        self.stopping.append(subprocess.Popen(["dovecot", "-c", conf, "stop"],
                                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL))

    def finish(self):
        for proc in self.stopping:
            proc.wait(60)
        for root in self.roots:
            if os.environ.get("MAILBAG_KEEP_TEST_DIR"):
                print("test directory kept:", root)
            else:
                shutil.rmtree(root, ignore_errors=True)


class AuthStack(mailstack.MailStack):
    """A mail stack with only what IMAP logins need: mailbag-policyd
    (update_context makes it reload) and Dovecot, the latter with the
    settings of dovecot_include (auth debug logging) last."""

    teardown = None

    def start(self):
        try:
            self._prepare()
            self.start_policyd()
            self._start_dovecot()
        except Exception:
            self.stop()
            raise
        return self

    def stop(self):
        if "dovecot" in self.started and self.teardown is not None:
            self.teardown.stop_dovecot(self.dovecot_conf)
            self.started.remove("dovecot")
        super().stop()


def make_stack(teardown, prefix, store=None):
    root = tempfile.mkdtemp(prefix=prefix)
    teardown.roots.append(root)
    os.chmod(root, 0o755)
    stack = AuthStack(root, os.path.join(BUILD, "cli", "mailbag"),
                      os.path.join(BUILD, "policyd", "mailbag-policyd"),
                      os.path.join(BUILD, "dovecot-plugin", "libauthdb_mailbag.so"), store=store)
    stack.teardown = teardown
    stack.dovecot_include = os.path.join(root, "dovecot-auth-debug.conf")
    with open(stack.dovecot_include, "w") as f:
        f.write(AUTH_DEBUG_CONF)
    return stack


@pytest.fixture(scope="module")
def teardown():
    if os.geteuid() != 0:
        pytest.fail("the integration tests run Dovecot and need root")
    t = Teardown()
    try:
        yield t
    finally:
        t.finish()


@pytest.fixture(scope="module")
def lmdb(teardown):
    stack = make_stack(teardown, "mailbag-cache-test-")
    try:
        stack.start()
        stack.update_context({"auth": TEST_AUTH_SETTINGS})
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def redis(teardown):
    """A stack on a real Redis; its Dovecot is node A."""
    stack = make_stack(teardown, "mailbag-cache-redis-test-")
    stack.redis = mailstack.RedisServer(stack.root).start()
    stack.store = stack.redis.location
    try:
        stack.start()
        stack.update_context({"auth": TEST_AUTH_SETTINGS})
        yield stack
    finally:
        stack.stop()
        stack.redis.stop()


@pytest.fixture(scope="module")
def node_b(redis, teardown):
    """A second Dovecot on the same Redis and context (node B), auth debug on."""
    node = redis.spawn_dovecot("node-b", include=redis.dovecot_include)
    yield node
    teardown.stop_dovecot(node.conf)


@pytest.fixture(scope="module")
def uncached(lmdb, teardown):
    """A second Dovecot on the LMDB store whose context turns the
    credential cache off (auth.credential_cache_entries = 0)."""
    node_dir = os.path.join(lmdb.root, "uncached")
    os.makedirs(node_dir, exist_ok=True)
    context = os.path.join(node_dir, "context.json")
    with open(lmdb.context) as f:
        ctx = json.load(f)
    ctx["auth"] = dict(ctx.get("auth") or {}, credential_cache_entries=0)
    fd = os.open(context, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
    with os.fdopen(fd, "w") as f:
        json.dump(ctx, f, indent=2)
    shutil.chown(context, group="mailbag")
    node = lmdb.spawn_dovecot("uncached", include=lmdb.dovecot_include, context=context)
    yield node
    teardown.stop_dovecot(node.conf)


# --- logging in and reading the log ----------------------------------------

class Node:
    """Where a login goes: an IMAP port and the log of that Dovecot."""

    def __init__(self, port, log):
        self.port = port
        self.log = log


def main_node(stack):
    return Node(stack.ports["imap"], stack.dovecot_log)


def other_node(dovecot):
    return Node(dovecot.imap_port, dovecot.log)


_sources = [0]


def fresh_source():
    """A loopback address no login has come from yet: Dovecot's own
    penalty (anvil's, per address: 4 s, then 8, up to 15 before each
    attempt after a failure) would otherwise make every login after a
    refused one wait. 127.0.0.0/8 is all ours."""
    _sources[0] += 1
    n = _sources[0]
    return "127.1.%d.%d" % (n // 250, n % 250 + 1)


def imap_answer(node, user, password, source):
    """'OK' when the IMAP login succeeded, else the server's NO text
    (for instance "[AUTHENTICATIONFAILED] Authentication failed.")."""
    im = IMAPFrom(source, node.port)
    try:
        im.login(user, password)
    except imaplib.IMAP4.error as e:
        im.shutdown()
        text = str(e)
        m = re.fullmatch(r"b'(.*)'", text)
        return m.group(1) if m else text
    im.logout()
    return "OK"


def user_lines(node, user, phrase):
    return [line for line in node.log().splitlines() if phrase in line and user in line]


def count(node, user, phrase):
    return len(user_lines(node, user, phrase))


def login_lines(node, user):
    """imap-login's one line per connection of user: 'Login: user=<...>'
    or, on a failed login, the disconnect with 'auth failed'."""
    marker = "user=<%s>" % user
    return [line for line in node.log().splitlines() if "imap-login" in line and marker in line]


class Logins:
    """The logins of one user on one node, and what the log says of them.
    Each login waits until imap-login has logged the connection, which
    Dovecot does after the auth process has answered (and so after that
    answer's debug lines), so that counting hits after it is fair."""

    def __init__(self, node, user):
        self.node = node
        self.user = user
        self.connections = len(login_lines(node, user))

    def attempt(self, password, source=None):
        answer = imap_answer(self.node, self.user, password, source or fresh_source())
        self.connections += 1
        wait_until(lambda: len(login_lines(self.node, self.user)) >= self.connections, timeout=10,
                   what="imap-login's log line for login %d of %s" % (self.connections, self.user))
        return answer

    def hits(self):
        return count(self.node, self.user, HIT)

    def misses(self):
        return count(self.node, self.user, MISS)

    def excerpt(self):
        return "\n".join(line for line in self.node.log().splitlines() if self.user in line)


def timed_attempt(logins, password, source):
    started = time.monotonic()
    answer = logins.attempt(password, source)
    return answer, time.monotonic() - started


def cached_login(logins, password, source=None):
    """Log in twice with the right password: the second login must be a
    cache hit. Returns the hits counted after it."""
    before = logins.hits()
    assert logins.attempt(password, source) == "OK", logins.excerpt()
    assert logins.attempt(password, source) == "OK", logins.excerpt()
    hits = logins.hits()
    assert hits == before + 1, "the repeat login was not a cache hit:\n" + logins.excerpt()
    return hits


def refused_as_wrong(answer):
    return "[AUTHENTICATIONFAILED]" in answer


# --- 1: a repeat login is a hit, a wrong password never ---------------------

def worker_verifications(node):
    """Hash verifications sent to an auth-worker (Dovecot's PASSW), as
    the driver does on LMDB with auth.verify_in_worker (the default)."""
    return node.log().count("Handling PASSW request")


def test_repeat_login_is_served_from_the_cache(lmdb):
    domain = new_domain(lmdb)
    user = "repeat@" + domain
    password = add_user(lmdb, user)
    logins = Logins(main_node(lmdb), user)
    verified = worker_verifications(logins.node)
    assert logins.attempt(password) == "OK", logins.excerpt()
    assert (logins.misses(), logins.hits()) == (1, 0), logins.excerpt()
    assert worker_verifications(logins.node) == verified + 1, "the miss was not verified in an auth-worker"
    # the repeat skips the hash: no verification anywhere
    assert logins.attempt(password) == "OK", logins.excerpt()
    assert (logins.misses(), logins.hits()) == (1, 1), logins.excerpt()
    assert worker_verifications(logins.node) == verified + 1, "a cache hit verified the hash"
    # a wrong password right after the right one: refused after the
    # failure delay, never a hit
    answer, took = timed_attempt(logins, password + "x", None)
    assert refused_as_wrong(answer), answer
    assert took >= FAILURE_DELAY * 0.75, "the wrong password was refused after %.2f s" % took
    assert logins.hits() == 1, logins.excerpt()
    # and the right one is still served from the cache
    assert logins.attempt(password) == "OK", logins.excerpt()
    assert logins.hits() == 2, logins.excerpt()
    assert password not in lmdb.dovecot_log()


# --- 2 and 5: what refuses the old secret at the next attempt ---------------

def new_password(stack, user):
    password = "new-%s-password" % os.urandom(6).hex()
    stack.mailbag("user", "passwd", "--password-stdin", user, input=password + "\n", check=True)
    return password


def app_password(stack, user):
    add_user(stack, user)
    out = json.loads(stack.mailbag("--json", "user", "app-password", "add", user, "phone",
                                   check=True).stdout)
    return out["password"]


def disable(stack, user):
    stack.mailbag("user", "disable", user, check=True)


def delete(stack, user):
    stack.mailbag("user", "del", user, check=True)


def revoke_app_password(stack, user):
    stack.mailbag("user", "app-password", "del", user, "phone", check=True)


# name: (make the user and return the secret it logs in with,
#        change the store and return the secret that works now or None,
#        whether the old secret still verifies against the stored hash)
# A disabled account keeps its hash: the cache may vouch for the
# password, and the account is refused after that, as without a cache.
REVOCATIONS = {
    "passwd": (add_user, new_password, False),
    "disable": (add_user, disable, True),
    "delete": (add_user, delete, False),
    "app-password-del": (app_password, revoke_app_password, False),
}


@pytest.mark.parametrize("change", sorted(REVOCATIONS))
def test_change_refuses_the_cached_secret_at_once(lmdb, change):
    make, revoke, still_verifies = REVOCATIONS[change]
    user = "%s@%s" % (change.replace("-", ""), new_domain(lmdb))
    secret = make(lmdb, user)
    logins = Logins(main_node(lmdb), user)
    hits = cached_login(logins, secret)
    now_valid = revoke(lmdb, user)
    answer = logins.attempt(secret)
    assert refused_as_wrong(answer), "%s: the old secret got %r\n%s" % (change, answer, logins.excerpt())
    if not still_verifies:
        assert logins.hits() == hits, "the old entry served a login:\n" + logins.excerpt()
    if now_valid is not None:
        assert logins.attempt(now_valid) == "OK", logins.excerpt()


@pytest.mark.parametrize("change", sorted(REVOCATIONS))
def test_change_on_one_node_refuses_the_cached_secret_on_the_other(redis, node_b, change):
    """Node B and node A have the secret cached; the change is made with
    `mailbag` (node A's): both refuse the old secret at the next attempt,
    with no pause in between."""
    make, revoke, still_verifies = REVOCATIONS[change]
    user = "%s@%s" % (change.replace("-", ""), new_domain(redis))
    secret = make(redis, user)
    on_b = Logins(other_node(node_b), user)
    on_a = Logins(main_node(redis), user)
    b_hits = cached_login(on_b, secret)
    a_hits = cached_login(on_a, secret)
    now_valid = revoke(redis, user)
    answer = on_b.attempt(secret)
    assert refused_as_wrong(answer), "%s: node B gave the old secret %r\n%s" % (change, answer, on_b.excerpt())
    answer = on_a.attempt(secret)
    assert refused_as_wrong(answer), "%s: node A gave the old secret %r\n%s" % (change, answer, on_a.excerpt())
    if not still_verifies:
        assert (on_b.hits(), on_a.hits()) == (b_hits, a_hits), (
            "the old entry served a login:\n" + on_b.excerpt() + "\n" + on_a.excerpt())
    if now_valid is not None:
        assert on_b.attempt(now_valid) == "OK", on_b.excerpt()
        assert on_a.attempt(now_valid) == "OK", on_a.excerpt()
    assert redis.redis.password not in node_b.log()


# --- 3: the lock-out refuses a cached password as it did -------------------

def test_lockout_refuses_a_cached_password(lmdb):
    user = "locked@" + new_domain(lmdb)
    password = add_user(lmdb, user)
    with open(lmdb.context) as f:
        original = json.load(f).get("auth")
    # the driver rereads the context file when it changes. Two failures,
    # not more: from one address each costs Dovecot's penalty wait too
    lmdb.update_context({"auth": {"failures_per_ip": 2, "failures_per_account": 1000,
                                  "lockout": 60}})
    attacker = fresh_source()
    logins = Logins(main_node(lmdb), user)
    try:
        hits = cached_login(logins, password, attacker)
        wrong = [timed_attempt(logins, guess, attacker) for guess in ("guess-1", "guess-2")]
        for answer, _ in wrong:
            assert refused_as_wrong(answer), answer
        # locked: the right, cached password is refused unchecked, with
        # the answer and the delay of a wrong one
        answer, took = timed_attempt(logins, password, attacker)
        assert refused_as_wrong(answer), answer
        assert "password not checked" in logins.excerpt(), logins.excerpt()
        assert logins.hits() == hits, "a locked-out login was served from the cache:\n" + logins.excerpt()
        assert min(t for _, t in wrong) >= FAILURE_DELAY * 0.75, wrong
        assert took >= FAILURE_DELAY * 0.75, "the locked-out refusal came after %.2f s" % took
        # another address is not locked, and the entry still serves it
        assert logins.attempt(password) == "OK", logins.excerpt()
        assert logins.hits() == hits + 1, logins.excerpt()
    finally:
        lmdb.update_context({"auth": original})


# --- 4: a store outage is a temporary failure, never a wrong password -------

def test_redis_outage_is_a_temporary_failure_not_a_mismatch(redis):
    user = "outage@" + new_domain(redis)
    password = add_user(redis, user)
    logins = Logins(main_node(redis), user)
    hits = cached_login(logins, password)
    redis.redis.stop()
    try:
        answer = logins.attempt(password)
        assert "[UNAVAILABLE]" in answer, (
            "with Redis stopped the cached password got %r\n%s" % (answer, logins.excerpt()))
        assert not refused_as_wrong(answer), answer
        assert "Password mismatch" not in logins.excerpt(), logins.excerpt()
        assert logins.hits() == hits, logins.excerpt()
    finally:
        redis.redis.start()
    # the driver reconnects by itself
    wait_until(lambda: logins.attempt(password) == "OK", timeout=15,
               what="a login once Redis is back")
    assert redis.redis.password not in redis.dovecot_log()


# --- 6: the cache turned off ----------------------------------------------

def test_no_cache_hit_with_the_cache_turned_off(lmdb, uncached):
    user = "nocache@" + new_domain(lmdb)
    password = add_user(lmdb, user)
    logins = Logins(other_node(uncached), user)
    verified = worker_verifications(logins.node)
    for _ in range(3):
        assert logins.attempt(password) == "OK", logins.excerpt()
    assert logins.hits() == 0, "a hit with credential_cache_entries = 0:\n" + logins.excerpt()
    # every login verified the hash
    assert worker_verifications(logins.node) == verified + 3, logins.node.log()
    # the control: the same user on the Dovecot with the cache on does hit
    cached_login(Logins(main_node(lmdb), user), password)
