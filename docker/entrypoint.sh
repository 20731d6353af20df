#!/bin/sh
# entrypoint.sh - the petri image's entry point: `agent` (default) runs petri-agent,
# `coordinator` runs `petri coordinator`, `health` is the HEALTHCHECK; anything else
# is executed as given (e.g. `petri members`). Settings come from PETRI_* variables.
set -eu

RUN_DIR=/run/petri

die() {
    echo "petri-entrypoint: $*" >&2
    exit 2
}

# The daemons refuse a missing or malformed key too; this names the variable.
check_key() {
    for a in "$@"; do
        case $a in -c | --config | --insecure) return 0 ;; esac
    done
    if [ -n "${PETRI_GOSSIP_KEYRING_FILE:-}" ]; then
        [ -r "$PETRI_GOSSIP_KEYRING_FILE" ] ||
            die "PETRI_GOSSIP_KEYRING_FILE ([gossip] keyring_file): cannot read $PETRI_GOSSIP_KEYRING_FILE"
        return 0
    fi
    [ -n "${PETRI_GOSSIP_KEY:-}" ] ||
        die "PETRI_GOSSIP_KEY ([gossip] key) is not set: every member needs the cluster key (make one with \`petri keygen\`; docker/rig env writes docker/.env)"
    n=$(printf '%s' "$PETRI_GOSSIP_KEY" | base64 -d 2>/dev/null | wc -c) || n=0
    [ "$n" -eq 32 ] ||
        die "PETRI_GOSSIP_KEY ([gossip] key): not a base64 32-byte key (make one with \`petri keygen\`)"
}

role=${1:-agent}
[ $# -gt 0 ] && shift
case $role in
agent)
    check_key "$@"
    echo agent >"$RUN_DIR/role" 2>/dev/null || true
    exec petri-agent "$@"
    ;;
coordinator)
    check_key "$@"
    [ -n "${PETRI_HTTP_TOKEN:-}" ] ||
        echo "petri-entrypoint: PETRI_HTTP_TOKEN ([http] token) is not set: the API is read-only" >&2
    # the API must listen on the container's interface to be published; the port
    # mapping decides who reaches it (compose.yml: the host's loopback only)
    export PETRI_HTTP_BIND="${PETRI_HTTP_BIND:-0.0.0.0:7951}"
    echo coordinator >"$RUN_DIR/role" 2>/dev/null || true
    exec petri coordinator "$@"
    ;;
health)
    case $(cat "$RUN_DIR/role" 2>/dev/null || echo none) in
    agent) exec petri-agent status >/dev/null ;;
    coordinator) exec petri members --json >/dev/null ;;
    *) echo "no petri daemon in this container" >&2; exit 1 ;;
    esac
    ;;
*)
    exec "$role" "$@"
    ;;
esac
