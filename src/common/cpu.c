/* cpu.c — instruction-set detection (CPUID + XGETBV) and the HYPERC_SIMD
 * override, decided once per process (cpu.h). */
#include "cpu.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define HC_CPU_X86 1
#else
#define HC_CPU_X86 0
#endif

static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;
static hc_simd cpu_best = HC_SIMD_REF;
static int cpu_vbmi;
static int simd_level = HC_SIMD_REF; /* read and written atomically */
static char env_bad[96];             /* a HYPERC_SIMD value that names no level */

#if HC_CPU_X86
static unsigned long long xgetbv0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}
#endif

static void cpu_detect(void) {
#if HC_CPU_X86
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, f16c = (c >> 29) & 1;
        unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
        int ymm_os = (xcr0 & 0x6) == 0x6;          /* XMM and YMM state */
        int zmm_os = ymm_os && (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM_Hi256, Hi16_ZMM */
        unsigned b7 = 0, c7 = 0;
        if (__get_cpuid_max(0, NULL) >= 7) {
            unsigned a7, d7;
            __cpuid_count(7, 0, a7, b7, c7, d7);
            (void)a7;
            (void)d7;
        }
        int avx2 = (b7 >> 5) & 1, avx512f = (b7 >> 16) & 1, avx512bw = (b7 >> 30) & 1;
        if (avx && avx2 && fma && f16c && ymm_os) {
            cpu_best = HC_SIMD_AVX2;
            if (avx512f && avx512bw && zmm_os) {
                cpu_best = HC_SIMD_AVX512;
                cpu_vbmi = (c7 >> 1) & 1;
            }
        }
    }
#endif
    hc_simd level = cpu_best;
    const char *want = getenv("HYPERC_SIMD");
    if (want && *want) {
        int l = -1;
        for (int i = HC_SIMD_REF; i <= HC_SIMD_AVX512; i++)
            if (strcmp(want, hc_simd_name((hc_simd)i)) == 0) l = i;
        if (l < 0)
            snprintf(env_bad, sizeof env_bad, "%.80s", want);
        else if (l < (int)level)
            level = (hc_simd)l;
    }
    __atomic_store_n(&simd_level, (int)level, __ATOMIC_RELEASE);
}

const char *hc_simd_name(hc_simd l) {
    switch (l) {
    case HC_SIMD_REF: return "ref";
    case HC_SIMD_AVX2: return "avx2";
    case HC_SIMD_AVX512: return "avx512";
    }
    return "?";
}

hc_simd hc_cpu_best(void) {
    pthread_once(&cpu_once, cpu_detect);
    return cpu_best;
}

int hc_cpu_has(hc_simd l) { return (int)l >= HC_SIMD_REF && l <= hc_cpu_best(); }

int hc_cpu_has_vbmi(void) {
    pthread_once(&cpu_once, cpu_detect);
    return cpu_vbmi;
}

hc_simd hc_simd_level(void) {
    pthread_once(&cpu_once, cpu_detect);
    return (hc_simd)__atomic_load_n(&simd_level, __ATOMIC_ACQUIRE);
}

hc_simd hc_simd_set_level(hc_simd l) {
    hc_simd best = hc_cpu_best();
    if ((int)l < HC_SIMD_REF) l = HC_SIMD_REF;
    if (l > best) l = best;
    __atomic_store_n(&simd_level, (int)l, __ATOMIC_RELEASE);
    return l;
}

hc_status hc_simd_env_check(hc_error *err) {
    pthread_once(&cpu_once, cpu_detect);
    if (env_bad[0])
        return hc_fail(err, HC_E_ARG,
                       "HYPERC_SIMD='%s' is not an instruction-set level (ref, avx2 or avx512); using %s", env_bad,
                       hc_simd_name(hc_simd_level()));
    return HC_OK;
}
