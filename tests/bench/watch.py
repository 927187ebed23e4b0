#!/usr/bin/python3
"""How fast portredir watch repairs, and what it costs while idle.

In a throwaway network namespace, with watch running: the time from the
start of an external `nft flush ruleset` until watch logs that it put
table inet portredir back (which it does once the kernel acknowledged the
repair), for a small and a large mapping; then the CPU time watch uses
over an idle period with nothing to do.

Usage: watch.py [--idle 60] [--runs 20] [--large 65535]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PORTREDIR = os.environ.get("PORTREDIR", os.path.join(ROOT, "build", "portredir"))
NAMESPACE = "portredir-watch-bench-%d" % os.getpid()
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def in_namespace(*command, check=True):
    return subprocess.run(["ip", "netns", "exec", NAMESPACE] + list(command), check=check,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode


def table_exists():
    # `nft list tables` names the tables only: listing the table itself
    # would print its elements and take longer than the repair. The
    # table, its maps and elements come back in one transaction, so its
    # name being back means all of it is.
    listing = subprocess.run(["ip", "netns", "exec", NAMESPACE, "nft", "list", "tables"],
                             capture_output=True, text=True).stdout
    return "table inet portredir" in listing.splitlines()


def wait_until(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
    return False


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the whole line.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def mapping_text(count):
    lines = []
    for protocol in ("tcp", "udp"):
        for port in range(1, count + 1):
            target = (port + 1000) % 64511 + 1024
            if target == port:
                target += 1
            lines.append("redirect %s %d to %d" % (protocol, port, target))
    return "\n".join(lines) + "\n"


def start_watch(mapping, log):
    process = subprocess.Popen(["ip", "netns", "exec", NAMESPACE, PORTREDIR, "-f", mapping, "watch"],
                               stdout=subprocess.DEVNULL, stderr=log)
    if not wait_until(table_exists, 30):
        process.kill()
        raise SystemExit("watch bench: watch did not create the table")
    # Let the start-up apply's own notifications drain.
    time.sleep(0.5)
    return process


def repairs_logged(log):
    with open(log.name) as handle:
        return sum(1 for line in handle if "changed by nft" in line and ": applied " in line)


def repair_times(mapping, runs, log):
    """Until watch logs the repair: it does so right after the kernel
    acknowledged its batch. (Polling nft instead would measure nft: it
    reads every element of a large table to list even its name.)"""
    process = start_watch(mapping, log)
    times = []
    try:
        for _ in range(runs):
            before = repairs_logged(log)
            start = time.monotonic()
            in_namespace("nft", "flush", "ruleset")
            if not wait_until(lambda: repairs_logged(log) > before, 30):
                raise SystemExit("watch bench: no repair was logged")
            times.append(time.monotonic() - start)
            if not table_exists():
                raise SystemExit("watch bench: the repair was logged but the table is missing")
    finally:
        process.terminate()
        process.wait()
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=int, default=60)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--large", type=int, default=65535)
    arguments = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("watch bench: needs root to create a network namespace")
    work = tempfile.mkdtemp(prefix="portredir-watch-bench.")
    # portredir's records of the maps (src/cache.h) go with the bench's
    # files, not into the host's /run/portredir.
    os.environ["PORTREDIR_RUNTIME_DIRECTORY"] = os.path.join(work, "run")
    small = os.path.join(work, "small.conf")
    large = os.path.join(work, "large.conf")
    with open(small, "w") as handle:
        handle.write("redirect tcp 80 to 8080\nredirect tcp,udp 443 to 8443\n")
    with open(large, "w") as handle:
        handle.write(mapping_text(arguments.large))
    subprocess.run(["ip", "netns", "add", NAMESPACE], check=True)
    try:
        with open(os.path.join(work, "watch.log"), "w") as log:
            print("portredir watch: time from an external 'nft flush ruleset' to the table being back")
            for name, mapping, runs in (("3 mappings", small, arguments.runs),
                                        ("%d mappings" % (2 * arguments.large), large, max(5, arguments.runs // 4))):
                times = repair_times(mapping, runs, log)
                in_namespace("nft", "flush", "ruleset")
                print("  %-16s median %6.1f ms  max %6.1f ms  (%d runs)"
                      % (name, 1000 * statistics.median(times), 1000 * max(times), runs))
            process = start_watch(small, log)
            try:
                before = cpu_seconds(process.pid)
                time.sleep(arguments.idle)
                used = cpu_seconds(process.pid) - before
            finally:
                process.terminate()
                process.wait()
            print("portredir watch: CPU time over %d idle seconds: %.3f s" % (arguments.idle, used))
    finally:
        subprocess.run(["ip", "netns", "del", NAMESPACE])
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
