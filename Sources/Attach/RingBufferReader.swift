import CLibBPF
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Reads a BPF ring buffer map (`ring_buffer__new` / `ring_buffer__poll`) on
/// its own thread and hands each record, copied, to `handler` in order.
///
/// The handler runs on the reader thread: keep it short (decode and enqueue).
/// `stop()` ends the poll loop (it polls with a timeout, so within
/// `pollTimeoutMs`), drains what is left, joins the thread and frees the
/// ring buffer. Stop a reader before detaching its `BPFObject`.
public final class RingBufferReader: @unchecked Sendable {
    /// Receives one ring-buffer record (a `ut_*_event`, header first).
    public typealias Handler = @Sendable ([UInt8]) -> Void

    /// The BPF programs wake the reader only when the ring buffer holds a
    /// batch (common.bpf.h, ut_wakeup_flags); this poll timeout bounds how long
    /// a record can wait for its batch.
    public static let defaultPollTimeoutMs: Int32 = 5

    /// How long one `ring_buffer__poll` waits, in milliseconds.
    public let pollTimeoutMs: Int32
    /// Keeps the map (and its fd) alive while we read it.
    private let owner: AnyObject & Sendable
    private let name: String
    private let box: HandlerBox
    private let ring: OpaquePointer
    private let stopping = Atomic<Bool>(false)
    private let state = Mutex<State>(.idle)
    private let finished = DispatchSemaphore(value: 0)
    /// The first error `ring_buffer__poll` returned (other than EINTR), if any.
    private let pollError = Mutex<AttachError?>(nil)

    private enum State { case idle, running, stopped }

    /// Prepares to read the ring buffer every probe family shares.
    public convenience init(shared: SharedMaps, pollTimeoutMs: Int32 = RingBufferReader.defaultPollTimeoutMs, handler: @escaping Handler) throws(AttachError) {
        try self.init(fd: shared.eventsFD, owner: shared, name: "ut_events", pollTimeoutMs: pollTimeoutMs, handler: handler)
    }

    private init(fd: Int32, owner: AnyObject & Sendable, name: String, pollTimeoutMs: Int32, handler: @escaping Handler) throws(AttachError) {
        self.owner = owner
        self.name = name
        self.pollTimeoutMs = pollTimeoutMs
        box = HandlerBox(handler)
        let ctx = Unmanaged.passUnretained(box).toOpaque()
        guard let ring = ring_buffer__new(fd, ringBufferSample, ctx, nil) else {
            throw AttachError.from(errno: errno, operation: "ring_buffer__new(\(name))")
        }
        self.ring = ring
    }

    deinit {
        stop()
        ring_buffer__free(ring)
    }

    /// Starts the reader thread; a second call does nothing.
    public func start() {
        let shouldStart = state.withLock { s -> Bool in
            guard case .idle = s else { return false }
            s = .running
            return true
        }
        guard shouldStart else { return }
        let thread = Thread { [self] in run() }
        thread.name = "uprobe-trace ring buffer (\(name))"
        thread.start()
    }

    /// Stops polling, delivers the records still in the buffer, and joins the thread. Idempotent.
    public func stop() {
        let wasRunning = state.withLock { s -> Bool in
            defer { s = .stopped }
            if case .running = s { return true }
            return false
        }
        stopping.store(true, ordering: .releasing)
        if wasRunning { finished.wait() }
    }

    /// Delivers whatever is in the buffer now, on the calling thread (for callers
    /// that do not start the thread, and tests). Returns the number of records.
    @discardableResult
    public func consume() -> Int {
        Int(max(0, ring_buffer__consume(ring)))
    }

    /// Records delivered to the handler so far (read from any thread).
    public var received: UInt64 { box.received.load(ordering: .relaxed) }

    /// The first failure of `ring_buffer__poll`, after which the thread stopped.
    public var error: AttachError? { pollError.withLock { $0 } }

    private func run() {
        defer { finished.signal() }
        while !stopping.load(ordering: .acquiring) {
            let rc = ring_buffer__poll(ring, pollTimeoutMs)
            if rc < 0 && rc != -EINTR {
                pollError.withLock { $0 = AttachError.from(errno: -rc, operation: "ring_buffer__poll") }
                return
            }
            // Woken by the timeout, not the kernel: take the records that were
            // written without a wakeup (poll reads only rings epoll reported).
            if rc == 0 { _ = ring_buffer__consume(ring) }
        }
        _ = ring_buffer__consume(ring)
    }
}

/// The Swift closure behind the C callback's `ctx` pointer.
private final class HandlerBox: Sendable {
    let handler: RingBufferReader.Handler
    let received = Atomic<UInt64>(0)
    init(_ handler: @escaping RingBufferReader.Handler) { self.handler = handler }
}

/// `ring_buffer_sample_fn`: capture-free, finds the handler through `ctx`.
private let ringBufferSample: ring_buffer_sample_fn = { ctx, data, size in
    guard let ctx, let data else { return 0 }
    let box = Unmanaged<HandlerBox>.fromOpaque(ctx).takeUnretainedValue()
    box.received.add(1, ordering: .relaxed)
    box.handler([UInt8](UnsafeRawBufferPointer(start: data, count: size)))
    return 0
}
