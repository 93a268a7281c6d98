"""A small authoritative DNS server for the tests, on port 53 of a
loopback address of its own (127.53.X.Y, from the process ID, so that a
demo server started by a test has another).

mailbag-milter runs in its own mount namespace whose /etc/resolv.conf
names this server, so SPF (libspf2), DKIM (libopendkim) and DMARC
(libopendmarc) ask it through their ordinary resolvers, as on a real
host. Records are set per test (set/remove); every other name is
NXDOMAIN at once; a name in `silent` gets no answer at all (a timeout);
a name in `servfail` is answered SERVFAIL (a server that failed).
"""
import errno
import os
import socket
import socketserver
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

class TestDns:
    def __init__(self, address, port=53):
        self.address = address
        self.port = port
        self.records = {}      # (name, type) -> [text]
        self.silent = set()    # names never answered
        self.servfail = set()  # names answered SERVFAIL
        self.lock = threading.Lock()
        self.queries = []

    def set(self, name, rtype, *values):
        with self.lock:
            self.records[(name.lower().rstrip("."), rtype.upper())] = list(values)

    def remove(self, name, rtype):
        with self.lock:
            self.records.pop((name.lower().rstrip("."), rtype.upper()), None)

    def clear(self):
        with self.lock:
            self.records.clear()
            self.silent.clear()
            self.servfail.clear()

    def answer(self, wire):
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        q = query.question[0]
        name = q.name.to_text().lower().rstrip(".")
        rtype = dns.rdatatype.to_text(q.rdtype)
        with self.lock:
            self.queries.append((name, rtype))
            if name in self.silent:
                return None
            if name in self.servfail:
                response.set_rcode(dns.rcode.SERVFAIL)
                return response.to_wire()
            values = self.records.get((name, rtype))
            exists = any(n == name for (n, _t) in self.records)
        if values:
            if rtype == "TXT":
                texts = []
                for v in values:
                    # a long TXT value goes out as strings of 255 bytes
                    chunks = [v[i:i + 255] for i in range(0, len(v), 255)] or [""]
                    texts.append(" ".join('"%s"' % c.replace('"', '\\"') for c in chunks))
                values = texts
            response.answer.append(dns.rrset.from_text_list(q.name, 60, "IN", rtype, values))
        elif not exists:
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()

    def start(self):
        server = self

        class Udp(socketserver.BaseRequestHandler):
            def handle(self):
                data, sock = self.request
                try:
                    reply = server.answer(data)
                except Exception:
                    return
                if reply is not None:
                    sock.sendto(reply, self.client_address)

        class Tcp(socketserver.BaseRequestHandler):
            def handle(self):
                head = self.request.recv(2)
                if len(head) < 2:
                    return
                size = int.from_bytes(head, "big")
                data = b""
                while len(data) < size:
                    chunk = self.request.recv(size - len(data))
                    if not chunk:
                        return
                    data += chunk
                reply = server.answer(data)
                if reply is not None:
                    self.request.sendall(len(reply).to_bytes(2, "big") + reply)

        socketserver.ThreadingUDPServer.allow_reuse_address = True
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.udp = socketserver.ThreadingUDPServer((self.address, self.port), Udp)
        try:
            self.tcp = socketserver.ThreadingTCPServer((self.address, self.port), Tcp)
        except OSError:
            self.udp.server_close()
            raise
        for s in (self.udp, self.tcp):
            s.daemon_threads = True
            threading.Thread(target=s.serve_forever, daemon=True).start()
        return self

    def stop(self):
        for s in (self.udp, self.tcp):
            s.shutdown()
            s.server_close()


_shared = None


def shared():
    """The one test DNS server of this process."""
    global _shared
    if _shared is None:
        pid = os.getpid()
        for attempt in range(64):
            n = (pid + attempt * 7919) % 65000 + 1
            address = "127.53.%d.%d" % (n // 256, n % 256 or 1)
            try:
                _shared = TestDns(address).start()
                break
            except OSError as e:
                if e.errno != errno.EADDRINUSE:
                    raise
        else:
            raise RuntimeError("no free loopback address for the test DNS server")
    return _shared
