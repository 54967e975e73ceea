/* config.c — hyperparameters: read from JSON (Hugging Face config.json or
 * llama2.c-style metadata) and checked for consistency. */
#include "infer.h"
#include "../io/json.h"
#include <limits.h>
#include <math.h>
#include <stdlib.h>

/* ---- keys ------------------------------------------------------------------ */
enum { F_DIM, F_HIDDEN, F_LAYERS, F_HEADS, F_KV, F_VOCAB, F_SEQ, F_EPS, F_THETA, F_TIE, F_COUNT };

static const struct {
    const char *key;
    int field;
    int hf; /* 1: a Hugging Face key (sets the HF default epsilon) */
} config_keys[] = {
    {"hidden_size", F_DIM, 1},
    {"intermediate_size", F_HIDDEN, 1},
    {"num_hidden_layers", F_LAYERS, 1},
    {"num_attention_heads", F_HEADS, 1},
    {"num_key_value_heads", F_KV, 1},
    {"vocab_size", F_VOCAB, 0},
    {"max_position_embeddings", F_SEQ, 1},
    {"rms_norm_eps", F_EPS, 1},
    {"rope_theta", F_THETA, 0},
    {"tie_word_embeddings", F_TIE, 1},
    {"dim", F_DIM, 0},
    {"hidden_dim", F_HIDDEN, 0},
    {"n_layers", F_LAYERS, 0},
    {"n_heads", F_HEADS, 0},
    {"n_kv_heads", F_KV, 0},
    {"seq_len", F_SEQ, 0},
    {"max_seq_len", F_SEQ, 0},
    {"norm_eps", F_EPS, 0},
    {"shared_classifier", F_TIE, 0},
};

/* ---- values ------------------------------------------------------------------ */
/* Parses text[0..n) fully as a number. */
static int parse_number(const char *text, size_t n, double *v) {
    char buf[64];
    if (n == 0 || n >= sizeof buf) return 0;
    memcpy(buf, text, n);
    buf[n] = 0;
    char *end;
    *v = strtod(buf, &end);
    return end == buf + n && isfinite(*v);
}

/* Reads a number, a string holding a number, or a boolean (as 0/1). */
static int read_value(hc_json *j, double *v) {
    hc_json_type ty = hc_json_peek(j);
    if (ty == HC_JSON_NUMBER) {
        const char *s;
        size_t n;
        return hc_json_number(j, &s, &n) && parse_number(s, n, v);
    }
    if (ty == HC_JSON_TRUE || ty == HC_JSON_FALSE) {
        *v = ty == HC_JSON_TRUE;
        return hc_json_literal(j);
    }
    if (ty == HC_JSON_STRING) {
        hc_json_str s;
        char buf[64];
        if (!hc_json_string(j, &s) || s.len >= sizeof buf || s.has_nul) return 0;
        hc_json_str_decode(&s, buf);
        buf[s.len] = 0;
        if (strcmp(buf, "True") == 0 || strcmp(buf, "true") == 0) { *v = 1; return 1; }
        if (strcmp(buf, "False") == 0 || strcmp(buf, "false") == 0) { *v = 0; return 1; }
        return parse_number(buf, s.len, v);
    }
    return 0;
}

/* A string value into buf; 0 if it is not a short string. */
static int read_string(hc_json *j, char *buf, size_t cap) {
    hc_json_str s;
    if (hc_json_peek(j) != HC_JSON_STRING || !hc_json_string(j, &s) || s.len >= cap || s.has_nul) return 0;
    hc_json_str_decode(&s, buf);
    buf[s.len] = 0;
    return 1;
}

/* ---- parsing ------------------------------------------------------------------- */
hc_status hc_llm_config_parse(const char *json, size_t len, const char *label, hc_llm_config *cfg,
                              hc_error *err) {
    memset(cfg, 0, sizeof *cfg);
    cfg->shared_classifier = -1;
    double val[F_COUNT] = {0};
    int set[F_COUNT] = {0};
    int any_hf = 0;
    double head_dim = 0;
    hc_json j;
    hc_json_init(&j, json, len);
    if (!hc_json_object_begin(&j))
        return hc_fail(err, HC_E_FORMAT, "%s: not a JSON object (%s at byte %zu)", label,
                       j.why ? j.why : "?", j.err_pos);
    hc_json_str key;
    int r;
    while ((r = hc_json_object_next(&j, &key)) > 0) {
        char name[64];
        if (key.len >= sizeof name || key.has_nul) {
            if (!hc_json_skip(&j)) break;
            continue;
        }
        hc_json_str_decode(&key, name);
        name[key.len] = 0;
        int k = -1;
        for (size_t i = 0; i < sizeof config_keys / sizeof config_keys[0]; i++)
            if (strcmp(name, config_keys[i].key) == 0) k = (int)i;
        if (k >= 0) {
            double v;
            if (hc_json_peek(&j) == HC_JSON_NULL) { /* null: as if absent */
                if (!hc_json_skip(&j)) break;
                continue;
            }
            if (!read_value(&j, &v)) {
                if (j.status != HC_OK) break;
                return hc_fail(err, HC_E_FORMAT, "%s: \"%s\" is not a number", label, name);
            }
            int f = config_keys[k].field;
            if (set[f] && val[f] != v)
                return hc_fail(err, HC_E_FORMAT, "%s: \"%s\" = %g conflicts with another key giving %g", label, name, v, val[f]);
            set[f] = 1;
            val[f] = v;
            any_hf |= config_keys[k].hf;
        } else if (strcmp(name, "rope_scaling") == 0) {
            if (hc_json_peek(&j) != HC_JSON_NULL)
                return hc_fail(err, HC_E_UNSUPPORTED, "%s: rope_scaling is not supported", label);
            if (!hc_json_skip(&j)) break;
        } else if (strcmp(name, "hidden_act") == 0 || strcmp(name, "hidden_activation") == 0) {
            char act[32];
            if (!read_string(&j, act, sizeof act)) {
                if (j.status != HC_OK) break;
                return hc_fail(err, HC_E_FORMAT, "%s: \"%s\" is not a short string", label, name);
            }
            if (strcmp(act, "silu") != 0)
                return hc_fail(err, HC_E_UNSUPPORTED, "%s: activation '%s' is not supported (only silu)", label, act);
        } else if (strcmp(name, "attention_bias") == 0 || strcmp(name, "mlp_bias") == 0) {
            double v;
            if (!read_value(&j, &v)) {
                if (j.status != HC_OK) break;
                return hc_fail(err, HC_E_FORMAT, "%s: \"%s\" is not a boolean", label, name);
            }
            if (v != 0) return hc_fail(err, HC_E_UNSUPPORTED, "%s: %s is not supported", label, name);
        } else if (strcmp(name, "head_dim") == 0) {
            if (hc_json_peek(&j) == HC_JSON_NULL) {
                if (!hc_json_skip(&j)) break;
            } else if (!read_value(&j, &head_dim)) {
                if (j.status != HC_OK) break;
                return hc_fail(err, HC_E_FORMAT, "%s: \"head_dim\" is not a number", label);
            }
        } else if (!hc_json_skip(&j)) {
            break;
        }
    }
    if (j.status != HC_OK || r < 0)
        return hc_fail(err, HC_E_FORMAT, "%s: bad JSON (%s at byte %zu)", label, j.why ? j.why : "?",
                       j.err_pos);

    int any = 0;
    for (int f = 0; f < F_COUNT; f++) any |= set[f];
    if (!any) return hc_fail(err, HC_E_FORMAT, "%s: no model hyperparameters in it", label);
    int *ints[] = {[F_DIM] = &cfg->dim,         [F_HIDDEN] = &cfg->hidden_dim,
                   [F_LAYERS] = &cfg->n_layers,  [F_HEADS] = &cfg->n_heads,
                   [F_KV] = &cfg->n_kv_heads,    [F_VOCAB] = &cfg->vocab_size,
                   [F_SEQ] = &cfg->seq_len};
    static const char *const names[] = {"dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads",
                                        "vocab_size", "seq_len"};
    for (int f = F_DIM; f <= F_SEQ; f++) {
        if (!set[f]) continue;
        if (val[f] < 1 || val[f] > INT_MAX || val[f] != floor(val[f]))
            return hc_fail(err, HC_E_FORMAT, "%s: %s = %g is not a positive integer", label, names[f], val[f]);
        *ints[f] = (int)val[f];
    }
    cfg->norm_eps = set[F_EPS] ? (float)val[F_EPS] : (any_hf ? 1e-6f : 1e-5f);
    cfg->rope_theta = set[F_THETA] ? (float)val[F_THETA] : 10000.0f;
    if (set[F_TIE]) cfg->shared_classifier = val[F_TIE] != 0;
    if (!set[F_KV]) cfg->n_kv_heads = cfg->n_heads;
    if (head_dim != 0 && (cfg->n_heads <= 0 || head_dim * cfg->n_heads != cfg->dim))
        return hc_fail(err, HC_E_UNSUPPORTED, "%s: head_dim %g differs from hidden_size / heads", label, head_dim);
    return HC_OK;
}

/* ---- checking ---------------------------------------------------------------------- */
hc_status hc_llm_config_check(const hc_llm_config *c, const char *label, hc_error *err) {
    const char *missing = c->dim <= 0 ? "dim (hidden_size)"
                          : c->hidden_dim <= 0 ? "hidden_dim (intermediate_size)"
                          : c->n_layers <= 0 ? "n_layers (num_hidden_layers)"
                          : c->n_heads <= 0 ? "n_heads (num_attention_heads)"
                          : c->n_kv_heads <= 0 ? "n_kv_heads (num_key_value_heads)"
                          : c->vocab_size <= 0 ? "vocab_size"
                          : c->seq_len <= 0 ? "seq_len (max_position_embeddings)"
                          : NULL;
    if (missing) return hc_fail(err, HC_E_FORMAT, "%s: hyperparameter %s is missing or not positive", label, missing);
    if (c->dim > (1 << 20) || c->hidden_dim > (1 << 22) || c->n_layers > 4096 || c->vocab_size > (1 << 24) ||
        c->seq_len > (1 << 24))
        return hc_fail(err, HC_E_LIMIT, "%s: hyperparameters out of bounds (dim %d, hidden %d, layers %d, vocab %d, seq_len %d)",
                       label, c->dim, c->hidden_dim, c->n_layers, c->vocab_size, c->seq_len);
    if (c->dim % c->n_heads != 0 || (c->dim / c->n_heads) % 2 != 0)
        return hc_fail(err, HC_E_FORMAT, "%s: dim %d is not n_heads %d times an even head size", label, c->dim, c->n_heads);
    if (c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads != 0)
        return hc_fail(err, HC_E_FORMAT, "%s: n_heads %d is not a multiple of n_kv_heads %d", label, c->n_heads, c->n_kv_heads);
    if (!(c->norm_eps > 0) || !isfinite(c->norm_eps) || !(c->rope_theta > 0) || !isfinite(c->rope_theta))
        return hc_fail(err, HC_E_FORMAT, "%s: norm_eps %g and rope_theta %g must be positive", label, c->norm_eps, c->rope_theta);
    if (c->shared_classifier != 0 && c->shared_classifier != 1)
        return hc_fail(err, HC_E_ARG, "%s: shared_classifier must be 0 or 1", label);
    return HC_OK;
}
