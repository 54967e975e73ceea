"""Minimal safetensors reading and writing (internal): the format is an
8-byte little-endian header length, a JSON header, and the tensors' bytes."""
import json
import os
import struct

import numpy as np

# hc_dtype numbers (include/hyperc.h) and safetensors names
DTYPES = ["F32", "F16", "BF16", "F64", "I8", "I16", "I32", "I64", "U8", "U16", "U32", "U64", "BOOL",
          "F8_E4M3", "F8_E5M2"]
SIZES = {"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I8": 1, "I16": 2, "I32": 4, "I64": 8, "U8": 1, "U16": 2,
         "U32": 4, "U64": 8, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1}
# numpy storage dtype of each (BF16 and F8 are held as raw unsigned integers)
NP_STORAGE = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "F64": np.float64, "I8": np.int8,
              "I16": np.int16, "I32": np.int32, "I64": np.int64, "U8": np.uint8, "U16": np.uint16,
              "U32": np.uint32, "U64": np.uint64, "BOOL": np.bool_, "F8_E4M3": np.uint8, "F8_E5M2": np.uint8}
NP_TO_ST = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16", np.dtype(np.float64): "F64",
            np.dtype(np.int8): "I8", np.dtype(np.int16): "I16", np.dtype(np.int32): "I32",
            np.dtype(np.int64): "I64", np.dtype(np.uint8): "U8", np.dtype(np.uint16): "U16",
            np.dtype(np.uint32): "U32", np.dtype(np.uint64): "U64", np.dtype(np.bool_): "BOOL"}


def to_bytes(value):
    """(safetensors dtype, shape, bytes-like) of a torch tensor or numpy array
    (torch: detached and moved to the CPU)."""
    mod = type(value).__module__
    if mod.startswith("torch"):
        import torch
        t = value.detach().to("cpu").contiguous()
        tmap = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
                torch.int8: "I8", torch.int16: "I16", torch.int32: "I32", torch.int64: "I64",
                torch.uint8: "U8", torch.bool: "BOOL"}
        if t.dtype not in tmap:
            raise TypeError("hyperc: unsupported torch dtype %s" % t.dtype)
        st = tmap[t.dtype]
        arr = t.view(torch.int16).numpy() if st == "BF16" else t.numpy()
        return st, list(t.shape), np.ascontiguousarray(arr).reshape(-1).view(np.uint8)
    arr = np.asarray(value)
    if arr.dtype not in NP_TO_ST:
        raise TypeError("hyperc: unsupported numpy dtype %s" % arr.dtype)
    arr = np.ascontiguousarray(arr)
    return NP_TO_ST[arr.dtype], list(arr.shape), arr.reshape(-1).view(np.uint8)


def write(path, items, metadata=None):
    """Writes a safetensors file from items: a list of (name, dtype, shape,
    bytes-like) in order."""
    header = {}
    off = 0
    for name, dt, shape, data in items:
        n = len(memoryview(data).cast("B"))
        expect = SIZES[dt]
        for s in shape:
            expect *= int(s)
        if n != expect:
            raise ValueError("hyperc: tensor %r holds %d bytes, its shape needs %d" % (name, n, expect))
        header[name] = {"dtype": dt, "shape": [int(s) for s in shape], "data_offsets": [off, off + n]}
        off += n
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for _, _, _, data in items:
            f.write(memoryview(data).cast("B"))


def read_header(path):
    """(header dict, data start offset) of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise ValueError("%s: not a safetensors file (too short)" % path)
        (n,) = struct.unpack("<Q", raw)
        if n > min(os.path.getsize(path) - 8, 100 << 20):
            raise ValueError("%s: not a safetensors file (header length %d)" % (path, n))
        return json.loads(f.read(n)), 8 + n


def read(path):
    """The tensors of a safetensors file as (name, dtype, shape, uint8 memmap)
    items in file order, and its metadata."""
    header, start = read_header(path)
    meta = header.pop("__metadata__", None)
    mm = np.memmap(path, dtype=np.uint8, mode="r") if os.path.getsize(path) > start else np.zeros(0, np.uint8)
    items = []
    for name, v in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        a, b = v["data_offsets"]
        items.append((name, v["dtype"], v["shape"], mm[start + a:start + b]))
    return items, meta
