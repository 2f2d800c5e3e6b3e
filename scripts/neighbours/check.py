#!/usr/bin/env python3
"""Helpers for scripts/neighbours-e2e: render pgAudit lines, compare alerts,
decode what syslog-ng received, and check ueba's outputs against the
schemas of their owners (OCSF, ECS).

Each subcommand prints what it checked and exits 1 naming the first
difference it finds.
"""

import json
import re
import sys
import zlib


def fail(msg):
    print(f"[neighbours-e2e] check failed: {msg}", file=sys.stderr)
    sys.exit(1)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# --- render: generated events as pgAudit lines --------------------------------

COMMANDS = {
    "select": ("READ", "SELECT"),
    "copy": ("READ", "COPY"),
    "insert": ("WRITE", "INSERT"),
    "update": ("WRITE", "UPDATE"),
    "delete": ("WRITE", "DELETE"),
}


def statement(n, cmd, table):
    """A statement for the record, some with commas and quotes (CSV-quoted
    as pgAudit does) and some over several lines (continued with a tab, as
    PostgreSQL's stderr log writes them)."""
    if cmd == "SELECT":
        if n % 41 == 0:
            return f"SELECT id,\n\t       status, 'a, \"q\" b' AS note\n\t  FROM {table}\n\t WHERE id = {n}"
        return f"SELECT id, status FROM {table} WHERE id = {n}"
    if cmd == "COPY":
        return f"COPY {table} TO STDOUT WITH (FORMAT csv)"
    if cmd == "INSERT":
        return f"INSERT INTO {table} (id, body) VALUES ({n}, 'x')"
    if cmd == "UPDATE":
        return f"UPDATE {table} SET status = 'pending' WHERE id = {n}"
    return f"DELETE FROM {table} WHERE id = {n}"


def csv_field(s):
    if any(c in s for c in ',"\n'):
        return '"' + s.replace('"', '""') + '"'
    return s


def render(events_path, out_path):
    """pgAudit stderr lines (prefix '%m [%p] %q%u@%d %h ') for `ueba gen`
    events: one SESSION record per event, MISC records (VACUUM, ANALYZE)
    without an object, and a connection line now and then (not data access:
    ueba skips both kinds and counts them)."""
    n = 0
    with open(events_path, encoding="utf-8") as f, open(out_path, "w", encoding="utf-8") as out:
        for line in f:
            e = json.loads(line)
            n += 1
            t = e["timestamp"]
            ts = f"{t[:10]} {t[11:23]} UTC"
            pid = 1000 + zlib.crc32(e["user"].encode()) % 30000
            prefix = f"{ts} [{pid}] {e['user']}@helpdesk {e.get('source') or '[local]'} "
            if n % 97 == 0:
                out.write(f"{ts} [{pid}] {e['user']}@helpdesk {e.get('source') or '[local]'} LOG:  connection authorized: user={e['user']} database=helpdesk\n")
            action = e["action"]
            if action in COMMANDS:
                cls, cmd = COMMANDS[action]
                stmt = statement(n, cmd, e["resource"])
                rec = f"SESSION,{n},1,{cls},{cmd},TABLE,{e['resource']},{csv_field(stmt)},<not logged>,{e['rows']}"
            else:
                stmt = f"{action.upper()} {e['resource']}"
                rec = f"SESSION,{n},1,MISC,{action.upper()},,,{csv_field(stmt)},<not logged>"
            out.write(f"{prefix}LOG:  AUDIT: {rec}\n")
        # A last non-audit line: a record is complete when the next starts.
        out.write(f"{ts} [1] LOG:  checkpoint starting: time\n")
    print(f"rendered {n} events as pgAudit lines")


def chunks(log_path, parts, prefix):
    """Split the log into `parts` files at record boundaries (never inside
    a statement's continuation lines)."""
    with open(log_path, encoding="utf-8") as f:
        lines = f.readlines()
    size = len(lines) // parts
    start = 0
    for i in range(parts):
        end = len(lines) if i == parts - 1 else (i + 1) * size
        while end < len(lines) and lines[end].startswith("\t"):
            end += 1
        with open(f"{prefix}{i + 1}", "w", encoding="utf-8") as out:
            out.writelines(lines[start:end])
        start = end


# --- alerts: served against scored ------------------------------------------------


def same_alerts(expected_path, got_path):
    exp, got = read_jsonl(expected_path), read_jsonl(got_path)
    key = lambda a: (a["time"], a["user"], a.get("kind", ""), a["score"])
    ek, gk = [key(a) for a in exp], [key(a) for a in got]
    missing = [k for k in ek if k not in gk]
    extra = [k for k in gk if k not in ek]
    twice = sorted({k for k in gk if gk.count(k) > 1})
    if missing or extra or twice:
        fail(
            f"served alerts differ from `ueba score` over the same file: {len(exp)} expected, "
            f"{len(got)} written; missing {missing[:5]}, unexpected {extra[:5]}, written twice {twice[:5]}"
        )
    for i, (a, b) in enumerate(zip(exp, got)):
        if a != b:
            path, x, y = first_difference(a, b)
            fail(f"alert {i + 1} ({a['user']} at {a['time']}) differs at {path}: scored {x!r}, served {y!r}")
    print(f"the {len(got)} served alerts equal `ueba score`'s, in order, none twice")


def first_difference(a, b, path="alert"):
    """The first path at which two JSON values differ, with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if a.get(k) != b.get(k):
                return first_difference(a.get(k), b.get(k), f"{path}.{k}")
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return first_difference(x, y, f"{path}[{i}]")
    return path, a, b


# --- CEF over syslog ------------------------------------------------------------------------

UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]"
)


def visible(s):
    """ueba's `\\u{..}` text for control and invisible characters."""
    return UNSAFE.sub(lambda m: "\\u{%x}" % ord(m.group()), s)


def cef_split_header(line):
    if not line.startswith("CEF:0|"):
        fail(f"not a CEF line: {line[:200]!r}")
    fields, cur, i, body = [], [], 0, line[4:]
    while len(fields) < 7:
        if i >= len(body):
            fail(f"CEF header cut short: {line[:300]!r}")
        c = body[i]
        if c == "\\" and i + 1 < len(body) and body[i + 1] in "\\|":
            cur.append(body[i + 1])
            i += 2
            continue
        if c == "\\":
            fail(f"unescaped backslash in the CEF header: {line[:300]!r}")
        if c == "|":
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    return fields, body[i:]


def cef_extension(ext):
    """key=value pairs; a key starts after a space and ends at an unescaped
    `=`; values unescape `\\\\`, `\\=`, `\\n`, `\\r`."""
    keys = [m for m in re.finditer(r"(?:^| )([A-Za-z0-9_]+)=", ext) if not escaped(ext, m.end() - 1)]
    out = {}
    for j, m in enumerate(keys):
        end = keys[j + 1].start() if j + 1 < len(keys) else len(ext)
        raw = ext[m.end():end]
        val, i = [], 0
        while i < len(raw):
            c = raw[i]
            if c == "\\":
                nxt = raw[i + 1] if i + 1 < len(raw) else ""
                if nxt not in "\\=nr" or nxt == "":
                    fail(f"bad escape in extension {m.group(1)}: {raw[:200]!r}")
                val.append({"\\": "\\", "=": "=", "n": "\n", "r": "\r"}[nxt])
                i += 2
                continue
            if c == "=":
                fail(f"unescaped `=` in extension {m.group(1)}: {raw[:200]!r}")
            if c in "\n\r":
                fail(f"raw line break in extension {m.group(1)}")
            val.append(c)
            i += 1
        if m.group(1) in out:
            fail(f"extension key {m.group(1)} twice")
        out[m.group(1)] = "".join(val)
    return out


def escaped(s, pos):
    n = 0
    while pos - 1 - n >= 0 and s[pos - 1 - n] == "\\":
        n += 1
    return n % 2 == 1


def check_syslog(received_path, cef_path, alerts_path, ecs_path, transport, host):
    """Each alert arrived as one record whose message is ueba's CEF line,
    byte for byte, with an RFC 5424 header, and the CEF decodes back to
    the alert: user, risk, threshold, kind, id, peer group, reason and every
    finding with its evidence."""
    got = read_jsonl(received_path)
    with open(cef_path, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f]
    alerts, ecs = read_jsonl(alerts_path), read_jsonl(ecs_path)
    if len(got) != len(lines):
        fail(f"{transport}: {len(lines)} alerts sent, {len(got)} records received")
    for i, (rec, line, alert, doc) in enumerate(zip(got, lines, alerts, ecs)):
        where = f"{transport} record {i + 1} (user {alert['user']!r})"
        if rec["msg"] != line:
            fail(f"{where}: message differs from the CEF line\n  sent:     {line[:400]!r}\n  received: {rec['msg'][:400]!r}")
        sev = 2 if alert["score"] >= 90 else 3 if alert["score"] >= 70 else 4
        header = {"facility": "13", "severity": str(sev), "program": "ueba", "msgid": "alert", "host": host}
        for k, v in header.items():
            if rec[k] != v:
                fail(f"{where}: RFC 5424 {k} is {rec[k]!r}, expected {v!r}")
        if parse_time(rec["date"]) != parse_time(alert["time"]):
            fail(f"{where}: timestamp {rec['date']!r}, alert time {alert['time']!r}")
        head, ext = cef_split_header(line)
        f = cef_extension(ext)
        findings = alert.get("findings") or []
        detector, reason = (findings[0]["detector"], findings[0]["reason"]) if findings else (
            "risk", "user risk crossed the alert threshold")
        want_head = ["ueba", "ueba", head[3], detector, visible(reason.replace("\r", " ").replace("\n", " ")),
                     str(min(10, max(0, round_half_away(alert["score"] / 10))))]
        if head[1:] != want_head:
            fail(f"{where}: CEF header {head[1:]} != {want_head}")
        want = {
            "cs3": alert["kind"],
            "cs4": doc["event"]["id"],
            "cs5": alert["incident"],
            "msg": visible_value(reason),
            "suser": visible_value(alert["user"]),
            "cat": "insider-risk",
        }
        if alert.get("peer_group") is not None:
            want["cs2"] = visible_value(alert["peer_group"])
        for k, v in want.items():
            if f.get(k) != v:
                fail(f"{where}: extension {k} is {f.get(k)!r}, expected {v!r}")
        if float(f["cfp1"]) != alert["score"]:
            fail(f"{where}: cfp1 {f['cfp1']} != score {alert['score']}")
        if json.loads(f["cs1"]) != findings:
            fail(f"{where}: findings (cs1) differ from the alert's")
        labels = {f.get(f"{k}Label"): k for k in ("cn1", "cfp1", "cn2", "cs1", "cs2", "cs3", "cs4", "cs5")}
        for label in ("risk", "threshold", "findings", "alertKind", "alertId", "incident"):
            if label not in labels:
                fail(f"{where}: no extension labelled {label}")
    print(f"{transport}: {len(got)} records, each ueba's CEF line whole, header and every field decoded back to its alert")


def parse_time(s):
    from datetime import datetime

    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def visible_value(s):
    """An extension value after unescaping: line breaks are kept (escaped as
    \\n, \\r), other control characters are ueba's visible text."""
    out = []
    for c in s:
        out.append(c if c in "\n\r" else visible(c))
    return "".join(out)


def round_half_away(x):
    return int(x + 0.5) if x >= 0 else -int(-x + 0.5)


# --- schemas ------------------------------------------------------------------------------------


def check_ocsf(path):
    from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema
    import jsonschema

    docs = read_jsonl(path)
    if not docs:
        fail(f"{path}: no OCSF findings to check")
    validators = {}
    bad = 0
    for i, d in enumerate(docs):
        ver = d.get("metadata", {}).get("version")
        key = (ver, d.get("class_uid"))
        if key not in validators:
            schema = OcsfJsonSchemaEmbedded(get_ocsf_schema(version=ver))
            cls = schema.get_class_schema(schema.lookup_class_name_from_uid(d["class_uid"]))
            validators[key] = jsonschema.Draft202012Validator(cls)
        for e in validators[key].iter_errors(d):
            bad += 1
            where = ".".join(str(p) for p in e.absolute_path) or "(top)"
            print(f"[neighbours-e2e] OCSF {ver} finding {i + 1}: {where}: {e.message[:300]}", file=sys.stderr)
            if bad >= 20:
                break
    if bad:
        fail(f"{bad} OCSF schema violation(s) in {path}")
    print(f"OCSF: {len(docs)} Detection Findings valid against OCSF {', '.join(sorted({k[0] for k in validators}))}")


def check_ecs(path, flat_path, ecs_pkg_version):
    """Every leaf is an ECS field (from @elastic/ecs's ecs_flat) or under
    ueba's own `ueba.` namespace; ECS fields of type object/flattened may
    hold anything below them."""
    with open(flat_path, encoding="utf-8") as f:
        flat = json.load(f)
    docs = read_jsonl(path)
    if not docs:
        fail(f"{path}: no ECS documents to check")
    open_types = {k for k, v in flat.items() if v.get("type") in ("object", "flattened", "nested")}
    bad = set()

    def walk(prefix, v):
        if isinstance(v, dict) and prefix not in open_types and prefix != "ueba" and not prefix.startswith("ueba."):
            for k, sub in v.items():
                walk(f"{prefix}.{k}" if prefix else k, sub)
            return
        if prefix == "ueba" or prefix.startswith("ueba."):
            return
        if prefix not in flat:
            bad.add(prefix)

    versions = set()
    for d in docs:
        versions.add(d.get("ecs", {}).get("version"))
        walk("", d)
    if bad:
        fail(f"ECS: fields that are not ECS {ecs_pkg_version} fields nor under ueba.: {sorted(bad)}")
    print(f"ECS: {len(docs)} documents (ecs.version {', '.join(sorted(map(str, versions)))}): every field is an ECS {ecs_pkg_version} field or under ueba.")


def check_readme(readme, root):
    """The README's syslog-ng recipe is copied from the tested files: every
    paragraph of a conf block after a `<!-- scripts/neighbours/X.conf -->`
    marker appears verbatim in that file."""
    text = open(readme, encoding="utf-8").read()
    blocks = re.findall(r"<!-- (scripts/neighbours/[a-z]+\.conf) -->\n```conf\n(.*?)\n```", text, re.S)
    if len(blocks) < 2:
        fail(f"{readme}: the syslog-ng recipe blocks are missing")
    for path, block in blocks:
        conf = open(f"{root}/{path}", encoding="utf-8").read()
        for para in block.split("\n\n"):
            if para.strip() and para not in conf:
                fail(f"{readme}: this part of the recipe is not in {path} any more:\n{para}")
    print(f"README recipe: {len(blocks)} blocks, copied from {', '.join(sorted({p for p, _ in blocks}))}")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {
        "render": render,
        "chunks": lambda log, parts, prefix: chunks(log, int(parts), prefix),
        "same-alerts": same_alerts,
        "syslog": check_syslog,
        "ocsf": check_ocsf,
        "ecs": check_ecs,
        "readme": check_readme,
    }[cmd](*args)
