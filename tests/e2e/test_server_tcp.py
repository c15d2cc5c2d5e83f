"""tallowd over TCP (RFC 7766) and under malformed input.

Pipelined queries answered in order, a query trickled one octet at a time,
frames split across reads, half-close, the idle timeout, the connection
limit, a zero-length frame, shutdown with answers still being written; and a
burst of malformed UDP datagrams after which the server still answers.
"""

import os
import random
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

import harness  # noqa: E402
import server_harness as sh  # noqa: E402
from harness import check  # noqa: E402
from server_harness import frame, read_frame  # noqa: E402

Z = sh.ZONE


def tid(i):
    return "%08x-0000-4000-8000-%012x" % (0x20000000 + i, i)


csv = "".join("d%d.example,%s\n" % (i, tid(i)) for i in range(10))
csv += "".join("big.example,%s\n" % tid(100 + i) for i in range(22))
db = sh.make_db(csv=csv)


def query_wire(name, rdtype="TXT", qid=None):
    q = dns.message.make_query(name, rdtype)
    q.flags &= ~dns.flags.RD
    if qid is not None:
        q.id = qid
    return q, q.to_wire()


def recv_or_closed(sock, timeout):
    """'closed' on EOF/reset, 'data' when bytes arrive, 'open' on timeout."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(4096)
    except socket.timeout:
        return "open"
    except ConnectionResetError:
        return "closed"
    return "data" if data else "closed"


with sh.Tallowd(db, threads=2) as srv:
    # Pipelining: 20 queries in one write, 20 answers in the same order.
    names = []
    blob = b""
    for i in range(20):
        name = ("d%d.example.%s" % (i % 10, Z)) if i % 3 else ("missing%d.example.%s" % (i, Z))
        q, w = query_wire(name, qid=1000 + i)
        names.append((q.id, name))
        blob += frame(w)
    s = srv.tcp_connect()
    s.sendall(blob)
    answers = [dns.message.from_wire(read_frame(s)) for _ in range(20)]
    check([a.id for a in answers] == [qid for qid, _ in names],
          "20 pipelined queries: 20 answers in order")
    ok = True
    for a, (qid, name) in zip(answers, names):
        want = dns.rcode.NXDOMAIN if name.startswith("missing") else dns.rcode.NOERROR
        ok = ok and a.rcode() == want and a.question[0].name.to_text() == name + "."
    check(ok, "each pipelined answer matches its question")

    # The same connection keeps working; one octet at a time.
    q, w = query_wire("d4.example." + Z, qid=4242)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for b in frame(w):
        s.send(bytes([b]))
        time.sleep(0.003)
    a = dns.message.from_wire(read_frame(s))
    check(a.id == 4242 and a.rcode() == 0 and len(a.answer) == 1,
          "a query sent one octet at a time is answered")

    # Frames split at awkward places: inside the length, then two at once.
    q1, w1 = query_wire("d1.example." + Z, qid=1)
    q2, w2 = query_wire("d2.example." + Z, qid=2)
    q3, w3 = query_wire("d3.example." + Z, qid=3)
    data = frame(w1) + frame(w2) + frame(w3)
    s.sendall(data[:1])
    time.sleep(0.05)
    s.sendall(data[1:len(frame(w1)) + 1])
    time.sleep(0.05)
    s.sendall(data[len(frame(w1)) + 1:])
    ids = [dns.message.from_wire(read_frame(s)).id for _ in range(3)]
    check(ids == [1, 2, 3], "frames split inside the length prefix", ids)

    # Large answers over TCP, pipelined.
    blob = b"".join(frame(query_wire("big.example." + Z, qid=500 + i)[1]) for i in range(5))
    s.sendall(blob)
    bigs = [dns.message.from_wire(read_frame(s)) for _ in range(5)]
    check(all(len(b.answer) == 1 and len(b.answer[0]) == 22 for b in bigs),
          "5 pipelined 22-tenant answers, complete")

    # A malformed but framed message: FORMERR, and the connection stays.
    s.sendall(frame(b"\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x10\x00\x01"))
    a = read_frame(s)
    check(a[:2] == b"\x12\x34" and (a[3] & 0x0F) == dns.rcode.FORMERR,
          "compression loop in the question over TCP: FORMERR")
    q, w = query_wire("d5.example." + Z, qid=55)
    s.sendall(frame(w))
    check(dns.message.from_wire(read_frame(s)).id == 55, "connection usable after FORMERR")

    # A zero-length frame is malformed framing: the server closes.
    s.sendall(b"\x00\x00")
    check(recv_or_closed(s, 3) == "closed", "zero-length frame: connection closed")
    s.close()

    # Half-close after sending: the answers still come, then EOF.
    s = srv.tcp_connect()
    s.sendall(frame(query_wire("d6.example." + Z, qid=66)[1]) +
              frame(query_wire("d7.example." + Z, qid=77)[1]))
    s.shutdown(socket.SHUT_WR)
    ids = [dns.message.from_wire(read_frame(s)).id for _ in range(2)]
    check(ids == [66, 77], "half-closed client still gets its answers", ids)
    check(recv_or_closed(s, 3) == "closed", "then the server closes")
    s.close()

    # Malformed UDP: a burst, then a normal query is answered.
    rnd = random.Random(7)
    hdr = lambda qd, ar=0: struct.pack("!HHHHHH", 0xBEEF, 0, qd, 0, 0, ar)  # noqa: E731
    qname = b"\x02d1\x07example\x07tenants\x07example\x03net\x00"
    question = qname + b"\x00\x10\x00\x01"
    burst = [
        b"",
        b"\x12\x34\x01",
        b"\x12\x34\x01\x00\x00",
        bytes(rnd.randrange(256) for _ in range(100)),
        bytes(rnd.randrange(256) for _ in range(700)),
        hdr(1) + b"\xc0\x0c\x00\x10\x00\x01",
        hdr(1) + b"\x03abc\xc0\x0c\x00\x10\x00\x01",
        hdr(0),
        hdr(2) + question + question,
        hdr(1, 1) + question + b"\x00\x00\x29\x04",
        hdr(1, 1) + question + b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x08\x00\x0a",
        hdr(1) + qname[:9],
        hdr(1) + b"\x3f" + b"a" * 20,
    ]
    for i in range(30):
        burst.append(bytes(rnd.randrange(256) for _ in range(rnd.randrange(12, 80))))
    bad_answers = 0
    for pkt in burst:
        reply = srv.raw_udp(pkt, timeout=0.05)
        if reply is not None:
            if len(reply) < 12 or not reply[2] & 0x80:
                bad_answers += 1
            elif pkt[:2] == b"\xbe\xef" and (reply[3] & 0x0F) not in (
                    dns.rcode.FORMERR, dns.rcode.NOTIMP):
                bad_answers += 1
    check(bad_answers == 0, "malformed datagrams: no reply, or FORMERR/NOTIMP")
    check(srv.raw_udp(hdr(0), timeout=1.0) is not None
          and (srv.raw_udp(hdr(0), timeout=1.0)[3] & 0x0F) == dns.rcode.FORMERR,
          "QDCOUNT=0: FORMERR")
    r = srv.query("d1.example." + Z, "TXT")
    check(r.rcode() == 0 and len(r.answer) == 1, "after the burst a normal query is answered")
    check(srv.alive(), "process alive after the burst")

    # Shutdown with answers still being written to a client that reads late:
    # the answers already started are finished, whole, and the exit is clean.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)  # before connect: small window
    s.settimeout(5)
    s.connect(("127.0.0.1", srv.port))
    blob = b"".join(frame(query_wire("big.example." + Z, qid=i)[1]) for i in range(200))
    s.sendall(blob)
    time.sleep(0.3)
    t0 = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    srv.proc.wait(timeout=15)
    exit_time = time.monotonic() - t0
    got = 0
    s.settimeout(15)
    try:
        while True:
            m = dns.message.from_wire(read_frame(s))
            if m.id != got or len(m.answer[0]) != 22:
                break
            got += 1
    except EOFError:
        pass
    except ConnectionResetError:
        pass
    s.close()
    status = srv.stop()
    check(got >= 1, "answers written before SIGTERM are delivered whole (%d)" % got)
    check(exit_time < 3, "exit is prompt with a client that does not read (%.2f s)" % exit_time)
    check(status == 0, "SIGTERM with a busy TCP client: exit 0", srv.log())

# Shutdown while an answer is blocked on a client that never reads: the
# server waits for that write, and the idle timeout bounds the wait.
with sh.Tallowd(db, threads=1, args=["--tcp-idle-timeout", "2"]) as srv:
    w = query_wire("big.example." + Z, qid=0)[1]
    blob = b"".join(frame(struct.pack("!H", i) + w[2:]) for i in range(20000))
    s = srv.tcp_connect()
    s.settimeout(2)
    try:
        s.sendall(blob)  # 28 MB of answers: far more than the socket buffers hold
    except socket.timeout:
        pass
    time.sleep(0.5)
    t0 = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    check(srv.alive(), "SIGTERM with an answer blocked in flight: the server waits for it")
    try:
        srv.proc.wait(timeout=10)
    except Exception:
        pass
    elapsed = time.monotonic() - t0
    status = srv.stop()
    check(status == 0 and elapsed < 4,
          "then exits 0 once the idle timeout closes the stuck connection (%.2f s)" % elapsed,
          srv.log())
    s.close()

# Idle timeout and the connection limit.
with sh.Tallowd(db, threads=1, args=["--tcp-idle-timeout", "1",
                                     "--tcp-max-connections", "2"]) as srv:
    t0 = time.monotonic()
    s = srv.tcp_connect()
    state = recv_or_closed(s, 5)
    elapsed = time.monotonic() - t0
    check(state == "closed" and 0.8 <= elapsed <= 3.0,
          "idle connection closed after about 1 s (%.2f s)" % elapsed)
    s.close()

    a = srv.tcp_connect()
    b = srv.tcp_connect()
    for sock, qid in ((a, 1), (b, 2)):
        sock.sendall(frame(query_wire("d1.example." + Z, qid=qid)[1]))
        check(dns.message.from_wire(read_frame(sock)).id == qid, "connection %d served" % qid)
    c = srv.tcp_connect()
    try:
        c.sendall(frame(query_wire("d1.example." + Z, qid=3)[1]))
    except OSError:
        pass
    check(recv_or_closed(c, 2) == "closed", "a third connection over the limit is closed")
    c.close()
    a.close()
    time.sleep(0.2)
    d = srv.tcp_connect()
    d.sendall(frame(query_wire("d1.example." + Z, qid=4)[1]))
    check(dns.message.from_wire(read_frame(d)).id == 4, "below the limit again: served")
    d.close()
    b.close()
    check(srv.stop() == 0, "clean exit", srv.log())

harness.done()
