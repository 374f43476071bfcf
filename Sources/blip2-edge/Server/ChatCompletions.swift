import BLIP2Edge
import BLIP2System

/// POST /v1/chat/completions in OpenAI's format, so that its clients work unchanged.
///
/// The image comes from the user messages' `image_url` parts (a data: URI; exactly one
/// image); the question is the text of the last user message. With text, the model answers
/// it as `blip2-edge ask` does (prompt "Question: ... Short answer:", or "Answer:" with the
/// extension field `"prompt_style": "answer"`); without, it captions. System and assistant
/// messages are ignored: BLIP-2 has no chat history.
struct ChatCompletions {
    let state: ServerState

    struct Input {
        var image: [UInt8]
        var question: String
    }

    func handle(_ exchange: Exchange) throws -> HTTPResponse? {
        let request = exchange.request
        guard request.contentType == "application/json" || request.contentType.isEmpty else {
            throw HTTPError.unsupportedMediaType("the body must be JSON (Content-Type: application/json), not \(request.contentType)")
        }
        guard case let .object(body) = try JSONNode.parseBody(request.body) else { throw HTTPError.badRequest("the body must be a JSON object") }
        let fields = JSONFields(object: body)
        let input = try Self.input(body["messages"])
        if let n = try fields.int("n", in: 1...1_000_000), n != 1 { throw HTTPError.badRequest("n must be 1: one reply per request") }
        let stream = try fields.bool("stream") ?? false
        let includeUsage = stream && body["stream_options"]?["include_usage"] == .bool(true)
        let options = try GenerationOptions(fields, maxTokensNames: ["max_completion_tokens", "max_tokens"])
        let style = try Self.promptStyle(fields)

        guard case let .captioning(model, pool) = try state.ready() else {
            throw HTTPError.badRequest("this server runs a retrieval model, which cannot write text: use POST /v1/match")
        }
        let image = try RequestImage.decode(input.image)
        let question = input.question.trimmed()
        try GenerationOptions.checkLength(question, "question")
        let prompt = question.isEmpty ? nil : style.prompt(for: question)
        var parameters = try options.parameters(defaults: question.isEmpty ? model.defaultCaptionParameters : model.defaultQuestionParameters,
                                                streaming: stream)
        let promptTokens = model.inputTokenCount(prompt: prompt)
        let budget = model.sequenceBudget(prompt: prompt)
        try options.fit(&parameters, prefixLength: budget.prefixLength, context: budget.context)
        let id = "chatcmpl-" + (0..<12).map { _ in format("%02x", UInt8.random(in: 0...255)) }.joined()
        let eos = model.config.generation.eosTokenIds

        return try ModelRunner.run(pool, exchange, state: state) { session, watcher in
            guard stream else {
                let result = try session.generate(image: image, prompt: prompt, parameters: parameters) { _ in !watcher.isGone }
                state.metrics.generation(tokens: result.tokens.count, timings: result.timings)
                let usage = Usage(prompt_tokens: promptTokens, completion_tokens: result.tokens.count)
                return .json(Completion(id: id, created: Clock.unixTime(), model: state.modelID,
                                        choices: [.init(message: .init(content: result.text), finish_reason: Self.finishReason(result.tokens, eos))],
                                        usage: usage))
            }
            let events = exchange.startStream(headers: [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
            let created = Clock.unixTime()
            func chunk(_ delta: Delta, finish: String? = nil, usage: Usage? = nil, choices: Bool = true) -> String {
                JSONBody.string(Chunk(id: id, created: created, model: state.modelID,
                                      choices: choices ? [.init(delta: delta, finish_reason: finish)] : [], usage: usage))
            }
            events.sendEvent(chunk(Delta(role: "assistant", content: "")))
            var text = TextStream(tokenizer: model.tokenizer)
            let result: GenerationResult
            do {
                result = try session.generate(image: image, prompt: prompt, parameters: parameters) { token in
                    if watcher.isGone { return false }
                    let piece = text.append(token)
                    // A failed write means the client has gone: stop generating.
                    return piece.isEmpty || events.sendEvent(chunk(Delta(content: piece)))
                }
            } catch {
                if watcher.isGone || events.failed { throw ModelRunner.ClientGone() }
                let message = (error as? RuntimeError) == .cancelled ? "cancelled: the server is shutting down" : "\(error)"
                events.sendEvent(JSONBody.string(HTTPResponse.ErrorBody(error: .init(message: message, type: "server_error", code: 500))))
                events.finish()
                exchange.keepAlive = false
                return nil
            }
            state.metrics.generation(tokens: result.tokens.count, timings: result.timings)
            // A client that hung up stopped the generation early: its reply is not complete.
            if events.failed || watcher.isGone { throw ModelRunner.ClientGone() }
            let rest = text.finish()
            if !rest.isEmpty { events.sendEvent(chunk(Delta(content: rest))) }
            events.sendEvent(chunk(Delta(), finish: Self.finishReason(result.tokens, eos)))
            if includeUsage {
                events.sendEvent(chunk(Delta(), usage: Usage(prompt_tokens: promptTokens, completion_tokens: result.tokens.count), choices: false))
            }
            events.sendEvent("[DONE]")
            events.finish()
            return nil
        }
    }

    static func finishReason(_ tokens: [Int], _ eos: [Int]) -> String {
        tokens.last.map { eos.contains($0) } == true ? "stop" : "length"
    }

    static func promptStyle(_ fields: JSONFields) throws(HTTPError) -> BLIP2Model.PromptStyle {
        guard let s = try fields.string("prompt_style") else { return .shortAnswer }
        guard let style = BLIP2Model.PromptStyle(rawValue: s) else { throw .badRequest("prompt_style must be \"short\" or \"answer\"") }
        return style
    }

    /// The image and the question from `messages`.
    static func input(_ messages: JSONNode?) throws(HTTPError) -> Input {
        guard case let .array(list)? = messages, !list.isEmpty else {
            throw .badRequest("messages must be a non-empty array of {role, content}")
        }
        var images: [String] = []
        var question = ""
        for message in list {
            guard case let .object(m) = message, let role = m["role"]?.string else {
                throw .badRequest("each message must be an object with a role")
            }
            guard role == "user" else { continue }
            var texts: [String] = []
            switch m["content"] {
            case let .string(s)?:
                texts.append(s)
            case let .array(parts)?:
                for part in parts {
                    guard let type = part["type"]?.string else { throw .badRequest("each content part needs a type") }
                    switch type {
                    case "text":
                        guard let t = part["text"]?.string else { throw .badRequest("a text part needs a text string") }
                        texts.append(t)
                    case "image_url":
                        // {"image_url": {"url": ...}}, or the older {"image_url": "..."}.
                        guard let url = part["image_url"]?["url"]?.string ?? part["image_url"]?.string else {
                            throw .badRequest("an image_url part needs image_url.url")
                        }
                        images.append(url)
                    default:
                        throw .badRequest("content parts of type \"\(type.prefix(40))\" are not supported (text, image_url)")
                    }
                }
            case nil, .null?:
                break
            default:
                throw .badRequest("a message's content must be a string or an array of parts")
            }
            question = texts.joined(separator: "\n")
        }
        guard let url = images.first else {
            throw .badRequest("no image: a user message needs an image_url part (a data: URI) to caption or ask about")
        }
        guard images.count == 1 else { throw .badRequest("\(images.count) images: send one image per request") }
        return Input(image: try RequestImage.bytes(fromURL: url), question: question)
    }

    // OpenAI's response shapes.
    struct Usage: Encodable {
        let prompt_tokens: Int
        let completion_tokens: Int
        var total_tokens: Int { prompt_tokens + completion_tokens }
        enum CodingKeys: CodingKey { case prompt_tokens, completion_tokens, total_tokens }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(prompt_tokens, forKey: .prompt_tokens)
            try c.encode(completion_tokens, forKey: .completion_tokens)
            try c.encode(total_tokens, forKey: .total_tokens)
        }
    }

    struct Message: Encodable { var role = "assistant"; let content: String }

    struct Completion: Encodable {
        struct Choice: Encodable { var index = 0; let message: Message; let finish_reason: String }
        let id: String
        var object = "chat.completion"
        let created: Int
        let model: String
        let choices: [Choice]
        let usage: Usage
    }

    struct Delta: Encodable {
        var role: String?
        var content: String?
    }

    struct Chunk: Encodable {
        struct Choice: Encodable {
            var index = 0
            let delta: Delta
            let finish_reason: String?
            enum CodingKeys: CodingKey { case index, delta, finish_reason }
            // finish_reason is null until the last chunk, as OpenAI sends it.
            func encode(to encoder: Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(index, forKey: .index)
                try c.encode(delta, forKey: .delta)
                try c.encode(finish_reason, forKey: .finish_reason)
            }
        }
        let id: String
        var object = "chat.completion.chunk"
        let created: Int
        let model: String
        let choices: [Choice]
        let usage: Usage?
    }
}
