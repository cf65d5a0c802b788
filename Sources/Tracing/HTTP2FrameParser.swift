/// One HTTP/2 frame (RFC 9113 section 4) as `HTTP2FrameParser` found it.
public struct HTTP2Frame: Sendable, Equatable {
    public enum Kind: UInt8, Sendable {
        case data = 0, headers = 1, priority = 2, rstStream = 3, settings = 4, pushPromise = 5, ping = 6, goAway = 7,
             windowUpdate = 8, continuation = 9
    }

    public static let endStream: UInt8 = 0x1
    public static let ack: UInt8 = 0x1
    public static let endHeaders: UInt8 = 0x4
    public static let padded: UInt8 = 0x8
    public static let priorityFlag: UInt8 = 0x20

    public var type: UInt8
    public var flags: UInt8
    public var stream: UInt32
    /// Length from the frame header.
    public var length: Int
    /// The payload, for the frames whose payload is used (HEADERS,
    /// CONTINUATION, PUSH_PROMISE, RST_STREAM, GOAWAY); empty for the others.
    public var payload: [UInt8]
    /// Part of a used payload was not captured (or was too long to keep).
    public var truncated: Bool

    public var kind: Kind? { Kind(rawValue: type) }
    public func has(_ flag: UInt8) -> Bool { flags & flag != 0 }
}

/// An incremental HTTP/2 frame parser for one direction of one connection:
/// feed it the plaintext in order, split anywhere, with the count of bytes
/// that followed but were not captured. DATA and other payloads are counted
/// through, never stored; a frame header that falls in uncaptured bytes
/// loses the frame boundaries, and the parser then ignores the rest
/// (`isLost`).
public struct HTTP2FrameParser: Sendable {
    /// The client connection preface (RFC 9113 section 3.4).
    public static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    /// Longest payload stored (a HEADERS or CONTINUATION fragment).
    public static let maxStoredPayload = 64 * 1024

    private enum State: Sendable {
        case preface(matched: Int)
        case header
        case payload(remaining: Int)
        case lost
    }

    private var state: State
    private var header: [UInt8] = []
    private var frame: HTTP2Frame?
    private var stores = false

    private var prefaceOptional = false

    /// `expectPreface`: this is the client's side of the connection from its
    /// start; `prefaceOptional`: the side is not known, frames may come first.
    public init(expectPreface: Bool, prefaceOptional: Bool = false) {
        state = expectPreface || prefaceOptional ? .preface(matched: 0) : .header
        self.prefaceOptional = prefaceOptional && !expectPreface
    }

    /// Whether `bytes` starts with a SETTINGS frame (not an ACK): how a
    /// server's side of a connection starts (RFC 9113 section 3.4).
    public static func startsWithSettings(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 9 && bytes[3] == 4 && bytes[4] & 1 == 0 && bytes[5..<9].allSatisfy { $0 == 0 }
            && (Int(bytes[0]) << 16 | Int(bytes[1]) << 8 | Int(bytes[2])) % 6 == 0
    }

    public var isLost: Bool {
        if case .lost = state { return true }
        return false
    }

    /// True at a frame boundary (nothing of a frame pending).
    public var isAtFrameStart: Bool {
        if case .header = state { return header.isEmpty }
        return false
    }

    /// Whether `bytes` (one call's plaintext, `missing` bytes uncaptured after
    /// it) is a run of whole HTTP/2 frames: how a tracer that joined a running
    /// connection tells HTTP/2 from HTTP/1 bodies. Each frame header must be
    /// valid, no longer than the default maximum frame size (16384), and the
    /// last frame must end with the call's bytes.
    public static func plausibleFrames(_ bytes: [UInt8], missing: Int = 0) -> Bool {
        var i = 0
        var frames = 0
        while i + 9 <= bytes.count {
            let length = Int(bytes[i]) << 16 | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2])
            let type = bytes[i + 3]
            guard type <= 9, length <= 16384, validStream(type: type, stream: streamID(bytes, at: i + 5)) else { return false }
            i += 9 + length
            frames += 1
        }
        return frames > 0 && (i == bytes.count || (missing > 0 && i > bytes.count))
    }

    /// Parses the next bytes; `missing` uncaptured bytes followed them.
    public mutating func feed(_ bytes: [UInt8], missing: Int = 0) -> [HTTP2Frame] {
        var frames: [HTTP2Frame] = []
        var i = 0
        while i < bytes.count {
            switch state {
            case .lost:
                return frames
            case .preface(let matched):
                let n = min(Self.preface.count - matched, bytes.count - i)
                guard bytes[i..<i + n].elementsEqual(Self.preface[matched..<matched + n]) else {
                    // The server's side starts with frames (its SETTINGS), the client's with the preface.
                    if matched == 0 && prefaceOptional {
                        state = .header
                        continue
                    }
                    state = .lost
                    return frames
                }
                i += n
                state = matched + n == Self.preface.count ? .header : .preface(matched: matched + n)
            case .header:
                let n = min(9 - header.count, bytes.count - i)
                header += bytes[i..<i + n]
                i += n
                if header.count == 9 { startFrame(&frames) }
            case .payload(let remaining):
                let n = min(remaining, bytes.count - i)
                if stores, frame!.payload.count + n <= Self.maxStoredPayload {
                    frame!.payload += bytes[i..<i + n]
                } else if stores {
                    frame!.truncated = true
                }
                i += n
                if n == remaining { finishFrame(&frames) } else { state = .payload(remaining: remaining - n) }
            }
        }
        if missing > 0 { skip(missing, &frames) }
        return frames
    }

    // MARK: Private

    private static func streamID<C: Collection<UInt8>>(_ b: C, at s: C.Index) -> UInt32 where C.Index == Int {
        (UInt32(b[s]) << 24 | UInt32(b[s + 1]) << 16 | UInt32(b[s + 2]) << 8 | UInt32(b[s + 3])) & 0x7FFF_FFFF
    }

    /// Frames that belong to a stream have a stream id, connection frames none.
    private static func validStream(type: UInt8, stream: UInt32) -> Bool {
        switch type {
        case 0, 1, 2, 3, 5, 9: return stream != 0
        case 4, 6, 7: return stream == 0
        default: return true
        }
    }

    private mutating func startFrame(_ frames: inout [HTTP2Frame]) {
        let length = Int(header[0]) << 16 | Int(header[1]) << 8 | Int(header[2])
        let type = header[3]
        let flags = header[4]
        let stream = Self.streamID(header, at: 5)
        header.removeAll(keepingCapacity: true)
        guard Self.validStream(type: type, stream: stream) else {
            state = .lost
            return
        }
        stores = [1, 3, 5, 7, 9].contains(type)
        frame = HTTP2Frame(type: type, flags: flags, stream: stream, length: length, payload: [], truncated: false)
        if length == 0 { finishFrame(&frames) } else { state = .payload(remaining: length) }
    }

    private mutating func finishFrame(_ frames: inout [HTTP2Frame]) {
        if let f = frame { frames.append(f) }
        frame = nil
        state = .header
    }

    /// Skips `n` uncaptured bytes: fine inside a payload, else the boundaries are lost.
    private mutating func skip(_ n: Int, _ frames: inout [HTTP2Frame]) {
        switch state {
        case .payload(let remaining) where n <= remaining:
            if stores { frame!.truncated = true }
            if n == remaining { finishFrame(&frames) } else { state = .payload(remaining: remaining - n) }
        case .lost:
            break
        default:
            state = .lost
            frame = nil
        }
    }
}
