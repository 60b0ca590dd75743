#!/usr/bin/env bash
# `swift build`, as every make target and script of the project runs it.
#
# SwiftPM 6.3 passes each package's enabled traits to the compiler as -D flags in the order of a
# Set, which the random hash seed of every new process redraws. Whenever SwiftPM plans a build
# again (a release build after a debug one, `--build-tests` after a plain build), the modules of
# the packages with two traits or more (swift-protobuf, Hummingbird) get a new command line and are
# compiled again from scratch: a minute per switch on two cores
# (swiftlang/swift-package-manager#10525). Deterministic hashing in SwiftPM's own process keeps the
# order. It is set for the build alone: the services must never run with it, as it would open their
# dictionaries to hash flooding.
set -euo pipefail
SWIFT_DETERMINISTIC_HASHING=1 exec swift build "$@"
