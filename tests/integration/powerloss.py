#!/usr/bin/env python3
"""Raw-socket clients for test_powerloss.sh.

usage: powerloss.py SOCKET MODE [ARGS]
  ackwait JTI       send REVOKE JTI on one connection; on a second one,
                    poll STATS until journal_pending >= 1 (the write is
                    applied and waits for its fsync), then time a CHECK;
                    then wait for the REVOKE's reply. Print
                    "revoke_ms=R probe_ms=P check_ms=C early=E reply=X":
                    R the REVOKE's round trip, P the slowest STATS, C the
                    CHECK's round trip, E 1 if the REVOKE had been answered
                    before the CHECK was, X the REVOKE's reply.
  storm PREFIX N PID KILL_AFTER KILL_ACKS
                    pipeline REVOKE PREFIX1..PREFIXN on one connection
                    while reading replies; SIGKILL PID once KILL_ACKS
                    replies have arrived or KILL_AFTER seconds have passed,
                    whichever is first; read until EOF. Print "acked=K"
                    (the leading +OK replies), "killed_on=acks|timer" and
                    "elapsed_ms=T" (last reply read); exit 1 if any reply
                    is not +OK.
"""
import os
import select
import signal
import socket
import sys
import threading
import time

DEADLINE = 20.0
OK = b"+OK\r\n"


def bulk(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(DEADLINE)
    s.connect(path)
    return s


class Reader:
    """RESP2 replies off a blocking socket, one at a time."""

    def __init__(self, s):
        self.s, self.buf = s, b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _bytes(self, n):
        while len(self.buf) < n + 2:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-"):
            return line.decode()
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._bytes(n).decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError("bad reply line %r" % line)


def ackwait(path, jti):
    writer, reader = connect(path), connect(path)
    wr, rr = Reader(writer), Reader(reader)
    exp = int(time.time()) + 3600
    t0 = time.monotonic()
    writer.sendall(bulk("REVOKE", jti, exp))
    probe = 0.0
    while True:
        p0 = time.monotonic()
        reader.sendall(bulk("STATS"))
        stats = rr.reply()
        probe = max(probe, time.monotonic() - p0)
        fields = dict(zip(stats[::2], stats[1::2]))
        if fields.get("journal_pending", 0) >= 1:
            break
        if time.monotonic() - t0 > DEADLINE:
            sys.exit("the REVOKE never showed as pending")
    c0 = time.monotonic()
    reader.sendall(bulk("CHECK", "ackwait-other"))
    rr.reply()
    check = time.monotonic() - c0
    early = int(bool(select.select([writer], [], [], 0)[0]))
    reply = wr.reply()
    revoke = time.monotonic() - t0
    print("revoke_ms=%d probe_ms=%d check_ms=%d early=%d reply=%s" %
          (int(revoke * 1000), int(probe * 1000), int(check * 1000), early,
           reply))


def storm(path, prefix, n, pid, kill_after, kill_acks):
    s = connect(path)
    exp = int(time.time()) + 3600
    payload = b"".join(bulk("REVOKE", "%s%d" % (prefix, i), exp)
                       for i in range(1, n + 1))
    lock, why = threading.Lock(), []

    def kill(reason):
        with lock:
            if not why:
                why.append(reason)
                os.kill(pid, signal.SIGKILL)

    def send():
        try:
            s.sendall(payload)
        except OSError:
            pass            # the daemon died under us: expected

    t0 = time.monotonic()
    threading.Thread(target=send, daemon=True).start()
    timer = threading.Timer(kill_after, kill, ("timer",))
    timer.start()
    buf, last = b"", t0
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            last = time.monotonic()
            if len(buf) >= kill_acks * len(OK):
                kill("acks")
    except (ConnectionResetError, socket.timeout):
        pass
    timer.cancel()
    kill("eof")             # only if the daemon hung up by itself
    acked = len(buf) // len(OK)
    if buf != OK * acked + OK[:len(buf) % len(OK)]:
        print("unexpected reply after %d +OK: %r" %
              (acked, buf[len(OK) * acked:][:100]))
        sys.exit(1)
    print("acked=%d killed_on=%s elapsed_ms=%d" %
          (acked, why[0], int((last - t0) * 1000)))


def main():
    path, mode = sys.argv[1], sys.argv[2]
    if mode == "ackwait":
        ackwait(path, sys.argv[3])
    elif mode == "storm":
        storm(path, sys.argv[3], int(sys.argv[4]), int(sys.argv[5]),
              float(sys.argv[6]), int(sys.argv[7]))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
