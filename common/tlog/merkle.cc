#include "common/tlog/merkle.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace pdao::tlog {
namespace {

constexpr uint8_t kLeafPrefix = 0x00;
constexpr uint8_t kNodePrefix = 0x01;

[[noreturn]] void DieOnOpenSsl(const char* call) {
  // Only reachable when OpenSSL cannot allocate a digest context: nothing sensible can continue.
  std::fprintf(stderr, "pdao::tlog: OpenSSL %s failed for SHA-256\n", call);
  std::abort();
}

// The SHA-256 implementation, fetched once: with OpenSSL 3, EVP_sha256() in EVP_DigestInit_ex
// makes every digest look the algorithm up again (a provider lookup under a lock), and a fresh
// EVP_MD_CTX per digest is an allocation and a free. The audit log hashes one leaf and about
// one interior node per entry (issue 10: those lookups were most of the hashes' 12 % of the
// ingest path's CPU), so each thread keeps one context and reuses it.
const EVP_MD* FetchedSha256() {
  static EVP_MD* const md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (m == nullptr) DieOnOpenSsl("EVP_MD_fetch");
    return m;
  }();  // never freed: used until the process exits, by any thread
  return md;
}

EVP_MD_CTX* ThreadSha256Ctx() {
  struct Ctx {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Ctx holder;
  if (holder.ctx == nullptr) DieOnOpenSsl("EVP_MD_CTX_new");
  return holder.ctx;
}

// SHA-256 over the concatenation of `parts`.
Hash Sha256(std::initializer_list<absl::Span<const uint8_t>> parts) {
  EVP_MD_CTX* ctx = ThreadSha256Ctx();
  if (EVP_DigestInit_ex(ctx, FetchedSha256(), nullptr) != 1) DieOnOpenSsl("EVP_DigestInit_ex");
  for (absl::Span<const uint8_t> part : parts) {
    if (EVP_DigestUpdate(ctx, part.data(), part.size()) != 1) DieOnOpenSsl("EVP_DigestUpdate");
  }
  Hash out;
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx, out.data(), &len) != 1 || len != kHashSize) {
    DieOnOpenSsl("EVP_DigestFinal_ex");
  }
  return out;
}

std::string Hex(const Hash& hash) {
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(hash.data()), hash.size()));
}

// Length of PATH(index, D[size]) for index < size: the levels below the point where the paths to
// `index` and `size - 1` diverge (inner), plus one left sibling per set bit above it (border).
uint64_t InclusionProofLength(uint64_t index, uint64_t size) {
  const int inner = static_cast<int>(std::bit_width(index ^ (size - 1)));
  const int border = inner < 64 ? std::popcount(index >> inner) : 0;
  const int length = inner + border;
  return static_cast<uint64_t>(length);
}

// Length of PROOF(size1, D[size2]) for 0 < size1 < size2.
uint64_t ConsistencyProofLength(uint64_t size1, uint64_t size2) {
  const uint64_t last1 = size1 - 1;
  const int inner = static_cast<int>(std::bit_width(last1 ^ (size2 - 1)));
  const int border = inner < 64 ? std::popcount(last1 >> inner) : 0;
  const int shift = std::countr_zero(size1);
  // When size1 is a power of two its root is the first node and the verifier already has it.
  const int seed = std::has_single_bit(size1) ? 0 : 1;
  const int length = seed + (inner - shift) + border;
  return static_cast<uint64_t>(length);
}

// Checks on an inclusion request that do not depend on any hash value.
absl::Status CheckInclusionShape(uint64_t index, uint64_t size, size_t proof_len) {
  if (index >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat("leaf index ", index, " is not below tree size ", size,
                     " (RFC 9162 §2.1.3.2 step 1: leaf_index < tree_size)"));
  }
  const uint64_t want = InclusionProofLength(index, size);
  if (proof_len != want) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inclusion proof for leaf ", index, " of a tree of ", size, " leaves has ", proof_len,
        " hashes, want ", want, " (RFC 9162 §2.1.3.1: PATH has one hash per level)"));
  }
  return absl::OkStatus();
}

// Checks on a consistency request that do not depend on any hash value, for size1 != size2 and
// for the size1 == size2 case (where only an empty proof is well formed).
absl::Status CheckConsistencyShape(uint64_t size1, uint64_t size2, size_t proof_len) {
  if (size1 > size2) {
    return absl::InvalidArgumentError(absl::StrCat("size1 ", size1, " is greater than size2 ",
                                                   size2, " (an append-only log never shrinks)"));
  }
  if (size1 == 0) {
    return absl::InvalidArgumentError(
        "size1 is 0: a consistency proof from the empty tree is meaningless (RFC 9162 §2.1.4 "
        "defines proofs for 0 < size1)");
  }
  if (size1 == size2) {
    if (proof_len != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("size1 == size2 == ", size1, " needs an empty proof, got ", proof_len,
                       " hashes (RFC 9162 §2.1.4.1: SUBPROOF(m, D[m], true) = {})"));
    }
    return absl::OkStatus();
  }
  if (proof_len == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("consistency proof from size ", size1, " to ", size2,
                     " is empty (RFC 9162 §2.1.4.2 step 1: an empty consistency_path fails)"));
  }
  const uint64_t want = ConsistencyProofLength(size1, size2);
  if (proof_len != want) {
    return absl::InvalidArgumentError(absl::StrCat("consistency proof from size ", size1, " to ",
                                                   size2, " has ", proof_len, " hashes, want ",
                                                   want, " (RFC 9162 §2.1.4.1)"));
  }
  return absl::OkStatus();
}

absl::Status RootMismatch(absl::string_view what, const Hash& computed, const Hash& want,
                          absl::string_view rule) {
  return absl::FailedPreconditionError(absl::StrCat(what, ": the proof computes ", Hex(computed),
                                                    " but the given root is ", Hex(want), " (",
                                                    rule, ")"));
}

// A list of proof elements, each the right-to-left fold of consecutive full nodes, read from a
// NodeSource in one GetNodes call.
class NodePlan {
 public:
  // Adds MTH(D[begin:end]) as the next element. The ranges produced by the RFC 9162 recursion
  // start at a multiple of bit_ceil(end - begin), so the range splits into one full node per set
  // bit of its length, largest first; MTH is their right-to-left fold. An empty range is
  // the empty tree's root.
  void AddRange(uint64_t begin, uint64_t end) {
    const size_t first = ids_.size();
    uint64_t pos = begin;
    const uint64_t n = end - begin;
    for (int level = static_cast<int>(std::bit_width(n)) - 1; level >= 0; --level) {
      const uint64_t width = uint64_t{1} << level;
      if ((n & width) == 0) continue;
      ids_.push_back(NodeId{static_cast<uint32_t>(level), pos >> level});
      pos += width;
    }
    elements_.emplace_back(first, ids_.size() - first);
  }

  absl::StatusOr<std::vector<Hash>> Resolve(const NodeSource& nodes) const {
    std::vector<Hash> hashes;
    if (!ids_.empty()) {
      absl::StatusOr<std::vector<Hash>> got = nodes.GetNodes(ids_);
      if (!got.ok()) return got.status();
      if (got->size() != ids_.size()) {
        return absl::InternalError(absl::StrCat("NodeSource returned ", got->size(), " hashes for ",
                                                ids_.size(), " node ids"));
      }
      hashes = *std::move(got);
    }
    std::vector<Hash> out;
    out.reserve(elements_.size());
    for (const auto& [first, count] : elements_) {
      if (count == 0) {
        out.push_back(EmptyRoot());
        continue;
      }
      Hash h = hashes[first + count - 1];
      for (size_t j = count - 1; j-- > 0;) h = NodeHash(hashes[first + j], h);
      out.push_back(h);
    }
    return out;
  }

 private:
  std::vector<NodeId> ids_;
  std::vector<std::pair<size_t, size_t>> elements_;  // (first id, count)
};

// Largest power of two strictly below n (n >= 2): the RFC 9162 split point k.
uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

absl::Status CheckSizeAvailable(const NodeSource& nodes, uint64_t size) {
  if (size > nodes.size()) {
    return absl::OutOfRangeError(
        absl::StrCat("tree size ", size, " is beyond the ", nodes.size(), " leaves stored"));
  }
  return absl::OkStatus();
}

}  // namespace

// --- Hashing ----------------------------------------------------------------------------------

Hash LeafHash(absl::Span<const uint8_t> entry) {
  const uint8_t prefix = kLeafPrefix;
  return Sha256({absl::MakeConstSpan(&prefix, 1), entry});
}

Hash LeafHash(absl::string_view entry) {
  return LeafHash(
      absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(entry.data()), entry.size()));
}

Hash NodeHash(const Hash& left, const Hash& right) {
  std::array<uint8_t, 1 + 2 * kHashSize> buf;
  buf[0] = kNodePrefix;
  std::copy(left.begin(), left.end(), buf.begin() + 1);
  std::copy(right.begin(), right.end(), buf.begin() + 1 + kHashSize);
  return Sha256({absl::MakeConstSpan(buf)});
}

Hash EmptyRoot() { return Sha256({}); }

absl::StatusOr<Hash> HashFromBytes(absl::string_view bytes, absl::string_view what) {
  if (bytes.size() != kHashSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " is ", bytes.size(), " bytes; a SHA-256 hash is ", kHashSize, " bytes"));
  }
  Hash h;
  std::copy(bytes.begin(), bytes.end(), h.begin());
  return h;
}

std::string HashToBytes(const Hash& hash) {
  return std::string(reinterpret_cast<const char*>(hash.data()), hash.size());
}

// --- CompactRange -----------------------------------------------------------------------------

absl::StatusOr<CompactRange> CompactRange::FromFrontier(uint64_t size, std::vector<Hash> frontier) {
  const size_t want = static_cast<size_t>(std::popcount(size));
  if (frontier.size() != want) {
    return absl::InvalidArgumentError(absl::StrCat("a tree of ", size, " leaves has ", want,
                                                   " frontier nodes (one per set bit ",
                                                   "of its size), got ", frontier.size()));
  }
  CompactRange range;
  range.size_ = size;
  range.frontier_ = std::move(frontier);
  return range;
}

void CompactRange::Append(const Hash& leaf_hash) {
  Append(leaf_hash, [](NodeId, const Hash&) {});
}

void CompactRange::Append(const Hash& leaf_hash, NodeVisitor on_full_node) {
  uint64_t index = size_;  // index of the new node on the current level
  uint32_t level = 0;
  frontier_.push_back(leaf_hash);
  on_full_node(NodeId{level, index}, leaf_hash);
  // The leaf closes one subtree per trailing 1 bit of its index: merge it with its left sibling.
  while ((index & 1) != 0) {
    const Hash parent = NodeHash(frontier_[frontier_.size() - 2], frontier_.back());
    frontier_.pop_back();
    frontier_.back() = parent;
    index >>= 1;
    ++level;
    on_full_node(NodeId{level, index}, parent);
  }
  ++size_;
}

Hash CompactRange::Root() const {
  if (frontier_.empty()) return EmptyRoot();
  Hash root = frontier_.back();
  for (size_t j = frontier_.size() - 1; j-- > 0;) root = NodeHash(frontier_[j], root);
  return root;
}

// --- Proof generation -------------------------------------------------------------------------

absl::StatusOr<Hash> RootAt(const NodeSource& nodes, uint64_t size) {
  if (absl::Status s = CheckSizeAvailable(nodes, size); !s.ok()) return s;
  NodePlan plan;
  plan.AddRange(0, size);
  absl::StatusOr<std::vector<Hash>> root = plan.Resolve(nodes);
  if (!root.ok()) return root.status();
  return root->front();
}

absl::StatusOr<std::vector<Hash>> InclusionProof(const NodeSource& nodes, uint64_t index,
                                                 uint64_t size) {
  if (index >= size) {
    return absl::InvalidArgumentError(
        absl::StrCat("leaf index ", index, " is not below tree size ", size));
  }
  if (absl::Status s = CheckSizeAvailable(nodes, size); !s.ok()) return s;
  // PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])      if m < k
  //               = PATH(m - k, D[k:n]) : MTH(D[0:k])  if m >= k
  // Walked top-down on the absolute range [begin, end); the plan holds the siblings top-down.
  NodePlan plan;
  uint64_t begin = 0;
  uint64_t end = size;
  while (end - begin > 1) {
    const uint64_t mid = begin + SplitPoint(end - begin);
    if (index < mid) {
      plan.AddRange(mid, end);
      end = mid;
    } else {
      plan.AddRange(begin, mid);
      begin = mid;
    }
  }
  absl::StatusOr<std::vector<Hash>> proof = plan.Resolve(nodes);
  if (!proof.ok()) return proof.status();
  std::reverse(proof->begin(), proof->end());  // RFC order: lowest level first
  return proof;
}

absl::StatusOr<std::vector<Hash>> ConsistencyProof(const NodeSource& nodes, uint64_t size1,
                                                   uint64_t size2) {
  if (size1 > size2) {
    return absl::InvalidArgumentError(absl::StrCat("size1 ", size1, " is greater than size2 ",
                                                   size2, " (an append-only log never shrinks)"));
  }
  if (size1 == 0) {
    return absl::InvalidArgumentError(
        "size1 is 0: a consistency proof from the empty tree is meaningless");
  }
  if (absl::Status s = CheckSizeAvailable(nodes, size2); !s.ok()) return s;
  // SUBPROOF(m, D[m], b)  = {} if b, else {MTH(D[m])}
  // SUBPROOF(m, D[n], b)  = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])          if m <= k
  //                       = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])  if m > k
  NodePlan plan;
  uint64_t begin = 0;
  uint64_t end = size2;
  bool whole_old_tree = true;  // b: D[begin:end] may still be the complete old tree
  while (end != size1) {
    const uint64_t mid = begin + SplitPoint(end - begin);
    if (size1 <= mid) {
      plan.AddRange(mid, end);
      end = mid;
    } else {
      plan.AddRange(begin, mid);
      begin = mid;
      whole_old_tree = false;
    }
  }
  if (!whole_old_tree) plan.AddRange(begin, end);
  absl::StatusOr<std::vector<Hash>> proof = plan.Resolve(nodes);
  if (!proof.ok()) return proof.status();
  std::reverse(proof->begin(), proof->end());  // RFC order: lowest level first
  return proof;
}

// --- MerkleTree -------------------------------------------------------------------------------

uint64_t MerkleTree::Append(const Hash& leaf_hash) {
  range_.Append(leaf_hash, [this](NodeId id, const Hash& hash) {
    if (levels_.size() <= id.level) levels_.resize(id.level + 1);
    levels_[id.level].push_back(hash);  // id.index == levels_[id.level].size() - 1
  });
  return range_.size() - 1;
}

absl::StatusOr<Hash> MerkleTree::RootAt(uint64_t size) const { return tlog::RootAt(*this, size); }

absl::StatusOr<std::vector<Hash>> MerkleTree::InclusionProof(uint64_t index, uint64_t size) const {
  return tlog::InclusionProof(*this, index, size);
}

absl::StatusOr<std::vector<Hash>> MerkleTree::ConsistencyProof(uint64_t size1,
                                                               uint64_t size2) const {
  return tlog::ConsistencyProof(*this, size1, size2);
}

uint64_t MerkleTree::stored_nodes() const {
  uint64_t n = 0;
  for (const std::vector<Hash>& level : levels_) n += level.size();
  return n;
}

absl::StatusOr<std::vector<Hash>> MerkleTree::GetNodes(absl::Span<const NodeId> ids) const {
  std::vector<Hash> out;
  out.reserve(ids.size());
  for (const NodeId& id : ids) {
    if (id.level >= levels_.size() || id.index >= levels_[id.level].size()) {
      return absl::OutOfRangeError(absl::StrCat("node (level ", id.level, ", index ", id.index,
                                                ") is not a full subtree of the tree of ", size(),
                                                " leaves"));
    }
    out.push_back(levels_[id.level][id.index]);
  }
  return out;
}

// --- Verification -----------------------------------------------------------------------------

absl::Status VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf_hash,
                             absl::Span<const Hash> proof, const Hash& root) {
  if (absl::Status s = CheckInclusionShape(index, size, proof.size()); !s.ok()) return s;
  // RFC 9162 §2.1.3.2, steps 2-5.
  uint64_t fn = index;
  uint64_t sn = size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) {
      return absl::InvalidArgumentError(
          "inclusion proof is longer than the path to the root (RFC 9162 §2.1.3.2 step 4a)");
    }
    if ((fn & 1) != 0 || fn == sn) {
      r = NodeHash(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) {
    return absl::InvalidArgumentError(
        "inclusion proof is shorter than the path to the root (RFC 9162 §2.1.3.2 step 5: sn "
        "must end at 0)");
  }
  if (r != root) {
    return RootMismatch(
        absl::StrCat("leaf ", index, " is not proven in the tree of ", size, " leaves"), r, root,
        "RFC 9162 §2.1.3.2 step 5");
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t size1, uint64_t size2, absl::Span<const Hash> proof,
                               const Hash& root1, const Hash& root2) {
  if (absl::Status s = CheckConsistencyShape(size1, size2, proof.size()); !s.ok()) return s;
  if (size1 == size2) {
    if (root1 != root2) {
      return absl::FailedPreconditionError(absl::StrCat(
          "size1 == size2 == ", size1, " but the roots differ: ", Hex(root1), " vs ", Hex(root2),
          " (one tree size has one root; a difference means the log forked)"));
    }
    return absl::OkStatus();
  }
  // RFC 9162 §2.1.4.2. Step 2: if size1 is a power of two, first_hash is the implicit first
  // element of the path.
  const bool prepend_root1 = std::has_single_bit(size1);
  auto path_at = [&](size_t i) -> const Hash& {
    if (prepend_root1) return i == 0 ? root1 : proof[i - 1];
    return proof[i];
  };
  const size_t path_len = proof.size() + (prepend_root1 ? 1 : 0);
  // Steps 3-4.
  uint64_t fn = size1 - 1;
  uint64_t sn = size2 - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  // Step 5.
  Hash fr = path_at(0);
  Hash sr = path_at(0);
  // Step 6.
  for (size_t i = 1; i < path_len; ++i) {
    const Hash& c = path_at(i);
    if (sn == 0) {
      return absl::InvalidArgumentError(
          "consistency proof is longer than the path to the root (RFC 9162 §2.1.4.2 step 6a)");
    }
    if ((fn & 1) != 0 || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  // Step 7.
  if (sn != 0) {
    return absl::InvalidArgumentError(
        "consistency proof is shorter than the path to the root (RFC 9162 §2.1.4.2 step 7: sn "
        "must end at 0)");
  }
  if (fr != root1) {
    return RootMismatch(absl::StrCat("root1 of size ", size1, " is not proven"), fr, root1,
                        "RFC 9162 §2.1.4.2 step 7");
  }
  if (sr != root2) {
    return RootMismatch(
        absl::StrCat("the tree of size ", size2, " is not proven to extend size ", size1), sr,
        root2, "RFC 9162 §2.1.4.2 step 7");
  }
  return absl::OkStatus();
}

absl::Status VerifyInclusionBytes(uint64_t index, uint64_t size, absl::string_view leaf_hash,
                                  absl::Span<const std::string> proof, absl::string_view root) {
  if (absl::Status s = CheckInclusionShape(index, size, proof.size()); !s.ok()) return s;
  absl::StatusOr<Hash> leaf = HashFromBytes(leaf_hash, "leaf hash");
  if (!leaf.ok()) return leaf.status();
  std::vector<Hash> path;
  path.reserve(proof.size());
  for (size_t i = 0; i < proof.size(); ++i) {
    absl::StatusOr<Hash> h = HashFromBytes(proof[i], absl::StrCat("proof[", i, "]"));
    if (!h.ok()) return h.status();
    path.push_back(*h);
  }
  absl::StatusOr<Hash> want_root = HashFromBytes(root, "root");
  if (!want_root.ok()) return want_root.status();
  return VerifyInclusion(index, size, *leaf, path, *want_root);
}

absl::Status VerifyConsistencyBytes(uint64_t size1, uint64_t size2,
                                    absl::Span<const std::string> proof, absl::string_view root1,
                                    absl::string_view root2) {
  if (absl::Status s = CheckConsistencyShape(size1, size2, proof.size()); !s.ok()) return s;
  if (size1 == size2) {
    if (root1 != root2) {
      return absl::FailedPreconditionError(
          absl::StrCat("size1 == size2 == ", size1,
                       " but the roots differ (one tree size has one root; a difference means the "
                       "log forked)"));
    }
    return absl::OkStatus();
  }
  std::vector<Hash> path;
  path.reserve(proof.size());
  for (size_t i = 0; i < proof.size(); ++i) {
    absl::StatusOr<Hash> h = HashFromBytes(proof[i], absl::StrCat("proof[", i, "]"));
    if (!h.ok()) return h.status();
    path.push_back(*h);
  }
  absl::StatusOr<Hash> r1 = HashFromBytes(root1, "root1");
  if (!r1.ok()) return r1.status();
  absl::StatusOr<Hash> r2 = HashFromBytes(root2, "root2");
  if (!r2.ok()) return r2.status();
  return VerifyConsistency(size1, size2, path, *r1, *r2);
}

}  // namespace pdao::tlog
