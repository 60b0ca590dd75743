import Foundation
import Hummingbird
import Mustache

/// The portals' HTML: Mustache templates (`{{ }}` escapes everything user-supplied; the templates
/// never use the unescaped `{{{ }}}`), the shared ones of `Web/Templates` (layout, sign-in, error)
/// and the portal's own, which include its navigation as the partial `nav`.
package struct PageRenderer: Sendable {
    let library: MustacheLibrary
    let portal: WebSession.Portal
    /// What every page of this portal shows, whoever reads it (the devportal: whether sign-up is on).
    let constants: [String: any Sendable]

    /// Loads the shared templates and every `.mustache` file in `directory` (the portal's own).
    package init(portal: WebSession.Portal, directory: URL, constants: [String: any Sendable] = [:]) throws {
        self.portal = portal
        self.constants = constants
        var library = MustacheLibrary()
        for folder in [Self.sharedTemplates, directory] {
            let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".mustache") }
            for name in names.sorted() {
                let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
                try library.register(text, named: String(name.dropLast(".mustache".count)))
            }
        }
        library.register(try MustacheTemplate(string: ""), named: "none")
        self.library = library
    }

    static var sharedTemplates: URL {
        Bundle.module.resourceURL!.appendingPathComponent("Templates")
    }

    /// `template` rendered with `data`, plus what every page shows: the portal, the signed-in user
    /// and their roles, and the CSRF token its forms carry.
    package func render(
        _ template: String,
        _ data: [String: Any],
        context: PorticoRequestContext,
        status: HTTPResponse.Status = .ok
    ) throws -> Response {
        var values = data
        values.merge(constants) { own, _ in own }
        values["portal"] = "/\(portal.rawValue)"
        values["isPublisherPortal"] = portal == .publisher
        values["csrf"] = context.page?.csrfToken ?? ""
        if let user = context.page?.session?.user {
            values["signedIn"] =
                [
                    "username": user.username,
                    "isAdmin": user.may(.admin),
                    "isCreator": user.may(.creator),
                    "isPublisher": user.may(.publisher),
                    "isSubscriber": user.may(.subscriber),
                ] as [String: Any]
        }
        guard let html = library.render(values, withTemplate: template) else {
            throw APIError(.internalServerError, "Internal Server Error", "The page template '\(template)' is missing")
        }
        return Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: html))
        )
    }
}

/// The portals' stylesheet and scripts (`Web/Assets`), read once: plain files, no build step.
package enum PortalAssets {
    struct Asset: Sendable {
        let contentType: String
        let bytes: ByteBuffer
    }

    static let all: [String: Asset] = {
        let folder = Bundle.module.resourceURL!.appendingPathComponent("Assets")
        var assets: [String: Asset] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] {
            let type: String
            switch name.split(separator: ".").last {
            case "css": type = "text/css; charset=utf-8"
            case "js": type = "text/javascript; charset=utf-8"
            case "svg": type = "image/svg+xml"
            default: continue
            }
            guard let data = try? Data(contentsOf: folder.appendingPathComponent(name)) else { continue }
            assets[name] = Asset(contentType: type, bytes: ByteBuffer(bytes: data))
        }
        return assets
    }()

    static func named(_ name: String) -> Asset? { all[name] }
}
