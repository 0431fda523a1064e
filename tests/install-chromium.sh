#!/usr/bin/env sh
# The Debian packages the browser tests need: Chromium and its WebDriver (chromium,
# chromium-driver). Does nothing when both are on the PATH; otherwise installs them with apt-get,
# through sudo when not root.
set -eu
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then as_root=""; else as_root="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || {
    $as_root apt-get update -q >/dev/null
    $as_root apt-get install -y -q chromium chromium-driver >/dev/null
}
