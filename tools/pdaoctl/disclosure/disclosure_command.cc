#include "tools/pdaoctl/disclosure/disclosure_command.h"

#include <httplib.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/config/config.h"
#include "common/file/file.h"
#include "tools/pdaoctl/disclosure/verify_snapshot.h"

namespace pdao::ctl {
namespace {

constexpr int kExitValid = 0;
constexpr int kExitInvalid = 1;
constexpr int kExitUsage = 2;

constexpr size_t kMaxSnapshotBytes = size_t{64} << 20;
constexpr size_t kMaxProofBytes = size_t{1} << 20;
constexpr size_t kMaxKeyBytes = 4096;

constexpr char kSnapshotsDir[] = "/snapshots/";

bool IsUrl(absl::string_view s) {
  return absl::StartsWith(s, "http://") || absl::StartsWith(s, "https://");
}

struct Url {
  std::string origin;  // http://host[:port]
  std::string path;    // /...
};

absl::StatusOr<Url> ParseUrl(absl::string_view url) {
  if (absl::StartsWith(url, "https://")) {
    return absl::InvalidArgumentError(absl::StrCat(
        url,
        ": https is not supported by this client; use the portal's plain HTTP port, or "
        "download the files and verify FILE --proof FILE --key FILE"));
  }
  absl::string_view rest = url;
  if (!absl::ConsumePrefix(&rest, "http://")) {
    return absl::InvalidArgumentError(absl::StrCat(url, ": not an http:// URL"));
  }
  const size_t slash = rest.find('/');
  Url out;
  out.origin = absl::StrCat("http://", rest.substr(0, slash));
  out.path = slash == absl::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (out.origin.size() <= 7) return absl::InvalidArgumentError(absl::StrCat(url, ": no host"));
  return out;
}

struct Download {
  int status = 0;
  std::string body;
  std::string location;
};

// GET `url` (no redirects followed), at most `max_bytes` of body.
absl::StatusOr<Download> Get(const std::string& url, size_t max_bytes, absl::Duration timeout) {
  absl::StatusOr<Url> u = ParseUrl(url);
  if (!u.ok()) return u.status();
  httplib::Client client(u->origin);
  const int64_t seconds = absl::ToInt64Seconds(timeout) < 1 ? 1 : absl::ToInt64Seconds(timeout);
  client.set_connection_timeout(seconds, 0);
  client.set_read_timeout(seconds, 0);
  client.set_follow_location(false);
  Download d;
  bool too_big = false;
  httplib::Result r = client.Get(u->path, [&](const char* data, size_t len) {
    if (d.body.size() + len > max_bytes) {
      too_big = true;
      return false;
    }
    d.body.append(data, len);
    return true;
  });
  if (too_big) {
    return absl::ResourceExhaustedError(
        absl::StrCat(url, ": more than ", max_bytes, " bytes (the download bound)"));
  }
  if (!r) {
    return absl::UnavailableError(
        absl::StrCat(url, ": cannot download: ", httplib::to_string(r.error())));
  }
  d.status = r->status;
  d.location = r->get_header_value("Location");
  return d;
}

absl::StatusOr<std::string> GetOk(const std::string& url, size_t max_bytes,
                                  absl::Duration timeout) {
  absl::StatusOr<Download> d = Get(url, max_bytes, timeout);
  if (!d.ok()) return d.status();
  if (d->status != 200) {
    return absl::UnavailableError(
        absl::StrCat(url, ": HTTP ", d->status, ": ", absl::StripSuffix(d->body, "\n")));
  }
  return std::move(d->body);
}

// A file or an http:// URL.
absl::StatusOr<std::string> Read(const std::string& where, size_t max_bytes,
                                 absl::Duration timeout) {
  if (IsUrl(where)) return GetOk(where, max_bytes, timeout);
  absl::StatusOr<std::string> text = file::ReadFile(where);
  if (!text.ok()) return text.status();
  if (text->size() > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat(where, ": more than ", max_bytes, " bytes (the bound)"));
  }
  return text;
}

int Verify(int argc, char** argv) {
  Config config("pdaoctl disclosure verify",
                "Checks a published snapshot against the signed audit log (rule 41).");
  config.Define("proof", "", "",
                "the snapshot's proof (.proof.json), a file or URL; default: next to URL");
  config.Define("key", "", "", "file with the log's note verifier key (pins it out of band)");
  config.Define("key-line", "", "", "the log's note verifier key itself (NAME+HASH+KEY)");
  config.Define("key-url", "", "", "URL of the log's key; default: <portal>/log/key");
  config.Define("timeout", "", "10s", "per download");
  if (absl::Status s = config.Parse(argc, argv); !s.ok()) {
    std::cerr << "pdaoctl disclosure verify: " << s.message() << "\n" << config.Usage();
    return kExitUsage;
  }
  if (config.help_requested()) return kExitValid;
  const std::vector<std::string>& args = config.positional();
  // argv[0] is "verify".
  if (args.size() != 1) {
    std::cerr << "usage: pdaoctl disclosure verify URL|FILE [--proof FILE|URL] "
                 "[--key FILE | --key-line LINE | --key-url URL]\n";
    return kExitUsage;
  }
  absl::StatusOr<absl::Duration> timeout = config.GetDuration("timeout");
  if (!timeout.ok()) {
    std::cerr << "pdaoctl disclosure verify: bad --timeout\n";
    return kExitUsage;
  }
  auto fail = [](const absl::Status& s) {
    std::cerr << "pdaoctl disclosure verify: " << s.message() << "\n";
    return kExitInvalid;
  };
  std::string target = args[0];
  std::string proof_at = config.Get("proof");
  std::string key_url = config.Get("key-url");
  if (IsUrl(target)) {
    absl::StatusOr<Url> u = ParseUrl(target);
    if (!u.ok()) {
      std::cerr << "pdaoctl disclosure verify: " << u.status().message() << "\n";
      return kExitUsage;
    }
    const size_t at = u->path.rfind(kSnapshotsDir);
    if (at == std::string::npos || !absl::EndsWith(u->path, ".json") ||
        absl::EndsWith(u->path, ".proof.json")) {
      std::cerr << "pdaoctl disclosure verify: " << target
                << " is not a portal's /snapshots/<n>.json or /snapshots/latest.json\n";
      return kExitUsage;
    }
    const std::string prefix = u->path.substr(0, at);  // the portal's path prefix, if any
    if (absl::EndsWith(u->path, "/latest.json")) {
      absl::StatusOr<Download> latest = Get(target, kMaxKeyBytes, *timeout);
      if (!latest.ok()) return fail(latest.status());
      if (latest->status != 302 || !absl::StartsWith(latest->location, "/")) {
        return fail(absl::UnavailableError(absl::StrCat(
            target, ": expected a redirect to the newest snapshot, got HTTP ", latest->status)));
      }
      target = absl::StrCat(u->origin, latest->location);
    }
    if (proof_at.empty()) {
      proof_at = absl::StrCat(absl::StripSuffix(target, ".json"), ".proof.json");
    }
    if (key_url.empty()) key_url = absl::StrCat(u->origin, prefix, "/log/key");
  } else if (proof_at.empty()) {
    std::cerr << "pdaoctl disclosure verify: a snapshot FILE needs --proof FILE|URL\n";
    return kExitUsage;
  }
  std::string key_line = config.Get("key-line");
  if (key_line.empty() && !config.Get("key").empty()) {
    absl::StatusOr<std::string> key = Read(config.Get("key"), kMaxKeyBytes, *timeout);
    if (!key.ok()) return fail(key.status());
    key_line = *key;
  }
  if (key_line.empty()) {
    if (key_url.empty()) {
      std::cerr << "pdaoctl disclosure verify: a snapshot FILE needs --key, --key-line or "
                   "--key-url\n";
      return kExitUsage;
    }
    absl::StatusOr<std::string> key = GetOk(key_url, kMaxKeyBytes, *timeout);
    if (!key.ok()) return fail(key.status());
    key_line = *key;
  }
  absl::StatusOr<std::string> snapshot = Read(target, kMaxSnapshotBytes, *timeout);
  if (!snapshot.ok()) return fail(snapshot.status());
  absl::StatusOr<std::string> proof_json = Read(proof_at, kMaxProofBytes, *timeout);
  if (!proof_json.ok()) return fail(proof_json.status());
  absl::StatusOr<pdao::disclosure::v1::SnapshotProof> proof =
      pdaoctl::disclosure::ParseProofJson(*proof_json);
  if (!proof.ok()) return fail(proof.status());

  pdaoctl::disclosure::SnapshotVerification v =
      pdaoctl::disclosure::VerifySnapshot(*snapshot, *proof, key_line);
  for (const std::string& note : v.notes) std::cout << "note: " << note << "\n";
  for (const std::string& problem : v.problems) std::cerr << "INVALID: " << problem << "\n";
  if (!v.ok()) return kExitInvalid;
  std::cout << "OK: snapshot " << proof->sequence() << " (" << target
            << ") is in the audit log at entry " << proof->leaf_index()
            << ", included in the signed checkpoint of tree size " << proof->tree_size() << "\n";
  return kExitValid;
}

}  // namespace

int RunDisclosureCommand(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "verify") return Verify(argc - 1, argv + 1);
  std::cerr << "usage: pdaoctl disclosure verify URL|FILE [--proof FILE|URL] "
               "[--key FILE | --key-line LINE | --key-url URL]\n";
  return kExitUsage;
}

}  // namespace pdao::ctl
