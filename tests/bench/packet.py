#!/usr/bin/python3
"""The packet path: portredir's redirect against a direct bind, in one run.

What a user of setcap or authbind gives up by choosing a redirect is on the
packet path: every redirected connection needs conntrack and NAT, and every
new connection the host makes or receives passes portredir's NAT chains.
This measures, side by side, in throwaway network namespaces (a client and
a server namespace over a veth pair, one pair per configuration, made
alike: every server listens in every server namespace):

  1. new TCP connections per second (connect, one small request and
     response, close) and their latency p50/p99, from tests/bench/
     packet_load.c with 64 connections in flight on 2 threads:
     (a) the service bound directly to port 80, no conntrack;
     (b) the same, with a stateful firewall in the server namespace
         (`ct state established,related accept`), so conntrack in use;
     (c) portredir's redirect 80 to 8080 (with that firewall);
     (d) (c) with an owner clause (`for cgroup`), its servers in that group,
         so that the owner gate checks every new connection's socket; beside
         it (c) with the gate present for another port only (d-gate);
     (e) (c) with 65,535 mappings per protocol loaded;
  2. UDP round trips per second, 443 to 8443 against a direct bind on 443;
  3. what portredir costs traffic it does not redirect, with the firewall
     in both: new outbound TCP connections from the server namespace to a
     service in the client namespace, and new inbound connections to an
     unmapped port, with and without portredir's table; beside them the
     rules in the order considered and not taken (the map tested before
     the fib lookup), and two NAT chains without rules (what the kernel's NAT
     core costs whatever the rules: the floor).

Each case runs once per round, RUNS rounds (--packet-runs; unless told,
8, one for each configuration, or with --packet-cases the next multiple
of the configurations those cases use). The TCP cases compared with each
other (a group: the redirect cases, outbound, inbound) are measured in one
run of the load generator, which takes turns between them, 0.2 s each
(--packet-slice), SECONDS in all for each: the load of a shared machine
drifts within seconds by more than the differences looked for, and cases
measured in alternating turns see the same drift. Pairs made alike still
differ by a percent or two, so round N loads configuration I into pair
I + N: over 8 rounds every configuration runs in every pair once. The
groups run in a new random order each round, a group's cases in a new
order too. A ratio is the geometric mean of the ratios of the two cases
within each round (over whole turns of the pairs, what a pair adds cancels
out), printed with two standard errors and the lowest and the highest of
those ratios. Prints the table and the targets, and writes packet.csv
(medians and ratios), packet-runs.csv (every run) and packet.png (gnuplot)
into --out.

The server namespaces' conntrack keeps closed connections for 1 s instead
of up to 120 s, and the namespaces' local port range is 10000-65000: at
these rates the machine's one conntrack table (shared by all namespaces)
would fill otherwise. Nothing outside the bench's own namespaces changes.

Usage: packet.py [--packet-runs 8] [--packet-seconds 2] [--packet-slice 0.2]
                 [--packet-cases a,b,c] [--packet-ipv6] [--out build/bench]
(or through bench.py --packet-only, as make bench BENCHFLAGS=--packet-only)
"""

import argparse
import collections
import csv
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PORTREDIR = os.environ.get("PORTREDIR", os.path.join(ROOT, "build", "portredir"))
LOAD = os.environ.get("PACKET_LOAD", os.path.join(ROOT, "build", "tests", "packet_load"))
PREFIX = "portredir-packet-%d" % os.getpid()

CLIENT_ADDRESS, SERVER_ADDRESS = "198.18.0.1", "198.18.0.2"
CLIENT_ADDRESS6, SERVER_ADDRESS6 = "2001:db8::1", "2001:db8::2"
# A port no configuration maps (except the one that maps them all, which
# does not serve it).
UNMAPPED_PORT = 9000

FIREWALL = """table inet filter {
	chain input {
		type filter hook input priority filter; policy accept;
		ct state established,related accept
	}
}
"""

MAPPING = "redirect tcp 80 to 8080\nredirect tcp,udp 443 to 8443\n"
# The bench's own control group (made and removed by it), relative to the
# cgroup2 hierarchy's root: (d)'s owner.
OWNER_GROUP = "/%s" % PREFIX
OWNER_MAPPING = "redirect tcp 80 to 8080 for cgroup %s\nredirect tcp,udp 443 to 8443\n" % OWNER_GROUP
# The gate for another port only: what the input chain every packet passes
# costs, apart from the socket lookup of an owned port's connections.
GATE_ELSEWHERE_MAPPING = ("redirect tcp 80 to 8080\nredirect tcp 81 to 8081 for cgroup %s\n"
                          "redirect tcp,udp 443 to 8443\n" % OWNER_GROUP)

# portredir's table with the rules in the order considered and not taken:
# the port tested against the map before the fib lookup. It would spare
# unredirected new connections the fib lookup, but costs every redirected
# one a second lookup and would count it twice in the maps' per-element
# counters (status's `connections`); this row shows what it would gain.
MAP_FIRST_LAYOUT = """table inet portredir {
	map tcp_redirects { type inet_service : inet_service; elements = { 80 : 8080, 443 : 8443 } }
	map udp_redirects { type inet_service : inet_service; elements = { 443 : 8443 } }
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		meta l4proto tcp tcp dport @tcp_redirects fib daddr type local redirect to :tcp dport map @tcp_redirects
		meta l4proto udp udp dport @udp_redirects fib daddr type local redirect to :udp dport map @udp_redirects
	}
	chain output {
		type nat hook output priority -100; policy accept;
		meta l4proto tcp tcp dport @tcp_redirects fib daddr type local redirect to :tcp dport map @tcp_redirects
		meta l4proto udp udp dport @udp_redirects fib daddr type local redirect to :udp dport map @udp_redirects
	}
}
"""


def every_port_mapping():
    """65,535 redirects per protocol: every port, 80 and 443 as in MAPPING,
    the others to a target at or above 1024 that differs from the port."""
    lines = []
    for protocol in ("tcp", "udp"):
        for port in range(1, 65536):
            if port == 80:
                target = 8080
            elif port == 443:
                target = 8443
            else:
                target = (port + 1000) % 64511 + 1024
                if target == port:
                    target += 1
            lines.append("redirect %s %d to %d" % (protocol, port, target))
    return "\n".join(lines) + "\n"


# Two NAT chains on portredir's hooks without any rule: what the kernel's
# NAT core costs every new connection (its hooks, and a binding that maps
# the connection to itself) whatever the rules, the floor under portredir.
BARE_NAT_CHAINS = """table inet bare_nat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
	}
	chain output {
		type nat hook output priority -100; policy accept;
	}
}
"""

# What each configuration loads into a server namespace ("owner": the
# mapping names OWNER_GROUP).
CONFIGURATIONS = {
    "direct": {"firewall": False, "table": None},
    "firewall": {"firewall": True, "table": None},
    "portredir": {"firewall": True, "table": "mapping"},
    "owner": {"firewall": True, "table": "owner", "owner": True},
    "gate-elsewhere": {"firewall": True, "table": "gate elsewhere", "owner": True},
    "portredir-65535": {"firewall": True, "table": "every port"},
    "map-first": {"firewall": True, "table": "map first"},
    "bare-nat": {"firewall": True, "table": "bare NAT chains"},
}
# What listens in every server namespace, whatever is loaded there: the
# direct binds, the redirects' targets and the unmapped port.
SERVER_PORTS = {"tcp": [80, 8080, UNMAPPED_PORT], "udp": [443, 8443]}

# One case: its key, section and description; the configuration whose
# namespaces it runs in; the side the load runs from ("client": into the
# server namespace; "server": out of it, to the client namespace's
# service); the protocol and the port it connects to. A case in MISSING
# is listed, not run.
Case = collections.namedtuple("Case", "key section description configuration side protocol port")

CASES = [
    Case("a", "tcp", "direct bind :80, no conntrack", "direct", "client", "tcp", 80),
    Case("b", "tcp", "direct bind :80, stateful firewall", "firewall", "client", "tcp", 80),
    Case("c", "tcp", "portredir 80->8080", "portredir", "client", "tcp", 80),
    Case("d", "tcp", "(c) for an owner (the gate checks)", "owner", "client", "tcp", 80),
    Case("d-gate", "tcp", "(c), the gate for another port only", "gate-elsewhere", "client", "tcp", 80),
    Case("e", "tcp", "(c), 65,535 mappings/protocol", "portredir-65535", "client", "tcp", 80),
    Case("udp-a", "udp", "direct bind :443, no conntrack", "direct", "client", "udp", 443),
    Case("udp-b", "udp", "direct bind :443, stateful firewall", "firewall", "client", "udp", 443),
    Case("udp-c", "udp", "portredir 443->8443", "portredir", "client", "udp", 443),
    Case("out-without", "unredirected", "outbound, without the table", "firewall", "server", "tcp",
         UNMAPPED_PORT),
    Case("out-with", "unredirected", "outbound, with portredir's table", "portredir", "server", "tcp",
         UNMAPPED_PORT),
    Case("out-first", "unredirected", "outbound, map tested before fib", "map-first", "server", "tcp",
         UNMAPPED_PORT),
    Case("out-bare", "unredirected", "outbound, bare NAT chains (the floor)", "bare-nat", "server", "tcp",
         UNMAPPED_PORT),
    Case("in-without", "unredirected", "inbound :%d, without the table" % UNMAPPED_PORT, "firewall", "client",
         "tcp", UNMAPPED_PORT),
    Case("in-with", "unredirected", "inbound :%d, with portredir's table" % UNMAPPED_PORT, "portredir",
         "client", "tcp", UNMAPPED_PORT),
    Case("in-first", "unredirected", "inbound :%d, map tested before fib" % UNMAPPED_PORT, "map-first",
         "client", "tcp", UNMAPPED_PORT),
    Case("in-bare", "unredirected", "inbound :%d, bare NAT chains (the floor)" % UNMAPPED_PORT, "bare-nat",
         "client", "tcp", UNMAPPED_PORT),
]
MISSING = {}

# (case, baseline, what the ratio means, target: (figure, at least / at most, limit) or None)
RATIOS = [
    ("b", "a", "conntrack itself (firewall / none)", None),
    ("c", "b", "redirect / direct bind, conn/s", ("per_second", ">=", 0.9)),
    ("c", "b", "redirect / direct bind, p99", ("p99_us", "<=", 1.1)),
    ("c", "a", "redirect / direct bind without conntrack", None),
    ("d", "c", "owner / redirect, conn/s", ("per_second", ">=", 0.95)),
    ("d-gate", "c", "... the input chain alone", None),
    ("d", "d-gate", "... the owned port's socket lookup", None),
    ("e", "c", "65,535 mappings / 2, conn/s", ("per_second", ">=", 0.98)),
    ("udp-c", "udp-b", "redirect / direct bind, datagrams/s", None),
    ("udp-b", "udp-a", "conntrack itself, datagrams/s", None),
    ("out-with", "out-without", "unredirected outbound, with / without", ("per_second", ">=", 0.98)),
    ("out-first", "out-without", "... map before fib / without", None),
    ("out-bare", "out-without", "... bare NAT chains / without", None),
    ("out-with", "out-bare", "... portredir's rules alone", None),
    ("in-with", "in-without", "unredirected inbound, with / without", ("per_second", ">=", 0.98)),
    ("in-first", "in-without", "... map before fib / without", None),
    ("in-bare", "in-without", "... bare NAT chains / without", None),
    ("in-with", "in-bare", "... portredir's rules alone", None),
]


def namespace(pair, side):
    return "%s-%d-%s" % (PREFIX, pair, side)


def run(*command, **keywords):
    return subprocess.run(list(command), check=True, **keywords)


def in_namespace(name, *command, **keywords):
    return run("ip", "netns", "exec", name, *command, **keywords)


def sysctl(name, key, value):
    in_namespace(name, "sysctl", "-qw", "%s=%s" % (key, value))


def make_pair(pair):
    client, server = namespace(pair, "c"), namespace(pair, "s")
    run("ip", "netns", "add", client)
    run("ip", "netns", "add", server)
    run("ip", "link", "add", "veth0", "netns", client, "type", "veth", "peer", "name", "veth0", "netns", server)
    for name, address, address6 in ((client, CLIENT_ADDRESS, CLIENT_ADDRESS6),
                                    (server, SERVER_ADDRESS, SERVER_ADDRESS6)):
        run("ip", "-n", name, "link", "set", "lo", "up")
        run("ip", "-n", name, "address", "add", address + "/24", "dev", "veth0")
        run("ip", "-n", name, "address", "add", address6 + "/64", "dev", "veth0", "nodad")
        run("ip", "-n", name, "link", "set", "veth0", "up")
        # More local ports than the default 28,232, so that a port comes
        # round again less often: a second or two at these rates.
        sysctl(name, "net.ipv4.ip_local_port_range", "10000 65000")
        # Conntrack entries of closed connections wait 120 s by default;
        # at tens of thousands of connections a second they would fill the
        # machine's one conntrack table (shared by all namespaces). The
        # same in every configuration, so no case is favoured.
        for state in ("time_wait", "close", "fin_wait", "last_ack", "close_wait"):
            sysctl(name, "net.netfilter.nf_conntrack_tcp_timeout_%s" % state, 1)
    # The servers close first, so each connection leaves a TIME_WAIT socket
    # on their side for 60 s, and at these rates a client's port comes
    # round within that. The owner gate's socket lookup finds that
    # TIME_WAIT socket, which belongs to no group, and refuses the new
    # connection (docs/security.md); without TIME_WAIT sockets (in every
    # configuration alike) each case measures the path it names.
    sysctl(server, "net.ipv4.tcp_max_tw_buckets", 0)
    return client, server


def cgroup2_mount():
    """Where the cgroup2 hierarchy is mounted: /sys/fs/cgroup (unified), or
    /sys/fs/cgroup/unified (hybrid); None without one."""
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            fields = line.split()
            separator = fields.index("-")
            if fields[separator + 1] == "cgroup2":
                return fields[4]
    return None


def owner_group_path():
    mount = cgroup2_mount()
    if not mount:
        raise SystemExit("bench: case d needs a cgroup2 hierarchy, and this host has none (--packet-cases "
                         "without d)")
    return mount + OWNER_GROUP


def load_server_namespace(configuration, server, work):
    settings = CONFIGURATIONS[configuration]
    # What the configuration the namespace had in the round before loaded.
    in_namespace(server, "nft", "flush", "ruleset")
    if settings["firewall"]:
        in_namespace(server, "nft", "-f", "-", input=FIREWALL, text=True)
    table = settings["table"]
    if table in ("mapping", "every port", "owner", "gate elsewhere"):
        path = os.path.join(work, "%s.conf" % configuration)
        with open(path, "w") as handle:
            handle.write({"mapping": MAPPING, "owner": OWNER_MAPPING, "gate elsewhere": GATE_ELSEWHERE_MAPPING}.get(table) or every_port_mapping())
        os.chmod(path, 0o644)
        # ip netns exec hides the cgroup hierarchy (it mounts a new /sys),
        # where portredir finds the owner's group: nsenter keeps it.
        enter = ["nsenter", "--net=/run/netns/" + server]
        run(*enter, PORTREDIR, "-q", "-f", path, "apply", stdout=subprocess.DEVNULL)
        # The bench measures portredir's own layout: in sync, or stop.
        run(*enter, PORTREDIR, "-q", "-f", path, "diff", stdout=subprocess.DEVNULL)
    elif table == "map first":
        in_namespace(server, "nft", "-f", "-", input=MAP_FIRST_LAYOUT, text=True)
    elif table == "bare NAT chains":
        in_namespace(server, "nft", "-f", "-", input=BARE_NAT_CHAINS, text=True)


def start_server(name, protocol, port, servers, group=None):
    def join_group():
        with open(os.path.join(group, "cgroup.procs"), "w") as procs:
            procs.write(str(os.getpid()))

    process = subprocess.Popen(["ip", "netns", "exec", name, LOAD, "serve", protocol, str(port)],
                               stdout=subprocess.PIPE, text=True, preexec_fn=join_group if group else None)
    servers[(name, protocol, port)] = process
    if process.stdout.readline().strip() != "listening":
        raise SystemExit("bench: the %s server on port %d in %s did not start" % (protocol, port, name))


def setup(servers, configurations):
    """One namespace pair for each configuration, all alike: every server
    namespace has every server, and what a configuration loads is loaded
    into a different pair each round (assign())."""
    group = None
    if any(CONFIGURATIONS[configuration].get("owner") for configuration in configurations):
        # The servers of all pairs in the group the owner clauses name,
        # so that where a configuration runs changes nothing else.
        group = owner_group_path()
        os.makedirs(group, exist_ok=True)
    for pair in range(len(configurations)):
        client, server = make_pair(pair)
        for protocol, ports in SERVER_PORTS.items():
            for port in ports:
                start_server(server, protocol, port, servers, group)
        # The service in the client namespace that outbound connections
        # from the server namespace go to.
        start_server(client, "tcp", UNMAPPED_PORT, servers, group)


def assign(configurations, round_number, work):
    """Round N loads configuration I into pair I + N (modulo their number):
    pairs made alike still differ by a percent or two in what they carry
    (measured: the same configuration in two pairs), as much as some of the
    differences measured here, and over as many rounds as there are pairs
    every configuration runs in every pair once."""
    pairs = {}
    for index, configuration in enumerate(configurations):
        pair = (index + round_number) % len(configurations)
        load_server_namespace(configuration, namespace(pair, "s"), work)
        pairs[configuration] = pair
    return pairs


def target_address(case, ipv6):
    if case.side == "server":
        return CLIENT_ADDRESS6 if ipv6 else CLIENT_ADDRESS
    return SERVER_ADDRESS6 if ipv6 else SERVER_ADDRESS


def load_namespace(case, pairs):
    return namespace(pairs[case.configuration], "s" if case.side == "server" else "c")


def measure(cases, pairs, seconds, warmup, ipv6, slice_seconds, settle_seconds):
    """One run of the load generator for CASES: TCP cases in alternating
    slices of one run (each from its own namespace), a UDP case alone."""
    if len(cases) > 1 and any(case.protocol != "tcp" for case in cases):
        results = {}
        for case in cases:
            results.update(measure([case], pairs, seconds, warmup, ipv6, slice_seconds, settle_seconds))
        return results
    command = [LOAD, cases[0].protocol]
    for case in cases:
        command += ["--in", "/run/netns/" + load_namespace(case, pairs), target_address(case, ipv6),
                    str(case.port)]
    command += ["--seconds", str(seconds), "--warmup", str(warmup), "--slice", str(slice_seconds),
                "--settle", str(settle_seconds)]
    lines = run(*command, capture_output=True, text=True).stdout.splitlines()
    if len(lines) != len(cases):
        raise SystemExit("bench: the load generator printed %d lines for %d cases" % (len(lines), len(cases)))
    results = {}
    for case, line in zip(cases, lines):
        output = line.split()
        figures = {output[i]: output[i + 1] for i in range(0, len(output) - 1, 2)}
        result = {"count": int(figures[output[0]]), "per_second": float(figures["per_second"]),
                  "p50_us": float(figures["p50_us"]), "p99_us": float(figures["p99_us"]),
                  "errors": int(figures["errors"]), "lost": int(figures["lost"])}
        # A refused or reset connection means the case does not measure
        # what it says (a redirect that does not redirect): stop rather
        # than report it.
        if result["errors"] or not result["count"]:
            raise SystemExit("bench: case %s (%s %s:%d from %s): %d errors, %d completed" % (
                case.key, case.protocol, target_address(case, ipv6), case.port, load_namespace(case, pairs),
                result["errors"], result["count"]))
        results[case.key] = result
    return results


def teardown(servers):
    for process in servers.values():
        process.terminate()
    for process in servers.values():
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for pair in range(len(CONFIGURATIONS)):
        for side in ("c", "s"):
            if os.path.exists(os.path.join("/run/netns", namespace(pair, side))):
                subprocess.run(["ip", "netns", "del", namespace(pair, side)])
    mount = cgroup2_mount()
    if mount and os.path.isdir(mount + OWNER_GROUP):
        os.rmdir(mount + OWNER_GROUP)


def bench(runs, seconds, warmup, out, seed=None, only=None, ipv6=False, slice_seconds=0.2, settle_seconds=0.05):
    if os.geteuid() != 0:
        raise SystemExit("bench: needs root to create network namespaces (try: sudo make bench)")
    for program in (PORTREDIR, LOAD):
        if not os.access(program, os.X_OK):
            raise SystemExit("bench: %s not built (run make bench)" % program)
    os.makedirs(out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="portredir-packet.")
    records = tempfile.mkdtemp(prefix="portredir-packet.", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    os.environ["PORTREDIR_RUNTIME_DIRECTORY"] = records
    servers = {}
    cases = [case for case in CASES if case.key not in MISSING and (not only or case.key in only)]
    samples = {case.key: [] for case in cases}
    order = random.Random(seed)
    started = time.monotonic()
    configurations = [name for name in CONFIGURATIONS if any(case.configuration == name for case in cases)]
    if runs is None:
        runs = len(configurations) * math.ceil(8 / len(configurations))
    print("packet path over IPv%d: %d cases in %d pairs of namespaces, %d rounds of %g s per case (+%g s "
          "warm-up), TCP cases taking turns of %g s, 2 client threads, 64 in flight" % (
              6 if ipv6 else 4, len(cases), len(configurations), runs, seconds, warmup, slice_seconds),
          flush=True)
    if runs < 5:
        print("  (fewer than 5 rounds: to try the bench out, not for figures)")
    if runs % len(configurations):
        print("  (not a multiple of %d rounds: some configurations run in some pairs more often)" %
              len(configurations))
    # The cases compared with each other run in one run, taking turns, and
    # the groups in a new order each round.
    groups = {}
    for case in cases:
        groups.setdefault((case.section, case.side), []).append(case)
    try:
        setup(servers, configurations)
        for round_number in range(runs):
            pairs = assign(configurations, round_number, work)
            shuffled = list(groups.values())
            order.shuffle(shuffled)
            for group in shuffled:
                group = list(group)
                order.shuffle(group)
                for key, result in measure(group, pairs, seconds, warmup, ipv6, slice_seconds,
                                           settle_seconds).items():
                    samples[key].append(result)
            print("  round %d of %d done (%.0f s)" % (round_number + 1, runs, time.monotonic() - started),
                  flush=True)
    finally:
        teardown(servers)
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(records, ignore_errors=True)
    return samples


def summary(values):
    return statistics.median(values), min(values), max(values)


def spread_percent(values):
    """The distance from the lowest to the highest run, in percent of the
    median."""
    middle, low, high = summary(values)
    return 100.0 * (high - low) / middle if middle else 0.0


def figure_of(samples, key, figure):
    return [value[figure] for value in samples[key]]


def paired(samples, key, baseline, figure):
    """The ratio of two cases within each round, over the rounds: their
    geometric mean (over as many rounds as there are pairs, what the pairs
    themselves add cancels out exactly: each case ran in each pair once),
    the lowest and the highest, and the half-width of the interval of two
    standard errors around the mean."""
    if key not in samples or baseline not in samples:
        return None
    logs = [math.log(ours[figure] / theirs[figure]) for ours, theirs in zip(samples[key], samples[baseline])
            if theirs[figure] and ours[figure]]
    if not logs:
        return None
    mean = statistics.fmean(logs)
    error = 2 * statistics.stdev(logs) / math.sqrt(len(logs)) if len(logs) > 1 else 0.0
    return math.exp(mean), math.exp(min(logs)), math.exp(max(logs)), math.exp(mean) * (math.exp(error) - 1)


def report(samples, out):
    print()
    header = "%-12s %-40s %9s %7s %7s %7s" % ("case", "what", "per s", "spread", "p50 us", "p99 us")
    print(header)
    print("-" * len(header))
    for case in CASES:
        if case.key in MISSING:
            print("%-12s %-40s %s" % (case.key, case.description, MISSING[case.key]))
            continue
        if case.key not in samples:
            continue
        rate = figure_of(samples, case.key, "per_second")
        print("%-12s %-40s %9.0f %6.1f%% %7.0f %7.0f" % (
            case.key, case.description, statistics.median(rate), spread_percent(rate),
            statistics.median(figure_of(samples, case.key, "p50_us")),
            statistics.median(figure_of(samples, case.key, "p99_us"))))
    print("per s: new connections (tcp, unredirected) or round trips (udp) per second, median of the runs;")
    print("spread: from the lowest to the highest run, in % of the median; p50, p99: latency of a whole")
    print("connection (socket() to the response's end) or of a round trip")
    lost = sum(value["lost"] for values in samples.values() for value in values)
    if lost:
        print("UDP datagrams lost and sent again (200 ms without an echo): %d" % lost)
    print()
    print("ratios: geometric mean of the per-round ratios, +- two standard errors (lowest..highest round):")
    for key, baseline, meaning, target in RATIOS:
        figure = target[0] if target else "per_second"
        result = paired(samples, key, baseline, figure)
        if result is None:
            if key in MISSING:
                print("  %-11s / %-11s %-42s %s" % (key, baseline, meaning, MISSING[key]))
            continue
        verdict = ""
        if target:
            _, sense, limit = target
            holds = result[0] >= limit if sense == ">=" else result[0] <= limit
            verdict = "  target %s %.2f: %s" % (sense, limit, "holds" if holds else "MISSED")
            if abs(result[0] - limit) <= result[3]:
                verdict += " (within the noise)"
        print("  %-11s / %-11s %-42s %5.3f +-%5.3f (%5.3f..%5.3f)%s" % (
            key, baseline, meaning, result[0], result[3], result[1], result[2], verdict))
    write_csv(samples, out)
    plot(samples, out)


def write_csv(samples, out):
    path = os.path.join(out, "packet.csv")
    baselines = {}
    for key, baseline, _, _ in RATIOS:
        baselines.setdefault(key, baseline)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["case", "section", "what", "runs", "per_second", "per_second_min", "per_second_max",
                         "spread_percent", "p50_us", "p99_us", "versus", "ratio", "ratio_min",
                         "ratio_max", "ratio_error", "ratio_p99", "note"])
        for case in CASES:
            baseline = baselines.get(case.key, "")
            if case.key in MISSING:
                writer.writerow([case.key, case.section, case.description, 0] + [""] * 6 +
                                [baseline] + [""] * 5 + [MISSING[case.key]])
                continue
            if case.key not in samples:
                continue
            rate = figure_of(samples, case.key, "per_second")
            ratio = paired(samples, case.key, baseline, "per_second") if baseline else None
            ratio99 = paired(samples, case.key, baseline, "p99_us") if baseline else None

            def number(value, digits=4):
                return "%.*f" % (digits, value) if value is not None else ""

            writer.writerow([case.key, case.section, case.description, len(rate), number(statistics.median(rate), 1),
                             number(min(rate), 1), number(max(rate), 1), number(spread_percent(rate), 2),
                             number(statistics.median(figure_of(samples, case.key, "p50_us")), 0),
                             number(statistics.median(figure_of(samples, case.key, "p99_us")), 0),
                             baseline if ratio else "", number(ratio[0] if ratio else None),
                             number(ratio[1] if ratio else None), number(ratio[2] if ratio else None),
                             number(ratio[3] if ratio else None), number(ratio99[0] if ratio99 else None), ""])
    runs_path = os.path.join(out, "packet-runs.csv")
    with open(runs_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["case", "round", "count", "per_second", "p50_us", "p99_us", "lost"])
        for key, values in samples.items():
            for index, value in enumerate(values):
                writer.writerow([key, index + 1, value["count"], "%.1f" % value["per_second"],
                                 "%.0f" % value["p50_us"], "%.0f" % value["p99_us"], value["lost"]])
    print("raw figures: %s (medians and ratios), %s (every run)" % (path, runs_path))


def plot(samples, out):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("gnuplot not found: no PNG (apt-get install gnuplot-nox)")
        return
    data = os.path.join(out, "packet.dat")
    sections = [(("tcp", "client"), "new TCP connections per second"),
                (("udp", "client"), "UDP round trips per second"),
                (("unredirected", "server"), "new outbound TCP connections per second, not redirected"),
                (("unredirected", "client"), "new inbound TCP connections to an unmapped port per second")]
    drawn = []
    with open(data, "w") as handle:
        for section, title in sections:
            cases = [case for case in CASES if (case.section, case.side) == section and case.key in samples]
            if not cases:
                continue
            handle.write("# %s: median, lowest, highest\n" % title)
            for case in cases:
                rate = figure_of(samples, case.key, "per_second")
                handle.write("%.1f %.1f %.1f\n" % (statistics.median(rate), min(rate), max(rate)))
            handle.write("\n\n")
            drawn.append((title, cases))
    png = os.path.join(out, "packet.png")
    script = ["set terminal png size 1200,%d" % (360 * len(drawn)), "set output '%s'" % png,
              "set multiplot layout %d,1" % len(drawn), "set style fill solid 0.5", "set grid ytics",
              "set yrange [0:*]", "set bmargin 5", "unset key"]
    for index, (title, cases) in enumerate(drawn):
        # Each bar's label on two lines under it: its key and what it is.
        labels = ", ".join('"(%s)\\n%s" %d' % (case.key, "\\n".join(textwrap.wrap(case.description, 26)), position)
                           for position, case in enumerate(cases))
        script.append("set xtics noenhanced font ',9' (%s)" % labels)
        script.append("set title '%s: median of runs, bars from the lowest to the highest run'" % title)
        script.append("set xrange [-0.5:%f]" % (len(cases) - 0.5))
        script.append("plot '%s' index %d using 0:1:2:3:(0.3) with boxerrorbars linecolor %d" % (
            data, index, index + 1))
    script.append("unset multiplot")
    subprocess.run([gnuplot], input="\n".join(script), text=True, check=True)
    print("plot: %s (gnuplot script in tests/bench/packet.py, data %s)" % (png, data))


def add_arguments(parser):
    parser.add_argument("--packet-runs", type=int, default=None,
                        help="rounds (at least 5; unless told, 8 or the next multiple of the configurations "
                        "the cases use, so that each runs in each pair equally often)")
    parser.add_argument("--packet-seconds", type=float, default=2.0, help="seconds measured per run")
    parser.add_argument("--packet-warmup", type=float, default=0.5, help="seconds before measuring")
    parser.add_argument("--packet-slice", type=float, default=0.2,
                        help="seconds of each turn of the TCP cases of one group within a run")
    parser.add_argument("--packet-seed", type=int, default=None, help="the order of the cases in each round")
    parser.add_argument("--packet-cases", default="", help="only these cases (comma-separated keys)")
    parser.add_argument("--packet-ipv6", action="store_true", help="every case over IPv6 instead of IPv4")


def main_from(arguments):
    only = set(arguments.packet_cases.split(",")) if arguments.packet_cases else None
    samples = bench(arguments.packet_runs, arguments.packet_seconds, arguments.packet_warmup, arguments.out,
                    arguments.packet_seed, only, arguments.packet_ipv6, arguments.packet_slice)
    report(samples, arguments.out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "build", "bench"))
    add_arguments(parser)
    main_from(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
