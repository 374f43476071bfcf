/// A configuration file we cannot use, with the file and the field named.
public enum ConfigError: Error, Equatable, CustomStringConvertible {
    case invalid(file: String, reason: String)
    case unsupported(file: String, reason: String)

    public var description: String {
        switch self {
        case let .invalid(file, reason): "\(file): \(reason)"
        case let .unsupported(file, reason): "\(file): unsupported model: \(reason)"
        }
    }
}
