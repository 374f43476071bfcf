#!/usr/bin/env python3
"""Load test of `blip2-edge serve` (issue 17): concurrent clients against a server on loopback.

Starts the server on 127.0.0.1 (a port the kernel picks; nothing else is ever contacted) and
runs CLIENTS threads for DURATION seconds, each on its own kept-alive connection, sending in
turn a raw-body caption, a chat completion and a streamed chat completion. A 503 is what the
queue limit promises when full: the client waits its Retry-After and goes on. Everything else
that is not a 200 (another status, a broken connection, a malformed reply) is a failure.
Meanwhile the server's RSS is sampled from /proc every half second.

Reports statuses, latency percentiles of the answered requests, throughput, and RSS in the
first and the last 10 s; exits 1 on any failure or when the last 10 s's peak RSS is more than
5% (and 4 MiB) over the first 10 s's.

    python3 Tools/load_test.py --model tiny-a.q4_0.gguf [--clients 32] [--duration 60] [--sessions 2]
           [--queue 16] [--max-tokens 20] [--max-requests 200000] [--json out.json]
"""
import argparse
import base64
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--edge", default=str(ROOT / ".build" / "release" / "blip2-edge"))
    ap.add_argument("--model", required=True)
    ap.add_argument("--image", default=str(ROOT / "Tests" / "Fixtures" / "images" / "photo-321x187.ppm"))
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--sessions", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1, help="threads per session")
    ap.add_argument("--queue", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=20)
    ap.add_argument("--max-requests", type=int, default=200_000, help="stop sending after this many requests in all")
    ap.add_argument("--json", help="write the summary here too")
    args = ap.parse_args()
    if not (1 <= args.clients <= 256 and 1 <= args.duration <= 600):
        sys.exit("load_test: --clients 1..256 and --duration 1..600 s")

    image = Path(args.image).read_bytes()
    uri = "data:image/x-portable-pixmap;base64," + base64.b64encode(image).decode()
    chat = {"model": "blip2", "max_tokens": args.max_tokens, "temperature": 0,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "what is it?"},
                                                      {"type": "image_url", "image_url": {"url": uri}}]}]}
    kinds = [
        ("caption", "POST", f"/v1/caption?beams=1&max_tokens={args.max_tokens}", image, {"Content-Type": "image/x-portable-pixmap"}),
        ("chat", "POST", "/v1/chat/completions", json.dumps(chat).encode(), {"Content-Type": "application/json"}),
        ("chat-stream", "POST", "/v1/chat/completions", json.dumps({**chat, "stream": True}).encode(), {"Content-Type": "application/json"}),
    ]

    server = subprocess.Popen([args.edge, "serve", "--model", args.model, "--host", "127.0.0.1", "--port", "0",
                               "--sessions", str(args.sessions), "--threads", str(args.threads), "--queue", str(args.queue)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = server.stdout.readline().strip()
    if not line.startswith("listening on 127.0.0.1:"):
        server.kill()
        sys.exit(f"load_test: the server did not say where it listens: {line!r}")
    port = int(line.rsplit(":", 1)[1])
    for _ in range(1200):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/health")
            if c.getresponse().status == 200:
                break
        except OSError:
            pass
        time.sleep(0.05)
    else:
        server.kill()
        sys.exit("load_test: the server did not become ready")

    lock = threading.Lock()
    results = []  # (kind, status or error, seconds, finished at, tokens)
    sent = [0]
    start = time.monotonic()
    stop_at = start + args.duration

    def client(index):
        conn = None
        i = index
        while time.monotonic() < stop_at:
            with lock:
                if sent[0] >= args.max_requests:
                    return
                sent[0] += 1
            kind, method, path, body, headers = kinds[i % len(kinds)]
            i += 1
            t0 = time.monotonic()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                conn.request(method, path, body=body, headers=headers)
                r = conn.getresponse()
                data = r.read()
                status, retry = r.status, r.getheader("Retry-After")
                tokens = 0
                if status == 200:
                    if kind == "caption":
                        tokens = len(json.loads(data)["tokens"])
                    elif kind == "chat":
                        tokens = json.loads(data)["usage"]["completion_tokens"]
                    else:
                        events = [e[6:] for e in data.decode().split("\n\n") if e.startswith("data: ")]
                        if events[-1] != "[DONE]":
                            status = "stream without [DONE]"
                        tokens = sum(1 for e in events[1:-1] if json.loads(e)["choices"] and json.loads(e)["choices"][0]["delta"].get("content"))
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except Exception as e:  # a failure to count, not to stop on
                status, retry, tokens = f"{type(e).__name__}: {e}"[:120], None, 0
                if conn:
                    conn.close()
                conn = None
            t1 = time.monotonic()
            with lock:
                results.append((kind, status, t1 - t0, t1 - start, tokens))
            if status == 503:
                # What a well-behaved client does with the queue's answer.
                time.sleep(min(float(retry or 1), 5))
        if conn:
            conn.close()

    rss = []  # (seconds since start, KiB)
    done = threading.Event()

    def sample():
        while not done.is_set():
            rss.append((time.monotonic() - start, rss_kib(server.pid)))
            done.wait(0.5)

    sampler = threading.Thread(target=sample)
    sampler.start()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    done.set()
    sampler.join()

    # The server still answers, and stops cleanly.
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/metrics")
    metrics = c.getresponse().read().decode()
    server.terminate()
    exit_status = server.wait(timeout=60)

    statuses = {}
    for _, s, _, _, _ in results:
        statuses[str(s)] = statuses.get(str(s), 0) + 1
    ok = [r for r in results if r[1] == 200]
    lat = sorted(r[2] for r in ok)
    by_kind = {k[0]: sorted(r[2] for r in ok if r[0] == k[0]) for k in kinds}
    failures = [r for r in results if r[1] not in (200, 503)]
    first = [k for t, k in rss if t <= 10]
    last = [k for t, k in rss if t >= elapsed - 10]
    growth = (max(last) - max(first)) if first and last else 0
    flat = growth <= max(0.05 * max(first), 4096) if first else False
    summary = {
        "clients": args.clients, "sessions": args.sessions, "threads_per_session": args.threads, "queue": args.queue,
        "max_tokens": args.max_tokens, "seconds": round(elapsed, 1), "requests": len(results), "statuses": statuses,
        "failures": len(failures), "answered_per_second": round(len(ok) / elapsed, 2),
        "tokens_per_second": round(sum(r[4] for r in ok) / elapsed, 1),
        "latency_ms": {p: round(1000 * percentile(lat, q), 1) for p, q in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))},
        "latency_ms_by_kind": {k: {"n": len(v), "p50": round(1000 * percentile(v, 50), 1), "p99": round(1000 * percentile(v, 99), 1)}
                               for k, v in by_kind.items()},
        "rss_mib": {"first_10s_mean": round(statistics.mean(first) / 1024, 1), "first_10s_max": round(max(first) / 1024, 1),
                    "last_10s_mean": round(statistics.mean(last) / 1024, 1), "last_10s_max": round(max(last) / 1024, 1),
                    "overall_max": round(max(k for _, k in rss) / 1024, 1), "samples": len(rss)},
        "rss_mib_max_per_10s": [round(max([k for t, k in rss if w <= t < w + 10] or [0]) / 1024, 1) for w in range(0, int(elapsed) - 9, 10)],
        "rss_flat": flat, "server_exit": exit_status,
        "abandoned": next((l.split()[-1] for l in metrics.splitlines() if l.startswith("blip2_requests_abandoned_total")), "?"),
    }
    print(json.dumps(summary, indent=2))
    for f in failures[:10]:
        print("failure:", f[0], f[1], file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    if failures or not flat or exit_status != 0 or not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
