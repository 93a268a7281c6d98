"""pytest fixtures: one private mail server for the whole session."""

import os
import shutil
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mailstack  # noqa: E402

TEST_AUTH_SETTINGS = {"failures_per_ip": 1000, "failures_per_account": 1000}

BUILD = os.environ.get("MAILBAG_BUILD", os.path.join(mailstack.SOURCE_ROOT, "build"))


@pytest.fixture(scope="session")
def stack():
    if os.geteuid() != 0:
        pytest.fail("the integration tests run Postfix and Dovecot and need root")
    root = tempfile.mkdtemp(prefix="mailbag-test-")
    s = mailstack.MailStack(root,
                            os.environ.get("MAILBAG_MAILBAG_BIN", os.path.join(BUILD, "cli", "mailbag")),
                            os.environ.get("MAILBAG_POLICYD_BIN",
                                           os.path.join(BUILD, "policyd", "mailbag-policyd")),
                            os.path.join(BUILD, "dovecot-plugin", "libauthdb_mailbag.so"))
    s.start()
    # many tests fail logins on purpose from 127.0.0.1: keep the address
    # lock-out (tested on its own, from other addresses) out of their way
    s.update_context({"auth": TEST_AUTH_SETTINGS})
    try:
        yield s
    finally:
        s.stop()
        if os.environ.get("MAILBAG_KEEP_TEST_DIR"):
            print("test directory kept:", root)
        else:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_stack():
    """A second private mail server whose store is a real Redis (with a
    password), for the tests of the several-nodes set-up."""
    if os.geteuid() != 0:
        pytest.fail("the integration tests run Postfix and Dovecot and need root")
    root = tempfile.mkdtemp(prefix="mailbag-redis-test-")
    os.chmod(root, 0o755)
    redis = mailstack.RedisServer(root).start()
    s = mailstack.MailStack(root,
                            os.environ.get("MAILBAG_MAILBAG_BIN", os.path.join(BUILD, "cli", "mailbag")),
                            os.environ.get("MAILBAG_POLICYD_BIN",
                                           os.path.join(BUILD, "policyd", "mailbag-policyd")),
                            os.path.join(BUILD, "dovecot-plugin", "libauthdb_mailbag.so"),
                            store=redis.location)
    s.redis = redis
    try:
        s.start()
        s.update_context({"auth": TEST_AUTH_SETTINGS})
        yield s
    finally:
        s.stop()
        redis.stop()
        if os.environ.get("MAILBAG_KEEP_TEST_DIR"):
            print("test directory kept:", root)
        else:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def nodes(request):
    """Three nodes, each in its own network namespace, on one Redis set
    (tests/integration/nodes.py), for the module. A module sets
    NODES_STORE = "sentinel" for stores that name the sentinels."""
    if os.geteuid() != 0:
        pytest.fail("the integration tests run Postfix and Dovecot and need root")
    import nodes as nodeset
    n = nodeset.Nodes(BUILD, store=getattr(request.module, "NODES_STORE", "master"),
                      keep=bool(os.environ.get("MAILBAG_KEEP_TEST_DIR")))
    n.start()  # stops what it started when it fails
    try:
        yield n
    finally:
        n.stop()


def wait_until(predicate, timeout=20, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


_counter = [0]


def new_domain(stack):
    """A fresh domain served by stack, unique in this test session."""
    _counter[0] += 1
    name = "d%d-%d.example" % (_counter[0], os.getpid())
    stack.mailbag("domain", "add", name, check=True)
    return name


@pytest.fixture
def domain(stack):
    """A fresh domain served by the stack, unique to the test."""
    return new_domain(stack)


@pytest.fixture(params=["lmdb", "redis"])
def any_stack(request):
    """Each test using it runs twice: on the LMDB stack and the Redis one."""
    return request.getfixturevalue("stack" if request.param == "lmdb" else "redis_stack")


@pytest.fixture
def any_domain(any_stack):
    return new_domain(any_stack)
