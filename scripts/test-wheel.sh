#!/usr/bin/env bash
# Test a built wheel the way a user gets it (scripts/build-wheels.sh runs this on dist/*.whl).
#
#   bash scripts/test-wheel.sh dist/tinyfq_native-...-cp313-...x86_64.whl
#   bash scripts/test-wheel.sh dist/tinyfq_native-...-cp311-...aarch64.whl      (under qemu)
#   bash scripts/test-wheel.sh --compare X86_64.whl AARCH64.whl   (both cp311: scores alike?)
#
# x86_64: a fresh venv (build/wheels/test-<tag>-x86_64) of the pyenv CPython of the wheel's tag,
# `pip install WHEEL pytest` (numpy and tqdm from the index), then, with a PATH that holds only
# the venv and a few basic tools (no compiler; checked), `tinyfq info` (the kernels it picked
# here, and the baseline ones under `qemu-x86_64 -cpu Nehalem`, a CPU without AVX) and the
# runtime tests (tests/, from the repository root, whose python/ is not on sys.path; checked).
# aarch64 (cp311 only): Debian's python3.11 for arm64 unpacked into build/arm64-root (apt-get
# download), run by qemu-aarch64 through build/arm64-bin/python3.11; the wheel, numpy, tqdm and
# pytest installed for it with the host's pip into a --target folder.
# Tests that need an evaluation/training extra (OpenCV, onnxruntime, PIL, Ray) are skipped by
# scripts/wheel_test_plugin.py. Appends "<wheel>\t<pytest summary>" to build/wheels/tests.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
W=build/wheels
DATA=${TINYFQ_DATA:-$(cd .. && pwd)/shared/data}
export TINYFQ_DATA=$DATA
mkdir -p "$W"
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo

source scripts/wheel-common.sh  # pyenv_python
host_pip() {  # a pip for `pip install --target --platform`: the build tools' one, else python3's
  if [ -x "$W/tools/bin/pip" ]; then "$W/tools/bin/pip" "$@"; else python3 -m pip "$@"; fi
}

# A PATH of basic tools only: no cc, gcc, g++, c++, clang, zig (the wheel must need none).
TESTBIN=$ROOT/$W/testbin
make_testbin() {
  rm -rf "$TESTBIN"; mkdir -p "$TESTBIN"
  local t
  for t in bash sh env cat ls rm cp mv mkdir ln sed awk grep head tail wc sort cut tr \
           dirname basename readlink realpath find xargs chmod touch mktemp date sleep uname \
           id printenv true false test expr; do
    [ -n "$(command -v "$t")" ] && ln -sf "$(command -v "$t")" "$TESTBIN/$t"
  done
  local c
  for c in cc gcc g++ c++ clang clang++ zig ld; do
    if PATH=$TESTBIN command -v "$c" >/dev/null; then echo "$c is on the test PATH" >&2; exit 1; fi
  done
}

# The aarch64 CPython 3.11 (Debian's) and the libraries it loads, under build/arm64-root.
ARM_ROOT=$ROOT/build/arm64-root
ARM_PY=$ROOT/build/arm64-bin/python3.11
ARM_DEBS="python3.11-minimal libpython3.11-minimal libpython3.11-stdlib python3.11 libc6 zlib1g
  libexpat1 libffi8 libssl3 libbz2-1.0 liblzma5 libsqlite3-0 libstdc++6 libgcc-s1 libncursesw6
  libtinfo6 libreadline8 libuuid1 libdb5.3 libnsl2 libtirpc3 libcrypt1 libgssapi-krb5-2
  libkrb5-3 libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1"
arm64_python() {
  if [ ! -x "$ARM_ROOT/usr/bin/python3.11" ]; then
    echo "== aarch64 CPython 3.11 (Debian, apt-get download) -> build/arm64-root"
    if ! apt-cache show python3.11-minimal:arm64 >/dev/null 2>&1; then
      $SUDO dpkg --add-architecture arm64 && $SUDO apt-get update -q >/dev/null
    fi
    local debs=$ROOT/$W/debs-arm64 p
    mkdir -p "$debs"
    (cd "$debs" && apt-get download -q $(for p in $ARM_DEBS; do echo "$p:arm64"; done) >/dev/null)
    rm -rf "$ARM_ROOT"; mkdir -p "$ARM_ROOT"
    for p in "$debs"/*.deb; do dpkg -x "$p" "$ARM_ROOT"; done
  fi
  # Run by qemu with argv[0] = this script, so that sys.executable starts child interpreters
  # (the tests do) through qemu too; qemu's -L maps /usr/lib/python3.11 into the root.
  mkdir -p "$(dirname "$ARM_PY")"
  local qemu
  qemu=$(command -v qemu-aarch64) || { echo "qemu-aarch64 not found (apt: qemu-user)" >&2; exit 1; }
  printf '#!/bin/sh\nexec %s -L %s -0 "$0" %s/usr/bin/python3.11 "$@"\n' \
    "$qemu" "$ARM_ROOT" "$ARM_ROOT" > "$ARM_PY"
  chmod +x "$ARM_PY"
}

# setup WHEEL: sets PY (the interpreter), PYENVVARS (PATH, PYTHONPATH for it), WHERE (install
# folder) for the wheel's architecture and Python; installs it fresh.
setup() {
  local whl=$1 name tag
  name=$(basename "$whl")
  tag=$(echo "$name" | cut -d- -f3)
  make_testbin
  case $name in
    *x86_64.whl)
      local v=${tag#cp}; v=${v:0:1}.${v:1}
      WHERE=$ROOT/$W/test-$tag-x86_64
      rm -rf "$WHERE"
      "$(pyenv_python "$v")" -m venv "$WHERE"
      "$WHERE/bin/pip" install -q "$whl" pytest
      PY=$WHERE/bin/python
      PYENVVARS=(PATH="$WHERE/bin:$TESTBIN" PYTHONPATH="$ROOT/scripts")
      ;;
    *aarch64.whl)
      [ "$tag" = cp311 ] || { echo "aarch64 tests run with CPython 3.11 only" >&2; exit 2; }
      arm64_python
      WHERE=$ROOT/$W/test-$tag-aarch64
      rm -rf "$WHERE"
      # every manylinux tag glibc 2.36 (Debian 12) runs; pip does not expand --platform itself
      local plats=() i
      for i in $(seq 36 -1 17); do plats+=(--platform "manylinux_2_${i}_aarch64"); done
      host_pip install -q --target "$WHERE" "${plats[@]}" --platform manylinux2014_aarch64 \
        --python-version 3.11 --implementation cp --abi cp311 --only-binary=:all: "$whl" pytest
      PY=$ARM_PY
      PYENVVARS=(PATH="$ROOT/build/arm64-bin:$WHERE/bin:$TESTBIN"
                 PYTHONPATH="$WHERE:$ROOT/scripts")
      ;;
    *) echo "not a linux wheel: $name" >&2; exit 2 ;;
  esac
}
py() { env -i HOME="$HOME" TINYFQ_DATA="$DATA" "${PYENVVARS[@]}" "$PY" "$@"; }

test_wheel() {
  local whl=$1 name
  name=$(basename "$whl")
  echo "== $name"
  setup "$whl"
  local file
  file=$(py -c "import tinyfq_native; print(tinyfq_native.__file__)")
  echo "tinyfq_native: $file"
  [[ $file == "$WHERE"/* ]] || { echo "not the installed package: $file" >&2; exit 1; }
  py -m tinyfq_native.cli info | grep -E "cpu_features|network_kernels|jpeg_decoder|ncnn"
  py -m tinyfq_native.cli info | grep -q "jpeg_decoder: libjpeg-turbo" \
    || { echo "the wheel does not decode JPEG with libjpeg-turbo" >&2; exit 1; }
  if [[ $name == *x86_64.whl ]]; then
    # run-time dispatch: the AVX2+FMA kernels where the CPU has them, the baseline ones elsewhere
    local kernels want=generic
    kernels=$(py -m tinyfq_native.cli info | awk '$1 == "network_kernels:" {print $2}')
    grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && want=avx2
    [ "$kernels" = "$want" ] || { echo "network kernels $kernels, expected $want" >&2; exit 1; }
    local qemu
    if qemu=$(command -v qemu-x86_64); then
      # Nehalem (x86-64-v2, no AVX) rather than qemu64: NumPy 2.3+ itself needs x86-64-v2
      echo "-- a CPU without AVX (qemu-x86_64 -cpu Nehalem):"
      kernels=$(env -i HOME="$HOME" "${PYENVVARS[@]}" "$qemu" -cpu Nehalem "$PY" \
        -m tinyfq_native.cli info | grep -E "cpu_features|network_kernels" | tee /dev/stderr \
        | awk '$1 == "network_kernels:" {print $2}')
      [ "$kernels" = generic ] || { echo "baseline CPU got kernels $kernels" >&2; exit 1; }
    fi
  fi
  local log=$ROOT/$W/pytest-${name%.whl}.log rc=0
  # The tests of the wheel's own source: those of the unpacked sdist that build-wheels.sh built
  # it from (build/wheels/src), else this tree's (TESTS_ROOT overrides). pytest's
  # pythonpath=["."] puts that root first; its python/ (the source package) is not on it, so
  # the tests import the installed tinyfq_native (checked above).
  local troot=${TESTS_ROOT:-$ROOT}
  [ -n "${TESTS_ROOT:-}" ] || [ ! -f "$ROOT/$W/src/tests/conftest.py" ] || troot=$ROOT/$W/src
  echo "tests from $troot"
  # ARM_TESTS: what pytest runs under qemu (default: all of tests/, ~50x slower than native)
  local sel=(tests)
  [[ $name == *aarch64.whl ]] && [ -n "${ARM_TESTS:-}" ] && read -r -a sel <<< "$ARM_TESTS"
  echo "pytest ${sel[*]}"
  (cd "$troot" && py -m pytest -p wheel_test_plugin -p no:cacheprovider \
    -o addopts="-ra --strict-markers --strict-config" --durations=8 -q "${sel[@]}" > "$log" 2>&1) \
    || rc=$?
  grep -E "^(SKIPPED|FAILED|ERROR)" "$log" | sed 's/^/   /' | head -40 || true
  local summary
  summary=$(tail -1 "$log" | sed 's/^=* *//; s/ *=*$//')
  echo "pytest: $summary (log: $log)"
  printf '%s\t%s\n' "$name" "$summary" >> "$ROOT/$W/tests.tsv"
  return $rc
}

# compare X86.whl AARCH64.whl: tinyfq score on the golden crops, the detection photos and
# photos of one LFW folder (--detect) with both wheels (libjpeg-turbo on both); scores must agree within 1e-5.
compare() {
  local out=$ROOT/$W/compare
  mkdir -p "$out"
  mapfile -t crops < <(tail -n +2 tests/data/golden.csv | awk -F, '$2=="crop"{print $1}')
  mapfile -t photos < <(tail -n +2 tests/data/detect.csv | awk -F, '{print $3}' | sort -u)
  # COMPARE_PHOTOS of one LFW folder (default 100; qemu takes ~0.2-0.5 s a photo)
  mapfile -t folder < <(find "$DATA/lfw/images/George_W_Bush" -name '*.jpg' | sort \
    | head -n "${COMPARE_PHOTOS:-100}")
  local arch whl
  for whl in "$1" "$2"; do
    setup "$whl"
    arch=x86_64; [[ $whl == *aarch64.whl ]] && arch=aarch64
    py -m tinyfq_native.cli score -q -o "$out/crops-$arch.csv" "${crops[@]/#/$DATA/}" || true
    py -m tinyfq_native.cli score -q --detect -o "$out/photos-$arch.csv" "${photos[@]/#/$DATA/}" || true
    py -m tinyfq_native.cli score -q --detect -o "$out/folder-$arch.csv" "${folder[@]}" || true
  done
  local what rc=0
  for what in crops photos folder; do
    env -i PATH="$PATH" "$(pyenv_python 3.11)" - "$out/$what-x86_64.csv" "$out/$what-aarch64.csv" \
      "$what" <<'EOF' || rc=1
import csv, sys
def rows(path):  # after the "# tinyfq {options}" line that begins tinyfq score's CSV
    f = open(path, newline="")
    if not f.readline().startswith("# tinyfq "):
        f.seek(0)
    return {r["path"]: r for r in csv.DictReader(f)}
a, b = rows(sys.argv[1]), rows(sys.argv[2])
assert a.keys() == b.keys() and a, "different rows"
ok = [p for p in a if a[p]["status"] == "ok"]
same_status = all(a[p]["status"] == b[p]["status"] for p in a)
d = max((abs(float(a[p]["score"]) - float(b[p]["score"])) for p in ok), default=0.0)
print(f"{sys.argv[3]}: {len(a)} rows, {len(ok)} ok, statuses equal: {same_status}, "
      f"max |aarch64 - x86_64| = {d:.2g}")
sys.exit(0 if same_status and ok and d <= 1e-5 else 1)
EOF
  done
  return $rc
}

if [ "${1:-}" = --compare ]; then
  [ $# = 3 ] || { echo "usage: $0 --compare X86_64.whl AARCH64.whl" >&2; exit 2; }
  compare "$2" "$3"
else
  [ $# = 1 ] || { echo "usage: $0 WHEEL | --compare X86_64.whl AARCH64.whl" >&2; exit 2; }
  test_wheel "$1"
fi
