#!/usr/bin/env bash
# Set up and run the whole test suite (plus ruff). Tests that need an Elasticsearch cluster run only
# when SENTINEL_ES_URL is set; the Elasticsearch contract suite runs with client 9 and again with client 8;
# browser tests need Debian's chromium, installed here when run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# Debian packages some tests use: chromium (browser tests), libpcap (live capture with a BPF filter),
# tshark and softflowd (cross-checks of the pcap and NetFlow decoders), faketime (clock-skew fault test).
# Without them those tests skip.
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ldconfig -p 2>/dev/null | grep -q libpcap.so || need+=(libpcap0.8)
command -v tshark >/dev/null 2>&1 || need+=(tshark)
command -v softflowd >/dev/null 2>&1 || need+=(softflowd)
command -v faketime >/dev/null 2>&1 || need+=(faketime)
# apt-get waiting for another install (unattended upgrades, a parallel setup) to release its locks, up to
# 15 minutes, rather than failing at once and leaving the browser tests skipped.
apt_wait() {
  local out rc waited=0
  while :; do
    out=$(apt-get -o DPkg::Lock::Timeout=60 "$@" 2>&1) && rc=0 || rc=$?
    if [ $rc -eq 0 ] || ! grep -qiE "could not get lock|unable to acquire|is another process using it" <<<"$out"; then
      [ $rc -eq 0 ] || echo "$out" >&2
      return $rc
    fi
    [ $waited -ge 900 ] && { echo "$out" >&2; return $rc; }
    [ $waited -eq 0 ] && echo "waiting for another package install to finish ..." >&2
    sleep 15
    waited=$((waited + 15))
  done
}
if [ ${#need[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt_wait update -qq && DEBIAN_FRONTEND=noninteractive apt_wait install -y -qq "${need[@]}" >/dev/null) \
    || echo "warning: could not install ${need[*]}; the tests needing them will be skipped" >&2
fi
.venv/bin/ruff check .
# The Elasticsearch contract suite (tests/store) once more with the oldest supported 8.x client: the default install
# gets client 9, which 8.x clusters refuse. .venv-es8 holds just the two client packages, ahead of .venv's on the path.
if [ ! -d .venv-es8/elasticsearch ]; then
  .venv/bin/python -m pip install --quiet --no-deps --target .venv-es8 'elasticsearch>=8.13,<8.14' 'elastic-transport>=8.13,<9'
fi
PYTHONPATH="$PWD/.venv-es8" .venv/bin/python -m pytest -q -p no:cacheprovider tests/store
# The rest on two processes (the two cores of the machine CI runs on).
exec .venv/bin/python -m pytest -n 2 "$@"
