#!/usr/bin/env python3
"""promcheck.py - a strict check of Prometheus' text exposition format (version 0.0.4)

    promcheck.py FILE [--require SERIES]...

Stricter than the parsers, which accept what the format forbids: one family per `# TYPE`, and
every sample right after its own family's HELP/TYPE, before the next family begins (a sample of
`edu_warnings` after `# TYPE edu_alerts_pending` is an error); at most one HELP and one TYPE per
name, the TYPE before the samples; metric and label names, label values with only the escapes
\\\\ \\" \\n, no label twice, no series twice; values as Go's ParseFloat reads them (+Inf, -Inf,
NaN); counters not negative; a histogram's buckets cumulative, ending at le="+Inf", which equals
its _count. --require SERIES asks that a sample `SERIES` (name and label text as rendered)
exists. Prints each problem with its line number; exits 1 if there is any.
"""
import math
import re
import sys

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count")}


def parse_value(text):
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
        raise ValueError(text)
    return float(text)


def parse_labels(text, where, problems):
    """label text without braces -> list of (name, value)"""
    labels, i = [], 0
    while i < len(text):
        m = re.match(r"([^=]*)=\"", text[i:])
        if not m:
            problems.append(f"{where}: bad label text {text[i:]!r}")
            return labels
        name = m.group(1)
        if not LABEL.match(name) or name.startswith("__"):
            problems.append(f"{where}: bad label name {name!r}")
        i += m.end()
        value = []
        while i < len(text) and text[i] != '"':
            if text[i] == "\\":
                if i + 1 >= len(text) or text[i + 1] not in '\\"n':
                    problems.append(f"{where}: bad escape in the value of {name}")
                    return labels
                value.append({"\\": "\\", '"': '"', "n": "\n"}[text[i + 1]])
                i += 2
            else:
                value.append(text[i])
                i += 1
        if i >= len(text):
            problems.append(f"{where}: the value of {name} is not closed")
            return labels
        i += 1
        if any(n == name for n, _ in labels):
            problems.append(f"{where}: label {name} twice")
        labels.append((name, "".join(value)))
        if i < len(text):
            if text[i] != ",":
                problems.append(f"{where}: expected ',' after label {name}")
                return labels
            i += 1
    return labels


def family_of(sample, families):
    """the family a sample name belongs to, with its type, or (sample, None)"""
    for fam, typ in families.items():
        for suffix in SUFFIXES.get(typ, ("",)):
            if sample == fam + suffix:
                return fam, typ
    return sample, None


def check(lines):
    problems = []
    types, helps = {}, {}
    current = None  # the family whose header or samples came last
    closed = set()  # families another family followed
    series = set()
    buckets = {}  # (family, other labels) -> [(le, count)]
    counts = {}  # (family, other labels) -> _count
    samples = set()
    for number, line in enumerate(lines, 1):
        where = f"line {number}"
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                kind, name = parts[1], parts[2]
                if not NAME.match(name):
                    problems.append(f"{where}: bad metric name {name!r}")
                if kind == "TYPE":
                    typ = parts[3] if len(parts) > 3 else ""
                    if typ not in TYPES:
                        problems.append(f"{where}: unknown type {typ!r} for {name}")
                    if name in types:
                        problems.append(f"{where}: a second TYPE line for {name}")
                    if any(family_of(s, {name: typ})[1] for s in samples):
                        problems.append(f"{where}: TYPE {name} after its samples")
                    types[name] = typ
                else:
                    if name in helps:
                        problems.append(f"{where}: a second HELP line for {name}")
                    helps[name] = True
                if name in closed:
                    problems.append(f"{where}: {kind} {name} after another family began")
                if current and current != name:
                    closed.add(current)
                current = name
            continue
        m = re.fullmatch(r"([^\s{]+)(?:\{(.*)\})?\s+(\S+)(?:\s+(-?\d+))?", line)
        if not m:
            problems.append(f"{where}: not a sample: {line!r}")
            continue
        name, label_text, value_text = m.group(1), m.group(2) or "", m.group(3)
        if not NAME.match(name):
            problems.append(f"{where}: bad metric name {name!r}")
        before = len(problems)
        labels = parse_labels(label_text, where, problems)
        if len(problems) > before:
            continue
        try:
            value = parse_value(value_text)
        except ValueError:
            problems.append(f"{where}: bad value {value_text!r}")
            continue
        family, typ = family_of(name, types)
        if family in closed:
            problems.append(f"{where}: a sample of {family} after another family began")
        elif family != current:
            header = f"the header of {current}" if current else "no header"
            problems.append(f"{where}: a sample of {family} follows {header}")
        if current and family != current:
            closed.add(current)
        current = family
        key = (name, tuple(sorted(labels)))
        if key in series:
            problems.append(f"{where}: the series {line.rsplit(None, 1)[0]} twice")
        series.add(key)
        samples.add(name)
        if typ == "counter" and not value >= 0:
            problems.append(f"{where}: counter {name} is {value_text}")
        if typ == "histogram":
            rest = tuple(sorted((n, v) for n, v in labels if n != "le"))
            if name == family + "_bucket":
                le = [v for n, v in labels if n == "le"]
                if not le:
                    problems.append(f"{where}: a bucket without le")
                    continue
                buckets.setdefault((family, rest), []).append((parse_value(le[0]), value))
            elif name == family + "_count":
                counts[(family, rest)] = value
        samples.add(f"{name}{{{label_text}}}" if label_text else name)
    for (family, rest), bs in buckets.items():
        les = [le for le, _ in bs]
        if les != sorted(les) or les[-1] != math.inf:
            problems.append(f"{family}: buckets not in order or without le=\"+Inf\"")
        values = [v for _, v in bs]
        if values != sorted(values):
            problems.append(f"{family}: buckets not cumulative")
        if counts.get((family, rest)) != values[-1]:
            problems.append(f"{family}: le=\"+Inf\" is not _count")
    return problems, samples


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    path, required = args[0], []
    i = 1
    while i < len(args):
        if args[i] == "--require" and i + 1 < len(args):
            required.append(args[i + 1])
            i += 2
        else:
            sys.exit(f"promcheck.py: unknown argument {args[i]!r}")
    text = open(path, encoding="utf-8").read()
    problems, samples = check(text.split("\n"))
    if text and not text.endswith("\n"):
        problems.append("the last line does not end in a newline")
    for series in required:
        if series not in samples:
            problems.append(f"no sample {series}")
    for p in problems:
        print(f"{path}: {p}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
