/* hyc_write.c — the .hyc container's streaming writer (docs/FORMAT.md,
 * "Writing"): it appends payloads as they come and writes the directory,
 * trailer and header at the end. The reader is in hyc.c. */
#include "../codec/codec.h"
#include "../common/util.h"
#include "hyc_ext.h"
#include "hyc_format.h"
#include <stdlib.h>

/* ===================================================================== */
/* Writer                                                                 */
/* ===================================================================== */

typedef struct name_ref { uint64_t at; uint32_t len; } name_ref; /* name bytes in w->dir */

struct hc_hyc_writer {
    hc_outfile out;
    int broken;                 /* a write failed: the file cannot be finished */
    uint8_t *dir;               /* [dir_len] the entries, as they will be stored */
    size_t dir_len, dir_cap;
    name_ref *names;            /* [cap] */
    size_t count, cap;
    name_set set;
    hyc_ext_w *ext;             /* attachments and shards (hyc_attach.c)   */
};

hyc_ext_w **hyc_writer_ext(hc_hyc_writer *w) { return &w->ext; }
size_t hyc_writer_count(const hc_hyc_writer *w) { return w->count; }
const char *hyc_writer_path(const hc_hyc_writer *w) { return w->out.path; }

static const char *writer_name_of(const void *ctx, uint32_t i, size_t *len) {
    const hc_hyc_writer *w = ctx;
    *len = w->names[i].len;
    return (const char *)w->dir + w->names[i].at;
}

hc_status hc_hyc_writer_open(const char *path, int overwrite, hc_hyc_writer **out, hc_error *err) {
    if (!out || !path) return hc_fail(err, HC_E_ARG, "hc_hyc_writer_open: no path or output pointer");
    *out = NULL;
    hc_hyc_writer *w = calloc(1, sizeof *w);
    if (!w) return hc_fail(err, HC_E_NOMEM, "out of memory opening '%s'", path);
    hc_status s = hc_out_open(&w->out, path, overwrite, err);
    if (s) {
        free(w);
        return s;
    }
    /* The header stays zero (so never valid) until finish fills it in. */
    s = hc_out_zeros(&w->out, HYC_HEADER_SIZE, err);
    if (s) {
        hc_hyc_writer_abort(w);
        return s;
    }
    *out = w;
    return HC_OK;
}

/* Refuses what a reader would refuse, before anything is written. */
static hc_status check_new_entry(const hc_hyc_writer *w, const hc_hyc_entry *e, uint64_t size, size_t *name_len,
                                 hc_error *err) {
    const char *path = w->out.path;
    const hc_tensor_info *t = &e->info;
    size_t l = strnlen(t->name, HC_MAX_NAME);
    if (l == 0 || l >= HC_MAX_NAME)
        return hc_fail(err, HC_E_ARG, "'%s': tensor #%zu: name is empty or not NUL-terminated within %d bytes",
                       path, w->count, HC_MAX_NAME);
    if ((unsigned)t->dtype >= HC_DTYPE_COUNT)
        return hc_fail(err, HC_E_ARG, "'%s': tensor '%s': invalid dtype %d", path, t->name, (int)t->dtype);
    if (t->ndim > HC_MAX_DIMS)
        return hc_fail(err, HC_E_ARG, "'%s': tensor '%s': %u dimensions (at most %d)", path, t->name, t->ndim,
                       HC_MAX_DIMS);
    uint64_t nelem = 1, nbytes;
    for (uint32_t d = 0; d < t->ndim; d++)
        if (!hc_mul_ok(nelem, t->shape[d], &nelem))
            return hc_fail(err, HC_E_ARG, "'%s': tensor '%s': element count overflows", path, t->name);
    if (!hc_mul_ok(nelem, hc_dtype_size(t->dtype), &nbytes) || nelem != t->nelem || nbytes != t->nbytes)
        return hc_fail(err, HC_E_ARG, "'%s': tensor '%s': nelem %llu / nbytes %llu disagree with its shape and dtype",
                       path, t->name, (ull)t->nelem, (ull)t->nbytes);
    if ((unsigned)e->codec > 0xFFFF)
        return hc_fail(err, HC_E_ARG, "'%s': tensor '%s': codec id %u out of range", path, t->name,
                       (unsigned)e->codec);
    if (e->params_len > HC_MAX_PARAMS)
        return hc_fail(err, HC_E_ARG, "'%s': tensor '%s': %u bytes of codec parameters (at most %d)", path,
                       t->name, e->params_len, HC_MAX_PARAMS);
    if (e->codec == HC_CODEC_RAW && (e->params_len != 0 || size != nbytes))
        return hc_fail(err, HC_E_ARG, "'%s': tensor '%s': raw payload of %llu bytes (%u parameter bytes); expected %llu and none",
                       path, t->name, (ull)size, e->params_len, (ull)nbytes);
    if ((uint64_t)(size_t)size != size)
        return hc_fail(err, HC_E_LIMIT, "'%s': tensor '%s': payload too large", path, t->name);
    if (w->count >= HYC_MAX_TENSORS)
        return hc_fail(err, HC_E_LIMIT, "'%s': more than %d tensors (the limit of this hyperc)", path, HYC_MAX_TENSORS);
    if (name_set_find(&w->set, t->name, l, writer_name_of, w) >= 0)
        return hc_fail(err, HC_E_ARG, "'%s': duplicate tensor name '%s'", path, t->name);
    *name_len = l;
    return HC_OK;
}

hc_status hc_hyc_writer_add(hc_hyc_writer *w, const hc_hyc_entry *e, const void *payload, uint64_t size,
                            hc_error *err) {
    if (!w || !e || (!payload && size))
        return hc_fail(err, HC_E_ARG, "hc_hyc_writer_add: missing writer, entry or payload");
    if (w->broken)
        return hc_fail(err, HC_E_IO, "'%s': an earlier write failed; the file cannot be completed", w->out.path);
    size_t name_len = 0;
    hc_status s = check_new_entry(w, e, size, &name_len, err);
    if (s) return s;

    /* Room for the entry, its name reference and its hash slot first, so a
     * failure here leaves the file as it was. */
    const uint32_t ndim = e->info.ndim;
    const size_t esize = (size_t)align_up(HYC_ENTRY_FIXED + 8u * ndim + name_len + e->params_len, 8);
    if (w->dir_len + esize > w->dir_cap) {
        size_t cap = w->dir_cap ? w->dir_cap : 4096;
        while (cap < w->dir_len + esize) cap *= 2;
        uint8_t *d = realloc(w->dir, cap);
        if (!d) return hc_fail(err, HC_E_NOMEM, "'%s': out of memory for the directory", w->out.path);
        w->dir = d;
        w->dir_cap = cap;
    }
    if (w->count == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        name_ref *r = realloc(w->names, cap * sizeof *r);
        if (!r) return hc_fail(err, HC_E_NOMEM, "'%s': out of memory for the directory", w->out.path);
        w->names = r;
        w->cap = cap;
    }
    if (!name_set_reserve(&w->set, w->count + 1, w->count, writer_name_of, w))
        return hc_fail(err, HC_E_NOMEM, "'%s': out of memory for the name index", w->out.path);

    uint64_t offset = align_up(w->out.pos, HYC_ALIGN);
    s = hc_out_zeros(&w->out, (size_t)(offset - w->out.pos), err);
    if (s == HC_OK) s = hc_out_write(&w->out, payload, (size_t)size, err);
    if (s) {
        w->broken = 1;
        return hc_error_context(err, s, "'%s': writing tensor '%s'", w->out.path, e->info.name);
    }
    uint32_t crc = hc_crc32c(0, payload, (size_t)size);

    uint8_t *q = w->dir + w->dir_len;
    memset(q, 0, esize);
    hc_put_u32(q + E_SIZE, (uint32_t)esize);
    hc_put_u16(q + E_NAMELEN, (uint16_t)name_len);
    hc_put_u16(q + E_PARAMSLEN, (uint16_t)e->params_len);
    hc_put_u16(q + E_CODEC, (uint16_t)e->codec);
    q[E_DTYPE] = (uint8_t)e->info.dtype;
    q[E_NDIM] = (uint8_t)ndim;
    hc_put_u32(q + E_CRC, crc);
    hc_put_u64(q + E_OFFSET, offset);
    hc_put_u64(q + E_PSIZE, size);
    for (uint32_t d = 0; d < ndim; d++) hc_put_u64(q + E_SHAPE + 8u * d, e->info.shape[d]);
    uint8_t *name = q + E_SHAPE + 8u * ndim;
    memcpy(name, e->info.name, name_len);
    memcpy(name + name_len, e->params, e->params_len);
    w->names[w->count] = (name_ref){(uint64_t)(name - w->dir), (uint32_t)name_len};
    name_set_put(&w->set, (uint32_t)w->count, e->info.name, name_len);
    w->count++;
    w->dir_len += esize;
    return HC_OK;
}

static void writer_free(hc_hyc_writer *w) {
    free(w->dir);
    free(w->names);
    free(w->set.slot);
    hyc_ext_w_free(w->ext);
    free(w);
}

hc_status hc_hyc_writer_finish(hc_hyc_writer *w, const char *metadata_json, size_t metadata_len, hc_error *err) {
    if (!w) return hc_fail(err, HC_E_ARG, "hc_hyc_writer_finish: no writer");
    hc_status s = HC_OK;
    if (w->broken)
        s = hc_fail(err, HC_E_IO, "'%s': an earlier write failed; the file was not created", w->out.path);
    else if (!metadata_json && metadata_len)
        s = hc_fail(err, HC_E_ARG, "'%s': metadata length %zu without metadata", w->out.path, metadata_len);
    else if (metadata_len > HC_MAX_METADATA)
        s = hc_fail(err, HC_E_LIMIT, "'%s': metadata of %zu bytes exceeds the limit of %u", w->out.path, metadata_len,
                    HC_MAX_METADATA);
    if (s) {
        hc_hyc_writer_abort(w);
        return s;
    }
    uint8_t *ext = NULL;
    size_t ext_len = 0;
    s = hyc_ext_w_build(w->ext, w->count, w->out.path, &ext, &ext_len, err);
    if (s) {
        hc_hyc_writer_abort(w);
        return s;
    }
    static const uint8_t zeros[8];
    const char *writer = HYC_WRITER_STRING;
    const size_t wlen = strlen(writer);
    const uint64_t ext_off = align_up(w->out.pos, 8); /* the section ends where the directory starts */
    const uint64_t dir_off = ext_off + ext_len;
    const uint64_t pad = align_up(HYC_DIR_HEADER_SIZE + (uint64_t)metadata_len + wlen, 8) -
                         (HYC_DIR_HEADER_SIZE + (uint64_t)metadata_len + wlen);
    const uint64_t dir_size = HYC_DIR_HEADER_SIZE + (uint64_t)metadata_len + wlen + pad + w->dir_len;

    uint8_t dh[HYC_DIR_HEADER_SIZE] = {0};
    hc_put_u32(dh + D_HSIZE, HYC_DIR_HEADER_SIZE);
    hc_put_u32(dh + D_FLAGS, metadata_json ? HYC_DIR_HAS_METADATA : 0);
    hc_put_u64(dh + D_COUNT, w->count);
    hc_put_u64(dh + D_MDLEN, metadata_len);
    hc_put_u32(dh + D_WLEN, (uint32_t)wlen);
    uint32_t crc = hc_crc32c(0, dh, sizeof dh);
    crc = hc_crc32c(crc, metadata_json, metadata_len);
    crc = hc_crc32c(crc, writer, wlen);
    crc = hc_crc32c(crc, zeros, (size_t)pad);
    crc = hc_crc32c(crc, w->dir, w->dir_len);

    uint8_t tr[HYC_TRAILER_SIZE];
    memcpy(tr, hyc_end_magic, 8);
    hc_put_u64(tr + T_DIROFF, dir_off);
    hc_put_u64(tr + T_DIRSIZE, dir_size);
    hc_put_u32(tr + T_DIRCRC, crc);
    hc_put_u32(tr + T_CRC, hc_crc32c(0, tr, T_CRC));

    uint8_t hd[HYC_HEADER_SIZE] = {0};
    memcpy(hd, hyc_magic, 8);
    hc_put_u16(hd + H_VMAJ, ext_len ? HYC_VERSION_MAJOR : HYC_VERSION_MAJOR_PLAIN);
    hc_put_u16(hd + H_VMIN, HYC_VERSION_MINOR);
    hc_put_u32(hd + H_HSIZE, HYC_HEADER_SIZE);
    hc_put_u64(hd + H_FSIZE, dir_off + dir_size + HYC_TRAILER_SIZE);
    hc_put_u64(hd + H_DIROFF, dir_off);
    hc_put_u64(hd + H_DIRSIZE, dir_size);
    hc_put_u32(hd + H_DIRCRC, crc);
    hc_put_u32(hd + H_ALIGN, HYC_ALIGN);
    hc_put_u32(hd + H_RESERVED, (uint32_t)ext_len);
    hc_put_u32(hd + HYC_HEADER_SIZE - 4, hc_crc32c(0, hd, HYC_HEADER_SIZE - 4));

    s = hc_out_zeros(&w->out, (size_t)(ext_off - w->out.pos), err);
    if (!s) s = hc_out_write(&w->out, ext, ext_len, err);
    free(ext);
    if (!s) s = hc_out_zeros(&w->out, (size_t)(dir_off - w->out.pos), err);
    if (!s) s = hc_out_write(&w->out, dh, sizeof dh, err);
    if (!s) s = hc_out_write(&w->out, metadata_json, metadata_len, err);
    if (!s) s = hc_out_write(&w->out, writer, wlen, err);
    if (!s) s = hc_out_zeros(&w->out, (size_t)pad, err);
    if (!s) s = hc_out_write(&w->out, w->dir, w->dir_len, err);
    if (!s) s = hc_out_write(&w->out, tr, sizeof tr, err);
    if (!s) s = hc_out_pwrite(&w->out, hd, sizeof hd, 0, err);
    if (s) {
        hc_hyc_writer_abort(w);
        return s;
    }
    s = hc_out_commit(&w->out, err);
    writer_free(w);
    return s;
}

void hc_hyc_writer_abort(hc_hyc_writer *w) {
    if (!w) return;
    hc_out_abort(&w->out);
    writer_free(w);
}
