# Sourced by scripts/studio and scripts/test: makes sure a virtual environment with
# Latent Studio installed exists, and reuses it when nothing it depends on changed.
# LATENT_STUDIO_VENV picks where it lives (CI keeps one outside the clone).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LATENT_STUDIO_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)-$($PY -c 'import sys; print(sys.version.split()[0])')"
stamp="$VENV/.latent-studio-deps"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "Setting up the environment in $VENV (the first time downloads PyTorch: several minutes)..." >&2
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT[dev]"
    echo "$want" > "$stamp"
else
    # Dependencies unchanged: only point the editable install at this checkout (seconds).
    "$VENV/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e "$ROOT"
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
