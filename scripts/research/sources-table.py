#!/usr/bin/env python3
"""The ablation table of `make sources` (issue #22), from what scripts/research/sources.sh wrote.

Usage: sources-table.py WORK ROW...   (WORK = target/sources; a ROW is a folder of it: 0..5, or base, or a
row number with the SOURCES_TAG of its run, e.g. 5b)

Each row folder holds valid/*.json and eval/*.json (`nextclick eval --rows zero-shot,device` on the REES46
history window and on REES46) and, for trained rows, stage{1,2}.log and student.safetensors.report.json.
Prints two Markdown tables on standard output — validation (how candidates are compared: the exported
source's validation NDCG@10, the two stages' epochs and minutes, the history-window replay) and test —
with 95% bootstrap intervals.
"""
import glob
import json
import os
import re
import sys

ALL = ["yoochoose-rsc15-sample", "otto-sample", "diginetica-sample", "retailrocket-cgenet", "tmall-gcegnn"]


def est(e, digits=4):
    if e is None:
        return "n/a"
    return f"{e['value']:.{digits}f} [{e['lo']:.{digits}f}, {e['hi']:.{digits}f}]"


def stage(log):
    """(epochs run, minutes) of one training stage, from its log."""
    if not os.path.exists(log):
        return None
    text = open(log).read()
    epochs = re.findall(r"^epoch (\d+): .*\((\d+) s,", text, re.M)
    if not epochs:
        return None
    n, s = epochs[-1]
    return int(n), int(s) / 60


def load(d, sub):
    js = sorted(glob.glob(f"{d}/{sub}/*.json"))
    if not js:
        return None
    ev = json.load(open(js[0]))
    return {r["name"]: r for r in ev["rows"]}


def describe(work, row):
    """(sources, amazon-games validation N@10, stages) of a row."""
    d = f"{work}/{row}"
    if row == "base":
        card = json.load(open(f"{d}/model.card.json"))
        return (f"the shipped model {card['version']} (`make model`)", f"{card['metrics']['valid_n10']:.4f} (card)", "—")
    m = re.fullmatch(r"(\d+)(\w*)", row)
    k = int(m.group(1))
    sources = " + ".join(ALL[:k]) if k else "none (the control)"
    if m.group(2):
        cmd = open(f"{d}/command.txt").read() if os.path.exists(f"{d}/command.txt") else ""
        cap = re.search(r"--max-minutes (\d+)", cmd)
        sel = re.search(r"--select (\w+)", cmd)
        notes = [f"stages capped at {cap.group(1)} min"] if cap else []
        notes += [f"epochs chosen on the {'mean over the sources' if sel.group(1) == 'mean' else 'amazon-games validation'}"] if sel else []
        sources += f" (run {m.group(2)}" + (": " + ", ".join(notes) if notes else "") + ")"
    rep = f"{d}/student.safetensors.report.json"
    valid = f"{json.load(open(rep))['valid']['n10']:.4f}" if os.path.exists(rep) else "n/a"
    s1, s2 = stage(f"{d}/stage1.log"), stage(f"{d}/stage2.log")
    stages = " + ".join(f"{e} / {m:.1f}" for e, m in (s1, s2)) if s1 and s2 else "n/a"
    return sources, valid, stages


def main():
    work, rows = sys.argv[1], sys.argv[2:]
    print("Validation (the REES46 history window as a shop: how candidates are compared), Recall@20:\n")
    print("| row | sources beside amazon-games | amazon-games valid N@10 | stages: epochs / min "
          "| zero-shot no-repeat | zero-shot all | on-device no-repeat | on-device all |")
    print("|" + "---|" * 8)
    for row in rows:
        sources, valid, stages = describe(work, row)
        v = load(f"{work}/{row}", "valid")
        if v is None:
            print(f"| {row} | {sources} | {valid} | {stages} | (not replayed) | | | |")
            continue
        z, dv = v["zero-shot"], v["device"]
        print(f"| {row} | {sources} | {valid} | {stages} | {est(z['no_repeat']['r20'])} | {est(z['all']['r20'])} "
              f"| {est(dv['no_repeat']['r20'])} | {est(dv['all']['r20'])} |")
    print("\nTest (the REES46 test window, as in `make eval`):\n")
    print("| row | zero-shot R@20 no-repeat | zero-shot R@20 all | zero-shot MRR@20 no-repeat "
          "| zero-shot first-session R@20 | zero-shot repeats in top 20 | on-device R@20 no-repeat "
          "| on-device R@20 all | on-device first-session R@20 | on-device repeats in top 20 | on-device purchase AUC |")
    print("|" + "---|" * 11)
    for row in rows:
        t = load(f"{work}/{row}", "eval")
        if t is None:
            print(f"| {row} | (not replayed) |" + " |" * 9)
            continue
        z, dv = t["zero-shot"], t["device"]
        pa = dv["intent"]["purchase_auc"] if dv.get("intent") else None
        print(f"| {row} | {est(z['no_repeat']['r20'])} | {est(z['all']['r20'])} | {est(z['no_repeat']['mrr20'])} "
              f"| {est(z['first_session']['r20'])} | {est(z['repeats']['r20'])} | {est(dv['no_repeat']['r20'])} "
              f"| {est(dv['all']['r20'])} | {est(dv['first_session']['r20'])} | {est(dv['repeats']['r20'])} | {est(pa, 3)} |")


if __name__ == "__main__":
    main()
