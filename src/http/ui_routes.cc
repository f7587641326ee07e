// GET /ui: the browser console (doc/console.md). Its files are built into
// the binary; every answer carries a Content-Security-Policy that allows
// scripts, styles and requests to this origin only (no inline code, no
// other host), so the page works offline and nothing injected runs.
#include <string>

#include "http/admin_api.h"
#include "http/ui_assets.h"

namespace nexum::http_internal {

namespace {

constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

}  // namespace

HttpResponse handle_ui(std::string_view path) {
  std::string_view name = path.substr(std::string_view("/ui").size());
  if (!name.empty() && name.front() == '/') name.remove_prefix(1);
  if (name.empty()) name = "index.html";
  for (const UiAsset& asset : ui_assets()) {
    if (asset.name != name) continue;
    HttpResponse r;
    r.status = 200;
    r.content_type = std::string(asset.content_type);
    r.body = std::string(asset.body);
    r.headers.emplace_back("Content-Security-Policy", std::string(kContentSecurityPolicy));
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
    r.headers.emplace_back("Cache-Control", "no-cache");
    return r;
  }
  return HttpResponse::error(404, "no console file '" + std::string(name.substr(0, 200)) + "'");
}

}  // namespace nexum::http_internal
