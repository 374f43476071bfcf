#!/usr/bin/env bash
# Builds and installs blip2-edge for C developers and for the command line:
#   PREFIX=/usr/local Tools/install.sh        (default PREFIX: /usr/local; DESTDIR is honoured)
# Installs
#   $PREFIX/bin/blip2-edge, blip2-quantize            Swift runtime linked in (no toolchain needed)
#   $PREFIX/lib/libblip2_edge.so.VERSION, .so.MAJOR, .so   the C interface, soname libblip2_edge.so.MAJOR,
#                                                     the Swift runtime linked in
#   $PREFIX/lib/libblip2_edge.a                       the same as a static archive (one object holding
#                                                     our code and the Swift runtime it uses)
#   $PREFIX/include/blip2_edge.h
#   $PREFIX/lib/pkgconfig/blip2-edge.pc               cc app.c $(pkg-config --cflags --libs blip2-edge)
#   $PREFIX/lib/pkgconfig/blip2-edge-static.pc        cc app.c $(pkg-config --cflags --libs blip2-edge-static)
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

# Each function in a section of its own, and the linker drops the ones nothing calls (about
# 0.1 MB of each file: the command does not convert, the converter does not serve).
sections=(-Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections -Xcc -fdata-sections -Xlinker --gc-sections)

echo "== building blip2-edge $version (release)"
swift build -c release --static-swift-stdlib --product blip2-edge --build-path .build-install "${sections[@]}"
swift build -c release --static-swift-stdlib --product blip2-quantize --build-path .build-install "${sections[@]}"
# SwiftPM links a dynamic library product against the shared Swift runtime even with
# --static-swift-stdlib; swiftc's -static-stdlib links it in. A build folder of its own keeps
# the two kinds apart.
swift build -c release --product blip2_edge --build-path .build-lib -Xswiftc -static-stdlib "${sections[@]}" \
    -Xlinker -L"$swift_static" -Xlinker -soname=libblip2_edge.so."$major"

# The static archive: the library's objects, the Swift runtime's registration object and the
# runtime archives' members they need, partially linked into one object. A C program that
# uses any blip2_ function pulls that object, so the runtime comes whole and registered; what
# is left undefined is the C and C++ runtime (blip2-edge-static.pc names them).
echo "== the static archive"
objects=.build-lib/release/blip2_edge.product/Objects.LinkFileList
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ld -r -o "$work/blip2_edge.o" "$swift_static/$(uname -m)/swiftrt.o" @"$objects" -L"$swift_static" \
    -lswiftCore -lswiftGlibc -lswift_Concurrency -lswiftSynchronization
strip --strip-debug "$work/blip2_edge.o"
ar rcs "$work/libblip2_edge.a" "$work/blip2_edge.o"

echo "== installing into $dest"
install -d "$dest/bin" "$dest/lib/pkgconfig" "$dest/include"
install -m 755 -s .build-install/release/blip2-edge .build-install/release/blip2-quantize "$dest/bin/"
install -m 755 -s .build-lib/release/libblip2_edge.so "$dest/lib/libblip2_edge.so.$version"
install -m 644 "$work/libblip2_edge.a" "$dest/lib/"
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
cat > "$dest/lib/pkgconfig/blip2-edge-static.pc" <<PC
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: blip2-edge-static
Description: blip2-edge linked statically: the program needs no libblip2_edge.so at run time
Version: $version
Cflags: -I\${includedir}
Libs: \${libdir}/libblip2_edge.a -lstdc++ -lm -ldl -lpthread
PC
echo "installed blip2-edge $version: $dest/{bin,lib,include}"
