#include "common/tlog/merkle.h"

#include <bit>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/tlog/testing/rfc6962_vectors.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao::tlog {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

Hash FromHex(absl::string_view hex) {
  const std::string bytes = absl::HexStringToBytes(hex);
  absl::StatusOr<Hash> h = HashFromBytes(bytes, "hex");
  EXPECT_TRUE(h.ok()) << hex;
  return h.ok() ? *h : Hash{};
}

std::string ToHex(const Hash& h) { return absl::BytesToHexString(HashToBytes(h)); }

// The eight leaves of the RFC 6962 reference tree used by transparency-dev/merkle and CT.
std::vector<std::string> ReferenceLeaves() {
  return {"",
          absl::HexStringToBytes("00"),
          absl::HexStringToBytes("10"),
          absl::HexStringToBytes("2021"),
          absl::HexStringToBytes("3031"),
          absl::HexStringToBytes("40414243"),
          absl::HexStringToBytes("5051525354555657"),
          absl::HexStringToBytes("606162636465666768696a6b6c6d6e6f")};
}

std::vector<Hash> RandomLeafHashes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Hash> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(LeafHash(absl::StrCat("entry-", i, "-", rng())));
  return out;
}

MerkleTree TreeOf(const std::vector<Hash>& leaves) {
  MerkleTree tree;
  for (const Hash& h : leaves) tree.Append(h);
  return tree;
}

// --- Naive RFC 9162 definitions, computed from the leaves every time ---------------------------

uint64_t Split(uint64_t n) { return std::bit_floor(n - 1); }

Hash NaiveMth(const std::vector<Hash>& leaves, uint64_t begin, uint64_t end) {
  const uint64_t n = end - begin;
  if (n == 0) return EmptyRoot();
  if (n == 1) return leaves[begin];
  const uint64_t k = Split(n);
  return NodeHash(NaiveMth(leaves, begin, begin + k), NaiveMth(leaves, begin + k, end));
}

std::vector<Hash> NaivePath(const std::vector<Hash>& leaves, uint64_t m, uint64_t begin,
                            uint64_t end) {
  const uint64_t n = end - begin;
  if (n == 1) return {};
  const uint64_t k = Split(n);
  std::vector<Hash> out;
  if (m < k) {
    out = NaivePath(leaves, m, begin, begin + k);
    out.push_back(NaiveMth(leaves, begin + k, end));
  } else {
    out = NaivePath(leaves, m - k, begin + k, end);
    out.push_back(NaiveMth(leaves, begin, begin + k));
  }
  return out;
}

std::vector<Hash> NaiveSubproof(const std::vector<Hash>& leaves, uint64_t m, uint64_t begin,
                                uint64_t end, bool b) {
  const uint64_t n = end - begin;
  if (m == n) {
    if (b) return {};
    return {NaiveMth(leaves, begin, end)};
  }
  const uint64_t k = Split(n);
  std::vector<Hash> out;
  if (m <= k) {
    out = NaiveSubproof(leaves, m, begin, begin + k, b);
    out.push_back(NaiveMth(leaves, begin + k, end));
  } else {
    out = NaiveSubproof(leaves, m - k, begin + k, end, false);
    out.push_back(NaiveMth(leaves, begin, begin + k));
  }
  return out;
}

// --- Hashing ----------------------------------------------------------------------------------

TEST(MerkleHashTest, KnownAnswers) {
  // SHA-256("") and the RFC 6962 leaf hash of the empty entry.
  EXPECT_EQ(ToHex(EmptyRoot()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(ToHex(LeafHash("")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  const std::string entry = "x";
  EXPECT_EQ(LeafHash(entry),
            LeafHash(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(entry.data()), 1)));
  EXPECT_NE(LeafHash("ab"), LeafHash("ba"));
}

TEST(MerkleHashTest, DomainSeparationBetweenLeavesAndNodes) {
  const Hash a = LeafHash("a");
  const Hash b = LeafHash("b");
  // A node over (a, b) is not the leaf hash of the 64 bytes a‖b (second-preimage defence).
  EXPECT_NE(NodeHash(a, b), LeafHash(HashToBytes(a) + HashToBytes(b)));
  EXPECT_NE(NodeHash(a, b), NodeHash(b, a));
}

TEST(MerkleHashTest, HashFromBytesRejectsWrongLength) {
  EXPECT_TRUE(HashFromBytes(std::string(32, 'x'), "root").ok());
  absl::StatusOr<Hash> short_hash = HashFromBytes("don't care 1", "root1");
  ASSERT_FALSE(short_hash.ok());
  EXPECT_EQ(short_hash.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(short_hash.status().message(), HasSubstr("root1 is 12 bytes"));
  EXPECT_FALSE(HashFromBytes(std::string(33, 'x'), "root").ok());
  EXPECT_FALSE(HashFromBytes("", "root").ok());
}

TEST(MerkleTreeTest, ReferenceTreeRoots) {
  // Roots of the RFC 6962 reference tree for sizes 1..8 (CT / transparency-dev test data).
  const std::vector<std::string> want = {
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
      "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
      "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
      "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
      "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
      "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"};
  MerkleTree tree;
  EXPECT_EQ(tree.Root(), EmptyRoot());
  for (const std::string& leaf : ReferenceLeaves()) tree.Append(LeafHash(leaf));
  for (uint64_t size = 1; size <= 8; ++size) {
    absl::StatusOr<Hash> root = tree.RootAt(size);
    ASSERT_TRUE(root.ok()) << root.status();
    EXPECT_EQ(ToHex(*root), want[size - 1]) << "size " << size;
  }
  EXPECT_EQ(tree.Root(), FromHex(want[7]));
}

// --- RFC 6962 vectors -------------------------------------------------------------------------

class VectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<testing::Rfc6962Vectors> v =
        testing::LoadRfc6962Vectors(testing::Rfc6962VectorDir());
    // Fail, never skip: a missing or empty vector folder must not pass silently.
    ASSERT_TRUE(v.ok()) << v.status();
    vectors_ = *std::move(v);
  }

  static std::string Decode(const std::string& b64) {
    absl::StatusOr<std::string> bytes = testing::DecodeVectorBase64(b64);
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    return bytes.ok() ? *bytes : std::string();
  }
  static std::vector<std::string> DecodeAll(const std::vector<std::string>& b64s) {
    std::vector<std::string> out;
    for (const std::string& b : b64s) out.push_back(Decode(b));
    return out;
  }
  // The typed API sees only well-formed inputs; returns false if any hash is not 32 bytes.
  static bool AllHashes(const std::vector<std::string>& bytes, std::vector<Hash>* out) {
    for (const std::string& b : bytes) {
      absl::StatusOr<Hash> h = HashFromBytes(b, "h");
      if (!h.ok()) return false;
      out->push_back(*h);
    }
    return true;
  }

  testing::Rfc6962Vectors vectors_;
};

TEST_F(VectorTest, InclusionVectors) {
  int accepted = 0;
  int rejected = 0;
  for (const testing::InclusionVector& v : vectors_.inclusion) {
    SCOPED_TRACE(absl::StrCat(v.file, " (", v.desc, ")"));
    const std::string leaf = Decode(v.leaf_hash_b64);
    const std::string root = Decode(v.root_b64);
    const std::vector<std::string> proof = DecodeAll(v.proof_b64);
    const absl::Status s = VerifyInclusionBytes(v.leaf_index, v.tree_size, leaf, proof, root);
    if (v.want_err) {
      EXPECT_FALSE(s.ok()) << "accepted a proof the vector says is invalid";
      ++rejected;
    } else {
      EXPECT_TRUE(s.ok()) << s;
      ++accepted;
    }
    // The typed API agrees wherever every hash is 32 bytes.
    std::vector<Hash> typed;
    if (AllHashes({leaf, root}, &typed) && AllHashes(proof, &typed)) {
      const std::vector<Hash> path(typed.begin() + 2, typed.end());
      EXPECT_EQ(VerifyInclusion(v.leaf_index, v.tree_size, typed[0], path, typed[1]).ok(),
                !v.want_err);
    }
  }
  EXPECT_GT(accepted, 0);
  EXPECT_GT(rejected, 0);
  std::cout << "inclusion vectors: " << accepted << " accepted, " << rejected << " rejected\n";
}

TEST_F(VectorTest, ConsistencyVectors) {
  int accepted = 0;
  int rejected = 0;
  for (const testing::ConsistencyVector& v : vectors_.consistency) {
    SCOPED_TRACE(absl::StrCat(v.file, " (", v.desc, ")"));
    const std::string root1 = Decode(v.root1_b64);
    const std::string root2 = Decode(v.root2_b64);
    const std::vector<std::string> proof = DecodeAll(v.proof_b64);
    const absl::Status s = VerifyConsistencyBytes(v.size1, v.size2, proof, root1, root2);
    if (v.want_err) {
      EXPECT_FALSE(s.ok()) << "accepted a proof the vector says is invalid";
      ++rejected;
    } else {
      EXPECT_TRUE(s.ok()) << s;
      ++accepted;
    }
    std::vector<Hash> typed;
    if (AllHashes({root1, root2}, &typed) && AllHashes(proof, &typed)) {
      const std::vector<Hash> path(typed.begin() + 2, typed.end());
      EXPECT_EQ(VerifyConsistency(v.size1, v.size2, path, typed[0], typed[1]).ok(), !v.want_err);
    }
  }
  EXPECT_GT(accepted, 0);
  EXPECT_GT(rejected, 0);
  std::cout << "consistency vectors: " << accepted << " accepted, " << rejected << " rejected\n";
}

// Every accepted vector on the reference tree is also what our generator produces.
TEST_F(VectorTest, GeneratorReproducesReferenceProofs) {
  MerkleTree tree;
  for (const std::string& leaf : ReferenceLeaves()) tree.Append(LeafHash(leaf));
  int compared = 0;
  for (const testing::InclusionVector& v : vectors_.inclusion) {
    if (v.want_err || v.tree_size == 0 || v.tree_size > tree.size()) continue;
    absl::StatusOr<Hash> root = tree.RootAt(v.tree_size);
    ASSERT_TRUE(root.ok());
    if (HashToBytes(*root) != Decode(v.root_b64)) continue;  // not a reference-tree vector
    SCOPED_TRACE(v.file);
    EXPECT_EQ(HashToBytes(LeafHash(ReferenceLeaves()[v.leaf_index])), Decode(v.leaf_hash_b64));
    absl::StatusOr<std::vector<Hash>> proof = tree.InclusionProof(v.leaf_index, v.tree_size);
    ASSERT_TRUE(proof.ok()) << proof.status();
    std::vector<std::string> got;
    for (const Hash& h : *proof) got.push_back(HashToBytes(h));
    EXPECT_EQ(got, DecodeAll(v.proof_b64));
    ++compared;
  }
  for (const testing::ConsistencyVector& v : vectors_.consistency) {
    if (v.want_err || v.size1 == 0 || v.size2 > tree.size()) continue;
    absl::StatusOr<Hash> root1 = tree.RootAt(v.size1);
    absl::StatusOr<Hash> root2 = tree.RootAt(v.size2);
    ASSERT_TRUE(root1.ok() && root2.ok());
    if (HashToBytes(*root1) != Decode(v.root1_b64) || HashToBytes(*root2) != Decode(v.root2_b64)) {
      continue;
    }
    SCOPED_TRACE(v.file);
    absl::StatusOr<std::vector<Hash>> proof = tree.ConsistencyProof(v.size1, v.size2);
    ASSERT_TRUE(proof.ok()) << proof.status();
    std::vector<std::string> got;
    for (const Hash& h : *proof) got.push_back(HashToBytes(h));
    EXPECT_EQ(got, DecodeAll(v.proof_b64));
    ++compared;
  }
  EXPECT_GE(compared, 10);  // 5 inclusion + 5 consistency happy paths in the shipped vectors
}

// --- Generation against the naive definitions -------------------------------------------------

TEST(MerklePropertyTest, RootAtMatchesNaiveMthAndCompactRange) {
  const std::vector<Hash> leaves = RandomLeafHashes(1100, 1);
  MerkleTree tree;
  CompactRange range;
  for (uint64_t size = 0; size <= leaves.size(); ++size) {
    const Hash naive = NaiveMth(leaves, 0, size);
    ASSERT_EQ(range.Root(), naive) << "compact range at size " << size;
    ASSERT_EQ(tree.Root(), naive) << "tree at size " << size;
    if (size < leaves.size()) {
      range.Append(leaves[size]);
      EXPECT_EQ(tree.Append(leaves[size]), size);
    }
  }
  for (uint64_t size = 0; size <= leaves.size(); ++size) {
    absl::StatusOr<Hash> root = tree.RootAt(size);
    ASSERT_TRUE(root.ok()) << root.status();
    ASSERT_EQ(*root, NaiveMth(leaves, 0, size)) << "RootAt(" << size << ")";
  }
  // About two nodes per leaf: 2n - popcount(n).
  EXPECT_EQ(tree.stored_nodes(), 2 * leaves.size() - std::popcount(leaves.size()));
}

TEST(MerklePropertyTest, ProofsMatchNaiveRfcDefinitions) {
  const std::vector<Hash> leaves = RandomLeafHashes(70, 2);
  const MerkleTree tree = TreeOf(leaves);
  for (uint64_t size = 1; size <= leaves.size(); ++size) {
    for (uint64_t index = 0; index < size; ++index) {
      absl::StatusOr<std::vector<Hash>> proof = tree.InclusionProof(index, size);
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_EQ(*proof, NaivePath(leaves, index, 0, size)) << index << "/" << size;
    }
    for (uint64_t size1 = 1; size1 <= size; ++size1) {
      absl::StatusOr<std::vector<Hash>> proof = tree.ConsistencyProof(size1, size);
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_EQ(*proof, NaiveSubproof(leaves, size1, 0, size, true)) << size1 << "->" << size;
    }
  }
}

// --- Generated proofs verify ------------------------------------------------------------------

void CheckAllProofsAtSize(const MerkleTree& tree, const std::vector<Hash>& leaves, uint64_t size) {
  absl::StatusOr<Hash> root = tree.RootAt(size);
  ASSERT_TRUE(root.ok()) << root.status();
  for (uint64_t index = 0; index < size; ++index) {
    absl::StatusOr<std::vector<Hash>> proof = tree.InclusionProof(index, size);
    ASSERT_TRUE(proof.ok()) << proof.status();
    const absl::Status s = VerifyInclusion(index, size, leaves[index], *proof, *root);
    ASSERT_TRUE(s.ok()) << "leaf " << index << " size " << size << ": " << s;
  }
  for (uint64_t size1 = 1; size1 <= size; ++size1) {
    absl::StatusOr<Hash> root1 = tree.RootAt(size1);
    ASSERT_TRUE(root1.ok());
    absl::StatusOr<std::vector<Hash>> proof = tree.ConsistencyProof(size1, size);
    ASSERT_TRUE(proof.ok()) << proof.status();
    const absl::Status s = VerifyConsistency(size1, size, *proof, *root1, *root);
    ASSERT_TRUE(s.ok()) << size1 << " -> " << size << ": " << s;
  }
}

TEST(MerklePropertyTest, EveryProofVerifiesForAllSmallSizes) {
  const std::vector<Hash> leaves = RandomLeafHashes(130, 3);
  const MerkleTree tree = TreeOf(leaves);
  for (uint64_t size = 1; size <= leaves.size(); ++size) {
    CheckAllProofsAtSize(tree, leaves, size);
    if (HasFatalFailure()) return;
  }
}

TEST(MerklePropertyTest, EveryProofVerifiesForRandomSizesUpTo2048) {
  const uint64_t seed = 20250601;
  std::mt19937_64 rng(seed);
  const std::vector<Hash> leaves = RandomLeafHashes(2048, seed);
  const MerkleTree tree = TreeOf(leaves);
  std::vector<uint64_t> sizes = {1023, 1024, 1025, 2047, 2048};
  std::uniform_int_distribution<uint64_t> pick(1, leaves.size());
  for (int i = 0; i < 15; ++i) sizes.push_back(pick(rng));
  for (uint64_t size : sizes) {
    SCOPED_TRACE(absl::StrCat("seed ", seed, " size ", size));
    CheckAllProofsAtSize(tree, leaves, size);
    if (HasFatalFailure()) return;
  }
}

// --- Tampering fails --------------------------------------------------------------------------

Hash FlipBit(Hash h, size_t bit) {
  h[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  return h;
}

TEST(MerklePropertyTest, FlippingAnyBitBreaksInclusion) {
  const std::vector<Hash> leaves = RandomLeafHashes(2000, 4);
  const MerkleTree tree = TreeOf(leaves);
  std::mt19937_64 rng(4);
  std::vector<std::pair<uint64_t, uint64_t>> cases = {{0, 1}, {0, 2}, {1, 2}, {6, 7}, {1999, 2000}};
  for (int i = 0; i < 12; ++i) {
    const uint64_t size = std::uniform_int_distribution<uint64_t>(1, 2000)(rng);
    cases.emplace_back(std::uniform_int_distribution<uint64_t>(0, size - 1)(rng), size);
  }
  for (const auto& [index, size] : cases) {
    SCOPED_TRACE(absl::StrCat("leaf ", index, " size ", size));
    const Hash root = *tree.RootAt(size);
    const std::vector<Hash> proof = *tree.InclusionProof(index, size);
    ASSERT_TRUE(VerifyInclusion(index, size, leaves[index], proof, root).ok());
    for (size_t bit = 0; bit < 8 * kHashSize; ++bit) {
      EXPECT_EQ(VerifyInclusion(index, size, FlipBit(leaves[index], bit), proof, root).code(),
                absl::StatusCode::kFailedPrecondition);
      EXPECT_EQ(VerifyInclusion(index, size, leaves[index], proof, FlipBit(root, bit)).code(),
                absl::StatusCode::kFailedPrecondition);
      for (size_t i = 0; i < proof.size(); ++i) {
        std::vector<Hash> bad = proof;
        bad[i] = FlipBit(bad[i], bit);
        ASSERT_EQ(VerifyInclusion(index, size, leaves[index], bad, root).code(),
                  absl::StatusCode::kFailedPrecondition)
            << "proof[" << i << "] bit " << bit;
      }
    }
  }
}

TEST(MerklePropertyTest, FlippingAnyBitBreaksConsistency) {
  const std::vector<Hash> leaves = RandomLeafHashes(2000, 5);
  const MerkleTree tree = TreeOf(leaves);
  std::mt19937_64 rng(5);
  std::vector<std::pair<uint64_t, uint64_t>> cases = {
      {1, 2}, {4, 8}, {6, 8}, {1024, 2000}, {1999, 2000}};
  for (int i = 0; i < 12; ++i) {
    const uint64_t size2 = std::uniform_int_distribution<uint64_t>(2, 2000)(rng);
    cases.emplace_back(std::uniform_int_distribution<uint64_t>(1, size2 - 1)(rng), size2);
  }
  for (const auto& [size1, size2] : cases) {
    SCOPED_TRACE(absl::StrCat(size1, " -> ", size2));
    const Hash root1 = *tree.RootAt(size1);
    const Hash root2 = *tree.RootAt(size2);
    const std::vector<Hash> proof = *tree.ConsistencyProof(size1, size2);
    ASSERT_TRUE(VerifyConsistency(size1, size2, proof, root1, root2).ok());
    for (size_t bit = 0; bit < 8 * kHashSize; ++bit) {
      EXPECT_EQ(VerifyConsistency(size1, size2, proof, FlipBit(root1, bit), root2).code(),
                absl::StatusCode::kFailedPrecondition);
      EXPECT_EQ(VerifyConsistency(size1, size2, proof, root1, FlipBit(root2, bit)).code(),
                absl::StatusCode::kFailedPrecondition);
      for (size_t i = 0; i < proof.size(); ++i) {
        std::vector<Hash> bad = proof;
        bad[i] = FlipBit(bad[i], bit);
        ASSERT_EQ(VerifyConsistency(size1, size2, bad, root1, root2).code(),
                  absl::StatusCode::kFailedPrecondition)
            << "proof[" << i << "] bit " << bit;
      }
    }
  }
}

TEST(MerklePropertyTest, ProofForOneLeafDoesNotProveAnother) {
  const std::vector<Hash> leaves = RandomLeafHashes(40, 6);
  const MerkleTree tree = TreeOf(leaves);
  for (uint64_t size = 2; size <= leaves.size(); ++size) {
    const Hash root = *tree.RootAt(size);
    for (uint64_t index = 0; index < size; ++index) {
      const std::vector<Hash> proof = *tree.InclusionProof(index, size);
      for (uint64_t other = 0; other < size; ++other) {
        if (other == index) continue;
        ASSERT_FALSE(VerifyInclusion(other, size, leaves[index], proof, root).ok())
            << "proof of " << index << " accepted at index " << other << " size " << size;
        ASSERT_FALSE(VerifyInclusion(index, size, leaves[other], proof, root).ok());
      }
    }
  }
}

TEST(MerklePropertyTest, ProofShapeMutationsAreInvalidArgument) {
  const std::vector<Hash> leaves = RandomLeafHashes(300, 7);
  const MerkleTree tree = TreeOf(leaves);
  const Hash garbage = LeafHash("garbage");
  for (uint64_t size : {3u, 8u, 77u, 256u, 300u}) {
    const Hash root = *tree.RootAt(size);
    for (uint64_t index : {uint64_t{0}, size / 2, size - 1}) {
      std::vector<Hash> proof = *tree.InclusionProof(index, size);
      std::vector<Hash> longer = proof;
      longer.push_back(garbage);
      EXPECT_EQ(VerifyInclusion(index, size, leaves[index], longer, root).code(),
                absl::StatusCode::kInvalidArgument);
      longer.insert(longer.begin(), garbage);
      longer.pop_back();
      EXPECT_EQ(VerifyInclusion(index, size, leaves[index], longer, root).code(),
                absl::StatusCode::kInvalidArgument);
      if (!proof.empty()) {
        proof.pop_back();
        EXPECT_EQ(VerifyInclusion(index, size, leaves[index], proof, root).code(),
                  absl::StatusCode::kInvalidArgument);
      }
    }
    for (uint64_t size1 : {uint64_t{1}, uint64_t{2}, size / 2 + 1, size - 1}) {
      const Hash root1 = *tree.RootAt(size1);
      std::vector<Hash> proof = *tree.ConsistencyProof(size1, size);
      std::vector<Hash> longer = proof;
      longer.push_back(garbage);
      EXPECT_EQ(VerifyConsistency(size1, size, longer, root1, root).code(),
                absl::StatusCode::kInvalidArgument);
      proof.pop_back();
      EXPECT_EQ(VerifyConsistency(size1, size, proof, root1, root).code(),
                absl::StatusCode::kInvalidArgument);
    }
  }
}

// --- Edge checks ------------------------------------------------------------------------------

TEST(MerkleVerifyTest, InclusionEdgeCases) {
  const Hash leaf = LeafHash("a");
  EXPECT_EQ(VerifyInclusion(0, 1, leaf, {}, leaf).code(), absl::StatusCode::kOk);
  absl::Status s = VerifyInclusion(0, 0, leaf, {}, EmptyRoot());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("not below tree size"));
  EXPECT_EQ(VerifyInclusion(1, 1, leaf, {}, leaf).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyInclusion(UINT64_MAX, UINT64_MAX, leaf, {}, leaf).code(),
            absl::StatusCode::kInvalidArgument);
  s = VerifyInclusion(0, 1, leaf, {leaf}, leaf);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("has 1 hashes, want 0"));
  EXPECT_EQ(VerifyInclusion(0, 1, leaf, {}, LeafHash("b")).code(),
            absl::StatusCode::kFailedPrecondition);
  // The largest possible tree: the path has 64 levels; the shape check must not overflow.
  EXPECT_EQ(VerifyInclusion(0, UINT64_MAX, leaf, {}, leaf).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MerkleVerifyTest, InclusionBytesChecksEveryLength) {
  const std::string leaf = HashToBytes(LeafHash("a"));
  const std::string other = HashToBytes(LeafHash("b"));
  const std::string root = HashToBytes(NodeHash(LeafHash("a"), LeafHash("b")));
  EXPECT_TRUE(VerifyInclusionBytes(0, 2, leaf, {other}, root).ok());
  absl::Status s = VerifyInclusionBytes(0, 2, leaf.substr(1), {other}, root);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("leaf hash is 31 bytes"));
  s = VerifyInclusionBytes(0, 2, leaf, {""}, root);
  EXPECT_THAT(s.message(), HasSubstr("proof[0] is 0 bytes"));
  s = VerifyInclusionBytes(0, 2, leaf, {other}, root + "x");
  EXPECT_THAT(s.message(), HasSubstr("root is 33 bytes"));
}

TEST(MerkleVerifyTest, ConsistencyEdgeCases) {
  const Hash a = LeafHash("a");
  const Hash b = LeafHash("b");
  absl::Status s = VerifyConsistency(2, 1, {}, a, b);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("greater than size2"));
  s = VerifyConsistency(0, 0, {}, EmptyRoot(), EmptyRoot());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("empty tree is meaningless"));
  EXPECT_EQ(VerifyConsistency(0, 5, {a}, EmptyRoot(), b).code(),
            absl::StatusCode::kInvalidArgument);
  s = VerifyConsistency(3, 3, {a}, a, a);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("needs an empty proof"));
  EXPECT_EQ(VerifyConsistency(3, 3, {}, a, b).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(VerifyConsistency(3, 3, {}, a, a).ok());
  s = VerifyConsistency(1, 2, {}, a, b);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("is empty"));
  EXPECT_TRUE(VerifyConsistency(1, 2, {b}, a, NodeHash(a, b)).ok());
  EXPECT_EQ(VerifyConsistency(1, 2, {b}, a, NodeHash(b, a)).code(),
            absl::StatusCode::kFailedPrecondition);
  // Bytes form: equal sizes compare the heads byte for byte, unequal sizes need 32-byte hashes.
  EXPECT_TRUE(VerifyConsistencyBytes(1, 1, {}, "don't care 2", "don't care 2").ok());
  EXPECT_FALSE(VerifyConsistencyBytes(1, 1, {}, "don't care 1", "don't care 2").ok());
  s = VerifyConsistencyBytes(1, 2, {HashToBytes(b)}, "short", HashToBytes(NodeHash(a, b)));
  EXPECT_THAT(s.message(), HasSubstr("root1 is 5 bytes"));
}

// --- Generation errors and NodeSource contract ------------------------------------------------

TEST(MerkleTreeTest, GenerationRejectsBadRequests) {
  const MerkleTree tree = TreeOf(RandomLeafHashes(10, 8));
  EXPECT_EQ(tree.InclusionProof(10, 10).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tree.InclusionProof(0, 11).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(tree.ConsistencyProof(0, 5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tree.ConsistencyProof(6, 5).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(tree.ConsistencyProof(5, 11).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(tree.RootAt(11).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(*tree.RootAt(0), EmptyRoot());
  EXPECT_THAT(*tree.ConsistencyProof(7, 7), SizeIs(0));
  EXPECT_EQ(tree.GetNodes({NodeId{1, 5}}).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(tree.GetNodes({NodeId{4, 0}}).status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(tree.GetNodes({NodeId{3, 0}, NodeId{1, 4}, NodeId{0, 9}}).ok());
}

// A synthetic source over a huge tree: checks that every node asked for is a full node inside the
// tree and counts the reads. Node hashes are arbitrary (only the access pattern is under test).
class CountingSource : public NodeSource {
 public:
  explicit CountingSource(uint64_t size) : size_(size) {}
  uint64_t size() const override { return size_; }
  absl::StatusOr<std::vector<Hash>> GetNodes(absl::Span<const NodeId> ids) const override {
    ++calls_;
    reads_ += ids.size();
    std::vector<Hash> out;
    for (const NodeId& id : ids) {
      if (id.level >= 64 || id.index >= (size_ >> id.level)) {
        return absl::OutOfRangeError(absl::StrCat("not a full node: ", id.level, "/", id.index));
      }
      out.push_back(LeafHash(absl::StrCat(id.level, "/", id.index)));
    }
    return out;
  }
  mutable int calls_ = 0;
  mutable uint64_t reads_ = 0;

 private:
  uint64_t size_;
};

TEST(MerkleTreeTest, ProofsReadLogarithmicallyManyStoredNodesInOneBatch) {
  const uint64_t size = (uint64_t{1} << 40) + 12345;
  std::mt19937_64 rng(9);
  const uint64_t bound = 2 * std::bit_width(size);
  for (int i = 0; i < 200; ++i) {
    const uint64_t n = std::uniform_int_distribution<uint64_t>(1, size)(rng);
    const uint64_t m = std::uniform_int_distribution<uint64_t>(1, n)(rng);
    {
      CountingSource src(size);
      ASSERT_TRUE(RootAt(src, n).ok());
      EXPECT_EQ(src.calls_, 1);
      EXPECT_LE(src.reads_, static_cast<uint64_t>(std::popcount(n)));
    }
    {
      CountingSource src(size);
      absl::StatusOr<std::vector<Hash>> p = InclusionProof(src, m - 1, n);
      ASSERT_TRUE(p.ok()) << p.status();
      EXPECT_EQ(src.calls_, n > 1 ? 1 : 0);
      EXPECT_LE(src.reads_, bound);
    }
    {
      CountingSource src(size);
      absl::StatusOr<std::vector<Hash>> p = ConsistencyProof(src, m, n);
      ASSERT_TRUE(p.ok()) << p.status();
      EXPECT_LE(src.calls_, 1);
      EXPECT_LE(src.reads_, bound);
    }
  }
}

class FailingSource : public NodeSource {
 public:
  explicit FailingSource(const MerkleTree& tree, bool short_answer)
      : tree_(tree), short_answer_(short_answer) {}
  uint64_t size() const override { return tree_.size(); }
  absl::StatusOr<std::vector<Hash>> GetNodes(absl::Span<const NodeId> ids) const override {
    if (!short_answer_) return absl::UnavailableError("store is down");
    absl::StatusOr<std::vector<Hash>> got = tree_.GetNodes(ids);
    if (got.ok()) got->pop_back();
    return got;
  }

 private:
  const MerkleTree& tree_;
  bool short_answer_;
};

TEST(MerkleTreeTest, StoreErrorsPropagate) {
  const MerkleTree tree = TreeOf(RandomLeafHashes(100, 10));
  const FailingSource down(tree, /*short_answer=*/false);
  EXPECT_EQ(RootAt(down, 77).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(InclusionProof(down, 3, 77).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ConsistencyProof(down, 3, 77).status().code(), absl::StatusCode::kUnavailable);
  const FailingSource short_answer(tree, /*short_answer=*/true);
  EXPECT_EQ(InclusionProof(short_answer, 3, 77).status().code(), absl::StatusCode::kInternal);
}

// --- CompactRange -----------------------------------------------------------------------------

TEST(CompactRangeTest, VisitorReportsEveryFullNodeOnce) {
  const std::vector<Hash> leaves = RandomLeafHashes(300, 11);
  CompactRange range;
  std::vector<std::pair<NodeId, Hash>> nodes;
  for (const Hash& h : leaves) {
    range.Append(h, [&](NodeId id, const Hash& hash) { nodes.emplace_back(id, hash); });
  }
  EXPECT_EQ(nodes.size(), 2 * leaves.size() - std::popcount(leaves.size()));
  for (const auto& [id, hash] : nodes) {
    const uint64_t begin = id.index << id.level;
    const uint64_t end = (id.index + 1) << id.level;
    ASSERT_LE(end, leaves.size());
    ASSERT_EQ(hash, NaiveMth(leaves, begin, end)) << id.level << "/" << id.index;
  }
  EXPECT_THAT(range.frontier(), SizeIs(std::popcount(leaves.size())));
}

TEST(CompactRangeTest, ResumesFromFrontier) {
  const std::vector<Hash> leaves = RandomLeafHashes(100, 12);
  CompactRange range;
  for (size_t i = 0; i < 77; ++i) range.Append(leaves[i]);
  absl::StatusOr<CompactRange> resumed = CompactRange::FromFrontier(77, range.frontier());
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  for (size_t i = 77; i < leaves.size(); ++i) {
    range.Append(leaves[i]);
    resumed->Append(leaves[i]);
    ASSERT_EQ(resumed->Root(), range.Root());
  }
  EXPECT_EQ(resumed->Root(), NaiveMth(leaves, 0, leaves.size()));
  absl::StatusOr<CompactRange> bad = CompactRange::FromFrontier(78, range.frontier());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(CompactRange::FromFrontier(0, {}).ok());
}

}  // namespace
}  // namespace pdao::tlog
