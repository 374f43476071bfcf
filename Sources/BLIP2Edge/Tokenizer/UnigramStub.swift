// TEMPORARY: stands in for the Unigram tokenizer being written on branch t5tok; removed at the merge.
public struct UnigramVocabulary: Sendable, Equatable {
    public var pieces: [String] = []
    public init(directory: String) throws { throw ConversionError.missingSidecar(path: directory + "/tokenizer.json") }
    public init(metadata: GGUFMetadata, path: String) throws(ModelFileError) { throw .missingTokenizer(path: path, reason: "stub") }
    public var metadata: GGUFMetadata { GGUFMetadata() }
}
public struct UnigramTokenizer: Sendable {
    public let vocabulary: UnigramVocabulary
    public init(vocabulary: UnigramVocabulary) { self.vocabulary = vocabulary }
    public func encode(_ text: String, addEndOfSequence: Bool = true) -> [Int] { [] }
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) -> String { "" }
    public func piece(_ id: Int) -> String? { nil }
}
