# Portico — the two commands are `make run` and `make test`.
.PHONY: run test build migrate clean-data help

help:
	@echo "make run    build and start everything (private PostgreSQL under .data/ unless DATABASE_URL is set)"
	@echo "make test   build and run every test against a throwaway PostgreSQL cluster"
	@echo "make build  build the services"
	@echo "make migrate apply pending migrations to DATABASE_URL"

run:
	@scripts/run.sh

test:
	@scripts/test.sh

build:
	swift build

migrate: build
	"$$(swift build --show-bin-path)/publisher" migrate

clean-data:
	@scripts/postgres.sh stop .data/postgres || true
	rm -rf .data
