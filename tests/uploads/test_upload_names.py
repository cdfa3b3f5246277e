"""Names the NAS cannot store are refused before the 200 (issue 11 finding 12).

A NUL, a CR or LF, or more than 255 bytes of UTF-8 in any name: every way in (multipart form
path, query path and part filename, the chunked init, tus, and a folder, rename or move kept
while the NAS sleeps) answers 400 with a plain ``detail``, and nothing is queued.
"""

from __future__ import annotations

import base64

import pytest

from balupi.services.files.paths import MAX_NAME_BYTES, storable
from tests.uploads.conftest import Home

BAD_NAMES = {
    "nul": "bad\x00name.txt",
    "cr": "bad\rname.txt",
    "lf": "bad\nname.txt",
    "too long": "é" * 126 + ".txt",  # 256 bytes of UTF-8, 130 characters
}
EXPECTED = {
    "detail": "File and folder names may not contain NUL, CR or LF characters "
    "or be longer than 255 bytes."
}


def test_storable_counts_bytes_not_characters() -> None:
    assert storable("alice/" + "é" * 127 + ".")  # 255 bytes
    assert not storable("alice/" + "é" * 128)  # 256 bytes
    assert storable("a" * MAX_NAME_BYTES + "/b")
    assert not storable("alice/\udcff.txt")  # not text a filesystem can hold


def _multipart(filename: str) -> tuple[dict[str, str], bytes]:
    """A hand-made body, so the filename reaches the Pi exactly as given."""
    body = (
        b'--b\r\nContent-Disposition: form-data; name="path"\r\n\r\nalice\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="'
        + filename.encode()
        + b'"\r\n\r\ncontent\r\n--b--\r\n'
    )
    return {"Content-Type": "multipart/form-data; boundary=b"}, body


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
async def test_uploads_of_a_name_the_nas_cannot_store_are_400(home: Home, name: str) -> None:
    alice = home.token("alice")
    metadata = ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}"
        for key, value in (("filename", name), ("path", "alice"))
    )
    async with home.pi() as pi:
        answers = [
            await pi.post(
                "/api/files/upload",
                headers=alice,
                data={"path": f"alice/{name}"},
                files={"file": ("x.txt", b"content")},
            ),
            await pi.post(
                "/api/files/upload",
                headers=alice,
                params={"path": f"alice/{name}"},
                files={"file": ("x.txt", b"content")},
            ),
            await pi.post(
                "/api/files/upload/chunked/init",
                headers=alice,
                json={"filename": name, "total_size": 7, "target_path": "alice"},
            ),
            await pi.post(
                "/api/files/tus",
                headers={
                    **alice,
                    "Tus-Resumable": "1.0.0",
                    "Upload-Length": "7",
                    "Upload-Metadata": metadata,
                },
            ),
        ]
        if "\r" not in name and "\n" not in name:  # a header line cannot carry CR or LF
            headers, body = _multipart(name)
            answers.append(
                await pi.post("/api/files/upload", headers={**alice, **headers}, content=body)
            )
    assert [(a.status_code, a.json()) for a in answers] == [(400, EXPECTED)] * len(answers)
    assert await home.queue() == []


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
async def test_changes_kept_while_asleep_refuse_such_names_too(home: Home, name: str) -> None:
    alice = home.token("alice")
    async with home.pi() as pi:
        upload = await pi.post(
            "/api/files/upload",
            headers=alice,
            data={"path": "alice/ok.txt"},
            files={"file": ("ok.txt", b"content")},
        )
        assert upload.status_code == 200
        answers = [
            await pi.post("/api/files/folder", headers=alice, json={"path": "alice", "name": name}),
            await pi.post("/api/files/mkdir", headers=alice, json={"path": f"alice/{name}"}),
            await pi.put(
                "/api/files/rename",
                headers=alice,
                json={"old_path": "alice/ok.txt", "new_name": name},
            ),
            await pi.put(
                "/api/files/move",
                headers=alice,
                json={"source_path": "alice/ok.txt", "target_path": f"alice/{name}"},
            ),
        ]
    assert [(a.status_code, a.json()) for a in answers] == [(400, EXPECTED)] * len(answers)
    assert [row.target_path for row in await home.queue()] == ["alice/ok.txt"]


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
async def test_changes_while_awake_refuse_such_names_before_the_nas(home: Home, name: str) -> None:
    """The NAS answers such a name with a 500; the Pi answers 400 and sends nothing."""
    alice = home.token("alice")
    await home.wake()
    async with home.pi() as pi:
        made = await pi.post("/api/files/mkdir", headers=alice, json={"path": "alice/ok"})
        assert made.status_code == 200
        answers = [
            await pi.post("/api/files/folder", headers=alice, json={"path": "alice", "name": name}),
            await pi.post("/api/files/mkdir", headers=alice, json={"path": f"alice/{name}"}),
            await pi.put(
                "/api/files/rename", headers=alice, json={"old_path": "alice/ok", "new_name": name}
            ),
            await pi.put(
                "/api/files/move",
                headers=alice,
                json={"source_path": "alice/ok", "target_path": f"alice/{name}"},
            ),
        ]
    assert [(a.status_code, a.json()) for a in answers] == [(400, EXPECTED)] * len(answers)
