import BLIP2System

/// multipart/form-data (RFC 7578), as curl -F and browsers' forms send it: each part a
/// named field, a file's part with its bytes as they are.
enum Multipart {
    struct Part {
        var name: String
        var filename: String?
        var data: [UInt8]
        var text: String? { String(validating: data, as: UTF8.self) }
    }

    static let maxParts = 64

    /// The boundary parameter of a Content-Type header, unquoted.
    static func boundary(contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let kv = parameter.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, kv[0].trimmingSpacesAndTabs().lowercased() == "boundary" else { continue }
            var value = kv[1].trimmingSpacesAndTabs()
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            return value.isEmpty || value.utf8.count > 70 ? nil : value
        }
        return nil
    }

    static func parse(_ body: [UInt8], contentType: String) throws(HTTPError) -> [Part] {
        guard let b = boundary(contentType: contentType) else { throw .badRequest("multipart/form-data without a valid boundary parameter") }
        let delimiter = Array("--\(b)".utf8)
        var parts: [Part] = []
        guard var position = find(delimiter, in: body, from: 0) else { throw .badRequest("the multipart body has no part delimited by its boundary") }
        while true {
            position += delimiter.count
            // "--" after a delimiter ends the body.
            if body.count >= position + 2, body[position] == 45, body[position + 1] == 45 { return parts }
            guard let lineEnd = find([13, 10], in: body, from: position) else { throw .badRequest("a multipart delimiter line does not end") }
            let headStart = lineEnd + 2
            guard let headEnd = find([13, 10, 13, 10], in: body, from: headStart - 2) else { throw .badRequest("a multipart part has no header end") }
            let head = headEnd >= headStart ? String(decoding: body[headStart..<headEnd], as: UTF8.self) : ""
            let dataStart = headEnd + 4
            guard let next = find([13, 10] + delimiter, in: body, from: dataStart) else { throw .badRequest("a multipart part does not end with the boundary (truncated body?)") }
            guard parts.count < maxParts else { throw .badRequest("more than \(maxParts) multipart parts") }
            var part = Part(name: "", filename: nil, data: Array(body[dataStart..<next]))
            for line in head.split(separator: "\r\n" as Character, omittingEmptySubsequences: false).map(String.init) where line.lowercased().hasPrefix("content-disposition:") {
                part.name = parameter("name", in: line) ?? ""
                part.filename = parameter("filename", in: line)
            }
            guard !part.name.isEmpty else { throw .badRequest("a multipart part has no form-data name") }
            parts.append(part)
            position = next + 2
        }
    }

    /// A parameter of a Content-Disposition line: name="value" (or unquoted).
    static func parameter(_ name: String, in line: String) -> String? {
        for item in line.split(separator: ";").dropFirst() {
            let kv = item.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, kv[0].trimmingSpacesAndTabs().lowercased() == name else { continue }
            var v = kv[1].trimmingSpacesAndTabs()
            if v.count >= 2, v.hasPrefix("\""), v.hasSuffix("\"") { v = String(v.dropFirst().dropLast()) }
            return v
        }
        return nil
    }

    static func find(_ needle: [UInt8], in hay: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, hay.count >= needle.count else { return nil }
        var i = max(start, 0)
        let first = needle[0], last = hay.count - needle.count
        while i <= last {
            if hay[i] == first && hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
