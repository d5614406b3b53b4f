#!/usr/bin/env bash
# Creates .venv with Python 3.10 and installs the pinned dependencies (requirements.lock).
# Idempotent and quick when nothing changed: the lock file's hash is remembered.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
LOCK=requirements.lock

is_py310() { "$1" -c 'import sys; raise SystemExit(sys.version_info[:2] != (3, 10))' 2>/dev/null; }

find_python() {
  local candidate
  # PATH first, then the usual places a 3.10 is installed without being on PATH.
  for candidate in "${PYTHON:-}" python3.10 python3 python \
      "$HOME"/.pyenv/versions/3.10*/bin/python /root/.pyenv/versions/3.10*/bin/python \
      /usr/local/bin/python3.10 /usr/bin/python3.10; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 && is_py310 "$(command -v "$candidate")"; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}

if [ -x "$VENV/bin/python" ] && ! is_py310 "$VENV/bin/python"; then
  echo "bootstrap: $VENV is not Python 3.10; recreating it" >&2
  rm -rf "$VENV"
fi

if [ ! -x "$VENV/bin/python" ]; then
  if ! PY=$(find_python); then
    cat >&2 <<'MSG'
bootstrap: Python 3.10 is required (Rasa Open Source 3.6 runs on Python 3.8-3.10) and none was found.
  Install one, then run the command again, for example:
    Debian/Ubuntu:  sudo apt-get install python3.10 python3.10-venv   (or use the deadsnakes PPA)
    pyenv:          pyenv install 3.10.13
    macOS:          brew install python@3.10
  Or point to it explicitly:  PYTHON=/path/to/python3.10 make run
MSG
    exit 1
  fi
  echo "bootstrap: creating $VENV with $PY"
  "$PY" -m venv "$VENV"
fi

want=$(sha256sum "$LOCK" | cut -d' ' -f1)
have=$(cat "$VENV/.lock-sha256" 2>/dev/null || true)
if [ "$want" != "$have" ]; then
  echo "bootstrap: installing pinned dependencies (first time: a few minutes)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip uv
  if ! "$VENV/bin/uv" pip sync --python "$VENV/bin/python" "$LOCK"; then
    echo "bootstrap: uv could not install; falling back to pip" >&2
    "$VENV/bin/python" -m pip install --no-deps -r "$LOCK"
  fi
  echo "$want" > "$VENV/.lock-sha256"
fi
