"""Personal data at rest: AES-256-GCM with a per-kiosk key held in a 0600 file.

Every sealed blob is ``magic | nonce (12) | ciphertext+tag``; the associated data binds a
blob to its entry (key + field) so a ciphertext cannot be swapped between rows unnoticed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from offline_queue.errors import KeyFileError

log = logging.getLogger(__name__)

_MAGIC = b"KQ1"
_KEY_BYTES = 32


def read_private_file(path: str | os.PathLike[str], create: Callable[[], bytes]) -> bytes:
    """Read a secret file, first creating it (mode 0600, content ``create()``) if absent.

    Refuses a file that group or others can read or write, or that another user owns: a
    secret everyone can read protects nothing (``KeyFileError``, code ``queue.key_file``)."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        try:
            os.write(fd, create())
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(path.parent)
        log.info("created secret file %s", path)
    try:
        info = path.stat()
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror}") from exc
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"{path} is accessible by group/others "
            f"(mode {stat.S_IMODE(info.st_mode):o}); chmod 600 it"
        )
    if info.st_uid != os.geteuid():
        raise KeyFileError(f"{path} belongs to another user")
    return path.read_bytes()


def load_or_create_key(path: str | os.PathLike[str]) -> bytes:
    """The outbox encryption key: 32 random bytes in a private file (see read_private_file)."""
    key = read_private_file(path, lambda: os.urandom(_KEY_BYTES))
    if len(key) != _KEY_BYTES:
        raise KeyFileError(
            f"key file {path} must hold exactly {_KEY_BYTES} bytes (it holds {len(key)}): "
            "restore it from this kiosk's backup"
        )
    return key


def fsync_dir(directory: Path) -> None:
    """Make a file creation or removal in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Sealer:
    """Encrypts and decrypts blobs for one outbox; thread-safe (AESGCM is stateless)."""

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        # A separate subkey for pseudonyms, so a pseudonym never reveals the cipher key.
        subkey = hashlib.sha256(b"kiosk-outbox-pseudonym" + key).digest()
        # Keyed once; each pseudonym copies the keyed state. A one-shot hmac.digest sets up
        # the key (and, in OpenSSL 3, looks up the algorithm) on every call: on a put, right
        # after the previous commit's fsync, that cost 15-17 us of the put's ~250.
        self._pseudonym_mac = hmac.new(subkey, digestmod=hashlib.sha256)

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = os.urandom(12)
        return _MAGIC + nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, blob: bytes, context: str) -> bytes:
        if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + 12 + 16:
            raise ValueError("not a sealed blob")
        nonce = blob[len(_MAGIC) : len(_MAGIC) + 12]
        try:
            return self._aead.decrypt(nonce, blob[len(_MAGIC) + 12 :], context.encode())
        except InvalidTag as exc:
            raise ValueError("sealed blob failed authentication") from exc

    def pseudonym(self, value: str) -> str:
        """A stable stand-in for a value that may be personal (an ordering stream key)."""
        mac = self._pseudonym_mac.copy()
        mac.update(value.encode())
        digest = mac.hexdigest()
        return "s-" + digest[:24]
