// The treasury-yield file the pricing service reads (services/pricing/domain/mar.h,
// TreasuryYields::Parse) on the input as text: no crash, and every year of a file it accepts has
// its yield, within the documented 0..2000 bp.
#include "absl/strings/string_view.h"
#include "services/pricing/domain/mar.h"
#include "tests/fuzz/fuzz_files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using pdao::pricing::TreasuryYields;
  absl::StatusOr<TreasuryYields> yields =
      TreasuryYields::Parse(absl::string_view(reinterpret_cast<const char*>(data), size));
  if (!yields.ok()) return 0;
  if (yields->Years().empty()) pdao::fuzz::Fail("a file without years was accepted");
  for (int year : yields->Years()) {
    if (year < 1990 || year > 2200) pdao::fuzz::Fail("a year outside 1990..2200 was accepted");
    absl::StatusOr<pdao::pricing::BasisPoints> bp = yields->YieldOf(year);
    if (!bp.ok()) pdao::fuzz::Fail("a loaded year has no yield");
    if (*bp < 0 || *bp > 2000) pdao::fuzz::Fail("a yield outside 0..2000 bp was accepted");
  }
  return 0;
}
