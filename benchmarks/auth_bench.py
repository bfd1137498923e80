"""Cost of SCTP-AUTH (RFC 4895) in the sans-io stack: the same transfer without and with a key.

Runs ``sansio_bench.Transfer`` (two ``SctpEndpoint`` objects joined in memory, both sides in
this process, CPU time) twice per size: endpoints without keys, then endpoints with
``auth_keys`` (HMAC-SHA256, every DATA / I-DATA and SACK packet carries a 40-byte AUTH chunk
whose HMAC the sender computes and the receiver checks). Prints both rates, their ratio and
the added cost per datagram (sender and receiver together), then the cost of one HMAC alone
(``hmac`` from the standard library over a packet of that size) as the floor.

Usage::

    .venv/bin/python benchmarks/auth_bench.py [--sizes 64,1024,16384] [--messages N]
        [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import hmac
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sansio_bench import Transfer, default_count

from netchan.transport.sctp import COMPILED
from netchan.transport.sctp.options import Options

KEY = bytes(range(32))


def best_run(size: int, count: int, options: Options, repeat: int) -> tuple[float, int]:
    """(best CPU seconds, datagrams of that run) over ``repeat`` seeded runs."""
    best = float("inf")
    datagrams = 0
    for seed in range(1, repeat + 1):
        transfer = Transfer(size, count, options, seed=seed)
        elapsed = transfer.run()
        if elapsed < best:
            best, datagrams = elapsed, transfer.datagrams
    return best, datagrams


def hmac_cost(size: int, rounds: int = 20000) -> float:
    """Microseconds for one keyed HMAC-SHA256 of ``size`` bytes (copy of a keyed object)."""
    keyed = hmac.new(KEY, digestmod=hashlib.sha256)
    data = bytes(size)
    start = time.process_time()
    for _ in range(rounds):
        mac = keyed.copy()
        mac.update(data)
        mac.digest()
    return (time.process_time() - start) / rounds * 1e6


def main() -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="64,1024,16384")
    parser.add_argument("--messages", type=int, default=0, help="per size (0: default)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    plain = Options(heartbeat_interval=0)
    keyed = dataclasses.replace(plain, auth_keys={1: KEY})
    results = []
    if not args.json:
        print(f"sans-io core: {'compiled (mypyc)' if COMPILED else 'pure Python'}")
        print(
            f"{'size':>7} {'msgs':>7} {'no key msgs/s':>14} {'key msgs/s':>11} {'ratio':>6} "
            f"{'+us/datagram':>13} {'HMAC us':>8}"
        )
    for size in [int(s) for s in args.sizes.split(",") if s]:
        count = args.messages or default_count(size)
        t_plain, d_plain = best_run(size, count, plain, max(1, args.repeat))
        t_auth, d_auth = best_run(size, count, keyed, max(1, args.repeat))
        per_datagram = (t_auth / d_auth - t_plain / d_plain) * 1e6
        packet = min(1200, 60 + size)
        result = {
            "size": size,
            "messages": count,
            "plain_msgs_per_s": round(count / t_plain),
            "auth_msgs_per_s": round(count / t_auth),
            "ratio": round(t_plain / t_auth, 3),
            "added_us_per_datagram": round(per_datagram, 2),
            "datagrams_plain": d_plain,
            "datagrams_auth": d_auth,
            "hmac_us_per_packet": round(hmac_cost(packet), 2),
            "compiled": COMPILED,
        }
        results.append(result)
        if not args.json:
            print(
                f"{size:>6}B {count:>7} {result['plain_msgs_per_s']:>14} "
                f"{result['auth_msgs_per_s']:>11} {result['ratio']:>6.2f} "
                f"{result['added_us_per_datagram']:>13.2f} {result['hmac_us_per_packet']:>8.2f}",
                flush=True,
            )
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
