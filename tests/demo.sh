#!/bin/bash
# A self-contained demonstration on the shipped default mapping (rules/),
# in throwaway network namespaces so the machine's own firewall is never
# touched: apply the mapping in a "server" namespace, start a web server as
# the unprivileged user nobody on 8080, and reach it on port 80 from a
# "client" namespace, over IPv4 and IPv6, and from the server itself.
set -eu
cd "$(dirname "$0")/.."
portredir=$PWD/build/portredir
if [ "$(id -u)" -ne 0 ]; then
	echo "portredir demo: needs root to create network namespaces (try: sudo make demo)" >&2
	exit 1
fi

server=portredir-demo-server-$$
client=portredir-demo-client-$$
site=$(mktemp -d /tmp/portredir-demo.XXXXXX)
# Run as root, portredir refuses a mapping that a user other than root
# could change (see portredir.conf(5), OWNERSHIP), and a clone is usually
# a user's: the demo applies a root-owned copy of rules/, as an install
# would put it in /etc/portredir/.
rules=$(mktemp -d /tmp/portredir-demo-rules.XXXXXX)
cp rules/*.conf "$rules/"
chmod 0755 "$rules"
chmod 0644 "$rules"/*.conf
# portredir records the maps' elements between runs under /run/portredir;
# the demo's record goes with the demo.
records=$(mktemp -d /tmp/portredir-demo-run.XXXXXX)
export PORTREDIR_RUNTIME_DIRECTORY=$records
cleanup() {
	ip netns pids "$server" 2>/dev/null | xargs -r kill 2>/dev/null || true
	ip netns del "$server" 2>/dev/null || true
	ip netns del "$client" 2>/dev/null || true
	rm -rf "$site" "$rules" "$records"
}
trap cleanup EXIT

# Bold headings on a terminal only, and not when NO_COLOR is set
# (no-color.org): a pipe or a log file gets plain text.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
	bold=$'\033[1m' plain=$'\033[0m'
else
	bold='' plain=''
fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }

ip netns add "$server"
ip netns add "$client"
ip link add demo0 netns "$server" type veth peer name demo1 netns "$client"
ip -n "$server" link set lo up
ip -n "$client" link set lo up
ip -n "$server" addr add 198.18.0.1/24 dev demo0
ip -n "$client" addr add 198.18.0.2/24 dev demo1
ip -n "$server" addr add 2001:db8::1/64 dev demo0 nodad
ip -n "$client" addr add 2001:db8::2/64 dev demo1 nodad
ip -n "$server" link set demo0 up
ip -n "$client" link set demo1 up

step "portredir check -f rules/ (the shipped default; a root-owned copy in $rules)"
"$portredir" -f "$rules" check

step "portredir diff: what apply would change in a fresh namespace"
ip netns exec "$server" "$portredir" -f "$rules" diff || true

step "portredir apply"
ip netns exec "$server" "$portredir" -f "$rules" apply

step "nft list table inet portredir"
ip netns exec "$server" nft list table inet portredir

step "a web server as user nobody on port 8080"
chmod 0755 "$site"
echo "hello from a web server running as $(id -nu nobody) on port 8080" > "$site/index.html"
chmod 0644 "$site/index.html"
ip netns exec "$server" setpriv --reuid=nobody --regid=nogroup --clear-groups \
	/usr/bin/python3 -m http.server --bind :: --directory "$site" 8080 >/dev/null 2>&1 &
for _ in $(seq 1 100); do
	ip netns exec "$server" python3 -c 'import socket; socket.create_connection(("::1", 8080), 1)' \
		2>/dev/null && break
	sleep 0.05
done
ps -o user=,args= -p "$(ip netns pids "$server" | paste -sd,)"

fetch() {
	ip netns exec "$1" python3 -c 'import sys, urllib.request
print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().strip())' "$2"
}
for url in http://198.18.0.1/ "http://[2001:db8::1]/"; do
	step "client namespace: GET $url (port 80)"
	fetch "$client" "$url"
done
for url in http://127.0.0.1/ "http://[::1]/"; do
	step "server itself: GET $url (port 80)"
	fetch "$server" "$url"
done

step "portredir diff: in sync"
ip netns exec "$server" "$portredir" -f "$rules" diff && echo "(exit 0: in sync)"

step "portredir flush, and port 80 is closed again"
ip netns exec "$server" "$portredir" flush
if fetch "$client" http://198.18.0.1/ 2>/dev/null; then
	echo "unexpected: port 80 still answers" >&2
	exit 1
fi
echo "port 80: connection refused, as expected"
step "done: the namespaces are removed, the host's firewall was never touched"
