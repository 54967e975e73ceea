/* layers.h — error accumulation through depth (`hyperc layers`): a
 * reference model (float) and a test model (compressed) run on the same
 * tokens; per layer, the relative error of the residual stream after it and
 * of the outputs of its attention and feed-forward blocks,
 *     ||x_test - x_ref|| / ||x_ref||,
 * the sums of squares taken over every token and every component, as the
 * error-propagation analysis of the Hyper-Compression paper does. */
#ifndef HC_LAYERS_H
#define HC_LAYERS_H

#include "hyperc_llm.h"

typedef struct hc_layer_err {
    /* relative errors (0 when the reference's norm is 0 and so is the difference) */
    double hidden; /* residual stream after the layer (row 0: the embedding)  */
    double att;    /* attention block output (wo x), before the residual add   */
    double ffn;    /* feed-forward block output (w2 x), before the residual add */
} hc_layer_err;

typedef struct hc_layers_result {
    int n_layers;
    hc_layer_err *rows;   /* (n_layers + 1): row 0 the embedding (hidden only), row l+1 layer l; malloc'd */
    double logits;        /* relative error of the logits                        */
    double kl;            /* mean KL(ref || test) of the next-token distributions, nats */
    double top1;          /* fraction of tokens whose argmax agrees               */
    uint64_t tokens;      /* tokens run                                           */
    int windows;          /* windows of ctx tokens (fresh cache each)             */
} hc_layers_result;

/* Runs ref and test over tokens[0..n) in consecutive windows of ctx tokens
 * (0: the models' seq_len; a partial last window is run too), each from a
 * fresh cache, and fills r (free r->rows with hc_layers_result_free). The
 * two models must have the same hyperparameters. threads: for the products. */
hc_status hc_llm_layer_errors(const hc_llm_model *ref, const hc_llm_model *test, const int *tokens, size_t n,
                              int ctx, int threads, hc_layers_result *r, hc_error *err);
void hc_layers_result_free(hc_layers_result *r);

#endif
