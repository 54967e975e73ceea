"""Tests of the hyperc Python package: round trips for every codec and
dtype, the lazy mapping, inputs (state dicts, numpy, safetensors, folders),
and bad input (missing, truncated, flipped files; bad options)."""
import json
import os
import shutil
import sys
import tempfile
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hyperc  # noqa: E402
from hyperc import _st  # noqa: E402

SHARED = os.environ.get("HYPERC_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared"))
CI = os.environ.get("CI") == "true"


def shared(rel):
    p = os.path.join(SHARED, rel)
    if not os.path.exists(p):
        if CI:
            raise AssertionError("shared file missing under CI=true: " + p)
        raise unittest.SkipTest("shared file missing: " + p)
    return p


def nmse(a, b):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(((a - b) ** 2).sum() / max((a ** 2).sum(), 1e-30))


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hyperc-pytest-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)


class RoundTrip(Base):
    def test_every_codec_and_dtype(self):
        g = torch.Generator().manual_seed(1)
        base = torch.randn(48, 96, generator=g) * 0.05
        limits = {"raw": 0.0, "q8b": 1e-3, "q4b": 0.05, "qkm": 0.05, "hlat": 0.05, "paper": 0.5}
        for codec, lim in limits.items():
            for dt in (torch.float32, torch.float16, torch.bfloat16):
                with self.subTest(codec=codec, dtype=dt):
                    sd = {"w": base.to(dt), "bias": torch.randn(96, generator=g).to(dt)}
                    out = self.path("%s_%s.hyc" % (codec, str(dt)[6:]))
                    rep = hyperc.compress(sd, out, codec=codec)
                    self.assertEqual([t.name for t in rep.tensors], ["w", "bias"])
                    self.assertEqual(rep["w"].codec, codec)
                    self.assertEqual(rep["bias"].codec, "raw")  # small: kept exact
                    back = hyperc.load(out)
                    self.assertEqual(list(back), ["w", "bias"])
                    self.assertEqual(back["w"].dtype, dt)
                    self.assertEqual(tuple(back["w"].shape), (48, 96))
                    self.assertTrue(torch.equal(back["bias"], sd["bias"]))
                    e = nmse(back["w"].float(), sd["w"].float())
                    if codec == "raw":
                        self.assertTrue(torch.equal(back["w"], sd["w"]))
                    else:
                        self.assertLess(e, lim)
                        self.assertGreater(rep["w"].snr_db, -10 * np.log10(lim))
                        self.assertLess(rep["w"].bpw, 16.5 if dt == torch.float32 else 16)
                    self.assertGreater(rep.ratio, 0)

    def test_exact_dtypes_numpy_input(self):
        sd = {"i8": np.arange(-50, 50, dtype=np.int8), "i32": np.arange(7, dtype=np.int32).reshape(7, 1),
              "i64": np.array([2 ** 40, -3], np.int64), "u8": np.arange(200, dtype=np.uint8),
              "u16": np.arange(9, dtype=np.uint16), "b": np.array([True, False, True]),
              "f64": np.linspace(0, 1, 2000), "scalar": np.float32(3.5),
              "w": np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)}
        out = self.path("np.hyc")
        rep = hyperc.compress(sd, out, bpw=4)
        self.assertEqual(rep["w"].codec, "hlat")
        self.assertLess(abs(rep.bpw - 4), 0.6)
        back = hyperc.load(out, as_numpy=True)
        for k, v in sd.items():
            v = np.asarray(v)
            if k == "w":
                self.assertLess(nmse(back[k], v), 0.02)
                continue
            self.assertEqual(back[k].dtype, v.dtype, k)
            if v.ndim:  # a scalar comes back with shape (1,): the container stores ndim >= 1
                self.assertEqual(back[k].shape, v.shape, k)
            self.assertTrue(np.array_equal(back[k].reshape(v.shape), v), k)
        t = hyperc.load(out)
        self.assertEqual(t["i64"].dtype, torch.int64)
        self.assertEqual(int(t["i64"][0]), 2 ** 40)
        self.assertEqual(t["b"].dtype, torch.bool)
        self.assertEqual(t["scalar"].numel(), 1)
        t16 = hyperc.load(out, dtype=torch.float16)
        self.assertEqual(t16["w"].dtype, torch.float16)
        self.assertEqual(t16["i8"].dtype, torch.int8)

    def test_bf16_as_numpy_is_float32(self):
        w = torch.randn(40, 64).bfloat16()
        out = self.path("bf.hyc")
        hyperc.compress({"w": w}, out, codec="raw")
        a = hyperc.load(out, as_numpy=True)["w"]
        self.assertEqual(a.dtype, np.float32)
        self.assertTrue(np.array_equal(a, w.float().numpy()))

    def test_paths_folder_keep_progress_metadata(self):
        rng = np.random.default_rng(2)
        items = [("a.weight", "F32", [32, 64], rng.standard_normal(2048).astype(np.float32).view(np.uint8)),
                 ("b.weight", "F16", [64, 32], rng.standard_normal(2048).astype(np.float16).view(np.uint8))]
        st1 = self.path("one.safetensors")
        _st.write(st1, items, {"source": "test"})
        seen = []
        rep = hyperc.compress(st1, self.path("one.hyc"), keep=["b.*"], progress=seen.append)
        self.assertEqual([r.name for r in seen], ["a.weight", "b.weight"])
        self.assertEqual(rep["b.weight"].codec, "raw")
        self.assertNotEqual(rep["a.weight"].codec, "raw")
        with hyperc.open(self.path("one.hyc")) as f:
            self.assertEqual(f.metadata, {"source": "test"})
            self.assertIn("hyperc", f.writer_version)
        folder = self.path("shards")  # a Hugging Face folder: shards, their index, small files
        os.mkdir(folder)
        shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
        _st.write(os.path.join(folder, shards[0]), items[:1])
        _st.write(os.path.join(folder, shards[1]), items[1:])
        index = json.dumps({"metadata": {"total_size": 12288},
                            "weight_map": {"a.weight": shards[0], "b.weight": shards[1]}}).encode()
        config = b'{"model_type": "test", "hidden_size": 64}\n'
        with open(os.path.join(folder, "model.safetensors.index.json"), "wb") as f:
            f.write(index)
        with open(os.path.join(folder, "config.json"), "wb") as f:
            f.write(config)
        notes = self.path("notes.txt")
        with open(notes, "wb") as f:
            f.write(b"stored as it is\n")
        rep = hyperc.compress(folder, self.path("f.hyc"), codec="q8b", attach=notes)
        self.assertEqual(sorted(t.name for t in rep.tensors), ["a.weight", "b.weight"])
        with hyperc.open(self.path("f.hyc")) as f:
            att = f.attachments
        self.assertEqual(att["config.json"], config)
        self.assertEqual(att["model.safetensors.index.json"], index)
        self.assertEqual(att["notes.txt"], b"stored as it is\n")
        with hyperc.open(self.path("one.hyc")) as f:
            self.assertEqual(f.attachments, {})
        with self.assertRaises(hyperc.HypercError):  # a folder whose index names a missing shard
            os.remove(os.path.join(folder, shards[1]))
            hyperc.compress(folder, self.path("g.hyc"))
        back = hyperc.load(self.path("f.hyc"))
        self.assertEqual(back["b.weight"].dtype, torch.float16)
        hyperc.decompress(self.path("f.hyc"), self.path("f.safetensors"))
        its, _ = _st.read(self.path("f.safetensors"))
        self.assertEqual(sorted(i[0] for i in its), ["a.weight", "b.weight"])
        self.assertIn("->", str(rep))

    def test_resnet56_roundtrip(self):
        src = shared("models/resnet56.safetensors")
        out = self.path("r56.hyc")
        rep = hyperc.compress(src, out)  # codec defaults (a bpw target would cost ~20 s here)
        self.assertGreater(rep.ratio, 4)
        self.assertGreater(rep.snr_db, 20)
        items, _ = _st.read(src)
        back = hyperc.load(out, as_numpy=True)
        self.assertEqual(list(back), [i[0] for i in items])
        for name, dt, shape, data in items:
            self.assertEqual(list(back[name].shape), shape)


class Lazy(Base):
    def test_lazy_mapping_random_access(self):
        g = torch.Generator().manual_seed(3)
        sd = {"t%02d" % i: torch.randn(32, 64, generator=g) for i in range(20)}
        out = self.path("lazy.hyc")
        hyperc.compress(sd, out, codec="q8b")
        f = hyperc.open(out)
        self.assertEqual(len(f), 20)
        self.assertEqual(list(f.keys()), sorted(sd))
        self.assertIn("t07", f)
        self.assertNotIn("nope", f)
        info = f.info()
        self.assertEqual(info[3]["shape"], [32, 64])
        self.assertEqual(info[3]["codec"], "q8b")
        self.assertEqual(f.info("t05")["dtype"], "F32")
        # random access: read a late tensor first, then an early one
        for k in ("t19", "t00", "t11"):
            self.assertLess(nmse(f[k], sd[k]), 1e-3)
        self.assertEqual(f.get("nope"), None)
        with self.assertRaises(KeyError):
            f["nope"]
        a = f.tensor("t02", as_numpy=True)
        self.assertIsInstance(a, np.ndarray)
        self.assertEqual(f.float32("t02").dtype, np.float32)
        f.verify()
        n = hyperc.open(out, as_numpy=True)
        self.assertIsInstance(n["t01"], np.ndarray)
        f.close()
        with self.assertRaises(ValueError):
            f["t00"]
        f.close()  # twice is fine


class BadInput(Base):
    def make(self):
        g = torch.Generator().manual_seed(4)
        out = self.path("good.hyc")
        hyperc.compress({"a": torch.randn(64, 64, generator=g), "b": torch.randn(16, generator=g)}, out)
        with open(out, "rb") as f:
            return out, f.read()

    def test_missing_and_not_hyc(self):
        with self.assertRaises(hyperc.HypercError) as cm:
            hyperc.open(self.path("absent.hyc"))
        self.assertIn("absent.hyc", str(cm.exception))
        self.assertEqual(cm.exception.status, hyperc._lib.hc_status_str(cm.exception.code).decode())
        p = self.path("text.hyc")
        with open(p, "wb") as f:
            f.write(b"not a hyc file at all" * 10)
        with self.assertRaises(hyperc.HypercError):
            hyperc.load(p)
        with self.assertRaises(hyperc.HypercError):
            hyperc.compress(p, self.path("x.hyc"))

    def test_truncated_files(self):
        out, data = self.make()
        for cut in sorted({0, 1, 7, 8, 16, 31, 64, len(data) // 2, len(data) - 40, len(data) - 1}):
            p = self.path("cut%d.hyc" % cut)
            with open(p, "wb") as f:
                f.write(data[:cut])
            with self.subTest(cut=cut), self.assertRaises(hyperc.HypercError):
                hyperc.load(p)

    def test_flipped_bytes_never_crash(self):
        out, data = self.make()
        rng = np.random.default_rng(5)
        raised = 0
        for k, pos in enumerate(sorted(set(rng.integers(0, len(data), 60).tolist()))):
            b = bytearray(data)
            b[pos] ^= 1 << (k % 8)
            p = self.path("flip.hyc")
            with open(p, "wb") as f:
                f.write(b)
            try:
                d = hyperc.load(p)
                self.assertEqual(sorted(d), ["a", "b"])
            except hyperc.HypercError as e:
                self.assertTrue(str(e))
                raised += 1
        self.assertGreater(raised, 0)

    def test_progress_exception_is_raised(self):
        def boom(r):
            raise RuntimeError("from progress")
        with self.assertRaises(RuntimeError):
            hyperc.compress({"w": torch.randn(64, 64)}, self.path("p.hyc"), progress=boom)

    def test_bad_options(self):
        sd = {"w": torch.randn(64, 64)}
        with self.assertRaises(hyperc.HypercError) as cm:
            hyperc.compress(sd, self.path("o.hyc"), codec="zip")
        self.assertIn("zip", str(cm.exception))
        with self.assertRaises(hyperc.HypercError):
            hyperc.compress(sd, self.path("o.hyc"), bpw=-1)
        with self.assertRaises(hyperc.HypercError):
            hyperc.compress(sd, self.path("o.hyc"), nonsense=3)
        with self.assertRaises(TypeError):
            hyperc.compress([1, 2], self.path("o.hyc"))
        with self.assertRaises(TypeError):
            hyperc.compress({"c": torch.zeros(3, dtype=torch.complex64)}, self.path("o.hyc"))
        hyperc.compress(sd, self.path("o.hyc"))
        with self.assertRaises(hyperc.HypercError) as cm:
            hyperc.compress(sd, self.path("o.hyc"), overwrite=False)
        self.assertEqual(cm.exception.status, hyperc._lib.hc_status_str(8).decode())

    def test_docstrings(self):
        import hyperc.nn
        for obj in (hyperc.compress, hyperc.load, hyperc.open, hyperc.decompress, hyperc.version, hyperc.HycFile,
                    hyperc.HycFile.info, hyperc.HycFile.tensor, hyperc.HycFile.verify, hyperc.CompressReport,
                    hyperc.nn.from_hyc, hyperc.nn.HycLinear, hyperc.HypercError):
            self.assertTrue(obj.__doc__ and len(obj.__doc__) > 20, obj)


if __name__ == "__main__":
    unittest.main()
