import BLIP2Edge
import CBLIP2EdgeAPI

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The retrieval half of blip2_edge.h: handles are retained RetrievalModel, RetrievalSession
// and EncodedImage boxes.

public typealias ErrorOut = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?

/// An encoded image behind an opaque pointer (EncodedImage is a struct).
final class EncodedImageBox {
    let image: EncodedImage
    init(_ image: EncodedImage) { self.image = image }
}

private func retained<T: AnyObject>(_ p: UnsafeRawPointer?, as _: T.Type) -> T? {
    p.map { Unmanaged<T>.fromOpaque($0).takeUnretainedValue() }
}

/// Runs `body`, turning a thrown error into its status and message.
private func guarded(_ errorOut: ErrorOut, _ body: () throws -> Int32) -> Int32 {
    setError(errorOut, nil)
    do { return try body() } catch {
        setError(errorOut, "\(error)")
        return status(of: error)
    }
}

private func invalid(_ errorOut: ErrorOut, _ message: String) -> Int32 {
    setError(errorOut, message)
    return invalidArgument
}

@_cdecl("blip2_retrieval_load")
public func blip2_retrieval_load(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                 _ errorOut: ErrorOut) -> Int32 {
    guarded(errorOut) {
        guard let path, let out else { return invalid(errorOut, "blip2_retrieval_load: path and model must not be NULL") }
        out.pointee = nil
        out.pointee = Unmanaged.passRetained(try RetrievalModel(path: String(cString: path))).toOpaque()
        return ok
    }
}

@_cdecl("blip2_retrieval_free")
public func blip2_retrieval_free(_ model: UnsafeMutableRawPointer?) {
    guard let model else { return }
    Unmanaged<RetrievalModel>.fromOpaque(model).release()
}

@_cdecl("blip2_retrieval_feature_size")
public func blip2_retrieval_feature_size(_ model: UnsafeRawPointer?) -> Int32 {
    Int32(retained(model, as: RetrievalModel.self)?.config.imageTextHiddenSize ?? 0)
}

@_cdecl("blip2_retrieval_query_count")
public func blip2_retrieval_query_count(_ model: UnsafeRawPointer?) -> Int32 {
    Int32(retained(model, as: RetrievalModel.self)?.config.queryTokenCount ?? 0)
}

@_cdecl("blip2_retrieval_session_new")
public func blip2_retrieval_session_new(_ model: UnsafeMutableRawPointer?, _ threads: Int32,
                                        _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ errorOut: ErrorOut) -> Int32 {
    guarded(errorOut) {
        guard let m = retained(model, as: RetrievalModel.self), let out else {
            return invalid(errorOut, "blip2_retrieval_session_new: model and session must not be NULL")
        }
        out.pointee = nil
        out.pointee = Unmanaged.passRetained(try RetrievalSession(model: m, threads: Int(max(0, threads)))).toOpaque()
        return ok
    }
}

@_cdecl("blip2_retrieval_session_free")
public func blip2_retrieval_session_free(_ session: UnsafeMutableRawPointer?) {
    guard let session else { return }
    Unmanaged<RetrievalSession>.fromOpaque(session).release()
}

@_cdecl("blip2_retrieval_encode_image")
public func blip2_retrieval_encode_image(_ session: UnsafeMutableRawPointer?, _ rgb: UnsafePointer<UInt8>?, _ width: Int32,
                                         _ height: Int32, _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
                                         _ errorOut: ErrorOut) -> Int32 {
    guarded(errorOut) {
        guard let s = retained(session, as: RetrievalSession.self), let rgb, let out else {
            return invalid(errorOut, "blip2_retrieval_encode_image: session, rgb and image must not be NULL")
        }
        out.pointee = nil
        let w = Int(width), h = Int(height)
        guard w >= 1, h >= 1, w <= RGBImage.maxDimension, h <= RGBImage.maxDimension, w * h <= RGBImage.maxPixels else {
            return invalid(errorOut, "image size \(w)x\(h) is empty or too large")
        }
        let image = try RGBImage(width: w, height: h, pixels: Array(UnsafeBufferPointer(start: rgb, count: w * h * 3)))
        out.pointee = Unmanaged.passRetained(EncodedImageBox(try s.encode(image: image))).toOpaque()
        return ok
    }
}

@_cdecl("blip2_retrieval_image_free")
public func blip2_retrieval_image_free(_ image: UnsafeMutableRawPointer?) {
    guard let image else { return }
    Unmanaged<EncodedImageBox>.fromOpaque(image).release()
}

/// Copies `values` into a caller's buffer of `capacity` floats.
private func copy(_ values: [Float], to out: UnsafeMutablePointer<Float>?, capacity: Int, _ errorOut: ErrorOut) -> Int32 {
    guard let out else { return invalid(errorOut, "features must not be NULL") }
    guard capacity >= values.count else { return invalid(errorOut, "the buffer holds \(capacity) floats; the features are \(values.count)") }
    out.update(from: values, count: values.count)
    return ok
}

@_cdecl("blip2_retrieval_image_features")
public func blip2_retrieval_image_features(_ image: UnsafeRawPointer?, _ out: UnsafeMutablePointer<Float>?, _ capacity: Int,
                                           _ errorOut: ErrorOut) -> Int32 {
    guarded(errorOut) {
        guard let box = retained(image, as: EncodedImageBox.self) else { return invalid(errorOut, "image must not be NULL") }
        return copy(box.image.features, to: out, capacity: capacity, errorOut)
    }
}

@_cdecl("blip2_retrieval_text_features")
public func blip2_retrieval_text_features(_ session: UnsafeMutableRawPointer?, _ text: UnsafePointer<CChar>?,
                                          _ out: UnsafeMutablePointer<Float>?, _ capacity: Int, _ errorOut: ErrorOut) -> Int32 {
    guarded(errorOut) {
        guard let s = retained(session, as: RetrievalSession.self), let text else {
            return invalid(errorOut, "session and text must not be NULL")
        }
        return copy(try s.features(text: String(cString: text)), to: out, capacity: capacity, errorOut)
    }
}

@_cdecl("blip2_retrieval_match")
public func blip2_retrieval_match(_ session: UnsafeMutableRawPointer?, _ image: UnsafeRawPointer?, _ text: UnsafePointer<CChar>?,
                                  _ probability: UnsafeMutablePointer<Float>?, _ similarity: UnsafeMutablePointer<Float>?,
                                  _ errorOut: ErrorOut) -> Int32 {
    guarded(errorOut) {
        guard let s = retained(session, as: RetrievalSession.self), let box = retained(image, as: EncodedImageBox.self), let text else {
            return invalid(errorOut, "session, image and text must not be NULL")
        }
        let score = try s.match(box.image, text: String(cString: text))
        probability?.pointee = score.matchProbability
        similarity?.pointee = score.similarity
        return ok
    }
}
