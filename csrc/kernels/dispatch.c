/*
 * dispatch.c - CPU feature detection and the kernel table: starts as all-reference and
 * is upgraded once (pthread_once) to the best ISA the CPU and OS support, capped by the
 * EI_ISA environment variable (ref|avx2|avx512|neon; other values are ignored).
 * x86 uses cpuid + xgetbv (the OS must enable the YMM / ZMM state); aarch64 has NEON always.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "edgeinfer/edgeinfer.h"
#include "kernels/kernels.h"
#include "kernels/kernels_isa.h"

#if defined(EI_ARCH_X86)
#include <cpuid.h>

static unsigned long long ei_xgetbv0(void) {
    unsigned int lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static ei_isa ei_detect_isa(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return EI_ISA_REF;
    const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (!osxsave || !avx || !fma) return EI_ISA_REF;
    const unsigned long long xcr0 = ei_xgetbv0();
    if ((xcr0 & 0x6) != 0x6) return EI_ISA_REF; /* XMM and YMM state saved by the OS */
    if (__get_cpuid_max(0, NULL) < 7) return EI_ISA_REF;
    __cpuid_count(7, 0, a, b, c, d);
    if (!((b >> 5) & 1)) return EI_ISA_REF; /* AVX2 */
    const int f = (b >> 16) & 1, dq = (b >> 17) & 1, bw = (b >> 30) & 1, vl = (b >> 31) & 1;
    /* opmask, ZMM_Hi256 and Hi16_ZMM state (bits 5-7) */
    if (f && dq && bw && vl && (xcr0 & 0xe0) == 0xe0) return EI_ISA_AVX512;
    return EI_ISA_AVX2;
}
#elif defined(EI_ARCH_ARM64)
static ei_isa ei_detect_isa(void) {
    return EI_ISA_NEON;
}
#else
static ei_isa ei_detect_isa(void) {
    return EI_ISA_REF;
}
#endif

/* Whether `isa` runs on this architecture at all (not whether this CPU has it). */
static int ei_isa_of_arch(ei_isa isa) {
    if (isa == EI_ISA_REF) return 1;
#if defined(EI_ARCH_X86)
    return isa == EI_ISA_AVX2 || isa == EI_ISA_AVX512;
#elif defined(EI_ARCH_ARM64)
    return isa == EI_ISA_NEON;
#else
    return 0;
#endif
}

static ei_isa ei_best;

static void ei_fill(ei_kernel_table *t, ei_isa isa) {
#define EI_KERNEL(name, ret, params) t->name = ei_##name##__ref;
#include "kernels/kernels.def"
#undef EI_KERNEL
#if defined(EI_ARCH_X86)
#define EI_SET_AVX2(name) t->name = ei_##name##__avx2;
#define EI_SET_AVX512(name) t->name = ei_##name##__avx512;
    if (isa == EI_ISA_AVX2 || isa == EI_ISA_AVX512) {
        EI_KERNELS_AVX2(EI_SET_AVX2)
    }
    if (isa == EI_ISA_AVX512) {
        EI_KERNELS_AVX512(EI_SET_AVX512)
    }
#undef EI_SET_AVX2
#undef EI_SET_AVX512
#elif defined(EI_ARCH_ARM64)
#define EI_SET_NEON(name) t->name = ei_##name##__neon;
    if (isa == EI_ISA_NEON) {
        EI_KERNELS_NEON(EI_SET_NEON)
    }
#undef EI_SET_NEON
#else
    (void)isa;
#endif
}

/* Lowers `want` to what the CPU has; an ISA of another architecture gives ref. */
static ei_isa ei_cap(ei_isa want) {
    if (!ei_isa_of_arch(want)) return EI_ISA_REF;
    return want > ei_best ? ei_best : want; /* x86: REF < AVX2 < AVX512; arm: REF < NEON */
}

static pthread_once_t ei_once = PTHREAD_ONCE_INIT;
static ei_kernel_table ei_table;
static ei_isa ei_table_isa;

static void ei_init(void) {
    ei_best = ei_detect_isa();
    ei_isa use = ei_best;
    const char *env = getenv("EI_ISA");
    if (env) {
        static const ei_isa all[] = {EI_ISA_REF, EI_ISA_AVX2, EI_ISA_AVX512, EI_ISA_NEON};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
            /* A known name of this architecture caps the level; anything else is ignored. */
            if (strcmp(env, ei_isa_str(all[i])) == 0 && ei_isa_of_arch(all[i]))
                use = ei_cap(all[i]);
        }
    }
    ei_fill(&ei_table, use);
    ei_table_isa = use;
}

const ei_kernel_table *ei_kernels(void) {
    pthread_once(&ei_once, ei_init);
    return &ei_table;
}

ei_isa ei_kernels_isa(void) {
    pthread_once(&ei_once, ei_init);
    return ei_table_isa;
}

ei_isa ei_cpu_best_isa(void) {
    pthread_once(&ei_once, ei_init);
    return ei_best;
}

ei_isa ei_kernels_for_isa(ei_isa isa, ei_kernel_table *t) {
    pthread_once(&ei_once, ei_init);
    ei_isa use = ei_cap(isa);
    ei_fill(t, use);
    return use;
}

const char *ei_isa_str(ei_isa isa) {
    switch (isa) {
    case EI_ISA_REF: return "ref";
    case EI_ISA_AVX2: return "avx2";
    case EI_ISA_AVX512: return "avx512";
    case EI_ISA_NEON: return "neon";
    }
    return "unknown";
}

const char *ei_isa_name(void) {
    return ei_isa_str(ei_kernels_isa());
}
