/* rng.c - the deterministic generator behind normal() and uniform().
 *
 * The definition (docs/formats.md) is the contract: a value depends only on
 * the seed, the param's name, its dtype and the element's index. So there is
 * no state to share: every element is computed from its counter, threads
 * split the index range (at block boundaries), and params can be
 * materialized in any order.
 *
 * The log, cos and sin are our own (fdlibm's polynomials), computed only
 * with IEEE double + - * / and sqrt, which every platform rounds the same
 * way; the platform's libm is not, and would make values differ between
 * hosts. For the same reason the compiler must not fuse a*b+c into an FMA
 * here.
 *
 * Speed matters (GPT-2 has 124M elements to draw): normal() uses both
 * Box-Muller outputs (one log, division and square root per two elements),
 * elements go in blocks through short branch-free loops that the compiler
 * vectorizes (this file is built with -O3 -fno-math-errno, and its hot loop
 * also for AVX2, chosen at run time), so the processor overlaps many
 * elements' long dependency chains; vector lanes compute exactly what scalar
 * code would. */
#define _GNU_SOURCE /* sched_getaffinity */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "ir.h"

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#define GAMMA 0x9e3779b97f4a7c15ULL /* splitmix64's increment: 2^64 / golden ratio */

static inline uint64_t dbits(double x) {
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static inline double bitsd(uint64_t u) {
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Draw c of a stream: splitmix64's c-th output (Steele, Lea, Flood 2014) for
 * state `key`, mapped to (m + 0.5) * 2^-52 with m its top 52 bits, in the
 * open interval (0, 1). 52 bits, not 53: with 53 the + 0.5 would round and
 * could give 1. Computed as (1 + m 2^-52) - 1 + 2^-53, which is exact and
 * needs no integer-to-double conversion. */
static inline double unit(uint64_t key, uint64_t c) {
    uint64_t z = key + (c + 1) * GAMMA;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (bitsd((z >> 12) | 0x3ff0000000000000ULL) - 1.0) + 0x1p-53;
}

/* Box-Muller on a block of NP pairs: pair p = p0 + k takes draws 2p and 2p+1
 * (u1, u2) and gives elements 2p and 2p + 1:
 *     z[2k] = sqrt(-2 log u1) cos(2 pi u2),  z[2k+1] = sqrt(-2 log u1) sin(2 pi u2)
 *
 * log is fdlibm's e_log.c, cos and sin fdlibm's (FreeBSD's) k_cos.c and
 * k_sin.c, restricted to the arguments unit() produces, and rearranged for
 * speed: the integer work (the draws, the bit manipulations) runs first in a
 * loop of its own, then the polynomials in vector registers, where both of
 * e_log.c's final formulas are computed and the one fdlibm would take is
 * selected. (Its |f| < 2^-20 shortcut is dropped: the general formula is as
 * accurate there.) cos and sin share one exact range reduction and the
 * square root; each pair costs one log, one division, one square root. */
enum { NP = 32, BLOCK = 2 * NP, W = 8 };
typedef double vd __attribute__((vector_size(8 * W)));
typedef int64_t vi __attribute__((vector_size(8 * W)));

/* m ? a : b lane by lane (C has no ?: on vectors); a macro, since passing
 * vectors wider than the target's registers to a function changes the ABI */
#define PICK(m, a, b) ((vd)(((vi)(a) & (m)) | ((vi)(b) & ~(m))))

/* The integer half: for each pair, log's argument split (F, DK, LSEL) and
 * the quadrant reduction of 2 pi u2 (R, SWAP, CNEG, SNEG). */
typedef struct prep {
    double F[NP], DK[NP], R[NP];
    int64_t LSEL[NP], SWAP[NP], CNEG[NP], SNEG[NP];
} prep;

static inline __attribute__((always_inline)) void prepare(uint64_t key, uint64_t p0, prep *P) {
    for (int k = 0; k < NP; k++) {
        uint64_t p = p0 + (uint64_t)k;
        /* log(u1) = e ln2 + log(1 + f), 1 + f in [sqrt(2)/2, sqrt(2)) */
        uint64_t u = dbits(unit(key, 2 * p));
        int32_t hx = (int32_t)(u >> 32);
        int32_t e = (hx >> 20) - 1023;
        hx &= 0x000fffff;
        int32_t half = (hx + 0x95f64) & 0x100000;
        double x =
            bitsd(((uint64_t)(uint32_t)(hx | (half ^ 0x3ff00000)) << 32) | (u & 0xffffffffu));
        P->F[k] = x - 1.0;
        P->DK[k] = (double)(e + (half >> 20));
        P->LSEL[k] = ((hx - 0x6147a) | (0x6b851 - hx)) > 0 ? -1 : 0;
        /* 2 pi u2 = q pi/2 + r pi/2: u2 is a multiple of 2^-53, so t = 4 u2
         * and r = t - q in [-1/2, 1/2] are exact */
        double t = 4.0 * unit(key, 2 * p + 1);
        int32_t q = (int32_t)(t + 0.5);
        P->R[k] = t - (double)q;
        P->SWAP[k] = (q & 1) ? -1 : 0;       /* odd quadrant: cos from sin and back */
        P->CNEG[k] = ((q + 1) & 2) ? -1 : 0; /* cos negative in quadrants 1, 2 */
        P->SNEG[k] = (q & 2) ? -1 : 0;       /* sin negative in quadrants 2, 3 */
    }
}

/* z[0..BLOCK) for pairs p0.. */
static inline __attribute__((always_inline)) void box_muller(uint64_t key, uint64_t p0, double *z) {
    prep P;
    double C[NP], S[NP];
    prepare(key, p0, &P);
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10,
                 Lg1 = 6.666666666666735130e-01, Lg2 = 3.999999999940941908e-01,
                 Lg3 = 2.857142874366239149e-01, Lg4 = 2.222219843214978396e-01,
                 Lg5 = 1.818357216161805012e-01, Lg6 = 1.531383769920937332e-01,
                 Lg7 = 1.479819860511658591e-01;
    const double pio2_hi = 1.57079632679489655800e+00, pio2_lo = 6.12323399573676603587e-17,
                 S1 = -1.66666666666666324348e-01, S2 = 8.33333333332248946124e-03,
                 S3 = -1.98412698298579493134e-04, S4 = 2.75573137070700676789e-06,
                 S5 = -2.50507602534068634195e-08, S6 = 1.58969099521155010221e-10,
                 C1 = 4.16666666666666019037e-02, C2 = -1.38888888888741095749e-03,
                 C3 = 2.48015872894767294178e-05, C4 = -2.75573143513906633035e-07,
                 C5 = 2.08757232129817482790e-09, C6 = -1.13596475577881948265e-11;
    for (int k = 0; k < NP; k += W) {
        vd f, dk, r;
        vi lsel, swap, cneg, sneg;
        memcpy(&f, P.F + k, sizeof f);
        memcpy(&dk, P.DK + k, sizeof dk);
        memcpy(&r, P.R + k, sizeof r);
        memcpy(&lsel, P.LSEL + k, sizeof lsel);
        memcpy(&swap, P.SWAP + k, sizeof swap);
        memcpy(&cneg, P.CNEG + k, sizeof cneg);
        memcpy(&sneg, P.SNEG + k, sizeof sneg);
        vd s = f / (2.0 + f), z2 = s * s, w = z2 * z2;
        vd t1 = w * (Lg2 + w * (Lg4 + w * Lg6));
        vd t2 = z2 * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
        vd R2 = t2 + t1, hfsq = 0.5 * f * f;
        vd la = dk * ln2_hi - ((hfsq - (s * (hfsq + R2) + dk * ln2_lo)) - f);
        vd lb = dk * ln2_hi - ((s * (f - R2) - dk * ln2_lo) - f);
        vd lg = PICK(lsel, la, lb);
        vd rad = -2.0 * lg;
        for (int l = 0; l < W; l++) /* sqrt per lane: vectorized by the compiler */
            rad[l] = __builtin_sqrt(rad[l]);
        vd x = r * pio2_hi + r * pio2_lo;
        vd zz = x * x, ww = zz * zz;
        vd rs = S2 + zz * (S3 + zz * S4) + zz * ww * (S5 + zz * S6);
        vd sn = x + (zz * x) * (S1 + zz * rs);
        vd rc = zz * (C1 + zz * (C2 + zz * C3)) + ww * ww * (C4 + zz * (C5 + zz * C6));
        vd hz = 0.5 * zz, one_hz = 1.0 - hz;
        vd cs = one_hz + (((1.0 - one_hz) - hz) + zz * rc);
        vd cv = PICK(swap, sn, cs), sv = PICK(swap, cs, sn);
        cv = PICK(cneg, -cv, cv);
        sv = PICK(sneg, -sv, sv);
        cv = rad * cv;
        sv = rad * sv;
        memcpy(C + k, &cv, sizeof cv);
        memcpy(S + k, &sv, sizeof sv);
    }
    for (int k = 0; k < NP; k++) {
        z[2 * k] = C[k];
        z[2 * k + 1] = S[k];
    }
}

/* One fill job: a range of elements. */
typedef struct job {
    ir_tensor *t;       /* destination */
    uint64_t key;       /* XXH64 of the name with the seed */
    bool normal;        /* normal (a mean, b std) or uniform (a lo, b hi) */
    double a, b;        /* the initializer's arguments */
    int64_t begin, end; /* element range */
} job;

/* Stores v[0..n) as elements at.. of t in its dtype. */
static void store(ir_tensor *t, int64_t at, const double *v, int n) {
    float *f = (float *)t->data + at;
    int32_t *iv = (int32_t *)t->data + at;
    uint8_t *bv = (uint8_t *)t->data + at;
    switch (t->dtype) {
    case IR_F32:
        for (int k = 0; k < n; k++)
            f[k] = (float)v[k];
        break;
    case IR_F16:
        for (int k = 0; k < n; k++)
            f[k] = ir_round_f16((float)v[k]);
        break;
    case IR_BF16:
        for (int k = 0; k < n; k++)
            f[k] = ir_round_bf16((float)v[k]);
        break;
    case IR_I32:
        /* nearest, ties to even; saturating; NaN is 0 */
        for (int k = 0; k < n; k++) {
            double r = nearbyint(v[k]);
            iv[k] = r >= 2147483647.0    ? INT32_MAX
                    : r <= -2147483648.0 ? INT32_MIN
                    : r == r             ? (int32_t)r
                                         : 0;
        }
        break;
    case IR_BOOL:
        for (int k = 0; k < n; k++) {
            double r = nearbyint(v[k]);
            bv[k] = r != 0 && r == r;
        }
        break;
    default: ir_internal_error("rng: bad dtype %d", (int)t->dtype);
    }
}

/* The hot loop, built twice on x86-64: for AVX2 (4 doubles a register, not
 * FMA) and for the baseline (SSE2), picked at load time. Both compute the same
 * IEEE operations on the same values, so they give the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
__attribute__((target_clones("avx2", "default")))
#endif
static void
run(const job *j) {
    double v[BLOCK];
    /* j->begin is a multiple of BLOCK: blocks hold whole pairs */
    for (int64_t at = j->begin; at < j->end; at += BLOCK) {
        int n = j->end - at < BLOCK ? (int)(j->end - at) : BLOCK;
        if (j->normal) {
            double z[BLOCK];
            box_muller(j->key, (uint64_t)at / 2, z); /* a whole block even at the end */
            for (int k = 0; k < BLOCK; k++)
                v[k] = j->a + j->b * z[k];
        } else {
            double span = j->b - j->a;
            for (int k = 0; k < BLOCK; k++)
                v[k] = j->a + span * unit(j->key, (uint64_t)(at + k));
        }
        if (n == BLOCK && j->t->dtype == IR_F32) {
            float *f = (float *)j->t->data + at;
            for (int k = 0; k < BLOCK; k++)
                f[k] = (float)v[k];
        } else {
            store(j->t, at, v, n);
        }
    }
}

static void *thread_main(void *arg) {
    run(arg);
    return NULL;
}

enum { MAX_THREADS = 32, MIN_PER_THREAD = 1 << 18 };

/* The CPUs this process may run on (a container or taskset may allow fewer
 * than the machine has). */
static long cpu_count(void) {
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
#endif
    return sysconf(_SC_NPROCESSORS_ONLN);
}

static void fill(ir_tensor *t, uint64_t seed, const char *name, bool normal, double a, double b) {
    const char *nm = name ? name : "";
    int64_t n = ir_shape_numel(&t->shape);
    if (n < 0 || n > IR_MAX_NUMEL) ir_internal_error("rng: invalid shape");
    job base = {t, XXH64(nm, strlen(nm), seed), normal, a, b, 0, n};
    /* Threads only change speed: each element depends on its index alone. */
    long cpus = cpu_count();
    int64_t nt = n / MIN_PER_THREAD;
    if (nt > cpus) nt = cpus;
    if (nt > MAX_THREADS) nt = MAX_THREADS;
    if (nt < 2) {
        run(&base);
        return;
    }
    job jobs[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    bool started[MAX_THREADS];
    for (int64_t k = 0; k < nt; k++) {
        jobs[k] = base;
        /* split at block boundaries: a pair never straddles two jobs */
        jobs[k].begin = n * k / nt / BLOCK * BLOCK;
        jobs[k].end = k + 1 == nt ? n : n * (k + 1) / nt / BLOCK * BLOCK;
        /* Job 0 runs on this thread; a thread that cannot start runs here too. */
        started[k] = k > 0 && pthread_create(&tid[k], NULL, thread_main, &jobs[k]) == 0;
    }
    for (int64_t k = 0; k < nt; k++)
        if (!started[k]) run(&jobs[k]);
    for (int64_t k = 1; k < nt; k++)
        if (started[k]) pthread_join(tid[k], NULL);
}

void ir_fill_uniform(ir_tensor *t, uint64_t seed, const char *name, double lo, double hi) {
    fill(t, seed, name, false, lo, hi);
}

void ir_fill_normal(ir_tensor *t, uint64_t seed, const char *name, double mean, double std) {
    fill(t, seed, name, true, mean, std);
}
