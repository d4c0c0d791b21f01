#!/usr/bin/env bash
# The whole test suite: static checks, then every package's tests, the root
# end-to-end tests included (they mount the real FUSE file system, make real
# cgroups and run real processes under real seccomp filters, so run as
# root; as another user they skip with a message).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== go vet"
go vet ./...
GOARCH=arm64 go vet ./...
echo "== go test"
go test -count=1 -timeout 20m ./...
