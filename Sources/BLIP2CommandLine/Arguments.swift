/// A command's options, each declared once on the property that holds it:
///
///     struct Options: ParsableArguments {
///         var positional: [String] = []
///         @Option("--beams", as: .int(1...16)) var beams: Int?
///         @Option("--threads", "-t", as: .int(1...1024)) var threads = 0
///         @Flag("--json") var json: Bool
///     }
///
/// The parser finds the declarations by reflection, so the field, its flags, its kind and
/// range, and the message for a bad value are that one line. Help pages stay hand-written
/// (their layout groups options); `Tool` checks that they name every option.
public protocol ParsableArguments {
    init()
    var positional: [String] { get set }
    /// Whether an argument that starts with "-" is positional all the same.
    func isPositional(_ argument: String) -> Bool
}

extension ParsableArguments {
    public func isPositional(_ argument: String) -> Bool { false }

    /// Options may come anywhere; `--` ends them, and `-` (standard input) is positional.
    public init(parsing arguments: [String]) throws {
        self.init()
        // Traps on a name declared twice.
        let byName = Dictionary(uniqueKeysWithValues: Self.declared(in: self).flatMap { o in o.names.map { ($0, o) } })
        var rest = arguments[...]
        var onlyPositional = false
        while let a = rest.popFirst() {
            if onlyPositional || !a.hasPrefix("-") || a == "-" || isPositional(a) {
                positional.append(a)
            } else if a == "--" {
                onlyPositional = true
            } else if let option = byName[a] {
                try option.read(a, from: &rest)
            } else {
                throw UsageError("unknown option \(a)")
            }
        }
    }

    static func declared(in value: Self) -> [any DeclaredOption] {
        Mirror(reflecting: value).children.compactMap { $0.value as? any DeclaredOption }
    }

    /// The long names of the options `usage` does not mention.
    static func undocumented(in usage: String) -> [String] {
        declared(in: Self()).map(\.names[0]).filter { !usage.contains($0) }
    }
}

// Classes, so that the parser can set a value through the copy that Mirror hands it.
protocol DeclaredOption: AnyObject {
    var names: [String] { get }
    func read(_ flag: String, from rest: inout ArraySlice<String>) throws
}

/// An option without a value: false unless given.
@propertyWrapper
public final class Flag: DeclaredOption {
    public var wrappedValue = false
    let names: [String]

    public init(_ name: String, _ aliases: String...) { names = [name] + aliases }

    func read(_ flag: String, from rest: inout ArraySlice<String>) { wrappedValue = true }
}

/// An option that takes the next argument as its value. Given twice, the last one counts,
/// unless the property is an array: then each one is appended.
@propertyWrapper
public final class Option<Value>: DeclaredOption {
    public var wrappedValue: Value
    let names: [String]
    private let update: (inout Value, _ flag: String, _ text: String) throws -> Void

    /// Nil when absent.
    public init<T>(_ name: String, _ aliases: String..., as kind: OptionValue<T>) where Value == T? {
        (wrappedValue, names) = (nil, [name] + aliases)
        update = { $0 = try kind.read($1, $2) }
    }

    public init(wrappedValue: Value, _ name: String, _ aliases: String..., as kind: OptionValue<Value>) {
        (self.wrappedValue, names) = (wrappedValue, [name] + aliases)
        update = { $0 = try kind.read($1, $2) }
    }

    public init<T>(wrappedValue: Value, _ name: String, _ aliases: String..., as kind: OptionValue<T>) where Value == [T] {
        (self.wrappedValue, names) = (wrappedValue, [name] + aliases)
        update = { $0.append(try kind.read($1, $2)) }
    }

    func read(_ flag: String, from rest: inout ArraySlice<String>) throws {
        guard let text = rest.popFirst() else { throw UsageError("\(flag) needs a value") }
        try update(&wrappedValue, flag, text)
    }
}

/// How an option's text becomes its value, and what the user is told when it does not.
public struct OptionValue<T> {
    let parse: (String) -> T?
    let complaint: (_ flag: String, _ text: String) -> String

    /// Otherwise "FLAG wants WHAT, got TEXT".
    public static func wants(_ what: String, _ parse: @escaping (String) -> T?) -> Self {
        Self(parse: parse) { "\($0) wants \(what), got \($1)" }
    }

    /// Otherwise "unknown FLAG TEXT (NAMES)".
    public static func oneOf(_ names: String, _ parse: @escaping (String) -> T?) -> Self {
        Self(parse: parse) { "unknown \($0) \($1) (\(names))" }
    }

    func read(_ flag: String, _ text: String) throws -> T {
        guard let value = parse(text) else { throw UsageError(complaint(flag, text)) }
        return value
    }
}

extension OptionValue where T == String {
    public static var text: Self { .wants("text") { $0 } }
}

extension OptionValue where T == Int {
    public static func int(_ range: ClosedRange<Int>, _ what: String? = nil) -> Self {
        .wants(what ?? "a whole number from \(range.lowerBound) to \(range.upperBound)") { Int($0).flatMap { range.contains($0) ? $0 : nil } }
    }
}

extension OptionValue where T == Float {
    /// A finite number that `allowed` accepts.
    public static func float(_ what: String = "a number", where allowed: @escaping (Float) -> Bool = { _ in true }) -> Self {
        .wants(what) { Float($0).flatMap { $0.isFinite && allowed($0) ? $0 : nil } }
    }
}
