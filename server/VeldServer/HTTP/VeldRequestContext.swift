import Hummingbird
import VeldProtocol

/// Per-request state: Hummingbird's core storage plus the authenticated device token.
public struct VeldRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `TokenAuthenticator` on authenticated routes.
    public var token: DeviceToken?
    /// Set by `AccessLogMiddleware` on routes that read or write client data.
    public var access: AccessNotes?

    public init(source: Source) {
        coreContext = .init(source: source)
        token = nil
        access = nil
    }

    public var maxUploadSize: Int { SyncLimits.maxBodyBytes }

    /// The token of an authenticated route (the authenticator guarantees it).
    func requireToken() throws -> DeviceToken {
        guard let token else {
            throw Problem(type: .unauthenticated, status: 401, detail: "no device token; send Authorization: Bearer TOKEN")
        }
        return token
    }
}
