"""Weights: local paths, the cache dir, HTTP download with resume and checksum, loading."""

from __future__ import annotations

import hashlib
import io
import pickle
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from torch import nn

from visionbench.errors import WeightsError
from visionbench.models.weights import (
    load_into,
    load_state_dict_file,
    resolve_weights,
    sha256_file,
)

PAYLOAD = bytes(range(256)) * 4096 + b"tail"  # 1,048,580 bytes: more than one 1 MiB chunk
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Server:
    """A local HTTP server on 127.0.0.1 serving ``PAYLOAD`` with Range support.

    ``cut_first`` makes the first full GET send the headers of the whole file but only its
    first ``cut_first`` bytes, then drop the connection (an interrupted download).
    """

    def __init__(self, cut_first: int | None = None, honour_range: bool = True) -> None:
        self.requests: list[tuple[str, str | None]] = []
        self.cut_first = cut_first
        self.honour_range = honour_range
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                rng = self.headers.get("Range")
                outer.requests.append((self.path, rng))
                if self.path != "/w/model.pth":
                    self.send_error(404, "Not Found")
                    return
                start = 0
                if rng and outer.honour_range:
                    start = int(rng.removeprefix("bytes=").split("-")[0])
                    if start >= len(PAYLOAD):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(PAYLOAD)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header(
                        "Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}"
                    )
                else:
                    self.send_response(200)
                body = PAYLOAD[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if outer.cut_first is not None and start == 0:
                    outer.cut_first, n = None, outer.cut_first
                    self.wfile.write(body[:n])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.timeout = 5
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/w/model.pth"

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[_Server]:
    with _Server() as s:
        yield s


# -- resolve_weights ------------------------------------------------------------------------


def test_local_path_and_cache_dir_name(tmp_path: Path) -> None:
    f = tmp_path / "cache" / "w.pt"
    f.parent.mkdir()
    f.write_bytes(PAYLOAD)
    assert resolve_weights(str(f)) == f
    assert resolve_weights("w.pt", cache_dir=tmp_path / "cache") == tmp_path / "cache" / "w.pt"
    assert resolve_weights(f.as_uri(), sha256=SHA) == f
    assert resolve_weights(str(f), sha256=SHA[:12]) == f


def test_missing_file_names_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=r"'nope\.pt' not found .*cache[/\\]nope\.pt"):
        resolve_weights("nope.pt", cache_dir=tmp_path / "cache")


def test_local_checksum_mismatch(tmp_path: Path) -> None:
    f = tmp_path / "w.pt"
    f.write_bytes(PAYLOAD)
    with pytest.raises(WeightsError, match=f"expected 0000000000, got {SHA}"):
        resolve_weights(str(f), sha256="0000000000")
    with pytest.raises(WeightsError, match="not a hex digest"):
        resolve_weights(str(f), sha256="xyz")


def test_download_with_checksum_then_cached(server: _Server, tmp_path: Path) -> None:
    path = resolve_weights(server.url, sha256=SHA, cache_dir=tmp_path, progress=False)
    assert path == tmp_path / "model.pth"
    assert path.read_bytes() == PAYLOAD
    assert not (tmp_path / "model.pth.part").exists()
    again = resolve_weights(server.url, sha256=SHA, cache_dir=tmp_path, progress=False)
    assert again == path and len(server.requests) == 1  # served from the cache


def test_interrupted_download_resumes_with_range(tmp_path: Path) -> None:
    with _Server(cut_first=300_000) as s:
        with pytest.raises(WeightsError, match=r"got 300000 of 1048580 bytes.*run again to resume"):
            resolve_weights(s.url, sha256=SHA, cache_dir=tmp_path, progress=False)
        part = tmp_path / "model.pth.part"
        assert part.stat().st_size == 300_000
        path = resolve_weights(s.url, sha256=SHA, cache_dir=tmp_path, progress=False)
        assert s.requests == [("/w/model.pth", None), ("/w/model.pth", "bytes=300000-")]
    assert sha256_file(path) == SHA and not part.exists()


def test_server_ignoring_range_restarts_from_zero(tmp_path: Path) -> None:
    (tmp_path / "model.pth.part").write_bytes(b"garbage-prefix")
    with _Server(honour_range=False) as s:
        path = resolve_weights(s.url, sha256=SHA, cache_dir=tmp_path, progress=False)
        assert s.requests == [("/w/model.pth", "bytes=14-")]
    assert path.read_bytes() == PAYLOAD


def test_download_checksum_mismatch_removes_file(server: _Server, tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=f"sha256 mismatch .*expected {'ab' * 32}, got {SHA}"):
        resolve_weights(server.url, sha256="ab" * 32, cache_dir=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_http_404(server: _Server, tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="HTTP 404"):
        resolve_weights(
            server.url.replace("model.pth", "other.pth"), cache_dir=tmp_path, progress=False
        )


# -- load_state_dict_file / load_into --------------------------------------------------------


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))


def test_load_roundtrip_and_unwrap(tmp_path: Path) -> None:
    sd = _net().state_dict()
    for obj in (sd, {"state_dict": sd, "epoch": 3}, {f"module.{k}": v for k, v in sd.items()}):
        torch.save(obj, tmp_path / "w.pt")
        got = load_state_dict_file(tmp_path / "w.pt")
        assert list(got) == list(sd) and all(torch.equal(got[k], sd[k]) for k in sd)
    m = _net()
    for p in m.parameters():
        nn.init.zeros_(p)
    load_into(m, got)
    assert torch.equal(m[0].weight, sd["0.weight"])


def test_training_checkpoint_with_numpy_metadata(tmp_path: Path) -> None:
    # e.g. VainF/DeepLabV3Plus-Pytorch saves {"model_state", "best_score": np.float64, ...}
    import numpy as np

    sd = _net().state_dict()
    torch.save(
        {
            "model_state": sd,
            "best_score": np.float64(0.721),
            "cur_itrs": 30000,
            "hist": np.arange(3),
        },
        tmp_path / "ckpt.pth",
    )
    got = load_state_dict_file(tmp_path / "ckpt.pth")
    assert list(got) == list(sd)


def test_missing_empty_truncated_corrupt(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="does not exist"):
        load_state_dict_file(tmp_path / "none.pt")
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(WeightsError, match=r"is empty \(0 bytes\)"):
        load_state_dict_file(tmp_path / "empty.pt")
    buf = io.BytesIO()
    torch.save(_net().state_dict(), buf)
    data = buf.getvalue()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match=rf"\({len(data) // 2} bytes\): truncated or corrupt"):
        load_state_dict_file(tmp_path / "trunc.pt")
    (tmp_path / "junk.pt").write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(WeightsError, match="truncated or corrupt"):
        load_state_dict_file(tmp_path / "junk.pt")


class _Evil:
    def __reduce__(self) -> tuple:
        return (print, ("pwned",))


def test_refuses_arbitrary_pickles_and_non_state_dicts(tmp_path: Path) -> None:
    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump({"w": _Evil()}, f, protocol=2)
    with pytest.raises(WeightsError, match=r"weights_only=True"):
        load_state_dict_file(tmp_path / "evil.pt")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(WeightsError, match="is not a state dict .* found list"):
        load_state_dict_file(tmp_path / "list.pt")


def test_state_dict_that_does_not_fit_lists_keys() -> None:
    sd = _net().state_dict()
    sd.pop("3.bias")
    sd["extra.weight"] = torch.zeros(1)
    sd["0.weight"] = torch.zeros(5, 3, 3, 3)
    with pytest.raises(WeightsError) as e:
        load_into(_net(), sd, source="w.pt")
    msg = str(e.value)
    assert "w.pt does not fit Sequential" in msg
    assert "1 missing keys: 3.bias" in msg
    assert "1 unexpected keys: extra.weight" in msg
    assert "0.weight: expected [4, 3, 3, 3], found [5, 3, 3, 3]" in msg
