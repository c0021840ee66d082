#!/usr/bin/env python3
"""Raw-socket RESP clients for integration tests: what redis-cli cannot do.

usage: rawclient.py SOCKET MODE [ARGS]
  send TEXT [QUIET] send TEXT with \\r, \\n, \\xNN escapes decoded, print every reply byte until EOF
                    or 2 s of silence, as Python repr; exit 0
  pipeline N        send N CHECK requests in one write, check N replies
                    arrive in order; print "ok N"
  garbage           send a malformed frame; expect -ERR Protocol error then
                    EOF; print "closed"
  count PREFIX N    pipeline CHECK PREFIX1..PREFIXN, print how many are
                    revoked
  noread N          send N CHECKs without reading any reply, then wait for
                    the daemon to drop us (EOF or reset); print "dropped"
"""
import select
import socket
import sys
import time

from propagation import bulk  # the same directory: sys.path[0]

DEADLINE = 20.0
NOT_REVOKED = b"*1\r\n$11\r\nnot_revoked\r\n"


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(DEADLINE)
    s.connect(path)
    return s


def read_until_eof(s, quiet=2.0):
    s.settimeout(quiet)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data, True
            data += chunk
    except socket.timeout:
        return data, False
    except ConnectionResetError:
        return data, True


def main():
    path, mode = sys.argv[1], sys.argv[2]
    s = connect(path)
    if mode == "send":
        s.sendall(sys.argv[3].encode("latin-1").decode("unicode_escape")
                  .encode("latin-1"))
        quiet = float(sys.argv[4]) if len(sys.argv) > 4 else 2.0
        data, eof = read_until_eof(s, quiet)
        print(repr(data), "EOF" if eof else "OPEN")
    elif mode == "pipeline":
        n = int(sys.argv[3])
        s.sendall(b"".join(bulk("CHECK", "p%d" % i) if i % 2 else
                           bulk("PING", "m%d" % i) for i in range(n)))
        want = b"".join(b"*1\r\n$11\r\nnot_revoked\r\n" if i % 2 else
                        b"$%d\r\nm%d\r\n" % (len(b"m%d" % i), i)
                        for i in range(n))
        got = b""
        while len(got) < len(want):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        if got != want:
            print("mismatch", repr(got[:200]))
            sys.exit(1)
        print("ok", n)
    elif mode == "count":
        prefix, n = sys.argv[3], int(sys.argv[4])
        s.sendall(b"".join(bulk("CHECK", "%s%d" % (prefix, i))
                           for i in range(1, n + 1)))
        buf, replies, revoked = b"", 0, 0
        while replies < n:
            chunk = s.recv(65536)
            if not chunk:
                sys.exit("connection closed after %d replies" % replies)
            buf += chunk
            while True:
                if buf.startswith(NOT_REVOKED):
                    buf = buf[len(NOT_REVOKED):]
                    replies += 1
                    continue
                if buf.startswith(b"*4\r\n"):
                    # revoked, rule, until, reason: walk four elements
                    pos, ok = 4, True
                    for _ in range(4):
                        end = buf.find(b"\r\n", pos)
                        if end < 0:
                            ok = False
                            break
                        if buf[pos:pos + 1] == b"$":
                            pos = end + 2 + int(buf[pos + 1:end]) + 2
                            if pos > len(buf):
                                ok = False
                                break
                        else:
                            pos = end + 2
                    if ok:
                        buf = buf[pos:]
                        replies += 1
                        revoked += 1
                        continue
                break
        print(revoked)
    elif mode == "garbage":
        s.sendall(b"*1\r\n$abc\r\nPING\r\n")
        data, eof = read_until_eof(s)
        if not data.startswith(b"-ERR Protocol error") or not eof:
            print("unexpected", repr(data), eof)
            sys.exit(1)
        print("closed")
    elif mode == "noread":
        # Fill the daemon's output with replies we never read, then wait
        # (still not reading) until it hangs up on us.
        n = int(sys.argv[3])
        req = bulk("CHECK", "x" * 200)
        s.setblocking(False)
        sent = 0
        while sent < n:
            try:
                s.send(req)
                sent += 1
                continue
            except BlockingIOError:
                pass
            except (BrokenPipeError, ConnectionResetError):
                break
            # Full for a whole second: the daemon stopped reading us.
            if not select.select([], [s], [], 1.0)[1]:
                break
        p = select.poll()
        p.register(s, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
        if not p.poll(DEADLINE * 1000):
            print("still connected after", sent, "requests")
            sys.exit(1)
        print("dropped")
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
