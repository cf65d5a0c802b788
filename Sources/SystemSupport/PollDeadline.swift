#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How waiting for a file descriptor ended.
public enum PollOutcome: Equatable, Sendable {
    /// The descriptor is ready for the requested events (or has an error or hang-up to report).
    case ready
    /// `deadline` passed first.
    case timedOut
    /// `shouldStop` said so.
    case stopped
    /// `poll(2)` itself failed.
    case failed(Errno)
}

/// Waits with `poll(2)` until `fd` is ready for `events`, `deadline`
/// (`monotonicSeconds()`) passes, or `shouldStop` returns true. Polls in slices
/// of at most 0.1 s so a stop request is noticed promptly.
public func waitForDescriptor(_ fd: Int32, events: Int16, deadline: Double,
                              shouldStop: () -> Bool = { false }) -> PollOutcome {
    while true {
        if shouldStop() { return .stopped }
        let left = deadline - monotonicSeconds()
        if left <= 0 { return .timedOut }
        var p = pollfd(fd: fd, events: events, revents: 0)
        let rc = poll(&p, 1, Int32(min(left, 0.1) * 1000) + 1)
        if rc > 0 { return .ready }
        if rc < 0 && errno != EINTR { return .failed(.current) }
    }
}
