#!/usr/bin/env bash
# The Python reference environment the fixture scripts run in, with the exact package versions
# the committed fixtures were made with (so regenerating them gives the same bytes).
#
#   Tools/ref_env.sh           $REF_VENV (default .venv-ref): torch, transformers, gguf, sentencepiece,
#                              safetensors, tokenizers, pillow, numpy, scikit-image (sample photos)
#   Tools/ref_env.sh --light   $REF_VENV_LIGHT (default .venv-gguf): gguf, numpy, safetensors only
#                              (what CI needs to check converter output; no torch download)
#
# Creates the virtual environment if missing, installs the pins only when an installed version
# differs, and prints the environment's python path on stdout (everything else goes to stderr),
# so `PY=$(Tools/ref_env.sh)` works. Needs Python >= 3.11 (numpy 2.4); set PYTHON to choose one.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
full_pins=(torch==2.15.0 transformers==5.24.0 gguf==0.19.0 safetensors==0.8.0 tokenizers==0.23.3
           pillow==13.0.0 numpy==2.4.6 scikit-image==0.26.0 sentencepiece==0.2.3 protobuf==7.36.2)
light_pins=(gguf==0.19.0 numpy==2.4.6 safetensors==0.8.0)

case "${1:-}" in
  "") venv="${REF_VENV:-$root/.venv-ref}"; pins=("${full_pins[@]}") ;;
  --light) venv="${REF_VENV_LIGHT:-$root/.venv-gguf}"; pins=("${light_pins[@]}") ;;
  -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: Tools/ref_env.sh [--light]" >&2; exit 2 ;;
esac

find_python() {
  local candidates=("${PYTHON:-}")
  [[ -n "${PYTHON:-}" ]] || candidates=(python3.13 python3.12 python3.11 python3)
  for p in "${candidates[@]}"; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      command -v "$p"
      return 0
    fi
  done
  echo "ref_env.sh: no Python >= 3.11 found (set PYTHON=/path/to/python3.11+)" >&2
  return 1
}

if [[ ! -x "$venv/bin/python" ]]; then
  python="$(find_python)"
  echo "ref_env.sh: creating $venv with $python" >&2
  if ! "$python" -m venv "$venv" >&2; then
    echo "ref_env.sh: '$python -m venv' failed (Debian/Ubuntu: apt-get install python3-venv)" >&2
    exit 1
  fi
fi

# Exit status 0 when every pin is installed at exactly its version.
pins_satisfied() {
  "$venv/bin/python" - "${pins[@]}" <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version

def installed(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return None

sys.exit(any(installed(name) != want for name, want in (pin.split("==") for pin in sys.argv[1:])))
EOF
}

if ! pins_satisfied; then
  echo "ref_env.sh: installing ${pins[*]} into $venv" >&2
  "$venv/bin/python" -m pip install --disable-pip-version-check "${pins[@]}" >&2
  pins_satisfied || { echo "ref_env.sh: pinned versions still not installed" >&2; exit 1; }
fi

echo "$venv/bin/python"
