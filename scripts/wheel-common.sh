# Shared by scripts/build-wheels.sh and scripts/test-wheel.sh (sourced).

pyenv_python() {  # 3.11 -> the newest pyenv 3.11.x interpreter
  local v
  v=$(pyenv versions --bare | grep -E "^${1//./\\.}\.[0-9]+$" | sort -V | tail -1)
  [ -n "$v" ] || { echo "no pyenv CPython $1" >&2; return 1; }
  echo "$(pyenv root)/versions/$v/bin/python"
}
