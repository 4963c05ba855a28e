#!/usr/bin/env bash
# npm packages of the web demo (web_demo/package.json, pinned in package-lock.json): LiteRT.js and
# playwright-core. Runs `npm ci` only when web_demo/node_modules is missing or older than the lock file.
# Without node/npm it says so and exits 0: the web demo's tests then skip with that reason.
set -euo pipefail
cd "$(dirname "$0")/../web_demo"
if ! command -v npm >/dev/null 2>&1; then
  echo "npm not found: skipping the web demo's npm packages (install Node.js 20+ to test web_demo/)" >&2
  exit 0
fi
stamp=node_modules/.package-lock.json  # npm writes it on every install
if [ -f "$stamp" ] && [ "$stamp" -nt package-lock.json ] && [ -d node_modules/@litertjs/core/wasm ]; then
  exit 0
fi
echo "installing the web demo's npm packages (npm ci in web_demo/)"
npm ci --no-audit --no-fund
