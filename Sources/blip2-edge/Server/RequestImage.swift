import BLIP2Edge
import BLIP2System

/// Images as requests carry them: raw bytes (a body or a form part) or a data: URI. The
/// server fetches nothing and reads no file for a client: a URL that points elsewhere is
/// refused.
enum RequestImage {
    static func decode(_ bytes: [UInt8]) throws(HTTPError) -> RGBImage {
        guard !bytes.isEmpty else { throw .badRequest("the image is empty") }
        do {
            return try ImageDecoder.read(bytes)
        } catch {
            throw HTTPError(status: 400, message: "the image could not be read: \(error)", type: "invalid_image")
        }
    }

    /// The bytes of `data:[<media type>][;base64],<data>`.
    static func bytes(fromURL url: String) throws(HTTPError) -> [UInt8] {
        let lower = url.prefix(16).lowercased()
        guard lower.hasPrefix("data:") else {
            if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
                throw .badRequest("remote image URLs are not fetched (the server downloads nothing): send the image inline as a data: URI, data:image/png;base64,...")
            }
            throw .badRequest("image_url must be a data: URI (data:image/png;base64,...); \"\(url.prefix(20))...\" is not one")
        }
        guard let comma = url.firstIndex(of: ",") else { throw .badRequest("the data: URI has no comma before its data") }
        let header = url[url.index(url.startIndex, offsetBy: 5)..<comma].lowercased()
        guard header.split(separator: ";").last == "base64" else {
            throw .badRequest("the data: URI must be base64-encoded (data:image/png;base64,...)")
        }
        guard let bytes = base64(url[url.index(after: comma)...]) else {
            throw .badRequest("the data: URI's base64 data is invalid")
        }
        return bytes
    }

    /// Standard base64 (RFC 4648), whitespace ignored, padding optional.
    static func base64(_ text: Substring) -> [UInt8]? {
        var b = text.utf8.filter { $0 != 32 && $0 != 9 && $0 != 10 && $0 != 13 }
        if b.count % 4 == 1 { return nil }
        if b.count % 4 != 0 { b += Array(repeating: UInt8(ascii: "="), count: 4 - b.count % 4) }
        return Base64.decode(b)
    }
}
