"""ctypes bindings of libhyperc.so (internal).

The library is looked up, in order: $HYPERC_LIB (a file path), next to this
package (hyperc/libhyperc.so*), the build tree of a source checkout
(../../build/libhyperc.so), then the system loader path (libhyperc.so.0, as
installed by ``make install``).
"""
import ctypes
import os

_DIR = os.path.dirname(os.path.abspath(__file__))


class HypercError(Exception):
    """An error reported by libhyperc.

    ``str(e)`` is the library's message (what failed, on which file and
    tensor, and why); ``e.code`` is its hc_status number and ``e.status`` its
    short name ("io error", "corrupt input", ...)."""

    def __init__(self, message, code=0, status=""):
        super().__init__(message)
        self.code = code
        self.status = status


def _candidates():
    env = os.environ.get("HYPERC_LIB")
    if env:
        yield env
        return
    for name in ("libhyperc.so", "libhyperc.so.0"):
        yield os.path.join(_DIR, name)
    root = os.path.dirname(os.path.dirname(_DIR))
    yield os.path.join(root, "build", "libhyperc.so")
    yield "libhyperc.so.0"


def _load():
    errors = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            errors.append(path + ": not found")
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append(str(e))
    raise ImportError("hyperc: cannot load libhyperc.so (set HYPERC_LIB, or run `make`): " + "; ".join(errors))


lib = _load()

c_size = ctypes.c_size_t
c_u64 = ctypes.c_uint64
c_u32 = ctypes.c_uint32
c_int = ctypes.c_int
c_dbl = ctypes.c_double
c_ptr = ctypes.c_void_p
c_str = ctypes.c_char_p
P = ctypes.POINTER


class _Err(ctypes.Structure):
    _fields_ = [("code", c_int), ("msg", ctypes.c_char * 1024)]


def _proto(name, res, *args):
    f = getattr(lib, name)
    f.restype = res
    f.argtypes = list(args)
    return f


hc_status_str = _proto("hc_status_str", c_str, c_int)
hc_codec_name = _proto("hc_codec_name", c_str, c_int)
hc_dtype_name = _proto("hc_dtype_name", c_str, c_int)
hc_version = _proto("hc_version", c_str)
hc_opts_size = _proto("hc_opts_size", c_size)
hc_error_size = _proto("hc_error_size", c_size)
hc_opts_default = _proto("hc_opts_default", None, c_ptr)
hc_opts_set = _proto("hc_opts_set", c_int, c_ptr, c_str, c_str, c_ptr)
PROGRESS = ctypes.CFUNCTYPE(None, c_ptr, c_ptr)
hc_compress_file = _proto("hc_compress_file", c_int, c_str, c_str, c_ptr, c_int, c_int, PROGRESS, c_ptr, c_ptr, c_ptr)
hc_decompress_file = _proto("hc_decompress_file", c_int, c_str, c_str, c_int, c_int, c_ptr)


class CompressExtra(ctypes.Structure):
    """hc_compress_extra (hyperc.h): files stored with the weights."""
    _fields_ = [("tokenizer_path", c_str), ("attach_paths", P(c_str)), ("n_attach", c_size),
                ("note", c_ptr), ("note_user", c_ptr)]


class Attachment(ctypes.Structure):
    """hc_hyc_attachment (hyperc.h)."""
    _fields_ = [("name", ctypes.c_char * 256), ("size", c_u64), ("crc32c", c_u32), ("flags", c_u32)]


hc_compress_path = _proto("hc_compress_path", c_int, c_str, c_str, c_ptr, P(CompressExtra), c_int, c_int, PROGRESS,
                          c_ptr, c_ptr, c_ptr)
hc_hyc_attachment_count = _proto("hc_hyc_attachment_count", c_size, c_ptr)
hc_hyc_attachment_get = _proto("hc_hyc_attachment_get", P(Attachment), c_ptr, c_size)
hc_hyc_attachment_data = _proto("hc_hyc_attachment_data", c_int, c_ptr, c_size, P(c_ptr), c_ptr)
hc_tensor_report_get = _proto("hc_tensor_report_get", None, c_ptr, P(c_str), P(c_int), P(c_dbl), P(c_dbl),
                              P(c_dbl), P(c_u64), P(c_u64), P(c_dbl), P(c_str))
hc_hyc_open = _proto("hc_hyc_open", c_int, c_str, P(c_ptr), c_ptr)
hc_hyc_close = _proto("hc_hyc_close", None, c_ptr)
hc_hyc_count = _proto("hc_hyc_count", c_size, c_ptr)
hc_hyc_find = _proto("hc_hyc_find", ctypes.c_long, c_ptr, c_str)
hc_hyc_metadata = _proto("hc_hyc_metadata", c_ptr, c_ptr, P(c_size))
hc_hyc_verify = _proto("hc_hyc_verify", c_int, c_ptr, c_ptr)
hc_hyc_file_size = _proto("hc_hyc_file_size", c_u64, c_ptr)
hc_hyc_writer_version = _proto("hc_hyc_writer_version", c_str, c_ptr)
hc_hyc_describe = _proto("hc_hyc_describe", c_int, c_ptr, c_size, P(c_str), P(c_int), P(c_u32), P(c_u64),
                         P(c_int), P(c_u64), c_ptr)
hc_hyc_decode_tensor = _proto("hc_hyc_decode_tensor", c_int, c_ptr, c_size, c_ptr, c_u64, c_int, c_ptr)
hc_hyc_decode_f32 = _proto("hc_hyc_decode_f32", c_int, c_ptr, c_size, c_ptr, c_u64, c_int, c_ptr)
hc_hyc_decoder = _proto("hc_hyc_decoder", c_int, c_ptr, c_size, P(c_ptr), c_ptr)
hc_decoder_free = _proto("hc_decoder_free", None, c_ptr)
hc_decoder_matmul = _proto("hc_decoder_matmul", c_int, c_ptr, c_u64, c_u64, c_ptr, c_u64, c_ptr, c_int, c_ptr)


_ERR_SIZE = max(hc_error_size(), ctypes.sizeof(_Err))


class Error:
    """An hc_error buffer; ``check(status)`` raises HypercError on failure."""

    __slots__ = ("buf", "ptr")

    def __init__(self):
        self.buf = (ctypes.c_char * _ERR_SIZE)()
        self.ptr = ctypes.addressof(self.buf)

    def check(self, status, what=""):
        if status == 0:
            return
        e = ctypes.cast(self.buf, P(_Err)).contents
        msg = e.msg.decode("utf-8", "replace") or what or "libhyperc call failed"
        raise HypercError(msg, status, hc_status_str(status).decode())


def opts(settings):
    """An hc_opts block with defaults, then each (key, text) applied; returns
    (buffer, keepalive) — the buffer must stay alive with the strings."""
    buf = ctypes.create_string_buffer(hc_opts_size())
    hc_opts_default(buf)
    keep = []
    for key, value in settings:
        v = str(value).encode()
        keep.append(v)
        err = Error()
        err.check(hc_opts_set(buf, key.encode(), v, err.ptr))
    return buf, keep
