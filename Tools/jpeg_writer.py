"""A small baseline JPEG writer for the test corpus: what Pillow cannot write (any sampling
factors, Adobe RGB/YCCK, component ids, 16-bit DQT, non-interleaved scans, files without
DHT, chosen coefficients) and a way to edit Pillow's progressive files (drop scans).
Only used by Tools/make_jpeg_fixtures.py; Pillow reads back every file it writes.
"""
import struct

import numpy as np

ZIGZAG = [0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14,
          21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53,
          60, 61, 54, 47, 55, 62, 63]

# JPEG Annex K.3 tables: (counts for lengths 1..16, symbols).
DC_LUMA = ([0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], list(range(12)))
DC_CHROMA = ([0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], list(range(12)))
AC_LUMA = ([0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d], bytes.fromhex(
    "01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738"
    "393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5"
    "a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa"))
AC_CHROMA = ([0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77], bytes.fromhex(
    "000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a162434e125f11718191a262728292a353637"
    "38393a434445464748494a535455565758595a636465666768696a737475767778797a82838485868788898a92939495969798999aa2a3"
    "a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9fa"))
assert len(AC_LUMA[1]) == 162 and len(AC_CHROMA[1]) == 162

LUMA_Q = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29,
          51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121,
          120, 101, 72, 92, 95, 98, 112, 100, 103, 99]


def segment(marker: int, body: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(body) + 2) + body


def codes(table):
    counts, symbols = table
    out, code, k = {}, 0, 0
    for length in range(1, 17):
        for _ in range(counts[length - 1]):
            out[symbols[k]] = (code, length)
            code += 1
            k += 1
        code <<= 1
    return out


class Bits:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value: int, n: int):
        for i in range(n - 1, -1, -1):
            self.acc = self.acc << 1 | (value >> i & 1)
            self.n += 1
            if self.n == 8:
                self.out.append(self.acc)
                if self.acc == 0xFF:
                    self.out.append(0)
                self.acc = self.n = 0

    def flush(self):
        if self.n:
            self.put((1 << (8 - self.n)) - 1, 8 - self.n)


def magnitude(v: int):
    size = abs(v).bit_length()
    return size, (v if v >= 0 else v + (1 << size) - 1)


def forward_dct(block: np.ndarray) -> np.ndarray:
    x = np.arange(8)
    c = np.cos((2 * x[None, :] + 1) * x[:, None] * np.pi / 16) * np.sqrt(2 / 8)
    c[0] /= np.sqrt(2)
    return c @ (block - 128.0) @ c.T


class Component:
    def __init__(self, cid: int, h: int, v: int, tq: int, plane: np.ndarray, td: int = 0, ta: int = 0):
        self.cid, self.h, self.v, self.tq, self.td, self.ta = cid, h, v, tq, td, ta
        self.plane = plane  # full-resolution samples, height x width


def quantised_blocks(width, height, comps, qtables, coefficients=None):
    """Per component: blocks_down x blocks_across x 64 quantised coefficients (natural order),
    padded to whole MCUs, from the plane box-averaged to the component's sampled size."""
    hmax, vmax = max(c.h for c in comps), max(c.v for c in comps)
    mx, my = -(-width // (8 * hmax)), -(-height // (8 * vmax))
    blocks = []
    for ci, c in enumerate(comps):
        hr, vr = hmax // c.h, vmax // c.v
        dw, dh = -(-width * c.h // hmax), -(-height * c.v // vmax)
        full = np.pad(c.plane.astype(np.float64), ((0, dh * vr - height), (0, dw * hr - width)), mode="edge")
        small = full.reshape(dh, vr, dw, hr).mean(axis=(1, 3))
        bw, bh = mx * c.h, my * c.v
        padded = np.pad(small, ((0, bh * 8 - dh), (0, bw * 8 - dw)), mode="edge")
        q = np.array(qtables[c.tq], dtype=np.float64).reshape(8, 8)
        out = np.zeros((bh, bw, 64), dtype=np.int64)
        for by in range(bh):
            for bx in range(bw):
                f = forward_dct(padded[by * 8:by * 8 + 8, bx * 8:bx * 8 + 8])
                out[by, bx] = np.round(f / q).astype(np.int64).reshape(64)
        if coefficients is not None:
            out = coefficients(ci, out)
        blocks.append(out)
    return blocks


def encode(width: int, height: int, comps: list[Component], qtables: dict[int, list[int]], *, jfif=False,
           adobe: int | None = None, restart: int = 0, interleaved=True, dht=True, wide_q=(),
           coefficients=None, huffman=None) -> bytes:
    """A baseline JPEG. Each component's plane is box-averaged to its sampled size, padded by
    edge repetition, transformed and quantised; `coefficients(ci, blocks)` may replace the
    quantised blocks (an array blocks_down x blocks_across x 64, natural order)."""
    hmax, vmax = max(c.h for c in comps), max(c.v for c in comps)
    mx, my = -(-width // (8 * hmax)), -(-height // (8 * vmax))
    blocks = quantised_blocks(width, height, comps, qtables, coefficients)
    tables = huffman or {("dc", 0): DC_LUMA, ("ac", 0): AC_LUMA, ("dc", 1): DC_CHROMA, ("ac", 1): AC_CHROMA}
    enc = {k: codes(t) for k, t in tables.items()}

    head = b"\xff\xd8"
    if jfif:
        head += segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0")
    if adobe is not None:
        head += segment(0xEE, b"Adobe\0\x64\0\0\0\0" + bytes([adobe]))
    for n, t in sorted(qtables.items()):
        wide = n in wide_q
        body = bytes([(0x10 if wide else 0) | n]) + b"".join(
            struct.pack(">H" if wide else ">B", t[z]) for z in ZIGZAG)
        head += segment(0xDB, body)
    sof = struct.pack(">BHHB", 8, height, width, len(comps)) + b"".join(
        bytes([c.cid, c.h << 4 | c.v, c.tq]) for c in comps)
    head += segment(0xC0, sof)
    if dht:
        for (kind, n), (counts, symbols) in sorted(tables.items()):
            head += segment(0xC4, bytes([(0x10 if kind == "ac" else 0) | n]) + bytes(counts) + bytes(symbols))
    if restart:
        head += segment(0xDD, struct.pack(">H", restart))

    def scan(members):
        body = bytes([len(members)]) + b"".join(bytes([comps[i].cid, comps[i].td << 4 | comps[i].ta]) for i in members)
        out = segment(0xDA, body + b"\x00\x3f\x00")
        bits = Bits()
        pred = {i: 0 for i in members}
        units = []
        if len(members) > 1:
            for y in range(my):
                for x in range(mx):
                    units.append([(i, y * comps[i].v + yy, x * comps[i].h + xx) for i in members
                                  for yy in range(comps[i].v) for xx in range(comps[i].h)])
        else:
            i = members[0]
            c = comps[i]
            dw, dh = -(-width * c.h // hmax), -(-height * c.v // vmax)
            units = [[(i, y, x)] for y in range(-(-dh // 8)) for x in range(-(-dw // 8))]
        rst = 0
        for u, unit in enumerate(units):
            if restart and u and u % restart == 0:
                bits.flush()
                out += bytes(bits.out) + bytes([0xFF, 0xD0 + rst])
                bits = Bits()
                rst = (rst + 1) & 7
                pred = {i: 0 for i in members}
            for i, by, bx in unit:
                b = blocks[i][by, bx]
                dc_codes, ac_codes = enc[("dc", comps[i].td)], enc[("ac", comps[i].ta)]
                diff = int(b[0]) - pred[i]
                pred[i] = int(b[0])
                size, v = magnitude(diff)
                bits.put(*dc_codes[size])
                bits.put(v, size)
                run = 0
                zz = [int(b[ZIGZAG[k]]) for k in range(64)]
                last = max([k for k in range(1, 64) if zz[k]] or [0])
                for k in range(1, last + 1):
                    if zz[k] == 0:
                        run += 1
                        continue
                    while run > 15:
                        bits.put(*ac_codes[0xF0])
                        run -= 16
                    size, v = magnitude(zz[k])
                    bits.put(*ac_codes[run << 4 | size])
                    bits.put(v, size)
                    run = 0
                if last < 63:
                    bits.put(*ac_codes[0x00])
        bits.flush()
        return out + bytes(bits.out)

    data = head
    if interleaved:
        data += scan(list(range(len(comps))))
    else:
        for i in range(len(comps)):
            data += scan([i])
    return data + b"\xff\xd9"


# Flat Huffman codes for progressive scans, which use EOB-run symbols the Annex K tables
# lack: every DC category at 5 bits, every AC symbol a progressive scan can need at 8 bits.
FLAT_DC = ([0, 0, 0, 0, 16] + [0] * 11, list(range(16)))
_AC_SYMBOLS = [r << 4 for r in range(15)] + [0xF0] + [(r << 4) | s for r in range(16) for s in range(1, 11)]
FLAT_AC = ([0] * 7 + [len(_AC_SYMBOLS)] + [0] * 8, _AC_SYMBOLS)


def encode_progressive(width: int, height: int, comps: list[Component], qtables: dict[int, list[int]],
                       script, *, restart: int = 0, jfif=True) -> bytes:
    """A progressive JPEG with the given scan script: (component indices, Ss, Se, Ah, Al) per
    scan, encoded as libjpeg's jcphuff.c does (EOB runs, refinement correction bits)."""
    hmax, vmax = max(c.h for c in comps), max(c.v for c in comps)
    mx, my = -(-width // (8 * hmax)), -(-height // (8 * vmax))
    blocks = quantised_blocks(width, height, comps, qtables)
    dc_codes, ac_codes = codes(FLAT_DC), codes(FLAT_AC)
    head = b"\xff\xd8"
    if jfif:
        head += segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0")
    for n, t in sorted(qtables.items()):
        head += segment(0xDB, bytes([n]) + bytes(t[z] for z in ZIGZAG))
    head += segment(0xC2, struct.pack(">BHHB", 8, height, width, len(comps)) + b"".join(
        bytes([c.cid, c.h << 4 | c.v, c.tq]) for c in comps))
    head += segment(0xC4, b"\x00" + bytes(FLAT_DC[0]) + bytes(FLAT_DC[1]))
    head += segment(0xC4, b"\x10" + bytes(FLAT_AC[0]) + bytes(FLAT_AC[1]))
    if restart:
        head += segment(0xDD, struct.pack(">H", restart))
    out = head
    for members, ss, se, ah, al in script:
        out += segment(0xDA, bytes([len(members)]) + b"".join(bytes([comps[i].cid, 0]) for i in members)
                       + bytes([ss, se, ah << 4 | al]))
        if len(members) > 1:
            units = [[(i, y * comps[i].v + yy, x * comps[i].h + xx) for i in members
                      for yy in range(comps[i].v) for xx in range(comps[i].h)] for y in range(my) for x in range(mx)]
        else:
            c = comps[members[0]]
            dw, dh = -(-width * c.h // hmax), -(-height * c.v // vmax)
            units = [[(members[0], y, x)] for y in range(-(-dh // 8)) for x in range(-(-dw // 8))]
        bits = Bits()
        state = {"eobrun": 0, "be": []}
        pred = {i: 0 for i in members}

        def emit_eobrun():
            if state["eobrun"] > 0:
                n = state["eobrun"].bit_length() - 1
                bits.put(*ac_codes[n << 4])
                bits.put(state["eobrun"], n)
                state["eobrun"] = 0
                for b in state["be"]:
                    bits.put(b, 1)
                state["be"] = []

        rst = 0
        for u, unit in enumerate(units):
            if restart and u and u % restart == 0:
                emit_eobrun()
                bits.flush()
                out += bytes(bits.out) + bytes([0xFF, 0xD0 + rst])
                bits = Bits()
                rst = (rst + 1) & 7
                pred = {i: 0 for i in members}
            for i, by, bx in unit:
                zz = [int(blocks[i][by, bx][ZIGZAG[k]]) for k in range(64)]
                if ss == 0 and ah == 0:
                    v = zz[0] >> al
                    size, val = magnitude(v - pred[i])
                    pred[i] = v
                    bits.put(*dc_codes[size])
                    bits.put(val, size)
                elif ss == 0:
                    bits.put(zz[0] >> al & 1, 1)
                elif ah == 0:
                    r = 0
                    for k in range(ss, se + 1):
                        c = zz[k]
                        v = (abs(c) >> al) * (1 if c > 0 else -1)
                        if v == 0:
                            r += 1
                            continue
                        emit_eobrun()
                        while r > 15:
                            bits.put(*ac_codes[0xF0])
                            r -= 16
                        size, val = magnitude(v)
                        bits.put(*ac_codes[r << 4 | size])
                        bits.put(val, size)
                        r = 0
                    if r > 0:
                        state["eobrun"] += 1
                        if state["eobrun"] == 0x7FFF:
                            emit_eobrun()
                else:
                    absv = {k: abs(zz[k]) >> al for k in range(ss, se + 1)}
                    eob = max([k for k in absv if absv[k] == 1] or [0])
                    r, br = 0, []
                    for k in range(ss, se + 1):
                        t = absv[k]
                        if t == 0:
                            r += 1
                            continue
                        while r > 15 and k <= eob:
                            emit_eobrun()
                            bits.put(*ac_codes[0xF0])
                            r -= 16
                            for b in br:
                                bits.put(b, 1)
                            br = []
                        if t > 1:
                            br.append(t & 1)
                            continue
                        emit_eobrun()
                        bits.put(*ac_codes[r << 4 | 1])
                        bits.put(0 if zz[k] < 0 else 1, 1)
                        for b in br:
                            bits.put(b, 1)
                        br, r = [], 0
                    if r > 0 or br:
                        state["eobrun"] += 1
                        state["be"] += br
                        if state["eobrun"] == 0x7FFF or len(state["be"]) > 1000 - 64 + 1:
                            emit_eobrun()
        emit_eobrun()
        bits.flush()
        out += bytes(bits.out)
    return out + b"\xff\xd9"


def split_segments(jpeg: bytes):
    """(marker, bytes) pieces of a file: each marker segment, each scan with its data."""
    out, p = [], 2
    pieces = [(0xD8, jpeg[:2])]
    while p < len(jpeg):
        assert jpeg[p] == 0xFF, p
        m = jpeg[p + 1]
        if m == 0xD9:
            pieces.append((m, jpeg[p:p + 2]))
            break
        length = struct.unpack(">H", jpeg[p + 2:p + 4])[0]
        end = p + 2 + length
        if m == 0xDA:
            q = end
            while not (jpeg[q] == 0xFF and jpeg[q + 1] not in (0,) and not 0xD0 <= jpeg[q + 1] <= 0xD7):
                q += 1
            end = q
        pieces.append((m, jpeg[p:end]))
        p = end
    del out
    return pieces


def keep_scans(jpeg: bytes, keep) -> bytes:
    """The file with only the scans whose index (0-based) `keep(i)` accepts."""
    pieces = split_segments(jpeg)
    out, s = b"", 0
    for m, piece in pieces:
        if m == 0xDA:
            if keep(s):
                out += piece
            s += 1
        else:
            out += piece
    return out


def count_scans(jpeg: bytes) -> int:
    return sum(1 for m, _ in split_segments(jpeg) if m == 0xDA)
