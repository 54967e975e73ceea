#!/usr/bin/env python3
"""hyperfunctions.py — the paper's open question ("what is the best ergodic
transformation?") answered on the same tensors: each hyperfunction this
project has, and each engineering step added to it, measured by `hyperc rd`
and compared at equal all-inclusive bits per weight.

    python3 bench/hyperfunctions.py [--hyperc build/hyperc] [--shared ../shared]
        [--models stories260K,resnet20,resnet56] [--rates 3,4] [--threads 1]
        [--only FAMILY,...] [--csv out.csv]

For every family (a hyperfunction with a given set of steps) it runs a ladder
of settings through `hyperc rd`, then interpolates linearly in bpw_coded at
each rate: SNR (dB, size-weighted over tensors of >= 4096 weights), the gap to
the Gaussian rate-distortion bound at the payload rate (6.02 bpw_payload -
SNR), and the encode and decode speed per thread (rd's encode_mws and
decode_mws, medians over the ladder). Prints a Markdown table per model.
`make rd-ablation` runs it with the defaults (about 15 minutes on 2 cores).
"""
import argparse
import csv
import io
import os
import statistics
import subprocess
import sys

# (name, what it is, settings). Ladders span about 2.5 .. 4.6 bpw.
FAMILIES = [
    ("paper", "the paper's 2-D irrational winding, one scale per tensor",
     ["paper:n=%d" % n for n in (6, 8, 24, 45, 64)]),
    ("hlat K=2", "2-D rank-1 lattice winding + block scales + compander",
     ["hlat:bits=%d,dim=2" % m for m in (5, 6, 7, 8, 9)]),
    ("hlat K=4, one scale per 4096", "K=4 lattice winding, blocks of 4096 (no fine block scales)",
     ["hlat:bits=%d,block=4096" % m for m in (10, 12, 14, 16, 18)]),
    ("hlat K=4 (default codec)", "K=4 lattice winding, blocks of 32",
     ["hlat:bits=%d" % m for m in (9, 11, 13, 15, 17, 18)]),
    ("hlat K=8", "K=8 lattice winding, blocks of 32",
     ["hlat:bits=%d,dim=8" % m for m in (20, 24, 28, 32)]),
    ("trellis L=12, no transform", "shift-map trellis, no Hadamard rotation",
     ["trellis:bpw=%s,rht=0" % r for r in ("2.5", "3", "3.5", "4", "4.5")]),
    ("trellis L=12, one rate per tensor", "shift-map trellis + RHT, no water-filling (--slope 0)",
     ["trellis:bpw=%s,slope=0" % r for r in ("2.5", "3", "3.5", "4", "4.5")]),
    ("trellis L=12 (default effort)", "shift-map trellis + RHT + water-filling",
     ["trellis:bpw=%s" % r for r in ("2.5", "3", "3.5", "4", "4.5")]),
    ("trellis L=14", "as above, 2^14 states",
     ["trellis:bpw=%s,effort=14" % r for r in ("2.5", "3", "3.5", "4", "4.5")]),
    ("trellis L=16 (--effort max)", "as above, 2^16 states",
     ["trellis:bpw=%s,effort=16" % r for r in ("2.5", "3", "3.5", "4", "4.5")]),
]


def run_rd(hyperc, shared, models, settings, threads):
    cmd = [hyperc, "rd", "--shared", shared, "--models", ",".join(models), "--threads", str(threads)]
    for s in settings:
        cmd += ["--only", s]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    if res.returncode != 0:
        sys.stderr.write(res.stderr)
        raise SystemExit("hyperfunctions: %s failed (exit %d)" % (" ".join(cmd[:2]), res.returncode))
    out = res.stdout
    # the CSV follows the human-readable tables: it starts at its header
    start = out.index("model,setting,codec,")
    return list(csv.DictReader(io.StringIO(out[start:])))


def interp(points, x, key):
    """Linear interpolation of key over bpw_coded; None outside the ladder."""
    pts = sorted(points, key=lambda p: p["bpw"])
    for a, b in zip(pts, pts[1:]):
        if a["bpw"] <= x <= b["bpw"] and b["bpw"] > a["bpw"]:
            t = (x - a["bpw"]) / (b["bpw"] - a["bpw"])
            return a[key] + t * (b[key] - a[key])
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hyperc", default="build/hyperc")
    ap.add_argument("--shared", default=os.environ.get("HYPERC_SHARED", "../shared"))
    ap.add_argument("--models", default="stories260K,resnet20,resnet56")
    ap.add_argument("--rates", default="3,4")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", default="", help="comma-separated family names (prefixes)")
    ap.add_argument("--csv", default="", help="also write every rd row here")
    a = ap.parse_args()
    models = a.models.split(",")
    rates = [float(r) for r in a.rates.split(",")]
    fams = [f for f in FAMILIES if not a.only or any(f[0].startswith(o) for o in a.only.split(","))]

    rows = {}
    allrows = []
    for name, _, settings in fams:
        sys.stderr.write("hyperfunctions: %s (%d settings x %d models)\n" % (name, len(settings), len(models)))
        for r in run_rd(a.hyperc, a.shared, models, settings, a.threads):
            allrows.append(r)
            p = {"bpw": float(r["bpw_coded"]), "snr": float(r["snr_db"]),
                 "gap": 6.0206 * float(r["bpw_payload"]) - float(r["snr_db"]),
                 "enc": float(r["encode_mws"]), "dec": float(r["decode_mws"])}
            rows.setdefault((r["model"], name), []).append(p)
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(allrows[0].keys()))
            w.writeheader()
            w.writerows(allrows)

    for m in models:
        print("\n### %s\n" % m)
        head = ["hyperfunction"]
        for x in rates:
            head += ["SNR dB at %g bpw" % x, "gap to D(R) at %g" % x]
        head += ["encode M w/s/thread", "decode M w/s/thread"]
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for name, _, _ in fams:
            pts = rows.get((m, name), [])
            if not pts:
                continue
            cells = [name]
            for x in rates:
                s, g = interp(pts, x, "snr"), interp(pts, x, "gap")
                cells += ["%.2f" % s if s is not None else "out of ladder", "%.2f" % g if g is not None else ""]
            cells += ["%.2f" % statistics.median(p["enc"] for p in pts),
                      "%.0f" % statistics.median(p["dec"] for p in pts)]
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
