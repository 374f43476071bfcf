// CPU feature detection and the one-time choice of kernel variant.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ck_internal.h"

#if defined(CK_X86)
#include <cpuid.h>

// The register state the OS saves (XCR0); ask only once CPUID says OSXSAVE.
static unsigned xcr0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return lo;
}

// AVX2 needs the CPU flags and the OS saving the ymm state (XCR0 bits 1 and 2).
static int x86_has_avx2_fma_f16c(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
    if (!(fma && osxsave && avx && f16c)) return 0;
    if ((xcr0() & 6u) != 6u) return 0;
    if (__get_cpuid_max(0, NULL) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    return (b >> 5) & 1;
}

// AVX-512 VNNI: AVX512F, BW, VL and VNNI, and the OS saving the opmask and zmm state as well
// (XCR0 bits 5 to 7; a kernel may refuse it for its processes, and macOS enables it lazily,
// so there this reads as absent and the AVX2 kernels run).
static int x86_has_avx512_vnni(void) {
    if (!x86_has_avx2_fma_f16c()) return 0;
    unsigned a, b, c, d;
    if ((xcr0() & 0xE6u) != 0xE6u) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    int f = (b >> 16) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1, vnni = (c >> 11) & 1;
    return f && bw && vl && vnni;
}
#endif

#if defined(CK_ARM64) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
#ifndef HWCAP2_I8MM
#define HWCAP2_I8MM (1UL << 13)
#endif
static int arm_has_dotprod(void) { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }
static int arm_has_i8mm(void) { return (getauxval(AT_HWCAP2) & HWCAP2_I8MM) != 0; }
#elif defined(CK_ARM64) && defined(__APPLE__)
#include <sys/sysctl.h>
static int apple_has(const char *feature) {
    int v = 0;
    size_t len = sizeof v;
    return sysctlbyname(feature, &v, &len, NULL, 0) == 0 && v;
}
static int arm_has_dotprod(void) { return apple_has("hw.optional.arm.FEAT_DotProd"); }
static int arm_has_i8mm(void) { return apple_has("hw.optional.arm.FEAT_I8MM"); }
#elif defined(CK_ARM64)
// No way to ask: stay on ARMv8.0 NEON.
static int arm_has_dotprod(void) { return 0; }
static int arm_has_i8mm(void) { return 0; }
#endif

#if defined(CK_ARM64)
// The neon_i8mm variant's n = 1 kernels are neondot's.
static int arm_has_dotprod_i8mm(void) { return arm_has_dotprod() && arm_has_i8mm(); }
#endif

static int always(void) { return 1; }

#if defined(CK_X86)
extern const ck_kernels ck_kernels_avx2, ck_kernels_avx512_vnni;
#define X86(supported, kernels) supported, kernels
#else
#define X86(supported, kernels) NULL, NULL
#endif
#if defined(CK_ARM64)
extern const ck_kernels ck_kernels_neon, ck_kernels_neondot, ck_kernels_neon_i8mm;
#define ARM64(supported, kernels) supported, kernels
#else
#define ARM64(supported, kernels) NULL, NULL
#endif

// Every variant, indexed by ck_variant: its name (ck_variant_name, BLIP2_KERNELS), whether this
// CPU runs it (NULL: not built for this architecture) and its kernels. Within an architecture a
// later row is faster: the best variant is the last one the CPU supports.
static const struct {
    const char *name;
    int (*supported)(void);
    const ck_kernels *kernels;
} variants[CK_VARIANT_COUNT] = {
    [CK_VARIANT_REF] = {"ref", always, &ck_kernels_ref},
    [CK_VARIANT_AVX2] = {"avx2", X86(x86_has_avx2_fma_f16c, &ck_kernels_avx2)},
    [CK_VARIANT_NEON] = {"neon", ARM64(always, &ck_kernels_neon)},
    [CK_VARIANT_NEONDOT] = {"neondot", ARM64(arm_has_dotprod, &ck_kernels_neondot)},
    [CK_VARIANT_AVX512_VNNI] = {"avx512_vnni", X86(x86_has_avx512_vnni, &ck_kernels_avx512_vnni)},
    [CK_VARIANT_NEON_I8MM] = {"neon_i8mm", ARM64(arm_has_dotprod_i8mm, &ck_kernels_neon_i8mm)},
};

int ck_cpu_supports(ck_variant v) {
    return (unsigned)v < CK_VARIANT_COUNT && variants[v].supported && variants[v].supported();
}

ck_variant ck_cpu_best_variant(void) {
    int v = CK_VARIANT_COUNT - 1;
    while (!ck_cpu_supports((ck_variant)v)) v--; // ends at ref
    return (ck_variant)v;
}

const char *ck_variant_name(ck_variant v) {
    return (unsigned)v < CK_VARIANT_COUNT ? variants[v].name : "unknown";
}

int ck_variant_from_name(const char *name) {
    for (int i = 0; i < CK_VARIANT_COUNT; i++)
        if (name && strcmp(name, variants[i].name) == 0) return i;
    return -1;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static ck_variant active_variant;
static const ck_kernels *active_table;

static void choose_variant(void) {
    ck_variant v = ck_cpu_best_variant();
    const char *env = getenv("BLIP2_KERNELS");
    if (env && *env) {
        int asked = ck_variant_from_name(env);
        // "Lower" on AArch64 means neon below neondot below neon_i8mm; on any CPU ref is lowest.
        if (asked >= 0 && ck_cpu_supports((ck_variant)asked))
            v = (ck_variant)asked;
        else
            fprintf(stderr, "blip2-edge: BLIP2_KERNELS=%s is not available on this CPU; using %s\n",
                    env, ck_variant_name(v));
    }
    active_variant = v;
    active_table = variants[v].kernels;
}

ck_variant ck_active_variant(void) {
    pthread_once(&once, choose_variant);
    return active_variant;
}

const ck_kernels *ck_kernels_active(void) {
    pthread_once(&once, choose_variant);
    return active_table;
}

int ck_set_variant(ck_variant v) {
    pthread_once(&once, choose_variant);
    if (!ck_cpu_supports(v)) return -1;
    active_variant = v;
    active_table = variants[v].kernels;
    return 0;
}

int ck_cpu_count(void) {
#if defined(__linux__)
    cpu_set_t set; // honours taskset and container CPU limits
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void *ck_aligned_alloc(size_t bytes) {
    void *p = NULL;
    // 64: a cache line, and enough for any SIMD load.
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) return NULL;
    return p;
}

void ck_aligned_free(void *p) { free(p); }
