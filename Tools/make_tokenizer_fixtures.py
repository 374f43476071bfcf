#!/usr/bin/env python3
"""Golden tokenizer data: HF's ids and decoded text for a corpus of strings.

For each tokenizer (the tiny fixture vocabulary in Tests/Fixtures/tiny-a and the GPT-2-sized
one in Tests/Fixtures/gpt2-sized-tokenizer), encodes a generated corpus with transformers'
AutoTokenizer (fast) and checks the slow GPT2Tokenizer agrees, then records:
  encode: text, ids (BOS included, as the tokenizer adds it), and batch_decode(ids,
          skip_special_tokens=True) -- the round trip;
  decode: random id sequences (including ids the embedding has but the vocabulary lacks)
          and their batch_decode text.
Writes Tests/Fixtures/tokenizer/<name>.json. Run with the reference venv:
  .venv-ref/bin/python Tools/make_tokenizer_fixtures.py
"""
import argparse
import json
import random
import sys
from pathlib import Path

from transformers import AutoTokenizer, GPT2Tokenizer

sys.path.insert(0, str(Path(__file__).parent))
from tokenizer_fixtures import sample_strings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests" / "Fixtures"

PROSE = [
    "A man riding a wave on top of a surfboard.",
    "Two cats laying on a couch next to each other, one of them asleep.",
    "The quick brown fox jumps over the lazy dog; it doesn't care, we're told, they'll see.",
    "Question: how many cats are there? Answer:",
    "Question: what is the man holding? Short answer:",
    "Question: what color is the bus? Answer: red",
]
SCRIPTS = ["Ça a été un été très chaud à Zürich.", "Москва — столица России.", "東京は日本の首都です。",
           "서울은 한국의 수도입니다.", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "Ελληνικά γράμματα",
           "naïve café résumé coöperate", "ß ẞ ǅ ﬀ Å Å"]
EMOJI = ["🐱🐶", "I ❤️ NY", "👩🏽‍💻 codes", "🇯🇵🇺🇸", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛", "smile 😀😀😀!"]
DIGITS = ["0", "123", "3.14159", "1,000,000", "2026-11-29", "v1.2.3", "٣٤٥ ۶۷۸", "Ⅻ ½ ²"]
PUNCT = ["!!!", "?!?!", "...", "---", "((()))", "$$$100", "a,b;c:d", "'quoted' \"double\"", "'s 't 're 've 'm 'll 'd",
         "it's IT'S it’s", "#hashtag @user https://example.com/a?b=c&d=e"]
SPACES = ["a  b", "a   b", " a", "  a", "a ", "a  ", "\t", "a\tb", "a\t\tb", "a\nb", "a\n\nb", "a \n b", "\r\n", " \n ",
          "a\u00a0b", "a\u2003b", "\u3000x", "x\u200by", "\x0b\x0c", "\x1c\x1d\x1e\x1f"]


def random_text(rng: random.Random) -> str:
    """Mixed-script strings with random whitespace, to find what curated lists miss."""
    alphabet = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"-()[]{}<>/\\|@#$%^&*_=+~`"
                "\t\n éüñçøåßæœЖжЯя中文日本語한국αβγ🙂🚀✓€£¥°·•—–")
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))


def random_bytes_text(rng: random.Random) -> str:
    return bytes(rng.randrange(256) for _ in range(rng.randint(1, 24))).decode("utf-8", errors="replace")


def corpus(seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = PROSE + SCRIPTS + EMOJI + DIGITS + PUNCT + SPACES + sample_strings(seed, 150)
    texts += [random_text(rng) for _ in range(200)]
    texts += [random_bytes_text(rng) for _ in range(60)]
    texts.append(" ".join(rng.choice(PROSE) for _ in range(40)))  # a long prompt
    return texts


def build(name: str, directory: Path, seed: int, embedding_rows: int) -> dict:
    fast = AutoTokenizer.from_pretrained(str(directory))
    slow = GPT2Tokenizer.from_pretrained(str(directory))
    encode = []
    for text in corpus(seed):
        ids = fast(text)["input_ids"]
        if slow(text)["input_ids"] != ids:
            raise AssertionError(f"{name}: slow and fast tokenizers disagree on {text!r}")
        encode.append({"text": text, "ids": ids, "decoded": fast.batch_decode([ids], skip_special_tokens=True)[0]})
    rng = random.Random(seed + 1)
    decode = []
    for _ in range(150):
        ids = [rng.randrange(embedding_rows) for _ in range(rng.randint(1, 12))]
        decode.append({"ids": ids, "text": fast.batch_decode([ids], skip_special_tokens=True)[0]})
    return {"tokenizer": name, "transformers_version": __import__("transformers").__version__,
            "clean_up_tokenization_spaces": bool(fast.clean_up_tokenization_spaces),
            "encode": encode, "decode": decode}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=20261129)
    args = ap.parse_args()
    out = FIXTURES / "tokenizer"
    out.mkdir(exist_ok=True)
    tiny_rows = json.loads((FIXTURES / "tiny-a" / "config.json").read_text())["text_config"]["vocab_size"]
    for name, directory, rows in (("tiny", FIXTURES / "tiny-a", tiny_rows),
                                  ("gpt2-sized", FIXTURES / "gpt2-sized-tokenizer", 50304)):
        data = build(name, directory, args.seed, rows)
        (out / f"{name}.json").write_text(json.dumps(data, ensure_ascii=True, indent=0) + "\n")
        print(f"{name}: {len(data['encode'])} encode cases, {len(data['decode'])} decode cases")


if __name__ == "__main__":
    main()
