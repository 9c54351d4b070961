#!/usr/bin/env bash
# Cross-build the C++ core and tinyfq-score for aarch64 with libjpeg-turbo (Debian's arm64
# package, as the aarch64 wheel has it), run the C++ tests under qemu (the detector's golden
# test among them), and check that tinyfq-score under qemu gives the x86 build's scores, libjpeg
# decoding JPEG on both: on the golden images and a sample of LFW photos as crops, and with
# --detect on the detection golden photos.
#   bash scripts/arm64.sh            (installs the cross toolchain, qemu and the arm64
#                                     libjpeg with apt when missing)
#   LFW_SAMPLE=400 bash scripts/arm64.sh   (LFW photos compared; default 200)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${TINYFQ_DATA:-$(cd .. && pwd)/shared/data}
JOBS=${JOBS:-$(nproc)}
LFW_SAMPLE=${LFW_SAMPLE:-200}
source scripts/wheel-common.sh  # jpeg_sysroot

if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  echo "== installing g++-aarch64-linux-gnu and qemu-user (apt)"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q g++-aarch64-linux-gnu qemu-user
fi
GEN=; command -v ninja >/dev/null && GEN="-G Ninja"
# build/sysroot/aarch64/{include,lib}: jpeglib.h and friends, libjpeg.so.62 of arm64
jpeg_sysroot aarch64
JPEG_ROOT=$PWD/build/sysroot/aarch64

echo "== x86-64 build (reference scores)"
cmake -S . -B build/cpp $GEN -DCMAKE_BUILD_TYPE=Release -DTINYFQ_DATA_ROOT="$DATA" >/dev/null
cmake --build build/cpp -j "$JOBS"
echo "== aarch64 cross build, libjpeg-turbo from $JPEG_ROOT"
# libjpeg by path (its folder goes into the programs' run path, where qemu's loader finds it)
cmake -S . -B build/aarch64 $GEN -DCMAKE_BUILD_TYPE=Release -DTINYFQ_DATA_ROOT="$DATA" \
  -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.toolchain.cmake \
  -DJPEG_INCLUDE_DIR="$JPEG_ROOT/include" -DJPEG_LIBRARY_RELEASE="$JPEG_ROOT/lib/libjpeg.so.62" \
  >/dev/null
cmake --build build/aarch64 -j "$JOBS"
SCORE=build/aarch64/cpp/tinyfq-score
aarch64-linux-gnu-readelf -h $SCORE | grep -q AArch64
aarch64-linux-gnu-readelf -d $SCORE | grep -q 'NEEDED.*libjpeg\.so\.62' \
  || { echo "the aarch64 tinyfq-score does not link libjpeg" >&2; exit 1; }
QEMU=(qemu-aarch64 -L /usr/aarch64-linux-gnu)

echo "== C++ tests under qemu-aarch64"
ctest --test-dir build/aarch64 --output-on-failure --no-tests=error

# compare X86.csv AARCH64.csv WHAT TOLERANCE: tinyfq-score rows of both builds (path, score,
# status, message), the same paths in the same order, all ok, scores within TOLERANCE
compare() {
  paste -d, "$1" "$2" | tail -n +2 | awk -F, -v what="$3" -v tol="$4" '
    { d = $2 - $6; if (d < 0) d = -d; if (d > m) m = d; n++
      if ($1 != $5 || $3 != "ok" || $7 != "ok") bad++ }
    END { printf "%d %s, max |aarch64 - x86_64| = %.2g (tolerance %g)\n", n, what, m, tol
          exit (n == 0 || bad || m > tol) }'
}

# Scores are printed with 6 decimals: 1e-5 is the tolerance the scorers' float arithmetic
# (FMA on x86, NEON on aarch64) has to meet once both decode the same pixels.
echo "== tinyfq-score: aarch64 (qemu) vs x86-64 on the golden images, libjpeg on both"
mapfile -t imgs < <(tail -n +2 tests/data/golden.csv | awk -F, '$2=="crop"{print $1}')
paths=("${imgs[@]/#/$DATA/}")
build/cpp/cpp/tinyfq-score "${paths[@]}" > build/golden-x86_64.csv
"${QEMU[@]}" $SCORE "${paths[@]}" > build/golden-aarch64.csv
compare build/golden-x86_64.csv build/golden-aarch64.csv "images" 1e-5
echo "== tinyfq-score: aarch64 (qemu) vs x86-64 on $LFW_SAMPLE LFW photos, libjpeg on both"
mapfile -t lfw < <(find "$DATA/lfw/images" -name '*.jpg' | LC_ALL=C sort \
  | awk -v n="$LFW_SAMPLE" '{ a[NR] = $0 } END {
      step = NR / n; for (i = 0; i < n && i * step < NR; i++) print a[int(i * step) + 1] }')
build/cpp/cpp/tinyfq-score "${lfw[@]}" > build/lfw-x86_64.csv
"${QEMU[@]}" $SCORE "${lfw[@]}" > build/lfw-aarch64.csv
compare build/lfw-x86_64.csv build/lfw-aarch64.csv "LFW photos" 1e-5
echo "== tinyfq-score --detect: aarch64 (qemu) vs x86-64 on the detection golden photos"
mapfile -t photos < <(tail -n +2 tests/data/detect.csv | awk -F, '$1=="libjpeg"{print $3}' | sort -u)
ppaths=("${photos[@]/#/$DATA/}")
build/cpp/cpp/tinyfq-score --detect "${ppaths[@]}" > build/detect-x86_64.csv
"${QEMU[@]}" $SCORE --detect "${ppaths[@]}" > build/detect-aarch64.csv
compare build/detect-x86_64.csv build/detect-aarch64.csv "photos detected and scored" 1e-5
ls -l build/aarch64/cpp/libtinyfq.a $SCORE build/aarch64/_deps/ncnn-build/src/libncnn.a \
  | awk '{print $5, $9}'
echo "== aarch64: all passed"
