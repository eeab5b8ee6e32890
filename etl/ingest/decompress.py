"""Decompression bounded by what it produces, not by what it reads.

A few kilobytes of gzip, deflate or zstd can stand for gigabytes (a decompression bomb).
Every decoder here is read through :func:`read_limited`, a chunk at a time, and stops as
soon as the output passes the limit: memory stays near the limit whatever the ratio.

* :func:`decoding_reader` undoes an HTTP ``Content-Encoding`` (``gzip``, ``x-gzip``,
  ``deflate``, ``zstd``, several in turn, or ``identity``) over the raw bytes of a response;
  :data:`ACCEPT_ENCODING` lists what a request may offer.
* :func:`read_catalog_file` reads a catalog file, gzip-compressed or not.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import zstandard

ACCEPT_ENCODING = "gzip, deflate, zstd"
"""The content encodings a request offers: those decoded here with a bound."""
GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 64 * 1024
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
"""The largest catalog accepted, once decompressed: the real ones are well under 1 MB."""


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class TooLarge(ValueError):
    """The decoded content passed the limit: reading stopped there."""


class UnsupportedEncoding(ValueError):
    """A content encoding this module cannot decode with a bound (``br``, ``compress``)."""


class _Chunks(io.RawIOBase):
    """A readable file over an iterator of byte chunks (the raw body of a response)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks: Iterator[bytes] = iter(chunks)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


class _Inflate(io.RawIOBase):
    """``deflate`` as HTTP means it (a zlib stream; some servers send raw deflate), each
    read giving out at most what was asked for."""

    def __init__(self, source: Readable) -> None:
        self._source = source
        self._inflater: Any = None
        self._tail = b""
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while not self._pending and not self._done:
            self._pending = self._inflate(len(buffer))
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def _inflate(self, most: int) -> bytes:
        data = self._tail or self._source.read(CHUNK)
        if self._inflater is None:
            if not data:
                self._done = True
                return b""
            # zlib header (RFC 1950) when it checks out, raw deflate (RFC 1951) otherwise.
            wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -15)
        if not data:
            self._done = True
            return bytes(self._inflater.flush())
        out = self._inflater.decompress(data, most)
        self._tail = self._inflater.unconsumed_tail
        return bytes(out)


def decoding_reader(raw: Iterable[bytes], content_encoding: str) -> Readable:
    """A reader of the decoded body, for raw bytes sent with ``content_encoding``."""
    # No read-ahead buffer: reading stops at the first chunk past the limit.
    reader: Any = _Chunks(raw)  # each decoder wraps the last
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    for coding in reversed(codings):  # the last encoding applied is undone first
        if coding in ("identity", ""):
            continue
        if coding in ("gzip", "x-gzip"):
            reader = gzip.GzipFile(fileobj=reader, mode="rb")
        elif coding == "deflate":
            reader = _Inflate(reader)
        elif coding == "zstd":
            reader = zstandard.ZstdDecompressor().stream_reader(reader, read_across_frames=True)
        else:
            raise UnsupportedEncoding(f"Content-Encoding {coding} is not supported")
    decoded: Readable = reader
    return decoded


def read_limited(reader: Readable, limit: int) -> bytes:
    """Everything ``reader`` gives, at most ``limit`` bytes; :class:`TooLarge` past it.
    Decoding errors surface as :class:`OSError`, :class:`EOFError` or :class:`zlib.error`."""
    parts: list[bytes] = []
    size = 0
    while chunk := reader.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"more than {limit} bytes once decompressed")
        parts.append(chunk)
    return b"".join(parts)


def read_catalog_file(path: Path, limit: int = DEFAULT_MAX_BYTES) -> bytes:
    """A catalog file's bytes, decompressed when it is gzip (at most ``limit`` bytes of
    output). :class:`TooLarge` or :class:`ValueError` (not gzip after all) say why not."""
    with path.open("rb") as file:
        if file.read(2) != GZIP_MAGIC:
            file.seek(0)
            return file.read()
        file.seek(0)
        return _gunzip(file, limit, str(path))


def gunzip_bytes(raw: bytes, limit: int = DEFAULT_MAX_BYTES, name: str = "the catalog") -> bytes:
    """``raw`` itself, or decompressed (at most ``limit`` bytes) when it is gzip."""
    if not raw.startswith(GZIP_MAGIC):
        return raw
    return _gunzip(io.BytesIO(raw), limit, name)


def _gunzip(file: Any, limit: int, name: str) -> bytes:
    try:
        return read_limited(gzip.GzipFile(fileobj=file, mode="rb"), limit)
    except TooLarge:
        raise TooLarge(
            f"{name} holds more than {limit} bytes once decompressed (max_bytes): refused as"
            " a possible decompression bomb"
        ) from None
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{name} is not a readable gzip file: {error}") from None
