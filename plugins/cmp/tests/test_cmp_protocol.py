"""The sidecar protocol: hostile archives, dead and garbage sockets, version mismatch, one tar pass."""

from __future__ import annotations

import io
import os
import socket
import tarfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from syncwright.api import PathEscapeError, RenderError
from syncwright_cmp import archive
from syncwright_cmp.protocol import call, encode_meta

Entry = Callable[[tarfile.TarFile], None]


def _file(name: str, data: bytes = b"x") -> Entry:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return add


def _special(name: str, kind: bytes, link: str = "") -> Entry:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = link
        tar.addfile(info)
    return add


def make_tar(*entries: Entry) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for add in entries:
            add(tar)
    return buf.getvalue()


HOSTILE: dict[str, tuple[list[Entry], type[Exception], str]] = {
    "dotdot": ([_file("app/ok.yaml"), _file("../evil.yaml")], PathEscapeError, "'../evil.yaml' contains '..'"),
    "dotdot-inner": ([_file("app/../../evil.yaml")], PathEscapeError, "contains '..'"),
    "absolute": ([_file("/etc/evil.yaml")], PathEscapeError, "is an absolute path"),
    "symlink-out": ([_special("app/link", tarfile.SYMTYPE, "../../etc/passwd")], PathEscapeError, "leads outside"),
    "symlink-abs": ([_special("link", tarfile.SYMTYPE, "/etc/passwd")], PathEscapeError, "is absolute"),
    "symlink-parent": ([_special("d", tarfile.SYMTYPE, "."), _special("d/x", tarfile.SYMTYPE, "../y")],
                       PathEscapeError, "through a symlinked directory"),
    "write-through-symlink": ([_special("d", tarfile.SYMTYPE, "app"), _file("app/keep"), _file("d/evil")],
                              PathEscapeError, "through a symlinked directory"),
    "hardlink-out": ([_special("h", tarfile.LNKTYPE, "../outside")], PathEscapeError, "contains '..'"),
    "hardlink-abs": ([_special("h", tarfile.LNKTYPE, "/etc/passwd")], PathEscapeError, "is an absolute path"),
    "hardlink-via-symlink": ([_special("l", tarfile.SYMTYPE, "app"), _file("app/f"), _special("h", tarfile.LNKTYPE, "l/f")],
                             PathEscapeError, "leads outside the extraction dir"),
    "char-device": ([_special("dev", tarfile.CHRTYPE)], RenderError, "is a device file"),
    "block-device": ([_special("blk", tarfile.BLKTYPE)], RenderError, "is a device file"),
    "fifo": ([_special("pipe", tarfile.FIFOTYPE)], RenderError, "is a FIFO"),
    "too-big": ([_file("a", b"x" * 600), _file("b", b"y" * 600)], RenderError, "more than 1000 bytes (size cap)"),
    "too-many": ([_file(f"f{i}") for i in range(12)], RenderError, "more than 10 entries (file-count cap)"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_cmp_extract_rejects_hostile_archive(case: str, tmp_path: Path) -> None:
    entries, error, message = HOSTILE[case]
    dest = tmp_path / "x"
    dest.mkdir()
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        archive.extract_archive(io.BytesIO(make_tar(*entries)), dest, max_bytes=1000, max_files=10)
    assert not (tmp_path / "evil.yaml").exists()


def test_cmp_extract_garbage_and_modes(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="not a valid tar.gz"):
        archive.extract_archive(io.BytesIO(b"not a tarball at all"), tmp_path)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "run.sh").write_text("echo hi\n")
    (src / "run.sh").chmod(0o755)
    (src / "sub" / "data").write_text("d")
    (src / "ln").symlink_to("sub/data")
    (src / ".git").mkdir()
    (src / ".git" / "config").write_text("secret")
    buf = io.BytesIO()
    stats = archive.write_archive(src, buf)
    assert stats.files == 3
    for preserve, mode in ((False, 0o644), (True, 0o755)):
        dest = tmp_path / f"dest{preserve}"
        dest.mkdir()
        buf.seek(0)
        archive.extract_archive(buf, dest, preserve_mode=preserve)
        assert (dest / "run.sh").stat().st_mode & 0o777 == mode
        assert os.readlink(dest / "ln") == "sub/data"
        assert not (dest / ".git").exists()


def test_cmp_server_rejects_hostile_archives_and_cleans_up(h: Any, servers: Any) -> None:
    srv = servers(h.PLUGINS / "envsubst.yaml", "envsubst", "--max-extracted-bytes", "1000", "--max-files", "10")
    meta = encode_meta({"appPath": "app", "build": {"appName": "x"}, "source": {"repoURL": "", "path": "app"}})
    for case in sorted(HOSTILE):
        entries, error, message = HOSTILE[case]
        body = meta + make_tar(*entries)
        with pytest.raises(error) as info:
            call(srv.socket, "POST", "/v1/generate", body=[body], length=len(body), timeout=10)
        assert message.split("'")[-1].strip() in str(info.value)
        assert str(srv.socket) in str(info.value)
    assert srv.request_dirs() == []
    assert len([line for line in srv.log_lines() if "POST /v1/generate" in line]) == len(HOSTILE)
    # the server is still healthy
    assert call(srv.socket, "GET", "/v1/info")["name"] == "envsubst"


def test_cmp_oversized_request_is_refused_before_reading(h: Any, servers: Any) -> None:
    srv = servers(h.PLUGINS / "envsubst.yaml", "envsubst", "--max-extracted-bytes", "1000")
    big = encode_meta({"appPath": "."}) + os.urandom(200_000)
    with pytest.raises(RenderError, match="over the size cap"):
        call(srv.socket, "POST", "/v1/generate", body=[big], length=len(big), timeout=10)


def test_cmp_version_mismatch_is_refused(h: Any, servers: Any) -> None:
    import http.client

    from syncwright_cmp.protocol import UnixHTTPConnection

    srv = servers(h.PLUGINS / "envsubst.yaml", "envsubst")
    conn = UnixHTTPConnection(str(srv.socket), 5)
    conn.request("POST", "/v1/generate", body=b"{}\n", headers={"Syncwright-CMP-Protocol": "2"})
    resp: http.client.HTTPResponse = conn.getresponse()
    assert resp.status == 400 and b"client speaks protocol 2" in resp.read()


@pytest.fixture()
def fake_server(sockdir: Path) -> Iterator[Callable[[bytes], Path]]:
    """A Unix socket that answers every connection with fixed bytes."""
    threads: list[tuple[socket.socket, threading.Thread]] = []

    def start(answer: bytes) -> Path:
        path = sockdir / f"fake{len(threads)}.sock"
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(str(path))
        srv.listen()

        def loop() -> None:
            while True:
                try:
                    conn, _ = srv.accept()
                except OSError:
                    return
                conn.recv(65536)
                conn.sendall(answer)
                conn.close()

        t = threading.Thread(target=loop, daemon=True)
        t.start()
        threads.append((srv, t))
        return path

    yield start
    for srv, _t in threads:
        srv.close()


@pytest.mark.parametrize("answer,message", [
    (b"garbage\r\n\r\n", "answered garbage"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", "answered garbage"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 29\r\n\r\n{\"protocol\": 99, \"name\": \"x\"}", "speaks protocol 99"),
    (b"HTTP/1.1 500 Oops\r\nContent-Length: 2\r\n\r\n{}", "without a structured error"),
])
def test_cmp_garbage_socket(fake_server: Callable[[bytes], Path], answer: bytes, message: str) -> None:
    from syncwright_cmp.sidecar import handshake

    path = fake_server(answer)
    with pytest.raises(RenderError, match=message) as info:
        handshake(path)
    assert str(path) in str(info.value)


def test_cmp_dead_and_missing_sockets_via_cli(h: Any, tmp_path: Path, sockdir: Path) -> None:
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sockdir / "gone.sock"))
    stale.close()  # the file stays, nobody listens: a sidecar that died
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "f").write_text("x")
    for name, message in (("gone", "refuses connections"), ("absent", "unknown tool 'cmp:absent'")):
        proc = h.sw("--cmp-socket-dir", str(sockdir), "render", str(repo / "app"), "--repo-root", str(repo),
                    "--tool", f"cmp:{name}")
        assert proc.returncode == 1 and proc.stdout == ""
        assert message in proc.stderr and "Traceback" not in proc.stderr
    from syncwright_cmp.sidecar import handshake

    with pytest.raises(RenderError, match="socket is gone"):
        handshake(sockdir / "never.sock")
    proc = h.sw("--cmp-socket-dir", str(sockdir), "plugins", "-o", "json")
    assert proc.returncode == 0 and "refuses connections" in proc.stdout


def test_cmp_one_tar_pass_per_render(h: Any, tmp_path: Path, servers: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A find.command sidecar needs the tree to discover; the same archive then serves generate."""
    from syncwright.model import load_applications
    from syncwright.plugins import Hooks
    from syncwright.render import render_application

    plugin = h.write_plugin(tmp_path / "plugins", "finder",
                            "discover:\n  find: {command: [sh, -c, 'ls *.bundle.yaml']}\n"
                            "generate: {command: [sh, -c, 'cat *.bundle.yaml']}")
    srv = servers(plugin, "finder")
    monkeypatch.setenv("SYNCWRIGHT_CMP_SOCKETS", str(srv.socket.parent))
    monkeypatch.setenv("SYNCWRIGHT_CMP_DIR", str(tmp_path / "none"))
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "a.bundle.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n")
    (repo / "app.yaml").write_text("apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: t}\n"
                                   "spec:\n  source: {repoURL: ., path: app, plugin: {}}\n"
                                   "  destination: {server: https://kubernetes.default.svc, namespace: t}\n")
    before = archive.TAR_PASSES
    objs = render_application(Hooks.load(), load_applications(repo / "app.yaml")[0], repo)
    assert [o["metadata"]["name"] for o in objs] == ["a"]
    assert archive.TAR_PASSES - before == 1
    lines = srv.log_lines()
    assert any("POST /v1/discover 200" in line and "files=" in line for line in lines)
    assert any("POST /v1/generate 200" in line for line in lines)


def test_cmp_huge_request_gets_the_structured_answer(h: Any, servers: Any) -> None:
    """Larger than the server drains: it stops reading, the client still reads the error it sent."""
    srv = servers(h.PLUGINS / "envsubst.yaml", "envsubst", "--max-extracted-bytes", "1000")
    chunk = b"\0" * (1024 * 1024)
    length = len(encode_meta({})) + 8 * len(chunk)
    with pytest.raises(RenderError, match="over the size cap"):
        call(srv.socket, "POST", "/v1/generate", body=[encode_meta({}), *([chunk] * 8)], length=length, timeout=20)


def test_cmp_tar_exclusions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    (src / "node_modules" / "x").mkdir(parents=True)
    (src / "node_modules" / "x" / "big.js").write_text("x")
    (src / "app").mkdir()
    (src / "app" / "a.yaml").write_text("a")
    (src / "app" / "a.bak").write_text("b")
    monkeypatch.setenv("SYNCWRIGHT_CMP_TAR_EXCLUDE", "node_modules;*.bak")
    buf = io.BytesIO()
    archive.write_archive(src, buf)
    buf.seek(0)
    with tarfile.open(fileobj=buf, mode="r:gz") as tar:
        assert sorted(tar.getnames()) == ["app", "app/a.yaml"]
