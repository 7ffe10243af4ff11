#!/usr/bin/env python3
"""Captures the ACL 1.0 authorization matrix from a Java broker (the oracle).

For every request code rmq's broker serves (plus the ACL management codes 50..54, the other codes of
Java's Permission.ADMIN_CODE and one unknown code), it builds one plausible request (or a few, for the
retry-topic and unique-key variants), signs it for each account of conformance/golden/acl/plain_acl.yml
as the official AclClientRPCHook does, adds the bad-credential variants, sends every frame to a broker
running with aclEnable=true and that file, and writes one JSON line per case:

    {"case", "code", "account", "variant", "frame_hex", "java_code", "java_remark", "decision"}

decision is "deny" when the broker refused the request for an ACL reason (Java answers SYSTEM_ERROR or
NO_PERMISSION with an AclException in the remark), else "allow" (an allowed request may still fail for
other reasons). The frames are deterministic (fixed opaques, timestamps and ids), so the same run against
another broker sends the same bytes; crates/rmq-broker/tests/acl_matrix.rs replays them against rmq.

    # start the 4.9.7 oracle (namesrv + broker) itself and capture:
    acl-matrix.py --oracle 4 --out conformance/golden/acl/matrix-4.9.7.jsonl
    # 5.x oracle (namesrv 5.1.4 + broker 5.3.1):
    acl-matrix.py --oracle 5 --out conformance/golden/acl/matrix-5.3.1.jsonl
    # or a broker that is already running with the fixture (topics aclTopic / aclGroup are created):
    acl-matrix.py --broker 127.0.0.1:10911 --out /tmp/m.jsonl
    # only write the frames (no broker): the setup frames and the case frames
    acl-matrix.py --frames-only --out /tmp/frames.jsonl

The oracle needs the classpath files conformance/java/target/oracle.classpath (4.9.7) or
oracle5-{namesrv,broker}.classpath (5.x): scripts/acl-matrix writes them with Maven.
Standard-library Python only; the frame codec is the one of tools/frame-proxy.py (JSON headers).
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURE = os.path.join(ROOT, "conformance", "golden", "acl", "plain_acl.yml")

# MQVersion ordinals: the frames claim a 4.9.8 client (409, rmq_protocol::VERSION); the old-client
# unique-key case claims 4.9.3 (399), the last version whose _UNIQUE_KEY_QUERY 5.x leaves unsigned.
VERSION = 409
VERSION_4_9_3 = 399

TOPIC = "aclTopic"
GROUP = "aclGroup"
RETRY = "%RETRY%" + GROUP
BROKER_NAME = "broker-a"
CLIENT_ID = "127.0.0.1@matrix"
BORN_MS = "1700000000000"

# (account, accessKey, secretKey): the accounts of plain_acl.yml.
ACCOUNTS = [
    ("none", "matrixNone", "matrixNoneSecret"),
    ("pub", "matrixPub", "matrixPubSecret"),
    ("sub", "matrixSub", "matrixSubSecret"),
    ("pubsub", "matrixPubSub", "matrixPubSubSecret"),
    ("admin", "matrixAdmin", "matrixAdminSecret"),
    ("adminperm", "matrixAdminPerm", "matrixAdminPermSecret"),
    ("deny", "matrixDeny", "matrixDenySecret"),
    ("white", "matrixWhite", "matrixWhiteSecret"),
]
ADMIN = ("admin", "matrixAdmin", "matrixAdminSecret")
TOKEN = "matrixSecurityToken"

# The texts of Java's AclException for ACL 1.0 refusals (PlainPermissionManager / PlainPermissionChecker).
ACL_REMARKS = re.compile(
    r"AclException|No accessKey is configured|No acl config for |Check signature failed for accessKey="
    r"|Need admin permission for request code=|No default permission for |No permission for "
    r"|No PlainAccessResource for accessKey=")


# ------------------------------------------------------------------ frames

def frame(code, ext, body=b"", opaque=0, version=VERSION):
    """A request frame with a JSON header, keys sorted (deterministic bytes)."""
    header = {"code": code, "flag": 0, "language": "JAVA", "opaque": opaque,
              "serializeTypeCurrentRPC": "JSON", "version": version}
    if ext:
        header["extFields"] = dict(sorted(ext.items()))
    h = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    body = body or b""
    return struct.pack(">ii", 4 + len(h) + len(body), len(h)) + h + body


def read_frame(sock):
    def exact(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed by the broker")
            buf += chunk
        return buf
    (length,) = struct.unpack(">i", exact(4))
    rest = exact(length)
    (hl,) = struct.unpack(">i", rest[:4])
    stype, hl = hl >> 24, hl & 0xFFFFFF
    if stype != 0:
        raise ValueError("ROCKETMQ-serialized header; this tool only sends JSON and expects JSON back")
    return json.loads(rest[4:4 + hl]), rest[4 + hl:]


def call(sock, data, opaque, timeout_s):
    """Sends one frame, returns the response header (None on timeout); skips the broker's own requests
    (NOTIFY_CONSUMER_IDS_CHANGED, RESET_CONSUMER_CLIENT_OFFSET, ...) that a heartbeat can bring."""
    sock.sendall(data)
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            header, _ = read_frame(sock)
        except socket.timeout:
            return None
        if header.get("flag", 0) & 1 and header.get("opaque") == opaque:
            return header


# ------------------------------------------------------------------ signing (AclClientRPCHook)

def signature(secret, ext, body):
    """HmacSHA1(secret, concat(values of ext sorted by key, except Signature) + body), Base64."""
    content = "".join(v for k, v in sorted(ext.items()) if k != "Signature").encode() + (body or b"")
    return base64.b64encode(hmac.new(secret.encode(), content, hashlib.sha1).digest()).decode()


def signed(fields, body, ak, sk, token=None, sign_fields=None):
    ext = dict(fields)
    ext["AccessKey"] = ak
    if token is not None:
        ext["SecurityToken"] = token
    to_sign = dict(ext) if sign_fields is None else sign_fields(ext)
    ext["Signature"] = signature(sk, to_sign, body)
    return ext


# ------------------------------------------------------------------ requests

def props(*pairs):
    return "".join(f"{k}\x01{v}\x02" for k, v in pairs)


MSG_PROPS = props(("WAIT", "true"), ("UNIQ_KEY", "7F0000010001000000000000000000AA"), ("TAGS", "TagA"))


def send_v1(topic, group):
    return {"producerGroup": group, "topic": topic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
            "queueId": "0", "sysFlag": "0", "bornTimestamp": BORN_MS, "flag": "0", "properties": MSG_PROPS,
            "reconsumeTimes": "0", "unitMode": "false", "batch": "false"}


def send_v2(topic, group, batch=False):
    return {"a": group, "b": topic, "c": "TBW102", "d": "4", "e": "0", "f": "0", "g": BORN_MS, "h": "0",
            "i": MSG_PROPS if not batch else "", "j": "0", "k": "false", "m": "true" if batch else "false"}


def batch_body():
    """MessageDecoder.encodeMessages of two messages."""
    out = b""
    for i in range(2):
        body = f"batch-{i}".encode()
        p = props(("WAIT", "true"), ("UNIQ_KEY", f"7F00000100010000000000000000BB0{i}")).encode()
        size = 4 + 4 + 4 + 4 + 4 + len(body) + 2 + len(p)
        out += struct.pack(">iiiii", size, 0, 0, 0, len(body)) + body + struct.pack(">h", len(p)) + p
    return out


def js(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def subscription(topic):
    return {"classFilterMode": False, "topic": topic, "subString": "*", "tagsSet": [], "codeSet": [],
            "subVersion": 0, "expressionType": "TAG"}


def heartbeat_body(consumer):
    consumers = [{"groupName": GROUP, "consumeType": "CONSUME_PASSIVELY", "messageModel": "CLUSTERING",
                  "consumeFromWhere": "CONSUME_FROM_LAST_OFFSET", "subscriptionDataSet": [subscription(TOPIC)],
                  "unitMode": False}] if consumer else []
    return js({"clientID": CLIENT_ID, "consumerDataSet": consumers,
               "producerDataSet": [{"groupName": "aclProducer"}]})


def mq_set_body():
    return js({"consumerGroup": GROUP, "clientId": CLIENT_ID,
               "mqSet": [{"topic": TOPIC, "brokerName": BROKER_NAME, "queueId": 0}]})


def topic_create(topic):
    return {"topic": topic, "defaultTopic": "TBW102", "readQueueNums": "4", "writeQueueNums": "4",
            "perm": "6", "topicFilterType": "SINGLE_TAG", "topicSysFlag": "0", "order": "false"}


def group_create_body(group):
    return js({"groupName": group, "consumeEnable": True, "consumeFromMinEnable": True,
               "consumeBroadcastEnable": True, "retryQueueNums": 1, "retryMaxTimes": 16, "brokerId": 0,
               "whichBrokerWhenConsumeSlowly": 1, "notifyConsumerIdsChangedEnable": True})


def pull(topic, group):
    # sysFlag 0: no suspend (an empty queue answers PULL_NOT_FOUND at once), no commit, no subscription
    return {"consumerGroup": group, "topic": topic, "queueId": "0", "queueOffset": "0", "maxMsgNums": "1",
            "sysFlag": "0", "commitOffset": "0", "suspendTimeoutMillis": "0", "subVersion": "0",
            "expressionType": "TAG"}


class Req:
    """One request of the matrix. tamper(ext, body) -> (ext, body) changes one thing after signing;
    by default the first signed field (in key order) gets an "X" appended, or the body a space."""

    def __init__(self, name, code, fields=None, body=b"", tamper=None, version=VERSION, sign_fields=None):
        self.name, self.code, self.fields, self.body = name, code, fields or {}, body
        self.tamper, self.version, self.sign_fields = tamper, version, sign_fields

    def tampered(self, ext, body):
        if self.tamper:
            return self.tamper(dict(ext), body)
        keys = sorted(k for k in self.fields)
        if keys:
            ext = dict(ext)
            ext[keys[0]] = ext[keys[0]] + "X"
            return ext, body
        if body:
            return ext, body + b" "
        ext = dict(ext)
        ext["tampered"] = "true"
        return ext, body


def set_field(key, value):
    return lambda ext, body: ({**ext, key: value}, body)


def requests():
    unique = {"topic": TOPIC, "key": "7F0000010001000000000000000000AA", "maxNum": "32",
              "beginTimestamp": "0", "endTimestamp": "9223372036854775807", "_UNIQUE_KEY_QUERY": "true"}
    no_uniq = lambda ext: {k: v for k, v in ext.items() if k != "_UNIQUE_KEY_QUERY"}  # noqa: E731
    return [
        # --- send (PUB on the topic; a retry topic needs SUB)
        Req("send_message", 10, send_v1(TOPIC, "aclProducer"), b"hello",
            tamper=set_field("topic", "aclTopicX")),
        Req("send_message_retry_topic", 10, send_v1(RETRY, GROUP), b"hello"),
        Req("send_message_v2", 310, send_v2(TOPIC, "aclProducer"), b"hello", tamper=set_field("b", "aclTopicX")),
        Req("send_message_v2_retry_topic", 310, send_v2(RETRY, GROUP), b"hello"),
        Req("send_message_v2_retry_topic_other_group", 310, send_v2(RETRY, "aclProducer"), b"hello"),
        Req("send_message_v2_trace_topic", 310, send_v2("RMQ_SYS_TRACE_TOPIC", "aclProducer"), b"trace"),
        Req("send_batch_message", 320, send_v2(TOPIC, "aclProducer", batch=True), batch_body(),
            tamper=set_field("b", "aclTopicX")),
        Req("send_batch_message_retry_topic", 320, send_v2(RETRY, GROUP, batch=True), batch_body()),
        Req("consumer_send_msg_back", 36,
            {"offset": "0", "group": GROUP, "delayLevel": "0", "originMsgId": "7F00000100002A9F0000000000000000",
             "originTopic": TOPIC, "unitMode": "false", "maxReconsumeTimes": "16"},
            tamper=set_field("group", "aclGroupX")),
        Req("end_transaction", 37,
            {"producerGroup": "aclProducer", "tranStateTableOffset": "0", "commitLogOffset": "999999999",
             "commitOrRollback": "8", "fromTransactionCheck": "false", "msgId": "7F0000010001000000000000000000AA",
             "transactionId": "7F0000010001000000000000000000AA"}),
        # --- consume (SUB on the topic and on the group's retry topic)
        Req("pull_message", 11, pull(TOPIC, GROUP), tamper=set_field("topic", "aclTopicX")),
        Req("lite_pull_message", 361, pull(TOPIC, GROUP)),
        Req("query_message", 12, {"topic": TOPIC, "key": "k", "maxNum": "32", "beginTimestamp": "0",
                                  "endTimestamp": "9223372036854775807"}),
        # _UNIQUE_KEY_QUERY: 4.9 never signs it; 5.x signs it unless the client is <= 4.9.3
        Req("query_message_unique_key_signed", 12, unique, tamper=set_field("topic", "aclTopicX")),
        Req("query_message_unique_key_unsigned", 12, unique, sign_fields=no_uniq,
            tamper=set_field("topic", "aclTopicX")),
        Req("query_message_unique_key_unsigned_old_client", 12, unique, sign_fields=no_uniq,
            tamper=set_field("topic", "aclTopicX"), version=VERSION_4_9_3),
        Req("heart_beat_consumer", 34, body=heartbeat_body(True)),
        Req("heart_beat_producer", 34, body=heartbeat_body(False)),
        Req("unregister_client", 35, {"clientID": "127.0.0.1@matrixGone", "consumerGroup": GROUP},
            tamper=set_field("consumerGroup", "aclGroupX")),
        Req("get_consumer_list_by_group", 38, {"consumerGroup": GROUP}),
        Req("update_consumer_offset", 15, {"consumerGroup": GROUP, "topic": TOPIC, "queueId": "0",
                                           "commitOffset": "0"}),
        Req("query_consumer_offset", 14, {"consumerGroup": GROUP, "topic": TOPIC, "queueId": "0"}),
        Req("get_consumer_connection_list", 203, {"consumerGroup": GROUP}),
        Req("get_producer_connection_list", 204, {"producerGroup": "aclProducer"}),
        Req("query_topic_consume_by_who", 300, {"topic": TOPIC}),
        Req("lock_batch_mq", 41, body=mq_set_body()),
        Req("unlock_batch_mq", 42, body=mq_set_body()),
        Req("get_consumer_running_info", 307, {"consumerGroup": GROUP, "clientId": "127.0.0.1@matrixGone",
                                               "jstackEnable": "false"}),
        Req("consume_message_directly", 309, {"consumerGroup": GROUP, "clientId": "127.0.0.1@matrixGone",
                                              "msgId": "7F00000100002A9F0000000000000000",
                                              "brokerName": BROKER_NAME}),
        Req("query_topics_by_consumer", 343, {"group": GROUP}),
        Req("query_subscription_by_consumer", 345, {"group": GROUP, "topic": TOPIC}),
        Req("get_all_consumer_offset", 43),
        Req("get_consume_stats", 208, {"consumerGroup": GROUP, "topic": TOPIC}),
        Req("invoke_broker_to_reset_offset", 222, {"topic": TOPIC, "group": GROUP, "timestamp": BORN_MS,
                                                   "isForce": "false"}),
        Req("check_client_config", 46, body=js({"clientId": CLIENT_ID, "group": GROUP,
                                                "subscriptionData": subscription(TOPIC)})),
        Req("get_all_delay_offset", 45),
        # --- groups
        Req("update_and_create_subscriptiongroup", 200, body=group_create_body("aclGroupNew")),
        Req("update_and_create_subscriptiongroup_list", 225,
            body=js({"groupConfigList": [json.loads(group_create_body("aclGroupList"))]})),
        Req("delete_subscriptiongroup", 207, {"groupName": "aclGroupDel", "cleanOffset": "false"}),
        Req("get_all_subscriptiongroup_config", 201),
        Req("get_subscriptiongroup_config", 352, {"group": GROUP}),
        # --- topics and admin
        Req("update_and_create_topic", 17, topic_create("aclTopicNew")),
        Req("update_and_create_topic_list", 18,
            body=js({"topicConfigList": [{"topicName": "aclTopicList", "readQueueNums": 1, "writeQueueNums": 1,
                                          "perm": 6, "topicFilterType": "SINGLE_TAG", "topicSysFlag": 0,
                                          "order": False, "attributes": {}}]})),
        Req("update_and_create_static_topic", 513, {"topic": "aclTopicStatic"}),
        Req("delete_topic_in_broker", 215, {"topic": "aclTopicDel"}),
        Req("update_broker_config", 25, body=b"flushIntervalCommitLog=500\n"),
        Req("get_topic_config", 351, {"topic": TOPIC}),
        Req("get_all_topic_config", 21),
        Req("get_max_offset", 30, {"topic": TOPIC, "queueId": "0"}),
        Req("get_min_offset", 31, {"topic": TOPIC, "queueId": "0"}),
        Req("search_offset_by_timestamp", 29, {"topic": TOPIC, "queueId": "0", "timestamp": BORN_MS}),
        Req("get_earliest_msg_storetime", 32, {"topic": TOPIC, "queueId": "0"}),
        Req("view_message_by_id", 33, {"offset": "0"}),
        Req("get_topic_stats_info", 202, {"topic": TOPIC}),
        Req("get_broker_runtime_info", 28),
        Req("delete_expired_commitlog", 329),
        # --- ACL management (harmless arguments: a new key, a key that does not exist, the same white list)
        Req("update_and_create_acl_config", 50,
            {"accessKey": "matrixExtra", "secretKey": "matrixExtraSecret", "whiteRemoteAddress": "10.255.255.9",
             "admin": "false", "defaultTopicPerm": "DENY", "defaultGroupPerm": "DENY",
             "topicPerms": "aclTopic=SUB", "groupPerms": "aclGroup=SUB"},
            tamper=set_field("accessKey", "matrixExtra2")),
        Req("delete_acl_config", 51, {"accessKey": "matrixNobody"}),
        Req("get_broker_cluster_acl_info", 52),
        Req("update_global_white_addrs_config", 53, {"globalWhiteAddrs": "10.255.255.*"},
            tamper=set_field("globalWhiteAddrs", "10.255.254.*")),
        Req("get_broker_cluster_acl_config", 54),
        # --- a code no broker serves: still authenticated first
        Req("unknown_code", 9999),
    ]


def cases():
    """(case, code, account, variant, frame bytes, opaque) in capture order."""
    out = []
    opaque = 1000
    for r in requests():
        variants = []
        for account, ak, sk in ACCOUNTS:
            ext = signed(r.fields, r.body, ak, sk, sign_fields=r.sign_fields)
            variants.append((account, "signed", ext, r.body))
            if account in ("pubsub", "none"):
                variants.append((account, "token",
                                 signed(r.fields, r.body, ak, sk, token=TOKEN, sign_fields=r.sign_fields), r.body))
            variants.append((account, "wrong_secret",
                             signed(r.fields, r.body, ak, sk + "Wrong", sign_fields=r.sign_fields), r.body))
            variants.append((account, "unsigned", {**r.fields, "AccessKey": ak}, r.body))
            t_ext, t_body = r.tampered(ext, r.body)
            variants.append((account, "tampered", t_ext, t_body))
        variants.append(("-", "unknown_access_key",
                         signed(r.fields, r.body, "matrixUnknown", "matrixUnknownSecret", sign_fields=r.sign_fields),
                         r.body))
        variants.append(("-", "no_access_key", dict(r.fields), r.body))
        for account, variant, ext, body in variants:
            opaque += 1
            out.append((f"{r.name}/{account}/{variant}", r.code, account, variant,
                        frame(r.code, ext, body, opaque, r.version), opaque))
    return out


def setup_frames():
    """aclTopic and aclGroup, created by the admin account (signed)."""
    _, ak, sk = ADMIN
    body = group_create_body(GROUP)
    return [
        ("create_topic", frame(17, signed(topic_create(TOPIC), b"", ak, sk), b"", 1), 1),
        ("create_group", frame(200, signed({}, body, ak, sk), body, 2), 2),
    ]


def decide(code, remark):
    if code in (1, 16) and remark and ACL_REMARKS.search(remark):
        return "deny"
    return "allow"


# ------------------------------------------------------------------ the Java oracle

def free_port(triple):
    """A port p with p-2, p, p+1 free when triple (the Java broker binds its fast and HA ports there)."""
    def free(p):
        if p < 1024 or p > 65535:
            return False
        s = socket.socket()
        try:
            s.bind(("0.0.0.0", p))
            return True
        except OSError:
            return False
        finally:
            s.close()
    for _ in range(200):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        if not triple or (free(p - 2) and free(p) and free(p + 1)):
            return p
    raise RuntimeError("no free port")


class Oracle:
    """namesrv + broker of one Java line, in a temp dir, with aclEnable=true and the fixture (or, for
    tools/acl-matrix-v2.py, other access-control keys in broker.conf and no plain_acl.yml)."""

    def __init__(self, line, keep, auth_conf="aclEnable=true\n", fixture=FIXTURE):
        self.line, self.keep, self.procs = line, keep, []
        self.auth_conf, self.fixture = auth_conf, fixture
        self.tmp = tempfile.mkdtemp(prefix=f"acl-matrix-{line}-")
        target = os.path.join(ROOT, "conformance", "java", "target")
        if line == "4":
            ns_cp = br_cp = os.path.join(target, "oracle.classpath")
        else:
            ns_cp = os.path.join(target, "oracle5-namesrv.classpath")
            br_cp = os.path.join(target, "oracle5-broker.classpath")
        for f in (ns_cp, br_cp):
            if not os.path.isfile(f):
                sys.exit(f"acl-matrix: no {f}; run scripts/acl-matrix (it writes the classpath files)")
        self.ns_cp, self.br_cp = open(ns_cp).read().strip(), open(br_cp).read().strip()

    def java(self, cp, workdir, main, *args):
        return ["java", "-Xms256m", "-Xmx256m", "-Xmn128m", "-XX:+UseSerialGC",
                "--add-opens", "java.base/java.lang=ALL-UNNAMED", "--add-opens", "java.base/java.nio=ALL-UNNAMED",
                "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED", "--add-exports", "java.base/sun.nio.ch=ALL-UNNAMED",
                "--add-opens", "java.base/jdk.internal.ref=ALL-UNNAMED",
                f"-Duser.home={workdir}", f"-Drocketmq.home.dir={self.home}", "-Djava.net.preferIPv4Stack=true",
                "-cp", cp, main, *args]

    def launch(self, name, cmd, workdir, ready):
        log = open(os.path.join(self.tmp, f"{name}.out"), "w")
        p = subprocess.Popen(cmd, cwd=workdir, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, start_new_session=True)
        self.procs.append(p)
        found = threading.Event()

        def pump():
            for line in p.stdout:
                log.write(line)
                log.flush()
                if ready.search(line):
                    found.set()
        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + 120
        while not found.wait(0.2):
            if p.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not boot; see {log.name}")

    def start(self):
        self.home = os.path.join(self.tmp, "home")
        conf = os.path.join(self.home, "conf")
        os.makedirs(conf)
        if self.fixture:
            shutil.copy(self.fixture, os.path.join(conf, "plain_acl.yml"))
        logs = os.path.join(self.tmp, "logs")
        os.makedirs(logs)
        for n in ("namesrv", "broker"):
            with open(os.path.join(conf, f"logback_{n}.xml"), "w") as f:
                f.write('<configuration><appender name="F" class="ch.qos.logback.core.FileAppender">'
                        f'<file>{logs}/{n}.log</file><encoder><pattern>%d %p [%t] %c{{0}} - %m%n</pattern>'
                        '</encoder></appender><root level="INFO"><appender-ref ref="F"/></root></configuration>\n')
        self.env = {**os.environ, "ROCKETMQ_HOME": self.home, "ROCKETMQ_LOG_DIR": logs}
        ns_dir, br_dir = os.path.join(self.tmp, "namesrv"), os.path.join(self.tmp, "broker")
        os.makedirs(ns_dir)
        os.makedirs(os.path.join(br_dir, "store"))
        ns_port = free_port(False)
        with open(os.path.join(ns_dir, "namesrv.properties"), "w") as f:
            f.write(f"listenPort={ns_port}\n")
        self.launch("namesrv", self.java(self.ns_cp, ns_dir, "org.apache.rocketmq.namesrv.NamesrvStartup",
                                         "-c", os.path.join(ns_dir, "namesrv.properties")),
                    ns_dir, re.compile(r"The Name Server boot success"))
        port = free_port(True)
        broker_conf = os.path.join(br_dir, "broker.conf")
        with open(broker_conf, "w") as f:
            f.write(f"brokerClusterName=DefaultCluster\nbrokerName={BROKER_NAME}\nbrokerId=0\n"
                    f"listenPort={port}\nbrokerIP1=127.0.0.1\nstorePathRootDir={br_dir}/store\n"
                    "flushDiskType=ASYNC_FLUSH\nautoCreateTopicEnable=false\n" + self.auth_conf)
        self.launch("broker", self.java(self.br_cp, br_dir, "org.apache.rocketmq.broker.BrokerStartup",
                                        "-c", broker_conf, "-n", f"127.0.0.1:{ns_port}"),
                    br_dir, re.compile(r"The broker\[[^\]]*\] boot success"))
        return f"127.0.0.1:{port}"

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
        if self.keep:
            print(f"acl-matrix: oracle files kept in {self.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ------------------------------------------------------------------ capture

def connect(addr):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def capture(addr, out, timeout_s):
    with connect(addr) as s:
        for name, data, opaque in setup_frames():
            resp = call(s, data, opaque, timeout_s)
            if resp is None or resp.get("code") != 0:
                sys.exit(f"acl-matrix: setup {name} failed: {resp}")
        # the ACL must be on: an unsigned request is refused
        resp = call(s, frame(21, {}, b"", 3), 3, timeout_s)
        if resp is None or decide(resp.get("code"), resp.get("remark")) != "deny":
            sys.exit(f"acl-matrix: the broker does not refuse an unsigned request (aclEnable?): {resp}")
    rows = []
    current, sock = None, None
    for case, code, account, variant, data, opaque in cases():
        req = case.split("/")[0]
        if req != current:  # one connection per request: what a heartbeat registers goes with it
            if sock:
                sock.close()
            sock, current = connect(addr), req
        resp = call(sock, data, opaque, timeout_s)
        jcode = resp.get("code") if resp else None
        remark = resp.get("remark") if resp else None
        rows.append({"case": case, "code": code, "account": account, "variant": variant, "frame_hex": data.hex(),
                     "java_code": jcode, "java_remark": remark, "decision": decide(jcode, remark)})
    if sock:
        sock.close()
    write(out, rows)
    return rows


def write(out, rows):
    with open(out, "w") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, separators=(", ", ": ")) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--oracle", choices=["4", "5"], help="start the 4.9.7 or the 5.x Java oracle")
    g.add_argument("--broker", help="HOST:PORT of a broker already running with the fixture")
    g.add_argument("--frames-only", action="store_true", help="write the setup and case frames, send nothing")
    ap.add_argument("--out", required=True)
    ap.add_argument("--setup-out", help="also write the setup frames (create aclTopic / aclGroup) here")
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for one response")
    ap.add_argument("--keep", action="store_true", help="keep the oracle's temp dir (logs)")
    a = ap.parse_args()
    if a.setup_out:
        write(a.setup_out, [{"name": n, "frame_hex": d.hex()} for n, d, _ in setup_frames()])
    if a.frames_only:
        write(a.out, [{"case": c, "code": code, "account": acc, "variant": v, "frame_hex": d.hex()}
                      for c, code, acc, v, d, _ in cases()])
        return
    oracle = None
    try:
        if a.oracle:
            oracle = Oracle(a.oracle, a.keep)
            addr = oracle.start()
        else:
            addr = a.broker
        rows = capture(addr, a.out, a.timeout)
    finally:
        if oracle:
            oracle.stop()
    deny = sum(r["decision"] == "deny" for r in rows)
    silent = sum(r["java_code"] is None for r in rows)
    print(f"acl-matrix: {len(rows)} cases, {deny} deny, {len(rows) - deny} allow, {silent} without response"
          f" -> {a.out}")


if __name__ == "__main__":
    main()
