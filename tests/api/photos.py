"""Real image bytes made with Pillow for the evidence tests."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (64, 48)) -> bytes:
    img = Image.new("RGB", size, (40, 120, 60))
    ImageDraw.Draw(img).rectangle((8, 8, size[0] // 2, size[1] // 2), fill=(200, 180, 40))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def png_bytes() -> bytes:
    return image_bytes("PNG")


def jpeg_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    return image_bytes("JPEG", size)
