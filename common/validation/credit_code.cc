#include "common/validation/credit_code.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace pdao::validation {
namespace {

constexpr absl::string_view kAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY";  // 31 characters
constexpr int kWeights[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};

int ValueOf(char c) {
  const size_t at = kAlphabet.find(c);
  return at == absl::string_view::npos ? -1 : static_cast<int>(at);
}

}  // namespace

char CreditCodeCheckCharacter(absl::string_view first17) {
  if (first17.size() < 17) return '\0';
  int sum = 0;
  for (int i = 0; i < 17; ++i) {
    const int v = ValueOf(first17[i]);
    if (v < 0) return '\0';
    sum += v * kWeights[i];
  }
  int check = 31 - sum % 31;
  if (check == 31) check = 0;
  return kAlphabet[check];
}

absl::Status ValidateCreditCode(absl::string_view code, absl::string_view what,
                                absl::string_view rule) {
  const std::string cite = absl::StrCat(" (GB 32100-2015; ", rule, ")");
  if (code.size() != 18) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", code, "' must be 18 characters, has ", code.size(), cite));
  }
  for (size_t i = 0; i < code.size(); ++i) {
    if (ValueOf(code[i]) < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " '", code, "' has character '", std::string(1, code[i]), "' at position ", i + 1,
          " outside the alphabet 0-9 A-Z without I, O, Z, S, V", cite));
    }
  }
  for (size_t i = 2; i < 8; ++i) {
    if (code[i] < '0' || code[i] > '9') {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " '", code,
                       "' positions 3-8 must be an administrative division code (digits)", cite));
    }
  }
  const char expected = CreditCodeCheckCharacter(code.substr(0, 17));
  if (code[17] != expected) {
    return absl::InvalidArgumentError(absl::StrCat(what, " '", code, "' has check character '",
                                                   std::string(1, code[17]), "', expected '",
                                                   std::string(1, expected), "'", cite));
  }
  return absl::OkStatus();
}

}  // namespace pdao::validation
