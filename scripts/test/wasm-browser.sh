#!/usr/bin/env bash
# Runs the wasm-bindgen browser tests in exactly one browser and proves it did.
# Usage: scripts/test/wasm-browser.sh chrome|firefox [cargo test args…]
#
# wasm-bindgen's test runner drives the first WebDriver it finds in its environment (GECKODRIVER before
# CHROMEDRIVER), whatever `--chrome` says: each run gets only its own driver's variable, and the run fails
# unless the runner's own line names the browser asked for.
set -euo pipefail
browser=$1; shift
case "$browser" in
  chrome) want="Chrome"; driver_var=CHROMEDRIVER; driver=${CHROMEDRIVER:-/usr/bin/chromedriver} ;;
  firefox) want="Firefox"; driver_var=GECKODRIVER; driver=${GECKODRIVER:-$HOME/.cargo/bin/geckodriver} ;;
  *) echo "usage: $0 chrome|firefox [args]" >&2; exit 2 ;;
esac
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
env -u CHROMEDRIVER -u GECKODRIVER -u SAFARIDRIVER -u MSEDGEDRIVER "$driver_var=$driver" \
  wasm-pack test --headless "--$browser" -- "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
line=$(grep -o "Running headless tests in [A-Za-z]*" "$log" | sort -u || true)
if [ -z "$line" ]; then
  echo "wasm-browser: the runner never said which browser it ran (rc $rc)" >&2; exit 1
fi
if [ "$line" != "Running headless tests in $want" ]; then
  echo "wasm-browser: asked for $want, the runner said: $line" >&2; exit 1
fi
echo "wasm-browser: ran in $want (runner: \"$line\"), rc $rc"
exit "$rc"
