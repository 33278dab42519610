"""Print tools/load/run's results as a Markdown table, with Keygate's added latency as the
difference from the direct path at the same number of connections, and the CPU time Keygate's
process used per call (user + system, from /proc): on a shared machine the latency and rate
move with everything else running, the CPU per call much less."""

import sys


def parse(line):
    label, conns, load, syncs, ticks, written = line.rstrip("\n").split("|")
    fields = dict(part.split("=") for part in load.split()[1:])
    return {
        "label": label,
        "conns": int(conns),
        "median": int(fields["median_us"]),
        "p99": int(fields["p99_us"]),
        "rate": int(fields["requests"]) / float(fields["seconds"]),
        "bad": int(fields["errors"]) + int(fields["failed"]),
        "syncs": syncs,
        # Clock ticks are 10 ms: per call in µs.
        "cpu": "" if ticks == "-" else f"{int(ticks) * 10_000 / max(int(fields['requests']), 1):.0f}",
        # What Keygate's process caused to be written to storage, per call.
        "written": "" if written == "-" else f"{int(written) / 1024 / max(int(fields['requests']), 1):.1f}",
    }


def main(path):
    with open(path, encoding="utf-8") as f:
        rows = [parse(line) for line in f if line.strip()]
    direct = {r["conns"]: r for r in rows if r["label"].startswith("direct")}
    print("| path | conns | median µs | p99 µs | calls/s | added median µs | added p99 µs | keygate CPU µs/call "
          "| KiB written/call | errors | fsyncs |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        base = direct.get(r["conns"])
        if r["label"].startswith("direct") or base is None:
            added = ("", "")
        else:
            added = (str(r["median"] - base["median"]), str(r["p99"] - base["p99"]))
        print(f"| {r['label']} | {r['conns']} | {r['median']} | {r['p99']} | {r['rate']:,.0f} | "
              f"{added[0]} | {added[1]} | {r['cpu']} | {r['written']} | {r['bad']} | {r['syncs']} |")
    if any(r["bad"] for r in rows):
        print("load: some calls failed (errors column): the figures above are not valid", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1])
