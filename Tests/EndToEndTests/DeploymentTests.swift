import Foundation
import NIOHTTP1
import PorticoCore
import PorticoTestSupport
import Testing
import Yams

/// What `deploy/` promises, checked against the real services: the Kubernetes manifests render
/// (`kubectl kustomize`) into objects the Kubernetes schemas accept, every service starts with only
/// the environment its manifest gives it, as its pod's user (not root), and answers its probes on
/// the port its manifest names (the gateway and the echo backend a WebSocket handshake too), the
/// gateway's grace period covers its drain, and the container image installs every library the
/// binaries link. The image itself cannot be built here (no base image can be pulled).
@Suite(.serialized) struct DeploymentTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test(arguments: ["base", "overlays/dev"])
    func theManifestsRenderIntoValidKubernetesObjects(_ folder: String) async throws {
        let rendered = try await Manifests.render(folder)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("portico-manifests-\(UUID()).yaml")
        try rendered.yaml.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let validator = try #require(
            ProcessInfo.processInfo.environment["PORTICO_DEPLOY_VALIDATOR"],
            "make test sets PORTICO_DEPLOY_VALIDATOR (scripts/deploy-prerequisites.sh)"
        )
        let check = try await CommandRun.run(
            executable: URL(fileURLWithPath: validator),
            ["--strict", "--quiet", "-k", Manifests.kubernetesVersion, file.path],
            environment: [:]
        )
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        let kinds = Set(rendered.objects.map { "\($0.kind)/\($0.name)" })
        let expected = [
            "Deployment/portico-publisher", "Deployment/portico-devportal", "Deployment/portico-gateway", "Job/portico-migrate",
            "Service/portico-gateway", "Service/portico-gateway-internal", "PodDisruptionBudget/portico-gateway",
            "HorizontalPodAutoscaler/portico-gateway",
        ]
        #expect(Set(expected).isSubset(of: kinds), "\(kinds.sorted())")
        let gatewayPorts = Set(
            rendered.objects.filter { $0.kind == "Service" && $0.name.hasPrefix("portico-gateway") }
                .flatMap { ($0.value("spec", "ports") as? [Any] ?? []).compactMap { Manifests.value($0, "name") as? String } }
        )
        #expect(gatewayPorts == ["ws", "wss", "admin", "management"])
    }

    /// SIGTERM's drain (docs/gateway.md) fits in the grace period: the preStop wait, the drain, the
    /// hand-over and the closing handshakes, in both the base and the dev overlay.
    @Test(arguments: ["base", "overlays/dev"])
    func theGatewaysGracePeriodCoversItsDrain(_ folder: String) async throws {
        let rendered = try await Manifests.render(folder)
        let gateway = try #require(rendered.objects.first { $0.kind == "Deployment" && $0.name == "portico-gateway" })
        let pod = try #require(gateway.value("spec", "template", "spec") as? [String: Any])
        let container = try #require((pod["containers"] as? [Any])?.first)
        let environment = try rendered.environment(of: container)
        let drain = try #require(Int(environment["GATEWAY_DRAIN_SECONDS"] ?? ""))
        let preStop = try #require(Manifests.value(container, "lifecycle", "preStop", "exec", "command") as? [String])
        let wait = try #require(Int(preStop.last ?? ""), "\(preStop)")
        let grace = try #require(pod["terminationGracePeriodSeconds"] as? Int)
        #expect(wait + drain + 1 + 6 <= grace, "preStop \(wait) s + drain \(drain) s + hand-over 1 s + closing 6 s > \(grace) s")
        #expect(Manifests.value(gateway.raw, "spec", "strategy", "rollingUpdate", "maxUnavailable") as? Int == 0)
        // wss's files are where the TLS secret is mounted.
        if let certificate = environment["GATEWAY_TLS_CERT_FILE"], let key = environment["GATEWAY_TLS_KEY_FILE"] {
            let mounts = (Manifests.value(container, "volumeMounts") as? [Any] ?? []).compactMap { Manifests.value($0, "mountPath") as? String }
            for file in [certificate, key] {
                #expect(mounts.contains { file.hasPrefix($0 + "/") }, "\(file) is on no mounted volume: \(mounts)")
            }
        }
    }

    /// Each Deployment's and the Job's container, run as its manifest says: exactly its
    /// environment (the ConfigMap, the Secret, fieldRefs; only the database and the port numbers
    /// changed, to the test's), its command. The job migrates an empty database; the services wait
    /// for that schema, then answer their startup, readiness and liveness probes on the port the
    /// probe names, whose number is the one the service's setting gives it.
    @Test func eachServiceStartsWithOnlyItsManifestsEnvironmentAndAnswersItsProbes() async throws {
        let rendered = try await Manifests.render("overlays/dev")
        let documented = try Manifests.documentedSettings()
        // Where binaries go that the pods' user cannot reach where they were built (`asPodUser`).
        let podBin = FileManager.default.temporaryDirectory.appendingPathComponent("portico-pod-bin-\(UUID())")
        defer { try? FileManager.default.removeItem(at: podBin) }
        try await TestDatabase.withEmptyDatabase { url in
            var ports: [String: String] = [:]
            func adapted(_ environment: [String: String]) -> [String: String] {
                var result = environment
                result["DATABASE_URL"] = "postgres://\(url.username)@\(url.host):\(url.port)/\(url.database)"
                for (key, value) in environment where key.hasSuffix("_PORT") {
                    if ports[value] == nil { ports[value] = "\(ServiceProcess.freePort())" }
                    result[key] = ports[value]
                }
                return result
            }
            let job = try #require(rendered.objects.first { $0.kind == "Job" && $0.name == "portico-migrate" })
            let jobContainer = try #require((job.value("spec", "template", "spec", "containers") as? [Any])?.first)
            let jobEnvironment = try rendered.environment(of: jobContainer)
            #expect(Set(jobEnvironment.keys).subtracting(documented).isEmpty, "undocumented: \(Set(jobEnvironment.keys).subtracting(documented))")
            let command = try Manifests.binary(of: jobContainer)
            let migrated = try await CommandRun.run(executable: command.executable, command.arguments, environment: adapted(jobEnvironment))
            #expect(migrated.status == 0, "\(migrated.stdout)\(migrated.stderr)")

            var started: [(name: String, process: ServiceProcess, probes: [(path: String, port: String)])] = []
            defer { for service in started { service.process.terminate() } }
            for name in ["portico-publisher", "portico-devportal", "portico-gateway"] {
                let deployment = try #require(rendered.objects.first { $0.kind == "Deployment" && $0.name == name })
                let container = try #require((deployment.value("spec", "template", "spec", "containers") as? [Any])?.first)
                let environment = try rendered.environment(of: container)
                #expect(
                    Set(environment.keys).subtracting(documented).isEmpty,
                    "\(name): undocumented \(Set(environment.keys).subtracting(documented))"
                )
                #expect(environment["PORTICO_MIGRATE_AT_START"] == "false", "\(name) leaves migrating to the job")
                #expect(!environment.values.contains(Manifests.unresolved), "\(name): the overlay provides every Secret")
                // Every port the container declares is the value of one of the service's settings.
                var containerPorts: [String: String] = [:]
                for port in Manifests.value(container, "ports") as? [Any] ?? [] {
                    let number = try #require(Manifests.value(port, "containerPort") as? Int)
                    let portName = try #require(Manifests.value(port, "name") as? String)
                    #expect(
                        environment.contains { $0.key.hasSuffix("_PORT") && $0.value == "\(number)" },
                        "\(name): port \(portName) (\(number)) is no setting's value"
                    )
                    containerPorts[portName] = "\(number)"
                }
                var probes: [(path: String, port: String)] = []
                for kind in ["startupProbe", "readinessProbe", "livenessProbe"] {
                    let path = try #require(Manifests.value(container, kind, "httpGet", "path") as? String, "\(name): \(kind)")
                    let portName = try #require(Manifests.value(container, kind, "httpGet", "port") as? String)
                    probes.append((path, try #require(containerPorts[portName], "\(name): \(kind) names port \(portName)")))
                }
                let (executable, arguments) = try await Manifests.asPodUser(try Manifests.binary(of: container), of: deployment, copyingTo: podBin)
                let process = try ServiceProcess(executable: executable, arguments, environment: adapted(environment))
                started.append((name, process, probes))
            }
            for service in started {
                for probe in service.probes {
                    let target = "http://127.0.0.1:\(ports[probe.port]!)\(probe.path)"
                    try await service.process.waitUntilReady(target, seconds: 60)
                }
            }
            // The gateway's WebSocket port answers a handshake as the pod's user: an API that is not
            // there is 404, not a connection closed before any answer.
            let gateway = try #require(rendered.objects.first { $0.kind == "Deployment" && $0.name == "portico-gateway" })
            let gatewayContainer = try #require((gateway.value("spec", "template", "spec", "containers") as? [Any])?.first)
            let gatewayPortSetting = try #require(try rendered.environment(of: gatewayContainer)["GATEWAY_PORT"])
            let wsPort = try #require(ports[gatewayPortSetting])
            let refused = try await RawHandshake.perform("ws://127.0.0.1:\(wsPort)", path: "/nothing/1.0.0", headers: [])
            #expect(refused.status == .notFound)

            // The overlay's echo backend, as its pod's user, completes a handshake.
            let echo = try #require(rendered.objects.first { $0.kind == "Deployment" && $0.name == "portico-echo-backend" })
            let echoContainer = try #require((echo.value("spec", "template", "spec", "containers") as? [Any])?.first)
            let (echoExecutable, podArguments) = try await Manifests.asPodUser(try Manifests.binary(of: echoContainer), of: echo, copyingTo: podBin)
            let echoPort = ServiceProcess.freePort()
            let echoArguments = podArguments.map { $0 == "0.0.0.0" ? "127.0.0.1" : $0 == "9100" ? "\(echoPort)" : $0 }
            let echoProcess = try ServiceProcess(executable: echoExecutable, echoArguments, environment: [:])
            defer { echoProcess.terminate() }
            var accepted: HTTPResponseHead?
            #expect(
                await eventually(within: 30) {
                    accepted = try? await RawHandshake.perform("ws://127.0.0.1:\(echoPort)", path: "/", headers: [])
                    return accepted != nil
                },
                "\(echoProcess.output)"
            )
            #expect(accepted?.status == .switchingProtocols)
        }
    }

    /// The runtime stage installs the Debian package of every library the binaries link (`ldd`),
    /// except the Swift runtime, which the image's build links in (`--static-swift-stdlib`); it
    /// runs as a user that is not root and bakes in no secret.
    @Test func theImageInstallsEveryLibraryTheBinariesLink() async throws {
        let containerfile = try String(
            contentsOf: Self.repository.appendingPathComponent("deploy/container/Containerfile"),
            encoding: .utf8
        )
        #expect(containerfile.contains("--static-swift-stdlib"))
        let runtime = try #require(containerfile.components(separatedBy: "\nFROM ").last)
        let installed = Manifests.aptPackages(in: runtime)
        #expect(installed.contains("ca-certificates"))
        var needed: [String: String] = [:]
        for binary in ["publisher", "devportal", "gateway", "echo-backend", "portico"] {
            let path = ServiceProcess.binDirectory.appendingPathComponent(binary).path
            let ldd = try await CommandRun.run(executable: URL(fileURLWithPath: "/usr/bin/ldd"), [path], environment: [:])
            #expect(ldd.status == 0, "\(ldd.stderr)")
            #expect(!ldd.stdout.contains("not found"), "\(binary): \(ldd.stdout)")
            for library in Manifests.linkedLibraries(ldd.stdout) where !library.contains("/lib/swift/") {
                // dpkg knows a file by the path its package installed, before or after /usr merged.
                let resolved = URL(fileURLWithPath: library).resolvingSymlinksInPath().path
                var package: String?
                for path in [library, resolved, resolved.replacingOccurrences(of: "/usr/lib/", with: "/lib/")] where package == nil {
                    let owner = try await CommandRun.run(executable: URL(fileURLWithPath: "/usr/bin/dpkg"), ["-S", path], environment: [:])
                    if owner.status == 0 { package = owner.stdout.split(separator: ":").first.map(String.init) }
                }
                guard let package else {
                    Issue.record("\(binary): no Debian package owns \(library)")
                    continue
                }
                needed[package] = "\(binary) → \(library)"
            }
        }
        #expect(!needed.isEmpty)
        for (package, reason) in needed.sorted(by: { $0.key < $1.key }) {
            #expect(installed.contains(package), "the runtime stage does not install \(package) (\(reason))")
        }
        #expect(runtime.contains("USER 10001"), "the image runs as portico, not root")
        for secret in ["PORTICO_SECRET_KEY", "PORTICO_ADMIN_PASSWORD", "DATABASE_URL"] {
            #expect(!runtime.contains("ENV \(secret)"), "\(secret) is baked into the image")
        }
        let exposed = try #require(runtime.split(separator: "\n").first { $0.hasPrefix("EXPOSE") })
        for port in ["9080", "9081", "9099", "8099", "9098", "9097"] {
            #expect(exposed.split(separator: " ").contains(Substring(port)), "EXPOSE misses \(port)")
        }
    }
}

/// One rendered Kubernetes object.
struct KubernetesObject: @unchecked Sendable {
    let raw: [String: Any]
    var kind: String { raw["kind"] as? String ?? "" }
    var name: String { Manifests.value(raw, "metadata", "name") as? String ?? "" }
    func value(_ path: String...) -> Any? { Manifests.value(raw, path) }
}

struct RenderedManifests: @unchecked Sendable {
    let yaml: String
    let objects: [KubernetesObject]

    /// A container's environment as Kubernetes gives it: its ConfigMaps, then its `env` entries
    /// (values, Secret keys, field references).
    func environment(of container: Any) throws -> [String: String] {
        var environment: [String: String] = [:]
        for source in Manifests.value(container, "envFrom") as? [Any] ?? [] {
            let name = try #require(Manifests.value(source, "configMapRef", "name") as? String)
            let map = try #require(objects.first { $0.kind == "ConfigMap" && $0.name == name }, "no ConfigMap \(name)")
            for (key, value) in map.value("data") as? [String: Any] ?? [:] { environment[key] = "\(value)" }
        }
        for entry in Manifests.value(container, "env") as? [Any] ?? [] {
            let key = try #require(Manifests.value(entry, "name") as? String)
            if let value = Manifests.value(entry, "value") as? String {
                environment[key] = value
            } else if let secretName = Manifests.value(entry, "valueFrom", "secretKeyRef", "name") as? String {
                let secretKey = try #require(Manifests.value(entry, "valueFrom", "secretKeyRef", "key") as? String)
                // The base names Secrets that only an overlay (or the operator) provides.
                guard let secret = objects.first(where: { $0.kind == "Secret" && $0.name == secretName }) else {
                    environment[key] = Manifests.unresolved
                    continue
                }
                let encoded = try #require(secret.value("data", secretKey) as? String, "Secret \(secretName) has no \(secretKey)")
                // kustomize folds long base64 values over several lines.
                let decoded = try #require(Data(base64Encoded: encoded.filter { !$0.isWhitespace }), "\(secretName).\(secretKey)")
                environment[key] = String(decoding: decoded, as: UTF8.self)
            } else if Manifests.value(entry, "valueFrom", "fieldRef") != nil {
                environment[key] = "pod-\(key.lowercased())"
            } else {
                Issue.record("\(key): a value this test does not know how to resolve")
            }
        }
        return environment
    }
}

enum Manifests {
    /// The Kubernetes version the manifests are validated against (the oldest supported release
    /// we aim at; `autoscaling/v2`, `policy/v1` and `batch/v1` are all GA there).
    static let kubernetesVersion = "1.31.0"
    /// The value of a Secret's key that the rendered objects do not contain.
    static let unresolved = "(a Secret this rendering does not contain)"

    static func render(_ folder: String) async throws -> RenderedManifests {
        let path = DeploymentTests.repository.appendingPathComponent("deploy/kubernetes/\(folder)").path
        let run = try await CommandRun.run(executable: URL(fileURLWithPath: "/usr/bin/env"), ["kubectl", "kustomize", path], environment: [:])
        try #require(run.status == 0, "kubectl kustomize \(folder): \(run.stderr)")
        let objects = try Yams.load_all(yaml: run.stdout).compactMap { $0 as? [String: Any] }.map(KubernetesObject.init(raw:))
        return RenderedManifests(yaml: run.stdout, objects: objects)
    }

    static func value(_ root: Any?, _ path: String...) -> Any? { value(root, path) }

    static func value(_ root: Any?, _ path: [String]) -> Any? {
        var current = root
        for key in path { current = (current as? [String: Any])?[key] }
        return current
    }

    /// `/opt/portico/bin/NAME args…` (where the image installs the binaries) → the built NAME.
    static func binary(of container: Any) throws -> (executable: URL, arguments: [String]) {
        let command = try #require(value(container, "command") as? [String])
        let path = try #require(command.first)
        try #require(path.hasPrefix("/opt/portico/bin/"), "\(path) is not where the image installs the binaries")
        let executable = ServiceProcess.binDirectory.appendingPathComponent(URL(fileURLWithPath: path).lastPathComponent)
        try #require(FileManager.default.isExecutableFile(atPath: executable.path), "no binary \(executable.path)")
        return (executable, Array(command.dropFirst()))
    }

    /// The command run as the pod's `runAsUser`/`runAsGroup` (`setpriv`) when the tests run as root,
    /// as the image runs it: what works only as root (a socket option that needs CAP_NET_ADMIN, a
    /// file only root may write) fails here too. Binaries the pod's user cannot reach where they
    /// were built are copied, with their resource bundles, to `folder`, which it can.
    static func asPodUser(
        _ command: (executable: URL, arguments: [String]),
        of deployment: KubernetesObject,
        copyingTo folder: URL
    ) async throws -> (URL, [String]) {
        guard getuid() == 0 else { return command }
        let user = try #require(deployment.value("spec", "template", "spec", "securityContext", "runAsUser") as? Int)
        let group = deployment.value("spec", "template", "spec", "securityContext", "runAsGroup") as? Int ?? user
        let identity = ["--reuid=\(user)", "--regid=\(group)", "--clear-groups"]
        var executable = command.executable
        let reachable = try await CommandRun.run(
            executable: URL(fileURLWithPath: "/usr/bin/setpriv"),
            identity + ["/usr/bin/test", "-x", executable.path],
            environment: [:]
        )
        if reachable.status != 0 {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            let built = executable.deletingLastPathComponent()
            for name in try FileManager.default.contentsOfDirectory(atPath: built.path) where name.hasSuffix(".resources") {
                if FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path) { continue }
                try FileManager.default.copyItem(at: built.appendingPathComponent(name), to: folder.appendingPathComponent(name))
            }
            try FileManager.default.copyItem(at: executable, to: folder.appendingPathComponent(executable.lastPathComponent))
            executable = folder.appendingPathComponent(executable.lastPathComponent)
        }
        return (URL(fileURLWithPath: "/usr/bin/setpriv"), identity + [executable.path] + command.arguments)
    }

    /// Every key `config/portico.env.example` documents (set or commented out).
    static func documentedSettings() throws -> Set<String> {
        let text = try String(contentsOf: DeploymentTests.repository.appendingPathComponent("config/portico.env.example"), encoding: .utf8)
        var keys = Set<String>()
        for line in text.split(separator: "\n") {
            let body = line.hasPrefix("# ") ? line.dropFirst(2) : line[...]
            guard let equals = body.firstIndex(of: "="), body.first?.isUppercase == true else { continue }
            let key = body[..<equals]
            if key.allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" }) { keys.insert(String(key)) }
        }
        return keys
    }

    /// The packages an `apt-get install` in `stage` names.
    static func aptPackages(in stage: String) -> Set<String> {
        let joined = stage.replacingOccurrences(of: "\\\n", with: " ")
        var packages = Set<String>()
        for line in joined.split(separator: "\n") where line.contains("apt-get install") {
            let words = line.components(separatedBy: "apt-get install").last?.components(separatedBy: "&&").first ?? ""
            for word in words.split(whereSeparator: { $0 == " " || $0 == "\t" }) where !word.hasPrefix("-") {
                packages.insert(String(word))
            }
        }
        return packages
    }

    /// The absolute paths `ldd` resolved.
    static func linkedLibraries(_ output: String) -> [String] {
        output.split(separator: "\n").compactMap { line in
            guard let arrow = line.range(of: "=> ") else { return nil }
            let path = line[arrow.upperBound...].split(separator: " ").first.map(String.init) ?? ""
            return path.hasPrefix("/") ? path : nil
        }
    }
}
