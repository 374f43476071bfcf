#!/usr/bin/env python3
"""Seed corpora for the fuzz targets (Tests/Fuzz/corpus/<target>), built from the fixtures.

Small on purpose (libFuzzer mutates them; each stays under the 64 KiB max_len Tools/fuzz.sh
uses): GGUF files with every metadata type and tensor type and one with a tiny BLIP-2's whole
configuration and vocabulary but no tensors; safetensors files; the tiny model's JSON files;
small PPM/PGM images of each flavour and PNGs of each colour type; JPEGs of each kind the reader
decodes; tokenizer strings; command lines; HTTP requests.
  .venv-ref/bin/python Tools/make_fuzz_seeds.py   (needs the gguf package; run blip2-quantize
  on Tests/Fixtures/tiny-a first if you want the BLIP-2 metadata seed refreshed: it reads
  that file's metadata with GGUFReader)
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np
from gguf import GGUFWriter, GGUFReader, GGMLQuantizationType
from gguf.quants import quantize

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "Tests" / "Fixtures"
OUT = ROOT / "Tests" / "Fuzz" / "corpus"


def put(target, name, data: bytes):
    d = OUT / target
    d.mkdir(parents=True, exist_ok=True)
    assert len(data) <= 65536, (target, name, len(data))
    (d / name).write_bytes(data)


def gguf_seeds(tiny_model: Path | None):
    rng = np.random.default_rng(1)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "gguf-tmp.gguf"
    w = GGUFWriter(str(path), "blip2")
    w.add_uint8("u8", 7); w.add_int16("i16", -3); w.add_uint32("u32", 9); w.add_float32("f32", 1.5)
    w.add_bool("b", True); w.add_string("s", "héllo"); w.add_array("arr", ["a", "b"]); w.add_float64("f64", 2.0)
    w.add_tensor("t.f32", rng.standard_normal((2, 3)).astype(np.float32))
    w.add_tensor("t.f16", rng.standard_normal((4,)).astype(np.float16))
    x = rng.standard_normal((2, 32)).astype(np.float32)
    w.add_tensor("t.q4_0", quantize(x, GGMLQuantizationType.Q4_0), raw_dtype=GGMLQuantizationType.Q4_0)
    w.add_tensor("t.q8_0", quantize(x, GGMLQuantizationType.Q8_0), raw_dtype=GGMLQuantizationType.Q8_0)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
    put("gguf", "types.gguf", path.read_bytes())
    if tiny_model and tiny_model.exists():
        # The whole configuration and vocabulary of a tiny BLIP-2, without tensors.
        r = GGUFReader(str(tiny_model))
        w = GGUFWriter(str(path), "blip2")
        for key, field in r.fields.items():
            if key.startswith("GGUF.") or key == "general.architecture":
                continue
            vt = field.types[0]
            value = field.contents()
            if vt.name == "ARRAY":
                w.add_key_value(key, value, vt, sub_type=field.types[-1])
            else:
                w.add_key_value(key, value, vt)
        w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
        put("gguf", "blip2-metadata.gguf", path.read_bytes())
    path.unlink()


def safetensors_seed():
    tensors = {"a": ("F32", [2, 2], np.arange(4, dtype=np.float32).tobytes()),
               "b": ("F16", [3], np.ones(3, dtype=np.float16).tobytes()),
               "c": ("BF16", [1], b"\x80\x3f")}
    header, data = {"__metadata__": {"format": "pt"}}, b""
    for name, (dt, shape, raw) in tensors.items():
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode()
    put("safetensors", "three.safetensors", struct.pack("<Q", len(h)) + h + data)


def json_seeds():
    tiny = FIX / "tiny-a"
    for name in ("config.json", "preprocessor_config.json", "generation_config.json"):
        put("json", name, (tiny / name).read_bytes())
    put("json", "tokenizer.json", (FIX / "tiny-a-bf16-sharded" / "tokenizer.json").read_bytes())
    put("json", "vocab-merges", (tiny / "vocab.json").read_bytes() + b"\0" + (tiny / "merges.txt").read_bytes())
    put("json", "index.json", (FIX / "tiny-a-bf16-sharded" / "model.safetensors.index.json").read_bytes())


def pnm_seeds():
    for f in ("pixel-1x1.ppm", "plain-rgb-7x5.ppm", "plain-gray-9x6-maxval1000.pgm", "rgb16-40x30.ppm",
              "rgb-maxval100-20x10.ppm", "gray16-30x20-maxval4095.pgm"):
        put("pnm", f, (FIX / "images" / f).read_bytes())
    put("pnm", "p5-2x1", b"P5 2 1 255\n\x07\xc8")
    # The target reads through ImageDecoder, so PNGs of each colour type, Adam7, tRNS and
    # each deflate block type seed it too.
    for f in ("c0-d1-7x5", "c0-d16-adam7-13x11", "c2-d16-7x5", "c3-d4-adam7-13x11", "c4-d8-7x5",
              "c6-d16-7x5", "plte-short-trns-9x6", "trns-rgb16-hit-9x6", "deflate-stored-50x40",
              "deflate-fixed-50x40", "adam7-rgb-2x3"):
        put("pnm", f + ".png", (FIX / "png" / f"{f}.png").read_bytes())


def jpeg_seeds():
    # Each kind of file the JPEG reader decodes: subsamplings, progressive (complete and
    # smoothed), restarts (and damaged ones), gray, CMYK/YCCK, Adobe RGB, odd sampling factors,
    # separate scans, default Huffman tables, out-of-range coefficients.
    for f in ("pil-ss2-17x9", "pil-ss1-33x17", "pil-prog-17x9", "pil-gray-17x9", "pil-cmyk-17x9",
              "pil-rst-blocks3-64x48", "pil-rst-prog-blocks2-64x48", "smooth-rgb420-first3of10", "smooth-gray-first1of6",
              "hand-440-5x7", "hand-411-19x13", "hand-chroma-larger-19x13", "hand-ycck-adobe2-420-21x14",
              "hand-rgb-adobe0-21x14", "hand-420-separate-scans-restart2-29x21", "hand-420-no-dht-29x21",
              "hand-extreme-coefficients-21x14", "bad-rst-swapped", "bad-prog-premature-eoi-30"):
        put("jpeg", f + ".jpg", (FIX / "jpeg" / f"{f}.jpg").read_bytes())


def tokenizer_seeds():
    for i, s in enumerate(["Question: how many cats are there? Answer:", "two cats laying on a couch\n",
                           "naïve café 東京 😀 1,000,000 it's", "  \t\n  ", "<image></s><pad>"]):
        put("tokenizer", f"s{i}", s.encode())


def args_seeds():
    for i, a in enumerate([["caption", "a.ppm", "--model", "m.q4", "--beams", "3", "--max-tokens", "20"],
                           ["ask", "a.ppm", "what is it?", "--prompt-style", "answer", "--greedy", "--json"],
                           ["caption", "-", "--temperature", "0.7", "--top-k", "40", "--top-p", "0.9", "--seed", "3", "--greedy"],
                           ["tokenize", "--decode", "2", "100", "--model", "m"],
                           ["caption", "x", "--min-tokens", "8", "--max-tokens", "4", "--length-penalty", "-1"]]):
        put("args", f"a{i}", b"\0".join(s.encode() for s in a))


def http_seeds():
    # What clients send blip2-edge serve: pipelined requests, sized and chunked bodies (with
    # extensions and trailers), 100-continue, HTTP/1.0, multipart forms, queries, a refused
    # head followed by its body, and the framing errors the server must refuse.
    ppm = b"P6\n2 1\n255\n" + bytes(range(6))
    chat = b'{"model":"blip2","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}'
    boundary = b"----b1"
    form = (b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.ppm\"\r\n"
            b"Content-Type: image/x-portable-pixmap\r\n\r\n" + ppm + b"\r\n--" + boundary +
            b"\r\nContent-Disposition: form-data; name=question\r\n\r\nwhat is it?\r\n--" + boundary + b"--\r\n")

    def req(method, target, headers=(), body=b"", version=b"HTTP/1.1"):
        head = method + b" " + target + b" " + version + b"\r\nHost: localhost\r\n"
        for h in headers:
            head += h + b"\r\n"
        return head + b"\r\n" + body

    def chunked(body, sizes):
        out, i = b"", 0
        for n in sizes:
            out += b"%x;ext=1\r\n" % n + body[i:i + n] + b"\r\n"
            i += n
        return out + b"0\r\nX-Trailer: 1\r\n\r\n"

    seeds = {
        "get": req(b"GET", b"/health") + req(b"GET", b"/metrics", [b"Connection: keep-alive"]) + req(b"HEAD", b"/v1/models"),
        "chat": req(b"POST", b"/v1/chat/completions", [b"Content-Type: application/json", b"Content-Length: %d" % len(chat)], chat),
        "chat-stream": req(b"POST", b"/stream?x=1", [b"Content-Type: application/json", b"Content-Length: %d" % len(chat)], chat)
                       + req(b"POST", b"/stream", [b"Content-Length: 2"], b"{}", version=b"HTTP/1.0"),
        "caption-query": req(b"POST", b"/v1/caption?max_tokens=20&beams=1&question=what+is%20it%3F",
                             [b"Content-Type: image/x-portable-pixmap", b"Content-Length: %d" % len(ppm)], ppm),
        "chunked": req(b"POST", b"/v1/caption", [b"Transfer-Encoding: chunked", b"Content-Type: image/png"], chunked(ppm, [3, 10, 4]))
                   + req(b"GET", b"/health"),
        "multipart": req(b"POST", b"/v1/ask", [b"Content-Type: multipart/form-data; boundary=\"" + boundary + b"\"",
                                               b"Content-Length: %d" % len(form)], form),
        "multipart-chunked": req(b"POST", b"/v1/ask", [b"Content-Type: multipart/form-data; boundary=" + boundary,
                                                       b"Transfer-Encoding: chunked", b"Expect: 100-continue"], chunked(form, [40, len(form) - 40])),
        "refused": req(b"POST", b"/refuse", [b"Authorization: Bearer nope", b"Content-Length: 4"], b"body") + req(b"GET", b"/health"),
        "http10": req(b"GET", b"/v1/models", [b"Connection: keep-alive"], version=b"HTTP/1.0") + req(b"GET", b"/health", version=b"HTTP/1.0"),
        "bare-lf": b"\r\n\r\nGET /health HTTP/1.1\nHost: x\nContent-Length: 3\n\nabcGET /health HTTP/1.1\n\n",
        "smuggle": req(b"POST", b"/v1/ask", [b"Content-Length: 4", b"Transfer-Encoding: chunked"], b"0\r\n\r\n"),
        "bad-lengths": req(b"POST", b"/v1/ask", [b"Content-Length: 4, 4"], b"abcd") + req(b"POST", b"/v1/ask", [b"Content-Length: +4"], b"abcd"),
        "too-large": req(b"POST", b"/v1/ask", [b"Content-Length: 99999999"], b"x" * 64),
        "truncated": req(b"POST", b"/v1/ask", [b"Content-Length: 100"], b"only this"),
        "version": b"GET / HTTP/2.0\r\n\r\n" + b"GET /health HTTP/1.1\r\n X-Folded: 1\r\n\r\n",
    }
    for name, data in seeds.items():
        put("http", name, data)


def main():
    tiny_model = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    gguf_seeds(tiny_model)
    safetensors_seed()
    json_seeds()
    pnm_seeds()
    jpeg_seeds()
    tokenizer_seeds()
    args_seeds()
    http_seeds()
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote seeds to {OUT} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
