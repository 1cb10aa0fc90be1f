#!/usr/bin/env bash
# Set-up for `npm test` on a fresh machine: everything the suites need beyond node_modules.
# - Debian's chromium for the browser suites (Karma, the demo, webgl/webgpu layer parity),
#   installed when missing and apt-get can run as root; otherwise the reason is printed and
#   the browser suites fail at launch.
# - tfjs-node's native binding, built against TensorFlow's CPU wheel (scripts/setup_tfjs_node.mjs),
#   when the package defines that step.
# Idempotent: a second run finds everything in place and changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

chromium_bin=${CHROME_BIN:-/usr/bin/chromium}
if [ -x "$chromium_bin" ]; then
  echo "setup: chromium present ($chromium_bin)"
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "setup: installing Debian's chromium for the browser suites"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
  echo "setup: chromium $(/usr/bin/chromium --version 2>/dev/null | grep -o '[0-9.]*' | head -n 1) installed"
else
  echo "setup: no chromium at $chromium_bin and no root apt-get to install it;" \
       "install Debian's chromium (or set CHROME_BIN) for the browser suites" >&2
fi

if node -e "process.exit(require('./package.json').scripts['setup:tfjs-node'] ? 0 : 1)"; then
  npm run --silent setup:tfjs-node
fi
