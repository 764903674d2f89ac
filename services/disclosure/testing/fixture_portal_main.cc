// pdao_disclosure_fixture_portal: the public portal serving the demo snapshot
// (testing/sample_snapshot.h) for the checks a harvester and a browser make
// (testing/portal_checks/*.py) and for the load benchmark (tests/bench/portal_bench.sh). Not a
// product binary: the real portal serves the projection's snapshots (pdao-disclosure,
// pdao-standalone --portal-listen).
//
//   pdao_disclosure_fixture_portal [--listen HOST:PORT] [--public-url URL] [--snapshots N]
//                                  [--write-dir DIR]
//
// Prints "listening on PORT" once serving, then serves until stdin closes (or SIGTERM). With
// --write-dir it writes every rendered path below DIR instead (/ -> DIR/index.html, /en/ ->
// DIR/en/index.html) and exits: the same bytes for nginx in the benchmark. --snapshots N (1..60,
// default 3) publishes N snapshots so that the Atom feed has a history.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/clock/clock.h"
#include "common/file/file.h"
#include "services/disclosure/portal_server.h"
#include "services/disclosure/render/render.h"
#include "services/disclosure/testing/fake_audit_reader.h"
#include "services/disclosure/testing/memory_snapshot_source.h"
#include "services/disclosure/testing/sample_snapshot.h"

namespace pdao::disclosure {
namespace {

int Run(int argc, char** argv) {
  std::string listen = "127.0.0.1:0", public_url, write_dir;
  int snapshots = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--listen") {
      listen = value;
    } else if (flag == "--public-url") {
      public_url = value;
    } else if (flag == "--write-dir") {
      write_dir = value;
    } else if (flag == "--snapshots" && absl::SimpleAtoi(value, &snapshots) && snapshots >= 1 &&
               snapshots <= 60) {
    } else {
      std::cerr << "usage: see the header of fixture_portal_main.cc (bad " << flag << ")\n";
      return 2;
    }
  }
  testing::MemorySnapshotSource source;
  std::vector<std::shared_ptr<const PublishedSnapshot>> newest_first;
  for (int seq = 1; seq <= snapshots; ++seq) {
    v1::Snapshot s = testing::SampleSnapshot(seq);
    s.mutable_built_at()->set_seconds(s.built_at().seconds() -
                                      static_cast<int64_t>(snapshots - seq) * 3600);
    // Earlier snapshots lack the last resource and the evaluations: the feed shows them added.
    if (seq < snapshots) s.mutable_agency()->mutable_resources()->RemoveLast();
    if (seq < snapshots - 1) s.clear_evaluations();
    auto published = testing::SamplePublished(std::move(s));
    source.Add(published);
    newest_first.insert(newest_first.begin(), published);
  }
  if (!write_dir.empty()) {
    auto documents = render::RenderPortal(
        newest_first, {.public_url = public_url.empty() ? "http://127.0.0.1" : public_url});
    if (!documents.ok()) {
      std::cerr << documents.status() << "\n";
      return 1;
    }
    for (const auto& [path, doc] : *documents) {
      std::string file = write_dir + path;
      if (file.back() == '/') file += "index.html";
      std::filesystem::create_directories(std::filesystem::path(file).parent_path());
      if (absl::Status s = file::WriteFileAtomically(file, doc.body, 0644); !s.ok()) {
        std::cerr << s << "\n";
        return 1;
      }
    }
    std::cout << "wrote " << documents->size() << " files below " << write_dir << std::endl;
    return 0;
  }
  testing::FakeAuditReader audit;
  audit.SetCheckpoint("pdao.fixture/audit\n1234\nroot\n\n— pdao.fixture/audit sig\n", 1234);
  SystemClock clock;
  DisclosureCore core(audit, clock, {});
  // The benchmark measures serving, not the per-client limit: allow a lot from one address.
  auto portal = PortalServer::Start(listen, core, clock,
                                    {.rate_per_second = 1e6, .burst = 1e6, .max_clients = 1000},
                                    &source, public_url);
  if (!portal.ok()) {
    std::cerr << portal.status() << "\n";
    return 1;
  }
  std::cout << "listening on " << (*portal)->port() << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
  }
  return 0;
}

}  // namespace
}  // namespace pdao::disclosure

int main(int argc, char** argv) { return pdao::disclosure::Run(argc, argv); }
