#!/usr/bin/env python3
"""Logging TCP proxy for the RocketMQ remoting protocol.

Sits between a client and a name server / broker and prints every remoting frame:

    4-byte total length | 4-byte header length (high byte: serialize type, 0 = JSON, 1 = ROCKETMQ)
    | header | body

Usage:

    frame-proxy.py --up ns=127.0.0.1:9876 --up broker=127.0.0.1:10911 [--log FILE] [--body N]

Every --up NAME=HOST:PORT gets its own listening port on 127.0.0.1 (0 = ephemeral, or
NAME=HOST:PORT@LISTEN). Once all listen it prints one line per upstream:

    frame-proxy NAME 127.0.0.1:<listen port> -> HOST:PORT

and then `frame-proxy ready`. In every frame sent back to a client, each upstream address
(`HOST:PORT`) in the body is replaced by its proxy address (frame length fixed up), so the route
data a name server hands out points the client at the proxied brokers: give the name server's
clients the proxy's `ns` address and every broker connection goes through the proxy too.

Each frame is one line:

    <secs> <conn> <name> C>S REQ  code=11 PULL_MESSAGE op=7 lang=JAVA v=395 flag=0 ext={...} body=0
    <secs> <conn> <name> S>C RESP code=0 SUCCESS op=7 flag=1 remark=... ext={...} body=123 '...'
"""
import argparse
import asyncio
import json
import struct
import sys
import time

# From crates/rmq-protocol/src/codes.rs (Java's RequestCode / ResponseCode).
REQUEST_CODES = {
    10: "SEND_MESSAGE", 11: "PULL_MESSAGE", 12: "QUERY_MESSAGE", 13: "QUERY_BROKER_OFFSET",
    14: "QUERY_CONSUMER_OFFSET", 15: "UPDATE_CONSUMER_OFFSET", 17: "UPDATE_AND_CREATE_TOPIC",
    21: "GET_ALL_TOPIC_CONFIG", 22: "GET_TOPIC_CONFIG_LIST", 23: "GET_TOPIC_NAME_LIST",
    25: "UPDATE_BROKER_CONFIG", 26: "GET_BROKER_CONFIG", 27: "TRIGGER_DELETE_FILES",
    28: "GET_BROKER_RUNTIME_INFO", 29: "SEARCH_OFFSET_BY_TIMESTAMP", 30: "GET_MAX_OFFSET",
    31: "GET_MIN_OFFSET", 32: "GET_EARLIEST_MSG_STORETIME", 33: "VIEW_MESSAGE_BY_ID",
    34: "HEART_BEAT", 35: "UNREGISTER_CLIENT", 36: "CONSUMER_SEND_MSG_BACK", 37: "END_TRANSACTION",
    38: "GET_CONSUMER_LIST_BY_GROUP", 39: "CHECK_TRANSACTION_STATE",
    40: "NOTIFY_CONSUMER_IDS_CHANGED", 41: "LOCK_BATCH_MQ", 42: "UNLOCK_BATCH_MQ",
    43: "GET_ALL_CONSUMER_OFFSET", 45: "GET_ALL_DELAY_OFFSET", 46: "CHECK_CLIENT_CONFIG",
    50: "UPDATE_AND_CREATE_ACL_CONFIG", 51: "DELETE_ACL_CONFIG", 52: "GET_BROKER_CLUSTER_ACL_INFO",
    53: "UPDATE_GLOBAL_WHITE_ADDRS_CONFIG", 100: "PUT_KV_CONFIG", 101: "GET_KV_CONFIG",
    102: "DELETE_KV_CONFIG", 103: "REGISTER_BROKER", 104: "UNREGISTER_BROKER",
    105: "GET_ROUTEINFO_BY_TOPIC", 106: "GET_BROKER_CLUSTER_INFO",
    200: "UPDATE_AND_CREATE_SUBSCRIPTIONGROUP", 201: "GET_ALL_SUBSCRIPTIONGROUP_CONFIG",
    202: "GET_TOPIC_STATS_INFO", 203: "GET_CONSUMER_CONNECTION_LIST",
    204: "GET_PRODUCER_CONNECTION_LIST", 205: "WIPE_WRITE_PERM_OF_BROKER",
    206: "GET_ALL_TOPIC_LIST_FROM_NAMESERVER", 207: "DELETE_SUBSCRIPTIONGROUP",
    208: "GET_CONSUME_STATS", 209: "SUSPEND_CONSUMER", 210: "RESUME_CONSUMER",
    211: "RESET_CONSUMER_OFFSET_IN_CONSUMER", 212: "RESET_CONSUMER_OFFSET_IN_BROKER",
    213: "ADJUST_CONSUMER_THREAD_POOL", 214: "WHO_CONSUME_THE_MESSAGE",
    215: "DELETE_TOPIC_IN_BROKER", 216: "DELETE_TOPIC_IN_NAMESRV", 219: "GET_KVLIST_BY_NAMESPACE",
    220: "RESET_CONSUMER_CLIENT_OFFSET", 221: "GET_CONSUMER_STATUS_FROM_CLIENT",
    222: "INVOKE_BROKER_TO_RESET_OFFSET", 223: "INVOKE_BROKER_TO_GET_CONSUMER_STATUS",
    224: "GET_TOPICS_BY_CLUSTER", 300: "QUERY_TOPIC_CONSUME_BY_WHO", 301: "REGISTER_FILTER_SERVER",
    302: "REGISTER_MESSAGE_FILTER_CLASS", 303: "QUERY_CONSUME_TIME_SPAN",
    304: "GET_SYSTEM_TOPIC_LIST_FROM_NS", 305: "GET_SYSTEM_TOPIC_LIST_FROM_BROKER",
    306: "CLEAN_EXPIRED_CONSUMEQUEUE", 307: "GET_CONSUMER_RUNNING_INFO",
    308: "QUERY_CORRECTION_OFFSET", 309: "CONSUME_MESSAGE_DIRECTLY", 310: "SEND_MESSAGE_V2",
    311: "GET_UNIT_TOPIC_LIST", 312: "GET_HAS_UNIT_SUB_TOPIC_LIST",
    313: "GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST", 314: "CLONE_GROUP_OFFSET",
    315: "VIEW_BROKER_STATS_DATA", 316: "CLEAN_UNUSED_TOPIC", 317: "GET_BROKER_CONSUME_STATS",
    318: "UPDATE_NAMESRV_CONFIG", 319: "GET_NAMESRV_CONFIG", 320: "SEND_BATCH_MESSAGE",
    321: "QUERY_CONSUME_QUEUE", 322: "QUERY_DATA_VERSION", 323: "RESUME_CHECK_HALF_MESSAGE",
    324: "SEND_REPLY_MESSAGE", 325: "SEND_REPLY_MESSAGE_V2", 326: "PUSH_REPLY_MESSAGE_TO_CLIENT",
    327: "ADD_WRITE_PERM_OF_BROKER", 328: "GET_ALL_PRODUCER_INFO", 329: "DELETE_EXPIRED_COMMITLOG",
}
RESPONSE_CODES = {
    0: "SUCCESS", 1: "SYSTEM_ERROR", 2: "SYSTEM_BUSY", 3: "REQUEST_CODE_NOT_SUPPORTED",
    4: "TRANSACTION_FAILED", 10: "FLUSH_DISK_TIMEOUT", 11: "SLAVE_NOT_AVAILABLE",
    12: "FLUSH_SLAVE_TIMEOUT", 13: "MESSAGE_ILLEGAL", 14: "SERVICE_NOT_AVAILABLE",
    15: "VERSION_NOT_SUPPORTED", 16: "NO_PERMISSION", 17: "TOPIC_NOT_EXIST",
    18: "TOPIC_EXIST_ALREADY", 19: "PULL_NOT_FOUND", 20: "PULL_RETRY_IMMEDIATELY",
    21: "PULL_OFFSET_MOVED", 22: "QUERY_NOT_FOUND", 23: "SUBSCRIPTION_PARSE_FAILED",
    24: "SUBSCRIPTION_NOT_EXIST", 25: "SUBSCRIPTION_NOT_LATEST",
    26: "SUBSCRIPTION_GROUP_NOT_EXIST", 27: "FILTER_DATA_NOT_EXIST", 28: "FILTER_DATA_NOT_LATEST",
    200: "TRANSACTION_SHOULD_COMMIT", 201: "TRANSACTION_SHOULD_ROLLBACK",
    202: "TRANSACTION_STATE_UNKNOW", 203: "TRANSACTION_STATE_GROUP_WRONG", 204: "NO_BUYER_ID",
    205: "NOT_IN_CURRENT_UNIT", 206: "CONSUMER_NOT_ONLINE", 207: "CONSUME_MSG_TIMEOUT",
    208: "NO_MESSAGE", 209: "UPDATE_AND_CREATE_ACL_CONFIG_FAILED", 210: "DELETE_ACL_CONFIG_FAILED",
    211: "UPDATE_GLOBAL_WHITE_ADDRS_CONFIG_FAILED", 215: "FLOW_CONTROL",
}
LANGS = ["JAVA", "CPP", "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY", "OTHER", "HTTP", "GO",
         "PHP", "OMS", "RUST"]

T0 = time.time()
OUT = sys.stdout
BODY_CHARS = 2000


def log(line):
    OUT.write("%8.3f %s\n" % (time.time() - T0, line))
    OUT.flush()


def decode_header(ser, hdr):
    """Returns a dict with code, language, version, opaque, flag, remark, extFields."""
    if ser == 0:
        try:
            return json.loads(hdr.decode("utf-8", "replace"))
        except ValueError as e:
            return {"code": -1, "remark": "bad JSON header: %s %r" % (e, hdr[:80])}
    if ser == 1:
        code, lang, ver, opaque, flag, rlen = struct.unpack(">hbhiii", hdr[:17])
        pos = 17
        remark = hdr[pos:pos + rlen].decode("utf-8", "replace") if rlen > 0 else None
        pos += max(rlen, 0)
        (elen,) = struct.unpack(">i", hdr[pos:pos + 4])
        pos += 4
        ext = {}
        end = pos + elen
        while pos < end:
            (kl,) = struct.unpack(">h", hdr[pos:pos + 2]); pos += 2
            k = hdr[pos:pos + kl].decode("utf-8", "replace"); pos += kl
            (vl,) = struct.unpack(">i", hdr[pos:pos + 4]); pos += 4
            v = hdr[pos:pos + vl].decode("utf-8", "replace"); pos += vl
            ext[k] = v
        return {"code": code, "language": LANGS[lang] if 0 <= lang < len(LANGS) else lang,
                "version": ver, "opaque": opaque, "flag": flag, "remark": remark,
                "extFields": ext, "serializeTypeCurrentRPC": "ROCKETMQ"}
    return {"code": -1, "remark": "unknown serialize type %d" % ser}


def show_body(body):
    if not body:
        return "0"
    if BODY_CHARS <= 0:
        return str(len(body))
    text = body[:BODY_CHARS]
    printable = sum(1 for b in text if 32 <= b < 127 or b in (9, 10, 13))
    if printable >= len(text) * 0.9:
        s = text.decode("utf-8", "replace").replace("\n", "\\n")
        return "%d %r%s" % (len(body), s, "..." if len(body) > BODY_CHARS else "")
    return "%d 0x%s%s" % (len(body), text[:48].hex(), "..." if len(body) > 48 else "")


class Proxy:
    def __init__(self, name, up_host, up_port, listen_port):
        self.name, self.up_host, self.up_port, self.listen_port = name, up_host, up_port, listen_port
        self.addr = None  # our own address, once listening
        self.conns = 0


PROXIES = []


PATCH_ROUTE5 = False


def patch_route5(body):
    """--patch-route5: adds RocketMQ 5.x's `enableActingMaster` to each broker data entry of a
    route body that lacks it (for 5.x clients against a 4.x-shaped route)."""
    if b'"brokerAddrs"' in body and b'"enableActingMaster"' not in body:
        body = body.replace(b'{"brokerAddrs":', b'{"enableActingMaster":false,"brokerAddrs":')
    return body


def rewrite(body):
    for p in PROXIES:
        up = ("%s:%d" % (p.up_host, p.up_port)).encode()
        if up in body:
            body = body.replace(up, p.addr.encode())
    return body


async def pump(reader, writer, proxy, cid, direction, pending):
    """Reads frames from reader, logs them, writes them (rewritten if S>C) to writer."""
    try:
        while True:
            head = await reader.readexactly(4)
            (total,) = struct.unpack(">i", head)
            rest = await reader.readexactly(total)
            (hl_raw,) = struct.unpack(">I", rest[:4])
            ser, hlen = hl_raw >> 24, hl_raw & 0xFFFFFF
            hdr = rest[4:4 + hlen]
            body = rest[4 + hlen:]
            h = decode_header(ser, hdr)
            flag = h.get("flag", 0) or 0
            is_resp = flag & 1
            code = h.get("code")
            if is_resp:
                req_code = pending.pop((direction, h.get("opaque")), None)
                kind = "RESP"
                cname = RESPONSE_CODES.get(code, "?")
                extra = " to=%s" % REQUEST_CODES.get(req_code, req_code) if req_code is not None else ""
            else:
                kind = "ONEWAY" if flag & 2 else "REQ "
                cname = REQUEST_CODES.get(code, "?")
                back = "S>C" if direction == "C>S" else "C>S"
                pending[(back, h.get("opaque"))] = code
                extra = ""
            if direction == "S>C":
                nb = rewrite(body)
                if PATCH_ROUTE5 and is_resp and req_code == 105:
                    nb = patch_route5(nb)
                if nb != body:
                    body = nb
                    rest = rest[:4 + hlen] + body
                    head = struct.pack(">i", len(rest))
            ext = h.get("extFields") or {}
            log("c%d %s %s %s code=%s %s op=%s%s lang=%s v=%s flag=%s ser=%s%s ext=%s body=%s" % (
                cid, proxy.name, direction, kind, code, cname, h.get("opaque"), extra,
                h.get("language"), h.get("version"), flag, ser,
                (" remark=%r" % h["remark"]) if h.get("remark") else "",
                json.dumps(ext, sort_keys=True), show_body(body)))
            writer.write(head + rest)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        log("c%d %s %s closed" % (cid, proxy.name, direction))
        try:
            writer.close()
        except Exception:
            pass


def handler(proxy):
    async def handle(creader, cwriter):
        proxy.conns += 1
        cid = handle.counter[0] = handle.counter[0] + 1
        peer = cwriter.get_extra_info("peername")
        try:
            ureader, uwriter = await asyncio.open_connection(proxy.up_host, proxy.up_port)
        except OSError as e:
            log("c%d %s connect to upstream failed: %s" % (cid, proxy.name, e))
            cwriter.close()
            return
        log("c%d %s open from %s:%d" % (cid, proxy.name, peer[0], peer[1]))
        pending = {}
        await asyncio.gather(pump(creader, uwriter, proxy, cid, "C>S", pending),
                             pump(ureader, cwriter, proxy, cid, "S>C", pending))
    return handle


async def main():
    global OUT, BODY_CHARS, PATCH_ROUTE5
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--up", action="append", required=True, help="NAME=HOST:PORT[@LISTENPORT]")
    ap.add_argument("--log", help="frame log file (default stdout)")
    ap.add_argument("--body", type=int, default=2000, help="body characters to print (0: length only)")
    ap.add_argument("--patch-route5", action="store_true",
                    help="add enableActingMaster to route bodies that lack it (RocketMQ 5.x clients)")
    a = ap.parse_args()
    BODY_CHARS = a.body
    PATCH_ROUTE5 = a.patch_route5
    if a.log:
        OUT = open(a.log, "a", buffering=1)
    counter = [0]
    for spec in a.up:
        name, target = spec.split("=", 1)
        listen = 0
        if "@" in target:
            target, lp = target.split("@", 1)
            listen = int(lp)
        host, port = target.rsplit(":", 1)
        PROXIES.append(Proxy(name, host, int(port), listen))
    servers = []
    for p in PROXIES:
        h = handler(p)
        h.counter = counter
        srv = await asyncio.start_server(h, "127.0.0.1", p.listen_port)
        p.addr = "127.0.0.1:%d" % srv.sockets[0].getsockname()[1]
        servers.append(srv)
        print("frame-proxy %s %s -> %s:%d" % (p.name, p.addr, p.up_host, p.up_port), flush=True)
    print("frame-proxy ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
