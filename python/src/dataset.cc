// JSON Lines readers and the ItemStore. Records cross into Python as plain dicts: an item is
// {"id": ..., "title": ..., **its other fields}, exactly as its line in the file.
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

#include <filesystem>

#include "bindings.h"
#include "lrem/dataset.h"
#include "lrem/error.h"

namespace lrem::python {

namespace {

using Path = std::filesystem::path;

py::dict item_to_dict(const Item& item) {
  py::dict d;
  d["id"] = item.id;
  d["title"] = item.title;
  d.attr("update")(py::module_::import("json").attr("loads")(item.extra_json));
  return d;
}

Item item_from_dict(const py::dict& d) {
  if (!d.contains("id") || !d.contains("title")) throw InvalidArgument("an item dict needs \"id\" and \"title\"");
  Item item;
  item.id = d["id"].cast<int64_t>();
  item.title = d["title"].cast<std::string>();
  py::dict extra;
  for (const auto& [key, value] : d) {
    const std::string name = py::str(key);
    if (name != "id" && name != "title") extra[key] = value;
  }
  item.extra_json = py::module_::import("json").attr("dumps")(extra, py::arg("ensure_ascii") = false).cast<std::string>();
  return item;
}

py::list items_to_list(const std::vector<Item>& items) {
  py::list out;
  for (const Item& item : items) out.append(item_to_dict(item));
  return out;
}


}  // namespace

std::vector<Item> items_from_list(const py::iterable& items) {
  std::vector<Item> out;
  for (const auto& item : items) out.push_back(item_from_dict(item.cast<py::dict>()));
  return out;
}

void bind_dataset(py::module_& m) {
  m.def(
      "read_items",
      [](const Path& path, size_t max_line_bytes) {
        std::vector<Item> items;
        {
          py::gil_scoped_release release;
          items = read_items(path.string(), max_line_bytes);
        }
        return items_to_list(items);
      },
      py::arg("path"), py::arg("max_line_bytes") = kDefaultMaxLineBytes,
      R"doc(Reads items.jsonl into a list of dicts ``{"id": int, "title": str, ...other fields}``.

Raises FormatError naming the file and line for bad JSON, a missing/mistyped field, a
duplicate id, an empty title or invalid UTF-8; LimitExceeded for an overlong line.)doc");
  m.def(
      "read_queries",
      [](const Path& path, size_t max_line_bytes) {
        py::list out;
        for (const Query& q : read_queries(path.string(), max_line_bytes)) {
          out.append(py::dict(py::arg("id") = q.id, py::arg("text") = q.text, py::arg("category") = q.category));
        }
        return out;
      },
      py::arg("path"), py::arg("max_line_bytes") = kDefaultMaxLineBytes,
      R"doc(Reads queries.jsonl into dicts ``{"id": str, "text": str, "category": str}`` (ids become strings).)doc");
  m.def(
      "read_qrels",
      [](const Path& path, size_t max_line_bytes) {
        py::list out;
        for (const Qrel& q : read_qrels(path.string(), max_line_bytes)) {
          out.append(py::dict(py::arg("query_id") = q.query_id, py::arg("item_id") = q.item_id,
                              py::arg("relevance") = q.relevance));
        }
        return out;
      },
      py::arg("path"), py::arg("max_line_bytes") = kDefaultMaxLineBytes,
      R"doc(Reads qrels.jsonl into dicts ``{"query_id": str, "item_id": int, "relevance": int}``.)doc");
  m.def(
      "write_items", [](const Path& path, const py::iterable& items) { write_items(path.string(), items_from_list(items)); },
      py::arg("path"), py::arg("items"), "Writes item dicts as JSON Lines, atomically.");

  py::class_<ItemStore>(m, "ItemStore", R"doc(The item catalogue: items in file order, looked up by id.

In memory (``ItemStore(items)``, ``ItemStore.load``) or in an SQLite database file
(``ItemStore.import_jsonl``, ``ItemStore.open``) for catalogues larger than memory. A store is a
handle: a Retriever given a store sees items added to it later.)doc")
      .def(py::init([](const py::iterable& items) { return ItemStore(items_from_list(items)); }),
           py::arg("items") = py::list())
      .def_static(
          "load", [](const Path& path) { return ItemStore::load(path.string()); }, py::arg("path"),
          "Reads items.jsonl into memory.")
      .def_static(
          "import_jsonl",
          [](const Path& jsonl, const Path& database, size_t max_line_bytes) {
            py::gil_scoped_release release;
            return ItemStore::import_jsonl(jsonl.string(), database.string(), max_line_bytes);
          },
          py::arg("jsonl"), py::arg("database"), py::kw_only(), py::arg("max_line_bytes") = kDefaultMaxLineBytes,
          "Streams items.jsonl into a new database file (replaced only once the import finished) and opens it.")
      .def_static(
          "open", [](const Path& database) { return ItemStore::open(database.string()); }, py::arg("database"),
          "Opens an item database (from import_jsonl or an index directory's items.sqlite).")
      .def(
          "save",
          [](const ItemStore& self, const Path& path) {
            py::gil_scoped_release release;
            self.save(path.string());
          },
          py::arg("path"), "Writes the items as JSON Lines, atomically.")
      .def(
          "add", [](ItemStore& self, const py::dict& item) { self.add(item_from_dict(item)); }, py::arg("item"))
      .def(
          "update", [](ItemStore& self, const py::dict& item) { self.update(item_from_dict(item)); }, py::arg("item"),
          "Replaces the item with the same id; raises InvalidArgument if absent.")
      .def("remove", &ItemStore::remove, py::arg("id"), "True if the item was there.")
      .def(
          "get",
          [](const ItemStore& self, int64_t id) -> py::object {
            const std::optional<Item> item = self.find(id);
            return item ? py::object(item_to_dict(*item)) : py::object(py::none());
          },
          py::arg("id"), "The item dict, or None.")
      .def(
          "get_many",
          [](const ItemStore& self, const std::vector<int64_t>& ids) {
            py::list out;
            for (const std::optional<Item>& item : self.find_many(ids))
              out.append(item ? py::object(item_to_dict(*item)) : py::object(py::none()));
            return out;
          },
          py::arg("ids"), "get() for each id, reading only those items.")
      .def("title", &ItemStore::title, py::arg("id"), "Raises InvalidArgument for an unknown id.")
      .def_property_readonly("ids", &ItemStore::ids)
      .def_property_readonly("titles", &ItemStore::titles)
      .def_property_readonly("is_database", &ItemStore::is_database)
      .def("items", [](const ItemStore& self) { return items_to_list(self.items()); })
      .def("__len__", &ItemStore::size)
      .def("__contains__", &ItemStore::contains);
}

}  // namespace lrem::python
