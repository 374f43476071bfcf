// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "blip2-edge",
    products: [
        .library(name: "BLIP2Edge", targets: ["BLIP2Edge"]),
        .executable(name: "blip2-quantize", targets: ["blip2-quantize"]),
        .executable(name: "blip2-edge", targets: ["blip2-edge"]),
        // The C interface (Sources/CBLIP2EdgeAPI/include/blip2_edge.h) as a shared library.
        .library(name: "blip2_edge", type: .dynamic, targets: ["BLIP2EdgeC"]),
    ],
    targets: [
        // Hand-written kernels: a plain-C reference per operation, SIMD variants beside it,
        // chosen at run time. Compiled per function with target attributes, so the binary
        // runs on any x86-64 / ARMv8.0 CPU.
        .target(name: "CKernels", path: "CKernels"),
        // What the library and tools need of the system (files, threads, time, JSON), on the C
        // library and the Swift standard library alone: Foundation would be most of every binary.
        .target(name: "BLIP2System"),
        .target(name: "BLIP2Edge", dependencies: ["CKernels", "BLIP2System"], path: "Sources/BLIP2Edge"),
        // The executables' shared argument parser and error exit; the library does not use it.
        .target(name: "BLIP2CommandLine", dependencies: ["BLIP2System"]),
        .executableTarget(name: "blip2-quantize", dependencies: ["BLIP2Edge", "BLIP2CommandLine", "BLIP2System"], path: "Sources/blip2-quantize"),
        .target(name: "CBLIP2EdgeAPI", path: "Sources/CBLIP2EdgeAPI"),
        .target(name: "BLIP2EdgeC", dependencies: ["BLIP2Edge", "CBLIP2EdgeAPI"], path: "Sources/BLIP2EdgeC"),
        .executableTarget(name: "blip2-edge", dependencies: ["BLIP2Edge", "BLIP2CommandLine", "BLIP2System"], path: "Sources/blip2-edge"),
        .executableTarget(name: "blip2-bench", dependencies: ["BLIP2Edge", "BLIP2CommandLine", "BLIP2System"], path: "Sources/blip2-bench"),
        .testTarget(name: "BLIP2EdgeTests", dependencies: ["BLIP2Edge", "CKernels", "BLIP2System"], path: "Tests/BLIP2EdgeTests"),
    ]
)
