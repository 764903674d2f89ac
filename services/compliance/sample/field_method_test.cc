#include "services/compliance/sample/field_method.h"

#include <openssl/evp.h>

#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao::compliance::sample {
namespace {

using ::testing::HasSubstr;

FieldSpec Field(std::string type, Grade grade, PiKind kind) {
  return FieldSpec{"f", std::move(type), grade, kind};
}

FieldMethod Choose(std::string type, Grade grade, PiKind kind) {
  absl::StatusOr<FieldMethod> m = ChooseMethod(Field(std::move(type), grade, kind), {});
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *m : FieldMethod{};
}

TEST(ChooseMethodTest, SensitiveAndCoreAreDroppedWhateverTheType) {
  for (const char* type : {"string", "date", "int64", "place"}) {
    for (Grade g : {Grade::kGeneral, Grade::kImportant, Grade::kCore}) {
      EXPECT_EQ(Choose(type, g, PiKind::kSensitive).method, Method::kDrop) << type;
    }
    for (PiKind k : {PiKind::kNone, PiKind::kPersonal}) {
      EXPECT_EQ(Choose(type, Grade::kCore, k).method, Method::kDrop) << type;
    }
  }
}

TEST(ChooseMethodTest, NonPersonalGeneralIsKept) {
  for (const char* type : {"string", "date", "decimal", "address"}) {
    FieldMethod m = Choose(type, Grade::kGeneral, PiKind::kNone);
    EXPECT_EQ(m.method, Method::kKeep) << type;
    EXPECT_FALSE(m.quasi_identifier);
  }
}

TEST(ChooseMethodTest, NonPersonalImportantIsGeneralizedOrMaskedButNotAQuasiIdentifier) {
  FieldMethod date = Choose("date", Grade::kImportant, PiKind::kNone);
  EXPECT_EQ(date.method, Method::kGeneralize);
  EXPECT_EQ(date.date_granularity, DateGranularity::kMonth);
  EXPECT_FALSE(date.quasi_identifier);
  FieldMethod number = Choose("int64", Grade::kImportant, PiKind::kNone);
  EXPECT_EQ(number.range_width, 10);
  FieldMethod text = Choose("string", Grade::kImportant, PiKind::kNone);
  EXPECT_EQ(text.method, Method::kMask);
  EXPECT_EQ(text.mask_keep, 1);
  EXPECT_FALSE(text.quasi_identifier);
}

TEST(ChooseMethodTest, PersonalValuesAreGeneralizedQuasiIdentifiersCoarserWhenImportant) {
  FieldMethod general = Choose("date", Grade::kGeneral, PiKind::kPersonal);
  EXPECT_EQ(general.method, Method::kGeneralize);
  EXPECT_EQ(general.date_granularity, DateGranularity::kMonth);
  EXPECT_TRUE(general.quasi_identifier);
  FieldMethod important = Choose("date", Grade::kImportant, PiKind::kPersonal);
  EXPECT_EQ(important.date_granularity, DateGranularity::kYear);
  EXPECT_TRUE(important.quasi_identifier);
  EXPECT_EQ(Choose("decimal", Grade::kGeneral, PiKind::kPersonal).range_width, 10);
  EXPECT_EQ(Choose("decimal", Grade::kImportant, PiKind::kPersonal).range_width, 100);
  FieldMethod place = Choose("Place", Grade::kGeneral, PiKind::kPersonal);
  EXPECT_EQ(place.kind, ValueKind::kPlace);
  EXPECT_EQ(place.Describe(), "generalize place to district");
}

TEST(ChooseMethodTest, PersonalTextIsPseudonymized) {
  for (Grade g : {Grade::kGeneral, Grade::kImportant}) {
    FieldMethod m = Choose("string", g, PiKind::kPersonal);
    EXPECT_EQ(m.method, Method::kPseudonym);
    EXPECT_FALSE(m.quasi_identifier);
  }
}

TEST(ChooseMethodTest, UngradedOrUnclassifiedFieldsAndBadParametersAreRefused) {
  absl::StatusOr<FieldMethod> m =
      ChooseMethod(FieldSpec{"age", "int64", Grade::kUnspecified, PiKind::kNone}, {});
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(), HasSubstr("rule 2"));
  m = ChooseMethod(FieldSpec{"age", "int64", Grade::kGeneral, PiKind::kUnspecified}, {});
  EXPECT_THAT(m.status().message(), HasSubstr("age"));
  MethodParams bad;
  bad.range_width = 0;
  EXPECT_FALSE(ChooseMethod(Field("int64", Grade::kGeneral, PiKind::kNone), bad).ok());
}

std::string Date(absl::string_view v, DateGranularity g) {
  std::string out;
  EXPECT_TRUE(GeneralizeDate(v, g, &out)) << v;
  return out;
}

TEST(GeneralizeTest, DatesToMonthOrYear) {
  EXPECT_EQ(Date("2024-03-17", DateGranularity::kMonth), "2024-03");
  EXPECT_EQ(Date("2024/03/17", DateGranularity::kYear), "2024");
  EXPECT_EQ(Date("20240317", DateGranularity::kMonth), "2024-03");
  EXPECT_EQ(Date("2024-03-17T08:15:00+08:00", DateGranularity::kMonth), "2024-03");
  EXPECT_EQ(Date("2024-03-17 08:15", DateGranularity::kYear), "2024");
  EXPECT_EQ(Date("", DateGranularity::kYear), "");
  std::string out;
  for (const char* bad :
       {"2024-13-01", "2024-00-10", "17/03/2024", "2024-03-17x", "yesterday", "2024-3-7"}) {
    EXPECT_FALSE(GeneralizeDate(bad, DateGranularity::kMonth, &out)) << bad;
  }
  EXPECT_EQ(out, "");
}

std::string Number(absl::string_view v, int64_t width) {
  std::string out;
  EXPECT_TRUE(GeneralizeNumber(v, width, &out)) << v;
  return out;
}

TEST(GeneralizeTest, NumbersToHalfOpenRanges) {
  EXPECT_EQ(Number("37", 10), "[30,40)");
  EXPECT_EQ(Number("40", 10), "[40,50)");
  EXPECT_EQ(Number("0", 10), "[0,10)");
  EXPECT_EQ(Number("-5", 10), "[-10,0)");
  EXPECT_EQ(Number("-10", 10), "[-10,0)");
  EXPECT_EQ(Number("1234.56", 100), "[1200,1300)");
  EXPECT_EQ(Number("-0.5", 10), "[-10,0)");
  EXPECT_EQ(Number("", 10), "");
  std::string out;
  for (const char* bad : {"abc", "12abc", "inf", "nan", "1e300", "9223372036854775807"}) {
    EXPECT_FALSE(GeneralizeNumber(bad, 10, &out)) << bad;
  }
  EXPECT_EQ(out, "");
}

std::string Place(absl::string_view v) {
  std::string out;
  EXPECT_TRUE(GeneralizePlace(v, &out)) << v;
  return out;
}

TEST(GeneralizeTest, PlacesToDistrictLevel) {
  EXPECT_EQ(Place("北京市海淀区中关村大街27号"), "北京市海淀区");
  EXPECT_EQ(Place("广东省深圳市南山区粤海街道科技园"), "广东省深圳市南山区");
  EXPECT_EQ(Place("江苏省苏州市昆山市玉山镇人民路1号"), "江苏省苏州市昆山市");
  EXPECT_EQ(Place("广西壮族自治区南宁市青秀区民族大道"), "广西壮族自治区南宁市青秀区");
  EXPECT_EQ(Place("香港特别行政区"), "香港特别行政区");
  EXPECT_EQ(Place("内蒙古自治区锡林郭勒盟正蓝旗上都镇"), "内蒙古自治区锡林郭勒盟正蓝旗");
  EXPECT_EQ(Place("延边朝鲜族自治州延吉市河南街道"), "延边朝鲜族自治州延吉市");
  EXPECT_EQ(Place("上海市浦东新区张江路"), "上海市浦东新区");
  EXPECT_EQ(Place("440305"), "440305");
  EXPECT_EQ(Place("440305007003"), "440305");
  EXPECT_EQ(Place("44"), "44");
  std::string out;
  for (const char* bad : {"中关村大街27号", "12345", "市中心"}) {
    EXPECT_FALSE(GeneralizePlace(bad, &out)) << bad;
  }
  EXPECT_EQ(out, "");
}

TEST(MaskTest, KeepsAtMostAThirdAndHidesTheLength) {
  std::string out;
  Mask("张三丰", 1, &out);
  EXPECT_EQ(out, "张***");
  out.clear();
  Mask("AB", 1, &out);
  EXPECT_EQ(out, "***");
  out.clear();
  Mask("6222020200112233445", 3, &out);
  EXPECT_EQ(out, "622***");
  out.clear();
  Mask("6222020200112233445", 0, &out);
  EXPECT_EQ(out, "***");
  out.clear();
  Mask("", 1, &out);
  EXPECT_EQ(out, "");
}

TEST(PseudonymizerTest, IsKeyedHmacSha256AndNeverABareHash) {
  const std::string key(32, 'k');
  auto p = Pseudonymizer::Create(key);
  ASSERT_TRUE(p.ok()) << p.status();
  std::string a;
  ASSERT_TRUE((*p)->Append("what do ya want for nothing?", &a).ok());
  EXPECT_EQ(a.size(), 64u);
  std::string again;
  ASSERT_TRUE((*p)->Append("what do ya want for nothing?", &again).ok());
  EXPECT_EQ(a, again);
  // A bare SHA-256 of the value is not what comes out.
  const std::string value = "what do ya want for nothing?";
  unsigned char bare[32];
  ASSERT_EQ(EVP_Digest(value.data(), value.size(), bare, nullptr, EVP_sha256(), nullptr), 1);
  EXPECT_NE(a, absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(bare), 32)));
  auto other = Pseudonymizer::Create(std::string(32, 'x'));
  ASSERT_TRUE(other.ok());
  std::string b;
  ASSERT_TRUE((*other)->Append("what do ya want for nothing?", &b).ok());
  EXPECT_NE(a, b);
  EXPECT_NE((*p)->key_id(), (*other)->key_id());
  EXPECT_EQ((*p)->key_id().size(), 16u);
  std::string empty;
  ASSERT_TRUE((*p)->Append("", &empty).ok());
  EXPECT_EQ(empty, "");
}

TEST(PseudonymizerTest, MatchesRfc4231WithALongKey) {
  // RFC 4231 test case 6: a 131-byte key of 0xaa.
  auto p = Pseudonymizer::Create(std::string(131, '\xaa'));
  ASSERT_TRUE(p.ok());
  std::string out;
  ASSERT_TRUE((*p)->Append("Test Using Larger Than Block-Size Key - Hash Key First", &out).ok());
  EXPECT_EQ(out, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(PseudonymizerTest, ShortKeysAreRefused) {
  auto p = Pseudonymizer::Create("Jefe");
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(p.status().message(), HasSubstr("rule 23"));
}

TEST(Utf8Test, AcceptsWellFormedAndRefusesMalformed) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii, longer than eight bytes"));
  EXPECT_TRUE(IsValidUtf8("北京市 😀 é"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(IsValidUtf8("abcdefgh\xE4\xB8"));  // truncated
  EXPECT_FALSE(IsValidUtf8("\xFF"));
}

}  // namespace
}  // namespace pdao::compliance::sample
