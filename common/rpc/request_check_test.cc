#include "common/rpc/request_check.h"

#include <grpcpp/support/slice.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pdao/registry/v1/registry.pb.h"
#include "pdao/testing/v1/echo.pb.h"

namespace pdao {
namespace {

using ::pdao::testing::v1::EchoRequest;
using ::testing::HasSubstr;

grpc::ByteBuffer Bytes(const std::string& wire) {
  grpc::Slice slice(wire);
  return grpc::ByteBuffer(&slice, 1);
}

absl::Status Parse(const EchoRequest& sent, EchoRequest* got) {
  return ParseRequest(Bytes(sent.SerializeAsString()), got);
}

TEST(RequestCheckTest, ValidRequestParsesExactly) {
  EchoRequest sent;
  sent.set_message("tab\tand newline\n are fine");
  sent.mutable_at()->set_seconds(253402300799);  // 9999-12-31T23:59:59Z
  sent.mutable_at()->set_nanos(999999999);
  sent.mutable_ttl()->set_seconds(-5);
  sent.mutable_ttl()->set_nanos(-1);
  sent.set_shade(pdao::testing::v1::SHADE_DARK);
  sent.set_blob(std::string("\0\1\2 bytes are opaque", 20));
  sent.add_nested()->set_message("inner");
  EchoRequest got;
  ASSERT_TRUE(Parse(sent, &got).ok());
  EXPECT_EQ(got.SerializeAsString(), sent.SerializeAsString());
}

TEST(RequestCheckTest, WireDataThatDoesNotParseIsInvalidArgumentNamingTheType) {
  EchoRequest got;
  // Field 1 (string) declared 100 bytes long, 3 present.
  absl::Status s = ParseRequest(Bytes(std::string("\x0a\x64"
                                                  "abc",
                                                  5)),
                                &got);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("not a valid pdao.testing.v1.EchoRequest"));
}

TEST(RequestCheckTest, InvalidUtf8InAStringFieldIsInvalidArgument) {
  EchoRequest got;
  absl::Status s = ParseRequest(Bytes(std::string("\x0a\x02\xc3\x28", 4)), &got);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("UTF-8"));
}

TEST(RequestCheckTest, UnknownFieldsAreDropped) {
  EchoRequest sent;
  sent.set_message("m");
  std::string wire = sent.SerializeAsString();
  wire += std::string("\xa0\x06\x07", 3);  // field 100, varint 7: unknown to EchoRequest
  EchoRequest got;
  ASSERT_TRUE(ParseRequest(Bytes(wire), &got).ok());
  EXPECT_TRUE(got.GetReflection()->GetUnknownFields(got).empty());
  EXPECT_EQ(got.SerializeAsString(), sent.SerializeAsString());
}

TEST(RequestCheckTest, TimestampPastYear9999IsRefusedNamingTheField) {
  EchoRequest sent;
  sent.mutable_at()->set_seconds(253402300800);  // 10000-01-01
  EchoRequest got;
  absl::Status s = Parse(sent, &got);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("at.seconds = 253402300800 is outside the Timestamp range"));
}

TEST(RequestCheckTest, TimestampInYear2612IsValidAndExact) {
  // Year 2612 is past an int64 count of nanoseconds (which wrapped it to 2027 once): it is a valid
  // Timestamp, accepted here; the cores bound terms by their rules.
  EchoRequest sent;
  sent.mutable_at()->set_seconds(20248156800);  // 2611-08-28
  EchoRequest got;
  EXPECT_TRUE(Parse(sent, &got).ok());
}

TEST(RequestCheckTest, TimestampNanosOutOfRangeIsRefused) {
  EchoRequest sent;
  sent.mutable_at()->set_nanos(-1);
  EchoRequest got;
  EXPECT_THAT(Parse(sent, &got).message(), HasSubstr("at.nanos = -1 is outside [0, 999999999]"));
  sent.mutable_at()->set_nanos(1000000000);
  EXPECT_EQ(Parse(sent, &got).code(), absl::StatusCode::kInvalidArgument);
}

TEST(RequestCheckTest, DurationOutOfRangeOrWithMixedSignsIsRefused) {
  EchoRequest sent;
  sent.mutable_ttl()->set_seconds(315576000001);
  EchoRequest got;
  EXPECT_THAT(Parse(sent, &got).message(), HasSubstr("ttl.seconds = 315576000001"));
  sent.mutable_ttl()->set_seconds(1);
  sent.mutable_ttl()->set_nanos(-1);
  EXPECT_THAT(Parse(sent, &got).message(), HasSubstr("ttl.nanos = -1 must be"));
}

TEST(RequestCheckTest, UndefinedEnumValueIsRefusedNamingTheEnum) {
  EchoRequest sent;
  sent.set_shade(static_cast<pdao::testing::v1::Shade>(7));
  EchoRequest got;
  absl::Status s = Parse(sent, &got);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("shade = 7 is not a value of pdao.testing.v1.Shade"));
}

TEST(RequestCheckTest, NulAndControlCharactersInStringsAreRefusedWithThePath) {
  EchoRequest sent;
  sent.add_nested()->add_nested()->add_tags("ok");
  sent.mutable_nested(0)->mutable_nested(0)->add_tags(std::string("bad\0name", 8));
  EchoRequest got;
  absl::Status s = Parse(sent, &got);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("nested[0].nested[0].tags[1] contains the control character "
                                     "U+0000 at byte 3"));
  sent.Clear();
  sent.set_message("escape\x1b[31m");
  EXPECT_THAT(Parse(sent, &got).message(),
              HasSubstr("message contains the control character U+001b"));
}

TEST(RequestCheckTest, StringsAndRepeatedFieldsKeepTheSharedBounds) {
  EchoRequest sent;
  sent.set_message(std::string(kMaxStringBytes, 'a'));
  for (int i = 0; i < kMaxRepeated; ++i) sent.add_tags("t");
  EchoRequest got;
  EXPECT_TRUE(Parse(sent, &got).ok()) << "at the bounds";
  sent.add_tags("one too many");
  EXPECT_THAT(Parse(sent, &got).message(),
              HasSubstr("tags has 10001 elements; at most 10000 are allowed"));
  sent.clear_tags();
  sent.set_message(std::string(kMaxStringBytes + 1, 'a'));
  EXPECT_THAT(Parse(sent, &got).message(),
              HasSubstr("message is 16385 bytes; at most 16384 are allowed for a string field"));
}

TEST(RequestCheckTest, AnIdentifierLongerThanTheBoundIsRefusedWithoutEchoingIt) {
  // The registry once echoed a 9 KB id back in its NOT_FOUND message.
  pdao::registry::v1::GetResourceRequest sent;
  sent.set_resource_id(std::string(9000, 'r'));
  pdao::registry::v1::GetResourceRequest got;
  absl::Status s = ParseRequest(Bytes(sent.SerializeAsString()), &got);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("resource_id is 9000 bytes; at most 256 are allowed for an "
                                     "identifier"));
  EXPECT_LT(s.message().size(), 200u);
  sent.set_resource_id(std::string(kMaxIdBytes, 'r'));
  EXPECT_TRUE(ParseRequest(Bytes(sent.SerializeAsString()), &got).ok());
}

TEST(RequestCheckTest, NestingDeeperThanTheBoundIsRefused) {
  EchoRequest sent;
  EchoRequest* at = &sent;
  for (int i = 0; i < kMaxRequestDepth + 5; ++i) at = at->add_nested();
  EchoRequest got;
  EXPECT_EQ(Parse(sent, &got).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pdao
