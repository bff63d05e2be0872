// GET /: one self-contained HTML page (no external assets, no build step) that searches through
// POST /search and shows each query's mode, chain of thought and scored hits. Its source is
// src/serve/search_page.html; CMake compiles it in as this string.
#pragma once

namespace lrem {

const char* search_page_html();

}  // namespace lrem
