#!/usr/bin/env bash
# Find (or install once) headless Chromium for the report's browser test, and print its path.
# Uses the Debian package `chromium`, installed with apt-get when run as root. Exits 3 with a
# message on stderr when no Chromium is found and none can be installed (not root, no apt-get, or
# the package cannot be fetched).
#
#   CHROMIUM=$(scripts/chromium.sh) && "$CHROMIUM" --headless --screenshot=page.png file:///.../report.html
set -euo pipefail
find_chromium() {
    for name in chromium chromium-browser google-chrome-stable google-chrome; do
        if command -v "$name" >/dev/null 2>&1; then
            command -v "$name"
            return 0
        fi
    done
    return 1
}
if find_chromium; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "chromium.sh: no Chromium found, and it cannot be installed here (needs root and apt-get: apt-get install chromium)" >&2
    exit 3
fi
{
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
} >&2 || {
    echo "chromium.sh: apt-get install chromium failed (see above)" >&2
    exit 3
}
if ! find_chromium; then
    echo "chromium.sh: apt-get installed chromium but no chromium binary is on PATH" >&2
    exit 3
fi
