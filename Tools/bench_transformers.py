"""The Python half of Tools/bench_e2e.sh (issue 7): the transformers anchor, the GGUF byte counts
behind the decode floor, the ggml harness's and perf's output parsed, and the Markdown report.

  bench_transformers.py transformers --checkpoint DIR --image IMG --out FILE.json
          [--threads 2,1] [--beams 1,5] [--tokens 20] [--reps 3]
      Blip2ForConditionalGeneration fp32 on the CPU (the reference environment, Tools/ref_env.sh):
      loads the checkpoint once, then for every threads x beams configuration captions IMG `reps`
      times with `generate` (min_new_tokens = max_new_tokens = tokens, so the token counts match
      blip2-edge's). Stages are timed inside the real `generate` call by forward hooks:
        preprocess  the PIL BlipImageProcessorPil call (the checkpoint's preprocessor config)
        vision      vision_model forward (pre-hook to post-hook)
        qformer     qformer forward start to language_projection forward end
        prefill     the first language-model forward (the 33-token prefix; for beam search
                    transformers expands the prefix to the beams first, so it runs 5 x 33 rows)
        decode      (end of the last language-model forward - end of the first) / (forwards - 1):
                    one step each, with the logits processing and beam bookkeeping between them
        e2e         preprocess + the whole generate call (load excluded)
      and CPU seconds (getrusage user + system of the process over the generate call) and the
      peak resident set (ru_maxrss) after load and at the end. Each run waits until other
      processes use at most $OTHERS_MAX cores (default 0.3) and is taken again (twice at most)
      when they used more during it.

  bench_transformers.py lm-bytes FILE.gguf
      Bytes of language-model weights one decode step reads: every t.* tensor (the token
      embedding counted once, as the tied LM head) except the position table (one row a step).

  bench_transformers.py perf-stages --json RUN.json --out STAGES.json  < `perf script -F tid,time,ip,sym`
      Splits a perf profile of one blip2-edge run by stage (its --json stage times) and lists the
      top symbols (self) of each.

  bench_transformers.py report --results DIR [--benchmarks BENCHMARKS.md] [--write]
      Reads what bench_e2e.sh left in DIR and prints the Markdown section "## Full size vs PyTorch
      and ggml (issue 7)"; --write also puts it into BENCHMARKS.md, replacing that section (and
      keeping any text between <!-- notes --> and <!-- /notes --> of the old one).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import struct
import sys
import time
from pathlib import Path

SECTION = "## Full size vs PyTorch and ggml (issue 7)"
OTHERS_MAX = float(os.environ.get("OTHERS_MAX", "0.3"))   # cores of other work tolerated (see bench_e2e.sh)


def busy_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (/proc/stat, USER_HZ = 100)."""
    f = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, idle, iowait, irq, softirq = (int(x) for x in f[:7])
    return (user + nice + system + irq + softirq) / 100.0


def wait_for_quiet(what: str, tries: int = 10) -> float:
    """Waits (30 s at a time, at most 5 minutes) until other processes use at most OTHERS_MAX
    cores over a 2 s window in which this process sleeps; returns the last figure."""
    for i in range(tries):
        b0 = busy_seconds()
        time.sleep(2)
        others = (busy_seconds() - b0) / 2
        if others <= OTHERS_MAX:
            return others
        print(f"transformers: other work uses {others:.2f} cores before {what}; waiting 30 s ({i + 1}/{tries})",
              file=sys.stderr)
        time.sleep(30)
    return others


# ---------------------------------------------------------------------------------------------
# transformers anchor

def run_transformers(a: argparse.Namespace) -> None:
    import torch
    from PIL import Image
    from transformers import Blip2ForConditionalGeneration
    from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil

    def rusage() -> tuple[float, int]:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime, r.ru_maxrss * 1024

    ckpt = Path(a.checkpoint)
    weight_bytes = sum(p.stat().st_size for p in ckpt.glob("*.safetensors"))
    meminfo = Path("/proc/meminfo").read_text()
    mem_total = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1)) * 1024
    mem_avail = int(re.search(r"MemAvailable:\s+(\d+)", meminfo).group(1)) * 1024
    print(f"transformers: {ckpt} ({weight_bytes / 1e9:.2f} GB of safetensors); "
          f"memory {mem_total / 2**30:.1f} GiB, available {mem_avail / 2**30:.1f} GiB", file=sys.stderr)
    torch.set_num_threads(max(int(t) for t in a.threads.split(",")))
    t0 = time.perf_counter()
    model = Blip2ForConditionalGeneration.from_pretrained(str(ckpt), dtype=torch.float32).eval()
    load = time.perf_counter() - t0
    _, rss_load = rusage()
    processor = BlipImageProcessorPil.from_pretrained(str(ckpt))
    print(f"transformers: loaded in {load:.1f} s, peak RSS {rss_load / 2**30:.2f} GiB, "
          f"attention {model.config._attn_implementation}", file=sys.stderr)

    # Stage clocks: forward pre/post hooks on the modules generate() calls.
    events: list[tuple[str, float]] = []

    def stamp(name: str):
        def hook(*_):
            events.append((name, time.perf_counter()))
        return hook

    hooks = []
    for name, module in (("vision", model.vision_model), ("qformer", model.qformer),
                         ("proj", model.language_projection), ("lm", model.language_model)):
        hooks.append(module.register_forward_pre_hook(stamp(name + ".start")))
        hooks.append(module.register_forward_hook(stamp(name + ".end")))
    image = Image.open(a.image)

    def caption(threads: int, beams: int) -> dict:
        events.clear()
        busy0, cpu0 = busy_seconds(), rusage()[0]
        t_start = time.perf_counter()
        pixels = processor(images=image, return_tensors="pt")["pixel_values"]
        t_pre = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(pixel_values=pixels, do_sample=False, num_beams=beams,
                                 max_new_tokens=a.tokens, min_new_tokens=a.tokens)
        t_end = time.perf_counter()
        cpu1, rss = rusage()
        first = {}
        for n, t in events:
            first.setdefault(n, t)
        lm_starts = [t for n, t in events if n == "lm.start"]
        lm_ends = [t for n, t in events if n == "lm.end"]
        return {
            "threads": threads, "beams": beams,
            "preprocess": t_pre - t_start,
            "vision": first["vision.end"] - first["vision.start"],
            "qformer": first["proj.end"] - first["qformer.start"],
            "prefill": lm_ends[0] - lm_starts[0],
            "lm_forwards": len(lm_starts),
            "decode_per_token": (lm_ends[-1] - lm_ends[0]) / max(len(lm_ends) - 1, 1),
            "generate": t_end - t_pre,
            "e2e": t_end - t_start,
            "cpu_seconds": cpu1 - cpu0,
            "peak_rss": rss,
            "new_tokens": int(out.shape[-1]) - (model.config.num_query_tokens + 1),
            # cores busy with anything but this process during the run
            "others_during": max(0.0, (busy_seconds() - busy0) - (cpu1 - cpu0)) / (t_end - t_start),
        }

    results, first_caption = [], None
    for threads in [int(t) for t in a.threads.split(",")]:
        torch.set_num_threads(threads)
        for beams in [int(b) for b in a.beams.split(",")]:
            for rep in range(1, a.reps + 1):
                for attempt in range(1, 4):   # a run disturbed by other work is taken again (twice at most)
                    quiet = wait_for_quiet(f"threads {threads} beams {beams} run {rep}")
                    r = caption(threads, beams)
                    r.update(rep=rep, attempt=attempt, others_before=quiet)
                    first_caption = first_caption or r
                    print("transformers: threads {threads} beams {beams} run {rep}: vision {vision:.2f} s, "
                          "qformer {qformer:.3f} s, prefill {prefill:.2f} s, decode {decode_per_token:.3f} s/token, "
                          "e2e {e2e:.2f} s ({new_tokens} tokens, {lm_forwards} LM forwards), CPU {cpu_seconds:.1f} s, "
                          "peak RSS {rss:.2f} GiB; other work {others_during:.2f} cores".format(
                              **r, rss=r["peak_rss"] / 2**30), file=sys.stderr)
                    if r["others_during"] <= OTHERS_MAX or attempt == 3:
                        results.append(r)
                        break
                    print("transformers: disturbed by other work; taking this run again", file=sys.stderr)
    for h in hooks:
        h.remove()
    _, rss_end = rusage()
    status = Path("/proc/self/status").read_text()
    rss_parts = {k: int(re.search(k + r":\s+(\d+)", status).group(1)) * 1024 for k in ("RssAnon", "RssFile")}
    doc = {
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
        "attention": model.config._attn_implementation,
        "checkpoint": str(ckpt), "checkpoint_bytes": weight_bytes,
        "parameters": sum(p.numel() for p in model.parameters()),
        "load": load, "peak_rss_after_load": rss_load, "peak_rss": rss_end, "rss_at_end": rss_parts,
        "mem_total": mem_total, "mem_available_before": mem_avail,
        "tokens": a.tokens, "first_caption": first_caption, "runs": results,
    }
    Path(a.out).write_text(json.dumps(doc, indent=1))


# ---------------------------------------------------------------------------------------------
# GGUF tensor table

# F32, F16, Q4_0, Q8_0, and I8 (how a --interleave file stores its Q4_0x8 tensors: raw bytes)
GGUF_BLOCK = {0: (1, 4), 1: (1, 2), 2: (32, 18), 8: (32, 34), 24: (1, 1)}
GGUF_SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def gguf_tensors(path: str) -> list[tuple[str, int, int]]:
    """(name, type, bytes) of every tensor, from the header alone."""
    with open(path, "rb") as f:
        def rd(fmt):
            return struct.unpack("<" + fmt, f.read(struct.calcsize(fmt)))

        def string():
            (n,) = rd("Q")
            return f.read(n)

        def skip(t):
            if t == 8:
                string()
            elif t == 9:
                (et,) = rd("I")
                (n,) = rd("Q")
                if et in GGUF_SCALAR:
                    f.seek(n * GGUF_SCALAR[et], 1)
                else:
                    for _ in range(n):
                        skip(et)
            else:
                f.seek(GGUF_SCALAR[t], 1)

        if f.read(4) != b"GGUF":
            raise SystemExit(f"{path}: not a GGUF file")
        rd("I")
        nt, nk = rd("QQ")
        for _ in range(nk):
            string()
            skip(rd("I")[0])
        out = []
        for _ in range(nt):
            name = string().decode()
            (nd,) = rd("I")
            dims = rd("Q" * nd)
            (t,) = rd("I")
            rd("Q")
            n = 1
            for d in dims:
                n *= d
            per, size = GGUF_BLOCK[t]
            out.append((name, t, n // per * size))
        return out


def lm_bytes(path: str) -> dict:
    ts = gguf_tensors(path)
    lm = [t for t in ts if t[0].startswith("t.")]
    positions = sum(b for n, _, b in lm if "embed_positions" in n)
    embed = sum(b for n, _, b in lm if "embed_tokens" in n)
    return {"file": path, "lm_all": sum(b for _, _, b in lm), "positions": positions, "embed_tokens": embed,
            "per_token": sum(b for _, _, b in lm) - positions,
            "vision": sum(b for n, _, b in ts if n.startswith("v.")), "total": sum(b for _, _, b in ts)}


# ---------------------------------------------------------------------------------------------
# report

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def parse_time_v(text: str) -> dict:
    def field(label):
        m = re.search(re.escape(label) + r":\s*(.+)", text)
        return m.group(1).strip() if m else None
    wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss)")
    secs = 0.0
    for part in (wall or "0").split(":"):
        secs = secs * 60 + float(part)
    return {"user": float(field("User time (seconds)") or 0), "sys": float(field("System time (seconds)") or 0),
            "wall": secs, "maxrss": int(field("Maximum resident set size (kbytes)") or 0) * 1024,
            "major_faults": int(field("Major (requiring I/O) page faults") or 0)}


def load_ours(d: Path) -> list[dict]:
    runs = []
    manifest = d / "runs.tsv"
    if not manifest.exists():
        return runs
    for line in manifest.read_text().splitlines():
        ftype, mode, threads, lowram, rep, stem = line.split("\t")
        jpath, tpath = d / (stem + ".json"), d / (stem + ".time")
        try:
            j = json.loads(jpath.read_text().strip().splitlines()[-1])
        except (OSError, ValueError, IndexError):
            runs.append({"type": ftype, "mode": mode, "threads": int(threads), "lowram": lowram == "1",
                         "rep": int(rep), "failed": True})
            continue
        s, tm = j["stats"], j["stats"]["timings"]
        tv = parse_time_v(tpath.read_text()) if tpath.exists() else {}
        opath = d / (stem + ".others")
        others = float(opath.read_text()) if opath.exists() else None
        runs.append({"type": ftype, "mode": mode, "threads": int(threads), "lowram": lowram == "1", "rep": int(rep),
                     "load": s["load"], "preprocess": tm["preprocess"], "vision": tm["vision"],
                     "qformer": tm["qformer"], "prefill": tm["prefill"], "decode_per_token": tm["decodePerToken"],
                     "e2e": tm["total"], "tokens": s["tokens"], "peak_rss": s["peakResidentBytes"],
                     "mapped": s["mappedBytes"], "cpu_seconds": tv.get("user", 0) + tv.get("sys", 0),
                     "wall": tv.get("wall"), "time_maxrss": tv.get("maxrss"), "major_faults": tv.get("major_faults"),
                     "others": others})
    return runs


def fmt_ms(s):
    return "" if s is None else (f"{s * 1e3:.0f} ms" if s >= 0.1 else f"{s * 1e3:.1f} ms")


def fmt_s(s):
    return "" if s is None else f"{s:.2f} s"


def gib(b):
    return "" if not b else f"{b / 2**30:.2f} GiB"


def ratio(a, b):
    return None if not a or not b else a / b


def fx(r, digits=2):
    return "" if r is None else f"{r:.{digits}f}x"


def parse_kernels(text: str) -> tuple[dict, dict]:
    bw = {}
    m = re.search(r"\| read bandwidth, stream sum of (\d+) MiB \(GB/s\) \| ([\d.]+) \| ([\d.]+) \|", text)
    if m:
        bw = {1: float(m.group(2)), 2: float(m.group(3)), "mib": int(m.group(1))}
    rows = {}
    for m in re.finditer(r"^\| (\d+)x(\d+) \| (\d+) \| (Q4_0|Q8_0|F16) \| (\d+) \| ([\d.]+) \| ([\d.]+) \|", text, re.M):
        rows[(int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4), int(m.group(5)))] = \
            (float(m.group(6)), float(m.group(7)))
    return bw, rows


def parse_ggml(text: str) -> dict:
    rows = {}
    for m in re.finditer(r"^ggml (\d+) (\d+) (\d+) (q4_0|q8_0) (\d+) (plain|repack) ([\d.]+) ms", text, re.M):
        rows[(int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4).upper(), int(m.group(5)), m.group(6))] = \
            float(m.group(7))
    return rows


def perf_table(d: Path, stem: str, top: int = 10) -> list[str]:
    p = d / f"perf-{stem}.stages.json"
    if not p.exists():
        return []
    doc = json.loads(p.read_text())
    out = []
    for stage in doc["stages"]:
        if stage["samples"] == 0:
            continue
        syms = ", ".join(f"`{s}` {pct:.0f}%" for s, pct in stage["top"][:top] if pct >= 1.0)
        out.append(f"| {stage['name']} | {stage['samples']} | {syms} |")
    return out


def report(a: argparse.Namespace) -> None:
    d = Path(a.results)
    meta = json.loads((d / "meta.json").read_text())
    quick = meta.get("quick", False)
    ours = [r for r in load_ours(d) if not r.get("failed")]
    failed = [r for r in load_ours(d) if r.get("failed")]
    tf = json.loads((d / "transformers.json").read_text()) if (d / "transformers.json").exists() else None
    kernels_text = (d / "kernels.md").read_text() if (d / "kernels.md").exists() else ""
    bw, kern = parse_kernels(kernels_text)
    ggml_text = (d / "ggml.txt").read_text() if (d / "ggml.txt").exists() else ""
    ggml = parse_ggml(ggml_text)
    lmb = {t: json.loads((d / f"lm-bytes-{t}.json").read_text()) for t in ("q4_0", "q4_0x8", "q8_0", "f16")
           if (d / f"lm-bytes-{t}.json").exists()}

    def ours_cfg(ftype, mode, threads, lowram=False):
        rs = [r for r in ours if r["type"] == ftype and r["mode"] == mode and r["threads"] == threads
              and r["lowram"] == lowram]
        if not rs:
            return None
        keys = ["load", "preprocess", "vision", "qformer", "prefill", "decode_per_token", "e2e", "peak_rss",
                "cpu_seconds", "wall", "time_maxrss", "tokens"]
        m = {k: med([r[k] for r in rs]) for k in keys}
        m["n"] = len(rs)
        return m

    def tf_cfg(threads, beams):
        if not tf:
            return None
        rs = [r for r in tf["runs"] if r["threads"] == threads and r["beams"] == beams]
        if not rs:
            return None
        keys = ["preprocess", "vision", "qformer", "prefill", "decode_per_token", "e2e", "cpu_seconds", "peak_rss",
                "new_tokens"]
        m = {k: med([r[k] for r in rs]) for k in keys}
        m["n"] = len(rs)
        m["load"] = tf["load"]
        return m

    L = [SECTION, ""]
    L.append(f"Command: `{meta['command']}` (one run, {meta['started']} to {meta['finished']}, "
             f"{meta['elapsed_min']:.0f} min). It makes whatever is missing (the random-weight full-size "
             "checkpoint, the Q4_0/Q8_0/F16 files, the release `blip2-edge`), measures the anchors and "
             "blip2-edge in the same run, and writes this section."
             + "".join(f" Re-measured afterwards: `{r['command']}` ({r['started'][-5:]} to {r['finished'][-5:]})."
                       for r in meta.get("reruns", [])))
    if quick:
        L.append("")
        L.append("**Quick mode**: Q4_0 greedy, 2 threads, one repetition, "
                 f"{meta['tokens']} new tokens, no ggml, no perf; not comparable with a full run.")
    L.append("")
    if "load_note" in meta:
        machine_note = meta["load_note"]
    else:
        pn = meta.get("part_notes", {})
        def when(k):
            start, end, what = (pn[k].split(" ", 2) + ["", ""])[:3]
            m = re.match(r"(.*?)( \(.*\))?$", what)
            return f"{m.group(1)} {start}" + (f"–{end}" if end != start else "") + (m.group(2) or "")
        machine_note = ("The machine is shared: before every measurement the script waits until other processes use at most "
                        f"{os.environ.get('OTHERS_MAX', '0.3')} cores (/proc/stat over 2 s) and takes a measurement "
                        "again (twice at most) when they used more during it. Times of the parts: "
                        + "; ".join(when(k) for k in ("kernels", "ggml", "transformers", "ours", "perf") if k in pn)
                        + ".")
    L.append(f"Machine: {meta['machine']}. {machine_note}")
    L.append("")
    toks = meta["tokens"]
    L.append(f"Workload: `Tests/Fixtures/images/photo-321x187.ppm`, no prompt (prefix = 32 query "
             f"embeddings + BOS = 33 positions), exactly {toks} new tokens (min = max), "
             f"{'greedy' if quick else 'greedy and 5 beams'}. "
             f"blip2-edge: `blip2-edge caption IMG --model FILE --json --stats --min-tokens {toks} --max-tokens {toks} "
             "(--greedy | --beams 5) --threads N [--low-ram]` under `/usr/bin/time -v`, page cache warm "
             f"(each file read once before its runs); figures are medians of {meta['reps']} runs; "
             "stage times are the program's own (`--json`), CPU seconds are user + system from GNU time, peak "
             "RSS is the program's ru_maxrss.")
    if tf:
        v = tf["versions"]
        L.append("")
        L.append(f"transformers anchor: `Tools/bench_transformers.py` — transformers {v['transformers']}, "
                 f"torch {v['torch']} (CPU), `Blip2ForConditionalGeneration.from_pretrained(dtype=float32)` "
                 f"of the same checkpoint ({tf['checkpoint_bytes'] / 1e9:.2f} GB of "
                 f"{'fp32' if tf['checkpoint_bytes'] >= 3.5 * tf['parameters'] else '16-bit'} safetensors, "
                 f"{tf['parameters'] / 1e9:.3f} B parameters; attention `{tf['attention']}`), the image through "
                 "`BlipImageProcessorPil` with the checkpoint's preprocessor config, `generate(do_sample=False, "
                 f"num_beams=1|5, min_new_tokens={toks}, max_new_tokens={toks})` under `torch.inference_mode`, "
                 "`torch.set_num_threads(N)`. The stages are timed inside that `generate` call by forward "
                 "hooks: vision = `vision_model` forward; Q-Former = `qformer` start to `language_projection` "
                 "end; prefill = the first `language_model` forward (for beam search transformers expands the "
                 "prefix to the 5 beams first, so its prefill is 5 x 33 rows; blip2-edge runs the prefix once "
                 "and copies its KV cache to the beams); decode = (end of the last language-model forward - "
                 f"end of the first) / (forwards - 1), i.e. one step with its logits processing. End to end = "
                 f"preprocessing + `generate`. Medians of {meta['tf_reps']} runs after one load. Peak RSS is "
                 "the Python process's ru_maxrss.")
        fits = tf["peak_rss"] < tf["mem_total"]
        parts = tf.get("rss_at_end", {})
        mapped = parts.get("RssFile", 0) > 0.8 * tf["checkpoint_bytes"]
        how = ("transformers 5 memory-maps the safetensors files and the fp32 parameters point into the "
               "mapping, so the weights are read (page-faulted) during the first caption" if mapped else
               "the weights are copied into anonymous memory")
        L.append(f"Its `from_pretrained` took {tf['load']:.1f} s with RSS {gib(tf['peak_rss_after_load'])} after it: "
                 f"{how}; peak RSS "
                 f"{gib(tf['peak_rss'])} (at the end {gib(parts.get('RssFile'))} file-backed, "
                 f"{gib(parts.get('RssAnon'))} anonymous) of {gib(tf['mem_total'])}: "
                 + ("it fits, no workaround needed." if fits else "**it does not fit**."))
        first = tf.get("first_caption") or tf["runs"][0]
        L.append(f"The first caption after the load (threads {first['threads']}, beams {first['beams']}), which "
                 f"pays those page faults, took {first['e2e']:.2f} s end to end (vision {first['vision']:.2f} s); "
                 + ("the medians below include it as one of their runs. " if first in tf["runs"] else
                    "it was taken again (other work disturbed it), so the medians below do not include it. ")
                 + "Every blip2-edge run is a fresh process "
                 "and pays its own (smaller) faults.")
    L.append("")

    # --- per-configuration tables
    types = [("q4_0", "Q4_0"), ("q4_0x8", "Q4_0, `--interleave`"), ("q8_0", "Q8_0"), ("f16", "F16")]
    modes = [("greedy", 1, "greedy"), ("beam5", 5, "5 beams")]
    thread_list = sorted({r["threads"] for r in ours}, reverse=True)
    L.append("### Stage times (medians)")
    L.append("")
    L.append("| what | threads | decoding | load | preprocess | vision | Q-Former + proj | prefill | decode / token "
             "| end to end (load excl.) | CPU s | peak RSS |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for threads in thread_list:
        for mode, beams, mname in modes:
            t = tf_cfg(threads, beams)
            if t:
                L.append(f"| transformers fp32 | {threads} | {mname} | {fmt_s(t['load'])} | {fmt_ms(t['preprocess'])} "
                         f"| {fmt_ms(t['vision'])} | {fmt_ms(t['qformer'])} | {fmt_ms(t['prefill'])} "
                         f"| {fmt_ms(t['decode_per_token'])} | {fmt_s(t['e2e'])} | {t['cpu_seconds']:.1f} "
                         f"| {gib(t['peak_rss'])} |")
            for ftype, fname in types:
                for lowram in (False, True):
                    o = ours_cfg(ftype, mode, threads, lowram)
                    if not o:
                        continue
                    label = f"blip2-edge {fname}" + (", `--low-ram`" if lowram else "")
                    L.append(f"| {label} | {threads} | {mname} | {fmt_ms(o['load'])} | {fmt_ms(o['preprocess'])} "
                             f"| {fmt_ms(o['vision'])} | {fmt_ms(o['qformer'])} | {fmt_ms(o['prefill'])} "
                             f"| {fmt_ms(o['decode_per_token'])} | {fmt_s(o['e2e'])} | {o['cpu_seconds']:.1f} "
                             f"| {gib(o['peak_rss'])} |")
    L.append("")
    oo = [r["others"] for r in ours if r.get("others") is not None]
    to = [r["others_during"] for r in tf["runs"]] if tf else []
    if oo or to:
        L.append("Other work during the measured runs (cores busy outside the measured process): "
                 + (f"blip2-edge runs median {med(oo):.2f}, max {max(oo):.2f}" if oo else "")
                 + ("; " if oo and to else "")
                 + (f"transformers runs median {med(to):.2f}, max {max(to):.2f}" if to else "") + ".")
        L.append("")

    # --- ratios vs transformers
    if tf:
        L.append("### Ratios against transformers fp32 (same threads, same decoding; > 1 = blip2-edge faster or smaller)")
        L.append("")
        L.append("| file | threads | decoding | end to end | vision | Q-Former | prefill | decode / token | CPU s | peak RSS |")
        L.append("|---|---|---|---|---|---|---|---|---|---|")
        for threads in thread_list:
            for mode, beams, mname in modes:
                t = tf_cfg(threads, beams)
                if not t:
                    continue
                for ftype, fname in types:
                    o = ours_cfg(ftype, mode, threads)
                    if not o:
                        continue
                    L.append(f"| {fname} | {threads} | {mname} | {fx(ratio(t['e2e'], o['e2e']))} "
                             f"| {fx(ratio(t['vision'], o['vision']))} | {fx(ratio(t['qformer'], o['qformer']))} "
                             f"| {fx(ratio(t['prefill'], o['prefill']))} "
                             f"| {fx(ratio(t['decode_per_token'], o['decode_per_token']))} "
                             f"| {fx(ratio(t['cpu_seconds'], o['cpu_seconds']))} "
                             f"| {fx(ratio(t['peak_rss'], o['peak_rss']), 1)} |")
        L.append("")

    # --- decode floor
    if bw and lmb:
        L.append("### Decode against the bandwidth floor")
        L.append("")
        L.append(f"Read bandwidth: `Tools/bench-kernels.sh`'s stream sum over {bw['mib']} MiB in this run: "
                 f"{bw[1]:.1f} GB/s on 1 thread, {bw[2]:.1f} GB/s on 2. Bytes one greedy decode step must read: "
                 "every language-model tensor of the file (`t.*`: 32 layers, final norm, and the token embedding "
                 "counted once since it is the tied LM head) except the position table (one row a step); the "
                 "KV cache (at most 35 MB in F32 at 53 positions) is left out. Floor = bytes / bandwidth.")
        L.append("")
        L.append("| file | LM bytes / token | threads | floor | greedy decode (median) | ratio to floor |")
        L.append("|---|---|---|---|---|---|")
        for ftype, fname in types:
            if ftype not in lmb:
                continue
            b = lmb[ftype]["per_token"]
            for threads in thread_list:
                o = ours_cfg(ftype, "greedy", threads)
                floor = b / (bw[threads] * 1e9)
                L.append(f"| {fname} | {b / 2**30:.3f} GiB ({b / 1e9:.2f} GB) | {threads} | {floor * 1e3:.0f} ms "
                         f"| {fmt_ms(o['decode_per_token']) if o else ''} "
                         f"| {fx(ratio(o['decode_per_token'], floor)) if o else ''} |")
        L.append("")

    # --- ggml
    L.append("### Matmul kernels against ggml")
    L.append("")
    if ggml:
        L.append(meta.get("ggml_note", ""))
        L.append("")
        L.append("Last column: the better ggml layout's time over blip2-edge's (> 1: blip2-edge is faster). "
                 "The two were measured one after the other, not interleaved.")
        L.append("")
        L.append("| shape m x k | n | type | threads | blip2-edge ms | ggml ms (plain) | ggml ms (repacked) | "
                 "best ggml / blip2-edge |")
        L.append("|---|---|---|---|---|---|---|---|")
        shapes = [(2560, 2560, 1), (10240, 2560, 1), (2560, 10240, 1), (50304, 2560, 1),
                  (1408, 1408, 257), (4224, 1408, 257), (6144, 1408, 257), (1408, 6144, 257)]
        for m, k, n in shapes:
            for ty in ("Q4_0", "Q8_0"):
                for threads in (1, 2):
                    ours_ms = kern.get((m, k, n, ty, threads), (None,))[0]
                    gp = ggml.get((m, k, n, ty, threads, "plain"))
                    gr = ggml.get((m, k, n, ty, threads, "repack"))
                    if gp is None and gr is None:
                        continue
                    best = min(x for x in (gp, gr) if x is not None)
                    L.append(f"| {m}x{k} | {n} | {ty} | {threads} | {'' if ours_ms is None else f'{ours_ms:.3f}'} "
                             f"| {'' if gp is None else f'{gp:.3f}'} | {'' if gr is None else f'{gr:.3f}'} "
                             f"| {fx(ratio(best, ours_ms))} |")
        L.append("")
    else:
        L.append(meta.get("ggml_note", "ggml was not measured in this run."))
        L.append("")

    # --- goals
    L.append("### Goals of issue 7 (2 threads)")
    L.append("")
    goals = []
    t2 = tf_cfg(2, 1)
    q4 = ours_cfg("q4_0", "greedy", 2)
    q4l = ours_cfg("q4_0", "greedy", 2, True)
    missed = []
    if t2 and q4:
        r = t2["e2e"] / q4["e2e"]
        ok = r >= 5
        goals.append(f"- End-to-end caption at Q4_0 (load excluded, greedy, {toks} tokens) >= 5x faster than "
                     f"transformers fp32: {fmt_s(q4['e2e'])} vs {fmt_s(t2['e2e'])} = **{r:.2f}x, "
                     f"{'met' if ok else 'not met'}**.")
        if not ok:
            missed.append("e2e")
        t5, q5 = tf_cfg(2, 5), ours_cfg("q4_0", "beam5", 2)
        if t5 and q5:
            goals.append(f"  With 5 beams: {fmt_s(q5['e2e'])} vs {fmt_s(t5['e2e'])} = {t5['e2e'] / q5['e2e']:.2f}x.")
    if q4 and bw and "q4_0" in lmb:
        floor = lmb["q4_0"]["per_token"] / (bw[2] * 1e9)
        r = q4["decode_per_token"] / floor
        ok = r <= 1.25
        goals.append(f"- Decode at Q4_0 within 1.25x of the bandwidth floor: {fmt_ms(q4['decode_per_token'])} vs "
                     f"{floor * 1e3:.0f} ms = **{r:.2f}x, {'met' if ok else 'not met'}**"
                     + (f" (`--low-ram`, F16 KV cache: {fmt_ms(q4l['decode_per_token'])} = "
                        f"{q4l['decode_per_token'] / floor:.2f}x)." if q4l else "."))
        if not ok:
            missed.append("decode")
    if t2 and q4:
        r = t2["vision"] / q4["vision"]
        ok = r >= 2.5
        goals.append(f"- Vision encoder at Q4_0 >= 2.5x faster than transformers fp32: {fmt_ms(q4['vision'])} vs "
                     f"{fmt_ms(t2['vision'])} = **{r:.2f}x, {'met' if ok else 'not met'}**.")
        if not ok:
            missed.append("vision")
    if t2 and q4l:
        r = q4l["peak_rss"] / t2["peak_rss"]
        ok = r <= 1 / 8
        goals.append(f"- Peak RSS at Q4_0 in low-RAM mode <= 1/8 of transformers fp32's: {gib(q4l['peak_rss'])} vs "
                     f"{gib(t2['peak_rss'])} = **1/{1 / r:.1f}, {'met' if ok else 'not met'}** (default mode: "
                     f"{gib(q4['peak_rss']) if q4 else ''}).")
        if not ok:
            missed.append("lowram")
    if q4:
        ok = q4["load"] < 1
        extra = f"; transformers' `from_pretrained`: {tf['load']:.1f} s ({tf['load'] / q4['load']:.0f}x)" if tf else ""
        goals.append(f"- Start-up (load) under 1 s with a warm page cache: Q4_0 {fmt_ms(q4['load'])} "
                     f"(all files: " + ", ".join(
                         f"{fname} {fmt_ms(o['load'])}" for ftype, fname in types
                         if (o := ours_cfg(ftype, 'greedy', 2))) + f"){extra}: **{'met' if ok else 'not met'}**.")
        if not ok:
            missed.append("load")
    L.extend(goals)
    L.append("")

    # --- profiles
    profiles = meta.get("perf", [])
    if profiles:
        L.append("### Where the time goes (perf)")
        L.append("")
        L.append("`perf record -g -F 999` (all threads) of blip2-edge on the missed goals' configuration, page "
                 "cache warm; samples are assigned to stages by their time stamps and the stage times the same "
                 "run printed (laid out backwards from the last decode-kernel sample). perf slows the run by "
                 "about 10%. Self time of the top symbols per stage (Swift names demangled, simplified):")
        L.append("")
        for p in profiles:
            rows = perf_table(d, p["stem"])
            if not rows:
                continue
            L.append(f"`{p['command']}` (for: {p['why']})")
            L.append("")
            L.append("| stage | samples | top symbols (self) |")
            L.append("|---|---|---|")
            L.extend(rows)
            L.append("")
    elif not quick and missed:
        L.append("(perf was not run: " + meta.get("perf_note", "unavailable") + ")")
        L.append("")

    if failed:
        L.append("Failed runs (no JSON): " + ", ".join(f"{r['type']} {r['mode']} t{r['threads']}"
                                                       f"{' low-ram' if r['lowram'] else ''} #{r['rep']}" for r in failed))
        L.append("")

    # notes kept from the previous section
    bench = Path(a.benchmarks)
    old = bench.read_text() if bench.exists() else ""
    notes = ""
    start = old.find(SECTION)
    if start >= 0:
        end = old.find("\n## ", start + len(SECTION))
        prev = old[start:end if end >= 0 else len(old)]
        m = re.search(r"<!-- notes -->.*?<!-- /notes -->", prev, re.S)
        if m:
            notes = m.group(0)
    if notes and not quick:
        L.append(notes)
        L.append("")
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
        print(f"report: wrote the section into {bench}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# perf: samples by stage

def perf_stages(a: argparse.Namespace) -> None:
    """Reads `perf script -F tid,time,ip,sym` output (demangled) on stdin and the run's --json line;
    assigns each sample to a stage by its time stamp and prints the top symbols (self) per stage.
    The stages are laid out backwards from the last sample in a decode kernel (gemv_*), which ends
    the decode; without decode steps, forwards from the first sample (the process start, a few
    tens of ms before the program's own load clock starts)."""
    j = json.loads(Path(a.json).read_text().strip().splitlines()[-1])
    s, tm = j["stats"], j["stats"]["timings"]
    steps = max(s["tokens"] - 1, 0)
    durations = [("load + start-up", s["load"]), ("preprocess", tm["preprocess"]), ("vision", tm["vision"]),
                 ("Q-Former", tm["qformer"]), ("prefill", tm["prefill"]), ("decode", tm["decodePerToken"] * steps)]
    samples: list[tuple[float, str]] = []
    cur_time = None
    sample_re = re.compile(r"^\s*(\d+)\s+(\d+\.\d+):\s*$")
    for line in sys.stdin:
        m = sample_re.match(line)
        if m:
            cur_time = float(m.group(2))
            continue
        if cur_time is not None and line.strip():
            # first callchain line = the sampled function: "\t addr sym+off (dso)"
            parts = line.strip().split(None, 1)
            sym = parts[1] if len(parts) > 1 else parts[0]
            if parts[0].startswith("ffffffff"):
                sym = "[kernel] " + sym
            sym = re.sub(r"\s+\([^()]*\)$", "", sym)           # dso
            sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)            # offset
            samples.append((cur_time, sym))
            cur_time = None
    if not samples:
        raise SystemExit("perf-stages: no samples")
    gemv = [t for t, sym in samples if sym.startswith("gemv_")]
    if steps > 0 and gemv:
        start = max(gemv) - sum(d for _, d in durations)
    else:
        start = min(t for t, _ in samples)
    edges, acc = [], start
    for name, dur in durations:
        acc += dur
        edges.append((name, acc))
    edges.append(("exit", float("inf")))
    counts: dict[str, dict[str, int]] = {name: {} for name, _ in edges}
    for t, sym in samples:
        stage = next(n for n, e in edges if t <= e)
        counts[stage][sym] = counts[stage].get(sym, 0) + 1
    out = {"stages": []}
    for name, _ in edges:
        c = counts[name]
        total = sum(c.values())
        top = sorted(c.items(), key=lambda kv: -kv[1])[:a.top]
        out["stages"].append({"name": name, "samples": total,
                              "top": [(shorten(sym), 100.0 * n / total) for sym, n in top]})
    Path(a.out).write_text(json.dumps(out, indent=1))
    for st in out["stages"]:
        if st["samples"]:
            print(f"{st['name']}: {st['samples']} samples: " +
                  ", ".join(f"{sym} {pct:.0f}%" for sym, pct in st["top"][:8]))


def shorten(sym: str) -> str:
    sym = re.sub(r"^(static |merged )+", "", sym)
    sym = re.sub(r"\(.*\)", "(…)", sym)           # argument lists
    sym = re.sub(r"<[^<>]*>", "", sym)
    sym = sym.replace("BLIP2Edge.", "")
    return sym[:90].replace("|", "\\|")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("transformers")
    t.add_argument("--checkpoint", required=True)
    t.add_argument("--image", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--threads", default="2,1")
    t.add_argument("--beams", default="1,5")
    t.add_argument("--tokens", type=int, default=20)
    t.add_argument("--reps", type=int, default=3)
    b = sub.add_parser("lm-bytes")
    b.add_argument("gguf")
    r = sub.add_parser("report")
    r.add_argument("--results", required=True)
    r.add_argument("--benchmarks", default=str(Path(__file__).resolve().parent.parent / "BENCHMARKS.md"))
    r.add_argument("--write", action="store_true")
    s = sub.add_parser("perf-stages")
    s.add_argument("--json", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--top", type=int, default=12)
    a = p.parse_args()
    if a.cmd == "transformers":
        run_transformers(a)
    elif a.cmd == "lm-bytes":
        print(json.dumps(lm_bytes(a.gguf)))
    elif a.cmd == "report":
        report(a)
    else:
        perf_stages(a)


if __name__ == "__main__":
    main()
