"""Tests of the ctypes module on the shipped tiny model (run by .ci/run):
  BLIP2_TEST_MODEL=tiny-a.q4_0.gguf BLIP2_EDGE=.build/debug/blip2-edge \
  BLIP2_EDGE_LIBRARY=.build/debug/libblip2_edge.so python3 -m unittest python/test_blip2_edge.py
Answers are compared with the blip2-edge command's on the same file: both run the same library."""
import ctypes
import os
import subprocess
import sys
import threading
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import blip2_edge  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MODEL = os.environ["BLIP2_TEST_MODEL"]
EDGE = os.environ.get("BLIP2_EDGE", str(ROOT / ".build" / "debug" / "blip2-edge"))
IMAGE = str(ROOT / "Tests" / "Fixtures" / "images" / "photo-321x187.ppm")


def command(*args: str) -> str:
    return subprocess.run([EDGE, *args, "--model", MODEL], check=True, capture_output=True, text=True).stdout.strip()


def ppm_rgb(path: str) -> tuple[bytes, int, int]:
    data = Path(path).read_bytes()
    magic, w, h, maxval, rest = data.split(maxsplit=4)
    assert magic == b"P6" and maxval == b"255"
    return rest[:int(w) * int(h) * 3], int(w), int(h)


class ModuleTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = blip2_edge.Model(MODEL, threads=2)

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def test_version_and_kernels(self):
        self.assertRegex(blip2_edge.version(), r"^\d+\.\d+\.\d+$")
        self.assertIn(blip2_edge.kernel_variant(), {"avx512_vnni", "avx2", "neon_i8mm", "neondot", "neon", "ref"})

    def test_caption_and_ask_equal_the_command(self):
        self.assertEqual(self.model.caption(IMAGE, greedy=True, max_new_tokens=8, min_new_tokens=0),
                         command("caption", IMAGE, "--greedy", "--max-tokens", "8", "--min-tokens", "0"))
        self.assertEqual(self.model.caption(IMAGE), command("caption", IMAGE))
        self.assertEqual(self.model.ask(IMAGE, "what is it?"), command("ask", IMAGE, "what is it?"))

    def test_raw_rgb_equals_the_path(self):
        rgb, w, h = ppm_rgb(IMAGE)
        self.assertEqual(self.model.caption(rgb, w, h, greedy=True, max_new_tokens=6),
                         self.model.caption(IMAGE, greedy=True, max_new_tokens=6))

    def test_stream_joins_to_the_answer(self):
        pieces = list(self.model.stream(IMAGE, "what is it?", max_new_tokens=10))
        self.assertTrue(pieces)
        self.assertEqual("".join(pieces).strip(), self.model.ask(IMAGE, "what is it?", greedy=True, max_new_tokens=10))

    def test_stopped_stream_leaves_the_model_usable(self):
        stream = self.model.stream(IMAGE, max_new_tokens=20)
        next(stream)
        stream.close()
        self.assertEqual(self.model.caption(IMAGE, greedy=True, max_new_tokens=5),
                         command("caption", IMAGE, "--greedy", "--max-tokens", "5", "--min-tokens", "0"))

    def test_encoded_image_shared_by_two_models_on_two_threads(self):
        image = self.model.encode(IMAGE)
        want = {q: self.model.ask(IMAGE, q, greedy=True) for q in ("what is it?", "how many?")}
        got = {}

        def worker(question):
            with blip2_edge.Model(MODEL, threads=1) as other:
                got[question] = other.ask(image, question, greedy=True)

        threads = [threading.Thread(target=worker, args=(q,)) for q in want]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(got, want)

    def test_errors_are_exceptions_with_status(self):
        with self.assertRaises(blip2_edge.Blip2Error) as e:
            blip2_edge.Model(str(ROOT / "missing.gguf"))
        self.assertEqual(e.exception.status, blip2_edge.MODEL_ERROR)
        self.assertIn("missing.gguf", str(e.exception))
        with self.assertRaises(blip2_edge.Blip2Error) as e:
            self.model.ask(IMAGE, "   ")
        self.assertEqual(e.exception.status, blip2_edge.INVALID_ARGUMENT)
        with self.assertRaises(blip2_edge.Blip2Error):
            self.model.caption(b"\x00" * 10, 2, 2)
        with self.assertRaises(blip2_edge.Blip2Error) as e:
            self.model.caption(str(ROOT / "README.md"))
        self.assertEqual(e.exception.status, blip2_edge.INVALID_ARGUMENT)
        with self.assertRaises(blip2_edge.Blip2Error):
            self.model.caption(IMAGE, num_beams=99)

    def test_null_handles_and_bad_sizes_return_the_documented_status(self):
        lib, error, out = blip2_edge._lib, ctypes.c_void_p(), ctypes.c_void_p()
        self.assertEqual(lib.blip2_encode_image(None, None, 1, 1, ctypes.byref(out), ctypes.byref(error)),
                         blip2_edge.INVALID_ARGUMENT)
        self.assertIn("must not be NULL", blip2_edge._take_string(error))
        pixel = (ctypes.c_uint8 * 3)()
        for w, h in ((0, 1), (1, -5), (1 << 20, 1 << 20)):
            self.assertEqual(lib.blip2_encode_image(self.model._session, pixel, w, h, ctypes.byref(out), ctypes.byref(error)),
                             blip2_edge.INVALID_ARGUMENT, (w, h))
            self.assertIn("empty or too large", blip2_edge._take_string(error))
        self.assertIsNone(out.value)
        text = ctypes.c_void_p()
        self.assertEqual(lib.blip2_generate_stream(self.model._session, None, None, None, blip2_edge.TOKEN_CALLBACK(), None,
                                                   ctypes.byref(text), ctypes.byref(error)), blip2_edge.INVALID_ARGUMENT)
        blip2_edge._take_string(error)
        lib.blip2_image_free(None)       # NULL is a no-op, as free()
        lib.blip2_session_free(None)


if __name__ == "__main__":
    unittest.main()
