"""Images before they are stored: metadata stripped, a thumbnail made (Pillow).

Photos carry EXIF (GPS position, camera serial numbers, the time taken), XMP, IPTC and
comments. Every image of a type we can re-encode is decoded and written again with nothing
but its pixels, its colour profile and (for animations) its timing; the result replaces the
uploaded bytes, so the stored file, its digest and what other instances receive carry no
metadata. A JPEG that needs no rotation is re-encoded with its own quantisation tables
(`quality="keep"`), which keeps its quality; one with an EXIF orientation is rotated first,
since the tag that told viewers to rotate it is gone afterwards.

An image of a strippable type that Pillow cannot decode is refused rather than stored with
its metadata. Runs in a worker thread: decoding is CPU work.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from federatie.errors import Unprocessable

# media type -> (Pillow format that must match, format to save as)
STRIPPED: Final = {
    "image/jpeg": ("JPEG", "JPEG"),
    "image/png": ("PNG", "PNG"),
    "image/webp": ("WEBP", "WEBP"),
    "image/gif": ("GIF", "GIF"),
    "image/tiff": ("TIFF", "TIFF"),
    "image/avif": ("AVIF", "AVIF"),
}
THUMBNAIL_SIZE: Final = 320
# Above Pillow's own bomb threshold we refuse before decoding anything.
MAX_PIXELS: Final = Image.MAX_IMAGE_PIXELS or 89_478_485
_MAX_FRAMES_PIXELS: Final = 4 * MAX_PIXELS
# Not metadata: what an image needs to look the same.
_KEEP_INFO: Final = ("icc_profile", "transparency", "duration", "loop", "background", "gamma")


@dataclass(frozen=True)
class ProcessedImage:
    """`data`: the re-encoded image without metadata (None: keep the bytes as they are)."""

    data: bytes | None
    width: int
    height: int
    thumbnail: bytes | None
    thumbnail_media_type: str | None


def process_image(path: Path, media_type: str, *, strip: bool = True) -> ProcessedImage | None:
    """Strip and thumbnail the image at `path`; None when it is not an image Pillow reads
    (for types we do not strip); `Unprocessable` for a strippable type that cannot be read.
    With `strip=False` (another instance's file, kept byte for byte) only the thumbnail."""
    formats = STRIPPED.get(media_type)
    try:
        with Image.open(path) as image:
            if formats is not None and image.format not in (formats[0], "MPO"):
                raise Unprocessable(f"the file is not the {media_type} it looks like")
            width, height = image.size
            frames = getattr(image, "n_frames", 1)
            if width * height > MAX_PIXELS or width * height * frames > _MAX_FRAMES_PIXELS:
                raise Unprocessable(f"the image is too large ({width}x{height}, {frames} frames)")
            image.load()
            data = _strip(image, formats[1]) if formats is not None and strip else None
            upright = ImageOps.exif_transpose(image)
            thumbnail, thumbnail_type = _thumbnail(upright)
            width, height = upright.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        if formats is not None:
            raise Unprocessable(f"the image cannot be decoded: {exc}") from exc
        return None
    return ProcessedImage(data, width, height, thumbnail, thumbnail_type)


def _clean_info(image: Image.Image) -> dict[str | tuple[int, int], Any]:
    return {key: image.info[key] for key in _KEEP_INFO if key in image.info}


def _strip(image: Image.Image, save_as: str) -> bytes:
    out = io.BytesIO()
    keep = _clean_info(image)
    params: dict[str, Any] = {"exif": b"", "xmp": b"", "comment": b""}
    if "icc_profile" in keep:
        params["icc_profile"] = keep["icc_profile"]
    if save_as == "JPEG":
        orientation = image.getexif().get(0x0112, 1)
        if orientation in (0, 1):
            # The decoded JPEG itself: its quantisation tables and subsampling are reused.
            image.info = keep
            image.save(out, "JPEG", quality="keep", subsampling="keep", **params)
        else:
            upright = ImageOps.exif_transpose(image)
            upright.info = keep
            upright.save(out, "JPEG", quality=92, **params)
        return out.getvalue()
    frames = [frame.copy() for frame in ImageSequence.Iterator(image)]
    for frame in frames:
        frame.info = dict(keep)
    if save_as == "TIFF":
        params = {"icc_profile": keep["icc_profile"]} if "icc_profile" in keep else {}
        params["compression"] = "tiff_adobe_deflate"
    elif save_as == "GIF":
        params = {"comment": b""}
    elif save_as == "AVIF":
        params = {**params, "quality": 90, "speed": 8}
        del params["comment"]
    elif save_as == "WEBP":
        params = {**params, "lossless": image.info.get("lossless", False), "quality": 95}
        del params["comment"]
    elif save_as == "PNG":
        del params["comment"], params["xmp"]
        # Keeping icc via info; never text chunks (pnginfo) nor eXIf (exif).
        params.pop("icc_profile", None)
    if len(frames) > 1:
        params.update(
            save_all=True,
            append_images=frames[1:],
            duration=keep.get("duration", 100),
            loop=keep.get("loop", 0),
        )
    frames[0].save(out, save_as, **params)
    return out.getvalue()


def _thumbnail(image: Image.Image) -> tuple[bytes | None, str | None]:
    thumb = image.copy()
    thumb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    out = io.BytesIO()
    has_alpha = thumb.mode in ("RGBA", "LA", "PA") or (
        thumb.mode == "P" and "transparency" in thumb.info
    )
    thumb.info = {}
    if has_alpha:
        thumb.convert("RGBA").save(out, "PNG", optimize=True)
        return out.getvalue(), "image/png"
    thumb.convert("RGB").save(out, "JPEG", quality=85)
    return out.getvalue(), "image/jpeg"
