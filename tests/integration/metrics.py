#!/usr/bin/env python3
"""HTTP client for revokd's --metrics endpoint in integration tests.

usage: metrics.py freeport
       metrics.py ADDR MODE [ARGS]
ADDR is IPV4:PORT, [IPV6]:PORT or a Unix socket path (starting with /).
  get PATH [METHOD]       print "STATUS BODY" (the body without its final
                          newline)
  header PATH METHOD NAME print the value of response header NAME
  head PATH               send HEAD on a raw socket, print "STATUS N", N
                          the bytes that followed the headers (must be 0)
  scrape                  GET /metrics, check the Content-Type and every
                          rule of the text exposition format 0.0.4 (below);
                          print each sample as "SERIES<TAB>VALUE" with the
                          labels sorted; exit 1 naming the first violation
  watch PATH SECONDS STOP poll GET PATH every 20 ms (refused connections
                          are retried) for at most SECONDS; print
                          "STATUS BODY" each time it changes; stop after a
                          body starting with STOP
  idle N PATH             open N connections that send half a request,
                          then GET PATH on another one; print its status
  bigheader BYTES PATH    GET PATH with a header of BYTES bytes; print the
                          status, or "closed" if the server hung up
freeport prints a TCP port on 127.0.0.1 that was free a moment ago.

Checked by scrape: every line is "# HELP name text", "# TYPE name type",
another "#" comment, or "name{labels} value"; names are revokd_*; a
family's TYPE comes before its samples, once, and its samples are
together; counters end in _total and are >= 0; no series twice;
histograms have buckets with increasing le, cumulative counts, a last
le="+Inf" equal to _count, and a _sum.
"""
import http.client
import math
import re
import socket
import sys
import time

TIMEOUT = 20.0
NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
VALUE_RE = re.compile(r"[+-]?(Inf|NaN|[0-9]*\.?[0-9]+([eE][+-]?[0-9]+)?)\Z")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
CONTENT_TYPE = "text/plain; version=0.0.4"


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a Unix stream socket."""

    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


def split_addr(addr):
    """Return (family, sockaddr) for ADDR."""
    if addr.startswith("/"):
        return socket.AF_UNIX, addr
    host, port = addr.rsplit(":", 1)
    if host.startswith("["):
        return socket.AF_INET6, (host[1:-1], int(port))
    return socket.AF_INET, (host, int(port))


def connection(addr, timeout=TIMEOUT):
    family, sa = split_addr(addr)
    if family == socket.AF_UNIX:
        return UnixHTTPConnection(sa, timeout)
    return http.client.HTTPConnection(sa[0], sa[1], timeout=timeout)


def raw_socket(addr):
    family, sa = split_addr(addr)
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(sa)
    return s


def request(addr, path, method="GET", timeout=TIMEOUT):
    """Return (status, headers, body) of one request."""
    c = connection(addr, timeout)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, r, r.read()
    finally:
        c.close()


class Bad(Exception):
    pass


def parse_labels(line, i):
    """Parse {k="v",...} at line[i]; return (list of (k, v), index after)."""
    labels = []
    i += 1
    try:
        while line[i] != "}":
            m = LABEL_RE.match(line, i)
            if not m:
                raise Bad("bad label name")
            i = m.end()
            if line[i:i + 2] != '="':
                raise Bad("label without =\"")
            i += 2
            v = []
            while line[i] != '"':
                if line[i] == "\\":
                    esc = line[i + 1]
                    if esc == "n":
                        v.append("\n")
                    elif esc in '\\"':
                        v.append(esc)
                    else:
                        raise Bad("bad escape in label value")
                    i += 2
                else:
                    v.append(line[i])
                    i += 1
            i += 1
            labels.append((m.group(), "".join(v)))
            if line[i] == ",":
                i += 1
            elif line[i] != "}":
                raise Bad("expected , or } after a label")
    except IndexError:
        raise Bad("unterminated labels") from None
    return labels, i + 1


def family_of(name, types):
    """Return the family a sample name belongs to."""
    if name in types:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        base = name[:-len(suffix)]
        if name.endswith(suffix) and types.get(base) in ("histogram",
                                                          "summary"):
            if suffix == "_bucket" and types[base] != "histogram":
                break
            return base
    raise Bad("sample without a TYPE line before it")


def check_histograms(samples, types):
    """Check every histogram's buckets, _sum and _count."""
    for fam, typ in types.items():
        if typ != "histogram":
            continue
        groups = {}
        for name, labels, value in samples:
            if family_of(name, types) != fam:
                continue
            rest = tuple(sorted((k, v) for k, v in labels if k != "le"))
            g = groups.setdefault(rest, {"buckets": [], "sum": None,
                                         "count": None})
            if name == fam + "_bucket":
                le = dict(labels).get("le")
                if le is None:
                    raise Bad("%s: bucket without le" % fam)
                g["buckets"].append((float(le), le, value))
            elif name == fam + "_sum":
                g["sum"] = value
            elif name == fam + "_count":
                g["count"] = value
            else:
                raise Bad("%s: stray sample %s" % (fam, name))
        if not groups:
            raise Bad("%s: histogram without samples" % fam)
        for g in groups.values():
            b = g["buckets"]
            if not b or b[-1][1] != "+Inf":
                raise Bad("%s: last bucket is not le=\"+Inf\"" % fam)
            for (le0, _, c0), (le1, _, c1) in zip(b, b[1:]):
                if le1 <= le0:
                    raise Bad("%s: le not increasing" % fam)
                if c1 < c0:
                    raise Bad("%s: buckets not cumulative" % fam)
            if g["count"] is None or g["sum"] is None:
                raise Bad("%s: _sum or _count missing" % fam)
            if g["count"] != b[-1][2]:
                raise Bad("%s: _count %s != +Inf bucket %s" %
                          (fam, g["count"], b[-1][2]))


def parse_exposition(text):
    """Check text against the format; return [(name, labels, value)] and
    the normalized lines."""
    if not text.endswith("\n"):
        raise Bad("body does not end with a newline")
    types, helps, samples, out = {}, set(), [], []
    seen_series, done, current = set(), set(), None
    for n, line in enumerate(text[:-1].split("\n"), 1):
        try:
            if line.startswith("#"):
                parts = line.split(" ", 3)
                if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                    name = parts[2]
                    if not NAME_RE.fullmatch(name):
                        raise Bad("bad metric name in %s" % parts[1])
                    if name in done or name == current:
                        raise Bad("%s after the family's samples" %
                                  parts[1])
                    if parts[1] == "HELP":
                        if name in helps:
                            raise Bad("second HELP")
                        helps.add(name)
                    else:
                        if len(parts) != 4 or parts[3] not in TYPES:
                            raise Bad("bad TYPE line")
                        if name in types:
                            raise Bad("second TYPE")
                        types[name] = parts[3]
                continue
            if line == "":
                raise Bad("empty line")
            m = NAME_RE.match(line)
            if not m:
                raise Bad("not a comment nor a sample")
            name, i = m.group(), m.end()
            labels = []
            if i < len(line) and line[i] == "{":
                labels, i = parse_labels(line, i)
            fields = line[i:].split(" ")
            if len(fields) not in (2, 3) or fields[0] != "":
                raise Bad("expected one space, a value and maybe a "
                          "timestamp")
            if not VALUE_RE.match(fields[1]):
                raise Bad("bad value %r" % fields[1])
            value = float(fields[1])
            if not name.startswith("revokd_"):
                raise Bad("name without the revokd_ prefix")
            fam = family_of(name, types)
            if fam != current:
                if fam in done:
                    raise Bad("family %s's samples are not together" % fam)
                if current is not None:
                    done.add(current)
                current = fam
            if types[fam] == "counter":
                if not name.endswith("_total"):
                    raise Bad("counter without _total")
                if value < 0 or math.isnan(value):
                    raise Bad("counter below 0")
            if len(set(k for k, _ in labels)) != len(labels):
                raise Bad("label given twice")
            key = (name, tuple(sorted(labels)))
            if key in seen_series:
                raise Bad("series given twice")
            seen_series.add(key)
            samples.append((name, labels, value))
            series = name
            if labels:
                series += "{%s}" % ",".join(
                    '%s="%s"' % (k, v.replace("\\", "\\\\")
                                 .replace('"', '\\"').replace("\n", "\\n"))
                    for k, v in sorted(labels))
            out.append("%s\t%s" % (series, fields[1]))
        except Bad as e:
            raise Bad("line %d: %s: %r" % (n, e, line)) from None
    if not samples:
        raise Bad("no samples")
    check_histograms(samples, types)
    return samples, out


def scrape(addr):
    status, r, body = request(addr, "/metrics")
    if status != 200:
        raise Bad("GET /metrics: status %d" % status)
    ctype = r.getheader("Content-Type", "")
    if not ctype.startswith(CONTENT_TYPE):
        raise Bad("Content-Type %r" % ctype)
    _, out = parse_exposition(body.decode("utf-8"))
    for line in out:
        print(line)


def watch(addr, path, seconds, stop):
    end = time.monotonic() + seconds
    last = None
    while time.monotonic() < end:
        try:
            status, _, body = request(addr, path, timeout=5)
            now = "%d %s" % (status, body.decode("utf-8", "replace")
                             .rstrip("\n"))
        except (ConnectionError, FileNotFoundError, socket.timeout,
                http.client.HTTPException):
            now = None
        if now is not None and now != last:
            print(now, flush=True)
            last = now
            if now.split(" ", 1)[-1].startswith(stop):
                return 0
        time.sleep(0.02)
    return 1


def head(addr, path):
    s = raw_socket(addr)
    s.sendall(("HEAD %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
               % path).encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    hdr, _, rest = data.partition(b"\r\n\r\n")
    print(hdr.split(b" ")[1].decode(), len(rest))


def idle(addr, n, path):
    held = []
    for _ in range(n):
        s = raw_socket(addr)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        held.append(s)
    status, _, _ = request(addr, path)
    print(status)
    for s in held:
        s.close()


def bigheader(addr, size, path):
    s = raw_socket(addr)
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n" %
                   (path, "a" * size)).encode())
        data = s.recv(65536)
    except (ConnectionResetError, BrokenPipeError):
        data = b""
    print(data.split(b" ")[1].decode() if data.startswith(b"HTTP/")
          else "closed")


def main():
    if sys.argv[1] == "freeport":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
        s.close()
        return 0
    addr, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    try:
        if mode == "get":
            status, _, body = request(addr, args[0],
                                      args[1] if len(args) > 1 else "GET")
            print(status, body.decode("utf-8", "replace").rstrip("\n"))
        elif mode == "header":
            _, r, _ = request(addr, args[0], args[1])
            print(r.getheader(args[2], ""))
        elif mode == "head":
            head(addr, args[0])
        elif mode == "scrape":
            scrape(addr)
        elif mode == "watch":
            return watch(addr, args[0], float(args[1]), args[2])
        elif mode == "idle":
            idle(addr, int(args[0]), args[1])
        elif mode == "bigheader":
            bigheader(addr, int(args[0]), args[1])
        else:
            print("unknown mode", mode, file=sys.stderr)
            return 2
    except Bad as e:
        print("metrics.py: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
