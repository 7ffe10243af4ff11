#!/usr/bin/env python3
"""Compares two frame-proxy logs of the same client run against two servers (e.g. rmq and the
Java oracle): per request code, the response codes seen, the response extFields keys, the remarks,
and the shape of JSON response bodies (top-level keys). Prints only what differs.

    frame-diff.py frames-rmq.log frames-java.log
"""
import collections
import json
import re
import sys

LINE = re.compile(
    r"^\s*[\d.]+ c\d+ (?P<name>\S+) (?P<dir>S>C|C>S) (?P<kind>REQ |RESP|ONEWAY) code=(?P<code>-?\d+) "
    r"(?P<cname>\S+) op=(?P<op>-?\d+)(?: to=(?P<to>\S+))? .*?(?: remark=(?P<remark>'.*?'|\".*?\"))? "
    r"ext=(?P<ext>\{.*?\}) body=(?P<body>.*)$")


def body_shape(body):
    m = re.match(r"^(\d+) '(.*)'(\.\.\.)?$", body)
    if not m:
        return None
    text = m.group(2)
    if not text.startswith("{"):
        return None
    keys = re.findall(r'[{,]"([A-Za-z_][A-Za-z0-9_]*)":', text)
    return tuple(sorted(set(keys)))


def load(path):
    stats = collections.defaultdict(lambda: {"codes": collections.Counter(), "ext": set(),
                                             "remarks": set(), "shapes": set(), "req_ext": set(),
                                             "count": 0})
    for line in open(path, errors="replace"):
        m = LINE.match(line)
        if not m:
            continue
        if m.group("kind") == "RESP":
            key = (m.group("name"), m.group("to") or "?")
            s = stats[key]
            s["codes"][m.group("cname")] += 1
            try:
                s["ext"] |= set(json.loads(m.group("ext")))
            except ValueError:
                pass
            if m.group("remark"):
                remark = re.sub(r"_[0-9a-f]{6,8}\b", "_RUN", m.group("remark"))
                s["remarks"].add(re.sub(r"\d+", "N", remark)[:100])
            shape = body_shape(m.group("body"))
            if shape:
                s["shapes"].add(shape)
        else:
            key = (m.group("name"), ("%s %s" % (m.group("dir"), m.group("cname"))))
            s = stats[key]
            s["count"] += 1
            try:
                s["req_ext"] |= set(json.loads(m.group("ext")))
            except ValueError:
                pass
    return stats


def main():
    a_path, b_path = sys.argv[1], sys.argv[2]
    a, b = load(a_path), load(b_path)
    for key in sorted(set(a) | set(b)):
        sa, sb = a.get(key), b.get(key)
        label = "%s %s" % key
        if sa is None or sb is None:
            print("%-50s only in %s" % (label, a_path if sb is None else b_path))
            continue
        for field in ("codes", "ext", "remarks", "shapes", "req_ext"):
            va, vb = sa[field], sb[field]
            if field == "codes":
                va, vb = set(va), set(vb)
            if va != vb:
                print("%-50s %-8s A=%s\n%-50s %-8s B=%s" % (label, field, sorted(va), "", "", sorted(vb)))


if __name__ == "__main__":
    main()
