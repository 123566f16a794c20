#!/usr/bin/env bash
# Install Debian's Chromium and its WebDriver for the headless-browser report test
# (tests/leaderboard/test_browser.py). Idempotent and quiet: does nothing when both are
# already on PATH. Needs apt-get (as root, or with passwordless sudo).
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium.sh: apt-get not found; install chromium yourself (or set VISIONBENCH_CHROMIUM)" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "chromium.sh: not root and no passwordless sudo; cannot apt-get install chromium" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "chromium.sh: chromium still missing" >&2; exit 1; }
echo "chromium.sh: $(chromium --version 2>/dev/null | head -n1)"
