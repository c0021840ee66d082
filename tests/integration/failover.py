#!/usr/bin/python3
"""Clients for the Sentinel failover tests (standard library only).

usage: failover.py MODE ARGS
  writer SOCK PREFIX EXP LOG STOP
        REVOKE PREFIX1, PREFIX2, ... EXP on daemon SOCK, one at a time,
        until the file STOP exists; append "sent_ms replied_ms jti reply"
        to LOG for every write (a line as soon as its reply is read).
        Exits 1 if the connection failed (logged as reply "-EXC ...").
  checker SOCK REVOKED FREE LOG STOP
        CHECK REVOKED (must be revoked) and CHECK FREE (must not be)
        alternately until STOP exists; append "wrong t_ms jti reply" to
        LOG for every other answer, and at the end "summary checks=N
        wrong=W max_ms=M" (M: the slowest CHECK's round trip).
  monitor LOG STOP NAME=SOCK...
        Every 10 ms read STATS of every daemon; append "t_ms NAME state
        primary" to LOG whenever its redis_state or redis_primary changes.
  converge T0_MS SECONDS HOST:PORT PREFIX SOCK... -- WLOG...
        Until every write acknowledged (+OK or +PENDING) in the writer logs
        has its key PREFIXj:0:<jti> in Redis at HOST:PORT and is revoked on
        every daemon SOCK: print "converged_ms=<now - T0_MS> acked=N";
        after SECONDS, print what is missing where and exit 1.
  figures T_CUT T_KILL NEW MONLOG NAME=WLOG...
        The failover's figures from the monitor log and the writer logs,
        one line of key=value (see figures()).
  streamorder HOST:PORT KEY
        XRANGE KEY - + on Redis at HOST:PORT; print "events=N origins=K
        ordered=1" if every origin's sequence numbers (field s) increase
        along the stream, else "ordered=0" and the first offending event.
Every read waits at most $PROBE_TIMEOUT seconds (default 60).
"""
import os
import socket
import sys
import time

# The same directory: sys.path[0].
from propagation import (TIMEOUT, Conn, Error, bulk, fmt, is_revoked,
                         pipeline)


class TcpConn(Conn):
    """A blocking RESP connection to HOST:PORT."""

    def __init__(self, addr):
        host, _, port = addr.rpartition(":")
        self.s = socket.create_connection((host, int(port)), TIMEOUT)
        self.buf = b""


def now_ms():
    return int(time.time() * 1000)


def tcp_pipeline(addr, requests):
    """pipeline() over TCP."""
    c = TcpConn(addr)
    c.send(b"".join(bulk(*r) for r in requests))
    replies = [c.reply() for _ in requests]
    c.s.close()
    return replies


def writer(sock, prefix, exp, log, stop):
    c = Conn(sock)
    i = 0
    with open(log, "a", buffering=1) as f:
        while not os.path.exists(stop):
            i += 1
            jti = "%s%d" % (prefix, i)
            t0 = now_ms()
            try:
                r = fmt(c.call("REVOKE", jti, exp))
            except (OSError, EOFError, ValueError) as e:
                f.write("%d %d %s -EXC %s\n" % (t0, now_ms(), jti, e))
                return 1
            f.write("%d %d %s %s\n" % (t0, now_ms(), jti, r))
            # A little air between writes: a few thousand writes is
            # plenty, and it leaves the machine to the daemons and Redis.
            time.sleep(0.003)
    return 0


def checker(sock, revoked, free, log, stop):
    c = Conn(sock)
    n = wrong = 0
    worst = 0.0
    with open(log, "a", buffering=1) as f:
        while not os.path.exists(stop):
            for jti, want in ((revoked, True), (free, False)):
                t0 = time.perf_counter()
                try:
                    r = c.call("CHECK", jti)
                except (OSError, EOFError, ValueError) as e:
                    f.write("wrong %d %s -EXC %s\n" % (now_ms(), jti, e))
                    wrong += 1
                    f.write("summary checks=%d wrong=%d max_ms=%d\n" %
                            (n, wrong, worst))
                    return 1
                worst = max(worst, (time.perf_counter() - t0) * 1000)
                n += 1
                good = (is_revoked(r) if want else
                        isinstance(r, list) and r[:1] == [b"not_revoked"])
                if not good:
                    wrong += 1
                    f.write("wrong %d %s %s\n" % (now_ms(), jti, fmt(r)))
            time.sleep(0.002)
        f.write("summary checks=%d wrong=%d max_ms=%d\n" % (n, wrong, worst))
    return 0


def stats(c):
    """STATS as a dict of field -> value (bytes or int)."""
    r = c.call("STATS")
    if not isinstance(r, list):
        return {}
    return dict(zip(r[0::2], r[1::2]))


def monitor(log, stop, pairs):
    conns = []
    for p in pairs:
        name, _, sock = p.partition("=")
        conns.append((name, Conn(sock)))
    last = {}
    with open(log, "a", buffering=1) as f:
        while not os.path.exists(stop):
            for name, c in conns:
                d = stats(c)
                key = (fmt(d.get(b"redis_state", b"?")),
                       fmt(d.get(b"redis_primary", b"")))
                if key != last.get(name):
                    last[name] = key
                    f.write("%d %s %s %s\n" % (now_ms(), name, key[0], key[1]))
            time.sleep(0.01)
    return 0


def read_wlog(path):
    """A writer log's lines as (sent_ms, replied_ms, jti, reply)."""
    out = []
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split(" ", 3)
            if len(p) == 4:
                out.append((int(p[0]), int(p[1]), p[2], p[3]))
    return out


def acked(logs):
    """The jtis of every acknowledged write, in log order, and the rest."""
    jtis, other = [], []
    for path in logs:
        for w in read_wlog(path):
            (jtis if w[3] in ("OK", "PENDING") else other).append(w)
    return jtis, other


def chunked(fn, where, requests, size=500):
    """fn(where, requests) in pipelines of at most size requests: a
    client that sends everything before reading would fill the daemon's
    output limit and be dropped (as the protocol says) under valgrind."""
    replies = []
    for i in range(0, len(requests), size):
        replies += fn(where, requests[i:i + size])
    return replies


def converge(t0, seconds, addr, prefix, socks, logs):
    writes, other = acked(logs)
    jtis = [w[2] for w in writes]
    end = time.time() + seconds
    while True:
        missing = {}
        try:
            r = chunked(tcp_pipeline, addr,
                        [["EXISTS", "%sj:0:%s" % (prefix, j)] for j in jtis])
            missing["redis"] = [j for j, x in zip(jtis, r) if x != 1]
        except (OSError, EOFError, ValueError) as e:
            missing["redis"] = ["(%s)" % e]
        for s in socks:
            try:
                r = chunked(pipeline, s, [["CHECK", j] for j in jtis])
                missing[s] = [j for j, x in zip(jtis, r) if not is_revoked(x)]
            except (OSError, EOFError, ValueError) as e:
                missing[s] = ["(%s)" % e]
        if not any(missing.values()):
            print("converged_ms=%d acked=%d unacked=%d" %
                  (now_ms() - t0, len(jtis), len(other)))
            return 0
        if time.time() > end:
            print("not converged after %gs: acked=%d" % (seconds, len(jtis)))
            for where, m in missing.items():
                if m:
                    print("  missing in %s: %d, e.g. %s" %
                          (where, len(m), " ".join(m[:10])))
            return 1
        time.sleep(0.05)


def figures(t_cut, t_kill, new, monlog, named_logs):
    """key=value figures of one failover:
    NAME_synced_ms: from the kill to NAME synced on the new primary
        (monitor log; -1 if never);
    outage_ms: the least of those: time without a reachable primary;
    NAME_states: NAME's (state primary) changes after the kill;
    NAME_cut_ok, NAME_cut_pending, NAME_cut_other: writes sent after the
        replication cut and answered before the kill;
    NAME_outage_pending, NAME_outage_ok: writes answered between the kill
        and NAME synced on the new primary;
    NAME_after_ok, NAME_after_pending: writes sent after NAME synced;
    NAME_writes, NAME_bad: all writes, those not answered OK/PENDING."""
    out = []
    synced = {}
    changes = {}
    with open(monlog) as f:
        for line in f:
            p = line.split()
            if len(p) < 4:
                p += ['""'] * (4 - len(p))
            t, name, state, primary = int(p[0]), p[1], p[2], p[3]
            if t < t_kill:
                continue
            changes.setdefault(name, []).append("%s@%s" % (state, primary))
            if name not in synced and state == "synced" and primary == new:
                synced[name] = t - t_kill
    names = [nl.partition("=")[0] for nl in named_logs]
    for name in names:
        out.append("%s_synced_ms=%d" % (name, synced.get(name, -1)))
        out.append("%s_states=%s" % (name, ">".join(changes.get(name, []))
                                     or "-"))
    have = [v for v in synced.values()]
    out.append("outage_ms=%d" % (min(have) if have else -1))
    for nl in named_logs:
        name, _, path = nl.partition("=")
        ws = read_wlog(path)
        cut = [w for w in ws if w[0] >= t_cut and w[1] < t_kill]
        s_at = t_kill + synced.get(name, 10 ** 12)
        outage = [w for w in ws if t_kill <= w[1] <= s_at]
        after = [w for w in ws if w[0] >= s_at]
        for label, group in (("cut", cut), ("outage", outage),
                             ("after", after)):
            out.append("%s_%s_ok=%d" % (name, label,
                                        sum(w[3] == "OK" for w in group)))
            out.append("%s_%s_pending=%d" %
                       (name, label, sum(w[3] == "PENDING" for w in group)))
        out.append("%s_cut_other=%d" % (
            name, sum(w[3] not in ("OK", "PENDING") for w in cut)))
        out.append("%s_writes=%d" % (name, len(ws)))
        out.append("%s_bad=%d" % (
            name, sum(w[3] not in ("OK", "PENDING") for w in ws)))
    print(" ".join(out))
    return 0


def streamorder(addr, key):
    r = TcpConn(addr).call("XRANGE", key, "-", "+")
    if isinstance(r, Error):
        sys.exit("XRANGE: " + r)
    last = {}
    for entry_id, fields in r:
        d = dict(zip(fields[0::2], fields[1::2]))
        o, s = d.get(b"o", b"?").decode(), int(d.get(b"s", b"0"))
        if o in last and s <= last[o]:
            print("events=%d origins=%d ordered=0 at=%s o=%s s=%d after=%d" %
                  (len(r), len(last), entry_id.decode(), o, s, last[o]))
            return 1
        last[o] = s
    print("events=%d origins=%d ordered=1" % (len(r), len(last)))
    return 0


def main():
    mode, a = sys.argv[1], sys.argv[2:]
    if mode == "writer":
        return writer(*a[:5])
    if mode == "checker":
        return checker(*a[:5])
    if mode == "monitor":
        return monitor(a[0], a[1], a[2:])
    if mode == "converge":
        i = a.index("--")
        return converge(int(a[0]), float(a[1]), a[2], a[3], a[4:i],
                        a[i + 1:])
    if mode == "figures":
        return figures(int(a[0]), int(a[1]), a[2], a[3], a[4:])
    if mode == "streamorder":
        return streamorder(a[0], a[1])
    sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    sys.exit(main())
