#!/usr/bin/python3
"""The packet path: portredir's redirect against a direct bind, in one run.

What a user of setcap or authbind gives up by choosing a redirect is on the
packet path: every redirected connection needs conntrack and NAT, and every
new connection the host makes or receives passes portredir's NAT chains.
This measures, side by side, in throwaway network namespaces (a client and
a server namespace over a veth pair, one pair per configuration, all set
up before the first run so that the runs of all cases interleave):

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

Each case runs RUNS times (--packet-runs, at least 5 for figures), for
SECONDS each after a warm-up; in each round the groups of cases compared
with each other run in a new random order, and the cases of a group one
after another, also in a new order. A ratio is the median of the ratios of
the two cases within each round (the load of a shared machine drifts more
between rounds than within one), and the spread printed beside it is the
lowest and the highest of those ratios. Prints the table and the targets,
and writes packet.csv (medians and ratios), packet-runs.csv (every run)
and packet.png (gnuplot) into --out.

The server namespaces' conntrack keeps closed connections for 1 s instead
of up to 120 s, and the namespaces' local port range is 10000-65000: at
these rates the machine's one conntrack table (shared by all namespaces)
would fill otherwise. Nothing outside the bench's own namespaces changes.

Usage: packet.py [--packet-runs 7] [--packet-seconds 2] [--packet-cases a,b,c]
                 [--packet-ipv6] [--out build/bench]
(or through bench.py --packet-only, as make bench BENCHFLAGS=--packet-only)
"""

import argparse
import collections
import csv
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

# The server namespace of each configuration: what is loaded into it, and
# what listens there ("owner": its servers in OWNER_GROUP).
CONFIGURATIONS = {
    "direct": {"firewall": False, "table": None, "tcp": [80, UNMAPPED_PORT], "udp": [443]},
    "firewall": {"firewall": True, "table": None, "tcp": [80, UNMAPPED_PORT], "udp": [443]},
    "portredir": {"firewall": True, "table": "mapping", "tcp": [8080, UNMAPPED_PORT], "udp": [8443]},
    "owner": {"firewall": True, "table": "owner", "tcp": [8080], "udp": [], "owner": True},
    "gate-elsewhere": {"firewall": True, "table": "gate elsewhere", "tcp": [8080], "udp": [], "owner": True},
    "portredir-65535": {"firewall": True, "table": "every port", "tcp": [8080], "udp": [8443]},
    "map-first": {"firewall": True, "table": "map first", "tcp": [UNMAPPED_PORT], "udp": []},
    "bare-nat": {"firewall": True, "table": "bare NAT chains", "tcp": [UNMAPPED_PORT], "udp": []},
}

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


def namespace(configuration, side):
    return "%s-%s-%s" % (PREFIX, configuration, side)


def run(*command, **keywords):
    return subprocess.run(list(command), check=True, **keywords)


def in_namespace(name, *command, **keywords):
    return run("ip", "netns", "exec", name, *command, **keywords)


def sysctl(name, key, value):
    in_namespace(name, "sysctl", "-qw", "%s=%s" % (key, value))


def make_pair(configuration):
    client, server = namespace(configuration, "c"), namespace(configuration, "s")
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


def setup(work, servers, cases):
    for configuration, settings in CONFIGURATIONS.items():
        if not any(case.configuration == configuration for case in cases):
            continue
        group = None
        if settings.get("owner"):
            # One group for the configurations that have owners.
            group = owner_group_path()
            os.makedirs(group, exist_ok=True)
        client, server = make_pair(configuration)
        load_server_namespace(configuration, server, work)
        for protocol in ("tcp", "udp"):
            for port in settings[protocol]:
                start_server(server, protocol, port, servers, group)
        # The service in the client namespace that outbound connections
        # from the server namespace go to.
        if any(case.configuration == configuration and case.side == "server" for case in cases):
            start_server(client, "tcp", UNMAPPED_PORT, servers)


def measure(case, seconds, warmup, ipv6):
    name = namespace(case.configuration, "s" if case.side == "server" else "c")
    if case.side == "server":
        address = CLIENT_ADDRESS6 if ipv6 else CLIENT_ADDRESS
    else:
        address = SERVER_ADDRESS6 if ipv6 else SERVER_ADDRESS
    output = in_namespace(name, LOAD, case.protocol, address, str(case.port), "--seconds", str(seconds),
                          "--warmup", str(warmup), capture_output=True, text=True).stdout.split()
    figures = {output[i]: output[i + 1] for i in range(0, len(output) - 1, 2)}
    result = {"count": int(figures[output[0]]), "per_second": float(figures["per_second"]),
              "p50_us": float(figures["p50_us"]), "p99_us": float(figures["p99_us"]),
              "errors": int(figures["errors"]), "lost": int(figures["lost"])}
    # A refused or reset connection means the case does not measure what it
    # says (a redirect that does not redirect): stop rather than report it.
    if result["errors"] or not result["count"]:
        raise SystemExit("bench: case %s (%s %s:%d in %s): %d errors, %d completed" % (
            case.key, case.protocol, address, case.port, name, result["errors"], result["count"]))
    return result


def teardown(servers):
    for process in servers.values():
        process.terminate()
    for process in servers.values():
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for configuration in CONFIGURATIONS:
        for side in ("c", "s"):
            if os.path.exists(os.path.join("/run/netns", namespace(configuration, side))):
                subprocess.run(["ip", "netns", "del", namespace(configuration, side)])
    mount = cgroup2_mount()
    if mount and os.path.isdir(mount + OWNER_GROUP):
        os.rmdir(mount + OWNER_GROUP)


def bench(runs, seconds, warmup, out, seed=None, only=None, ipv6=False):
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
    print("packet path over IPv%d: %d cases, %d interleaved rounds of %g s each (+%g s warm-up), 2 client "
          "threads, 64 in flight" % (6 if ipv6 else 4, len(cases), runs, seconds, warmup), flush=True)
    if runs < 5:
        print("  (fewer than 5 rounds: to try the bench out, not for figures)")
    # The cases compared with each other run next to each other, in a new
    # order each round: the load of a shared machine drifts over seconds.
    groups = {}
    for case in cases:
        groups.setdefault((case.section, case.side), []).append(case)
    try:
        setup(work, servers, cases)
        for round_number in range(runs):
            shuffled = list(groups.values())
            order.shuffle(shuffled)
            for group in shuffled:
                group = list(group)
                order.shuffle(group)
                for case in group:
                    samples[case.key].append(measure(case, seconds, warmup, ipv6))
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
    """The ratio of two cases within each round: their median, lowest and
    highest."""
    if key not in samples or baseline not in samples:
        return None
    ratios = [ours[figure] / theirs[figure] for ours, theirs in zip(samples[key], samples[baseline])
              if theirs[figure]]
    return summary(ratios) if ratios else None


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
    print("ratios, median of the per-round ratios (lowest..highest round):")
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
        print("  %-11s / %-11s %-42s %5.3f (%5.3f..%5.3f)%s" % (
            key, baseline, meaning, result[0], result[1], result[2], verdict))
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
                         "ratio_max", "ratio_p99", "note"])
        for case in CASES:
            baseline = baselines.get(case.key, "")
            if case.key in MISSING:
                writer.writerow([case.key, case.section, case.description, 0] + [""] * 6 +
                                [baseline] + [""] * 4 + [MISSING[case.key]])
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
                             number(ratio99[0] if ratio99 else None), ""])
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
    parser.add_argument("--packet-runs", type=int, default=7, help="interleaved rounds (at least 5)")
    parser.add_argument("--packet-seconds", type=float, default=2.0, help="seconds measured per run")
    parser.add_argument("--packet-warmup", type=float, default=0.5, help="seconds before measuring")
    parser.add_argument("--packet-seed", type=int, default=None, help="the order of the cases in each round")
    parser.add_argument("--packet-cases", default="", help="only these cases (comma-separated keys)")
    parser.add_argument("--packet-ipv6", action="store_true", help="every case over IPv6 instead of IPv4")


def main_from(arguments):
    only = set(arguments.packet_cases.split(",")) if arguments.packet_cases else None
    samples = bench(arguments.packet_runs, arguments.packet_seconds, arguments.packet_warmup, arguments.out,
                    arguments.packet_seed, only, arguments.packet_ipv6)
    report(samples, arguments.out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "build", "bench"))
    add_arguments(parser)
    main_from(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
