// RFC 9162 (RFC 6962) Merkle tree hashing, proof generation and offline proof verification for the
// transparency log: the audit service builds the audit log on it, the disclosure service proves its
// snapshots against that log and pdaoctl verifies offline (Regulation rule 33: "an append-only
// Merkle log with signed checkpoints, inclusion and consistency proofs that anyone can verify
// offline").
//
// Pure code: no I/O, no clock, no globals. SHA-256 comes from OpenSSL. Every function here is
// thread-compatible; the free functions are thread-safe.
//
// Vocabulary (RFC 9162 §2.1):
//   leaf hash    SHA-256(0x00 ‖ entry)
//   node hash    SHA-256(0x01 ‖ left ‖ right)
//   MTH(D[n])    the root ("tree head") of the first n leaves; MTH({}) = SHA-256("")
//   full node    the hash of a complete subtree of 2^level leaves starting at index·2^level. Once
//                written it never changes, which is what makes the log append-only.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace pdao::tlog {

inline constexpr size_t kHashSize = 32;  // SHA-256
using Hash = std::array<uint8_t, kHashSize>;

// ---------------------------------------------------------------------------------------------
// Hashing. These cannot fail; an OpenSSL failure (out of memory) aborts the process with a message.

// SHA-256(0x00 ‖ entry): the hash of one log entry.
Hash LeafHash(absl::string_view entry);
Hash LeafHash(absl::Span<const uint8_t> entry);
// SHA-256(0x01 ‖ left ‖ right): the hash of an interior node.
Hash NodeHash(const Hash& left, const Hash& right);
// SHA-256(""): the root of the empty tree.
Hash EmptyRoot();

// Returns `bytes` as a Hash, or INVALID_ARGUMENT naming `what` when it is not exactly 32 bytes.
absl::StatusOr<Hash> HashFromBytes(absl::string_view bytes, absl::string_view what);
// The 32 raw bytes of `hash` as a string (for protos and base64).
std::string HashToBytes(const Hash& hash);

// ---------------------------------------------------------------------------------------------
// Tree addressing.

// A full subtree: `level` k covers the 2^k leaves [index·2^k, (index+1)·2^k). Level 0 is a leaf.
struct NodeId {
  uint32_t level = 0;
  uint64_t index = 0;

  friend bool operator==(const NodeId&, const NodeId&) = default;
};

// ---------------------------------------------------------------------------------------------
// CompactRange: the right border ("frontier") of a tree, enough to append and to compute the
// current root in O(log n) time and space, without the rest of the tree.
class CompactRange {
 public:
  // Called for every full node an append completes, bottom-up: first the leaf itself (level 0),
  // then each parent the leaf closes. A store that persists exactly these nodes can serve every
  // proof (see NodeSource).
  using NodeVisitor = absl::FunctionRef<void(NodeId id, const Hash& hash)>;

  CompactRange() = default;

  // Rebuilds the range of a tree of `size` leaves from its frontier: the full nodes of the
  // right border, largest first (one per set bit of `size`), as returned by frontier().
  // Fails INVALID_ARGUMENT when the number of hashes is not popcount(size).
  static absl::StatusOr<CompactRange> FromFrontier(uint64_t size, std::vector<Hash> frontier);

  // Appends one leaf hash. Never fails (a 2^64-leaf log is out of reach).
  void Append(const Hash& leaf_hash);
  void Append(const Hash& leaf_hash, NodeVisitor on_full_node);

  uint64_t size() const { return size_; }
  // MTH of the `size()` leaves appended so far; EmptyRoot() when there are none. O(log n).
  Hash Root() const;
  // The full nodes of the right border, largest (leftmost) first.
  const std::vector<Hash>& frontier() const { return frontier_; }

 private:
  uint64_t size_ = 0;
  std::vector<Hash> frontier_;
};

// ---------------------------------------------------------------------------------------------
// NodeSource: read access to the stored full nodes of a tree. The audit service implements it over
// its store; MerkleTree below implements it in memory.
class NodeSource {
 public:
  virtual ~NodeSource() = default;

  // Number of leaves stored. Every full node inside [0, size()) is readable.
  virtual uint64_t size() const = 0;

  // Returns the hashes of `ids`, in the same order. Callers only ask for full nodes inside
  // [0, size()). On failure returns the error (OUT_OF_RANGE for a node that is not stored; store
  // errors pass through) and the proof request that needed it fails with that error.
  virtual absl::StatusOr<std::vector<Hash>> GetNodes(absl::Span<const NodeId> ids) const = 0;
};

// Proof generation over any NodeSource. Each call asks GetNodes once for O(log n) full nodes and
// recomputes nothing else: a partial subtree on the right edge is folded from at most
// log2(n) full nodes.

// MTH(D[size]) (RFC 9162 §2.1.1). OUT_OF_RANGE if size > nodes.size().
absl::StatusOr<Hash> RootAt(const NodeSource& nodes, uint64_t size);

// PATH(index, D[size]) (RFC 9162 §2.1.3.1), lowest level first.
// INVALID_ARGUMENT if index >= size; OUT_OF_RANGE if size > nodes.size().
absl::StatusOr<std::vector<Hash>> InclusionProof(const NodeSource& nodes, uint64_t index,
                                                 uint64_t size);

// PROOF(size1, D[size2]) (RFC 9162 §2.1.4.1), lowest level first; empty when size1 == size2.
// INVALID_ARGUMENT if size1 == 0 (a proof from the empty tree is meaningless) or size1 > size2;
// OUT_OF_RANGE if size2 > nodes.size().
absl::StatusOr<std::vector<Hash>> ConsistencyProof(const NodeSource& nodes, uint64_t size1,
                                                   uint64_t size2);

// ---------------------------------------------------------------------------------------------
// MerkleTree: an in-memory append-only tree that stores every full node (level 0 = leaf hashes,
// level k = nodes over 2^k leaves): about 2 · 32 bytes per leaf. Movable, not copyable.
class MerkleTree : public NodeSource {
 public:
  MerkleTree() = default;
  MerkleTree(const MerkleTree&) = delete;
  MerkleTree& operator=(const MerkleTree&) = delete;
  MerkleTree(MerkleTree&&) = default;
  MerkleTree& operator=(MerkleTree&&) = default;

  // Appends a leaf hash (not an entry: use LeafHash(entry)). Returns the leaf's index.
  uint64_t Append(const Hash& leaf_hash);

  // Root of the current tree. O(log n).
  Hash Root() const { return range_.Root(); }
  // See the free functions of the same name.
  absl::StatusOr<Hash> RootAt(uint64_t size) const;
  absl::StatusOr<std::vector<Hash>> InclusionProof(uint64_t index, uint64_t size) const;
  absl::StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t size1, uint64_t size2) const;

  // Number of full nodes held (memory is about 32 bytes each plus vector slack).
  uint64_t stored_nodes() const;

  // NodeSource
  uint64_t size() const override { return range_.size(); }
  absl::StatusOr<std::vector<Hash>> GetNodes(absl::Span<const NodeId> ids) const override;

 private:
  CompactRange range_;
  std::vector<std::vector<Hash>> levels_;  // levels_[k][i] = full node (k, i)
};

// ---------------------------------------------------------------------------------------------
// Offline verification (RFC 9162 §2.1.3.2 and §2.1.4.2). OK means the proof is valid.
// INVALID_ARGUMENT: the request is malformed whatever the hashes are (index >= size, size1 > size2,
// size1 == 0, a proof of the wrong length, a hash that is not 32 bytes, a non-empty proof for equal
// sizes). FAILED_PRECONDITION: the request is well formed but the hashes do not reproduce the
// given root(s). The message says which check failed.

// Checks that `leaf_hash` is leaf `index` of the tree of `size` leaves whose root is `root`.
absl::Status VerifyInclusion(uint64_t index, uint64_t size, const Hash& leaf_hash,
                             absl::Span<const Hash> proof, const Hash& root);

// Checks that the tree of `size2` leaves with root `root2` extends the tree of `size1` leaves with
// root `root1`. size1 == size2 is accepted only with an empty proof and root1 == root2.
absl::Status VerifyConsistency(uint64_t size1, uint64_t size2, absl::Span<const Hash> proof,
                               const Hash& root1, const Hash& root2);

// The same checks on untrusted raw bytes (e.g. decoded from JSON or a proto): every hash that
// enters a computation must be 32 bytes, otherwise INVALID_ARGUMENT naming it. For size1 == size2
// nothing is computed: the two tree heads must be byte-for-byte identical (as in
// transparency-dev/merkle), whatever their length.
absl::Status VerifyInclusionBytes(uint64_t index, uint64_t size, absl::string_view leaf_hash,
                                  absl::Span<const std::string> proof, absl::string_view root);
absl::Status VerifyConsistencyBytes(uint64_t size1, uint64_t size2,
                                    absl::Span<const std::string> proof, absl::string_view root1,
                                    absl::string_view root2);

}  // namespace pdao::tlog
