"""The pure parts of files: sniffing, names, disposition, digests, and the local blob store."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from federatie.activitypub.files import (
    as_type,
    digest_multibase,
    parse_digest_multibase,
    parse_file_object,
)
from federatie.blobs import LocalBlobStore, Staging
from federatie.blobs.sniff import sniff, sniff_file
from federatie.domain.files import content_disposition, sanitise_name
from federatie.errors import NotFound, PayloadTooLarge

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b58_reference(data: bytes) -> str:
    """An independent base58btc encoder (the textbook one, without our shortcuts)."""
    number = int(data.hex(), 16)
    out = ""
    while number > 0:
        number, rest = divmod(number, 58)
        out = _B58[rest] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"%PDF-1.7\n", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "image/png"),
        (b"\xff\xd8\xff\xe0\0\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\0", "image/gif"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "image/webp"),
        (b"RIFF\0\0\0\0WAVEfmt ", "audio/wav"),
        (b"\0\0\0\x18ftypmp42", "video/mp4"),
        (b"\0\0\0\x18ftypheic", "image/heic"),
        (b"\x1a\x45\xdf\xa3\x9fB\x86\x81\x01webm", "video/webm"),
        (b"OggS\0\x02", "audio/ogg"),
        (b"ID3\x04\0", "audio/mpeg"),
        (b"\xff\xfb\x90\x64", "audio/mpeg"),
        (b"\x1f\x8b\x08\0", "application/gzip"),
        (b"Gewoon een tekst.\nMet twee regels.\n", "text/plain"),
        ("Één ß café".encode(), "text/plain"),
        (b"\xef\xbb\xbfmet BOM", "text/plain"),
        (b"<html><script>alert(1)</script>", "text/html"),
        (b"  \n<!DOCTYPE HTML>", "text/html"),
        (b"tekst, en dan <SCRIPT src=x>", "text/html"),
        (b"<iframe src=//evil>", "text/html"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg">', "image/svg+xml"),
        (b"<svg/onload=alert(1)>", "image/svg+xml"),
        (b'<?xml version="1.0"?><note/>', "application/xml"),
        (b"\xff\xfe<\0h\0t\0m\0l\0>\0", "text/html"),
        (b"binary\0data\x01\x02", "application/octet-stream"),
        (b"\xc3\x28 invalid utf-8 here and more text", "application/octet-stream"),
        (b"", "text/plain"),
    ],
)
def test_sniff(head: bytes, expected: str) -> None:
    assert sniff(head) == expected


def test_zip_containers_are_opened(tmp_path: Path) -> None:
    docx = tmp_path / "a.bin"
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    assert sniff_file(docx) == (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    odt = tmp_path / "b.bin"
    with zipfile.ZipFile(odt, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", "<office:document-content/>")
    assert sniff_file(odt) == "application/vnd.oasis.opendocument.text"
    plain = tmp_path / "c.bin"
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("x.txt", "x")
    assert sniff_file(plain) == "application/zip"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("verslag.pdf", "verslag.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\x\\Desktop\\brief.docx", "brief.docx"),
        ("a\x00b\x7fc\x01.txt", "abc.txt"),
        ("regel\neen\r\ntwee.txt", "regel een twee.txt"),
        ("foto\u202egpj.exe", "fotogpj.exe"),
        ("zero\u200bwidth.txt", "zerowidth.txt"),
        ("..", "file"),
        ("", "file"),
        (None, "file"),
        ("   ", "file"),
        ("...hidden", "hidden"),
        ("trailing.", "trailing"),
        ("Café Noël.odt", "Café Noël.odt"),
        ("Cafe\u0301.txt", "Café.txt"),  # NFC
        ("a    b\tc.txt", "a b c.txt"),
    ],
)
def test_sanitise_name(raw: str | None, expected: str) -> None:
    assert sanitise_name(raw) == expected


def test_sanitise_name_caps_the_length_and_keeps_the_extension() -> None:
    assert sanitise_name("a" * 500 + ".pdf") == "a" * 196 + ".pdf"
    assert len(sanitise_name("b" * 500)) == 200


def test_content_disposition() -> None:
    assert content_disposition("image/png", "kaart.png") == (
        "inline; filename=\"kaart.png\"; filename*=UTF-8''kaart.png"
    )
    html = content_disposition("text/html", 'Café "x".html')
    assert html.startswith('attachment; filename="Caf_ _x_.html"')
    assert html.endswith("filename*=UTF-8''Caf%C3%A9%20%22x%22.html")
    for media_type in ("image/svg+xml", "application/xml", "text/javascript", "text/html"):
        assert content_disposition(media_type, "x").startswith("attachment;")
    for media_type in ("image/jpeg", "application/pdf", "text/plain"):
        assert content_disposition(media_type, "x").startswith("inline;")


def test_digest_multibase_is_a_base58btc_sha256_multihash() -> None:
    digest = hashlib.sha256(b"hello world").hexdigest()
    encoded = digest_multibase(digest)
    assert encoded == "z" + _b58_reference(bytes.fromhex("1220" + digest))
    assert encoded.startswith("zQm")
    assert parse_digest_multibase(encoded) == digest
    for bad in ("", "Qm", "z", "zzz0OIl", "z" + _b58_reference(b"\x11\x14" + b"\0" * 20), 5):
        assert parse_digest_multibase(bad) is None


def test_as_type_and_parsing_remote_file_objects() -> None:
    assert [as_type(t) for t in ("image/png", "audio/ogg", "video/mp4", "text/plain")] == [
        "Image",
        "Audio",
        "Video",
        "Document",
    ]
    digest = hashlib.sha256(b"x").hexdigest()
    fields = parse_file_object(
        {
            "id": "https://b.example/objects/1",
            "type": "Document",
            "url": {"type": "Link", "href": "https://b.example/files/1/versions/1"},
            "digestMultibase": digest_multibase(digest),
            "size": 1,
            "name": "x.txt",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
        }
    )
    assert fields is not None and fields.sha256 == digest and fields.public and fields.size == 1
    # FEP-1311's multi-version form: the digest on the Link, a list of Links.
    listed = parse_file_object(
        {
            "id": "https://c.example/v/1",
            "type": "Video",
            "url": [
                {
                    "type": "Link",
                    "href": "https://c.example/v.mp4",
                    "digest": digest_multibase(digest),
                }
            ],
        }
    )
    assert listed is not None and listed.href == "https://c.example/v.mp4" and not listed.public
    assert parse_file_object({"id": "https://x/1", "type": "Note", "url": "https://x/1"}) is None
    assert parse_file_object({"id": "https://x/1", "type": "Image", "url": "https://x/i"}) is None


async def test_local_blob_store(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "files")
    staging = Staging(tmp_path / "files" / "tmp")
    data = b"inhoud" * 1000
    digest = hashlib.sha256(data).hexdigest()
    assert not await store.exists(digest)
    with pytest.raises(NotFound):
        await store.open(digest)

    staged = staging.new()
    for offset in range(0, len(data), 1000):
        staged.write(data[offset : offset + 1000])
    assert staged.finish() == digest and staged.size == len(data)
    assert await store.put(staged) is True
    assert not staged.path.exists()  # moved, not copied
    again = staging.from_bytes(data)
    assert await store.put(again) is False  # identical bytes are stored once
    assert staging.pending() == [] and store.count() == 1

    blob = await store.open(digest)
    assert blob.size == len(data)
    assert b"".join([c async for c in blob.chunks()]) == data
    assert b"".join([c async for c in blob.chunks(10, 20)]) == data[10:20]
    assert store.path(digest).parent.parent.name == digest[:2]
    with pytest.raises(ValueError, match="digest"):
        store.path("../../etc/passwd")

    await store.delete(digest)
    await store.delete(digest)  # twice is fine
    assert not await store.exists(digest)


def test_staged_files_are_capped(tmp_path: Path) -> None:
    staging = Staging(tmp_path)
    staged = staging.new(max_bytes=10)
    staged.write(b"12345")
    with pytest.raises(PayloadTooLarge):
        staged.write(b"678901")
    assert staged.size == 5
    staged.discard()
    assert staging.pending() == []
    sink = staging.new()
    sink.write(b"abc")
    assert sink.head() == b"abc"
    sink.discard()
