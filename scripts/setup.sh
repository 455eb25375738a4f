#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine: Debian packages, then a .venv with the project.
# A second run only checks (dpkg status, a stamp of pyproject.toml) and returns in about a second.
# --test (what `make test` runs) adds PostgreSQL, which only the central's tests need.
set -euo pipefail
cd "$(dirname "$0")/.."

DEB_PACKAGES=(
  pcscd vsmartcard-vpcd libpcsclite-dev swig    # PC/SC stack, vpcd for simulated cards, pyscard build
  libzbar0                                       # pyzbar's QR decoder
  fonts-wqy-microhei                             # a CJK font for the screens and tickets
  espeak-ng                                      # offline voice (Mandarin)
  libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0  # Qt offscreen
  chromium                                       # headless browser for the central's web page tests
)
if [ "${1:-}" = "--test" ]; then
  DEB_PACKAGES+=(postgresql)                     # the central service's PostgreSQL tests
elif [ -n "${1:-}" ]; then
  echo "setup: unknown option $1 (only --test)" >&2
  exit 2
fi

missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# pip on some images warns about every package for a configured local index that is absent; hide that line.
quiet_pip() {
  "$@" 2>&1 | { grep -vE "^WARNING: Location '.*' is ignored" || true; }
  return "${PIPESTATUS[0]}"
}

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.linfen-setup-stamp
want=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing the project and its test extras into .venv"
  quiet_pip .venv/bin/python -m pip install -q --upgrade pip
  quiet_pip .venv/bin/python -m pip install -q -e '.[test]'
  echo "$want" > "$stamp"
fi

# The voice's clips are rendered once (a few seconds the first time, nothing after), so no kiosk waits for synthesis.
.venv/bin/python -m kiosk.voice --warm >/dev/null || echo "setup: the voice clips could not be rendered now; the kiosk renders them on first use"
