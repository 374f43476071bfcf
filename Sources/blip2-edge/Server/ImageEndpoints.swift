import BLIP2Edge
import BLIP2System

/// POST /v1/caption, /v1/ask and /v1/match: the image as the raw body, or as the `image`
/// part of a multipart/form-data body; everything else as query parameters or form fields
/// (a form field wins over a query parameter of the same name).
struct ImageEndpoints {
    let state: ServerState

    /// Content types accepted as a raw image body (the format itself is read from the bytes).
    static func isRawImage(_ contentType: String) -> Bool {
        contentType.isEmpty || contentType.hasPrefix("image/") || contentType == "application/octet-stream"
    }

    /// The image bytes and the fields of a request.
    static func input(_ request: HTTPRequest) throws(HTTPError) -> (image: [UInt8], fields: FormFields) {
        var fields = FormFields(values: request.query)
        if request.contentType == "multipart/form-data" {
            let parts = try Multipart.parse(request.body, contentType: request.header("content-type") ?? "")
            var image: [UInt8]?
            for part in parts {
                if part.name == "image" {
                    guard image == nil else { throw .badRequest("more than one image part: send one image per request") }
                    image = part.data
                } else {
                    guard let text = part.text else { throw .badRequest("form field \(part.name) is not UTF-8 text") }
                    fields.values.append((part.name, text))
                }
            }
            guard let image else { throw .badRequest("the form has no image part (a file field named image)") }
            return (image, fields)
        }
        guard isRawImage(request.contentType) else {
            throw .unsupportedMediaType("send the image as the raw body (Content-Type image/png, image/jpeg, image/x-portable-pixmap or application/octet-stream) or as the image field of multipart/form-data, not \(request.contentType)")
        }
        return (request.body, fields)
    }

    struct Reply: Encodable {
        let text: String
        let tokens: [Int]
        let finish_reason: String
        let usage: ChatCompletions.Usage
        let timings: StageTimings
    }

    func caption(_ exchange: Exchange, asking: Bool) throws -> HTTPResponse? {
        guard case let .captioning(model, pool) = try state.ready() else {
            throw HTTPError.badRequest("this server runs a retrieval model, which cannot write text: use POST /v1/match")
        }
        let (bytes, fields) = try Self.input(exchange.request)
        let options = try GenerationOptions(fields)
        let prompt: String?
        if asking {
            guard let q = try fields.string("question")?.trimmed(), !q.isEmpty else {
                throw HTTPError.badRequest("ask needs a question (a query parameter or form field named question)")
            }
            let styleName = try fields.string("prompt_style") ?? "short"
            guard let style = BLIP2Model.PromptStyle(rawValue: styleName) else { throw HTTPError.badRequest("prompt_style must be short or answer") }
            prompt = style.prompt(for: q)
        } else {
            prompt = try fields.string("prompt")
            if let p = prompt, p.trimmed().isEmpty { throw HTTPError.badRequest("prompt is empty") }
        }
        if let p = prompt { try GenerationOptions.checkLength(p, asking ? "question" : "prompt") }
        var parameters = try options.parameters(defaults: asking ? model.defaultQuestionParameters : model.defaultCaptionParameters, streaming: false)
        let promptTokens = model.inputTokenCount(prompt: prompt)
        let budget = model.sequenceBudget(prompt: prompt)
        try options.fit(&parameters, prefixLength: budget.prefixLength, context: budget.context)
        let image = try RequestImage.decode(bytes)
        return try ModelRunner.run(pool, exchange, state: state) { session, watcher in
            let result = try session.generate(image: image, prompt: prompt, parameters: parameters) { _ in !watcher.isGone }
            state.metrics.generation(tokens: result.tokens.count, timings: result.timings)
            return .json(Reply(text: result.text, tokens: result.tokens,
                               finish_reason: ChatCompletions.finishReason(result.tokens, model.config.generation.eosTokenIds),
                               usage: .init(prompt_tokens: promptTokens, completion_tokens: result.tokens.count), timings: result.timings))
        }
    }

    struct MatchReply: Encodable {
        struct Match: Encodable { let text: String; let itm: Float; let itc: Float }
        let matches: [Match]
    }

    static let maxTexts = 64

    func match(_ exchange: Exchange) throws -> HTTPResponse? {
        guard case let .retrieval(model, pool) = try state.ready() else {
            throw HTTPError.badRequest("this server runs a captioning model: /v1/match needs a retrieval model (blip2-itm-vit-g); use /v1/caption, /v1/ask or /v1/chat/completions")
        }
        let (bytes, fields) = try Self.input(exchange.request)
        let texts = fields.all("text")
        guard !texts.isEmpty else { throw HTTPError.badRequest("match needs at least one text (query parameters or form fields named text)") }
        guard texts.count <= Self.maxTexts else { throw HTTPError.badRequest("at most \(Self.maxTexts) texts per request") }
        for t in texts {
            try GenerationOptions.checkLength(t, "text")
            do { _ = try model.tokens(t) } catch { throw HTTPError.badRequest("text \"\(t.prefix(40))\": \(error)") }
        }
        let image = try RequestImage.decode(bytes)
        return try ModelRunner.run(pool, exchange, state: state) { session, _ in
            let start = Clock.monotonicSeconds()
            let encoded = try session.encode(image: image)
            var matches: [MatchReply.Match] = []
            for t in texts {
                let s = try session.match(encoded, text: t)
                matches.append(.init(text: t, itm: s.matchProbability, itc: s.similarity))
            }
            state.metrics.retrieval(seconds: Clock.monotonicSeconds() - start)
            return .json(MatchReply(matches: matches))
        }
    }
}
