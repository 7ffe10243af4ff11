# Sourced by the bin/mq* wrappers: sets RMQ to the rmq binary.
# Order: $RMQ_BIN, <repo>/target/release/rmq, <repo>/target/debug/rmq, rmq on PATH.
_rmq_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -n "${RMQ_BIN:-}" ]]; then
    RMQ="$RMQ_BIN"
elif [[ -x "$_rmq_here/../target/release/rmq" ]]; then
    RMQ="$_rmq_here/../target/release/rmq"
elif [[ -x "$_rmq_here/../target/debug/rmq" ]]; then
    RMQ="$_rmq_here/../target/debug/rmq"
elif command -v rmq >/dev/null 2>&1; then
    RMQ="$(command -v rmq)"
else
    echo "rmq binary not found: set RMQ_BIN, build it (cargo build --release -p rmq-cli), or put rmq on PATH" >&2
    exit 1
fi
unset _rmq_here
