#!/usr/bin/env bash
# Set up a fresh Debian 12 machine, build evident, then run the demo or the test suite.
#
#   scripts/setup.sh demo    install packages, build, run the demo (scripts/demo.sh)
#   scripts/setup.sh test    install packages, build, run every test (scripts/test.sh)
#
# Needs root or sudo for apt-get. Safe to run again: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(meson ninja-build pkg-config gcc clang clang-format libclang-rt-14-dev
          libssl-dev libjansson-dev libcmocka-dev libqrencode-dev libyaml-dev libpcre2-dev libzstd-dev
          golang-go golang-golang-x-mod-dev xxd python3
          bandit chromium fonts-dejavu-core
          libmicrohttpd-dev libcurl4-openssl-dev libsystemd-dev
          rsyslog bsdutils curl openssl systemd
          util-linux mount   # test-disk.sh: mount, umount, mountpoint, fallocate
          faketime)          # test-disk.sh: entries two hours old, for retention.min_age

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

[ -d build ] || meson setup build >/dev/null
meson compile -C build >/dev/null

case "${1:-}" in
demo) exec scripts/demo.sh build/src/cli/evident build/src/daemon/evidentd ;;
test) exec scripts/test.sh ;;
*) echo "usage: scripts/setup.sh demo|test" >&2; exit 2 ;;
esac
