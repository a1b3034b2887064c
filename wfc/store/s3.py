"""The remote object layer: content-addressed objects in an S3 bucket (``WFC_STORE=s3://BUCKET/PREFIX``).

It owns naming (``PREFIX/objects/<2 hex>/<62 hex>``, the local store's layout), moving bytes
(parallel multipart uploads, parallel ranged downloads), and integrity: a file is uploaded only
under the name its bytes hash to, with ``If-None-Match: *`` so an object, once written, is never
rewritten (a refused put means the object is there: success); a download lands in a temporary file
beside its destination and is renamed into place only once its BLAKE3 digest matches the name.
Existence is answered in bulk by LIST, never one HEAD per object. Every failure a user can fix
(bad URL, endpoint, credentials, bucket) is one :class:`~wfc.errors.WfcError` line with a hint.

Settings come from the environment: ``WFC_S3_ENDPOINT`` (an S3-compatible server; unset: AWS),
and the standard ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``,
``AWS_REGION``/``AWS_DEFAULT_REGION`` and ``AWS_PROFILE`` (else boto3's own chain). ADR 0025 says
why boto3's low-level client rather than its TransferManager or obstore.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

import blake3
import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from wfc.cache.hashing import ALGORITHM, hex_of
from wfc.errors import InfraError, UsageError
from wfc.store.local import ObjectCorrupt, ObjectMissing

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

PART_SIZE = 16 << 20  # multipart above this; each of THREADS workers holds one part in memory
THREADS = 8
MAX_PARTS = 10_000  # S3's limit: bigger files get bigger parts
_CHUNK = 1 << 20
_BAD_KEYS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
_URL_HINT = "set WFC_STORE=s3://BUCKET/PREFIX, e.g. s3://my-bucket/wfc"


class S3StoreError(InfraError):
    """The bucket cannot be used: unreachable, refused credentials, missing (exit 3)."""


class S3Store:
    """Objects named by digest under ``s3://bucket/prefix``; see the module docstring."""

    def __init__(
        self,
        url: str,
        env: Mapping[str, str] | None = None,
        *,
        part_size: int = PART_SIZE,
        threads: int = THREADS,
    ) -> None:
        """Parse ``url`` and make a client from ``env`` (default: ``os.environ``); no request yet.

        Raises:
            UsageError: The URL is not ``s3://BUCKET[/PREFIX]``, or ``AWS_PROFILE`` names no profile.
        """
        env = os.environ if env is None else env
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise UsageError(f"not an S3 store URL: {url!r} (it names no bucket)", _URL_HINT)
        self.url = url
        self.bucket = parts.netloc
        prefix = parts.path.strip("/")
        self.prefix = f"{prefix}/" if prefix else ""
        self.part_size = part_size
        self.threads = threads
        endpoint = env.get("WFC_S3_ENDPOINT") or None
        config = Config(
            connect_timeout=5,
            read_timeout=60,
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=threads + 2,
            s3={"addressing_style": "path" if endpoint else "auto"},
            response_checksum_validation="when_required",  # every download is BLAKE3-verified
        )
        try:
            session = boto3.session.Session(
                aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
                aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
                aws_session_token=env.get("AWS_SESSION_TOKEN"),
                region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
                profile_name=env.get("AWS_PROFILE") or None,
            )
        except BotoCoreError as exc:  # ProfileNotFound
            raise UsageError(
                f"S3 store {url}: {exc}", "set AWS_PROFILE to a profile in ~/.aws/config"
            ) from None
        region = session.region_name or ("us-east-1" if endpoint else None)
        self.client: S3Client = session.client("s3", endpoint_url=endpoint, region_name=region, config=config)
        self.endpoint = self.client.meta.endpoint_url

    # -- naming ---------------------------------------------------------------------------
    def key(self, digest: str) -> str:
        """The key of the object named ``digest``: ``PREFIX/objects/<2 hex>/<62 hex>``."""
        hexpart = hex_of(digest)
        return f"{self.prefix}objects/{hexpart[:2]}/{hexpart[2:]}"

    def _digest_of(self, key: str) -> str | None:
        rest = key.removeprefix(f"{self.prefix}objects/")
        fan, _, tail = rest.partition("/")
        hexpart = fan + tail
        if len(fan) != 2 or len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
            return None  # not an object of ours (a stray key under the prefix)
        return f"{ALGORITHM}:{hexpart}"

    # -- listing --------------------------------------------------------------------------
    def iter_objects_with_mtime(self) -> Iterator[tuple[str, datetime, int]]:
        """Every object as ``(digest, last modified, size)``, by paginated LIST (1000 keys a request)."""
        with self._errors():
            pages = self.client.get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.bucket, Prefix=f"{self.prefix}objects/"):
                for item in page.get("Contents", []):
                    digest = self._digest_of(item["Key"])
                    if digest is not None:
                        yield digest, item["LastModified"], item["Size"]

    def list_digests(self) -> set[str]:
        """The digests of every object in the store: bulk existence, by LIST."""
        return {digest for digest, _, _ in self.iter_objects_with_mtime()}

    # -- writing --------------------------------------------------------------------------
    def put_file(self, digest: str, path: Path) -> bool:
        """Upload ``path`` as the object ``digest`` unless it is there; True if this call wrote it.

        Raises:
            ObjectCorrupt: The file's bytes do not hash to ``digest`` (nothing is uploaded).
            S3StoreError: The bucket cannot be used.
        """
        key = self.key(digest)
        big = path.stat().st_size > self.part_size
        with self._errors():
            if big and self._exists(key):  # a refused multipart put would have sent every part first
                return False
        fd = os.open(path, os.O_RDONLY)
        try:
            actual, size = _hash_fd(fd)
        finally:
            os.close(fd)
        if actual != digest:
            raise ObjectCorrupt(
                f"refused to upload {path} as {digest}: its bytes hash to {actual}",
                "verify the local store with `wfc cache verify`",
            )
        with self._errors():
            try:
                if not big:
                    self.client.put_object(
                        Bucket=self.bucket, Key=key, Body=path.read_bytes(), IfNoneMatch="*"
                    )
                    return True
                return self._put_multipart(key, path, size)
            except ClientError as exc:
                if _code(exc) == "PreconditionFailed":
                    return False  # written already (by us earlier, or a concurrent writer): same bytes
                if _code(exc) == "ConditionalRequestConflict" and self._exists(key):
                    return False  # AWS: a concurrent conditional write of the same key won
                raise

    def _put_multipart(self, key: str, path: Path, size: int) -> bool:
        part_size = max(self.part_size, -(-size // MAX_PARTS))
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        fd = os.open(path, os.O_RDONLY)

        def part(number: int) -> CompletedPartTypeDef:
            body = os.pread(fd, part_size, (number - 1) * part_size)
            reply = self.client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
            )
            return {"PartNumber": number, "ETag": reply["ETag"]}

        try:
            with ThreadPoolExecutor(self.threads) as pool:
                done = list(pool.map(part, range(1, -(-size // part_size) + 1)))
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": done},
                IfNoneMatch="*",
            )
            return True
        except BaseException:
            with contextlib.suppress(BotoCoreError, ClientError):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise
        finally:
            os.close(fd)

    def delete(self, digest: str) -> None:
        """Remove an object (absent already: nothing to do)."""
        with self._errors():
            self.client.delete_object(Bucket=self.bucket, Key=self.key(digest))

    # -- reading --------------------------------------------------------------------------
    def get_file(self, digest: str, dest: Path) -> None:
        """Download the object ``digest`` to ``dest`` (read-only), verified, atomically.

        Raises:
            ObjectMissing: No such object.
            ObjectCorrupt: Its bytes do not hash to its name; nothing is left at ``dest``.
            S3StoreError: The bucket cannot be used.
        """
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.s3-")
        try:
            self.download(digest, fd)
            os.fchmod(fd, 0o444)
            os.fsync(fd)
            os.replace(tmp, dest)
        finally:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def download(self, digest: str, fd: int) -> None:
        """Write the object ``digest`` into the empty file open as ``fd`` and verify it; the caller
        makes it durable and names it (the local store: into ``objects/`` only when this returns).

        Raises:
            ObjectMissing: No such object.
            ObjectCorrupt: Its bytes do not hash to its name (the file holds them: discard it).
            S3StoreError: The bucket cannot be used.
        """
        with self._errors(), os.fdopen(os.dup(fd), "r+b") as out:
            hasher = self._download(self.key(digest), digest, out)
            out.flush()
        actual = f"{ALGORITHM}:{hasher.hexdigest()}" if hasher else _hash_fd(fd)[0]
        if actual != digest:
            raise ObjectCorrupt(
                f"object {digest} in {self.url} is corrupt (its bytes hash to {actual})",
                "delete it from the bucket and upload it again from a good copy",
            )

    def _download(self, key: str, digest: str, out: IO[bytes]) -> Any:
        """Write the object to ``out``; return a BLAKE3 hasher of it when read in one stream, else None
        (the caller hashes the file: ranged parts arrive out of order)."""
        try:
            first = self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes=0-{self.part_size - 1}")
        except ClientError as exc:
            if _code(exc) in ("NoSuchKey", "404"):
                raise ObjectMissing(
                    f"object {digest} is missing from {self.url}", "re-run the step that made it"
                ) from None
            if _code(exc) != "InvalidRange":
                raise
            return blake3.blake3()  # an empty object: no byte range exists
        size = int(first["ContentRange"].rpartition("/")[2])
        hasher = blake3.blake3()
        for chunk in first["Body"].iter_chunks(_CHUNK):
            hasher.update(chunk)
            out.write(chunk)
        if size <= self.part_size:
            return hasher
        out.truncate(size)
        fileno = out.fileno()
        etag = first["ETag"]

        def part(start: int) -> None:
            end = min(start + self.part_size, size) - 1
            reply = self.client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end}", IfMatch=etag
            )
            offset = start
            for chunk in reply["Body"].iter_chunks(_CHUNK):
                os.pwrite(fileno, chunk, offset)
                offset += len(chunk)

        with ThreadPoolExecutor(self.threads) as pool:
            list(pool.map(part, range(self.part_size, size, self.part_size)))
        return None

    def _exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as exc:
            if _code(exc) in ("404", "NoSuchKey"):
                return False
            raise

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn the client's exceptions into one-line errors that name the problem and the fix."""
        where = f"{self.url} (endpoint {self.endpoint})"
        try:
            yield
        except EndpointConnectionError:
            raise S3StoreError(
                f"cannot reach the S3 endpoint {self.endpoint} for {self.url}",
                "check WFC_S3_ENDPOINT (or the AWS region) and that the server is running",
            ) from None
        except NoCredentialsError:
            raise S3StoreError(
                f"no S3 credentials for {where}",
                "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE",
            ) from None
        except ClientError as exc:
            code = _code(exc)
            if code in _BAD_KEYS:
                raise S3StoreError(
                    f"the S3 endpoint refused the credentials for {where}: {code}",
                    "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)",
                ) from None
            if code == "AccessDenied":
                raise S3StoreError(
                    f"access denied to {where}",
                    "grant these credentials List, Get, Put and Delete on the bucket and prefix",
                ) from None
            if code == "NoSuchBucket":
                raise S3StoreError(
                    f"the bucket {self.bucket!r} does not exist at {self.endpoint}",
                    f"create it (`aws s3 mb s3://{self.bucket}`) or fix the bucket in WFC_STORE",
                ) from None
            raise S3StoreError(f"S3 request to {where} failed: {code}: {_message(exc)}") from None
        except BotoCoreError as exc:
            raise S3StoreError(f"S3 request to {where} failed: {exc}", "check WFC_S3_ENDPOINT") from None


def _hash_fd(fd: int) -> tuple[str, int]:
    """``(digest, size)`` of an open file read in parts hashed on all cores: bounded memory, unlike an
    mmap of the whole file (which a 1 GiB object would add to the process's resident size)."""
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO)
    size = 0
    while chunk := os.pread(fd, PART_SIZE, size):
        hasher.update(chunk)
        size += len(chunk)
    return f"{ALGORITHM}:{hasher.hexdigest()}", size


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _message(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Message", ""))
