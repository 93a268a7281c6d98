"""A few Redis commands from the tests without a client library: RESP
over a socket, enough for ROLE, INFO, SENTINEL and GET."""

import socket


def _encode(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(b), b)
    return out


def _read(f):
    line = f.readline()
    if not line:
        raise ConnectionError("connection closed")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RedisError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode(errors="replace")
    if kind == b"*":
        n = int(rest)
        if n < 0:
            return None
        return [_read(f) for _ in range(n)]
    raise ConnectionError("not RESP: %r" % line)


class RedisError(OSError):
    pass


def command(port, password, *args, timeout=2):
    """One command on 127.0.0.1:port after AUTH; the decoded reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        f = s.makefile("rb")
        payload = (_encode(["AUTH", password]) if password else b"") + _encode(list(args))
        s.sendall(payload)
        if password:
            _read(f)
        return _read(f)
