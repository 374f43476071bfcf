import BLIP2Edge
import CBLIP2EdgeAPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The C interface declared in blip2_edge.h (target CBLIP2EdgeAPI). Handles are retained Swift objects;
// nothing Swift crosses the boundary except as an opaque pointer.

let ok: Int32 = 0, invalidArgument: Int32 = 1, modelError: Int32 = 2, runtimeError: Int32 = 3, cancelledStatus: Int32 = 4

extension blip2_params {
    init(_ p: GenerationParameters) {
        self.init(max_new_tokens: Int32(p.maxNewTokens), min_new_tokens: Int32(p.minNewTokens), num_beams: Int32(p.beamCount),
                  length_penalty: p.lengthPenalty, repetition_penalty: p.repetitionPenalty,
                  no_repeat_ngram_size: Int32(p.noRepeatNgramSize), sample: p.sampling == nil ? 0 : 1,
                  temperature: p.sampling?.temperature ?? 1, top_k: Int32(p.sampling?.topK ?? 0),
                  top_p: p.sampling?.topP ?? 1, seed: p.sampling?.seed ?? 0)
    }

    var parameters: GenerationParameters {
        var p = GenerationParameters()
        p.maxNewTokens = Int(max_new_tokens)
        p.minNewTokens = Int(min_new_tokens)
        p.beamCount = Int(num_beams)
        p.lengthPenalty = length_penalty
        p.repetitionPenalty = repetition_penalty
        p.noRepeatNgramSize = Int(no_repeat_ngram_size)
        if sample != 0 { p.sampling = .init(temperature: temperature, topK: Int(top_k), topP: top_p, seed: seed) }
        return p
    }
}

func setError(_ errorOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ message: String?) {
    guard let errorOut else { return }
    errorOut.pointee = message.map { strdup($0) }
}

func status(of e: Error) -> Int32 {
    switch e {
    case RuntimeError.cancelled: cancelledStatus
    case RuntimeError.invalidInput: invalidArgument
    case is GGUFError, is ModelFileError, is FileError, is ConfigError: modelError
    default: runtimeError
    }
}

@_cdecl("blip2_caption_defaults")
public func blip2_caption_defaults(_ params: UnsafeMutablePointer<blip2_params>?) {
    params?.pointee = blip2_params(BLIP2Model.captionDefaults)
}

@_cdecl("blip2_ask_defaults")
public func blip2_ask_defaults(_ params: UnsafeMutablePointer<blip2_params>?) {
    params?.pointee = blip2_params(BLIP2Model.questionDefaults)
}

@_cdecl("blip2_load")
public func blip2_load(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                       _ errorOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    setError(errorOut, nil)
    guard let path, let out else { setError(errorOut, "blip2_load: path and model must not be NULL"); return invalidArgument }
    out.pointee = nil
    do {
        let model = try BLIP2Model(path: String(cString: path))
        out.pointee = Unmanaged.passRetained(model).toOpaque()
        return ok
    } catch {
        setError(errorOut, "\(error)")
        return status(of: error)
    }
}

@_cdecl("blip2_free")
public func blip2_free(_ model: UnsafeMutableRawPointer?) {
    guard let model else { return }
    Unmanaged<BLIP2Model>.fromOpaque(model).release()
}

@_cdecl("blip2_session_new")
public func blip2_session_new(_ model: UnsafeMutableRawPointer?, _ threads: Int32, _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                              _ errorOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    setError(errorOut, nil)
    guard let model, let out else { setError(errorOut, "blip2_session_new: model and session must not be NULL"); return invalidArgument }
    out.pointee = nil
    do {
        let m = Unmanaged<BLIP2Model>.fromOpaque(model).takeUnretainedValue()
        let session = try Session(model: m, threads: Int(max(0, threads)))
        out.pointee = Unmanaged.passRetained(session).toOpaque()
        return ok
    } catch {
        setError(errorOut, "\(error)")
        return status(of: error)
    }
}

@_cdecl("blip2_session_free")
public func blip2_session_free(_ session: UnsafeMutableRawPointer?) {
    guard let session else { return }
    Unmanaged<Session>.fromOpaque(session).release()
}

@_cdecl("blip2_cancel")
public func blip2_cancel(_ session: UnsafeMutableRawPointer?) {
    guard let session else { return }
    Unmanaged<Session>.fromOpaque(session).takeUnretainedValue().cancel()
}

private func run(_ session: UnsafeMutableRawPointer?, _ rgb: UnsafePointer<UInt8>?, _ width: Int32, _ height: Int32,
                 _ question: UnsafePointer<CChar>?, asking: Bool, _ params: UnsafePointer<blip2_params>?,
                 _ text: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                 _ errorOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    setError(errorOut, nil)
    guard let session, let rgb, let text else { setError(errorOut, "session, rgb and text must not be NULL"); return invalidArgument }
    text.pointee = nil
    let w = Int(width), h = Int(height)
    guard w >= 1, h >= 1, w <= RGBImage.maxDimension, h <= RGBImage.maxDimension, w * h <= RGBImage.maxPixels else {
        setError(errorOut, "image size \(w)x\(h) is empty or too large")
        return invalidArgument
    }
    do {
        let s = Unmanaged<Session>.fromOpaque(session).takeUnretainedValue()
        let image = try RGBImage(width: w, height: h, pixels: Array(UnsafeBufferPointer(start: rgb, count: w * h * 3)))
        let p = params?.pointee.parameters
        let result: GenerationResult
        if asking {
            guard let question else { setError(errorOut, "question must not be NULL"); return invalidArgument }
            result = try s.ask(image: image, question: String(cString: question), parameters: p ?? s.model.defaultQuestionParameters)
        } else {
            result = try s.generate(image: image, parameters: p ?? s.model.defaultCaptionParameters)
        }
        text.pointee = strdup(result.text)
        return ok
    } catch {
        setError(errorOut, "\(error)")
        return status(of: error)
    }
}

@_cdecl("blip2_caption")
public func blip2_caption(_ session: UnsafeMutableRawPointer?, _ rgb: UnsafePointer<UInt8>?, _ width: Int32, _ height: Int32,
                          _ params: UnsafePointer<blip2_params>?, _ text: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                          _ errorOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    run(session, rgb, width, height, nil, asking: false, params, text, errorOut)
}

@_cdecl("blip2_ask")
public func blip2_ask(_ session: UnsafeMutableRawPointer?, _ rgb: UnsafePointer<UInt8>?, _ width: Int32, _ height: Int32,
                      _ question: UnsafePointer<CChar>?, _ params: UnsafePointer<blip2_params>?,
                      _ text: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                      _ errorOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    run(session, rgb, width, height, question, asking: true, params, text, errorOut)
}

@_cdecl("blip2_read_image")
public func blip2_read_image(_ path: UnsafePointer<CChar>?, _ rgb: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?,
                             _ width: UnsafeMutablePointer<Int32>?, _ height: UnsafeMutablePointer<Int32>?,
                             _ errorOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    readImage(path, rgb, width, height, errorOut, exifOrientation: false)
}

@_cdecl("blip2_read_image_upright")
public func blip2_read_image_upright(_ path: UnsafePointer<CChar>?, _ rgb: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?,
                                     _ width: UnsafeMutablePointer<Int32>?, _ height: UnsafeMutablePointer<Int32>?,
                                     _ errorOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    readImage(path, rgb, width, height, errorOut, exifOrientation: true)
}

private func readImage(_ path: UnsafePointer<CChar>?, _ rgb: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?,
                       _ width: UnsafeMutablePointer<Int32>?, _ height: UnsafeMutablePointer<Int32>?,
                       _ errorOut: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, exifOrientation: Bool) -> Int32 {
    setError(errorOut, nil)
    guard let path, let rgb, let width, let height else { setError(errorOut, "blip2_read_image: arguments must not be NULL"); return invalidArgument }
    rgb.pointee = nil
    let p = String(cString: path)
    let data: [UInt8]
    do { data = try SmallFile.read(p, limit: ImageDecoder.maxFileBytes) } catch { setError(errorOut, "\(error)"); return invalidArgument }
    do {
        let image = try ImageDecoder.read(data, exifOrientation: exifOrientation)
        guard let buffer = malloc(image.pixels.count)?.assumingMemoryBound(to: UInt8.self) else {
            setError(errorOut, "out of memory")
            return runtimeError
        }
        buffer.update(from: image.pixels, count: image.pixels.count)
        rgb.pointee = buffer
        width.pointee = Int32(image.width)
        height.pointee = Int32(image.height)
        return ok
    } catch {
        setError(errorOut, "\(p): \(error)")
        return invalidArgument
    }
}

@_cdecl("blip2_free_image")
public func blip2_free_image(_ rgb: UnsafeMutablePointer<UInt8>?) { free(rgb) }

@_cdecl("blip2_free_string")
public func blip2_free_string(_ s: UnsafeMutablePointer<CChar>?) { free(s) }

// MARK: - Encode once, stream, version

/// A ProjectedImage behind an opaque pointer.
final class ProjectedImageBox {
    let image: ProjectedImage
    init(_ image: ProjectedImage) { self.image = image }
}

private func session(_ p: UnsafeMutableRawPointer?) -> Session? {
    p.map { Unmanaged<Session>.fromOpaque($0).takeUnretainedValue() }
}

private func projected(_ p: UnsafeRawPointer?) -> ProjectedImage? {
    p.map { Unmanaged<ProjectedImageBox>.fromOpaque($0).takeUnretainedValue().image }
}

@_cdecl("blip2_encode_image")
public func blip2_encode_image(_ sessionPointer: UnsafeMutableRawPointer?, _ rgb: UnsafePointer<UInt8>?, _ width: Int32, _ height: Int32,
                               _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ errorOut: ErrorOut) -> Int32 {
    setError(errorOut, nil)
    guard let s = session(sessionPointer), let rgb, let out else {
        setError(errorOut, "blip2_encode_image: session, rgb and image must not be NULL")
        return invalidArgument
    }
    out.pointee = nil
    let w = Int(width), h = Int(height)
    guard w >= 1, h >= 1, w <= RGBImage.maxDimension, h <= RGBImage.maxDimension, w * h <= RGBImage.maxPixels else {
        setError(errorOut, "image size \(w)x\(h) is empty or too large")
        return invalidArgument
    }
    do {
        let image = try RGBImage(width: w, height: h, pixels: Array(UnsafeBufferPointer(start: rgb, count: w * h * 3)))
        out.pointee = Unmanaged.passRetained(ProjectedImageBox(try s.encode(image: image))).toOpaque()
        return ok
    } catch {
        setError(errorOut, "\(error)")
        return status(of: error)
    }
}

@_cdecl("blip2_image_free")
public func blip2_image_free(_ image: UnsafeMutableRawPointer?) {
    guard let image else { return }
    Unmanaged<ProjectedImageBox>.fromOpaque(image).release()
}

/// Captions or answers from an encoded image, streaming through `callback` when given.
private func generate(_ sessionPointer: UnsafeMutableRawPointer?, _ imagePointer: UnsafeRawPointer?, _ question: UnsafePointer<CChar>?,
                      _ params: UnsafePointer<blip2_params>?, _ callback: blip2_token_callback?, _ userData: UnsafeMutableRawPointer?,
                      _ text: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ errorOut: ErrorOut) -> Int32 {
    setError(errorOut, nil)
    guard let s = session(sessionPointer), let image = projected(imagePointer), let text else {
        setError(errorOut, "session, image and text must not be NULL")
        return invalidArgument
    }
    text.pointee = nil
    let asking = question != nil
    let p = params?.pointee.parameters ?? (asking ? s.model.defaultQuestionParameters : s.model.defaultCaptionParameters)
    var stream = TextStream(tokenizer: s.model.tokenizer)
    let onToken: ((Int) -> Bool)? = callback.flatMap { cb in
        p.beamCount > 1 ? nil : { id in
            let piece = stream.append(id)
            return piece.withCString { cb($0, Int32(clamping: id), userData) } == 0
        }
    }
    do {
        let result = if let question {
            try s.ask(image, question: String(cString: question), parameters: p, onToken: onToken)
        } else {
            try s.generate(image, parameters: p, onToken: onToken)
        }
        if let callback, p.beamCount > 1 { _ = result.text.withCString { callback($0, -1, userData) } }
        text.pointee = strdup(result.text)
        return ok
    } catch {
        setError(errorOut, "\(error)")
        return status(of: error)
    }
}

@_cdecl("blip2_caption_image")
public func blip2_caption_image(_ session: UnsafeMutableRawPointer?, _ image: UnsafeRawPointer?, _ params: UnsafePointer<blip2_params>?,
                                _ text: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, _ errorOut: ErrorOut) -> Int32 {
    generate(session, image, nil, params, nil, nil, text, errorOut)
}

@_cdecl("blip2_ask_image")
public func blip2_ask_image(_ session: UnsafeMutableRawPointer?, _ image: UnsafeRawPointer?, _ question: UnsafePointer<CChar>?,
                            _ params: UnsafePointer<blip2_params>?, _ text: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                            _ errorOut: ErrorOut) -> Int32 {
    guard question != nil else { setError(errorOut, "question must not be NULL"); return invalidArgument }
    return generate(session, image, question, params, nil, nil, text, errorOut)
}

@_cdecl("blip2_generate_stream")
public func blip2_generate_stream(_ session: UnsafeMutableRawPointer?, _ image: UnsafeRawPointer?, _ question: UnsafePointer<CChar>?,
                                  _ params: UnsafePointer<blip2_params>?, _ callback: blip2_token_callback?,
                                  _ userData: UnsafeMutableRawPointer?, _ text: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                                  _ errorOut: ErrorOut) -> Int32 {
    generate(session, image, question, params, callback, userData, text, errorOut)
}

// Static strings for C callers: made once, never written, never freed.
nonisolated(unsafe) private let versionString: UnsafeMutablePointer<CChar> = strdup(LibraryVersion.current)
nonisolated(unsafe) private let variantString: UnsafeMutablePointer<CChar> = strdup(BLIP2Model.kernelVariant)

@_cdecl("blip2_version")
public func blip2_version() -> UnsafePointer<CChar> { UnsafePointer(versionString) }

@_cdecl("blip2_kernel_variant")
public func blip2_kernel_variant() -> UnsafePointer<CChar> { UnsafePointer(variantString) }

@_cdecl("blip2_session_set_low_ram")
public func blip2_session_set_low_ram(_ sessionPointer: UnsafeMutableRawPointer?, _ on: Int32) {
    session(sessionPointer)?.lowRAM = on != 0
}
