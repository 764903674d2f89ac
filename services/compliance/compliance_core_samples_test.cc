// ComplianceCore's datasets and samples (rule 23) over SQLite :memory:, a fake clock, fake facts
// (the registry's resource schema) and a fake audit log with fault switches; real files in a
// temporary operation domain.
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/app/requests.h"
#include "common/file/file.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/compliance/compliance_core.h"
#include "services/compliance/testing/bus_positions.h"
#include "services/compliance/testing/core_fixture.h"

namespace pdao::compliance {
namespace {

using common::v1::Role;
using testing::Agency;
using testing::Applicant;
using testing::BusCsv;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using testing::Operator;

const std::string kHolder = "city-transport";
const std::string kResource = "r-bus-gps";

Principal Holder() { return Principal::Org(kHolder, Role::ROLE_DEPARTMENT); }

class ComplianceSamplesTest : public testing::CoreFixture {
 protected:
  void SetUp() override {
    CoreFixture::SetUp();
    facts_.SetSchema(kResource, testing::BusSchema(kHolder));
    dirs_.WriteData("bus/positions.csv", BusCsv());
  }

  absl::StatusOr<v1::Dataset> Register(const std::string& path = "bus/positions.csv",
                                       const Principal& caller = Holder(),
                                       const std::string& request_id = "") {
    v1::RegisterDatasetRequest r;
    r.set_request_id(request_id);
    r.set_resource_id(kResource);
    r.set_path(path);
    r.set_format(v1::DATASET_FORMAT_CSV);
    v1::RegisterDatasetResponse resp;
    absl::Status s = core_->RegisterDataset(caller, r, &resp);
    if (!s.ok()) return s;
    return resp.dataset();
  }

  v1::RequestSampleRequest SampleRequest(const std::string& scenario_id,
                                         const std::string& request_id = "sample-1") {
    v1::RequestSampleRequest r;
    r.set_request_id(request_id);
    r.set_scenario_id(scenario_id);
    r.set_resource_id(kResource);
    r.add_fields("line");
    r.add_fields("position");
    r.add_fields("driver_id");
    r.set_size(10);
    return r;
  }

  // Files in the output area (the released samples) and in its staging directory.
  std::vector<std::string> Released() const { return Files(domain_.output_root); }
  std::vector<std::string> Staged() const { return Files(StagingDir(domain_)); }
  static std::vector<std::string> Files(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      if (e.is_regular_file()) out.push_back(e.path().filename().string());
    }
    return out;
  }

  // Nothing written and nothing released since `events` outbox events and `appends` audit calls.
  void ExpectNothingWritten(size_t events, size_t appended) {
    EXPECT_EQ(Events().size(), events);
    EXPECT_EQ(audit_.appended().size(), appended);
    EXPECT_THAT(Released(), IsEmpty());
    EXPECT_THAT(Staged(), IsEmpty());
  }
};

TEST_F(ComplianceSamplesTest, TheHolderRegistersADatasetAndOnlyItAndOverseersReadIt) {
  absl::StatusOr<v1::Dataset> d = Register();
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_THAT(d->dataset_id(), HasSubstr(absl::StrCat(kResource, ".ds-")));
  EXPECT_EQ(d->holder_org(), kHolder);
  EXPECT_EQ(d->row_count(), 20);
  EXPECT_THAT(d->columns(), ::testing::ElementsAre("line", "position", "driver_id", "plate"));
  EXPECT_EQ(d->content_sha256().size(), 64u);
  EXPECT_EQ(CountEvents("compliance.dataset.registered"), 1u);

  v1::GetDatasetRequest get;
  get.set_dataset_id(d->dataset_id());
  v1::GetDatasetResponse got;
  ASSERT_TRUE(core_->GetDataset(Holder(), get, &got).ok());
  EXPECT_EQ(got.dataset().content_sha256(), d->content_sha256());
  EXPECT_TRUE(core_->GetDataset(Agency(), get, &got).ok());
  EXPECT_EQ(
      core_->GetDataset(Principal::Org("city-health", Role::ROLE_DEPARTMENT), get, &got).code(),
      absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(core_->GetDataset(Applicant(), get, &got).code(), absl::StatusCode::kPermissionDenied);
  get.set_dataset_id("r-bus-gps.ds-0000000000000000");
  EXPECT_EQ(core_->GetDataset(Holder(), get, &got).code(), absl::StatusCode::kNotFound);
  get.set_dataset_id("no-such-form");
  EXPECT_EQ(core_->GetDataset(Holder(), get, &got).code(), absl::StatusCode::kNotFound);
  // A retry answers the first result and writes nothing more.
  absl::StatusOr<v1::Dataset> first = Register("bus/positions.csv", Holder(), "reg-1");
  ASSERT_TRUE(first.ok());
  const size_t events = Events().size();
  absl::StatusOr<v1::Dataset> again = Register("bus/positions.csv", Holder(), "reg-1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->dataset_id(), first->dataset_id());
  EXPECT_EQ(Events().size(), events);
}

TEST_F(ComplianceSamplesTest, RegisterDatasetRefusalsHaveTheirCodeAndWriteNothing) {
  dirs_.WriteData("bus/ragged.csv", "line,position,driver_id,plate\r\nL1,x,y\r\n");
  dirs_.WriteData("bus/other.csv", "line,position,driver_id,colour\r\nL1,x,y,z\r\n");
  const std::string outside = dirs_.base() + "/outside.csv";
  ASSERT_TRUE(file::WriteFileAtomically(outside, BusCsv(), 0644).ok());
  ASSERT_EQ(::symlink(outside.c_str(), (dirs_.data_root() + "/bus/link.csv").c_str()), 0);
  const size_t events = Events().size();
  struct Case {
    std::string path;
    Principal caller;
    absl::StatusCode code;
    std::string says;
  };
  const std::vector<Case> cases = {
      {"bus/positions.csv", Operator(), absl::StatusCode::kPermissionDenied, "rule 23"},
      {"bus/positions.csv", Principal::Org("city-health", Role::ROLE_DEPARTMENT),
       absl::StatusCode::kPermissionDenied, "held by city-transport"},
      {"../outside.csv", Holder(), absl::StatusCode::kPermissionDenied, "outside"},
      {"bus/link.csv", Holder(), absl::StatusCode::kPermissionDenied, "rule 23"},
      {outside, Holder(), absl::StatusCode::kInvalidArgument, "relative"},
      {"bus/missing.csv", Holder(), absl::StatusCode::kNotFound, ""},
      {"bus/ragged.csv", Holder(), absl::StatusCode::kInvalidArgument, "row 1"},
      {"bus/other.csv", Holder(), absl::StatusCode::kFailedPrecondition, "colour"},
      {"", Holder(), absl::StatusCode::kInvalidArgument, "path"},
      {std::string(1025, 'a'), Holder(), absl::StatusCode::kInvalidArgument, "1024"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<v1::Dataset> d = Register(c.path, c.caller);
    EXPECT_EQ(d.status().code(), c.code) << c.path << ": " << d.status();
    EXPECT_THAT(d.status().message(), HasSubstr(c.says)) << c.path;
  }
  v1::RegisterDatasetRequest r;
  r.set_resource_id(kResource);
  r.set_path("bus/positions.csv");
  r.set_format(v1::DATASET_FORMAT_CSV);
  r.set_table("t");
  v1::RegisterDatasetResponse resp;
  EXPECT_EQ(core_->RegisterDataset(Holder(), r, &resp).code(), absl::StatusCode::kInvalidArgument);
  r.clear_table();
  r.set_format(v1::DATASET_FORMAT_UNSPECIFIED);
  EXPECT_EQ(core_->RegisterDataset(Holder(), r, &resp).code(), absl::StatusCode::kInvalidArgument);
  r.set_format(v1::DATASET_FORMAT_CSV);
  r.set_resource_id("r-unknown");
  EXPECT_EQ(core_->RegisterDataset(Holder(), r, &resp).code(), absl::StatusCode::kNotFound);
  r.set_resource_id(kResource);
  facts_.FailNext(absl::UnavailableError("registry down"));
  EXPECT_EQ(core_->RegisterDataset(Holder(), r, &resp).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Events().size(), events);
}

TEST_F(ComplianceSamplesTest, ASampleIsReleasedOnlyAfterItsCertificateIsInTheAuditLog) {
  const v1::Scenario approved = Approved();
  ASSERT_TRUE(Register().ok());
  v1::RequestSampleResponse resp;
  absl::Status s = core_->RequestSample(Applicant(), SampleRequest(approved.scenario_id()), &resp);
  ASSERT_TRUE(s.ok()) << s;

  const v1::SampleCertificate& c = resp.certificate();
  EXPECT_EQ(c.scenario_id(), approved.scenario_id());
  EXPECT_EQ(c.scenario_version_number(), 1);
  EXPECT_EQ(c.resource_id(), kResource);
  EXPECT_EQ(c.requester(), Applicant().ToSpiffeId());
  EXPECT_EQ(c.rows_in(), 20);
  EXPECT_EQ(c.rows_selected(), 10);
  EXPECT_EQ(c.rows_out(), 10);
  EXPECT_EQ(c.k_required(), 5);
  EXPECT_EQ(c.input_sha256().size(), 64u);
  ASSERT_EQ(c.fields_size(), 3);
  EXPECT_EQ(c.fields(0).method(), v1::DESENSITIZATION_METHOD_KEEP);
  EXPECT_EQ(c.fields(1).method(), v1::DESENSITIZATION_METHOD_GENERALIZE);
  EXPECT_EQ(c.fields(2).method(), v1::DESENSITIZATION_METHOD_PSEUDONYMIZE);
  EXPECT_EQ(c.fields(2).parameters().at("key_id").size(), 16u);

  // The certificate is in the audit log, and it is what audit's sample-volume warning reads.
  const std::vector<pdao::events::v1::Envelope> logged = audit_.appended();
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_EQ(logged[0].event_id(), resp.audit_event_id());
  EXPECT_EQ(resp.audit_log_index(), 0u);
  ASSERT_TRUE(logged[0].has_sample_produced());
  EXPECT_EQ(logged[0].sample_produced().certificate().rows_out(), 10);
  EXPECT_EQ(logged[0].sample_produced().certificate().requester(), Applicant().ToSpiffeId());
  EXPECT_EQ(logged[0].sample_produced().certificate().output_sha256(), c.output_sha256());
  EXPECT_EQ(CountEvents("compliance.sample.produced"), 1u);

  // The released file holds desensitized rows only.
  ASSERT_THAT(Released(), ::testing::ElementsAre(resp.output_path()));
  EXPECT_THAT(Staged(), IsEmpty());
  absl::StatusOr<std::string> out =
      file::ReadFile(absl::StrCat(domain_.output_root, "/", resp.output_path()));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(Sha256Hex(*out), c.output_sha256());
  EXPECT_THAT(*out, Not(HasSubstr("DRV-SECRET")));
  EXPECT_THAT(*out, Not(HasSubstr("人民大街")));
  EXPECT_THAT(*out, Not(HasSubstr("吉A")));
  EXPECT_THAT(*out, HasSubstr("朝阳区"));

  // A retry answers the first sample: no second file, no second certificate.
  v1::RequestSampleResponse again;
  ASSERT_TRUE(
      core_->RequestSample(Applicant(), SampleRequest(approved.scenario_id()), &again).ok());
  EXPECT_EQ(again.certificate().sample_id(), c.sample_id());
  EXPECT_EQ(audit_.calls(), 1);
  EXPECT_EQ(Released().size(), 1u);
  // The scenario's operator may ask too.
  ASSERT_TRUE(
      core_->RequestSample(Operator(), SampleRequest(approved.scenario_id(), "op-1"), &again).ok());
  EXPECT_EQ(again.certificate().requester(), Operator().ToSpiffeId());
  EXPECT_EQ(Released().size(), 2u);
}

TEST_F(ComplianceSamplesTest, FailClosedWhenTheAuditLogDoesNotAcknowledge) {
  const v1::Scenario approved = Approved();
  ASSERT_TRUE(Register().ok());
  const size_t events = Events().size();
  for (absl::Status fault :
       {absl::UnavailableError("audit down"), absl::DeadlineExceededError("audit slow"),
        absl::InternalError("audit refused")}) {
    audit_.FailNext(fault);
    v1::RequestSampleResponse resp;
    EXPECT_EQ(
        core_->RequestSample(Applicant(), SampleRequest(approved.scenario_id()), &resp).code(),
        fault.code());
    ExpectNothingWritten(events, 0);
  }
  // The same request, retried once the log answers, is served.
  v1::RequestSampleResponse resp;
  ASSERT_TRUE(core_->RequestSample(Applicant(), SampleRequest(approved.scenario_id()), &resp).ok());
  EXPECT_EQ(Released().size(), 1u);
  EXPECT_EQ(audit_.appended().size(), 1u);
}

TEST_F(ComplianceSamplesTest, RequestSampleRefusalsHaveTheirCodeAndWriteNothing) {
  const v1::Scenario approved = Approved();
  const v1::Scenario draft = Draft();
  const std::string id = approved.scenario_id();
  v1::RequestSampleResponse resp;
  // No dataset registered yet.
  EXPECT_EQ(core_->RequestSample(Applicant(), SampleRequest(id), &resp).code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(Register().ok());
  const size_t events = Events().size();

  struct Case {
    std::string what;
    Principal caller;
    v1::RequestSampleRequest request;
    absl::StatusCode code;
  };
  std::vector<Case> cases;
  cases.push_back(
      {"a department", Holder(), SampleRequest(id), absl::StatusCode::kPermissionDenied});
  cases.push_back({"another business entity",
                   Principal::Org("other-co", Role::ROLE_BUSINESS_ENTITY), SampleRequest(id),
                   absl::StatusCode::kPermissionDenied});
  cases.push_back({"another operator", Principal::Org("op-other", Role::ROLE_OPERATOR),
                   SampleRequest(id), absl::StatusCode::kPermissionDenied});
  cases.push_back({"the agency", Agency(), SampleRequest(id), absl::StatusCode::kPermissionDenied});
  cases.push_back({"a draft scenario", Applicant(), SampleRequest(draft.scenario_id()),
                   absl::StatusCode::kFailedPrecondition});
  cases.push_back({"an unknown scenario", Applicant(), SampleRequest("scn-unknown"),
                   absl::StatusCode::kNotFound});
  v1::RequestSampleRequest r = SampleRequest(id);
  r.set_resource_id("r-other");
  cases.push_back(
      {"a resource not covered", Applicant(), r, absl::StatusCode::kFailedPrecondition});
  r = SampleRequest(id);
  r.add_fields("plate");
  cases.push_back({"a field not covered", Applicant(), r, absl::StatusCode::kFailedPrecondition});
  r = SampleRequest(id);
  r.set_size(10001);
  cases.push_back({"over the cap", Applicant(), r, absl::StatusCode::kInvalidArgument});
  r.set_size(0);
  cases.push_back({"size 0", Applicant(), r, absl::StatusCode::kInvalidArgument});
  r = SampleRequest(id);
  r.add_fields("line");
  cases.push_back({"a repeated field", Applicant(), r, absl::StatusCode::kInvalidArgument});
  r = SampleRequest(id);
  r.clear_fields();
  cases.push_back({"no field", Applicant(), r, absl::StatusCode::kInvalidArgument});
  for (const Case& c : cases) {
    EXPECT_EQ(core_->RequestSample(c.caller, c.request, &resp).code(), c.code) << c.what;
  }
  ExpectNothingWritten(events, 0);

  // Suspended: no sample until reinstated.
  v1::SuspendScenarioRequest suspend;
  suspend.set_scenario_id(id);
  suspend.set_version_number(1);
  suspend.set_reason("inspection");
  v1::SuspendScenarioResponse sr;
  ASSERT_TRUE(core_->SuspendScenario(Agency(), suspend, &sr).ok());
  const size_t after_suspension = Events().size();
  EXPECT_THAT(core_->RequestSample(Applicant(), SampleRequest(id), &resp).message(),
              HasSubstr("SUSPENDED"));
  ExpectNothingWritten(after_suspension, 0);
}

TEST_F(ComplianceSamplesTest, ADatasetChangedSinceItsRegistrationIsNotSampled) {
  const v1::Scenario approved = Approved();
  ASSERT_TRUE(Register().ok());
  const size_t events = Events().size();
  dirs_.WriteData("bus/positions.csv", BusCsv(21));
  v1::RequestSampleResponse resp;
  absl::Status s = core_->RequestSample(Applicant(), SampleRequest(approved.scenario_id()), &resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(s.message(), HasSubstr("register it again"));
  ExpectNothingWritten(events, 0);
}

}  // namespace
}  // namespace pdao::compliance
