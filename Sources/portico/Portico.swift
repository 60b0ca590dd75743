import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOHTTP1

/// `portico`: the README's walk-through and connection management from the command line, against
/// a running publisher and devportal. Errors go to standard error as one line, with the server's
/// message, and exit 1.
@main
struct Portico: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portico",
        abstract: "Publish WebSocket APIs, subscribe, get tokens and manage live connections on Portico.",
        discussion: """
            Sign in once per service; the CLI keeps a personal access token (never your password) in
            $XDG_CONFIG_HOME/portico/profiles.json, readable by you only.

              portico login publisher http://127.0.0.1:9080 --username admin
              portico apis create -f echo.json && portico apis publish <id>
              portico login devportal http://127.0.0.1:9081 --username dev
              portico apps create EchoClient && portico subscribe <api id> <app id> --plan Gold
              portico keys generate <app id> && TOKEN=$(portico token <app id>)
            """,
        subcommands: [
            Login.self, Logout.self, APIs.self, Plans.self, Apps.self, Subscribe.self, Keys.self, Token.self, Usage.self,
            Connections.self,
        ]
    )

    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            FileHandle.standardError.write(Data("portico: \(error.description)\n".utf8))
            Foundation.exit(1)
        } catch {
            exit(withError: error)
        }
    }
}

// MARK: Shared

extension OutputOptions {
    /// A client of `kind` as the profile's signed-in user.
    func client(_ kind: ServiceKind) throws -> ServiceClient {
        let profiles = try Profiles.load()
        let profile = profiles.profiles[profileName]
        guard let service = kind == .publisher ? profile?.publisher : profile?.devportal else {
            throw CLIError("not logged in to the \(kind.rawValue) (profile \(profileName)): run portico login \(kind.rawValue) URL --username NAME")
        }
        return ServiceClient(kind: kind, url: service.url, authorization: "Bearer \(service.token)")
    }
}

func json(_ object: [String: Any]) throws -> Data {
    try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
}

func member(_ data: Data, _ name: String) -> String? {
    ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?[name] as? String
}

/// A path segment or query value, percent-encoded.
func encoded(_ value: String) -> String {
    value.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? value
}

// MARK: Sign-in

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sign in to the publisher or the devportal and keep a personal access token.",
        discussion: "Example: echo \"$PASSWORD\" | portico login publisher http://127.0.0.1:9080 --username admin --password-stdin"
    )

    @Argument(help: "publisher or devportal") var service: String
    @Argument(help: "The service's URL, e.g. http://127.0.0.1:9080") var url: String
    @Option(help: "Your user name") var username: String
    @Flag(help: "Read the password from standard input (one line) instead of prompting") var passwordStdin = false
    @Option(help: "Days the token lives (1-365)") var days = 30
    @OptionGroup var options: OutputOptions

    func run() async throws {
        guard let kind = ServiceKind(rawValue: service) else { throw CLIError("'\(service)' is not publisher or devportal") }
        guard let root = URL(string: url), root.scheme == "http" || root.scheme == "https", root.host != nil else {
            throw CLIError("'\(url)' is not an http(s) URL")
        }
        let password: String
        if passwordStdin {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else { throw CLIError("no password on standard input") }
            password = line
        } else if isatty(STDIN_FILENO) == 1, let typed = getpass("Password for \(username): ") {
            password = String(cString: typed)
        } else {
            throw CLIError("standard input is not a terminal: use --password-stdin")
        }
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        let basic = "Basic " + Data("\(username):\(password)".utf8).base64EncodedString()
        let client = ServiceClient(kind: kind, url: base, authorization: basic)
        let host = ProcessInfo.processInfo.hostName
        let answer = try await client.send(
            .POST,
            "me/personal-access-tokens",
            body: try json(["name": "portico CLI on \(host)", "validityDays": days])
        )
        guard let token = member(answer, "token"), let id = member(answer, "id") else { throw CLIError("the \(kind.rawValue) answered no token") }
        var profiles = try Profiles.load()
        var profile = profiles.profiles[options.profileName] ?? Profiles.Profile()
        let service = Profiles.Service(url: base, user: username, token: token, tokenId: id)
        if kind == .publisher { profile.publisher = service } else { profile.devportal = service }
        profiles.profiles[options.profileName] = profile
        try profiles.save()
        FileHandle.standardError.write(Data("signed in to the \(kind.rawValue) at \(base) as \(username) (profile \(options.profileName))\n".utf8))
    }
}

struct Logout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Revoke the profile's tokens and forget them.",
        discussion: "Example: portico logout            (both services)\n         portico logout devportal"
    )

    @Argument(help: "publisher or devportal (default: both)") var service: String?
    @OptionGroup var options: OutputOptions

    func run() async throws {
        let kinds: [ServiceKind]
        if let service {
            guard let kind = ServiceKind(rawValue: service) else { throw CLIError("'\(service)' is not publisher or devportal") }
            kinds = [kind]
        } else {
            kinds = ServiceKind.allCases
        }
        var profiles = try Profiles.load()
        guard var profile = profiles.profiles[options.profileName] else { throw CLIError("no profile \(options.profileName)") }
        for kind in kinds {
            guard let signedIn = kind == .publisher ? profile.publisher : profile.devportal else { continue }
            let client = ServiceClient(kind: kind, url: signedIn.url, authorization: "Bearer \(signedIn.token)")
            // Already revoked or expired: forgotten all the same.
            _ = try? await client.send(.DELETE, "me/personal-access-tokens/\(signedIn.tokenId)")
            if kind == .publisher { profile.publisher = nil } else { profile.devportal = nil }
        }
        profiles.profiles[options.profileName] = profile
        try profiles.save()
    }
}

// MARK: The provider

struct APIs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apis",
        abstract: "Design APIs and run their lifecycle (publisher).",
        subcommands: [List.self, Get.self, Create.self, Import.self, Update.self, Delete.self, Publish.self, Lifecycle.self, Copy.self]
    )

    static let columns = ["id", "name", "version", "context", "lifeCycleStatus"]

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List APIs.", discussion: "Example: portico apis list --query echo")
        @Option(help: "Only APIs whose name contains this") var query: String?
        @OptionGroup var options: OutputOptions

        func run() async throws {
            let path = "apis?limit=1000" + (query.map { "&query=\(encoded($0))" } ?? "")
            options.print(try await options.client(.publisher).send(.GET, path), columns: APIs.columns)
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an API.", discussion: "Example: portico apis get <id>")
        @Argument var id: String
        @OptionGroup var options: OutputOptions

        func run() async throws { options.print(try await options.client(.publisher).send(.GET, "apis/\(encoded(id))")) }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API from a JSON file (the publisher API's body).",
            discussion: "Example: portico apis create -f echo.json"
        )
        @Option(name: .shortAndLong, help: "The API's JSON (- for standard input)") var file: String
        @OptionGroup var options: OutputOptions

        func run() async throws {
            options.print(try await options.client(.publisher).send(.POST, "apis", body: try read(file)), columns: APIs.columns)
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an API with routes from a Yandex API Gateway specification (YAML or JSON).",
            discussion: "Example: portico apis import -f spec.yaml --context /ws --version 1.0.0 --plans Gold"
        )
        @Option(name: .shortAndLong, help: "The specification (- for standard input)") var file: String
        @Option(help: "The API's context") var context: String
        @Option(help: "The API's version") var version: String
        @Option(help: "Business plans, comma-separated") var plans: String?
        @OptionGroup var options: OutputOptions

        func run() async throws {
            let path =
                "apis/import-openapi?context=\(encoded(context))&version=\(encoded(version))" + (plans.map { "&policies=\(encoded($0))" } ?? "")
            options.print(
                try await options.client(.publisher).send(.POST, path, body: try read(file), contentType: "application/yaml"),
                columns: APIs.columns
            )
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replace an API's design with a JSON file.",
            discussion: "Example: portico apis update <id> -f echo.json"
        )
        @Argument var id: String
        @Option(name: .shortAndLong, help: "The API's JSON (- for standard input)") var file: String
        @OptionGroup var options: OutputOptions

        func run() async throws {
            options.print(try await options.client(.publisher).send(.PUT, "apis/\(encoded(id))", body: try read(file)))
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an API.", discussion: "Example: portico apis delete <id>")
        @Argument var id: String
        @OptionGroup var options: OutputOptions

        func run() async throws { try await options.client(.publisher).send(.DELETE, "apis/\(encoded(id))") }
    }

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Publish an API.", discussion: "Example: portico apis publish <id>")
        @Argument var id: String
        @OptionGroup var options: OutputOptions

        func run() async throws { try await Lifecycle.change(id, "Publish", options) }
    }

    struct Lifecycle: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply a lifecycle action: Publish, Deploy as a Prototype, Demote to Created, Block, Re-Publish, Deprecate, Retire.",
            discussion: "Example: portico apis lifecycle <id> Deprecate"
        )
        @Argument var id: String
        @Argument var action: String
        @OptionGroup var options: OutputOptions

        func run() async throws { try await Self.change(id, action, options) }

        static func change(_ id: String, _ action: String, _ options: OutputOptions) async throws {
            let answer = try await options.client(.publisher).send(.POST, "apis/change-lifecycle?apiId=\(encoded(id))&action=\(encoded(action))")
            options.print(answer)
        }
    }

    struct Copy: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy an API to a new version.",
            discussion: "Example: portico apis copy <id> --version 2.0.0 --default"
        )
        @Argument var id: String
        @Option(help: "The new version") var version: String
        @Flag(help: "Make the copy the default version") var `default` = false
        @OptionGroup var options: OutputOptions

        func run() async throws {
            let path = "apis/copy-api?apiId=\(encoded(id))&newVersion=\(encoded(version))&defaultVersion=\(`default`)"
            options.print(try await options.client(.publisher).send(.POST, path), columns: APIs.columns)
        }
    }
}

/// A file's bytes, or standard input's for `-`.
func read(_ file: String) throws -> Data {
    if file == "-" { return FileHandle.standardInput.readDataToEndOfFile() }
    guard let data = FileManager.default.contents(atPath: file) else { throw CLIError("cannot read \(file)") }
    return data
}

struct Plans: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Business plans.", subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the business plans APIs may offer.",
            discussion: "Example: portico plans list"
        )
        @OptionGroup var options: OutputOptions

        func run() async throws {
            let answer = try await options.client(.publisher).send(.GET, "throttling-policies/streaming/subscription")
            options.print(answer, columns: ["name", "displayName", "requestCount", "timeUnit"])
        }
    }
}

// MARK: The developer

struct Apps: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apps",
        abstract: "Your applications (devportal).",
        subcommands: [List.self, Create.self, Delete.self]
    )

    static let columns = ["applicationId", "name", "throttlingPolicy", "subscriptionCount"]

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List your applications.", discussion: "Example: portico apps list")
        @OptionGroup var options: OutputOptions

        func run() async throws { options.print(try await options.client(.devportal).send(.GET, "applications?limit=1000"), columns: Apps.columns) }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an application.",
            discussion: "Example: portico apps create EchoClient --plan Unlimited"
        )
        @Argument var name: String
        @Option(help: "The application plan") var plan = "Unlimited"
        @OptionGroup var options: OutputOptions

        func run() async throws {
            let body = try json(["name": name, "throttlingPolicy": plan])
            options.print(try await options.client(.devportal).send(.POST, "applications", body: body), columns: Apps.columns)
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an application.", discussion: "Example: portico apps delete <id>")
        @Argument var id: String
        @OptionGroup var options: OutputOptions

        func run() async throws { try await options.client(.devportal).send(.DELETE, "applications/\(encoded(id))") }
    }
}

struct Subscribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Subscribe an application to an API under a plan.",
        discussion: "Example: portico subscribe <api id> <app id> --plan Gold"
    )
    @Argument(help: "The API's id") var api: String
    @Argument(help: "The application's id") var app: String
    @Option(help: "One of the API's plans") var plan: String
    @OptionGroup var options: OutputOptions

    func run() async throws {
        let body = try json(["apiId": api, "applicationId": app, "throttlingPolicy": plan])
        options.print(try await options.client(.devportal).send(.POST, "subscriptions", body: body))
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "An application's client keys.", subcommands: [Generate.self])

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an application's client keys; the CLI keeps them for `portico token`.",
            discussion: "Example: portico keys generate <app id> --type PRODUCTION"
        )
        @Argument var app: String
        @Option(help: "PRODUCTION or SANDBOX") var type = "PRODUCTION"
        @Option(help: "Seconds the first token lives (default: the devportal's)") var validity: Int?
        @OptionGroup var options: OutputOptions

        func run() async throws {
            var request: [String: Any] = ["keyType": type.uppercased(), "grantTypesToBeSupported": ["client_credentials"]]
            if let validity { request["validityTime"] = validity }
            let body = try json(request)
            let answer = try await options.client(.devportal).send(.POST, "applications/\(encoded(app))/generate-keys", body: body)
            guard let key = member(answer, "consumerKey"), let secret = member(answer, "consumerSecret") else {
                throw CLIError("the devportal answered no keys")
            }
            var profiles = try Profiles.load()
            profiles.profiles[options.profileName, default: Profiles.Profile()].keys["\(app)/\(type.uppercased())"] =
                Profiles.ClientKeys(consumerKey: key, consumerSecret: secret)
            try profiles.save()
            options.print(answer)
        }
    }
}

struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a new access token for an application (only the token, for $(…)).",
        discussion: "Example: TOKEN=$(portico token <app id>)"
    )
    @Argument var app: String
    @Option(help: "PRODUCTION or SANDBOX") var type = "PRODUCTION"
    @OptionGroup var options: OutputOptions

    func run() async throws {
        let devportal = try options.client(.devportal)
        guard let keys = try Profiles.load().profiles[options.profileName]?.keys["\(app)/\(type.uppercased())"] else {
            throw CLIError("no \(type.uppercased()) keys of \(app) in profile \(options.profileName): run portico keys generate \(app) first")
        }
        let client = ServiceClient(
            kind: .devportal,
            url: devportal.url,
            authorization: "Basic " + Data("\(keys.consumerKey):\(keys.consumerSecret)".utf8).base64EncodedString()
        )
        let answer = try await client.send(
            .POST,
            "/oauth2/token",
            body: Data("grant_type=client_credentials".utf8),
            contentType: "application/x-www-form-urlencoded"
        )
        guard let token = member(answer, "access_token") else { throw CLIError("the devportal answered no token") }
        print(token)
    }
}

struct Usage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Traffic over time of an API (publisher) or an application (devportal).",
        discussion: "Example: portico usage api <id> --granularity minute"
    )
    @Argument(help: "api or app") var kind: String
    @Argument var id: String
    @Option(help: "minute, hour or day") var granularity = "hour"
    @OptionGroup var options: OutputOptions

    func run() async throws {
        let answer: Data
        switch kind {
        case "api": answer = try await options.client(.publisher).send(.GET, "apis/\(encoded(id))/usage?granularity=\(encoded(granularity))")
        case "app": answer = try await options.client(.devportal).send(.GET, "applications/\(encoded(id))/usage?granularity=\(encoded(granularity))")
        default: throw CLIError("'\(kind)' is not api or app")
        }
        options.print(answer)
    }
}

// MARK: Live connections

struct Connections: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An API's live connections, on every gateway: list, read, message, close (publisher).",
        subcommands: [List.self, Get.self, Send.self, Disconnect.self]
    )

    static let columns = ["id", "applicationName", "clientAddress", "node", "connectedAt", "lastActiveAt"]

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List an API's open connections.",
            discussion: "Example: portico connections list <api id>"
        )
        @Argument var api: String
        @OptionGroup var options: OutputOptions

        func run() async throws {
            options.print(try await options.client(.publisher).send(.GET, "apis/\(encoded(api))/connections"), columns: Connections.columns)
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one open connection.",
            discussion: "Example: portico connections get <id> --api <api id>"
        )
        @Argument var id: String
        @Option(help: "The API's id") var api: String
        @OptionGroup var options: OutputOptions

        func run() async throws {
            let answer = try await options.client(.publisher).send(.GET, "apis/\(encoded(api))/connections")
            let list = ((try? JSONSerialization.jsonObject(with: answer)) as? [String: Any])?["list"] as? [[String: Any]] ?? []
            guard let connection = list.first(where: { ($0["id"] as? String)?.lowercased() == id.lowercased() }) else {
                throw CLIError("410 GoneException: no open connection \(id) on API \(api)")
            }
            options.print(try JSONSerialization.data(withJSONObject: connection))
        }
    }

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send messages to an open connection.",
            discussion: """
                Examples: portico connections send <id> --api <api id> --data 'hello'
                          tail -f events | portico connections send <id> --api <api id> --stdin   (one message per line)
                """
        )
        @Argument var id: String
        @Option(help: "The API's id") var api: String
        @Option(help: "The message") var data: String?
        @Option(help: "A file whose content is the message") var file: String?
        @Flag(help: "Send each line of standard input as a message") var stdin = false
        @Option(help: "TEXT or BINARY") var type = "TEXT"
        @OptionGroup var options: OutputOptions

        func validate() throws {
            guard [data != nil, file != nil, stdin].filter({ $0 }).count == 1 else {
                throw ValidationError("give exactly one of --data, --file and --stdin")
            }
            guard ["TEXT", "BINARY"].contains(type.uppercased()) else { throw ValidationError("--type is TEXT or BINARY") }
        }

        func run() async throws {
            let client = try options.client(.publisher)
            let contentType = type.uppercased() == "TEXT" ? "text/plain; charset=utf-8" : "application/octet-stream"
            let path = "apis/\(encoded(api))/connections/\(encoded(id))/messages"
            if stdin {
                while let line = readLine(strippingNewline: true) {
                    try await client.send(.POST, path, body: Data(line.utf8), contentType: contentType)
                }
            } else {
                let message = try data.map { Data($0.utf8) } ?? read(file!)
                try await client.send(.POST, path, body: message, contentType: contentType)
            }
        }
    }

    struct Disconnect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Close an open connection: the client gets 1000, or --code (4000-4999).",
            discussion: "Example: portico connections disconnect <id> --api <api id> --code 4000 --reason maintenance"
        )
        @Argument var id: String
        @Option(help: "The API's id") var api: String
        @Option(help: "1000 or 4000-4999") var code: Int?
        @Option(help: "At most 123 bytes") var reason: String?
        @OptionGroup var options: OutputOptions

        func run() async throws {
            var query: [String] = []
            if let code { query.append("code=\(code)") }
            if let reason { query.append("reason=\(encoded(reason))") }
            let path = "apis/\(encoded(api))/connections/\(encoded(id))" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
            try await options.client(.publisher).send(.DELETE, path)
        }
    }
}
