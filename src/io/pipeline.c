/* pipeline.c — whole-model compression (safetensors -> .hyc) and
 * decompression (.hyc -> safetensors).
 *
 * Compression codes tensors in parallel but writes them in their original
 * order. Memory stays bounded: the input is mmapped, and at most `window`
 * tensors are in flight (being coded, or coded and waiting for their turn to
 * be written); a worker does not start tensor i before tensor i - window has
 * been written. */
#include "../codec/codec.h"
#include "../codec/sparse.h"
#include "../common/util.h"
#include "hyc_ext.h"
#include "llama2c_io.h"
#include "plan.h"
#include "gguf.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- compression ------------------------------------------------------- */

typedef struct job_result {
    int done;
    hc_status status;
    hc_error err;
    hc_encoded enc;      /* lossy result (enc.codec != RAW), else unused      */
    int keep_original;   /* store the input bytes verbatim (RAW)             */
    double seconds;
} job_result;

typedef struct compress_ctx {
    const hc_safetensors *st;
    const hc_opts *opts;
    const hc_opts *per_tensor; /* planned options per tensor, or NULL        */
    hc_hyc_writer *w;
    hc_progress_fn progress;
    void *user;
    hc_model_report *rep;
    size_t count;
    size_t index_base, count_total; /* numbering in progress reports  */
    int release_pages;   /* st is a read-only file mapping: drop each tensor's
                            pages once written, so memory follows the tensors
                            in flight, not the file                        */
    size_t window;
    int threads;         /* threads of the whole run                         */
    job_result *res;
    size_t next_write;   /* index of the next tensor to write                */
    int failed;          /* set on the first error: everyone stops           */
    hc_error err;        /* the first error                                  */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    double sum_sq_coded, sum_err_coded;
} compress_ctx;

/* Weights from which one tensor is coded by several threads. */
#define PARALLEL_TENSOR_MIN ((uint64_t)4 << 20)

/* Codes tensor i into r (no locks held). */
static void code_tensor(compress_ctx *cx, size_t i, job_result *r) {
    hc_tensor_info tinfo; /* filled on query: no table of 1.1 KB records */
    hc_st_info_at(cx->st, i, &tinfo);
    const hc_tensor_info *ti = &tinfo;
    double t0 = hc_now();
    hc_error_clear(&r->err);
    r->status = HC_OK;
    r->keep_original = 1;
    const hc_opts *o = cx->per_tensor ? &cx->per_tensor[i] : cx->opts;
    /* a large tensor would leave the other threads idle at the end of the
     * run: its encoder splits it over all threads (same output either way) */
    hc_opts big;
    if (ti->nelem >= PARALLEL_TENSOR_MIN && cx->threads > 1 && o->threads <= 1) {
        big = *o;
        big.threads = (uint32_t)cx->threads;
        o = &big;
    }
    if (hc_opts_codes_tensor(o, ti)) {
        const float *w = (const float *)hc_st_data(cx->st, i);
        float *tmp = NULL;
        if (ti->dtype != HC_F32 || ((uintptr_t)w & 3)) {
            uint64_t bytes;
            if (!hc_mul_ok(ti->nelem, sizeof(float), &bytes) || !(tmp = malloc((size_t)bytes))) {
                r->status = hc_fail(&r->err, HC_E_NOMEM, "tensor '%s': cannot allocate %llu floats", ti->name,
                                    (unsigned long long)ti->nelem);
                goto out;
            }
            hc_to_f32(ti->dtype, hc_st_data(cx->st, i), tmp, ti->nelem);
            w = tmp;
        }
        r->status = hc_encode_tensor(ti, w, o, &r->enc, &r->err);
        free(tmp);
        if (r->status != HC_OK) {
            hc_error_context(&r->err, r->status, "tensor '%s'", ti->name);
            goto out;
        }
        if (r->enc.codec == HC_CODEC_RAW)
            hc_encoded_free(&r->enc); /* the codec chose lossless: keep the original bytes */
        else
            r->keep_original = 0;
    }
out:
    r->seconds = hc_now() - t0;
}

hc_status hc_encode_tensor(const hc_tensor_info *ti, const float *w, const hc_opts *o, hc_encoded *out,
                           hc_error *err) {
    hc_opts oc = *o; /* the row length, for codecs that transform rows (trellis) */
    if (ti->ndim >= 2 && ti->shape[0] > 0 && oc.cols == 0) oc.cols = ti->nelem / ti->shape[0];
    if (o->calib && ti->ndim == 2 && !hc_prune_active(o)) /* pruned: plain coding (sparse.c) */
        return hc_encode_calibrated(o->calib, ti->name, w, ti->shape[0], ti->shape[1], &oc, out, err);
    return hc_encode(w, ti->nelem, &oc, out, err);
}

/* Drops the whole pages of [p, p + n) from a read-only private file mapping
 * (they read back from the file if touched again). */
static void drop_pages(const void *p, uint64_t n) {
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0 || n == 0) return;
    uintptr_t a = ((uintptr_t)p + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    uintptr_t b = ((uintptr_t)p + (uintptr_t)n) & ~((uintptr_t)pg - 1);
    if (b > a) (void)madvise((void *)a, b - a, MADV_DONTNEED);
}

/* Writes tensor i (called with the lock held, in order). */
static hc_status write_tensor(compress_ctx *cx, size_t i, job_result *r) {
    hc_tensor_info tinfo; /* filled on query: no table of 1.1 KB records */
    hc_st_info_at(cx->st, i, &tinfo);
    const hc_tensor_info *ti = &tinfo;
    hc_hyc_entry e;
    memset(&e, 0, sizeof e);
    e.info = *ti;
    hc_status s;
    hc_tensor_report tr;
    memset(&tr, 0, sizeof tr);
    if (r->keep_original) {
        e.codec = HC_CODEC_RAW;
        s = hc_hyc_writer_add(cx->w, &e, hc_st_data(cx->st, i), ti->nbytes, &cx->err);
        tr.bytes_out = ti->nbytes;
    } else {
        e.codec = r->enc.codec;
        e.params_len = r->enc.params_len;
        memcpy(e.params, r->enc.params, r->enc.params_len);
        s = hc_hyc_writer_add(cx->w, &e, r->enc.payload, r->enc.payload_len, &cx->err);
        tr.bytes_out = r->enc.payload_len + r->enc.params_len;
        tr.nmse = r->enc.sum_sq > 0 ? r->enc.mse * (double)ti->nelem / r->enc.sum_sq : 0;
        tr.max_abs_err = r->enc.max_abs_err;
        cx->rep->weights_coded += ti->nelem;
        cx->rep->bits_coded += 8.0 * (double)tr.bytes_out;
        cx->sum_sq_coded += (double)ti->nelem; /* size-weighted mean NMSE */
        cx->sum_err_coded += tr.nmse * (double)ti->nelem;
    }
    if (s != HC_OK) return s;
    if (cx->release_pages) drop_pages(hc_st_data(cx->st, i), ti->nbytes);
    cx->rep->weights_total += ti->nelem;
    tr.index = cx->index_base + i;
    tr.count = cx->count_total;
    tr.info = ti;
    tr.codec = e.codec;
    tr.bytes_in = ti->nbytes;
    tr.bpw = ti->nelem ? 8.0 * (double)tr.bytes_out / (double)ti->nelem : 0;
    tr.seconds = r->seconds;
    tr.note = r->enc.note; /* why a coded tensor was kept lossless ("" if not) */
    if (cx->progress) cx->progress(&tr, cx->user);
    return HC_OK;
}

static void compress_worker(void *p, uint64_t i, int tid) {
    (void)tid;
    compress_ctx *cx = (compress_ctx *)p;
    pthread_mutex_lock(&cx->mu);
    while (!cx->failed && i >= cx->next_write + cx->window) pthread_cond_wait(&cx->cv, &cx->mu);
    int stop = cx->failed;
    pthread_mutex_unlock(&cx->mu);
    if (stop) return;

    job_result *r = &cx->res[i % cx->window];
    code_tensor(cx, (size_t)i, r);

    pthread_mutex_lock(&cx->mu);
    r->done = 1;
    if (r->status != HC_OK && !cx->failed) {
        cx->failed = 1;
        cx->err = r->err;
    }
    /* write every finished tensor whose turn has come */
    while (!cx->failed && cx->next_write < cx->count) {
        job_result *q = &cx->res[cx->next_write % cx->window];
        if (!q->done) break;
        if (write_tensor(cx, cx->next_write, q) != HC_OK) cx->failed = 1;
        hc_encoded_free(&q->enc);
        memset(q, 0, sizeof *q);
        cx->next_write++;
    }
    if (cx->failed) hc_encoded_free(&r->enc);
    pthread_cond_broadcast(&cx->cv);
    pthread_mutex_unlock(&cx->mu);
}

hc_status hc_compress_st_into(const hc_safetensors *st, const char *label, hc_hyc_writer *w, const hc_opts *o,
                              int threads, hc_progress_fn progress, void *user, hc_model_report *rep,
                              size_t index_base, size_t count_total, double *sum_sq, double *sum_err,
                              int release_pages, hc_error *err) {
    hc_status s = HC_OK;
    if (threads <= 0) threads = hc_cpu_count();
    hc_opts *plan = NULL;
    if (o->target_bpw > 0 || o->target_snr > 0) {
        plan = malloc((hc_st_count(st) ? hc_st_count(st) : 1) * sizeof *plan);
        if (!plan) s = hc_fail(err, HC_E_NOMEM, "out of memory");
        else s = hc_plan_model(st, o, threads, plan, NULL, err);
        if (s) {
            free(plan);
            return hc_error_context(err, s, "planning '%s'", label);
        }
    }
    compress_ctx cx;
    memset(&cx, 0, sizeof cx);
    cx.st = st;
    cx.opts = o;
    cx.per_tensor = plan;
    cx.w = w;
    cx.progress = progress;
    cx.user = user;
    cx.rep = rep;
    cx.count = hc_st_count(st);
    cx.index_base = index_base;
    cx.count_total = count_total;
    cx.release_pages = release_pages;
    cx.threads = threads;
    cx.window = (size_t)threads * 2;
    cx.res = calloc(cx.window, sizeof *cx.res);
    if (!cx.res) {
        free(plan);
        return hc_fail(err, HC_E_NOMEM, "out of memory");
    }
    pthread_mutex_init(&cx.mu, NULL);
    pthread_cond_init(&cx.cv, NULL);
    hc_error_clear(&cx.err);
    hc_parallel_for(threads, cx.count, compress_worker, &cx);
    for (size_t k = 0; k < cx.window; k++) hc_encoded_free(&cx.res[k].enc);
    free(cx.res);
    free(plan);
    pthread_mutex_destroy(&cx.mu);
    pthread_cond_destroy(&cx.cv);
    *sum_sq += cx.sum_sq_coded;
    *sum_err += cx.sum_err_coded;
    if (cx.failed) {
        if (err) *err = cx.err;
        return hc_error_context(err, cx.err.code ? cx.err.code : HC_E_IO, "compressing '%s'", label);
    }
    return HC_OK;
}

hc_status hc_compress_file(const char *in_path, const char *out_path, const hc_opts *o, int threads,
                           int overwrite, hc_progress_fn progress, void *user, hc_model_report *rep,
                           hc_error *err) {
    return hc_compress_path(in_path, out_path, o, NULL, threads, overwrite, progress, user, rep, err);
}

hc_status hc_compress_path(const char *in_path, const char *out_path, const hc_opts *o,
                           const hc_compress_extra *x, int threads, int overwrite, hc_progress_fn progress,
                           void *user, hc_model_report *rep, hc_error *err) {
    hc_model_report local;
    if (!rep) rep = &local;
    memset(rep, 0, sizeof *rep);
    double t0 = hc_now();
    if (!hc_codec_get(o->codec))
        return hc_fail(err, HC_E_UNSUPPORTED, "codec %d is not available in this build", (int)o->codec);
    if (hc_out_check_distinct(in_path, out_path, err) != HC_OK) return HC_E_ARG; /* never replace the input */
    if (hc_hfdir_is_input(in_path)) /* a Hugging Face folder (hfdir.c) */
        return hc_hfdir_compress(in_path, out_path, o, x, threads, overwrite, progress, user, rep, err);
    hc_safetensors *st = NULL;
    hc_status s = hc_model_open_st(in_path, 0, &st, err); /* safetensors, GGUF or llama2.c */
    if (s) return s;
    hc_hyc_writer *w = NULL;
    s = hc_hyc_writer_open(out_path, overwrite, &w, err);
    if (s) {
        hc_st_close(st);
        return s;
    }
    double sum_sq = 0, sum_err = 0;
    s = hc_hfdir_attach_extras(w, x, err); /* first: a bad file fails before the work */
    if (s == HC_OK)
        s = hc_compress_st_into(st, in_path, w, o, threads, progress, user, rep, 0, hc_st_count(st), &sum_sq,
                                &sum_err, 1, err);
    if (s) {
        hc_hyc_writer_abort(w);
        hc_st_close(st);
        return s;
    }
    size_t mlen = 0;
    const char *meta = hc_st_metadata(st, &mlen);
    s = hc_hyc_writer_finish(w, meta, mlen, err);
    if (s == HC_OK) {
        hc_map m;
        hc_error e2;
        hc_error_clear(&e2);
        if (hc_map_file(in_path, &m, &e2) == HC_OK) {
            rep->bytes_in = m.len;
            hc_unmap(&m);
        }
        if (hc_map_file(out_path, &m, &e2) == HC_OK) {
            rep->bytes_out = m.len;
            hc_unmap(&m);
        }
        rep->nmse_coded = sum_sq > 0 ? sum_err / sum_sq : 0;
    }
    hc_st_close(st);
    rep->seconds = hc_now() - t0;
    return s;
}

/* ---- decompression ----------------------------------------------------- */

typedef struct decode_ctx {
    const hc_decoder *d;
    float *out;
    uint64_t chunk;
} decode_ctx;

static void decode_chunk(void *p, uint64_t i, int tid) {
    (void)tid;
    decode_ctx *c = (decode_ctx *)p;
    uint64_t s = i * c->chunk, k = c->d->n - s < c->chunk ? c->d->n - s : c->chunk;
    c->d->decode(c->d, s, k, c->out + s);
}

static void hyc_info_fill(const void *user, size_t i, hc_tensor_info *out) {
    hc_hyc_entry e;
    hc_hyc_entry_at(user, i, &e); /* i < count: always fills */
    *out = e.info;
}

typedef struct dest_writers {
    hc_st_writer *st;
    hc_gguf_writer *gguf;
} dest_writers;

static hc_status put_dest(void *user, size_t i, const void *data, hc_error *err) {
    dest_writers *d = user;
    return d->gguf ? hc_gguf_writer_put(d->gguf, i, data, err) : hc_st_writer_put(d->st, i, data, err);
}

hc_status hc_hyc_decode_each(const hc_hyc *h, size_t first, size_t count, int threads, hc_tensor_put_fn put,
                             void *user, hc_error *err) {
    const char *label = hyc_reader_label(h);
    hc_status s = HC_OK;
    float *buf = NULL;
    void *conv = NULL;
    for (size_t k = 0; k < count && s == HC_OK; k++) {
        size_t i = first + k;
        hc_hyc_entry ent; /* filled on query: no table of 1.4 KB records */
        hc_hyc_entry_at(h, i, &ent);
        const hc_hyc_entry *e = &ent;
        if (e->codec == HC_CODEC_RAW) {
            const uint8_t *p;
            s = hc_hyc_payload(h, i, &p, err);
            if (s == HC_OK) s = put(user, k, p, err);
            continue;
        }
        hc_decoder *d = NULL;
        s = hc_hyc_decoder(h, i, &d, err);
        if (s) break;
        uint64_t bytes;
        if (!hc_mul_ok(e->info.nelem, 4, &bytes) || (uint64_t)(size_t)bytes != bytes) {
            hc_decoder_free(d);
            s = hc_fail(err, HC_E_LIMIT, "'%s': tensor '%s' too large", label, e->info.name);
            break;
        }
        free(buf);
        free(conv);
        conv = NULL;
        buf = malloc(bytes ? (size_t)bytes : 1);
        if (buf && e->info.dtype != HC_F32) conv = malloc(e->info.nbytes ? (size_t)e->info.nbytes : 1);
        if (!buf || (e->info.dtype != HC_F32 && !conv)) {
            hc_decoder_free(d);
            s = hc_fail(err, HC_E_NOMEM, "'%s': tensor '%s': cannot allocate %llu bytes", label, e->info.name,
                        (unsigned long long)bytes);
            break;
        }
        decode_ctx dc = {d, buf, 1u << 18};
        hc_parallel_for(threads, (e->info.nelem + dc.chunk - 1) / dc.chunk, decode_chunk, &dc);
        hc_decoder_free(d);
        if (conv) hc_from_f32(e->info.dtype, buf, conv, e->info.nelem);
        s = put(user, k, conv ? conv : (const void *)buf, err);
    }
    free(buf);
    free(conv);
    return s;
}

hc_status hc_decompress_file(const char *in_path, const char *out_path, int threads, int overwrite,
                             hc_error *err) {
    if (in_path && out_path && hc_hfdir_is_output(in_path, out_path)) /* rebuild the model folder (hfdir.c) */
        return hc_hfdir_decompress(in_path, out_path, threads, overwrite, err);
    if (hc_out_check_distinct(in_path, out_path, err) != HC_OK) return HC_E_ARG; /* never replace the input */
    if (hc_l2c_path_is_bin(out_path)) return hc_l2c_decompress(in_path, out_path, -1, overwrite, err);
    hc_hyc *h = NULL;
    hc_status s = hc_hyc_open(in_path, &h, err);
    if (s) return s;
    if (threads <= 0) threads = hc_cpu_count();
    size_t n = hc_hyc_count(h);
    size_t mlen = 0;
    const char *meta = hc_hyc_metadata(h, &mlen);
    hc_st_writer *w = NULL;
    hc_gguf_writer *gw = NULL; /* GGUF output: a .hyc made from a GGUF, or OUT ending in .gguf */
    int from_gguf = hc_gguf_is_gguf(meta, mlen);
    size_t ol = strlen(out_path);
    int to_st = ol >= 12 && !strcmp(out_path + ol - 12, ".safetensors");
    if ((from_gguf && !to_st) || (ol >= 5 && !strcmp(out_path + ol - 5, ".gguf"))) {
        /* GGUF files hold few tensors: the writer takes the whole table */
        hc_tensor_info *infos = calloc(n ? n : 1, sizeof *infos);
        if (!infos) s = hc_fail(err, HC_E_NOMEM, "'%s': out of memory for %zu tensor records", in_path, n);
        for (size_t i = 0; s == HC_OK && i < n; i++) hyc_info_fill(h, i, &infos[i]);
        if (s == HC_OK)
            s = hc_gguf_writer_open(out_path, from_gguf ? meta : NULL, from_gguf ? mlen : 0, infos, n, overwrite, &gw,
                                    err);
        free(infos);
    } else {
        /* the table is read from the container on demand: no copy of 1.1 KB a tensor */
        s = hc_st_writer_open_fn(out_path, n, hyc_info_fill, h, from_gguf ? NULL : meta, from_gguf ? 0 : mlen,
                                 overwrite, &w, err);
    }
    if (s) {
        hc_hyc_close(h);
        return s;
    }
    dest_writers dw = {w, gw};
    s = hc_hyc_decode_each(h, 0, n, threads, put_dest, &dw, err);
    if (gw) {
        if (s == HC_OK) s = hc_gguf_writer_finish(gw, err);
        else hc_gguf_writer_abort(gw);
    } else if (s == HC_OK)
        s = hc_st_writer_finish(w, err);
    else
        hc_st_writer_abort(w);
    hc_hyc_close(h);
    /* every failure above names the file already */
    return s;
}
