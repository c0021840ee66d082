#!/usr/bin/env python3
"""A scripted RESP2 server on a Unix socket: replies a real daemon gives
only in states that are hard to reach (loading, stale, Redis away).

usage: fakeserver.py [--ready] [--max-conns N] [--record FILE] SOCKET
                     [CMD=REPLY ...]

  CMD=REPLY  answer every request whose command name is CMD (compared
             without regard to case) with the bytes REPLY, after decoding
             the escapes \\r, \\n, \\t, \\\\ and \\xNN; nothing is added, so
             end REPLY with \\r\\n. CMD given more than once: its replies
             are used in turn, the last one from then on. A command not
             in the script gets -ERR unknown command 'CMD'.
  --ready    print "ready" on stdout once the socket accepts connections.
  --max-conns N
             accept N connections, then remove the socket and accept no
             more (a client that reconnects then fails); exit once they
             are closed.
  --record FILE
             append the exact bytes of every request (its whole frame,
             or inline line) to FILE, before answering it, so a test can
             compare what a client sent with what PROTOCOL.md says.

The socket is bound under a temporary name and renamed to SOCKET once it
listens, so SOCKET existing means ready. Requests are multibulk or inline;
pipelined requests are answered in order. Connections are served one
event at a time. SIGTERM or SIGINT: remove the socket, exit 0. Nothing
else is written to stdout.

example: fakeserver.py /tmp/s 'PING=+PONG\\r\\n' 'CHECK=-LOADING not yet\\r\\n'
"""
import os
import selectors
import signal
import socket
import sys


def decode(text):
    """Decode \\r, \\n, \\t, \\\\ and \\xNN in text into bytes."""
    out = bytearray()
    raw = text.encode("utf-8", "surrogateescape")
    i = 0
    while i < len(raw):
        c = raw[i]
        if c != 0x5C or i + 1 == len(raw):
            out.append(c)
            i += 1
            continue
        e = chr(raw[i + 1])
        if e in "rnt\\":
            out += {"r": b"\r", "n": b"\n", "t": b"\t", "\\": b"\\"}[e]
            i += 2
        elif e == "x" and i + 4 <= len(raw):
            out.append(int(raw[i + 2:i + 4], 16))
            i += 4
        else:
            sys.exit("fakeserver: bad escape \\%s in %r" % (e, text))
    return bytes(out)


def parse(buf):
    """Parse one request from buf: (args, rest), or (None, buf) when it is
    incomplete. Blank inline lines and empty arrays give ([], rest)."""
    if not buf:
        return None, buf
    if buf[:1] != b"*":
        nl = buf.find(b"\n")
        if nl == -1:
            return None, buf
        return buf[:nl].rstrip(b"\r").split(), buf[nl + 1:]
    nl = buf.find(b"\r\n")
    if nl == -1:
        return None, buf
    n = int(buf[1:nl])
    pos = nl + 2
    args = []
    for _ in range(max(n, 0)):
        nl = buf.find(b"\r\n", pos)
        if nl == -1:
            return None, buf
        if buf[pos:pos + 1] != b"$":
            raise ValueError("expected '$'")
        size = int(buf[pos + 1:nl])
        start = nl + 2
        if len(buf) < start + size + 2:
            return None, buf
        args.append(buf[start:start + size])
        pos = start + size + 2
    return args, buf[pos:]


class Script:
    """The scripted replies, consumed in turn per command name."""

    def __init__(self, pairs):
        self.replies = {}
        for pair in pairs:
            name, sep, reply = pair.partition("=")
            if not sep or not name:
                sys.exit("fakeserver: want CMD=REPLY, got %r" % pair)
            self.replies.setdefault(name.upper(), []).append(decode(reply))

    def answer(self, args):
        """Return the reply bytes for one request."""
        name = args[0].decode("latin-1").upper()
        queue = self.replies.get(name)
        if not queue:
            return b"-ERR unknown command '" + args[0][:32] + b"'\r\n"
        return queue.pop(0) if len(queue) > 1 else queue[0]


def serve_conn(conn, state, script, record):
    """Read from a ready connection and answer every complete request in
    it, appending each request's bytes to the file record (or None);
    False when the connection is to be closed."""
    try:
        chunk = conn.recv(65536)
    except ConnectionError:
        return False
    if not chunk:
        return False
    state[0] += chunk
    out, keep = b"", True
    while True:
        try:
            before = state[0]
            args, state[0] = parse(state[0])
        except ValueError as e:
            out += b"-ERR Protocol error: " + str(e).encode() + b"\r\n"
            keep = False
            break
        if args is None:
            break
        if record is not None:
            record.write(before[:len(before) - len(state[0])])
            record.flush()
        if args:
            out += script.answer(args)
    try:
        conn.sendall(out)
    except ConnectionError:
        return False
    return keep


def serve(path, script, ready, max_conns, wakeup, record):
    """Listen on path and answer requests until a signal (STOPPING set,
    wakeup readable) or max_conns connections have come and gone."""
    tmp = "%s.tmp%d" % (path, os.getpid())
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(tmp)
    lsock.listen(16)
    os.rename(tmp, path)
    if ready:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ, "listen")
    sel.register(wakeup, selectors.EVENT_READ, "wakeup")
    accepted = 0
    try:
        while not STOPPING:
            for key, _ in sel.select():
                if key.data == "wakeup":
                    os.read(wakeup, 512)
                elif key.data == "listen":
                    conn, _ = lsock.accept()
                    accepted += 1
                    sel.register(conn, selectors.EVENT_READ, [b""])
                    if max_conns and accepted >= max_conns:
                        sel.unregister(lsock)
                        lsock.close()
                        os.unlink(path)
                        lsock = None
                elif not serve_conn(key.fileobj, key.data, script, record):
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
                    if lsock is None and len(sel.get_map()) == 1:
                        return
    finally:
        if lsock is not None:
            lsock.close()
            os.unlink(path)


def stop(signum, frame):
    """Signal handler: ask the event loop to end."""
    STOPPING.append(signum)


def main(argv):
    """Parse the command line and serve."""
    ready, max_conns, record = False, 0, None
    while argv and argv[0].startswith("--"):
        opt = argv.pop(0)
        if opt == "--ready":
            ready = True
        elif opt == "--max-conns" and argv:
            max_conns = int(argv.pop(0))
        elif opt == "--record" and argv:
            record = open(argv.pop(0), "ab")
        else:
            sys.exit(__doc__)
    if not argv:
        sys.exit(__doc__)
    path, script = argv[0], Script(argv[1:])
    # The handler only sets a flag; the wakeup pipe ends the select().
    # Raising from the handler instead could land anywhere, and at exit
    # Python restores the default action, so a SIGTERM during shutdown
    # would kill us with status 15: ignore both from then on.
    rfd, wfd = os.pipe()
    os.set_blocking(wfd, False)
    signal.set_wakeup_fd(wfd)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        serve(path, script, ready, max_conns, rfd, record)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return 0


STOPPING = []  # signals received

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
