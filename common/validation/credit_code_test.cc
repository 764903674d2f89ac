#include "common/validation/credit_code.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao::validation {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(CreditCodeTest, AcceptsValidCodesAndComputesTheCheckCharacter) {
  EXPECT_TRUE(ValidateCreditCode("91350100M000100Y43", "credit_code", "rule 14").ok());
  EXPECT_EQ(CreditCodeCheckCharacter("91350100M000100Y4"), '3');
  for (const std::string first17 :
       {"91220101MA0Y00001", "91110000600037341", "12100000400000624"}) {
    const std::string code = first17 + CreditCodeCheckCharacter(first17);
    EXPECT_TRUE(ValidateCreditCode(code, "credit_code", "rule 14").ok()) << code;
  }
}

TEST(CreditCodeTest, CheckCharacterNeedsSeventeenCharactersOfTheAlphabet) {
  EXPECT_EQ(CreditCodeCheckCharacter("9135010"), '\0');
  EXPECT_EQ(CreditCodeCheckCharacter("91350100M000100I4"), '\0');
}

TEST(CreditCodeTest, RefusalsNameTheFieldTheDefectAndTheCallersRule) {
  EXPECT_THAT(ValidateCreditCode("91350100M000100Y4", "applicant_credit_code", "rule 19").message(),
              AllOf(HasSubstr("applicant_credit_code"), HasSubstr("18 characters"),
                    HasSubstr("(GB 32100-2015; rule 19)")));
  EXPECT_THAT(ValidateCreditCode("91350100M000100I43", "credit_code", "rule 14").message(),
              AllOf(HasSubstr("'I' at position 16"), HasSubstr("outside the alphabet")));
  EXPECT_THAT(ValidateCreditCode("913A0100M000100Y43", "credit_code", "rule 14").message(),
              HasSubstr("administrative division"));
  const absl::Status s = ValidateCreditCode("91350100M000100Y44", "credit_code", "rule 22");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), AllOf(HasSubstr("check character '4'"), HasSubstr("expected '3'"),
                                 HasSubstr("(GB 32100-2015; rule 22)")));
}

TEST(CreditCodeTest, EverySingleCharacterChangeIsCaught) {
  // The check character catches any single substitution within the alphabet.
  const std::string code = "91350100M000100Y43";
  const std::string alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  for (size_t i = 0; i < 17; ++i) {
    for (char c : alphabet) {
      if (c == code[i]) continue;
      std::string changed = code;
      changed[i] = c;
      EXPECT_FALSE(ValidateCreditCode(changed, "credit_code", "rule 14").ok()) << changed;
    }
  }
}

}  // namespace
}  // namespace pdao::validation
