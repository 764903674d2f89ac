// Test support: loads the RFC 6962 / RFC 9162 proof vectors (transparency-dev/merkle testdata, see
// tests/testdata/rfc6962/README.md). Test-only; not linked into services.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace pdao::tlog::testing {

// inclusion/**/*.json. Hashes stay base64 exactly as in the file (the CLI test passes them on).
struct InclusionVector {
  std::string file;  // path relative to the vector folder
  std::string desc;
  bool want_err = false;
  uint64_t leaf_index = 0;
  uint64_t tree_size = 0;
  std::string leaf_hash_b64;
  std::string root_b64;
  std::vector<std::string> proof_b64;  // "proof": null is an empty proof
};

// consistency/**/*.json.
struct ConsistencyVector {
  std::string file;
  std::string desc;
  bool want_err = false;
  uint64_t size1 = 0;
  uint64_t size2 = 0;
  std::string root1_b64;
  std::string root2_b64;
  std::vector<std::string> proof_b64;
};

struct Rfc6962Vectors {
  std::string dir;
  std::vector<InclusionVector> inclusion;
  std::vector<ConsistencyVector> consistency;
};

// The folder named by the environment variable PDAO_RFC6962_TESTDATA, else the build's default
// (${PROJECT_SOURCE_DIR}/tests/testdata/rfc6962).
std::string Rfc6962VectorDir();

// Reads every *.json under `dir` (sorted by path). Fails NOT_FOUND when `dir` is not a folder,
// FAILED_PRECONDITION when it yields no inclusion or no consistency case (a test must never pass
// on zero cases), INVALID_ARGUMENT naming the file when a file is not valid JSON, lacks a field,
// has a field of the wrong type, or sits outside inclusion/ and consistency/.
absl::StatusOr<Rfc6962Vectors> LoadRfc6962Vectors(const std::string& dir);

// Standard base64 to bytes (the vectors are well formed; fails INVALID_ARGUMENT otherwise).
absl::StatusOr<std::string> DecodeVectorBase64(const std::string& b64);

}  // namespace pdao::tlog::testing
