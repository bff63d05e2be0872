"""The item database and live catalogue updates from Python, the CLI and HTTP: items added,
updated and removed on a built index are found (or gone) without a rebuild, and persist in the
index directory."""

import http.client
import json
import subprocess
import sys
from pathlib import Path

import pytest

import lrem

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serving import LremServe, build_index  # noqa: E402

TITLES = ["Red Running Shoes", "Navy Wool Cardigan", "Steel Claw Hammer", "Wooden Toy Truck", "Oak Dining Table",
          "Stainless Kettle"]


def write_items(path: Path, items) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items))
    return path


@pytest.fixture(scope="module")
def model(lrem_model_dir):
    return lrem.Model.load(str(lrem_model_dir))


def catalogue():
    return [{"id": i, "title": t, "pos": i} for i, t in enumerate(TITLES)]


def ids_found(retriever, query):
    """The ids of every item, ranked for `query` (direct mode)."""
    return [h.id for h in retriever.search(query, k=len(retriever.items) + 3, mode="direct").hits]


def test_an_imported_database_holds_what_the_file_holds(tmp_path):
    jsonl = write_items(tmp_path / "items.jsonl", catalogue() + [{"title": "Glass Vase", "id": 77, "tags": ["a"]}])
    memory = lrem.ItemStore.load(jsonl)
    database = lrem.ItemStore.import_jsonl(jsonl, tmp_path / "items.sqlite")
    assert database.is_database and not memory.is_database
    assert database.items() == memory.items()
    assert database.get_many([77, 1000, 0]) == [memory.get(77), None, memory.get(0)]
    database.update({"id": 77, "title": "Glass Flower Vase"})
    assert database.remove(0) and not database.remove(0)
    assert lrem.ItemStore.open(tmp_path / "items.sqlite").items() == database.items()


def test_a_retriever_sees_items_added_to_its_shared_store_and_index(model):
    emb = lrem.Embedder(model)
    store = lrem.ItemStore(catalogue())
    index = lrem.build_index(emb, store)
    r = lrem.Retriever(emb, index, store)
    store.add({"id": 50, "title": "Yellow Rain Coat"})  # the store first, then the index
    index.add(emb.embed_items(["Yellow Rain Coat"]), [50], normalized=True)
    assert 50 in ids_found(r, "Yellow Rain Coat")


def test_library_updates_persist_in_the_index_directory(model, tmp_path):
    emb = lrem.Embedder(model)
    store = lrem.ItemStore(catalogue())
    lrem.save_index(lrem.build_index(emb, store), store, tmp_path / "idx")
    r = lrem.Retriever.open(emb, tmp_path / "idx")
    r.add_items([{"id": 100, "title": "Garden Hose", "color": "green"}])
    r.update_items([{"id": 3, "title": "Wooden Toy Train"}])
    r.remove_items([5])
    with pytest.raises(lrem.InvalidArgument, match="already present"):
        r.add_items([{"id": 100, "title": "Again"}])
    again = lrem.Retriever.open(emb, tmp_path / "idx")
    found = again.search("Garden Hose", k=10, mode="direct").hits
    assert sorted(h.id for h in found) == [0, 1, 2, 3, 4, 100]
    assert {h.id: h.title for h in found}[3] == "Wooden Toy Train"
    assert again.items.get(100) == {"id": 100, "title": "Garden Hose", "color": "green"}
    again.checkpoint()
    assert json.loads((tmp_path / "idx" / "meta.json").read_text())["catalogue_version"] == 3


def test_a_memory_mapped_catalogue_refuses_updates_before_changing_anything(model, tmp_path):
    emb = lrem.Embedder(model)
    store = lrem.ItemStore(catalogue())
    lrem.save_index(lrem.build_index(emb, store), store, tmp_path / "idx")
    mapped = lrem.Retriever.open(emb, tmp_path / "idx", mmap=True)
    for change in (lambda: mapped.add_items([{"id": 100, "title": "Garden Hose"}]),
                   lambda: mapped.remove_items([1])):
        with pytest.raises(lrem.InvalidArgument, match="memory-mapped.*nothing was changed"):
            change()
    # Nothing reached the item database either: the directory is as saved.
    again = lrem.Retriever.open(emb, tmp_path / "idx")
    assert len(again.items) == len(TITLES) and 100 not in again.items and 1 in again.items


def test_cli_adds_updates_and_removes_items(lrem_cli, lrem_model_dir, tmp_path):
    idx = build_index(lrem_cli, lrem_model_dir, write_items(tmp_path / "items.jsonl", catalogue()), tmp_path / "idx")
    common = ["--model", lrem_model_dir, "--index", idx, "--threads", "1", "--quiet"]

    def run(*args):
        out = subprocess.run([lrem_cli, "index", *args, *common], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert "the catalogue holds 7" in run("add", "--items", write_items(tmp_path / "new.jsonl", [{"id": 9, "title": "Garden Hose"}]))
    run("update", "--items", write_items(tmp_path / "changed.jsonl", [{"id": 2, "title": "Steel Sledge Hammer"}]))
    assert "the catalogue holds 5" in run("remove", "--ids", "0,1")
    run("checkpoint")
    refused = subprocess.run([lrem_cli, "index", "remove", "--ids", "0", *common], capture_output=True, text=True)
    assert refused.returncode == 1 and "no item with id 0" in refused.stderr, refused.stderr
    out = subprocess.run([lrem_cli, "search", "--model", lrem_model_dir, "--index", idx, "--json", "-k", "10",
                          "--mode", "direct", "--threads", "1", "-q", "hose"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    hits = {h["id"]: h["title"] for h in json.loads(out.stdout)["hits"]}
    assert sorted(hits) == [2, 3, 4, 5, 9] and hits[2] == "Steel Sledge Hammer"


def admin(server, path, body, token=None):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request("POST", path, body=json.dumps(body).encode(), headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_admin_routes_are_off_by_default_and_need_the_token(lrem_cli, lrem_model_dir, model, tmp_path):
    idx = build_index(lrem_cli, lrem_model_dir, write_items(tmp_path / "items.jsonl", catalogue()), tmp_path / "idx")
    with LremServe(lrem_cli, lrem_model_dir, idx, "--threads", "1") as server:
        assert admin(server, "/admin/items/add", {"items": [{"id": 9, "title": "x"}]}, "t" * 20)[0] == 404
    (tmp_path / "short").write_text("abc\n")
    short = subprocess.run([lrem_cli, "serve", "--model", lrem_model_dir, "--index", idx, "--admin-token-file",
                            tmp_path / "short"], capture_output=True, text=True)
    assert short.returncode == 1 and "at least 16" in short.stderr, short.stderr
    token = "s3cret-admin-token-0123456789"
    (tmp_path / "token").write_text(token + "\n")
    with LremServe(lrem_cli, lrem_model_dir, idx, "--threads", "1", "--admin-token-file", tmp_path / "token") as server:
        add = {"items": [{"id": 9, "title": "Garden Hose", "color": "green"}]}
        assert admin(server, "/admin/items/add", add)[0] == 401
        assert admin(server, "/admin/items/add", add, "wrong-token-wrong-token")[0] == 403
        assert server.json("GET", "/healthz")[1]["items"] == 6
        assert admin(server, "/admin/items/add", add, token) == (200, {"added": 1, "items": 7})
        status, body = server.json("POST", "/search", {"query": "Garden Hose", "k": 10, "mode": "direct"})
        assert status == 200 and {"id": 9, "title": "Garden Hose", "color": "green"}.items() <= \
            next(h for h in body["hits"] if h["id"] == 9).items()
        assert admin(server, "/admin/items/update", {"items": [{"id": 1, "title": "Navy Wool Sweater"}]}, token)[0] == 200
        assert admin(server, "/admin/items/remove", {"ids": [0]}, token) == (200, {"removed": 1, "items": 6})
        status, body = admin(server, "/admin/items/remove", {"ids": [0]}, token)
        assert status == 400 and "no item with id 0" in body["error"]
        status, body = admin(server, "/admin/items/add", {"items": [{"id": 10}]}, token)
        assert status == 400 and "title" in body["error"]
        assert admin(server, "/admin/checkpoint", {}, token) == (200, {"checkpointed": True, "items": 6})
    # What the server changed is in the directory.
    items = lrem.Retriever.open(model, idx).items
    assert sorted(items.ids) == [1, 2, 3, 4, 5, 9] and items.title(1) == "Navy Wool Sweater"
