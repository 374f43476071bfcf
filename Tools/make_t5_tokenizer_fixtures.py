#!/usr/bin/env python3
"""Flan-T5-shaped tokenizers and T5Tokenizer(Fast) goldens for the Swift Unigram tokenizer.

The real google/flan-t5 tokenizer.json cannot be downloaded here, so SentencePiece trains Unigram
models of the same shape on a seeded multilingual corpus, with SentencePiece's real nmt_nfkc
normalization rules (the precompiled charsmap flan-t5 ships) and no byte fallback:
  t5-tokenizer/        32000 pieces, `<pad>`=0 `</s>`=1 `<unk>`=2, `<extra_id_0>`..`<extra_id_99>` at
                       32099..32000 (the size and layout of flan-t5's)
  t5-tokenizer-small/  1000 pieces + the same 100 extra ids, for tiny test models; written with
                       clean_up_tokenization_spaces=true so that decode's clean-up is covered too
Each is built into transformers' T5Tokenizer (T5TokenizerFast is the same class in v5) and saved
with save_pretrained as a checkpoint directory (tokenizer.json, tokenizer_config.json).

Goldens (t5-tokenizer/goldens.gguf, t5-tokenizer-small/goldens.gguf): for ~500 strings, the ids
with `</s>` (`tok(text).input_ids`) and without (add_special_tokens=False), and decode of the first
with skip_special_tokens true and false; plus random id sequences and their decodes. Every id
list is checked against the bare `tokenizers` runtime loading the saved tokenizer.json, and
against a reload with AutoTokenizer. Run with the reference venv:
  $(Tools/ref_env.sh) Tools/make_t5_tokenizer_fixtures.py
"""
import argparse
import io
import json
import random
import sys
import unicodedata
from pathlib import Path

import gguf
import numpy as np
import sentencepiece as spm
import transformers
from gguf import GGUFValueType
from sentencepiece import sentencepiece_model_pb2
from tokenizers import Tokenizer
from transformers import AutoTokenizer, T5Tokenizer

sys.path.insert(0, str(Path(__file__).parent))
from tokenizer_fixtures import make_corpus, sample_strings  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests" / "Fixtures"
EXTRA_IDS = 100

# Scripts the corpus draws made-up words from, so that pieces of many kinds are learnt; the rarest
# characters fall under character_coverage and become <unk>.
SCRIPTS = {
    "cjk": (0x4E00, 0x4FFF), "hiragana": (0x3041, 0x3096), "katakana": (0x30A1, 0x30FA), "hangul": (0xAC00, 0xAD00),
    "cyrillic": (0x0430, 0x044F), "greek": (0x03B1, 0x03C9), "arabic": (0x0627, 0x064A), "hebrew": (0x05D0, 0x05EA),
    "devanagari": (0x0915, 0x0939), "thai": (0x0E01, 0x0E2E), "latin1": (0x00E0, 0x00FF),
}


def script_words(rng: random.Random, count: int) -> list[str]:
    out = []
    names = sorted(SCRIPTS)
    for _ in range(count):
        lo, hi = SCRIPTS[rng.choice(names)]
        # Low code points are frequent: a skewed pick keeps some characters rare.
        out.append("".join(chr(lo + int((hi - lo) * rng.random() ** 3)) for _ in range(rng.randint(1, 6))))
    return out


def corpus(seed: int, lines: int, pseudo_words: int) -> list[str]:
    rng = random.Random(seed + 7)
    text = make_corpus(seed, lines, pseudo_words)
    words = script_words(rng, lines // 2)
    text += [" ".join(rng.choices(words, k=rng.randint(3, 12))) for _ in range(lines // 3)]
    text += ["ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ １２３", "ﬁne ﬂow", "① ② ③", "Ⅳ Ⅻ", "½ ¾", "x² y³"]  # NFKC-normalized by spm
    return text


def train(seed: int, vocab_size: int, lines: int, pseudo_words: int, coverage: float) -> sentencepiece_model_pb2.ModelProto:
    spm.set_random_generator_seed(seed)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus(seed, lines, pseudo_words)), model_writer=model, vocab_size=vocab_size,
        model_type="unigram", normalization_rule_name="nmt_nfkc", byte_fallback=False, character_coverage=coverage,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
        num_threads=1, max_sentence_length=8192, hard_vocab_limit=True, minloglevel=2)
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    return proto


def build(directory: Path, proto, clean_up: bool) -> T5Tokenizer:
    """T5Tokenizer from the trained pieces and charsmap, as flan-t5's is laid out, saved and reloaded."""
    vocab = [(p.piece, p.score) for p in proto.pieces]
    vocab += [(f"<extra_id_{i}>", 0.0) for i in range(EXTRA_IDS - 1, -1, -1)]
    charsmap = proto.normalizer_spec.precompiled_charsmap
    if not charsmap:
        raise AssertionError("the trained model has no precompiled charsmap")
    tok = T5Tokenizer(vocab=vocab, _spm_precompiled_charsmap=charsmap, extra_ids=EXTRA_IDS,
                      clean_up_tokenization_spaces=clean_up, model_max_length=512)
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.iterdir():
        if old.name != "goldens.gguf":
            old.unlink()
    tok.save_pretrained(str(directory))
    # save_pretrained indents every [piece, score] pair over four lines; one line holds the same JSON
    # in half the bytes (the 32k vocabulary's file 1.4 MB instead of 2.5).
    path = directory / "tokenizer.json"
    path.write_text(json.dumps(json.loads(path.read_text(encoding="utf-8")), ensure_ascii=False,
                               separators=(",", ":")) + "\n", encoding="utf-8")
    reloaded = AutoTokenizer.from_pretrained(str(directory))
    if type(reloaded) is not T5Tokenizer or len(reloaded) != len(vocab):
        raise AssertionError(f"{directory.name}: reloaded as {type(reloaded).__name__} with {len(reloaded)} tokens")
    ids = [reloaded.convert_tokens_to_ids(t) for t in ("<pad>", "</s>", "<unk>", "<extra_id_0>", "<extra_id_99>")]
    if ids != [0, 1, 2, len(vocab) - 1, len(vocab) - EXTRA_IDS]:
        raise AssertionError(f"{directory.name}: special ids {ids}")
    return reloaded


# MARK: strings

NORMALIZATION = [
    "ＡＢＣ　ｄｅｆ　１２３！？", "Ｈｅｌｌｏ，ｗｏｒｌｄ．", "ﬁ ﬂ ﬀ ﬃ ﬄ ﬅ ﬆ", "ﬁne ﬂour", "① ② ⑳ ㉑ ⓐ", "㈱ ㍿ ㌀ ㎏ ㎞ ℃ ℉",
    "ℌ ℍ ℕ ℙ ℚ ™ ℡ №", "¼ ½ ¾ ⅓ ⅞", "x² y³ z⁴ H₂O", "Ⅰ Ⅱ Ⅻ ⅳ ⅻ", "ſ µ ǅ Ǆ ǆ", "e\u0301 a\u0308 o\u0302 n\u0303",
    "cafe\u0301 vs café", "A\u030a vs Å vs \u212b", "Ω \u2126 K \u212a", "a\u0308\u0301\u0323", "e\u0301\u0302\u0303\u0304\u0305",
    "Ａ\u0301 ﬁ\u0301 ①\u0301", "ｶﾀｶﾅ ﾊﾟﾋﾟ ｶﾞｷﾞ", "ガ が ｶﾞ", "\u1100\u1161\u11a8 각", "한국어 \u1112\u1161\u11ab",
    "…‥ ⁉ ‼ ⁇", "‘quotes’ “double” „low“ «guillemets»", "– — ― ‐ ‑ ‒", "\u00ad soft\u00adhyphen",
    "x\u200by \u200c\u200d zero widths", "\ufeffBOM", "line\u2028sep\u2029para", "nel\u0085x", "\x00\x01\x02\x7f ctrl",
    "\x1b[31mred\x1b[0m", "a\u0000b", "variation ❤\ufe0f ❤\ufe0e ❤", "क्षि द्धि", "สวัสดีครับ", "ภาษาไทย",
    "Ǉ ǈ ǉ", "ǰ̣", "ﷺ ﷻ", "ﾟ ﾞ", "ㄱ ㅏ", "\u3099\u309a", "゛゜", "㋀ ㏠", "🄰 🅐 🅰", "𝐀𝐁𝐂 𝒜 𝔸 𝟘𝟙", "ⓐⓑⓒ ⒜⒝",
    "\u0130 \u0131 İstanbul ıi", "ß ẞ ς σ Σ", "\uff5e \u301c ～", "\u2215 \u2044 ⁄", "\u00a0nbsp\u00a0", "\u202fnarrow\u2009thin",
]
WHITESPACE = [
    "", " ", "  ", "\n", "\n\n", "\t", "\r\n", " \n ", "\u3000", "\u00a0", "a  b", "a     b", " a", "   a", "a ", "a   ",
    "a\tb", "a\t\tb", "a\nb", "a\n\nb", "a \n b", "a\r\nb", "a\u2003b", "a\u2002\u2003\u2009b", "\u3000x\u3000", "x\u000by",
    "x\u000cy", "\u1680ogham space", "\u180emongolian", "a\u2000b\u200ac", "\u205fmath", "end.\n", "\tindented\n\tlines\n",
]
SYMBOLS = [
    "0", "7", "42", "123", "2024", "3.14159", "1,000,000", "-5", "+1e-9", "0x1F", "٣٤٥ ۶۷۸", "१२३", "〇一二三",
    "!!!", "?!?!", "...", "---", "((()))", "[a]{b}<c>", "$$$100", "a,b;c:d", "'quoted' \"double\"", "don't it's we'll",
    "#hashtag @user https://example.com/a?b=c&d=e", "~`^|\\/", "½%", "€100 £5 ¥1000 ₹50 ₩1000", "°C ±2 ×3 ÷4 ≠ ≤ ≥",
    "→ ← ↑ ↓ ⇒", "© ® ™ § ¶", "• · ‧ ∙",
]
EMOJI_CJK = [
    "😀", "🐱🐶", "I ❤️ NY", "👍🏽", "👩🏽\u200d💻 codes", "👨\u200d👩\u200d👧\u200d👦", "🇫🇷🇯🇵🇺🇸", "🏳️\u200d🌈", "🀄🃏",
    "你好，世界", "这是一只猫。", "東京タワー", "日本語のテキスト", "中文和English混合", "한국어 문장", "𠜎𠜱 𪚥",
    "こんにちは、世界！", "カタカナとひらがな", "繁體中文", "「引用」『二重』",
]
UNKNOWN = [
    "𓀀𓀁𓀂", "ᚠᚢᚦᚨᚱ", "ꙮ", "\ue000\ue001", "\U000f0000", "ᐁᐃᐅ", "ⴰⵣⵓⵍ", "ꓐꓑꓒ", "🜁🜂🜃", "ܐܒܓ", "ᎠᎡᎢ", "ߊߋߌ",
    "abc𓀀def", "𓀀 𓀁 abc", "x\U0001d173y",
]
ADDED = [
    "<extra_id_0>", "a<extra_id_0>b", "The <extra_id_0> walks in <extra_id_1> park", "<extra_id_0><extra_id_1>",
    " <extra_id_0> ", "<extra_id_99>", "<extra_id_100>", "<extra_id_", "<extra_id_0", "extra_id_0>", "x </s> y", "</s>",
    "<pad> <unk>", "a</s>b", "<EXTRA_ID_0>", "<extra_id_5>\n<extra_id_6>", "<extra_id_0>hello", "hello<extra_id_0>",
    "＜extra_id_0＞", "x＜pad＞y ＜/s＞", "<extra_id_0 >", "▁", "▁▁x", "a▁b", "x▁", "▁ ▁", "▁hello", "hello ▁world",
]
LONG = [
    "a" * 300, "supercalifragilisticexpialidocious" * 8, "ab" * 200, "x" * 1000, "日本" * 100, "😀" * 60,
    "Pneumonoultramicroscopicsilicovolcanoconiosis",
]


def random_text(rng: random.Random) -> str:
    alphabet = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"-()[]{}<>/\\|@#$%^&*_=+~`"
                "\t\n\u3000 éüñçøåßæœЖжЯя中文日本語한국αβγ🙂🚀✓€£¥°·•—–ＡＢｃ１ﬁ①ｶﾞ\u0301\u0308▁")
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))


def random_unicode(rng: random.Random) -> str:
    """Code points from all over the BMP and beyond (no surrogates), to find what lists miss."""
    out = []
    for _ in range(rng.randint(1, 12)):
        cp = rng.choice([rng.randrange(0x20, 0x2FF), rng.randrange(0x300, 0x370), rng.randrange(0x2000, 0x33FF),
                         rng.randrange(0xF900, 0xFFEF), rng.randrange(0xAC00, 0xD7A3), rng.randrange(0x1F300, 0x1FAFF)])
        out.append(chr(cp))
    return "".join(out)


# Short grapheme clusters: `tokenizers` replaces a cluster under 6 bytes whole by its shortest
# prefix's replacement, so bases the charsmap changes are followed by marks that join them.
BASES = list("aAeoñ1.ＡｂＢ１！ﬁ①㈱ℌ™½²ｶｱ가각ᄀかカ日αЖ") + ["\r", "\u0600", "\u0e01", "\u0915", "\ufeff", "\u00ad"]
JOINERS = ["\u0301", "\u0308", "\u0323", "\u093f", "\u0e33", "\u3099", "\u309a", "\uff9e", "\uff9f", "\ufe0f",
           "\u200d", "\u200c", "\u1161", "\u11a8", "\n", "\u0903", "\U0001f3fd", "\u20dd"]


def grapheme_soup(rng: random.Random) -> str:
    out = []
    for _ in range(rng.randint(1, 6)):
        out.append(rng.choice(BASES) + "".join(rng.choice(JOINERS) for _ in range(rng.choice([0, 1, 1, 1, 2]))))
        if rng.random() < 0.3:
            out.append(" ")
    return "".join(out)


def strings(seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = NORMALIZATION + WHITESPACE + SYMBOLS + EMOJI_CJK + UNKNOWN + ADDED + LONG + sample_strings(seed, 120)
    texts += [random_text(rng) for _ in range(120)]
    texts += [random_unicode(rng) for _ in range(60)]
    texts += [grapheme_soup(rng) for _ in range(150)]
    prose = [s for s in sample_strings(seed + 1, 60) if s.strip()]
    texts.append(" ".join(rng.choice(prose) for _ in range(60)))  # a long prompt, several hundred tokens
    # Every NFKC-changing character of the BMP's compatibility blocks, a few per string.
    changed = [chr(c) for c in range(0xA0, 0x10000) if not 0xD800 <= c < 0xE000
               and unicodedata.normalize("NFKC", chr(c)) != chr(c)]
    rng.shuffle(changed)
    texts += ["".join(changed[i:i + 8]) for i in range(0, min(len(changed), 8 * 40), 8)]
    return texts


# MARK: goldens

def goldens(name: str, directory: Path, tok: T5Tokenizer, seed: int) -> dict:
    raw = Tokenizer.from_file(str(directory / "tokenizer.json"))
    texts = strings(seed)
    with_eos, without, decoded, decoded_special = [], [], [], []
    for text in texts:
        ids = tok(text).input_ids
        bare = tok(text, add_special_tokens=False).input_ids
        if raw.encode(text).ids != ids or raw.encode(text, add_special_tokens=False).ids != bare:
            raise AssertionError(f"{name}: tokenizers and transformers disagree on {text!r}")
        if ids != bare + [1]:
            raise AssertionError(f"{name}: {text!r} with </s> is not the ids without it plus </s>")
        with_eos.append(ids)
        without.append(bare)
        decoded.append(tok.decode(ids, skip_special_tokens=True))
        decoded_special.append(tok.decode(ids, skip_special_tokens=False))
    unk = tok.unk_token_id
    if not any(unk in ids for ids in with_eos) or not any(len(ids) > 300 for ids in with_eos):
        raise AssertionError(f"{name}: the strings exercise neither <unk> nor a long prompt")
    rng = random.Random(seed + 2)
    specials = [0, 1, 2] + list(range(len(tok) - EXTRA_IDS, len(tok)))
    random_ids = []
    for _ in range(150):
        n = rng.randint(1, 12)
        random_ids.append([rng.choice(specials) if rng.random() < 0.2 else rng.randrange(len(tok)) for _ in range(n)])
    random_decoded = [tok.decode(ids, skip_special_tokens=True) for ids in random_ids]
    random_decoded_special = [tok.decode(ids, skip_special_tokens=False) for ids in random_ids]
    for ids, text in zip(random_ids, random_decoded_special):
        if raw.decode(ids, skip_special_tokens=False) != text and not tok.clean_up_tokenization_spaces:
            raise AssertionError(f"{name}: tokenizers and transformers decode {ids} differently")
    print(f"{name}: {len(texts)} strings, {sum(unk in i for i in with_eos)} with <unk>, "
          f"longest {max(map(len, with_eos))} ids; {len(random_ids)} random id sequences")
    flat = lambda rows: [i for r in rows for i in r]  # noqa: E731
    return {
        "strings": texts, "ids": flat(with_eos), "lengths": [len(r) for r in with_eos],
        "bare.ids": flat(without), "bare.lengths": [len(r) for r in without],
        "decoded": decoded, "decoded_special": decoded_special,
        "random.ids": flat(random_ids), "random.lengths": [len(r) for r in random_ids],
        "random.decoded": random_decoded, "random.decoded_special": random_decoded_special,
    }


def write_gguf(path: Path, meta: dict) -> None:
    writer = gguf.GGUFWriter(str(path), arch="t5-tokenizer-fixtures")
    writer.add_key_value("fixture.generator", "Tools/make_t5_tokenizer_fixtures.py", GGUFValueType.STRING)
    writer.add_key_value("fixture.transformers_version", transformers.__version__, GGUFValueType.STRING)
    for key, value in meta.items():
        sub = GGUFValueType.STRING if value and isinstance(value[0], str) else GGUFValueType.INT32
        writer.add_key_value(key, value, GGUFValueType.ARRAY, sub_type=sub)
    writer.add_tensor("unused", np.zeros(1, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=20261215)
    ap.add_argument("--only", choices=["small", "large"])
    args = ap.parse_args()
    transformers.logging.set_verbosity_error()
    # name, pieces, corpus lines, made-up words, character coverage (the small one keeps ~700 characters)
    specs = [("t5-tokenizer-small", 1000, 6000, 3000, 0.98, True), ("t5-tokenizer", 32000, 60000, 40000, 0.9995, False)]
    for name, size, lines, pseudo, coverage, clean_up in specs:
        if args.only and (args.only == "small") != (size < 32000):
            continue
        directory = FIXTURES / name
        proto = train(args.seed, size, lines, pseudo, coverage)
        tok = build(directory, proto, clean_up)
        write_gguf(directory / "goldens.gguf", goldens(name, directory, tok, args.seed))
        size_mb = (directory / "tokenizer.json").stat().st_size / 1e6
        print(f"{name}: {len(tok)} tokens, tokenizer.json {size_mb:.2f} MB, files {sorted(p.name for p in directory.iterdir())}")


if __name__ == "__main__":
    main()
