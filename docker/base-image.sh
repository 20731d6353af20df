#!/bin/sh
# base-image.sh - the Debian bookworm base image for docker/Dockerfile: pulls it
# from a registry, or builds it locally (debootstrap + docker import) from this
# machine's own apt sources and proxy when no registry can be reached.
#
#   docker/base-image.sh [IMAGE]      ensure IMAGE exists; print the image to use
#   docker/base-image.sh --sources    print the host's bookworm apt sources (one-line form)
#   docker/base-image.sh --proxy      print the host's apt HTTP proxy (empty if none)
#
# IMAGE defaults to debian:bookworm-slim. When it is missing and cannot be
# pulled, petri-base:bookworm is built instead (as root: installs debootstrap
# with apt-get if missing) and its name is printed on stdout; messages go to
# stderr. No mirror is hard-coded: the archive address comes from
# /etc/apt/sources.list, /etc/apt/sources.list.d/*.list and *.sources, the
# proxy from Acquire::http::Proxy (apt-config) or http_proxy.
set -eu

SUITE=bookworm
LOCAL_IMAGE=petri-base:$SUITE

say() { echo "base-image: $*" >&2; }

# The host's deb entries for $SUITE, $SUITE-updates and $SUITE-security, one
# per line: "deb URI SUITE COMPONENTS...". Options such as [signed-by=...] are
# dropped: the image trusts the Debian archive keys of its own keyring.
apt_sources() {
    {
        for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
            [ -r "$f" ] || continue
            sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && NF >= 4 {print}'
        done
        for f in /etc/apt/sources.list.d/*.sources; do
            [ -r "$f" ] || continue
            # deb822 stanzas: Types, URIs, Suites, Components, Enabled
            awk '
                function flush() {
                    if (types ~ /(^| )deb( |$)/ && enabled != "no" && uris != "" && suites != "") {
                        nu = split(uris, U, " "); ns = split(suites, S, " ")
                        for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++)
                            print "deb " U[i] " " S[j] " " comps
                    }
                    types = uris = suites = comps = ""; enabled = "yes"
                }
                BEGIN { enabled = "yes" }
                /^[ \t]*#/ { next }
                /^[ \t]*$/ { flush(); next }
                {
                    line = $0; key = tolower(line); sub(/:.*/, "", key)
                    val = line; sub(/^[^:]*:[ \t]*/, "", val); gsub(/[ \t]+/, " ", val)
                    if (key == "types") types = val
                    else if (key == "uris") uris = val
                    else if (key == "suites") suites = val
                    else if (key == "components") comps = val
                    else if (key == "enabled") enabled = tolower(val)
                }
                END { flush() }' "$f"
        done
    } | awk -v s="$SUITE" '$3 == s || $3 == s "-updates" || $3 == s "-security" || $3 == s "/updates"' |
        awk '!seen[$0]++'
}

apt_proxy() {
    p=""
    if command -v apt-config >/dev/null 2>&1; then
        eval "$(apt-config shell p Acquire::http::Proxy)"
    fi
    [ -n "$p" ] && [ "$p" != "DIRECT" ] || p=${http_proxy:-${HTTP_PROXY:-}}
    printf '%s\n' "$p"
}

case "${1:-}" in
--sources) apt_sources; exit 0 ;;
--proxy) apt_proxy; exit 0 ;;
-h | --help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

IMAGE=${1:-debian:bookworm-slim}
command -v docker >/dev/null || { say "docker is not installed"; exit 1; }
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "$IMAGE"
    exit 0
fi
if [ "$IMAGE" != "$LOCAL_IMAGE" ]; then
    if timeout 300 docker pull -q "$IMAGE" >/dev/null 2>&1; then
        echo "$IMAGE"
        exit 0
    fi
    say "cannot pull $IMAGE; using the local base image $LOCAL_IMAGE"
    if docker image inspect "$LOCAL_IMAGE" >/dev/null 2>&1; then
        echo "$LOCAL_IMAGE"
        exit 0
    fi
fi

# ---- build petri-base:bookworm with debootstrap ----
if [ "$(id -u)" != 0 ]; then
    say "building $LOCAL_IMAGE needs root (debootstrap): run  sudo $0 $LOCAL_IMAGE"
    exit 1
fi
sources=$(apt_sources)
mirror=$(printf '%s\n' "$sources" | awk -v s="$SUITE" '$3 == s {print $2; exit}')
if [ -z "$mirror" ]; then
    say "no '$SUITE' entry in /etc/apt/sources.list or /etc/apt/sources.list.d/: cannot find a Debian archive"
    exit 1
fi
proxy=$(apt_proxy)
if [ -n "$proxy" ]; then
    export http_proxy="$proxy"
fi
if ! command -v debootstrap >/dev/null 2>&1; then
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >&2
fi
root=$(mktemp -d /tmp/petri-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
say "debootstrap $SUITE from $mirror${proxy:+ via proxy $proxy} (about a minute)"
if ! debootstrap --variant=minbase --components=main "$SUITE" "$root" "$mirror" >"$root.log" 2>&1; then
    tail -20 "$root.log" >&2
    say "debootstrap failed (full log: $root.log)"
    exit 1
fi
rm -f "$root.log"
printf '%s\n' "$sources" | grep . >"$root/etc/apt/sources.list" || true
# the slim image's conventions: no docs/man pages/locales from later installs, no apt caches
cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
echo 'APT::Install-Recommends "false";' >"$root/etc/apt/apt.conf.d/docker-no-recommends"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/locale/*
tar -C "$root" --numeric-owner -c . |
    docker import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' - "$LOCAL_IMAGE" >/dev/null
say "created $LOCAL_IMAGE ($(docker image inspect -f '{{.Size}}' "$LOCAL_IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
echo "$LOCAL_IMAGE"
