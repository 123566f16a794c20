/* C kernel of the COCO bootstrap (optional extension; see coco_bootstrap.py).
 *
 * A replicate is COCOeval.accumulate + summarize of the image set in which image i is
 * drawn w_i times (copies under new ids, adjacent, in the order of the original ids).
 * The numba kernel of coco_bootstrap_kernels.py is the reference; this one computes the
 * same numbers (bit for bit: same floating-point operations on the same values in the
 * same order; compiled without FMA contraction and without fast-math) with another
 * organisation of the integer work:
 *
 *   - NB replicates side by side ("lanes", the innermost index, int32 counts);
 *   - areas outermost, then categories, then IoU thresholds: per (category, area) one
 *     walk over the detections whose base class (the commoner of false positive /
 *     ignored over the thresholds) is "false positive", storing the running false
 *     positive count only where a true positive needs it (snapshots); per (category,
 *     area, threshold) one walk over the detections that differ from their base class
 *     there (CSR lists built once by cells_count / cells_fill);
 *   - precision is computed only at true positives (between two true positives it only
 *     falls), its right-to-left maximum, then the recall-threshold sweep per lane;
 *   - the per-area precision [T][R][Kc][NB] (only the Kc categories with gts in some
 *     lane: LVIS's 1,203 categories are mostly absent from a lane pass) is summarised
 *     right away in numpy's pairwise order: on all lanes at once where a lane defines
 *     every one of the Kc, else (and for a stat over one category group, LVIS's APr /
 *     APc / APf: spec_grp >= 0) streamed, one pass over P for all stats, into per-lane
 *     accumulators that replay numpy's pairwise tree (no copy of the cells).
 *
 * Ties of score inside one image (one category) are replayed copy by copy, as the
 * duplicated set orders them (d1 d2 d1 d2, not d1 d1 d2 d2).
 *
 * Arrays come in as buffers (numpy arrays, C-contiguous, dtypes checked by the Python
 * wrapper); outputs are allocated by the caller. No numpy C API is needed to build.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(BOOT_NO_CLONES)
#define BOOT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define BOOT_CLONES
#endif
#if defined(__GNUC__) || defined(__clang__)
#define BOOT_INLINE static inline __attribute__((always_inline)) /* into both clones */
#else
#define BOOT_INLINE static inline
#endif
#if defined(__SSE2__) && !defined(BOOT_NO_STREAM)
#include <emmintrin.h>
#define BOOT_STREAM 1
#endif

#define NB 32 /* replicates per pass (lanes) */
#define MMAX 16 /* most maxDets values */

typedef int64_t i64;
typedef int32_t i32;
typedef uint8_t u8;

static const double EPS = 2.220446049250313e-16; /* np.spacing(1) */
#define F_TP 1
#define F_MINUS 2 /* base class false positive, not a false positive here */
#define F_PLUS 4  /* base class ignored, a false positive here */

/* ---------------------------------------------------------------- buffer helpers */
typedef struct {
    Py_buffer views[40];
    int n;
} Bufs;

static void *get_buf(Bufs *b, PyObject *obj, int writable) {
    Py_buffer *v = &b->views[b->n];
    int flags = PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, v, flags) != 0) return NULL;
    b->n++;
    return v->buf;
}

static void release(Bufs *b) {
    for (int i = 0; i < b->n; i++) PyBuffer_Release(&b->views[i]);
    b->n = 0;
}

#define BUF(var, type, obj, w)                              \
    type *var = (type *)get_buf(&bufs, obj, w);             \
    if (!var) {                                             \
        release(&bufs);                                     \
        return NULL;                                        \
    }

/* ------------------------------------------------------- cells (once per table) */
/* Class of detection src at (area a, threshold t): 0 true positive, 1 false positive,
 * 2 ignored (the flags of MatchState: bit 0 matched, bit 1 ignored). */
static inline int cell_class(u8 f) { return (f & 2) ? 2 : ((f & 1) ? 0 : 1); }

/* base [D, A] (1 false positive / 2 ignored, the commoner; ties to false positive) and
 * the number of exception cells per (category, area, threshold) bucket. */
static PyObject *py_cells_count(PyObject *self, PyObject *args) {
    PyObject *o_order, *o_kd, *o_flags, *o_base, *o_cnt;
    Py_ssize_t D, A, T;
    if (!PyArg_ParseTuple(args, "OOOnnnOO", &o_order, &o_kd, &o_flags, &D, &A, &T, &o_base,
                          &o_cnt))
        return NULL;
    Bufs bufs = {.n = 0};
    BUF(order, i64, o_order, 0);
    BUF(kd, i32, o_kd, 0);
    BUF(flags, u8, o_flags, 0);
    BUF(base, u8, o_base, 1);
    BUF(cnt, i64, o_cnt, 1);
    Py_BEGIN_ALLOW_THREADS
    for (i64 d = 0; d < D; d++) {
        const u8 *f = flags + order[d] * A * T;
        for (i64 a = 0; a < A; a++) {
            int n_fp = 0, n_ig = 0;
            for (i64 t = 0; t < T; t++) {
                int c = cell_class(f[a * T + t]);
                n_fp += c == 1;
                n_ig += c == 2;
            }
            int bc = n_ig > n_fp ? 2 : 1;
            base[d * A + a] = (u8)bc;
            i64 *cb = cnt + ((i64)kd[d] * A + a) * T;
            for (i64 t = 0; t < T; t++)
                if (cell_class(f[a * T + t]) != bc) cb[t]++;
        }
    }
    Py_END_ALLOW_THREADS
    release(&bufs);
    Py_RETURN_NONE;
}

/* The exception cells, bucketed by (category, area, threshold), each bucket in
 * detection order: ex_pos (sorted detection position), ex_cls (class there). cursor:
 * the buckets' start offsets (advanced in place). */
static PyObject *py_cells_fill(PyObject *self, PyObject *args) {
    PyObject *o_order, *o_kd, *o_flags, *o_base, *o_cur, *o_pos, *o_cls;
    Py_ssize_t D, A, T;
    if (!PyArg_ParseTuple(args, "OOOnnnOOOO", &o_order, &o_kd, &o_flags, &D, &A, &T, &o_base,
                          &o_cur, &o_pos, &o_cls))
        return NULL;
    Bufs bufs = {.n = 0};
    BUF(order, i64, o_order, 0);
    BUF(kd, i32, o_kd, 0);
    BUF(flags, u8, o_flags, 0);
    BUF(base, u8, o_base, 0);
    BUF(cur, i64, o_cur, 1);
    BUF(pos, i32, o_pos, 1);
    BUF(cls, u8, o_cls, 1);
    Py_BEGIN_ALLOW_THREADS
    for (i64 d = 0; d < D; d++) {
        const u8 *f = flags + order[d] * A * T;
        for (i64 a = 0; a < A; a++) {
            int bc = base[d * A + a];
            i64 *cb = cur + ((i64)kd[d] * A + a) * T;
            for (i64 t = 0; t < T; t++) {
                int c = cell_class(f[a * T + t]);
                if (c != bc) {
                    i64 e = cb[t]++;
                    pos[e] = (i32)d;
                    cls[e] = (u8)c;
                }
            }
        }
    }
    Py_END_ALLOW_THREADS
    release(&bufs);
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------- numpy's pairwise sum */
/* numpy's pairwise_sum (loops_utils.h.src) of x[0..n): leaves of at most 128 values
 * summed with 8 accumulators, halves rounded down to a multiple of 8. */
static double pw_sum(const double *x, i64 n) {
    if (n < 8) {
        double res = 0.0;
        for (i64 i = 0; i < n; i++) res += x[i];
        return res;
    }
    if (n <= 128) {
        double r[8];
        for (int j = 0; j < 8; j++) r[j] = x[j];
        i64 i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += x[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += x[i];
        return res;
    }
    i64 n2 = n / 2;
    n2 -= n2 % 8;
    return pw_sum(x, n2) + pw_sum(x + n2, n - n2);
}

/* The same on NB lanes at once: x is n rows of NB values; out[b] is pw_sum of lane b. */
static void pw_rows(const double *x, i64 n, double *out) {
    if (n < 8) {
        double res[NB];
        for (int b = 0; b < NB; b++) res[b] = 0.0;
        for (i64 i = 0; i < n; i++)
            for (int b = 0; b < NB; b++) res[b] += x[i * NB + b];
        memcpy(out, res, sizeof(res));
        return;
    }
    if (n <= 128) {
        double r[8][NB];
        for (int j = 0; j < 8; j++)
            for (int b = 0; b < NB; b++) r[j][b] = x[j * NB + b];
        i64 i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++)
                for (int b = 0; b < NB; b++) r[j][b] += x[(i + j) * NB + b];
        double res[NB];
        for (int b = 0; b < NB; b++)
            res[b] = ((r[0][b] + r[1][b]) + (r[2][b] + r[3][b])) +
                     ((r[4][b] + r[5][b]) + (r[6][b] + r[7][b]));
        for (; i < n; i++)
            for (int b = 0; b < NB; b++) res[b] += x[i * NB + b];
        memcpy(out, res, sizeof(res));
        return;
    }
    i64 n2 = n / 2;
    n2 -= n2 % 8;
    double lo[NB], hi[NB];
    pw_rows(x, n2, lo);
    pw_rows(x + n2 * NB, n - n2, hi);
    for (int b = 0; b < NB; b++) out[b] = lo[b] + hi[b];
}

/* test hooks: numpy's mean by the two routines above */
static PyObject *py_pairwise_sum(PyObject *self, PyObject *args) {
    PyObject *o_x;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "On", &o_x, &n)) return NULL;
    Bufs bufs = {.n = 0};
    BUF(x, double, o_x, 0);
    double s = pw_sum(x, n);
    release(&bufs);
    return PyFloat_FromDouble(s);
}

static PyObject *py_pairwise_rows(PyObject *self, PyObject *args) {
    PyObject *o_x, *o_out;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "OnO", &o_x, &n, &o_out)) return NULL;
    Bufs bufs = {.n = 0};
    BUF(x, double, o_x, 0);
    BUF(out, double, o_out, 1);
    pw_rows(x, n, out);
    release(&bufs);
    Py_RETURN_NONE;
}

/* ----------------------------------------------------------------- replicates */
typedef struct {
    void *p;
    size_t cap; /* bytes */
} Grow;

static int grow(Grow *g, size_t bytes) {
    if (bytes <= g->cap) return 0;
    size_t c = g->cap ? g->cap : 4096;
    while (c < bytes) c *= 2;
    void *q = realloc(g->p, c);
    if (!q) return -1;
    g->p = q;
    g->cap = c;
    return 0;
}

/* the smallest integer c with float(c) / n_gt >= thr, per recall threshold (the test of
 * pycocotools' searchsorted; numba twin: coco_bootstrap_kernels._fill_counts) */
static void fill_counts(i32 *out, i64 n_gt, const double *rec_thrs, i64 R) {
    double fn = (double)n_gt;
    for (i64 r = 0; r < R; r++) {
        double thr = rec_thrs[r];
        i64 c = (i64)ceil(thr * fn);
        if (c < 0) c = 0;
        if (c > n_gt) c = n_gt;
        while (c > 0 && (double)(c - 1) / fn >= thr) c--;
        while (c < n_gt && (double)c / fn < thr) c++;
        out[r] = (i32)c;
    }
}

typedef struct {
    /* sizes */
    i64 I, K, A, T, R, M, P, S;
    /* inputs */
    const i32 *pair_img, *pair_k, *pair_npig;
    const i64 *bw_off;
    const i32 *bw_img;
    const i64 *snap_off;
    const i32 *snap_after;
    const i64 *ex_off;
    const i32 *ex_img, *ex_snap, *ex_tie;
    const u8 *ex_flag, *ex_mmask;
    const i32 *tie_len, *tie_gfp, *tie_pre;
    const double *rec_thrs;
    const u8 *spec_ap;
    const i64 *spec_thr, *spec_area, *spec_m;
    const i64 *spec_grp, *cat_grp; /* [S] group of each stat (-1 all), [K] of each category */
} Table;

typedef struct {
    i32 *W;       /* [I][NB] draw counts */
    i32 *wmax;    /* [I] */
    i32 *npig;    /* [K][A][NB] */
    double *P;    /* [T][R][Kc][NB] precision of one area (the Kc categories of klist) */
    double *Rc;   /* [M][T][K][NB] recall of one area */
    double *tmpr; /* [T][K] gathered recall cells of one lane */
    u8 *def;      /* [NB][K] categories defined in each lane (one area) */
    i32 *klist;   /* [K] the categories some lane defines (one area), ascending */
    i64 Kc;       /* their number */
    uint32_t *lmask; /* [K] the lanes that define each category (one area) */
    struct Acc_ *acc; /* [S][NB] pairwise accumulators of the summary */
    Grow snap, evtp, evfp, env, ctab, plan, lbuf, gidxb, gcntb, snapall, soff;
    i64 kd[NB];            /* the summary's setup (sum_setup): categories each lane defines, */
    uint32_t lanes_s[64];  /* the lanes of each stat's accumulators, */
    int act[64], n_act;    /* the stats with accumulators, */
    int n_full, n_full_k;  /* the lanes that define all Kc / all K categories */
    i32 *gidx, *gcnt; /* [G + 1][NB][Kc] each lane's defined cells in a row of P, per group */
    i64 ctab_n; /* c-tables filled for n_gt < ctab_n */
    double *X;  /* [R + 1][NB] sweep scratch, -1 where unwritten */
    u8 **cnt;   /* [CNT_MAX_N] lazily built cnt tables (R <= 255) */
} Work;

#define CNT_MAX_N 8192

/* cnt_N[tp] = the number of recall thresholds whose need is <= tp, tp = 0..N (NULL for
 * N past CNT_MAX_N or more than 255 thresholds: the caller steps through need instead) */
static const u8 *cnt_table(Work *wk, i32 n_gt, const i32 *need, i64 R) {
    if (n_gt >= CNT_MAX_N || R > 255 || !wk->cnt) return NULL;
    if (!wk->cnt[n_gt]) {
        u8 *c = (u8 *)malloc((size_t)n_gt + 1);
        if (!c) return NULL;
        i64 r = 0;
        for (i64 tp = 0; tp <= n_gt; tp++) {
            while (r < R && need[r] <= tp) r++;
            c[tp] = (u8)r;
        }
        wk->cnt[n_gt] = c;
    }
    return wk->cnt[n_gt];
}

/* One (category, area, threshold): events, precision rows, recall cells. */
BOOT_INLINE int one_cell(const Table *tb, Work *wk, i64 k, i64 kc, i64 a, i64 t,
                         const i32 *snap, double *Pt) {
    const i64 K = tb->K, A = tb->A, T = tb->T, R = tb->R, M = tb->M;
    const i64 kat = (k * A + a) * T + t;
    const i32 *W = wk->W;
    i32 tp[NB], corr[NB], tpm[MMAX][NB];
    memset(tp, 0, sizeof(tp));
    memset(corr, 0, sizeof(corr));
    memset(tpm, 0, (size_t)(M > 1 ? M - 1 : 0) * sizeof(tpm[0])); /* the rows used */
    i64 q = 0;
    size_t qcap = wk->evtp.cap / (NB * sizeof(i32));
    i32 *evtp = (i32 *)wk->evtp.p, *evfp = (i32 *)wk->evfp.p;
#define ENSURE_EV()                                                                   \
    if (q >= (i64)qcap) {                                                             \
        size_t nb_ = (size_t)(q + 1) * NB * sizeof(i32);                              \
        if (grow(&wk->evtp, nb_) || grow(&wk->evfp, nb_)) return -1;                  \
        qcap = wk->evtp.cap / (NB * sizeof(i32));                                     \
        if (wk->evfp.cap / (NB * sizeof(i32)) < qcap)                                 \
            qcap = wk->evfp.cap / (NB * sizeof(i32));                                 \
        evtp = (i32 *)wk->evtp.p;                                                     \
        evfp = (i32 *)wk->evfp.p;                                                     \
    }
    const i64 e1 = tb->ex_off[kat + 1];
    for (i64 e = tb->ex_off[kat]; e < e1;) {
        const i32 tie = tb->ex_tie[e];
        if (tie < 0) {
            const i32 *u = W + (i64)tb->ex_img[e] * NB;
            const u8 f = tb->ex_flag[e];
            if (f & F_TP) {
                for (int b = 0; b < NB; b++) tp[b] += u[b];
                const u8 mm = tb->ex_mmask[e];
                for (i64 m = 0; m + 1 < M; m++)
                    if ((mm >> m) & 1)
                        for (int b = 0; b < NB; b++) tpm[m][b] += u[b];
            }
            if (f & F_MINUS)
                for (int b = 0; b < NB; b++) corr[b] -= u[b];
            else if (f & F_PLUS)
                for (int b = 0; b < NB; b++) corr[b] += u[b];
            if (f & F_TP) {
                ENSURE_EV();
                const i32 *sn = snap + (i64)tb->ex_snap[e] * NB;
                i32 *et = evtp + q * NB, *ef = evfp + q * NB;
                for (int b = 0; b < NB; b++) {
                    et[b] = tp[b];
                    ef[b] = sn[b] + corr[b];
                }
                q++;
            }
            e++;
        } else { /* a tie group: its cells here, copy by copy */
            const i64 L = tb->tie_len[tie];
            const i32 *wv = W + (i64)tb->ex_img[e] * NB;
            const i32 wg = wk->wmax[tb->ex_img[e]];
            for (i32 c = 0; c < wg; c++) {
                i32 uu[NB], cb[NB];
                for (int b = 0; b < NB; b++) {
                    uu[b] = wv[b] > c ? 1 : 0;
                    cb[b] = wv[b] < c ? wv[b] : c;
                }
                for (i64 j = e; j < e + L; j++) {
                    const u8 f = tb->ex_flag[j];
                    if (f & F_TP) {
                        for (int b = 0; b < NB; b++) tp[b] += uu[b];
                        const u8 mm = tb->ex_mmask[j];
                        for (i64 m = 0; m + 1 < M; m++)
                            if ((mm >> m) & 1)
                                for (int b = 0; b < NB; b++) tpm[m][b] += uu[b];
                    }
                    if (f & F_MINUS)
                        for (int b = 0; b < NB; b++) corr[b] -= uu[b];
                    else if (f & F_PLUS)
                        for (int b = 0; b < NB; b++) corr[b] += uu[b];
                    if (f & F_TP) {
                        ENSURE_EV();
                        const i32 *sn = snap + (i64)tb->ex_snap[j] * NB;
                        const i32 g = tb->tie_gfp[tb->ex_tie[j]], pre = tb->tie_pre[tb->ex_tie[j]];
                        i32 *et = evtp + q * NB, *ef = evfp + q * NB;
                        for (int b = 0; b < NB; b++) {
                            et[b] = tp[b];
                            ef[b] = sn[b] + cb[b] * g + uu[b] * pre + corr[b];
                        }
                        q++;
                    }
                }
            }
            e += L;
        }
    }
#undef ENSURE_EV
    const i64 n = q;
    const i32 *ng = wk->npig + (k * A + a) * NB;
    /* precision at each true positive, then its maximum from the right */
    if (grow(&wk->env, (size_t)(n > 0 ? n : 1) * NB * sizeof(double))) return -1;
    double *env = (double *)wk->env.p;
    {
        double best[NB];
        for (int b = 0; b < NB; b++) best[b] = -1.0;
        for (i64 qq = n - 1; qq >= 0; qq--) {
            const i32 *et = evtp + qq * NB, *ef = evfp + qq * NB;
            double *ev = env + qq * NB;
            for (int b = 0; b < NB; b++) {
                double ftp = (double)et[b];
                double pr = ftp / ((double)ef[b] + ftp + EPS);
                best[b] = pr > best[b] ? pr : best[b];
                ev[b] = best[b];
            }
        }
    }
    /* The recall-threshold sweep: threshold r takes env at the first event whose true
     * positives reach need[r]. The events that reach a lane's next threshold are found
     * for all lanes at once (a bit mask); there the lane writes X[its next threshold] =
     * env and advances; at the end X[first unreached] = 0 (X has a spare row R). One
     * forward fill of X over r (X holds -1 where unwritten) then gives the rows. */
    double *X = wk->X;
    const i32 *ctab = (const i32 *)wk->ctab.p;
    i32 nn[NB];      /* per lane: the true positives the next threshold needs */
    i64 prev[NB];    /* per lane: the next threshold */
    const u8 *cnl[NB];
    for (int b = 0; b < NB; b++) {
        prev[b] = 0;
        nn[b] = ng[b] > 0 ? ctab[(i64)ng[b] * R] : INT32_MAX;
        cnl[b] = ng[b] > 0 ? cnt_table(wk, ng[b], ctab + (i64)ng[b] * R, R) : NULL;
    }
    for (i64 qq = 0; qq < n; qq++) {
        const i32 *tq = evtp + qq * NB;
        uint32_t mask = 0;
        for (int b = 0; b < NB; b++) mask |= (uint32_t)(tq[b] >= nn[b]) << b; /* NB <= 32 */
        while (mask) { /* the lanes where event qq reaches a new threshold */
#if defined(__GNUC__) || defined(__clang__)
            const int b = __builtin_ctz(mask);
#else
            int b = 0;
            while (!((mask >> b) & 1)) b++;
#endif
            mask &= mask - 1;
            const i32 *need = ctab + (i64)ng[b] * R;
            i64 r = prev[b];
            X[r * NB + b] = env[qq * NB + b];
            const i32 t_b = tq[b];
            if (cnl[b])
                r = cnl[b][t_b < ng[b] ? t_b : ng[b]];
            else
                while (r < R && t_b >= need[r]) r++;
            prev[b] = r;
            nn[b] = r < R ? need[r] : INT32_MAX;
        }
    }
    for (int b = 0; b < NB; b++) {
        const i32 n_gt = ng[b];
        if (n_gt <= 0) continue;
        X[prev[b] * NB + b] = 0.0; /* thresholds never reached */
        const double fn = (double)n_gt;
        for (i64 m = 0; m + 1 < M; m++)
            wk->Rc[((m * T + t) * K + k) * NB + b] = (double)tpm[m][b] / fn;
        wk->Rc[(((M - 1) * T + t) * K + k) * NB + b] = (double)tp[b] / fn;
    }
    /* forward fill into the rows of threshold t, Pt [R][Kc][NB] (lanes that do not
     * define (k, a) get zeros there: no group of theirs reads them). The rows are
     * written once and read once, by the summary: streaming stores where there are (no
     * read for ownership of lines that are overwritten whole; cached stores measured
     * slower even where the summary reads the block right after). */
    {
        double v[NB];
        for (int b = 0; b < NB; b++) v[b] = 0.0;
        const i64 Kc = wk->Kc;
        double *restrict Pk = Pt + kc * NB;
        for (i64 r = 0; r < R; r++) {
            double *restrict xr = X + r * NB;
            double *restrict pr = Pk + r * Kc * NB;
            for (int b = 0; b < NB; b++) {
                const double x = xr[b];
                v[b] = x >= 0.0 ? x : v[b];
                xr[b] = -1.0;
            }
#if defined(BOOT_STREAM)
            for (int b = 0; b < NB; b += 2) _mm_stream_pd(pr + b, _mm_loadu_pd(v + b));
#else
            memcpy(pr, v, sizeof(v));
#endif
        }
    }
    return 0;
}

/* ------------------------------------------- numpy's pairwise sum, streamed */
/* pw_sum of a sequence that arrives in pieces, its length n known first: the same
 * additions in the same order, without storing the whole sequence. pw_sum's recursion
 * depends on n only; its leaves (runs of at most 128 values, summed by pw_sum itself) and
 * the additions of the tree (left + right, post-order) are planned once (pw_plan). The
 * values are appended to a buffer (lb, fill); acc_drain sums each complete leaf onto a
 * stack, does the plan's comb[j] additions of the two top values after leaf j, and moves
 * the unfinished leaf (< 128 values) to the buffer's front. */
typedef struct Acc_ {
    double stk[64]; /* the tree's depth is below 26 for n < 2^31 */
    const u8 *len, *comb; /* the plan: leaf lengths (a 0 after the last), additions after each */
    double *lb;           /* the buffer: the unfinished leaf + one row of P's cells + 1 */
    i64 n;                /* values to sum */
    i32 fill, cur, sp, j; /* values in lb, the current leaf's length, stack size, leaf */
} Acc;

static void pw_plan(i64 n, u8 *len, u8 *comb, i64 *nl) {
    if (n <= 128) {
        len[*nl] = (u8)n;
        comb[*nl] = 0;
        (*nl)++;
        return;
    }
    i64 n2 = n / 2;
    n2 -= n2 % 8;
    pw_plan(n2, len, comb, nl);
    pw_plan(n - n2, len, comb, nl);
    comb[*nl - 1]++; /* pw_sum(x, n2) + pw_sum(x + n2, n - n2), once the right half is done */
}

/* leaves of the plan of n, at most (leaves are over 64 values where n > 128), + sentinel */
static inline i64 pw_plan_cap(i64 n) { return n / 64 + 2; }

static void acc_drain(Acc *A) {
    i32 p = 0;
    while (A->cur > 0 && A->fill - p >= A->cur) {
        A->stk[A->sp++] = pw_sum(A->lb + p, A->cur);
        for (int c = A->comb[A->j]; c > 0; c--) {
            const double r = A->stk[--A->sp];
            A->stk[A->sp - 1] = A->stk[A->sp - 1] + r;
        }
        p += A->cur;
        A->j++;
        A->cur = A->len[A->j];
    }
    if (p) {
        memmove(A->lb, A->lb + p, (size_t)(A->fill - p) * sizeof(double));
        A->fill -= p;
    }
}

/* Summary stats of area a for the NB lanes: out [NB][S] (only the specs of area a).
 *
 * Each stat is the mean of the defined cells (categories with gts in the replicate; of
 * one group, cat_grp[k] == spec_grp[s], for LVIS's APr / APc / APf) in summarize's order
 * -- precision (t, r, k), recall (t, k) -- summed as numpy's pairwise sum. P holds the
 * precision rows of the Kc categories some lane defines (wk->klist, ascending). Lanes
 * that define all Kc of them sum P's rows directly, all at once (pw_rows: the same
 * sequence); the other lanes and the group stats stream their defined cells into
 * pairwise accumulators (Acc), all of them in one pass over P. */
/* The summary's setup for area a: which lanes define which categories, the
 * accumulators and their plans, the lanes' cell offsets. */
BOOT_INLINE int sum_setup(const Table *tb, Work *wk, i64 a) {
    const i64 K = tb->K, A = tb->A, T = tb->T, R = tb->R, S = tb->S, Kc = wk->Kc;
    u8 *def = wk->def;
    uint32_t *lm = wk->lmask; /* [K] the lanes that define category k */
    i64 *kd = wk->kd;
    uint32_t partial = 0; /* lanes with some but not all of the Kc categories */
    int n_full = 0, n_full_k = 0; /* lanes with all Kc (AP rows) / all K (recall rows) */
    for (i64 k = 0; k < K; k++) lm[k] = 0;
    for (int b = 0; b < NB; b++) {
        kd[b] = 0;
        for (i64 k = 0; k < K; k++) {
            const u8 d = wk->npig[(k * A + a) * NB + b] > 0;
            def[b * K + k] = d;
            kd[b] += d;
            lm[k] |= (uint32_t)d << b;
        }
        if (kd[b] == Kc && Kc > 0) n_full++;
        else if (kd[b] > 0) partial |= 1u << b;
        n_full_k += kd[b] == K && K > 0;
    }
    wk->n_full = n_full, wk->n_full_k = n_full_k;
    /* accumulators of the AP stats: [S][NB], those of lanes in lanes_s[s] */
    uint32_t *lanes_s = wk->lanes_s;
    i64 n_s[64][NB];
    int *act = wk->act, n_act = 0;
    i64 plan_need = 0, g_max = -1;
    for (i64 s = 0; s < S; s++) {
        lanes_s[s] = 0;
        if (tb->spec_area[s] != a || !tb->spec_ap[s]) continue;
        const i64 g = tb->spec_grp[s];
        const i64 n_blk = (tb->spec_thr[s] >= 0 ? 1 : T) * R;
        uint32_t ls = 0;
        for (int b = 0; b < NB; b++) {
            i64 c = kd[b];
            if (g >= 0) {
                c = 0;
                for (i64 k = 0; k < K; k++) c += def[b * K + k] && tb->cat_grp[k] == g;
            } else if (!((partial >> b) & 1)) {
                c = 0;
            }
            n_s[s][b] = n_blk * c;
            if (c > 0) {
                ls |= 1u << b;
                plan_need += pw_plan_cap(n_blk * c);
            }
        }
        lanes_s[s] = ls;
        if (ls) act[n_act++] = (int)s;
        if (ls && g > g_max) g_max = g;
    }
    wk->n_act = n_act;
    if (n_act) {
        const i64 lcap = Kc + 128; /* an unfinished leaf (< 128 values) and one row */
        if (grow(&wk->plan, (size_t)plan_need * 2) ||
            grow(&wk->lbuf, (size_t)n_act * NB * lcap * sizeof(double)) ||
            grow(&wk->gidxb, (size_t)(g_max + 2) * NB * (Kc > 0 ? Kc : 1) * sizeof(i32)) ||
            grow(&wk->gcntb, (size_t)(g_max + 2) * NB * sizeof(i32)))
            return -1;
        /* per lane, the positions (in klist) of its defined categories: all (list 0),
         * then those of group g (list g + 1), ascending */
        wk->gidx = (i32 *)wk->gidxb.p;
        wk->gcnt = (i32 *)wk->gcntb.p;
        for (i64 g = -1; g <= g_max; g++)
            for (int b = 0; b < NB; b++) {
                i32 *ix = wk->gidx + ((g + 1) * NB + b) * Kc, n = 0;
                for (i64 c = 0; c < Kc; c++) {
                    const i64 k = wk->klist[c];
                    if (def[b * K + k] && (g < 0 || tb->cat_grp[k] == g))
                        ix[n++] = (i32)c;
                }
                wk->gcnt[(g + 1) * NB + b] = n;
            }
        u8 *pl = (u8 *)wk->plan.p;
        double *lbp = (double *)wk->lbuf.p;
        for (int i = 0; i < n_act; i++) {
            const i64 s = act[i];
            for (int b = 0; b < NB; b++) {
                if (!((lanes_s[s] >> b) & 1)) continue;
                Acc *ac = wk->acc + s * NB + b;
                const i64 cap = pw_plan_cap(n_s[s][b]);
                u8 *len = pl, *comb = pl + cap;
                pl += 2 * cap;
                i64 nl = 0;
                pw_plan(n_s[s][b], len, comb, &nl);
                len[nl] = 0;
                ac->len = len, ac->comb = comb, ac->n = n_s[s][b];
                ac->fill = 0, ac->cur = len[0], ac->sp = 0, ac->j = 0;
                ac->lb = lbp;
                lbp += lcap;
            }
        }
    }
    return 0;
}

/* The rows of threshold t (Pt [R][Kc][NB]) into the accumulators that read them, in
 * summarize's order (r, then category). */
BOOT_INLINE void sum_rows(const Table *tb, Work *wk, i64 t, const double *Pt) {
    const i64 R = tb->R, Kc = wk->Kc;
    int sa[64], n_sa = 0; /* the stats that read threshold t */
    for (int i = 0; i < wk->n_act; i++) {
        const i64 s = wk->act[i], th = tb->spec_thr[s];
        if (th < 0 || th == t) sa[n_sa++] = (int)s;
    }
    if (!n_sa) return;
    for (i64 r = 0; r < R; r++) {
        for (int i = 0; i < n_sa; i++) {
            /* the row's defined cells, appended to each lane's buffer */
            const int s = sa[i];
            const i64 g = tb->spec_grp[s];
            const uint32_t ls = wk->lanes_s[s];
            for (int b = 0; b < NB; b++) {
                if (!((ls >> b) & 1)) continue;
                Acc *ac = wk->acc + (i64)s * NB + b;
                const i32 *ix = wk->gidx + ((g + 1) * NB + b) * Kc;
                const i32 n = wk->gcnt[(g + 1) * NB + b];
                double *restrict d = ac->lb + ac->fill;
                const double *src = Pt + r * Kc * NB + b;
                for (i32 x = 0; x < n; x++) d[x] = src[(i64)ix[x] * NB];
                ac->fill += n;
                acc_drain(ac);
            }
        }
    }
}

/* The stats of area a: out [NB][S] (only the specs of area a). */
BOOT_INLINE void sum_finish(const Table *tb, Work *wk, i64 a, double *out) {
    const i64 K = tb->K, T = tb->T, R = tb->R, S = tb->S, Kc = wk->Kc;
    const u8 *def = wk->def;
    const i64 *kd = wk->kd;
    const uint32_t *lanes_s = wk->lanes_s;
    const int n_full = wk->n_full, n_full_k = wk->n_full_k;
    for (i64 s = 0; s < S; s++) {
        if (tb->spec_area[s] != a) continue;
        const i64 g = tb->spec_grp[s];
        i64 t0 = 0, t1 = T;
        if (tb->spec_thr[s] >= 0) {
            t0 = tb->spec_thr[s];
            t1 = t0 + 1;
        }
        const int ap = tb->spec_ap[s];
        if (ap) {
            double sums[NB];
            if (n_full && g < 0) pw_rows(wk->P + t0 * R * Kc * NB, (t1 - t0) * R * Kc, sums);
            for (int b = 0; b < NB; b++) {
                double v = -1.0;
                if ((lanes_s[s] >> b) & 1) {
                    const Acc *ac = wk->acc + s * NB + b;
                    v = ac->stk[0] / (double)ac->n;
                } else if (g < 0 && kd[b] == Kc && Kc > 0) {
                    v = sums[b] / (double)((t1 - t0) * R * Kc);
                }
                out[b * S + s] = v;
            }
            continue;
        }
        /* recall: [T][K] cells per lane, gathered (small) */
        const double *rows = wk->Rc + (tb->spec_m[s] * T + t0) * K * NB;
        const i64 n_blk = t1 - t0;
        double sums[NB];
        if (n_full_k && g < 0) pw_rows(rows, n_blk * K, sums);
        for (int b = 0; b < NB; b++) {
            i64 j = 0;
            if (g < 0 && kd[b] == K && K > 0) {
                out[b * S + s] = sums[b] / (double)(n_blk * K);
                continue;
            }
            for (i64 bl = 0; bl < n_blk; bl++)
                for (i64 k = 0; k < K; k++)
                    if (def[b * K + k] && (g < 0 || tb->cat_grp[k] == g))
                        wk->tmpr[j++] = rows[(bl * K + k) * NB + b];
            out[b * S + s] = j > 0 ? pw_sum(wk->tmpr, j) / (double)j : -1.0;
        }
    }
}

/* The replicates, NB at a time: returns nonzero when out of memory. Cloned for AVX2
 * where the compiler and the platform support function multi-versioning (the same
 * operations: integer adds, IEEE division and comparisons, no contraction). */
static BOOT_CLONES int run_chunks(const Table *tb, Work *wk, const i32 *w, i64 B, double *out,
                                  double *stats) {
    const i64 I = tb->I, K = tb->K, A = tb->A, T = tb->T, R = tb->R, P = tb->P, S = tb->S;
    int fail = 0;
    for (i64 b0 = 0; b0 < B && !fail; b0 += NB) {
        const i64 nb = B - b0 < NB ? B - b0 : NB;
        /* lanes: transposed draw counts (lanes past B drawn nothing) */
        for (i64 i = 0; i < I; i++) {
            i32 *wi = wk->W + i * NB, mx = 0;
            for (int b = 0; b < NB; b++) {
                wi[b] = b < nb ? w[(b0 + b) * I + i] : 0;
                mx = wi[b] > mx ? wi[b] : mx;
            }
            wk->wmax[i] = mx;
        }
        memset(wk->npig, 0, (size_t)K * A * NB * sizeof(i32));
        i32 max_gt = 0;
        for (i64 p = 0; p < P; p++) {
            const i32 *u = wk->W + (i64)tb->pair_img[p] * NB;
            for (i64 a = 0; a < A; a++) {
                const i32 c = tb->pair_npig[p * A + a];
                if (!c) continue;
                i32 *dst = wk->npig + ((i64)tb->pair_k[p] * A + a) * NB;
                for (int b = 0; b < NB; b++) dst[b] += u[b] * c;
            }
        }
        for (i64 x = 0; x < K * A * NB; x++) max_gt = wk->npig[x] > max_gt ? wk->npig[x] : max_gt;
        if (max_gt >= wk->ctab_n) {
            if (grow(&wk->ctab, (size_t)(max_gt + 1) * R * sizeof(i32))) {
                fail = 1;
                break;
            }
            for (i64 g = wk->ctab_n; g <= max_gt; g++)
                fill_counts((i32 *)wk->ctab.p + g * R, g, tb->rec_thrs, R);
            wk->ctab_n = max_gt + 1;
        }
        for (i64 a = 0; a < A && !fail; a++) {
            /* the categories some lane defines in this area: the only ones P holds */
            i64 Kc = 0;
            for (i64 k = 0; k < K; k++) {
                const i32 *ng = wk->npig + (k * A + a) * NB;
                int any = 0;
                for (int b = 0; b < NB; b++) any |= ng[b] > 0;
                if (any) wk->klist[Kc++] = (i32)k;
            }
            wk->Kc = Kc;
            if (sum_setup(tb, wk, a)) {
                fail = 1;
                break;
            }
            /* Where no lane sums P's rows directly (n_full == 0: LVIS, small sets), the
             * thresholds go outermost: P holds one threshold's rows [R][Kc][NB] (LVIS,
             * 500 images: 14 MB, not 140 MB), streamed into the accumulators right
             * after (the snapshots of every category kept for the area). Else the
             * categories go outermost, P holds every threshold's rows, summed after
             * the area. Same cells, same order into each sum, either way. */
            const int by_t = wk->n_full == 0;
            i64 n_snap = 0;
            if (by_t) {
                for (i64 kc = 0; kc < Kc; kc++) {
                    const i64 ak = a * K + wk->klist[kc];
                    n_snap += tb->snap_off[ak + 1] - tb->snap_off[ak];
                }
                if (grow(&wk->snapall, (size_t)(n_snap > 0 ? n_snap : 1) * NB * sizeof(i32)) ||
                    grow(&wk->soff, (size_t)(Kc > 0 ? Kc : 1) * sizeof(i64))) {
                    fail = 1;
                    break;
                }
            }
            i64 *soff = (i64 *)wk->soff.p, s_at = 0;
            for (i64 kc = 0; kc < Kc && !fail; kc++) {
                const i64 k = wk->klist[kc];
                /* running false-positive count of the base class, at the snapshots */
                i32 cnt[NB];
                memset(cnt, 0, sizeof(cnt));
                i32 *snap = by_t ? (i32 *)wk->snapall.p + s_at * NB : (i32 *)wk->snap.p;
                const i64 ak = a * K + k; /* the walks are stored area-major */
                const i64 bw0 = tb->bw_off[ak], s0 = tb->snap_off[ak], s1 = tb->snap_off[ak + 1];
                i64 i = bw0;
                for (i64 s = s0; s < s1; s++) {
                    const i64 tgt = bw0 + tb->snap_after[s];
                    for (; i < tgt; i++) {
                        const i32 *u = wk->W + (i64)tb->bw_img[i] * NB;
                        for (int b = 0; b < NB; b++) cnt[b] += u[b];
                    }
                    memcpy(snap + (s - s0) * NB, cnt, sizeof(cnt));
                }
                if (by_t) {
                    soff[kc] = s_at;
                    s_at += s1 - s0;
                    continue;
                }
                for (i64 t = 0; t < T; t++)
                    if (one_cell(tb, wk, k, kc, a, t, snap, wk->P + t * R * Kc * NB)) {
                        fail = 1;
                        break;
                    }
            }
            if (fail) break;
            if (by_t) {
                for (i64 t = 0; t < T && !fail; t++) {
                    for (i64 kc = 0; kc < Kc; kc++) {
                        const i32 *snap = (const i32 *)wk->snapall.p + soff[kc] * NB;
                        if (one_cell(tb, wk, wk->klist[kc], kc, a, t, snap, wk->P)) {
                            fail = 1;
                            break;
                        }
                    }
#if defined(BOOT_STREAM)
                    _mm_sfence();
#endif
                    if (!fail) sum_rows(tb, wk, t, wk->P);
                }
                if (fail) break;
            } else {
#if defined(BOOT_STREAM)
                _mm_sfence();
#endif
                for (i64 t = 0; t < T; t++) sum_rows(tb, wk, t, wk->P + t * R * Kc * NB);
            }
            sum_finish(tb, wk, a, stats);
            for (i64 b = 0; b < nb; b++)
                for (i64 s = 0; s < S; s++)
                    if (tb->spec_area[s] == a) out[(b0 + b) * S + s] = stats[b * S + s];
        }
    }
    return fail;
}

/* replicate(weights i32 [B, I], <table arrays>, spec_grp i64 [S], cat_grp i64 [K],
 * out f64 [B, S], work_p f64 [T R K NB + 8]): the large work array comes from the
 * caller, who keeps it across calls (fresh pages of 20 MB per call cost page faults);
 * only its first T R Kc NB cells are written, Kc the categories with gts in a lane */
static PyObject *py_replicate(PyObject *self, PyObject *args) {
    PyObject *o_w, *o_pi, *o_pk, *o_pn, *o_bwo, *o_bwi, *o_so, *o_sa, *o_eo, *o_ei, *o_es,
        *o_et, *o_ef, *o_em, *o_tl, *o_tg, *o_tp, *o_rt, *o_sap, *o_sth, *o_sar, *o_sm, *o_sg,
        *o_cg, *o_out, *o_wp;
    Py_ssize_t B, I, K, A, T, M, P;
    if (!PyArg_ParseTuple(args, "OnnnnnnnOOOOOOOOOOOOOOOOOOOOOOOOO", &o_w, &B, &I, &K, &A,
                          &T, &M, &P, &o_pi, &o_pk, &o_pn, &o_bwo, &o_bwi, &o_so, &o_sa, &o_eo,
                          &o_ei, &o_es, &o_et, &o_ef, &o_em, &o_tl, &o_tg, &o_tp, &o_rt, &o_sap,
                          &o_sth, &o_sar, &o_sm, &o_sg, &o_cg, &o_out, &o_wp))
        return NULL;
    if (M < 1 || M > MMAX) {
        PyErr_SetString(PyExc_ValueError, "bootstrap: 1 to 16 maxDets values supported");
        return NULL;
    }
    Bufs bufs = {.n = 0};
    BUF(w, i32, o_w, 0);
    Table tb;
    Py_buffer rv;
    if (PyObject_GetBuffer(o_rt, &rv, PyBUF_C_CONTIGUOUS) != 0) {
        release(&bufs);
        return NULL;
    }
    Py_ssize_t R = rv.len / (Py_ssize_t)sizeof(double);
    PyBuffer_Release(&rv);
    Py_buffer sv;
    if (PyObject_GetBuffer(o_sap, &sv, PyBUF_C_CONTIGUOUS) != 0) {
        release(&bufs);
        return NULL;
    }
    Py_ssize_t S = sv.len;
    PyBuffer_Release(&sv);
    if (S > 64) {
        release(&bufs);
        PyErr_SetString(PyExc_ValueError, "bootstrap: at most 64 summary stats supported");
        return NULL;
    }
    tb.I = I, tb.K = K, tb.A = A, tb.T = T, tb.R = R, tb.M = M, tb.P = P, tb.S = S;
    {
        BUF(pi, i32, o_pi, 0);
        BUF(pk, i32, o_pk, 0);
        BUF(pn, i32, o_pn, 0);
        BUF(bwo, i64, o_bwo, 0);
        BUF(bwi, i32, o_bwi, 0);
        BUF(so, i64, o_so, 0);
        BUF(sa, i32, o_sa, 0);
        BUF(eo, i64, o_eo, 0);
        BUF(ei, i32, o_ei, 0);
        BUF(es, i32, o_es, 0);
        BUF(et, i32, o_et, 0);
        BUF(ef, u8, o_ef, 0);
        BUF(em, u8, o_em, 0);
        BUF(tl, i32, o_tl, 0);
        BUF(tg, i32, o_tg, 0);
        BUF(tpr, i32, o_tp, 0);
        BUF(rt, double, o_rt, 0);
        BUF(sap, u8, o_sap, 0);
        BUF(sth, i64, o_sth, 0);
        BUF(sar, i64, o_sar, 0);
        BUF(sm, i64, o_sm, 0);
        BUF(sg, i64, o_sg, 0);
        BUF(cg, i64, o_cg, 0);
        tb.pair_img = pi, tb.pair_k = pk, tb.pair_npig = pn, tb.bw_off = bwo, tb.bw_img = bwi;
        tb.snap_off = so, tb.snap_after = sa, tb.ex_off = eo, tb.ex_img = ei, tb.ex_snap = es;
        tb.ex_tie = et, tb.ex_flag = ef, tb.ex_mmask = em, tb.tie_len = tl, tb.tie_gfp = tg;
        tb.tie_pre = tpr, tb.rec_thrs = rt, tb.spec_ap = sap, tb.spec_thr = sth;
        tb.spec_area = sar, tb.spec_m = sm, tb.spec_grp = sg, tb.cat_grp = cg;
    }
    BUF(out, double, o_out, 1);
    Py_buffer wpv;
    if (PyObject_GetBuffer(o_wp, &wpv, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) != 0) {
        release(&bufs);
        return NULL;
    }
    const size_t n_cells = (size_t)(T * R * K > 0 ? T * R * K : 1) * NB;
    if ((size_t)wpv.len < (n_cells + 8) * sizeof(double)) {
        PyBuffer_Release(&wpv);
        release(&bufs);
        PyErr_SetString(PyExc_ValueError, "bootstrap: work array too small");
        return NULL;
    }

    int fail = 0;
    Work wk;
    memset(&wk, 0, sizeof(wk));
    Py_BEGIN_ALLOW_THREADS
    wk.W = (i32 *)malloc((size_t)(I > 0 ? I : 1) * NB * sizeof(i32));
    wk.wmax = (i32 *)malloc((size_t)(I > 0 ? I : 1) * sizeof(i32));
    wk.npig = (i32 *)malloc((size_t)(K * A > 0 ? K * A : 1) * NB * sizeof(i32));
    /* P 64-byte aligned (rows of NB doubles fill whole cache lines) */
    wk.P = (double *)(((uintptr_t)wpv.buf + 63) & ~(uintptr_t)63);
    wk.Rc = (double *)calloc((size_t)(M * T * K > 0 ? M * T * K : 1) * NB, sizeof(double));
    wk.tmpr = (double *)malloc((size_t)(T * K > 0 ? T * K : 1) * sizeof(double));
    wk.def = (u8 *)malloc((size_t)(K > 0 ? K : 1) * NB);
    wk.klist = (i32 *)malloc((size_t)(K > 0 ? K : 1) * sizeof(i32));
    wk.lmask = (uint32_t *)malloc((size_t)(K > 0 ? K : 1) * sizeof(uint32_t));
    wk.acc = (Acc *)malloc((size_t)(S > 0 ? S : 1) * NB * sizeof(Acc));
    double *stats = (double *)malloc((size_t)NB * (S > 0 ? S : 1) * sizeof(double));
    i64 max_snap = 1;
    for (i64 ak = 0; ak < K * A; ak++)
        if (tb.snap_off[ak + 1] - tb.snap_off[ak] > max_snap)
            max_snap = tb.snap_off[ak + 1] - tb.snap_off[ak];
    if (!wk.W || !wk.wmax || !wk.npig || !wk.P || !wk.Rc || !wk.tmpr || !wk.def || !wk.klist ||
        !wk.lmask || !wk.acc || !stats ||
        grow(&wk.snap, (size_t)max_snap * NB * sizeof(i32)) ||
        grow(&wk.evtp, 256 * NB * sizeof(i32)) || grow(&wk.evfp, 256 * NB * sizeof(i32)))
        fail = 1;
    wk.X = (double *)malloc((size_t)(R + 1) * NB * sizeof(double));
    wk.cnt = (u8 **)calloc(CNT_MAX_N, sizeof(u8 *));
    if (!wk.X || !wk.cnt) fail = 1;
    else
        for (i64 x = 0; x < (R + 1) * NB; x++) wk.X[x] = -1.0;
    if (!fail) fail = run_chunks(&tb, &wk, w, B, out, stats);
    free(wk.W);
    free(wk.wmax);
    free(wk.npig);
    free(wk.Rc);
    free(wk.tmpr);
    free(wk.def);
    free(wk.klist);
    free(wk.lmask);
    free(wk.acc);
    free(wk.plan.p);
    free(wk.lbuf.p);
    free(wk.gidxb.p);
    free(wk.gcntb.p);
    free(wk.snapall.p);
    free(wk.soff.p);
    free(stats);
    free(wk.snap.p);
    free(wk.evtp.p);
    free(wk.evfp.p);
    free(wk.env.p);
    free(wk.ctab.p);
    free(wk.X);
    if (wk.cnt)
        for (i64 x = 0; x < CNT_MAX_N; x++) free(wk.cnt[x]);
    free(wk.cnt);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&wpv);
    release(&bufs);
    if (fail) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* ===================================================================== module */
static PyMethodDef methods[] = {
    {"cells_count", py_cells_count, METH_VARARGS, NULL},
    {"cells_fill", py_cells_fill, METH_VARARGS, NULL},
    {"replicate", py_replicate, METH_VARARGS, NULL},
    {"pairwise_sum", py_pairwise_sum, METH_VARARGS, NULL},
    {"pairwise_rows", py_pairwise_rows, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_bootstrap_ext",
                                    "C kernel of the COCO bootstrap", -1, methods};

PyMODINIT_FUNC PyInit__bootstrap_ext(void) {
    PyObject *m = PyModule_Create(&module);
    if (m) PyModule_AddIntConstant(m, "NB", NB);
    /* the argument list of replicate (2: spec_grp, cat_grp; 3: one work array, not two);
     * checked by coco_bootstrap */
    if (m) PyModule_AddIntConstant(m, "API", 3);
    return m;
}
