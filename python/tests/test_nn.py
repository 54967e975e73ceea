"""hyperc.nn: a torch llama (stories260K) running on compressed Linear
modules gives the logits of the same model run on the decoded weights."""
import os
import shutil
import sys
import tempfile
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hyperc  # noqa: E402
import hyperc.nn  # noqa: E402
from hyperc import _st  # noqa: E402
from llama import Llama, hyc_names, load_float  # noqa: E402
from test_hyperc import shared  # noqa: E402


class Compressed(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hyperc-nn-")
        cls.src = shared("models/stories260K.safetensors")
        _, cls.meta = _st.read(cls.src)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def check_codec(self, codec):
        out = os.path.join(self.tmp, codec + ".hyc")
        hyperc.compress(self.src, out, codec=codec)
        # decode-then-run: the decoded weights in a float model
        ref = Llama.from_metadata(self.meta)
        sd = hyperc.load(out)
        sd["output.weight"] = sd["tok_embeddings.weight"]
        ref.load_state_dict(sd, strict=True)
        # compressed modules
        model = hyperc.nn.from_hyc(Llama.from_metadata(self.meta), out, names=hyc_names, strict=True)
        n_lin = sum(isinstance(m, hyperc.nn.HycLinear) for m in model.modules())
        self.assertEqual(n_lin, 5 * 7 + 1)
        self.assertFalse(any(isinstance(m, torch.nn.Linear) for m in model.modules()))
        toks = torch.tensor([1, 403, 407, 261, 378, 280, 395, 268, 300, 290, 301, 350])
        # prefill of 12 tokens (decode-then-matmul path), then one token at a
        # time (fused path) and a batch of 4 (fused, batched)
        for m in (ref, model):
            m.eval()
        a = ref(toks)
        b = model(toks)
        scale = a.abs().max().item()
        self.assertLess((a - b).abs().max().item(), 1e-4 * scale)
        # hlat's fused product quantises activations (and its weights) to
        # int16 (src/codec/hlat_q16.c): ~1e-4 relative per product
        fused_tol = 1e-3 if codec == "hlat" else 1e-4
        ca, cb = ref.new_cache(), model.new_cache()
        for pos, t in enumerate(toks.tolist()):
            la = ref(torch.tensor([t]), pos, ca)
            lb = model(torch.tensor([t]), pos, cb)
            self.assertLess((la - lb).abs().max().item(), fused_tol * scale, (codec, pos))
        self.assertLess((la - a[-1:]).abs().max().item(), 1e-3 * scale)  # the cache agrees with the prefill
        lin = model.layers[0].feed_forward.w1
        x = torch.randn(4, 64)
        y = lin(x)
        yr = x @ lin.decoded_weight().t()
        self.assertLess((y - yr).abs().max().item(), fused_tol * yr.abs().max().item())
        with self.assertRaises(ValueError):
            lin(torch.randn(2, 63))
        # the compressed model still generates what the decoded one does
        self.assertEqual(model.generate([1], 20), ref.generate([1], 20))
        return a

    def test_hlat(self):
        a = self.check_codec("hlat")
        # and the compressed model is close to the float one
        flt = load_float(Llama.from_metadata(self.meta), self.src)
        f = flt(torch.tensor([1, 403, 407, 261]))
        rel = ((f - a[:4]) ** 2).sum() / (f ** 2).sum()
        self.assertLess(rel.item(), 0.05)

    def test_other_codecs(self):
        for codec in ("q8b", "qkm", "paper"):
            with self.subTest(codec=codec):
                self.check_codec(codec)


if __name__ == "__main__":
    unittest.main()
