/* test_hfdir.c — Hugging Face model folders and the .hyc attachments section:
 * a sharded folder made from stories260K (three shards, F32 and BF16, with
 * config and tokenizer files) -> .hyc -> folder; index validation errors;
 * damaged attachments; hyperparameters and tokenizer from the .hyc alone
 * (issue 12 §1/§5, issue 11 defect 8). */
#include "test.h"
#include "hyperc_llm.h"
#include "../src/common/util.h"
#include <dirent.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int put_file(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(p, 1, n, f) == n;
    return (fclose(f) == 0) && ok;
}

static const char *sub(const char *name) {
    static char buf[8][600];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 600, "%s/hf_%s", hc_test_tmpdir(), name);
    mkdir(b, 0777);
    return b;
}

static const char *pj(const char *dir, const char *name) {
    static char buf[8][800];
    static int k;
    char *b = buf[k++ % 8];
    snprintf(b, 800, "%s/%s", dir, name);
    return b;
}

static const char *const SHARD[3] = {"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                                     "model-00003-of-00003.safetensors"};
static const char CONFIG[] =
    "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"hidden_size\": 64,\n  \"intermediate_size\": 172,\n"
    "  \"num_hidden_layers\": 5,\n  \"num_attention_heads\": 8,\n  \"num_key_value_heads\": 4,\n"
    "  \"vocab_size\": 512,\n  \"max_position_embeddings\": 512,\n  \"rms_norm_eps\": 1e-05,\n"
    "  \"tie_word_embeddings\": true,\n  \"model_type\": \"llama\"\n}\n";
static const char *const SMALL[][2] = {
    {"config.json", CONFIG},
    {"generation_config.json", "{\"bos_token_id\": 1, \"eos_token_id\": 2}\n"},
    {"tokenizer_config.json", "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"add_bos_token\": true}\n"},
    {"special_tokens_map.json", "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"unk_token\": \"<unk>\"}\n"},
    {"README.md", "# stories260K, sharded for a test\n"},
};
#define N_SMALL (sizeof SMALL / sizeof SMALL[0])

/* Tensor i of stories260K goes to shard i % 3; shard 1 holds BF16. The
 * index lists `omit` tensors fewer (from the end) and `dup` names twice. */
typedef struct folder_opts { int omit; int dup; int wrong_shard; int extra_in_two; } folder_opts;

static int make_folder(const char *dir, const hc_safetensors *st, folder_opts fo, hc_error *err) {
    size_t n = hc_st_count(st);
    hc_tensor_info *infos = calloc(n, sizeof *infos);
    size_t *which = calloc(n, sizeof *which);
    for (size_t i = 0; i < n; i++) which[i] = i % 3;
    int ok = 1;
    for (int k = 0; k < 3 && ok; k++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (which[i] == (size_t)k || (fo.extra_in_two && k == 2 && i == 0)) {
                infos[m] = *hc_st_info(st, i);
                if (k == 1) {
                    infos[m].dtype = HC_BF16;
                    infos[m].nbytes = infos[m].nelem * 2;
                }
                m++;
            }
        hc_st_writer *w;
        static const char meta[] = "{\"format\":\"pt\"}";
        if (hc_st_writer_open(pj(dir, SHARD[k]), infos, m, meta, strlen(meta), 1, &w, err)) {
            ok = 0;
            break;
        }
        size_t j = 0;
        for (size_t i = 0; i < n && ok; i++)
            if (which[i] == (size_t)k || (fo.extra_in_two && k == 2 && i == 0)) {
                const hc_tensor_info *ti = hc_st_info(st, i);
                if (k == 1) {
                    uint16_t *b = malloc(ti->nelem * 2);
                    hc_from_f32(HC_BF16, hc_st_data(st, i), b, ti->nelem);
                    ok = hc_st_writer_put(w, j++, b, err) == HC_OK;
                    free(b);
                } else {
                    ok = hc_st_writer_put(w, j++, hc_st_data(st, i), err) == HC_OK;
                }
            }
        if (ok) ok = hc_st_writer_finish(w, err) == HC_OK;
        else hc_st_writer_abort(w);
    }
    /* the index, as transformers writes it */
    size_t cap = 1 << 16, pos = 0;
    char *idx = malloc(cap);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) total += hc_st_info(st, i)->nbytes;
    pos += (size_t)snprintf(idx + pos, cap - pos, "{\n  \"metadata\": {\n    \"total_size\": %llu\n  },\n  \"weight_map\": {\n",
                            (unsigned long long)total);
    size_t listed = n - (size_t)fo.omit;
    for (size_t i = 0; i < listed; i++) {
        size_t k = which[i];
        if (fo.wrong_shard && i == 4) k = (k + 1) % 3;
        pos += (size_t)snprintf(idx + pos, cap - pos, "    \"%s\": \"%s\"%s\n", hc_st_info(st, i)->name, SHARD[k],
                                i + 1 < listed || fo.dup ? "," : "");
    }
    if (fo.dup) pos += (size_t)snprintf(idx + pos, cap - pos, "    \"%s\": \"%s\"\n", hc_st_info(st, 7)->name, SHARD[1]);
    pos += (size_t)snprintf(idx + pos, cap - pos, "  }\n}\n");
    ok = ok && put_file(pj(dir, "model.safetensors.index.json"), idx, pos);
    free(idx);
    for (size_t i = 0; i < N_SMALL && ok; i++) ok = put_file(pj(dir, SMALL[i][0]), SMALL[i][1], strlen(SMALL[i][1]));
    /* the llama2.c tokenizer as tokenizer.bin; things that must be skipped */
    const char *tok = hc_test_shared("models/tok512.bin");
    size_t tl = 0;
    uint8_t *tb = tok ? hc_test_slurp(tok, &tl) : NULL;
    ok = ok && tb && put_file(pj(dir, "tokenizer.bin"), tb, tl);
    free(tb);
    ok = ok && put_file(pj(dir, "pytorch_model.bin"), "not really", 10);
    mkdir(pj(dir, "original"), 0777);
    free(infos);
    free(which);
    return ok;
}

typedef struct notes { char text[8192]; size_t len; } notes;
static void on_note(void *user, const char *line) {
    notes *n = user;
    n->len += (size_t)snprintf(n->text + n->len, sizeof n->text - n->len, "%s\n", line);
    if (n->len >= sizeof n->text) n->len = sizeof n->text - 1;
}

static int same_file(const char *a, const char *b) {
    size_t la, lb;
    uint8_t *x = hc_test_slurp(a, &la), *y = hc_test_slurp(b, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

TEST(hfdir_sharded_folder_round_trip) {
    const char *sp = hc_test_shared("models/stories260K.safetensors");
    if (!sp) return;
    hc_error err;
    hc_error_clear(&err);
    hc_safetensors *st;
    CHECK_OK(hc_st_open(sp, &st, &err), &err);
    const char *in = sub("in");
    CHECK(make_folder(in, st, (folder_opts){0, 0, 0, 0}, &err));
    hc_st_close(st);

    char hyc[800];
    snprintf(hyc, sizeof hyc, "%s", pj(sub("hyc"), "m.hyc"));
    hc_opts o;
    hc_opts_default(&o);
    notes nt = {{0}, 0};
    hc_compress_extra x = {NULL, NULL, 0, on_note, &nt};
    hc_model_report rep;
    CHECK_OK(hc_compress_path(in, hyc, &o, &x, 2, 1, NULL, NULL, &rep, &err), &err);
    CHECKF(strstr(nt.text, "skipped pytorch_model.bin") && strstr(nt.text, "skipped original/") &&
               strstr(nt.text, "attached config.json") && strstr(nt.text, "attached tokenizer.bin"),
           "%.1000s", nt.text);
    CHECK(rep.weights_coded > 0 && rep.weights_coded < rep.weights_total);

    hc_hyc *h;
    CHECK_OK(hc_hyc_open(hyc, &h, &err), &err);
    size_t len;
    uint8_t *img = hc_test_slurp(hyc, &len);
    CHECK(img && hc_get_u16(img + 8) == 2); /* attachments: format 2.0 */
    free(img);
    CHECK(hc_hyc_shard_count(h) == 3);
    CHECK(hc_hyc_attachment_count(h) == N_SMALL + 2); /* + index + tokenizer.bin */
    CHECK_OK(hc_hyc_verify(h, &err), &err);
    for (size_t k = 0; k < 3; k++) CHECK(strcmp(hc_hyc_shard_get(h, k)->name, SHARD[k]) == 0);

    /* back to a folder: same shards, same split, every stored file identical */
    const char *out = sub("out");
    CHECK_OK(hc_decompress_file(hyc, out, 2, 0, &err), &err);
    for (size_t i = 0; i < N_SMALL; i++)
        CHECKF(same_file(pj(in, SMALL[i][0]), pj(out, SMALL[i][0])), "%s differs", SMALL[i][0]);
    CHECK(same_file(pj(in, "model.safetensors.index.json"), pj(out, "model.safetensors.index.json")));
    CHECK(same_file(pj(in, "tokenizer.bin"), pj(out, "tokenizer.bin")));
    CHECK(access(pj(out, "pytorch_model.bin"), F_OK) != 0);
    size_t lossless = 0, lossy = 0;
    for (int k = 0; k < 3; k++) {
        hc_safetensors *a, *b;
        CHECK_OK(hc_st_open(pj(in, SHARD[k]), &a, &err), &err);
        CHECK_OK(hc_st_open(pj(out, SHARD[k]), &b, &err), &err);
        CHECK(hc_st_count(a) == hc_st_count(b));
        size_t ml1, ml2;
        const char *m1 = hc_st_metadata(a, &ml1), *m2 = hc_st_metadata(b, &ml2);
        CHECK(m1 && m2 && ml1 == ml2 && memcmp(m1, m2, ml1) == 0);
        for (size_t i = 0; i < hc_st_count(a); i++) {
            const hc_tensor_info *ia = hc_st_info(a, i), *ib = hc_st_info(b, i);
            CHECK(strcmp(ia->name, ib->name) == 0 && ia->dtype == ib->dtype && ia->nbytes == ib->nbytes);
            const hc_hyc_entry *e = hc_hyc_get(h, (size_t)hc_hyc_find(h, ia->name));
            if (e->codec == HC_CODEC_RAW) {
                CHECKF(memcmp(hc_st_data(a, i), hc_st_data(b, i), ia->nbytes) == 0, "%s changed", ia->name);
                lossless++;
                continue;
            }
            float *fa = malloc(ia->nelem * 4), *fb = malloc(ia->nelem * 4);
            hc_to_f32(ia->dtype, hc_st_data(a, i), fa, ia->nelem);
            hc_to_f32(ib->dtype, hc_st_data(b, i), fb, ib->nelem);
            double se = 0, sq = 0;
            for (uint64_t j = 0; j < ia->nelem; j++) {
                se += ((double)fa[j] - fb[j]) * ((double)fa[j] - fb[j]);
                sq += (double)fa[j] * fa[j];
            }
            free(fa);
            free(fb);
            /* hlat at its default setting: about 30 dB per tensor */
            CHECKF(se <= 3e-3 * sq, "%s: nmse %g", ia->name, se / sq);
            lossy++;
        }
        hc_st_close(a);
        hc_st_close(b);
    }
    CHECK(lossless > 0 && lossy > 0);
    /* a second time refuses to overwrite, naming the file */
    hc_error_clear(&err);
    hc_status s2 = hc_decompress_file(hyc, out, 1, 0, &err);
    CHECKF(s2 == HC_E_EXISTS && strstr(err.msg, "exists"), "%s: %s", hc_status_str(s2), err.msg);
    /* a new name without an extension is a folder for a .hyc of shards */
    char noext[800];
    snprintf(noext, sizeof noext, "%s/rebuilt", sub("noext"));
    CHECK_OK(hc_decompress_file(hyc, noext, 1, 0, &err), &err);
    CHECK(same_file(pj(in, "config.json"), pj(noext, "config.json")));
    CHECK(access(pj(noext, SHARD[2]), F_OK) == 0);
    /* merged into one file */
    char one[800];
    snprintf(one, sizeof one, "%s", pj(sub("one"), "one.safetensors"));
    CHECK_OK(hc_decompress_file(hyc, one, 1, 0, &err), &err);
    hc_safetensors *m;
    CHECK_OK(hc_st_open(one, &m, &err), &err);
    CHECK(hc_st_count(m) == hc_hyc_count(h));
    hc_st_close(m);
    /* the index file itself works as the input */
    char hyc2[800];
    snprintf(hyc2, sizeof hyc2, "%s", pj(sub("hyc"), "m2.hyc"));
    CHECK_OK(hc_compress_path(pj(in, "model.safetensors.index.json"), hyc2, &o, NULL, 1, 1, NULL, NULL, NULL, &err),
             &err);
    hc_hyc *h2;
    CHECK_OK(hc_hyc_open(hyc2, &h2, &err), &err);
    CHECK(hc_hyc_shard_count(h2) == 3 && hc_hyc_count(h2) == hc_hyc_count(h));
    hc_hyc_close(h2);
    hc_hyc_close(h);
}

TEST(hfdir_index_validation_errors) {
    const char *sp = hc_test_shared("models/stories260K.safetensors");
    if (!sp) return;
    hc_error err;
    hc_error_clear(&err);
    hc_safetensors *st;
    CHECK_OK(hc_st_open(sp, &st, &err), &err);
    hc_opts o;
    hc_opts_default(&o);
    const struct { const char *name; folder_opts fo; int drop_shard; const char *says[3]; } cases[] = {
        {"missing", {0, 0, 0, 0}, 2, {"model-00002-of-00003.safetensors", "missing", "index.json"}},
        {"dup", {0, 1, 0, 0}, 0, {"listed twice", "layers", "index.json"}},
        {"omit", {1, 0, 0, 0}, 0, {"not in the index", "model-0000", "index.json"}},
        {"wrong", {0, 0, 1, 0}, 0, {"the index puts it in", "model-0000", "index.json"}},
        {"two", {0, 0, 0, 1}, 0, {"and again in shard", "model-00003-of-00003.safetensors", "index.json"}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char nm[64];
        snprintf(nm, sizeof nm, "bad_%s", cases[c].name);
        hc_error_clear(&err);
        const char *dir = sub(nm);
        CHECK(make_folder(dir, st, cases[c].fo, &err));
        if (cases[c].drop_shard) CHECK(unlink(pj(dir, SHARD[cases[c].drop_shard - 1])) == 0);
        char out[800];
        snprintf(out, sizeof out, "%s", pj(sub("hyc"), "bad.hyc"));
        unlink(out);
        hc_status s = hc_compress_path(dir, out, &o, NULL, 1, 1, NULL, NULL, NULL, &err);
        CHECKF(s == HC_E_FORMAT, "%s: %s %s", cases[c].name, hc_status_str(s), err.msg);
        for (int k = 0; k < 3; k++)
            CHECKF(strstr(err.msg, cases[c].says[k]) != NULL, "%s: '%s' not in: %s", cases[c].name, cases[c].says[k],
                   err.msg);
        CHECK(access(out, F_OK) != 0);
    }
    /* a folder with no model in it */
    CHECK(hc_compress_path(sub("empty"), pj(sub("hyc"), "e.hyc"), &o, NULL, 1, 1, NULL, NULL, NULL, &err) ==
          HC_E_FORMAT);
    CHECKF(strstr(err.msg, "no model.safetensors"), "%s", err.msg);
    hc_st_close(st);
}

/* A small .hyc with a shard and three attachments, for damage tests. */
static uint8_t *small_hyc(const char *path, size_t *len, hc_error *err) {
    hc_hyc_writer *w;
    if (hc_hyc_writer_open(path, 1, &w, err)) return NULL;
    hc_hyc_entry e;
    memset(&e, 0, sizeof e);
    snprintf(e.info.name, HC_MAX_NAME, "w");
    e.info.dtype = HC_F32;
    e.info.ndim = 1;
    e.info.shape[0] = 4;
    e.info.nelem = 4;
    e.info.nbytes = 16;
    float v[4] = {1, 2, 3, 4};
    if (hc_hyc_writer_begin_shard(w, "model.safetensors", "{\"format\":\"pt\"}", 15, err) ||
        hc_hyc_writer_add(w, &e, v, 16, err) || hc_hyc_writer_attach(w, "config.json", CONFIG, strlen(CONFIG), 0, err) ||
        hc_hyc_writer_attach(w, "a.txt", "abc", 3, 0, err) ||
        hc_hyc_writer_attach(w, "tok.bin", "\1\2\3\4\5", 5, HC_ATTACH_TOKENIZER, err) ||
        hc_hyc_writer_finish(w, NULL, 0, err)) {
        return NULL;
    }
    return hc_test_slurp(path, len);
}

/* CRC of everything a reader hands out: entries, payloads, metadata,
 * attachments, shards. */
static uint32_t fingerprint(const hc_hyc *h) {
    uint32_t c = 0;
    for (size_t i = 0; i < hc_hyc_count(h); i++) {
        const hc_hyc_entry *e = hc_hyc_get(h, i);
        const uint8_t *p;
        hc_error err;
        hc_error_clear(&err);
        c = hc_crc32c(c, &e->info, sizeof e->info);
        c = hc_crc32c(c, e->params, e->params_len);
        c = hc_crc32c(c, &e->codec, sizeof e->codec);
        if (hc_hyc_payload(h, i, &p, &err) == HC_OK) c = hc_crc32c(c, p, (size_t)e->size);
    }
    size_t ml;
    const char *md = hc_hyc_metadata(h, &ml);
    if (md) c = hc_crc32c(c, md, ml);
    for (size_t i = 0; i < hc_hyc_attachment_count(h); i++) {
        const hc_hyc_attachment *a = hc_hyc_attachment_get(h, i);
        const uint8_t *p;
        hc_error err;
        c = hc_crc32c(c, a, sizeof *a);
        if (hc_hyc_attachment_data(h, i, &p, &err) == HC_OK) c = hc_crc32c(c, p, (size_t)a->size);
    }
    for (size_t i = 0; i < hc_hyc_shard_count(h); i++) {
        const hc_hyc_shard *sh = hc_hyc_shard_get(h, i);
        c = hc_crc32c(c, sh->name, strlen(sh->name));
        c = hc_crc32c(c, &sh->first, sizeof sh->first);
        c = hc_crc32c(c, &sh->count, sizeof sh->count);
        if (sh->metadata) c = hc_crc32c(c, sh->metadata, sh->metadata_len);
    }
    return c;
}

TEST(hfdir_damaged_attachments_refused) {
    hc_error err;
    hc_error_clear(&err);
    const char *dir = sub("dmg");
    size_t len;
    uint8_t *img = small_hyc(pj(dir, "s.hyc"), &len, &err);
    CHECKF(img, "%s", err.msg);
    hc_hyc *h;
    CHECK_OK(hc_hyc_open_mem(img, len, "s.hyc", &h, &err), &err);
    long ci = hc_hyc_attachment_find(h, "config.json");
    CHECK(ci >= 0 && hc_hyc_attachment_count(h) == 3 && hc_hyc_shard_count(h) == 1);
    CHECK(hc_hyc_attachment_get(h, 2)->flags == HC_ATTACH_TOKENIZER);
    const uint8_t *p;
    CHECK_OK(hc_hyc_attachment_data(h, (size_t)ci, &p, &err), &err);
    CHECK(memcmp(p, CONFIG, strlen(CONFIG)) == 0);
    size_t at = (size_t)(p - img);
    hc_hyc_close(h);
    /* one byte of config.json flipped: open works, verify and decompress refuse */
    img[at + 10] ^= 0x20;
    CHECK(put_file(pj(dir, "flip.hyc"), img, len));
    img[at + 10] ^= 0x20;
    CHECK_OK(hc_hyc_open(pj(dir, "flip.hyc"), &h, &err), &err);
    CHECK(hc_hyc_verify(h, &err) == HC_E_CORRUPT);
    CHECKF(strstr(err.msg, "attachment 'config.json'") && strstr(err.msg, "CRC"), "%s", err.msg);
    hc_hyc_close(h);
    const char *out = sub("dmg_out");
    CHECK(hc_decompress_file(pj(dir, "flip.hyc"), out, 1, 0, &err) == HC_E_CORRUPT);
    CHECKF(strstr(err.msg, "config.json"), "%s", err.msg);
    DIR *d = opendir(out);
    int files = 0;
    struct dirent *de;
    while (d && (de = readdir(d))) files += de->d_name[0] != '.';
    if (d) closedir(d);
    CHECKF(files == 0, "%d files written from a damaged .hyc", files);
    /* every single-bit flip of the whole file is refused by open or verify,
     * or changes nothing a reader returns (zero padding) */
    uint32_t ref = 0;
    hc_hyc *g0;
    CHECK_OK(hc_hyc_open_mem(img, len, "x", &g0, &err), &err);
    ref = fingerprint(g0);
    hc_hyc_close(g0);
    size_t silent = 0, refused = 0, harmless = 0;
    uint8_t *b = malloc(len);
    for (size_t k = 0; k < len * 8; k++) {
        memcpy(b, img, len);
        b[k / 8] ^= (uint8_t)(1u << (k % 8));
        hc_hyc *g = NULL;
        hc_error_clear(&err);
        if (hc_hyc_open_mem(b, len, "x", &g, &err) == HC_OK) {
            if (hc_hyc_verify(g, &err) != HC_OK) refused++;
            else if (fingerprint(g) == ref) harmless++;
            else silent++;
            hc_hyc_close(g);
        } else {
            refused++;
        }
    }
    free(b);
    free(img);
    CHECKF(silent == 0 && refused > harmless, "%zu flips: %zu refused, %zu harmless, %zu silent", len * 8, refused,
           harmless, silent);
    CHECK(silent == 0);
}

TEST(hfdir_writer_refuses_bad_attachments) {
    hc_error err;
    hc_error_clear(&err);
    hc_hyc_writer *w;
    CHECK_OK(hc_hyc_writer_open(pj(sub("wr"), "w.hyc"), 1, &w, &err), &err);
    hc_error_clear(&err);
    CHECK(hc_hyc_writer_attach(w, "a/b", "x", 1, 0, &err) == HC_E_ARG);
    hc_error_clear(&err);
    CHECK(hc_hyc_writer_attach(w, "..", "x", 1, 0, &err) == HC_E_ARG);
    hc_error_clear(&err);
    CHECK(hc_hyc_writer_attach(w, "", "x", 1, 0, &err) == HC_E_ARG);
    hc_error_clear(&err);
    CHECK(hc_hyc_writer_attach(w, "x\ny", "x", 1, 0, &err) == HC_E_ARG);
    hc_error_clear(&err);
    CHECK(hc_hyc_writer_attach(w, "big", "x", HC_ATTACH_SIZE_MAX + 1, 0, &err) == HC_E_LIMIT);
    CHECK_OK(hc_hyc_writer_attach(w, "ok.json", "{}", 2, 0, &err), &err);
    hc_error_clear(&err);
    CHECK(hc_hyc_writer_attach(w, "ok.json", "{}", 2, 0, &err) == HC_E_ARG);
    hc_hyc_entry e;
    memset(&e, 0, sizeof e);
    snprintf(e.info.name, HC_MAX_NAME, "t");
    e.info.dtype = HC_U8;
    e.info.nelem = 1;
    e.info.nbytes = 1;
    CHECK_OK(hc_hyc_writer_add(w, &e, "z", 1, &err), &err);
    hc_error_clear(&err);
    CHECK(hc_hyc_writer_begin_shard(w, "s.safetensors", NULL, 0, &err) == HC_E_ARG); /* tensors came first */
    CHECK_OK(hc_hyc_writer_finish(w, NULL, 0, &err), &err);
    /* with no attachments the file stays 1.0, readable by older hyperc */
    CHECK_OK(hc_hyc_writer_open(pj(sub("wr"), "plain.hyc"), 1, &w, &err), &err);
    CHECK_OK(hc_hyc_writer_add(w, &e, "z", 1, &err), &err);
    CHECK_OK(hc_hyc_writer_finish(w, NULL, 0, &err), &err);
    size_t len;
    uint8_t *img = hc_test_slurp(pj(sub("wr"), "plain.hyc"), &len);
    CHECK(img && hc_get_u16(img + 8) == 1 && hc_get_u32(img + 56) == 0);
    free(img);
}

/* Issue 11 defect 8: the same .hyc gives the same perplexity alone and
 * beside a wrong config.json, and the disagreement is reported. */
static double ppl_of(const char *model, const char *config, const hc_tokenizer *t, const char *text, size_t n,
                     notes *nt, hc_error *err) {
    hc_llm_model *m;
    if (hc_llm_open2(model, config, on_note, nt, &m, err)) return -1;
    hc_llm_ppl_result r;
    hc_status s = hc_llm_perplexity(m, t, text, n, 0, 0, 1, &r, err);
    hc_llm_free(m);
    return s ? -1 : r.perplexity;
}

TEST(hfdir_stray_config_json_ignored) {
    const char *sp = hc_test_shared("models/stories260K.safetensors");
    const char *tp = hc_test_shared("models/tok512.bin");
    const char *txt = hc_test_shared("data/tinystories_val.txt");
    if (!sp || !tp || !txt) return;
    hc_error err;
    hc_error_clear(&err);
    char alone[800], beside[800], bcfg[800];
    snprintf(alone, sizeof alone, "%s", pj(sub("alone"), "s.hyc"));
    snprintf(beside, sizeof beside, "%s", pj(sub("beside"), "s.hyc"));
    snprintf(bcfg, sizeof bcfg, "%s", pj(sub("beside"), "config.json"));
    hc_opts o;
    hc_opts_default(&o);
    hc_compress_extra x = {tp, NULL, 0, NULL, NULL};
    CHECK_OK(hc_compress_path(sp, alone, &o, &x, 1, 1, NULL, NULL, NULL, &err), &err);
    CHECK_OK(hc_compress_path(sp, beside, &o, &x, 1, 1, NULL, NULL, NULL, &err), &err);
    const char *wrong = "{\"hidden_size\": 64, \"intermediate_size\": 172, \"num_hidden_layers\": 5, "
                        "\"num_attention_heads\": 8, \"num_key_value_heads\": 4, \"vocab_size\": 512, "
                        "\"max_position_embeddings\": 512, \"rms_norm_eps\": 0.01, \"rope_theta\": 500}";
    CHECK(put_file(bcfg, wrong, strlen(wrong)));
    size_t n;
    char *text = (char *)hc_test_slurp(txt, &n);
    CHECK(text);
    if (n > 12000) n = 12000;
    hc_tokenizer *t;
    CHECK_OK(hc_tok_open(tp, 512, &t, &err), &err);
    notes n1 = {{0}, 0}, n2 = {{0}, 0}, n3 = {{0}, 0};
    double p1 = ppl_of(alone, NULL, t, text, n, &n1, &err);
    double p2 = ppl_of(beside, NULL, t, text, n, &n2, &err);
    double p3 = ppl_of(beside, bcfg, t, text, n, &n3, &err);
    hc_tok_free(t);
    free(text);
    CHECKF(p1 > 1 && p1 < 10, "alone: %g (%s)", p1, err.msg);
    CHECKF(p1 == p2, "alone %g, beside a wrong config.json %g", p1, p2);
    CHECK(n1.len == 0);
    CHECKF(strstr(n2.text, "disagrees") && strstr(n2.text, "config.json") && strstr(n2.text, "ignored"), "%.1000s", n2.text);
    CHECKF(p3 > 0 && p3 != p1, "--config should override: %g vs %g", p3, p1); /* explicit wins */
}

/* A .hyc made from a folder runs on its own: hyperparameters from its
 * config.json, tokenizer from its tokenizer.bin, nothing beside it. */
TEST(hfdir_hyc_runs_on_its_own) {
    const char *sp = hc_test_shared("models/stories260K.safetensors");
    const char *bin = getenv("HYPERC_BIN");
    if (!sp) return;
    if (!bin) {
        hc_test_skip("HYPERC_BIN not set (run through make test)");
        return;
    }
    hc_error err;
    hc_error_clear(&err);
    hc_safetensors *st;
    CHECK_OK(hc_st_open(sp, &st, &err), &err);
    /* HF-style folder without hyperparameters in the shards' metadata */
    const char *in = sub("own_in");
    CHECK(make_folder(in, st, (folder_opts){0, 0, 0, 0}, &err));
    hc_st_close(st);
    char hyc[800];
    snprintf(hyc, sizeof hyc, "%s", pj(sub("own"), "m.hyc"));
    hc_opts o;
    hc_opts_default(&o);
    CHECK_OK(hc_compress_path(in, hyc, &o, NULL, 1, 1, NULL, NULL, NULL, &err), &err);
    hc_llm_model *m;
    CHECK_OK(hc_llm_open(hyc, NULL, &m, &err), &err);
    CHECK(hc_llm_config_of(m)->dim == 64 && hc_llm_config_of(m)->n_kv_heads == 4);
    hc_llm_free(m);
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "%s generate %s --prompt Once -n 20 --temp 0 2>&1", bin, hyc);
    FILE *f = popen(cmd, "r");
    CHECK(f);
    char out[4096];
    size_t got = fread(out, 1, sizeof out - 1, f);
    out[got] = 0;
    int rc = pclose(f);
    CHECKF(rc == 0 && strstr(out, "Once upon a time"), "rc %d: %.1000s", rc, out);
    snprintf(cmd, sizeof cmd, "%s extract %s config.json", bin, hyc);
    f = popen(cmd, "r");
    CHECK(f);
    got = fread(out, 1, sizeof out - 1, f);
    out[got] = 0;
    rc = pclose(f);
    CHECKF(rc == 0 && got == strlen(CONFIG) && memcmp(out, CONFIG, got) == 0, "extract: rc %d, %zu bytes", rc, got);
}
