import BLIP2CommandLine
import BLIP2Edge
import BLIP2System

/// match, embed and search: the commands of a retrieval model (blip2-itm-vit-g).
enum RetrievalCommands {
    static func open(_ o: Options) throws -> RetrievalSession {
        let model = try RetrievalModel(path: try ModelLocation.resolve(o.model, defaultName: ModelLocation.retrievalName))
        return try RetrievalSession(model: model, threads: o.threads)
    }

    /// ITM probability and ITC similarity of one image with each text.
    static func match(_ o: Options) throws {
        guard o.positional.count >= 2 else { throw UsageError("match needs an image and at least one text") }
        let texts = Array(o.positional.dropFirst())
        let session = try open(o)
        for t in texts { _ = try session.model.tokens(t) }  // every text checked before the image is encoded
        let image = try session.encode(image: try ImageInput.read(o.positional[0], exifOrientation: o.exifOrientation))
        var results: [JSON.Match] = []
        for text in texts {
            let s = try session.match(image, text: text)
            results.append(.init(text: text, itm: s.matchProbability, itc: s.similarity))
            if !o.json { print(format("itm %.4f  itc %.4f  ", s.matchProbability, s.similarity) + text) }
        }
        if o.json { try JSON.write(JSON.MatchLine(image: o.positional[0], matches: results)) }
    }

    /// ITC features of images, or with --text of texts: JSON lines, or raw float32 with --out.
    static func embed(_ o: Options) throws {
        guard !o.positional.isEmpty else { throw UsageError(o.text ? "embed --text needs at least one text" : "embed needs at least one image") }
        let session = try open(o)
        var raw: [UInt8] = []
        for input in o.positional {
            let features: [Float], rows: Int
            if o.text {
                features = try session.features(text: input)
                rows = 1
            } else {
                let image = try session.encode(image: try ImageInput.read(input, exifOrientation: o.exifOrientation))
                features = image.features
                rows = image.queryCount
            }
            if o.out != nil {
                features.withUnsafeBytes { raw.append(contentsOf: $0) } // little-endian on every platform we build for
            } else {
                let width = features.count / rows
                let matrix = (0..<rows).map { Array(features[($0 * width)..<(($0 + 1) * width)]) }
                try JSON.write(o.text ? JSON.Embedding(text: input, image: nil, features: matrix)
                                      : JSON.Embedding(text: nil, image: input, features: matrix))
            }
        }
        if let out = o.out { try write(raw, to: out) }
    }

    /// Ranks images by ITC with `text`, then re-ranks the best with ITM, as BLIP-2's retrieval
    /// does. Features come from the index when it has the image's content.
    static func search(_ o: Options) throws {
        guard o.positional.count >= 2 else { throw UsageError("search needs a text and at least one image or folder") }
        let text = o.positional[0]
        let files = try SearchInputs.files(Array(o.positional.dropFirst()))
        guard !files.isEmpty else { throw UsageError("no images found in \(o.positional.dropFirst().joined(separator: ", "))") }
        let session = try open(o)
        let textFeatures = try session.features(text: text)
        let indexPath = o.noIndex ? nil : (o.index ?? session.model.gguf.path + ".index")
        let index = indexPath.map { ImageIndex(path: $0, model: session.model) }
        if let problem = index?.problem { warn("\(problem); rebuilding it") }

        var ranked: [(file: String, itc: Float)] = []
        // Images encoded in this run keep their vision output while they stay among the best
        // `rerank`: re-ranking needs it, and recomputing it costs a vision pass.
        var kept: [String: EncodedImage] = [:]
        var failures = 0, fromIndex = 0
        let rerank = o.rerank ?? 10
        for file in files {
            do {
                let bytes = try SmallFile.read(file, limit: ImageDecoder.maxFileBytes)
                // Turned and unturned pixels of one file are different entries.
                let key = SHA256.hash([UInt8](bytes) + (o.exifOrientation ? Array("\u{0}exif-orientation".utf8) : []))
                let itc: Float
                if let cached = index?.features(for: key) {
                    fromIndex += 1
                    itc = EncodedImage.similarity(cached, queryCount: session.model.config.queryTokenCount, text: textFeatures)
                } else {
                    let image = try session.encode(image: try ImageInput.decode(bytes, name: file, exifOrientation: o.exifOrientation))
                    index?.insert(image.features, for: key)
                    itc = image.similarity(textFeatures)
                    kept[file] = image
                }
                ranked.append((file, itc))
                let best = Set(ranked.sorted { $0.itc > $1.itc }.prefix(rerank).map(\.file))
                kept = kept.filter { best.contains($0.key) }
            } catch {
                warn("\(error)")
                failures += 1
            }
        }
        if let index, index.isModified {
            do { try index.save() } catch { warn("\(error) (the index is not saved; the results stand)") }
        }
        ranked.sort { $0.itc > $1.itc }
        var results: [JSON.SearchResult] = []
        for (rank, r) in ranked.enumerated() {
            var itm: Float?
            if rank < rerank {
                let image = try kept[r.file] ?? session.encode(image: try ImageInput.read(r.file, exifOrientation: o.exifOrientation))
                itm = try session.matchProbability(image, text: text)
            }
            results.append(.init(image: r.file, itc: r.itc, itm: itm))
        }
        // The re-ranked ones first, by ITM; the rest keep their ITC order.
        let head = results.prefix(rerank).sorted { ($0.itm ?? 0) > ($1.itm ?? 0) }
        results = Array(head) + results.dropFirst(rerank)
        let shown = results.prefix(o.top ?? results.count)
        if o.json {
            try JSON.write(JSON.Search(text: text, results: Array(shown)))
        } else {
            for r in shown {
                let itm = r.itm.map { format("itm %.4f", $0) } ?? "itm    -  "
                print(itm + format("  itc %.4f  ", r.itc) + r.image)
            }
        }
        if o.stats {
            warn("searched \(ranked.count) images: \(fromIndex) from the index, \(ranked.count - fromIndex) encoded; ITM on \(min(rerank, ranked.count))")
        }
        if failures > 0 { throw SearchFailures(count: failures) }
    }

    struct SearchFailures: Error, CustomStringConvertible {
        let count: Int
        var description: String { "\(count) image\(count == 1 ? "" : "s") could not be read (see above); the ranking leaves them out" }
    }

    static func warn(_ s: String) { StandardStreams.writeError("blip2-edge: \(s)\n") }

    static func write(_ data: [UInt8], to path: String) throws {
        try SmallFile.write(data, to: path)
    }
}

/// The images a search looks at: files as given, and the files of each folder given (not its
/// subfolders, not hidden files) whose content starts like an image.
enum SearchInputs {
    static func files(_ arguments: [String]) throws -> [String] {
        var out: [String] = []
        for a in arguments {
            guard let kind = FilePaths.kind(a) else {
                throw FileError.cannotOpen(path: a, reason: "No such file or directory")
            }
            guard kind == .directory else { out.append(a); continue }
            let names = FilePaths.contents(ofDirectory: a) ?? []
            for name in names.sorted() where !name.hasPrefix(".") {
                let path = FilePaths.join(a, name)
                if looksLikeImage(path) { out.append(path) }
            }
        }
        return out
    }

    static func looksLikeImage(_ path: String) -> Bool {
        guard let head = SmallFile.readHead(path, count: 8) else { return false }
        return head.starts(with: [0x89, 0x50, 0x4E, 0x47]) || head.starts(with: [0xFF, 0xD8, 0xFF])
            || (head.count >= 2 && head[0] == UInt8(ascii: "P") && (UInt8(ascii: "2")...UInt8(ascii: "6")).contains(head[1]))
    }
}

enum JSON {
    struct Match: Encodable { let text: String; let itm: Float; let itc: Float }
    struct MatchLine: Encodable { let image: String; let matches: [Match] }
    struct Embedding: Encodable { let text: String?; let image: String?; let features: [[Float]] }
    struct SearchResult: Encodable { let image: String; let itc: Float; let itm: Float? }
    struct Search: Encodable { let text: String; let results: [SearchResult] }

    static func write<T: Encodable>(_ value: T) throws {
        StandardStreams.writeOutput(try JSONEncoding.text(value, sortedKeys: true) + "\n")
    }
}
