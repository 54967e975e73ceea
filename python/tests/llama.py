"""A small llama (llama2.c architecture) in plain PyTorch, with a KV cache,
for the tests and python/bench.py. Module paths match the safetensors names
of stories260K (tok_embeddings, layers.N.attention.wq, ..., norm, output)."""
import math

import torch
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Attention(nn.Module):
    def __init__(self, dim, n_heads, n_kv_heads):
        super().__init__()
        self.n_heads, self.n_kv, self.hd = n_heads, n_kv_heads, dim // n_heads
        self.wq = nn.Linear(dim, n_heads * self.hd, bias=False)
        self.wk = nn.Linear(dim, n_kv_heads * self.hd, bias=False)
        self.wv = nn.Linear(dim, n_kv_heads * self.hd, bias=False)
        self.wo = nn.Linear(n_heads * self.hd, dim, bias=False)

    def forward(self, x, pos, cache, rope):
        T = x.shape[0]
        q = self.wq(x).view(T, self.n_heads, self.hd)
        k = self.wk(x).view(T, self.n_kv, self.hd)
        v = self.wv(x).view(T, self.n_kv, self.hd)
        cos, sin = rope
        cos, sin = cos[pos:pos + T, None, :], sin[pos:pos + T, None, :]

        def rot(t):
            a, b = t[..., 0::2], t[..., 1::2]
            return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)

        q, k = rot(q), rot(k)
        if cache is not None:
            ck, cv = cache
            ck[pos:pos + T], cv[pos:pos + T] = k, v
            k, v = ck[:pos + T], cv[:pos + T]
        rep = self.n_heads // self.n_kv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = torch.einsum("thd,shd->hts", q, k) / math.sqrt(self.hd)
        S = k.shape[0]
        mask = torch.ones(T, S, dtype=torch.bool).tril(S - T)
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        out = torch.einsum("hts,shd->thd", att, v).reshape(T, -1)
        return self.wo(out)


class FeedForward(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)

    def forward(self, x):
        return self.w2(nn.functional.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, dim, hidden, n_heads, n_kv):
        super().__init__()
        self.attention_norm = RMSNorm(dim)
        self.attention = Attention(dim, n_heads, n_kv)
        self.ffn_norm = RMSNorm(dim)
        self.feed_forward = FeedForward(dim, hidden)

    def forward(self, x, pos, cache, rope):
        x = x + self.attention(self.attention_norm(x), pos, cache, rope)
        return x + self.feed_forward(self.ffn_norm(x))


class Llama(nn.Module):
    def __init__(self, dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len):
        super().__init__()
        self.tok_embeddings = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList(Block(dim, hidden, n_heads, n_kv) for _ in range(n_layers))
        self.norm = RMSNorm(dim)
        self.output = nn.Linear(dim, vocab, bias=False)
        hd = dim // n_heads
        freqs = 1.0 / (10000.0 ** (torch.arange(0, hd, 2).float() / hd))
        ang = torch.outer(torch.arange(seq_len).float(), freqs)
        self.rope = (torch.cos(ang), torch.sin(ang))
        self.cfg = (dim, n_layers, n_kv * hd, seq_len)

    @staticmethod
    def from_metadata(meta):
        g = lambda k: int(meta[k])  # noqa: E731
        return Llama(g("dim"), g("hidden_dim"), g("n_layers"), g("n_heads"), g("n_kv_heads"), g("vocab_size"),
                     g("seq_len"))

    def new_cache(self):
        dim, n_layers, kvd, seq = self.cfg
        hd = dim // self.layers[0].attention.n_heads
        return [(torch.zeros(seq, kvd // hd, hd), torch.zeros(seq, kvd // hd, hd)) for _ in range(n_layers)]

    @torch.no_grad()
    def forward(self, tokens, pos=0, cache=None):
        x = self.tok_embeddings(tokens)
        for i, layer in enumerate(self.layers):
            x = layer(x, pos, cache[i] if cache is not None else None, self.rope)
        return self.output(self.norm(x))

    @torch.no_grad()
    def generate(self, prompt, steps):
        cache = self.new_cache()
        toks = list(prompt)
        logits = self.forward(torch.tensor(toks), 0, cache)
        pos = len(toks)
        for _ in range(steps):
            nxt = int(logits[-1].argmax())
            toks.append(nxt)
            logits = self.forward(torch.tensor([nxt]), pos, cache)
            pos += 1
        return toks


def load_float(model, path):
    """Loads a safetensors file's weights into model (output = tok_embeddings
    when the file has no output.weight: shared classifier)."""
    import numpy as np
    import hyperc._st as st
    items, _ = st.read(path)
    sd = {}
    for name, dt, shape, data in items:
        assert dt == "F32"
        sd[name] = torch.from_numpy(np.array(data).view(np.float32).reshape(shape))
    if "output.weight" not in sd:
        sd["output.weight"] = sd["tok_embeddings.weight"]
    model.load_state_dict(sd, strict=True)
    return model


def hyc_names(path):
    """Tensor name of a Linear module path (shared classifier)."""
    return "tok_embeddings.weight" if path == "output" else path + ".weight"
