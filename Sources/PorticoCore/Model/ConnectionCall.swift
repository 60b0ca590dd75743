import Foundation

/// A connection management call carried to the gateway that holds the connection
/// (`ConnectionCallStore`): what to do, to which connection, on whose authority.
package struct ConnectionCall: Sendable, Equatable {
    package enum Action: String, Sendable {
        case get, send, disconnect
    }

    package var id = ""
    /// The gateway holding the connection, and the one that was asked.
    package var targetNode: String
    package var originNode: String
    package var connectionID: String
    package var action: Action
    /// The API shape the call was made in (`aws`, `yandex`): the answer's shape.
    package var shape: String
    /// The connection key that authorized it, and its API.
    package var keyID: String
    package var apiID: String
    package var message: [UInt8]? = nil
    package var binary = false
    package var closeCode: Int? = nil
    package var closeReason: String? = nil

    package init(
        targetNode: String,
        originNode: String,
        connectionID: String,
        action: Action,
        shape: String,
        keyID: String,
        apiID: String
    ) {
        self.targetNode = targetNode
        self.originNode = originNode
        self.connectionID = connectionID
        self.action = action
        self.shape = shape
        self.keyID = keyID
        self.apiID = apiID
    }

    /// The largest message a call may push (AWS's limit).
    package static let maxMessageBytes = 128 * 1024
    /// The longest close reason (RFC 6455: 125 bytes of payload, 2 of them the code).
    package static let maxReasonBytes = 123

    /// Whether a pushed body is a text message: its `Content-Type` is `text/*` or
    /// `application/json` (parameters aside) and it is UTF-8; otherwise it is sent as binary.
    package static func isText(contentType: String?, body: some Collection<UInt8>) -> Bool {
        let type = contentType?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
        guard type.hasPrefix("text/") || type == "application/json" else { return false }
        return String(validating: body, as: UTF8.self) != nil
    }

    /// A close code a caller may ask for: 1000, or one of the application's own, 4000–4999.
    package static func isAllowedCloseCode(_ code: Int) -> Bool {
        code == 1000 || (4000...4999).contains(code)
    }

    /// The holder's answer: the HTTP status and the JSON body (empty for none).
    package struct Answer: Sendable, Equatable {
        package let status: Int
        package let body: String

        package init(status: Int, body: String) {
            self.status = status
            self.body = body
        }
    }

    /// What `portico_connection_calls` carries: a call placed for `node`, or an answer for it.
    package struct Signal: Codable, Sendable, Equatable {
        package enum Kind: String, Codable, Sendable { case call, answer }
        package let kind: Kind
        package let id: String
        package let node: String

        package init(kind: Kind, id: String, node: String) {
            self.kind = kind
            self.id = id
            self.node = node
        }
    }
}
