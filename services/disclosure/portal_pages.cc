#include "services/disclosure/portal_pages.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace pdao::disclosure {

absl::StatusOr<std::unique_ptr<PortalPages>> PortalPages::Create(const SnapshotSource& source,
                                                                 render::RenderOptions options) {
  if (absl::Status s = render::ValidateRenderOptions(options); !s.ok()) return s;
  return std::unique_ptr<PortalPages>(new PortalPages(source, std::move(options)));
}

int PortalPages::renders() const {
  absl::MutexLock lock(&mu_);
  return renders_;
}

absl::StatusOr<std::shared_ptr<const PortalPages::Rendered>> PortalPages::Current() {
  absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> latest = source_.Latest();
  if (absl::IsNotFound(latest.status())) {
    return absl::UnavailableError(
        "no disclosure snapshot has been published yet (rule 41); try again shortly");
  }
  if (!latest.ok()) return latest.status();
  const int64_t sequence = (*latest)->snapshot.sequence();
  auto cached = [&]() -> std::shared_ptr<const Rendered> {
    absl::MutexLock lock(&mu_);
    if (rendered_ != nullptr && rendered_->sequence == sequence) return rendered_;
    return nullptr;
  };
  if (auto hit = cached()) return hit;
  absl::MutexLock render_lock(&render_mu_);
  if (auto hit = cached()) return hit;  // rendered while this request waited
  // The Atom history: the latest and its predecessors while the source keeps them.
  std::vector<std::shared_ptr<const PublishedSnapshot>> history = {*latest};
  for (int64_t seq = sequence - 1; seq >= 1 && history.size() < render::kMaxFeedEntries; --seq) {
    absl::StatusOr<std::shared_ptr<const PublishedSnapshot>> older = source_.Get(seq);
    if (!older.ok()) break;  // no longer kept (or unreadable): the feed stops there
    history.push_back(*std::move(older));
  }
  absl::StatusOr<std::map<std::string, render::Document>> documents =
      render::RenderPortal(history, options_);
  if (!documents.ok()) {
    return absl::InternalError(
        absl::StrCat("rendering snapshot ", sequence, ": ", documents.status().message()));
  }
  auto rendered = std::make_shared<Rendered>();
  rendered->sequence = sequence;
  rendered->documents = *std::move(documents);
  absl::MutexLock lock(&mu_);
  rendered_ = rendered;
  ++renders_;
  return rendered;
}

absl::StatusOr<PortalPages::Served> PortalPages::Find(const std::string& path) {
  absl::StatusOr<std::shared_ptr<const Rendered>> current = Current();
  if (!current.ok()) return current.status();
  auto it = (*current)->documents.find(path);
  if (it == (*current)->documents.end()) {
    return absl::NotFoundError(absl::StrCat("no such page in snapshot ", (*current)->sequence));
  }
  return Served{.document = &it->second, .hold = *current, .sequence = (*current)->sequence};
}

}  // namespace pdao::disclosure
