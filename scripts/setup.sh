#!/usr/bin/env bash
# Everything a fresh Debian machine with Node 20 needs before the mesh runs or its tests do.
# Idempotent: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

# 1. node modules. onnxruntime-node's install step would download CUDA binaries from outside the
#    npm registry; its CPU binaries ship in the package, so that step is skipped (README: GPU).
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing node modules"
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
fi

# 2. nats-server >= 2.10 (bookworm's 2.9 differs on dead letters), from Debian trixie through the
#    mirror this machine already uses.
bash scripts/install-nats-server.sh

# 3. build every project (Nx skips what is up to date).
log "building"
npx nx run-many -t build --outputStyle=static >&2

# 4. the matting model, reassembled once from @imgly/background-removal-data.
node apps/matting/dist/prepare-model.js
