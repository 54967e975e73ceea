#!/bin/sh
# install_check.sh BUILD TMPDIR — run by tests/test_install.c: installs the
# build into a temporary prefix with `make install`, builds a small program
# against the installed copy with pkg-config, runs it against the shared
# library, and checks that libhyperc.so exports only the public API.
set -u
build=$1; tmp=$2
prefix=$tmp/prefix
cc=${HYPERC_TEST_CC:-cc}
cflags=${HYPERC_TEST_CFLAGS:-}
fail() { echo "install_check: $*" >&2; exit 1; }
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory install BUILD="$build" PREFIX="$prefix" \
    >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; fail "make install failed"; }
for f in include/hyperc.h include/hyperc_llm.h include/hyperc_bind.h lib/libhyperc.a lib/libhyperc.so \
         lib/libhyperc.so.0 bin/hyperc lib/pkgconfig/hyperc.pc; do
    [ -e "$prefix/$f" ] || fail "make install did not install $f"
done
command -v pkg-config >/dev/null 2>&1 || fail "pkg-config not found (apt-get install pkg-config)"
flags=$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs hyperc) || fail "pkg-config --cflags --libs hyperc failed"
cat >"$tmp/prog.c" <<'C'
#include <hyperc.h>
#include <hyperc_bind.h>
#include <stdio.h>
#include <string.h>
int main(void) {
    hc_opts o;
    hc_error err = {0};
    hc_opts_default(&o);
    if (hc_opts_set(&o, "codec", "qkm", &err) || o.codec != HC_CODEC_QKM) return 2;
    if (hc_opts_set(&o, "codec", "nope", &err) != HC_E_ARG || !strstr(err.msg, "nope")) return 3;
    float w[256], back[256];
    for (int i = 0; i < 256; i++) w[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    hc_encoded e;
    hc_decoder *d = NULL;
    if (hc_encode(w, 256, &o, &e, &err)) return 4;
    if (hc_decoder_open(e.codec, e.params, e.params_len, e.payload, e.payload_len, 256, HC_F32, &d, &err)) return 5;
    hc_decode_all(d, back);
    double se = 0;
    for (int i = 0; i < 256; i++) se += (w[i] - back[i]) * (w[i] - back[i]);
    if (hc_decoder_size(d) != 256 || hc_decoder_codec(d) != HC_CODEC_QKM) return 7;
    if (hc_decode_range(d, 250, 7, back, &err) != HC_E_ARG || hc_decode_range(d, 250, 6, back, &err)) return 8;
    hc_decoder_free(d);
    hc_encoded_free(&e);
    printf("%s %s %.3g\n", hc_version(), hc_codec_name(HC_CODEC_QKM), se / 256);
    return se / 256 < 1e-2 ? 0 : 6;
}
C
# shellcheck disable=SC2086
$cc $cflags "$tmp/prog.c" -o "$tmp/prog" $flags >"$tmp/cc.log" 2>&1 || { cat "$tmp/cc.log" >&2; fail "cannot build against the installed copy"; }
out=$(LD_LIBRARY_PATH="$prefix/lib" "$tmp/prog") || fail "program built against the installed library failed"
case $out in 0.1.0\ qkm\ *) ;; *) fail "unexpected output '$out'";; esac
# it really runs on the shared library of the prefix
ldd "$tmp/prog" 2>/dev/null | grep -q "$prefix/lib/libhyperc.so.0" || LD_LIBRARY_PATH="$prefix/lib" ldd "$tmp/prog" | grep -q "$prefix/lib/libhyperc.so.0" \
    || fail "program not linked against $prefix/lib/libhyperc.so.0"
so="$prefix/lib/libhyperc.so"
readelf -d "$so" | grep -q 'SONAME.*libhyperc\.so\.0\]' || fail "soname is not libhyperc.so.0"
syms=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVWi]$/ {print $3}' | sed 's/@.*//')
echo "$syms" | grep -qx hc_hyc_open || fail "hc_hyc_open not exported"
echo "$syms" | grep -qx hc_decoder_matmul || fail "hc_decoder_matmul not exported"
echo "$syms" | grep -qx hc_llm_open || fail "hc_llm_open not exported"
echo "$syms" | grep -qx hc_parallel_for && fail "internal hc_parallel_for is exported"
for f in hc_simd_level hc_llm_calib_build hc_decode_range hc_error_context; do
    echo "$syms" | grep -qx $f || fail "$f not exported"
done
for f in hc_fail hc_json_object_get hc_simd_set_level hc_pool_run hc_tok_any_open; do
    echo "$syms" | grep -qx $f && fail "internal $f (HC_STATIC_LINKING_ONLY or src/) is exported"
done
echo "$syms" | grep -qx hc_map_file && fail "internal hc_map_file is exported"
bad=$(echo "$syms" | grep -v '^hc_' | grep -v '^HYPERC_' | head -3)
[ -z "$bad" ] || fail "symbols outside the public API exported: $bad"
"$prefix/bin/hyperc" --help >/dev/null 2>&1 || "$prefix/bin/hyperc" help >/dev/null 2>&1 || fail "installed bin/hyperc does not run"
echo "install_check: ok ($(echo "$syms" | wc -l) symbols exported)"
