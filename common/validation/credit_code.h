// 统一社会信用代码 (unified social credit code, GB 32100-2015): the identity of a legal person —
// an operator (REGULATION.md rule 14), its affiliates (rule 22), a business entity that applies for
// a scenario or consumes a product (rules 19, 24). One check for every service that records one.
// Pure: no I/O.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace pdao::validation {

// OK when `code` is 18 characters from the GB 32100-2015 alphabet (digits and upper-case letters
// without I, O, Z, S, V), characters 3-8 are the digits of an administrative division code, and the
// 18th character is the check character computed from the first 17 (weights 3^i mod 31).
// INVALID_ARGUMENT otherwise, naming `what` (the field), the defect and "(GB 32100-2015; <rule>)"
// where `rule` is the caller's rule citation, e.g. "rule 14".
absl::Status ValidateCreditCode(absl::string_view code, absl::string_view what,
                                absl::string_view rule);

// The check character for the first 17 characters of `first17` (which must be from the alphabet);
// '\0' when there are fewer than 17 or one is outside the alphabet. For tests and sample data.
char CreditCodeCheckCharacter(absl::string_view first17);

}  // namespace pdao::validation
