#!/usr/bin/env bash
# Install the package from this tree into a fresh venv per Python version (pyenv's), next to
# the full opencv-python (any OpenCV: the runtime needs none and must not clash with one), then
# score a folder with --detect and run the detection and CLI tests.
#   bash scripts/check-python-versions.sh 3.9 3.13
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${TINYFQ_DATA:-$(cd .. && pwd)/shared/data}
for v in "${@:-3.9 3.13}"; do
  py=$(pyenv prefix "$(pyenv versions --bare | grep -E "^${v//./\\.}(\\.|$)" | tail -1)")/bin/python
  env=build/venv-$v
  echo "== Python $v ($py)"
  rm -rf "$env" && "$py" -m venv "$env"
  "$env/bin/pip" install -q . opencv-python pytest
  "$env/bin/tinyfq" score --detect "$DATA/lfw/images/George_W_Bush" -o "build/scores-$v.csv" -q
  ok=$(grep -c ',ok,' "build/scores-$v.csv")
  echo "Python $v: $ok ok rows"; [ "$ok" -eq 530 ]
  "$env/bin/python" -m pytest -q -p no:cacheprovider -o addopts="" tests/test_detect.py
done
