#!/usr/bin/env bash
# Builds and installs blip2-edge for C developers and for the command line:
#   PREFIX=/usr/local Tools/install.sh        (default PREFIX: /usr/local; DESTDIR is honoured)
# Installs
#   $PREFIX/bin/blip2-edge, blip2-quantize            Swift runtime linked in (no toolchain needed)
#   $PREFIX/lib/libblip2_edge.so.VERSION, .so.MAJOR, .so   the C interface, soname libblip2_edge.so.MAJOR,
#                                                     the Swift runtime linked in
#   $PREFIX/include/blip2_edge.h
#   $PREFIX/lib/pkgconfig/blip2-edge.pc               cc app.c $(pkg-config --cflags --libs blip2-edge)
# Everything installed needs only glibc, libm, libgcc_s and libstdc++ at run time (CI checks it
# with ldd). The version is LibraryVersion.current in Sources/BLIP2Edge/Version.swift.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
prefix="${PREFIX:-/usr/local}"
dest="${DESTDIR:-}$prefix"
version=$(sed -n 's/.*static let current = "\([0-9.]*\)".*/\1/p' Sources/BLIP2Edge/Version.swift)
[ -n "$version" ] || { echo "install.sh: no version in Sources/BLIP2Edge/Version.swift" >&2; exit 1; }
major=${version%%.*}
swift_static="$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")/lib/swift_static/linux"

echo "== building blip2-edge $version (release)"
swift build -c release --static-swift-stdlib --product blip2-edge
swift build -c release --static-swift-stdlib --product blip2-quantize
# SwiftPM links a dynamic library product against the shared Swift runtime even with
# --static-swift-stdlib; swiftc's -static-stdlib, and the static libraries' folder for the
# Foundation parts, link it in. A build folder of its own keeps the two kinds apart.
swift build -c release --product blip2_edge --build-path .build-lib -Xswiftc -static-stdlib \
    -Xlinker -L"$swift_static" -Xlinker -soname=libblip2_edge.so."$major"

echo "== installing into $dest"
install -d "$dest/bin" "$dest/lib/pkgconfig" "$dest/include"
install -m 755 -s .build/release/blip2-edge .build/release/blip2-quantize "$dest/bin/"
install -m 755 -s .build-lib/release/libblip2_edge.so "$dest/lib/libblip2_edge.so.$version"
ln -sf "libblip2_edge.so.$version" "$dest/lib/libblip2_edge.so.$major"
ln -sf "libblip2_edge.so.$major" "$dest/lib/libblip2_edge.so"
install -m 644 Sources/CBLIP2EdgeAPI/include/blip2_edge.h "$dest/include/"
cat > "$dest/lib/pkgconfig/blip2-edge.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: blip2-edge
Description: BLIP-2 captioning, visual question answering and image-text retrieval on CPUs
Version: $version
Cflags: -I\${includedir}
Libs: -L\${libdir} -lblip2_edge -Wl,-rpath,\${libdir}
PC
echo "installed blip2-edge $version: $dest/{bin,lib,include}"
