#!/usr/bin/env python3
"""rocketmq-client-cpp (through a Python ctypes binding that ships librocketmq) against a name
server + broker.

Cases (each prints `PASS <case>` or `FAIL <case>: <why>`; exit status 1 if any failed):

  send            a producer sends N messages (tags TagA/TagB, keys) with send_sync
  send-batch      one batch of B messages with send_batch. These C++ cores send a batch as
                  SEND_MESSAGE with batch=1 (not SEND_BATCH_MESSAGE), which Apache RocketMQ 4.9
                  stores as ONE message whose body is the encoded batch; the binding reads bodies
                  as C strings, so that message arrives with an empty body (the encoding starts
                  with a 0 byte). The consumers accept either the B messages or that one message
  push-default    push consumer, clustering, new group, the default consume-from-where
                  (CONSUME_FROM_LAST_OFFSET): on a young topic the broker answers offset 0 for a
                  new group, so every message sent above must arrive, with its tags and keys
  push-first      the same with CONSUME_FROM_FIRST_OFFSET (set through the C++ class: the C API
                  has no setter)
  push-tag        new group subscribed to 'TagA' only: exactly the TagA messages arrive
  send-orderly    send_orderly with a sharding key (4 keys) to another topic
  orderly         an orderly push consumer (LOCK_BATCH_MQ) gets every message, in send order per key

The C++ core does not survive several clients started and shut down one after the other in one
process, so every client runs in a child process of its own (`--role`).

Usage: test_cpp.py --ns 127.0.0.1:9876 [--n 40] [--timeout 90] [--only push-default,...]
"""
import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid

# rocketmq::ConsumeFromWhere
CONSUME_FROM_LAST_OFFSET = 0
CONSUME_FROM_FIRST_OFFSET = 4


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def report(case, ok, why=""):
    out(("PASS %s" % case) if ok else ("FAIL %s: %s" % (case, why)))
    return ok


def leave(ok):
    # The C++ core's threads may hang or crash in static destructors at exit: leave at once.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0 if ok else 1)


def core_major():
    from rocketmq import ffi
    return 2 if hasattr(ffi.dll, "SendMessageTransaction") else 1


def set_consume_from_where(consumer, where):
    """DefaultMQPushConsumer::setConsumeFromWhere on the C handle (a DefaultMQPushConsumer*)."""
    from rocketmq import ffi
    setter = getattr(ffi.dll, "_ZN8rocketmq21DefaultMQPushConsumer19setConsumeFromWhereENS_16ConsumeFromWhereE")
    getter = getattr(ffi.dll, "_ZN8rocketmq21DefaultMQPushConsumer19getConsumeFromWhereEv")
    setter.argtypes = [ctypes.c_void_p, ctypes.c_int]
    setter.restype = None
    getter.argtypes = [ctypes.c_void_p]
    getter.restype = ctypes.c_int
    setter(consumer._handle, where)
    got = getter(consumer._handle)
    if got != where:
        raise RuntimeError("setConsumeFromWhere(%d) read back %d" % (where, got))


# ---- producer child -----------------------------------------------------------------------------

def role_produce(a):
    """Sends everything; writes the expectations to a.state (JSON)."""
    from rocketmq.client import Message, Producer, SendStatus

    def msg(topic, body, tags, keys):
        m = Message(topic)
        m.set_tags(tags)
        m.set_keys(keys)
        m.set_body(body)
        return m

    run = a.run
    p = Producer("CppProducer_%s" % run)
    p.set_namesrv_addr(a.ns)
    p.start()
    state = {"topic": a.topic, "messages": {}, "batch": {}, "orderly_topic": a.topic + "_O",
             "orderly": {}}
    ok = True
    errors = []
    for i in range(a.n):
        body = "cpp-%s-%d" % (run, i)
        tags, keys = ("TagA" if i % 2 == 0 else "TagB"), "key-%d" % i
        try:
            r = p.send_sync(msg(a.topic, body, tags, keys))
            if r.status != SendStatus.OK:
                errors.append("%d: status %s" % (i, r.status))
                continue
        except Exception as e:  # noqa: BLE001
            errors.append("%d: %r" % (i, e))
            continue
        state["messages"][body] = [tags, keys]
    ok &= report("send", not errors, "; ".join(errors[:3]))

    batch_bodies = ["cpp-%s-batch-%d" % (run, i) for i in range(a.batch)]
    try:
        r = p.send_batch([msg(a.topic, b, "TagB", "bkey-%d" % i) for i, b in enumerate(batch_bodies)])
        good = r.status == SendStatus.OK
        ok &= report("send-batch", good, "status %s" % r.status)
        if good:
            state["batch"] = {b: ["TagB", "bkey-%d" % i] for i, b in enumerate(batch_bodies)}
    except Exception as e:  # noqa: BLE001
        ok &= report("send-batch", False, repr(e))

    errors = []
    for i in range(a.n):
        key = i % 4
        body = "cpp-%s-o%d-%d" % (run, key, i)
        try:
            r = p.send_orderly(msg(state["orderly_topic"], body, "TagO", "okey-%d" % i), key)
            if r.status != SendStatus.OK:
                errors.append("status %s" % r.status)
                continue
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
            continue
        state["orderly"].setdefault(str(key), []).append(body)
    ok &= report("send-orderly", not errors, "; ".join(errors[:3]))
    with open(a.state, "w") as f:
        json.dump(state, f)
    sys.stdout.flush()
    p.shutdown()
    leave(ok)


# ---- consumer child -----------------------------------------------------------------------------

def role_consume(a):
    from rocketmq.client import PushConsumer

    with open(a.state) as f:
        state = json.load(f)
    case = a.case
    orderly = case == "orderly"
    topic = state["orderly_topic"] if orderly else state["topic"]
    expression = "TagA" if case == "push-tag" else "*"
    where = None if case == "push-default" else CONSUME_FROM_FIRST_OFFSET

    if orderly:
        expected = {b for v in state["orderly"].values() for b in v}
        batch = set()
    else:
        expected = {b for b, (tags, _) in state["messages"].items()
                    if expression == "*" or tags == expression}
        batch = set(state["batch"]) if expression == "*" else set()

    if not expected:
        leave(report(case, False, "nothing to expect: the sends failed"))

    got = {}       # body -> (tags, keys)
    order = []     # bodies in arrival order
    blobs = []     # messages with an empty body: a batch stored as one message
    lock = threading.Lock()
    done = threading.Event()

    def complete():
        return expected.issubset(got.keys()) and (not batch or batch.issubset(got.keys()) or blobs)

    def text(v):
        return v.decode("utf-8", "replace") if isinstance(v, bytes) else v

    def on_message(m):
        body = text(m.body) or ""
        with lock:
            if body == "":
                blobs.append((m.queue_id, m.queue_offset))
            else:
                got.setdefault(body, (text(m.tags), text(m.keys)))
                order.append(body)
            if complete():
                done.set()

    c = PushConsumer("Cpp%s_%s" % (case.replace("-", ""), a.run), orderly=orderly)
    c.set_namesrv_addr(a.ns)
    if where is not None:
        set_consume_from_where(c, where)
    c.subscribe(topic, on_message, expression)
    c.start()
    done.wait(a.timeout)
    if not done.is_set():
        time.sleep(1)
    else:
        time.sleep(0.5)  # anything unexpected still in flight
    with lock:
        got, order, blobs = dict(got), list(order), sorted(set(blobs))
    ok = verdict(case, state, expected, batch, orderly, got, order, blobs)
    # The verdict is out before the shutdown: the 2.1 core may crash in it (it does against
    # Apache RocketMQ too).
    c.shutdown()
    leave(ok)


def verdict(case, state, expected, batch, orderly, got, order, blobs):
    if not expected:
        return report(case, False, "nothing to expect: the sends failed")
    missing = expected - set(got)
    if missing:
        return report(case, False, "%d of %d messages missing, e.g. %s (received %d)" % (
            len(missing), len(expected), sorted(missing)[:3], len(got)))
    if batch:
        got_batch = batch & set(got)
        if got_batch == batch and not blobs:
            out("   (the batch arrived as %d messages)" % len(batch))
            expected = expected | batch
        elif not got_batch and len(blobs) == 1:
            out("   (the batch arrived as one message, queue %d offset %d)" % blobs[0])
        else:
            return report(case, False, "the batch arrived as %d of %d messages plus %d empty ones" % (
                len(got_batch), len(batch), len(blobs)))
    elif blobs:
        return report(case, False, "%d unexpected messages with an empty body" % len(blobs))
    extra = set(got) - expected
    if extra:
        return report(case, False, "unexpected messages arrived, e.g. %s" % sorted(extra)[:3])
    if not orderly:
        for b in expected:
            tags, keys = state["messages"].get(b) or state["batch"][b]
            if list(got[b]) != [tags, keys]:
                return report(case, False, "%s arrived with tags/keys %r, sent %r" % (b, got[b], [tags, keys]))
    else:
        seen = {}
        for body in order:
            key = body.split("-o")[1].split("-")[0]
            lst = seen.setdefault(key, [])
            if body not in lst:
                lst.append(body)
        wrong = [k for k, v in state["orderly"].items() if seen.get(k) != v]
        if wrong:
            return report(case, False, "order differs for keys %s" % wrong)
    return report(case, True)


# ---- orchestration ------------------------------------------------------------------------------

def child_result(name, r):
    """Echoes a child's lines; returns the number of failures (a child that crashed after its
    verdict is noted, not counted: the 2.1 core crashes in shutdown against Apache RocketMQ too)."""
    sys.stdout.write(r.stdout)
    lines = r.stdout.splitlines()
    fails = sum(1 for line in lines if line.startswith("FAIL "))
    if not any(line.startswith(("PASS ", "FAIL ")) for line in lines):
        out("FAIL %s: exited with %d before a verdict" % (name, r.returncode))
        return 1
    if r.returncode < 0:
        out("   (note: the %s process died of signal %d after its verdict, in the client's shutdown)" % (
            name, -r.returncode))
    return fails

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ns", required=True)
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=90)
    ap.add_argument("--only", help="comma separated consumer cases to run")
    ap.add_argument("--role", choices=["produce", "consume"])
    ap.add_argument("--case")
    ap.add_argument("--run")
    ap.add_argument("--topic")
    ap.add_argument("--state")
    a = ap.parse_args()
    if a.role == "produce":
        role_produce(a)
    if a.role == "consume":
        role_consume(a)

    run = uuid.uuid4().hex[:8]
    from rocketmq import ffi  # noqa: F401  (fail early when the library does not load)
    out("librocketmq: %s (C++ core %d.x)" % (ffi._DYLIB_PATH, core_major()))
    cases = ["push-default", "push-first", "push-tag", "orderly"]
    if a.only:
        cases = [c for c in cases if c in a.only.split(",")]
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        state = os.path.join(tmp, "state.json")
        common = [sys.executable, "-u", os.path.abspath(__file__), "--ns", a.ns, "--run", run,
                  "--state", state, "--timeout", str(a.timeout)]
        r = subprocess.run(common + ["--role", "produce", "--topic", "CppTopic_%s" % run,
                                     "--n", str(a.n), "--batch", str(a.batch)],
                           stdout=subprocess.PIPE, universal_newlines=True)
        failed += child_result("produce", r)
        if not os.path.exists(state):
            out("FAIL produce: producer exited with %d and no state" % r.returncode)
            leave(False)
        for case in cases:
            r = subprocess.run(common + ["--role", "consume", "--case", case],
                               stdout=subprocess.PIPE, universal_newlines=True)
            failed += child_result(case, r)
    leave(failed == 0)


if __name__ == "__main__":
    main()
