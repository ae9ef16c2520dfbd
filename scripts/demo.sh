#!/usr/bin/env bash
# Set up and run the demo on the embedded store: a day of portal traffic with attacks and personal
# data, through collection, detection and classification; then serve the API and console.
# Extra arguments go to `sentinel demo` (e.g. --seed 11 --no-serve).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SENTINEL_DATA_DIR="${SENTINEL_DATA_DIR:-$PWD/data}"
exec .venv/bin/sentinel demo "$@"
