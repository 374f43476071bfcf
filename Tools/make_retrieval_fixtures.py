#!/usr/bin/env python3
"""Golden data for image-text retrieval (Blip2ForImageTextRetrieval, `blip2-itm-vit-g`'s architecture).

Writes, under Tests/Fixtures/:
  tiny-itm-a/            a seeded random retrieval checkpoint (fp32 safetensors, config.json with
                         `use_qformer_text_input`, preprocessor_config.json, a BERT WordPiece tokenizer
                         as vocab.txt + tokenizer_config.json, `[DEC]` added as the real one has it)
  tiny-itm-b/            awkward sizes (3 vision heads of 24, 5 Q-Former heads of 8, cross-attention in
                         every layer, 5 queries, rows that do not split into 32-blocks); tokenizer as
                         tokenizer.json
  retrieval/tiny-itm-{a,b}.gguf   what transformers computes for one image and several texts: pixel
                         values, image embeddings, the query output, image features [queries, 256-like],
                         text ids and features, ITC scores, ITM logits and probabilities
                         and, with the converter built (swift build), the same outputs of transformers run on
                         the weights of our Q8_0 and Q4_0 files dequantized by gguf (`deq_q8_0.*`, `deq_q4_0.*`)
  retrieval/wordpiece.gguf        BertTokenizer ids ([CLS] ... [SEP]) of ~500 strings, and truncated ones

The WordPiece vocabulary is trained here (bert-base-uncased's cannot be downloaded): specials first,
then pieces learnt from a seeded corpus with accents and CJK characters mixed in, so that greedy
longest-match, `##` continuation and [UNK] words all occur.
  PY=$(bash Tools/ref_env.sh); $PY Tools/make_retrieval_fixtures.py
"""
from __future__ import annotations

import argparse
import random
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
from transformers import Blip2Config, Blip2ForImageTextRetrieval, BertTokenizer
from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil
from transformers.utils import logging as hf_logging

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkpoint_json import dump_json, side_files, transformers_version, write_fixture_gguf  # noqa: E402
from make_forward_fixtures import make_image  # noqa: E402
from make_tiny_checkpoints import FIXTURES, init_weights  # noqa: E402
from tokenizer_fixtures import corpus_line, pseudo_words  # noqa: E402
from verify_gguf import hf_name  # noqa: E402

QUANTIZER = FIXTURES.parent.parent / ".build" / "debug" / "blip2-quantize"

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
DEC = "[DEC]"
VOCAB_SIZE = 900

SPECS = {
    "tiny-itm-a": dict(
        vision=dict(hidden_size=64, num_attention_heads=4, intermediate_size=128, num_hidden_layers=2,
                    image_size=56, patch_size=14),
        qformer=dict(hidden_size=64, num_attention_heads=4, intermediate_size=128, num_hidden_layers=2,
                     cross_attention_frequency=2, max_position_embeddings=64),
        num_query_tokens=8, image_text_hidden_size=32, tokenizer="slow"),
    "tiny-itm-b": dict(
        vision=dict(hidden_size=72, num_attention_heads=3, intermediate_size=100, num_hidden_layers=2,
                    image_size=42, patch_size=14),
        qformer=dict(hidden_size=40, num_attention_heads=5, intermediate_size=72, num_hidden_layers=3,
                     cross_attention_frequency=1, max_position_embeddings=40),
        num_query_tokens=5, image_text_hidden_size=24, tokenizer="fast"),
}

TEXTS = [
    "a photo of a cat",
    "A RED bicycle leaning on a wall.",
    "two dogs playing in the snow, near a café",
    "x",
    "an unbelievably long description of a sunny beach with palm trees and three people walking",
]

EXTRA_CORPUS = [
    "café naïve résumé façade über señor crème brûlée", "東京 北京 上海 中国 日本 学生", "Ελλάδα ΣΑΣ σας",
    "don't won't it's we're", "photo picture image camera bicycle dog cat snow beach wall tree",
]


# ----------------------------------------------------------------------------------------------------------------
# Tokenizer


def train_wordpiece(seed: int) -> list[str]:
    """A WordPiece vocabulary (tokens by id) from a seeded corpus, by counting rather than by the
    `tokenizers` trainer, whose tie-breaking varies between runs: every character seen (alone and as
    a `##` continuation), then the most frequent whole words, word beginnings and `##` endings."""
    from collections import Counter

    from tokenizers import normalizers, pre_tokenizers

    rng = random.Random(seed)
    words = pseudo_words(rng, 400)
    cum = list(range(1, len(words) + 1))
    lines = [corpus_line(rng, words, cum) for _ in range(3000)] + EXTRA_CORPUS * 20 + TEXTS * 20
    normalizer = normalizers.BertNormalizer(lowercase=True)
    splitter = pre_tokenizers.BertPreTokenizer()
    counts: Counter[str] = Counter()
    for line in lines:
        counts.update(w for w, _ in splitter.pre_tokenize_str(normalizer.normalize_str(line)))

    def top(counter: Counter, n: int) -> list[str]:
        return [t for t, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]

    chars = sorted({c for w in counts for c in w})
    starts, ends = Counter(), Counter()
    for w, n in counts.items():
        for k in range(2, min(5, len(w) - 1) + 1):
            starts[w[:k]] += n
            ends["##" + w[-k:]] += n
    tokens = SPECIALS + chars + ["##" + c for c in chars]
    for t in top(Counter({w: n for w, n in counts.items() if len(w) > 1}), 300) + top(starts, 200) + top(ends, 200):
        if t not in tokens and len(tokens) < VOCAB_SIZE:
            tokens.append(t)
    if len(tokens) != VOCAB_SIZE:
        raise AssertionError(f"{len(tokens)} tokens, wanted {VOCAB_SIZE}")
    return tokens


def write_tokenizer(directory: Path, tokens: list[str], form: str) -> BertTokenizer:
    """BertTokenizer with `[DEC]` added as BOS (as LAVIS and the -coco processor files have it)."""
    with tempfile.TemporaryDirectory() as tmp:
        vocab_file = Path(tmp) / "vocab.txt"
        vocab_file.write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
        tok = BertTokenizer(vocab=str(vocab_file), do_lower_case=True, model_max_length=512)
        tok.add_special_tokens({"bos_token": DEC})
        tok.save_pretrained(tmp)
        keep = {"tokenizer_config.json", "special_tokens_map.json"}
        keep |= {"vocab.txt"} if form == "slow" else {"tokenizer.json"}
        for p in Path(tmp).iterdir():
            if p.name in keep:
                shutil.copyfile(p, directory / p.name)
        if form == "slow" and not (directory / "vocab.txt").exists():
            shutil.copyfile(vocab_file, directory / "vocab.txt")
    reloaded = BertTokenizer.from_pretrained(str(directory))
    if reloaded.convert_tokens_to_ids(DEC) != len(tokens):
        raise AssertionError(f"{directory.name}: [DEC] is not id {len(tokens)}")
    return reloaded


def sample_strings(seed: int) -> list[str]:
    rng = random.Random(seed + 7)
    words = pseudo_words(rng, 300) + ["café", "Über", "naïve", "东京", "ΣΑΣ", "résumé", "don't"]
    lines = [corpus_line(rng, words, list(range(1, len(words) + 1))) for _ in range(380)]
    mixed = []
    for _ in range(60):
        picks = rng.sample(words, 4) + [rng.choice(["!!", "...", "?!", "—", "€5", "$~", "«quoted»", "#tag", "@user"])]
        rng.shuffle(picks)
        mixed.append(rng.choice([" ", "  ", "\t", "\n"]).join(picks))
    edge = [
        "", " ", "\t\n\r", "\u00a0\u3000", "Hello, World!", "HELLO world", "Crème Brûlée à la CAFÉ", "naïve résumé",
        "Ελλάδα ΣΑΣ σας ς", "東京は日本の首都です", "中文字符测试", "한국어 텍스트", "カタカナ ひらがな", "𠀀𪜀 rare cjk",
        "zero\u200bwidth", "soft\u00adhyphen", "nul\u0000char", "bad\ufffdchar", "ctl\u0085next", "bell\u0007",
        "$+<=>^`|~", "€©°™×", "。、…·—«¿", "a.b,c;d:e!f?g", "(((nested)))", "---", "...", "'quoted'", "\"dq\"",
        "don't", "x" * 100, "y" * 101, "a" + "b" * 99, "supercalifragilisticexpialidocious",
        "[DEC] a photo", "a[DEC]b", "[CLS] [SEP] [PAD] [MASK] [UNK]", "[cls]", "[DEC]",
        "🙂 emoji 🇫🇷 flags 👨\u200d👩\u200d👧", "ﬁ ligature ＦＵＬＬＷＩＤＴＨ", "Ⅻ roman", "١٢٣ arabic digits", "e\u0301 combining",
        "İstanbul", "ǅ titlecase", "ß straße", "Ωmega ohm Ω", "tab\tsep", "new\nline", "   spaces   ", "a" * 3 + " " + "b" * 3,
    ] + TEXTS + EXTRA_CORPUS
    return lines + mixed + edge


# ----------------------------------------------------------------------------------------------------------------
# Model


def config_json(spec: dict, vocab_rows: int) -> dict:
    return {
        "architectures": ["Blip2ForImageTextRetrieval"],
        "image_text_hidden_size": spec["image_text_hidden_size"],
        "initializer_factor": 1.0,
        "initializer_range": 0.02,
        "model_type": "blip-2",
        "num_query_tokens": spec["num_query_tokens"],
        "qformer_config": {"model_type": "blip_2_qformer", "use_qformer_text_input": True, "vocab_size": vocab_rows,
                           **spec["qformer"]},
        "torch_dtype": "float32",
        "transformers_version": transformers_version(),
        "vision_config": {"model_type": "blip_2_vision_model", **spec["vision"]},
    }


def build_model(spec: dict, vocab_rows: int, seed: int) -> Blip2ForImageTextRetrieval:
    with tempfile.TemporaryDirectory() as tmp:
        dump_json(Path(tmp) / "config.json", config_json(spec, vocab_rows))
        config = Blip2Config.from_pretrained(tmp)
    if config.image_token_index is not None:
        raise AssertionError("the retrieval fixtures have no image_token_index (as blip2-itm-vit-g on main)")
    model = Blip2ForImageTextRetrieval(config).eval()
    init_weights(model, seed)
    return model


def write_checkpoint(directory: Path, spec: dict, model, tokens: list[str]) -> BertTokenizer:
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        shutil.copyfile(Path(tmp) / "model.safetensors", directory / "model.safetensors")
    dump_json(directory / "config.json", config_json(spec, len(tokens) + 1))
    pre = side_files(spec["num_query_tokens"], spec["vision"]["image_size"], 0)["preprocessor_config.json"]
    dump_json(directory / "preprocessor_config.json", pre)
    tokenizer = write_tokenizer(directory, tokens, spec["tokenizer"])
    loaded, info = Blip2ForImageTextRetrieval.from_pretrained(str(directory), dtype=torch.float32,
                                                              output_loading_info=True)
    if any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys")):
        raise AssertionError(f"{directory.name}: {info}")
    return tokenizer


def reference_outputs(model, tokenizer: BertTokenizer, directory: Path) -> tuple[dict, dict]:
    processor = BlipImageProcessorPil.from_pretrained(str(directory))
    pixels = processor(images=Image.fromarray(make_image()), return_tensors="pt")["pixel_values"]
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    ids, mask = batch["input_ids"], batch["attention_mask"]
    n = len(TEXTS)
    with torch.no_grad():
        image_embeds = model.vision_model(pixels, return_dict=True).last_hidden_state
        query = model.qformer(query_embeds=model.query_tokens, encoder_hidden_states=image_embeds,
                              encoder_attention_mask=torch.ones(image_embeds.shape[:-1], dtype=torch.long),
                              return_dict=True).last_hidden_state
        itc = model(pixel_values=pixels, input_ids=ids, attention_mask=mask, use_image_text_matching_head=False)
        itm = model(pixel_values=pixels.expand(n, -1, -1, -1), input_ids=ids, attention_mask=mask,
                    use_image_text_matching_head=True)
    itm_logits = itm.logits_per_image
    tensors = {
        "pixel_values": pixels[0],
        "image_embeds": image_embeds[0],
        "qformer_output": query[0],
        "image_features": itc.image_embeds[0],
        "text_features": itc.text_embeds,
        "itc": itc.logits_per_image[0],
        "itm_logits": itm_logits,
        "itm_probability": itm_logits.softmax(dim=1)[:, 1],
    }
    # One text at a time, unpadded, must give the same as the padded batch (what we compute).
    for i, text in enumerate(TEXTS):
        single = tokenizer([text], return_tensors="pt")
        with torch.no_grad():
            one = model(pixel_values=pixels, input_ids=single["input_ids"], attention_mask=single["attention_mask"],
                        use_image_text_matching_head=True)
        if not torch.allclose(one.logits_per_image[0], itm_logits[i], atol=1e-5):
            raise AssertionError("ITM of one unpadded text differs from the padded batch")
    meta = {"texts": TEXTS, "text_ids": [int(t) for row, m in zip(ids, mask) for t, k in zip(row, m) if k],
            "text_lengths": [int(m.sum()) for m in mask]}
    return {k: v.detach().numpy() for k, v in tensors.items()}, meta


def dequantized_model(model, path: Path) -> tuple[Blip2ForImageTextRetrieval, str]:
    """A copy of `model` with every weight replaced by gguf.quants.dequantize of the file's tensor."""
    reader = gguf.GGUFReader(str(path))
    base = model.state_dict()
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
    deq = Blip2ForImageTextRetrieval(model.config).eval()
    deq.load_state_dict(state, strict=True)
    return deq, ",".join(f"{k}:{v}" for k, v in sorted(counts.items()))


def quantized_outputs(model, tokenizer, directory: Path, tensors: dict) -> dict:
    """transformers on the dequantized weights of our Q8_0 and Q4_0 files: what our quantized run
    should give, but for the quantization of activations (Q8_0 blocks) that the kernels add."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for qtype in ("q8_0", "q4_0"):
            path = Path(tmp) / f"{directory.name}.{qtype}.gguf"
            subprocess.run([str(QUANTIZER), str(directory), str(path), "--type", qtype, "--quiet"], check=True)
            deq, types = dequantized_model(model, path)
            got, _ = reference_outputs(deq, tokenizer, directory)
            for key in ("image_features", "text_features", "itc", "itm_probability"):
                out[f"deq_{qtype}.{key}"] = got[key]
            print(f"  {qtype} ({types}): itc {np.round(got['itc'], 4)} (f32 {np.round(tensors['itc'], 4)}), "
                  f"itm {np.round(got['itm_probability'], 4)} (f32 {np.round(tensors['itm_probability'], 4)})")
    return out


def write_gguf(path: Path, tensors: dict, meta: dict, generator: str) -> None:
    write_fixture_gguf(path, tensors, meta, generator, arch="blip2-retrieval-fixtures")


def tokenizer_cases(tokenizer: BertTokenizer, seed: int) -> dict:
    strings = sample_strings(seed)
    ids = [tokenizer(s)["input_ids"] for s in strings]
    short = [tokenizer(s, truncation=True, max_length=6)["input_ids"] for s in strings[:40]]
    unk = tokenizer.convert_tokens_to_ids("[UNK]")
    if not any(unk in row for row in ids) or not any(len(r) > 6 for r in ids[:40]):
        raise AssertionError("the samples do not exercise [UNK] and truncation")
    return {"strings": strings, "ids": [i for row in ids for i in row], "lengths": [len(r) for r in ids],
            "truncated.max_length": 6, "truncated.ids": [i for row in short for i in row],
            "truncated.lengths": [len(r) for r in short]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=FIXTURES)
    parser.add_argument("--seed", type=int, default=20261201)
    args = parser.parse_args()
    hf_logging.disable_progress_bar()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1)  # float sums in one order: the same bytes on every run

    tokens = train_wordpiece(args.seed)
    (args.out / "retrieval").mkdir(parents=True, exist_ok=True)
    for k, (name, spec) in enumerate(SPECS.items()):
        model = build_model(spec, len(tokens) + 1, args.seed + k)
        directory = args.out / name
        tokenizer = write_checkpoint(directory, spec, model, tokens)
        tensors, meta = reference_outputs(model, tokenizer, directory)
        if QUANTIZER.exists():
            tensors.update(quantized_outputs(model, tokenizer, directory, tensors))
        else:
            print(f"  no {QUANTIZER}: the quantized outputs are left out (run swift build first)")
        write_gguf(args.out / "retrieval" / f"{name}.gguf", tensors, meta, "Tools/make_retrieval_fixtures.py")
        print(f"{name}: itc {np.round(tensors['itc'], 4)}, itm {np.round(tensors['itm_probability'], 4)}")
        if k == 0:
            cases = tokenizer_cases(tokenizer, args.seed)
            write_gguf(args.out / "retrieval" / "wordpiece.gguf", {"unused": np.zeros(1)}, cases,
                       "Tools/make_retrieval_fixtures.py")
            print(f"wordpiece: {len(cases['strings'])} strings")


if __name__ == "__main__":
    main()
