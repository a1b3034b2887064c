"""Benchmark: which S3 client the remote store (wfc.store.s3) should use, measured on SeaweedFS.

Not a test. It starts a throwaway SeaweedFS (``weed mini``, tests/seaweed_server.py) on 127.0.0.1
and measures, for boto3 and obstore:

  (a) upload and download of a 256 MiB and a 1 GiB object (best of --reps), each in a fresh process
      so that its peak resident memory is its own:
        boto3-tm      boto3's TransferManager (upload_file/download_file: multipart, 8 threads)
        wfc-s3        wfc.store.s3.S3Store on boto3's client: BLAKE3 check, conditional multipart
                      (If-None-Match: * on CompleteMultipartUpload), 8 threads, verified download
        obstore       obstore.put (multipart, 8 concurrent parts) / obstore.get streamed to a file
        obstore-create  obstore.put(mode="create"): its only conditional put (one PUT, in memory)
  (b) 1000 small (4 KiB) objects: sequential PUTs, HEADs, and LISTing them (1000 keys)
  (c) whether a conditional put (If-None-Match: *) is refused the second time (412), single and
      multipart, and how many of 8 concurrent conditional writers of one key win.

Every figure is written as JSON to ``bench/results/s3_client.json``.

Usage: python3 bench/s3_client.py [--reps 2] [--sizes 256,1024]   (needs pip install '.[test]')
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
MIB = 1 << 20
PART = 16 * MIB
THREADS = 8
SMALL = 1000


def boto3_client(env: dict[str, str]) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=env["WFC_S3_ENDPOINT"],
        region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        config=Config(max_pool_connections=THREADS + 2, s3={"addressing_style": "path"}),
    )


def obstore_store(env: dict[str, str], bucket: str) -> Any:
    from obstore.store import S3Store

    return S3Store(
        bucket,
        endpoint=env["WFC_S3_ENDPOINT"],
        access_key_id=env["AWS_ACCESS_KEY_ID"],
        secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region=env["AWS_REGION"],
        client_options={"allow_http": True},
    )


def one(client: str, op: str, bucket: str, key: str, path: Path, digest: str) -> dict[str, float]:
    """One transfer in this (fresh) process: seconds and peak resident MiB. For wfc-s3, ``key`` is
    the store's prefix (the object's key follows from ``digest``)."""
    env = dict(os.environ)
    start = time.perf_counter()
    if client == "boto3-tm":
        from boto3.s3.transfer import TransferConfig

        config = TransferConfig(multipart_threshold=PART, multipart_chunksize=PART, max_concurrency=THREADS)
        c = boto3_client(env)
        if op == "up":
            c.upload_file(str(path), bucket, key, Config=config)
        else:
            c.download_file(bucket, key, str(path), Config=config)
    elif client == "wfc-s3":
        from wfc.store.local import ObjectStore
        from wfc.store.s3 import S3Store

        store = S3Store(f"s3://{bucket}/{key}", env, part_size=PART, threads=THREADS)
        if op == "up":
            store.put_file(digest, path)  # includes re-hashing the file: what every put costs
        else:  # what a hit on another machine does: fetch into its local cache, verified
            ObjectStore(path.parent / f"cache-{path.name}", remote=store).fetch(digest)
    else:
        import obstore

        store = obstore_store(env, bucket)
        if op == "up":
            create = client == "obstore-create"
            mode: Literal["create", "overwrite"] = "create" if create else "overwrite"
            obstore.put(store, key, path, mode=mode, chunk_size=PART, max_concurrency=THREADS)
        else:
            with path.open("wb") as out:
                for chunk in obstore.get(store, key).stream(min_chunk_size=8 * MIB):
                    out.write(chunk)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "peak_rss_mib": peak_rss_mib()}


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def in_child(client: str, op: str, key: str, path: Path, digest: str, server: Any) -> dict[str, float]:
    argv = [sys.executable, __file__, "--one", client, op, server.bucket, key, str(path), digest]
    env = server.env()
    out = subprocess.run(argv, env={**os.environ, **env}, capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.splitlines()[-1]))


def big_objects(server: Any, root: Path, sizes: list[int], reps: int) -> dict[str, Any]:
    from wfc.cache.hashing import hash_file

    results: dict[str, Any] = {}
    for mib in sizes:
        src = root / f"src-{mib}"
        with src.open("wb") as out:
            for _ in range(mib):
                out.write(os.urandom(MIB))
        digest = hash_file(src)[0]
        for client in ("boto3-tm", "wfc-s3", "obstore", "obstore-create"):
            row: dict[str, Any] = {}
            for op in ("up", "down"):
                if op == "down" and client == "obstore-create":
                    continue  # the same download as obstore
                best: dict[str, float] | None = None
                for rep in range(reps):
                    key = f"{client}-{mib}-{rep if op == 'up' else 0}"  # download what rep 0 uploaded
                    key = key if client == "wfc-s3" else f"{key}/object"
                    path = src if op == "up" else root / f"dest-{mib}"
                    if op == "down":
                        path.unlink(missing_ok=True)
                        shutil.rmtree(root / f"cache-{path.name}", ignore_errors=True)
                    try:
                        got = in_child(client, op, key, path, digest, server)
                    except subprocess.CalledProcessError as exc:
                        row[op] = {"error": exc.stderr.strip().splitlines()[-1]}
                        break
                    if best is None or got["seconds"] < best["seconds"]:
                        best = got
                if best is not None:
                    best["mib_per_s"] = mib / best["seconds"]
                    row[op] = best
                    rate, rss = best["mib_per_s"], best["peak_rss_mib"]
                    print(f"{mib:5} MiB {client:15} {op:4} {rate:7.1f} MiB/s  peak RSS {rss:.0f} MiB")
            results.setdefault(f"{mib}MiB", {})[client] = row
        by = results[f"{mib}MiB"]
        for op in ("up", "down"):  # issue 14: >= 0.8 of the same client's raw transfer
            ratio = by["wfc-s3"][op]["mib_per_s"] / by["boto3-tm"][op]["mib_per_s"]
            by[f"wfc_over_raw_{op}"] = round(ratio, 3)
            print(f"{mib:5} MiB wfc / raw boto3 {op:4} {ratio:.2f} (target >= 0.8)")
        src.unlink()
        (root / f"dest-{mib}").unlink(missing_ok=True)
    return results


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def small_objects(server: Any) -> dict[str, Any]:
    import obstore

    env = server.env()
    c = boto3_client({**env})
    ob = obstore_store(env, server.bucket)
    body = os.urandom(4096)
    keys = [f"small/{i:04}" for i in range(SMALL)]
    out: dict[str, Any] = {}

    def boto3_list(prefix: str) -> int:
        pages = c.get_paginator("list_objects_v2").paginate(Bucket=server.bucket, Prefix=prefix)
        return sum(len(p.get("Contents", [])) for p in pages)

    def obstore_list(prefix: str) -> int:
        return sum(len(batch) for batch in obstore.list(ob, prefix))

    for name, put, head, lister in (
        (
            "boto3",
            lambda k: c.put_object(Bucket=server.bucket, Key=f"b/{k}", Body=body),
            lambda k: c.head_object(Bucket=server.bucket, Key=f"b/{k}"),
            lambda: boto3_list("b/small/"),
        ),
        (
            "obstore",
            lambda k: obstore.put(ob, f"o/{k}", body),
            lambda k: obstore.head(ob, f"o/{k}"),
            lambda: obstore_list("o/small/"),
        ),
    ):
        put_s = timed(lambda put=put: [put(k) for k in keys])
        head_s = timed(lambda head=head: [head(k) for k in keys])
        listed = lister()
        assert listed == SMALL, listed
        list_s = min(timed(lister) for _ in range(5))
        out[name] = {
            "put_per_s": SMALL / put_s,
            "head_per_s": SMALL / head_s,
            "list_1000_keys_ms": list_s * 1000,
        }
        rates = f"PUT {SMALL / put_s:6.0f}/s  HEAD {SMALL / head_s:6.0f}/s"
        print(f"{name:8} {SMALL} {rates}  LIST {list_s * 1000:.1f} ms")
    return out


def conditional_puts(server: Any) -> dict[str, Any]:
    import obstore
    from botocore.exceptions import ClientError

    env = server.env()
    c = boto3_client(env)
    ob = obstore_store(env, server.bucket)
    b = server.bucket
    out: dict[str, Any] = {}

    def outcome(fn: Callable[[], object]) -> str:
        try:
            fn()
            return "stored"
        except ClientError as exc:
            meta = exc.response["ResponseMetadata"]
            return f"refused {meta['HTTPStatusCode']} {exc.response['Error']['Code']}"
        except Exception as exc:
            return f"refused {type(exc).__name__}"

    put = lambda: c.put_object(Bucket=b, Key="cond/boto3", Body=b"1", IfNoneMatch="*")  # noqa: E731
    out["boto3_put_object"] = [outcome(put), outcome(put)]

    def multipart(key: str) -> None:
        upload = c.create_multipart_upload(Bucket=b, Key=key)["UploadId"]
        etag = c.upload_part(Bucket=b, Key=key, UploadId=upload, PartNumber=1, Body=b"x" * 10)["ETag"]
        try:
            c.complete_multipart_upload(
                Bucket=b,
                Key=key,
                UploadId=upload,
                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
                IfNoneMatch="*",
            )
        finally:
            with contextlib.suppress(ClientError):  # after a success: NoSuchUpload
                c.abort_multipart_upload(Bucket=b, Key=key, UploadId=upload)

    out["boto3_complete_multipart_upload"] = [outcome(lambda: multipart("cond/mp")) for _ in range(2)]
    create = lambda: obstore.put(ob, "cond/obstore", b"1", mode="create")  # noqa: E731
    out["obstore_put_create"] = [outcome(create), outcome(create)]
    create_mp = lambda: obstore.put(  # noqa: E731
        ob, "cond/obstore-mp", b"x" * (12 * MIB), mode="create", use_multipart=True, chunk_size=5 * MIB
    )
    out["obstore_put_create_multipart"] = [outcome(create_mp), outcome(create_mp)]

    def race(key: str, writers: int = 8) -> int:
        barrier = threading.Barrier(writers)
        got: list[str] = []

        def racer() -> None:
            barrier.wait()
            got.append(
                outcome(lambda: c.put_object(Bucket=b, Key=key, Body=os.urandom(MIB), IfNoneMatch="*"))
            )

        threads = [threading.Thread(target=racer) for _ in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return got.count("stored")

    races = [race(f"cond/race-{trial}") for trial in range(5)]
    out["winners_of_8_concurrent_conditional_puts"] = races
    for name, value in out.items():
        print(f"{name}: {value}")
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        client, op, bucket, key, path, digest = sys.argv[2:8]
        print(json.dumps(one(client, op, bucket, key, Path(path), digest)))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--sizes", default="256,1024", help="object sizes in MiB, comma-separated")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    import boto3
    import botocore
    import obstore

    from tests.seaweed_server import SeaweedServer, weed_binary

    server = SeaweedServer.start()
    root = Path(tempfile.mkdtemp(prefix="wfc-bench-s3-"))
    try:
        weed = subprocess.run([str(weed_binary()), "version"], capture_output=True, text=True).stdout.strip()
        doc = {
            "schema": "wfc.bench.s3-client/1",
            "versions": {
                "boto3": boto3.__version__,
                "botocore": botocore.__version__,
                "obstore": obstore.__version__,
                "seaweedfs": weed,
            },
            "machine": {"cpus": os.cpu_count()},
            "settings": {"part_mib": PART // MIB, "threads": THREADS, "reps": args.reps},
            "conditional_put": conditional_puts(server),
            "small_objects": small_objects(server),
            "big_objects": big_objects(server, root, sizes, args.reps),
        }
    finally:
        server.stop()
        server.remove()
        subprocess.run(["rm", "-rf", str(root)], check=False)
    results = REPO / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "s3_client.json").write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
