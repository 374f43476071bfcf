/// Whether Pillow finishes a single-scan JPEG whose entropy-coded data runs to the end of the
/// file with no marker after it (typically: the EOI marker is missing). Pillow has the image
/// as soon as libjpeg has decoded the last block, but libjpeg refills its bit buffer to 57
/// bits whenever it runs low, and a refill that meets the end of the data suspends the
/// decoder; Pillow, with nothing more to give, then reports the file as truncated. So the
/// answer depends on where libjpeg's refills fall, which this replays: the codes and
/// magnitudes our decoder read (their bit counts, recorded per MCU), libjpeg-turbo 3.2.0's
/// refill rules (jdhuff.c: the slow path refills below 8 bits for a code, below n for n bits;
/// decode_mcu_fast adds 6 bytes at 16 bits or less and is used while 512 bytes per block of
/// the MCU are buffered and there is no restart interval), and Pillow's 64 KiB reads (a
/// suspended MCU is decoded again from its start once the next read is buffered).
enum JPEGTruncation {
    /// Per MCU, the bit counts read in order: a code's length (> 0), or -n for n raw bits;
    /// 0 starts an MCU.
    final class Recorder {
        var ops: [Int8] = []
    }

    static let pillowReadSize = 65536

    /// `start` is the first byte of the scan's data (just past its SOS header).
    static func pillowFinishes(data: UnsafeBufferPointer<UInt8>, start: Int, ops: [Int8], blocksInMCU: Int, restartInterval: Int) -> Bool {
        var simulator = Simulator(data: data, bufferEnd: min(data.count, max(pillowReadSize, (start + pillowReadSize - 1) / pillowReadSize * pillowReadSize)),
                                  position: start)
        // Split the ops at the MCU starts.
        var mcuStarts: [Int] = []
        for (i, op) in ops.enumerated() where op == 0 { mcuStarts.append(i) }
        mcuStarts.append(ops.count)
        var restartsLeft = restartInterval
        var savedPosition = start, savedBits = 0
        for m in 0..<(mcuStarts.count - 1) {
            let body = ops[(mcuStarts[m] + 1)..<mcuStarts[m + 1]]
            if restartInterval > 0 {
                if restartsLeft == 0 {
                    // process_restart: the buffered bits are dropped and the RST marker read.
                    simulator.bits = 0
                    while !simulator.readMarker() {
                        guard simulator.bufferEnd < data.count else { return false }
                        simulator.bufferEnd = min(simulator.bufferEnd + pillowReadSize, data.count)
                        simulator.position = savedPosition
                    }
                    savedPosition = simulator.position
                    savedBits = 0
                    restartsLeft = restartInterval
                }
                restartsLeft -= 1
            }
            while true {
                let fast = restartInterval == 0 && simulator.marker == false
                    && simulator.bufferEnd - simulator.position >= 512 * blocksInMCU
                let finished = fast ? simulator.fastMCU(body) : simulator.slowMCU(body)
                if finished {
                    savedPosition = simulator.position
                    savedBits = simulator.bits
                    break
                }
                guard simulator.bufferEnd < data.count else { return false }
                simulator.bufferEnd = min(simulator.bufferEnd + pillowReadSize, data.count)
                simulator.position = savedPosition
                simulator.bits = savedBits
            }
        }
        return true
    }

    /// libjpeg's bit buffer, reduced to what decides suspension: how many bits it holds and
    /// the next byte it would read.
    struct Simulator {
        let data: UnsafeBufferPointer<UInt8>
        var bufferEnd: Int
        var position: Int
        var bits = 0
        /// A marker stopped the data (libjpeg's unread_marker); later refills add no bytes.
        var marker = false

        /// jpeg_fill_bit_buffer: bytes until 57 bits, false if the buffered data ends first;
        /// after a marker no bytes, and zero bits if `needed` are more than are left.
        mutating func fill(_ needed: Int) -> Bool {
            while bits < 57 && !marker {
                guard position < bufferEnd else { return false }
                let c = data[position]
                position += 1
                if c == 0xff {
                    var next: UInt8 = 0xff
                    while next == 0xff {
                        guard position < bufferEnd else { return false }
                        next = data[position]
                        position += 1
                    }
                    if next != 0 {
                        marker = true
                        break
                    }
                }
                bits += 8
            }
            if marker && needed > bits { bits = 57 }
            return true
        }

        /// CHECK_BIT_BUFFER then GET_BITS.
        mutating func take(_ n: Int) -> Bool {
            if bits < n {
                guard fill(n) else { return false }
            }
            bits -= n
            return true
        }

        /// decode_mcu_slow: HUFF_DECODE refills (without asking for bits) below 8 bits; a
        /// code of up to 8 bits is then dropped at once, a longer one read as 9 bits and then
        /// bit by bit (jpeg_huff_decode), as is any code when a marker left fewer than 8.
        mutating func slowMCU(_ ops: ArraySlice<Int8>) -> Bool {
            for op in ops {
                guard op > 0 else {
                    guard take(Int(-op)) else { return false }
                    continue
                }
                let length = Int(op)
                var first = 9
                if bits < 8 {
                    guard fill(0) else { return false }
                    if bits < 8 { first = 1 }
                }
                if first == 9 && length <= 8 {
                    bits -= length
                    continue
                }
                guard take(min(first, length)) else { return false }
                for _ in min(first, length)..<length {
                    guard take(1) else { return false }
                }
            }
            return true
        }

        /// decode_mcu_fast: 6 bytes whenever 16 bits or fewer are left, before each code and
        /// each magnitude. It only runs with enough bytes buffered; a marker sends the MCU
        /// back to the slow path (libjpeg then decodes it again from its start).
        mutating func fastMCU(_ ops: ArraySlice<Int8>) -> Bool {
            let startPosition = position, startBits = bits
            for op in ops {
                if bits <= 16 {
                    for _ in 0..<6 {
                        // libjpeg trusts its 512 bytes per block here; past the data we read zeros.
                        let c0 = position < data.count ? data[position] : 0
                        let c1 = position + 1 < data.count ? data[position + 1] : 0
                        position += 1
                        bits += 8
                        if c0 == 0xff {
                            position += 1
                            if c1 != 0 {
                                position = startPosition
                                bits = startBits
                                return slowMCU(ops)
                            }
                        }
                    }
                }
                bits -= abs(Int(op))
            }
            return true
        }

        /// read_restart_marker: the marker a refill stopped at, else the next one in the data.
        mutating func readMarker() -> Bool {
            if marker {
                marker = false
                return true
            }
            while true {
                guard position < bufferEnd else { return false }
                if data[position] != 0xff {
                    position += 1
                    continue
                }
                position += 1
                while true {
                    guard position < bufferEnd else { return false }
                    let c = data[position]
                    position += 1
                    if c == 0xff { continue }
                    if c != 0 { return true }
                    break
                }
            }
        }
    }
}
