#!/usr/bin/env python3
"""Golden data for BLIP-2 with FlanT5 (Blip2ForConditionalGeneration over T5ForConditionalGeneration).

Writes, under Tests/Fixtures/:
  tiny-t5-a/   a seeded random checkpoint of blip2-flan-t5-xl's architecture at tiny sizes: exact GELU
               (`dense_act_fn` "gelu", as the BLIP-2 configs say), its own `lm_head` (which transformers 5
               keeps apart from `shared` only because the values differ) and unscaled logits
               (`tie_word_embeddings` false), 32 buckets up to 128
  tiny-t5-b/   awkward sizes: 3 heads of 10 (inner width 30, not d_model 48), 9 buckets up to 20, 3 encoder
               and 2 decoder blocks, the tanh GELU that `gated-gelu` implies, no `lm_head` (the head is
               `shared`) and `tie_word_embeddings` true (logits scaled by d_model^-0.5)
  t5/tiny-t5-{a,b}.gguf   what transformers (float32, eager attention) computes on one image:
               pixel values, the projected queries, for each prompt the encoder's ids and last hidden state
               and the decoder's teacher-forced logits, and `generate` ids for greedy and beam cases
               (no prompt, and LAVIS's VQA prompt) with the processors OPT has, and with the converter
               built (swift build), the teacher-forced logits of transformers run on the weights of our
               Q8_0 and Q4_0 files dequantized by gguf (`deq_q8_0.*`, `deq_q4_0.*`)

The tokenizer is Tests/Fixtures/t5-tokenizer-small (Tools/make_t5_tokenizer_fixtures.py) with `<image>`
added, as the real blip2-flan-t5 tokenizer has it (id = the tokenizer's length, embedding rows beyond).
  PY=$(bash Tools/ref_env.sh); $PY Tools/make_t5_fixtures.py
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import gguf
import numpy as np
import torch
from gguf import GGUFValueType
from PIL import Image
from torch import nn
from transformers import AutoTokenizer, Blip2Config, Blip2ForConditionalGeneration
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil
from transformers.utils import logging as hf_logging

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkpoint_json import dump_json, side_files, transformers_version, write_fixture_gguf  # noqa: E402
from make_forward_fixtures import make_image  # noqa: E402
from make_tiny_checkpoints import FIXTURES  # noqa: E402
from make_tiny_checkpoints import init_weights as tiny_init_weights  # noqa: E402
from verify_gguf import hf_name  # noqa: E402

QUANTIZER = FIXTURES.parent.parent / ".build" / "debug" / "blip2-quantize"

TOKENIZER = FIXTURES / "t5-tokenizer-small"
EXTRA_ROWS = 5
BUCKET_SPAN = 700  # relative positions whose buckets are stored (beyond any max_distance)  # embedding rows beyond the tokenizer, as 32128 is beyond 32101 in the real model

SPECS = {
    "tiny-t5-a": dict(
        vision=dict(hidden_size=64, num_attention_heads=4, intermediate_size=128, num_hidden_layers=2,
                    image_size=56, patch_size=14),
        qformer=dict(hidden_size=64, num_attention_heads=4, intermediate_size=128, num_hidden_layers=2,
                     cross_attention_frequency=2),
        num_query_tokens=8,
        text=dict(d_model=64, d_ff=128, d_kv=16, num_heads=4, num_layers=2, num_decoder_layers=2,
                  relative_attention_num_buckets=32, relative_attention_max_distance=128,
                  feed_forward_proj="gated-gelu", dense_act_fn="gelu", tie_word_embeddings=False)),
    "tiny-t5-b": dict(
        vision=dict(hidden_size=72, num_attention_heads=3, intermediate_size=100, num_hidden_layers=2,
                    image_size=42, patch_size=14),
        qformer=dict(hidden_size=40, num_attention_heads=5, intermediate_size=72, num_hidden_layers=3,
                     cross_attention_frequency=1),
        num_query_tokens=5,
        text=dict(d_model=48, d_ff=80, d_kv=10, num_heads=3, num_layers=3, num_decoder_layers=2,
                  relative_attention_num_buckets=9, relative_attention_max_distance=20,
                  feed_forward_proj="gated-gelu", tie_word_embeddings=True)),
}

PROMPTS = {"caption": "", "vqa": "Question: what is in the picture? Short answer:"}
# (name, prompt, generate() settings): LAVIS's defaults and each processor OPT has.
CASES = [
    ("greedy", "caption", dict(num_beams=1, max_new_tokens=20)),
    ("greedy_vqa", "vqa", dict(num_beams=1, max_new_tokens=12)),
    ("beam_caption", "caption", dict(num_beams=5, max_new_tokens=30, min_length=8)),
    ("beam_vqa", "vqa", dict(num_beams=5, max_new_tokens=10, min_length=1, length_penalty=-1.0)),
    ("beam_penalties", "caption", dict(num_beams=3, max_new_tokens=15, repetition_penalty=1.5,
                                       no_repeat_ngram_size=2)),
    ("greedy_penalties", "vqa", dict(num_beams=1, max_new_tokens=15, repetition_penalty=1.3,
                                     no_repeat_ngram_size=3)),
]


def init_weights(model: nn.Module, seed: int) -> None:
    """make_tiny_checkpoints' seeded draw (norms near 1, Linears scaled by fan-in, embeddings and the
    relative position tables at 0.3), then T5's q projections scaled by d_kv^-0.5: T5 has no
    1/sqrt(d_kv) in its attention, trained models carry it in q (as T5's own initialisation does)."""
    tiny_init_weights(model, seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.startswith("language_model.") and name.endswith(".q.weight"):
                param.mul_(model.config.text_config.d_kv ** -0.5)


def config_json(spec: dict, vocab_rows: int, image_token: int) -> dict:
    return {
        "architectures": ["Blip2ForConditionalGeneration"],
        "image_token_index": image_token,
        "initializer_factor": 1.0,
        "initializer_range": 0.02,
        "model_type": "blip-2",
        "num_query_tokens": spec["num_query_tokens"],
        "qformer_config": {"model_type": "blip_2_qformer", **spec["qformer"]},
        "text_config": {"model_type": "t5", "vocab_size": vocab_rows, "decoder_start_token_id": 0,
                        "bos_token_id": 1, "eos_token_id": 1, "pad_token_id": 0, "layer_norm_epsilon": 1e-6,
                        "is_encoder_decoder": True, **spec["text"]},
        "torch_dtype": "float32",
        "transformers_version": transformers_version(),
        "vision_config": {"model_type": "blip_2_vision_model", **spec["vision"]},
    }


def write_checkpoint(directory: Path, spec: dict, seed: int, tokenizer_dir: Path):
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]}, replace_extra_special_tokens=False)
    image_token = tokenizer.convert_tokens_to_ids("<image>")
    if image_token != len(tokenizer) - 1:
        raise AssertionError(f"<image> is {image_token}, the tokenizer has {len(tokenizer)} ids")
    vocab_rows = len(tokenizer) + EXTRA_ROWS
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    cfg = config_json(spec, vocab_rows, image_token)
    pre = side_files(spec["num_query_tokens"], spec["vision"]["image_size"], 0)["preprocessor_config.json"]
    with tempfile.TemporaryDirectory() as tmp:
        dump_json(Path(tmp) / "config.json", cfg)
        dump_json(Path(tmp) / "preprocessor_config.json", pre)
        config = Blip2Config.from_pretrained(tmp)
        model = Blip2ForConditionalGeneration(config).eval()
        if not spec["text"]["tie_word_embeddings"]:
            # transformers 5 ties T5's head to `shared` unless the checkpoint holds a different
            # lm_head, as the real BLIP-2 FlanT5 checkpoints do: give this one its own.
            lm = model.language_model
            lm.lm_head.weight = nn.Parameter(torch.empty_like(lm.shared.weight))
        init_weights(model, seed)
        if not spec["text"]["tie_word_embeddings"]:
            steer_eos(model, BlipImageProcessorPil.from_pretrained(tmp), tokenizer, spec)
        model.save_pretrained(tmp)
        shutil.copyfile(Path(tmp) / "model.safetensors", directory / "model.safetensors")
        tokenizer.save_pretrained(tmp)
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            if (Path(tmp) / name).exists():
                shutil.copyfile(Path(tmp) / name, directory / name)
    dump_json(directory / "config.json", cfg)
    dump_json(directory / "preprocessor_config.json", pre)
    loaded, info = Blip2ForConditionalGeneration.from_pretrained(str(directory), dtype=torch.float32,
                                                                 attn_implementation="eager", output_loading_info=True)
    if any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys")):
        raise AssertionError(f"{directory.name}: {info}")
    act = loaded.config.text_config.dense_act_fn
    want = spec["text"].get("dense_act_fn", "gelu_new")
    if act != want:
        raise AssertionError(f"{directory.name}: transformers reads dense_act_fn {act}, expected {want}")
    return loaded.eval(), AutoTokenizer.from_pretrained(str(directory))


def steer_eos(model, processor, tokenizer, spec: dict) -> None:
    """A random model never ends a sequence. Make `</s>` a close second to the token its greedy caption
    repeats (its LM head row a scaled copy of that token's), so that beams finish at every step and
    penalised decoding stops: the fixtures then cover how generate() ends sequences."""
    pixels = processor(images=Image.fromarray(make_image()), return_tensors="pt")["pixel_values"]
    ids = torch.tensor([[model.config.image_token_index] * spec["num_query_tokens"] + tokenizer("").input_ids])
    with torch.no_grad():
        out = model.generate(pixel_values=pixels, input_ids=ids, num_beams=1, do_sample=False, max_new_tokens=12)
        counts = torch.bincount(out[0, 1:])
        favourite = int(counts.argmax())
        head = model.language_model.lm_head.weight
        head[1] = head[favourite] * 0.995
    print(f"  </s> steered next to token {favourite} ({int(counts[favourite])} of 12 greedy tokens)")


def encoder_ids(model, tokenizer, prompt: str) -> list[int]:
    """What Blip2Processor gives the model: num_query_tokens <image> ids, then the prompt's ids with </s>."""
    return [model.config.image_token_index] * model.config.num_query_tokens + tokenizer(prompt).input_ids


def reference_outputs(model, tokenizer, directory: Path) -> tuple[dict, dict]:
    processor = BlipImageProcessorPil.from_pretrained(str(directory))
    pixels = processor(images=Image.fromarray(make_image()), return_tensors="pt")["pixel_values"]
    tensors, meta = {"pixel_values": pixels[0]}, {}
    with torch.no_grad():
        projected = model.get_image_features(pixels, return_dict=True).pooler_output
    tensors["projected"] = projected[0]
    t5 = model.language_model
    for name, prompt in PROMPTS.items():
        ids = torch.tensor([encoder_ids(model, tokenizer, prompt)])
        with torch.no_grad():
            embeds = model.get_input_embeddings()(ids)
            mask = ids == model.config.image_token_index
            embeds = embeds.masked_scatter(mask[..., None], projected.to(embeds.dtype))
            encoded = t5.encoder(inputs_embeds=embeds, attention_mask=torch.ones_like(ids)).last_hidden_state
            greedy = model.generate(pixel_values=pixels, input_ids=ids, attention_mask=torch.ones_like(ids),
                                    num_beams=1, do_sample=False, max_new_tokens=8)
            decoder_ids = greedy[:, :]  # starts with decoder_start_token_id
            forced = model(pixel_values=pixels, input_ids=ids, attention_mask=torch.ones_like(ids),
                           decoder_input_ids=decoder_ids).logits
        if greedy[0, 0].item() != model.config.text_config.decoder_start_token_id:
            raise AssertionError("generate's output does not start with the decoder start token")
        meta[f"{name}.prompt"] = prompt
        meta[f"{name}.encoder_ids"] = ids[0].tolist()
        meta[f"{name}.decoder_ids"] = decoder_ids[0].tolist()
        tensors[f"{name}.encoder_output"] = encoded[0]
        tensors[f"{name}.decoder_logits"] = forced[0]
    for case, prompt_name, kwargs in CASES:
        ids = torch.tensor([encoder_ids(model, tokenizer, PROMPTS[prompt_name])])
        with torch.no_grad():
            out = model.generate(pixel_values=pixels, input_ids=ids, attention_mask=torch.ones_like(ids),
                                 do_sample=False, **kwargs)
        tokens = out[0].tolist()
        if tokens[0] != 0:
            raise AssertionError(f"{case}: no decoder start token")
        new = tokens[1:]
        if 1 in new:  # stop at EOS; generate pads finished sequences with pad (0)
            new = new[:new.index(1) + 1]
        meta[f"generate.{case}.prompt"] = prompt_name
        meta[f"generate.{case}.settings"] = ",".join(f"{k}={v}" for k, v in kwargs.items())
        meta[f"generate.{case}.ids"] = new
        print(f"  {case}: {len(new)} tokens {new[:12]}{'...' if len(new) > 12 else ''}")
    # transformers' bucket of every relative position within +-BUCKET_SPAN, for both stacks.
    from transformers.models.t5.modeling_t5 import T5Attention
    rel = torch.arange(-BUCKET_SPAN, BUCKET_SPAN + 1)
    tc = model.config.text_config
    for stack, bidirectional in (("encoder", True), ("decoder", False)):
        buckets = T5Attention._relative_position_bucket(rel, bidirectional=bidirectional, num_buckets=tc.relative_attention_num_buckets,
                                                       max_distance=tc.relative_attention_max_distance)
        meta[f"buckets.{stack}"] = buckets.tolist()
    return {k: v.detach().float().numpy() for k, v in tensors.items()}, meta


def dequantized_model(model, path: Path):
    """A copy of `model` with every weight replaced by gguf.quants.dequantize of the file's tensor."""
    reader = gguf.GGUFReader(str(path))
    base = model.state_dict()
    state, quantized = {}, set()
    for t in reader.tensors:
        name = hf_name(t.name, "t5")
        qtype = gguf.GGMLQuantizationType(t.tensor_type)
        if qtype in (gguf.GGMLQuantizationType.Q8_0, gguf.GGMLQuantizationType.Q4_0):
            quantized.add(name.removesuffix(".weight"))
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))
        value = gguf.quants.dequantize(np.asarray(t.data), qtype).astype(np.float32).reshape(shape)
        if name not in base or tuple(base[name].shape) != shape or name in state:
            raise AssertionError(f"{path.name}: tensor {t.name} -> {name} {shape} does not fit the model")
        state[name] = torch.from_numpy(value.copy())
    lm = model.language_model
    separate = lm.lm_head.weight.data_ptr() != lm.shared.weight.data_ptr()
    deq = Blip2ForConditionalGeneration(model.config).eval()
    if separate:
        deq.language_model.lm_head.weight = nn.Parameter(torch.empty_like(deq.language_model.shared.weight))
    else:
        state["language_model.lm_head.weight"] = state["language_model.shared.weight"]
    for alias in ("encoder", "decoder"):
        state[f"language_model.{alias}.embed_tokens.weight"] = state["language_model.shared.weight"]
    missing, unexpected = deq.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise AssertionError(f"{path.name}: missing {missing}, unexpected {unexpected}")
    # The kernels quantize a quantized Linear's input to Q8_0 blocks too (ggml's quantize_row_q8_0):
    # do the same here, so that only float summation order separates the two.
    hooked = 0
    for name, module in deq.named_modules():
        if isinstance(module, nn.Linear) and name in quantized:
            module.register_forward_pre_hook(lambda _m, args: (q8_0_activations(args[0]),) + tuple(args[1:]))
            hooked += 1
    if hooked != len(quantized - {"language_model.shared"}):
        raise AssertionError(f"{path.name}: {hooked} Linear modules hooked, {len(quantized)} quantized tensors")
    return deq


def q8_0_activations(x: torch.Tensor) -> torch.Tensor:
    """x as the kernels see it: per block of 32, d = amax / 127 kept as fp16, q = roundf(x / d)
    (half away from zero), then q * d."""
    blocks = x.float().reshape(-1, 32)
    d = blocks.abs().amax(dim=1, keepdim=True) / 127
    inverse = torch.where(d > 0, 1 / d, torch.zeros_like(d))
    scaled = blocks * inverse
    q = torch.sign(scaled) * torch.floor(scaled.abs() + 0.5)
    return (q * d.half().float()).reshape(x.shape)


def quantized_outputs(model, tokenizer, directory: Path, meta: dict) -> dict:
    """transformers on the dequantized weights of our Q8_0 and Q4_0 files, teacher-forced on the F32
    model's decoder ids: what our quantized run should give, but for the quantization of activations
    (Q8_0 blocks) that the kernels add."""
    out = {}
    pixels = BlipImageProcessorPil.from_pretrained(str(directory))(images=Image.fromarray(make_image()),
                                                                    return_tensors="pt")["pixel_values"]
    with tempfile.TemporaryDirectory() as tmp:
        for qtype in ("q8_0", "q4_0"):
            path = Path(tmp) / f"{directory.name}.{qtype}.gguf"
            subprocess.run([str(QUANTIZER), str(directory), str(path), "--type", qtype, "--quiet"], check=True)
            deq = dequantized_model(model, path)
            for name in PROMPTS:
                ids = torch.tensor([meta[f"{name}.encoder_ids"]])
                decoder_ids = torch.tensor([meta[f"{name}.decoder_ids"]])

                def logits(p):
                    with torch.no_grad():
                        return deq(pixel_values=p, input_ids=ids, attention_mask=torch.ones_like(ids),
                                   decoder_input_ids=decoder_ids).logits[0].float()
                exact = logits(pixels)
                out[f"deq_{qtype}.{name}.decoder_logits"] = exact.numpy()
                # How far float rounding alone can move this reference: with activations quantized,
                # a value on a rounding boundary flips by a whole step. Pixels moved by 1e-6 show it.
                g = torch.Generator().manual_seed(7)
                moved = logits(pixels * (1 + 1e-6 * torch.randn(pixels.shape, generator=g)))
                sensitivity = ((moved - exact).abs().max() / exact.abs().max()).item()
                out[f"deq_{qtype}.{name}.sensitivity"] = np.array([sensitivity], dtype=np.float32)
                print(f"  {qtype} {name}: pixels moved by 1e-6 move the dequantized reference's logits by {sensitivity:.2e}")
    return out


def write_gguf(path: Path, tensors: dict, meta: dict) -> None:
    write_fixture_gguf(path, tensors, meta, "Tools/make_t5_fixtures.py", arch="blip2-t5-fixtures")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=FIXTURES)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--tokenizer", type=Path, default=TOKENIZER)
    args = parser.parse_args()
    hf_logging.disable_progress_bar()
    torch.set_num_threads(1)
    (args.out / "t5").mkdir(parents=True, exist_ok=True)
    for i, (name, spec) in enumerate(SPECS.items()):
        print(name)
        model, tokenizer = write_checkpoint(args.out / name, spec, args.seed + i, args.tokenizer)
        tensors, meta = reference_outputs(model, tokenizer, args.out / name)
        tensors.update(quantized_outputs(model, tokenizer, args.out / name, meta))
        write_gguf(args.out / "t5" / f"{name}.gguf", tensors, meta)


if __name__ == "__main__":
    main()
