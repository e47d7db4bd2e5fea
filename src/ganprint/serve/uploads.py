"""Multipart uploads read into memory under size limits.

The body is parsed as it streams in (python-multipart's push parser), counted byte by byte, and
never spooled to disk: an upload's bytes live in memory only, and its file name is kept as text
for the answer and its messages, never used as a path. The limits are checked from
``Content-Length`` before anything is read, then again on the bytes actually received (a client
may send no length, or a false one).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header

__all__ = ["FIELD", "UploadError", "read_uploads"]

FIELD = "files"
"""The multipart field that carries the images (one part per image)."""


class UploadError(Exception):
    """A request the service refuses as a whole: ``status`` is its HTTP status (400, 413, 415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _Parts:
    """What the parser's callbacks collect: ``(name, bytes)`` per ``files`` part."""

    max_files: int
    files: list[tuple[str, bytes]] = field(default_factory=list)
    _header_field: bytearray = field(default_factory=bytearray)
    _header_value: bytearray = field(default_factory=bytearray)
    _headers: dict[bytes, bytes] = field(default_factory=dict)
    _data: list[bytes] | None = None
    _name: str = ""

    def callbacks(self) -> dict:
        return {"on_part_begin": self._part_begin, "on_header_field": self._field_data,
                "on_header_value": self._value_data, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
                "on_part_end": self._part_end}

    def _part_begin(self) -> None:
        self._headers, self._data = {}, None

    def _field_data(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition"))
        if options.get(b"name", b"").decode("latin-1") != FIELD:
            return  # another form field: ignored
        if len(self.files) >= self.max_files:
            raise UploadError(413, f"too many files: at most {self.max_files} per request")
        raw = options.get(b"filename")
        # browsers send UTF-8; other bytes are kept the way `predict` keeps an odd file name
        self._name = raw.decode("utf-8", "surrogateescape") if raw else f"upload-{len(self.files) + 1}"
        self._data = []

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._data is not None:
            self._data.append(data[start:end])

    def _part_end(self) -> None:
        if self._data is not None:
            self.files.append((self._name, b"".join(self._data)))
            self._data = None


async def read_uploads(chunks: AsyncIterator[bytes], content_type: str | None, content_length: str | None, *,
                       max_bytes: int, max_files: int, timeout_s: float | None = None) -> list[tuple[str, bytes]]:
    """The ``(file name, bytes)`` of every part of the ``files`` field of a multipart body, in order.

    Raises :class:`UploadError`: 415 when the body is not ``multipart/form-data``, 413 when it is
    larger than ``max_bytes`` or holds more than ``max_files`` files, 400 when it cannot be parsed
    or holds no file, 408 when it has not all arrived within ``timeout_s`` seconds (a client
    trickling its body would otherwise hold its slot for ever).
    """
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise UploadError(415, f"send the images as multipart/form-data in the field {FIELD!r}")
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise UploadError(400, "Content-Length is not a number") from None
        if declared > max_bytes:
            raise UploadError(413, f"request too large: {declared} bytes exceeds the limit of {max_bytes} bytes")
    parts = _Parts(max_files=max_files)
    try:
        parser = MultipartParser(options[b"boundary"], parts.callbacks(), max_header_count=16)
    except Exception as exc:  # a hostile boundary
        raise UploadError(400, f"malformed multipart body: {exc}") from None

    async def consume() -> None:
        received = 0
        async for chunk in chunks:
            received += len(chunk)
            if received > max_bytes:
                raise UploadError(413, f"request too large: more than the limit of {max_bytes} bytes")
            parser.write(chunk)
        parser.finalize()

    try:
        await asyncio.wait_for(consume(), timeout_s)
    except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
        raise UploadError(408, f"the request body did not arrive within {timeout_s:g} s") from None
    except UploadError:
        raise
    except Exception as exc:  # python-multipart's parse errors, whatever their class
        raise UploadError(400, f"malformed multipart body: {exc}") from None
    if parser.state != MultipartState.END:  # cut short: a part may be missing, so nothing is scored
        raise UploadError(400, "malformed multipart body: it ends before its closing boundary")
    if not parts.files:
        raise UploadError(400, f"no file: send one or more images in the multipart field {FIELD!r}")
    return parts.files
