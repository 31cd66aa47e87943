#!/usr/bin/env python3
"""The table of scripts/peers.sh: medians per service and backend set over
the rounds, with the SDK's ratios to each peer.

Usage: peers-report.py RESULTS.tsv HEADER
RESULTS.tsv lines: service, backend, req/s, p50 ms, p99 ms, CPU us per
request, idle RSS KiB, loaded RSS KiB, start-up ms, non-2xx responses, wrk's
CPU us per request.
"""

import statistics
import sys
from collections import defaultdict

NAMES = {
    "sdk": "user_service (core-sdk)",
    "sdk-bare": "user_service without the standard layers",
    "axum": "hand-written axum (no SDK)",
    "fastapi": "FastAPI + uvicorn",
}
BACKENDS = {"embedded": "SQLite + in-process cache", "servers": "PostgreSQL + Redis"}


def main(path, header):
    runs = defaultdict(list)
    for line in open(path):
        fields = line.rstrip("\n").split("\t")
        if len(fields) != 11:
            continue
        service, backend, *numbers = fields
        runs[(backend, service)].append([float(n) for n in numbers])
    median = {key: [statistics.median(column) for column in zip(*rows)] for key, rows in runs.items()}

    print(header)
    print()
    print(
        "| backends | service | req/s | p50 | p99 | CPU per request | wrk's CPU per request "
        "| idle RSS | RSS after load | start-up | non-2xx |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for backend in BACKENDS:
        for service in NAMES:
            row = median.get((backend, service))
            if row is None:
                continue
            rps, p50, p99, cpu, idle, loaded, startup, errors, wrk_cpu = row
            print(
                f"| {BACKENDS[backend]} | {NAMES[service]} | {rps:,.0f} | {p50:.2f} ms | {p99:.2f} ms | "
                f"{cpu:.1f} µs | {wrk_cpu:.1f} µs | {idle / 1024:.1f} MiB | {loaded / 1024:.1f} MiB | "
                f"{startup:.0f} ms | {errors:.0f} |"
            )
    print()
    print(
        "| backends | SDK req/s ÷ FastAPI | SDK p99 ÷ FastAPI | SDK req/s ÷ axum | SDK CPU/request ÷ axum "
        "| standard layers: req/s kept | standard layers: CPU per request added |"
    )
    print("|---|---|---|---|---|---|---|")
    for backend in BACKENDS:
        sdk = median.get((backend, "sdk"))
        if sdk is None:
            continue
        fastapi = median.get((backend, "fastapi"))
        axum = median.get((backend, "axum"))
        bare = median.get((backend, "sdk-bare"))
        cells = [
            f"{sdk[0] / fastapi[0]:.1f}×" if fastapi else "–",
            f"{sdk[2] / fastapi[2]:.2f}×" if fastapi else "–",
            f"{sdk[0] / axum[0]:.2f}×" if axum else "–",
            f"{sdk[3] / axum[3]:.2f}×" if axum else "–",
            f"{sdk[0] / bare[0]:.2f}×" if bare else "–",
            f"{sdk[3] - bare[3]:.1f} µs" if bare else "–",
        ]
        print(f"| {BACKENDS[backend]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
