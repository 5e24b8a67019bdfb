#!/usr/bin/env bash
# One entry point for a new user.
#   ./run.sh          set everything up (venv, models, index) and open the browser chat
#   ./run.sh test     set everything up and run the test suite (what CI runs)
#   ./run.sh setup    set up only
# Downloads and builds are cached in $ASSISTANT_HOME (default ~/.cache/nl-gov-assistant; macOS
# ~/Library/Caches/nl-gov-assistant):
# models/ (about 2.8 GB), pip/ (wheels, including the compiled llama-cpp-python).
set -euo pipefail
cd "$(dirname "$0")"
if [ "$(uname -s)" = Darwin ]; then
  export ASSISTANT_HOME="${ASSISTANT_HOME:-$HOME/Library/Caches/nl-gov-assistant}"
else
  export ASSISTANT_HOME="${ASSISTANT_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/nl-gov-assistant}"
fi
export PIP_CACHE_DIR="$ASSISTANT_HOME/pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1
mode="${1:-chat}"
PY="${PYTHON:-python3}"
VENV="${ASSISTANT_VENV:-.venv}"

step() { printf '\n==> %s\n' "$*" >&2; }

# Scanned PDFs are read by Tesseract with its Dutch model (Debian packages); without them such PDFs
# are skipped with a message naming the packages, and so are the OCR tests.
ensure_tesseract() {
  if command -v tesseract >/dev/null 2>&1 && tesseract --list-langs 2>/dev/null | grep -qx nld; then
    return 0
  fi
  step "installing Tesseract and its Dutch model for scanned PDFs (tesseract-ocr tesseract-ocr-nld)"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && apt-get install -y -qq tesseract-ocr tesseract-ocr-nld >/dev/null) \
      || echo "could not install Tesseract: scanned PDFs will be skipped" >&2
  else
    echo "Tesseract with Dutch not found (sudo apt-get install tesseract-ocr tesseract-ocr-nld): scanned PDFs will be skipped" >&2
  fi
}

if [ ! -x "$VENV/bin/python" ]; then
  step "creating virtual environment in $VENV"
  "$PY" -m venv "$VENV"
fi
# What to install: the user's chat needs the [export] extra (torch, to make the ONNX export of the
# embedder once); the tests need [test] (export + eval + pg + pytest, playwright, pgserver).
extras=export
[ "$mode" = test ] && extras=test
# Reinstall when pyproject.toml, the lock or the extras change (hashed in Python: macOS has no sha256sum).
stamp="$VENV/.installed-$("$VENV/bin/python" -c 'import hashlib,sys; print(hashlib.sha256(open("pyproject.toml","rb").read()+open("requirements.lock","rb").read()+sys.argv[1].encode()).hexdigest()[:16])' "$extras")"
if [ ! -f "$stamp" ]; then
  step "installing Python packages [$extras] (first time: builds llama-cpp-python, ~10 min on 2 cores; cached after)"
  "$VENV/bin/pip" install --quiet --upgrade pip
  # The CPU build of torch first, pinned, so nothing pulls the multi-GB CUDA build (Linux: PyTorch's CPU
  # wheel index; macOS wheels are CPU-only anyway).
  if [ "$(uname -s)" = Linux ]; then
    # --no-deps: only torch itself is looked up there (torch's own dependencies come with the next
    # step, pinned); a machine that cannot reach that index loses seconds, not one retry per package.
    "$VENV/bin/pip" install --quiet --no-deps torch==2.13.0 --extra-index-url https://download.pytorch.org/whl/cpu
  fi
  # requirements.lock as constraints: every package at its pinned version.
  "$VENV/bin/pip" install --quiet -c requirements.lock -e ".[$extras]"
  touch "$stamp"
fi
A="$VENV/bin/assistant"

case "$mode" in
  chat|setup)
    ensure_tesseract
    # The rest is `assistant setup`, as in run.ps1 on Windows: checks (naming the fix for anything
    # missing), models into $ASSISTANT_HOME/models (sha256-verified, skipped when present), the ONNX
    # export, seeds/ indexed (incremental). Only the Debian packages are installed here.
    "$A" setup
    if [ "$mode" = chat ]; then
      step "starting the browser chat"
      exec "$A" chat "${@:2}"
    fi
    ;;
  test)
    ensure_tesseract
    if ! command -v chromium >/dev/null 2>&1; then
      step "installing Debian's chromium for the browser test"
      if [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "could not install chromium: browser test will be skipped" >&2
      else
        echo "chromium not found (sudo apt-get install chromium): browser test will be skipped" >&2
      fi
    fi
    # As for chat, plus the small test LLM; no first index (the tests build their own).
    "$A" setup --small --no-index
    step "running tests"
    set +e
    "$VENV/bin/python" -m pytest -ra "${@:2}"
    rc=$?
    set -e
    if [ "$rc" = 5 ]; then
      echo "pytest collected no tests: treating as a failure" >&2
      exit 1
    fi
    exit "$rc"
    ;;
  *)
    echo "usage: ./run.sh [chat|test|setup] [extra args]" >&2
    exit 2
    ;;
esac
