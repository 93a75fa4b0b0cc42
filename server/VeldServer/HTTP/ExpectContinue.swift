import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// Answers `Expect: 100-continue` (RFC 9110 §10.1.1) with `100 Continue` as soon as the
/// request's head has arrived, so a client that waits for it before sending its body (curl
/// and libcurl do, for any body over a kilobyte) does not sit out its timeout (a second, in
/// curl) on every push. The head goes on without the expectation: the server reads the
/// body in any case, and refuses what it must only after it has read it.
///
/// Answers go out in the order of the requests (RFC 9112 §9.3.2): when a client has sent
/// requests ahead (pipelining), the `100 Continue` of a later one waits until every answer
/// before it has ended. (HTTP/1.0 requests cannot be told apart here, after the codec
/// that drops the version; HTTP/1.0 clients do not send the expectation.)
final class ExpectContinueHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Request heads read, and final answers ended, on this connection.
    private var requests = 0
    private var answered = 0
    /// Requests whose `100 Continue` waits for the answers before them (in order).
    private var waiting: [Int] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        requests += 1
        if let expectation = head.headerFields[.expect], expectation.lowercased() == "100-continue" {
            head.headerFields[.expect] = nil
            if answered == requests - 1 {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
            } else {
                waiting.append(requests)
            }
        }
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        guard case .end = unwrapOutboundIn(data) else { return }
        answered += 1
        // The next request's turn: its `100 Continue` goes now, if it asked for one.
        while let next = waiting.first, next <= answered + 1 {
            waiting.removeFirst()
            if next == answered + 1 { context.write(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil) }
        }
    }
}
