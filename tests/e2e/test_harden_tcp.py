#!/usr/bin/env python3
"""TCP abuse resistance of a real tallowd.

- A client that trickles a query in a byte at a time (each byte well within
  the idle timeout) is closed by the read timeout, counted from the first
  octet of the message, while a normal client is answered at once.
- Slow clients from one address fill at most --tcp-max-per-client
  connections: the next one from that address is closed at once, a client
  from another address is still served, and a slot freed is usable again.
- Pipelined queries sent in one burst are all answered, in order.
- The counters are logged at shutdown.
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.flags
import dns.message
import dns.rcode

import harness
from server_harness import Tallowd, make_db, frame, read_frame, ZONE

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def query(qid, name="example.com"):
    q = dns.message.make_query(name + "." + ZONE, "TXT", id=qid)
    q.flags &= ~dns.flags.RD
    return q.to_wire()


def connect(srv, src, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", srv.port))
    return s


def closed_by_server(s, within):
    """True when the server closes `s` within `within` seconds."""
    s.settimeout(within)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def answered(s, qid=1):
    try:
        s.sendall(frame(query(qid)))
        r = dns.message.from_wire(read_frame(s))
        return r.id == qid and r.rcode() == dns.rcode.NOERROR and bool(r.answer)
    except (OSError, EOFError):
        return False


def test_slow_sender(db):
    with Tallowd(db, args=["-v", "--tcp-read-timeout", "1", "--tcp-idle-timeout", "10"]) as srv:
        wire = frame(query(9))
        slow = connect(srv, "127.0.0.2")
        t0 = time.monotonic()
        closed_at = None
        normal_ok = 0
        for i, b in enumerate(wire):
            try:
                slow.send(bytes([b]))
            except OSError:
                closed_at = time.monotonic() - t0
                break
            # A normal client meanwhile is answered without waiting.
            c = connect(srv, "127.0.0.3")
            t1 = time.monotonic()
            normal_ok += answered(c, 100 + i) and time.monotonic() - t1 < 0.5
            c.close()
            time.sleep(0.3)
            if time.monotonic() - t0 > 4:
                break
        if closed_at is None and closed_by_server(slow, 3.0):
            closed_at = time.monotonic() - t0
        slow.close()
        harness.check(closed_at is not None and 0.9 <= closed_at <= 2.5,
                      "a client trickling a query a byte every 0.3 s is closed by the 1 s "
                      "read timeout (after %s s)"
                      % ("%.2f" % closed_at if closed_at is not None else "never"))
        harness.check(normal_ok >= 3, "a normal client is answered at once meanwhile (%d times)"
                      % normal_ok)

        # A whole message sent slowly, but each one within the timeout, is fine.
        s = connect(srv, "127.0.0.2")
        ok = 0
        for qid in range(3):
            w = frame(query(qid))
            s.sendall(w[:5])
            time.sleep(0.6)
            s.sendall(w[5:])
            r = dns.message.from_wire(read_frame(s))
            ok += r.id == qid and bool(r.answer)
            time.sleep(0.6)
        s.close()
        harness.check(ok == 3, "messages each completed within the read timeout are answered, "
                      "however long the connection lives")

        srv.stop()
        log = srv.log()
        line = [l for l in log.splitlines() if "stats, tcp limits, worker 0:" in l]
        harness.check(bool(line) and "read timeout 1," in line[0],
                      "the read-timeout close is counted: %s" % (line[0] if line else log))


def test_per_client(db):
    args = ["-v", "--tcp-max-per-client", "4", "--tcp-max-connections", "16",
            "--tcp-idle-timeout", "30", "--tcp-read-timeout", "30"]
    with Tallowd(db, args=args) as srv:
        held = [connect(srv, "127.0.0.2") for _ in range(4)]
        # Half a query on each: slow clients holding their slots.
        for s in held:
            s.sendall(frame(query(1))[:3])
        time.sleep(0.2)
        extra = connect(srv, "127.0.0.2")
        harness.check(closed_by_server(extra, 2.0),
                      "a 5th connection from the same address is closed at once")
        extra.close()
        other = connect(srv, "127.0.0.3")
        harness.check(answered(other), "a client from another address is served")
        other.close()
        harness.check(all(not closed_by_server(s, 0.05) for s in held),
                      "the 4 connections within the limit stay open")
        held.pop().close()
        time.sleep(0.2)
        again = connect(srv, "127.0.0.2")
        harness.check(answered(again), "a slot freed by the client is usable again")
        again.close()
        for s in held:
            s.close()

        # Pipelining: many queries in one write, answers in order.
        p = connect(srv, "127.0.0.3")
        p.sendall(b"".join(frame(query(1000 + i)) for i in range(200)))
        ids = []
        try:
            for _ in range(200):
                ids.append(dns.message.from_wire(read_frame(p)).id)
        except (OSError, EOFError):
            pass
        p.close()
        harness.check(ids == list(range(1000, 1200)),
                      "200 pipelined queries are all answered, in order (%d)" % len(ids))

        srv.stop()
        log = srv.log()
        line = [l for l in log.splitlines() if "stats, tcp limits, worker 0:" in l]
        harness.check(bool(line) and line[0].endswith("per-client limit 1"),
                      "the per-client refusal is counted: %s" % (line[0] if line else log))


def main():
    db = make_db(csv="example.com,%s\n" % TENANT)
    test_slow_sender(db)
    test_per_client(db)
    harness.done()


if __name__ == "__main__":
    main()
