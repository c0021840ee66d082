#!/usr/bin/python3
"""Soak load for test_soak.sh (standard library only).

usage: soak.py MODE ARGS
  load SOCK SECONDS CONNS RATE CLIENT_TIMEOUT LOG
        For SECONDS, CONNS worker connections (one selector loop, non-
        blocking sockets) each send one request at a time, RATE requests
        a second in all (0: as fast as they are answered): CHECKs of
        revocations already acknowledged (which must say revoked while
        their exp is more than a second away) or of jtis never revoked
        (which must say not_revoked), and REVOKEs, most with exp a few
        seconds ahead, one in twenty an hour ahead ("long"). Meanwhile:
          - vanishers connect and close at once, after half a request,
            after a whole REVOKE whose reply they never read, or half-way
            through reading a pipeline's replies;
          - garbage connections send a malformed frame (or a jti over
            the limit, or an oversized line) and must get one -ERR and
            be disconnected;
          - slow connections send half a request and wait: the daemon
            must drop them after CLIENT_TIMEOUT;
          - one connection at a time pipelines CHECKs and never reads its
            replies: the daemon must drop it after CLIENT_TIMEOUT, while
            every worker is still served;
          - "fault redis-kill", "fault hup" and "fault redis-stop" are
            printed on stdout at a quarter, two fifths and three fifths
            of SECONDS, for the calling script to act on.
        At the end the workers' last replies are awaited. Every REVOKE
        answered +OK or +PENDING is written to LOG as "jti exp short|long
        OK|PENDING". The last line on stdout is "result key=value ...";
        each broken expectation is a line "violation ..." on stderr, and
        the exit status is 1 if there was any.
  verify SOCK LOG
        CHECK every logged revocation (pipelined, in chunks); print
        "long=N long_revoked=N short_live=N short_live_revoked=N", a
        short one being live while its exp is more than 1 s away. Each
        missing one is printed on stderr ("missing jti exp ...").
  fds SOCK PID
        On one connection: STATS, then count /proc/PID/fd while still
        connected; print "CONNECTIONS FDS".
"""
import gc
import heapq
import os
import random
import select
import selectors
import socket
import sys
import time

from propagation import Conn, Error, Status, bulk  # sys.path[0]

LONG_TTL = 3600		# seconds ahead of a long-lived REVOKE
SHORT_TTL = (2, 5)	# range of seconds ahead of a short-lived one
LONG_EVERY = 20		# one REVOKE in LONG_EVERY is long-lived
REVOKE_SHARE = 0.2	# share of worker requests that are REVOKEs
VANISH_EVERY = 0.01	# seconds between two vanishing connections
GARBAGE_EVERY = 0.05	# seconds between two garbage connections
SLOW_EVERY = 3.0	# seconds between two half-request stallers
DRAIN_SECONDS = 20.0	# after the load: longest wait for replies owed
NOREAD_REASON = "r" * 400	# makes the non-reader's replies large


class Incomplete(Exception):
    """The buffer does not hold a whole reply yet."""


def parse(buf, pos=0):
    """One reply from buf at pos: (value, next pos), or raise Incomplete.
    Values as propagation.Conn.reply gives them."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete
    kind, rest = buf[pos:pos + 1], bytes(buf[pos + 1:end])
    pos = end + 2
    if kind == b"+":
        return Status(rest.decode("latin-1")), pos
    if kind == b"-":
        return Error(rest.decode("latin-1")), pos
    if kind == b":":
        return int(rest), pos
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None, pos
        if len(buf) < pos + n + 2:
            raise Incomplete
        return bytes(buf[pos:pos + n]), pos + n + 2
    if kind == b"*":
        n = int(rest)
        if n < 0:
            return None, pos
        out = []
        for _ in range(n):
            v, pos = parse(buf, pos)
            out.append(v)
        return out, pos
    raise ValueError("bad reply line %r" % bytes(buf[pos - 2 - len(rest) - 1:end]))


def pct(sorted_list, p):
    """The p-th percentile (nearest rank) of a sorted list, or nan."""
    if not sorted_list:
        return float("nan")
    i = max(0, -(-len(sorted_list) * p // 100) - 1)
    return sorted_list[int(i)]


def connect(path, blocking=False):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2.0)
    s.connect(path)
    s.setblocking(blocking)
    return s


class Soak:
    """The whole load: every connection on one selector."""

    def __init__(self, path, seconds, nconns, client_timeout, rate):
        self.path = path
        # Mean seconds between two requests of a worker (0: none).
        self.gap = nconns / rate if rate > 0 else 0.0
        self.due = []			# (when, idx): workers waiting to send
        self.seconds = seconds
        self.client_timeout = client_timeout
        self.sel = selectors.DefaultSelector()
        self.rng = random.Random(os.getpid())
        self.acked = []			# (jti, exp, kind, reply)
        self.live_pool = []		# (jti, exp) to CHECK
        self.check_ms = []
        self.revoke_ms = []
        self.violations = []
        self.n = dict(checks=0, revokes=0, ok=0, pending=0, vanish=0,
                      garbage=0, garbage_closed=0, slow=0, slow_dropped=0,
                      noread=0, noread_dropped=0, worker_lost=0,
                      connect_errors=0)
        self.noread_max = 0.0		# seconds from stuck to dropped
        self.slow_max = 0.0		# seconds from stalling to dropped
        self.stopping = False
        self.workers = [Worker(self, i) for i in range(nconns)]
        self.others = set()		# vanishers, garbage, slow, noread
        self.noread = None
        self.next_noread = 0.0

    def violation(self, text):
        self.violations.append(text)
        if len(self.violations) <= 20:
            print("violation " + text, file=sys.stderr, flush=True)

    def run(self, log):
        # The non-readers CHECK a revoked jti with a long reason, so that
        # a few hundred requests fill the daemon's output limit.
        c = Conn(self.path)
        exp = int(time.time()) + LONG_TTL
        r = c.call("REVOKE", "noread-target", str(exp), "REASON",
                   NOREAD_REASON)
        c.s.close()
        if r not in ("OK", "PENDING"):
            sys.exit("REVOKE noread-target: %r" % r)
        self.acked.append(("noread-target", exp, "long", str(r)))
        self.live_pool.append(("noread-target", exp))

        start = time.monotonic()
        end = start + self.seconds
        faults = [(start + self.seconds * f, name) for f, name in
                  ((0.25, "redis-kill"), (0.4, "hup"), (0.6, "redis-stop"))]
        t_vanish = t_garbage = start
        t_slow = start + 0.5
        self.next_noread = start + 1.0
        for w in self.workers:
            w.start()
        while True:
            now = time.monotonic()
            if faults and now >= faults[0][0]:
                print("fault " + faults.pop(0)[1], flush=True)
            if not self.stopping and now >= end:
                self.stopping = True
                drain_end = now + DRAIN_SECONDS
            if not self.stopping:
                while t_vanish <= now:
                    t_vanish += VANISH_EVERY
                    self.spawn(Vanisher)
                while t_garbage <= now:
                    t_garbage += GARBAGE_EVERY
                    self.spawn(Garbage)
                if t_slow <= now:
                    t_slow += SLOW_EVERY
                    self.spawn(Slow)
                if self.noread is None and now >= self.next_noread:
                    self.noread = self.spawn(NoRead)
            for o in list(self.others):
                o.tick(now)
            if self.stopping:
                busy = [w for w in self.workers if w.busy()]
                if not busy and not self.others:
                    break
                if now > drain_end:
                    for w in busy:
                        self.violation("worker %d: no reply within %.0f s "
                                       "after the load" % (w.idx,
                                                           DRAIN_SECONDS))
                    for o in self.others:
                        self.violation("%s still open %.0f s after the "
                                       "load" % (type(o).__name__,
                                                 DRAIN_SECONDS))
                    break
            while self.due and self.due[0][0] <= now:
                self.workers[heapq.heappop(self.due)[1]].send_next()
            wait = 0.005
            if self.due:
                wait = min(wait, max(0.0, self.due[0][0] - now))
            for key, mask in self.sel.select(timeout=wait):
                key.data.event(mask, time.monotonic())
        elapsed = time.monotonic() - start
        with open(log, "w") as f:
            for jti, exp, kind, reply in self.acked:
                f.write("%s %d %s %s\n" % (jti, exp, kind, reply))
        self.check_ms.sort()
        self.revoke_ms.sort()
        n = self.n
        ops = n["checks"] + n["revokes"]
        print("result ops=%d checks=%d revokes=%d revokes_ok=%d "
              "revokes_pending=%d long=%d ops_per_s=%.0f check_p50_ms=%.3f "
              "check_p99_ms=%.3f check_max_ms=%.3f revoke_p99_ms=%.3f "
              "revoke_max_ms=%.3f vanished=%d garbage=%d garbage_closed=%d "
              "slow=%d slow_dropped=%d slow_max_s=%.2f noread=%d "
              "noread_dropped=%d noread_max_s=%.2f worker_lost=%d "
              "connect_errors=%d violations=%d seconds=%.1f" % (
                  ops, n["checks"], n["revokes"], n["ok"], n["pending"],
                  sum(1 for a in self.acked if a[2] == "long"),
                  ops / elapsed, pct(self.check_ms, 50),
                  pct(self.check_ms, 99),
                  self.check_ms[-1] if self.check_ms else float("nan"),
                  pct(self.revoke_ms, 99),
                  self.revoke_ms[-1] if self.revoke_ms else float("nan"),
                  n["vanish"], n["garbage"], n["garbage_closed"], n["slow"],
                  n["slow_dropped"], self.slow_max, n["noread"],
                  n["noread_dropped"], self.noread_max, n["worker_lost"],
                  n["connect_errors"], len(self.violations), elapsed),
              flush=True)
        return 1 if self.violations else 0

    def spawn(self, cls):
        try:
            s = connect(self.path)
        except OSError as e:
            self.n["connect_errors"] += 1
            self.violation("%s: connect: %s" % (cls.__name__, e))
            return None
        o = cls(self, s, time.monotonic())
        if o.sock is not None:
            self.others.add(o)
        return o

    def done(self, o):
        """Forget connection o (closing it if still open)."""
        if o.sock is not None:
            try:
                self.sel.unregister(o.sock)
            except (KeyError, ValueError):
                pass
            o.sock.close()
            o.sock = None
        self.others.discard(o)
        if o is self.noread:
            self.noread = None
            self.next_noread = time.monotonic() + 0.5


class Worker:
    """A well-behaved client: one request at a time, every reply checked."""

    def __init__(self, soak, idx):
        self.soak = soak
        self.idx = idx
        self.sock = None
        self.buf = bytearray()
        self.out = b""
        self.req = None		# (kind, jti, exp, t0) awaiting its reply
        self.n = 0
        self.writing = False	# registered for EVENT_WRITE

    def busy(self):
        return self.req is not None

    def start(self):
        self.sock = connect(self.soak.path)
        self.writing = False
        self.soak.sel.register(self.sock, selectors.EVENT_READ, self)
        self.pace(time.monotonic())

    def send_next(self):
        s = self.soak
        if s.stopping:
            return
        rng = s.rng
        self.n += 1
        now = time.time()
        if rng.random() < REVOKE_SHARE:
            if rng.randrange(LONG_EVERY) == 0:
                kind, exp = "long", int(now) + LONG_TTL
                jti = "L%d.%d" % (self.idx, self.n)
                data = bulk("REVOKE", jti, str(exp), "REASON", "soak")
            else:
                kind = "short"
                exp = int(now) + rng.randint(*SHORT_TTL)
                jti = "s%d.%d" % (self.idx, self.n)
                data = bulk("REVOKE", jti, str(exp))
        else:
            if s.live_pool and rng.random() < 0.5:
                i = rng.randrange(len(s.live_pool))
                jti, exp = s.live_pool[i]
                if exp <= now + 1:
                    # Expiring: forget it (swap-remove), ask for a never
                    # revoked one instead.
                    s.live_pool[i] = s.live_pool[-1]
                    s.live_pool.pop()
                    jti, exp = "n%d.%d" % (self.idx, self.n), 0
            else:
                jti, exp = "n%d.%d" % (self.idx, self.n), 0
            kind = "check"
            data = bulk("CHECK", jti)
        self.req = (kind, jti, exp, time.monotonic())
        self.out = data
        self.flush()

    def flush(self):
        try:
            n = self.sock.send(self.out)
        except BlockingIOError:
            n = 0
        except OSError as e:
            self.lost("send: %s" % e)
            return
        self.out = self.out[n:]
        if bool(self.out) != self.writing:
            self.writing = bool(self.out)
            self.soak.sel.modify(self.sock, selectors.EVENT_READ |
                                 (selectors.EVENT_WRITE if self.out else 0),
                                 self)

    def lost(self, why):
        s = self.soak
        s.n["worker_lost"] += 1
        s.violation("worker %d lost its connection (%s) waiting for %r" %
                    (self.idx, why, self.req))
        s.sel.unregister(self.sock)
        self.sock.close()
        self.sock = None
        self.req = None
        self.buf = bytearray()
        self.out = b""
        if not s.stopping:
            self.start()

    def event(self, mask, now):
        if mask & selectors.EVENT_WRITE and self.out:
            sock = self.sock
            self.flush()
            if self.sock is not sock:	# lost (and maybe reconnected)
                return
        if not mask & selectors.EVENT_READ:
            return
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as e:
            self.lost("recv: %s" % e)
            return
        if not chunk:
            self.lost("EOF")
            return
        self.buf += chunk
        try:
            r, pos = parse(self.buf)
        except Incomplete:
            return
        del self.buf[:pos]
        if self.buf:
            self.soak.violation("worker %d: bytes after the reply: %r" %
                                (self.idx, bytes(self.buf[:80])))
        self.reply(r, now)
        self.pace(now)

    def pace(self, now):
        """Send the next request now, or at random (mean gap) later."""
        s = self.soak
        if s.gap == 0:
            self.send_next()
        elif not s.stopping:
            heapq.heappush(s.due, (now + s.rng.uniform(0, 2 * s.gap),
                                   self.idx))

    def reply(self, r, now):
        s = self.soak
        kind, jti, exp, t0 = self.req
        self.req = None
        ms = (now - t0) * 1000
        if kind == "check":
            s.n["checks"] += 1
            s.check_ms.append(ms)
            verdict = r[0] if isinstance(r, list) and r else r
            if exp == 0:
                if verdict != b"not_revoked":
                    s.violation("CHECK %s (never revoked): %r" % (jti, r))
            elif verdict != b"revoked" and exp > time.time() + 1:
                s.violation("CHECK %s (acknowledged, exp %d, now %.1f): %r"
                            % (jti, exp, time.time(), r))
            return
        s.n["revokes"] += 1
        s.revoke_ms.append(ms)
        if isinstance(r, Status) and r in ("OK", "PENDING"):
            s.n["ok" if r == "OK" else "pending"] += 1
            s.acked.append((jti, exp, kind, str(r)))
            s.live_pool.append((jti, exp))
        else:
            s.violation("REVOKE %s %d: %r" % (jti, exp, r))


def frame(rng):
    """A valid request frame to cut or abandon."""
    if rng.random() < 0.5:
        return bulk("CHECK", "v%d" % rng.randrange(1 << 30))
    return bulk("REVOKE", "v%d" % rng.randrange(1 << 30),
                str(int(time.time()) + 3), "REASON", "vanished")


class Vanisher:
    """Connects and goes away: at once, after half a request, after a
    whole short REVOKE and a CHECK whose replies it never reads, or after
    reading part of the replies to a pipeline."""

    def __init__(self, soak, sock, now):
        soak.n["vanish"] += 1
        self.soak = soak
        self.sock = sock
        rng = soak.rng
        how = rng.randrange(4)
        self.close_at = now
        self.want = 0		# bytes of replies to read before closing
        self.got = 0
        try:
            if how == 1:
                f = frame(rng)
                sock.send(f[:rng.randrange(1, len(f) - 1)])
                self.close_at = now + rng.uniform(0, 0.3)
            elif how == 2:
                sock.send(frame(rng) + bulk("CHECK", "v0"))
            elif how == 3:
                sock.send(b"".join(bulk("CHECK", "v%d" % i)
                                   for i in range(50)))
                self.want = rng.randrange(1, 50 * 22)
                self.close_at = now + 5
                soak.sel.register(sock, selectors.EVENT_READ, self)
        except OSError as e:
            soak.violation("vanisher: send: %s" % e)

    def event(self, mask, now):
        try:
            chunk = self.sock.recv(self.want - self.got)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        self.got += len(chunk)
        if not chunk or self.got >= self.want:
            self.soak.done(self)

    def tick(self, now):
        if now >= self.close_at:
            self.soak.done(self)


GARBAGE = [
    lambda rng: b"*x" + os.urandom(rng.randrange(1, 64)) + b"\r\n",
    lambda rng: b"*1\r\n$abc\r\nPING\r\n",
    lambda rng: b"*2\r\n$4\r\nPING\r\n:5\r\n",
    lambda rng: b"*1\r\n$4\r\nPINGxx",
    lambda rng: b"*99\r\n",
    lambda rng: b"*-1\r\n",
    lambda rng: bulk("CHECK", "j") + b"*2\r\n$5\r\nCHECK\r\n+" +
    os.urandom(rng.randrange(1, 64)),
    lambda rng: bulk("CHECK", "j" * 300),
    lambda rng: b"X" * 65536,
]


class Garbage:
    """Sends a malformed frame: must get -ERR, then EOF."""

    def __init__(self, soak, sock, now):
        soak.n["garbage"] += 1
        self.soak = soak
        self.sock = sock
        self.variant = soak.rng.randrange(len(GARBAGE))
        self.sent = GARBAGE[self.variant](soak.rng)
        self.buf = b""
        self.deadline = now + 5 + soak.client_timeout
        soak.sel.register(sock, selectors.EVENT_READ |
                          selectors.EVENT_WRITE, self)

    def event(self, mask, now):
        if mask & selectors.EVENT_WRITE:
            if self.sent:
                try:
                    n = self.sock.send(self.sent)
                except BlockingIOError:
                    n = 0
                except OSError:
                    n, self.sent = 0, b""	# closed: read what came
                self.sent = self.sent[n:]
            if not self.sent:
                self.soak.sel.modify(self.sock, selectors.EVENT_READ, self)
        if not mask & selectors.EVENT_READ:
            return
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            self.buf += chunk
            return
        # EOF: the daemon hung up. Skip the replies owed before the
        # garbage (variant 6 sends a good CHECK first); the last must be
        # the error.
        replies, pos = [], 0
        try:
            while pos < len(self.buf):
                r, pos = parse(self.buf, pos)
                replies.append(r)
        except (Incomplete, ValueError):
            replies.append(("unparsed", self.buf[pos:pos + 80]))
        if replies and isinstance(replies[-1], Error) and \
                replies[-1].startswith("ERR "):
            self.soak.n["garbage_closed"] += 1
        else:
            self.soak.violation("garbage %d: replies before EOF: %r" %
                                (self.variant, replies))
        self.soak.done(self)

    def tick(self, now):
        if now > self.deadline:
            self.soak.violation("garbage %d: not disconnected; got %r" %
                                (self.variant, self.buf[:200]))
            self.soak.done(self)


class Slow:
    """Sends half a request and waits: dropped after client-timeout."""

    def __init__(self, soak, sock, now):
        soak.n["slow"] += 1
        self.soak = soak
        self.sock = sock
        self.t0 = now
        sock.send(b"*2\r\n$5\r\nCHECK\r\n$10\r\nhalf")
        soak.sel.register(sock, selectors.EVENT_READ, self)

    def event(self, mask, now):
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if chunk:
            self.soak.violation("slow client got %r" % chunk[:80])
            return
        s = self.soak
        s.n["slow_dropped"] += 1
        took = now - self.t0
        s.slow_max = max(s.slow_max, took)
        if took < s.client_timeout - 0.5:
            s.violation("slow client dropped after %.2f s (client-timeout "
                        "%g)" % (took, s.client_timeout))
        s.done(self)

    def tick(self, now):
        if now > self.t0 + self.soak.client_timeout + 5:
            self.soak.violation("slow client not dropped after %.1f s" %
                                (now - self.t0))
            self.soak.done(self)


class NoRead:
    """Pipelines CHECKs and never reads a reply: once the daemon stops
    reading it (its replies at the output limit), it must be dropped after
    client-timeout."""

    REQ = bulk("CHECK", "noread-target") * 64

    def __init__(self, soak, sock, now):
        soak.n["noread"] += 1
        self.soak = soak
        self.sock = sock
        self.last_progress = now
        self.rdhup = select.poll()
        self.rdhup.register(sock, select.POLLRDHUP)
        soak.sel.register(sock, selectors.EVENT_WRITE, self)

    def event(self, mask, now):
        while True:
            try:
                n = self.sock.send(self.REQ)
            except BlockingIOError:
                return
            except OSError:
                self.dropped(now)
                return
            if n:
                self.last_progress = now

    def dropped(self, now):
        s = self.soak
        s.n["noread_dropped"] += 1
        took = now - self.last_progress
        s.noread_max = max(s.noread_max, took)
        # The daemon stops reading it a moment before its sends block.
        if took < s.client_timeout - 1:
            s.violation("non-reader dropped %.2f s after its last send "
                        "(client-timeout %g)" % (took, s.client_timeout))
        s.done(self)

    def tick(self, now):
        if self.rdhup.poll(0):
            self.dropped(now)
        elif now > self.last_progress + self.soak.client_timeout + 5:
            self.soak.violation("non-reader not dropped %.1f s after the "
                                "daemon stopped reading it" %
                                (now - self.last_progress))
            self.soak.done(self)


def verify(path, log):
    """CHECK every logged revocation; print the counts."""
    entries = []
    with open(log) as f:
        for line in f:
            jti, exp, kind, reply = line.split()
            entries.append((jti, int(exp), kind, reply))
    c = Conn(path)
    counts = dict(long=0, long_revoked=0, short_live=0, short_live_revoked=0)
    for i in range(0, len(entries), 1000):
        chunk = entries[i:i + 1000]
        c.send(b"".join(bulk("CHECK", e[0]) for e in chunk))
        replies = [c.reply() for _ in chunk]
        now = time.time()
        for (jti, exp, kind, reply), r in zip(chunk, replies):
            revoked = isinstance(r, list) and r and r[0] == b"revoked"
            if kind == "long":
                counts["long"] += 1
                counts["long_revoked"] += bool(revoked)
            elif exp > now + 1:
                counts["short_live"] += 1
                counts["short_live_revoked"] += bool(revoked)
            else:
                continue
            if not revoked:
                print("missing %s %d %s %s: %r" % (jti, exp, kind, reply, r),
                      file=sys.stderr)
    print(" ".join("%s=%d" % kv for kv in counts.items()))
    return 0


def fds(path, pid):
    c = Conn(path)
    r = c.call("STATS")
    stats = dict(zip(r[::2], r[1::2]))
    n = len(os.listdir("/proc/%s/fd" % pid))
    print(stats[b"connections"], n)
    return 0


def main():
    mode = sys.argv[1]
    if mode == "load":
        # No collector pauses in the latencies: the load makes no cycles.
        gc.disable()
        path, secs, conns, rate, timeout, log = sys.argv[2:8]
        return Soak(path, float(secs), int(conns), float(timeout),
                    float(rate)).run(log)
    if mode == "verify":
        return verify(sys.argv[2], sys.argv[3])
    if mode == "fds":
        return fds(sys.argv[2], sys.argv[3])
    sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    sys.exit(main())
