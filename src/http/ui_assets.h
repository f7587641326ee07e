// The browser console's files (src/http/ui), built into the binary by
// src/http/ui/embed_assets.py: `nexum serve` needs nothing else on disk.
#pragma once

#include <string_view>
#include <vector>

namespace nexum::http_internal {

struct UiAsset {
  std::string_view name;          // "index.html", "console.js", ...
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view body;
};

const std::vector<UiAsset>& ui_assets();

}  // namespace nexum::http_internal
