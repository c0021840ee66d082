#!/usr/bin/env python3
"""Socket activation and readiness notification, the way systemd does them.

usage: test_activation.py BINDIR

Passes listening sockets as fds 3 and 4 with LISTEN_FDS/LISTEN_PID/
LISTEN_FDNAMES, gives a datagram NOTIFY_SOCKET and WATCHDOG_USEC, and
checks: READY=1 only once the set is loaded (with Redis unreachable, not
before --redis-wait), the passed sockets serve (writes on the admin one
only), WATCHDOG=1 keeps coming, STOPPING=1 on SIGTERM, the passed socket
files are left in place, and sockets that are not listening Unix stream
sockets, or carry unknown names, are refused.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

from propagation import Conn, bulk

BIN = sys.argv[1]
PASSES = 0
FAILS = 0


def ok(name):
    global PASSES
    PASSES += 1
    print("ok - " + name)


def not_ok(name, detail):
    global FAILS
    FAILS += 1
    print("not ok - %s: %s" % (name, detail))


def expect(name, cond, detail=""):
    if cond:
        ok(name)
    else:
        not_ok(name, detail)


def listener(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(16)
    return s


class Notify:
    """The service manager's end of NOTIFY_SOCKET."""

    def __init__(self, path):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)
        self.msgs = []      # (monotonic time, message)

    def poll(self, timeout):
        """Collect messages for up to timeout seconds; return new ones."""
        new = []
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return new
            self.s.settimeout(left)
            try:
                m = self.s.recv(4096).decode()
            except socket.timeout:
                return new
            item = (time.monotonic(), m)
            self.msgs.append(item)
            new.append(item)

    def wait_for(self, text, timeout):
        """Wait until a message containing text arrives; its time or None."""
        for t, m in self.msgs:
            if text in m.split("\n"):
                return t
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for t, m in self.poll(min(0.1, end - time.monotonic())):
                if text in m.split("\n"):
                    return t
        return None


def start(tmp, socks, names, args, env_extra=None):
    """Start revokd with socks passed as fds 3.. and names."""
    nfy = Notify(os.path.join(tmp, "notify-%d" % len(os.listdir(tmp))))
    env = dict(os.environ)
    env.update({"LISTEN_FDS": str(len(socks)), "NOTIFY_SOCKET": nfy.path})
    if names is not None:
        env["LISTEN_FDNAMES"] = names
    env.update(env_extra or {})
    # The shell puts the sockets at fds 3 and 4 and execs revokd, so that
    # LISTEN_PID ($$) is revokd's pid, as systemd arranges it.
    # Through fds 100.. first, so that no move clobbers a source.
    high = " ".join("%d<&%d" % (100 + i, s.fileno())
                    for i, s in enumerate(socks))
    low = " ".join("%d<&%d %d<&-" % (3 + i, 100 + i, 100 + i)
                   for i in range(len(socks)))
    script = "exec %s; exec %s; LISTEN_PID=$$ exec \"$@\"" % (high, low)
    state = tempfile.mkdtemp(dir=tmp)
    log = open(os.path.join(tmp, "revokd.log"), "ab")
    p = subprocess.Popen(
        ["/bin/bash", "-c", script, "bash", os.path.join(BIN, "revokd"),
         "-c", "/dev/null", "--state-dir", state, "--socket", os.path.join(tmp, "unused.sock")]
        + args, env=env, pass_fds=[s.fileno() for s in socks], stderr=log)
    log.close()
    return p, nfy


def call(path, *args):
    c = Conn(path)
    r = c.call(*args)
    c.s.close()
    return r


def main():
    tmp = tempfile.mkdtemp(prefix="revokd-activation.")
    exp = str(int(time.time()) + 3600)

    print("# two passed sockets, no Redis, a watchdog")
    svc = os.path.join(tmp, "svc.sock")
    adm = os.path.join(tmp, "adm.sock")
    s1, s2 = listener(svc), listener(adm)
    p, nfy = start(tmp, [s1, s2], "revokd:admin", [],
                   {"WATCHDOG_USEC": "200000"})
    t = nfy.wait_for("READY=1", 30)
    expect("READY=1 sent", t is not None)
    expect("PING on the passed services' socket", call(svc, "PING") == "PONG")
    r = call(svc, "REVOKE", "a1", exp)
    expect("REVOKE there: -NOPERM, admin socket only",
           str(r) == "NOPERM REVOKE is accepted on the admin socket only",
           repr(r))
    expect("REVOKE on the passed admin socket: +OK",
           call(adm, "REVOKE", "a1", exp) == "OK")
    expect("CHECK on the services' socket: revoked",
           call(svc, "CHECK", "a1")[0] == b"revoked")
    nfy.poll(1.0)
    dogs = [m for _, m in nfy.msgs if "WATCHDOG=1" in m.split("\n")]
    expect("WATCHDOG=1 keeps coming (200 ms interval)", len(dogs) >= 5,
           "%d in about a second" % len(dogs))
    expect("STATUS= lines", any(m.startswith("STATUS=")
                                for _, m in nfy.msgs))
    p.send_signal(signal.SIGTERM)
    expect("STOPPING=1 on SIGTERM", nfy.wait_for("STOPPING=1", 10))
    expect("exit 0", p.wait(30) == 0)
    expect("the passed socket files stay (the manager owns them)",
           os.path.exists(svc) and os.path.exists(adm))
    expect("--socket was not bound", not os.path.exists(
        os.path.join(tmp, "unused.sock")))

    print("# READY=1 waits for the set: Redis unreachable, --redis-wait 2")
    s3 = listener(os.path.join(tmp, "svc3.sock"))
    t0 = time.monotonic()
    p, nfy = start(tmp, [s3], None,
                   ["--redis", "unix:" + os.path.join(tmp, "no-redis.sock"),
                    "--redis-wait", "2"])
    r = None
    end = time.monotonic() + 1.0
    while time.monotonic() < end and r is None:
        try:
            r = call(os.path.join(tmp, "svc3.sock"), "CHECK", "x")
        except OSError:
            time.sleep(0.02)
    expect("meanwhile CHECK answers -LOADING", str(r).startswith("LOADING"),
           repr(r))
    expect("no READY=1 while loading", nfy.wait_for("READY=1", 1.0) is None)
    t = nfy.wait_for("READY=1", 30)
    expect("READY=1 once --redis-wait is over",
           t is not None and t - t0 >= 1.9, "after %s s" % (
               None if t is None else round(t - t0, 2)))
    expect("then CHECK answers", call(os.path.join(tmp, "svc3.sock"),
                                      "CHECK", "x") == [b"not_revoked"])
    p.send_signal(signal.SIGTERM)
    expect("exit 0", p.wait(30) == 0)

    print("# what is refused")
    udp = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    udp.bind(os.path.join(tmp, "dgram.sock"))
    notl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    notl.bind(os.path.join(tmp, "notlistening.sock"))
    inet = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    inet.bind(("127.0.0.1", 0))
    inet.listen(1)
    s4 = listener(os.path.join(tmp, "svc4.sock"))
    for name, socks, names, want in [
            ("a datagram socket", [udp], "revokd", "not a stream socket"),
            ("a socket not listening", [notl], "revokd", "not listening"),
            ("a TCP socket", [inet], "revokd", "not a Unix socket"),
            ("an unknown name", [s4], "metrics", "expected the names"),
            ("no services' socket", [s4], "admin", "no socket named")]:
        p, _ = start(tmp, socks, names, [])
        rc = p.wait(30)
        with open(os.path.join(tmp, "revokd.log")) as f:
            lines = f.read().splitlines()
        expect("refused: %s (exit %d)" % (name, rc),
               rc == 1 and want in lines[-1], lines[-1] if lines else "")
    print("%d passed, %d failed" % (PASSES, FAILS))
    subprocess.run(["rm", "-rf", tmp])
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
