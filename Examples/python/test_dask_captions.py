"""The Dask example on a local cluster of two worker processes (run by .ci/run, in a venv with
dask[distributed]): every image captioned, as the blip2-edge command captions it.
  BLIP2_TEST_MODEL=tiny-a.q4_0.gguf BLIP2_EDGE=.build/debug/blip2-edge \
  BLIP2_EDGE_LIBRARY=.build/debug/libblip2_edge.so python -m unittest Examples/python/test_dask_captions.py"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dask_captions  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent.parent


class DaskCaptionsTest(unittest.TestCase):
    def test_two_workers_caption_a_folder(self):
        model = os.environ["BLIP2_TEST_MODEL"]
        edge = os.environ.get("BLIP2_EDGE", str(ROOT / ".build" / "debug" / "blip2-edge"))
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "images"
            folder.mkdir()
            sources = sorted((ROOT / "Tests" / "Fixtures" / "images").glob("*.ppm"))[:3]
            sources += sorted((ROOT / "Tests" / "Fixtures" / "png").glob("c2-d8-*.png"))[:1]
            for s in sources:
                shutil.copy(s, folder / s.name)
            (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
            out = Path(tmp) / "captions.jsonl"
            status = dask_captions.main(["--model", model, "--images", str(folder), "--out", str(out),
                                         "--local-workers", "2", "--greedy"])
            self.assertEqual(status, 1, "the broken image is reported")
            lines = {json.loads(line)["image"]: json.loads(line) for line in out.read_text().splitlines()}
            self.assertEqual(len(lines), len(sources) + 1)
            self.assertIn("error", lines[str(folder / "broken.png")])
            for s in sources:
                want = subprocess.run([edge, "caption", str(folder / s.name), "--model", model, "--greedy"],
                                      check=True, capture_output=True, text=True).stdout.strip()
                self.assertEqual(lines[str(folder / s.name)]["caption"], want, s.name)


if __name__ == "__main__":
    unittest.main()
