/* hfdir.c — Hugging Face model folders: a model.safetensors, or shards listed
 * by model.safetensors.index.json (validated against the shards), with the
 * folder's small files (config.json, tokenizer files, ...) stored verbatim as
 * attachments. The way back, a folder rebuilt from a .hyc with the same
 * shards, the same index and every attachment byte for byte, is in
 * hfdir_decompress.c.
 *
 * Shards are opened one at a time (mmap) and closed before the next, so
 * memory stays bounded by what one shard's tensors in flight need. */
#include "../common/util.h"
#include "hyc_ext.h"
#include "hfdir_int.h"
#include "json.h"
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>

#define HF_INDEX_MAX ((uint64_t)64 << 20) /* bytes of an index file we read */
#define HF_MAX_TENSORS (1u << 20)

/* ---- small helpers --------------------------------------------------------- */

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static char *dir_of(const char *p) {
    const char *s = strrchr(p, '/');
    if (!s) return strdup(".");
    if (s == p) return strdup("/");
    char *d = malloc((size_t)(s - p) + 1);
    if (d) {
        memcpy(d, p, (size_t)(s - p));
        d[s - p] = 0;
    }
    return d;
}

static void note(const hc_compress_extra *x, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void note(const hc_compress_extra *x, const char *fmt, ...) {
    if (!x || !x->note) return;
    char line[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    x->note(x->note_user, line);
}

int hc_hfdir_is_input(const char *in_path) {
    if (!in_path) return 0;
    if (is_dir(in_path)) return 1;
    return ends_with(in_path, ".index.json");
}

int hc_hfdir_is_output(const char *in_path, const char *out_path) {
    size_t n = strlen(out_path);
    if ((n > 0 && out_path[n - 1] == '/') || is_dir(out_path)) return 1;
    /* a new name without an extension, for a .hyc made from shards */
    struct stat st;
    if (strchr(base_name(out_path), '.') || lstat(out_path, &st) == 0 || errno != ENOENT) return 0;
    hc_hyc *h = NULL;
    hc_error e;
    hc_error_clear(&e);
    if (hc_hyc_open(in_path, &h, &e) != HC_OK) return 0;
    int folder = hc_hyc_shard_count(h) > 0;
    hc_hyc_close(h);
    return folder;
}

/* ---- the index ------------------------------------------------------------- */

typedef struct idx_ent {
    char *name;
    size_t shard; /* into shards[] */
    long seen_in; /* shard that held it, -1 */
} idx_ent;

typedef struct hf_model {
    char *dir;
    char *index_name; /* base name of the index file, or NULL (one file)   */
    char **shards;    /* sorted base names                                */
    size_t n_shards;
    idx_ent *idx;     /* sorted by name                                   */
    size_t n_idx;
    size_t n_tensors; /* found in the shards                              */
} hf_model;

static void hf_free(hf_model *m) {
    for (size_t i = 0; i < m->n_shards; i++) free(m->shards[i]);
    for (size_t i = 0; i < m->n_idx; i++) free(m->idx[i].name);
    free(m->shards);
    free(m->idx);
    free(m->dir);
    free(m->index_name);
    memset(m, 0, sizeof *m);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }
static int cmp_idx(const void *a, const void *b) {
    return strcmp(((const idx_ent *)a)->name, ((const idx_ent *)b)->name);
}

static long idx_find(const hf_model *m, const char *name) {
    size_t lo = 0, hi = m->n_idx;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->idx[mid].name, name);
        if (c == 0) return (long)mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

/* A JSON string value as a C string (malloc'd), or NULL with why. */
static char *json_cstr(hc_json *j, const char **why) {
    hc_json_str s;
    if (hc_json_peek(j) != HC_JSON_STRING || !hc_json_string(j, &s)) {
        *why = "is not a string";
        return NULL;
    }
    if (s.has_nul) {
        *why = "contains a NUL character";
        return NULL;
    }
    if (s.len == 0 || s.len >= HC_MAX_NAME) {
        *why = "is empty or too long";
        return NULL;
    }
    char *c = malloc(s.len + 1);
    if (!c) {
        *why = "out of memory";
        return NULL;
    }
    hc_json_str_decode(&s, c);
    c[s.len] = 0;
    return c;
}

/* Parses an index (model.safetensors.index.json) of len bytes; path names it
 * in messages. Fills m->idx, m->shards (sorted, distinct), each entry's shard. */
static hc_status parse_index_mem(hf_model *m, const char *buf, size_t len, const char *path, hc_error *err) {
    if (len > HF_INDEX_MAX)
        return hc_fail(err, HC_E_LIMIT, "'%s': index of %llu bytes is larger than %llu", path, (ull)len,
                       (ull)HF_INDEX_MAX);
    hc_status s;
    hc_json j;
    hc_json_init(&j, buf, len);
    int r, have_map = 0;
    hc_json_str key;
    size_t cap = 0;
    char **shard_of = NULL; /* [n_idx] shard names as read */
    s = HC_OK;
    if (!hc_json_object_begin(&j)) goto bad_json;
    while ((r = hc_json_object_next(&j, &key)) > 0) {
        if (!hc_json_str_eq(&key, "weight_map", 10)) {
            if (!hc_json_skip(&j)) goto bad_json;
            continue;
        }
        if (have_map) {
            s = hc_fail(err, HC_E_FORMAT, "'%s': \"weight_map\" appears twice", path);
            goto out;
        }
        have_map = 1;
        if (!hc_json_object_begin(&j)) goto bad_json;
        hc_json_str tk;
        while ((r = hc_json_object_next(&j, &tk)) > 0) {
            if (m->n_idx == HF_MAX_TENSORS) {
                s = hc_fail(err, HC_E_LIMIT, "'%s': more than %u tensors in the weight map", path, HF_MAX_TENSORS);
                goto out;
            }
            if (m->n_idx == cap) {
                cap = cap ? cap * 2 : 256;
                idx_ent *ni = realloc(m->idx, cap * sizeof *ni);
                char **ns = ni ? realloc(shard_of, cap * sizeof *ns) : NULL;
                if (ni) m->idx = ni;
                if (!ni || !ns) {
                    s = hc_fail(err, HC_E_NOMEM, "'%s': out of memory", path);
                    goto out;
                }
                shard_of = ns;
            }
            if (tk.has_nul || tk.len == 0 || tk.len >= HC_MAX_NAME) {
                s = hc_fail(err, HC_E_FORMAT, "'%s': a tensor name in \"weight_map\" is empty, too long or has a NUL", path);
                goto out;
            }
            char *tn = malloc(tk.len + 1);
            if (!tn) {
                s = hc_fail(err, HC_E_NOMEM, "'%s': out of memory", path);
                goto out;
            }
            hc_json_str_decode(&tk, tn);
            tn[tk.len] = 0;
            const char *why = NULL;
            char *sn = json_cstr(&j, &why);
            if (!sn) {
                if (j.status != HC_OK) {
                    free(tn);
                    goto bad_json;
                }
                s = hc_fail(err, HC_E_FORMAT, "'%s': the shard of tensor '%s' %s", path, tn, why);
                free(tn);
                goto out;
            }
            if (strchr(sn, '/') || strcmp(sn, "..") == 0 || strcmp(sn, ".") == 0) {
                s = hc_fail(err, HC_E_FORMAT, "'%s': tensor '%s': shard '%s' is not a file name in the folder", path, tn, sn);
                free(tn);
                free(sn);
                goto out;
            }
            m->idx[m->n_idx] = (idx_ent){tn, 0, -1};
            shard_of[m->n_idx] = sn;
            m->n_idx++;
        }
        if (r < 0) goto bad_json;
    }
    if (r < 0 || !hc_json_finish(&j)) goto bad_json;
    if (!have_map) {
        s = hc_fail(err, HC_E_FORMAT, "'%s': no \"weight_map\": not a safetensors index", path);
        goto out;
    }
    if (m->n_idx == 0) {
        s = hc_fail(err, HC_E_FORMAT, "'%s': \"weight_map\" lists no tensor", path);
        goto out;
    }
    /* distinct shard names, sorted; each entry's shard number */
    m->shards = malloc(m->n_idx * sizeof *m->shards);
    if (!m->shards) {
        s = hc_fail(err, HC_E_NOMEM, "'%s': out of memory", path);
        goto out;
    }
    {
        char **tmp = malloc(m->n_idx * sizeof *tmp);
        if (!tmp) {
            s = hc_fail(err, HC_E_NOMEM, "'%s': out of memory", path);
            goto out;
        }
        memcpy(tmp, shard_of, m->n_idx * sizeof *tmp);
        qsort(tmp, m->n_idx, sizeof *tmp, cmp_str);
        for (size_t i = 0; i < m->n_idx; i++)
            if (i == 0 || strcmp(tmp[i], tmp[i - 1]) != 0) {
                if (m->n_shards == HC_SHARD_COUNT_MAX) {
                    free(tmp);
                    s = hc_fail(err, HC_E_LIMIT, "'%s': more than %d shards", path, HC_SHARD_COUNT_MAX);
                    goto out;
                }
                m->shards[m->n_shards] = strdup(tmp[i]);
                if (!m->shards[m->n_shards]) {
                    free(tmp);
                    s = hc_fail(err, HC_E_NOMEM, "'%s': out of memory", path);
                    goto out;
                }
                m->n_shards++;
            }
        free(tmp);
        for (size_t i = 0; i < m->n_idx; i++) {
            char **f = bsearch(&shard_of[i], m->shards, m->n_shards, sizeof *m->shards, cmp_str);
            m->idx[i].shard = (size_t)(f - m->shards);
        }
    }
    qsort(m->idx, m->n_idx, sizeof *m->idx, cmp_idx);
    for (size_t i = 1; i < m->n_idx; i++)
        if (strcmp(m->idx[i].name, m->idx[i - 1].name) == 0) {
            s = hc_fail(err, HC_E_FORMAT, "'%s': tensor '%s' is listed twice in \"weight_map\"", path, m->idx[i].name);
            goto out;
        }
    goto out;
bad_json:
    s = hc_fail(err, HC_E_FORMAT, "'%s': bad JSON (%s at byte %zu)", path, j.why ? j.why : "?", j.err_pos);
out:
    if (shard_of)
        for (size_t i = 0; i < m->n_idx; i++) free(shard_of[i]);
    free(shard_of);
    return s;
}

static hc_status parse_index(hf_model *m, const char *path, hc_error *err) {
    hc_map map;
    hc_status s = hc_map_file(path, &map, err);
    if (s) return s;
    s = parse_index_mem(m, (const char *)map.ptr, (size_t)map.len, path, err);
    hc_unmap(&map);
    return s;
}

hc_status hc_hfdir_index_parse(const void *buf, size_t len, const char *label, size_t *n_tensors, size_t *n_shards,
                               hc_error *err) {
    hf_model m;
    memset(&m, 0, sizeof m);
    hc_status s = parse_index_mem(&m, buf, len, label ? label : "<index>", err);
    if (s == HC_OK) {
        if (n_tensors) *n_tensors = m.n_idx;
        if (n_shards) *n_shards = m.n_shards;
    }
    hf_free(&m);
    return s;
}

/* Opens every shard once (headers only) and checks it against the index:
 * every tensor of the index in the shard it names, exactly once, and no
 * tensor outside the index. */
static hc_status validate_shards(hf_model *m, hc_error *err) {
    char *ipath = join(m->dir, m->index_name);
    if (!ipath) return hc_fail(err, HC_E_NOMEM, "out of memory");
    hc_status s = HC_OK;
    for (size_t k = 0; k < m->n_shards && s == HC_OK; k++) {
        char *sp = join(m->dir, m->shards[k]);
        if (!sp) {
            s = hc_fail(err, HC_E_NOMEM, "out of memory");
            break;
        }
        struct stat stt;
        int st_rc = stat(sp, &stt), st_errno = errno;
        if (st_rc != 0 || !S_ISREG(stt.st_mode)) {
            const char *example = "?";
            size_t n = 0;
            for (size_t i = 0; i < m->n_idx; i++)
                if (m->idx[i].shard == k) {
                    if (!n) example = m->idx[i].name;
                    n++;
                }
            s = hc_fail(err, HC_E_FORMAT, "'%s': shard '%s' (holding %zu tensors, e.g. '%s') is %s", ipath,
                        m->shards[k], n, example,
                        st_rc != 0 ? (st_errno == ENOENT ? "missing" : strerror(st_errno)) : "not a regular file");
            free(sp);
            break;
        }
        hc_safetensors *st = NULL;
        s = hc_st_open(sp, &st, err);
        if (s) {
            hc_error_context(err, s, "shard of '%s'", ipath);
            free(sp);
            break;
        }
        for (size_t i = 0; i < hc_st_count(st) && s == HC_OK; i++) {
            const char *tn = hc_st_info(st, i)->name;
            long e = idx_find(m, tn);
            if (e < 0)
                s = hc_fail(err, HC_E_FORMAT, "'%s': tensor '%s' is in shard '%s' but not in the index", ipath, tn,
                            m->shards[k]);
            else if (m->idx[e].seen_in >= 0)
                s = hc_fail(err, HC_E_FORMAT, "'%s': tensor '%s' is in shard '%s' and again in shard '%s'", ipath, tn,
                            m->shards[m->idx[e].seen_in], m->shards[k]);
            else if (m->idx[e].shard != k)
                s = hc_fail(err, HC_E_FORMAT, "'%s': tensor '%s' is in shard '%s' but the index puts it in '%s'", ipath,
                            tn, m->shards[k], m->shards[m->idx[e].shard]);
            else
                m->idx[e].seen_in = (long)k;
        }
        m->n_tensors += hc_st_count(st);
        hc_st_close(st);
        free(sp);
    }
    for (size_t i = 0; i < m->n_idx && s == HC_OK; i++)
        if (m->idx[i].seen_in < 0)
            s = hc_fail(err, HC_E_FORMAT, "'%s': tensor '%s': the index puts it in shard '%s', which does not hold it",
                        ipath, m->idx[i].name, m->shards[m->idx[i].shard]);
    free(ipath);
    return s;
}

/* Finds the model in a folder or from an index path. */
static hc_status locate(const char *in_path, hf_model *m, hc_error *err) {
    memset(m, 0, sizeof *m);
    if (is_dir(in_path)) {
        m->dir = strdup(in_path);
        if (!m->dir) return hc_fail(err, HC_E_NOMEM, "out of memory");
        char *p = join(in_path, "model.safetensors.index.json");
        char *q = join(in_path, "model.safetensors");
        if (!p || !q) {
            free(p);
            free(q);
            return hc_fail(err, HC_E_NOMEM, "out of memory");
        }
        struct stat st;
        int has_index = stat(p, &st) == 0, has_single = stat(q, &st) == 0;
        free(p);
        free(q);
        if (has_index) {
            m->index_name = strdup("model.safetensors.index.json");
        } else if (has_single) {
            m->shards = malloc(sizeof *m->shards);
            if (m->shards && (m->shards[0] = strdup("model.safetensors"))) m->n_shards = 1;
            else return hc_fail(err, HC_E_NOMEM, "out of memory");
            return HC_OK;
        } else {
            /* another *.safetensors.index.json, or a single *.safetensors */
            DIR *d = opendir(in_path);
            if (!d) return hc_fail(err, HC_E_IO, "'%s': cannot list the folder: %s", in_path, strerror(errno));
            char *idx = NULL, *one = NULL;
            int n_idx = 0, n_one = 0;
            struct dirent *de;
            while ((de = readdir(d))) {
                if (ends_with(de->d_name, ".safetensors.index.json")) {
                    n_idx++;
                    free(idx);
                    idx = strdup(de->d_name);
                } else if (ends_with(de->d_name, ".safetensors")) {
                    n_one++;
                    free(one);
                    one = strdup(de->d_name);
                }
            }
            closedir(d);
            if (n_idx == 1) {
                free(one);
                m->index_name = idx;
            } else if (n_idx == 0 && n_one == 1) {
                m->shards = malloc(sizeof *m->shards);
                if (!m->shards) {
                    free(one);
                    return hc_fail(err, HC_E_NOMEM, "out of memory");
                }
                m->shards[0] = one;
                m->n_shards = 1;
                return HC_OK;
            } else {
                free(idx);
                free(one);
                return hc_fail(err, HC_E_FORMAT,
                               "'%s': no model.safetensors or model.safetensors.index.json in this folder "
                               "(%d index files, %d safetensors files)",
                               in_path, n_idx, n_one);
            }
        }
    } else {
        m->dir = dir_of(in_path);
        m->index_name = strdup(base_name(in_path));
    }
    if (!m->dir || !m->index_name) return hc_fail(err, HC_E_NOMEM, "out of memory");
    char *ip = join(m->dir, m->index_name);
    if (!ip) return hc_fail(err, HC_E_NOMEM, "out of memory");
    hc_status s = parse_index(m, ip, err);
    free(ip);
    if (s) return s;
    return validate_shards(m, err);
}

/* ---- attachments --------------------------------------------------------------- */

static int is_weight_file(const char *n) {
    static const char *const ext[] = {".safetensors", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx",
                                      ".gguf", ".hyc", ".ot", ".npz", ".tflite", ".pb", ".mlmodel"};
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        if (ends_with(n, ext[i])) return 1;
    return ends_with(n, ".bin") && strstr(n, "model") != NULL; /* pytorch_model*.bin, not tokenizer.bin */
}

static hc_status attach_file(hc_hyc_writer *w, const char *path, const char *name, uint32_t flags,
                             hc_error *err) {
    hc_map map;
    hc_status s = hc_map_file(path, &map, err);
    if (s) return s;
    s = hc_hyc_writer_attach(w, name, map.ptr, map.len, flags, err);
    hc_unmap(&map);
    return s;
}

hc_status hc_hfdir_attach_extras(hc_hyc_writer *w, const hc_compress_extra *x, hc_error *err) {
    if (!x) return HC_OK;
    hc_status s = HC_OK;
    if (x->tokenizer_path) {
        s = attach_file(w, x->tokenizer_path, base_name(x->tokenizer_path), HC_ATTACH_TOKENIZER, err);
        if (s) return hc_error_context(err, s, "storing tokenizer '%s'", x->tokenizer_path);
        note(x, "attached %s (tokenizer)", base_name(x->tokenizer_path));
    }
    for (size_t i = 0; i < x->n_attach; i++) {
        s = attach_file(w, x->attach_paths[i], base_name(x->attach_paths[i]), 0, err);
        if (s) return hc_error_context(err, s, "storing '%s'", x->attach_paths[i]);
        note(x, "attached %s", base_name(x->attach_paths[i]));
    }
    return HC_OK;
}

static int is_extra_name(const hc_compress_extra *x, const char *name) {
    if (!x) return 0;
    if (x->tokenizer_path && strcmp(base_name(x->tokenizer_path), name) == 0) return 1;
    for (size_t i = 0; i < x->n_attach; i++)
        if (strcmp(base_name(x->attach_paths[i]), name) == 0) return 1;
    return 0;
}

/* The folder's small non-weight files, in name order. */
static hc_status attach_folder(hc_hyc_writer *w, const hf_model *m, const hc_compress_extra *x, hc_error *err) {
    DIR *d = opendir(m->dir);
    if (!d) return hc_fail(err, HC_E_IO, "'%s': cannot list the folder: %s", m->dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    hc_status s = HC_OK;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = cap > (1u << 20) ? NULL : realloc(names, cap * sizeof *nn);
            if (!nn) {
                s = hc_fail(err, HC_E_NOMEM, "'%s': too many files", m->dir);
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(de->d_name))) {
            s = hc_fail(err, HC_E_NOMEM, "out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    if (s == HC_OK) qsort(names, n, sizeof *names, cmp_str);
    size_t stored = 0;
    for (size_t i = 0; i < n && s == HC_OK; i++) {
        const char *nm = names[i];
        int shard = 0;
        for (size_t k = 0; k < m->n_shards; k++) shard |= strcmp(m->shards[k], nm) == 0;
        if (shard) continue;
        char *p = join(m->dir, nm);
        if (!p) {
            s = hc_fail(err, HC_E_NOMEM, "out of memory");
            break;
        }
        struct stat st;
        if (stat(p, &st) != 0) note(x, "skipped %s: %s", nm, strerror(errno));
        else if (S_ISDIR(st.st_mode)) note(x, "skipped %s/: a folder (only the folder's own files are stored)", nm);
        else if (!S_ISREG(st.st_mode)) note(x, "skipped %s: not a regular file", nm);
        else if (is_weight_file(nm)) note(x, "skipped %s: weights not part of this model's %s", nm,
                                          m->index_name ? "index" : "model.safetensors");
        else if (strstr(nm, ".tmp.")) note(x, "skipped %s: a temporary file", nm);
        else if (is_extra_name(x, nm)) note(x, "skipped %s: given on the command line instead", nm);
        else if ((uint64_t)st.st_size > HC_ATTACH_SIZE_MAX)
            note(x, "skipped %s: %llu bytes, over the attachment limit of %llu", nm, (ull)st.st_size,
                 (ull)HC_ATTACH_SIZE_MAX);
        else if (stored >= HC_ATTACH_COUNT_MAX - 8)
            note(x, "skipped %s: more than %d files", nm, HC_ATTACH_COUNT_MAX - 8);
        else {
            s = attach_file(w, p, nm, 0, err);
            if (s == HC_OK) {
                note(x, "attached %s (%llu bytes)", nm, (ull)st.st_size);
                stored++;
            }
        }
        free(p);
    }
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    return s;
}

/* ---- compress ---------------------------------------------------------------------- */

hc_status hc_hfdir_compress(const char *in_path, const char *out_path, const hc_opts *o,
                            const hc_compress_extra *x, int threads, int overwrite, hc_progress_fn progress,
                            void *user, hc_model_report *rep, hc_error *err) {
    double t0 = hc_now();
    hf_model m;
    hc_status s = locate(in_path, &m, err);
    if (s) {
        hf_free(&m);
        return s;
    }
    if (!m.index_name) { /* one model.safetensors: count its tensors */
        char *p = join(m.dir, m.shards[0]);
        hc_safetensors *st = NULL;
        s = p ? hc_st_open(p, &st, err) : hc_fail(err, HC_E_NOMEM, "out of memory");
        if (s == HC_OK) m.n_tensors = hc_st_count(st);
        hc_st_close(st);
        free(p);
        if (s) {
            hf_free(&m);
            return s;
        }
    }
    hc_hyc_writer *w = NULL;
    s = hc_hyc_writer_open(out_path, overwrite, &w, err);
    if (s) {
        hf_free(&m);
        return s;
    }
    /* the small files first: one that cannot be read fails before the work */
    s = attach_folder(w, &m, x, err);
    if (s == HC_OK) s = hc_hfdir_attach_extras(w, x, err);
    double sum_sq = 0, sum_err = 0;
    size_t base = 0;
    char *meta0 = NULL;
    size_t meta0_len = 0;
    int meta0_has = 0;
    uint64_t bytes_in = 0;
    for (size_t k = 0; k < m.n_shards && s == HC_OK; k++) {
        char *p = join(m.dir, m.shards[k]);
        hc_safetensors *st = NULL;
        s = p ? hc_st_open(p, &st, err) : hc_fail(err, HC_E_NOMEM, "out of memory");
        if (s == HC_OK) {
            size_t mlen = 0;
            const char *meta = hc_st_metadata(st, &mlen);
            if (k == 0 && meta) {
                meta0 = malloc(mlen + 1);
                if (!meta0) s = hc_fail(err, HC_E_NOMEM, "out of memory");
                else memcpy(meta0, meta, mlen);
                meta0_len = mlen;
                meta0_has = 1;
            }
            if (s == HC_OK) s = hc_hyc_writer_begin_shard(w, m.shards[k], meta, mlen, err);
            if (s == HC_OK)
                s = hc_compress_st_into(st, p, w, o, threads, progress, user, rep, base, m.n_tensors, &sum_sq,
                                        &sum_err, 1, err);
            base += hc_st_count(st);
            struct stat sst;
            if (stat(p, &sst) == 0) bytes_in += (uint64_t)sst.st_size;
        }
        hc_st_close(st);
        free(p);
    }
    if (s == HC_OK && base != m.n_tensors)
        s = hc_fail(err, HC_E_IO, "'%s': the shards changed while being read (%zu tensors, then %zu)", in_path,
                    m.n_tensors, base);
    if (s) {
        hc_hyc_writer_abort(w);
    } else {
        s = hc_hyc_writer_finish(w, meta0_has ? (meta0 ? meta0 : "") : NULL, meta0_len, err);
    }
    free(meta0);
    if (s == HC_OK) {
        struct stat sst;
        rep->bytes_in = bytes_in;
        if (stat(out_path, &sst) == 0) rep->bytes_out = (uint64_t)sst.st_size;
        rep->nmse_coded = sum_sq > 0 ? sum_err / sum_sq : 0;
        note(x, "%zu tensors from %zu shard%s of '%s'", m.n_tensors, m.n_shards, m.n_shards == 1 ? "" : "s", m.dir);
    }
    hf_free(&m);
    rep->seconds = hc_now() - t0;
    return s;
}
