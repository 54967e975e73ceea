/* test_rd_low.c — rate ladders and `hyperc rd` down to 2 bits per weight:
 * hlat, paper and qkm ladders reach about 2 bpw; rd interpolates the SNR at
 * 2 and 2.5 bpw, and says which codec cannot go that low. */
#include "test.h"
#include "../src/codec/options.h"
#include "../src/codec/rd.h"
#include "../src/io/plan.h"
#include <string.h>
#include <sys/wait.h>

TEST(rd_low_ladders_reach_2bpw) {
    const hc_codec_id ids[] = {HC_CODEC_HLAT, HC_CODEC_PAPER, HC_CODEC_QKM};
    const double want_lo[] = {1.7, 1.5, 2.07};
    for (size_t i = 0; i < 3; i++) {
        hc_opts o;
        hc_opts_default(&o);
        o.codec = ids[i];
        double lo, hi;
        CHECK(hc_opts_rate_range(&o, &lo, &hi) == 0);
        CHECKF(lo <= want_lo[i] && hi > 6, "%s: %.3f..%.3f", hc_codec_name(ids[i]), lo, hi);
    }
    /* the built-in rd list has settings near 2 bpw of each of them */
    int near2[HC_CODEC_COUNT] = {0};
    const char *const *defaults = hc_rd_default_settings();
    for (size_t i = 0; defaults[i]; i++) {
        hc_rd_setting s;
        hc_error err = {0};
        CHECK_OK(hc_rd_parse_setting(defaults[i], 0, &s, &err), &err);
        if (strstr(s.text, "hlat:bits=7") || strstr(s.text, "paper:n=7,C=1") || strstr(s.text, "qkm:bits=2,block=256"))
            near2[s.opts.codec] = 1;
    }
    CHECK(near2[HC_CODEC_HLAT] && near2[HC_CODEC_PAPER] && near2[HC_CODEC_QKM]);
}

TEST(rd_low_rates_table) {
    const char *m = hc_test_shared("models/stories260K.safetensors");
    if (!m) return;
    const char *b = getenv("HYPERC_BIN") ? getenv("HYPERC_BIN") : "build/hyperc";
    char cmd[4096], log[1024], sh[2048];
    snprintf(sh, sizeof sh, "%s", m);
    *strstr(sh, "/models/stories260K.safetensors") = 0; /* the shared folder the model was found in */
    snprintf(log, sizeof log, "%s/rdlow.txt", hc_test_tmpdir());
    snprintf(cmd, sizeof cmd,
             "'%s' rd --shared '%s' --models stories260K --threads 1 --only hlat:bits=6 --only hlat:bits=9 "
             "--only q4b -o '%s/rdlow.csv' > '%s' 2>&1",
             b, sh, hc_test_tmpdir(), log);
    int st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    size_t len;
    char *t = (char *)hc_test_slurp(log, &len);
    CHECK(t);
    const char *lr = strstr(t, "Low rates");
    const char *hl = lr ? strstr(lr, "stories260K        hlat") : NULL, *q4 = lr ? strstr(lr, "stories260K        q4b") : NULL;
    double lowest = 0, s2 = 0, s25 = 0;
    CHECKF(hl && sscanf(hl + 26, "%lf %lf %lf", &lowest, &s2, &s25) == 3, "%s", t);
    CHECKF(lowest < 2 && s2 > 3 && s25 > s2 && s25 < 20, "hlat lowest %.3f, %.2f dB at 2, %.2f at 2.5", lowest, s2, s25);
    CHECKF(q4 && strstr(q4, "cannot reach"), "%s", t);
    free(t);
}
