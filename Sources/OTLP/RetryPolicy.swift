/// Exponential backoff with jitter for retryable export failures.
///
/// Delay before retry *n* (1-based) is `initialBackoff * multiplier^(n-1)`, capped at
/// `maxBackoff`, then scaled by a random factor in `1 ± jitter`. A server's `Retry-After`
/// replaces the computed delay (capped at `maxRetryAfter`).
public struct RetryPolicy: Sendable, Equatable {
    /// Total tries per batch, the first included.
    public var maxAttempts: Int
    public var initialBackoff: Double
    public var maxBackoff: Double
    public var multiplier: Double
    /// Fraction of the delay added or removed at random, so many agents do not retry in step.
    public var jitter: Double
    /// Upper bound on a server-supplied `Retry-After`, in seconds.
    public var maxRetryAfter: Double

    public init(maxAttempts: Int = 6, initialBackoff: Double = 0.5, maxBackoff: Double = 5,
                multiplier: Double = 2, jitter: Double = 0.2, maxRetryAfter: Double = 30) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.multiplier = multiplier
        self.jitter = jitter
        self.maxRetryAfter = maxRetryAfter
    }

    /// Seconds to wait before retry number `retry` (1 = the first retry).
    public func delay(beforeRetry retry: Int, retryAfter: Double?) -> Double {
        if let retryAfter { return min(max(0, retryAfter), maxRetryAfter) }
        var base = initialBackoff
        for _ in 1..<max(1, retry) { base = min(base * multiplier, maxBackoff) }
        base = min(base, maxBackoff)
        let factor = jitter > 0 ? Double.random(in: (1 - jitter)...(1 + jitter)) : 1
        return max(0, base * factor)
    }
}
