/* rng.c - the deterministic generator behind normal() and uniform().
 *
 * The definition (docs/formats.md) is the contract: a value depends only on
 * the seed, the param's name, its dtype and the element's index. So there is
 * no state to share: every element is computed from its counter, threads
 * split the index range freely, and params can be materialized in any order.
 *
 * The log and cos are our own (fdlibm's polynomials), computed only with
 * IEEE double + - * / and sqrt, which every platform rounds the same way;
 * the platform's libm is not, and would make values differ between hosts.
 * For the same reason the compiler must not fuse a*b+c into an FMA here.
 *
 * Speed matters (GPT-2 has 124M elements to draw): elements go in blocks
 * through short branch-free loops, so that the processor overlaps many
 * elements' long dependency chains and the polynomials use vector
 * registers; vector lanes compute exactly what scalar code would. */
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

/* Box-Muller on a block of BLOCK elements: z[k] = sqrt(-2 log u1) cos(2 pi u2)
 * with u1, u2 draws 2i and 2i+1 of element i = at + k.
 *
 * log is fdlibm's e_log.c and cos fdlibm's (FreeBSD's) k_sin.c / k_cos.c,
 * restricted to the arguments unit() produces, and rearranged for speed:
 * the bit manipulations run first in a scalar loop, then the polynomials in
 * vector registers, where both of e_log.c's final formulas are computed and
 * the one fdlibm would take is selected. (Its |f| < 2^-20 shortcut is
 * dropped: the general formula is as accurate there.) */
enum { BLOCK = 64, W = 8 };
typedef double vd __attribute__((vector_size(8 * W)));
typedef int64_t vi __attribute__((vector_size(8 * W)));

/* m ? a : b lane by lane (C has no ?: on vectors); a macro, since passing
 * vectors wider than the target's registers to a function changes the ABI */
#define PICK(m, a, b) ((vd)(((vi)(a) & (m)) | ((vi)(b) & ~(m))))

static void box_muller(uint64_t key, int64_t at, double *out) {
    double F[BLOCK], DK[BLOCK], R[BLOCK];
    int64_t LSEL[BLOCK], CSEL[BLOCK], NEG[BLOCK];
    for (int k = 0; k < BLOCK; k++) {
        uint64_t i = (uint64_t)(at + k);
        /* log(u1) = e ln2 + log(1 + f), 1 + f in [sqrt(2)/2, sqrt(2)) */
        uint64_t u = dbits(unit(key, 2 * i));
        int32_t hx = (int32_t)(u >> 32);
        int32_t e = (hx >> 20) - 1023;
        hx &= 0x000fffff;
        int32_t half = (hx + 0x95f64) & 0x100000;
        double x =
            bitsd(((uint64_t)(uint32_t)(hx | (half ^ 0x3ff00000)) << 32) | (u & 0xffffffffu));
        F[k] = x - 1.0;
        DK[k] = (double)(e + (half >> 20));
        LSEL[k] = ((hx - 0x6147a) | (0x6b851 - hx)) > 0 ? -1 : 0;
        /* cos(2 pi u2) = cos(q pi/2 + r pi/2): u2 is a multiple of 2^-53, so
         * t = 4 u2 and r = t - q in [-1/2, 1/2] are exact */
        double t = 4.0 * unit(key, 2 * i + 1);
        int32_t q = (int32_t)(t + 0.5);
        R[k] = t - (double)q;
        CSEL[k] = (q & 1) ? -1 : 0;      /* odd quadrant: sin */
        NEG[k] = ((q + 1) & 2) ? -1 : 0; /* quadrants 1 and 2: negated */
    }
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
    for (int k = 0; k < BLOCK; k += W) {
        vd f, dk, r;
        vi lsel, csel, neg;
        memcpy(&f, F + k, sizeof f);
        memcpy(&dk, DK + k, sizeof dk);
        memcpy(&r, R + k, sizeof r);
        memcpy(&lsel, LSEL + k, sizeof lsel);
        memcpy(&csel, CSEL + k, sizeof csel);
        memcpy(&neg, NEG + k, sizeof neg);
        vd s = f / (2.0 + f), z = s * s, w = z * z;
        vd t1 = w * (Lg2 + w * (Lg4 + w * Lg6));
        vd t2 = z * (Lg1 + w * (Lg3 + w * (Lg5 + w * Lg7)));
        vd R2 = t2 + t1, hfsq = 0.5 * f * f;
        vd la = dk * ln2_hi - ((hfsq - (s * (hfsq + R2) + dk * ln2_lo)) - f);
        vd lb = dk * ln2_hi - ((s * (f - R2) - dk * ln2_lo) - f);
        vd lg = PICK(lsel, la, lb);
        vd x = r * pio2_hi + r * pio2_lo;
        z = x * x;
        w = z * z;
        vd rs = S2 + z * (S3 + z * S4) + z * w * (S5 + z * S6);
        vd sn = x + (z * x) * (S1 + z * rs);
        vd rc = z * (C1 + z * (C2 + z * C3)) + w * w * (C4 + z * (C5 + z * C6));
        vd hz = 0.5 * z, one_hz = 1.0 - hz;
        vd cs = one_hz + (((1.0 - one_hz) - hz) + z * rc);
        vd c = PICK(csel, sn, cs);
        c = PICK(neg, -c, c);
        vd m2 = -2.0 * lg;
        memcpy(out + k, &m2, sizeof m2);
        memcpy(R + k, &c, sizeof c);
    }
    for (int k = 0; k < BLOCK; k++)
        out[k] = sqrt(out[k]) * R[k];
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

static void run(const job *j) {
    double v[BLOCK];
    for (int64_t at = j->begin; at < j->end; at += BLOCK) {
        int n = j->end - at < BLOCK ? (int)(j->end - at) : BLOCK;
        if (j->normal) {
            double z[BLOCK];
            box_muller(j->key, at, z); /* a whole block even at the end: harmless */
            for (int k = 0; k < n; k++)
                v[k] = j->a + j->b * z[k];
        } else {
            double span = j->b - j->a;
            for (int k = 0; k < n; k++)
                v[k] = j->a + span * unit(j->key, (uint64_t)(at + k));
        }
        store(j->t, at, v, n);
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
        jobs[k].begin = n * k / nt;
        jobs[k].end = n * (k + 1) / nt;
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
