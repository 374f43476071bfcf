"""blip2-edge from Python, over its C interface with ctypes: nothing to compile.

    import blip2_edge
    with blip2_edge.Model("blip2-opt-2.7b.q4") as model:
        print(model.caption("photo.png"))                       # a path: the library's own decoder
        print(model.ask(rgb_bytes, "what is it?", width=640, height=480))   # raw RGB (e.g. numpy .tobytes())
        image = model.encode("photo.png")                       # encode once ...
        for question in ("what colour?", "how many?"):
            print(model.ask(image, question))                   # ... ask many times
        for piece in model.stream("photo.png", "what is the cat doing?"):
            print(piece, end="", flush=True)                    # tokens as they come

The library is $BLIP2_EDGE_LIBRARY, else libblip2_edge.so where the dynamic linker finds it
(`pkg-config --variable=libdir blip2-edge` after Tools/install.sh), else this checkout's
.build/release or .build/debug. A Model holds one session: use one Model per thread (or per
process, as the Dask example does); the weights are memory-mapped and shared by the OS.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import queue
import threading
from pathlib import Path
from typing import Iterator, Optional, Union

__all__ = ["Model", "EncodedImage", "Blip2Error", "version", "kernel_variant"]

OK, INVALID_ARGUMENT, MODEL_ERROR, RUNTIME_ERROR, CANCELLED = range(5)


class Blip2Error(Exception):
    """A failed call: `status` is the C interface's blip2_status, the message its one line."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Params(ctypes.Structure):
    _fields_ = [("max_new_tokens", ctypes.c_int), ("min_new_tokens", ctypes.c_int), ("num_beams", ctypes.c_int),
                ("length_penalty", ctypes.c_float), ("repetition_penalty", ctypes.c_float),
                ("no_repeat_ngram_size", ctypes.c_int), ("sample", ctypes.c_int), ("temperature", ctypes.c_float),
                ("top_k", ctypes.c_int), ("top_p", ctypes.c_float), ("seed", ctypes.c_uint64)]


TOKEN_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p)


def _find_library() -> str:
    if os.environ.get("BLIP2_EDGE_LIBRARY"):
        return os.environ["BLIP2_EDGE_LIBRARY"]
    found = ctypes.util.find_library("blip2_edge")
    if found:
        return found
    root = Path(__file__).resolve().parent.parent
    for build in ("release", "debug"):
        candidate = root / ".build" / build / "libblip2_edge.so"
        if candidate.exists():
            return str(candidate)
    raise OSError("libblip2_edge.so not found: set BLIP2_EDGE_LIBRARY, install it (Tools/install.sh), "
                  "or build it (swift build -c release --product blip2_edge)")


def _load():
    lib = ctypes.CDLL(_find_library())
    p, i, f, u8p, cp = ctypes.c_void_p, ctypes.c_int, ctypes.c_float, ctypes.POINTER(ctypes.c_uint8), ctypes.c_char_p
    err = ctypes.POINTER(ctypes.c_void_p)
    out = ctypes.POINTER(ctypes.c_void_p)
    sigs = {
        "blip2_caption_defaults": (None, [ctypes.POINTER(Params)]),
        "blip2_ask_defaults": (None, [ctypes.POINTER(Params)]),
        "blip2_load": (i, [cp, out, err]),
        "blip2_free": (None, [p]),
        "blip2_session_new": (i, [p, i, out, err]),
        "blip2_session_free": (None, [p]),
        "blip2_cancel": (None, [p]),
        "blip2_session_set_low_ram": (None, [p, i]),
        "blip2_read_image": (i, [cp, ctypes.POINTER(u8p), ctypes.POINTER(i), ctypes.POINTER(i), err]),
        "blip2_free_image": (None, [u8p]),
        "blip2_encode_image": (i, [p, u8p, i, i, out, err]),
        "blip2_image_free": (None, [p]),
        "blip2_generate_stream": (i, [p, p, cp, ctypes.POINTER(Params), TOKEN_CALLBACK, p, ctypes.POINTER(ctypes.c_void_p), err]),
        "blip2_version": (cp, []),
        "blip2_kernel_variant": (cp, []),
        "blip2_free_string": (None, [p]),
    }
    for name, (restype, argtypes) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


_lib = _load()


def version() -> str:
    return _lib.blip2_version().decode()


def kernel_variant() -> str:
    return _lib.blip2_kernel_variant().decode()


def _take_string(pointer: ctypes.c_void_p) -> str:
    if not pointer:
        return ""
    text = ctypes.string_at(pointer).decode("utf-8", errors="replace")
    _lib.blip2_free_string(pointer)
    return text


def _check(status: int, error: ctypes.c_void_p) -> None:
    message = _take_string(error)
    if status != OK:
        raise Blip2Error(status, message or f"status {status}")


class EncodedImage:
    """An image encoded once (vision tower, Q-Former, projection): caption and ask about it any
    number of times, from any Model of the same model file."""

    def __init__(self, handle: int):
        self._handle = ctypes.c_void_p(handle)

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.blip2_image_free(self._handle)
            self._handle = None


Image = Union[str, os.PathLike, bytes, bytearray, memoryview, EncodedImage]


class Model:
    """A BLIP-2 captioning model file and one session on it."""

    def __init__(self, path: Union[str, os.PathLike], threads: int = 0, low_ram: bool = False):
        error = ctypes.c_void_p()
        model, session = ctypes.c_void_p(), ctypes.c_void_p()
        _check(_lib.blip2_load(os.fsencode(path), ctypes.byref(model), ctypes.byref(error)), error)
        self._model = model
        status = _lib.blip2_session_new(model, threads, ctypes.byref(session), ctypes.byref(error))
        if status != OK:
            _lib.blip2_free(model)
            self._model = None
            _check(status, error)
        self._session = session
        if low_ram:
            _lib.blip2_session_set_low_ram(session, 1)

    def close(self) -> None:
        if getattr(self, "_session", None):
            _lib.blip2_session_free(self._session)
            self._session = None
        if getattr(self, "_model", None):
            _lib.blip2_free(self._model)
            self._model = None

    def __enter__(self) -> "Model":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):
        self.close()

    def cancel(self) -> None:
        """Stops a generation running on another thread (it raises Blip2Error with CANCELLED)."""
        if self._session:
            _lib.blip2_cancel(self._session)

    # -- images ---------------------------------------------------------------------------------

    def encode(self, image: Image, width: Optional[int] = None, height: Optional[int] = None) -> EncodedImage:
        """A path (PNG, JPEG, PPM/PGM: decoded by the library) or raw RGB bytes with width and height."""
        if isinstance(image, EncodedImage):
            return image
        error, handle = ctypes.c_void_p(), ctypes.c_void_p()
        if isinstance(image, (str, os.PathLike)):
            rgb, w, h = ctypes.POINTER(ctypes.c_uint8)(), ctypes.c_int(), ctypes.c_int()
            _check(_lib.blip2_read_image(os.fsencode(image), ctypes.byref(rgb), ctypes.byref(w), ctypes.byref(h),
                                         ctypes.byref(error)), error)
            try:
                status = _lib.blip2_encode_image(self._session, rgb, w, h, ctypes.byref(handle), ctypes.byref(error))
            finally:
                _lib.blip2_free_image(rgb)
        else:
            data = bytes(image)
            if width is None or height is None or len(data) != width * height * 3:
                raise Blip2Error(INVALID_ARGUMENT, f"raw RGB needs width and height with width * height * 3 = {len(data)} bytes")
            buffer = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
            status = _lib.blip2_encode_image(self._session, buffer, width, height, ctypes.byref(handle), ctypes.byref(error))
        _check(status, error)
        return EncodedImage(handle.value)

    # -- generation -----------------------------------------------------------------------------

    def _params(self, asking: bool, overrides: dict) -> Params:
        params = Params()
        (_lib.blip2_ask_defaults if asking else _lib.blip2_caption_defaults)(ctypes.byref(params))
        for key, value in overrides.items():
            if key == "greedy":
                if value:
                    params.num_beams = 1
                continue
            if not hasattr(params, key) or key.startswith("_"):
                raise Blip2Error(INVALID_ARGUMENT, f"unknown generation setting {key}")
            setattr(params, key, value)
        # As the command: a smaller --max-tokens lowers the default minimum with it.
        if "min_new_tokens" not in overrides and params.min_new_tokens > params.max_new_tokens:
            params.min_new_tokens = params.max_new_tokens
        return params

    def _generate(self, image: Image, question: Optional[str], width, height, on_piece, settings: dict) -> str:
        encoded = self.encode(image, width, height)
        params = self._params(question is not None, settings)
        error, text = ctypes.c_void_p(), ctypes.c_void_p()

        def relay(piece: bytes, token_id: int, _user) -> int:
            return 1 if on_piece(piece.decode("utf-8", errors="replace"), token_id) else 0

        callback = TOKEN_CALLBACK(relay) if on_piece else TOKEN_CALLBACK()
        status = _lib.blip2_generate_stream(self._session, encoded._handle,
                                            question.encode() if question is not None else None,
                                            ctypes.byref(params), callback, None, ctypes.byref(text), ctypes.byref(error))
        _check(status, error)
        return _take_string(text)

    def caption(self, image: Image, width: Optional[int] = None, height: Optional[int] = None, **settings) -> str:
        """LAVIS's caption settings (5 beams, 8-30 tokens) unless overridden: greedy=True,
        num_beams, max_new_tokens, min_new_tokens, length_penalty, repetition_penalty,
        no_repeat_ngram_size, sample, temperature, top_k, top_p, seed."""
        return self._generate(image, None, width, height, None, settings)

    def ask(self, image: Image, question: str, width: Optional[int] = None, height: Optional[int] = None,
            **settings) -> str:
        """The answer with "Question: {q} Short answer:" and LAVIS's VQA settings unless overridden."""
        return self._generate(image, question, width, height, None, settings)

    def stream(self, image: Image, question: Optional[str] = None, width: Optional[int] = None,
               height: Optional[int] = None, **settings) -> Iterator[str]:
        """Text pieces as tokens are generated (greedy unless sampling is asked for; beam search
        gives one piece at the end). Closing the iterator early stops the generation."""
        settings.setdefault("num_beams", 1)
        pieces: "queue.Queue[object]" = queue.Queue()
        stop = threading.Event()
        done = object()

        def on_piece(piece: str, _token: int) -> bool:
            if piece:
                pieces.put(piece)
            return stop.is_set()

        def run() -> None:
            try:
                self._generate(image, question, width, height, on_piece, settings)
                pieces.put(done)
            except BaseException as e:  # handed to the consumer
                pieces.put(e)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        try:
            while True:
                item = pieces.get()
                if item is done:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
            worker.join()
