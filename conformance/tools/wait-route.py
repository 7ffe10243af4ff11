#!/usr/bin/env python3
"""Waits until a name server routes a topic (GET_ROUTEINFO_BY_TOPIC answers SUCCESS).

    wait-route.py HOST:PORT [TOPIC [SECONDS]]      # TOPIC defaults to TBW102, SECONDS to 60

A RocketMQ 5.x broker registers with the name server some seconds after its boot line; clients
that start before TBW102 is routed cannot create topics. Exit status 0 once routed, 1 on timeout.
"""
import json
import socket
import struct
import sys
import time


def route_code(addr, topic, opaque):
    host, port = addr.rsplit(":", 1)
    header = json.dumps({"code": 105, "extFields": {"topic": topic}, "flag": 0, "language": "PYTHON",
                         "opaque": opaque, "serializeTypeCurrentRPC": "JSON", "version": 399}).encode()
    frame = struct.pack(">ii", 4 + len(header), len(header)) + header
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(frame)
        buf = b""
        while len(buf) < 8:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        total, hlen = struct.unpack(">iI", buf[:8])
        hlen &= 0xFFFFFF
        while len(buf) < 4 + total:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        return json.loads(buf[8:8 + hlen])["code"]


def main():
    addr = sys.argv[1]
    topic = sys.argv[2] if len(sys.argv) > 2 else "TBW102"
    secs = float(sys.argv[3]) if len(sys.argv) > 3 else 60
    deadline = time.time() + secs
    opaque = 1
    last = None
    while time.time() < deadline:
        try:
            code = route_code(addr, topic, opaque)
            if code == 0:
                return 0
            last = "code %d" % code
        except (OSError, ValueError) as e:
            last = repr(e)
        opaque += 1
        time.sleep(0.2)
    print("wait-route: %s not routed by %s after %ss (%s)" % (topic, addr, secs, last), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
