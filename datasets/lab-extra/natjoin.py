#!/usr/bin/env python3
"""Rewrites a lab labels file so that client_ip/client_port are the address
and port the server (and so every flow record) saw, for clients behind NAT.

capture.py records the client's own address and port (curl's local_ip and
local_port). Behind the lab's NAT gateway (vgw, MASQUERADE) the server sees
the gateway's address 10.77.7.2 and a port that NAT may have changed. The
downloads run one connection at a time, so the n-th new TCP connection in the
server-side pcap is connection n of the labels file; a connection is told
apart by its SYN (source address, source port, initial sequence number), so
SYN retransmissions and port reuse do not shift the order.

Output columns: the labels columns, with client_ip/client_port replaced by the
server-side values, then inner_client_ip, inner_client_port (the original).
Reads the pcap streaming, without third-party modules.

Usage: natjoin.py RUN.pcap RUN.labels.csv OUT.csv"""
import csv, socket, struct, sys


def syns(path):
    """Yields (src_ip, src_port, dst_port, isn) of each client SYN, in order."""
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            raise SystemExit(f"{path}: short pcap header")
        magic = hdr[:4]
        if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
            e = "<"
        elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            e = ">"
        else:
            raise SystemExit(f"{path}: not a classic pcap file")
        link = struct.unpack(e + "I", hdr[20:24])[0]
        if link != 1:
            raise SystemExit(f"{path}: link type {link}, want 1 (ethernet)")
        rec = struct.Struct(e + "IIII")
        off = 24
        while True:
            rh = f.read(16)
            if not rh:
                return
            if len(rh) < 16:
                raise SystemExit(f"{path}: offset {off}: truncated record header")
            _, _, incl, _ = rec.unpack(rh)
            if incl > 262144:
                raise SystemExit(f"{path}: offset {off}: record length {incl} too large")
            p = f.read(incl)
            if len(p) < incl:
                raise SystemExit(f"{path}: offset {off}: truncated record")
            off += 16 + incl
            if len(p) < 14 + 20 + 14 or p[12:14] != b"\x08\x00" or p[23] != 6:
                continue
            ihl = (p[14] & 0x0F) * 4
            t = 14 + ihl
            if len(p) < t + 14:
                continue
            flags = p[t + 13]
            if flags & 0x12 != 0x02:  # SYN without ACK
                continue
            sport, dport, isn = struct.unpack(">HHI", p[t:t + 8])
            yield socket.inet_ntoa(p[26:30]), sport, dport, isn


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    pcap, labels, out = sys.argv[1:]
    conns = []
    seen = None
    for s in syns(pcap):
        if s != seen:  # a retransmitted SYN repeats address, port and ISN
            conns.append(s)
            seen = s
    with open(labels, newline="") as f:
        rows = list(csv.DictReader(f))
    nconn = len({r["conn"] for r in rows})
    if nconn != len(conns):
        raise SystemExit(f"{labels}: {nconn} connections, but {pcap} has {len(conns)} client SYNs")
    order = sorted({int(r["conn"]) for r in rows})
    byconn = {c: conns[i] for i, c in enumerate(order)}
    kept = 0
    with open(out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["client_ip", "client_port", "server_port", "file", "size", "known", "conn", "pos", "rep",
                    "inner_client_ip", "inner_client_port"])
        for r in rows:
            ip, sport, dport, _ = byconn[int(r["conn"])]
            if str(dport) != r["server_port"]:
                raise SystemExit(f"{labels}: conn {r['conn']}: server port {r['server_port']}, pcap SYN to {dport}")
            kept += str(sport) == r["client_port"]
            w.writerow([ip, sport, r["server_port"], r["file"], r["size"], r["known"], r["conn"], r["pos"], r["rep"],
                        r["client_ip"], r["client_port"]])
    print(f"{out}: {len(rows)} labels, {len(conns)} connections, {kept} labels kept their client port through NAT")


if __name__ == "__main__":
    main()
