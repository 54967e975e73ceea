#!/usr/bin/python3
"""cifar_eval.py — top-1 accuracy of CIFAR-10 ResNets (the classic "option A"
ResNet-20/32/44/56 of He et al.: 3 stages of n BasicBlocks with 16/32/64
channels; the shortcut of a down-sampling block subsamples by 2 and pads the
new channels with zeros) stored as safetensors, on the shared CIFAR-10 test
set ../shared/data/cifar10_test_from_jpg.bin.

usage:
    /usr/bin/python3 bench/cifar_eval.py MODEL.safetensors [MORE.safetensors ...]
        [--data FILE] [--threads N] [--batch N]

Prints the accuracy of each model, and for the second and later models the
difference against the first. Give the float model first, then the files that
`hyperc decompress` gave back, e.g.

    build/hyperc compress ../shared/models/resnet56.safetensors -o out/r56.hyc
    build/hyperc decompress out/r56.hyc -o out/r56.safetensors
    /usr/bin/python3 bench/cifar_eval.py ../shared/models/resnet56.safetensors out/r56.safetensors

When the first model is the shared float ResNet-56 (resnet56.safetensors) its
accuracy must be 83.2% on this set (the set was decoded from JPEG copies, so
the published 93.6% does not apply); the script checks that and exits with
status 1 otherwise.

Needs Debian's PyTorch and NumPy for the system Python (CPU only):

    apt-get install -y python3-torch python3-numpy

The safetensors files are read by the small reader below (no safetensors
package): an 8-byte little-endian header length, a JSON header mapping names
to dtype/shape/data_offsets, then the tensor bytes.
"""
import argparse
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

FLOAT_RESNET56_ACCURACY = 83.2  # % on cifar10_test_from_jpg.bin (shared/README.md)
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
RECORD = 1 + 3 * 32 * 32


# ---- safetensors reader --------------------------------------------------

def read_safetensors(path):
    """Returns {name: float32 torch tensor} of a safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (hlen,) = struct.unpack("<Q", blob[:8])
    if hlen > len(blob) - 8:
        raise ValueError(f"{path}: header length {hlen} exceeds the file")
    header = json.loads(blob[8:8 + hlen].decode("utf-8"))
    data = memoryview(blob)[8 + hlen:]
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype, shape = entry["dtype"], entry["shape"]
        begin, end = entry["data_offsets"]
        if not 0 <= begin <= end <= len(data):
            raise ValueError(f"{path}: tensor '{name}' lies outside the file")
        raw = data[begin:end]
        if dtype == "F32":
            arr = np.frombuffer(raw, dtype="<f4")
        elif dtype == "F16":
            arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif dtype == "BF16":
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        elif dtype in ("I64", "I32"):
            arr = np.frombuffer(raw, dtype="<i8" if dtype == "I64" else "<i4").astype(np.float32)
        else:
            raise ValueError(f"{path}: tensor '{name}' has unsupported dtype {dtype}")
        count = int(np.prod(shape)) if shape else 1
        if arr.size != count:
            raise ValueError(f"{path}: tensor '{name}' holds {arr.size} values, shape {shape} needs {count}")
        out[name] = torch.from_numpy(arr.reshape(shape).copy())
    return out


# ---- the network ---------------------------------------------------------

def strip_prefix(weights):
    """Drops the 'module.' prefix that nn.DataParallel put on every name."""
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in weights.items()}


def blocks_per_stage(w):
    n = 0
    while f"layer1.{n}.conv1.weight" in w:
        n += 1
    for stage in (2, 3):
        if f"layer{stage}.{n - 1}.conv1.weight" not in w or f"layer{stage}.{n}.conv1.weight" in w:
            raise ValueError("not a CIFAR ResNet with equal stages (layer1..3)")
    if n == 0:
        raise ValueError("no layer1.0.conv1.weight: not a CIFAR ResNet")
    return n


def fold_bn(w, n):
    """Folds each BatchNorm (eval mode: running statistics) into the
    convolution before it: conv weight scaled per output channel, plus a bias.
    The same function, with a third of the passes over the activations."""
    eps = 1e-5
    folded = {}

    def fold(conv, norm):
        scale = w[norm + ".weight"] / torch.sqrt(w[norm + ".running_var"] + eps)
        folded[conv] = (w[conv + ".weight"] * scale.view(-1, 1, 1, 1),
                        w[norm + ".bias"] - w[norm + ".running_mean"] * scale)

    fold("conv1", "bn1")
    for stage in (1, 2, 3):
        for b in range(n):
            fold(f"layer{stage}.{b}.conv1", f"layer{stage}.{b}.bn1")
            fold(f"layer{stage}.{b}.conv2", f"layer{stage}.{b}.bn2")
    folded["linear"] = (w["linear.weight"], w["linear.bias"])
    return folded


def conv(x, p, name, stride):
    weight, bias = p[name]
    return F.conv2d(x, weight, bias, stride=stride, padding=1)


def basic_block(x, p, name, stride):
    out = F.relu(conv(x, p, name + ".conv1", stride))
    out = conv(out, p, name + ".conv2", 1)
    planes = out.shape[1]
    shortcut = x
    if stride != 1 or x.shape[1] != planes:
        # option A: subsample, then pad the missing channels with zeros on both sides
        pad = (planes - x.shape[1]) // 2
        shortcut = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, pad, planes - x.shape[1] - pad))
    return F.relu(out + shortcut)


def forward(x, p, n):
    out = F.relu(conv(x, p, "conv1", 1))
    for stage in (1, 2, 3):
        for b in range(n):
            out = basic_block(out, p, f"layer{stage}.{b}", 2 if stage > 1 and b == 0 else 1)
    out = F.adaptive_avg_pool2d(out, 1).flatten(1)
    return F.linear(out, *p["linear"])


# ---- data and evaluation ---------------------------------------------------

def load_cifar(path):
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % RECORD:
        raise ValueError(f"{path}: {raw.size} bytes is not a whole number of {RECORD}-byte records")
    rec = raw.reshape(-1, RECORD)
    labels = torch.from_numpy(rec[:, 0].astype(np.int64))
    images = torch.from_numpy(rec[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32) / 255.0)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (images - mean) / std, labels


def accuracy(w, images, labels, batch):
    n = blocks_per_stage(w)
    p = fold_bn(w, n)
    correct = 0
    with torch.inference_mode():
        for i in range(0, images.shape[0], batch):
            # channels-last activations: the faster layout for CPU convolutions
            x = images[i:i + batch].contiguous(memory_format=torch.channels_last)
            logits = forward(x, p, n)
            correct += int((logits.argmax(1) == labels[i:i + batch]).sum())
    return 100.0 * correct / images.shape[0], 6 * n + 2


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    shared = os.environ.get("HYPERC_SHARED", os.path.normpath(os.path.join(here, "..", "..", "shared")))
    ap = argparse.ArgumentParser(description="CIFAR-10 top-1 accuracy of ResNet safetensors files")
    ap.add_argument("models", nargs="+", help="safetensors files; the first is the reference")
    ap.add_argument("--data", default=os.path.join(shared, "data", "cifar10_test_from_jpg.bin"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    images, labels = load_cifar(args.data)
    print(f"{args.data}: {images.shape[0]} images")
    first = None
    status = 0
    for i, path in enumerate(args.models):
        t0 = time.time()
        w = strip_prefix(read_safetensors(path))
        acc, depth = accuracy(w, images, labels, args.batch)
        line = f"{path}: ResNet-{depth} top-1 {acc:.2f}%  ({time.time() - t0:.1f} s)"
        if first is None:
            first = acc
        else:
            line += f"  difference {acc - first:+.2f} points"
        print(line, flush=True)
        if i == 0 and os.path.basename(path) == "resnet56.safetensors":
            ok = abs(acc - FLOAT_RESNET56_ACCURACY) < 0.05 + 1e-9
            print(f"  float ResNet-56 reference: expected {FLOAT_RESNET56_ACCURACY}% on this set: "
                  f"{'OK' if ok else 'MISMATCH'}")
            if not ok:
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
