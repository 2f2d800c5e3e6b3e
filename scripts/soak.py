#!/usr/bin/env python3
"""The clients, probes and checks of scripts/soak (standard library only).

    soak.py config OUT                      write the ueba.toml the soak runs under
    soak.py run --pid P --addr A ...        warm up, soak, drain, SIGTERM; write run.json
    soak.py check RUN_JSON SERVE_LOG RC     the checks and the report; exit 1 on a failure

`run` ends by sending SIGTERM to the service; scripts/soak reaps it and
passes its exit status to `check`.
"""

import argparse
import collections
import datetime
import json
import os
import random
import re
import signal
import socket
import sys
import threading
import time

# --- the limits the service runs under (written by `config`) ------------------
LIMITS = {
    "max_connections": 64,
    "header_read_timeout_ms": 4000,
    "idle_timeout_ms": 6000,
    "request_timeout_ms": 12000,
    "max_body_bytes": 2 << 20,
    "max_line_bytes": 64 << 10,
    "body_budget_bytes": 16 << 20,
    "queue_events": 50000,
    "retry_after_secs": 1,
    "idle_flush_ms": 1000,
    "shutdown_timeout_ms": 5000,
}
# The reorder buffer bounded too, so that it is one of the known terms.
INPUT = {"reorder_buffer": 10000}

# --- what the memory bound is made of (see scripts/soak and README "Deploy") ---
# size_of::<AccessEvent>() (host/engine/src/event.rs): five texts, each a
# 24-byte CompactString (inline up to 24 bytes; the two Options use its
# niche), plus i64, u64, Option<u64> and the outcome, padded to 8.
EVENT_STRUCT = 160
# A request's events are a Vec grown by doubling (capacity up to twice its
# length), and a text longer than 24 bytes lives on the heap: the generated
# names are at most 27 bytes, one per event (the table), a 48-byte malloc
# chunk at most.
EVENT_HEAP = 48
PER_EVENT = 2 * EVENT_STRUCT + EVENT_HEAP
# An event held for reordering: Held { time_ms, arrival, Compact } is 80 B
# (Compact: seven 4- and 8-byte ids and counts, three of them Options, and
# the outcome, 64 B), in a BinaryHeap grown by doubling.
PER_HELD = 2 * 80
# hyper stops reading a connection's headers once its buffer holds MAX_BUF
# (64 KiB, host/serve/src/listen.rs), but one read can take it past that:
# headers of up to ~112 KiB sent at once are read whole. Two MAX_BUF per
# connection cover that buffer and the connection's task and write buffer.
PER_CONNECTION = 2 * (64 << 10)

HEALTH_DEADLINE_S = 2.0      # /healthz must answer within this, always
SHUTDOWN_GRACE_S = 10.0      # after shutdown_timeout_ms: score the (empty) queue, flush, exit
DRAIN_TIMEOUT_S = 120.0      # the queue must be empty this long after the clients stop
CYCLE_S = 30.0               # the hostile phases repeat every this many seconds

NORMAL_CLIENTS = 4
BATCH_EVENTS = 500
# Each hog's buffer grows to max_body_bytes once its first MiB has come, so
# seven hold 14 of the 16 MiB: a burst body finds no room the moment a second
# one (or a forwarder's batch) is in flight with it, however the machine
# schedules the burst's senders. With five (10 MiB) a burst had to have four
# bodies in flight at once to be refused for the budget, and on a loaded
# machine the senders sometimes came one after another.
HOGS = 7


def config_toml():
    lines = (["[serve]"] + [f"{k} = {v}" for k, v in LIMITS.items()]
             + ["[input]"] + [f"{k} = {v}" for k, v in INPUT.items()])
    return "\n".join(lines) + "\n"


# --- small HTTP over raw sockets -----------------------------------------------
class Http:
    def __init__(self, host, port, token):
        self.host, self.port, self.token = host, port, token

    def connect(self, timeout=10.0):
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def head(self, method, path, length=None, auth=True, extra=()):
        h = [f"{method} {path} HTTP/1.1", "Host: soak"]
        if auth:
            h.append(f"Authorization: Bearer {self.token}")
        if length is not None:
            h.append(f"Content-Length: {length}")
        h.extend(extra)
        return ("\r\n".join(h) + "\r\n\r\n").encode()


def read_response(s, timeout):
    """(status, headers, body) of one response on s; status is 'closed',
    'reset' or 'timeout' when none came."""
    s.settimeout(timeout)
    buf = b""
    try:
        while b"\r\n\r\n" not in buf:
            got = s.recv(65536)
            if not got:
                return ("closed", {}, b"")
            buf += got
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(rest) < n:
            got = s.recv(65536)
            if not got:
                break
            rest += got
        return (status, headers, rest[:n])
    except socket.timeout:
        return ("timeout", {}, b"")
    except (ConnectionResetError, BrokenPipeError):
        return ("reset", {}, b"")
    except OSError:
        return ("reset", {}, b"")


def status_of(data):
    """The status code of an HTTP/1.1 response's first bytes, or None."""
    m = re.match(rb"HTTP/1.1 (\d+)", data)
    return int(m.group(1)) if m else None


def wait_closed(s, until, stop):
    """Wait for the peer to close s, until `until` or stop; 'closed',
    'reset', 'open', or the status of the answer that came instead
    ('data' when it was not HTTP)."""
    s.settimeout(0.5)
    while time.monotonic() < until and not stop.is_set():
        try:
            got = s.recv(4096)
            if not got:
                return "closed"
            status = status_of(got)
            return "data" if status is None else str(status)
        except socket.timeout:
            continue
        except OSError:
            return "reset"
    return "open"


# --- the events: the generated organisation, replayed forward in time ----------
class Feed:
    """Batches of the generated events as native JSON lines with integer
    epoch-millisecond timestamps; every pass is shifted by whole weeks past
    the previous one, so the stream goes on forward in time with the same
    users, weekdays and hours."""

    def __init__(self, path):
        rx = re.compile(rb'^\{"timestamp":"([^"]+)",(.*)$')
        self.rows = []
        for line in open(path, "rb"):
            m = rx.match(line.rstrip(b"\n"))
            if not m:
                raise SystemExit(f"unexpected line in {path}: {line[:80]!r}")
            t = datetime.datetime.fromisoformat(m.group(1).decode().replace("Z", "+00:00"))
            self.rows.append((int(t.timestamp() * 1000), m.group(2)))
        self.rows.sort(key=lambda r: r[0])
        span = self.rows[-1][0] - self.rows[0][0]
        week = 7 * 86400 * 1000
        self.shift = (span // week + 1) * week
        self.lock = threading.Lock()
        self.i = 0
        self.passes = 0
        self.min_line = min(len(b'{"timestamp":%d,' % ms) + len(rest) + 1 for ms, rest in self.rows)

    def take(self, n):
        with self.lock:
            out = []
            while len(out) < n:
                if self.i == len(self.rows):
                    self.i = 0
                    self.passes += 1
                k = min(n - len(out), len(self.rows) - self.i)
                base = self.passes * self.shift
                out.extend(b'{"timestamp":%d,%s\n' % (ms + base, rest)
                           for ms, rest in self.rows[self.i:self.i + k])
                self.i += k
            return b"".join(out), n

    def take_bytes(self, nbytes):
        """As many events as fit in nbytes."""
        body, n = self.take(max(1, nbytes // 200))
        while len(body) > nbytes:
            cut = body.rfind(b"\n", 0, nbytes)
            body = body[:cut + 1]
        return body, body.count(b"\n")


# --- shared tallies ------------------------------------------------------------
class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = collections.defaultdict(collections.Counter)
        self.acked = collections.Counter()     # events answered "accepted", by client kind
        self.notes = []

    def add(self, kind, outcome, n=1):
        with self.lock:
            self.c[kind][str(outcome)] += n

    def ack(self, kind, n):
        with self.lock:
            self.acked[kind] += n

    def note(self, msg):
        with self.lock:
            if len(self.notes) < 50:
                self.notes.append(msg)


def accepted_of(body):
    try:
        v = json.loads(body)
        return int(v.get("accepted", 0)) if isinstance(v, dict) else 0
    except (ValueError, TypeError):
        return 0


class Soak:
    def __init__(self, a):
        host, port = a.addr.rsplit(":", 1)
        self.http = Http(host, int(port), open(a.token_file).read().strip())
        self.pid = a.pid
        self.secs = a.secs
        self.feed = Feed(a.events)
        self.t = Tally()
        self.stop_normal = threading.Event()
        self.stop_hostile = threading.Event()
        self.stop_probes = threading.Event()
        self.t0 = time.monotonic()
        self.health = []       # (t, latency s, status)
        self.scrapes = []      # (t, {metric: value})
        self.scrape_failures = []
        self.rss = []          # (t, kib)
        self.cycle0 = None
        self.threads = []

    def now(self):
        return time.monotonic() - self.t0

    def spawn(self, fn, *args, group):
        th = threading.Thread(target=fn, args=args, daemon=True)
        th.start()
        self.threads.append((group, th))

    # --- service state -------------------------------------------------------
    def status_kib(self, key):
        try:
            with open(f"/proc/{self.pid}/status") as f:
                m = re.search(key + r":\s+(\d+)", f.read())
            return int(m.group(1)) if m else None
        except OSError:
            return None

    def metrics(self, timeout=10.0):
        s = self.http.connect(timeout)
        try:
            s.sendall(self.http.head("GET", "/metrics"))
            status, _, body = read_response(s, timeout)
        finally:
            s.close()
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        out = {}
        for line in body.decode().splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                out[k] = float(v)
        return out

    # --- probes ----------------------------------------------------------------
    def rss_sampler(self):
        while not self.stop_probes.is_set():
            kib = self.status_kib("VmRSS")
            if kib is not None:
                self.rss.append((self.now(), kib))
            self.stop_probes.wait(1.0)

    def health_probe(self):
        while not self.stop_probes.is_set():
            start = time.monotonic()
            status = "error"
            try:
                s = self.http.connect(30)
                s.sendall(self.http.head("GET", "/healthz", auth=False))
                status, _, _ = read_response(s, 30)
                s.close()
            except OSError as e:
                status = f"error {e}"
            self.health.append((self.now(), time.monotonic() - start, status))
            self.stop_probes.wait(1.0)

    def scraper(self):
        while not self.stop_probes.is_set():
            try:
                self.scrapes.append((self.now(), self.metrics()))
            except (OSError, RuntimeError, ValueError) as e:
                self.scrape_failures.append((self.now(), str(e)))
            self.stop_probes.wait(3.0)

    # --- normal load -------------------------------------------------------------
    def post_until_accepted(self, s, body, kind, stop):
        """POST body on a keep-alive connection, retrying 429/503 after
        Retry-After and a dropped connection at once, as a forwarder does.
        Returns the connection (new if it had to reconnect)."""
        tries = 0
        while not stop.is_set():
            tries += 1
            try:
                if s is None:
                    s = self.http.connect(10)
                s.sendall(self.http.head("POST", "/v1/events", len(body)) + body)
                status, headers, rbody = read_response(s, 60)
            except OSError:
                status, headers, rbody = "reset", {}, b""
            self.t.add(kind, status)
            if status == 200:
                self.t.ack(kind, accepted_of(rbody))
                if headers.get("connection", "").lower() == "close":
                    s.close()
                    s = None
                return s, True
            if s is not None and (not isinstance(status, int) or headers.get("connection", "").lower() == "close"):
                s.close()
                s = None
            if status in (429, 503):
                stop.wait(min(float(headers.get("retry-after", "1")), 5.0))
            elif isinstance(status, int):
                # Anything else is an answer the forwarder cannot retry.
                self.t.ack(kind, accepted_of(rbody))
                self.t.note(f"{kind}: unexpected {status}: {rbody[:200]!r}")
                return s, False
            elif tries > 50:
                self.t.note(f"{kind}: gave up after {tries} tries ({status})")
                return s, False
        return s, False

    def normal_client(self, stop, kind="normal", batch=BATCH_EVENTS):
        s = None
        while not stop.is_set():
            body, _ = self.feed.take(batch)
            s, _ = self.post_until_accepted(s, body, kind, stop)
        if s is not None:
            s.close()

    def warm_up(self):
        """One client posts the generated organisation once, in small
        batches, and waits until it is scored: the detectors' baselines
        and the symbols are learned, so what the soak adds is traffic."""
        n = len(self.feed.rows)
        stop = threading.Event()
        s = None
        sent = 0
        while sent < n:
            body, k = self.feed.take(min(1000, n - sent))
            s, ok = self.post_until_accepted(s, body, "warm-up", stop)
            if not ok:
                raise SystemExit("warm-up: a batch was not accepted: " + "; ".join(self.t.notes))
            sent += k
        if s is not None:
            s.close()
        self.drain()
        time.sleep(2.0)

    def drain(self):
        """Until every accepted event is scored and the queue is empty."""
        until = time.monotonic() + DRAIN_TIMEOUT_S
        while True:
            m = self.metrics(30)
            if (m.get("ueba_queue_depth_events") == 0
                    and m.get("ueba_events_total") == m.get("ueba_events_accepted_total")):
                return m
            if time.monotonic() > until:
                raise SystemExit(f"the queue did not drain within {DRAIN_TIMEOUT_S:.0f} s: "
                                 f"depth {m.get('ueba_queue_depth_events')}, "
                                 f"accepted {m.get('ueba_events_accepted_total')}, scored {m.get('ueba_events_total')}")
            time.sleep(0.5)

    # --- hostile clients -------------------------------------------------------
    def idle_client(self):
        """Connects and sends nothing: header_read_timeout closes it."""
        hdr = LIMITS["header_read_timeout_ms"] / 1000
        while not self.stop_hostile.is_set():
            try:
                s = self.http.connect()
            except OSError as e:
                self.t.add("idle", f"connect {e.__class__.__name__}")
                self.stop_hostile.wait(1)
                continue
            t = time.monotonic()
            how = wait_closed(s, t + hdr + 20, self.stop_hostile)
            self.t.add("idle", f"{how} after ~{round(time.monotonic() - t)} s" if how != "open" else "abandoned")
            s.close()

    def slow_headers(self):
        """Sends a request's headers a byte every 1.5 s: never complete
        within header_read_timeout, and never idle."""
        hdr = LIMITS["header_read_timeout_ms"] / 1000
        while not self.stop_hostile.is_set():
            try:
                s = self.http.connect()
                s.sendall(b"POST /v1/events HTTP/1.1\r\nHost: soak\r\nX-Slow: ")
            except OSError:
                self.stop_hostile.wait(1)
                continue
            t = time.monotonic()
            how = "open"
            while time.monotonic() - t < hdr + 20 and not self.stop_hostile.is_set():
                how = wait_closed(s, time.monotonic() + 1.5, self.stop_hostile)
                if how != "open":
                    break
                try:
                    s.sendall(b"a")
                except OSError:
                    how = "reset"
                    break
            self.t.add("slow-headers", f"{how} after ~{round(time.monotonic() - t)} s" if how != "open" else "abandoned")
            s.close()

    def slow_body(self, declared=100_000, kind="slow-body", every=1.5, chunk=1, phase=None, first=0):
        """Complete headers and `first` bytes of the body at once, then the
        rest a little at a time (never idle): request_timeout_ms answers
        408. With phase=(start, length) it runs only in that part of each
        cycle (the body-budget hogs)."""
        while not self.stop_hostile.is_set():
            if phase is not None:
                at = (time.monotonic() - self.cycle0) % CYCLE_S
                if not (phase[0] <= at < phase[0] + 1):
                    self.stop_hostile.wait(0.5)
                    continue
            body = b"x" * declared
            t = time.monotonic()
            try:
                s = self.http.connect()
                s.sendall(self.http.head("POST", "/v1/events", declared) + body[:first])
            except OSError:
                self.stop_hostile.wait(1)
                continue
            sent = first
            status = "open"
            s.settimeout(every)
            while not self.stop_hostile.is_set() and sent < declared:
                try:
                    got = s.recv(65536)
                    status = "closed" if not got else "answered"
                    if got:
                        s.settimeout(5)
                        rest = got
                        try:
                            rest += s.recv(65536)
                        except OSError:
                            pass
                        status = status_of(rest)
                        if status is None:
                            status = "garbled"
                    break
                except socket.timeout:
                    pass
                except OSError:
                    status = "reset"
                    break
                try:
                    s.sendall(body[sent:sent + chunk])
                    sent += chunk
                except OSError:
                    status = "reset"
                    break
            self.t.add(kind, f"{status} after ~{round(time.monotonic() - t)} s" if status != "open" else "abandoned")
            s.close()

    def stalled_body(self):
        """Headers and part of the body, then nothing: idle_timeout_ms
        closes it mid-request."""
        idle = LIMITS["idle_timeout_ms"] / 1000
        while not self.stop_hostile.is_set():
            try:
                s = self.http.connect()
                s.sendall(self.http.head("POST", "/v1/events", 50_000) + b'{"timestamp":')
            except OSError:
                self.stop_hostile.wait(1)
                continue
            t = time.monotonic()
            how = wait_closed(s, t + idle + 20, self.stop_hostile)
            self.t.add("stalled-body", f"{how} after ~{round(time.monotonic() - t)} s" if how != "open" else "abandoned")
            s.close()

    def oversized(self):
        """Bodies over max_body_bytes: declared (refused before reading)
        and chunked without a length (refused once over)."""
        mx = LIMITS["max_body_bytes"]
        chunk = b"x" * (64 << 10)
        n = 0
        while not self.stop_hostile.is_set():
            n += 1
            try:
                s = self.http.connect()
                if n % 4:
                    s.sendall(self.http.head("POST", "/v1/events", mx + 1 + random.randrange(10 << 20)))
                    status, _, _ = read_response(s, 30)
                    self.t.add("oversized-declared", status)
                else:
                    s.sendall(self.http.head("POST", "/v1/events", extra=("Transfer-Encoding: chunked",)))
                    sent = 0
                    status = "sent all"
                    s.settimeout(30)
                    try:
                        while sent <= mx + len(chunk):
                            s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                            sent += len(chunk)
                        s.sendall(b"0\r\n\r\n")
                    except OSError:
                        pass
                    status, _, _ = read_response(s, 30)
                    self.t.add("oversized-chunked", status)
                s.close()
            except OSError as e:
                self.t.add("oversized", f"error {e.__class__.__name__}")
            self.stop_hostile.wait(0.5)

    def burst(self, n, size, kind):
        """n clients post size bytes of events at once, at full speed;
        they do not retry (what they get accepted is counted)."""
        def one():
            body, _ = self.feed.take_bytes(size)
            try:
                s = self.http.connect()
                s.settimeout(60)
                try:
                    s.sendall(self.http.head("POST", "/v1/events", len(body)) + body)
                except OSError:
                    pass
                status, _, rbody = read_response(s, 60)
                s.close()
            except OSError as e:
                status, rbody = f"error {e.__class__.__name__}", b""
            self.t.add(kind, status)
            if status == 200 or status == 400:
                self.t.ack(kind, accepted_of(rbody))
        ths = [threading.Thread(target=one, daemon=True) for _ in range(n)]
        for th in ths:
            th.start()
        for th in ths:
            th.join(120)

    def flood(self):
        """Opens connections up to and beyond max_connections, each asking
        for /healthz; those past the cap wait in the kernel's backlog
        unanswered. Holds them 1 s, then closes them all."""
        cap = LIMITS["max_connections"]
        socks = []
        for _ in range(cap + 32):
            try:
                s = self.http.connect(5)
                s.sendall(self.http.head("GET", "/healthz", auth=False))
                s.setblocking(False)
                socks.append(s)
            except OSError:
                self.t.add("flood", "connect failed")
        answered = 0
        pending = set(socks)
        until = time.monotonic() + 1.0
        while pending and time.monotonic() < until:
            for s in list(pending):
                try:
                    if s.recv(4096):
                        answered += 1
                    pending.discard(s)
                except BlockingIOError:
                    pass
                except OSError:
                    pending.discard(s)
            time.sleep(0.02)
        for s in socks:
            s.close()
        self.t.add("flood", "opened", len(socks))
        self.t.add("flood", "answered", answered)
        self.t.add("flood", "waiting past the cap", len(pending))
        with self.t.lock:
            self.t.c["flood-max-answered"]["n"] = max(self.t.c["flood-max-answered"]["n"], answered)

    def garbage(self):
        """Malformed, unauthenticated and unparsable requests."""
        h = self.http
        long_line = b'{"timestamp":0,"user":"' + b"a" * (LIMITS["max_line_bytes"] + 10) + b'"}\n'
        # Native JSON lines, both invalid (rows not a number, no resource):
        # answered 400 with the errors, counted as invalid lines.
        invalid = (b'{"timestamp":"2026-01-05T00:00:00Z","user":"x","action":"select","resource":"t","rows":"many"}\n'
                   b'{"timestamp":"2026-01-05T00:00:00Z","user":"x","action":"select"}\n')
        cases = [
            ("random-bytes", lambda: os.urandom(random.randrange(1, 2000))),
            ("no-token", lambda: h.head("POST", "/v1/events", 2, auth=False) + b"{}"),
            ("wrong-token", lambda: b"POST /v1/events HTTP/1.1\r\nHost: soak\r\nAuthorization: Bearer nope\r\nContent-Length: 2\r\n\r\n{}"),
            ("basic-auth", lambda: b"POST /v1/events HTTP/1.1\r\nHost: soak\r\nAuthorization: Basic eDp5\r\nContent-Length: 2\r\n\r\n{}"),
            ("not-json", lambda: h.head("POST", "/v1/events", 24) + b"hello there\nnot an event"),
            ("bad-array", lambda: h.head("POST", "/v1/events", 5) + b"[{,]}"),
            ("invalid-events", lambda: h.head("POST", "/v1/events", len(invalid)) + invalid),
            ("gzip", lambda: h.head("POST", "/v1/events", 4, extra=("Content-Encoding: gzip",)) + b"\x1f\x8b\x08\x00"),
            ("long-line", lambda: h.head("POST", "/v1/events", len(long_line)) + long_line),
            ("bad-hec", lambda: h.head("POST", "/services/collector/event", 9) + b'{"time":1'),
            ("no-path", lambda: h.head("GET", "/etc/passwd")),
            ("bad-method", lambda: b"BREW /v1/events HTTP/1.1\r\nHost: soak\r\n\r\n"),
            ("bad-version", lambda: b"POST /v1/events HTTP/9.9\r\n\r\n"),
            ("huge-header", lambda: b"GET /healthz HTTP/1.1\r\nHost: soak\r\nX-Big: " + b"b" * (256 << 10) + b"\r\n\r\n"),
            ("bad-length", lambda: b"POST /v1/events HTTP/1.1\r\nHost: soak\r\nContent-Length: -5\r\n\r\n"),
            ("bad-chunk", lambda: h.head("POST", "/v1/events", extra=("Transfer-Encoding: chunked",)) + b"zz\r\nhello\r\n0\r\n\r\n"),
        ]
        while not self.stop_hostile.is_set():
            name, make = random.choice(cases)
            try:
                s = h.connect()
                s.settimeout(10)
                try:
                    s.sendall(make())
                except OSError:
                    pass
                status, _, body = read_response(s, 10)
                s.close()
            except OSError as e:
                status, body = f"error {e.__class__.__name__}", b""
            self.t.add("garbage:" + name, status)
            self.t.ack("garbage", accepted_of(body))
            self.stop_hostile.wait(0.1)

    def scheduler(self):
        """Every CYCLE_S: at 14 s a burst of ten bodies of max_body_bytes at
        full speed (the budget free, so they fill it), at 5 s a burst of
        six while the hogs hold all but 2 MiB of it, at 24 s the connection flood."""
        done = set()
        while not self.stop_hostile.is_set():
            cycle, at = divmod(time.monotonic() - self.cycle0, CYCLE_S)
            for when, what in ((5, "burst-hogged"), (14, "burst"), (24, "flood")):
                key = (int(cycle), what)
                if at >= when and key not in done:
                    done.add(key)
                    if what == "flood":
                        self.spawn(self.flood, group="hostile")
                    elif what == "burst":
                        self.spawn(self.burst, 10, LIMITS["max_body_bytes"], "burst", group="hostile")
                    else:
                        self.spawn(self.burst, 6, LIMITS["max_body_bytes"], "burst-hogged", group="hostile")
            self.stop_hostile.wait(0.2)

    # --- the run -----------------------------------------------------------------
    def straggler(self):
        """A request still arriving a byte a second when SIGTERM comes: the
        service must cut it off after shutdown_timeout_ms."""
        s = self.http.connect()
        s.sendall(self.http.head("POST", "/v1/events", 1000) + b"{")
        return s

    def run(self):
        out = {"limits": LIMITS, "input": INPUT, "pid": self.pid, "events_in_feed": len(self.feed.rows),
               "min_line": self.feed.min_line}
        start_kib = self.status_kib("VmRSS")
        for fn in (self.rss_sampler, self.health_probe, self.scraper):
            self.spawn(fn, group="probe")
        log(f"warm-up: one client posts the {len(self.feed.rows):,} generated events once (RSS {start_kib / 1024:.0f} MiB at start)")
        w0 = time.monotonic()
        self.warm_up()
        out["warm_up_secs"] = time.monotonic() - w0
        out["rss_start_kib"] = start_kib
        out["baseline_kib"] = self.status_kib("VmRSS")
        out["acked_warm_up"] = self.t.acked["warm-up"]
        log(f"warm-up scored in {out['warm_up_secs']:.0f} s; baseline RSS {out['baseline_kib'] / 1024:.0f} MiB")

        log(f"soak: {self.secs} s of {NORMAL_CLIENTS} forwarders beside idle, slowloris, stalled, oversized, "
            f"budget-hogging, flooding and garbage clients")
        m0 = self.metrics()
        t_start = time.monotonic()
        self.cycle0 = t_start
        s0 = self.now()
        for _ in range(NORMAL_CLIENTS):
            self.spawn(self.normal_client, self.stop_normal, group="normal")
        for _ in range(4):
            self.spawn(self.idle_client, group="hostile")
        for _ in range(3):
            self.spawn(self.slow_headers, group="hostile")
        for _ in range(3):
            self.spawn(self.slow_body, group="hostile")
        for _ in range(2):
            self.spawn(self.stalled_body, group="hostile")
        for _ in range(HOGS):
            # Hogs: from the start of each cycle, a body of max_body_bytes
            # with all but its last MiB sent at once and the rest at 64
            # KiB/s: 408 at request_timeout_ms, holding the budget for what
            # they sent (the body's whole buffer) until then. The budget is
            # taken as bytes arrive, so only clients that send can hog it.
            self.spawn(self.slow_body, LIMITS["max_body_bytes"], "hog", 1.0, 64 << 10, (0, 1),
                       LIMITS["max_body_bytes"] - (1 << 20), group="hostile")
        self.spawn(self.oversized, group="hostile")
        for _ in range(2):
            self.spawn(self.garbage, group="hostile")
        self.spawn(self.scheduler, group="hostile")
        last = 0
        while time.monotonic() - t_start < self.secs:
            time.sleep(1)
            el = time.monotonic() - t_start
            if el - last >= 30:
                last = el
                rss = self.rss[-1][1] / 1024 if self.rss else 0
                log(f"  {el:3.0f} s: {sum(self.t.acked.values()):,} events acknowledged, RSS {rss:.0f} MiB, "
                    f"slowest /healthz {max((h[1] for h in self.health if h[0] >= s0), default=0):.2f} s")
        self.stop_normal.set()
        self.stop_hostile.set()
        for group, th in self.threads:
            if group != "probe":
                th.join(90)
        stuck = [th.name for g, th in self.threads if g != "probe" and th.is_alive()]
        t_soak = time.monotonic() - t_start
        m_drained = self.drain()
        log(f"clients stopped after {t_soak:.0f} s; queue empty, {m_drained['ueba_events_total']:,.0f} events scored")
        out.update(soak_secs=t_soak, soak_from=s0, stuck_threads=stuck, metrics_before=m0,
                   metrics_drained=m_drained)
        # Shutdown with a straggler mid-request.
        straggler = self.straggler()
        time.sleep(0.5)
        out["hwm_kib"] = self.status_kib("VmHWM")
        out["rss_end_kib"] = self.status_kib("VmRSS")
        self.stop_probes.set()
        for group, th in self.threads:
            if group == "probe":
                th.join(30)
        log("SIGTERM, with one request still arriving a byte a second")
        t_term = time.monotonic()
        os.kill(self.pid, signal.SIGTERM)
        cut_at = None
        deadline = LIMITS["shutdown_timeout_ms"] / 1000 + SHUTDOWN_GRACE_S
        gone_at = None
        straggler.settimeout(0.2)
        while time.monotonic() - t_term < deadline + 30:
            if cut_at is None:
                try:
                    if not straggler.recv(4096):
                        cut_at = time.monotonic() - t_term
                except socket.timeout:
                    try:
                        straggler.sendall(b" ")
                    except OSError:
                        cut_at = time.monotonic() - t_term
                except OSError:
                    cut_at = time.monotonic() - t_term
            hwm = self.status_kib("VmHWM")
            if hwm is not None:
                out["hwm_kib"] = max(out["hwm_kib"] or 0, hwm)
            if not process_alive(self.pid):
                gone_at = time.monotonic() - t_term
                break
            time.sleep(0.1)
        straggler.close()
        out.update(exit_secs=gone_at, straggler_cut_secs=cut_at, shutdown_deadline_secs=deadline)
        out.update(tally={k: dict(v) for k, v in self.t.c.items()}, acked=dict(self.t.acked),
                   notes=self.t.notes, health=self.health, rss=self.rss,
                   scrapes=[(t, {k: v for k, v in m.items() if not k.startswith("ueba_batch_latency")})
                            for t, m in self.scrapes],
                   scrape_failures=self.scrape_failures, passes=self.feed.passes)
        return out


def process_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return False


def log(msg):
    print(f"[soak] {msg}", flush=True)


# --- checks and the report -----------------------------------------------------
def labelled(m, name):
    out = {}
    for k, v in m.items():
        if k.startswith(name + "{"):
            out[re.search(r'reason="([^"]+)"', k).group(1)] = int(v)
    return out


def check(run, serve_log, rc):
    failures = []

    def need(ok, msg):
        if not ok:
            failures.append(msg)

    L = run["limits"]
    text = open(serve_log, errors="replace").read()
    md = run["metrics_drained"]
    acked = sum(run["acked"].values())
    accepted = int(md["ueba_events_accepted_total"])
    scored_metric = int(md["ueba_events_total"])
    m = re.search(r"^events (\d+)  invalid lines (\d+)  late (\d+)  batches (\d+)  alerts (\d+)", text, re.M)
    scored_summary = int(m.group(1)) if m else None
    summary = dict(zip(("invalid", "late", "batches", "alerts"), map(int, m.groups()[1:]))) if m else {}

    # 1. Nothing lost: every acknowledged event was accepted and scored.
    need(acked == accepted, f"clients were acknowledged {acked:,} events, the service counts {accepted:,} accepted")
    need(scored_metric == accepted, f"ueba_events_total {scored_metric:,} != ueba_events_accepted_total {accepted:,} once drained")
    need(scored_summary == acked, f"the summary at exit says {scored_summary} events scored, clients were acknowledged {acked:,}")
    need(run["acked"].get("normal", 0) > 0, "the forwarders got nothing accepted")

    # 2. A clean, timely exit.
    need(rc == 0, f"ueba serve exited {rc}")
    need(run["exit_secs"] is not None and run["exit_secs"] <= run["shutdown_deadline_secs"],
         f"ueba serve took {run['exit_secs']} s to exit after SIGTERM (deadline {run['shutdown_deadline_secs']:.0f} s: "
         f"shutdown_timeout_ms plus {SHUTDOWN_GRACE_S:.0f} s)")
    need(re.search(r"^closed 1 connections whose requests did not finish", text, re.M) is not None,
         "the summary does not say the straggling request was cut off at shutdown_timeout_ms")
    need(not run["stuck_threads"], f"client threads did not stop: {run['stuck_threads']}")

    # 3. Memory under the bound the budgets give.
    baseline = run["baseline_kib"] * 1024
    parts = [
        ("baseline (after warm-up)", baseline),
        ("bodies: body_budget_bytes", L["body_budget_bytes"]),
        (f"their events: budget / {run['min_line']} B lines x {PER_EVENT} B", L["body_budget_bytes"] // run["min_line"] * PER_EVENT),
        (f"queue: queue_events x {PER_EVENT} B", L["queue_events"] * PER_EVENT),
        (f"reordering: reorder_buffer x {PER_HELD} B", run["input"]["reorder_buffer"] * PER_HELD),
        (f"connections: max_connections x {PER_CONNECTION >> 10} KiB", L["max_connections"] * PER_CONNECTION),
    ]
    bound = sum(v for _, v in parts)
    peak_sampled = max((k for _, k in run["rss"]), default=0) * 1024
    peak = max(run["hwm_kib"] or 0, 0) * 1024
    need(peak > 0, "no VmHWM read")
    need(peak <= bound, f"peak RSS {peak / 2**20:.1f} MiB over the bound {bound / 2**20:.1f} MiB")
    # The load repeats every CYCLE_S: RSS's median per cycle, reported.
    # It creeps by a few MiB a cycle at first and levels off (~114 MiB
    # after 6 minutes here): glibc's per-thread malloc arenas each keep
    # what they once held (with MALLOC_ARENA_MAX=1 the forwarders' load
    # alone stays flat), so only the peak against the bound fails the run.
    cycles = collections.defaultdict(list)
    for t, k in run["rss"]:
        c = int((t - run["soak_from"]) // CYCLE_S)
        if 0 <= c and (c + 1) * CYCLE_S <= run["soak_secs"]:
            cycles[c].append(k * 1024)
    medians = [sorted(v)[len(v) // 2] for _, v in sorted(cycles.items()) if len(v) >= CYCLE_S / 2]
    need(len(medians) >= 2, f"RSS was sampled over {len(medians)} whole cycles of {CYCLE_S:.0f} s, too few")
    growth = medians[-1] - medians[1] if len(medians) >= 2 else 0

    # 4. /healthz answered throughout; /metrics scraped throughout.
    slow = [(t, lat, st) for t, lat, st in run["health"] if st != 200 or lat > HEALTH_DEADLINE_S]
    need(not slow, f"/healthz failed or took over {HEALTH_DEADLINE_S} s {len(slow)} times, e.g. {slow[:3]}")
    need(len(run["health"]) >= run["soak_secs"] / 2, f"only {len(run['health'])} /healthz probes")
    need(not run["scrape_failures"], f"/metrics scrapes failed: {run['scrape_failures'][:3]}")
    need(len(run["scrapes"]) >= run["soak_secs"] / 6, f"only {len(run['scrapes'])} /metrics scrapes")
    open_max = max((int(m.get("ueba_http_connections", 0)) for _, m in run["scrapes"]), default=0)
    need(open_max <= L["max_connections"], f"{open_max} connections open, over max_connections")
    body_max = max((int(m.get("ueba_body_bytes_in_flight", 0)) for _, m in run["scrapes"]), default=0)
    need(body_max <= L["body_budget_bytes"], f"{body_max} body bytes in flight, over the budget")

    # 5. The hostile clients were refused or closed, for the right reasons:
    # each reason's count rose by at least the answers the clients saw, and
    # by at most that plus the requests whose outcome they could not see
    # (a reset before the answer, a connection given up at the end).
    m0 = run["metrics_before"]
    rej = {k: v - labelled(m0, "ueba_requests_rejected_total").get(k, 0)
           for k, v in labelled(md, "ueba_requests_rejected_total").items()}
    closed = {k: v - labelled(m0, "ueba_http_connections_closed_total").get(k, 0)
              for k, v in labelled(md, "ueba_http_connections_closed_total").items()}
    tally = run["tally"]

    def seen(kinds, pred=lambda o: True):
        return sum(n for k in kinds for o, n in tally.get(k, {}).items() if pred(o))

    def unseen(kinds):
        return seen(kinds, lambda o: not o[:3].isdigit())

    def within(what, got, kinds_lo, pred, kinds_unknown, maybe=0):
        lo = seen(kinds_lo, pred)
        hi = lo + unseen(kinds_unknown) + maybe
        need(lo >= 1, f"{what}: the clients never saw one")
        need(lo <= got <= hi, f"{what} rose by {got}; the clients saw {lo}, at most {hi - lo} more unseen")
        return lo, hi

    g = lambda *names: ["garbage:" + n for n in names]
    within('ueba_requests_rejected_total{reason="unauthorized"}', rej.get("unauthorized", 0),
           g("no-token", "wrong-token", "basic-auth"), lambda o: o == "401", g("no-token", "wrong-token", "basic-auth"))
    too_large = ["oversized-declared", "oversized-chunked"] + g("long-line")
    within('ueba_requests_rejected_total{reason="too_large"}', rej.get("too_large", 0),
           too_large, lambda o: o == "413", too_large)
    slow = ["slow-body", "hog"]
    within('ueba_requests_rejected_total{reason="timeout"}', rej.get("timeout", 0),
           slow, lambda o: o.startswith("408"), slow)
    busy = ["normal", "burst", "burst-hogged", "hog"]
    # Any request with a body may find the budget full or the queue full
    # (a garbage body, a chunked oversized one, a stalled one), so every
    # kind's 429 counts, and every body sender's unseen outcome may be one.
    # A hog's answer comes with how long it took ("429 after ~3 s").
    senders = busy + ["slow-body", "stalled-body", "oversized-chunked"] + [
        k for k in tally if k.startswith("garbage:")]
    # The warm-up's own 429s came before the first scrape, so they are not
    # in the rise.
    soak_kinds = [k for k in tally if k != "warm-up"]
    within('ueba_requests_rejected_total{reason="body_budget"} + {reason="queue_full"}',
           rej.get("body_budget", 0) + rej.get("queue_full", 0), soak_kinds, lambda o: o.startswith("429"),
           senders)
    need(rej.get("body_budget", 0) >= 1, "no request was refused for a full body budget")
    parse = g("not-json", "bad-array", "gzip", "bad-hec")
    # A body that could not be read is a 400 too: a client gone mid-body,
    # or a broken chunk (which hyper may answer itself, uncounted).
    within('ueba_requests_rejected_total{reason="bad_request"}', rej.get("bad_request", 0),
           parse, lambda o: o in ("400", "415"),
           parse + ["slow-body", "hog", "stalled-body", "oversized-chunked", "burst", "burst-hogged"],
           maybe=seen(g("bad-chunk")))
    inv = summary.get("invalid", 0)
    lo = 2 * seen(g("invalid-events"), lambda o: o == "400")
    need(lo >= 2 and lo <= inv <= lo + 2 * unseen(g("invalid-events")),
         f"the summary counts {inv} invalid lines, the clients were told of {lo}")
    need(rej.get("unavailable", 0) == 0, f'{rej.get("unavailable")} requests refused as unavailable')
    # Forwarders' keep-alive connections and garbage left half-sent may be
    # closed by the service too, unseen.
    others = ["normal", "burst", "burst-hogged", "oversized-chunked"] + [k for k in tally if k.startswith("garbage:")]
    within('ueba_http_connections_closed_total{reason="header_timeout"}', closed.get("header_timeout", 0),
           ["idle", "slow-headers"], lambda o: o.startswith("closed"), others)
    within('ueba_http_connections_closed_total{reason="idle_timeout"}', closed.get("idle_timeout", 0),
           ["stalled-body"], lambda o: o.startswith("closed"), others + ["slow-body", "hog"])
    need(seen(["flood"], lambda o: o == "waiting past the cap") > 0,
         "the connection flood never found the cap: every connection was answered")
    need(tally.get("flood-max-answered", {}).get("n", 0) <= L["max_connections"],
         "more flood connections were answered at once than max_connections")
    need(seen(["normal"], lambda o: o not in ("200", "429", "503", "reset", "closed")) == 0,
         f"the forwarders got answers other than 200/429/503: {tally.get('normal')}")
    need(not run["notes"], "unexpected answers: " + "; ".join(run["notes"][:5]))

    # --- the report ---
    secs = run["soak_secs"]
    reqs = int(md["ueba_http_requests_total"] - m0["ueba_http_requests_total"])
    acked_soak = acked - run["acked_warm_up"]
    health = [lat for t, lat, st in run["health"]]
    print("[soak] report")
    print(f"  events: {acked:,} acknowledged = {accepted:,} accepted = {scored_metric:,} scored "
          f"(/metrics) = {scored_summary} (summary at exit); warm-up {run['acked_warm_up']:,}, "
          f"soak {acked_soak:,} ({acked_soak / secs:,.0f} events/s; forwarders {run['acked'].get('normal', 0):,}, "
          f"bursts {run['acked'].get('burst', 0) + run['acked'].get('burst-hogged', 0):,}); "
          f"{run['passes']} passes over the organisation; {summary.get('alerts', '?')} alerts, "
          f"{summary.get('late', '?')} events scored late (a month of events replays in seconds)")
    print(f"  requests: {reqs:,} to the event endpoints in {secs:.0f} s ({reqs / secs:,.0f}/s); "
          f"connections accepted {int(md['ueba_http_connections_total'] - m0['ueba_http_connections_total']):,}, "
          f"at most {open_max} open at a scrape (cap {L['max_connections']})")
    print(f"  refused by reason: " + ", ".join(f"{k} {v:,}" for k, v in sorted(rej.items())))
    print(f"  closed by the service: " + ", ".join(f"{k} {v:,}" for k, v in sorted(closed.items()))
          + f"; at shutdown the straggler was cut after {run['straggler_cut_secs'] or 0:.1f} s")
    fl = tally.get("flood", {})
    print(f"  flood: {fl.get('opened', 0)} connections opened in {fl.get('opened', 0) // (L['max_connections'] + 32)} floods, "
          f"{fl.get('waiting past the cap', 0)} waited past the cap")
    print(f"  /healthz: {len(health)} probes, slowest {max(health, default=0):.2f} s (limit {HEALTH_DEADLINE_S} s); "
          f"/metrics scraped {len(run['scrapes'])} times; body bytes in flight peaked at {body_max / 2**20:.1f} MiB of {L['body_budget_bytes'] / 2**20:.0f} MiB")
    print(f"  RSS: start {run['rss_start_kib'] / 1024:.1f} MiB, baseline {baseline / 2**20:.1f} MiB, "
          f"peak {peak / 2**20:.1f} MiB (VmHWM; sampled {peak_sampled / 2**20:.1f}), end {run['rss_end_kib'] / 1024:.1f} MiB; "
          f"bound {bound / 2**20:.1f} MiB; median per {CYCLE_S:.0f} s cycle " + ", ".join(f"{v / 2**20:.0f}" for v in medians)
          + f" MiB ({growth / 2**20:+.1f} from the second to the last)")
    for name, v in parts:
        print(f"      {v / 2**20:6.1f} MiB  {name}")
    print(f"  shutdown: exit {rc} {run['exit_secs'] or -1:.1f} s after SIGTERM (deadline {run['shutdown_deadline_secs']:.0f} s)")
    if failures:
        for f in failures:
            print(f"[soak] FAILED: {f}", file=sys.stderr)
        return 1
    print("[soak] ok")
    return 0


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("config")
    c.add_argument("out")
    r = sub.add_parser("run")
    r.add_argument("--pid", type=int, required=True)
    r.add_argument("--addr", required=True)
    r.add_argument("--token-file", required=True)
    r.add_argument("--events", required=True)
    r.add_argument("--secs", type=int, default=180)
    r.add_argument("--out", required=True)
    k = sub.add_parser("check")
    k.add_argument("run")
    k.add_argument("serve_log")
    k.add_argument("rc", type=int)
    a = p.parse_args()
    if a.cmd == "config":
        open(a.out, "w").write(config_toml())
    elif a.cmd == "run":
        out = Soak(a).run()
        with open(a.out, "w") as f:
            json.dump(out, f)
    else:
        sys.exit(check(json.load(open(a.run)), a.serve_log, a.rc))


if __name__ == "__main__":
    main()
