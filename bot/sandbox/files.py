"""In-memory file storage with Telegram-like file_id / file_unique_id / file_path."""

from __future__ import annotations

import base64
import hashlib
import itertools
import mimetypes
import struct
from dataclasses import dataclass
from typing import Any

__all__ = ["FileStore", "StoredFile", "image_size"]


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str  # "photo", "document", "video", "voice" or "sticker"
    data: bytes
    file_name: str
    mime_type: str
    file_path: str
    width: int = 0
    height: int = 0

    @property
    def size(self) -> int:
        return len(self.data)

    def photo_sizes(self) -> list[dict[str, Any]]:
        # One size is enough for PTB (message.photo[-1]); a real server adds thumbnails.
        return [
            {
                "file_id": self.file_id,
                "file_unique_id": self.file_unique_id,
                "width": self.width,
                "height": self.height,
                "file_size": self.size,
            }
        ]

    def document(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_name": self.file_name,
            "mime_type": self.mime_type,
            "file_size": self.size,
        }

    def message_content(self) -> dict[str, Any]:
        """The part of a Message that carries this file: {"photo": [...]}, {"video": {...}} …"""
        if self.kind == "photo":
            return {"photo": self.photo_sizes()}
        if self.kind == "document":
            return {"document": self.document()}
        ids = {"file_id": self.file_id, "file_unique_id": self.file_unique_id, "file_size": self.size}
        if self.kind == "video":
            return {"video": {**ids, "width": 640, "height": 360, "duration": 5, "file_name": self.file_name,
                              "mime_type": self.mime_type}}
        if self.kind == "voice":
            return {"voice": {**ids, "duration": 3, "mime_type": self.mime_type}}
        return {"sticker": {**ids, "type": "regular", "width": 512, "height": 512, "is_animated": False,
                            "is_video": False, "emoji": "👍"}}

    def file_object(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": self.size,
            "file_path": self.file_path,
        }


#: Where Telegram keeps each kind of media, its usual MIME type and extension.
_FOLDERS = {"video": ("videos", "video/mp4", "mp4"), "voice": ("voice", "audio/ogg", "oga"),
            "sticker": ("stickers", "image/webp", "webp")}


class FileStore:
    """Keeps uploaded bytes; file ids are opaque strings like Telegram's."""

    def __init__(self) -> None:
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._counter = itertools.count(1)

    def add(self, data: bytes, *, kind: str, file_name: str | None, mime_type: str | None) -> StoredFile:
        number = next(self._counter)
        digest = hashlib.sha256(data).digest()
        # The unique id depends only on content, like Telegram's file_unique_id.
        unique = "AQAD" + base64.urlsafe_b64encode(digest[:12]).decode().rstrip("=")
        file_id = f"SBX{kind[0].upper()}{number:06d}" + base64.urlsafe_b64encode(digest[:9]).decode()
        guessed_mime = mime_type or (mimetypes.guess_type(file_name)[0] if file_name else None)
        if kind == "photo":
            guessed_mime = guessed_mime or "image/jpeg"
            ext = mimetypes.guess_extension(guessed_mime) or ".jpg"
            ext = ".jpg" if ext in (".jpe", ".jpeg") else ext
            name = file_name or f"photo{ext}"
            path = f"photos/file_{number}{ext}"
        elif kind in _FOLDERS:
            guessed_mime = guessed_mime or _FOLDERS[kind][1]
            name = file_name or f"{kind}.{_FOLDERS[kind][2]}"
            path = f"{_FOLDERS[kind][0]}/file_{number}.{_FOLDERS[kind][2]}"
        else:
            guessed_mime = guessed_mime or "application/octet-stream"
            name = file_name or "document"
            suffix = name.rsplit(".", 1)[1] if "." in name else "bin"
            path = f"documents/file_{number}.{suffix}"
        width, height = image_size(data) if kind == "photo" else (0, 0)
        stored = StoredFile(file_id, unique, kind, data, name, guessed_mime, path, width, height)
        self._by_id[file_id] = stored
        self._by_path[path] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        return self._by_id.get(file_id)

    def by_path(self, path: str) -> StoredFile | None:
        return self._by_path.get(path)

    def __len__(self) -> int:
        return len(self._by_id)


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG, GIF, JPEG or WebP header; (1, 1) when unknown.

    Reading the header is enough to give PhotoSize realistic numbers without
    decoding the image, and tests may upload arbitrary bytes as a "photo".
    """
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
            width, height = struct.unpack(">II", data[16:24])
            return int(width), int(height)
        if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
            width, height = struct.unpack("<HH", data[6:10])
            return int(width), int(height)
        if data.startswith(b"\xff\xd8"):
            return _jpeg_size(data)
        if data.startswith(b"RIFF") and data[8:12] == b"WEBP" and data[12:16] == b"VP8X":
            width = int.from_bytes(data[24:27], "little") + 1
            height = int.from_bytes(data[27:30], "little") + 1
            return width, height
    except (struct.error, IndexError):
        pass
    return 1, 1


def _jpeg_size(data: bytes) -> tuple[int, int]:
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            index += 1
            continue
        marker = data[index + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or marker == 0xFF:
            index += 1 if marker == 0xFF else 2
            continue
        (segment_length,) = struct.unpack(">H", data[index + 2 : index + 4])
        # SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return int(width), int(height)
        index += 2 + segment_length
    return 1, 1
