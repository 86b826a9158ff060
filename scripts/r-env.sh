#!/usr/bin/env bash
# Make sure R has the packages the reference scripts use, installing them from Debian when missing
# (as root): each argument is an R package, installed as Debian's r-cran-<name>.
#
#   scripts/r-env.sh survival rpact && Rscript scripts/some_script.R
set -euo pipefail
[ "$#" -gt 0 ] || { echo "usage: scripts/r-env.sh PACKAGE..." >&2; exit 2; }
libraries=$(printf 'library(%s); ' "$@")
if Rscript -e "$libraries" >/dev/null 2>&1; then
    exit 0
fi
debs=$(printf 'r-cran-%s ' "$@")
if [ "$(id -u)" != 0 ]; then
    echo "R with $* is missing: run this script as root to install $debs" >&2
    exit 1
fi
apt-get update >&2
# shellcheck disable=SC2086 # one word per package
DEBIAN_FRONTEND=noninteractive apt-get install -y $debs >&2
