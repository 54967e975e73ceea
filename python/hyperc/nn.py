"""hyperc.nn — run a compressed model in PyTorch without its float weights.

    model = MyModel()                      # any torch.nn.Module
    hyperc.nn.from_hyc(model, "m.hyc")     # nn.Linear -> HycLinear

Each HycLinear keeps the .hyc payload of its weight (the file stays mapped)
and computes y = x W^T (+ b) with libhyperc's fused decode-and-multiply
kernels for small batches (hc_decoder_matmul), or by decoding W into a
temporary and calling torch.matmul for larger ones. Inference only (no
gradients flow to the compressed weight).
"""
import ctypes

from . import _lib


def _torch():
    import torch
    return torch


class _Decoder:
    """An hc_decoder of one .hyc tensor; keeps the file open while alive."""

    def __init__(self, hyc, index):
        self.hyc = hyc
        self.ptr = _lib.c_ptr()
        err = _lib.Error()
        err.check(_lib.hc_hyc_decoder(hyc._handle(), index, ctypes.byref(self.ptr), err.ptr))

    def __del__(self):
        try:
            if self.ptr:
                _lib.hc_decoder_free(self.ptr)
                self.ptr = None
        except Exception:
            pass


def _module_base():
    return _torch().nn.Module


class HycLinear(_module_base()):
    """A drop-in replacement for nn.Linear whose weight stays compressed.

    forward(x): x (..., in_features) -> (..., out_features). Batches of at
    most `fused_max_batch` rows go through the fused decode-and-multiply
    kernel; larger ones decode W once per call and use torch.matmul. The
    computation is float32 on the CPU; the result is returned in x's dtype
    and device. `threads` (None: all cores) splits the rows."""

    def __init__(self, hyc, name, bias=None, fused_max_batch=8, threads=None):
        torch = _torch()
        super().__init__()
        info = hyc.info(name)
        if len(info["shape"]) != 2:
            raise ValueError("hyperc: tensor '%s' has shape %s, not a matrix" % (name, info["shape"]))
        self.out_features, self.in_features = info["shape"]
        self.weight_name = name
        self.codec = info["codec"]
        self.payload_bytes = info["payload_bytes"]
        self.fused_max_batch = int(fused_max_batch)
        self.threads = int(threads) if threads else 0
        self._hyc = hyc
        self._dec = _Decoder(hyc, hyc.index(name))
        if bias is not None:
            self.bias = torch.nn.Parameter(bias.detach().to(torch.float32).cpu().clone(), requires_grad=False)
        else:
            self.register_parameter("bias", None)

    def extra_repr(self):
        return "in_features=%d, out_features=%d, codec=%s, %.2f bpw, weight=%r" % (
            self.in_features, self.out_features, self.codec, 8.0 * self.payload_bytes /
            (self.in_features * self.out_features), self.weight_name)

    def decoded_weight(self):
        """The weight decoded to a float32 (out, in) tensor (a new copy)."""
        torch = _torch()
        return torch.from_numpy(self._hyc.float32(self.weight_name))

    def forward(self, x):
        torch = _torch()
        shape = x.shape
        if shape[-1] != self.in_features:
            raise ValueError("hyperc: input has %d features, layer %s takes %d" % (
                shape[-1], self.weight_name, self.in_features))
        xf = x.detach().reshape(-1, self.in_features)
        if xf.dtype != torch.float32 or xf.device.type != "cpu":
            xf = xf.to("cpu", torch.float32)
        xf = xf.contiguous()
        batch = xf.shape[0]
        if batch <= self.fused_max_batch:
            y = torch.empty((batch, self.out_features), dtype=torch.float32)
            err = _lib.Error()
            s = _lib.hc_decoder_matmul(self._dec.ptr, self.out_features, self.in_features, xf.data_ptr(), batch,
                                       y.data_ptr(), self.threads, err.ptr)
            if s:
                err.check(s)
        else:
            y = torch.matmul(xf, self.decoded_weight().t())
        if self.bias is not None:
            y += self.bias
        y = y.reshape(*shape[:-1], self.out_features)
        if y.dtype != x.dtype or y.device != x.device:
            y = y.to(device=x.device, dtype=x.dtype if x.dtype.is_floating_point else torch.float32)
        return y


def from_hyc(model, path, names=None, fused_max_batch=8, threads=None, load_rest=True, strict=False):
    """Replaces the nn.Linear modules of `model` (in place) by HycLinear
    modules computing with the compressed weights of the .hyc file `path`
    (a path or an open hyperc.HycFile), and returns the model.

    A Linear at module path P takes the tensor "P.weight" (or names(P), if a
    callable `names` maps module paths to tensor names). Its bias, and with
    load_rest=True every other parameter/buffer found in the file under its
    state-dict name (norms, embeddings, Linear layers the file does not have
    coded), are loaded decoded. strict=True raises KeyError when a Linear has
    no tensor in the file. Returns the model."""
    torch = _torch()
    from . import HycFile, open as hopen
    hyc = path if isinstance(path, HycFile) else hopen(path)
    replaced = []
    for mpath, mod in list(model.named_modules()):
        for cname, child in list(mod.named_children()):
            if not isinstance(child, torch.nn.Linear):
                continue
            full = (mpath + "." if mpath else "") + cname
            tname = names(full) if callable(names) else full + ".weight"
            if tname not in hyc:
                if strict:
                    raise KeyError("hyperc: no tensor '%s' in %s for Linear %s" % (tname, hyc.path, full))
                continue
            info = hyc.info(tname)
            if info["shape"] != [child.out_features, child.in_features]:
                raise ValueError("hyperc: tensor '%s' has shape %s, Linear %s is %dx%d" % (
                    tname, info["shape"], full, child.out_features, child.in_features))
            if info["dtype"] not in ("F32", "F16", "BF16"):
                continue
            bias = child.bias
            bname = full + ".bias"
            if bias is not None and load_rest and bname in hyc:
                bias = hyc.tensor(bname, dtype=torch.float32)
            setattr(mod, cname, HycLinear(hyc, tname, bias=bias, fused_max_batch=fused_max_batch, threads=threads))
            replaced.append(full)
    if load_rest:
        with torch.no_grad():
            for sname, t in list(model.state_dict(keep_vars=True).items()):
                if sname in hyc and not any(sname.startswith(r + ".") for r in replaced):
                    src = hyc.tensor(sname)
                    if list(src.shape) == list(t.shape):
                        t.data.copy_(src.to(t.dtype))
    model._hyperc_replaced = replaced
    return model
