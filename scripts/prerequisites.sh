#!/usr/bin/env bash
# Installs the Debian packages named as arguments that are not installed yet (with sudo when not
# root): zlib1g-dev (permessage-deflate links zlib) and openssl (development certificates) before
# building, postgresql for scripts/postgres.sh, nginx-light and haproxy for make bench.
#
#   scripts/prerequisites.sh PACKAGE...
set -euo pipefail

missing=()
for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "prerequisites.sh: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "prerequisites.sh: cannot install ${missing[*]}; run: apt-get install ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
