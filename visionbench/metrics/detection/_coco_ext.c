/* C kernels of the COCO evaluation (optional extension; see coco_native.py).
 *
 * Each function is a line-by-line port of a numba kernel of coco_kernels.py /
 * coco_json_kernels.py (the reference path the tests compare against), or of
 * pycocotools' maskApi.c (RLE decoding, IoU, area, bounding box), doing the same
 * floating-point operations in the same order, so the results are bit-identical.
 * Compiled without FMA contraction (-ffp-contract=off) and without fast-math.
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
#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#define HAVE_MADVISE 1
#endif

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

typedef int64_t i64;
typedef uint8_t u8;
typedef uint32_t u32;

static const double EPS = 2.220446049250313e-16; /* np.spacing(1) */
#define MATCHED 1
#define IGNORED 2

static const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* ---------------------------------------------------------------- buffer helpers */
typedef struct {
    Py_buffer views[24];
    int n;
} Bufs;

static void *get_buf(Bufs *b, PyObject *obj, int writable, Py_ssize_t *len_bytes) {
    Py_buffer *v = &b->views[b->n];
    int flags = PyBUF_C_CONTIGUOUS | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, v, flags) != 0) return NULL;
    b->n++;
    if (len_bytes) *len_bytes = v->len;
    return v->buf;
}

static void release(Bufs *b) {
    for (int i = 0; i < b->n; i++) PyBuffer_Release(&b->views[i]);
    b->n = 0;
}

/* type *var = the buffer of obj, var_len its length in bytes (returns NULL on error) */
#define BUF(var, type, obj, w)                                       \
    Py_ssize_t var##_len = 0;                                        \
    type *var = (type *)get_buf(&bufs, obj, w, &var##_len);          \
    (void)var##_len;                                                 \
    if (!var) {                                                      \
        release(&bufs);                                              \
        return NULL;                                                 \
    }

/* the pairs' blocks: (image, category) pair p holds gts gs[p]..ge[p], dts ds[p]..de[p],
 * its IoU matrix (dt x gt) at off[p] */
typedef struct {
    const i64 *gs, *ge, *ds, *de, *off;
    i64 n;
} Pairs;

static int get_pairs(Bufs *b, PyObject *const *o, Pairs *P) {
    Py_ssize_t len;
    if (!(P->gs = get_buf(b, o[0], 0, &len)) || !(P->ge = get_buf(b, o[1], 0, NULL)) ||
        !(P->ds = get_buf(b, o[2], 0, NULL)) || !(P->de = get_buf(b, o[3], 0, NULL)) ||
        !(P->off = get_buf(b, o[4], 0, NULL)))
        return -1;
    P->n = len / 8;
    return 0;
}

/* in a kernel: the pairs' blocks from objects o_p[0..5) as locals gs, ge, ds, de, off
 * and n_pairs */
#define PAIRS(o_p)                                                                   \
    Pairs P_;                                                                        \
    if (get_pairs(&bufs, o_p, &P_)) {                                                \
        release(&bufs);                                                              \
        return NULL;                                                                 \
    }                                                                                \
    const i64 *gs = P_.gs, *ge = P_.ge, *ds = P_.ds, *de = P_.de, *off = P_.off;     \
    const i64 n_pairs = P_.n;                                                        \
    (void)n_pairs

/* scratch allocations freed together */
typedef struct {
    void *p[16];
    int n, failed;
} Mem;

static void *mem_get(Mem *m, size_t bytes, int zeroed) {
    void *p = m->n < 16 ? (zeroed ? calloc(1, bytes) : malloc(bytes)) : NULL;
    if (!p) m->failed = 1;
    if (m->n < 16) m->p[m->n++] = p;
    return p;
}

static void mem_free(Mem *m) {
    for (int i = 0; i < m->n; i++) free(m->p[i]);
    m->n = 0;
}

static PyObject *no_memory(Mem *m, Bufs *b) {
    mem_free(m);
    release(b);
    return PyErr_NoMemory();
}

/* ------------------------------------------------------------------ stable sort */
/* stable merge sort of idx[0..n) by key[idx[i]] ascending (ties keep their order) */
static void msort(i64 *idx, i64 *tmp, i64 n, const double *key) {
    if (n < 2) return;
    if (n <= 16) {
        for (i64 i = 1; i < n; i++) {
            i64 v = idx[i];
            double k = key[v];
            i64 j = i - 1;
            while (j >= 0 && key[idx[j]] > k) {
                idx[j + 1] = idx[j];
                j--;
            }
            idx[j + 1] = v;
        }
        return;
    }
    i64 h = n / 2;
    msort(idx, tmp, h, key);
    msort(idx + h, tmp, n - h, key);
    if (!(key[idx[h]] < key[idx[h - 1]])) return; /* already in order */
    memcpy(tmp, idx, sizeof(i64) * h);
    i64 a = 0, b = h, o = 0;
    while (a < h && b < n) {
        if (key[idx[b]] < key[tmp[a]])
            idx[o++] = idx[b++];
        else
            idx[o++] = tmp[a++];
    }
    while (a < h) idx[o++] = tmp[a++];
}

/* ----------------------------------------------------------------- group_order */
static PyObject *py_group_order(PyObject *self, PyObject *args) {
    PyObject *o_key, *o_neg, *o_out;
    Py_ssize_t n_fine, div;
    int by_score;
    if (!PyArg_ParseTuple(args, "OnnOpO", &o_key, &n_fine, &div, &o_neg, &by_score, &o_out))
        return NULL;
    Bufs bufs = {.n = 0};
    BUF(key, i64, o_key, 0);
    BUF(neg, double, o_neg, 0);
    BUF(order, i64, o_out, 1);
    i64 n = key_len / 8;
    i64 *counts = calloc(n_fine + 1, sizeof(i64));
    i64 *tmp = malloc(sizeof(i64) * (n + 1));
    if (!counts || !tmp) {
        free(counts);
        free(tmp);
        release(&bufs);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    for (i64 i = 0; i < n; i++) counts[key[i] + 1]++;
    for (i64 j = 0; j < n_fine; j++) counts[j + 1] += counts[j];
    for (i64 i = 0; i < n; i++) order[counts[key[i]]++] = i;
    if (by_score) {
        i64 s = 0;
        while (s < n) {
            i64 c = key[order[s]] / div;
            i64 e = s + 1;
            while (e < n && key[order[e]] / div == c) e++;
            if (e - s > 1) msort(order + s, tmp, e - s, neg);
            s = e;
        }
    }
    Py_END_ALLOW_THREADS
    free(counts);
    free(tmp);
    release(&bufs);
    Py_RETURN_NONE;
}

/* --------------------------------------------------------- segment_order_desc */
static PyObject *py_segment_order_desc(PyObject *self, PyObject *args) {
    PyObject *o_base, *o_seg, *o_score, *o_out;
    if (!PyArg_ParseTuple(args, "OOOO", &o_base, &o_seg, &o_score, &o_out)) return NULL;
    Bufs bufs = {.n = 0};
    BUF(base, i64, o_base, 0);
    BUF(seg, i64, o_seg, 0);
    BUF(score, double, o_score, 0);
    BUF(order, i64, o_out, 1);
    i64 n = base_len / 8, n_all = score_len / 8;
    double *neg = malloc(sizeof(double) * (n_all + 1));
    i64 *tmp = malloc(sizeof(i64) * (n + 1));
    if (!neg || !tmp) {
        free(neg);
        free(tmp);
        release(&bufs);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    for (i64 i = 0; i < n_all; i++) neg[i] = -score[i];
    memcpy(order, base, sizeof(i64) * n);
    i64 s = 0;
    while (s < n) {
        i64 c = seg[base[s]];
        i64 e = s + 1;
        while (e < n && seg[base[e]] == c) e++;
        if (e - s > 1) msort(order + s, tmp, e - s, neg);
        s = e;
    }
    Py_END_ALLOW_THREADS
    free(neg);
    free(tmp);
    release(&bufs);
    Py_RETURN_NONE;
}

/* -------------------------------------------------------------- pair_box_ious */
static PyObject *py_pair_box_ious(PyObject *self, PyObject *args) {
    PyObject *o_p[5], *o_gb, *o_gc, *o_db, *o_out;
    if (!PyArg_ParseTuple(args, "OOOOOOOOO", &o_p[0], &o_p[1], &o_p[2], &o_p[3], &o_p[4], &o_gb, &o_gc, &o_db,
                          &o_out))
        return NULL;
    Bufs bufs = {.n = 0};
    PAIRS(o_p);
    BUF(gb, double, o_gb, 0);
    BUF(gc, u8, o_gc, 0);
    BUF(db, double, o_db, 0);
    BUF(out, double, o_out, 1);
    Py_BEGIN_ALLOW_THREADS
    for (i64 p = 0; p < n_pairs; p++) {
        i64 g0 = gs[p], ng = ge[p] - g0, d0 = ds[p], nd = de[p] - d0, o = off[p];
        for (i64 d = 0; d < nd; d++) {
            const double *D = db + 4 * (d0 + d);
            double dx = D[0], dy = D[1], dw = D[2], dh = D[3];
            double da = dw * dh;
            double *row = out + o + d * ng;
            for (i64 g = 0; g < ng; g++) {
                const double *G = gb + 4 * (g0 + g);
                double gx = G[0], gy = G[1], gw = G[2], gh = G[3];
                double a1 = dw + dx, a2 = gw + gx;
                double w = (a1 < a2 ? a1 : a2) - (dx > gx ? dx : gx);
                if (w <= 0) continue;
                double b1 = dh + dy, b2 = gh + gy;
                double h = (b1 < b2 ? b1 : b2) - (dy > gy ? dy : gy);
                if (h <= 0) continue;
                double i = w * h;
                double u = gc[g0 + g] ? da : da + gw * gh - i;
                row[g] = i / u;
            }
        }
    }
    Py_END_ALLOW_THREADS
    release(&bufs);
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------- match_pairs */
static PyObject *py_match_pairs(PyObject *self, PyObject *args) {
    PyObject *o_p[5], *o_ious, *o_garea, *o_gcrowd, *o_gign, *o_gzero, *o_darea, *o_rng, *o_thr,
        *o_flags, *o_npig;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOOOOOO", &o_p[0], &o_p[1], &o_p[2], &o_p[3], &o_p[4], &o_ious, &o_garea,
                          &o_gcrowd, &o_gign, &o_gzero, &o_darea, &o_rng, &o_thr, &o_flags,
                          &o_npig))
        return NULL;
    Bufs bufs = {.n = 0};
    PAIRS(o_p);
    BUF(ious, double, o_ious, 0);
    BUF(garea, double, o_garea, 0);
    BUF(gcrowd, u8, o_gcrowd, 0);
    BUF(gign, u8, o_gign, 0);
    BUF(gzero, u8, o_gzero, 0);
    BUF(darea, double, o_darea, 0);
    BUF(rng, double, o_rng, 0);
    BUF(thr, double, o_thr, 0);
    BUF(flags, u8, o_flags, 1);
    BUF(npig, i64, o_npig, 1);
    i64 n_area = rng_len / 16, n_thr = thr_len / 8, n_dt = darea_len / 8;
    i64 max_g = 0, max_d = 0;
    for (i64 p = 0; p < n_pairs; p++) {
        if (ge[p] - gs[p] > max_g) max_g = ge[p] - gs[p];
        if (de[p] - ds[p] > max_d) max_d = de[p] - ds[p];
    }
    Mem mem = {.n = 0};
    double *best_iou = mem_get(&mem, sizeof(double) * (max_d + 1), 0);
    i64 *cand = mem_get(&mem, sizeof(i64) * (max_d + 1), 0);
    i64 *order = mem_get(&mem, sizeof(i64) * (max_g + 1), 0);
    u8 *gig = mem_get(&mem, max_g + 1, 0);
    u8 *gtm = mem_get(&mem, max_g + 1, 0);
    if (mem.failed) return no_memory(&mem, &bufs);
    Py_BEGIN_ALLOW_THREADS
    double thr_min = 1.0;
    for (i64 t = 0; t < n_thr; t++) {
        double v = thr[t] < 1 - 1e-10 ? thr[t] : 1 - 1e-10;
        if (v < thr_min) thr_min = v;
    }
    for (i64 d = 0; d < n_dt; d++) {
        double dar = darea[d];
        for (i64 a = 0; a < n_area; a++)
            if (dar < rng[2 * a] || dar > rng[2 * a + 1])
                for (i64 t = 0; t < n_thr; t++) flags[(d * n_area + a) * n_thr + t] = IGNORED;
    }
    for (i64 p = 0; p < n_pairs; p++) {
        i64 g0 = gs[p], ng = ge[p] - g0, d0 = ds[p], nd = de[p] - d0, o = off[p];
        int has_iou = off[p + 1] > o;
        i64 n_cand = 0;
        if (has_iou) {
            for (i64 d = 0; d < nd; d++) {
                double b = ious[o + d * ng];
                for (i64 g = 1; g < ng; g++) {
                    double v = ious[o + d * ng + g];
                    b = b > v ? b : v; /* numba max(b, v): b unless v > b */
                }
                best_iou[d] = b;
                if (b >= thr_min) cand[n_cand++] = d;
            }
        }
        for (i64 a = 0; a < n_area; a++) {
            double lo = rng[2 * a], hi = rng[2 * a + 1];
            i64 n_keep = 0;
            for (i64 g = 0; g < ng; g++) {
                double ar = garea[g0 + g];
                u8 ig = gign[g0 + g] || ar < lo || ar > hi;
                gig[g] = ig;
                if (!ig) order[n_keep++] = g;
            }
            npig[p * n_area + a] = n_keep;
            if (n_cand == 0) continue;
            i64 k = n_keep;
            for (i64 g = 0; g < ng; g++)
                if (gig[g]) order[k++] = g;
            for (i64 t = 0; t < n_thr; t++) {
                double th = thr[t] < 1 - 1e-10 ? thr[t] : 1 - 1e-10;
                memset(gtm, 0, ng);
                for (i64 ci = 0; ci < n_cand; ci++) {
                    i64 d = cand[ci];
                    if (best_iou[d] < th) continue;
                    i64 m = -1;
                    double best = th;
                    const double *row = ious + o + d * ng;
                    for (i64 gi = 0; gi < ng; gi++) {
                        i64 g = order[gi];
                        if (gtm[g] && !gcrowd[g0 + g]) continue;
                        if (m > -1 && !gig[m] && gig[g]) break;
                        double v = row[g];
                        if (v < best) continue;
                        best = v;
                        m = g;
                    }
                    if (m == -1) continue;
                    gtm[m] = 1;
                    double dar = darea[d0 + d];
                    int outside = dar < lo || dar > hi;
                    u8 *f = &flags[((d0 + d) * n_area + a) * n_thr + t];
                    if (gzero[g0 + m])
                        *f = (gig[m] || outside) ? IGNORED : 0;
                    else
                        *f = MATCHED | (gig[m] ? IGNORED : 0);
                }
            }
        }
    }
    Py_END_ALLOW_THREADS
    mem_free(&mem);
    release(&bufs);
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------- accumulate_ranked */
static PyObject *py_accumulate_ranked(PyObject *self, PyObject *args) {
    PyObject *o_order, *o_cs, *o_ce, *o_score, *o_rank, *o_flags, *o_npig, *o_md, *o_rt, *o_prec,
        *o_rec, *o_sc;
    Py_ssize_t n_area, n_thr;
    if (!PyArg_ParseTuple(args, "OOOOOOnnOOOOOO", &o_order, &o_cs, &o_ce, &o_score, &o_rank,
                          &o_flags, &n_area, &n_thr, &o_npig, &o_md, &o_rt, &o_prec, &o_rec,
                          &o_sc))
        return NULL;
    Bufs bufs = {.n = 0};
    BUF(order, i64, o_order, 0);
    BUF(cs, i64, o_cs, 0);
    BUF(ce, i64, o_ce, 0);
    BUF(score, double, o_score, 0);
    BUF(rank, i64, o_rank, 0);
    BUF(flags, u8, o_flags, 0);
    BUF(npig, i64, o_npig, 0);
    BUF(md, i64, o_md, 0);
    BUF(rt, double, o_rt, 0);
    BUF(prec, double, o_prec, 1);
    BUF(rec, double, o_rec, 1);
    BUF(sc, double, o_sc, 1);
    const i64 A = n_area, T = n_thr, K = cs_len / 8, M = md_len / 8, R = rt_len / 8;
    i64 max_gt = 1;
    for (i64 k = 0; k < K; k++)
        for (i64 a = 0; a < A; a++)
            if (npig[k * A + a] > max_gt) max_gt = npig[k * A + a];
    size_t cells = (size_t)A * T * M;
    Mem mem = {.n = 0};
    double *tp_pr = mem_get(&mem, sizeof(double) * cells * max_gt, 0);
    i64 *tp_pos = mem_get(&mem, sizeof(i64) * cells * max_gt, 0);
    i64 *tp = mem_get(&mem, sizeof(i64) * cells, 0);
    i64 *fp = mem_get(&mem, sizeof(i64) * cells, 0);
    i64 *fp_all = mem_get(&mem, sizeof(i64) * A * M + 8, 0);
    i64 *nd = mem_get(&mem, sizeof(i64) * M + 8, 0);
    i64 *first = mem_get(&mem, sizeof(i64) * (M + 1), 1);
    if (mem.failed) return no_memory(&mem, &bufs);
#define CELL(a, t, m) ((((a) * T) + (t)) * M + (m))
#define P5(t, r, k, a, m) (((((t) * R + (r)) * K + (k)) * A + (a)) * M + (m))
    Py_BEGIN_ALLOW_THREADS
    for (i64 k = 0; k < K; k++) {
        memset(tp, 0, sizeof(i64) * cells);
        memset(fp, 0, sizeof(i64) * cells);
        memset(fp_all, 0, sizeof(i64) * A * M);
        memset(nd, 0, sizeof(i64) * M);
        for (i64 ii = cs[k]; ii < ce[k]; ii++) {
            i64 i = order[ii];
            i64 r = rank[i];
            i64 m0 = M;
            for (i64 m = 0; m < M; m++)
                if (r < md[m]) {
                    m0 = m;
                    break;
                }
            if (m0 == M) continue;
            for (i64 m = m0; m < M; m++) {
                if (nd[m] == 0) first[m] = i;
                nd[m]++;
            }
            const u8 *fl = flags + i * A * T;
            for (i64 a = 0; a < A; a++) {
                if (npig[k * A + a] == 0) continue;
                int all_fp = 1;
                for (i64 t = 0; t < T; t++)
                    if (fl[a * T + t] != 0) {
                        all_fp = 0;
                        break;
                    }
                if (all_fp) {
                    for (i64 m = m0; m < M; m++) fp_all[a * M + m]++;
                    continue;
                }
                for (i64 t = 0; t < T; t++) {
                    u8 f = fl[a * T + t];
                    if (f & IGNORED) continue;
                    if (f & MATCHED) {
                        for (i64 m = m0; m < M; m++) {
                            i64 cl = CELL(a, t, m);
                            i64 c = tp[cl] + 1;
                            tp[cl] = c;
                            double fc = (double)c;
                            i64 n_fp = fp[cl] + fp_all[a * M + m];
                            tp_pr[cl * max_gt + c - 1] = fc / ((double)n_fp + fc + EPS);
                            tp_pos[cl * max_gt + c - 1] = i;
                        }
                    } else {
                        for (i64 m = m0; m < M; m++) fp[CELL(a, t, m)]++;
                    }
                }
            }
        }
        for (i64 a = 0; a < A; a++) {
            i64 n_gt = npig[k * A + a];
            if (n_gt == 0) continue;
            double fn_gt = (double)n_gt;
            for (i64 t = 0; t < T; t++) {
                for (i64 m = 0; m < M; m++) {
                    i64 cl = CELL(a, t, m);
                    i64 ntp = tp[cl];
                    rec[((t * K + k) * A + a) * M + m] = nd[m] > 0 ? (double)ntp / fn_gt : 0.0;
                    double *prs = tp_pr + cl * max_gt;
                    for (i64 c = ntp - 1; c > 0; c--)
                        if (prs[c] > prs[c - 1]) prs[c - 1] = prs[c];
                    i64 c = 0;
                    for (i64 rr = 0; rr < R; rr++) {
                        double th = rt[rr];
                        while (c <= ntp && (double)c / fn_gt < th) c++;
                        i64 at = P5(t, rr, k, a, m);
                        if (nd[m] == 0 || c > ntp) {
                            prec[at] = 0.0;
                            sc[at] = 0.0;
                        } else if (c == 0) {
                            prec[at] = ntp > 0 ? prs[0] : 0.0;
                            sc[at] = score[first[m]];
                        } else {
                            prec[at] = prs[c - 1];
                            sc[at] = score[tp_pos[cl * max_gt + c - 1]];
                        }
                    }
                }
            }
        }
    }
    Py_END_ALLOW_THREADS
#undef CELL
#undef P5
    mem_free(&mem);
    release(&bufs);
    Py_RETURN_NONE;
}

/* ============================================================ JSON byte scanner */
#define Q_ 34
#define BS_ 92
#define LB_ 123
#define RB_ 125
#define LK_ 91
#define RK_ 93
#define CM_ 44
#define CL_ 58

static inline i64 ws(const u8 *b, i64 i, i64 n) {
    while (i < n && (b[i] == 32 || b[i] == 10 || b[i] == 13 || b[i] == 9)) i++;
    return i;
}

/* the end of the string opening at b[i]: past the first quote that an escaping backslash
 * does not take (one after an odd run of backslashes is taken), or -1. The numba twin
 * walks byte by byte; memchr finds the quotes (RLE counts strings are long). */
static i64 skip_string(const u8 *b, i64 i, i64 n) {
    i64 s = i + 1;
    i = s;
    while (i < n) {
        const u8 *q = memchr(b + i, Q_, n - i);
        if (!q) return -1;
        i64 k = q - b, e = k;
        while (e > s && b[e - 1] == BS_) e--;
        if ((k - e) % 2 == 0) return k + 1;
        i = k + 1;
    }
    return -1;
}

static i64 skip_value(const u8 *b, i64 i, i64 n) {
    u8 c = b[i];
    if (c == Q_) return skip_string(b, i, n);
    if (c == LB_ || c == LK_) {
        i64 depth = 0;
        while (i < n) {
            c = b[i];
            if (c == Q_) {
                i = skip_string(b, i, n);
                if (i < 0) return -1;
                continue;
            }
            if (c == LB_ || c == LK_)
                depth++;
            else if (c == RB_ || c == RK_) {
                depth--;
                if (depth == 0) return i + 1;
            }
            i++;
        }
        return -1;
    }
    while (i < n) {
        c = b[i];
        if (c == CM_ || c == RB_ || c == RK_ || c == 32 || c == 10 || c == 13 || c == 9) return i;
        i++;
    }
    return i;
}

/* JSON number at b[*pi]: value; *st = 0 exact, 2 slow (re-read with float()), 1 bad */
static inline double number(const u8 *b, i64 *pi, i64 n, int *st) {
    i64 i = *pi;
    int neg = 0;
    if (i < n && b[i] == 45) {
        neg = 1;
        i++;
    }
    uint64_t mant = 0;
    i64 s0 = i;
    while (i < n) {
        unsigned d = (unsigned)b[i] - 48u;
        if (d > 9) break;
        mant = mant * 10 + d;
        i++;
    }
    i64 n_dig = i - s0;
    if (n_dig == 0) {
        *pi = i;
        *st = 1;
        return 0.0;
    }
    i64 exp10 = 0;
    if (i < n && b[i] == 46) {
        i++;
        i64 f0 = i;
        while (i < n) {
            unsigned d = (unsigned)b[i] - 48u;
            if (d > 9) break;
            mant = mant * 10 + d;
            i++;
        }
        if (i == f0) {
            *pi = i;
            *st = 1;
            return 0.0;
        }
        exp10 = f0 - i;
        n_dig += i - f0;
    }
    if (i < n && (b[i] == 101 || b[i] == 69)) {
        i++;
        int eneg = 0;
        if (i < n && (b[i] == 43 || b[i] == 45)) {
            eneg = b[i] == 45;
            i++;
        }
        i64 e = 0, e0 = i;
        while (i < n) {
            unsigned d = (unsigned)b[i] - 48u;
            if (d > 9) break;
            if (e < 100000) e = e * 10 + d;
            i++;
        }
        if (i == e0) {
            *pi = i;
            *st = 1;
            return 0.0;
        }
        exp10 += eneg ? -e : e;
    }
    *pi = i;
    if (n_dig > 18 || mant > 9007199254740992ULL || exp10 > 22 || exp10 < -22) {
        *st = 2;
        return 0.0;
    }
    double v = (double)(i64)mant;
    if (exp10 >= 0)
        v = v * POW10[exp10];
    else
        v = v / POW10[-exp10];
    *st = 0;
    return neg ? -v : v;
}

static i64 key_index(const u8 *b, i64 s, i64 e, const u8 *kb, const i64 *ko, i64 nk) {
    for (i64 j = 0; j < nk; j++) {
        i64 ks = ko[j], ke = ko[j + 1];
        if (ke - ks != e - s) continue;
        if (memcmp(b + s, kb + ks, e - s) == 0) return j;
    }
    return -1;
}

typedef struct {
    i64 *v;
    i64 n, cap;
} Slow;

static int slow_push(Slow *s, i64 row, i64 col, i64 a, i64 b) {
    if (s->n == s->cap) {
        i64 cap = s->cap ? 2 * s->cap : 64;
        i64 *v = realloc(s->v, sizeof(i64) * 4 * cap);
        if (!v) return -1;
        s->v = v;
        s->cap = cap;
    }
    i64 *q = s->v + 4 * s->n++;
    q[0] = row;
    q[1] = col;
    q[2] = a;
    q[3] = b;
    return 0;
}

/* scan_objects(buf, start, end, key_bytes, key_off, widths, col_off, values, present)
 *   -> (n_rows, status, slow list of (row, col, start, end)) */
static PyObject *py_scan_objects(PyObject *self, PyObject *args) {
    PyObject *o_b, *o_kb, *o_ko, *o_w, *o_co, *o_vals, *o_pres;
    Py_ssize_t start, end;
    int drop_pages = 0; /* buf is a read-only file mapping: drop the pages already scanned */
    if (!PyArg_ParseTuple(args, "OnnOOOOOO|p", &o_b, &start, &end, &o_kb, &o_ko, &o_w, &o_co,
                          &o_vals, &o_pres, &drop_pages))
        return NULL;
    Bufs bufs = {.n = 0};
    BUF(b, u8, o_b, 0);
    BUF(kb, u8, o_kb, 0);
    BUF(ko, i64, o_ko, 0);
    BUF(w, i64, o_w, 0);
    BUF(co, i64, o_co, 0);
    BUF(vals, double, o_vals, 1);
    BUF(pres, u8, o_pres, 1);
    const i64 nk = w_len / 8, ncol = co[nk];
    const i64 n_max = ncol ? vals_len / 8 / ncol : pres_len / (nk ? nk : 1);
    Slow slow = {NULL, 0, 0};
    i64 row = 0;
    int status = 1, mem = 0;
#ifdef HAVE_MADVISE
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t dropped = ((uintptr_t)b + page - 1) & ~(page - 1);
#define DROP_SCANNED(i)                                                          \
    if (drop_pages && (uintptr_t)(b + (i)) > dropped + ((uintptr_t)8 << 20)) {      \
        uintptr_t upto = (uintptr_t)(b + (i)) & ~(page - 1);                     \
        madvise((void *)dropped, upto - dropped, MADV_DONTNEED);                 \
        dropped = upto;                                                          \
    }
#else
#define DROP_SCANNED(i)
#endif
    Py_BEGIN_ALLOW_THREADS
    i64 i = ws(b, start, end);
    if (i >= end || b[i] != LK_) goto done;
    i = ws(b, i + 1, end);
    if (i < end && b[i] == RK_) {
        status = 0;
        goto done;
    }
    for (;;) {
        if (i >= end || b[i] != LB_ || row >= n_max) goto done;
        i = ws(b, i + 1, end);
        if (i < end && b[i] == RB_) {
            i++;
        } else {
            for (;;) {
                if (i >= end || b[i] != Q_) goto done;
                i64 ks = i + 1, ke = ks;
                while (ke < end && b[ke] != Q_) {
                    if (b[ke] == BS_) goto done;
                    ke++;
                }
                i = ws(b, ke + 1, end);
                if (i >= end || b[i] != CL_) goto done;
                i = ws(b, i + 1, end);
                if (i >= end) goto done;
                i64 j = key_index(b, ks, ke, kb, ko, nk);
                if (j >= 0 && w[j] == -1) { /* any value: its byte span, 2 columns */
                    i64 vs = i;
                    i = skip_value(b, i, end);
                    if (i < 0 || pres[row * nk + j]) goto done;
                    pres[row * nk + j] = 1;
                    vals[row * ncol + co[j]] = (double)vs;
                    vals[row * ncol + co[j] + 1] = (double)i;
                } else if (j < 0 || w[j] == 0) {
                    i = skip_value(b, i, end);
                    if (i < 0) goto done;
                    if (j >= 0) pres[row * nk + j] = 1;
                } else {
                    i64 wj = w[j], c0 = co[j];
                    int st;
                    if (wj == 1) {
                        i64 ns = i;
                        double v = number(b, &i, end, &st);
                        if (st == 1) goto done;
                        if (st == 2 && slow_push(&slow, row, c0, ns, i)) {
                            mem = 1;
                            goto done;
                        }
                        vals[row * ncol + c0] = v;
                    } else {
                        if (b[i] != LK_) goto done;
                        i = ws(b, i + 1, end);
                        for (i64 q = 0; q < wj; q++) {
                            i64 ns = i;
                            double v = number(b, &i, end, &st);
                            if (st == 1) goto done;
                            if (st == 2 && slow_push(&slow, row, c0 + q, ns, i)) {
                                mem = 1;
                                goto done;
                            }
                            vals[row * ncol + c0 + q] = v;
                            i = ws(b, i, end);
                            if (q < wj - 1) {
                                if (i >= end || b[i] != CM_) goto done;
                                i = ws(b, i + 1, end);
                            }
                        }
                        if (i >= end || b[i] != RK_) goto done;
                        i++;
                    }
                    if (pres[row * nk + j]) goto done; /* duplicate key */
                    pres[row * nk + j] = 1;
                }
                i = ws(b, i, end);
                if (i < end && b[i] == CM_) {
                    i = ws(b, i + 1, end);
                    continue;
                }
                if (i < end && b[i] == RB_) {
                    i++;
                    break;
                }
                goto done;
            }
        }
        row++;
        DROP_SCANNED(i)
        i = ws(b, i, end);
        if (i < end && b[i] == CM_) {
            i = ws(b, i + 1, end);
            continue;
        }
        if (i < end && b[i] == RK_) {
            i = ws(b, i + 1, end);
            if (i == end) status = 0;
            goto done;
        }
        goto done;
    }
done:;
#undef DROP_SCANNED
    Py_END_ALLOW_THREADS
    release(&bufs);
    if (mem) {
        free(slow.v);
        return PyErr_NoMemory();
    }
    PyObject *lst = PyList_New(status == 0 ? slow.n : 0);
    if (!lst) {
        free(slow.v);
        return NULL;
    }
    if (status == 0)
        for (i64 k = 0; k < slow.n; k++) {
            i64 *q = slow.v + 4 * k;
            PyObject *t = Py_BuildValue("(LLLL)", (long long)q[0], (long long)q[1],
                                        (long long)q[2], (long long)q[3]);
            if (!t) {
                Py_DECREF(lst);
                free(slow.v);
                return NULL;
            }
            PyList_SET_ITEM(lst, k, t);
        }
    free(slow.v);
    return Py_BuildValue("(LiN)", (long long)row, status, lst);
}

/* count_byte(buf, start, end, byte) -> occurrences of byte in buf[start:end] */
static PyObject *py_count_byte(PyObject *self, PyObject *args) {
    PyObject *o_b;
    Py_ssize_t start, end;
    int byte;
    if (!PyArg_ParseTuple(args, "Onni", &o_b, &start, &end, &byte)) return NULL;
    Bufs bufs = {.n = 0};
    BUF(b, u8, o_b, 0);
    if (end > b_len) end = b_len;
    i64 c = 0;
    const u8 *p = b + start, *e = b + end;
    Py_BEGIN_ALLOW_THREADS
    while (p < e) {
        const u8 *q = memchr(p, byte, e - p);
        if (!q) break;
        c++;
        p = q + 1;
    }
    Py_END_ALLOW_THREADS
    release(&bufs);
    return PyLong_FromLongLong(c);
}

/* object_spans(buf, key_bytes, key_off, spans[K, 2] (filled -1)) -> status */
static PyObject *py_object_spans(PyObject *self, PyObject *args) {
    PyObject *o_b, *o_kb, *o_ko, *o_sp;
    if (!PyArg_ParseTuple(args, "OOOO", &o_b, &o_kb, &o_ko, &o_sp)) return NULL;
    Bufs bufs = {.n = 0};
    BUF(b, u8, o_b, 0);
    BUF(kb, u8, o_kb, 0);
    BUF(ko, i64, o_ko, 0);
    BUF(sp, i64, o_sp, 1);
    const i64 n = b_len, nk = ko_len / 8 - 1;
    int status = 1;
    Py_BEGIN_ALLOW_THREADS
    i64 i = ws(b, 0, n);
    if (i >= n || b[i] != LB_) goto done;
    i = ws(b, i + 1, n);
    if (i < n && b[i] == RB_) {
        status = 0;
        goto done;
    }
    for (;;) {
        if (i >= n || b[i] != Q_) goto done;
        i64 ks = i + 1, ke = skip_string(b, i, n);
        if (ke < 0) goto done;
        i = ws(b, ke, n);
        if (i >= n || b[i] != CL_) goto done;
        i = ws(b, i + 1, n);
        if (i >= n) goto done;
        i64 vs = i;
        i = skip_value(b, i, n);
        if (i < 0) goto done;
        i64 j = key_index(b, ks, ke - 1, kb, ko, nk);
        if (j >= 0) {
            if (sp[2 * j] >= 0) goto done;
            sp[2 * j] = vs;
            sp[2 * j + 1] = i;
        }
        i = ws(b, i, n);
        if (i < n && b[i] == CM_) {
            i = ws(b, i + 1, n);
            continue;
        }
        if (i < n && b[i] == RB_) status = 0;
        goto done;
    }
done:;
    Py_END_ALLOW_THREADS
    release(&bufs);
    return PyLong_FromLong(status);
}

/* ================================================================ RLE (maskApi.c) */
/* What a pass over an RLE's counts learns besides the counts. */
typedef struct {
    uint64_t sum; /* the runs' total (h * w for a valid RLE) */
    u32 area;     /* the odd runs' total, wrapping as pycocotools' rleArea (uint) */
    int zero;     /* a run of length 0 after the first one */
} RleInfo;

static void rle_info(const u32 *c, i64 m, RleInfo *info) {
    uint64_t even = 0, odd = 0;
    u32 area = 0;
    int zero = 0;
    i64 j = 1;
    for (; j + 1 < m; j += 2) { /* runs j (foreground), j + 1 */
        even += c[j + 1];
        odd += c[j];
        area += c[j];
        zero |= (c[j] == 0) | (c[j + 1] == 0);
    }
    if (j < m) {
        odd += c[j];
        area += c[j];
        zero |= c[j] == 0;
    }
    info->sum = (m ? c[0] : 0) + even + odd;
    info->area = area;
    info->zero = zero;
}

/* pycocotools' rleFrString on s[0..len), exactly (it reads up to a NUL and checks
 * nothing) -> the counts in out, returns their number (at most len) */
static i64 decode_string(const u8 *s, i64 len, u32 *out) {
    i64 m = 0, p = 0;
    while (p < len && s[p]) {
        long x = 0;
        int k = 0, more = 1;
        while (more) {
            char ch = (p < len) ? (char)(s[p] - 48) : (char)(-48);
            x |= (ch & 0x1f) << 5 * k;
            more = ch & 0x20;
            p++;
            k++;
            if (!more && (ch & 0x10)) x |= -1 << 5 * k;
            if (p > len) break;
        }
        if (m > 2) x += (long)out[m - 2];
        out[m++] = (u32)x;
    }
    return m;
}

/* The counts of a compressed RLE as written in JSON at b[p..end), up to the first byte
 * outside '0'..'o' (its closing quote; a backslash is written "\\\\"): pycocotools'
 * rleFrString, checking as it goes that every number has at most 6 characters and is
 * complete, and that every run length lies in [0, 2**32) (pycocotools stores uint).
 * One pass, few branches (most counts are one character). Returns the number of counts
 * written to out, or -1 (invalid); *stop: the offset it stopped at. */
static i64 decode_json(const u8 *b, i64 p, i64 end, u32 *out, i64 *stop, RleInfo *info) {
    i64 m = 0;
    uint64_t bad = 0;
    u32 p1 = 0, p2 = 0; /* out[m - 1], out[m - 2] */
    while (p < end) {
        u32 v = (u32)b[p] - 48u;
        uint64_t x;
        if (v < 32u) { /* a one-character number (most are): 5 bits, signed */
            x = (uint64_t)(int64_t)((int32_t)(v ^ 16u) - 16);
            p++;
        } else {
            if (v > 63u) break; /* the closing quote (or a byte outside the alphabet) */
            unsigned sh = 0;    /* continuation characters ('P'..'o'), then a last one */
            x = 0;
            for (;;) {
                if (v == 44u) { /* '\\' */
                    if (p + 1 >= end || b[p + 1] != BS_) goto invalid;
                    p += 2;
                } else
                    p++;
                x |= (uint64_t)(v & 31u) << sh;
                sh += 5;
                if (!(v & 32u)) break;
                if (sh >= 30 || p >= end) goto invalid; /* a 7th character, or cut off */
                v = (u32)b[p] - 48u;
                if (v > 63u) goto invalid;
            }
            x |= ((uint64_t)0 - ((v >> 4) & 1u)) << sh; /* negative: sign-extended */
        }
        if (m > 2) x += p2; /* (mod 2**64: a negative sum stays huge) */
        bad |= x >> 32;     /* a run outside [0, 2**32) */
        out[m++] = (u32)x;
        p2 = p1;
        p1 = (u32)x;
    }
    *stop = p;
    rle_info(out, m, info);
    return bad ? -1 : m;
invalid:
    *stop = p;
    return -1;
}

/* rle_from_strings(list of bytes/str) -> (counts uint32 bytes, offsets int64 bytes):
 * pycocotools' rleFrString of each string; string i's counts are counts[off[i]:off[i+1]]. */
static PyObject *py_rle_from_strings(PyObject *self, PyObject *args) {
    PyObject *seq;
    if (!PyArg_ParseTuple(args, "O", &seq)) return NULL;
    PyObject *fast = PySequence_Fast(seq, "expected a sequence of RLE strings");
    if (!fast) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    PyObject **items = PySequence_Fast_ITEMS(fast);
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = items[i];
        if (PyBytes_Check(o))
            total += PyBytes_GET_SIZE(o);
        else if (PyUnicode_Check(o))
            total += PyUnicode_GET_LENGTH(o);
        else {
            Py_DECREF(fast);
            PyErr_SetString(PyExc_TypeError, "RLE counts must be bytes or str");
            return NULL;
        }
    }
    PyObject *cnt_b = PyBytes_FromStringAndSize(NULL, sizeof(u32) * (total + 1));
    PyObject *off_b = PyBytes_FromStringAndSize(NULL, sizeof(i64) * (n + 1));
    if (!cnt_b || !off_b) {
        Py_XDECREF(cnt_b);
        Py_XDECREF(off_b);
        Py_DECREF(fast);
        return NULL;
    }
    u32 *cnts = (u32 *)PyBytes_AS_STRING(cnt_b);
    i64 *off = (i64 *)PyBytes_AS_STRING(off_b);
    off[0] = 0;
    for (Py_ssize_t q = 0; q < n; q++) {
        PyObject *o = items[q];
        const char *s;
        Py_ssize_t len;
        if (PyBytes_Check(o)) {
            s = PyBytes_AS_STRING(o);
            len = PyBytes_GET_SIZE(o);
        } else if (!(s = PyUnicode_AsUTF8AndSize(o, &len))) {
            Py_DECREF(cnt_b);
            Py_DECREF(off_b);
            Py_DECREF(fast);
            return NULL;
        }
        off[q + 1] = off[q] + decode_string((const u8 *)s, len, cnts + off[q]);
    }
    Py_DECREF(fast);
    return Py_BuildValue("(NN)", cnt_b, off_b);
}

static void rle_bbox(const u32 *cnts, i64 m, u32 h, u32 w, double *bb);

static int parse_uint(const u8 *b, i64 *pi, i64 n, i64 *out) {
    i64 i = *pi, v = 0, s0 = i;
    while (i < n && b[i] >= 48 && b[i] <= 57 && i - s0 < 12) v = v * 10 + (b[i++] - 48);
    if (i == s0 || (i < n && b[i] >= 48 && b[i] <= 57)) return 1;
    *pi = i;
    *out = v;
    return 0;
}

/* b[*pi] (after white space) must be byte c: steps past it and the white space after */
static inline int expect(const u8 *b, i64 *pi, i64 end, u8 c) {
    i64 i = ws(b, *pi, end);
    if (i >= end || b[i] != c) return 1;
    *pi = ws(b, i + 1, end);
    return 0;
}

/* One RLE {"size": [h, w], "counts": "<RLE>"} spanning exactly b[i..end) (keys in either
 * order, nothing else), its counts decoded into out and checked (decode_json; their sum
 * is left to the caller): 0, or 1 (anything else) */
typedef struct {
    i64 h, w, cs, ce, m;
    RleInfo info;
} RleObject;

static int parse_rle_object(const u8 *b, i64 i, i64 end, u32 *out, RleObject *r) {
    r->h = r->w = r->cs = -1;
    if (expect(b, &i, end, LB_)) return 1;
    for (;;) {
        if (i >= end || b[i] != Q_) return 1;
        i64 ks = i + 1, ke = ks;
        while (ke < end && b[ke] != Q_ && b[ke] != BS_) ke++;
        if (ke >= end || b[ke] != Q_) return 1;
        i = ke + 1;
        if (expect(b, &i, end, CL_)) return 1;
        if (ke - ks == 4 && memcmp(b + ks, "size", 4) == 0 && r->h < 0) {
            if (expect(b, &i, end, LK_) || parse_uint(b, &i, end, &r->h) ||
                expect(b, &i, end, CM_) || parse_uint(b, &i, end, &r->w))
                return 1;
            i = ws(b, i, end);
            if (i >= end || b[i] != RK_) return 1;
            i++;
        } else if (ke - ks == 6 && memcmp(b + ks, "counts", 6) == 0 && r->cs < 0) {
            if (i >= end || b[i] != Q_) return 1;
            r->cs = i + 1;
            r->m = decode_json(b, r->cs, end, out, &r->ce, &r->info);
            if (r->m < 0 || r->ce >= end || b[r->ce] != Q_) return 1;
            i = r->ce + 1;
        } else
            return 1;
        i = ws(b, i, end);
        if (i < end && b[i] == CM_) {
            i = ws(b, i + 1, end);
            continue;
        }
        if (i < end && b[i] == RB_) break;
        return 1;
    }
    if (ws(b, i + 1, end) != end || r->h < 0 || r->cs < 0) return 1;
    return r->h > 0xFFFFFFFFL || r->w > 0xFFFFFFFFL;
}

/* rle_json_spans(buf, spans [N, 2] int64) -> (counts spans [N, 2], sizes [N, 2], area [N],
 * bbox [N, 4] as bytes, status): each span must hold exactly {"size": [h, w], "counts":
 * "<RLE>"} (keys in any order, no escapes but '\\', counts characters in '0'..'o', at
 * most 6 per count, the counts summing to h * w); anything else is status 1 (the caller
 * falls back to the full parser). area and bbox are pycocotools' area() and toBbox(). */
static PyObject *py_rle_json_spans(PyObject *self, PyObject *args) {
    PyObject *o_b, *o_sp;
    if (!PyArg_ParseTuple(args, "OO", &o_b, &o_sp)) return NULL;
    Bufs bufs = {.n = 0};
    BUF(b, u8, o_b, 0);
    BUF(sp, i64, o_sp, 0);
    const i64 n = sp_len / 16;
    i64 longest = 1;
    for (i64 q = 0; q < n; q++)
        if (sp[2 * q + 1] - sp[2 * q] > longest) longest = sp[2 * q + 1] - sp[2 * q];
    PyObject *cs_b = PyBytes_FromStringAndSize(NULL, sizeof(i64) * (2 * n + 1));
    PyObject *siz_b = PyBytes_FromStringAndSize(NULL, sizeof(i64) * (2 * n + 1));
    PyObject *area_b = PyBytes_FromStringAndSize(NULL, sizeof(double) * (n + 1));
    PyObject *bb_b = PyBytes_FromStringAndSize(NULL, sizeof(double) * (4 * n + 1));
    u32 *scratch = malloc(sizeof(u32) * (longest + 1));
    if (!cs_b || !siz_b || !area_b || !bb_b || !scratch) {
        Py_XDECREF(cs_b);
        Py_XDECREF(siz_b);
        Py_XDECREF(area_b);
        Py_XDECREF(bb_b);
        free(scratch);
        release(&bufs);
        return PyErr_NoMemory();
    }
    i64 *cspan = (i64 *)PyBytes_AS_STRING(cs_b);
    i64 *siz = (i64 *)PyBytes_AS_STRING(siz_b);
    double *area = (double *)PyBytes_AS_STRING(area_b);
    double *bbox = (double *)PyBytes_AS_STRING(bb_b);
    int status = 0;
    Py_BEGIN_ALLOW_THREADS
    for (i64 q = 0; q < n; q++) {
        RleObject r;
        if (parse_rle_object(b, sp[2 * q], sp[2 * q + 1], scratch, &r) ||
            r.info.sum != (uint64_t)r.h * (uint64_t)r.w) {
            status = 1;
            break;
        }
        area[q] = (double)r.info.area;
        rle_bbox(scratch, r.m, (u32)r.h, (u32)r.w, bbox + 4 * q);
        cspan[2 * q] = r.cs;
        cspan[2 * q + 1] = r.ce;
        siz[2 * q] = r.h;
        siz[2 * q + 1] = r.w;
    }
    Py_END_ALLOW_THREADS
    free(scratch);
    release(&bufs);
    return Py_BuildValue("(NNNNi)", cs_b, siz_b, area_b, bb_b, status);
}

/* rleToBbox's running box of the foreground runs seen so far */
typedef struct {
    u32 xs, ys, xe, ye, h;
} BoxAcc;

/* a foreground run from (x_start, y_start) to (x_end, y_end), column-major */
static inline void box_add(BoxAcc *b, u32 x_start, u32 y_start, u32 x_end, u32 y_end) {
    b->xs = b->xs < x_start ? b->xs : x_start;
    b->xe = b->xe > x_end ? b->xe : x_end;
    if (x_start < x_end) {
        b->ys = 0;
        b->ye = b->h - 1;
    } else {
        b->ys = b->ys < y_start ? b->ys : y_start;
        b->ye = b->ye > y_end ? b->ye : y_end;
    }
}

static inline void box_out(const BoxAcc *b, double *bb) {
    bb[0] = b->xs;
    bb[2] = b->xe - b->xs + 1;
    bb[1] = b->ys;
    bb[3] = b->ye - b->ys + 1;
}

/* bounding box [x, y, w, h] of an RLE (pycocotools 2.0.8+ rleToBbox), line by line */
static void rle_bbox_div(const u32 *cnts, i64 m, u32 h, u32 w, double *bb) {
    BoxAcc b = {w, h, 0, 0, h};
    u32 cc = 0;
    for (i64 j = 0; j < m; j++) {
        u32 st = cc;
        cc += cnts[j];
        if (j % 2 == 0) continue;
        if (cnts[j] == 0) continue;
        u32 y_start = st % h, x_start = (st - y_start) / h;
        u32 y_end = (cc - 1) % h, x_end = (cc - 1 - y_end) / h;
        box_add(&b, x_start, y_start, x_end, y_end);
    }
    box_out(&b, bb);
}

/* column *col and row of pixel pos, given that of an earlier pixel (*base = *col * h):
 * no division for the next column, which is where a mask's next run usually starts */
static inline u32 locate(u32 pos, u32 h, u32 *col, u32 *base) {
    u32 d = pos - *base;
    if (d >= h) {
        d -= h;
        *col += 1;
        *base += h;
        if (d >= h) {
            u32 q = d / h;
            *col += q;
            *base += q * h;
            d -= q * h;
        }
    }
    return d;
}

/* rleToBbox: rle_bbox_div's result; while no position can wrap (h * w < 2**32: every
 * position lies below it) it tracks the column instead of dividing */
static void rle_bbox(const u32 *cnts, i64 m, u32 h, u32 w, double *bb) {
    m = (m / 2) * 2;
    if (m == 0) {
        bb[0] = bb[1] = bb[2] = bb[3] = 0;
        return;
    }
    if (h == 0 || (uint64_t)h * w > 0xFFFFFFFFull) {
        rle_bbox_div(cnts, m, h, w, bb);
        return;
    }
    BoxAcc b = {w, h, 0, 0, h};
    u32 cc = 0, col = 0, base = 0;
    for (i64 j = 0; j < m; j += 2) {
        u32 st = cc + cnts[j];
        cc = st + cnts[j + 1];
        if (cnts[j + 1] == 0) continue;
        u32 y_start = locate(st, h, &col, &base), x_start = col;
        u32 y_end = locate(cc - 1, h, &col, &base), x_end = col;
        box_add(&b, x_start, y_start, x_end, y_end);
    }
    box_out(&b, bb);
}

/* rle_area_bbox(counts, off, h[N], w[N], area out [N] f64, bbox out [N,4] f64) */
static PyObject *py_rle_area_bbox(PyObject *self, PyObject *args) {
    PyObject *o_c, *o_off, *o_h, *o_w, *o_area, *o_bb;
    if (!PyArg_ParseTuple(args, "OOOOOO", &o_c, &o_off, &o_h, &o_w, &o_area, &o_bb)) return NULL;
    Bufs bufs = {.n = 0};
    BUF(c, u32, o_c, 0);
    BUF(off, i64, o_off, 0);
    BUF(h, i64, o_h, 0);
    BUF(w, i64, o_w, 0);
    BUF(area, double, o_area, 1);
    BUF(bb, double, o_bb, 1);
    i64 n = h_len / 8;
    Py_BEGIN_ALLOW_THREADS
    for (i64 i = 0; i < n; i++) {
        const u32 *ci = c + off[i];
        i64 m = off[i + 1] - off[i];
        RleInfo info;
        rle_info(ci, m, &info);
        area[i] = (double)info.area;
        rle_bbox(ci, m, (u32)h[i], (u32)w[i], bb + 4 * i);
    }
    Py_END_ALLOW_THREADS
    release(&bufs);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------ mask IoU */
/* One side of pair_rle_ious, from a tuple (buf, spans [N, 2], mode, index [n], h [N],
 * w [N], box [N, 4] or empty): row r is the counts of mask index[r], stored at
 * buf[spans[index[r]]] as a counts string (mode 0: pycocotools' reading of its bytes;
 * 1: JSON, validated by rle_json_spans) or as uint32 counts (mode 2; spans in counts).
 * box: the masks' rleToBbox when known (then a mask whose box meets no gt's is never
 * decoded). */
typedef struct {
    const u8 *buf;
    const i64 *spans, *index, *h, *w;
    const double *box;
    i64 n;
    int mode;
} RleSide;

static int get_side(Bufs *bufs, PyObject *t, RleSide *s) {
    PyObject *o_b, *o_sp, *o_i, *o_h, *o_w, *o_box;
    if (!PyArg_ParseTuple(t, "OOiOOOO", &o_b, &o_sp, &s->mode, &o_i, &o_h, &o_w, &o_box))
        return -1;
    Py_ssize_t n_i, n_box;
    if (!(s->buf = get_buf(bufs, o_b, 0, NULL)) || !(s->spans = get_buf(bufs, o_sp, 0, NULL)) ||
        !(s->index = get_buf(bufs, o_i, 0, &n_i)) || !(s->h = get_buf(bufs, o_h, 0, NULL)) ||
        !(s->w = get_buf(bufs, o_w, 0, NULL)) || !(s->box = get_buf(bufs, o_box, 0, &n_box)))
        return -1;
    s->n = n_i / 8;
    if (n_box == 0) s->box = NULL;
    return 0;
}

typedef struct {
    const u32 *c;
    i64 m;
    RleInfo info;
} Mask;

/* the counts of row r of side s: decoded into scratch (modes 0, 1) or in place (mode 2);
 * scratch holds the longest string's length */
static void get_mask(const RleSide *s, i64 r, u32 *scratch, Mask *k) {
    i64 j = s->index[r], s0 = s->spans[2 * j], len = s->spans[2 * j + 1] - s0;
    if (s->mode == 2) {
        k->c = (const u32 *)s->buf + s0;
        k->m = len;
        rle_info(k->c, len, &k->info);
        return;
    }
    k->c = scratch;
    if (s->mode == 1) {
        i64 stop;
        k->m = decode_json(s->buf, s0, s0 + len, scratch, &stop, &k->info);
        if (k->m >= 0) return;
    } /* (an invalid string in mode 1 cannot reach here: rle_json_spans refused it) */
    k->m = decode_string(s->buf + s0, len, scratch);
    rle_info(scratch, k->m, &k->info);
}

static i64 side_longest(const RleSide *s) {
    i64 L = 1;
    for (i64 r = 0; r < s->n; r++) {
        i64 j = s->index[r], l = s->spans[2 * j + 1] - s->spans[2 * j];
        if (l > L) L = l;
    }
    return L;
}

/* pycocotools' rleIou for one pair of masks of one size, line by line */
static double iou_walk(const Mask *A, const Mask *B, int crowd) {
    const u32 *a_ = A->c, *b_ = B->c;
    i64 ka = A->m, kb = B->m, a = 1, b = 1;
    u32 ca = a_[0], cb = b_[0], c, ct = 1, inter = 0, uni = 0;
    int va = 0, vb = 0;
    while (ct > 0) {
        c = ca < cb ? ca : cb;
        if (va || vb) {
            uni += c;
            if (va && vb) inter += c;
        }
        ct = 0;
        ca -= c;
        if (!ca && a < ka) {
            ca = a_[a++];
            va = !va;
        }
        ct += ca;
        cb -= c;
        if (!cb && b < kb) {
            cb = b_[b++];
            vb = !vb;
        }
        ct += cb;
    }
    if (inter == 0)
        uni = 1;
    else if (crowd)
        uni = A->info.area;
    return (double)inter / (double)uni;
}

/* rleIou's value by another road, for masks of one size h * w <= 2**31 - 1 whose runs
 * both add up to it, not both with a run of length 0 after their first (the one case
 * where pycocotools' walk stops before the end: both sides at such a run at once):
 * there the walk's union is |A| + |B| - |A & B| and its intersection is what lies in
 * the pixels [lo, hi), those of the boxes' overlap, the only ones walked here. */
static double iou_overlap(const Mask *A, const Mask *B, int crowd, uint64_t lo, uint64_t hi) {
    const u32 *a_ = A->c, *b_ = B->c;
    const i64 ka = A->m, kb = B->m;
    /* foreground runs only (the odd ones): run ia spans [sa, sa + a_[ia]) */
    i64 ia = 1, ib = 1;
    uint64_t sa = a_[0], sb = b_[0], inter = 0;
    while (ia < ka && sa + a_[ia] <= lo) {
        sa += a_[ia];
        if (ia + 1 < ka) sa += a_[ia + 1];
        ia += 2;
    }
    while (ib < kb && sb + b_[ib] <= lo) {
        sb += b_[ib];
        if (ib + 1 < kb) sb += b_[ib + 1];
        ib += 2;
    }
    while (ia < ka && ib < kb && sa < hi && sb < hi) {
        uint64_t ea = sa + a_[ia], eb = sb + b_[ib];
        uint64_t s0 = sa > sb ? sa : sb, e0 = ea < eb ? ea : eb;
        if (e0 > s0) inter += e0 - s0;
        if (ea <= eb) {
            sa = ea + (ia + 1 < ka ? a_[ia + 1] : 0);
            ia += 2;
        } else {
            sb = eb + (ib + 1 < kb ? b_[ib + 1] : 0);
            ib += 2;
        }
    }
    if (inter == 0) return 0.0; /* (pycocotools: union 1, 0 / 1) */
    uint64_t uni = crowd ? A->info.area : (uint64_t)A->info.area + B->info.area - inter;
    return (double)inter / (double)uni;
}

/* pair_rle_ious(gs, ge, ds, de, off, gt side, gt crowd [n_g], dt side, out): like
 * pair_box_ious, for RLE masks (maskApi.c rleIou, dt x gt); sides as get_side. A pair
 * of masks of different sizes gets -1 where their boxes overlap, as pycocotools. */
static PyObject *py_pair_rle_ious(PyObject *self, PyObject *args) {
    PyObject *o_p[5], *o_gside, *o_gcrowd, *o_dside, *o_out;
    if (!PyArg_ParseTuple(args, "OOOOOOOOO", &o_p[0], &o_p[1], &o_p[2], &o_p[3], &o_p[4],
                          &o_gside, &o_gcrowd, &o_dside, &o_out))
        return NULL;
    Bufs bufs = {.n = 0};
    PAIRS(o_p);
    RleSide G, D;
    if (get_side(&bufs, o_gside, &G) || get_side(&bufs, o_dside, &D)) {
        release(&bufs);
        return NULL;
    }
    BUF(gcrowd, u8, o_gcrowd, 0);
    BUF(out, double, o_out, 1);
    /* all gts decoded up front (few); each dt decoded once, into a scratch buffer, and
     * only if its box meets a gt's */
    i64 g_total = 1;
    if (G.mode != 2)
        for (i64 g = 0; g < G.n; g++) g_total += G.spans[2 * G.index[g] + 1] - G.spans[2 * G.index[g]];
    Mem mem = {.n = 0};
    u32 *gc = mem_get(&mem, sizeof(u32) * g_total, 0);
    Mask *gm = mem_get(&mem, sizeof(Mask) * (G.n + 1), 0);
    double *gbb = mem_get(&mem, sizeof(double) * 4 * (G.n + 1), 0);
    u32 *dc = mem_get(&mem, sizeof(u32) * (side_longest(&D) + 1), 0);
    if (mem.failed) return no_memory(&mem, &bufs);
    Py_BEGIN_ALLOW_THREADS
    i64 used = 0;
    for (i64 g = 0; g < G.n; g++) {
        i64 r = G.index[g];
        get_mask(&G, g, gc + used, &gm[g]);
        if (G.mode != 2) used += gm[g].m;
        if (G.box)
            memcpy(gbb + 4 * g, G.box + 4 * r, sizeof(double) * 4);
        else
            rle_bbox(gm[g].c, gm[g].m, (u32)G.h[r], (u32)G.w[r], gbb + 4 * g);
    }
    for (i64 p = 0; p < n_pairs; p++) {
        i64 g0 = gs[p], ng = ge[p] - g0, d0 = ds[p], nd = de[p] - d0, o = off[p];
        if (ng == 0) continue;
        for (i64 dd = 0; dd < nd; dd++) {
            i64 d = d0 + dd, rd = D.index[d];
            const u32 dh = (u32)D.h[rd], dw = (u32)D.w[rd];
            Mask A;
            int decoded = 0;
            double Db[4];
            if (D.box)
                memcpy(Db, D.box + 4 * rd, sizeof(Db));
            else {
                get_mask(&D, d, dc, &A);
                decoded = 1;
                rle_bbox(A.c, A.m, dh, dw, Db);
            }
            double da = Db[2] * Db[3];
            for (i64 gg = 0; gg < ng; gg++) {
                i64 g = g0 + gg, rg = G.index[g];
                const double *Gb = gbb + 4 * g;
                double *res = out + o + dd * ng + gg;
                /* bbIou as the pre-filter, as rleIou */
                double ga = Gb[2] * Gb[3];
                double w = fmin(Db[2] + Db[0], Gb[2] + Gb[0]) - fmax(Db[0], Gb[0]);
                if (w <= 0) continue;
                double hh = fmin(Db[3] + Db[1], Gb[3] + Gb[1]) - fmax(Db[1], Gb[1]);
                if (hh <= 0) continue;
                double bi = w * hh;
                double bu = gcrowd[g] ? da : da + ga - bi;
                if (!(bi / bu > 0)) continue;
                if (D.h[rd] != G.h[rg] || D.w[rd] != G.w[rg]) {
                    *res = -1;
                    continue;
                }
                if (!decoded) {
                    get_mask(&D, d, dc, &A);
                    decoded = 1;
                }
                const Mask *B = &gm[g];
                if (A.m == 0 || B->m == 0) continue; /* (pycocotools: bbox 0 -> never here) */
                uint64_t hw = (uint64_t)dh * dw;
                if (hw <= 0x7FFFFFFFull && A.info.sum == hw && B->info.sum == hw &&
                    !(A.info.zero && B->info.zero)) {
                    uint64_t x0 = (uint64_t)fmax(Db[0], Gb[0]), y0 = (uint64_t)fmax(Db[1], Gb[1]);
                    uint64_t x1 = (uint64_t)fmin(Db[2] + Db[0], Gb[2] + Gb[0]);
                    uint64_t y1 = (uint64_t)fmin(Db[3] + Db[1], Gb[3] + Gb[1]);
                    *res = iou_overlap(&A, B, gcrowd[g], x0 * dh + y0, (x1 - 1) * dh + y1);
                } else
                    *res = iou_walk(&A, B, gcrowd[g]);
            }
        }
    }
    Py_END_ALLOW_THREADS
    mem_free(&mem);
    release(&bufs);
    Py_RETURN_NONE;
}

/* ------------------------------------------------- polygons (maskApi.c rleFrPoly) */
/* a[0..n) ascending (as qsort with pycocotools' uintCompare: equal values are alike, so
 * any correct sort gives the same array): a natural merge sort, linear on the few
 * monotone runs a polygon's boundary points make. tmp: n values; runs: n + 1 values. */
static void sort_u32(u32 *a, i64 n, u32 *tmp, u32 *runs) {
    i64 nr = 0, i = 0;
    while (i < n) {
        i64 j = i + 1;
        if (j < n && a[j] < a[i]) { /* strictly descending: reversed */
            while (j < n && a[j] < a[j - 1]) j++;
            for (i64 l = i, r = j - 1; l < r; l++, r--) {
                u32 t = a[l];
                a[l] = a[r];
                a[r] = t;
            }
        } else
            while (j < n && a[j] >= a[j - 1]) j++;
        runs[nr++] = (u32)i;
        i = j;
    }
    runs[nr] = (u32)n;
    while (nr > 1) {
        i64 k = 0;
        for (i64 r = 0; r + 1 < nr; r += 2) {
            u32 s0 = runs[r], s1 = runs[r + 1], s2 = runs[r + 2];
            if (a[s1 - 1] > a[s1]) { /* (else already in order) */
                memcpy(tmp, a + s0, sizeof(u32) * (s1 - s0));
                u32 x = 0, y = s1, o = s0, nx = s1 - s0;
                while (x < nx && y < s2) a[o++] = a[y] < tmp[x] ? a[y++] : tmp[x++];
                while (x < nx) a[o++] = tmp[x++];
            }
            runs[k++] = s0;
        }
        if (nr % 2) runs[k++] = runs[nr - 1];
        runs[k] = (u32)n;
        nr = k;
    }
}

static u32 umax_(u32 a, u32 b) { return a > b ? a : b; }

/* rleFrPoly, line by line: the counts of polygon xy[0..2k) in an h x w image -> *out
 * (malloc'd), returns their number (or -1: out of memory) */
static i64 fr_poly(const double *xy, i64 k, uint64_t h, uint64_t w, u32 **out) {
    i64 j, m = 0;
    double scale = 5;
    int *x, *y, *u, *v;
    u32 *a, *b;
    x = malloc(sizeof(int) * (k + 1));
    y = malloc(sizeof(int) * (k + 1));
    if (!x || !y) return -1;
    for (j = 0; j < k; j++) x[j] = (int)(scale * xy[j * 2 + 0] + .5);
    x[k] = x[0];
    for (j = 0; j < k; j++) y[j] = (int)(scale * xy[j * 2 + 1] + .5);
    y[k] = y[0];
    for (j = 0; j < k; j++) m += umax_(abs(x[j] - x[j + 1]), abs(y[j] - y[j + 1])) + 1;
    u = malloc(sizeof(int) * (m + 1));
    v = malloc(sizeof(int) * (m + 1));
    if (!u || !v) return -1;
    m = 0;
    for (j = 0; j < k; j++) {
        int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1], dx, dy, t, d;
        int flip;
        double s;
        dx = abs(xe - xs);
        dy = abs(ys - ye);
        flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
        if (flip) {
            t = xs;
            xs = xe;
            xe = t;
            t = ys;
            ys = ye;
            ye = t;
        }
        s = dx >= dy ? (double)(ye - ys) / dx : (double)(xe - xs) / dy;
        if (dx >= dy)
            for (d = 0; d <= dx; d++) {
                t = flip ? dx - d : d;
                u[m] = t + xs;
                v[m] = (int)(ys + s * t + .5);
                m++;
            }
        else
            for (d = 0; d <= dy; d++) {
                t = flip ? dy - d : d;
                v[m] = t + ys;
                u[m] = (int)(xs + s * t + .5);
                m++;
            }
    }
    free(x);
    free(y);
    k = m;
    m = 0;
    x = malloc(sizeof(int) * (k + 1));
    y = malloc(sizeof(int) * (k + 1));
    if (!x || !y) return -1;
    /* maskApi.c: xd = (xi + .5) / 5 - .5, kept when an integer in [0, w - 1]; yd = (yi +
     * .5) / 5 - .5 clamped to [0, h], then ceil. In integers: xd is an integer exactly
     * when xi = 5 n + 2, and then it is n (the other residues give n + 0.1 .. n + 0.4 up
     * to a rounding error far below that for an int); ceil(yd) is (yi + 2) / 5 for yi
     * >= 2 (yd an integer when yi = 5 n + 2, else at least 0.2 from one). */
    for (j = 1; j < k; j++)
        if (u[j] != u[j - 1]) {
            int xi = u[j] < u[j - 1] ? u[j] : u[j] - 1;
            if (xi < 2 || (xi - 2) % 5) continue;
            i64 xn = (xi - 2) / 5;
            if ((uint64_t)xn > w - 1) continue;
            int yi = v[j] < v[j - 1] ? v[j] : v[j - 1];
            i64 yn = yi < 2 ? 0 : ((i64)yi + 2) / 5;
            if ((uint64_t)yn > h) yn = (i64)h;
            x[m] = (int)xn;
            y[m] = (int)yn;
            m++;
        }
    k = m;
    a = malloc(sizeof(u32) * (k + 1));
    if (!a) return -1;
    for (j = 0; j < k; j++) a[j] = (u32)(x[j] * (int)(h) + y[j]);
    a[k++] = (u32)(h * w);
    sort_u32(a, k, (u32 *)x, (u32 *)u); /* (x: k + 1 values; u: more) */
    free(u);
    free(v);
    free(x);
    free(y);
    u32 p = 0;
    for (j = 0; j < k; j++) {
        u32 t = a[j];
        a[j] -= p;
        p = t;
    }
    b = malloc(sizeof(u32) * (k + 1));
    if (!b) return -1;
    j = m = 0;
    b[m++] = a[j++];
    while (j < k)
        if (a[j] > 0)
            b[m++] = a[j++];
        else {
            j++;
            if (j < k) b[m - 1] += a[j++];
        }
    free(a);
    *out = b;
    return m;
}

/* rleMerge(R, M, n, intersect=0) of n RLEs of one size -> *out, returns the count */
static i64 merge_union(u32 **R, const i64 *Rm, i64 n, uint64_t h, uint64_t w, u32 **out) {
    u32 *cnts, c, ca, cb, cc, ct;
    int v, va, vb, vp;
    i64 i, a, b, m = Rm[0];
    /* the union has at most as many runs as its parts together (each of its run ends
     * is one of theirs) */
    i64 total = 2;
    for (i = 0; i < n; i++) total += Rm[i];
    cnts = malloc(sizeof(u32) * total);
    u32 *A = malloc(sizeof(u32) * total);
    if (!cnts || !A) return -1;
    for (a = 0; a < m; a++) cnts[a] = R[0][a];
    for (i = 1; i < n; i++) {
        const u32 *B = R[i];
        i64 Bm = Rm[i], Am = m;
        memcpy(A, cnts, sizeof(u32) * m);
        ca = A[0];
        cb = B[0];
        v = va = vb = 0;
        m = 0;
        a = b = 1;
        cc = 0;
        ct = 1;
        while (ct > 0) {
            c = ca < cb ? ca : cb;
            cc += c;
            ct = 0;
            ca -= c;
            if (!ca && a < Am) {
                ca = A[a++];
                va = !va;
            }
            ct += ca;
            cb -= c;
            if (!cb && b < Bm) {
                cb = B[b++];
                vb = !vb;
            }
            ct += cb;
            vp = v;
            v = va || vb;
            if (v != vp || ct == 0) {
                cnts[m++] = cc;
                cc = 0;
            }
        }
    }
    free(A);
    *out = cnts;
    return m;
}

/* polys_to_rle(xy, poly_off [P + 1] (in doubles), ann_off [N + 1] (in polygons),
 * h [N], w [N]) -> (counts bytes (uint32), offsets bytes (int64 [N + 1]), status):
 * pycocotools' annToRLE of polygon annotations (frPyObjects + merge). */
static PyObject *py_polys_to_rle(PyObject *self, PyObject *args) {
    PyObject *o_xy, *o_po, *o_ao, *o_h, *o_w;
    if (!PyArg_ParseTuple(args, "OOOOO", &o_xy, &o_po, &o_ao, &o_h, &o_w)) return NULL;
    Bufs bufs = {.n = 0};
    BUF(xy, double, o_xy, 0);
    BUF(po, i64, o_po, 0);
    BUF(ao, i64, o_ao, 0);
    BUF(h, i64, o_h, 0);
    BUF(w, i64, o_w, 0);
    const i64 n = h_len / 8;
    i64 cap = 1024, used = 0;
    u32 *all = malloc(sizeof(u32) * cap);
    PyObject *off_b = PyBytes_FromStringAndSize(NULL, sizeof(i64) * (n + 1));
    int err = 0;
    if (!all || !off_b) err = 1;
    i64 *off = err ? NULL : (i64 *)PyBytes_AS_STRING(off_b);
    if (!err) off[0] = 0;
    Py_BEGIN_ALLOW_THREADS
    for (i64 q = 0; q < n && !err; q++) {
        i64 np_ = ao[q + 1] - ao[q];
        u32 **R = malloc(sizeof(u32 *) * (np_ + 1));
        i64 *Rm = malloc(sizeof(i64) * (np_ + 1));
        if (!R || !Rm) {
            err = 1;
            free(R);
            free(Rm);
            break;
        }
        i64 made = 0;
        for (i64 t = 0; t < np_; t++) {
            i64 pi = ao[q] + t;
            i64 k = (po[pi + 1] - po[pi]) / 2;
            Rm[t] = fr_poly(xy + po[pi], k, (uint64_t)h[q], (uint64_t)w[q], &R[t]);
            if (Rm[t] < 0) {
                err = 1;
                break;
            }
            made++;
        }
        u32 *M = NULL;
        i64 mm = 0;
        if (!err) {
            if (np_ == 1) {
                M = R[0];
                mm = Rm[0];
                made = 0;
            } else {
                mm = merge_union(R, Rm, np_, (uint64_t)h[q], (uint64_t)w[q], &M);
                if (mm < 0) err = 1;
            }
        }
        for (i64 t = 0; t < made; t++) free(R[t]);
        free(R);
        free(Rm);
        if (err) break;
        if (used + mm > cap) {
            while (used + mm > cap) cap *= 2;
            u32 *na = realloc(all, sizeof(u32) * cap);
            if (!na) {
                err = 1;
                free(M);
                break;
            }
            all = na;
        }
        memcpy(all + used, M, sizeof(u32) * mm);
        free(M);
        used += mm;
        off[q + 1] = used;
    }
    Py_END_ALLOW_THREADS
    release(&bufs);
    if (err) {
        free(all);
        Py_XDECREF(off_b);
        return PyErr_NoMemory();
    }
    PyObject *cnt_b = PyBytes_FromStringAndSize((const char *)all, sizeof(u32) * used);
    free(all);
    if (!cnt_b) {
        Py_DECREF(off_b);
        return NULL;
    }
    return Py_BuildValue("(NN)", cnt_b, off_b);
}

/* ================================================================== keypoints */
/* oks_exponents: e = (dx^2 + dy^2) / var / (area + eps) / 2 for every pair entry and
 * keypoint (computeOks' arithmetic); exp is applied by numpy (same ufunc as pycocotools),
 * then oks_reduce sums np.sum's way. */
static PyObject *py_oks_exponents(PyObject *self, PyObject *args) {
    /* (gs, ge, ds, de, off, p0, p1, gt_kps, gt_bbox, gt_area, gi, dt_kps, di, var, out):
     * pairs p0..p1; gt row r is gt_kps[gi[r]], dt row r is dt_kps[di[r]]; out [E', K]
     * from entry off[p0] on */
    PyObject *o_p[5], *o_gk, *o_gb, *o_ga, *o_gi, *o_dk, *o_di, *o_var,
        *o_out;
    Py_ssize_t p0, p1, gst, dst; /* row strides of gt_kps / dt_kps, in doubles */
    if (!PyArg_ParseTuple(args, "OOOOOnnOnOOOOnOOO", &o_p[0], &o_p[1], &o_p[2], &o_p[3], &o_p[4], &p0, &p1, &o_gk,
                          &gst, &o_gb, &o_ga, &o_gi, &o_dk, &dst, &o_di, &o_var, &o_out))
        return NULL;
    Bufs bufs = {.n = 0};
    PAIRS(o_p);
    BUF(gk, double, o_gk, 0);
    BUF(gb, double, o_gb, 0);
    BUF(ga, double, o_ga, 0);
    BUF(gi, i64, o_gi, 0);
    BUF(dk, double, o_dk, 0);
    BUF(di, i64, o_di, 0);
    BUF(var, double, o_var, 0);
    BUF(out, double, o_out, 1);
    const i64 K = var_len / 8, base = off[p0];
    Py_BEGIN_ALLOW_THREADS
    for (i64 p = p0; p < p1; p++) {
        i64 g0 = gs[p], ng = ge[p] - g0, d0 = ds[p], nd = de[p] - d0, o = off[p] - base;
        if (off[p + 1] == off[p]) continue;
        for (i64 gg = 0; gg < ng; gg++) {
            i64 rg = gi[g0 + gg];
            const double *G = gk + gst * rg;
            const double *bb = gb + 4 * rg;
            int k1 = 0;
            for (i64 k = 0; k < K; k++) k1 += G[3 * k + 2] > 0;
            double x0 = bb[0] - bb[2], x1 = bb[0] + bb[2] * 2;
            double y0 = bb[1] - bb[3], y1 = bb[1] + bb[3] * 2;
            double den = ga[rg] + EPS;
            for (i64 dd = 0; dd < nd; dd++) {
                const double *Dk = dk + dst * di[d0 + dd];
                double *e = out + (o + dd * ng + gg) * K;
                for (i64 k = 0; k < K; k++) {
                    double xd = Dk[3 * k], yd = Dk[3 * k + 1], dx, dy;
                    if (k1 > 0) {
                        dx = xd - G[3 * k];
                        dy = yd - G[3 * k + 1];
                    } else {
                        double a = x0 - xd, b = xd - x1, c = y0 - yd, f = yd - y1;
                        /* np.max((z, v), axis=0): NaN propagates, else the larger */
                        a = (a != a) ? a : (a > 0 ? a : 0.0);
                        b = (b != b) ? b : (b > 0 ? b : 0.0);
                        c = (c != c) ? c : (c > 0 ? c : 0.0);
                        f = (f != f) ? f : (f > 0 ? f : 0.0);
                        dx = a + b;
                        dy = c + f;
                    }
                    e[k] = -((dx * dx + dy * dy) / var[k] / den / 2);
                }
            }
        }
    }
    Py_END_ALLOW_THREADS
    release(&bufs);
    Py_RETURN_NONE;
}

/* numpy's pairwise sum (n <= 128: 8 accumulators) */
static double np_sum(const double *a, i64 n) {
    if (n < 8) {
        double r = 0.;
        for (i64 i = 0; i < n; i++) r += a[i];
        return r;
    }
    double r[8];
    for (int j = 0; j < 8; j++) r[j] = a[j];
    i64 i;
    for (i = 8; i < n - (n % 8); i += 8)
        for (int j = 0; j < 8; j++) r[j] += a[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; i++) res += a[i];
    return res;
}

/* oks_reduce(gs, ge, ds, de, off, p0, p1, gt_kps, gi, exp_e [E', K], out [E]) */
static PyObject *py_oks_reduce(PyObject *self, PyObject *args) {
    PyObject *o_p[5], *o_gk, *o_gi, *o_ex, *o_out;
    Py_ssize_t p0, p1, K, gst;
    if (!PyArg_ParseTuple(args, "OOOOOnnnOnOOO", &o_p[0], &o_p[1], &o_p[2], &o_p[3], &o_p[4], &p0, &p1, &K, &o_gk,
                          &gst, &o_gi, &o_ex, &o_out))
        return NULL;
    Bufs bufs = {.n = 0};
    PAIRS(o_p);
    BUF(gk, double, o_gk, 0);
    BUF(gi, i64, o_gi, 0);
    BUF(ex, double, o_ex, 0);
    BUF(out, double, o_out, 1);
    const i64 base = off[p0];
    double *sel = malloc(sizeof(double) * (K + 1));
    if (!sel) {
        release(&bufs);
        return PyErr_NoMemory();
    }
    Py_BEGIN_ALLOW_THREADS
    for (i64 p = p0; p < p1; p++) {
        i64 g0 = gs[p], ng = ge[p] - g0, nd = de[p] - ds[p], o = off[p];
        if (off[p + 1] == off[p]) continue;
        for (i64 gg = 0; gg < ng; gg++) {
            const double *G = gk + gst * gi[g0 + gg];
            int k1 = 0;
            for (i64 k = 0; k < K; k++) k1 += G[3 * k + 2] > 0;
            for (i64 dd = 0; dd < nd; dd++) {
                i64 at = o + dd * ng + gg;
                const double *x = ex + (at - base) * K;
                i64 n = 0;
                if (k1 > 0) {
                    for (i64 k = 0; k < K; k++)
                        if (G[3 * k + 2] > 0) sel[n++] = x[k];
                    out[at] = np_sum(sel, n) / (double)n;
                } else {
                    out[at] = np_sum(x, K) / (double)K;
                }
            }
        }
    }
    Py_END_ALLOW_THREADS
    free(sel);
    release(&bufs);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------ threshold_sweep */
/* P / R / F1 against the score threshold (visionbench.metrics.pr.detection_threshold_sweep),
 * from the kept detections (score, tp, cat[] its class's position, img[] its image's):
 * - the detections are sorted by descending score, as 16-byte records (an LSD radix sort
 *   of the score's bits, 11 bits a pass, passes where every key shares the digit
 *   skipped): the scan then reads memory in order. The order inside a run of equal scores
 *   is any: F1 is read at the last detection of each run, where the cumulative counts do
 *   not depend on it.
 * - overall: 2 tp / (tp + fp + n_gt) at each run's end; the first maximum (the highest
 *   threshold). Returns (number of detections up to that point, or 0 for none; tp there;
 *   its score).
 * - per class c: the same over its own detections, n_gt_cat[c] its ground truths (none: no
 *   point); c_tp / c_n / c_thr the best point's counts and score, c_det the class's
 *   detections, c_has 1 where a point exists.
 * - per image: i_tp / i_fp over the detections with scores >= the overall best threshold.
 * Each F1 is formed as numpy forms it (an integer ratio in double): the results are
 * bit-identical to the numpy path (tests/metrics/test_pr_sweep_native.py). */
typedef struct {
    uint64_t key; /* descending score -> ascending key */
    u32 cat, img_tp;
} SweepRec;

static inline uint64_t desc_key(double v) {
    uint64_t u;
    memcpy(&u, &v, 8);
    u = (u >> 63) ? ~u : (u | 0x8000000000000000ull); /* ascending order of v */
    return ~u;                                            /* descending */
}

static inline double key_score(uint64_t k) {
    uint64_t u = ~k;
    u = (u >> 63) ? (u & 0x7fffffffffffffffull) : ~u;
    double v;
    memcpy(&v, &u, 8);
    return v;
}

/* class c's point at its pending run's end: kept when its F1 beats the class's best */
#define SWEEP_POINT(c)                                                                 \
    do {                                                                               \
        if (ngt[c] > 0) {                                                              \
            const double f_ = (double)(2 * ktp[c]) / (double)(c_det[c] + ngt[c]);     \
            if (f_ > best[c]) {                                                        \
                best[c] = f_;                                                          \
                c_tp[c] = ktp[c];                                                      \
                c_n[c] = c_det[c];                                                     \
                c_thr[c] = pend[c];                                                    \
                c_has[c] = 1;                                                          \
            }                                                                          \
        }                                                                              \
    } while (0)

static PyObject *py_threshold_sweep(PyObject *self, PyObject *args) {
    PyObject *o_score, *o_tp, *o_cat, *o_img, *o_ngt;
    PyObject *o_ctp, *o_cn, *o_cthr, *o_cdet, *o_chas, *o_itp, *o_ifp;
    long long n_gt_all;
    if (!PyArg_ParseTuple(args, "OOOOOLOOOOOOO", &o_score, &o_tp, &o_cat, &o_img, &o_ngt,
                          &n_gt_all, &o_ctp, &o_cn, &o_cthr, &o_cdet, &o_chas, &o_itp, &o_ifp))
        return NULL;
    Bufs bufs = {.n = 0};
    BUF(score, double, o_score, 0);
    BUF(tp, u8, o_tp, 0);
    BUF(cat, i64, o_cat, 0);
    BUF(img, i64, o_img, 0);
    BUF(ngt, i64, o_ngt, 0);
    BUF(c_tp, i64, o_ctp, 1);
    BUF(c_n, i64, o_cn, 1);
    BUF(c_thr, double, o_cthr, 1);
    BUF(c_det, i64, o_cdet, 1);
    BUF(c_has, i64, o_chas, 1);
    BUF(i_tp, double, o_itp, 1);
    BUF(i_fp, double, o_ifp, 1);
    const i64 n = score_len / 8, K = ngt_len / 8, I = i_tp_len / 8;
    if (tp_len != n || cat_len / 8 != n || img_len / 8 != n || c_tp_len / 8 != K ||
        c_n_len / 8 != K || c_thr_len / 8 != K || c_det_len / 8 != K || c_has_len / 8 != K ||
        i_fp_len / 8 != I || K >= ((i64)1 << 32) || I >= ((i64)1 << 31)) {
        release(&bufs);
        PyErr_SetString(PyExc_ValueError, "threshold_sweep: array lengths differ or too large");
        return NULL;
    }
    Mem m = {.n = 0, .failed = 0};
    SweepRec *r = mem_get(&m, sizeof(SweepRec) * (n + 1), 0);
    SweepRec *t = mem_get(&m, sizeof(SweepRec) * (n + 1), 0);
    double *pend = mem_get(&m, sizeof(double) * (K + 1), 0);
    double *best = mem_get(&m, sizeof(double) * (K + 1), 0);
    i64 *ktp = mem_get(&m, sizeof(i64) * (K + 1), 1);
    i64 *hist = mem_get(&m, sizeof(i64) * 6 * 2048, 1);
    if (m.failed) return no_memory(&m, &bufs);
    i64 bad = 0, n_best = 0, tp_best = 0;
    double thr_best = NAN;
    Py_BEGIN_ALLOW_THREADS
    for (i64 i = 0; i < n; i++) {
        if (cat[i] < 0 || cat[i] >= K || img[i] < 0 || img[i] >= I) {
            bad = 1;
            break;
        }
        const uint64_t k = desc_key(score[i]);
        r[i].key = k;
        r[i].cat = (u32)cat[i];
        r[i].img_tp = ((u32)img[i] << 1) | (tp[i] != 0);
        for (int d = 0; d < 6; d++) hist[d * 2048 + ((k >> (11 * d)) & 2047)]++;
    }
    for (int d = 0; d < 6 && !bad; d++) {
        i64 *h = hist + d * 2048;
        const uint64_t first = n ? (r[0].key >> (11 * d)) & 2047 : 0;
        if (h[first] == n) continue; /* every key has this digit */
        i64 sum = 0;
        for (int b = 0; b < 2048; b++) {
            const i64 c = h[b];
            h[b] = sum;
            sum += c;
        }
        for (i64 i = 0; i < n; i++) t[h[(r[i].key >> (11 * d)) & 2047]++] = r[i];
        SweepRec *x = r;
        r = t;
        t = x;
    }
    for (i64 c = 0; c < K; c++) {
        c_det[c] = c_has[c] = c_tp[c] = c_n[c] = 0;
        c_thr[c] = NAN;
        best[c] = -1.0;
    }
    double f_best = -1.0;
    i64 cum_tp = 0;
    for (i64 i = 0; i < n && !bad; i++) {
        const uint64_t k = r[i].key;
        const i64 c = r[i].cat, tv = r[i].img_tp & 1;
        const double sc = key_score(k);
        /* the class's pending point ends where its score changes */
        if (c_det[c] && pend[c] != sc) SWEEP_POINT(c);
        c_det[c]++;
        ktp[c] += tv;
        pend[c] = sc;
        cum_tp += tv;
        if (n_gt_all > 0 && (i == n - 1 || key_score(r[i + 1].key) != sc)) {
            const double f = (double)(2 * cum_tp) / (double)(i + 1 + n_gt_all);
            if (f > f_best) {
                f_best = f;
                n_best = i + 1;
                tp_best = cum_tp;
                thr_best = sc;
            }
        }
    }
    for (i64 c = 0; c < K && !bad; c++)
        if (c_det[c]) SWEEP_POINT(c);
    for (i64 k = 0; k < I; k++) i_tp[k] = i_fp[k] = 0.0;
    for (i64 i = 0; i < n_best && !bad; i++) {
        if (r[i].img_tp & 1)
            i_tp[r[i].img_tp >> 1] += 1.0;
        else
            i_fp[r[i].img_tp >> 1] += 1.0;
    }
    Py_END_ALLOW_THREADS
    mem_free(&m);
    release(&bufs);
    if (bad) {
        PyErr_SetString(PyExc_ValueError, "threshold_sweep: a class or image index is out of range");
        return NULL;
    }
    return Py_BuildValue("LLd", (long long)n_best, (long long)tp_best, thr_best);
}

/* ===================================================================== module */
static PyMethodDef methods[] = {
    {"group_order", py_group_order, METH_VARARGS, NULL},
    {"segment_order_desc", py_segment_order_desc, METH_VARARGS, NULL},
    {"pair_box_ious", py_pair_box_ious, METH_VARARGS, NULL},
    {"match_pairs", py_match_pairs, METH_VARARGS, NULL},
    {"accumulate_ranked", py_accumulate_ranked, METH_VARARGS, NULL},
    {"scan_objects", py_scan_objects, METH_VARARGS, NULL},
    {"object_spans", py_object_spans, METH_VARARGS, NULL},
    {"count_byte", py_count_byte, METH_VARARGS, NULL},
    {"rle_from_strings", py_rle_from_strings, METH_VARARGS, NULL},
    {"rle_json_spans", py_rle_json_spans, METH_VARARGS, NULL},
    {"polys_to_rle", py_polys_to_rle, METH_VARARGS, NULL},
    {"rle_area_bbox", py_rle_area_bbox, METH_VARARGS, NULL},
    {"pair_rle_ious", py_pair_rle_ious, METH_VARARGS, NULL},
    {"oks_exponents", py_oks_exponents, METH_VARARGS, NULL},
    {"oks_reduce", py_oks_reduce, METH_VARARGS, NULL},
    {"threshold_sweep", py_threshold_sweep, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_coco_ext",
                                    "C kernels of the COCO evaluation", -1, methods};

PyMODINIT_FUNC PyInit__coco_ext(void) { return PyModule_Create(&module); }
