let usage = """
usage: blip2-edge caption IMAGE... [--model FILE] [--prompt TEXT] [options]
       blip2-edge ask IMAGE "QUESTION"... [--model FILE] [--prompt-style short|answer] [options]
       blip2-edge match IMAGE "TEXT"... [--model FILE]   (a retrieval model: ITM and ITC per text)
       blip2-edge embed IMAGE... | --text "TEXT"... [--out F]   (ITC features: JSON, or float32 to F)
       blip2-edge search "TEXT" IMAGE-OR-FOLDER... [--top N] [--rerank K] [--index F | --no-index]
       blip2-edge serve [--model FILE] [--host 127.0.0.1] [--port 8080] [--sessions N] [--queue M] [--api-key KEY]
       blip2-edge info FILE
       blip2-edge tokenize --model FILE "TEXT"        (ids on one line)
       blip2-edge tokenize --model FILE --decode ID...
       blip2-edge preprocess IMAGE --model FILE --out F   (float32 pixels, (3, H, W), little-endian)

IMAGE is a JPEG, PNG, PPM or PGM file (found by content, not by name), or - for standard input.
Several images in one call reuse the loaded model, several questions the encoded image (the
vision tower runs once). The text goes to stdout, one line per image or question; diagnostics
go to stderr.

The model file is --model FILE, else $BLIP2_MODEL, else
$XDG_DATA_HOME/blip2-edge/blip2-opt-2.7b.q4 (~/.local/share/... when XDG_DATA_HOME is unset).
Make one with blip2-quantize from a HuggingFace checkpoint.

Retrieval (a file converted from blip2-itm-vit-g; default model
$XDG_DATA_HOME/blip2-edge/blip2-itm-vit-g.q4):
  match     for each text, the ITM probability that it fits the image and the
            ITC similarity (cosine of the features, -1 to 1)
  embed     the normalised ITC features: an image gives one row per query,
            a text (--text) one row; JSON lines on stdout, or with --out F
            every input's rows as raw little-endian float32 in F
  search    ranks the images (files, or the images in a folder) by ITC with the
            text, then re-ranks the best --rerank K (default 10; 0: ITC only)
            by ITM, as BLIP-2's retrieval; --top N shows the first N.
            Features are kept in an index beside the model (FILE.index, or
            --index F; --no-index for none), keyed by each image file's
            SHA-256, so the next search skips their vision pass. A damaged
            index is reported and rebuilt.

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

Serving over HTTP (serve; an OpenAI-style API, see the README):
  --host ADDR               address to listen on (default 127.0.0.1: this machine only)
  --port N                  TCP port (default 8080; 0: any free one). The first line on
                            stdout is "listening on HOST:PORT"
  --sessions N              requests run at once (default: one per two cores), each on
                            --threads threads (default: the cores shared between them)
  --queue M                 requests that may wait for a session (default 16); beyond
                            that, 503 with Retry-After
  --api-key KEY             every request but GET /health needs Authorization: Bearer KEY
                            (or set BLIP2_API_KEY, which other users cannot see in ps)
  --max-connections N       open connections at once (default 64; more get 503)
  --read-timeout S          seconds for a request head, and per read of its body (default 10)
  --idle-timeout S          seconds a kept-alive connection may wait for its next request
                            (default 15)
  SIGTERM or SIGINT stops listening, lets requests in flight finish for 10 s, cancels
  the rest and exits 0.

Running:
  --threads N               worker threads (default: all cores)
  --low-ram                 release the vision tower's pages once the image is encoded
                            (and a FlanT5 model's encoder pages once the prompt is)
  --exif-orientation        turn JPEG/PNG images upright as their EXIF Orientation says, as
                            transformers' load_image does (the processor itself does not:
                            by default the stored pixels are used, as the reference does)
  --stats                   per-stage times, peak resident memory and mapped bytes (stderr)
  --json                    one JSON object per image (text, token ids, stats) on stdout
  --quiet                   no progress line
  -h, --help                this help

Exit status: 0 success, 1 runtime failure (bad model or image file, ...), 2 usage error.
"""
