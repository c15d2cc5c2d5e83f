"""NOTIFY as a secondary sees it: signed, retried with back-off, re-sent for new serials.

A plain UDP socket plays the secondary: it leaves the first two NOTIFYs
unanswered and acknowledges the third.  The NOTIFYs must be opcode NOTIFY,
AA, for the zone's SOA with the new serial, TSIG-signed with the
configured key (verified by dnspython), with the same ID on retries and
gaps of about 1 and 2 seconds; tallowd logs the acknowledgement.  A target
without a key gets an unsigned NOTIFY.
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.message
import dns.opcode
import dns.flags
import dns.rdatatype
import dns.tsigkeyring

import harness
import server_harness as sh

ZONE = sh.ZONE
SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ="


def receive(sock, timeout):
    sock.settimeout(timeout)
    try:
        data, addr = sock.recvfrom(4096)
        return data, addr, time.monotonic()
    except socket.timeout:
        return None, None, None


def main():
    db = sh.make_db()
    harness.tallowctl(db, "tsig", "add", "nkey", "--secret", SECRET, check_rc=0)
    ring = dns.tsigkeyring.from_text({"nkey.": SECRET})
    signed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    signed.bind(("127.0.0.1", 0))
    plain = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    plain.bind(("127.0.0.1", 0))
    harness.tallowctl(db, "notify", "add", "127.0.0.1@%d" % signed.getsockname()[1],
                      "--key", "nkey", check_rc=0)
    harness.tallowctl(db, "notify", "add", "127.0.0.1@%d" % plain.getsockname()[1],
                      check_rc=0)
    with sh.Tallowd(db, args=["-v"]) as t:
        serial = t.query(ZONE, "SOA").answer[0][0].serial
        # At start-up tallowd notifies every target once.
        got = []
        for i in range(3):
            data, addr, when = receive(signed, 5)
            if data is None:
                break
            got.append((data, addr, when))
            if i == 1:
                # An unsigned answer to a signed NOTIFY proves nothing: ignored.
                q = dns.message.from_wire(data, keyring=ring)
                w = dns.message.Message(id=q.id)
                w.flags = dns.flags.QR | dns.flags.AA
                w.set_opcode(dns.opcode.NOTIFY)
                w.question = q.question
                signed.sendto(w.to_wire(), addr)
        harness.check(len(got) == 3, "NOTIFYs unanswered, or answered without the key, are "
                      "sent again (%d seen)" % len(got))
        if got:
            msgs = []
            for data, _, _ in got:
                try:
                    msgs.append(dns.message.from_wire(data, keyring=ring))
                except Exception as e:  # a bad signature is a failed check, not a crash
                    harness.check(False, "NOTIFY verifies with the key", e)
            m = msgs[0] if msgs else None
            harness.check(m is not None and m.opcode() == dns.opcode.NOTIFY
                          and m.flags & dns.flags.AA and m.had_tsig
                          and m.question[0].name.to_text() == ZONE + "."
                          and m.question[0].rdtype == dns.rdatatype.SOA
                          and m.answer and m.answer[0][0].serial == serial,
                          "NOTIFY: opcode, AA, zone SOA question, new serial, TSIG", m)
            harness.check(len({x.id for x in msgs}) == 1, "retries keep the message ID")
            if len(got) == 3:
                gap1 = got[1][2] - got[0][2]
                gap2 = got[2][2] - got[1][2]
                # The first may wait in the socket before we read it, so its gap
                # looks shorter; the second gap is measured on live arrivals.
                harness.check(gap1 < 1.8 and 1.6 < gap2 < 3.0,
                              "back-off: %.1f s, then %.1f s" % (gap1, gap2))
                r = dns.message.make_response(msgs[2])  # signed over the NOTIFY's MAC
                signed.sendto(r.to_wire(), got[2][1])
                ok = False
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and not ok:
                    ok = "to 127.0.0.1@%d: acknowledged" % signed.getsockname()[1] in t.log()
                    time.sleep(0.1)
                harness.check(ok, "a signed answer is taken as the acknowledgement",
                              t.log()[-800:])
        data, addr, _ = receive(plain, 2)
        m = dns.message.from_wire(data) if data else None
        harness.check(m is not None and not m.had_tsig and m.opcode() == dns.opcode.NOTIFY,
                      "a target without a key gets an unsigned NOTIFY")
        if m is not None:
            plain.sendto(dns.message.make_response(m).to_wire(), addr)

        # A commit: a new NOTIFY with the new serial within about a second.
        harness.tallowctl(t.db, "add", "n.example", "72f988bf-86f1-41af-91ab-2d7cd011db47",
                          check_rc=0)
        t0 = time.monotonic()
        newest = None
        while time.monotonic() - t0 < 5:
            data, _, _ = receive(signed, 1)
            if data is None:
                continue
            m = dns.message.from_wire(data, keyring=ring)
            if m.answer and m.answer[0][0].serial == serial + 1:
                newest = time.monotonic() - t0
                break
        harness.check(newest is not None and newest < 2.5,
                      "the commit is notified within %.1f s" % (newest or -1))
    harness.check(t.returncode == 0, "tallowd exits cleanly")
    harness.check(SECRET not in t.log(), "the secret is never logged")
    signed.close()
    plain.close()
    harness.done()


if __name__ == "__main__":
    main()
