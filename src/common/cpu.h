/* cpu.h — the one instruction-set dispatch of libhyperc (src/common/cpu.c).
 *
 * The level every kernel uses (codecs' decode / matvec / encoder searches,
 * the inference kernels) is decided once per process: the highest level
 * the CPU and the operating system run (CPUID + XGETBV), lowered to the one
 * HYPERC_SIMD=ref|avx2|avx512 names (a level the CPU lacks is clamped to
 * what it has; any other value is ignored and reported by
 * hc_simd_env_check). Each codec picks its kernels for hc_simd_level() when
 * a decoder is opened (or an encoder starts), so a level set with
 * hc_simd_set_level applies to decoders opened after it. The levels:
 *   HC_SIMD_REF     plain C, the reference every other level must equal
 *   HC_SIMD_AVX2    AVX2 + FMA + F16C, the OS saving YMM state
 *   HC_SIMD_AVX512  the above + AVX-512 F and BW, the OS saving ZMM state
 * Finer features a kernel may need beyond its level: hc_cpu_has_vbmi. */
#ifndef HC_CPU_H
#define HC_CPU_H

#include "hyperc.h"

/* The highest level this machine runs (what HYPERC_SIMD cannot raise). */
hc_simd hc_cpu_best(void);
/* 1 if this machine runs level l. */
int hc_cpu_has(hc_simd l);
/* AVX-512 VBMI (vpermb, vpmultishiftqb), usable only at HC_SIMD_AVX512. */
int hc_cpu_has_vbmi(void);

/* Tests and measurements: makes l the level in force (clamped to
 * hc_cpu_best()) and returns the level now in force. Not for concurrent use
 * with encoders or decoders being opened. */
hc_simd hc_simd_set_level(hc_simd l);

#endif
