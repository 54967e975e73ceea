/* hfdir_decompress.c — a Hugging Face model folder rebuilt from a .hyc
 * (docs/FORMAT.md, "Rebuilding the folder"): each shard written under its
 * name with its own metadata, the index and every attachment byte for byte. */
#include "../common/util.h"
#include "hyc_ext.h"
#include "hfdir_int.h"
#include "json.h"
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

/* ---- decompress into a folder -------------------------------------------------- */

static hc_status put_st(void *user, size_t k, const void *data, hc_error *err) {
    return hc_st_writer_put(user, k, data, err);
}

/* Writes tensors [first, first + count) of h as one safetensors file. */
static hc_status write_shard(const hc_hyc *h, size_t first, size_t count, const char *path, const char *meta,
                             size_t mlen, int threads, int overwrite, hc_error *err) {
    hc_tensor_info *infos = calloc(count ? count : 1, sizeof *infos);
    if (!infos) return hc_fail(err, HC_E_NOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        hc_hyc_entry e; /* filled on query */
        hc_hyc_entry_at(h, first + i, &e);
        infos[i] = e.info;
    }
    hc_st_writer *w = NULL;
    hc_status s = hc_st_writer_open(path, infos, count, meta, mlen, overwrite, &w, err);
    free(infos);
    if (s) return s;
    s = hc_hyc_decode_each(h, first, count, threads, put_st, w, err);
    if (s == HC_OK) return hc_st_writer_finish(w, err);
    hc_st_writer_abort(w);
    return s;
}

static hc_status write_bytes(const char *path, const void *p, size_t n, int overwrite, hc_error *err) {
    hc_outfile o;
    hc_status s = hc_out_open(&o, path, overwrite, err);
    if (s) return s;
    s = hc_out_write(&o, p, n, err);
    if (s) {
        hc_out_abort(&o);
        return s;
    }
    return hc_out_commit(&o, err);
}

/* An index for shards that came without one (sorted weight map). */
static hc_status make_index(const hc_hyc *h, char **out, size_t *len, hc_error *err) {
    size_t n = hc_hyc_count(h);
    uint64_t total = 0;
    size_t cap = 128;
    for (size_t i = 0; i < n; i++) {
        const hc_hyc_entry *e = hc_hyc_get(h, i);
        total += e->info.nbytes;
        cap += 2 * strlen(e->info.name) * 6 + 2 * HC_ATTACH_NAME_MAX * 6 + 16;
    }
    const char **names = malloc((n ? n : 1) * sizeof *names);
    size_t *shard = malloc((n ? n : 1) * sizeof *shard);
    char *b = malloc(cap);
    if (!names || !shard || !b) {
        free(names);
        free(shard);
        free(b);
        return hc_fail(err, HC_E_NOMEM, "out of memory for the index");
    }
    for (size_t k = 0; k < hc_hyc_shard_count(h); k++) {
        const hc_hyc_shard *sh = hc_hyc_shard_get(h, k);
        for (size_t i = sh->first; i < sh->first + sh->count; i++) shard[i] = k;
    }
    for (size_t i = 0; i < n; i++) names[i] = hc_hyc_get(h, i)->info.name;
    /* sort indices by name: simple insertion into a sorted array of indices */
    size_t *ord = malloc((n ? n : 1) * sizeof *ord);
    if (!ord) {
        free(names);
        free(shard);
        free(b);
        return hc_fail(err, HC_E_NOMEM, "out of memory for the index");
    }
    for (size_t i = 0; i < n; i++) ord[i] = i;
    /* shell sort on names (n up to 2^20) */
    for (size_t gap = n / 2; gap > 0; gap /= 2)
        for (size_t i = gap; i < n; i++) {
            size_t t = ord[i], j = i;
            while (j >= gap && strcmp(names[ord[j - gap]], names[t]) > 0) {
                ord[j] = ord[j - gap];
                j -= gap;
            }
            ord[j] = t;
        }
    size_t pos = (size_t)snprintf(b, cap, "{\n  \"metadata\": {\n    \"total_size\": %llu\n  },\n  \"weight_map\": {\n",
                                  (ull)total);
    for (size_t k = 0; k < n; k++) {
        size_t i = ord[k];
        const char *sn = hc_hyc_shard_get(h, shard[i])->name;
        b[pos++] = ' ', b[pos++] = ' ', b[pos++] = ' ', b[pos++] = ' ', b[pos++] = '"';
        pos += hc_json_escape(names[i], strlen(names[i]), b + pos);
        b[pos++] = '"', b[pos++] = ':', b[pos++] = ' ', b[pos++] = '"';
        pos += hc_json_escape(sn, strlen(sn), b + pos);
        b[pos++] = '"';
        if (k + 1 < n) b[pos++] = ',';
        b[pos++] = '\n';
    }
    pos += (size_t)snprintf(b + pos, cap - pos, "  }\n}\n");
    free(ord);
    free(names);
    free(shard);
    *out = b;
    *len = pos;
    return HC_OK;
}

hc_status hc_hfdir_decompress(const char *in_path, const char *out_dir, int threads, int overwrite,
                              hc_error *err) {
    hc_hyc *h = NULL;
    hc_status s = hc_hyc_open(in_path, &h, err);
    if (s) return s;
    if (threads <= 0) threads = hc_cpu_count();
    /* every attachment checked before anything is written */
    for (size_t i = 0; i < hc_hyc_attachment_count(h) && s == HC_OK; i++) {
        const uint8_t *p;
        s = hc_hyc_attachment_data(h, i, &p, err);
    }
    size_t nsh = hc_hyc_shard_count(h);
    int need_index = 0;
    if (s == HC_OK && nsh > 1) {
        need_index = 1;
        for (size_t i = 0; i < hc_hyc_attachment_count(h); i++)
            if (ends_with(hc_hyc_attachment_get(h, i)->name, ".index.json")) need_index = 0;
    }
    /* names written: shards (or model.safetensors), attachments, the index */
    for (size_t i = 0; i < hc_hyc_attachment_count(h) && s == HC_OK; i++) {
        const char *an = hc_hyc_attachment_get(h, i)->name;
        for (size_t k = 0; k < nsh; k++)
            if (strcmp(hc_hyc_shard_get(h, k)->name, an) == 0)
                s = hc_fail(err, HC_E_CORRUPT, "'%s': attachment '%s' has the name of a shard", in_path, an);
        if (s == HC_OK && ((nsh == 0 && strcmp(an, "model.safetensors") == 0) ||
                           (need_index && strcmp(an, "model.safetensors.index.json") == 0)))
            s = hc_fail(err, HC_E_CORRUPT, "'%s': attachment '%s' has the name of a weight file", in_path, an);
    }
    if (s) {
        hc_hyc_close(h);
        return s;
    }
    if (!is_dir(out_dir) && mkdir(out_dir, 0777) != 0) {
        s = hc_fail(err, HC_E_IO, "'%s': cannot create the folder: %s", out_dir, strerror(errno));
        hc_hyc_close(h);
        return s;
    }
    /* refuse before writing anything if a file is in the way */
    if (!overwrite) {
        size_t total = (nsh ? nsh : 1) + hc_hyc_attachment_count(h) + (size_t)need_index;
        for (size_t k = 0; k < total && s == HC_OK; k++) {
            const char *nm = k < (nsh ? nsh : 1)
                                 ? (nsh ? hc_hyc_shard_get(h, k)->name : "model.safetensors")
                             : k < (nsh ? nsh : 1) + hc_hyc_attachment_count(h)
                                 ? hc_hyc_attachment_get(h, k - (nsh ? nsh : 1))->name
                                 : "model.safetensors.index.json";
            char *p = join(out_dir, nm);
            struct stat st;
            if (!p) s = hc_fail(err, HC_E_NOMEM, "out of memory");
            else if (lstat(p, &st) == 0)
                s = hc_fail(err, HC_E_EXISTS, "'%s' exists (use -f to overwrite)", p);
            free(p);
        }
    }
    for (size_t k = 0; k < (nsh ? nsh : 1) && s == HC_OK; k++) {
        const hc_hyc_shard *sh = nsh ? hc_hyc_shard_get(h, k) : NULL;
        size_t mlen = 0;
        const char *meta = sh ? sh->metadata : hc_hyc_metadata(h, &mlen);
        if (sh) mlen = sh->metadata_len;
        char *p = join(out_dir, sh ? sh->name : "model.safetensors");
        s = p ? write_shard(h, sh ? sh->first : 0, sh ? sh->count : hc_hyc_count(h), p, meta, mlen, threads,
                            overwrite, err)
              : hc_fail(err, HC_E_NOMEM, "out of memory");
        free(p);
    }
    for (size_t i = 0; i < hc_hyc_attachment_count(h) && s == HC_OK; i++) {
        const uint8_t *d;
        s = hc_hyc_attachment_data(h, i, &d, err);
        char *p = s ? NULL : join(out_dir, hc_hyc_attachment_get(h, i)->name);
        if (s == HC_OK)
            s = p ? write_bytes(p, d, (size_t)hc_hyc_attachment_get(h, i)->size, overwrite, err)
                  : hc_fail(err, HC_E_NOMEM, "out of memory");
        free(p);
    }
    if (s == HC_OK && need_index) {
        char *b = NULL, *p = NULL;
        size_t len = 0;
        s = make_index(h, &b, &len, err);
        if (s == HC_OK) {
            p = join(out_dir, "model.safetensors.index.json");
            s = p ? write_bytes(p, b, len, overwrite, err) : hc_fail(err, HC_E_NOMEM, "out of memory");
        }
        free(b);
        free(p);
    }
    hc_hyc_close(h);
    if (s) hc_error_context(err, s, "decompressing '%s' into '%s'", in_path, out_dir);
    return s;
}
