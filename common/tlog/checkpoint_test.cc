// Checkpoints as C2SP signed notes (rule 33): the exact tlog-checkpoint layout, the signed-note
// key hash and verifier key (checked against the published example key of
// golang.org/x/mod/sumdb/note), tampering and foreign signatures, and legacy notes.
#include "common/tlog/checkpoint.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao::tlog {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const absl::Time kTime = absl::FromUnixNanos(1764480000123456789);

Hash Root() { return LeafHash(absl::string_view("root")); }

TEST(CheckpointTest, NoteIsATlogCheckpointSignedByTheOrigin) {
  auto signer = CheckpointSigner::Generate("pdao.test/audit");
  ASSERT_TRUE(signer.ok()) << signer.status();
  auto cp = signer->Sign(42, Root(), kTime);
  ASSERT_TRUE(cp.ok()) << cp.status();
  const std::string body =
      absl::StrCat("pdao.test/audit\n42\n", absl::Base64Escape(HashToBytes(Root())),
                   "\ntimestamp 1764480000123456789\n");
  EXPECT_EQ(CheckpointBody("pdao.test/audit", 42, Root(), kTime), body);
  ASSERT_THAT(cp->note(), StartsWith(body + "\n\xE2\x80\x94 pdao.test/audit "));
  EXPECT_EQ(cp->note().back(), '\n');
  // The signature line: base64(key hash (4 bytes, big-endian) || Ed25519 signature of the body).
  std::vector<std::string> lines = absl::StrSplit(cp->note(), '\n');
  std::string sig;
  ASSERT_TRUE(absl::Base64Unescape(
      lines[lines.size() - 2].substr(strlen("\xE2\x80\x94 pdao.test/audit ")), &sig));
  ASSERT_EQ(sig.size(), 68u);
  const uint32_t hash = NoteKeyHash("pdao.test/audit", signer->public_key());
  EXPECT_EQ(static_cast<uint8_t>(sig[0]), hash >> 24);
  EXPECT_EQ(static_cast<uint8_t>(sig[3]), hash & 0xff);
  EXPECT_EQ(sig.substr(4), cp->signature());
  EXPECT_EQ(cp->tree_size(), 42u);
  EXPECT_TRUE(VerifyCheckpoint(*cp, signer->public_key()).ok());
}

TEST(CheckpointTest, VerifierKeyMatchesTheSignedNoteReferenceExample) {
  // The example verifier key from the documentation of golang.org/x/mod/sumdb/note.
  const std::string kGoExample =
      "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
  absl::StatusOr<NoteVerifier> v = ParseNoteVerifierKey(kGoExample);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->name, "PeterNeumann");
  EXPECT_EQ(v->key_hash, 0xc74f20a3u);
  EXPECT_EQ(NoteVerifierKey(v->name, v->public_key), kGoExample);

  auto signer = CheckpointSigner::Generate("pdao.test/audit");
  absl::StatusOr<NoteVerifier> ours = ParseNoteVerifierKey(signer->verifier_key() + "\n");
  ASSERT_TRUE(ours.ok()) << ours.status();
  EXPECT_EQ(ours->public_key, signer->public_key());
  // A base64 key with '+' in it (about half of all keys) parses too: only the first two '+'
  // separate fields.
  bool saw_plus = false;
  for (int i = 0; i < 64 && !saw_plus; ++i) {
    auto k = CheckpointSigner::Generate("pdao.test/audit");
    const std::string vk = k->verifier_key();
    const std::string key_part = vk.substr(vk.find('+', vk.find('+') + 1) + 1);
    if (key_part.find('+') == std::string::npos) continue;
    saw_plus = true;
    absl::StatusOr<NoteVerifier> parsed = ParseNoteVerifierKey(vk);
    ASSERT_TRUE(parsed.ok()) << vk << ": " << parsed.status();
    EXPECT_EQ(parsed->public_key, k->public_key());
  }
  EXPECT_TRUE(saw_plus) << "64 random keys without '+' in their base64: odds about 2^-40";
  // A key hash that does not match the name: refused.
  std::string wrong = signer->verifier_key();
  wrong.replace(wrong.find('+') + 1, 8, "00000000");
  EXPECT_TRUE(absl::IsInvalidArgument(ParseNoteVerifierKey(wrong).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseNoteVerifierKey("a+b").status()));
}

TEST(CheckpointTest, TamperedNotesAndOtherKeysAreRejectedWitnessLinesIgnored) {
  auto signer = CheckpointSigner::Generate("pdao.test/audit");
  auto other = CheckpointSigner::Generate("pdao.test/audit");
  auto cp = *signer->Sign(7, Root(), kTime);
  EXPECT_TRUE(absl::IsFailedPrecondition(VerifyCheckpoint(cp, other->public_key())));

  auto flipped = cp;  // one byte of the root line changed, fields changed along
  std::string note = flipped.note();
  note[note.find('\n', note.find('\n') + 1) + 3] ^= 0x01;
  flipped.set_note(note);
  EXPECT_TRUE(absl::IsFailedPrecondition(VerifyCheckpoint(flipped, signer->public_key())));

  auto resized = cp;
  resized.set_tree_size(8);
  EXPECT_THAT(VerifyCheckpoint(resized, signer->public_key()).message(),
              HasSubstr("does not match its fields"));

  // A witness's cosignature line (another key name) is ignored; the log's own must be there.
  auto cosigned = cp;
  cosigned.set_note(cp.note() + "\xE2\x80\x94 witness.example/w1 AAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
  EXPECT_TRUE(VerifyCheckpoint(cosigned, signer->public_key()).ok());
  auto unsigned_note = cp;
  unsigned_note.set_note(CheckpointBody("pdao.test/audit", 7, Root(), kTime) +
                         "\n\xE2\x80\x94 witness.example/w1 AAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
  EXPECT_THAT(VerifyCheckpoint(unsigned_note, signer->public_key()).message(),
              HasSubstr("no signature by the log key"));
  auto huge = cp;
  huge.set_note(std::string(kMaxNoteBytes + 1, 'a'));
  EXPECT_TRUE(absl::IsFailedPrecondition(VerifyCheckpoint(huge, signer->public_key())));
}

TEST(CheckpointTest, LegacyNotesStillVerify) {
  auto signer = CheckpointSigner::Generate();
  EXPECT_EQ(signer->origin(), kDefaultLogOrigin);
  auto cp = *signer->Sign(3, Root(), kTime);
  cp.set_note(LegacyCheckpointNote(3, Root(), kTime));
  cp.set_signature(*signer->SignBytes(cp.note()));
  EXPECT_TRUE(VerifyCheckpoint(cp, signer->public_key()).ok());
  EXPECT_FALSE(IsC2spCheckpointFrom(cp, signer->origin()));
  cp.set_tree_size(4);
  EXPECT_TRUE(absl::IsFailedPrecondition(VerifyCheckpoint(cp, signer->public_key())));
}

TEST(CheckpointTest, OriginsFollowTheKeyNameRules) {
  EXPECT_TRUE(ValidateOrigin("audit.pdao.example.gov.cn/log").ok());
  for (const std::string& bad :
       {std::string(), std::string("a b"), std::string("a+b"), std::string("a\nb"),
        std::string(kMaxOriginBytes + 1, 'a'), std::string(kLegacyNoteHeader)}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ValidateOrigin(bad))) << bad;
  }
  EXPECT_TRUE(absl::IsInvalidArgument(CheckpointSigner::Generate("has space").status()));
}

}  // namespace
}  // namespace pdao::tlog
