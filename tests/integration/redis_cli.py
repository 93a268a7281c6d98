"""A few Redis commands from the tests without a client library, for
sentinelset.py: one connection per command, AUTH first. The RESP encoding
and reading are redisset.py's; here an error reply is raised as an
OSError, so that callers treat a refusal like a server that is away."""

import socket

from redisset import RedisError as ErrorReply, resp_encode, resp_read


class RedisError(OSError):
    pass


def _checked(reply):
    if isinstance(reply, ErrorReply):
        raise RedisError(str(reply))
    return reply


def command(port, password, *args, timeout=2):
    """One command on 127.0.0.1:port after AUTH; the decoded reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        f = s.makefile("rb")
        payload = (resp_encode(["AUTH", password]) if password else b"") + resp_encode(list(args))
        s.sendall(payload)
        if password:
            _checked(resp_read(f))
        return _checked(resp_read(f))
