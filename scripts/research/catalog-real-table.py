#!/usr/bin/env python3
"""docs/bench.md's section "Big catalogs: the real REES46 and Scientific catalogs" (issue #20), from what
scripts/research/catalog-real.sh wrote.

Usage: catalog-real-table.py WORK MODEL GIT SECONDS BENCH_MD

WORK holds when.txt (the time and load average at the end of the measurement) and, per shop and catalog kind (f32, int8, ivfpq, ivfpq-pq): SHOP-KIND.catalog, SHOP-KIND.log (the
stderr of `nextclick catalog`: the recall line), SHOP-KIND.time (wall seconds), and for REES46
replay-KIND/rees46-target-shop-replay.json (`nextclick eval --rows zero-shot,device`). Rewrites the
section in BENCH_MD (appended when absent).
"""
import datetime
import json
import os
import re
import sys

SECTION = "## Big catalogs: the real REES46 and Scientific catalogs (`make bench-catalog-real`, issue #20)"
BEGIN, END = "<!-- keep:catalog-real:begin -->", "<!-- keep:catalog-real:end -->"
KINDS = [
    ("f32", "exact f32 scan (format version 1)"),
    ("int8", "exact int8 scan"),
    ("ivfpq", "IVF-PQ, re-scored on int8 (format version 2; split: version 3)"),
    ("ivfpq-pq", "IVF-PQ, PQ codes alone"),
]
SHOPS = [("rees46-oct2019", "REES46 (target shop, no titles)"), ("amazon-scientific", "Amazon Scientific (titles)")]


def build(work, shop, kind):
    log = open(os.path.join(work, f"{shop}-{kind}.log")).read()
    secs = float(open(os.path.join(work, f"{shop}-{kind}.time")).read())
    size = os.path.getsize(os.path.join(work, f"{shop}-{kind}.catalog"))
    items = re.search(r"\((\d+) items, \d+ bytes", log)
    recall = re.search(r"recall@20 vs the exact f32 scan over (\d+) held-out queries: ([0-9.]+)", log)
    ivf = re.search(r"IVF-PQ: (\d+) lists, (\d+) sub-spaces, nprobe (\d+)", log)
    return {
        "items": int(items.group(1)) if items else None,
        "bytes": size,
        "seconds": secs,
        "recall": (int(recall.group(1)), float(recall.group(2))) if recall else None,
        "ivf": tuple(int(x) for x in ivf.groups()) if ivf else None,
    }


def replay(work, kind):
    p = os.path.join(work, f"replay-{kind}", "rees46-target-shop-replay.json")
    d = json.load(open(p))
    rows = {r["name"]: r for r in d["rows"]}
    return {n: (rows[n]["no_repeat"]["r20"]["value"], rows[n]["all"]["r20"]["value"]) for n in ("zero-shot", "device")}, d


def main():
    work, model, git, seconds, out = sys.argv[1:6]
    when = os.path.join(work, "when.txt")  # written by catalog-real.sh at the end of the measurement
    if os.path.exists(when):
        now, loadline = open(when).read().splitlines()[:2]
        load = loadline.split()
    else:
        load = open("/proc/loadavg").read().split()[:3]
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    L = [SECTION, ""]
    L.append(
        f"Measured on {now} (git {git}, model `{model}`, load average {' / '.join(load)} at the end; the "
        f"whole run took {seconds} s), by `make bench-catalog-real` (scripts/research/catalog-real.sh). "
        "The real catalogs of `$NEXTCLICK_DATA`, each built four ways by `nextclick catalog` for the same model. "
        "*recall@20* is against the exact f32 scan, on real session vectors: the model's vectors of the "
        "first 400 sessions of the shop's events.csv; IVF-PQ's `nprobe` is calibrated on the even ones "
        "(`--target-recall 0.95`, the builder's default since this run) and recall is measured on the odd "
        "200 (held out). The PQ-only catalog probes the same lists. *build* is the whole command's wall "
        "time (item text embeddings come from the cache)."
    )
    L.append("")
    L.append("| catalog | kind | bytes | lists / sub-spaces / nprobe | recall@20 (held-out sessions) | build |")
    L.append("|---|---|---|---|---|---|")
    for shop, label in SHOPS:
        for kind, desc in KINDS:
            b = build(work, shop, kind)
            ivf = f"{b['ivf'][0]} / {b['ivf'][1]} / {b['ivf'][2]}" if b["ivf"] else "—"
            rec = "1 (exact)" if kind == "f32" else (f"{b['recall'][1]:.3f} ({b['recall'][0]} queries)" if b["recall"] else "n/a")
            L.append(f"| {label}, {b['items']:,} items | {desc} | {b['bytes']:,} | {ivf} | {rec} | {b['seconds']:.1f} s |")
    L.append("")
    base, d0 = replay(work, "f32")
    L.append(
        f"**REES46 replay on each catalog** (`nextclick eval --target $NEXTCLICK_DATA/rees46-oct2019 --model {model} "
        "--catalog CATALOG --rows zero-shot,device`; the protocol of docs/results.md, "
        f"{d0['rows'][0]['no_repeat']['n']:,} no-repeat and {d0['rows'][0]['all']['n']:,} all targets). "
        "Δ is the difference to the exact f32 catalog on the same targets (above 0: better than exact); the "
        "issue's goal is |Δ Recall@20| ≤ 0.005. IVF-PQ probes the lists of the session's last 8 items besides "
        "the nearest ones (`Catalog::search_near`); without that, on 2026-12-07 before b2b47d5, the re-scored "
        "row was 0.2037 / 0.2780 / 0.2835 / 0.3761 (Δ −0.0014 / −0.0061 / −0.0030 / −0.0078: not within, "
        "the repeats of the session's own items were missed). "
        "Each figure's own 95% interval is about ±0.02 (docs/results.md), so a Δ of this size is a paired "
        "difference of the same replay, not a change a second data set would be sure to show."
    )
    L.append("")
    L.append("| catalog | zero-shot R@20 no-repeat (Δ) | zero-shot R@20 all (Δ) | on-device R@20 no-repeat (Δ) | on-device R@20 all (Δ) | within 0.005? |")
    L.append("|---|---|---|---|---|---|")
    for kind, desc in KINDS:
        r, _ = replay(work, kind)
        cells, ok = [], True
        for row in ("zero-shot", "device"):
            for j in (0, 1):
                v, dv = r[row][j], r[row][j] - base[row][j]
                ok = ok and abs(dv) <= 0.005 + 1e-12
                cells.append(f"{v:.4f}" + ("" if kind == "f32" else f" ({dv:+.4f})"))
        verdict = "—" if kind == "f32" else ("**yes**" if ok else "**no**")
        L.append(f"| {desc} | " + " | ".join(cells) + f" | {verdict} |")
    L.append("")
    # between keep markers: a full `make bench` (bench/run.mjs) keeps the section where it was
    text = BEGIN + "\n" + "\n".join(L) + "\n" + END + "\n"
    doc = open(out).read()
    start, end = doc.find(BEGIN), doc.find(END)
    if start < 0:
        doc = doc.rstrip("\n") + "\n\n" + text
    else:
        doc = doc[:start] + text + doc[end + len(END) + 1:]
    open(out, "w").write(doc)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
