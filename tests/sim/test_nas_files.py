"""Fidelity of the emulated NAS's file routes to BaluHost (docs/compat/nas-api.md §3,
docs/compat/clients.md §6).

Each test pins one behaviour a client or BaluPi relies on, with the NAS's exact status and body.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from email.utils import formatdate
from typing import Any

import httpx
import pytest

from balupi.sim.nas.state import EmulatedNas

INTERNAL_ERROR = {"detail": "Internal server error"}
ACCESS_DENIED = {"detail": "Access denied"}
NOT_PERMITTED = {"detail": "Operation not permitted"}
NOT_FOUND = {"detail": "File not found"}


async def upload(
    client: httpx.AsyncClient, path: str, name: str, content: bytes, *, field: str = "file"
) -> httpx.Response:
    return await client.post(
        "/api/files/upload", data={"path": path}, files={field: (name, content)}
    )


async def listing(client: httpx.AsyncClient, path: str) -> dict[str, dict[str, Any]]:
    response = await client.get("/api/files/list", params={"path": path})
    assert response.status_code == 200, response.text
    return {item["name"]: item for item in response.json()["files"]}


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def uid(state: EmulatedNas, username: str) -> int:
    user = state.user_by_name(username)
    assert user is not None
    return user.id


# -- listing -----------------------------------------------------------------------------------
async def test_listing_items_have_the_nas_fields_and_types(
    admin: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    await upload(admin, "Shared/docs", "report.txt", b"hello")
    (nas_state.storage / "Shared" / "docs" / "by-hand").write_bytes(b"12345678")
    when = 1_715_000_000_123_456_000  # 2024-05-06 12:53:20.123456 UTC
    os.utime(nas_state.storage / "Shared" / "docs" / "report.txt", ns=(when, when))

    items = await listing(admin, "Shared/docs")

    admin_id = str(uid(nas_state, "admin"))
    assert items["report.txt"] == {
        "name": "report.txt",
        "path": "Shared/docs/report.txt",
        "size": 5,
        "type": "file",
        "modified_at": "2024-05-06T12:53:20.123456Z",
        "owner_id": admin_id,
        "owner_name": "admin",
        "mime_type": "text/plain",
        "file_id": nas_state.files["Shared/docs/report.txt"].id,
        "checksum": sha256(b"hello"),
        "sync_info": None,
        "can_read": None,
        "can_write": None,
        "can_delete": None,
    }
    # Placed on disk by hand: no metadata row, so no id, owner or checksum.
    by_hand = items["by-hand"]
    assert (by_hand["file_id"], by_hand["owner_id"], by_hand["checksum"]) == (None, None, None)
    assert by_hand["mime_type"] is None


async def test_listing_sorts_directories_first_then_case_insensitive(
    admin: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    base = nas_state.storage / "Shared"
    for name in ("beta", "Alpha"):
        (base / name).mkdir()
    for name in ("b.txt", "A.txt", "c.txt"):
        (base / name).write_bytes(b"x")

    names = [
        item["name"] for item in (await admin.get("/api/files/list?path=Shared")).json()["files"]
    ]

    assert names == ["Alpha", "beta", "A.txt", "b.txt", "c.txt"]


@pytest.mark.parametrize("path", ["", "/"])
async def test_empty_and_slash_both_mean_root(admin: httpx.AsyncClient, path: str) -> None:
    assert set(await listing(admin, path)) == {"Shared", "admin", "alice", "bob"}


async def test_leading_and_trailing_slashes_are_stripped(admin: httpx.AsyncClient) -> None:
    await upload(admin, "Shared", "a.txt", b"a")

    items = await listing(admin, "/Shared/")

    assert items["a.txt"]["path"] == "Shared/a.txt"


async def test_missing_directory_lists_empty_not_404(admin: httpx.AsyncClient) -> None:
    response = await admin.get("/api/files/list", params={"path": "Shared/nowhere"})

    assert (response.status_code, response.json()) == (200, {"files": []})


async def test_directory_size_is_recursive(
    admin: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    deep = nas_state.storage / "Shared" / "tree" / "a" / "b"
    deep.mkdir(parents=True)
    (deep / "one").write_bytes(b"x" * 10)
    (deep.parent / "two").write_bytes(b"x" * 5)

    assert (await listing(admin, "Shared"))["tree"]["size"] == 15


async def test_non_admin_root_is_virtual(alice: httpx.AsyncClient, nas_state: EmulatedNas) -> None:
    (nas_state.storage / "Shared" / "big").write_bytes(b"x" * 100)
    alice_id = str(uid(nas_state, "alice"))

    files = (await alice.get("/api/files/list", params={"path": ""})).json()["files"]

    assert [
        {k: item[k] for k in ("name", "path", "size", "type", "owner_id", "file_id")}
        for item in files
    ] == [
        {
            "name": "Shared",
            "path": "Shared",
            "size": 0,
            "type": "directory",
            "owner_id": None,
            "file_id": None,
        },
        {
            "name": "alice",
            "path": "alice",
            "size": 0,
            "type": "directory",
            "owner_id": alice_id,
            "file_id": None,
        },
    ]
    assert all(item["modified_at"].endswith("Z") for item in files)


async def test_system_dirs_hidden_from_users_shown_to_admins(
    admin: httpx.AsyncClient, alice: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    for name in (".system", ".tmp", "lost+found", ".Trash-1000"):
        (nas_state.storage / name).mkdir()
        (nas_state.storage / "Shared" / name).mkdir()

    assert {".system", ".tmp", "lost+found", ".Trash-1000"} <= set(await listing(admin, ""))
    assert set(await listing(alice, "Shared")) == set()  # hidden at every level, not only the root
    assert (await alice.get("/api/files/list?path=.system")).json() == ACCESS_DENIED


async def test_user_outside_shared_and_home_is_denied(alice: httpx.AsyncClient) -> None:
    response = await alice.get("/api/files/list", params={"path": "bob"})

    assert (response.status_code, response.json()) == (403, ACCESS_DENIED)


@pytest.mark.parametrize("path", ["Shared/../bob", "alice/../../etc", ".."])
async def test_dot_dot_is_an_invalid_path_for_users(alice: httpx.AsyncClient, path: str) -> None:
    response = await alice.get("/api/files/list", params={"path": path})

    assert (response.status_code, response.json()) == (400, {"detail": "Invalid path"})


async def test_admin_paths_are_resolved_but_kept_inside_storage(admin: httpx.AsyncClient) -> None:
    await upload(admin, "bob", "b.txt", b"b")

    inside = await listing(admin, "Shared/../bob")
    outside = await admin.get("/api/files/list", params={"path": "../etc"})

    assert inside["b.txt"]["path"] == "bob/b.txt"
    assert (outside.status_code, outside.json()) == (
        403,
        {"detail": "Path is outside of the NAS storage boundary"},
    )


async def test_listing_gives_directories_rows_but_not_files(
    alice: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    (nas_state.storage / "alice" / "camera").mkdir()
    (nas_state.storage / "alice" / "note.md").write_bytes(b"#")

    items = await listing(alice, "alice")

    alice_id = uid(nas_state, "alice")
    assert items["camera"]["file_id"] == nas_state.files["alice/camera"].id
    assert nas_state.files["alice/camera"].owner_id == alice_id
    assert items["note.md"]["file_id"] is None
    assert "alice/note.md" not in nas_state.files


async def test_checksum_is_not_recomputed_when_the_file_changes_on_disk(
    admin: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    await upload(admin, "Shared", "a.txt", b"original")
    (nas_state.storage / "Shared" / "a.txt").write_bytes(b"changed behind the NAS's back")

    item = (await listing(admin, "Shared"))["a.txt"]

    assert (item["checksum"], item["size"]) == (sha256(b"original"), 29)


async def test_users_do_not_see_files_others_own_in_their_home(
    admin: httpx.AsyncClient, alice: httpx.AsyncClient
) -> None:
    await upload(admin, "alice", "from-admin.txt", b"x")
    await upload(alice, "alice", "mine.txt", b"y")

    assert set(await listing(alice, "alice")) == {"mine.txt"}
    assert set(await listing(admin, "alice")) == {"from-admin.txt", "mine.txt"}


async def test_listing_a_file_is_an_unhandled_error(admin: httpx.AsyncClient) -> None:
    await upload(admin, "Shared", "a.txt", b"a")

    response = await admin.get("/api/files/list", params={"path": "Shared/a.txt"})

    assert (response.status_code, response.json()) == (500, INTERNAL_ERROR)


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/api/files/list?path=Shared"),
        ("GET", "/api/files/download/Shared/a.txt"),
        ("POST", "/api/files/upload"),
        ("DELETE", "/api/files/Shared/a.txt"),
        ("GET", "/api/files/mountpoints"),
    ],
)
async def test_file_routes_need_a_token(
    anonymous: httpx.AsyncClient, method: str, url: str
) -> None:
    response = await anonymous.request(method, url)

    assert (response.status_code, response.json()) == (
        401,
        {"detail": "No authentication token provided"},
    )


# -- download ----------------------------------------------------------------------------------
async def test_download_streams_the_file_with_starlette_headers(
    alice: httpx.AsyncClient, admin: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    await upload(admin, "Shared/pi-test", "hello.txt", b"hello world")
    stat = (nas_state.storage / "Shared" / "pi-test" / "hello.txt").stat()

    response = await alice.get("/api/files/download/Shared/pi-test/hello.txt")

    assert response.status_code == 200
    assert response.content == b"hello world"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-length"] == "11"
    assert response.headers["content-disposition"] == 'attachment; filename="hello.txt"'
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["last-modified"] == formatdate(stat.st_mtime, usegmt=True)
    etag = hashlib.md5(f"{stat.st_mtime}-{stat.st_size}".encode()).hexdigest()
    assert response.headers["etag"] == f'"{etag}"'


async def test_download_accepts_encoded_slashes_and_utf8_names(admin: httpx.AsyncClient) -> None:
    await upload(admin, "Shared", "Grüße 1.txt", b"hi")

    response = await admin.get("/api/files/download/Shared%2FGr%C3%BC%C3%9Fe%201.txt")

    assert response.content == b"hi"
    assert response.headers["content-disposition"] == (
        "attachment; filename*=utf-8''Gr%C3%BC%C3%9Fe%201.txt"
    )


async def test_download_single_and_suffix_ranges(admin: httpx.AsyncClient) -> None:
    await upload(admin, "Shared", "digits.bin", b"0123456789")
    url = "/api/files/download/Shared/digits.bin"

    middle = await admin.get(url, headers={"Range": "bytes=2-5"})
    suffix = await admin.get(url, headers={"Range": "bytes=-3"})

    assert (middle.status_code, middle.content, middle.headers["content-range"]) == (
        206,
        b"2345",
        "bytes 2-5/10",
    )
    assert (suffix.status_code, suffix.content, suffix.headers["content-range"]) == (
        206,
        b"789",
        "bytes 7-9/10",
    )


async def test_download_multiple_ranges_are_multipart(admin: httpx.AsyncClient) -> None:
    await upload(admin, "Shared", "digits.bin", b"0123456789")

    response = await admin.get(
        "/api/files/download/Shared/digits.bin", headers={"Range": "bytes=0-1,8-9"}
    )

    assert response.status_code == 206
    assert response.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert b"Content-Range: bytes 0-1/10\r\n\r\n01" in response.content
    assert b"Content-Range: bytes 8-9/10\r\n\r\n89" in response.content


async def test_unsatisfiable_range_is_416_with_the_size(admin: httpx.AsyncClient) -> None:
    await upload(admin, "Shared", "digits.bin", b"0123456789")

    response = await admin.get(
        "/api/files/download/Shared/digits.bin", headers={"Range": "bytes=50-60"}
    )

    assert (response.status_code, response.headers["content-range"], response.content) == (
        416,
        "bytes */10",
        b"",
    )


async def test_if_range_mismatch_and_conditionals_give_the_full_body(
    admin: httpx.AsyncClient,
) -> None:
    await upload(admin, "Shared", "digits.bin", b"0123456789")
    url = "/api/files/download/Shared/digits.bin"
    etag = (await admin.get(url)).headers["etag"]

    stale = await admin.get(url, headers={"Range": "bytes=0-1", "If-Range": '"stale"'})
    fresh = await admin.get(url, headers={"Range": "bytes=0-1", "If-Range": etag})
    unchanged = await admin.get(url, headers={"If-None-Match": etag})

    assert (stale.status_code, stale.content) == (200, b"0123456789")
    assert (fresh.status_code, fresh.content) == (206, b"01")
    assert (unchanged.status_code, unchanged.content) == (200, b"0123456789")  # no 304 on the NAS


@pytest.mark.parametrize("path", ["Shared", "Shared/missing.txt"])
async def test_download_of_directory_or_missing_file_is_404(
    admin: httpx.AsyncClient, path: str
) -> None:
    response = await admin.get(f"/api/files/download/{path}")

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


async def test_download_from_another_home_is_denied(
    alice: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    await upload(bob, "bob", "secret.txt", b"s")

    response = await alice.get("/api/files/download/bob/secret.txt")

    assert (response.status_code, response.json()) == (403, ACCESS_DENIED)


async def test_download_by_id_is_shadowed_by_the_path_route(
    admin: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    await upload(admin, "Shared", "a.txt", b"a")
    file_id = nas_state.files["Shared/a.txt"].id

    response = await admin.get(f"/api/files/download/{file_id}")

    assert (response.status_code, response.json()) == (404, NOT_FOUND)


async def test_head_on_download_is_405(admin: httpx.AsyncClient) -> None:
    await upload(admin, "Shared", "a.txt", b"a")

    response = await admin.head("/api/files/download/Shared/a.txt")

    assert (response.status_code, response.headers["allow"]) == (405, "GET")


async def test_query_style_download_hits_the_catch_all_delete(admin: httpx.AsyncClient) -> None:
    await upload(admin, "Shared", "a.txt", b"a")

    response = await admin.get("/api/files/download", params={"path": "Shared/a.txt"})

    assert (response.status_code, response.headers["allow"]) == (405, "DELETE")
    assert response.json() == {"detail": "Method Not Allowed"}


# -- upload ------------------------------------------------------------------------------------
async def test_upload_stores_the_file_and_its_sha256(
    alice: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    content = os.urandom(3 * 1024 * 1024 + 17)  # larger than the parser's in-memory spool

    response = await upload(alice, "alice", "photo.jpg", content)

    body = response.json()
    assert response.status_code == 200
    assert body["message"] == "Files uploaded"
    assert body["uploaded"] == 1
    assert [uuid.UUID(upload_id).version for upload_id in body["upload_ids"]] == [4]
    assert set(body) == {"message", "uploaded", "upload_ids"}
    assert (nas_state.storage / "alice" / "photo.jpg").read_bytes() == content
    item = (await listing(alice, "alice"))["photo.jpg"]
    alice_id = str(uid(nas_state, "alice"))
    assert (item["size"], item["checksum"], item["owner_id"], item["mime_type"]) == (
        len(content),
        sha256(content),
        alice_id,
        "image/jpeg",
    )


async def test_upload_of_repeated_files_parts(admin: httpx.AsyncClient) -> None:
    parts = [("files", ("a.txt", b"a")), ("files", ("b.txt", b"bb"))]

    response = await admin.post("/api/files/upload", data={"path": "Shared"}, files=parts)

    assert response.json()["uploaded"] == 2
    assert {k: v["size"] for k, v in (await listing(admin, "Shared")).items()} == {
        "a.txt": 1,
        "b.txt": 2,
    }


async def test_files_parts_win_over_a_file_part(admin: httpx.AsyncClient) -> None:
    parts = [("file", ("single.txt", b"s")), ("files", ("batch.txt", b"b"))]

    response = await admin.post("/api/files/upload", data={"path": "Shared"}, files=parts)

    assert response.json()["uploaded"] == 1
    assert set(await listing(admin, "Shared")) == {"batch.txt"}


async def test_dot_in_last_segment_makes_path_the_target_file(
    admin: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    await upload(admin, "Shared/pi-test/renamed.v2", "original.txt", b"x")

    assert (nas_state.storage / "Shared" / "pi-test" / "renamed.v2").read_bytes() == b"x"
    assert not (nas_state.storage / "Shared" / "pi-test" / "original.txt").exists()


async def test_dot_heuristic_consequences_for_dotted_dirs_and_extensionless_files(
    admin: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    shared = nas_state.storage / "Shared"

    await upload(admin, "Shared/Photos.2024", "img.jpg", b"a")  # meant as a directory
    await upload(admin, "Shared/sync/Makefile", "Makefile", b"b")  # BaluApp-style full path
    (shared / "Albums.old").mkdir()
    into_dotted_dir = await upload(admin, "Shared/Albums.old", "img.jpg", b"c")

    assert (shared / "Photos.2024").read_bytes() == b"a"  # the file is written *as* the dir name
    assert (shared / "sync" / "Makefile" / "Makefile").read_bytes() == b"b"
    # An existing dotted directory: the NAS tries to open the directory as the file and fails.
    assert (into_dotted_dir.status_code, into_dotted_dir.json()) == (500, INTERNAL_ERROR)


async def test_query_string_path_is_ignored(
    admin: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    response = await admin.post(
        "/api/files/upload", params={"path": "Shared"}, files={"file": ("q.txt", b"q")}
    )

    assert response.status_code == 200
    assert (nas_state.storage / "q.txt").exists()  # the form default "" is the root


async def test_overwrite_is_silent_and_keeps_the_file_id(
    alice: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    await upload(alice, "alice", "doc.txt", b"first")
    first = (await listing(alice, "alice"))["doc.txt"]

    response = await upload(alice, "alice", "doc.txt", b"second version")

    second = (await listing(alice, "alice"))["doc.txt"]
    assert response.status_code == 200
    assert second["file_id"] == first["file_id"]
    assert (second["size"], second["checksum"]) == (14, sha256(b"second version"))


async def test_part_filename_is_reduced_to_its_last_component(
    alice: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    await upload(alice, "alice", "../../bob/evil", b"x")

    assert (nas_state.storage / "alice" / "evil").exists()
    assert not (nas_state.storage / "bob" / "evil").exists()


async def test_upload_without_parts_uploads_nothing(alice: httpx.AsyncClient) -> None:
    response = await alice.post("/api/files/upload", data={"path": "alice"})

    assert (response.status_code, response.json()) == (
        200,
        {"message": "Files uploaded", "uploaded": 0, "upload_ids": []},
    )


@pytest.mark.parametrize("path", ["", "bob", "bob/inbox"])
async def test_user_upload_to_root_or_another_home_is_denied(
    alice: httpx.AsyncClient, nas_state: EmulatedNas, path: str
) -> None:
    response = await upload(alice, path, "x.txt", b"x")

    assert (response.status_code, response.json()) == (403, ACCESS_DENIED)
    assert not (nas_state.storage / "bob" / "inbox").exists()


async def test_directories_without_a_row_have_no_owner_so_users_cannot_write_into_them(
    alice: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    """Upload-created directories get no metadata row; ownership is the row's, so a user's
    directory-style upload into one is refused, though the NAS creates the directory first.
    The file-path form (BaluApp's) passes, and a listing gives the directory its row."""
    denied = await upload(alice, "alice/new/sub", "a.txt", b"a")
    file_path_form = await upload(alice, "alice/new/sub/b.txt", "b.txt", b"b")
    await listing(alice, "alice/new")
    after_listing = await upload(alice, "alice/new/sub", "a.txt", b"a")

    assert (denied.status_code, denied.json()) == (403, NOT_PERMITTED)
    assert (file_path_form.status_code, after_listing.status_code) == (200, 200)
    assert (nas_state.storage / "alice" / "new" / "sub" / "a.txt").read_bytes() == b"a"


async def test_anyone_may_upload_into_shared_and_owns_the_upload(
    alice: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    response = await upload(alice, "Shared/new/dir", "a.txt", b"a")

    assert response.status_code == 200
    alice_id = uid(nas_state, "alice")
    assert nas_state.files["Shared/new/dir/a.txt"].owner_id == alice_id


async def test_upload_over_quota_is_507_with_a_scrubbed_body(
    admin: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    nas_state.quota_bytes = 100
    await upload(admin, "Shared", "fits.bin", b"x" * 60)

    response = await upload(admin, "Shared", "too-big.bin", b"x" * 41)

    assert (response.status_code, response.json()) == (507, INTERNAL_ERROR)
    assert not (nas_state.storage / "Shared" / "too-big.bin").exists()


# -- delete ------------------------------------------------------------------------------------
async def test_delete_by_path_is_recursive_and_drops_the_rows(
    alice: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    await alice.post("/api/files/folder", json={"path": "alice", "name": "trip/day1"})
    await alice.post("/api/files/folder", json={"path": "alice", "name": "trip"})
    await upload(alice, "alice/trip/day1", "a.jpg", b"a")
    old_id = nas_state.files["alice/trip/day1/a.jpg"].id

    response = await alice.delete("/api/files/alice/trip")

    assert (response.status_code, response.json()) == (200, {"message": "Deleted"})
    assert not (nas_state.storage / "alice" / "trip").exists()
    assert not [p for p in nas_state.files if p.startswith("alice/trip")]
    await upload(alice, "alice/trip/day1/a.jpg", "a.jpg", b"a")  # file-path form: no row needed
    assert nas_state.files["alice/trip/day1/a.jpg"].id != old_id


async def test_delete_of_a_missing_path_is_still_deleted(alice: httpx.AsyncClient) -> None:
    response = await alice.delete("/api/files/alice/never-was.txt")

    assert (response.status_code, response.json()) == (200, {"message": "Deleted"})


@pytest.mark.parametrize("method", ["POST", "DELETE"])
async def test_delete_with_a_json_body(
    alice: httpx.AsyncClient, nas_state: EmulatedNas, method: str
) -> None:
    await upload(alice, "alice", "a.txt", b"a")

    response = await alice.request(method, "/api/files/delete", json={"path": "alice/a.txt"})

    assert (response.status_code, response.json()) == (200, {"message": "Deleted"})
    assert not (nas_state.storage / "alice" / "a.txt").exists()


async def test_deleting_what_another_user_owns_in_shared_is_not_permitted(
    admin: httpx.AsyncClient,
    alice: httpx.AsyncClient,
    bob: httpx.AsyncClient,
    nas_state: EmulatedNas,
) -> None:
    await upload(admin, "Shared", "from-admin.txt", b"a")
    (nas_state.storage / "Shared" / "by-hand.txt").write_bytes(b"h")  # no row, no owner

    assert (await bob.get("/api/files/download/Shared/from-admin.txt")).content == b"a"
    for path in ("Shared/from-admin.txt", "Shared/by-hand.txt"):
        response = await alice.delete(f"/api/files/{path}")
        assert (response.status_code, response.json()) == (403, NOT_PERMITTED)
    assert (nas_state.storage / "Shared" / "from-admin.txt").exists()


async def test_system_directories_cannot_be_deleted_even_by_admins(
    admin: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    (nas_state.storage / ".system").mkdir()

    response = await admin.delete("/api/files/.system")

    assert (response.status_code, response.json()) == (
        403,
        {"detail": "Cannot delete system directory '.system'"},
    )


async def test_query_style_delete_redirects_to_an_empty_path(
    alice: httpx.AsyncClient, admin: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    """BaluDesk's ``DELETE /api/files?path=`` only matches after the trailing-slash 307, and
    then the catch-all sees an empty path: the storage root. Never forward that."""
    (nas_state.storage / ".system").mkdir()
    await upload(admin, "Shared", "keep.txt", b"k")

    redirect = await alice.delete("/api/files", params={"path": "alice/x"})
    as_user = await alice.delete("/api/files/", params={"path": "alice/x"})
    as_admin = await admin.delete("/api/files/", params={"path": "Shared/keep.txt"})

    assert (redirect.status_code, redirect.headers["location"]) == (
        307,
        "http://nas.test/api/files/?path=alice%2Fx",
    )
    assert (as_user.status_code, as_user.json()) == (403, ACCESS_DENIED)
    # The admin's root delete stops at the first system directory, before anything is removed.
    assert (as_admin.status_code, as_admin.json()) == (
        403,
        {"detail": "Cannot delete system directory '.system'"},
    )
    assert (nas_state.storage / "Shared" / "keep.txt").exists()


# -- folders, rename, move ---------------------------------------------------------------------
async def test_folder_creation_is_idempotent_creates_parents_and_a_row(
    alice: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    body = {"path": "alice", "name": "a/b/c"}

    first = await alice.post("/api/files/folder", json=body)
    again = await alice.post("/api/files/folder", json=body)

    for response in (first, again):
        assert (response.status_code, response.json()) == (200, {"message": "Folder created"})
    assert (nas_state.storage / "alice" / "a" / "b" / "c").is_dir()
    alice_id = uid(nas_state, "alice")
    assert nas_state.files["alice/a/b/c"].owner_id == alice_id


async def test_folder_in_another_home_or_with_a_reserved_name_is_refused(
    alice: httpx.AsyncClient, admin: httpx.AsyncClient
) -> None:
    other = await alice.post("/api/files/folder", json={"path": "bob", "name": "x"})
    reserved = await admin.post("/api/files/folder", json={"path": "", "name": ".tmp"})

    assert (other.status_code, other.json()) == (403, ACCESS_DENIED)
    assert (reserved.status_code, reserved.json()) == (
        403,
        {"detail": "Cannot create folder with reserved name '.tmp'"},
    )


async def test_legacy_mkdir_takes_the_whole_path(
    alice: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    response = await alice.post("/api/files/mkdir", json={"path": "/alice/new/"})

    assert (response.status_code, response.json()) == (200, {"message": "Folder created"})
    assert (nas_state.storage / "alice" / "new").is_dir()


async def test_rename_keeps_ids_of_the_entry_and_everything_below_it(
    alice: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    await alice.post("/api/files/folder", json={"path": "alice", "name": "old"})
    await upload(alice, "alice/old", "a.txt", b"a")
    dir_id = nas_state.files["alice/old"].id
    file_id = nas_state.files["alice/old/a.txt"].id

    response = await alice.put(
        "/api/files/rename", json={"old_path": "alice/old", "new_name": "new"}
    )

    assert (response.status_code, response.json()) == (200, {"message": "Renamed"})
    assert (await listing(alice, "alice"))["new"]["file_id"] == dir_id
    moved = (await listing(alice, "alice/new"))["a.txt"]
    assert (moved["file_id"], moved["checksum"]) == (file_id, sha256(b"a"))


async def test_rename_of_a_missing_source_is_a_scrubbed_500(admin: httpx.AsyncClient) -> None:
    response = await admin.put(
        "/api/files/rename", json={"old_path": "Shared/ghost.txt", "new_name": "x.txt"}
    )

    assert (response.status_code, response.json()) == (500, INTERNAL_ERROR)


async def test_rename_of_what_another_user_owns_in_shared_is_not_permitted(
    alice: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    await upload(alice, "Shared", "alices.txt", b"a")

    response = await bob.put(
        "/api/files/rename", json={"old_path": "Shared/alices.txt", "new_name": "bobs.txt"}
    )

    assert (response.status_code, response.json()) == (403, NOT_PERMITTED)


async def test_move_into_an_existing_directory(
    alice: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    await alice.post("/api/files/folder", json={"path": "alice", "name": "archive"})
    await upload(alice, "alice", "a.txt", b"a")
    file_id = nas_state.files["alice/a.txt"].id

    response = await alice.put(
        "/api/files/move", json={"source_path": "alice/a.txt", "target_path": "alice/archive"}
    )

    assert (response.status_code, response.json()) == (200, {"message": "Moved"})
    assert (await listing(alice, "alice/archive"))["a.txt"]["file_id"] == file_id


async def test_move_to_a_new_full_path_creates_parents(
    admin: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    await upload(admin, "Shared", "a.txt", b"a")
    file_id = nas_state.files["Shared/a.txt"].id

    response = await admin.put(
        "/api/files/move", json={"source_path": "Shared/a.txt", "target_path": "Shared/x/y/b.txt"}
    )

    assert response.json() == {"message": "Moved"}
    assert (nas_state.storage / "Shared" / "x" / "y" / "b.txt").read_bytes() == b"a"
    assert nas_state.files["Shared/x/y/b.txt"].id == file_id


async def test_move_with_baluapps_destination_path_key_is_422(alice: httpx.AsyncClient) -> None:
    await upload(alice, "alice", "a.txt", b"a")

    response = await alice.put(
        "/api/files/move", json={"source_path": "alice/a.txt", "destination_path": "alice/b.txt"}
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "target_path"]


# -- storage -----------------------------------------------------------------------------------
async def test_mountpoints_report_one_storage(
    alice: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    nas_state.quota_bytes = 1000
    await upload(alice, "alice", "a.bin", b"x" * 100)

    body = (await alice.get("/api/files/mountpoints")).json()

    assert body == {
        "mountpoints": [
            {
                "id": "storage",
                "name": "Storage",
                "type": "storage",
                "path": "",
                "size_bytes": 1000,
                "used_bytes": 100,
                "available_bytes": 900,
                "raid_level": None,
                "status": "optimal",
                "is_default": True,
                "breakdown": {
                    "cache_bytes": 0,
                    "cache_enabled": False,
                    "vcl_bytes": 0,
                    "user_files_bytes": 100,
                },
            }
        ],
        "default_mountpoint": "storage",
    }


async def test_storage_available_counts_user_data_only(
    alice: httpx.AsyncClient, nas_state: EmulatedNas
) -> None:
    nas_state.quota_bytes = 1000
    (nas_state.storage / ".tmp").mkdir()
    (nas_state.storage / ".tmp" / "partial").write_bytes(b"x" * 500)  # system dirs don't count
    await upload(alice, "alice", "a.bin", b"x" * 100)

    body = (await alice.get("/api/files/storage/available")).json()

    assert body == {"available_bytes": 900, "used_bytes": 100, "quota_bytes": 1000}
