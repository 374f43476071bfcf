#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The model is used in place from a mapping: if the file is truncated or rewritten while we
// run, touching a page past its new end raises SIGBUS, on whichever thread touched it (often a
// kernel worker). Say so in one line instead of dying with a bus error.
//
// This lives outside main.swift on purpose: top-level code there is main-actor isolated, and a
// handler declared there checks its isolation when it runs on a worker thread, which traps.
// Only async-signal-safe calls: write(2) of a static string, then _exit(2).
private func reportBusError(_: Int32) {
    let message: StaticString = "blip2-edge: the model file was truncated or changed while in use (SIGBUS); replace model files by renaming a new file into place\n"
    _ = write(2, message.utf8Start, message.utf8CodeUnitCount)
    _exit(1)
}

func installBusErrorHandler() {
    signal(SIGBUS, reportBusError)
}
