#!/usr/bin/python3
"""portredir against nft, side by side, in one run.

Runs in a throwaway network namespace (never the host's ruleset) and
measures, for N mappings per protocol (tcp and udp), the median of RUNS
runs of:
  1. a full apply into an empty kernel, versus nft -f of the same ruleset;
  2. diff when in sync, versus nft list table inet portredir;
  3. apply after one mapping changed, versus an nft -f reload of the whole
     changed ruleset, versus nft add element of that one element, and
     versus nft deleting and adding it in one batch (what the change is);
  4. show, versus nft list table inet portredir;
and, at the largest N again (--scoped-size), with the mappings split over
the five kinds of scope (none, ipv4, iif, on an IPv4 and on an IPv6
address): the same tasks, against nft given the same scoped table. Also
2. and 3. again right after another process committed (nft adds and
deletes a table of its own), so that portredir cannot use its record of the maps'
elements (src/cache.h) and dumps them: the worst case of each. All that
with peak RSS, user and system CPU of both, and the netlink messages and
bytes portredir sent. Prints a table of ratios portredir/nft, writes the
raw figures as CSV and draws time against N as a PNG with gnuplot.

Then the packet path (tests/bench/packet.py): portredir's redirect against
a direct bind, and what it costs traffic it does not redirect.
--packet-only runs only that part, --no-packet only the one above.

Usage: bench.py [--sizes 2,1000,10000,65535] [--scoped-size N] [--runs 5] [--out build/bench]
                [--packet-only | --no-packet] [--packet-runs 8] [--packet-seconds 2]
"""

import argparse
import csv
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# packet.py beside this file, without leaving a __pycache__ in the tree.
sys.dont_write_bytecode = True
import packet  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PORTREDIR = os.environ.get("PORTREDIR", os.path.join(ROOT, "build", "portredir"))
NAMESPACE = "portredir-bench-%d" % os.getpid()
SMALL = False

# The table portredir builds (README, "What portredir puts in the kernel"),
# count sets included, so that nft is given the same work.
LAYOUT = """table inet portredir {{
	map tcp_redirects {{ type inet_service : inet_service;{tcp} }}
	map udp_redirects {{ type inet_service : inet_service;{udp} }}
	set tcp_counts {{ type inet_service; flags dynamic; }}
	set udp_counts {{ type inet_service; flags dynamic; }}
	chain prerouting {{
		type nat hook prerouting priority dstnat; policy accept;
		fib daddr type local tcp dport @tcp_redirects update @tcp_counts {{ tcp dport counter }} redirect to :tcp dport map @tcp_redirects
		fib daddr type local udp dport @udp_redirects update @udp_counts {{ udp dport counter }} redirect to :udp dport map @udp_redirects
	}}
	chain output {{
		type nat hook output priority -100; policy accept;
		fib daddr type local tcp dport @tcp_redirects update @tcp_counts {{ tcp dport counter }} redirect to :tcp dport map @tcp_redirects
		fib daddr type local udp dport @udp_redirects update @udp_counts {{ udp dport counter }} redirect to :udp dport map @udp_redirects
	}}
}}
"""


# The scopes the scoped run gives its mappings, in turn: the clause, and
# the map the redirect's element goes to.
SCOPES = [("", "base"), (" ipv4", "family"), (" iif bench0", "iif"), (" on 198.18.0.1", "on4"),
          (" on 2001:db8::1", "on6")]
# Each scoped map's key type and how an element's key is written, and
# the rule of each kind: the key, and whether output has one (iif: no).
SCOPED_MAPS = {
    "family": ("nf_proto . inet_service", lambda port: ["ipv4 . %d" % port]),
    "iif": ("nf_proto . ifname . inet_service",
            lambda port: ['ipv4 . "bench0" . %d' % port, 'ipv6 . "bench0" . %d' % port]),
    "on4": ("ipv4_addr . inet_service", lambda port: ["198.18.0.1 . %d" % port]),
    "on6": ("ipv6_addr . inet_service", lambda port: ["2001:db8::1 . %d" % port]),
}
SCOPED_KEYS = [("on4", "ip daddr . {p} dport", True), ("on6", "ip6 daddr . {p} dport", True),
               ("iif", "meta nfproto . iifname . {p} dport", False),
               ("family", "meta nfproto . {p} dport", True), ("base", "{p} dport", True)]


def scoped_layout(elements):
    """The table portredir builds for scoped mappings (docs/kernel.md);
    elements(protocol, kind) gives a map's elements clause."""
    lines = ["table inet portredir {"]
    for protocol in ("tcp", "udp"):
        lines.append("\tmap %s_redirects { type inet_service : inet_service;%s }"
                     % (protocol, elements(protocol, "base")))
    for protocol in ("tcp", "udp"):
        for kind, (key_type, _) in SCOPED_MAPS.items():
            lines.append("\tmap %s_%s_redirects { type %s : inet_service;%s }"
                         % (protocol, kind, key_type, elements(protocol, kind)))
    for protocol in ("tcp", "udp"):
        lines.append("\tset %s_counts { type inet_service; flags dynamic; }" % protocol)
    for chain, hook in (("prerouting", "prerouting priority dstnat"), ("output", "output priority -100")):
        lines.append("\tchain %s {" % chain)
        lines.append("\t\ttype nat hook %s; policy accept;" % hook)
        for protocol in ("tcp", "udp"):
            for kind, key, in_output in SCOPED_KEYS:
                if chain == "output" and not in_output:
                    continue
                name = "%s_redirects" % protocol if kind == "base" else "%s_%s_redirects" % (protocol, kind)
                key = key.format(p=protocol)
                lines.append("\t\tfib daddr type local %s @%s update @%s_counts { %s dport counter } "
                             "redirect to :%s map @%s" % (key, name, protocol, protocol, key, name))
        lines.append("\t}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def mappings(count):
    """count redirects per protocol: ports 1..count, each to a target at or
    above 1024 that differs from its port."""
    result = []
    for port in range(1, count + 1):
        target = (port + 1000) % 64511 + 1024
        if target == port:
            target += 1
        result.append((port, target))
    return result


def scope_of(index, scoped):
    """The scope of the index-th mapping: in turn when scoped, so that the
    first (the one changed) is unscoped either way."""
    return SCOPES[index % len(SCOPES)] if scoped else SCOPES[0]


def mapping_file(pairs, changed=False, scoped=False):
    lines = []
    for protocol in ("tcp", "udp"):
        for index, (port, target) in enumerate(pairs):
            if changed and protocol == "tcp" and index == 0:
                target = changed_target(port, target)
            lines.append("redirect %s %d to %d%s" % (protocol, port, target, scope_of(index, scoped)[0]))
    return "\n".join(lines) + "\n"


def changed_target(port, target):
    new = target + 1 if target < 65535 else 1024
    return new + 1 if new == port else new


def nft_file(pairs, changed=False, reload=False, scoped=False):
    def elements(protocol, kind="base"):
        items = []
        for index, (port, target) in enumerate(pairs):
            if scope_of(index, scoped)[1] != kind:
                continue
            if changed and protocol == "tcp" and index == 0:
                target = changed_target(port, target)
            keys = ["%d" % port] if kind == "base" else SCOPED_MAPS[kind][1](port)
            items += ["%s : %d" % (key, target) for key in keys]
        return " elements = { %s };" % ", ".join(items) if items else ""
    if scoped:
        text = scoped_layout(elements)
    else:
        text = LAYOUT.format(tcp=elements("tcp"), udp=elements("udp"))
    if reload:
        # What a declarative nft user runs: replace the whole table at once.
        text = "table inet portredir\ndelete table inet portredir\n" + text
    return text


def measured(command):
    """Runs command in the namespace and returns its figures. GNU time
    reports the peak RSS: its child is small when it execs, so the figure is
    the command's own (a fork of this Python process would report Python's)."""
    full = ["/usr/bin/time", "-o", TIME_FILE, "-f", "%M", "ip", "netns", "exec", NAMESPACE] + command
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    with open(OUT_FILE, "w") as out, open(ERR_FILE, "w") as err:
        code = subprocess.run(full, stdin=subprocess.DEVNULL, stdout=out, stderr=err).returncode
    elapsed = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(ERR_FILE) as handle:
        stderr = handle.read()
    if code not in (0, 1):
        raise SystemExit("bench: %s failed with %d: %s" % (" ".join(command), code, stderr.strip()))
    with open(TIME_FILE) as handle:
        rss = int(handle.read().split()[-1])
    # CPU from the kernel's accounting of every reaped descendant (time and
    # ip add a negligible, equal share to both tools); the wall clock here,
    # as GNU time only resolves 10 ms.
    figures = {"seconds": elapsed, "user": after.ru_utime - before.ru_utime,
               "system": after.ru_stime - before.ru_stime, "rss_kib": rss,
               "messages": "", "bytes": "", "element_messages": ""}
    match = re.search(r"netlink: sent (\d+) messages, (\d+) bytes; (\d+) in a batch, (\d+) of them", stderr)
    if match:
        figures["messages"] = int(match.group(1))
        figures["bytes"] = int(match.group(2))
        figures["element_messages"] = int(match.group(4))
    return figures


def median_of(runs, prepare, command):
    samples = []
    # Small runs take milliseconds, where the noise of a shared machine
    # matters most: more samples cost little there.
    if SMALL:
        runs = max(runs, 21)
    for _ in range(runs):
        prepare()
        samples.append(measured(command))
    result = {}
    for key in samples[0]:
        values = [sample[key] for sample in samples if sample[key] != ""]
        result[key] = statistics.median(values) if values else ""
    return result


def netns(*command):
    subprocess.run(["ip", "netns", "exec", NAMESPACE] + list(command), check=True,
                   stdout=subprocess.DEVNULL)


def rule_count():
    listing = subprocess.run(["ip", "netns", "exec", NAMESPACE, "nft", "-a", "list", "table", "inet",
                              "portredir"], check=True, capture_output=True, text=True).stdout
    return sum(1 for line in listing.splitlines() if "redirect to" in line)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2,1000,10000,65535")
    parser.add_argument("--scoped-size", type=int, default=None,
                        help="N of the run split across scopes (default: the largest size; 0: none)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default=os.path.join(ROOT, "build", "bench"))
    parts = parser.add_mutually_exclusive_group()
    parts.add_argument("--packet-only", action="store_true", help="only the packet path")
    parts.add_argument("--no-packet", action="store_true", help="not the packet path")
    packet.add_arguments(parser)
    arguments = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench: needs root to create a network namespace (try: sudo make bench)")
    if not arguments.packet_only:
        control_plane(arguments)
    if not arguments.no_packet:
        print()
        packet.main_from(arguments)


def control_plane(arguments):
    global OUT_FILE, ERR_FILE, TIME_FILE
    sizes = [int(size) for size in arguments.sizes.split(",")]
    os.makedirs(arguments.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="portredir-bench.")
    OUT_FILE = os.path.join(work, "stdout")
    ERR_FILE = os.path.join(work, "stderr")
    TIME_FILE = os.path.join(work, "time")
    # portredir's records of the maps (src/cache.h) go to a directory of
    # the bench's own, not the host's /run/portredir; on a tmpfs, as /run
    # is on a systemd machine.
    records = tempfile.mkdtemp(prefix="portredir-bench.", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    os.environ["PORTREDIR_RUNTIME_DIRECTORY"] = records
    subprocess.run(["ip", "netns", "add", NAMESPACE], check=True)
    rows = []
    scoped_size = max(sizes) if arguments.scoped_size is None else arguments.scoped_size
    try:
        for size in sizes:
            rows += bench_size(size, arguments.runs, work)
        if scoped_size:
            rows += bench_size(scoped_size, arguments.runs, work, scoped=True)
    finally:
        subprocess.run(["ip", "netns", "del", NAMESPACE])
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(records, ignore_errors=True)
    report(rows, arguments.out)


def bench_size(size, runs, work, scoped=False):
    global SMALL
    SMALL = size <= 1000
    pairs = mappings(size)
    files = {}
    for name, text in (("mapping.conf", mapping_file(pairs, scoped=scoped)),
                       ("changed.conf", mapping_file(pairs, changed=True, scoped=scoped)),
                       ("ruleset.nft", nft_file(pairs, scoped=scoped)),
                       ("reload.nft", nft_file(pairs, changed=True, reload=True, scoped=scoped))):
        files[name] = os.path.join(work, "%d%s-%s" % (size, "-scoped" if scoped else "", name))
        with open(files[name], "w") as handle:
            handle.write(text)
    port, target = pairs[0]
    new_target = changed_target(port, target)
    rows = []

    def empty():
        netns("nft", "flush", "ruleset")

    def in_sync():
        netns(PORTREDIR, "-q", "-f", files["mapping.conf"], "apply")

    def one_changed_nft():
        netns(PORTREDIR, "-q", "-f", files["mapping.conf"], "apply")
        netns("nft", "delete", "element", "inet", "portredir", "tcp_redirects", "{ %d }" % port)

    def nothing():
        pass

    def elsewhere():
        # Any commit in the namespace moves the generation: portredir's
        # record no longer stands for the kernel, and it dumps the maps.
        # (A batch that changes nothing commits nothing, and leaves the
        # generation alone: this one adds and deletes a table.)
        netns("nft", "add table inet bench_elsewhere; delete table inet bench_elsewhere")

    def in_sync_then_elsewhere():
        in_sync()
        elsewhere()

    # -v for the netlink figures; the change lines go to OUT_FILE.
    portredir = [PORTREDIR, "-v", "-f"]
    print("N=%d per protocol%s, median of %d runs" % (
        size, ", split across scopes" if scoped else " (%d map elements)" % (2 * size), runs), flush=True)
    full_apply = median_of(runs, empty, portredir + [files["mapping.conf"], "apply"])
    nft_full = median_of(runs, empty, ["nft", "-f", files["ruleset.nft"]])
    rows.append(row(size, "full apply", full_apply, "nft -f", nft_full))

    # From a table portredir created, as on a machine it manages: one nft
    # made carries no identity, and its maps are always dumped.
    empty()
    in_sync()
    rules = rule_count()
    diff = median_of(runs, nothing, portredir + [files["mapping.conf"], "diff"])
    nft_list = median_of(runs, nothing, ["nft", "list", "table", "inet", "portredir"])
    rows.append(row(size, "diff in sync", diff, "nft list table", nft_list))

    change = median_of(runs, in_sync, portredir + [files["changed.conf"], "apply"])
    nft_reload = median_of(runs, in_sync, ["nft", "-f", files["reload.nft"]])
    nft_element = median_of(runs, one_changed_nft,
                            ["nft", "add", "element", "inet", "portredir", "tcp_redirects",
                             "{ %d : %d }" % (port, new_target)])
    # The same change as one nft batch: delete the element, add it with
    # the new target. What the kernel itself needs for the change,
    # including the RCU grace period a process that deleted elements
    # waits for when it closes its netlink socket.
    nft_swap = median_of(runs, in_sync,
                         ["nft", "delete element inet portredir tcp_redirects { %d }; "
                          "add element inet portredir tcp_redirects { %d : %d }" % (port, port, new_target)])
    rows.append(row(size, "one mapping changed", change, "nft -f reload", nft_reload))
    rows.append(row(size, "one mapping changed", change, "nft add element", nft_element))
    rows.append(row(size, "one mapping changed", change, "nft del+add elem", nft_swap))

    # nft's reload left a table of its own: portredir's again.
    empty()
    in_sync()
    diff_dumped = median_of(runs, elsewhere, portredir + [files["mapping.conf"], "diff"])
    rows.append(row(size, "diff, maps dumped", diff_dumped, "nft list table", nft_list))
    change_dumped = median_of(runs, in_sync_then_elsewhere, portredir + [files["changed.conf"], "apply"])
    rows.append(row(size, "one change, dumped", change_dumped, "nft -f reload", nft_reload))

    in_sync()
    show = median_of(runs, nothing, portredir + [files["mapping.conf"], "show"])
    rows.append(row(size, "show", show, "nft list table", nft_list))
    for item in rows:
        item["rules"] = rules
        item["diff_seconds"] = diff["seconds"]
        item["scoped"] = scoped
    empty()
    return rows


def row(size, task, ours, tool, theirs):
    return {"n": size, "task": task, "tool": tool, "ours": ours, "theirs": theirs}


def label(item):
    return "%d%s" % (item["n"], "*" if item["scoped"] else "")


def ratio(a, b):
    return a / b if b else float("inf")


def report(rows, out):
    columns = ["n", "task", "versus", "portredir_s", "nft_s", "ratio_time", "portredir_user_s",
               "portredir_sys_s", "nft_user_s", "nft_sys_s", "portredir_rss_kib", "nft_rss_kib",
               "ratio_rss", "netlink_messages", "netlink_bytes", "element_messages", "rules", "scopes"]
    csv_path = os.path.join(out, "bench.csv")
    with open(csv_path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for item in rows:
            ours, theirs = item["ours"], item["theirs"]
            writer.writerow([item["n"], item["task"], item["tool"], "%.4f" % ours["seconds"],
                             "%.4f" % theirs["seconds"], "%.3f" % ratio(ours["seconds"], theirs["seconds"]),
                             "%.4f" % ours["user"], "%.4f" % ours["system"], "%.4f" % theirs["user"],
                             "%.4f" % theirs["system"], int(ours["rss_kib"]), int(theirs["rss_kib"]),
                             "%.3f" % ratio(ours["rss_kib"], theirs["rss_kib"]), ours["messages"],
                             ours["bytes"], ours["element_messages"], item["rules"],
                             "split" if item["scoped"] else "none"])
    header = "%7s  %-20s %-16s %9s %9s %6s %7s %8s %8s %6s %5s %6s %8s %5s" % (
        "N", "portredir", "versus", "ours s", "nft s", "ratio", "user%", "RSS KiB", "nft KiB",
        "ratio", "msgs", "elem", "bytes", "rules")
    print()
    print(header)
    print("-" * len(header))
    for item in rows:
        ours, theirs = item["ours"], item["theirs"]
        cpu = ours["user"] + ours["system"]
        print("%7s  %-20s %-16s %9.4f %9.4f %6.2f %6.0f%% %8d %8d %6.2f %5s %6s %8s %5d" % (
            label(item), item["task"], item["tool"], ours["seconds"], theirs["seconds"],
            ratio(ours["seconds"], theirs["seconds"]), 100 * ratio(ours["user"], cpu),
            ours["rss_kib"], theirs["rss_kib"], ratio(ours["rss_kib"], theirs["rss_kib"]),
            ours["messages"], ours["element_messages"], ours["bytes"], item["rules"]))
    print()
    print("one mapping changed, relative to portredir's own in-sync diff at the same N; beside")
    print("it, what the change alone costs nft (its delete + add batch, process included):")
    for item in rows:
        if item["task"] == "one mapping changed" and item["tool"] == "nft del+add elem":
            print("  N=%-7s %.2f x diff (%+.4f s); nft delete + add: %.4f s" % (
                label(item), ratio(item["ours"]["seconds"], item["diff_seconds"]),
                item["ours"]["seconds"] - item["diff_seconds"], item["theirs"]["seconds"]))
    if any(item["scoped"] for item in rows):
        print("(N*: the mappings split across the five kinds of scope, nft given the same table)")
    targets([item for item in rows if not item["scoped"]])
    scoped = [item for item in rows if item["scoped"]]
    if scoped:
        targets(scoped, scoped=True)
    print("raw figures: %s" % csv_path)
    plot(rows, out, csv_path)


def targets(rows, scoped=False):
    """The performance targets portredir is held to, at the largest N run
    and, for the boot path, at N=2; with scoped, those of the largest N
    for the run split across scopes."""
    largest = max(item["n"] for item in rows)

    def find(n, task, tool):
        for item in rows:
            if item["n"] == n and item["task"] == task and item["tool"] == tool:
                return item
        return None

    checks = []
    full = find(largest, "full apply", "nft -f")
    diff = find(largest, "diff in sync", "nft list table")
    change = find(largest, "one mapping changed", "nft -f reload")
    small = find(2, "full apply", "nft -f")
    if full:
        ours = full["ours"]
        checks.append(("full apply <= 0.5 x nft -f", ratio(ours["seconds"], full["theirs"]["seconds"]), 0.5))
        checks.append(("full apply user CPU share <= 0.25", ratio(ours["user"], ours["user"] + ours["system"]), 0.25))
        checks.append(("full apply peak RSS <= 0.25 x nft -f", ratio(ours["rss_kib"], full["theirs"]["rss_kib"]), 0.25))
    if diff:
        checks.append(("diff in sync <= 0.25 x nft list table",
                       ratio(diff["ours"]["seconds"], diff["theirs"]["seconds"]), 0.25))
    if change:
        checks.append(("one change element messages <= 2", change["ours"]["element_messages"], 2))
        checks.append(("one change <= 1.25 x own in-sync diff",
                       ratio(change["ours"]["seconds"], change["diff_seconds"]), 1.25))
        checks.append(("one change <= 0.25 x nft -f reload",
                       ratio(change["ours"]["seconds"], change["theirs"]["seconds"]), 0.25))
    if small:
        checks.append(("N=2 apply <= nft -f", ratio(small["ours"]["seconds"], small["theirs"]["seconds"]), 1.0))
    print("targets (N=%d per protocol%s):" % (largest, ", split across scopes" if scoped else " unless said"))
    for name, value, limit in checks:
        print("  %-42s %6.2f  %s" % (name, value, "holds" if value <= limit else "MISSED"))


def plot(rows, out, csv_path):
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("gnuplot not found: no PNG (apt-get install gnuplot-nox)")
        return
    data = os.path.join(out, "bench.dat")
    tasks = [("full apply", "nft -f"), ("diff in sync", "nft list table"),
             ("one mapping changed", "nft -f reload")]
    with open(data, "w") as handle:
        for task, tool in tasks:
            handle.write("# %s vs %s\n" % (task, tool))
            for item in rows:
                if item["task"] == task and item["tool"] == tool and not item["scoped"]:
                    handle.write("%d %.5f %.5f\n" % (item["n"], item["ours"]["seconds"],
                                                     item["theirs"]["seconds"]))
            handle.write("\n\n")
    png = os.path.join(out, "bench.png")
    script = ["set terminal png size 1200,800", "set output '%s'" % png,
              "set logscale xy", "set xlabel 'mappings per protocol (N)'", "set ylabel 'seconds'",
              "set key top left", "set grid", "set title 'portredir versus nft, median of runs'"]
    plots = []
    for index, (task, tool) in enumerate(tasks):
        # One colour per task: portredir solid, nft dashed.
        plots.append("'%s' index %d using 1:2 with linespoints linecolor %d linewidth 2 title 'portredir %s'"
                     % (data, index, index + 1, task))
        plots.append("'%s' index %d using 1:3 with linespoints linecolor %d dashtype 2 title '%s'"
                     % (data, index, index + 1, tool))
    script.append("plot " + ", ".join(plots))
    subprocess.run([gnuplot], input="\n".join(script), text=True, check=True)
    print("plot: %s (gnuplot script in tests/bench/bench.py, data %s)" % (png, data))


if __name__ == "__main__":
    sys.exit(main())
