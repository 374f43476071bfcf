// Kernel variants and their run-time selection. Every kernel exists as a plain-C reference and
// as SIMD variants compiled per function (target attributes), so one binary runs on any x86-64
// or ARMv8.0 CPU. The best variant the CPU supports is chosen once, at first use; the
// environment variable BLIP2_KERNELS=ref|avx2|avx512_vnni|neon|neondot|neon_i8mm asks for a
// lower one (a variant the CPU lacks is never chosen: the request then falls back to the best
// one, with a warning).
#ifndef CK_CPU_H
#define CK_CPU_H

typedef enum {
    CK_VARIANT_REF = 0,     // portable C, the reference every other variant is tested against
    CK_VARIANT_AVX2 = 1,    // x86-64 AVX2 + FMA + F16C (Haswell, Zen and later)
    CK_VARIANT_NEON = 2,    // AArch64 Advanced SIMD (every ARMv8.0 CPU)
    CK_VARIANT_NEONDOT = 3, // AArch64 NEON with the dot-product extension (SDOT, ARMv8.2+)
    CK_VARIANT_AVX512_VNNI = 4, // x86-64 AVX2 + AVX-512 VNNI (Ice Lake, Zen 4 and later)
    CK_VARIANT_NEON_I8MM = 5, // AArch64 NEON dot product + int8 matrix multiply (SMMLA: Graviton 3,
                              // Apple M2, Cortex-A710 and later)
    CK_VARIANT_COUNT = 6
} ck_variant;

// The fastest variant this CPU supports, and whether a given one is supported.
ck_variant ck_cpu_best_variant(void);
int ck_cpu_supports(ck_variant v);

// The variant the kernels use now (best, or the lower one asked for by BLIP2_KERNELS).
ck_variant ck_active_variant(void);

// Switch variant, for tests and comparisons. Returns 0, or -1 (and changes nothing) when the
// CPU lacks it. Not safe while kernels run on other threads.
int ck_set_variant(ck_variant v);

// "ref", "avx2", "neon", "neondot", "avx512_vnni", "neon_i8mm"; and the inverse (-1 for an unknown name).
const char *ck_variant_name(ck_variant v);
int ck_variant_from_name(const char *name);

// Number of CPUs this process may run on (at least 1).
int ck_cpu_count(void);

#endif
