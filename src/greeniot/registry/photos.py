"""Photo evidence: check an upload really is an image of a kind we keep, store it, find it.

The type is sniffed from the bytes with Pillow (the client's ``Content-Type`` and file name are
not trusted) and the image is decoded fully once, so a truncated or forged file is refused.
Size limits: bytes (``GREENIOT_AUTH__PHOTO_MAX_BYTES``) and pixels
(``GREENIOT_AUTH__PHOTO_MAX_PIXELS``, against decompression bombs). Files are stored under
``data_dir/photos/<task id>/<photo id>.<ext>`` with a random id, never a client-chosen name.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import warnings
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from greeniot.registry.clock import wall_clock_ms
from greeniot.registry.errors import InvalidInputError, NotFoundError
from greeniot.registry.models import Task
from greeniot.registry.models_access import TaskPhoto

#: Pillow format → (content type, file extension): what phones take and browsers show.
FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}


def sniff(data: bytes, *, max_bytes: int, max_pixels: int) -> tuple[str, str, int, int]:
    """``(content type, extension, width, height)`` of an acceptable image, or
    :class:`InvalidInputError` naming what is wrong."""
    if not data:
        raise InvalidInputError("photo is empty")
    if len(data) > max_bytes:
        raise InvalidInputError(f"photo has {len(data)} bytes, more than the limit of "
                                f"{max_bytes}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as img:
                fmt, (width, height) = img.format or "", img.size
                if width * height > max_pixels:
                    raise InvalidInputError(f"photo has {width}x{height} pixels, more than "
                                            f"the limit of {max_pixels}")
                img.load()  # decode it all: a truncated or forged body fails here
    except InvalidInputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as err:
        raise InvalidInputError("photo is not a JPEG, PNG or WebP image") from err
    except (OSError, SyntaxError, ValueError) as err:
        raise InvalidInputError(f"photo could not be decoded: {err}") from err
    if fmt not in FORMATS:
        raise InvalidInputError(f"photo format {fmt!r} is not one of {sorted(FORMATS)}")
    content_type, ext = FORMATS[fmt]
    return content_type, ext, width, height


def save_photo(session: Session, *, photos_dir: Path, task_id: int, data: bytes, by: str,
               note: str = "", max_bytes: int, max_pixels: int,
               now_ms: int | None = None) -> TaskPhoto:
    """Check, write (fsynced) and record a photo of task ``task_id``. Commits."""
    if session.get(Task, task_id) is None:
        raise NotFoundError(f"task {task_id} not found")
    content_type, ext, width, height = sniff(data, max_bytes=max_bytes, max_pixels=max_pixels)
    photo_id = secrets.token_hex(12)
    rel = f"{task_id}/{photo_id}.{ext}"
    path = photos_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    photo = TaskPhoto(id=photo_id, task_id=task_id, content_type=content_type,
                      size_bytes=len(data), width=width, height=height,
                      sha256=hashlib.sha256(data).hexdigest(), path=rel, uploaded_by=by,
                      note=note.strip(), created_ms=wall_clock_ms() if now_ms is None
                      else now_ms)
    session.add(photo)
    try:
        session.commit()
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return photo


def get_photo(session: Session, *, task_id: int, photo_id: str) -> TaskPhoto:
    photo = session.get(TaskPhoto, photo_id)
    if photo is None or photo.task_id != task_id:
        raise NotFoundError(f"photo {photo_id!r} of task {task_id} not found")
    return photo


def list_photos(session: Session, *, task_id: int) -> Sequence[TaskPhoto]:
    return session.scalars(select(TaskPhoto).where(TaskPhoto.task_id == task_id)
                           .order_by(TaskPhoto.created_ms, TaskPhoto.id)).all()


def check_photo_evidence(session: Session, *, task_id: int, photo_ids: Sequence[str]) -> None:
    """Every photo referenced at close-out must be one uploaded for this task."""
    known = {p.id for p in list_photos(session, task_id=task_id)}
    missing = [p for p in photo_ids if p not in known]
    if missing:
        raise InvalidInputError(f"task {task_id}: photo evidence {missing} was not uploaded "
                                f"for this task (POST /api/v1/tasks/{task_id}/photos first)")
