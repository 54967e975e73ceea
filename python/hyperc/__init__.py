"""hyperc — Hyper-Compression of neural-network weights, from Python.

A thin ctypes layer over libhyperc.so (no compiled extension):

    import hyperc
    rep = hyperc.compress(model.state_dict(), "m.hyc", bpw=4.5)   # or a .safetensors path / model folder
    sd = hyperc.load("m.hyc")                       # dict of torch tensors, original names/shapes/dtypes
    f = hyperc.open("m.hyc"); w = f["layers.0.attention.wq.weight"]   # lazy: decodes on access
    hyperc.nn.from_hyc(model, "m.hyc")              # nn.Linear -> fused decode-and-multiply modules

Errors of the library are raised as HypercError with its message.
"""
import collections.abc
import json
import math
import os
import sys
import tempfile
import ctypes

import numpy as np

from . import _lib, _st
from ._lib import HypercError

__all__ = ["compress", "load", "open", "decompress", "HypercError", "HycFile", "CompressReport",
           "TensorReport", "version", "CODECS"]

CODECS = ("raw", "paper", "q8b", "q4b", "qkm", "hlat")


def version():
    """The libhyperc version string ("0.1.0")."""
    return _lib.hc_version().decode()


class TensorReport:
    """How one tensor was stored: name, codec, bpw (bits per weight of its
    payload), nmse (sum (w-w')^2 / sum w^2; 0 when lossless), snr_db
    (-10 log10 nmse; inf when lossless), max_abs_err, bytes_in, bytes_out,
    seconds, note (why a coded tensor was kept lossless, or "")."""

    __slots__ = ("name", "codec", "bpw", "nmse", "snr_db", "max_abs_err", "bytes_in", "bytes_out", "seconds",
                 "note", "nelem", "shape", "dtype")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw.get(k))

    def __repr__(self):
        return "TensorReport(%s: %s %.3f bpw, SNR %.1f dB)" % (self.name, self.codec, self.bpw, self.snr_db)


class CompressReport:
    """The result of hyperc.compress: ``tensors`` (list of TensorReport, in
    file order), ``bytes_in``, ``bytes_out`` (the .hyc file's size), ``ratio``,
    ``bpw`` (mean bits per coded weight), ``snr_db`` (of the coded weights,
    from their size-weighted mean NMSE), ``weights_total``, ``weights_coded``,
    ``seconds``, ``path``. ``str(report)`` is a table."""

    def __init__(self, path, tensors, bytes_out, seconds):
        self.path = path
        self.tensors = tensors
        self.bytes_in = sum(t.bytes_in for t in tensors)
        self.bytes_out = bytes_out
        self.seconds = seconds
        coded = [t for t in tensors if t.codec != "raw"]
        self.weights_total = sum(t.nelem for t in tensors if t.dtype in ("F32", "F16", "BF16"))
        self.weights_coded = sum(t.nelem for t in coded)
        self.bpw = sum(t.bpw * t.nelem for t in coded) / self.weights_coded if self.weights_coded else 0.0
        nmse = sum(t.nmse * t.nelem for t in coded) / self.weights_coded if self.weights_coded else 0.0
        self.nmse = nmse
        self.snr_db = -10 * math.log10(nmse) if nmse > 0 else math.inf
        self.ratio = self.bytes_in / self.bytes_out if self.bytes_out else 0.0

    def __getitem__(self, name):
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)

    def __str__(self):
        lines = ["%-44s %-6s %8s %8s" % ("tensor", "codec", "bpw", "SNR dB")]
        for t in self.tensors:
            lines.append("%-44s %-6s %8.3f %8.1f" % (t.name[:44], t.codec, t.bpw, t.snr_db))
        lines.append("%d -> %d bytes (%.2fx), %d of %d weights coded at %.3f bpw, SNR %.1f dB, %.2f s" % (
            self.bytes_in, self.bytes_out, self.ratio, self.weights_coded, self.weights_total, self.bpw,
            self.snr_db, self.seconds))
        return "\n".join(lines)

    def __repr__(self):
        return "CompressReport(%s: %.2fx, %.3f bpw, SNR %.1f dB)" % (self.path, self.ratio, self.bpw, self.snr_db)


def compress(state_dict_or_path, out_path, bpw=None, codec=None, keep=None, threads=None, progress=False,
             snr=None, preset=None, overwrite=True, metadata=None, attach=None, tokenizer=None, **options):
    """Compresses a model's weights into a .hyc file and returns a CompressReport.

    state_dict_or_path: a mapping name -> torch tensor or numpy array (any
        device; moved to the CPU. F32/F16/BF16 tensors are coded, others kept
        exactly), a .safetensors, GGUF or llama2.c file, or a Hugging Face
        model folder (model.safetensors, or shards listed by
        model.safetensors.index.json, checked against them; the folder's small
        files, config.json and tokenizer files, are stored in the .hyc).
    out_path: the .hyc file to write (written to a temporary name, renamed).
    bpw: size budget, mean bits per coded weight (e.g. 4.5); None: codec default.
    codec: "hlat" (default), "paper", "qkm", "q8b", "q4b" or "raw".
    keep: glob pattern(s) (str or list) of tensor names kept lossless.
    threads: encoder threads (None: all cores).
    progress: True prints one line per tensor to stderr; a callable gets each
        TensorReport as it is done.
    snr: quality target in dB instead of a size budget; preset: "paper-llm",
        "paper-vision" or "default"; overwrite: replace an existing out_path;
        metadata: dict of strings stored with a state dict; attach: file
        path(s) stored verbatim in the .hyc (read back by open().attachments);
        tokenizer: a tokenizer file stored as the model's tokenizer.
    Further keyword options are passed to the library by name: bits, block,
    dim, min_elems, points, bands, loss_limit, rect_l_sigmas.
    Raises HypercError with the library's message on failure."""
    settings = []
    if preset is not None:
        settings.append(("preset", preset))
    if codec is not None:
        settings.append(("codec", codec))
    if bpw is not None:
        settings.append(("bpw", repr(float(bpw))))
    if snr is not None:
        settings.append(("snr", repr(float(snr))))
    if keep:
        settings.append(("keep", keep if isinstance(keep, str) else ",".join(keep)))
    for k, v in options.items():
        settings.append((k, v))
    obuf, keepalive = _lib.opts(settings)
    shapes = {}
    t0 = __import__("time").perf_counter()
    with tempfile.TemporaryDirectory(prefix="hyperc-") as tmp:
        if isinstance(state_dict_or_path, (str, os.PathLike)):
            src = os.fspath(state_dict_or_path)  # a folder too: the library reads its shards and files
        elif isinstance(state_dict_or_path, collections.abc.Mapping):
            items = []
            for name, value in state_dict_or_path.items():
                dt, shape, data = _st.to_bytes(value)
                items.append((str(name), dt, shape, data))
            src = os.path.join(tmp, "input.safetensors")
            _st.write(src, items, metadata)
        else:
            raise TypeError("hyperc.compress: expected a state dict (mapping) or a path, got %s"
                            % type(state_dict_or_path).__name__)
        reports = []
        raised = []

        def on_tensor(rptr, user):
            try:
                name, codec_, note = _lib.c_str(), _lib.c_int(), _lib.c_str()
                d = [_lib.c_dbl() for _ in range(4)]
                u = [_lib.c_u64() for _ in range(2)]
                _lib.hc_tensor_report_get(rptr, ctypes.byref(name), ctypes.byref(codec_), ctypes.byref(d[0]),
                                          ctypes.byref(d[1]), ctypes.byref(d[2]), ctypes.byref(u[0]),
                                          ctypes.byref(u[1]), ctypes.byref(d[3]), ctypes.byref(note))
                nmse = d[1].value
                r = TensorReport(name=name.value.decode("utf-8", "replace"),
                                 codec=_lib.hc_codec_name(codec_.value).decode(), bpw=d[0].value, nmse=nmse,
                                 snr_db=-10 * math.log10(nmse) if nmse > 0 else math.inf, max_abs_err=d[2].value,
                                 bytes_in=u[0].value, bytes_out=u[1].value, seconds=d[3].value,
                                 note=(note.value or b"").decode("utf-8", "replace"))
                reports.append(r)
                if callable(progress):
                    progress(r)
                elif progress:
                    sys.stderr.write("[%d] %-44s %-6s %7.3f bpw  SNR %6.1f dB\n" % (
                        len(reports), r.name, r.codec, r.bpw, r.snr_db))
            except BaseException as e:  # never let an exception cross the C boundary: raised after the call
                raised.append(e)

        cb = _lib.PROGRESS(on_tensor)
        rep = ctypes.create_string_buffer(4096)
        err = _lib.Error()
        paths = [attach] if isinstance(attach, (str, os.PathLike)) else list(attach or [])
        c_paths = (_lib.c_str * max(len(paths), 1))(*[os.fsencode(p) for p in paths])
        extra = _lib.CompressExtra(os.fsencode(tokenizer) if tokenizer else None, c_paths, len(paths), None, None)
        s = _lib.hc_compress_path(os.fsencode(src), os.fsencode(out_path), obuf, ctypes.byref(extra),
                                  int(threads) if threads else 0, 1 if overwrite else 0, cb, None, rep, err.ptr)
        del keepalive
        err.check(s)
        if raised:
            raise raised[0]
    with open(out_path) as f:
        shapes = {d["name"]: d for d in f._infos}
    for r in reports:
        info = shapes.get(r.name)
        if info:
            r.shape, r.dtype = info["shape"], info["dtype"]
            r.nelem = int(np.prod(info["shape"], dtype=np.int64)) if info["shape"] else 1
        else:
            r.shape, r.dtype, r.nelem = None, None, 0
    return CompressReport(os.fspath(out_path), reports, os.path.getsize(out_path),
                          __import__("time").perf_counter() - t0)


_TORCH_DTYPES = None


def _torch_dtypes():
    global _TORCH_DTYPES
    if _TORCH_DTYPES is None:
        import torch
        _TORCH_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
                         "I8": torch.int8, "I16": torch.int16, "I32": torch.int32, "I64": torch.int64,
                         "U8": torch.uint8, "BOOL": torch.bool, "F8_E4M3": torch.uint8, "F8_E5M2": torch.uint8}
    return _TORCH_DTYPES


def _np_dtype(dt):
    return np.dtype(_st.NP_STORAGE[dt])


class HycFile(collections.abc.Mapping):
    """A .hyc file opened for random access (returned by hyperc.open).

    A read-only Mapping name -> tensor that decodes a tensor only when it is
    read (``f[name]``, ``f.get``, iteration over ``f.items()``), so a large
    model can be inspected without decoding all of it. ``f.tensor(name,
    device=, dtype=, as_numpy=)`` gives control over the result; ``f.info()``
    describes every tensor without decoding; ``f.metadata`` is the source's
    metadata (dict); ``f.verify()`` checks every payload CRC. Use as a context
    manager or call close(); tensors already returned stay valid."""

    def __init__(self, path, threads=None, as_numpy=False, device="cpu", dtype=None):
        self.path = os.fspath(path)
        self.threads = int(threads) if threads else 0
        self._as_numpy, self._device, self._dtype = as_numpy, device, dtype
        self._h = None
        h = _lib.c_ptr()
        err = _lib.Error()
        err.check(_lib.hc_hyc_open(os.fsencode(self.path), ctypes.byref(h), err.ptr))
        self._h = h
        self._infos = [self._describe(i) for i in range(_lib.hc_hyc_count(h))]
        self._names = [d["name"] for d in self._infos]
        self._index = {n: i for i, n in enumerate(self._names)}

    def _handle(self):
        if self._h is None:
            raise ValueError("hyperc: %s is closed" % self.path)
        return self._h

    def _describe(self, i):
        name, dt, codec = _lib.c_str(), _lib.c_int(), _lib.c_int()
        ndim, size = _lib.c_u32(), _lib.c_u64()
        shape = (_lib.c_u64 * 8)()
        err = _lib.Error()
        err.check(_lib.hc_hyc_describe(self._handle(), i, ctypes.byref(name), ctypes.byref(dt), ctypes.byref(ndim),
                                       shape, ctypes.byref(codec), ctypes.byref(size), err.ptr))
        shp = shape[:min(ndim.value, 8)]
        nelem = 1
        for v in shp:
            nelem *= v
        return {"name": name.value.decode("utf-8", "replace"), "dtype": _st.DTYPES[dt.value], "shape": shp,
                "codec": _lib.hc_codec_name(codec.value).decode(), "payload_bytes": size.value,
                "bpw": 8.0 * size.value / nelem if nelem else 0.0, "nelem": nelem}

    def close(self):
        """Closes the file (unmaps it). Compressed modules made from it keep
        their own reference and stay usable."""
        if self._h is not None:
            _lib.hc_hyc_close(self._h)
            self._h = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def __len__(self):
        return len(self._names)

    def __iter__(self):
        return iter(self._names)

    def __contains__(self, name):
        return name in self._index

    def __getitem__(self, name):
        return self.tensor(name, device=self._device, dtype=self._dtype, as_numpy=self._as_numpy)

    def index(self, name):
        """Position of tensor `name` in the file (KeyError if absent)."""
        return self._index[name]

    def info(self, name=None):
        """Description of one tensor (dict: name, dtype, shape, nelem, codec,
        payload_bytes, bpw) or, without a name, a list of all of them plus
        nothing decoded."""
        if name is not None:
            return dict(self._infos[self._index[name]])
        return [dict(d) for d in self._infos]

    @property
    def metadata(self):
        """The source file's safetensors metadata as a dict ({} if none)."""
        n = _lib.c_size()
        p = _lib.hc_hyc_metadata(self._handle(), ctypes.byref(n))
        if not p:
            return {}
        text = ctypes.string_at(p, n.value).decode("utf-8", "replace")
        try:
            v = json.loads(text)
            return v if isinstance(v, dict) else {"__metadata__": v}
        except ValueError:
            return {"__metadata__": text}

    @property
    def attachments(self):
        """The files stored with the weights (config.json, tokenizer files,
        --attach files) as a dict name -> bytes, each checked against its
        CRC-32C when read; {} for a file without any."""
        h = self._handle()
        out = {}
        for i in range(_lib.hc_hyc_attachment_count(h)):
            a = _lib.hc_hyc_attachment_get(h, i).contents
            p = _lib.c_ptr()
            err = _lib.Error()
            err.check(_lib.hc_hyc_attachment_data(h, i, ctypes.byref(p), err.ptr))
            out[a.name.decode("utf-8", "replace")] = ctypes.string_at(p, a.size) if a.size else b""
        return out

    @property
    def file_size(self):
        """Size of the .hyc file in bytes."""
        return int(_lib.hc_hyc_file_size(self._handle()))

    @property
    def writer_version(self):
        """Which software wrote the file ("hyperc 0.1.0"), or ""."""
        return (_lib.hc_hyc_writer_version(self._handle()) or b"").decode()

    def verify(self):
        """Checks every payload's CRC-32C; raises HypercError on damage."""
        err = _lib.Error()
        err.check(_lib.hc_hyc_verify(self._handle(), err.ptr))

    def numpy(self, name):
        """Tensor `name` decoded as a numpy array of its stored dtype (BF16 as
        float32, F8 as raw uint8)."""
        i = self._index[name]
        d = self._infos[i]
        arr = np.empty(d["shape"], dtype=_np_dtype(d["dtype"]))
        err = _lib.Error()
        err.check(_lib.hc_hyc_decode_tensor(self._handle(), i, arr.ctypes.data_as(_lib.c_ptr), arr.nbytes,
                                            self.threads, err.ptr))
        if d["dtype"] == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        return arr

    def float32(self, name):
        """Tensor `name` (F32, F16 or BF16) decoded straight to a float32 numpy array."""
        i = self._index[name]
        d = self._infos[i]
        arr = np.empty(d["shape"], dtype=np.float32)
        err = _lib.Error()
        err.check(_lib.hc_hyc_decode_f32(self._handle(), i, arr.ctypes.data_as(_lib.c_ptr), arr.size,
                                         self.threads, err.ptr))
        return arr

    def tensor(self, name, device="cpu", dtype=None, as_numpy=False):
        """Decodes tensor `name`: a torch tensor of its original dtype on
        `device` (cast to `dtype` if given), or with as_numpy=True a numpy
        array (BF16 as float32). Torch lacks uint16/32/64 and float8 in older
        versions: those come back as numpy arrays / raw uint8."""
        if as_numpy:
            a = self.numpy(name)
            return a.astype(dtype) if dtype is not None else a
        import torch
        i = self._index[name]
        d = self._infos[i]
        dt = d["dtype"]
        tmap = _torch_dtypes()
        if dt not in tmap:
            return self.numpy(name)
        if dt in ("F32", "F16", "BF16") and dtype == torch.float32 and d["codec"] != "raw":
            t = torch.from_numpy(self.float32(name))
        else:
            t = torch.empty(d["shape"], dtype=tmap[dt])
            err = _lib.Error()
            err.check(_lib.hc_hyc_decode_tensor(self._handle(), i, _lib.c_ptr(t.data_ptr()),
                                                t.numel() * t.element_size(), self.threads, err.ptr))
        if dtype is not None and t.dtype != dtype:
            t = t.to(dtype)
        if str(device) != "cpu":
            t = t.to(device)
        return t

    def __repr__(self):
        return "<hyperc.HycFile %s: %d tensors%s>" % (self.path, len(self), "" if self._h else " (closed)")


def open(path, threads=None, as_numpy=False, device="cpu", dtype=None):  # noqa: A001 (mirrors builtins.open)
    """Opens a .hyc file for lazy, random-access reading: returns a HycFile,
    a Mapping name -> tensor decoding each tensor only when it is read.
    as_numpy, device, dtype: how f[name] returns tensors (see HycFile.tensor);
    threads: decoder threads per tensor (None: all cores).
    Raises HypercError (the library's message) on a bad or damaged file."""
    return HycFile(path, threads=threads, as_numpy=as_numpy, device=device, dtype=dtype)


def load(path, device="cpu", dtype=None, as_numpy=False, threads=None):
    """Decodes a whole .hyc file: a dict name -> torch tensor (original names,
    order, shapes and dtypes; on `device`, cast to `dtype` floating tensors if
    given), or numpy arrays with as_numpy=True. Raises HypercError on a bad
    or damaged file."""
    out = {}
    with HycFile(path, threads=threads) as f:
        for name in f:
            if dtype is not None:
                d = f._infos[f._index[name]]["dtype"]
                cast = dtype if d in ("F32", "F16", "BF16", "F64") else None
            else:
                cast = None
            out[name] = f.tensor(name, device=device, dtype=cast, as_numpy=as_numpy)
    return out


def decompress(path, out_path, threads=None, overwrite=True):
    """Writes a .hyc file back as safetensors (original names, order, dtypes
    and metadata). Raises HypercError on failure."""
    err = _lib.Error()
    err.check(_lib.hc_decompress_file(os.fsencode(path), os.fsencode(out_path), int(threads) if threads else 0,
                                      1 if overwrite else 0, err.ptr))


from . import nn  # noqa: E402,F401  (hyperc.nn; imports torch only when used)
