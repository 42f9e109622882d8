"""Cache and mirror locations, staging raw files from the mirror, and guarded downloads.

Environment variables:

* ``GRAPHCL_DATA``: the writable cache root. Default: the ``datasets/`` folder of the source
  checkout graphcl runs from (its non-catalogue contents are git-ignored), else
  ``~/.cache/graphcl``.
* ``GRAPHCL_MIRROR``: an optional read-only folder of raw files laid out like the project's
  ``shared/datasets`` mirror. Files are *copied* from it into the cache and checked against the
  catalogue's sha256; nothing is ever written into the mirror.
* ``GRAPHCL_OFFLINE``: set to ``1`` to never try a download.
* ``GRAPHCL_DOWNLOAD_TIMEOUT``: seconds to wait for a connection or a stalled read (default 10).

Derived files (pretrained autoencoders, metapath2vec walk features, ...) share three helpers:
:func:`cache_key` (a short digest of whatever determines the file), :func:`cached_file` (its
path ``<cache root>/<kind>/<name>``) and :func:`atomic_save` (written whole or not at all).
"""
from __future__ import annotations

import hashlib
import http.client
import io
import json
import logging
import os
import shutil
import socket
import tempfile
import urllib.request
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from graphcl.data.catalogue import RawFile, _checkout_datasets_dir
from graphcl.errors import DatasetIntegrityError, GraphclError, InvalidArgumentError

log = logging.getLogger(__name__)

_ENV_DATA = "GRAPHCL_DATA"
_ENV_MIRROR = "GRAPHCL_MIRROR"
_ENV_OFFLINE = "GRAPHCL_OFFLINE"
_ENV_TIMEOUT = "GRAPHCL_DOWNLOAD_TIMEOUT"
_DEFAULT_TIMEOUT = 10.0


class _DownloadError(GraphclError):
    """A download could not be made (no network, HTTP error, timeout). Internal: the registry
    turns it into a :class:`~graphcl.errors.DatasetUnavailableError` naming the missing files."""


def cache_root(root: str | os.PathLike | None = None) -> Path:
    """The writable cache root: ``root`` if given, else ``$GRAPHCL_DATA``, else the checkout's
    ``datasets/`` folder, else ``~/.cache/graphcl``."""
    if root is not None:
        return Path(root).expanduser().resolve()
    env = os.environ.get(_ENV_DATA)
    if env:
        return Path(env).expanduser().resolve()
    checkout = _checkout_datasets_dir()
    if checkout is not None:
        return checkout
    return Path.home() / ".cache" / "graphcl"


def mirror_root() -> Path | None:
    """The read-only mirror named by ``$GRAPHCL_MIRROR`` (relative paths resolve against the
    current directory), or :obj:`None` if unset."""
    env = os.environ.get(_ENV_MIRROR)
    if not env:
        return None
    return Path(env).expanduser().resolve()


def _key_bytes(part: Any) -> bytes:
    """A type-tagged byte encoding of one :func:`cache_key` part."""
    import torch

    if isinstance(part, torch.Tensor):
        t = part.detach().cpu().contiguous().reshape(-1)
        return (b"tensor" + repr((tuple(part.shape), str(part.dtype))).encode()
                + t.view(torch.uint8).numpy().tobytes())
    if isinstance(part, np.ndarray):
        if part.dtype.hasobject:
            raise InvalidArgumentError("cache_key cannot hash a numpy array of Python objects")
        return b"array" + repr((part.shape, part.dtype.str)).encode() + np.ascontiguousarray(part).tobytes()
    if isinstance(part, (bytes, bytearray, memoryview)):
        return b"bytes" + bytes(part)
    if isinstance(part, str):
        return b"str" + part.encode()
    try:
        return b"json" + json.dumps(part, sort_keys=True, separators=(",", ":")).encode()
    except (TypeError, ValueError) as err:
        raise InvalidArgumentError(f"cache_key takes strings, bytes, tensors, numpy arrays and JSON values; "
                                   f"got {type(part).__name__}") from err


def cache_key(*parts: Any) -> str:
    """A short hex digest (the first 16 hex digits of a sha1) of ``parts``, to name a cached file
    after everything that determines it.

    Parts may be strings, bytes, tensors and numpy arrays (hashed by shape, dtype and raw bytes, on
    the CPU) and JSON values (dicts with sorted keys; tuples hash as lists). Each part is tagged
    with its type and length, so ``("ab", "c")`` and ``("a", "bc")`` differ.

    >>> cache_key("sdcn", {"hidden": [500, 500]}) == cache_key("sdcn", {"hidden": (500, 500)})
    True
    """
    digest = hashlib.sha1()
    for part in parts:
        encoded = _key_bytes(part)
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    return digest.hexdigest()[:16]


def cached_file(kind: str, name: str) -> Path:
    """The path of cached file ``name`` of kind ``kind`` (e.g. ``"pretrained"``):
    ``cache_root() / kind / name``, its folder created. The file itself may not exist yet."""
    if not kind or not name or Path(name).name != name:
        raise InvalidArgumentError(f"cached_file needs a kind and a plain file name, got {kind!r} and {name!r}")
    path = cache_root() / kind / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj)`` to ``path`` atomically: written to a temporary file named with the process
    id beside it, then moved onto ``path`` (``os.replace``), so concurrent runs writing the same key
    and interrupted writes never leave a half-written file. Returns ``path``."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _offline() -> bool:
    """Whether ``$GRAPHCL_OFFLINE`` forbids downloads."""
    return os.environ.get(_ENV_OFFLINE, "").strip().lower() in {"1", "true", "yes", "on"}


def _download_timeout() -> float:
    """Seconds to wait for a connection or a stalled read (``$GRAPHCL_DOWNLOAD_TIMEOUT``)."""
    try:
        return float(os.environ.get(_ENV_TIMEOUT, _DEFAULT_TIMEOUT))
    except ValueError:
        return _DEFAULT_TIMEOUT


def _sha256sum(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def _atomic_target(dest: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``dest`` and move it onto ``dest`` only on success, so an
    interrupted copy or download never leaves a half-written file that looks cached."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=".partial-", dir=dest.parent))
    try:
        tmp = tmp_dir / dest.name
        yield tmp
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def _write_member(zip_path: Path, member: str, target: Path, origin: str | None = None) -> None:
    """Extract ``member`` of ``zip_path`` to ``target``; a ``.npy`` member becomes text rows."""
    with zipfile.ZipFile(zip_path) as archive:
        try:
            payload = archive.read(member)
        except KeyError as err:
            raise DatasetIntegrityError(
                f"{origin or zip_path} has no member `{member}`: it is a different version of this archive "
                "(replace it, or supply the file by hand)") from err
    if member.endswith(".npy"):
        array = np.load(io.BytesIO(payload), allow_pickle=False)
        fmt = "%d" if np.issubdtype(array.dtype, np.integer) else "%.8g"
        np.savetxt(target, array, fmt=fmt)
    else:
        target.write_bytes(payload)


def _stage_from_mirror(raw: RawFile, mirror: Path, dest: Path) -> None:
    """Copy one raw file from the mirror into the cache (extracting a zip member if the manifest
    names one), after checking the mirror file's sha256 against the manifest.

    Raises:
        DatasetIntegrityError: if the checksum differs (nothing is written to the cache).
    """
    source = mirror / raw.mirror
    if raw.sha256:
        found = _sha256sum(source)
        if found != raw.sha256:
            raise DatasetIntegrityError(
                f"checksum mismatch for mirror file {source}: expected sha256 {raw.sha256}, found {found}; "
                "the mirror copy is corrupt or a different version (replace it, or unset GRAPHCL_MIRROR "
                "to download the file instead)")
    with _atomic_target(dest) as tmp:
        if raw.member:
            _write_member(source, raw.member, tmp)
        else:
            shutil.copyfile(source, tmp)
    log.info("staged %s from the mirror into %s", source, dest)


def _endpoint(url: str) -> tuple[str, int]:
    """The (host, port) a request to ``url`` connects to first, honouring ``*_proxy`` variables."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        return proxy_parts.hostname or "", proxy_parts.port or 8080
    return host, parts.port or (443 if parts.scheme == "https" else 80)


def _probe_host(host: str, port: int, timeout: float) -> None:
    """Open (and close) a TCP connection to ``host:port`` within ``timeout`` seconds.

    Raises:
        _DownloadError: if the host cannot be resolved or reached.
    """
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as err:
        raise _DownloadError(f"cannot reach {host}:{port} ({err}); is this machine offline?") from err


@contextmanager
def _network_guard(urls: Iterable[str]) -> Iterator[None]:
    """Run a download so that it fails fast and cleanly.

    Refuses when ``$GRAPHCL_OFFLINE`` is set, checks that every host in ``urls`` answers within
    ``$GRAPHCL_DOWNLOAD_TIMEOUT`` seconds before anything starts, bounds stalled reads by the same
    timeout (the process-wide socket default is set for the duration of the block), and turns
    network errors (``urllib``, ``http.client``, sockets, SSL, truncated archives) into
    :class:`_DownloadError`.
    """
    if _offline():
        raise _DownloadError(f"downloads are disabled ({_ENV_OFFLINE} is set)")
    timeout = _download_timeout()
    for host, port in sorted({_endpoint(url) for url in urls}):
        _probe_host(host, port, timeout)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        yield
    except (OSError, http.client.HTTPException, zipfile.BadZipFile, EOFError) as err:
        raise _DownloadError(f"{type(err).__name__}: {err}") from err
    finally:
        socket.setdefaulttimeout(previous)


def _download_file(url: str, dest: Path, sha256: str | None = None, member: str | None = None) -> None:
    """Download ``url`` to ``dest`` with PyG's :func:`~torch_geometric.data.download_url`
    (atomically; call it inside :func:`_network_guard`), checking ``sha256`` when given. If
    ``member`` is given, ``url`` is a zip and only that member is kept."""
    from torch_geometric.data import download_url

    with _atomic_target(dest) as tmp:
        fetched = tmp.with_name(tmp.name + ".download")
        download_url(url, str(tmp.parent), log=False, filename=fetched.name)
        if sha256:
            found = _sha256sum(fetched)
            if found != sha256:
                raise DatasetIntegrityError(
                    f"checksum mismatch for {url}: expected sha256 {sha256}, found {found}; the file at "
                    "the source changed or the download was corrupted (retry, or supply the file by hand)")
        if member:
            _write_member(fetched, member, tmp, origin=url)
        else:
            os.replace(fetched, tmp)
    log.info("downloaded %s to %s", url, dest)
