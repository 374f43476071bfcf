/// The library's version: `blip2_version` in the C interface, the shared library's soname and
/// the pkg-config file read it from here (Tools/install.sh reads this line).
public enum LibraryVersion {
    public static let current = "0.7.0"
}
