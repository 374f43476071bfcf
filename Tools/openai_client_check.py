#!/usr/bin/env python3
"""The official `openai` Python client against `blip2-edge serve` (issue 17).

Starts the server on a loopback port the kernel picks, with an API key, and asks it through
`client.chat.completions.create`, streamed and not, for a caption and for an answer: greedy
decoding (temperature 0), so the streamed text reassembled must equal the whole one, and both
must equal what `blip2-edge caption/ask --greedy` prints. A wrong key must raise the client's
AuthenticationError, and a remote image URL its BadRequestError.

    python3 Tools/openai_client_check.py --edge .build/debug/blip2-edge --model tiny.q4 --image photo.ppm

The client is installed at an exact version into $OPENAI_VENV (default .venv-openai) when the
running Python does not have that version; the script then runs again in that environment.
"""
import argparse
import base64
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

OPENAI_PIN = "openai==3.51.0"
ROOT = Path(__file__).resolve().parent.parent


def ensure_client():
    want = OPENAI_PIN.split("==")[1]
    try:
        import openai
        if openai.__version__ == want:
            return
    except ImportError:
        pass
    if os.environ.get("OPENAI_CHECK_REEXEC"):
        sys.exit(f"openai_client_check: {OPENAI_PIN} is not importable in {sys.executable}")
    venv = Path(os.environ.get("OPENAI_VENV", ROOT / ".venv-openai"))
    python = venv / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", OPENAI_PIN], check=True)
    os.execve(str(python), [str(python), __file__, *sys.argv[1:]], {**os.environ, "OPENAI_CHECK_REEXEC": "1"})


class Server:
    """blip2-edge serve on 127.0.0.1, any free port; ready when /health answers 200."""

    def __init__(self, edge, model, key):
        self.process = subprocess.Popen([edge, "serve", "--model", model, "--port", "0", "--sessions", "1", "--api-key", key],
                                        stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline().strip()
        if not line.startswith("listening on 127.0.0.1:"):
            self.stop()
            sys.exit(f"openai_client_check: the server did not say where it listens: {line!r}")
        self.base = f"http://{line.split()[-1]}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.base + "/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.stop()
                sys.exit("openai_client_check: the server did not become ready")
            time.sleep(0.05)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                status = self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                sys.exit("openai_client_check: the server did not stop on SIGTERM")
            if status != 0:
                sys.exit(f"openai_client_check: the server exited {status} on SIGTERM")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--edge", default=str(ROOT / ".build" / "debug" / "blip2-edge"))
    ap.add_argument("--model", required=True, help="a captioning model file (the tiny one in CI)")
    ap.add_argument("--image", default=str(ROOT / "Tests" / "Fixtures" / "images" / "photo-321x187.ppm"))
    ap.add_argument("--max-tokens", type=int, default=10)
    args = ap.parse_args()
    ensure_client()
    import openai

    image = Path(args.image).read_bytes()
    kind = {b"\x89P": "image/png", b"\xff\xd8": "image/jpeg"}.get(image[:2], "image/x-portable-pixmap")
    uri = f"data:{kind};base64,{base64.b64encode(image).decode()}"
    key = "check-" + os.urandom(8).hex()
    server = Server(args.edge, args.model, key)
    failures = []
    try:
        client = openai.OpenAI(base_url=server.base + "/v1", api_key=key, max_retries=0, timeout=120)
        for question in (None, "what is it?"):
            content = [{"type": "image_url", "image_url": {"url": uri}}]
            if question:
                content.insert(0, {"type": "text", "text": question})
            request = dict(model="blip2", messages=[{"role": "user", "content": content}],
                           max_completion_tokens=args.max_tokens, temperature=0)
            whole = client.chat.completions.create(**request)
            text = whole.choices[0].message.content
            pieces, finish, usage, roles = [], None, None, set()
            for chunk in client.chat.completions.create(**request, stream=True, stream_options={"include_usage": True}):
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    if choice.delta.role:
                        roles.add(choice.delta.role)
                    pieces.append(choice.delta.content or "")
                    finish = choice.finish_reason or finish
            streamed = "".join(pieces)
            command = ["ask", args.image, question] if question else ["caption", args.image]
            cli = subprocess.run([args.edge, *command, "--greedy", "--max-tokens", str(args.max_tokens), "--model", args.model],
                                 capture_output=True, text=True, check=True).stdout.strip()
            what = f"ask {question!r}" if question else "caption"
            print(f"{what}: whole {text!r} ({whole.usage.completion_tokens} tokens, {whole.choices[0].finish_reason}); "
                  f"streamed in {len(pieces)} chunks {streamed!r}; blip2-edge {' '.join(command[:1])} {cli!r}")
            checks = [
                (whole.object == "chat.completion", f"object is {whole.object!r}"),
                (bool(text), "the whole reply has text"),
                (streamed == text, f"streamed {streamed!r} != whole {text!r}"),
                (text == cli, f"server {text!r} != command line {cli!r}"),
                (finish == whole.choices[0].finish_reason, f"finish_reason streamed {finish!r} != whole {whole.choices[0].finish_reason!r}"),
                (roles == {"assistant"}, f"roles {roles}"),
                (usage is not None and usage.completion_tokens == whole.usage.completion_tokens
                 and usage.prompt_tokens == whole.usage.prompt_tokens, f"usage streamed {usage} != whole {whole.usage}"),
            ]
            failures += [f"{what}: {message}" for ok, message in checks if not ok]

        try:
            openai.OpenAI(base_url=server.base + "/v1", api_key="wrong", max_retries=0).chat.completions.create(
                model="blip2", messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": uri}}]}])
            failures.append("a wrong key was accepted")
        except openai.AuthenticationError as e:
            print(f"wrong key: AuthenticationError {e.status_code}")
        try:
            client.chat.completions.create(
                model="blip2", messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}])
            failures.append("a remote image URL was accepted")
        except openai.BadRequestError as e:
            print(f"remote URL: BadRequestError {e.status_code}: {e.body.get('message') if isinstance(e.body, dict) else e.body}")
        models = [m.id for m in client.models.list()]
        print(f"models: {models}")
        if len(models) != 1:
            failures.append(f"models.list gave {models}")
    finally:
        server.stop()
    if failures:
        print("\n".join(["FAILED:"] + failures))
        sys.exit(1)
    print(f"openai {openai.__version__}: streamed and whole replies agree, and agree with the command line")


if __name__ == "__main__":
    main()
