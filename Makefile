# Portico — the two commands are `make run` and `make test`.
.PHONY: run test lint format build migrate install conformance bench profile scale clean-data help

PREFIX ?= /opt/portico
CONFIG ?= release
# Extra flags for make install's build (the container image: --static-swift-stdlib).
SWIFT_BUILD_FLAGS ?=

help:
	@echo "make run    build and start everything (private PostgreSQL under .data/ unless DATABASE_URL is set)"
	@echo "make test   build and run every test against a throwaway PostgreSQL cluster"
	@echo "make lint   check the formatting of every Swift file (.swift-format; CI runs it)"
	@echo "make format format every Swift file in place"
	@echo "make build  build the services"
	@echo "make migrate apply pending migrations to DATABASE_URL"
	@echo "make install PREFIX=/opt/portico   install release binaries and migrations"
	@echo "make conformance  run the Autobahn|Testsuite through the gateway (minutes; not part of make test)"
	@echo "make bench  the gateway against the backend alone, nginx and HAProxy; writes docs/PERFORMANCE.md"
	@echo "make profile  where the gateway's CPU goes under one bench load (PROFILE_SCENARIO=echo64|echo16k|handshakes)"
	@echo "make scale  live changes at a large catalog's size: first load, change-to-close latency, CPU per change, memory"

run:
	@scripts/run.sh

test:
	@scripts/test.sh

lint:
	swift format lint --strict --recursive --parallel Package.swift Sources Tests

format:
	swift format format --in-place --recursive --parallel Package.swift Sources Tests

conformance:
	@scripts/conformance.sh

bench:
	@scripts/bench.sh

profile:
	@scripts/profile.sh

scale:
	@scripts/scale.sh

build:
	@scripts/prerequisites.sh zlib1g-dev
	scripts/swift-build.sh

migrate: build
	"$$(swift build --show-bin-path)/publisher" migrate

clean-data:
	@scripts/postgres.sh stop .data/postgres || true
	rm -rf .data

install:
	@scripts/prerequisites.sh zlib1g-dev
	scripts/swift-build.sh -c $(CONFIG) $(SWIFT_BUILD_FLAGS)
	install -d "$(PREFIX)/bin" "$(PREFIX)/share/portico/migrations"
	for service in publisher devportal gateway echo-backend portico; do \
		install -m 755 "$$(swift build -c $(CONFIG) $(SWIFT_BUILD_FLAGS) --show-bin-path)/$$service" "$(PREFIX)/bin/" || exit 1; \
		resources="$$(swift build -c $(CONFIG) $(SWIFT_BUILD_FLAGS) --show-bin-path)/portico_$$service.resources"; \
		if [ -d "$$resources" ]; then cp -R "$$resources" "$(PREFIX)/bin/" || exit 1; fi; \
	done
	# The portals' shared templates, stylesheet and scripts.
	cp -R "$$(swift build -c $(CONFIG) $(SWIFT_BUILD_FLAGS) --show-bin-path)/portico_PorticoCore.resources" "$(PREFIX)/bin/"
	install -m 644 migrations/*.sql "$(PREFIX)/share/portico/migrations/"
