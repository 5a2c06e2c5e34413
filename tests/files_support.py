"""Helpers for the files tests: hand-built multipart bodies (so that any file name can be
sent, NUL and newlines included), uploads and downloads over real HTTP, test images."""

from __future__ import annotations

import hashlib
import io
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp
from harness import Instance
from multidict import CIMultiDictProxy
from PIL import Image

from federatie.activitypub.files import parse_digest_multibase

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Part:
    name: str
    data: bytes
    filename: str | None = None
    content_type: str | None = None


def multipart(parts: list[Part]) -> tuple[bytes, str]:
    """A multipart/form-data body; file names go as RFC 5987 `filename*` (any character)."""
    boundary = "----federatie" + secrets.token_hex(8)
    out = io.BytesIO()
    for part in parts:
        out.write(f"--{boundary}\r\n".encode())
        disposition = f'form-data; name="{part.name}"'
        if part.filename is not None:
            disposition += f"; filename*=UTF-8''{quote(part.filename, safe='')}"
        out.write(f"Content-Disposition: {disposition}\r\n".encode())
        if part.content_type:
            out.write(f"Content-Type: {part.content_type}\r\n".encode())
        out.write(b"\r\n" + part.data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        import orjson

        return orjson.loads(self.body)


async def upload(
    url: str,
    token: str | None,
    data: bytes,
    filename: str = "file.bin",
    *,
    claimed_type: str = "application/octet-stream",
    fields: dict[str, str] | None = None,
) -> Reply:
    parts = [Part(k, v.encode()) for k, v in (fields or {}).items()]
    parts.append(Part("file", data, filename, claimed_type))
    body, content_type = multipart(parts)
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=io.BytesIO(body), headers=headers) as response,
    ):
        return Reply(response.status, response.headers, await response.read())


async def get(url: str, token: str | None = None, **headers: str) -> Reply:
    sent = {k.replace("_", "-"): v for k, v in headers.items()}
    if token:
        sent["Authorization"] = f"Bearer {token}"
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers=sent, allow_redirects=False) as response,
    ):
        return Reply(response.status, response.headers, await response.read())


async def token(instance: Instance, name: str) -> str:
    return await instance.runtime.actors.issue_token(name)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest_of(document: dict[str, Any]) -> str | None:
    return parse_digest_multibase(document.get("digestMultibase"))


def key_of(document: dict[str, Any]) -> str:
    """The file key: the last segment of the Document id (/objects/<key>)."""
    return str(document["id"]).rsplit("/", 1)[-1]


def jpeg_with_gps(width: int = 64, height: int = 48, orientation: int | None = None) -> bytes:
    """A JPEG carrying EXIF with a GPS position (Utrecht), a camera make and a comment."""
    image = Image.new("RGB", (width, height), (200, 30, 30))
    for x in range(width // 2):
        image.putpixel((x, 0), (0, 0, 255))
    exif = Image.Exif()
    exif[0x010F] = "Spycam"  # Make
    exif[0x0131] = "Firmware 1.0"  # Software
    if orientation is not None:
        exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (52.0, 5.0, 24.0)
    gps[3] = "E"
    gps[4] = (5.0, 7.0, 12.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"geheim", quality=90)
    return out.getvalue()


def png_with_text(width: int = 40, height: int = 30) -> bytes:
    from PIL import PngImagePlugin

    image = Image.new("RGBA", (width, height), (0, 128, 0, 200))
    info = PngImagePlugin.PngInfo()
    info.add_text("Location", "52.0907 N, 5.1214 E")
    exif = Image.Exif()
    exif[0x010F] = "Spycam"
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info, exif=exif)
    return out.getvalue()
