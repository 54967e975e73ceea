"""Measures, in one run (figures for the README):
  1. hyperc.load of resnet56 compressed, against torch.load of the same
     weights saved with torch.save and a plain safetensors read;
  2. greedy generation speed of stories260K as a torch llama on compressed
     HycLinear modules (fused decode-and-multiply) against the float model.
Usage: PYTHONPATH=python HYPERC_SHARED=/work/shared /usr/bin/python3 python/bench.py
"""
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "tests"))
import hyperc  # noqa: E402
import hyperc.nn  # noqa: E402
from hyperc import _st  # noqa: E402
from llama import Llama, hyc_names, load_float  # noqa: E402

SHARED = os.environ.get("HYPERC_SHARED", "/work/shared")


def best(fn, n=7):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return min(ts), statistics.median(ts)


def st_load(path):
    items, _ = _st.read(path)
    return {n: torch.from_numpy(np.array(d).view(_st.NP_STORAGE[dt]).reshape(s)) for n, dt, s, d in items}


def main():
    tmp = tempfile.mkdtemp(prefix="hyperc-bench-")
    print("torch %s, numpy %s, libhyperc %s, torch threads %d" % (torch.__version__, np.__version__,
                                                                  hyperc.version(), torch.get_num_threads()))
    src = os.path.join(SHARED, "models/resnet56.safetensors")
    hyc = os.path.join(tmp, "resnet56.hyc")
    t = time.perf_counter()
    rep = hyperc.compress(src, hyc)
    print("resnet56: compress %.2f s -> %d bytes (%.2fx of %d), %.3f bpw coded, SNR %.1f dB" % (
        time.perf_counter() - t, rep.bytes_out, rep.ratio, rep.bytes_in, rep.bpw, rep.snr_db))
    sd = st_load(src)
    pt = os.path.join(tmp, "resnet56.pt")
    torch.save(sd, pt)
    for label, fn in (("hyperc.load(.hyc)", lambda: hyperc.load(hyc)),
                      ("hyperc.load(.hyc, threads=1)", lambda: hyperc.load(hyc, threads=1)),
                      ("torch.load(.pt)", lambda: torch.load(pt)),
                      ("safetensors read (numpy copy)", lambda: st_load(src))):
        b, m = best(fn)
        print("  %-32s best %7.2f ms  median %7.2f ms  (file %d bytes)" % (
            label, b * 1e3, m * 1e3, os.path.getsize(hyc if "hyc" in label else pt if "pt" in label else src)))
    with hyperc.open(hyc) as f:
        name = max(f, key=lambda k: f.info(k)["nelem"])
        b, m = best(lambda: f[name], 20)
        print("  f[name] on hyperc.open(.hyc)     best %7.3f ms  (one tensor decoded: %s, %d weights)" % (
            b * 1e3, name, f.info(name)["nelem"]))
        b, m = best(lambda: hyperc.open(hyc).close(), 20)
        print("  hyperc.open(.hyc) + close        best %7.3f ms  (%d tensors, nothing decoded)" % (b * 1e3, len(f)))

    src = os.path.join(SHARED, "models/stories260K.safetensors")
    _, meta = _st.read(src)
    flt = load_float(Llama.from_metadata(meta), src).eval()
    steps = 200
    for codec in ("hlat", "q8b"):
        out = os.path.join(tmp, "s260k_%s.hyc" % codec)
        hyperc.compress(src, out, codec=codec)
        comp = hyperc.nn.from_hyc(Llama.from_metadata(meta), out, names=hyc_names, strict=True, threads=1).eval()
        comp.generate([1], 8)
        t = time.perf_counter()
        tc = comp.generate([1], steps)
        dc = time.perf_counter() - t
        flt.generate([1], 8)
        t = time.perf_counter()
        tf = flt.generate([1], steps)
        df = time.perf_counter() - t
        same = sum(a == b for a, b in zip(tc, tf)) - 1
        print("stories260K greedy %d tokens: float torch %.0f tok/s, compressed (%s, %d bytes, fused) %.0f tok/s;"
              " %d/%d tokens equal to float" % (steps, steps / df, codec, os.path.getsize(out), steps / dc, same, steps))

    # one larger Linear (2048 x 2048), batch 1 and 4: fused decode-and-multiply vs float torch
    g = torch.Generator().manual_seed(0)
    w = torch.randn(2048, 2048, generator=g) * 0.02
    out = os.path.join(tmp, "lin.hyc")
    for codec in ("hlat", "q8b"):
        hyperc.compress({"w": w}, out, codec=codec)
        lin = torch.nn.Linear(2048, 2048, bias=False)
        lin.weight.data.copy_(w)
        hl = hyperc.nn.HycLinear(hyperc.open(out), "w", threads=1)
        for batch in (1, 4):
            x = torch.randn(batch, 2048, generator=g)
            with torch.no_grad():
                bf, _ = best(lambda: lin(x), 20)
            bh, _ = best(lambda: hl(x), 20)
            print("Linear 2048x2048 batch %d: float torch %.3f ms, HycLinear %s (%d bytes, 1 thread) %.3f ms" % (
                batch, bf * 1e3, codec, os.path.getsize(out), bh * 1e3))


if __name__ == "__main__":
    main()
