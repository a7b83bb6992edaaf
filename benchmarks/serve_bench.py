"""`nowcast serve` overview latency with 1,000 stored forecasts (HTML `/` and JSON API).

Writes 1,000 small synthetic forecasts (4 pipelines x 250 hourly inits, 40x60 grid) with the
test fixtures, serves them with uvicorn on 127.0.0.1 and a free port, and times GET `/`,
`/api/pipelines` and `/api/revision` over real HTTP: the first (cold) request, then the median
and 95th percentile of `--repeats`. Listing uses the catalog's folder-mtime cache; a fresh
forecast file landing invalidates only its pipeline's listing (timed as "after new file").
Then `--clients` threads (default 8) each GET `/api/revision` `--repeats` times, once over one
kept-alive connection per client and once over a new connection per request: the medians of
both (a keep-alive reply that waits for the peer's delayed ACK shows as about 40 ms).

Run: `PYTHONPATH=. .venv/bin/python benchmarks/serve_bench.py [--forecasts 1000] [--repeats 50]`
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from forecast_fixtures import shifted_init, write_forecast  # noqa: E402
from serve_fixtures import settings_for, synthetic  # noqa: E402

from nowcast.serve.runner import BackgroundServer  # noqa: E402

PIPELINES = ("bench-a", "bench-b", "bench-c", "bench-d")
START = pd.Timestamp("2024-01-01")  # naive UTC, as the tool keeps times
URLS = ("/", "/api/pipelines", "/api/revision")


def get_ms(url: str) -> float:
    """Milliseconds for one whole GET (status 200 required)."""
    began = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        response.read()
        assert response.status == 200
    return (time.perf_counter() - began) * 1000


def client_ms(port: int, path: str, repeats: int, keep_alive: bool) -> list[float]:
    """One client's request times (ms): over one kept-alive connection, or one per request."""
    times = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for _ in range(repeats):
        if not keep_alive:
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        began = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        assert response.status == 200
        times.append((time.perf_counter() - began) * 1000)
    connection.close()
    return times


def concurrent_median_ms(port: int, clients: int, repeats: int, keep_alive: bool) -> float:
    """Median request time over `clients` concurrent clients."""
    with ThreadPoolExecutor(clients) as pool:
        runs = pool.map(
            lambda _: client_ms(port, "/api/revision", repeats, keep_alive), range(clients)
        )
        return statistics.median(t for run in runs for t in run)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forecasts", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_for(Path(tmp))
        began = time.perf_counter()
        per = args.forecasts // len(PIPELINES)
        base = {name: synthetic(name, START) for name in PIPELINES}
        for name in PIPELINES:
            for hour in range(per):
                init = START + timedelta(hours=hour)
                write_forecast(shifted_init(base[name], init), settings.output.forecasts)
        count = len(list(settings.output.forecasts.glob("*/*.nc")))
        print(f"wrote {count} forecasts in {time.perf_counter() - began:.1f} s")
        with BackgroundServer(settings, clock=lambda: START + timedelta(days=30)) as server:
            for path in URLS:
                cold = get_ms(server.url + path)
                times = sorted(get_ms(server.url + path) for _ in range(args.repeats))
                p95 = times[min(len(times) - 1, round(0.95 * len(times)))]
                print(
                    f"GET {path:<16} cold {cold:7.1f} ms   median {statistics.median(times):6.1f}"
                    f" ms   p95 {p95:6.1f} ms   (n={len(times)})"
                )
            init = START + timedelta(hours=per)
            write_forecast(shifted_init(base[PIPELINES[0]], init), settings.output.forecasts)
            print(f"GET / after new file  {get_ms(server.url + '/'):7.1f} ms")
            for keep_alive, label in ((True, "keep-alive"), (False, "new connection")):
                median = concurrent_median_ms(server.port, args.clients, args.repeats, keep_alive)
                print(
                    f"GET /api/revision, {args.clients} clients, {label:<14}"
                    f" median {median:6.1f} ms   (n={args.clients * args.repeats})"
                )


if __name__ == "__main__":
    main()
