#!/usr/bin/python3
"""RESP helpers for the Redis replication tests (standard library only).

usage: propagation.py MODE ARGS
  latency A_SOCK B_SOCK PREFIX N EXP TIMEOUT
        N times: REVOKE PREFIX<i> EXP on daemon A, wait for its reply, then
        CHECK PREFIX<i> on daemon B in a tight loop until it says revoked
        (or TIMEOUT seconds pass). The latency of one revocation is the
        time from A's reply to B's first "revoked". Prints
        "n=N acked=K seen=S median_ms=.. p99_ms=.. max_ms=.. revoke_p50_ms=..
        revoke_p99_ms=.." and exits 1 unless every REVOKE was +OK and every
        revocation was seen.
  cmds SOCK
        Send every line of stdin (split on white space) as one command,
        pipelined; print one line per reply (see fmt()).
  checks SOCK [ISS]
        Pipeline CHECK for every jti on stdin (one per line); print
        "jti reply" per line, in input order.
  entries REDIS_SOCK PREFIX [ISS]
        For every jti on stdin, GET its entry key PREFIXj:<isslen>:<iss><jti>
        and print it in the form of "checks": "jti revoked jti exp reason"
        or "jti not_revoked". The value is
        "<exp>:<isslen>:<jtilen>:<iss><jti><reason>" (README's layout);
        a plain "<exp>:<reason>" is understood too.
  stream REDIS_SOCK KEY
        XRANGE KEY - +; print one line per entry: "id field=value ...".
Every read waits at most $PROBE_TIMEOUT seconds (default 60).
"""
import os
import socket
import sys
import time

TIMEOUT = float(os.environ.get("PROBE_TIMEOUT", "60"))


class Status(str):
    """A simple-string reply."""


class Error(str):
    """An error reply."""


def bulk(*args):
    """Encode a request as a RESP multibulk."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        if isinstance(a, str):
            a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Conn:
    """A blocking RESP connection over a Unix socket."""

    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(TIMEOUT)
        self.s.connect(path)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        chunk = self.s.recv(1 << 16)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def reply(self):
        """Read one reply: Status, Error, int, bytes, None or list."""
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return Status(rest.decode("latin-1"))
        if kind == b"-":
            return Error(rest.decode("latin-1"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n + 2)[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError("bad reply line %r" % line)

    def call(self, *args):
        self.send(bulk(*args))
        return self.reply()


def fmt(r):
    """One line for a reply: OK, -ERR ..., 1, text, (nil), a b c."""
    if isinstance(r, Error):
        return "-" + r
    if isinstance(r, (Status, int)):
        return str(r)
    if r is None:
        return "(nil)"
    if isinstance(r, bytes):
        return r.decode("latin-1") if r else '""'
    return " ".join(fmt(x) for x in r)


def is_revoked(r):
    return isinstance(r, list) and r and r[0] == b"revoked"


def pct(sorted_ms, p):
    if not sorted_ms:
        return float("nan")
    i = max(0, -(-len(sorted_ms) * p // 100) - 1)
    return sorted_ms[int(i)]


def latency(a_path, b_path, prefix, n, exp, timeout):
    a, b = Conn(a_path), Conn(b_path)
    lat, rev, acked, missing = [], [], 0, []
    for i in range(1, n + 1):
        jti = "%s%d" % (prefix, i)
        t = time.perf_counter()
        r = a.call("REVOKE", jti, str(exp))
        t0 = time.perf_counter()
        rev.append((t0 - t) * 1000)
        if r == "OK" and isinstance(r, Status):
            acked += 1
        else:
            print("REVOKE %s: %s" % (jti, fmt(r)), file=sys.stderr)
        end = t0 + timeout
        req = bulk("CHECK", jti)
        while True:
            b.send(req)
            if is_revoked(b.reply()):
                lat.append((time.perf_counter() - t0) * 1000)
                break
            if time.perf_counter() > end:
                missing.append(jti)
                break
        if len(missing) > 5:
            print("giving up: not seen on B: %s" % " ".join(missing),
                  file=sys.stderr)
            break
    lat.sort()
    rev.sort()
    print("n=%d acked=%d seen=%d median_ms=%.3f p99_ms=%.3f max_ms=%.3f "
          "revoke_p50_ms=%.3f revoke_p99_ms=%.3f" %
          (n, acked, len(lat), pct(lat, 50), pct(lat, 99),
           lat[-1] if lat else float("nan"), pct(rev, 50), pct(rev, 99)))
    if missing:
        print("not seen on B within %gs: %s" % (timeout, " ".join(missing)),
              file=sys.stderr)
    return 0 if acked == n and len(lat) == n else 1


def decode_value(v, iss, jti):
    """(exp, reason) of an entry key's value, or None if unparseable."""
    exp, sep, rest = v.partition(b":")
    if not sep or not exp.isdigit():
        return None
    parts = rest.split(b":", 2)
    if (len(parts) == 3 and parts[0].isdigit() and parts[1].isdigit()
            and int(parts[0]) == len(iss) and int(parts[1]) == len(jti)
            and parts[2].startswith(iss + jti)):
        return exp, parts[2][len(iss) + len(jti):]
    return exp, rest


def pipeline(path, requests):
    """Send every request in one write, return the replies in order."""
    c = Conn(path)
    c.send(b"".join(bulk(*r) for r in requests))
    return [c.reply() for _ in requests]


def main():
    mode = sys.argv[1]
    if mode == "latency":
        a, b, prefix, n, exp, timeout = sys.argv[2:8]
        return latency(a, b, prefix, int(n), int(exp), float(timeout))
    if mode == "cmds":
        reqs = [l.split() for l in sys.stdin.read().splitlines() if l.split()]
        for r in pipeline(sys.argv[2], reqs):
            print(fmt(r))
        return 0
    if mode == "checks":
        jtis = [l for l in sys.stdin.read().splitlines() if l]
        iss = sys.argv[3:4]
        reqs = [["CHECK", j] + (["ISS", iss[0]] if iss else []) for j in jtis]
        for j, r in zip(jtis, pipeline(sys.argv[2], reqs)):
            print(j, fmt(r))
        return 0
    if mode == "entries":
        prefix = sys.argv[3].encode()
        iss = sys.argv[4].encode() if len(sys.argv) > 4 else b""
        jtis = [l for l in sys.stdin.read().splitlines() if l]
        keys = [b"%sj:%d:%s%s" % (prefix, len(iss), iss, j.encode())
                for j in jtis]
        for j, r in zip(jtis, pipeline(sys.argv[2], [["GET", k] for k in keys])):
            if r is None:
                print(j, "not_revoked")
                continue
            d = decode_value(r, iss, j.encode()) if isinstance(r, bytes) else None
            if d is None:
                print(j, "unparseable", fmt(r))
            else:
                print(j, "revoked jti", d[0].decode(), fmt(d[1]))
        return 0
    if mode == "stream":
        r = Conn(sys.argv[2]).call("XRANGE", sys.argv[3], "-", "+")
        if isinstance(r, Error):
            sys.exit("XRANGE: " + r)
        for entry_id, fields in r:
            pairs = ["%s=%s" % (fields[k].decode("latin-1"),
                                fields[k + 1].decode("latin-1"))
                     for k in range(0, len(fields), 2)]
            print(entry_id.decode(), " ".join(pairs))
        return 0
    sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    sys.exit(main())
