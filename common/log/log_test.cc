#include "common/log/log.h"

#include <string>

#include "gtest/gtest.h"

namespace pdao::log {
namespace {

const absl::Time kTs = absl::FromUnixMillis(1714551302123);  // 2024-05-01T08:15:02.123Z

TEST(LogTest, LineHasTimestampLevelMessageAndFieldsInOrder) {
  EXPECT_EQ(FormatLine(Level::kInfo, kTs, "listening", {{"addr", "0.0.0.0:8443"}, {"port", 8443}}),
            "{\"ts\":\"2024-05-01T08:15:02.123Z\",\"level\":\"info\",\"msg\":\"listening\","
            "\"addr\":\"0.0.0.0:8443\",\"port\":8443}\n");
}

TEST(LogTest, TimestampKeepsMillisecondsWhenZero) {
  EXPECT_EQ(FormatLine(Level::kWarn, absl::FromUnixSeconds(0), "m", {}),
            "{\"ts\":\"1970-01-01T00:00:00.000Z\",\"level\":\"warn\",\"msg\":\"m\"}\n");
}

TEST(LogTest, LevelNames) {
  EXPECT_NE(FormatLine(Level::kError, kTs, "m", {}).find("\"level\":\"error\""), std::string::npos);
}

TEST(LogTest, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(Value::Quote("a\"b\\c\nd\re\tf\bg\fh"), "\"a\\\"b\\\\c\\nd\\re\\tf\\bg\\fh\"");
  EXPECT_EQ(Value::Quote(std::string("x\x01y\x1f", 4) + std::string(1, '\0') + "\x7f"),
            "\"x\\u0001y\\u001f\\u0000\\u007f\"");
}

TEST(LogTest, KeepsValidUtf8AndReplacesInvalidBytes) {
  EXPECT_EQ(Value::Quote("数源单位 ✓ 😀"), "\"数源单位 ✓ 😀\"");
  // Lone continuation byte, truncated sequence, overlong '/', surrogate half.
  EXPECT_EQ(Value::Quote("a\x80z"), "\"a\\ufffdz\"");
  EXPECT_EQ(Value::Quote("a\xe6\x95"), "\"a\\ufffd\\ufffd\"");
  EXPECT_EQ(Value::Quote("\xc0\xaf"), "\"\\ufffd\\ufffd\"");
  EXPECT_EQ(Value::Quote("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
}

TEST(LogTest, EscapesKeysAndMessage) {
  const std::string line = FormatLine(Level::kInfo, kTs, "say \"hi\"", {{"k\"ey", "v\n"}});
  EXPECT_NE(line.find("\"msg\":\"say \\\"hi\\\"\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"k\\\"ey\":\"v\\n\""), std::string::npos) << line;
}

TEST(LogTest, NumbersAndBooleansAreBare) {
  const std::string line = FormatLine(Level::kInfo, kTs, "m",
                                      {{"ok", true}, {"n", -3}, {"big", 1ULL << 63}, {"x", 0.5}});
  EXPECT_NE(line.find("\"ok\":true,\"n\":-3,\"big\":9223372036854775808,\"x\":0.5}"),
            std::string::npos)
      << line;
  EXPECT_NE(FormatLine(Level::kInfo, kTs, "m", {{"nan", 0.0 / 0.0}}).find("\"nan\":\"NaN\""),
            std::string::npos);
}

TEST(LogTest, ReservedKeysCannotShadowLineKeys) {
  const std::string line = FormatLine(Level::kInfo, kTs, "real", {{"msg", "fake"}, {"level", "x"}});
  EXPECT_NE(line.find("\"field.msg\":\"fake\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"field.level\":\"x\""), std::string::npos) << line;
  EXPECT_EQ(line.find("\"msg\":\"fake\""), std::string::npos) << line;
}

TEST(LogTest, WriteGoesToStderrAsOneLine) {
  testing::internal::CaptureStderr();
  Info("hello", {{"who", "world"}});
  const std::string out = testing::internal::GetCapturedStderr();
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(out.find('\n'), out.size() - 1);
  EXPECT_NE(out.find("\"msg\":\"hello\",\"who\":\"world\"}"), std::string::npos) << out;
}

}  // namespace
}  // namespace pdao::log
