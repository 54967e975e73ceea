#!/usr/bin/python3
"""hyperc against llama.cpp, token generation on the same weights, in one run (`make bench-peer`).

What it does (every step is skipped when its output is already there):
  1. llama.cpp: uses HYPERC_PEER_DIR/bin/llama-bench and llama-quantize (default
     ~/.cache/hyperc-anchors/llama.cpp); if they are missing, builds them there with
     $HYPERC_SHARED/anchors/llama.cpp/build.sh (10-30 minutes). Never inside the project.
  2. In HYPERC_PEER_WORK (default ~/.cache/hyperc-anchors/work; several GB): the
     TinyLlama-shaped F32 GGUF from make_tinyllama_gguf.py, its Q4_K_M, Q4_0 and Q8_0
     quantisations (llama-quantize) and hyperc's files made from the same F32 GGUF:
     `hyperc compress` with the default settings and with `--preset paper-llm`.
     hyperc's float32 runs straight from the F32 GGUF.
  3. Times token generation interleaved (one sample of every setting per round, the
     settings alternating llama.cpp / hyperc), at each thread count:
       llama.cpp: llama-bench -m M -t T -p 0 -n 64 -r 1 -o json
       hyperc:    bench_llm M -t T -n 64 -r 1
     Both: one untimed warm-up token, then 64 single-token decode steps at positions
     0..63 from an empty cache (BOS, then random tokens), no prompt, no sampling.
     Peak RSS of every run: /usr/bin/time's %M of the child, the same for both tools.
  4. The same for stories260K: its default .hyc against its float32 safetensors.
Prints one line per sample, then per thread count a table: file size (MiB), bits per
weight (file bytes * 8 / parameters), tokens/s of every sample and their median, peak
RSS, and the ratios. Ratios are taken within a round (same minute of the machine), then
the median over rounds: on a shared machine the absolute speeds move, the ratios less.

Environment:
  HYPERC_BIN        hyperc binary (default build/hyperc); its .hyc files go in a folder
                    named after it, so another build (e.g. a faster branch) gets its own
  HYPERC_BENCH_LLM  bench_llm binary (default: build/bench/bench_llm)
  HYPERC_PEER_AGAINST=TREE  another built checkout (e.g. a branch's worktree): its
                    TREE/build/hyperc makes and runs the files, and this bench_llm.c is
                    compiled against its TREE/build/libhyperc.a (into the work folder)
  HYPERC_PEER_ALSO=TREE  as well: that build's runner on the same files, one more setting
                    interleaved with the others (before/after a kernel change in one run)
  HYPERC_PEER_DIR, HYPERC_PEER_WORK   as above
  HYPERC_PEER_THREADS  thread counts (default 1,2)
  HYPERC_PEER_ROUNDS   samples per setting and thread count (default 3)
  HYPERC_PEER_TOKENS   generated tokens per sample (default 64)
  HYPERC_PEER_STORIES_ROUNDS  rounds of the stories260K half (default 5)
  HYPERC_PEER_ONLY     'tinyllama' or 'stories' to run one half only
  HYPERC_PEER_REMAKE=1 make the hyperc files again
  HYPERC_SHARED        the shared data folder (default ../shared)
"""
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
env = os.environ.get


def die(msg):
    print("bench-peer: " + msg, file=sys.stderr)
    sys.exit(1)


def inside_repo(path):
    p = os.path.realpath(path)
    return p == ROOT or p.startswith(ROOT + os.sep)


def run_logged(cmd, log, cwd=None, extra_env=None):
    """Runs cmd with output to log; dies naming the log when it fails."""
    e = dict(os.environ)
    if extra_env:
        e.update(extra_env)
    t0 = time.time()
    with open(log, "w") as f:
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=cwd, env=e)
    if r.returncode != 0:
        with open(log) as f:
            tail = f.read()[-2000:]
        die("%s failed (exit %d); log %s:\n%s" % (" ".join(cmd), r.returncode, log, tail))
    return time.time() - t0


def run_sample(cmd):
    """Runs one sample in a fresh child; returns (stdout, stderr, exit code, peak RSS MiB, seconds).
    Peak RSS: GNU time's %M (wait4 of a child forked by that small program); without
    /usr/bin/time, wait4 here (ru_maxrss then counts this Python process's ~10 MiB too)."""
    t0 = time.time()
    if os.access("/usr/bin/time", os.X_OK):
        rss_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), "bench-peer-rss.%d" % os.getpid())
        p = subprocess.run(["/usr/bin/time", "-o", rss_file, "-f", "%M"] + cmd, capture_output=True, text=True)
        try:
            with open(rss_file) as f:
                rss = float(f.read().split()[-1]) / 1024.0
            os.unlink(rss_file)
        except (OSError, ValueError, IndexError):
            rss = float("nan")
        return p.stdout, p.stderr, p.returncode, rss, time.time() - t0
    rfd, wfd = os.pipe()
    efd_r, efd_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.dup2(wfd, 1)
        os.dup2(efd_w, 2)
        for fd in (rfd, wfd, efd_r, efd_w):
            os.close(fd)
        try:
            os.execv(cmd[0], cmd)
        finally:
            os._exit(127)
    os.close(wfd)
    os.close(efd_w)
    out = os.fdopen(rfd).read()
    errs = os.fdopen(efd_r).read()
    _, status, ru = os.wait4(pid, 0)
    rc = os.waitstatus_to_exitcode(status)
    return out, errs, rc, ru.ru_maxrss / 1024.0, time.time() - t0


# ---- step 1: llama.cpp ----------------------------------------------------------------
def llama_cpp(shared):
    dest = env("HYPERC_PEER_DIR") or os.path.expanduser("~/.cache/hyperc-anchors/llama.cpp")
    if inside_repo(dest):
        die("HYPERC_PEER_DIR=%s is inside the project; llama.cpp is built outside it" % dest)
    bench, quant = os.path.join(dest, "bin", "llama-bench"), os.path.join(dest, "bin", "llama-quantize")
    if not (os.access(bench, os.X_OK) and os.access(quant, os.X_OK)):
        build = os.path.join(shared, "anchors", "llama.cpp", "build.sh")
        if not os.path.exists(build):
            die("no llama.cpp in %s and no %s to build it" % (dest, build))
        for tool in ("cmake", "g++"):
            if not shutil.which(tool):
                die("building llama.cpp needs %s (Debian: apt-get install -y cmake g++)" % tool)
        os.makedirs(dest, exist_ok=True)
        print("building llama.cpp into %s (10-30 minutes; log %s/build.log)" % (dest, dest), flush=True)
        s = run_logged(["bash", build, dest], os.path.join(dest, "build.out"))
        print("  built in %.0f s" % s, flush=True)
    commit = ""
    try:
        with open(os.path.join(dest, "src", "COMMIT")) as f:
            commit = f.read().strip()[:10]
    except OSError:
        pass
    return dest, bench, quant, commit


# ---- step 2: the model files ----------------------------------------------------------
def make_files(shared, dest, quant, hyperc, work):
    os.makedirs(work, exist_ok=True)
    st = os.statvfs(work)
    f32 = os.path.join(work, "tl-f32.gguf")
    need = 0 if os.path.exists(f32) else 9 << 30
    if st.f_bavail * st.f_frsize < need:
        die("%s has %.1f GiB free; the model files need about 9 GiB" % (work, st.f_bavail * st.f_frsize / 2**30))
    if not os.path.exists(f32):
        src = os.path.join(dest, "src")
        pypath = [os.path.join(src, "gguf-py")]
        # gguf-py imports sentencepiece at load time; writing a GGUF never uses it
        chk = subprocess.run(["/usr/bin/python3", "-c", "import sentencepiece"], capture_output=True)
        if chk.returncode != 0:
            shim = os.path.join(work, "pyshim")
            os.makedirs(shim, exist_ok=True)
            with open(os.path.join(shim, "sentencepiece.py"), "w") as f:
                f.write("class SentencePieceProcessor:\n    def __init__(self, *a, **k):\n"
                        "        raise ImportError('sentencepiece stand-in')\n")
            pypath.append(shim)
        print("writing %s (4.2 GB, F32)" % f32, flush=True)
        s = run_logged(["/usr/bin/python3", os.path.join(shared, "anchors", "llama.cpp", "make_tinyllama_gguf.py"),
                        "f32", f32 + ".tmp", os.path.join(src, "models", "ggml-vocab-llama-spm.gguf")],
                       os.path.join(work, "make_gguf.log"), extra_env={"PYTHONPATH": os.pathsep.join(pypath)})
        os.rename(f32 + ".tmp", f32)
        print("  in %.0f s" % s, flush=True)
    files = {"f32": f32}
    for q in ("Q4_K_M", "Q4_0", "Q8_0"):
        out = os.path.join(work, "tl-%s.gguf" % q)
        if not os.path.exists(out):
            print("llama-quantize %s" % q, flush=True)
            s = run_logged([quant, f32, out + ".tmp", q, str(os.cpu_count() or 2)], os.path.join(work, "quantize-%s.log" % q))
            os.rename(out + ".tmp", out)
            print("  in %.0f s" % s, flush=True)
        files[q] = out
    tag = hashlib.sha1(os.path.realpath(hyperc).encode()).hexdigest()[:8]
    hdir = os.path.join(work, "hyc-" + tag)
    os.makedirs(hdir, exist_ok=True)
    with open(os.path.join(hdir, "HYPERC_BIN"), "w") as f:
        f.write(os.path.realpath(hyperc) + "\n")
    for name, extra in (("default", []), ("paper-llm", ["--preset", "paper-llm"])):
        out = os.path.join(hdir, "tl-%s.hyc" % name)
        if env("HYPERC_PEER_REMAKE") == "1" or not os.path.exists(out):
            print("hyperc compress %s %s" % (" ".join(extra) or "(default)", out), flush=True)
            log = os.path.join(hdir, "compress-%s.log" % name)
            s = run_logged([hyperc, "compress", f32, "-o", out, "-f", "-q"] + extra, log)
            print("  in %.0f s" % s, flush=True)
        files[name] = out
    return files, hdir


# ---- step 3: timing -------------------------------------------------------------------
def sample_llama(bench, path, threads, tokens):
    out, errs, rc, rss, _ = run_sample([bench, "-m", path, "-t", str(threads), "-p", "0", "-n", str(tokens),
                                        "-r", "1", "-o", "json"])
    if rc != 0:
        die("llama-bench on %s failed (exit %d):\n%s" % (path, rc, errs[-2000:]))
    j = json.loads(out)[0]
    return {"tps": float(j["avg_ts"]), "params": int(j["model_n_params"]), "rss": rss}


def sample_hyperc(bench_llm, path, threads, tokens, reps=1):
    out, errs, rc, rss, _ = run_sample([bench_llm, path, "-t", str(threads), "-n", str(tokens), "-r", str(reps)])
    if rc != 0:
        die("bench_llm on %s failed (exit %d):\n%s" % (path, rc, errs[-2000:]))
    kv = dict(f.split("=", 1) for f in out.split() if "=" in f)
    return {"tps": float(kv["mean_tps"]), "params": int(kv["params"]), "rss": rss}


def interleave(settings, threads_list, rounds, tokens, title):
    """settings: [(label, tool, path, fn)]; returns {threads: {label: [sample]}}"""
    res = {}
    for t in threads_list:
        res[t] = {lab: [] for lab, _, _, _ in settings}
        for r in range(rounds):
            for lab, tool, path, fn in settings:
                s = fn(path, t)
                res[t][lab].append(s)
                print("  %s  threads %d  round %d  %-10s %-18s %8.2f tokens/s   peak RSS %7.1f MiB   (load %.2f)"
                      % (title, t, r + 1, tool, lab, s["tps"], s["rss"], os.getloadavg()[0]), flush=True)
    return res


def ratio(res_t, a, b):
    """per-round ratios a/b and their median"""
    rs = [x["tps"] / y["tps"] for x, y in zip(res_t[a], res_t[b]) if y["tps"] > 0]
    return rs, (statistics.median(rs) if rs else float("nan"))


def table(res, settings, files, params, refs):
    for t, rt in res.items():
        print("\nthreads %d" % t)
        hdr = "| tool | weights | file MiB | bits/weight | tokens/s per sample | median | peak RSS MiB |"
        for lab, _ in refs:
            hdr += " ÷ %s (per round; median) |" % lab
        print(hdr)
        print("|" + "---|" * (7 + len(refs)))
        for lab, tool, path, _ in settings:
            sz = os.path.getsize(path)
            row = "| %s | %s | %.1f | %.2f | %s | %.2f | %.1f |" % (
                tool, lab, sz / 1048576.0, sz * 8.0 / params, " / ".join("%.2f" % s["tps"] for s in rt[lab]),
                statistics.median(s["tps"] for s in rt[lab]), max(s["rss"] for s in rt[lab]))
            for ref, applies in refs:
                if applies(lab, tool) and lab != ref:
                    rs, med = ratio(rt, lab, ref)
                    row += " %s; **%.2f×** |" % (" ".join("%.2f" % x for x in rs), med)
                else:
                    row += " |"
            print(row)


def other_tree(tree, work):
    """(hyperc, bench_llm) of another built checkout: bench_llm.c compiled against its libhyperc.a"""
    tree = os.path.abspath(tree)
    hyperc = os.path.join(tree, "build", "hyperc")
    lib = os.path.join(tree, "build", "libhyperc.a")
    if not os.path.exists(lib):
        die("%s is missing (make -j2 all in %s)" % (lib, tree))
    tag = hashlib.sha1(os.path.realpath(hyperc).encode()).hexdigest()[:8]
    os.makedirs(work, exist_ok=True)
    bench_llm = os.path.join(work, "bench_llm-" + tag)
    run_logged(["cc", "-std=c11", "-D_GNU_SOURCE", "-O2", "-I" + os.path.join(tree, "include"), "-pthread",
                os.path.join(ROOT, "bench", "bench_llm.c"), lib, "-o", bench_llm, "-lm", "-pthread"],
               bench_llm + ".log")
    return hyperc, bench_llm


def main():
    # a SIGTERM unwinds like ^C: subprocess.run then kills the sample in flight
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    shared = env("HYPERC_SHARED") or os.path.join(os.path.dirname(ROOT), "shared")
    hyperc = os.path.abspath(env("HYPERC_BIN") or os.path.join(ROOT, "build", "hyperc"))
    bench_llm = os.path.abspath(env("HYPERC_BENCH_LLM") or os.path.join(ROOT, "build", "bench", "bench_llm"))
    work = env("HYPERC_PEER_WORK") or os.path.expanduser("~/.cache/hyperc-anchors/work")
    if inside_repo(work):
        die("HYPERC_PEER_WORK=%s is inside the project; the files are GBs" % work)
    if env("HYPERC_PEER_AGAINST"):
        hyperc, bench_llm = other_tree(env("HYPERC_PEER_AGAINST"), work)
    # HYPERC_PEER_ALSO=TREE: that build's runner on the same default .hyc, as one more setting
    also = other_tree(env("HYPERC_PEER_ALSO"), work)[1] if env("HYPERC_PEER_ALSO") else None
    also_lab = "default .hyc (%s)" % os.path.basename(os.path.abspath(env("HYPERC_PEER_ALSO") or ".").rstrip("/"))
    for b in (hyperc, bench_llm):
        if not os.access(b, os.X_OK):
            die("%s is missing (make -j2 all %s)" % (b, "build/bench/bench_llm" if b == bench_llm else ""))
    threads_list = [int(x) for x in (env("HYPERC_PEER_THREADS") or "1,2").split(",")]
    rounds = int(env("HYPERC_PEER_ROUNDS") or 3)
    tokens = int(env("HYPERC_PEER_TOKENS") or 64)
    only = env("HYPERC_PEER_ONLY") or ""

    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
        cpu = next(l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith("model name"))
        flags = next(l.split(":", 1)[1].split() for l in info.splitlines() if l.startswith("flags"))
        simd = [x for x in ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni") if x in flags]
        cpu += " (%d cores; %s)" % (os.cpu_count() or 0, " ".join(simd))
    except (OSError, StopIteration):
        pass
    print("bench-peer %s: %s; hyperc %s; HYPERC_SIMD=%s" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), cpu,
                                                          hyperc, env("HYPERC_SIMD") or "(auto)"), flush=True)

    if only in ("", "tinyllama"):
        dest, bench, quant, commit = llama_cpp(shared)
        files, hdir = make_files(shared, dest, quant, hyperc, work)
        print("llama.cpp %s (commit %s); hyperc files in %s" % (dest, commit, hdir), flush=True)
        L = lambda p, t: sample_llama(bench, p, t, tokens)
        H = lambda p, t: sample_hyperc(bench_llm, p, t, tokens)
        settings = [("Q4_K_M", "llama.cpp", files["Q4_K_M"], L), ("default .hyc", "hyperc", files["default"], H),
                    ("Q4_0", "llama.cpp", files["Q4_0"], L), ("paper-llm .hyc", "hyperc", files["paper-llm"], H),
                    ("Q8_0", "llama.cpp", files["Q8_0"], L), ("float32 (F32 GGUF)", "hyperc", files["f32"], H)]
        if also:
            settings.insert(2, (also_lab, "hyperc", files["default"], lambda p, t: sample_hyperc(also, p, t, tokens)))
        print("\nTinyLlama shape (1.1 B, random weights), %d generated tokens per sample, %d rounds, interleaved:"
              % (tokens, rounds), flush=True)
        for t in threads_list:  # each thread count's table as soon as its rounds are done
            res = interleave(settings, [t], rounds, tokens, "tinyllama")
            params = res[t]["Q4_K_M"][0]["params"]
            hp = res[t]["default .hyc"][0]["params"]
            if hp != params:
                print("note: llama.cpp counts %d parameters, hyperc %d" % (params, hp))
            table(res, settings, files, params,
                  [("Q4_K_M", lambda lab, tool: True),
                   ("float32 (F32 GGUF)", lambda lab, tool: tool == "hyperc")])

    if only in ("", "stories"):
        st = os.path.join(shared, "models", "stories260K.safetensors")
        if not os.path.exists(st):
            die("%s is missing" % st)
        os.makedirs(work, exist_ok=True)
        tag = hashlib.sha1(os.path.realpath(hyperc).encode()).hexdigest()[:8]
        hdir = os.path.join(work, "hyc-" + tag)
        os.makedirs(hdir, exist_ok=True)
        hyc = os.path.join(hdir, "stories260K.hyc")
        if env("HYPERC_PEER_REMAKE") == "1" or not os.path.exists(hyc):
            run_logged([hyperc, "compress", st, "-o", hyc, "-f", "-q"], os.path.join(hdir, "compress-stories.log"))
        # stories260K: 64 tokens take milliseconds; 256 tokens x 20 reps per sample
        S = lambda p, t: sample_hyperc(bench_llm, p, t, 256, 20)
        settings = [("float32 safetensors", "hyperc", st, S), ("default .hyc", "hyperc", hyc, S)]
        if also:
            S2 = lambda p, t: sample_hyperc(also, p, t, 256, 20)
            settings += [("float32 (%s)" % also_lab[14:-1], "hyperc", st, S2), (also_lab, "hyperc", hyc, S2)]
        srounds = int(env("HYPERC_PEER_STORIES_ROUNDS") or 5)
        print("\nstories260K, 256 tokens x 20 reps per sample (mean), %d rounds, interleaved:" % srounds, flush=True)
        for t in threads_list:
            res = interleave(settings, [t], srounds, 256, "stories")
            params = res[t]["default .hyc"][0]["params"]
            refs = [("float32 safetensors", lambda lab, tool: "(" not in lab)]
            if also:
                refs.append((settings[2][0], lambda lab, tool: "(" in lab))
            table(res, settings, {}, params, refs)


if __name__ == "__main__":
    main()
