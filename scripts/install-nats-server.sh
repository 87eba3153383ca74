#!/usr/bin/env bash
# Puts nats-server 2.10+ at .tools/bin/nats-server. Uses one already on PATH when it is new enough;
# else fetches Debian trixie's package through the Debian mirror configured on this machine and
# unpacks it into .tools (the system's apt state is left alone).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.tools/bin/nats-server
log() { printf '[setup] %s\n' "$*" >&2; }

new_enough() { # version >= 2.10
  local v; v=$("$1" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1) || return 1
  [ -n "$v" ] && [ "$(printf '%s\n2.10.0\n' "$v" | sort -V | head -1)" = "2.10.0" ]
}

[ -x "$dest" ] && new_enough "$dest" && exit 0
mkdir -p .tools/bin
if command -v nats-server >/dev/null && new_enough "$(command -v nats-server)"; then
  ln -sf "$(command -v nats-server)" "$dest"; exit 0
fi

mirror=""
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
  mirror=$(awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
fi
[ -n "$mirror" ] || { echo "no Debian mirror configured in /etc/apt; install nats-server >= 2.10 on PATH" >&2; exit 1; }

log "fetching nats-server from Debian trixie"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/deb"
printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
  "$mirror" >"$work/trixie.sources"
apt_opts=(-o "Dir::Etc::SourceList=$work/trixie.sources" -o Dir::Etc::SourceParts=- \
  -o "Dir::State::Lists=$work/lists" -o APT::Sandbox::User=root -qq)
apt-get "${apt_opts[@]}" update >&2
(cd "$work/deb" && apt-get "${apt_opts[@]}" download nats-server >&2)
dpkg-deb -x "$work"/deb/nats-server_*.deb "$work/root"
rm -rf .tools/nats-server && mv "$work/root" .tools/nats-server
bin=$(find .tools/nats-server -type f -name nats-server -perm -u+x | head -1)
ln -sf "$(realpath --relative-to=.tools/bin "$bin")" "$dest"
new_enough "$dest" || { echo "fetched nats-server is older than 2.10" >&2; exit 1; }
log "nats-server $("$dest" --version)"
