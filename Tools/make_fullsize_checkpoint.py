"""Writes a full-size, random-weight stand-in for the Salesforce/blip2-opt-2.7b checkpoint.

Why: the converter must be measured (time, peak memory) and exercised at the real size, and the
real 15 GB download is not available everywhere. This writes a HuggingFace directory with the real
checkpoint's tensor names, shapes, sharding (model-00001-of-00002.safetensors of about 10 GB in
fp32 + model-00002-of-00002.safetensors + model.safetensors.index.json), config.json (stating only
what the real one states), preprocessor/processor/generation configs and a GPT-2-sized tokenizer.

Names and shapes are derived from transformers' own Blip2ForConditionalGeneration built on the
"meta" device (no weights materialised); `language_model.lm_head.weight` is tied to the token
embedding and not stored, as in the real files. Shards are split the way save_pretrained(
max_shard_size="10GB") splits the fp32 state dict, and the split is kept for --dtype fp16/bf16 so
every variant has the same two-shard layout.

The safetensors files are written by this script, header first and then tensor by tensor in chunks
(bounded memory; two threads draw the numbers): Linear/Embedding/conv weights, class/position
embeddings and query tokens ~ N(0, 0.02); LayerNorm weights 1 + N(0, 0.02); biases N(0, 0.02) with
the middle (k) third of the vision qkv bias zero as in the real checkpoint; OPT's padding row of the
token embedding zero. Each chunk has its own seed, so the output depends only on --seed and --dtype.

The tokenizer (vocab.json with 50265 entries, "Ċ" = 50118 as in the real vocabulary, ~50k merges,
`<image>` = 50265 in added_tokens.json) is trained once on a generated corpus and cached in
Tests/Fixtures/gpt2-sized-tokenizer/ (the tokenizer tests use it too); --tokenizer-only (re)makes
just that cache.

With --model itm it writes the stand-in for Salesforce/blip2-itm-vit-g instead
(Blip2ForImageTextRetrieval: the same vision tower and Q-Former, the Q-Former's text side, the
vision/text projections and the ITM head; one model.safetensors of 4.69 GB in fp32, as the real
one) with a BERT-sized WordPiece vocabulary (30522 entries laid out like bert-base-uncased's:
[PAD] 0, [unused*], [UNK] 100, [CLS] 101, [SEP] 102, [MASK] 103, then pieces counted from a
generated corpus) and `[DEC]` = 30522 added as BOS.

With --model t5-xl / t5-xxl it writes the stand-in for Salesforce/blip2-flan-t5-xl / -xxl
(Blip2ForConditionalGeneration over T5ForConditionalGeneration; BLIP2-FAMILY.md section 2): the
config.json states the text_config the real one states (d_model 2048 / 4096, d_ff 5120 / 10240,
24 + 24 blocks, 32 / 64 heads of 64, vocab 32128, gated-gelu with dense_act_fn "gelu",
tie_word_embeddings false, 32 buckets up to 128), image_token_index 32100 and 32 queries. T5's
`shared` embedding is stored once (encoder/decoder `embed_tokens` alias it and are not stored)
and `language_model.lm_head.weight` is stored as a separate tensor drawn independently of
`shared` (the real checkpoints' heads differ from `shared`, which is what makes transformers 5
keep them untied). T5LayerNorm weights are 1 + N(0, 0.02), like LayerNorm weights. bf16 by
default (3.94 B / 12.23 B parameters: 7.9 / 24.5 GB). The tokenizer is the 32k flan-t5-shaped
Unigram tokenizer of Tests/Fixtures/t5-tokenizer/ with `<image>` added as a special token (id
32100), saved by transformers' AutoTokenizer as the real processor has it.

Run with the reference environment (Tools/ref_env.sh):
  python Tools/make_fullsize_checkpoint.py OUTDIR [--dtype fp32|fp16|bf16] [--seed N] [--model opt|itm|t5-xl|t5-xxl]
  python Tools/make_fullsize_checkpoint.py --tokenizer-only
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import sys
import tempfile
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkpoint_json import blip2_config, dump_json, side_files, transformers_version  # noqa: E402
from tokenizer_fixtures import (NEWLINE, TokenizerSpec, check_tokenizer_dirs, make_corpus,  # noqa: E402
                                sample_strings, shuffle_ids, train_bpe, write_fast_tokenizer,
                                write_slow_tokenizer)

TOKENIZER_CACHE = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "gpt2-sized-tokenizer"
T5_TOKENIZER = Path(__file__).resolve().parent.parent / "Tests" / "Fixtures" / "t5-tokenizer"
VOCAB_SIZE = 50265          # entries of the real vocab.json; <image> = 50265
NEWLINE_ID = 50118          # "Ċ" in the real vocabulary, and text_config.eos_token_id
IMAGE_TOKEN_ID = 50265
TEXT_CONFIG = {"ffn_dim": 10240, "hidden_size": 2560, "num_attention_heads": 32, "num_hidden_layers": 32,
               "vocab_size": 50304, "word_embed_proj_dim": 2560}
# text_config of Salesforce/blip2-flan-t5-xl / -xxl (BLIP2-FAMILY.md section 2); the rest is common.
T5_SIZES = {"t5-xl": dict(name="google/flan-t5-xl", d_model=2048, d_ff=5120, num_heads=32, params=3.94e9),
            "t5-xxl": dict(name="google/flan-t5-xxl", d_model=4096, d_ff=10240, num_heads=64, params=12.23e9)}
T5_IMAGE_TOKEN_ID = 32100
T5_VOCAB_ROWS = 32128
SHARD_FP32_BYTES = 10 * 10**9   # save_pretrained's max_shard_size="10GB", applied to the fp32 sizes
DTYPES = {"fp32": ("F32", torch.float32, "float32"), "fp16": ("F16", torch.float16, "float16"),
          "bf16": ("BF16", torch.bfloat16, "bfloat16")}
CHUNK = 1 << 23             # elements drawn per task
STD = 0.02
TOKENIZER_SEED = 20240229


@dataclass
class Plan:
    """One stored tensor: where its values come from."""
    name: str
    shape: tuple[int, ...]
    index: int
    offset: float = 0.0                                      # 1.0 for LayerNorm weights
    zero: list[tuple[int, int]] = field(default_factory=list)  # flat element ranges forced to 0

    @property
    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


def t5_config(dtype: str, kind: str) -> dict:
    """What Salesforce/blip2-flan-t5-xl / -xxl's config.json states: class defaults for the towers,
    the FlanT5 text_config (exact-erf GELU through an explicit dense_act_fn, untied head)."""
    size = T5_SIZES[kind]
    text = {
        "_name_or_path": size["name"], "architectures": ["T5ForConditionalGeneration"],
        "bos_token_id": 1, "d_ff": size["d_ff"], "d_kv": 64, "d_model": size["d_model"],
        "decoder_start_token_id": 0, "dense_act_fn": "gelu", "dropout_rate": 0.1, "eos_token_id": 1,
        "feed_forward_proj": "gated-gelu", "initializer_factor": 1.0, "is_encoder_decoder": True,
        "is_gated_act": True, "layer_norm_epsilon": 1e-06, "model_type": "t5", "n_positions": 512,
        "num_decoder_layers": 24, "num_heads": size["num_heads"], "num_layers": 24, "output_past": True,
        "pad_token_id": 0, "relative_attention_max_distance": 128, "relative_attention_num_buckets": 32,
        "tie_word_embeddings": False, "torch_dtype": "bfloat16", "vocab_size": T5_VOCAB_ROWS,
    }
    return {"architectures": ["Blip2ForConditionalGeneration"], "image_text_hidden_size": 256,
            "image_token_index": T5_IMAGE_TOKEN_ID, "initializer_factor": 1.0, "initializer_range": 0.02,
            "model_type": "blip-2", "num_query_tokens": 32,
            "qformer_config": {"model_type": "blip_2_qformer"}, "text_config": text, "torch_dtype": dtype,
            "transformers_version": transformers_version(), "use_decoder_only_language_model": False,
            "vision_config": {"model_type": "blip_2_vision_model"}}


def t5_side_files() -> dict[str, dict]:
    """preprocessor/processor configs as for OPT; T5's generation_config (start 0, eos 1, pad 0)."""
    files = side_files(32, 224, 1)
    files["generation_config.json"] = {"_from_model_config": True, "decoder_start_token_id": 0,
                                       "eos_token_id": 1, "pad_token_id": 0,
                                       "transformers_version": transformers_version()}
    return files


def write_t5_tokenizer(out: Path) -> None:
    """The 32k flan-t5-shaped Unigram tokenizer with `<image>` added after its 32100 ids, as the
    real blip2-flan-t5 tokenizer has it; saved by transformers, the id checked on reload."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(T5_TOKENIZER))
    if len(tok) != T5_IMAGE_TOKEN_ID:
        raise AssertionError(f"{T5_TOKENIZER}: {len(tok)} ids, expected {T5_IMAGE_TOKEN_ID}")
    tok.add_special_tokens({"additional_special_tokens": ["<image>"]}, replace_extra_special_tokens=False)
    with tempfile.TemporaryDirectory() as tmp:
        tok.save_pretrained(tmp)
        for path in Path(tmp).iterdir():
            shutil.copyfile(path, out / path.name)
    again = AutoTokenizer.from_pretrained(str(out))
    image = again.convert_tokens_to_ids("<image>")
    if image != T5_IMAGE_TOKEN_ID or len(again) != T5_IMAGE_TOKEN_ID + 1:
        raise AssertionError(f"<image> is {image}, the tokenizer has {len(again)} ids")
    if again("a photo of").input_ids[-1] != 1 or again.convert_tokens_to_ids("<extra_id_0>") != 32099:
        raise AssertionError("T5 tokenizer: </s> or <extra_id_0> misplaced")
    print(f"tokenizer: {T5_TOKENIZER.name} + <image> = {image} ({len(again)} ids)")


def real_config(dtype: str, kind: str = "opt") -> dict:
    if kind in T5_SIZES:
        return t5_config(dtype, kind)
    if kind == "itm":
        # What Salesforce/blip2-itm-vit-g's config.json states (BLIP2-FAMILY.md): class defaults
        # for the towers, the text side switched on, no language model, no image_token_index.
        return {"architectures": ["Blip2ForImageTextRetrieval"], "image_text_hidden_size": 256,
                "initializer_factor": 1.0, "initializer_range": 0.02, "model_type": "blip-2",
                "num_query_tokens": 32, "torch_dtype": dtype,
                "qformer_config": {"model_type": "blip_2_qformer", "use_qformer_text_input": True,
                                   "vocab_size": BERT_VOCAB_SIZE + 1},
                "vision_config": {"model_type": "blip_2_vision_model"}}
    return blip2_config({}, {}, TEXT_CONFIG, 32, IMAGE_TOKEN_ID, NEWLINE_ID, dtype)


def meta_model(config_dir: Path):
    from transformers import Blip2Config, Blip2ForConditionalGeneration, Blip2ForImageTextRetrieval

    config = Blip2Config.from_pretrained(str(config_dir))
    kind = Blip2ForImageTextRetrieval if "Blip2ForImageTextRetrieval" in (config.architectures or []) \
        else Blip2ForConditionalGeneration
    with torch.device("meta"):
        return kind(config)


BERT_VOCAB_SIZE = 30522


def write_bert_tokenizer(out: Path, seed: int) -> None:
    """vocab.txt of 30522 entries in bert-base-uncased's layout and a tokenizer_config.json adding
    `[DEC]` as BOS, as the retrieval checkpoint's processor has it."""
    from collections import Counter

    from tokenizers import normalizers, pre_tokenizers

    head = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    normalizer, splitter = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    counts: Counter[str] = Counter()
    for line in make_corpus(seed, 100_000, 40_000):
        counts.update(w for w, _ in splitter.pre_tokenize_str(normalizer.normalize_str(line)))
    chars = sorted({c for w in counts for c in w})
    tokens = head + chars + ["##" + c for c in chars]
    seen = set(tokens)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ends = Counter()
    for w, n in counts.items():
        for k in range(2, min(5, len(w) - 1) + 1):
            ends["##" + w[-k:]] += n
    for t in [w for w, _ in ranked] + [e for e, _ in sorted(ends.items(), key=lambda kv: (-kv[1], kv[0]))]:
        if len(tokens) >= BERT_VOCAB_SIZE:
            break
        if t not in seen:
            tokens.append(t)
            seen.add(t)
    tokens += [f"[unused{i}]" for i in range(99, 99 + BERT_VOCAB_SIZE - len(tokens))]
    (out / "vocab.txt").write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    dump_json(out / "tokenizer_config.json", {
        "bos_token": "[DEC]", "cls_token": "[CLS]", "do_lower_case": True, "mask_token": "[MASK]",
        "model_max_length": 512, "pad_token": "[PAD]", "sep_token": "[SEP]", "strip_accents": None,
        "tokenize_chinese_chars": True, "tokenizer_class": "BertTokenizer", "unk_token": "[UNK]"})


T5_ALIASES = ("language_model.encoder.embed_tokens.weight", "language_model.decoder.embed_tokens.weight")


def tensor_plans(model, t5: bool = False) -> list[Plan]:
    """Stored tensors in state-dict order, with their init rule. OPT: lm_head excluded (tied).
    T5: the embed_tokens aliases of `shared` excluded, lm_head stored as its own tensor (transformers
    builds it tied on the meta device; the real checkpoints hold a different one)."""
    params = dict(model.named_parameters())
    plans = []
    for name, value in model.state_dict().items():
        if name == "language_model.lm_head.weight":
            if t5:
                plans.append(Plan(name, tuple(value.shape), len(plans)))
            continue
        if t5 and name in T5_ALIASES:
            continue
        if name not in params:
            raise ValueError(f"{name} is a buffer; the real checkpoint stores parameters only")
        owner_name, _, leaf = name.rpartition(".")
        owner = model.get_submodule(owner_name)
        plan = Plan(name, tuple(value.shape), len(plans))
        if (isinstance(owner, nn.LayerNorm) or type(owner).__name__ == "T5LayerNorm") and leaf == "weight":
            plan.offset = 1.0
        if name.endswith("self_attn.qkv.bias"):
            third = value.shape[0] // 3
            plan.zero.append((third, 2 * third))
        if isinstance(owner, nn.Embedding) and owner.padding_idx is not None:
            row = value.shape[1]
            plan.zero.append((owner.padding_idx * row, (owner.padding_idx + 1) * row))
        plans.append(plan)
    return plans


def shard(plans: list[Plan]) -> list[list[Plan]]:
    """huggingface_hub's split: start a new shard when the next fp32 tensor would pass the limit."""
    shards, size = [[]], 0
    for plan in plans:
        nbytes = plan.numel * 4
        if shards[-1] and size + nbytes > SHARD_FP32_BYTES:
            shards.append([])
            size = 0
        shards[-1].append(plan)
        size += nbytes
    return shards


def header(plans: list[Plan], st_dtype: str, itemsize: int) -> bytes:
    """safetensors header: tensors in name order, data contiguous, padded with spaces to 8 bytes."""
    entries, offset = {"__metadata__": {"format": "pt"}}, 0
    for plan in plans:
        end = offset + plan.numel * itemsize
        entries[plan.name] = {"dtype": st_dtype, "shape": list(plan.shape), "data_offsets": [offset, end]}
        offset = end
    text = json.dumps(entries, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text


def draw(plan: Plan, start: int, count: int, seed: int, dtype: torch.dtype) -> np.ndarray:
    """Elements [start, start + count) of a tensor, as raw little-endian bytes of `dtype`."""
    rng = np.random.Generator(np.random.SFC64(np.random.SeedSequence([seed, plan.index, start // CHUNK])))
    values = rng.standard_normal(count, dtype=np.float32)
    values *= np.float32(STD)
    if plan.offset:
        values += np.float32(plan.offset)
    for lo, hi in plan.zero:
        lo, hi = max(lo, start), min(hi, start + count)
        if lo < hi:
            values[lo - start:hi - start] = 0
    if dtype == torch.float32:
        return values.view(np.uint8)
    return torch.from_numpy(values).to(dtype).view(torch.uint8).numpy()


def write_shard(path: Path, plans: list[Plan], seed: int, dtype_key: str, pool: ThreadPoolExecutor) -> int:
    """Stream one safetensors file; at most 4 chunks are in flight. Returns the data size."""
    st_dtype, dtype, _ = DTYPES[dtype_key]
    itemsize = torch.empty(0, dtype=dtype).element_size()
    plans = sorted(plans, key=lambda p: p.name)
    jobs = ((p, s, min(CHUNK, p.numel - s)) for p in plans for s in range(0, p.numel, CHUNK))
    pending, written = deque(), 0
    with open(path, "wb") as f:
        head = f.write(header(plans, st_dtype, itemsize))
        for job in jobs:
            pending.append(pool.submit(draw, *job, seed, dtype))
            if len(pending) >= 4:
                written += f.write(pending.popleft().result())
        while pending:
            written += f.write(pending.popleft().result())
    if written != sum(p.numel for p in plans) * itemsize or path.stat().st_size != head + written:
        raise AssertionError(f"{path}: wrote {written} data bytes")
    return written


def tokenizer(retrain: bool, seed: int) -> TokenizerSpec:
    """The cached GPT-2-sized tokenizer, trained (and checked against transformers) when missing."""
    if not retrain and (TOKENIZER_CACHE / "merges.txt").exists():
        return TokenizerSpec.load(TOKENIZER_CACHE)
    started = time.time()
    vocab, merges = train_bpe(make_corpus(seed, 200_000, 150_000), VOCAB_SIZE)
    spec = TokenizerSpec(shuffle_ids(vocab, seed, {NEWLINE: NEWLINE_ID}), merges)
    if TOKENIZER_CACHE.exists():
        shutil.rmtree(TOKENIZER_CACHE)
    write_slow_tokenizer(TOKENIZER_CACHE, spec)
    with tempfile.TemporaryDirectory() as tmp:
        write_fast_tokenizer(Path(tmp), spec)
        check_tokenizer_dirs(spec, TOKENIZER_CACHE, Path(tmp), sample_strings(seed, 400))
    print(f"tokenizer: trained {len(merges)} merges in {time.time() - started:.0f} s, cached in {TOKENIZER_CACHE}")
    return spec


def verify(out: Path, shards: list[list[Plan]], dtype_key: str, total_bytes: int) -> None:
    """Read back every header and the index: names, shapes, dtypes and shard map as planned."""
    from safetensors import safe_open

    st_dtype, dtype, _ = DTYPES[dtype_key]
    index = json.loads((out / "model.safetensors.index.json").read_text()) if len(shards) > 1 else None
    if len(shards) == 1:
        index = {"metadata": {"total_size": total_bytes}, "weight_map": {p.name: shard_name(1, 1) for p in shards[0]}}
    if index["metadata"]["total_size"] != total_bytes:
        raise AssertionError("index total_size is wrong")
    expected, seen = {}, {}
    for number, plans in enumerate(shards, 1):
        filename = shard_name(number, len(shards))
        expected.update({p.name: (p.shape, filename) for p in plans})
        with safe_open(str(out / filename), framework="pt") as f:
            for name in f.keys():
                tensor = f.get_slice(name)
                if tensor.get_dtype() != st_dtype:
                    raise AssertionError(f"{name}: dtype {tensor.get_dtype()}")
                seen[name] = (tuple(tensor.get_shape()), filename)
            if number == 1:
                bias = f.get_tensor("vision_model.encoder.layers.0.self_attn.qkv.bias")
    if seen != expected or index["weight_map"] != {name: file for name, (_, file) in expected.items()}:
        raise AssertionError(f"stored tensors differ from the plan: {set(seen) ^ set(expected)}")
    third = bias.shape[0] // 3
    if bias.dtype != dtype or bias[third:2 * third].abs().sum() != 0 or bias[:third].abs().sum() == 0:
        raise AssertionError("qkv bias: k third not zero")


def check_t5_head(out: Path, shards: list[list[Plan]]) -> None:
    """lm_head is stored, differs from `shared` (or transformers would tie it), no embed_tokens alias."""
    from safetensors import safe_open

    where = {p.name: shard_name(n, len(shards)) for n, plans in enumerate(shards, 1) for p in plans}
    if any(name in where for name in T5_ALIASES):
        raise AssertionError("an embed_tokens alias of shared is stored")
    rows = []
    for name in ("language_model.shared.weight", "language_model.lm_head.weight"):
        with safe_open(str(out / where[name]), framework="pt") as f:
            rows.append(f.get_slice(name)[:4].float())
    if torch.equal(rows[0], rows[1]):
        raise AssertionError("lm_head equals shared: transformers would tie them")


def shard_name(number: int, count: int) -> str:
    return "model.safetensors" if count == 1 else f"model-{number:05d}-of-{count:05d}.safetensors"


def write_checkpoint(out: Path, dtype_key: str, seed: int, spec: TokenizerSpec | None, kind: str = "opt") -> None:
    st_dtype, dtype, dtype_name = DTYPES[dtype_key]
    out.mkdir(parents=True, exist_ok=True)
    t5 = kind in T5_SIZES
    dump_json(out / "config.json", real_config(dtype_name, kind))
    for name, content in (t5_side_files() if t5 else side_files(32, 224, NEWLINE_ID)).items():
        if kind != "itm" or name == "preprocessor_config.json":
            dump_json(out / name, content)
    if t5:
        write_t5_tokenizer(out)
    elif spec is not None:
        write_slow_tokenizer(out, spec)
    else:
        write_bert_tokenizer(out, TOKENIZER_SEED)

    model = meta_model(out)
    plans = tensor_plans(model, t5)
    total_params = sum(p.numel for p in plans)
    model_params = sum(p.numel() for p in model.parameters())
    if t5:
        text = model.config.text_config
        if text.dense_act_fn != "gelu" or not text.is_gated_act or text.vocab_size != T5_VOCAB_ROWS:
            raise AssertionError(f"transformers reads the T5 config as {text.dense_act_fn}, {text.vocab_size} rows")
        model_params += model.language_model.lm_head.weight.numel()  # tied on meta, stored apart
        expected = T5_SIZES[kind]["params"]
        if abs(total_params - expected) > 0.005e9:
            raise AssertionError(f"{total_params:,} parameters, BLIP2-FAMILY.md says {expected / 1e9:.2f} B")
    if total_params != model_params:
        raise AssertionError(f"stored {total_params} parameters, the model has {model_params}")
    groups = {}
    for p in plans:
        group = p.name.split(".")[0].replace("query_tokens", "qformer").replace("embeddings", "qformer")
        if t5 and group == "language_model":
            group = "t5 " + p.name.split(".")[1]
        groups[group] = groups.get(group, 0) + p.numel
    print(f"parameters: {total_params:,} ({', '.join(f'{k} {v / 1e6:.1f} M' for k, v in groups.items())})")

    shards = shard(plans)
    itemsize = torch.empty(0, dtype=dtype).element_size()
    total_bytes = total_params * itemsize
    free = shutil.disk_usage(out).free
    if free < total_bytes + 2**30:
        raise SystemExit(f"{out}: needs {total_bytes / 1e9:.1f} GB, {free / 1e9:.1f} GB free")
    started = time.time()
    weight_map = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        for number, plans_in_shard in enumerate(shards, 1):
            filename = shard_name(number, len(shards))
            nbytes = write_shard(out / filename, plans_in_shard, seed, dtype_key, pool)
            weight_map.update({p.name: filename for p in plans_in_shard})
            print(f"{filename}: {len(plans_in_shard)} tensors, {nbytes / 1e9:.2f} GB")
    if len(shards) > 1:
        index = {"metadata": {"total_size": total_bytes}, "weight_map": dict(sorted(weight_map.items()))}
        dump_json(out / "model.safetensors.index.json", index)
    elapsed = time.time() - started
    print(f"wrote {total_bytes / 1e9:.2f} GB of {st_dtype} in {elapsed:.0f} s ({total_bytes / 1e6 / elapsed:.0f} MB/s)")
    verify(out, shards, dtype_key, total_bytes)
    if t5:
        check_t5_head(out, shards)
    print("verified: names, shapes, dtypes and shard map match transformers' model built from config.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path, nargs="?", help="checkpoint folder to write")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default=None, help="fp32 (bf16 for t5-xl/-xxl)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", choices=["opt", "itm", *T5_SIZES], default="opt",
                        help="blip2-opt-2.7b (default), blip2-itm-vit-g, blip2-flan-t5-xl or -xxl")
    parser.add_argument("--tokenizer-only", action="store_true", help="only (re)train the cached tokenizer")
    args = parser.parse_args()
    if args.tokenizer_only:
        tokenizer(retrain=True, seed=TOKENIZER_SEED)
        return
    if args.outdir is None:
        parser.error("OUTDIR is required unless --tokenizer-only")
    dtype = args.dtype or ("bf16" if args.model in T5_SIZES else "fp32")
    spec = tokenizer(retrain=False, seed=TOKENIZER_SEED) if args.model == "opt" else None
    write_checkpoint(args.outdir, dtype, args.seed, spec, args.model)


if __name__ == "__main__":
    main()
