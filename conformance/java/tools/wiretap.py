#!/usr/bin/env python3
"""Logging TCP proxy for the RocketMQ remoting protocol.

Sits between a client and a name server / broker and prints every frame in both directions:

    frame = int32 length | int32 (serializeType << 24 | headerLength) | header | body

serializeType 0 = JSON header, 1 = ROCKETMQ (binary) header; both are decoded to JSON. Each frame is one
JSON line on stdout (or --log FILE); with --save-dir every frame is also written as
<seq>-<listener>-<c2s|s2c>-<code>.json (decoded header) and .bin (body, when there is one) and .frame
(the raw bytes of the whole frame), which is how conformance/golden/ files are cut out.

    # one listener per server; "name=listenPort=upstreamHost:upstreamPort"
    tools/wiretap.py --listen ns=19876=127.0.0.1:9876 --listen broker=20911=127.0.0.1:10911 \\
        --rewrite 127.0.0.1:10911=127.0.0.1:20911 --save-dir /tmp/frames

--rewrite A=B replaces the bytes A by B in the bodies of frames going to the client (s2c), fixing the
frame length: with the broker's address rewritten in the name server's route answers the client sends
its broker traffic through the proxy as well. The log shows the frames as the server sent them.

Only the Python standard library is used. Stop it with SIGINT/SIGTERM.
"""
import argparse
import asyncio
import json
import os
import signal
import struct
import sys
import time

LANGS = ["JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER", "HTTP", "GO", "PHP", "OMS",
         "RUST"]


def decode_rocketmq_header(h):
    """RocketMQSerializable.rocketMQProtocolDecode."""
    code, lang, version, opaque, flag = struct.unpack_from(">hBhii", h, 0)
    off = 13
    (rlen,) = struct.unpack_from(">i", h, off)
    off += 4
    remark = h[off:off + rlen].decode("utf-8", "replace") if rlen > 0 else None
    off += max(rlen, 0)
    (elen,) = struct.unpack_from(">i", h, off)
    off += 4
    ext = {}
    end = off + max(elen, 0)
    while off < end:
        (klen,) = struct.unpack_from(">h", h, off)
        off += 2
        k = h[off:off + klen].decode("utf-8", "replace")
        off += klen
        (vlen,) = struct.unpack_from(">i", h, off)
        off += 4
        v = h[off:off + vlen].decode("utf-8", "replace")
        off += vlen
        ext[k] = v
    out = {"code": code, "language": LANGS[lang] if lang < len(LANGS) else lang, "version": version,
           "opaque": opaque, "flag": flag, "serializeTypeCurrentRPC": "ROCKETMQ"}
    if remark is not None:
        out["remark"] = remark
    if ext:
        out["extFields"] = ext
    return out


class Tap:
    def __init__(self, args):
        self.args = args
        self.seq = 0
        self.conn_seq = 0
        self.out = open(args.log, "a", buffering=1) if args.log else sys.stdout
        self.rewrites = []
        for r in args.rewrite or []:
            a, b = r.split("=", 1)
            self.rewrites.append((a.encode(), b.encode()))
        if args.save_dir:
            os.makedirs(args.save_dir, exist_ok=True)

    def record(self, listener, conn, direction, frame):
        self.seq += 1
        seq = self.seq
        length, word = struct.unpack_from(">ii", frame, 0)
        stype = (word >> 24) & 0xFF
        hlen = word & 0xFFFFFF
        header_bytes = frame[8:8 + hlen]
        body = frame[8 + hlen:]
        try:
            header = json.loads(header_bytes.decode("utf-8")) if stype == 0 else decode_rocketmq_header(header_bytes)
        except Exception as e:  # keep going on garbage
            header = {"undecodable": header_bytes.hex(), "error": str(e)}
        rec = {"seq": seq, "t": round(time.time(), 3), "listener": listener, "conn": conn, "dir": direction,
               "length": length, "serializeType": "JSON" if stype == 0 else ("ROCKETMQ" if stype == 1 else stype),
               "headerLen": hlen, "header": header, "bodyLen": len(body)}
        if body:
            try:
                text = body.decode("utf-8")
                rec["bodyText" if text.isprintable() or self.args.full else "bodyTextish"] = (
                    text if self.args.full or len(text) <= self.args.max_body else text[:self.args.max_body] + "...")
            except UnicodeDecodeError:
                hx = body.hex()
                rec["bodyHex"] = hx if self.args.full or len(hx) <= 2 * self.args.max_body else (
                    hx[:2 * self.args.max_body] + "...")
        self.out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        if self.args.save_dir:
            code = header.get("code", "x") if isinstance(header, dict) else "x"
            base = os.path.join(self.args.save_dir, "%06d-%s-%s-%s" % (seq, listener, direction, code))
            with open(base + ".json", "w") as f:
                json.dump(header, f, indent=1, ensure_ascii=False)
                f.write("\n")
            if body:
                with open(base + ".bin", "wb") as f:
                    f.write(body)
            with open(base + ".frame", "wb") as f:
                f.write(frame)

    def rewrite(self, frame):
        if not self.rewrites:
            return frame
        word = struct.unpack_from(">i", frame, 4)[0]
        hlen = word & 0xFFFFFF
        head, body = frame[8:8 + hlen], frame[8 + hlen:]
        nb = body
        for a, b in self.rewrites:
            nb = nb.replace(a, b)
        if nb is body or nb == body:
            return frame
        return struct.pack(">ii", 4 + hlen + len(nb), word) + head + nb

    async def pump(self, listener, conn, direction, reader, writer):
        buf = b""
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                buf += data
                out = b""
                while len(buf) >= 4:
                    (length,) = struct.unpack_from(">i", buf, 0)
                    if length < 4 or length > 64 * 1024 * 1024:
                        # not a RocketMQ frame (or garbage on purpose): pass the rest through unparsed
                        self.out.write(json.dumps({"listener": listener, "conn": conn, "dir": direction,
                                                   "garbage": buf[:64].hex(), "bytes": len(buf)}) + "\n")
                        out += buf
                        buf = b""
                        break
                    if len(buf) < 4 + length:
                        break
                    frame, buf = buf[:4 + length], buf[4 + length:]
                    self.record(listener, conn, direction, frame)
                    out += self.rewrite(frame) if direction == "s2c" else frame
                if out:
                    writer.write(out)
                    await writer.drain()
        except (ConnectionResetError, BrokenPipeError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    async def handle(self, listener, upstream, creader, cwriter):
        self.conn_seq += 1
        conn = self.conn_seq
        host, port = upstream.rsplit(":", 1)
        try:
            sreader, swriter = await asyncio.open_connection(host, int(port))
        except OSError as e:
            self.out.write(json.dumps({"listener": listener, "conn": conn, "error": "upstream: %s" % e}) + "\n")
            cwriter.close()
            return
        self.out.write(json.dumps({"listener": listener, "conn": conn, "event": "open",
                                   "peer": "%s:%s" % cwriter.get_extra_info("peername")[:2]}) + "\n")
        await asyncio.gather(self.pump(listener, conn, "c2s", creader, swriter),
                             self.pump(listener, conn, "s2c", sreader, cwriter))
        self.out.write(json.dumps({"listener": listener, "conn": conn, "event": "close"}) + "\n")


async def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen", action="append", required=True, help="name=port=upstreamHost:upstreamPort")
    p.add_argument("--rewrite", action="append", help="A=B: replace A by B in bodies sent to the client")
    p.add_argument("--log", help="append the JSON lines to this file instead of stdout")
    p.add_argument("--save-dir", help="write every frame's header/body/raw bytes into this directory")
    p.add_argument("--max-body", type=int, default=2048, help="body characters/bytes shown in the log")
    p.add_argument("--full", action="store_true", help="never shorten bodies in the log")
    args = p.parse_args()
    tap = Tap(args)
    servers = []
    for spec in args.listen:
        name, port, upstream = spec.split("=", 2)
        srv = await asyncio.start_server(lambda r, w, n=name, u=upstream: tap.handle(n, u, r, w), "127.0.0.1",
                                         int(port))
        servers.append(srv)
        # on stdout even with --log: the conformance harness waits for these lines
        print("wiretap: %s listening on 127.0.0.1:%s -> %s" % (name, srv.sockets[0].getsockname()[1], upstream),
              flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
