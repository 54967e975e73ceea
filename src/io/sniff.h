/* sniff.h — what a file looks like, from its first bytes, so that a reader
 * given the wrong kind of file can say so ("'m.gguf' is a GGUF file, not a
 * safetensors file") instead of reporting a nonsensical field. */
#ifndef HC_SNIFF_H
#define HC_SNIFF_H

#include <stddef.h>
#include <stdint.h>

/* HC_SNIFF_HEAD bytes (or the whole file if shorter) are enough. */
#define HC_SNIFF_HEAD 64

/* "GGUF file", ".hyc container", "safetensors file", "zip archive (PyTorch
 * .pt/.bin)", "Python pickle (PyTorch .pt/.bin)", "NumPy .npy array",
 * "llama2.c checkpoint", "JSON text", "text file", or NULL when none fits. A static
 * string. Checks are strict enough that a file of one kind is never named
 * as another of these kinds; NULL is the answer for anything unclear. */
const char *hc_sniff_format(const uint8_t *head, size_t n);

#endif
