# Shared by scripts/build-wheels.sh, scripts/test-wheel.sh and scripts/arm64.sh (sourced).

pyenv_python() {  # 3.11 -> the newest pyenv 3.11.x interpreter
  local v
  v=$(pyenv versions --bare | grep -E "^${1//./\\.}\.[0-9]+$" | sort -V | tail -1)
  [ -n "$v" ] || { echo "no pyenv CPython $1" >&2; return 1; }
  echo "$(pyenv root)/versions/$v/bin/python"
}

# libjpeg-turbo of one architecture (x86_64, aarch64: Debian's arm64 packages, unpacked) in
# build/sysroot/<arch>/{include,lib}: headers in one flat folder, libjpeg.so.62 by path, for
# builds that name them (JPEG_INCLUDE_DIR, JPEG_LIBRARY_RELEASE): the wheels and scripts/arm64.sh.
# Only libjpeg is in there, so the zig target sees no other host header (a -isystem
# /usr/include would mix the host's glibc headers into the 2.28 ones).
jpeg_sysroot() {
  local arch=$1 s=build/sysroot/$1
  [ -f "$s/lib/libjpeg.so.62" ] && [ -f "$s/include/jpeglib.h" ] && return 0
  echo "== libjpeg-turbo for $arch -> $s"
  local SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  rm -rf "$s"; mkdir -p "$s/include" "$s/lib" "$s/deb"
  if [ "$arch" = x86_64 ]; then
    local x=/usr/include/x86_64-linux-gnu l=/usr/lib/x86_64-linux-gnu
    if [ ! -f /usr/include/jpeglib.h ] || [ ! -f $l/libjpeg.so.62 ]; then
      $SUDO apt-get install -y -q libjpeg62-turbo-dev >/dev/null
    fi
    cp /usr/include/{jpeglib.h,jerror.h,jmorecfg.h} $x/jconfig.h "$s/include/"
    cp -L $l/libjpeg.so.62 "$s/lib/"
  else
    if ! apt-cache show libjpeg62-turbo:arm64 >/dev/null 2>&1; then
      $SUDO dpkg --add-architecture arm64 && $SUDO apt-get update -q >/dev/null
    fi
    (cd "$s/deb" && apt-get download -q libjpeg62-turbo:arm64 libjpeg62-turbo-dev:arm64 >/dev/null)
    for d in "$s"/deb/*.deb; do dpkg -x "$d" "$s/deb/x"; done
    cp "$s"/deb/x/usr/include/{jpeglib.h,jerror.h,jmorecfg.h} \
      "$s/deb/x/usr/include/aarch64-linux-gnu/jconfig.h" "$s/include/"
    cp -L "$s/deb/x/usr/lib/aarch64-linux-gnu/libjpeg.so.62" "$s/lib/"
  fi
}
