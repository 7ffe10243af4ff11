#!/usr/bin/env python3
"""Captures the ACL 2.0 authorization matrix from a Java 5.x broker (the oracle).

The ACL 1.0 tool (acl-matrix.py, whose frames, requests and oracle launcher this one reuses) asks a
broker with aclEnable=true; this one asks a broker with authenticationEnabled=true and
authorizationEnabled=true. The users and ACLs of conformance/golden/acl/auth2.json are created first,
through the AUTH_* admin codes (3001 CREATE_USER, 3006 CREATE_ACL) signed by the init super user of
`initAuthenticationUser`; then every request of the 1.0 matrix plus the ten AUTH_* codes is sent for
each user, signed (AclClientRPCHook's signature, the password as secret), signed with a wrong
password and unsigned (AccessKey, no Signature), and once per request as an unknown user and with no
AccessKey. One JSON line per case:

    {"case", "code", "account", "variant", "frame_hex", "java_code", "java_remark", "decision"}

decision is "deny" when the auth pipeline refused the request (NO_PERMISSION with one of the texts of
Java's AuthenticationException / AuthorizationException thrown by the handlers, see PIPELINE_REMARKS),
else "allow" (NO_PERMISSION from an AUTH_* handler, e.g. "The user is existed", is an allow: the
request got past the pipeline). crates/rmq-broker/tests/acl_matrix.rs replays the frames against rmq.

    # start the 5.x oracle (namesrv 5.1.4 + broker 5.3.1) itself and capture:
    acl-matrix-v2.py --oracle --out conformance/golden/acl/matrix2-5.3.1.jsonl \\
        --setup-out conformance/golden/acl/setup2.jsonl
    # a broker already running with the keys of AUTH_CONF (and the same init user):
    acl-matrix-v2.py --broker 127.0.0.1:10911 --out /tmp/m2.jsonl
    # only write the frames
    acl-matrix-v2.py --frames-only --out /tmp/frames2.jsonl

Standard-library Python only.
"""
import argparse
import importlib.util
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("acl_matrix", os.path.join(HERE, "acl-matrix.py"))
v1 = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(v1)

FIXTURE = os.path.join(v1.ROOT, "conformance", "golden", "acl", "auth2.json")
CLUSTER = "DefaultCluster"

# The 5.3.1 broker's keys (AuthConfig). 5.3.1 sets no metadata provider by default
# (AuthenticationFactory.getMetadataProvider returns null for a blank class name, apache/rocketmq#7955),
# so the Local (RocksDB) providers are named; the two providers and strategies are the defaults.
AUTH_CONF_KEYS = [
    ("authenticationEnabled", "true"),
    ("authorizationEnabled", "true"),
    ("authenticationProvider", "org.apache.rocketmq.auth.authentication.provider.DefaultAuthenticationProvider"),
    ("authenticationMetadataProvider",
     "org.apache.rocketmq.auth.authentication.provider.LocalAuthenticationMetadataProvider"),
    ("authorizationProvider", "org.apache.rocketmq.auth.authorization.provider.DefaultAuthorizationProvider"),
    ("authorizationMetadataProvider",
     "org.apache.rocketmq.auth.authorization.provider.LocalAuthorizationMetadataProvider"),
]

# What the pipeline (AuthenticationPipeline, AuthorizationPipeline) answers: NO_PERMISSION with the
# message of DefaultAuthenticationHandler, UserAuthorizationHandler, AclAuthorizationHandler, the
# context builders or the strategies' wrappers.
PIPELINE_REMARKS = re.compile(
    r"^(username cannot be null\.|User:\S* is not found\.|User:\S* is disabled\.|check signature failed\."
    r"|Authentication failed\. |User:\S* not found\.|\S+ has no permission to access |parse authorization context error"
    r"|Authorization failed\. )")


def fixture():
    with open(FIXTURE) as f:
        return json.load(f)


def accounts():
    """(account, username, password) in matrix order: the init super user first."""
    fx = fixture()
    out = [(fx["initAuthenticationUser"]["account"], fx["initAuthenticationUser"]["username"],
            fx["initAuthenticationUser"]["password"])]
    out += [(u["account"], u["username"], u["password"]) for u in fx["users"]]
    return out


def user_body(u):
    return v1.js({k: u[k] for k in ("username", "password", "userType", "userStatus") if k in u})


def setup_frames():
    """aclTopic and aclGroup, every user of the fixture, then every ACL: signed by the init user."""
    fx = fixture()
    root = fx["initAuthenticationUser"]
    ak, sk = root["username"], root["password"]
    out = []
    opaque = 0

    def add(name, code, fields, body=b""):
        nonlocal opaque
        opaque += 1
        out.append((name, v1.frame(code, v1.signed(fields, body, ak, sk), body, opaque), opaque))

    add("create_topic", 17, v1.topic_create(v1.TOPIC))
    add("create_group", 200, {}, v1.group_create_body(v1.GROUP))
    for u in fx["users"]:
        add(f"create_user/{u['username']}", 3001, {"username": u["username"]}, user_body(u))
    for a in fx["acls"]:
        add(f"create_acl/{a['subject']}", 3006, {"subject": a["subject"]}, v1.js(a))
    return out


def auth_requests():
    """The ten AUTH_* codes, on throw-away users and ACLs (matrixSpare is a fixture user without an
    ACL; what these create or delete never decides a later case)."""
    spare = "matrixSpare"
    acl = {"subject": f"User:{spare}", "policies": [{"policyType": "Custom", "entries": [
        {"resource": "Topic:spareTopic", "actions": ["Pub"], "sourceIps": [], "decision": "Allow"}]}]}
    R = v1.Req
    return [
        R("auth_create_user", 3001, {"username": "matrixNew"},
          v1.js({"username": "matrixNew", "password": "matrixNewSecret", "userType": "Normal"})),
        R("auth_create_super_user", 3001, {"username": "matrixNewSuper"},
          v1.js({"username": "matrixNewSuper", "password": "matrixNewSuperSecret", "userType": "Super"})),
        R("auth_update_user", 3002, {"username": spare}, v1.js({"username": spare, "password": "matrixSpareSecret"})),
        R("auth_delete_user", 3003, {"username": "matrixGone"}),
        R("auth_get_user", 3004, {"username": spare}),
        R("auth_list_user", 3005, {"filter": "matrix"}),
        R("auth_create_acl", 3006, {"subject": f"User:{spare}"}, v1.js(acl)),
        R("auth_update_acl", 3007, {"subject": f"User:{spare}"}, v1.js(acl)),
        R("auth_delete_acl", 3008, {"subject": f"User:{spare}", "policyType": "Custom",
                                    "resource": "Topic:spareGone"}),
        R("auth_get_acl", 3009, {"subject": f"User:{spare}"}),
        R("auth_list_acl", 3010, {"subjectFilter": "User:matrix", "resourceFilter": "Topic"}),
    ]


def cases():
    """(case, code, account, variant, frame bytes, opaque) in capture order."""
    out = []
    opaque = 1000
    accs = accounts()
    for r in v1.requests() + auth_requests():
        variants = []
        for account, user, password in accs:
            variants.append((account, "signed", v1.signed(r.fields, r.body, user, password,
                                                          sign_fields=r.sign_fields), r.body))
            variants.append((account, "wrong_secret", v1.signed(r.fields, r.body, user, password + "Wrong",
                                                                sign_fields=r.sign_fields), r.body))
            variants.append((account, "unsigned", {**r.fields, "AccessKey": user}, r.body))
        variants.append(("-", "unknown_access_key",
                         v1.signed(r.fields, r.body, "matrixUnknown", "matrixUnknownSecret",
                                   sign_fields=r.sign_fields), r.body))
        variants.append(("-", "no_access_key", dict(r.fields), r.body))
        for account, variant, ext, body in variants:
            opaque += 1
            out.append((f"{r.name}/{account}/{variant}", r.code, account, variant,
                        v1.frame(r.code, ext, body, opaque, r.version), opaque))
    return out


def decide(code, remark):
    if code == 16 and remark and PIPELINE_REMARKS.search(remark):
        return "deny"
    return "allow"


def auth_conf():
    root = fixture()["initAuthenticationUser"]
    init = json.dumps({"username": root["username"], "password": root["password"]}, separators=(",", ":"))
    return "".join(f"{k}={v}\n" for k, v in AUTH_CONF_KEYS) + f"initAuthenticationUser={init}\n"


def capture(addr, out, timeout_s):
    with v1.connect(addr) as s:
        for name, data, opaque in setup_frames():
            resp = v1.call(s, data, opaque, timeout_s)
            if resp is None or resp.get("code") != 0:
                sys.exit(f"acl-matrix-v2: setup {name} failed: {resp}")
        # authentication must be on: an unsigned request is refused
        resp = v1.call(s, v1.frame(21, {"AccessKey": "matrixNone"}, b"", 999), 999, timeout_s)
        if resp is None or decide(resp.get("code"), resp.get("remark")) != "deny":
            sys.exit(f"acl-matrix-v2: the broker does not refuse an unsigned request: {resp}")
    rows = []
    current, sock = None, None
    for case, code, account, variant, data, opaque in cases():
        req = case.split("/")[0]
        if req != current:  # one connection per request, as the 1.0 matrix
            if sock:
                sock.close()
            sock, current = v1.connect(addr), req
        resp = v1.call(sock, data, opaque, timeout_s)
        jcode = resp.get("code") if resp else None
        remark = resp.get("remark") if resp else None
        rows.append({"case": case, "code": code, "account": account, "variant": variant, "frame_hex": data.hex(),
                     "java_code": jcode, "java_remark": remark, "decision": decide(jcode, remark)})
    if sock:
        sock.close()
    v1.write(out, rows)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--oracle", action="store_true", help="start the 5.x Java oracle (broker 5.3.1)")
    g.add_argument("--broker", help="HOST:PORT of a broker already running with the auth keys and init user")
    g.add_argument("--frames-only", action="store_true", help="write the setup and case frames, send nothing")
    ap.add_argument("--out", required=True)
    ap.add_argument("--setup-out", help="also write the setup frames (topic, group, users, ACLs) here")
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for one response")
    ap.add_argument("--keep", action="store_true", help="keep the oracle's temp dir (logs)")
    a = ap.parse_args()
    if a.setup_out:
        v1.write(a.setup_out, [{"name": n, "frame_hex": d.hex()} for n, d, _ in setup_frames()])
    if a.frames_only:
        v1.write(a.out, [{"case": c, "code": code, "account": acc, "variant": v, "frame_hex": d.hex()}
                         for c, code, acc, v, d, _ in cases()])
        return
    oracle = None
    try:
        if a.oracle:
            oracle = v1.Oracle("5", a.keep, auth_conf=auth_conf(), fixture=None)
            addr = oracle.start()
        else:
            addr = a.broker
        rows = capture(addr, a.out, a.timeout)
    finally:
        if oracle:
            oracle.stop()
    deny = sum(r["decision"] == "deny" for r in rows)
    silent = sum(r["java_code"] is None for r in rows)
    print(f"acl-matrix-v2: {len(rows)} cases, {deny} deny, {len(rows) - deny} allow, {silent} without response"
          f" -> {a.out}")


if __name__ == "__main__":
    main()
