"""The S3 object layer (wfc.store.s3) against a real SeaweedFS: round trips, append-only conditional
puts, concurrent writers, bulk existence by LIST, corruption refused on download, and the text of
every error a user can fix."""

from __future__ import annotations

import os
import socket
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.seaweed_server import READER_KEY, SeaweedServer
from wfc.cache.hashing import hash_bytes, hash_file
from wfc.errors import ExitCode, UsageError
from wfc.store.local import ObjectCorrupt, ObjectMissing
from wfc.store.s3 import S3Store, S3StoreError

SMALL_PART = 5 << 20  # S3's smallest part: a 40 MiB file goes up and down in 8 parallel parts


def make_store(seaweed: SeaweedServer, prefix: str, **env: str) -> S3Store:
    return S3Store(f"s3://{seaweed.bucket}/{prefix}", {**seaweed.env(), **env}, part_size=SMALL_PART)


def write(path: Path, data: bytes) -> tuple[Path, str]:
    path.write_bytes(data)
    return path, hash_bytes(data)


def count_calls(store: S3Store) -> Counter[str]:
    """Count the S3 operations the store's client makes from now on, by name."""
    calls: Counter[str] = Counter()

    def hook(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    store.client.meta.events.register("before-call.s3", hook)
    return calls


@pytest.fixture
def store(seaweed: SeaweedServer, request: pytest.FixtureRequest) -> S3Store:
    """A store under a prefix of its own (the bucket is shared by the session)."""
    return make_store(seaweed, f"t/{request.node.name}")


def test_key_has_the_local_layout(store: S3Store) -> None:
    digest = "blake3:" + "ab" + "c" * 62
    assert store.key(digest) == f"t/test_key_has_the_local_layout/objects/ab/{'c' * 62}"
    assert S3Store("s3://bucket", {}).key(digest) == f"objects/ab/{'c' * 62}"


@pytest.mark.parametrize("size", [0, 1000, 40 << 20])
def test_round_trip(store: S3Store, tmp_path: Path, size: int) -> None:
    src, digest = write(tmp_path / "src", os.urandom(size))
    calls = count_calls(store)
    assert store.put_file(digest, src) is True
    dest = tmp_path / "out" / "dest"
    dest.parent.mkdir()
    store.get_file(digest, dest)
    assert hash_file(dest) == (digest, size)
    assert dest.stat().st_mode & 0o777 == 0o444
    assert sorted(os.listdir(dest.parent)) == ["dest"]  # no temporary file left
    if size > SMALL_PART:  # big: parallel multipart up, parallel ranged parts down
        assert calls["UploadPart"] == 8 and calls["CompleteMultipartUpload"] == 1
        assert calls["GetObject"] == 8


def test_second_put_succeeds_without_rewriting(
    seaweed: SeaweedServer, store: S3Store, tmp_path: Path
) -> None:
    raw = seaweed.client()
    for size in (100, 12 << 20):
        src, digest = write(tmp_path / f"f{size}", os.urandom(size))
        assert store.put_file(digest, src) is True
        before = raw.head_object(Bucket=store.bucket, Key=store.key(digest))
        calls = count_calls(store)
        assert store.put_file(digest, src) is False
        after = raw.head_object(Bucket=store.bucket, Key=store.key(digest))
        assert (after["ETag"], after["LastModified"]) == (before["ETag"], before["LastModified"])
        assert calls["UploadPart"] == 0  # a big object already there is not sent again


@pytest.mark.parametrize("size", [1 << 20, 12 << 20])
def test_concurrent_writers_of_one_digest_all_succeed(
    seaweed: SeaweedServer, tmp_path: Path, size: int
) -> None:
    """Four writers (each its own client, as four hosts would be) race to put one object: every one
    succeeds, at least one wrote it, and the object is correct."""
    stores = [make_store(seaweed, f"t/race-{size}") for _ in range(4)]
    src, digest = write(tmp_path / "f", os.urandom(size))
    barrier = threading.Barrier(len(stores))
    results: list[bool | BaseException] = []

    def writer(store: S3Store) -> None:
        barrier.wait()
        try:
            results.append(store.put_file(digest, src))
        except BaseException as exc:
            results.append(exc)

    threads = [threading.Thread(target=writer, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r is True or r is False for r in results), results
    assert results.count(True) >= 1
    stores[0].get_file(digest, tmp_path / "back")
    assert hash_file(tmp_path / "back")[0] == digest


def test_list_digests_lists_in_pages_never_heads(seaweed: SeaweedServer, tmp_path: Path) -> None:
    store = make_store(seaweed, "t/listing")
    digests = set()
    for i in range(5):
        src, digest = write(tmp_path / f"f{i}", f"object {i}".encode())
        store.put_file(digest, src)
        digests.add(digest)
    seaweed.client().put_object(Bucket=seaweed.bucket, Key="t/listing/objects/zz/not-a-digest", Body=b"x")
    calls = count_calls(store)
    # two keys a page: the paginator must follow the continuation tokens
    store.client.meta.events.register(
        "before-parameter-build.s3.ListObjectsV2", lambda params, **_: params.update(MaxKeys=2)
    )
    assert store.list_digests() == digests
    assert set(calls) == {"ListObjectsV2"} and calls["ListObjectsV2"] == 3
    assert {d for d, _, _ in store.iter_objects_with_mtime()} == digests
    assert make_store(seaweed, "t/listing-empty").list_digests() == set()


def test_delete(store: S3Store, tmp_path: Path) -> None:
    src, digest = write(tmp_path / "f", b"to delete")
    store.put_file(digest, src)
    store.delete(digest)
    store.delete(digest)  # absent: nothing to do
    assert store.list_digests() == set()


def test_corrupt_remote_object_is_refused_and_leaves_nothing(
    seaweed: SeaweedServer, store: S3Store, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for size in (1000, 12 << 20):
        src, digest = write(tmp_path / f"f{size}", os.urandom(size))
        store.put_file(digest, src)
        seaweed.client().put_object(Bucket=store.bucket, Key=store.key(digest), Body=os.urandom(size))
        with pytest.raises(ObjectCorrupt) as caught:
            store.get_file(digest, out / "dest")
        assert str(caught.value).startswith(
            f"object {digest} in {store.url} is corrupt (its bytes hash to blake3:"
        )
        assert caught.value.hint == "delete it from the bucket and upload it again from a good copy"
        assert os.listdir(out) == []


def test_a_file_that_does_not_match_its_name_is_not_uploaded(store: S3Store, tmp_path: Path) -> None:
    src, _ = write(tmp_path / "f", b"these bytes")
    wrong = hash_bytes(b"other bytes")
    with pytest.raises(ObjectCorrupt, match=f"refused to upload {src} as {wrong}: its bytes hash to blake3:"):
        store.put_file(wrong, src)
    assert store.list_digests() == set()


def test_missing_object(store: S3Store, tmp_path: Path) -> None:
    digest = hash_bytes(b"never uploaded")
    with pytest.raises(ObjectMissing) as caught:
        store.get_file(digest, tmp_path / "dest")
    assert str(caught.value) == f"object {digest} is missing from {store.url}"
    assert caught.value.hint == "re-run the step that made it"
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("url", ["s3://", "s3:///prefix", "https://bucket/prefix", "bucket/prefix"])
def test_bad_url(url: str) -> None:
    with pytest.raises(UsageError) as caught:
        S3Store(url, {})
    assert str(caught.value) == f"not an S3 store URL: {url!r} (it names no bucket)"
    assert caught.value.hint == "set WFC_STORE=s3://BUCKET/PREFIX, e.g. s3://my-bucket/wfc"
    assert caught.value.exit_code == ExitCode.USAGE


def assert_infra_error(store: S3Store, message: str, hint: str) -> None:
    with pytest.raises(S3StoreError) as caught:
        store.list_digests()
    assert (str(caught.value), caught.value.hint) == (message, hint)
    assert caught.value.exit_code == ExitCode.INFRA


def test_wrong_credentials(seaweed: SeaweedServer) -> None:
    wrong_secret = make_store(seaweed, "p", AWS_SECRET_ACCESS_KEY="not-the-secret")
    where = f"s3://{seaweed.bucket}/p (endpoint {seaweed.endpoint})"
    hint = "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
    assert_infra_error(
        wrong_secret, f"the S3 endpoint refused the credentials for {where}: SignatureDoesNotMatch", hint
    )
    unknown_key = make_store(seaweed, "p", AWS_ACCESS_KEY_ID="nobody")
    assert_infra_error(
        unknown_key, f"the S3 endpoint refused the credentials for {where}: InvalidAccessKeyId", hint
    )


def test_access_denied(seaweed: SeaweedServer) -> None:
    store = make_store(seaweed, "p", AWS_ACCESS_KEY_ID=READER_KEY)
    assert_infra_error(
        store,
        f"access denied to s3://{seaweed.bucket}/p (endpoint {seaweed.endpoint})",
        "grant these credentials List, Get, Put and Delete on the bucket and prefix",
    )


def test_no_credentials(seaweed: SeaweedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither the variables nor a profile: boto3's own chain (files, instance metadata) finds none."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = S3Store(f"s3://{seaweed.bucket}/p", {"WFC_S3_ENDPOINT": seaweed.endpoint})
    assert_infra_error(
        store,
        f"no S3 credentials for s3://{seaweed.bucket}/p (endpoint {seaweed.endpoint})",
        "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE",
    )


def test_unknown_profile() -> None:
    with pytest.raises(UsageError) as caught:
        S3Store("s3://bucket/p", {"AWS_PROFILE": "no-such-profile", "AWS_CONFIG_FILE": "/nonexistent"})
    assert (
        str(caught.value) == "S3 store s3://bucket/p: The config profile (no-such-profile) could not be found"
    )
    assert caught.value.hint == "set AWS_PROFILE to a profile in ~/.aws/config"


def test_unreachable_endpoint(seaweed: SeaweedServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, not listening: refused
        store = make_store(seaweed, "p", WFC_S3_ENDPOINT=endpoint)
        assert_infra_error(
            store,
            f"cannot reach the S3 endpoint {endpoint} for s3://{seaweed.bucket}/p",
            "check WFC_S3_ENDPOINT (or the AWS region) and that the server is running",
        )


def test_missing_bucket(seaweed: SeaweedServer, tmp_path: Path) -> None:
    store = S3Store("s3://no-such-bucket/p", seaweed.env())
    message = f"the bucket 'no-such-bucket' does not exist at {seaweed.endpoint}"
    hint = "create it (`aws s3 mb s3://no-such-bucket`) or fix the bucket in WFC_STORE"
    assert_infra_error(store, message, hint)
    src, digest = write(tmp_path / "f", b"x")
    for action in (lambda: store.put_file(digest, src), lambda: store.get_file(digest, tmp_path / "dest")):
        with pytest.raises(S3StoreError, match=message):
            action()
    assert sorted(os.listdir(tmp_path)) == ["f"]
