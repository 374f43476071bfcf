#!/usr/bin/env python3
"""The Python half of Tools/bench_t5.sh: BLIP-2 FlanT5 at full size (the random-weight stand-in for
Salesforce/blip2-flan-t5-xl), transformers fp32 against blip2-edge's Q4_0 and Q8_0 files.

  bench_t5.py run --checkpoint DIR --q4 F --q8 F [--f16 F] --image IMG --out FILE.json
          [--tokens 20] [--reps 3] [--threads 2]
      1. With --f16: our F16 file captions IMG greedily (exactly --tokens new tokens): its ids
         against transformers' are the full-size check of our T5 path (F16 holds the bf16 weights
         exactly; only the arithmetic differs).
      2. `reps` rounds, each running transformers, Q4_0 and Q8_0 once (the order rotates from round
         to round). transformers runs in a fresh process each round (`bench_t5.py tf-worker`): it
         loads Blip2ForConditionalGeneration with dtype=float32 and eager attention,
         torch.set_num_threads(threads), checks that nothing is missing or unexpected, that lm_head
         stayed apart from `shared` and that dense_act_fn is "gelu", captions once with 2 tokens
         (warm-up), then once measured; its peak RSS is VmHWM over that caption (reset through
         /proc/self/clear_refs after the warm-up; the load's own peak is kept apart). The 16 GB fp32
         model is gone while ours runs: with both resident (23 GiB machine) our files' pages were
         evicted between runs. Ours: each file read once before its run (page cache warm), then
         `blip2-edge caption` under GNU time (peak RSS from it).
         Greedy, min_new_tokens = max_new_tokens = tokens in transformers and
         --min-tokens = --max-tokens = tokens in ours (`blip2-edge caption IMG --model F --json
         --stats --greedy`), so that both make the same number of steps even where the random
         weights would choose `</s>` (id 1) early. Before each run it waits until other processes use
         at most $OTHERS_MAX cores (default 0.3; 30 s at a time, 5 minutes at most) and records how
         much they used during it.
      transformers' stages are timed inside its `generate` by forward hooks: vision = vision_model;
      Q-Former = qformer start to language_projection end; encoder = the T5 encoder's forward;
      prefill = encoder start to the end of the first decoder step (what ours calls prefill: the
      encoder, the cross-attention keys and values, and the step from the start token);
      decode / token = (end of the last language-model forward - end of the first) / (forwards - 1);
      end to end = preprocessing + generate. Ours: the program's own --json stage times, its
      ru_maxrss, and CPU seconds (children's rusage).

  bench_t5.py kl-sim --checkpoint DIR --image IMG --ids A,B,... --out FILE.json
      The KL of blip2-bench quality, simulated in transformers: fp32 against the same model with its
      weights rounded through ggml's Q8_0 / Q4_0 (the mixes blip2-quantize writes), without and
      with the Linear inputs rounded through Q8_0 as our kernels do; teacher-forced over the ids.
      Tells whether a large KL comes from the (random) model or from our code.

  bench_t5.py bytes FILE.gguf
      Bytes by part; `decode` = what one greedy decode step reads: every decoder tensor except the
      cross-attention k/v weights (applied once to the encoder's output), the decoder's final norm,
      the LM head, and one row of `shared`.

  bench_t5.py report --results DIR [--benchmarks BENCHMARKS.md] [--write]
      The Markdown section "## FlanT5 (blip2-flan-t5-xl)" from what bench_t5.sh left in DIR;
      --write puts it into BENCHMARKS.md (replacing that section, keeping the text between
      <!-- notes --> and <!-- /notes --> of the old one).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_transformers import busy_seconds, gguf_tensors, wait_for_quiet  # noqa: E402

SECTION = "## FlanT5 (blip2-flan-t5-xl)"
ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".build" / "release" / "blip2-edge"
IMAGE_TOKEN = 32100
QUERIES = 32


# ---------------------------------------------------------------------------------------------
# bytes

def file_bytes(path: str) -> dict:
    ts = gguf_tensors(path)
    by = lambda pred: sum(b for n, _, b in ts if pred(n))  # noqa: E731
    cross_kv = by(lambda n: n.startswith("t.decoder.") and re.search(r"EncDecAttention\.[kv]\.", n) is not None)
    decoder = by(lambda n: n.startswith("t.decoder."))
    head = by(lambda n: n == "t.lm_head.weight")
    shared = next(b for n, _, b in ts if n == "t.shared.weight")
    shared_row = shared // 32128
    return {"file": path, "total": sum(b for _, _, b in ts), "vision": by(lambda n: n.startswith("v.")),
            "encoder": by(lambda n: n.startswith("t.encoder.")), "decoder": decoder, "cross_kv": cross_kv,
            "lm_head": head, "shared": shared, "decode": decoder - cross_kv + head + shared_row}


# ---------------------------------------------------------------------------------------------
# run

def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def warm(path: str) -> None:
    """Reads a file once so that its pages are in the page cache (the transformers process before
    it may have pushed them out), as a user's second run finds them."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def run_ours(path: str, image: str, tokens: int, threads: int) -> dict:
    """One blip2-edge caption under GNU time (its peak RSS: a child spawned straight from this
    Python process would inherit the parent's high-water mark in ru_maxrss)."""
    cmd = [str(BIN), "caption", image, "--model", path, "--json", "--stats", "--greedy",
           "--min-tokens", str(tokens), "--max-tokens", str(tokens), "--threads", str(threads), "--quiet"]
    warm(path)
    tlog = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench_t5.{os.getpid()}.time"
    busy0, cpu0, t0 = busy_seconds(), children_cpu(), time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", "-o", str(tlog)] + cmd, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", tlog.read_text()).group(1)) * 1024
    tlog.unlink()
    out = json.loads(p.stdout.strip().splitlines()[-1])
    s, t = out["stats"], out["stats"]["timings"]
    return {"ids": out["tokens"], "text": out["text"], "load": s["load"], "preprocess": t["preprocess"],
            "vision": t["vision"], "qformer": t["qformer"], "prefill": t["prefill"],
            "decode_per_token": t["decodePerToken"], "e2e": t["total"], "process_wall": wall,
            "cpu_seconds": cpu, "peak_rss": rss, "peak_rss_program": s["peakResidentBytes"],
            "mapped": s["mappedBytes"], "kernels": s["kernels"],
            "others_during": max(0.0, busy_seconds() - busy0 - cpu) / wall, "command": " ".join(cmd)}


def vm_status(key: str) -> int:
    return int(re.search(rf"{key}:\s+(\d+) kB", Path("/proc/self/status").read_text()).group(1)) * 1024


def tf_worker(a: argparse.Namespace) -> None:
    """One transformers round in a fresh process: load, a short warm-up caption, then the measured
    caption; prints one JSON object. Fresh per round so that the 16 GB fp32 model is gone while
    ours runs (the machine has 23 GiB; with both resident our files' pages would be evicted)."""
    import torch
    from PIL import Image
    from transformers import AutoTokenizer, Blip2ForConditionalGeneration
    from transformers import __version__ as tf_version
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    model, info = Blip2ForConditionalGeneration.from_pretrained(a.checkpoint, dtype=torch.float32,
                                                                attn_implementation="eager",
                                                                output_loading_info=True)
    model.eval()
    load = time.perf_counter() - t0
    hwm_load = vm_status("VmHWM")
    lm = model.language_model
    problems = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if problems:
        raise SystemExit(f"transformers loaded the checkpoint with {problems}")
    if lm.lm_head.weight.data_ptr() == lm.shared.weight.data_ptr():
        raise SystemExit("transformers tied lm_head to shared: the checkpoint's head is not its own")
    if model.config.text_config.dense_act_fn != "gelu":
        raise SystemExit(f"dense_act_fn {model.config.text_config.dense_act_fn}")
    processor = BlipImageProcessorPil.from_pretrained(a.checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(a.checkpoint)
    ids = torch.tensor([[IMAGE_TOKEN] * QUERIES + tokenizer("").input_ids])
    image = Image.open(a.image)

    events: list[tuple[str, float]] = []

    def stamp(name: str):
        def hook(*_):
            events.append((name, time.perf_counter()))
        return hook

    for name, module in (("vision", model.vision_model), ("qformer", model.qformer),
                         ("proj", model.language_projection), ("encoder", lm.encoder), ("lm", lm)):
        module.register_forward_pre_hook(stamp(name + ".start"))
        module.register_forward_hook(stamp(name + ".end"))

    def caption(tokens: int):
        events.clear()
        t_start = time.perf_counter()
        pixels = processor(images=image, return_tensors="pt")["pixel_values"]
        t_pre = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(pixel_values=pixels, input_ids=ids, attention_mask=torch.ones_like(ids),
                                 do_sample=False, num_beams=1, min_new_tokens=tokens, max_new_tokens=tokens)
        return out, t_start, t_pre, time.perf_counter()

    t_w = time.perf_counter()
    caption(2)  # warm-up: first-call allocations and kernel selection
    warmup = time.perf_counter() - t_w
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM from here on: the caption's own peak
    quiet = wait_for_quiet("transformers caption")
    busy0 = busy_seconds()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    out, t_start, t_pre, t_end = caption(a.tokens)
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    first = {}
    for n, t in events:
        first.setdefault(n, t)
    lm_ends = [t for n, t in events if n == "lm.end"]
    seq = out[0].tolist()
    if seq[0] != 0:
        raise SystemExit(f"transformers' output does not start with the decoder start token: {seq[:4]}")
    print(json.dumps({
        "ids": seq[1:], "encoder_ids": ids[0].tolist(), "preprocess": t_pre - t_start,
        "vision": first["vision.end"] - first["vision.start"],
        "qformer": first["proj.end"] - first["qformer.start"],
        "encoder": first["encoder.end"] - first["encoder.start"],
        "prefill": lm_ends[0] - first["encoder.start"], "lm_forwards": len(lm_ends),
        "decode_per_token": (lm_ends[-1] - lm_ends[0]) / max(len(lm_ends) - 1, 1),
        "e2e": t_end - t_start, "cpu_seconds": cpu, "peak_rss": vm_status("VmHWM"), "peak_rss_load": hwm_load,
        "others_before": quiet, "others_during": max(0.0, busy_seconds() - busy0 - cpu) / (t_end - t_start),
        "load": load, "warmup": warmup, "version": tf_version, "torch": torch.__version__,
        "parameters": sum(p.numel() for p in model.parameters()), "attention": model.config._attn_implementation}))


def run_tf(a: argparse.Namespace) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "tf-worker", "--checkpoint", a.checkpoint,
           "--image", a.image, "--tokens", str(a.tokens), "--threads", str(a.threads)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"transformers worker failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def run(a: argparse.Namespace) -> None:
    results: dict = {"tokens": a.tokens, "reps": a.reps, "threads": a.threads, "image": a.image,
                     "checkpoint": a.checkpoint, "runs": [], "files": {"q4_0": a.q4, "q8_0": a.q8}}
    if a.f16:
        print("bench_t5: F16 ids", file=sys.stderr)
        wait_for_quiet("ours f16")
        results["f16_check"] = run_ours(a.f16, a.image, a.tokens, a.threads)
    runners = {"transformers": lambda: run_tf(a),
               "q4_0": lambda: run_ours(a.q4, a.image, a.tokens, a.threads),
               "q8_0": lambda: run_ours(a.q8, a.image, a.tokens, a.threads)}
    order = list(runners)
    for rep in range(a.reps):
        for what in order[rep % 3:] + order[:rep % 3]:
            quiet = wait_for_quiet(f"{what} run {rep + 1}")
            r = runners[what]()
            r.setdefault("others_before", quiet)
            r.update({"what": what, "rep": rep + 1, "at": time.strftime("%H:%M:%S"), "load_average": os.getloadavg()})
            if what == "transformers":
                results["transformers"] = {k: r[k] for k in ("version", "torch", "load", "parameters", "attention",
                                                             "peak_rss_load")}
                results["encoder_ids"] = r["encoder_ids"]
            results["runs"].append(r)
            print(f"bench_t5: {what} #{rep + 1}: vision {r['vision'] * 1e3:.0f} ms, prefill {r['prefill'] * 1e3:.0f} ms, "
                  f"decode {r['decode_per_token'] * 1e3:.1f} ms/token, e2e {r['e2e']:.2f} s, "
                  f"peak RSS {r['peak_rss'] / 2**30:.2f} GiB, other work {r['others_during']:.2f} cores; "
                  f"ids {r['ids'][:6]}...", file=sys.stderr)
            Path(a.out).write_text(json.dumps(results, indent=1))
    Path(a.out).write_text(json.dumps(results, indent=1))


# ---------------------------------------------------------------------------------------------
# kl-sim

def fake_quant(x, kind: str):
    """ggml's Q8_0 / Q4_0 round trip along the last dimension (blocks of 32, fp16 scales), in torch."""
    import torch

    shape = x.shape
    b = x.reshape(-1, 32).float()
    if kind == "q8_0":
        d = b.abs().amax(dim=1, keepdim=True) / 127
        inv = torch.where(d > 0, 1 / d, torch.zeros_like(d))
        q = torch.round(b * inv)
        out = q * d.half().float()
    else:
        idx = b.abs().argmax(dim=1, keepdim=True)
        d = b.gather(1, idx) / -8
        inv = torch.where(d != 0, 1 / d, torch.zeros_like(d))
        q = torch.clamp(torch.trunc(b * inv + 8.5), max=15)
        out = (q - 8) * d.half().float()
    return out.reshape(shape).to(x.dtype)


def kl_sim(a: argparse.Namespace) -> None:
    """What quantizing the weights (and, as our kernels do, the matmul inputs to Q8_0) does to this
    random-weight model in transformers itself: next-token KL against fp32, teacher-forced over the
    given ids, for the weight mixes blip2-quantize writes (Q8_0: every 2-D weight; Q4_0: Q4_0 with
    `shared` and `lm_head` in Q8_0; relative-bias tables, norms, biases stay exact)."""
    import torch
    from PIL import Image
    from transformers import AutoTokenizer, Blip2ForConditionalGeneration
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    torch.set_num_threads(a.threads)
    processor = BlipImageProcessorPil.from_pretrained(a.checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(a.checkpoint)
    pixels = processor(images=Image.open(a.image), return_tensors="pt")["pixel_values"]
    enc = torch.tensor([[IMAGE_TOKEN] * QUERIES + tokenizer("").input_ids])
    tokens = [int(t) for t in a.ids.split(",")]
    dec = torch.tensor([[0] + tokens])

    def load():
        return Blip2ForConditionalGeneration.from_pretrained(a.checkpoint, dtype=torch.float32,
                                                             attn_implementation="eager").eval()

    def logprobs(model):
        with torch.inference_mode():
            out = model(pixel_values=pixels, input_ids=enc, attention_mask=torch.ones_like(enc),
                        decoder_input_ids=dec).logits[0, :len(tokens)]
        return torch.log_softmax(out.double(), dim=-1)

    def kl(ref, cand) -> dict:
        k = (ref.exp() * (ref - cand)).sum(-1)
        same = (ref.argmax(-1) == cand.argmax(-1)).double().mean()
        return {"mean_kl": float(k.mean()), "max_kl": float(k.max()), "same_top": float(same)}

    model = load()
    ref = logprobs(model)
    results = {"tokens": tokens}
    for kind in ("q8_0", "q4_0"):
        if kind == "q4_0":
            del model
            model = load()
        with torch.no_grad():
            for name, p in model.named_parameters():
                if p.dim() != 2 or "relative_attention_bias" in name:
                    continue
                wide = kind == "q8_0" or name.endswith(("shared.weight", "lm_head.weight"))
                p.copy_(fake_quant(p, "q8_0" if wide else "q4_0"))
        results[f"{kind} weights"] = kl(ref, logprobs(model))
        hooks = [m.register_forward_pre_hook(lambda _m, args: (fake_quant(args[0], "q8_0"),) + tuple(args[1:]))
                 for m in model.modules() if isinstance(m, torch.nn.Linear)]
        results[f"{kind} weights + Q8_0 inputs"] = kl(ref, logprobs(model))
        for h in hooks:
            h.remove()
        print(f"bench_t5 kl-sim: {kind}: {results[f'{kind} weights']} / with Q8_0 inputs "
              f"{results[f'{kind} weights + Q8_0 inputs']}", file=sys.stderr)
    Path(a.out).write_text(json.dumps(results, indent=1))


# ---------------------------------------------------------------------------------------------
# report

def med(xs):
    return statistics.median(xs) if xs else float("nan")


def common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def gib(b: float) -> str:
    return f"{b / 2**30:.2f} GiB"


def report(a: argparse.Namespace) -> None:
    d = Path(a.results)
    read = lambda name: (d / name).read_text().strip() if (d / name).exists() else None  # noqa: E731
    L = [SECTION, ""]
    L.append("Command: `Tools/bench_t5.sh` (it takes `/tmp/blip2-build.lock` itself, so no build of the shared "
             "checkout runs during a measurement). The model is the random-weight stand-in for "
             "Salesforce/blip2-flan-t5-xl: `Tools/make_fullsize_checkpoint.py OUT --model t5-xl` (bf16, "
             "3,942,446,592 parameters: the real checkpoint's names, shapes and config, `lm_head` stored apart "
             "from `shared`), converted by `blip2-quantize`.")
    L.append("")
    e2e = json.loads(read("e2e.json")) if read("e2e.json") else None
    kernels = sorted({r["kernels"] for r in e2e["runs"] if "kernels" in r}) if e2e else []
    L.append(f"Machine: {read('machine.txt')} (`lscpu`; family 25 model 17 is Zen 4)"
             + (f"; blip2-edge ran its `{'`, `'.join(kernels)}` kernels" if kernels else "")
             + ". The machine is shared; load averages (`uptime`) at the start of each part:")
    L.append("")
    for line in (read("load.txt") or "").splitlines():
        L.append(f"    {line}")
    L.append("")
    if e2e:
        tf = e2e["transformers"]
        runs = e2e["runs"]
        n = e2e["tokens"]
        by = {w: [r for r in runs if r["what"] == w] for w in ("transformers", "q4_0", "q8_0")}
        L.append("### Against transformers fp32 (medians)")
        L.append("")
        L.append(f"Workload: `{e2e['image']}`, no prompt (encoder input: 32 query embeddings + `</s>` = "
                 f"{len(e2e['encoder_ids'])} positions), greedy, exactly {n} new tokens (min = max on both sides), "
                 f"{e2e['threads']} threads, {e2e['reps']} interleaved rounds (transformers, Q4_0, Q8_0; the order "
                 f"rotates each round), medians. Ours: `blip2-edge caption IMG --model FILE --json --stats --greedy "
                 f"--min-tokens {n} --max-tokens {n} --threads {e2e['threads']}`, a fresh process each run, page "
                 f"cache warm; its prefill is the T5 encoder plus the cross-attention keys/values and the first "
                 f"decoder step. transformers {tf['version']}, torch {tf['torch']} (CPU): "
                 f"`Blip2ForConditionalGeneration.from_pretrained(dtype=torch.float32, attn_implementation=\"eager\")` "
                 f"from the bf16 checkpoint ({tf['parameters'] / 1e9:.3f} B parameters; loading took "
                 f"{tf['load']:.1f} s, peak RSS {gib(tf['peak_rss_load'])} during it, which converts bf16 to fp32), "
                 f"in a fresh process each round with a 2-token warm-up caption before the measured one, "
                 f"`torch.set_num_threads"
                 f"({e2e['threads']})`, `generate(input_ids=[32100]*32 + [1], do_sample=False, num_beams=1, "
                 f"min_new_tokens={n}, max_new_tokens={n})` under `torch.inference_mode`, stages timed by forward "
                 f"hooks inside it (Tools/bench_t5.py describes them); its prefill = encoder start to the end of the "
                 f"first decoder step, the same span as ours. Peak RSS: ours, GNU time's maximum resident set of the "
                 f"whole process (load included); transformers, the Python process's VmHWM over the measured caption "
                 f"(the fp32 model included, the load's transient excluded). Each of our files was read once before "
                 f"its run (page cache warm).")
        L.append("")
        L.append("| what | vision | Q-Former + proj | T5 encoder | prefill (encoder + first step) | decode / token "
                 "| end to end | CPU s | peak RSS |")
        L.append("|---|---|---|---|---|---|---|---|---|")
        m = {}
        for w, label in (("transformers", "transformers fp32"), ("q4_0", "blip2-edge Q4_0"), ("q8_0", "blip2-edge Q8_0")):
            rs = by[w]
            if not rs:
                continue
            m[w] = {k: med([r[k] for r in rs]) for k in ("vision", "qformer", "prefill", "decode_per_token", "e2e",
                                                           "cpu_seconds", "peak_rss")}
            enc = f"{med([r['encoder'] for r in rs]) * 1e3:.0f} ms" if w == "transformers" else "(in prefill)"
            L.append(f"| {label} | {m[w]['vision'] * 1e3:.0f} ms | {m[w]['qformer'] * 1e3:.1f} ms | {enc} | "
                     f"{m[w]['prefill'] * 1e3:.0f} ms | {m[w]['decode_per_token'] * 1e3:.1f} ms | {m[w]['e2e']:.2f} s | "
                     f"{m[w]['cpu_seconds']:.1f} | {gib(m[w]['peak_rss'])} |")
        L.append("")
        others = [r["others_during"] for r in runs]
        L.append(f"Other work during the measured runs (cores busy outside the measured process): median "
                 f"{med(others):.2f}, max {max(others):.2f}. Each run: " +
                 "; ".join(f"{r['what']} #{r['rep']} {r['at']} e2e {r['e2e']:.2f} s" for r in runs) + ".")
        L.append("")
        if "transformers" in m:
            L.append("Ratios against transformers fp32 in the same run (> 1 = blip2-edge faster or smaller):")
            L.append("")
            L.append("| file | end to end | vision | Q-Former | prefill | decode / token | CPU s | peak RSS |")
            L.append("|---|---|---|---|---|---|---|---|")
            t = m["transformers"]
            for w in ("q4_0", "q8_0"):
                if w in m:
                    r = {k: t[k] / m[w][k] for k in t}
                    L.append(f"| {w.upper()} | {r['e2e']:.2f}x | {r['vision']:.2f}x | {r['qformer']:.2f}x | "
                             f"{r['prefill']:.2f}x | {r['decode_per_token']:.2f}x | {r['cpu_seconds']:.2f}x | "
                             f"{r['peak_rss']:.1f}x |")
            L.append("")
        # ids
        tf_ids = by["transformers"][0]["ids"] if by["transformers"] else None
        L.append("### Token ids at full size")
        L.append("")
        if tf_ids is not None:
            stable = all(r["ids"] == tf_ids for r in by["transformers"])
            L.append(f"transformers fp32 ({n} ids{'' if stable else ', NOT the same in every run'}): `{tf_ids}`.")
            for w, label in (("f16_check", "F16"), ("q8_0", "Q8_0"), ("q4_0", "Q4_0")):
                rs = [e2e[w]] if w == "f16_check" and w in e2e else by.get(w, [])
                if rs:
                    k = common_prefix(rs[0]["ids"], tf_ids)
                    rest = rs[0]["ids"][k:k + 5]
                    tail = " (all)" if k == n else f"; then `{rest}`..."
                    L.append(f"- {label}: the first {k} of {n} ids equal transformers'{tail}")
            L.append("")
    # bandwidth floor
    bw = read("bandwidth.txt")
    if bw and e2e:
        nums = [float(x) for x in re.findall(r"\| ([0-9.]+)", bw)]
        one, two = nums[-2], nums[-1]
        L.append("### Decode against the bandwidth floor")
        L.append("")
        size = re.search(r"stream sum of (\d+ MiB)", bw)
        L.append(f"Read bandwidth: `Tools/bench-kernels.sh --quick`'s stream sum over {size.group(1) if size else '?'} "
                 f"in this run: {one} GB/s "
                 f"on 1 thread, {two} GB/s on 2. Bytes one greedy decode step must read (`bench_t5.py bytes`): every "
                 f"decoder tensor (24 blocks: self-attention q/k/v/o, cross-attention q and o, gated FF "
                 f"wi_0/wi_1/wo, norms) except the cross-attention k/v weights (applied once to the encoder output), "
                 f"the final norm, the untied LM head and one row of `shared`; the KV caches (a few MB) are left "
                 f"out. Floor = bytes / bandwidth ({e2e['threads']} threads).")
        L.append("")
        L.append("| file | decoder + head bytes / token | floor | greedy decode (median) | ratio to floor |")
        L.append("|---|---|---|---|---|")
        bwt = two if e2e["threads"] >= 2 else one
        for t in ("q4_0", "q8_0"):
            b = read(f"bytes-{t}.json")
            rs = [r for r in e2e["runs"] if r["what"] == t]
            if b and rs:
                b = json.loads(b)["decode"]
                floor = b / (bwt * 1e9)
                dec = med([r["decode_per_token"] for r in rs])
                L.append(f"| {t.upper()} | {gib(b)} ({b / 1e9:.2f} GB) | {floor * 1e3:.0f} ms | {dec * 1e3:.1f} ms | "
                         f"{dec / floor:.2f}x |")
        tfr = [r for r in e2e["runs"] if r["what"] == "transformers"]
        params_dec = json.loads(read("bytes-f16.json"))["decode"] / 2 if read("bytes-f16.json") else None
        if tfr and params_dec:
            b = params_dec * 4
            floor = b / (bwt * 1e9)
            dec = med([r["decode_per_token"] for r in tfr])
            L.append(f"| transformers fp32 | {gib(b)} ({b / 1e9:.2f} GB) | {floor * 1e3:.0f} ms | {dec * 1e3:.1f} ms | "
                     f"{dec / floor:.2f}x |")
        L.append("")
    # KL
    kls = [(t, read(f"kl-{t}.txt"), read(f"kl-{t}.err")) for t in ("q8_0", "q4_0")]
    if any(k[1] or k[2] for k in kls):
        L.append("### Quantization quality (KL against F16)")
        L.append("")
        L.append(f"`blip2-bench quality --reference t5xl.f16 --candidate FILE IMG --tokens {e2e['tokens'] if e2e else 20}` "
                 "(the F16 file's greedy tokens; both files teacher-forced over them, next-token distributions "
                 "compared):")
        L.append("")
        for t, out, err in kls:
            if out:
                L.append(f"- {t.upper()}: `{out}`")
            else:
                L.append(f"- {t.upper()}: failed: `{(err or '').splitlines()[-1] if err else 'no output'}`")
        L.append("")
    sim = json.loads(read("kl-sim.json")) if read("kl-sim.json") else None
    if sim:
        L.append("The same comparison simulated in transformers (`bench_t5.py kl-sim`: fp32 against the model with "
                 "its weights rounded through ggml's Q8_0 / Q4_0 as `blip2-quantize` mixes them, without and with every "
                 "Linear input rounded through Q8_0 as our kernels do; teacher-forced over the same ids):")
        L.append("")
        L.append("| weights | matmul inputs | mean KL | max KL | same top token |")
        L.append("|---|---|---|---|---|")
        for t in ("q8_0", "q4_0"):
            for key, inputs in ((f"{t} weights", "fp32"), (f"{t} weights + Q8_0 inputs", "Q8_0")):
                if key in sim:
                    r = sim[key]
                    L.append(f"| {t.upper()} | {inputs} | {r['mean_kl']:.5f} | {r['max_kl']:.5f} | {100 * r['same_top']:.1f}% |")
        L.append("")
    # conversion
    conv = sorted(d.glob("convert-*.md"))
    if conv:
        L.append("### Conversion")
        L.append("")
        L.append("`blip2-quantize CKPT OUT --type T` under GNU time, right after `cat CKPT/*.safetensors >/dev/null` "
                 "(as `Tools/bench_convert.sh`; the page cache holds part or all of the input, so the `cat` times fall "
                 "as the run goes on).")
        L.append("")
        for c in conv:
            L.append(f"{c.stem.replace('convert-', '')}: " + c.read_text().strip())
            L.append("")
    notes = None
    bench = Path(a.benchmarks)
    old = bench.read_text() if bench.exists() else ""
    start = old.find(SECTION + "\n")
    if start >= 0:
        end = old.find("\n## ", start + len(SECTION))
        prev = old[start:end if end >= 0 else len(old)]
        mm = re.search(r"<!-- notes -->.*?<!-- /notes -->", prev, re.S)
        notes = mm.group(0) if mm else None
    if notes:
        L += [notes, ""]
    section = "\n".join(L).rstrip() + "\n"
    (d / "section.md").write_text(section)
    print(section)
    if a.write:
        if start >= 0:
            end = old.find("\n## ", start + len(SECTION))
            new = old[:start] + section + ("\n" + old[end + 1:] if end >= 0 else "")
        else:
            new = old.rstrip() + "\n\n" + section
        bench.write_text(new)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--checkpoint", required=True)
    r.add_argument("--q4", required=True)
    r.add_argument("--q8", required=True)
    r.add_argument("--f16")
    r.add_argument("--image", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--tokens", type=int, default=20)
    r.add_argument("--reps", type=int, default=3)
    r.add_argument("--threads", type=int, default=2)
    w = sub.add_parser("tf-worker")
    w.add_argument("--checkpoint", required=True)
    w.add_argument("--image", required=True)
    w.add_argument("--tokens", type=int, default=20)
    w.add_argument("--threads", type=int, default=2)
    k = sub.add_parser("kl-sim")
    k.add_argument("--checkpoint", required=True)
    k.add_argument("--image", required=True)
    k.add_argument("--ids", required=True, help="comma-separated decoder ids (the F16 file's greedy ones)")
    k.add_argument("--out", required=True)
    k.add_argument("--threads", type=int, default=2)
    b = sub.add_parser("bytes")
    b.add_argument("file")
    rep = sub.add_parser("report")
    rep.add_argument("--results", required=True)
    rep.add_argument("--benchmarks", default=str(ROOT / "BENCHMARKS.md"))
    rep.add_argument("--write", action="store_true")
    a = p.parse_args()
    if a.cmd == "run":
        run(a)
    elif a.cmd == "tf-worker":
        tf_worker(a)
    elif a.cmd == "kl-sim":
        kl_sim(a)
    elif a.cmd == "bytes":
        print(json.dumps(file_bytes(a.file), indent=1))
    else:
        report(a)


if __name__ == "__main__":
    main()
