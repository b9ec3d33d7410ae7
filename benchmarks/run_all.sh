#!/bin/sh
# Run every benchmark in order, at 100k records (default) or 1M (`--million`), logging to $NEWSDESK_BENCH_DIR.
# Usage: benchmarks/run_all.sh [--million]     (from the checkout, with the venv's python on PATH or in .venv)
set -e
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
DIR=${NEWSDESK_BENCH_DIR:-/tmp/newsdesk-bench}
mkdir -p "$DIR"
TAG=${1:-100k}
$PY -m benchmarks.bench_ingest $1 --phases reindex,fts5 2>&1 | tee "$DIR/ingest-reindex-$TAG.log"
$PY -m benchmarks.bench_search $1 2>&1 | tee "$DIR/search-$TAG.log"
$PY -m benchmarks.arrays_vs_matchers $1 2>&1 | tee "$DIR/arrays-vs-matchers-$TAG.log"
$PY -m benchmarks.bench_cli $1 2>&1 | tee "$DIR/cli-$TAG.log"
$PY -m benchmarks.bench_ingest $1 --phases new,existing 2>&1 | tee "$DIR/ingest-add-$TAG.log"
