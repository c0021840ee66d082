#!/usr/bin/python3
"""RESP helpers for the rule tests (test_rules.sh, test_redis_rules.sh).

usage: rules.py MODE SOCK ARGS
  cmd SOCK ARG...
        Send one command (each ARG one bulk string, so arguments may be
        empty or hold spaces); print the reply on one line (propagation.py's
        fmt(): "" for an empty bulk string, -ERR ... for an error).
  pidcmd SOCK ARG...
        The same, the line prefixed with this process's pid: the writer
        the daemon records in its audit trail.
  audit SOCK ARG...
        AUDIT ARG...; print one line per record, newest first:
        "field=value field=value ..." in the daemon's order, or the error.
  list SOCK COUNT ARG...
        Iterate LIST CURSOR c COUNT COUNT ARG... from cursor 0 until the
        cursor is 0 again; print every entry once ("kind iss id time
        reason", "" for an empty string), sorted; on stderr "steps=N
        entries=M" (M counting duplicates). With LIST_WAIT_COMPACTION=K
        set, after step K wait (at most $PROBE_TIMEOUT s) for STATS
        journal_compactions to grow before going on.
Every read waits at most $PROBE_TIMEOUT seconds (default 60).
"""
import os
import sys
import time

from propagation import TIMEOUT, Conn, Error, fmt  # the same directory

MAX_STEPS = 100000


def stat(conn, field):
    """One STATS field of the daemon on conn."""
    r = conn.call("STATS")
    d = dict(zip(r[0::2], r[1::2]))
    return d[field.encode()]


def do_list(path, count, extra):
    conn = Conn(path)
    wait_after = int(os.environ.get("LIST_WAIT_COMPACTION", "0"))
    cursor, steps, seen, total = "0", 0, set(), 0
    while True:
        r = conn.call("LIST", "CURSOR", cursor, "COUNT", count, *extra)
        steps += 1
        if isinstance(r, Error):
            print("-" + r)
            return 1
        cursor = r[0].decode()
        for e in r[1]:
            total += 1
            seen.add(" ".join(fmt(x) for x in e))
        if steps == wait_after and cursor != "0":
            before = stat(conn, "journal_compactions")
            end = time.monotonic() + TIMEOUT
            while stat(conn, "journal_compactions") == before:
                if time.monotonic() > end:
                    sys.exit("no compaction within %g s" % TIMEOUT)
                time.sleep(0.05)
        if cursor == "0":
            break
        if steps >= MAX_STEPS:
            sys.exit("LIST: no end after %d steps" % steps)
    for line in sorted(seen):
        print(line)
    print("steps=%d entries=%d" % (steps, total), file=sys.stderr)
    return 0


def main():
    mode, path, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    if mode == "cmd":
        print(fmt(Conn(path).call(*args)))
        return 0
    if mode == "pidcmd":
        print(os.getpid(), fmt(Conn(path).call(*args)))
        return 0
    if mode == "audit":
        r = Conn(path).call("AUDIT", *args)
        if isinstance(r, Error):
            print("-" + r)
            return 0
        for rec in r:
            print(" ".join("%s=%s" % (rec[k].decode("latin-1"),
                                      fmt(rec[k + 1]) if rec[k + 1] != b""
                                      else "")
                           for k in range(0, len(rec), 2)))
        return 0
    if mode == "list":
        return do_list(path, args[0], args[1:])
    sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    sys.exit(main())
