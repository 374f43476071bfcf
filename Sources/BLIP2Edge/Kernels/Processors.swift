import CKernels

public enum Processors {
    /// The CPUs this process may run on (taskset and container CPU sets count), at least 1:
    /// the default thread count of the tools.
    public static var available: Int { Int(ck_cpu_count()) }
}
