#!/usr/bin/env bash
# Item text of a shop without titles (issue #22, item 3): REES46 has category codes, brand and price only.
# Each text template (`nextclick catalog --text-template`) gets a catalog for the default model; the
# choice is made on VALIDATION — the REES46 history window written as a shop of its own (`eval
# --write-history`), whose later part `eval` replays — never on the test window; the test-window rows
# are printed beside it for the record. Zero-shot and on-device head rows, no-repeat and all targets.
# Figures: target/templates/summary.md. Run from the repository root by `make templates`.
set -euo pipefail
cd "$(dirname "$0")/../.."
NEXTCLICK_DATA="${NEXTCLICK_DATA:-$(cd .. && pwd)/shared/data}"
NC=${NEXTCLICK_BIN:-target/release/nextclick}
W=target/templates
MODEL=${TEMPLATES_MODEL:-models/default.onnx}
REES="$NEXTCLICK_DATA/rees46-oct2019"
TEMPLATES=${TEMPLATES:-labelled plain title-like no-price}
test -f "$REES/events.csv" || { echo "make templates: $REES/events.csv not found"; exit 1; }
mkdir -p $W
t0=$(date +%s)
$NC eval --target "$REES" --model "$MODEL" --write-history $W/history --work $W/work > $W/history.log
for t in $TEMPLATES; do
  $NC catalog $W/history/items.csv --model "$MODEL" --text-template "$t" --out $W/$t-valid.catalog 2> $W/$t-valid-catalog.log
  $NC catalog "$REES/items.csv" --model "$MODEL" --text-template "$t" --out $W/$t-test.catalog 2> $W/$t-test-catalog.log
  $NC eval --target $W/history --model "$MODEL" --catalog $W/$t-valid.catalog --rows zero-shot,device \
    --work $W/work --plots $W/plots-$t-valid --out $W/$t-valid.md --title "$t (validation)" > $W/$t-valid.log
  $NC eval --target "$REES" --model "$MODEL" --catalog $W/$t-test.catalog --rows zero-shot,device \
    --work $W/work --plots $W/plots-$t-test --out $W/$t-test.md --title "$t (test)" > $W/$t-test.log
  echo "make templates: $t done at $(( $(date +%s) - t0 )) s"
done
python3 - $W $TEMPLATES <<'PY' | tee $W/summary.md
import re, sys
w, ts = sys.argv[1], sys.argv[2:]
def rows(path):
    out = {}
    for line in open(path):
        c = [x.strip() for x in line.strip().strip("|").split("|")]
        # the first table (next click): its rows also name later tables' rows (intent, regression)
        if len(c) >= 9 and c[0] in ("Zero-shot source model", "+ on-device head (α grown)") and c[0] not in out:
            out[c[0]] = (c[2].split()[0], c[5].split()[0], c[8].split()[0])
    return out
print("| template | valid zero-shot R@20 (no-repeat / all) | valid on-device R@20 (no-repeat / all) | test zero-shot R@20 (no-repeat / all / first session) | test on-device R@20 (no-repeat / all / first session) |")
print("|---|---|---|---|---|")
for t in ts:
    v, x = rows(f"{w}/{t}-valid.md"), rows(f"{w}/{t}-test.md")
    z, d = "Zero-shot source model", "+ on-device head (α grown)"
    print(f"| `{t}` | {v[z][0]} / {v[z][1]} | {v[d][0]} / {v[d][1]} | {' / '.join(x[z])} | {' / '.join(x[d])} |")
PY
echo "make templates: done in $(( $(date +%s) - t0 )) s"
