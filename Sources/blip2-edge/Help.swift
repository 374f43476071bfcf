let usage = """
usage: blip2-edge caption IMAGE... [--model FILE] [--prompt TEXT] [options]
       blip2-edge ask IMAGE "QUESTION" [--model FILE] [--prompt-style short|answer] [options]
       blip2-edge info FILE
       blip2-edge tokenize --model FILE "TEXT"        (ids on one line)
       blip2-edge tokenize --model FILE --decode ID...
       blip2-edge preprocess IMAGE --model FILE --out F   (float32 pixels, (3, H, W), little-endian)

IMAGE is a PPM or PGM file (P6, P5, P3, P2; maxval up to 65535), or - for standard input.
Several images in one call reuse the loaded model. The text goes to stdout, one line per
image; diagnostics go to stderr.

The model file is --model FILE, else $BLIP2_MODEL, else
$XDG_DATA_HOME/blip2-edge/blip2-opt-2.7b.q4 (~/.local/share/... when XDG_DATA_HOME is unset).
Make one with blip2-quantize from a HuggingFace checkpoint.

Generation (defaults are LAVIS's):
  caption   5 beams, 8 to 30 new tokens (its COCO caption evaluation)
  ask       5 beams, at most 10 new tokens, length penalty 0, prompt
            "Question: {q} Short answer:" (its VQAv2 zero-shot setting);
            --prompt-style answer uses "Question: {q} Answer:" (its README demo)
  --greedy                  one beam, the most likely token each step
  --beams N                 beam search with N beams (1-16)
  --max-tokens N            at most N new tokens (1-1024)
  --min-tokens N            at least N new tokens before the end token is allowed
  --length-penalty X        beam score = log-probability / length^X
  --repetition-penalty X    penalize tokens already present (1 = off)
  --no-repeat-ngram N       forbid repeating any N-gram (0 = off)
  --temperature X, --top-k N, --top-p X, --seed N
                            sample instead (with --greedy or --beams 1)

Running:
  --threads N               worker threads (default: all cores)
  --low-ram                 release the vision tower's pages once the image is encoded
  --stats                   per-stage times, peak resident memory and mapped bytes (stderr)
  --json                    one JSON object per image (text, token ids, stats) on stdout
  --quiet                   no progress line
  -h, --help                this help

Exit status: 0 success, 1 runtime failure (bad model or image file, ...), 2 usage error.
"""
