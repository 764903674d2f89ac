#include "common/tlog/testing/rfc6962_vectors.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace pdao::tlog::testing {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

absl::Status FieldError(const std::string& file, const char* field, const char* want) {
  return absl::InvalidArgumentError(
      absl::StrCat(file, ": field \"", field, "\" is missing or is not ", want));
}

absl::Status GetUint(const Json& j, const std::string& file, const char* field, uint64_t* out) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_number_unsigned()) {
    return FieldError(file, field, "an unsigned integer");
  }
  *out = it->get<uint64_t>();
  return absl::OkStatus();
}

absl::Status GetString(const Json& j, const std::string& file, const char* field,
                       std::string* out) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_string()) return FieldError(file, field, "a string");
  *out = it->get<std::string>();
  return absl::OkStatus();
}

absl::Status GetBool(const Json& j, const std::string& file, const char* field, bool* out) {
  auto it = j.find(field);
  if (it == j.end() || !it->is_boolean()) return FieldError(file, field, "a boolean");
  *out = it->get<bool>();
  return absl::OkStatus();
}

absl::Status GetProof(const Json& j, const std::string& file, std::vector<std::string>* out) {
  auto it = j.find("proof");
  if (it == j.end()) return FieldError(file, "proof", "an array of strings or null");
  out->clear();
  if (it->is_null()) return absl::OkStatus();
  if (!it->is_array()) return FieldError(file, "proof", "an array of strings or null");
  for (const Json& e : *it) {
    if (!e.is_string()) return FieldError(file, "proof", "an array of strings or null");
    out->push_back(e.get<std::string>());
  }
  return absl::OkStatus();
}

absl::Status ParseInclusion(const Json& j, const std::string& file, InclusionVector* v) {
  v->file = file;
  if (absl::Status s = GetString(j, file, "desc", &v->desc); !s.ok()) return s;
  if (absl::Status s = GetBool(j, file, "wantErr", &v->want_err); !s.ok()) return s;
  if (absl::Status s = GetUint(j, file, "leafIdx", &v->leaf_index); !s.ok()) return s;
  if (absl::Status s = GetUint(j, file, "treeSize", &v->tree_size); !s.ok()) return s;
  if (absl::Status s = GetString(j, file, "leafHash", &v->leaf_hash_b64); !s.ok()) return s;
  if (absl::Status s = GetString(j, file, "root", &v->root_b64); !s.ok()) return s;
  return GetProof(j, file, &v->proof_b64);
}

absl::Status ParseConsistency(const Json& j, const std::string& file, ConsistencyVector* v) {
  v->file = file;
  if (absl::Status s = GetString(j, file, "desc", &v->desc); !s.ok()) return s;
  if (absl::Status s = GetBool(j, file, "wantErr", &v->want_err); !s.ok()) return s;
  if (absl::Status s = GetUint(j, file, "size1", &v->size1); !s.ok()) return s;
  if (absl::Status s = GetUint(j, file, "size2", &v->size2); !s.ok()) return s;
  if (absl::Status s = GetString(j, file, "root1", &v->root1_b64); !s.ok()) return s;
  if (absl::Status s = GetString(j, file, "root2", &v->root2_b64); !s.ok()) return s;
  return GetProof(j, file, &v->proof_b64);
}

}  // namespace

std::string Rfc6962VectorDir() {
  if (const char* env = std::getenv("PDAO_RFC6962_TESTDATA"); env != nullptr && *env != '\0') {
    return env;
  }
  return PDAO_RFC6962_TESTDATA_DEFAULT;
}

absl::StatusOr<Rfc6962Vectors> LoadRfc6962Vectors(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("RFC 6962 vector folder ", dir,
                                            " does not exist (set PDAO_RFC6962_TESTDATA)"));
  }
  std::vector<fs::path> files;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file() && it->path().extension() == ".json") files.push_back(it->path());
  }
  if (ec) return absl::InternalError(absl::StrCat("listing ", dir, ": ", ec.message()));
  std::sort(files.begin(), files.end());

  Rfc6962Vectors out;
  out.dir = dir;
  for (const fs::path& path : files) {
    const std::string rel = fs::relative(path, dir).generic_string();
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) return absl::InternalError(absl::StrCat(rel, ": cannot read"));
    const Json j = Json::parse(text.str(), /*cb=*/nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(rel, ": not a JSON object"));
    }
    const std::string kind = fs::path(rel).begin()->string();
    if (kind == "inclusion") {
      InclusionVector v;
      if (absl::Status s = ParseInclusion(j, rel, &v); !s.ok()) return s;
      out.inclusion.push_back(std::move(v));
    } else if (kind == "consistency") {
      ConsistencyVector v;
      if (absl::Status s = ParseConsistency(j, rel, &v); !s.ok()) return s;
      out.consistency.push_back(std::move(v));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(rel, ": vector outside inclusion/ and consistency/ (unknown kind)"));
    }
  }
  if (out.inclusion.empty() || out.consistency.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(dir, " yields ", out.inclusion.size(),
                                                      " inclusion and ", out.consistency.size(),
                                                      " consistency cases; both must be non-zero"));
  }
  return out;
}

absl::StatusOr<std::string> DecodeVectorBase64(const std::string& b64) {
  std::string out;
  if (!absl::Base64Unescape(b64, &out)) {
    return absl::InvalidArgumentError(absl::StrCat("not base64: \"", b64, "\""));
  }
  return out;
}

}  // namespace pdao::tlog::testing
