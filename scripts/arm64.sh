#!/usr/bin/env bash
# Cross-build the C++ core and tinyfq-score for aarch64, run the C++ tests under qemu (the
# detector's golden test among them), and check that tinyfq-score under qemu matches the x86
# build on the golden images, as crops and with --detect.
#   bash scripts/arm64.sh            (installs the cross toolchain and qemu with apt when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${TINYFQ_DATA:-$(cd .. && pwd)/shared/data}
JOBS=${JOBS:-$(nproc)}

if ! command -v aarch64-linux-gnu-g++ >/dev/null || ! command -v qemu-aarch64 >/dev/null; then
  echo "== installing g++-aarch64-linux-gnu and qemu-user (apt)"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q g++-aarch64-linux-gnu qemu-user
fi
GEN=; command -v ninja >/dev/null && GEN="-G Ninja"

echo "== x86-64 build (reference scores)"
cmake -S . -B build/cpp $GEN -DCMAKE_BUILD_TYPE=Release -DTINYFQ_DATA_ROOT="$DATA" >/dev/null
cmake --build build/cpp -j "$JOBS"
echo "== aarch64 cross build"
cmake -S . -B build/aarch64 $GEN -DCMAKE_BUILD_TYPE=Release -DTINYFQ_DATA_ROOT="$DATA" \
  -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.toolchain.cmake >/dev/null
cmake --build build/aarch64 -j "$JOBS"
aarch64-linux-gnu-readelf -h build/aarch64/cpp/tinyfq-score | grep -q AArch64

echo "== C++ tests under qemu-aarch64"
ctest --test-dir build/aarch64 --output-on-failure --no-tests=error

# compare X86.csv AARCH64.csv WHAT: tinyfq-score rows of both builds, all ok, scores within 1e-4
compare() {
  paste -d, "$1" "$2" | tail -n +2 | awk -F, -v what="$3" '
    { d = $2 - $6; if (d < 0) d = -d; if (d > m) m = d; n++
      if ($3 != "ok" || $7 != "ok") bad++ }
    END { printf "%d %s, max |aarch64 - x86_64| = %.2g\n", n, what, m
          exit (n == 0 || bad || m > 1e-4) }'
}

echo "== tinyfq-score: aarch64 (qemu) vs x86-64 on the golden images"
mapfile -t imgs < <(tail -n +2 tests/data/golden.csv | awk -F, '$2=="crop"{print $1}')
paths=("${imgs[@]/#/$DATA/}")
# The cross build has no libjpeg and decodes with stb_image; so does the x86 one for this check
# (libjpeg rounds differently), so that the comparison is of the scorer, not the decoders.
TINYFQ_DECODER=stb build/cpp/cpp/tinyfq-score "${paths[@]}" > build/golden-x86_64.csv
qemu-aarch64 -L /usr/aarch64-linux-gnu build/aarch64/cpp/tinyfq-score "${paths[@]}" \
  > build/golden-aarch64.csv
compare build/golden-x86_64.csv build/golden-aarch64.csv "images"
echo "== tinyfq-score --detect: aarch64 (qemu) vs x86-64 on the detection golden photos"
mapfile -t photos < <(tail -n +2 tests/data/detect.csv | awk -F, '$1=="stb"{print $3}' | sort -u)
ppaths=("${photos[@]/#/$DATA/}")
TINYFQ_DECODER=stb build/cpp/cpp/tinyfq-score --detect "${ppaths[@]}" > build/detect-x86_64.csv
qemu-aarch64 -L /usr/aarch64-linux-gnu build/aarch64/cpp/tinyfq-score --detect "${ppaths[@]}" \
  > build/detect-aarch64.csv
compare build/detect-x86_64.csv build/detect-aarch64.csv "photos detected and scored"
ls -l build/aarch64/cpp/libtinyfq.a build/aarch64/cpp/tinyfq-score \
  build/aarch64/_deps/ncnn-build/src/libncnn.a | awk '{print $5, $9}'
echo "== aarch64: all passed"
