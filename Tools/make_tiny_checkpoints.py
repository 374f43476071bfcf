"""Writes the tiny BLIP-2 test checkpoints under Tests/Fixtures/ (seeded, deterministic).

Why: the converter and the runtime are proven against HuggingFace transformers itself, and the real
Salesforce/blip2-opt-2.7b is 15 GB. These are randomly initialised models of the real architecture
(Blip2ForConditionalGeneration built from Blip2VisionConfig / Blip2QFormerConfig / OPTConfig),
saved with transformers' own save_pretrained, next to a config.json, preprocessor_config.json,
processor_config.json, generation_config.json and tokenizer laid out like the real checkpoint's.

  tiny-a/               fp32, model.safetensors, tokenizer as vocab.json + merges.txt + added_tokens.json
  tiny-a-f16/           the same weights in float16, one file
  tiny-a-bf16-sharded/  the same weights in bfloat16, >= 3 shards + index; tokenizer as tokenizer.json
  tiny-b/               fp32, awkward sizes (3 heads of 24, Q-Former cross-attention in every layer,
                        rows of 72/100/200 that do not split into 32-blocks, odd vocabulary)

Weights are drawn so activations stay O(1) through every layer (Linear ~ N(0, 1/fan_in)), with
LayerNorm weights 1 + 0.1 N(0,1) and biases 0.1 N(0,1) so that neither is a no-op. The middle third
of the vision qkv bias (the k bias) is zero as in the real checkpoint, and OPT's padding row of the
token embedding is zero as nn.Embedding(padding_idx) makes it.

Run with the reference environment (Tools/ref_env.sh):  python Tools/make_tiny_checkpoints.py
"""

from __future__ import annotations

import argparse
import copy
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch import nn
from transformers import AutoTokenizer, Blip2Config, Blip2ForConditionalGeneration, Blip2Processor
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil
from transformers.utils import logging as hf_logging

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkpoint_json import blip2_config, dump_json, side_files  # noqa: E402
from tokenizer_fixtures import (ReferenceBPE, TokenizerSpec, check_tokenizer_dirs, make_corpus,  # noqa: E402
                                sample_strings, shuffle_ids, train_bpe, write_fast_tokenizer, write_slow_tokenizer)

FIXTURES = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures"
TOKENIZER_VOCAB = 509  # trained tokens incl. the 4 specials; <image> becomes id 509


@dataclass(frozen=True)
class TinySpec:
    name: str
    vision: dict       # Blip2VisionConfig fields that differ from the class defaults
    qformer: dict      # Blip2QFormerConfig fields that differ from the class defaults
    text: dict         # OPTConfig fields, as the real text_config states them
    num_query_tokens: int
    extra_vocab_rows: int  # embedding rows beyond those rounded up to a multiple of 8 (0 = odd size below)
    odd_vocab_pad: int     # rows added to the tokenizer size when extra_vocab_rows is 0


TINY_A = TinySpec(
    name="tiny-a",
    vision=dict(hidden_size=64, num_attention_heads=4, intermediate_size=128, num_hidden_layers=2,
                image_size=224, patch_size=14),
    qformer=dict(hidden_size=64, num_attention_heads=4, intermediate_size=128, num_hidden_layers=2,
                 cross_attention_frequency=2, encoder_hidden_size=64),
    text=dict(hidden_size=64, num_attention_heads=4, ffn_dim=128, num_hidden_layers=2, max_position_embeddings=128,
              word_embed_proj_dim=64),
    num_query_tokens=8, extra_vocab_rows=8, odd_vocab_pad=0,
)
TINY_B = TinySpec(
    name="tiny-b",
    vision=dict(hidden_size=72, num_attention_heads=3, intermediate_size=100, num_hidden_layers=3,
                image_size=70, patch_size=14),
    qformer=dict(hidden_size=80, num_attention_heads=5, intermediate_size=160, num_hidden_layers=3,
                 cross_attention_frequency=1, encoder_hidden_size=72),
    text=dict(hidden_size=96, num_attention_heads=6, ffn_dim=200, num_hidden_layers=3, max_position_embeddings=128,
              word_embed_proj_dim=96),
    num_query_tokens=5, extra_vocab_rows=0, odd_vocab_pad=13,
)


def vocab_rows(spec: TinySpec, tok: TokenizerSpec) -> int:
    if spec.extra_vocab_rows:
        return -(-tok.size // 8) * 8 + spec.extra_vocab_rows
    rows = tok.size + spec.odd_vocab_pad
    assert rows % 2 == 1
    return rows


def config_json(spec: TinySpec, tok: TokenizerSpec, dtype: str) -> dict:
    return blip2_config(spec.vision, spec.qformer, {**spec.text, "vocab_size": vocab_rows(spec, tok)},
                        spec.num_query_tokens, tok.image_id, tok.newline_id, dtype)


def build_model(spec: TinySpec, tok: TokenizerSpec, seed: int):
    """Instantiate from the written config.json (so the file is what defines the model) and init it."""
    with tempfile.TemporaryDirectory() as tmp:
        dump_json(Path(tmp) / "config.json", config_json(spec, tok, "float32"))
        config = Blip2Config.from_pretrained(tmp)
    torch.manual_seed(seed)
    model = Blip2ForConditionalGeneration(config).eval()
    init_weights(model, seed)
    return model


def init_weights(model: nn.Module, seed: int) -> None:
    """Draw every parameter (tied ones once) from a seeded generator; see the module docstring."""
    g = torch.Generator().manual_seed(seed)

    def normal(shape, std: float) -> torch.Tensor:
        return torch.randn(shape, generator=g) * std

    with torch.no_grad():
        for name, param in model.named_parameters():
            owner_name, _, leaf = name.rpartition(".")
            owner = model.get_submodule(owner_name)
            shape = param.shape
            # T5LayerNorm (FlanT5's RMS norm) has a weight only, drawn as LayerNorm's.
            if isinstance(owner, nn.LayerNorm) or type(owner).__name__ == "T5LayerNorm":
                value = 1 + normal(shape, 0.1) if leaf == "weight" else normal(shape, 0.1)
            elif isinstance(owner, nn.Embedding):
                value = normal(shape, 0.3)
                if owner.padding_idx is not None:
                    value[owner.padding_idx] = 0
            elif isinstance(owner, (nn.Linear, nn.Conv2d)) and leaf == "weight":
                value = normal(shape, shape[1:].numel() ** -0.5)
            elif leaf == "bias":
                value = normal(shape, 0.1)
                if name.endswith("self_attn.qkv.bias"):
                    third = shape[0] // 3
                    value[third:2 * third] = 0
            elif leaf == "query_tokens":
                value = normal(shape, 1.0)
            elif leaf in ("class_embedding", "position_embedding"):
                value = normal(shape, 0.5)
            else:
                raise ValueError(f"no initialisation rule for {name}")
            param.copy_(value)


def prompt_ids(model, tok: TokenizerSpec, text: str) -> torch.Tensor:
    """[<image> x num_query_tokens] + BOS + tokens(text), as Blip2Processor builds it."""
    n = model.config.num_query_tokens
    return torch.tensor([[tok.image_id] * n + ReferenceBPE(tok).encode(text)])


def activation_report(model, tok: TokenizerSpec, seed: int) -> str:
    """Run one forward pass and fail unless every stage is finite and O(1)."""
    size = model.config.vision_config.image_size
    pixels = torch.randn((1, 3, size, size), generator=torch.Generator().manual_seed(seed))
    ids = prompt_ids(model, tok, "Question: how many cats are there? Answer:")
    with torch.no_grad():
        out = model(pixel_values=pixels, input_ids=ids, attention_mask=torch.ones_like(ids))
    stages = {
        "image_embeds": out.vision_outputs.last_hidden_state,
        "qformer_out": out.qformer_outputs.last_hidden_state,
        "logits": out.logits,
    }
    report = []
    for stage, t in stages.items():
        std = t.float().std().item()
        if not torch.isfinite(t).all() or not 0.2 < std < 20:
            raise AssertionError(f"{stage}: std {std}")
        report.append(f"{stage} std {std:.3f}")
    top = out.logits[0, -1].topk(2).values
    report.append(f"last-step top-2 logit gap {(top[0] - top[1]).item():.3f}")
    return ", ".join(report)


def save_weights(model, directory: Path, dtype: torch.dtype, max_shard_size: str | None = None) -> None:
    """save_pretrained into a scratch dir and keep only the safetensors files (+ index)."""
    with tempfile.TemporaryDirectory() as tmp:
        cast = copy.deepcopy(model).to(dtype)
        kwargs = {"max_shard_size": max_shard_size} if max_shard_size else {}
        cast.save_pretrained(tmp, **kwargs)
        for path in sorted(Path(tmp).iterdir()):
            if path.suffix == ".safetensors" or path.name == "model.safetensors.index.json":
                shutil.copyfile(path, directory / path.name)


def write_checkpoint(directory: Path, spec: TinySpec, tok: TokenizerSpec, model, dtype: torch.dtype,
                     tokenizer_form: str, max_shard_size: str | None = None) -> None:
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    save_weights(model, directory, dtype, max_shard_size)
    dump_json(directory / "config.json", config_json(spec, tok, str(dtype).removeprefix("torch.")))
    for name, content in side_files(spec.num_query_tokens, spec.vision["image_size"], tok.newline_id).items():
        dump_json(directory / name, content)
    if tokenizer_form == "slow":
        write_slow_tokenizer(directory, tok)
    else:
        write_fast_tokenizer(directory, tok)


def verify_checkpoint(directory: Path, model, dtype: torch.dtype, min_shards: int = 1) -> None:
    """Reload with transformers: no missing/unexpected keys, weights equal to `model` cast to dtype."""
    shards = sorted(directory.glob("*.safetensors"))
    if len(shards) < min_shards:
        raise AssertionError(f"{directory.name}: {len(shards)} shards")
    loaded, info = Blip2ForConditionalGeneration.from_pretrained(str(directory), dtype=torch.float32,
                                                                 output_loading_info=True)
    if any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys")):
        raise AssertionError(f"{directory.name}: {info}")
    want = model.state_dict()
    for name, value in loaded.state_dict().items():
        if not torch.equal(value, want[name].to(dtype).float()):
            raise AssertionError(f"{directory.name}: {name} differs")
    lm = loaded.language_model
    if lm.lm_head.weight.data_ptr() != lm.model.decoder.embed_tokens.weight.data_ptr():
        raise AssertionError("lm_head is not tied")
    for sub in ("vision_config", "qformer_config", "text_config"):
        got, want_cfg = (getattr(m.config, sub).to_dict() for m in (loaded, model))
        if {k: v for k, v in got.items() if k != "dtype"} != {k: v for k, v in want_cfg.items() if k != "dtype"}:
            raise AssertionError(f"{directory.name}: {sub} does not round-trip")


def check_processor(directory: Path, tok: TokenizerSpec, num_query_tokens: int) -> None:
    """Blip2Processor (with the PIL image processor) must expand <image> and prepend BOS as we do."""
    processor = Blip2Processor(BlipImageProcessorPil.from_pretrained(str(directory)),
                               AutoTokenizer.from_pretrained(str(directory)), num_query_tokens=num_query_tokens)
    out = processor(images=Image.new("RGB", (40, 30), (200, 100, 50)), text="Question: what? Answer:")
    want = [tok.image_id] * num_query_tokens + ReferenceBPE(tok).encode("Question: what? Answer:")
    if list(out["input_ids"][0]) != want:
        raise AssertionError(f"processor ids {list(out['input_ids'][0])} != {want}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=FIXTURES, help="fixtures folder (default Tests/Fixtures)")
    parser.add_argument("--seed", type=int, default=20240229)
    args = parser.parse_args()
    hf_logging.disable_progress_bar()

    vocab, merges = train_bpe(make_corpus(args.seed, 3000), TOKENIZER_VOCAB)
    tok = TokenizerSpec(shuffle_ids(vocab, args.seed, {}), merges)
    print(f"tokenizer: {len(tok.vocab)} tokens + <image> = {tok.image_id}, newline Ċ = {tok.newline_id}")

    model_a = build_model(TINY_A, tok, args.seed)
    model_b = build_model(TINY_B, tok, args.seed + 1)
    jobs = [
        ("tiny-a", TINY_A, model_a, torch.float32, "slow", None, 1),
        ("tiny-a-f16", TINY_A, model_a, torch.float16, "slow", None, 1),
        ("tiny-a-bf16-sharded", TINY_A, model_a, torch.bfloat16, "fast", "250KB", 3),
        ("tiny-b", TINY_B, model_b, torch.float32, "slow", None, 1),
    ]
    for name, spec, model, dtype, form, shard, min_shards in jobs:
        directory = args.out / name
        write_checkpoint(directory, spec, tok, model, dtype, form, shard)
        verify_checkpoint(directory, model, dtype, min_shards)
        check_processor(directory, tok, spec.num_query_tokens)
        size = sum(p.stat().st_size for p in directory.iterdir())
        print(f"{name}: {size / 1024:.0f} KiB, {sum(p.numel() for p in model.parameters())} parameters, "
              f"vocab rows {model.config.text_config.vocab_size}")
    for name, model in (("tiny-a", model_a), ("tiny-b", model_b)):
        print(f"{name}: {activation_report(model, tok, args.seed)}")

    check_tokenizer_dirs(tok, args.out / "tiny-a", args.out / "tiny-a-bf16-sharded", sample_strings(args.seed, 400))
    print("tokenizer: slow and fast forms, tokenizers and the reference BPE agree")


if __name__ == "__main__":
    main()
