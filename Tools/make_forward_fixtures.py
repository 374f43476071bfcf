"""Writes Tests/Fixtures/forward/<model>.gguf: transformers' forward pass and generation on the tiny models.

Why: the Swift runtime must compute what HuggingFace transformers' Blip2ForConditionalGeneration
computes. For each tiny seeded model (Tests/Fixtures/tiny-a, tiny-b, made by make_tiny_checkpoints.py)
this script runs transformers (float32, eval mode, eager attention, one thread) on a deterministic
image and stores, in one GGUF file written with gguf.GGUFWriter and read back with gguf.GGUFReader:

  - the image (`image_rgb8`), what the PIL-based BLIP image processor makes of it (`pixel_values`,
    stored exactly as the PIL-resized bytes `pixel_values.rgb8` plus a per-channel lookup table
    `pixel_values.lut`, and also as an F32 tensor where that is small),
  - every stage of the forward pass: `image_embeds`, `qformer_output`, `projected`,
  - the language model's logits at every prefix position for a caption (no prompt) and a VQA prompt,
  - token ids from `generate` for greedy and beam-search cases (with their settings and the smallest
    score gap any decision had, so that near-ties are visible),
  - for the converter's Q8_0 and Q4_0 files (made by the Swift `blip2-quantize`, so `swift build`
    must have run): greedy ids and teacher-forced logits of transformers run on the dequantized
    weights, and the float32 model's logits for the same tokens.

All float tensors are F32 and row-major; a numpy array of shape (a, b) is stored with GGUF dims
[b, a] (innermost first), so GGUFReader hands back numpy's shape. Metadata ids are int32 arrays.
Tests/Fixtures/README.md describes every key.

Run with the reference environment (Tools/ref_env.sh):  python Tools/make_forward_fixtures.py
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import gguf
import numpy as np
import torch
from gguf import GGUFValueType
from PIL import Image
from transformers import AutoTokenizer, Blip2ForConditionalGeneration, Blip2Processor
from transformers.generation.logits_process import (LogitsProcessorList, MinNewTokensLengthLogitsProcessor,
                                                    NoRepeatNGramLogitsProcessor, RepetitionPenaltyLogitsProcessor)
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil
from transformers.utils import logging as hf_logging

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_tiny_checkpoints import FIXTURES  # noqa: E402
from verify_gguf import hf_name  # noqa: E402

ROOT = FIXTURES.parent.parent
QUANTIZE_BIN = ROOT / ".build" / "debug" / "blip2-quantize"
MODELS = ("tiny-a", "tiny-b")
IMAGE_WIDTH, IMAGE_HEIGHT = 61, 47
VQA_PROMPT = "Question: what is in the picture? Answer:"
# Candidates for a prompt under which greedy generation reaches EOS (random weights rarely do).
# The first one (per model) whose 12-token greedy output ends in EOS after at least 2 other tokens,
# with all margins comfortable, becomes the `eos` prompt.
EOS_QUESTIONS = [
    "what is in the picture?", "what color is the sky?", "how many cats are there?", "what is this?",
    "is it day?", "where is the dog?", "what is on the table?", "who is there?", "what shape is it?",
    "is there a circle?", "what is red?", "how big is the box?", "what is blue?", "why?", "what time is it?",
    "is it a cat or a dog?", "what is the man holding?", "which way is up?", "what is behind the box?",
    "are there two?", "what color is the circle?", "is the light on?", "what is written here?",
    "what is left of the square?", "how many shapes?", "is it sunny?", "what is this made of?",
]
MIN_MARGIN = 1e-4          # a decision closer than this makes exact id comparison meaningless
PIXEL_TENSOR_LIMIT = 64 * 1024   # store `pixel_values` as an F32 tensor only up to this many bytes
QUANT_TYPES = ("q8_0", "q4_0")
QUANT_NEW_TOKENS = 12


@dataclass(frozen=True)
class GenCase:
    name: str
    prompt: str                      # "caption", "vqa" or "eos"
    max_new_tokens: int
    min_new_tokens: int = 0
    num_beams: int = 1
    length_penalty: float = 1.0
    early_stopping: bool = False
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    note: str = ""

    def kwargs(self) -> dict:
        return dict(max_new_tokens=self.max_new_tokens, min_new_tokens=self.min_new_tokens, num_beams=self.num_beams,
                    length_penalty=self.length_penalty, early_stopping=self.early_stopping,
                    repetition_penalty=self.repetition_penalty, no_repeat_ngram_size=self.no_repeat_ngram_size,
                    do_sample=False)


CASES = [
    GenCase("caption_greedy", "caption", 12),
    GenCase("vqa_greedy", "vqa", 8),
    GenCase("caption_beam3", "caption", 10, min_new_tokens=4, num_beams=3, length_penalty=1.0),
    GenCase("vqa_beam4_lp0", "vqa", 6, num_beams=4, length_penalty=0.0, note="LAVIS VQA scoring"),
    GenCase("caption_beam5_early", "caption", 12, num_beams=5, early_stopping=True),
    GenCase("caption_greedy_rep", "caption", 15, repetition_penalty=1.5, no_repeat_ngram_size=2),
    GenCase("caption_greedy_min10", "caption", 12, min_new_tokens=10),
    GenCase("eos_greedy", "eos", 12, note="prompt searched so that greedy output reaches EOS"),
]


# ----------------------------------------------------------------------------------------------------------------
# Inputs


def make_image(width: int = IMAGE_WIDTH, height: int = IMAGE_HEIGHT) -> np.ndarray:
    """A deterministic uint8 RGB image [H, W, 3]: smooth gradients, a few flat shapes, a one-pixel line and
    a saturated corner (sharp edges make bicubic resizing overshoot, so clamping is exercised)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    img = np.stack([40 + 180 * x / (width - 1),
                    30 + 190 * y / (height - 1),
                    128 + 100 * np.sin((x + y) / 9.0)], axis=-1)
    img[(x - 18) ** 2 + (y - 15) ** 2 <= 81] = (250, 240, 20)                       # yellow disc
    img[(x >= 36) & (x < 55) & (y >= 26) & (y < 41)] = (10, 20, 200)                # blue box
    img[(y >= 30) & (y <= 44) & (np.abs(x - 14) <= (y - 30) * 0.8)] = (200, 30, 40)  # red triangle
    img[:, 45] = 0                                                                   # black line
    img[:3, :3] = 255                                                                # white corner
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


@dataclass
class Prompt:
    name: str
    text: str
    input_ids: list[int]      # [<image>] * num_query_tokens + [BOS] + prompt tokens
    prompt_ids: list[int]     # the prompt's tokens without BOS and image tokens (empty for the caption)


@dataclass
class Reference:
    """The model and what it computes for one image."""
    name: str
    model: Blip2ForConditionalGeneration
    tokenizer: object
    processor: Blip2Processor
    pixel_values: torch.Tensor                       # [1, 3, S, S]
    stages: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def config(self):
        return self.model.config

    def prompt(self, name: str, text: str) -> Prompt:
        n = self.config.num_query_tokens
        if not text:  # caption: what generate() builds when it gets no input_ids
            return Prompt(name, "", [self.config.image_token_index] * n + [self.config.text_config.bos_token_id], [])
        image = Image.fromarray(make_image())
        ids = self.processor(images=image, text=text, return_tensors="pt")["input_ids"][0].tolist()
        own = self.tokenizer(text).input_ids
        bos = self.config.text_config.bos_token_id
        if ids != [self.config.image_token_index] * n + own or own[0] != bos or bos in own[1:]:
            raise AssertionError(f"{self.name}: processor ids {ids} vs tokenizer {own}")
        return Prompt(name, text, ids, own[1:])

    def inputs_embeds(self, ids: torch.Tensor, prefix_len: int) -> torch.Tensor:
        """As generate() builds them: token embeddings, the first `prefix_len` positions' image tokens
        replaced by the projected queries (a generated <image> id later on is an ordinary token)."""
        embeds = self.model.get_input_embeddings()(ids)
        mask = torch.zeros_like(ids, dtype=torch.bool)
        mask[:, :prefix_len] = ids[:, :prefix_len] == self.config.image_token_index
        if int(mask.sum()) != ids.shape[0] * self.config.num_query_tokens:
            raise AssertionError("prefix does not hold num_query_tokens image tokens")
        projected = self.stages["projected"].expand(ids.shape[0], -1, -1)
        return embeds.masked_scatter(mask[..., None], projected.to(embeds.dtype))

    def lm_logits(self, ids: list[list[int]] | torch.Tensor, prefix_len: int) -> torch.Tensor:
        """Language-model logits [B, L, V] at every position of `ids`, one full (teacher-forced) forward."""
        ids = torch.as_tensor(ids, dtype=torch.long)
        with torch.no_grad():
            out = self.model.language_model(inputs_embeds=self.inputs_embeds(ids, prefix_len),
                                            attention_mask=torch.ones_like(ids))
        return out.logits.float()


def load_reference(name: str, directory: Path) -> Reference:
    model = Blip2ForConditionalGeneration.from_pretrained(str(directory), dtype=torch.float32,
                                                          attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(str(directory))
    image_processor = BlipImageProcessorPil.from_pretrained(str(directory))
    if image_processor.backend != "pil":
        raise AssertionError("expected the PIL image processor")
    processor = Blip2Processor(image_processor, tokenizer, num_query_tokens=model.config.num_query_tokens)
    pixel_values = processor(images=Image.fromarray(make_image()), return_tensors="pt")["pixel_values"]
    size = model.config.vision_config.image_size
    if pixel_values.dtype != torch.float32 or tuple(pixel_values.shape) != (1, 3, size, size):
        raise AssertionError(f"pixel_values {pixel_values.dtype} {tuple(pixel_values.shape)}")
    return Reference(name, model, tokenizer, processor, pixel_values)


def pixel_lookup(ref: Reference) -> tuple[np.ndarray, np.ndarray]:
    """The PIL-resized uint8 image [S, S, 3] and a table lut[c, v] with pixel_values[c, y, x] ==
    lut[c, rgb8[y, x, c]] bit for bit (the processor resizes in uint8, then rescales and normalizes)."""
    size = ref.config.vision_config.image_size
    resized = np.asarray(Image.fromarray(make_image()).resize((size, size), Image.Resampling.BICUBIC))
    levels = np.broadcast_to(np.arange(256, dtype=np.uint8)[None, :, None], (1, 256, 3))
    lut = ref.processor.image_processor(images=Image.fromarray(np.ascontiguousarray(levels)), do_resize=False,
                                        return_tensors="np")["pixel_values"][0, :, 0, :]
    pv = ref.pixel_values[0].numpy()
    rebuilt = np.stack([lut[c][resized[..., c]] for c in range(3)])
    if lut.shape != (3, 256) or lut.dtype != np.float32 or not np.array_equal(rebuilt, pv):
        raise AssertionError(f"{ref.name}: pixel_values are not lut[resized uint8]")
    return resized, lut


# ----------------------------------------------------------------------------------------------------------------
# Forward pass


def run_stages(ref: Reference) -> None:
    m = ref.model
    with torch.no_grad():
        image_embeds = m.vision_model(ref.pixel_values, return_dict=True).last_hidden_state
        query = m.qformer(query_embeds=m.query_tokens.expand(1, -1, -1), encoder_hidden_states=image_embeds,
                          encoder_attention_mask=torch.ones(image_embeds.shape[:-1], dtype=torch.long),
                          return_dict=True).last_hidden_state
        projected = m.language_projection(query)
        features = m.get_image_features(ref.pixel_values, return_dict=True)
    if not (torch.equal(features.pooler_output, projected)
            and torch.equal(features.qformer_outputs.last_hidden_state, query)):
        raise AssertionError("get_image_features differs from the stage-by-stage computation")
    ref.stages = {"image_embeds": image_embeds, "qformer_output": query, "projected": projected}


def prefix_logits(ref: Reference, prompt: Prompt) -> torch.Tensor:
    """Logits [P, V] from Blip2ForConditionalGeneration.forward, checked against the language model run on
    inputs_embeds built as generate() builds them, and against generate()'s own first-step logits."""
    ids = torch.tensor([prompt.input_ids])
    with torch.no_grad():
        forward = ref.model(pixel_values=ref.pixel_values, input_ids=ids, attention_mask=torch.ones_like(ids)).logits
        gen = ref.model.generate(pixel_values=ref.pixel_values, input_ids=ids, max_new_tokens=1, do_sample=False,
                                 output_logits=True, return_dict_in_generate=True)
    embeds = ref.lm_logits(ids, ids.shape[1])
    diff = (forward - embeds).abs().max().item()
    first = (gen.logits[0][0] - forward[0, -1]).abs().max().item()
    print(f"  {prompt.name} prefix logits {tuple(forward.shape[1:])}: forward vs inputs_embeds {diff:.2e}, "
          f"vs generate step 0 {first:.2e}")
    if diff > 1e-5 or first > 1e-5:
        raise AssertionError("forward and generate's inputs_embeds disagree")
    return forward[0]


# ----------------------------------------------------------------------------------------------------------------
# Generation: transformers' generate(), and a step-by-step mirror of it that records the decision margins


def processors(case: GenCase, prefix_len: int, eos: int) -> LogitsProcessorList:
    """The processors generate() installs for these settings, in its order. They see the whole sequence,
    image tokens and BOS included (repetition penalty and n-gram bans count them too)."""
    procs = LogitsProcessorList()
    if case.repetition_penalty != 1.0:
        procs.append(RepetitionPenaltyLogitsProcessor(case.repetition_penalty))
    if case.no_repeat_ngram_size > 0:
        procs.append(NoRepeatNGramLogitsProcessor(case.no_repeat_ngram_size))
    if case.min_new_tokens > 0:
        procs.append(MinNewTokensLengthLogitsProcessor(prefix_len, case.min_new_tokens, eos))
    return procs


def hf_generate(ref: Reference, prompt: Prompt, case: GenCase) -> list[int]:
    ids = torch.tensor([prompt.input_ids])
    with torch.no_grad():
        out = ref.model.generate(pixel_values=ref.pixel_values, input_ids=ids, **case.kwargs())
    if out.shape[0] != 1 or out[0, :ids.shape[1]].tolist() != prompt.input_ids:
        raise AssertionError("generate did not return prefix + new tokens")
    return out[0, ids.shape[1]:].tolist()


def mirror_greedy(ref: Reference, prompt: Prompt, case: GenCase) -> tuple[list[int], list[float]]:
    eos = ref.config.text_config.eos_token_id
    ids, prefix_len = list(prompt.input_ids), len(prompt.input_ids)
    procs = processors(case, prefix_len, eos)
    margins = []
    for _ in range(case.max_new_tokens):
        scores = procs(torch.tensor([ids]), ref.lm_logits([ids], prefix_len)[:, -1])[0]
        top = scores.topk(2).values
        margins.append((top[0] - top[1]).item())
        token = int(scores.argmax())
        ids.append(token)
        if token == eos:
            break
    return ids[prefix_len:], margins


def sorted_gap(values: torch.Tensor, k: int) -> float:
    """Gap between the k-th and (k+1)-th largest finite (> -1e8) values, inf if there is no (k+1)-th."""
    v = values[values > -1e8].sort(descending=True).values
    return (v[k - 1] - v[k]).item() if v.numel() > k else math.inf


def mirror_beam(ref: Reference, prompt: Prompt, case: GenCase) -> tuple[list[int], list[float]]:
    """transformers 5's beam search (GenerationMixin._beam_search, batch 1, one EOS id), step by step, with the
    margin of every decision it takes: which non-finished candidates keep running, whether an EOS (or
    max-length) candidate is among the top num_beams, which finished hypotheses are kept, the early-stop
    test, and finally the best hypothesis against the second."""
    eos, nb, lp = ref.config.text_config.eos_token_id, case.num_beams, case.length_penalty
    prefix_len = len(prompt.input_ids)
    max_length = prefix_len + case.max_new_tokens
    procs = processors(case, prefix_len, eos)
    k = 2 * nb
    running = [list(prompt.input_ids) for _ in range(nb)]
    running_scores = torch.full((nb,), -1e9)
    running_scores[0] = 0
    finished: list[list[int]] = [[] for _ in range(nb)]
    finished_scores = torch.full((nb,), -1e9)
    is_finished = torch.zeros(nb, dtype=torch.bool)
    unsatisfied = True
    cur_len = prefix_len
    margins: list[float] = []
    while True:
        logits = ref.lm_logits(running, prefix_len)[:, -1]
        log_probs = procs(torch.tensor(running), torch.log_softmax(logits, dim=-1))
        vocab = log_probs.shape[-1]
        acc = (log_probs + running_scores[:, None]).reshape(-1)
        top_vals, top_idx = torch.topk(acc, k)
        cands = [running[int(i) // vocab] + [int(i) % vocab] for i in top_idx]
        hits = torch.tensor([c[-1] == eos or cur_len + 1 >= max_length for c in cands])
        step_margins = []
        # running beams: the best nb candidates that did not finish
        all_tokens = torch.arange(acc.numel()) % vocab
        all_hits = (all_tokens == eos) | (cur_len + 1 >= max_length)
        if not bool(all_hits.all()):
            step_margins.append(sorted_gap(acc[~all_hits], nb))
        # finished candidates: only those among the top nb of all candidates count
        if bool(hits[:nb + 1].any()):
            step_margins.append(sorted_gap(acc, nb))
        keep = torch.topk(top_vals + hits.float() * -1.0e9, nb).indices
        new_running = [cands[int(i)] for i in keep]
        new_running_scores = (top_vals + hits.float() * -1.0e9)[keep]
        norm = top_vals / ((cur_len + 1 - prefix_len) ** lp)
        norm = norm + float(bool(is_finished.all()) and case.early_stopping is True) * -1.0e9
        norm = norm + (0.0 if unsatisfied else -1.0e9)
        just_finished = hits & (torch.arange(k) < nb)
        norm = norm + (~just_finished).float() * -1.0e9
        merged_scores = torch.cat([finished_scores, norm])
        merged = finished + cands
        merged_flags = torch.cat([is_finished, just_finished])
        if bool(just_finished.any()):
            step_margins.append(sorted_gap(merged_scores, nb))
        best = torch.topk(merged_scores, nb).indices
        finished = [merged[int(i)] for i in best]
        finished_scores, is_finished = merged_scores[best], merged_flags[best]
        running, running_scores = new_running, new_running_scores
        cur_len += 1
        # early-stop heuristic
        length = (max_length - prefix_len) if (case.early_stopping == "never" and lp > 0.0) else (cur_len - prefix_len)
        best_possible = running_scores[:1] / (length ** lp)
        worst = torch.where(is_finished, finished_scores.min(), torch.tensor(-1.0e9))
        if bool(is_finished.all()) and unsatisfied:
            step_margins.append(abs((best_possible - finished_scores.min()).item()))
        unsatisfied = unsatisfied and bool((best_possible > worst).any())
        margins.append(min(step_margins, default=math.inf))
        open_beam = not (bool(is_finished.all()) and case.early_stopping is True)
        if not (unsatisfied and open_beam and not bool(hits.all())):
            break
    margins.append(sorted_gap(finished_scores, 1))  # the answer: best finished hypothesis vs the next
    return finished[0][prefix_len:], margins


def run_case(ref: Reference, prompts: dict[str, Prompt], case: GenCase) -> tuple[list[int], float]:
    prompt = prompts[case.prompt]
    ids = hf_generate(ref, prompt, case)
    mirror = mirror_beam if case.num_beams > 1 else mirror_greedy
    mirror_ids, margins = mirror(ref, prompt, case)
    if mirror_ids != ids:
        raise AssertionError(f"{ref.name} {case.name}: mirror {mirror_ids} != generate {ids}")
    eos = ref.config.text_config.eos_token_id
    if eos in ids[:-1] or not ids or len(ids) > case.max_new_tokens:
        raise AssertionError(f"{ref.name} {case.name}: bad output {ids}")
    if eos not in ids and len(ids) != case.max_new_tokens and case.num_beams == 1:
        raise AssertionError(f"{ref.name} {case.name}: stopped early without EOS")
    min_margin = min(margins)
    steps = " ".join(f"{m:.3g}" for m in margins)
    print(f"  {case.name}: {ids}{' (EOS)' if eos in ids else ''}; min margin {min_margin:.4g}; per step: {steps}")
    return ids, min_margin


def find_eos_prompt(ref: Reference) -> Prompt:
    """The first candidate question whose greedy 12-token answer reaches EOS after >= 2 other tokens with every
    margin comfortable (transformers' generate and the mirror must agree)."""
    eos = ref.config.text_config.eos_token_id
    probe = GenCase("probe", "eos", 12)
    for question in EOS_QUESTIONS:
        prompt = ref.prompt("eos", f"Question: {question} Answer:")
        ids, margins = mirror_greedy(ref, prompt, probe)
        if ids[-1] == eos and len(ids) >= 3 and min(margins) >= 10 * MIN_MARGIN:
            print(f"  eos prompt: {prompt.text!r} -> {ids}")
            return prompt
    raise AssertionError(f"{ref.name}: no candidate prompt reaches EOS")


# ----------------------------------------------------------------------------------------------------------------
# Dequantized weights


def quantize(bin_path: Path, model_dir: Path, qtype: str, out: Path) -> None:
    subprocess.run([str(bin_path), str(model_dir), str(out), "--type", qtype, "--quiet"], check=True)


def dequantized_model(ref: Reference, path: Path) -> tuple[Blip2ForConditionalGeneration, str]:
    """A copy of the model with every weight replaced by gguf.quants.dequantize of the file's tensor."""
    reader = gguf.GGUFReader(str(path))
    base = ref.model.state_dict()
    state, counts = {}, {}
    for t in reader.tensors:
        name = hf_name(t.name)
        qtype = gguf.GGMLQuantizationType(t.tensor_type)
        counts[qtype.name] = counts.get(qtype.name, 0) + 1
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))
        value = gguf.quants.dequantize(np.asarray(t.data), qtype).astype(np.float32).reshape(shape)
        if name not in base or tuple(base[name].shape) != shape or name in state:
            raise AssertionError(f"{path.name}: tensor {t.name} -> {name} {shape} does not fit the model")
        state[name] = torch.from_numpy(value.copy())
    tied = "language_model.lm_head.weight"
    if tied in state:
        raise AssertionError("lm_head is stored")
    state[tied] = state["language_model.model.decoder.embed_tokens.weight"]
    model = Blip2ForConditionalGeneration(ref.config).eval()
    model.load_state_dict(state, strict=True)
    model.tie_weights()
    lm = model.language_model
    if lm.lm_head.weight.data_ptr() != lm.model.decoder.embed_tokens.weight.data_ptr():
        raise AssertionError("lm_head is not tied")
    return model, ",".join(f"{k}:{v}" for k, v in sorted(counts.items()))


def quantized_case(ref: Reference, caption: Prompt, bin_path: Path, model_dir: Path, qtype: str,
                   tmp: Path) -> dict:
    path = tmp / f"{ref.name}.{qtype}.gguf"
    quantize(bin_path, model_dir, qtype, path)
    model, types = dequantized_model(ref, path)
    deq = Reference(ref.name, model, ref.tokenizer, ref.processor, ref.pixel_values)
    run_stages(deq)
    case = GenCase(f"deq_{qtype}", "caption", QUANT_NEW_TOKENS, min_new_tokens=QUANT_NEW_TOKENS)
    ids = hf_generate(deq, caption, case)
    mirror_ids, margins = mirror_greedy(deq, caption, case)
    if mirror_ids != ids or len(ids) != QUANT_NEW_TOKENS:
        raise AssertionError(f"{ref.name} {qtype}: {mirror_ids} vs {ids}")
    sequence = caption.input_ids + ids
    logits = deq.lm_logits([sequence], len(caption.input_ids))[0]
    f32 = ref.lm_logits([sequence], len(caption.input_ids))[0]
    p = torch.log_softmax(f32[-QUANT_NEW_TOKENS - 1:-1], -1)
    q = torch.log_softmax(logits[-QUANT_NEW_TOKENS - 1:-1], -1)
    kld = (p.exp() * (p - q)).sum(-1).mean().item()
    same = (p.argmax(-1) == q.argmax(-1)).float().mean().item()
    cos = torch.nn.functional.cosine_similarity(f32, logits, dim=-1).min().item()
    print(f"  {qtype} ({types}): {ids}; min margin {min(margins):.4g}; vs f32 on the same tokens: "
          f"KLD {kld:.4g}, same top-1 {same:.0%}, min cosine {cos:.5f}")
    return {"ids": ids, "logits": logits, "f32_logits": f32, "types": types, "min_margin": min(margins)}


# ----------------------------------------------------------------------------------------------------------------
# The file


def write_fixture(path: Path, ref: Reference, prompts: dict[str, Prompt], logits: dict[str, torch.Tensor],
                  results: dict[str, tuple[list[int], float]], quant: dict[str, dict], args) -> None:
    tensors: dict[str, np.ndarray] = {}
    meta: dict[str, tuple] = {}  # key -> (value, GGUF type, array element type)
    i32, f32, string, boolean = GGUFValueType.INT32, GGUFValueType.FLOAT32, GGUFValueType.STRING, GGUFValueType.BOOL
    u32, arr, u8 = GGUFValueType.UINT32, GGUFValueType.ARRAY, GGUFValueType.UINT8

    def ints(key, values):
        values = [int(v) for v in values]
        if not values:
            raise AssertionError(f"{key}: empty arrays are not written by GGUFWriter")
        meta[key] = (values, arr, i32)

    cfg = ref.config
    meta["fixture.generator"] = ("Tools/make_forward_fixtures.py", string, None)
    meta["fixture.model"] = (ref.name, string, None)
    meta["fixture.seed"] = (args.seed, u32, None)
    for package in ("torch", "transformers", "gguf", "numpy", "pillow"):
        meta[f"fixture.{package}_version"] = (_version(package), string, None)
    meta["model.image_token_index"] = (cfg.image_token_index, i32, None)
    meta["model.num_query_tokens"] = (cfg.num_query_tokens, i32, None)
    meta["model.bos_token_id"] = (cfg.text_config.bos_token_id, i32, None)
    meta["model.eos_token_id"] = (ref.model.generation_config.eos_token_id, i32, None)
    meta["model.image_size"] = (cfg.vision_config.image_size, i32, None)

    image = make_image()
    tensors["image_rgb8"] = image.astype(np.float32)
    resized, lut = pixel_lookup(ref)
    meta["pixel_values.rgb8"] = (resized.tobytes(), arr, u8)
    tensors["pixel_values.lut"] = lut
    pv = ref.pixel_values[0].numpy()
    if pv.nbytes <= PIXEL_TENSOR_LIMIT:
        tensors["pixel_values"] = pv
    for stage, value in ref.stages.items():
        tensors[stage] = value[0].numpy()

    for prompt in prompts.values():
        meta[f"{prompt.name}.prompt_text"] = (prompt.text, string, None)
        ints(f"{prompt.name}.input_ids", prompt.input_ids)
        if prompt.prompt_ids:
            ints(f"{prompt.name}.prompt_ids", prompt.prompt_ids)
    for name, value in logits.items():
        tensors[f"{name}.logits"] = value.numpy()

    meta["gen.names"] = ([c.name for c in CASES], arr, string)
    for case in CASES:
        ids, margin = results[case.name]
        k = f"gen.{case.name}."
        ints(k + "ids", ids)
        meta[k + "prompt"] = (case.prompt, string, None)
        meta[k + "max_new_tokens"] = (case.max_new_tokens, i32, None)
        meta[k + "min_new_tokens"] = (case.min_new_tokens, i32, None)
        meta[k + "num_beams"] = (case.num_beams, i32, None)
        meta[k + "length_penalty"] = (case.length_penalty, f32, None)
        meta[k + "early_stopping"] = (case.early_stopping, boolean, None)
        meta[k + "repetition_penalty"] = (case.repetition_penalty, f32, None)
        meta[k + "no_repeat_ngram_size"] = (case.no_repeat_ngram_size, i32, None)
        meta[k + "min_margin"] = (margin, f32, None)

    meta["deq.prompt"] = ("caption", string, None)
    meta["deq.max_new_tokens"] = (QUANT_NEW_TOKENS, i32, None)
    meta["deq.min_new_tokens"] = (QUANT_NEW_TOKENS, i32, None)
    for qtype, q in quant.items():
        ints(f"deq_{qtype}.ids", q["ids"])
        meta[f"deq_{qtype}.tensor_types"] = (q["types"], string, None)
        meta[f"deq_{qtype}.min_margin"] = (q["min_margin"], f32, None)
        tensors[f"deq_{qtype}.logits"] = q["logits"].numpy()
    tensors["f32.teacher.logits"] = quant["q4_0"]["f32_logits"].numpy()

    tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}
    writer = gguf.GGUFWriter(str(path), arch="blip2-forward-fixtures")
    for key, (value, vtype, sub) in meta.items():
        writer.add_key_value(key, value, vtype, sub_type=sub)
    for name, value in tensors.items():
        writer.add_tensor(name, value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    verify(path, tensors, meta)


def verify(path: Path, tensors: dict[str, np.ndarray], meta: dict[str, tuple]) -> None:
    """Read the file back with GGUFReader: F32 tensors in numpy's shape with the same values, same metadata."""
    reader = gguf.GGUFReader(str(path))
    got = {t.name: t for t in reader.tensors}
    if list(got) != list(tensors):
        raise AssertionError("tensor list differs")
    for name, want in tensors.items():
        t = got[name]
        if t.tensor_type != gguf.GGMLQuantizationType.F32:
            raise AssertionError(f"{name}: {t.tensor_type.name}")
        if tuple(int(d) for d in reversed(t.shape.tolist())) != want.shape or not np.array_equal(t.data, want):
            raise AssertionError(f"{name}: dims {list(t.shape)} / data differ from numpy shape {want.shape}")
    for key, (value, vtype, _) in meta.items():
        field_ = reader.fields[key]
        back = field_.contents()
        if isinstance(value, bytes):
            ok = bytes(bytearray(back)) == value
        elif vtype == GGUFValueType.FLOAT32:
            ok = back == float(np.float32(value))
        else:
            ok = back == value
        if not ok or field_.types[0] != vtype:
            raise AssertionError(f"metadata {key}: {str(back)[:80]} != {str(value)[:80]}")


def _version(package: str) -> str:
    from importlib.metadata import version
    return version(package)


def make_one(name: str, args, tmp: Path) -> None:
    model_dir = args.fixtures / name
    print(f"{name}:")
    ref = load_reference(name, model_dir)
    run_stages(ref)
    for stage, value in ref.stages.items():
        print(f"  {stage} {tuple(value.shape[1:])}, std {value.std().item():.3f}")
    prompts = {"caption": ref.prompt("caption", ""), "vqa": ref.prompt("vqa", VQA_PROMPT)}
    prompts["eos"] = find_eos_prompt(ref)
    logits = {name_: prefix_logits(ref, prompts[name_]) for name_ in ("caption", "vqa")}
    # generate() with no input_ids builds the caption prefix itself: the same ids must come out
    with torch.no_grad():
        own = ref.model.generate(pixel_values=ref.pixel_values, **CASES[0].kwargs())[0].tolist()
    if own != prompts["caption"].input_ids + hf_generate(ref, prompts["caption"], CASES[0]):
        raise AssertionError("generate() builds a different caption prefix")

    results = {}
    for case in CASES:
        results[case.name] = run_case(ref, prompts, case)
        if results[case.name][1] < MIN_MARGIN:
            raise AssertionError(f"{name} {case.name}: margin {results[case.name][1]:.3g} < {MIN_MARGIN}; change it")
    quant = {q: quantized_case(ref, prompts["caption"], args.quantize_bin, model_dir, q, tmp) for q in QUANT_TYPES}

    path = args.out / f"{name}.gguf"
    write_fixture(path, ref, prompts, logits, results, quant, args)
    print(f"  {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {path.stat().st_size / 1024:.0f} KiB, "
          f"read back and verified")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixtures", type=Path, default=FIXTURES, help="where tiny-a/ and tiny-b/ are")
    parser.add_argument("--out", type=Path, default=FIXTURES / "forward", help="output folder")
    parser.add_argument("--quantize-bin", type=Path, default=QUANTIZE_BIN,
                        help="the blip2-quantize binary (`swift build` makes it; default .build/debug/blip2-quantize)")
    parser.add_argument("--seed", type=int, default=20240229, help="torch seed (nothing here draws from it, but "
                        "it is set so that any randomness would be repeatable)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    args = parser.parse_args()
    if not args.quantize_bin.exists():
        parser.error(f"{args.quantize_bin} does not exist: run `swift build` first")
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            make_one(name, args, Path(tmp))
    total = sum(p.stat().st_size for p in args.out.glob("*.gguf"))
    print(f"{args.out}: {total / 1024:.0f} KiB in all")


if __name__ == "__main__":
    main()
