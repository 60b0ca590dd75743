import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import PorticoCore
import WebSocketWire

/// Client TLS contexts for wss backends, shared by every connection. A context per CA file is
/// remade when the file's modification time changes, so a rotated bundle takes effect without a
/// restart; a file that cannot be read makes the handshake fail with 502, naming the file.
final class BackendTLSContexts: Sendable {
    private struct Entry {
        let modified: Date?
        let context: NIOSSLContext
    }

    private let system: Result<NIOSSLContext, Backend.Failure> = Result {
        try NIOSSLContext(configuration: .makeClientConfiguration())
    }.mapError { .unreachable("TLS is unavailable: \($0)") }
    private let byFile = NIOLockedValueBox<[String: Entry]>([:])

    func context(caFile: String?) -> Result<NIOSSLContext, Backend.Failure> {
        guard let caFile else { return system }
        let modified = (try? FileManager.default.attributesOfItem(atPath: caFile))?[.modificationDate] as? Date
        if let entry = byFile.withLockedValue({ $0[caFile] }), entry.modified == modified {
            return .success(entry.context)
        }
        do {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            let context = try NIOSSLContext(configuration: configuration)
            byFile.withLockedValue { $0[caFile] = Entry(modified: modified, context: context) }
            return .success(context)
        } catch {
            return .failure(.unreachable("the API's CA file '\(caFile)' cannot be used: \(error)"))
        }
    }
}
