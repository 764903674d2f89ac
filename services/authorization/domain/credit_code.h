// 统一社会信用代码 (unified social credit code, GB 32100-2015): the identity of an operator that is
// a legal person (REGULATION.md rule 14) and of its affiliates (rule 22).
#pragma once

#include <string>

#include "absl/status/status.h"

namespace pdao::authorization {

// OK when `code` is 18 characters from the GB 32100-2015 alphabet (digits and upper-case letters
// without I, O, Z, S, V), characters 3-8 are the digits of an administrative division code, and the
// 18th character is the check character computed from the first 17 (weights 3^i mod 31).
// INVALID_ARGUMENT naming what is wrong (`what` names the field) otherwise.
absl::Status ValidateCreditCode(const std::string& code, const std::string& what);

// The check character for the first 17 characters of `code` (which must be from the alphabet);
// '\0' when they are not. Exposed for tests and for generating sample data.
char CreditCodeCheckCharacter(const std::string& first17);

}  // namespace pdao::authorization
