"""Shared by the fixture scripts: a generated training corpus and OPT-style byte-level BPE tokenizers.

The real Salesforce/blip2-opt-2.7b tokenizer is GPT2Tokenizer (byte-level BPE) with `<s>`=0 `<pad>`=1
`</s>`=2 `<unk>`=3 first, `add_bos_token` true, bos = eos = unk = `</s>`, pad `<pad>`, and `<image>`
added after the vocabulary through added_tokens.json. Nothing can be downloaded here, so the
fixtures train tokenizers of the same shape with the `tokenizers` library on a corpus generated
from a seed, and write them in the same files the real checkpoint ships (vocab.json + merges.txt
+ added_tokens.json + tokenizer_config.json + special_tokens_map.json), or as one tokenizer.json
(what transformers itself converts those files into).

Token ids are shuffled after training (as in OPT, where ids do not follow merge ranks), with chosen
tokens pinned to chosen ids (the newline token "Ċ" is 50118 in the real vocabulary).

`check_tokenizer_dirs` proves each written form against transformers' AutoTokenizer, the bare
`tokenizers` runtime and a small re-implementation of GPT-2's original BPE algorithm.
"""

from __future__ import annotations

import itertools
import json
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

import regex

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
BOS = EOS = UNK = "</s>"
PAD = "<pad>"
IMAGE = "<image>"
NEWLINE = "\u010a"  # "Ċ": byte 0x0A in GPT-2's byte-to-unicode alphabet

ENGLISH = """
the a an of and to in is was for on with as at by from that this it be are were has had have not but or
which one two three four five six seven eight nine ten cat cats dog dogs man men woman women person people
child children car cars bus train street road building house room table chair couch bed kitchen window
door tree trees grass field sky cloud sun water river lake sea beach mountain snow city park picture photo
image white black red blue green yellow brown orange gray large small big little old young sitting standing
walking running playing holding looking laying lying eating riding flying wearing next near front top side
group pair couple plate pizza food sandwich cake bowl cup glass bottle phone computer laptop keyboard book
clock sign light ball frisbee kite skateboard surfboard umbrella bag shirt hat horse cow sheep bird elephant
giraffe zebra bear boat airplane bicycle motorcycle truck what where who how many color there does doing
very some other into over under behind between while during after before because about around through
""".split()
WH = ["what", "where", "who", "how many", "which", "why", "when", "how", "is there", "are there", "does the"]
CONTRACTIONS = ["don't", "it's", "we'll", "I'm", "they've", "she'd", "you're", "can't", "isn't", "Let's",
                "won't", "it'S", "O'Neil", "rock'n'roll", "'quoted'", "y'all"]
PUNCT = list("!?.,;:-_()[]{}'\"/\\@#$%^&*+=<>|~`")
FOREIGN = [
    "café", "naïve", "über", "señor", "crème brûlée", "façade", "Ærøskøbing", "smørrebrød", "São Paulo",
    "zażółć gęślą jaźń", "Straße", "Ελληνικά καλημέρα", "привет мир", "Москва", "مرحبا بالعالم", "שלום",
    "नमस्ते दुनिया", "สวัสดี", "你好，世界", "这是一只猫。", "日本語のテキスト", "東京タワー", "한국어 문장",
    "Việt Nam", "İstanbul", "ﬁ ligature", "Å Å", "e\u0301 combining", "x²+y³", "½ ¾", "№ 5", "€100", "£5", "¥1000",
]
EMOJI = ["😀", "🐱", "🐶", "👍🏽", "🇫🇷", "👨\u200d👩\u200d👧", "❤️", "🎉🎉", "🍕", "🚗💨", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𠜎𠜱", "🀄"]
WHITESPACE = [" ", " ", " ", " ", "  ", "   ", "\t", "\n", "\n\n", " \n", "\r\n", "\t\t", "    ", "\u00a0", "\u3000"]
ONSETS = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "qu", "r", "s", "t", "v", "w", "z",
          "br", "cl", "dr", "fl", "gr", "pl", "pr", "sh", "st", "str", "th", "tr", "ch", "sc", "sp", "kn", "wh"]
NUCLEI = ["a", "e", "i", "o", "u", "y", "ai", "ea", "ee", "oo", "ou", "ie", "au", "oi", "é", "ä", "ö", "ü"]
CODAS = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "ng", "st", "ck", "rt", "ss", "th", "x", "ld", "nt"]


def pseudo_words(rng: random.Random, count: int) -> list[str]:
    """`count` distinct made-up words of 1-5 syllables, so a large vocabulary can be learnt."""
    words: set[str] = set()
    while len(words) < count:
        n = rng.choice([1, 2, 2, 3, 3, 3, 4, 4, 5])
        words.add("".join(rng.choice(ONSETS) + rng.choice(NUCLEI) + rng.choice(CODAS) for _ in range(n)))
    return sorted(words)


def _number(rng: random.Random) -> str:
    kind = rng.randrange(7)
    if kind == 0:
        return str(rng.randrange(10 ** rng.randint(1, 9)))
    if kind == 1:
        return f"{rng.uniform(0, 1000):.{rng.randint(1, 5)}f}"
    if kind == 2:
        return f"{rng.randint(1900, 2030)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if kind == 3:
        return f"{rng.randint(0, 23)}:{rng.randint(0, 59):02d}"
    if kind == 4:
        return f"${rng.randint(0, 999)}.{rng.randint(0, 99):02d}"
    if kind == 5:
        return f"{rng.randint(0, 100)}%"
    return f"{rng.randint(1, 999):,}{rng.randint(0, 999):03d}"


def corpus_line(rng: random.Random, words: list[str], cum_weights: list[float]) -> str:
    """One line of the mixed corpus: prose, VQA prompts, numbers, punctuation, scripts, emoji, spacing."""
    kind = rng.randrange(10)
    if kind <= 3:
        n = rng.randint(4, 16)
        if words and rng.random() < 0.5:
            pool = rng.choices(words, cum_weights=cum_weights, k=n)
        else:
            pool = rng.choices(ENGLISH, k=n)
        if rng.random() < 0.3:
            pool[rng.randrange(n)] = rng.choice(CONTRACTIONS)
        if rng.random() < 0.3:
            pool.insert(rng.randrange(n), _number(rng))
        text = " ".join(pool)
        if rng.random() < 0.3:
            cut = rng.randrange(1, len(text))
            text = text[:cut] + "," + text[cut:]
        return text[0].upper() + text[1:] + rng.choice([".", ".", ".", "!", "?", "...", ""])
    if kind == 4:
        q = " ".join(rng.choices(ENGLISH, k=rng.randint(2, 7)))
        a = rng.choice([rng.choice(ENGLISH), _number(rng), "yes", "no", "two", " ".join(rng.choices(ENGLISH, k=3))])
        form = rng.choice(["Question: {q}? Answer: {a}", "Question: {q}? Short answer: {a}", "Question: {q}? Answer:",
                           "a photo of {a}", "{a}\n"])
        return form.format(q=rng.choice(WH) + " " + q, a=a)
    if kind == 5:
        return " ".join(_number(rng) for _ in range(rng.randint(1, 8)))
    if kind == 6:
        return " ".join("".join(rng.choices(PUNCT, k=rng.randint(1, 4))) + rng.choice(ENGLISH)
                        for _ in range(rng.randint(1, 6)))
    if kind == 7:
        return " ".join(rng.choice(FOREIGN) for _ in range(rng.randint(1, 5)))
    if kind == 8:
        return " ".join(rng.choice(EMOJI) + rng.choice(["", " ", rng.choice(ENGLISH)])
                        for _ in range(rng.randint(1, 5)))
    parts = rng.choices(ENGLISH + CONTRACTIONS + FOREIGN[:6], k=rng.randint(2, 8))
    return "".join(p + rng.choice(WHITESPACE) for p in parts)


def make_corpus(seed: int, lines: int, n_pseudo_words: int = 0) -> list[str]:
    """A deterministic corpus of `lines` lines; pseudo-words follow a Zipf-like frequency law."""
    rng = random.Random(seed)
    words = pseudo_words(rng, n_pseudo_words) if n_pseudo_words else []
    rng.shuffle(words)
    cum_weights = list(itertools.accumulate(1.0 / (rank + 10) for rank in range(len(words))))
    out = [corpus_line(rng, words, cum_weights) for _ in range(lines)]
    # Every pseudo-word at least once, so that a large vocabulary can be learnt.
    out.extend(" ".join(words[i:i + 12]) for i in range(0, len(words), 12))
    return out


def train_bpe(lines: list[str], vocab_size: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Byte-level BPE with the 4 OPT specials first and all 256 byte symbols in the alphabet."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(lines, trainer)
    model = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    vocab = model["vocab"]
    if len(vocab) != vocab_size:
        raise RuntimeError(f"BPE training stopped at {len(vocab)} tokens, wanted {vocab_size}: corpus too small")
    if [vocab[s] for s in SPECIALS] != [0, 1, 2, 3]:
        raise RuntimeError("special tokens are not ids 0-3")
    return vocab, merges


def shuffle_ids(vocab: dict[str, int], seed: int, pinned: dict[str, int]) -> dict[str, int]:
    """Permute every id after the specials (seeded), then move each pinned token to its id."""
    tokens = sorted((t for t in vocab if vocab[t] >= len(SPECIALS)), key=vocab.__getitem__)
    random.Random(seed).shuffle(tokens)
    order = SPECIALS + tokens
    for token, want in pinned.items():
        have = order.index(token)
        order[have], order[want] = order[want], order[have]
    return {t: i for i, t in enumerate(order)}


@dataclass
class TokenizerSpec:
    vocab: dict[str, int]
    merges: list[tuple[str, str]]

    @property
    def image_id(self) -> int:
        return len(self.vocab)

    @property
    def newline_id(self) -> int:
        return self.vocab[NEWLINE]

    @property
    def size(self) -> int:
        """Number of token ids the tokenizer knows (vocabulary plus `<image>`)."""
        return len(self.vocab) + 1

    @classmethod
    def load(cls, directory: Path) -> "TokenizerSpec":
        vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
        lines = (directory / "merges.txt").read_text(encoding="utf-8").split("\n")
        merges = [tuple(line.split(" ")) for line in lines[1:] if line]
        return cls(vocab, merges)


def _special(content: str, normalized: bool) -> dict:
    return {"content": content, "lstrip": False, "normalized": normalized, "rstrip": False,
            "single_word": False, "special": True}


def tokenizer_config(spec: TokenizerSpec) -> dict:
    """tokenizer_config.json as blip2-opt-2.7b ships it (GPT2Tokenizer, BOS `</s>` prepended)."""
    return {
        "add_bos_token": True,
        "add_prefix_space": False,
        "added_tokens_decoder": {
            str(spec.vocab[PAD]): _special(PAD, True),
            str(spec.vocab[EOS]): _special(EOS, True),
            str(spec.image_id): _special(IMAGE, False),
        },
        "bos_token": BOS,
        "clean_up_tokenization_spaces": True,
        "eos_token": EOS,
        "errors": "replace",
        "extra_special_tokens": {},
        "model_max_length": 1000000000000000019884624838656,
        "pad_token": PAD,
        "processor_class": "Blip2Processor",
        "tokenizer_class": "GPT2Tokenizer",
        "unk_token": UNK,
    }


def special_tokens_map() -> dict:
    def entry(content: str) -> dict:
        return {k: v for k, v in _special(content, True).items() if k != "special"}
    return {"bos_token": entry(BOS), "eos_token": entry(EOS), "pad_token": entry(PAD), "unk_token": entry(UNK)}


def _dump(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def write_vocab_merges(directory: Path, spec: TokenizerSpec) -> None:
    """vocab.json (ids ascending) and merges.txt (rank order, with GPT-2's version header)."""
    directory.mkdir(parents=True, exist_ok=True)
    ordered = dict(sorted(spec.vocab.items(), key=lambda kv: kv[1]))
    (directory / "vocab.json").write_text(json.dumps(ordered, ensure_ascii=False), encoding="utf-8")
    (directory / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in spec.merges),
                                          encoding="utf-8")


def write_slow_tokenizer(directory: Path, spec: TokenizerSpec) -> None:
    """The file set of the real checkpoint: vocab.json + merges.txt + added_tokens.json + configs."""
    write_vocab_merges(directory, spec)
    _dump(directory / "added_tokens.json", {IMAGE: spec.image_id})
    _dump(directory / "special_tokens_map.json", special_tokens_map())
    _dump(directory / "tokenizer_config.json", tokenizer_config(spec))


def write_fast_tokenizer(directory: Path, spec: TokenizerSpec) -> None:
    """tokenizer.json (as transformers converts the slow files) + tokenizer_config/special_tokens_map."""
    from transformers import AutoTokenizer

    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        write_slow_tokenizer(Path(tmp), spec)
        AutoTokenizer.from_pretrained(tmp).backend_tokenizer.save(str(directory / "tokenizer.json"))
    _dump(directory / "special_tokens_map.json", special_tokens_map())
    _dump(directory / "tokenizer_config.json", tokenizer_config(spec))


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


class ReferenceBPE:
    """GPT-2's original encoder (openai/gpt-2 encoder.py) plus OPT's BOS and whole-match added tokens."""

    PATTERN = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")

    def __init__(self, spec: TokenizerSpec):
        self.vocab = spec.vocab
        self.ranks = {pair: i for i, pair in enumerate(spec.merges)}
        self.added = {IMAGE: spec.image_id, EOS: spec.vocab[EOS], PAD: spec.vocab[PAD]}
        self.byte_char = bytes_to_unicode()
        alternatives = "|".join(regex.escape(t) for t in sorted(self.added, key=len, reverse=True))
        self.split = regex.compile(f"({alternatives})")

    def bpe(self, word: str) -> list[str]:
        parts = list(word)
        while len(parts) > 1:
            pairs = {(a, b) for a, b in zip(parts, parts[1:])}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            merged, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and (parts[i], parts[i + 1]) == best:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return parts

    def encode(self, text: str) -> list[int]:
        ids = [self.vocab[BOS]]
        for piece in self.split.split(text):
            if piece in self.added:
                ids.append(self.added[piece])
                continue
            for word in self.PATTERN.findall(piece):
                mapped = "".join(self.byte_char[b] for b in word.encode("utf-8"))
                ids.extend(self.vocab[t] for t in self.bpe(mapped))
        return ids


def sample_strings(seed: int, count: int) -> list[str]:
    """Strings to compare encoders on: fresh corpus lines plus edge cases."""
    rng = random.Random(seed)
    words = pseudo_words(rng, 200)
    lines = [corpus_line(rng, words, list(range(1, len(words) + 1))) for _ in range(count)]
    return lines + [
        "", " ", "\n", "\n\n", "a\nb", "  leading", "trailing  ", "tab\there", "Hello world", " Hello world",
        f"{IMAGE}", f"{IMAGE}{IMAGE} Question: how many cats are there? Answer:", "x<image>y", "<imag", "<image",
        "Question: what is in the picture? Answer:", "don't stop", "I'M HERE", "3.14159 1,000,000", "!!!???...",
        "🇫🇷👨\u200d👩\u200d👧", "你好，世界", "ﬁ", "\u00a0\u3000", "a    b", "end.\n",
    ]


def check_tokenizer_dirs(spec: TokenizerSpec, slow_dir: Path, fast_dir: Path, samples: list[str]) -> None:
    """Both forms must load with AutoTokenizer, and they, the bare `tokenizers` runtime and the
    reference BPE must give the same ids for every sample; decoding must give the text back."""
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    reference = ReferenceBPE(spec)
    if reference.encode(IMAGE) != [2, spec.image_id] or reference.encode("\n") != [2, spec.newline_id]:
        raise AssertionError("<image> or newline does not encode as one token")
    raw = Tokenizer.from_file(str(fast_dir / "tokenizer.json"))
    encoders = {"reference": reference.encode, "tokenizers": lambda s: raw.encode(s).ids}
    loaded = {}
    for name, directory in (("slow", slow_dir), ("fast", fast_dir)):
        hf = AutoTokenizer.from_pretrained(str(directory))
        specials = (hf.bos_token_id, hf.eos_token_id, hf.pad_token_id, hf.unk_token_id)
        if specials != (2, 2, 1, 2):
            raise AssertionError(f"{name}: bos/eos/pad/unk ids {specials}")
        if hf.convert_tokens_to_ids(IMAGE) != spec.image_id or len(hf) != spec.size:
            raise AssertionError(f"{name}: <image> is {hf.convert_tokens_to_ids(IMAGE)}, size {len(hf)}")
        encoders[name] = lambda s, hf=hf: hf(s)["input_ids"]
        loaded[name] = hf
    for text in samples:
        results = {name: encode(text) for name, encode in encoders.items()}
        if len({tuple(ids) for ids in results.values()}) != 1:
            raise AssertionError(f"encoders disagree on {text!r}: {results}")
        for name, hf in loaded.items():
            back = hf.decode(results["reference"], skip_special_tokens=True, clean_up_tokenization_spaces=False)
            if IMAGE not in text and back != text:
                raise AssertionError(f"{name}: decode({text!r}) gave {back!r}")
