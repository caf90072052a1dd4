#!/usr/bin/env python3
"""Writes docs/benchmarks.md from docs/bench-results/*.json (see bench/bench.py): the latest run in
full, every earlier run in a comparison table. Never edit docs/benchmarks.md by hand; run
`python3 bench/report.py` after adding or removing a result file."""
import glob
import json
import os

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
RESULTS = os.path.join(ROOT, "docs", "bench-results")
OUT = os.path.join(ROOT, "docs", "benchmarks.md")


def fmt(v, unit="", digits=1):
    if v is None:
        return "n/a"
    if isinstance(v, (int, float)) and abs(v) >= 1000:
        return f"{v:,.0f}{unit}"
    return f"{v:.{digits}f}{unit}" if isinstance(v, float) else f"{v}{unit}"


def pct(part, whole):
    return f"{100.0 * part / whole:.0f}%" if part and whole else "n/a"


def latency_row(name, f):
    return (f"| {name} | {fmt(f['throughput'])} | {fmt(f['p50'], ' ms', 2)} | {fmt(f['p90'], ' ms', 2)} | "
            f"{fmt(f['p99'], ' ms', 2)} | {fmt(f['p99_9'], ' ms', 2)} | {fmt(f['max'], ' ms', 2)} | {f['errors']} |")


def peak_text(p):
    if not p or not p.get("peak_rate"):
        lowest = p["steps"][0] if p and p.get("steps") else None
        return "none" + (f" (p99 {lowest['p99']:.1f} ms already at {lowest['rate']}/s)" if lowest else "")
    at = p["at_peak"]
    return f"{p['peak_rate']:,}/s (p50 {at['p50']:.2f} ms, p99 {at['p99']:.2f} ms)"


def live_section(run):
    lv = run["live"]
    out = [f"### Live delivery (`bench/live_bench`, {run['machine']['date']}, commit `{run['machine']['commit']}`)", "",
           f"Open files limit {lv['fd_limit']}; the API servers run with `CHAT_MAX_CONNECTIONS={lv['max_connections']}` "
           "(default 10,000: the streams plus the connections that create messages and scrape `/metrics` "
           "need a little more).", "",
           "| streams held by one API server | opened | `chat_live_streams_open` | RSS before | RSS with them open | "
           "per stream | one message per chat delivered | missing | duplicates |",
           "|---|---|---|---|---|---|---|---|---|"]
    for kind in ("sse", "ws"):
        h = lv.get(f"hold_{kind}")
        if not h:
            continue
        out.append(f"| {h['streams']:,} {'SSE' if kind == 'sse' else 'WebSocket'} | {h['opened']:,} in {h['open_seconds']} s | "
                   f"{h['metric_open']:,} | {h['rss_before_kib'] / 1024:.1f} MiB | {h['rss_open_kib'] / 1024:.1f} MiB | "
                   f"{h['kib_per_stream']:.1f} KiB | {h['received']:,} of {h['expected']:,} ({h['check_messages']} messages) | "
                   f"{h['missing']} | {h['duplicates']} |")
    out.append("")
    g = lv.get("lag")
    if g:
        l, ls, pl = g["lag_ms"], g["lag_from_send_ms"], g["post_latency_ms"]
        out += [f"Delivery lag: {g['streams']:,} SSE subscribers over {g['servers']} API servers "
                f"({g['streams'] // g['servers']:,} each, {g['chats']} chats, every chat followed on both), "
                f"{g['rate']:g} messages/s created through both servers for {g['posting_seconds']:.0f} s "
                f"(the first {g['warmup_s']:g} s not counted), one worker running. Lag is from the 201 at the "
                f"client to the event at the subscriber (0 when the event came first: {g['before_201']:,} times); "
                f"goal p99 <= 50 ms.", "",
                "| | n | p50 | p90 | p99 | p99.9 | max |", "|---|---|---|---|---|---|---|",
                f"| 201 -> event | {l['n']:,} | {l['p50']:.2f} ms | {l['p90']:.2f} ms | {l['p99']:.2f} ms | "
                f"{l['p99_9']:.2f} ms | {l['max']:.2f} ms |",
                f"| POST sent -> event | {ls['n']:,} | {ls['p50']:.2f} ms | {ls['p90']:.2f} ms | {ls['p99']:.2f} ms | "
                f"{ls['p99_9']:.2f} ms | {ls['max']:.2f} ms |",
                f"| POST latency | {pl['n']:,} | {pl['p50']:.2f} ms | {pl['p90']:.2f} ms | {pl['p99']:.2f} ms | "
                f"{pl['p99_9']:.2f} ms | {pl['max']:.2f} ms |", "",
                f"Events: {g['received']:,} received of {g['expected']:,} expected; missing {g['missing']}, "
                f"duplicates {g['duplicates']}, out of order {g['out_of_order']}, foreign {g['foreign']}, "
                f"streams ended {g['streams_ended']}, failed creations {g['posts_failed']}"
                f"{'' if g['ok'] else ' (FAILED)'}.", ""]
    return out


def cluster_section(run):
    c = run["cluster"]
    out = [f"### Message creation on the cluster stack beside the single-node stack ({run['machine']['date']}, "
           f"commit `{run['machine']['commit']}`)", "",
           "`scripts/cluster.sh up`: Redis Cluster of 3 masters + 3 replicas (AOF, fsync always) with "
           "`CHAT_REDIS_WAIT_REPLICAS=1`, RabbitMQ cluster of 3 with quorum queues, MariaDB primary + replica, "
           "Elasticsearch of 3 nodes (3 shards x 1 replica); one API server and one worker on each stack, both "
           "stacks running throughout. Cluster settings: "
           + ", ".join(f"`{k}={v}`" for k, v in sorted(c["settings"].items())) + ".", "",
           "Closed loop, create_message, in interleaved rounds:", "",
           "| round | single ops/s | single p99 | cluster ops/s | cluster p99 | cluster / single |",
           "|---|---|---|---|---|---|"]
    for i, r in enumerate(c["rounds"], 1):
        s, k = r["single"], r["cluster"]
        out.append(f"| {i} | {fmt(s['throughput'])}/s | {s['p99']:.1f} ms | {fmt(k['throughput'])}/s | "
                   f"{k['p99']:.1f} ms | {k['throughput'] / s['throughput']:.2f}x |")
    m = c["closed_loop_median"]
    out += ["", f"Median: single {fmt(m['single'])}/s, cluster {fmt(m['cluster'])}/s: **{c['closed_loop_ratio']:.2f}x**.",
            "", f"Open loop, create_message at fixed rates ({run['settings']['step_duration']} each, 512 connections):",
            "", "| rate | single achieved | single p50 / p99 | cluster achieved | cluster p50 / p99 | p99 cluster / single |",
            "|---|---|---|---|---|---|"]
    for o in c.get("open_loop", []):
        s, k = o["single"], o["cluster"]
        out.append(f"| {o['rate']:,}/s | {fmt(s['throughput'])}/s | {s['p50']:.1f} / {s['p99']:.1f} ms | "
                   f"{fmt(k['throughput'])}/s | {k['p50']:.1f} / {k['p99']:.1f} ms | {k['p99'] / s['p99']:.2f}x |")
    return out + [""]


def render(runs):
    # A partial run (BENCH_ONLY_LIVE=1, BENCH_ONLY_SEARCH=1) does not replace the latest full one: each
    # section shows the latest run that measured it.
    full = [run for run in runs if "closed_loop" in run] or runs
    r = full[-1]
    m, s = r["machine"], r["settings"]
    out = ["# Benchmarks", "",
           "Generated by `make bench` (`bench/bench.py`, then `bench/report.py`) from "
           "`docs/bench-results/*.json`; do not edit by hand.", "",
           f"## Latest run: {m['date']}, commit `{m['commit']}`", "",
           f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB, Linux {m['kernel']}. Everything runs on "
           "this one machine at once: the load tool, the API server, one worker, MariaDB, Redis, RabbitMQ and "
           "Elasticsearch.", "",
           "Settings: " + ", ".join(f"`{k}={v}`" for k, v in sorted(s.items())) + ".", ""]

    out += ["### Headline", "", "| | figure |", "|---|---|",
            f"| message creation, highest open-loop rate with p99 < 10 ms | {peak_text(r.get('peak_create_message'))} |",
            f"| read by number, highest open-loop rate with p99 < 10 ms | {peak_text(r.get('peak_get_message'))} |"]
    cl = r.get("closed_loop", {})
    ceiling = r.get("ceiling_http", {}).get("throughput")
    if ceiling:
        out.append(f"| HTTP ceiling (fixed answer, same load tool, {s['closed_loop_connections']} connections) | "
                   f"{fmt(ceiling)}/s |")
    redis = r.get("ceiling_redis", {})
    if redis:
        out.append("| Redis alone (`redis-benchmark -c 50`) | " +
                   ", ".join(f"{k.upper()} {fmt(v)}/s" for k, v in sorted(redis.items())) + " |")
    for op in ("create_message", "get_message"):
        if op in cl and ceiling:
            out.append(f"| closed-loop {op} as a share of the HTTP ceiling | {pct(cl[op]['throughput'], ceiling)} |")
    alone = r.get("closed_loop_no_worker", {})
    for op, f in alone.items():
        if ceiling:
            out.append(f"| closed-loop {op}, no worker running, as a share of the HTTP ceiling | "
                       f"{pct(f['throughput'], ceiling)} ({fmt(f['throughput'])}/s, p99 {f['p99']:.1f} ms) |")
    if redis.get("incr") and "create_message" in cl:
        out.append(f"| closed-loop create_message as a share of Redis INCR alone | "
                   f"{pct(cl['create_message']['throughput'], redis['incr'])} |")
    d = r.get("drain")
    if d:
        out.append(f"| worker drain into MariaDB (one worker, backlog of {fmt(d['messages'])}) | "
                   f"{fmt(d['mysql_rate'])} messages/s |")
        out.append(f"| worker drain into Elasticsearch (searchable) | {fmt(d['es_rate'])} messages/s |")
    out.append("")

    if cl:
        out += [f"### Closed loop, {s['closed_loop_connections']} connections, {s['closed_loop_duration']}", "",
                "| operation | ops/s | p50 | p90 | p99 | p99.9 | max | errors |", "|---|---|---|---|---|---|---|---|"]
        if ceiling:
            out.append(latency_row("HTTP ceiling (fixed answer)", r["ceiling_http"]))
        out += [latency_row(op, f) for op, f in cl.items()]
        out += [latency_row(f"{op}, no worker running", f) for op, f in alone.items()] + [""]

    # The latest run that measured it (BENCH_ONLY_ACCESS=1 runs it alone).
    acc = next((run["access"] for run in reversed(runs) if "access" in run), None)
    if acc:
        out += ["### Users and access: a user token beside the open mode (closed loop, interleaved rounds)", "",
                "Restricted applications: every request carries a user token, which the server verifies, and its "
                "membership of the chat is checked (from the server's cache); the same load on open applications "
                "in the rounds between. Goal: within 10 %.", "",
                "| operation | open ops/s (rounds) | user token ops/s (rounds) | ratio (medians) | p99 open / token |",
                "|---|---|---|---|---|"]
        for op, v in acc.items():
            out.append(f"| {op} | {', '.join(fmt(f['throughput']) for f in v['open'])} | "
                       f"{', '.join(fmt(f['throughput']) for f in v['user_token'])} | {v['throughput_ratio']} | "
                       f"{v['p99_open_median']:.1f} / {v['p99_user_token_median']:.1f} ms |")
        out.append("")

    # The latest run that measured it (BENCH_ONLY_WEBHOOKS=1 runs it alone).
    wh = next((run["webhooks"] for run in reversed(runs) if "webhooks" in run), None)
    if wh:
        out += ["### Webhooks: creation with a webhook beside creation without (closed loop, interleaved rounds)", "",
                "In the webhook runs every application has an endpoint subscribed to every event (`chat_load "
                "--webhook`) on a receiver in the benchmark process (127.0.0.1, answers 204), so the worker records "
                "and delivers a `chat.created` or `message.created` per creation while the load runs. Goal: creation "
                "not slowed (ratio ~1). Drain: from the end of the load to the last request at the receiver.", "",
                "| round | without ops/s | without p99 | with ops/s | with p99 | requests received / expected | "
                "deliveries/s | last one after the load |", "|---|---|---|---|---|---|---|---|"]
        for i, (a, b) in enumerate(zip(wh["without"], wh["with"]), 1):
            out.append(f"| {i} | {fmt(a['throughput'])}/s | {a['p99']:.1f} ms | {fmt(b['throughput'])}/s | "
                       f"{b['p99']:.1f} ms | {b['requests_received']:,} / {b['requests_expected']:,} | "
                       f"{fmt(b['delivery_rate']) + '/s' if b['delivery_rate'] else 'n/a'} | {b['drain_s']:.1f} s |")
        out += ["", f"Median ratio (with / without): **{wh['throughput_ratio']}**; p99 medians "
                f"{wh['p99_without_median']:.1f} / {wh['p99_with_median']:.1f} ms; last delivery "
                f"{wh['drain_s_median']:.1f} s after the load (median).", ""]

    for op in ("create_message", "get_message"):
        p = r.get(f"peak_{op}")
        if not p:
            continue
        out += [f"### Open loop, {op}: rate steps ({s['step_duration']} each)", "",
                "| target rate | achieved | p50 | p90 | p99 | p99.9 | max | errors | p99 < 10 ms |",
                "|---|---|---|---|---|---|---|---|---|"]
        for t in p["steps"]:
            out.append(f"| {t['rate']:,}/s | {fmt(t['throughput'])}/s | {t['p50']:.2f} ms | {t['p90']:.2f} ms | "
                       f"{t['p99']:.2f} ms | {t['p99_9']:.2f} ms | {t['max']:.2f} ms | {t['errors']} | "
                       f"{'yes' if t['ok'] else 'no'} |")
        out.append("")

    su = r.get("sustained")
    if su:
        out += [f"### Sustained end-to-end: open loop of create_message for {su['duration']} per rate, one worker "
                "draining, `chat_load --verify`", "",
                f"Sustained: achieved, no error, verification clean (every acknowledged creation stored once, "
                f"numbered, searchable, counted) and the queue drained within {su['drain_limit_s']:g} s of the "
                f"load's end. Highest sustained rate: "
                + (f"**{fmt(su['sustained_rate'])}/s**." if su["sustained_rate"] else "**none of the rates tried**."),
                "",
                "| target rate | achieved | p50 | p90 | p99 | p99.9 | max | errors | verify | drain after | sustained |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]
        for t in su["steps"]:
            out.append(f"| {t['rate']:,}/s | {fmt(t['throughput'])}/s | {t['p50']:.2f} ms | {t['p90']:.2f} ms | "
                       f"{t['p99']:.2f} ms | {t['p99_9']:.2f} ms | {t['max']:.2f} ms | {t['errors']} | "
                       f"{'ok' if t['verify_ok'] else 'FAILED (' + str(t['violations']) + ')'} | "
                       f"{fmt(t['drain_seconds'], ' s', 1)} | {'yes' if t['sustained'] else 'no'} |")
        out.append("")

    se = r.get("search")
    if se:
        out += ["### Search (`bench/search_bench`)", ""]
        # Runs before the vocabulary setting measured one vocabulary of 20,000 words.
        by_vocabulary = se.get("vocabularies") or {"20000": se}
        for vocab, one in by_vocabulary.items():
            out.append(f"Vocabulary of {int(vocab):,} words.")
            if "indexing" in one:
                i = one["indexing"]
                out.append(f"Indexing {i['messages']:,} generated messages over {i['chats']:,} chats: "
                           f"{i['rate']:,} messages/s ({i['seconds']} s).")
            if "bytes_per_message" in one:
                out.append(f"Index (one segment): {one['index_bytes']:,} bytes, "
                           f"{one['bytes_per_message']:.0f} bytes/message.")
            out.append("")
            if one.get("queries"):
                out += ["| query | n | p50 | p99 | max |", "|---|---|---|---|---|"]
                out += [f"| {k} | {q['n']} | {q['p50']:.2f} ms | {q['p99']:.2f} ms | {q['max']:.2f} ms |"
                        for k, q in one["queries"].items()]
                out.append("")
            if one.get("closed_loop"):
                c = one["closed_loop"]
                out += [f"Closed loop straight to Elasticsearch, {c['connections']} connections, the three kinds "
                        f"in turn: {c['throughput']:,} searches/s, p50 {c['p50']:.2f} ms, p99 {c['p99']:.2f} ms.", ""]
        if se.get("p50_ratio"):
            # bench.py divides the largest vocabulary's p50 by the smallest's, whatever order the
            # sizes are listed in here.
            sizes = sorted(int(v) for v in by_vocabulary)
            out += [f"p50 at {sizes[-1]:,} words / p50 at {sizes[0]:,} words:", "",
                    "| query | ratio |", "|---|---|"]
            out += [f"| {k} | {v:.2f}x |" for k, v in se["p50_ratio"].items()]
            out.append("")

    with_live = [run for run in runs if "live" in run]
    if with_live:
        out += live_section(with_live[-1])

    with_cluster = [run for run in runs if "cluster" in run]
    if with_cluster:
        out += cluster_section(with_cluster[-1])

    mi = r.get("micro_ns")
    if mi:
        out += ["### Micro-benchmarks (Google Benchmark)", "", "| | ns |", "|---|---|"]
        out += [f"| `{k}` | {fmt(v)} |" for k, v in mi.items()] + [""]

    out += ["## All runs", "",
            "| date | commit | cores | stack | create p99<10ms | read p99<10ms | create closed | read closed | "
            "HTTP ceiling | drain MariaDB | drain ES |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for run in reversed(full):
        c = run.get("closed_loop", {})
        dr = run.get("drain") or {}
        out.append(
            f"| {run['machine']['date']} | `{run['machine']['commit']}` | {run['machine']['cores']} | "
            f"{run['settings'].get('stack', 'as found')} | {fmt((run.get('peak_create_message') or {}).get('peak_rate'))}/s | "
            f"{fmt((run.get('peak_get_message') or {}).get('peak_rate'))}/s | "
            f"{fmt(c.get('create_message', {}).get('throughput'))}/s | {fmt(c.get('get_message', {}).get('throughput'))}/s | "
            f"{fmt(run.get('ceiling_http', {}).get('throughput'))}/s | {fmt(dr.get('mysql_rate'))}/s | "
            f"{fmt(dr.get('es_rate'))}/s |")
    out += ["", "Run it yourself: `make bench` (settings: `BENCH_STEP_DURATION`, `BENCH_DURATION`, "
            "`BENCH_CONNECTIONS`, `BENCH_START_RATE`, `BENCH_MESSAGES`, `BENCH_CHATS`, "
            "`BENCH_VOCABULARIES`, `BENCH_QUERIES`, `BENCH_SKIP_SEARCH=1`, `BENCH_ONLY_SEARCH=1`, `BENCH_LIVE_STREAMS`, `BENCH_LIVE_SUBSCRIBERS`, `BENCH_LIVE_RATE`, `BENCH_LIVE_DURATION`, `BENCH_LIVE_CHATS`, `BENCH_LIVE_KINDS`, `BENCH_SKIP_LIVE=1`, `BENCH_ONLY_LIVE=1`, `BENCH_CLUSTER_ROUNDS`, `BENCH_CLUSTER_RATES`, `BENCH_SKIP_CLUSTER=1`, `BENCH_ONLY_CLUSTER=1`, `BENCH_SUSTAINED_RATES`, `BENCH_SUSTAINED_BISECTIONS`, `BENCH_SUSTAINED_DURATION`, `BENCH_SKIP_SUSTAINED=1`, `BENCH_WEBHOOK_ROUNDS`, `BENCH_SKIP_WEBHOOKS=1`, `BENCH_ONLY_WEBHOOKS=1`). Each run adds a file to `docs/bench-results/`; commit it "
            "with the regenerated page to keep the comparison. Since `scripts/bench.sh` empties its own stack "
            "first (stack `emptied`), a run no longer depends on the data earlier runs left; runs on the "
            "developer's stack `as found` carried every earlier run's data (1.5 M Redis keys, a 1 M-document "
            "index) and compare only roughly.", ""]
    return "\n".join(out)


def main():
    files = sorted(glob.glob(os.path.join(RESULTS, "*.json")))
    if not files:
        raise SystemExit("no results in docs/bench-results/; run make bench")
    runs = []
    for path in files:
        with open(path) as f:
            runs.append(json.load(f))
    text = render(runs)
    # Measurements made by hand (before/after comparisons, sizes make bench does not run) are kept in
    # docs/bench-notes/*.md and appended as they are.
    for note in sorted(glob.glob(os.path.join(ROOT, "docs", "bench-notes", "*.md"))):
        with open(note) as f:
            text = text.rstrip("\n") + "\n\n" + f.read()
    with open(OUT, "w") as f:
        f.write(text)
    print(f"wrote {os.path.relpath(OUT, ROOT)} from {len(runs)} run(s)")


if __name__ == "__main__":
    main()
