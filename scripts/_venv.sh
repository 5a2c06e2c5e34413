# Shared by scripts/quickstart and scripts/test: make .venv with Python 3.11+ and install into it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "federatie needs Python 3.11 or newer as '$PYTHON' (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | grep -v '^WARNING: Location' >&2 || true
install_extras() {
  .venv/bin/python -m pip install --quiet -e ".$1" 2>&1 | grep -v '^WARNING: Location' >&2 || true
  .venv/bin/python -c 'import federatie' || { echo "installation failed" >&2; exit 1; }
}
