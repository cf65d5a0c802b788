import TraceEvents
import Tracing
/// The span contexts of Go HTTP requests, so that the spans of one request
/// form one trace: a server request takes its caller's trace (an incoming
/// `traceparent`, or the traced client in another process that sent it); a
/// client request made for a server request (on its goroutine, or on one it
/// created) becomes that server span's child.
///
/// Events arrive in the order the kernel reserved them in the one ring buffer:
/// a server request's head record (at ServeHTTP entry) before the events of
/// anything its handler does, and before its own span event (at the RET). So a
/// context is made the first time a request is named — by its head record, by
/// a child, or by its own event — and kept for children that finish later
/// (a goroutine may outlive the handler). Memory is bounded: the oldest of
/// `capacity` contexts is forgotten first.
public struct GoTraceContexts: Sendable {
    public let sampler: Sampler
    public let capacity: Int
    private var contexts: [GoRequestRef: SpanContext] = [:]
    private var order: [GoRequestRef] = []
    private var oldest = 0

    public init(sampler: Sampler = .always, capacity: Int = 16384) {
        self.sampler = sampler
        self.capacity = max(1, capacity)
    }

    /// Contexts currently remembered.
    public var count: Int { contexts.count }

    /// A server request began: its context from the traced client that sent it,
    /// else from the request head's `traceparent`, else a new trace.
    public mutating func begin(_ head: GoHeadEvent) {
        guard contexts[head.request] == nil else { return }
        let context: SpanContext
        if let client = head.parent {
            context = resolve(client, parent: head.grandparent).child()
        } else {
            let (traceparent, tracestate) = head.traceHeaders
            context = .incoming(traceparent: traceparent, tracestate: tracestate, sampler: sampler)
        }
        remember(head.request, context)
    }

    /// The context of a finished request's span.
    public mutating func context(for e: GoHTTPEvent) -> SpanContext {
        if let known = contexts[e.ref] { return known }
        switch e.role {
        case .server:
            // No head record (lost, or a pre-join event): still join what the event names.
            let context = e.parent.map { resolve($0, parent: e.grandparent).child() } ?? .root(sampler)
            remember(e.ref, context)
            return context
        case .client:
            return e.parent.map { resolve($0, parent: nil).child() } ?? .root(sampler)
        }
    }

    /// The context of `request`, made now (as `parent`'s child, or a root) if it has none yet.
    private mutating func resolve(_ request: GoRequestRef, parent: GoRequestRef?) -> SpanContext {
        if let known = contexts[request] { return known }
        let context = parent.map { resolve($0, parent: nil).child() } ?? .root(sampler)
        remember(request, context)
        return context
    }

    private mutating func remember(_ request: GoRequestRef, _ context: SpanContext) {
        if order.count < capacity {
            order.append(request)
        } else {
            contexts[order[oldest]] = nil
            order[oldest] = request
            oldest = (oldest + 1) % capacity
        }
        contexts[request] = context
    }
}
