#!/usr/bin/env bash
# Installs geoembed and everything it needs into the active Python (use a virtual environment if you like).
# Idempotent: re-running it installs nothing that is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

# torch and torchvision first, as a matching pair. On x86_64 Linux with Python 3.11 we pin the pair that this
# project is tested with (torch 2.14.1 + torchvision 0.29.1); elsewhere pip picks the newest matching pair.
# Avoid torch==2.13.0 alone: torchvision has no build for it here and fails to import ("torchvision::nms").
if ! "$PY" -c "import torch, torchvision" >/dev/null 2>&1; then
  if [ "$(uname -m)" = "x86_64" ] && "$PY" -c "import sys; sys.exit(sys.version_info[:2] != (3, 11))"; then
    "$PY" -m pip install --quiet "torch==2.14.1" "torchvision==0.29.1"
  else
    "$PY" -m pip install --quiet torch torchvision
  fi
fi

"$PY" -m pip install --quiet -e ".[test,dask]"
"$PY" -m pip install --quiet -e plugins/geoembed_geoclip -e plugins/torchspatial -e plugins/satclip -e plugins/climplicit -e plugins/mind \
  -e plugins/taxabind
"$PY" -c "import geoembed, torch; print('geoembed', geoembed.__version__, 'with torch', torch.__version__, 'ready')"
