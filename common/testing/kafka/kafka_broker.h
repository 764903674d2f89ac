// KafkaBroker: a real single-node Apache Kafka broker (KRaft, broker+controller in one JVM) on
// loopback ports, for integration tests (DESIGN.md: integration tests use the real Kafka).
//
// The broker's jars come from env PDAO_KAFKA_LIBS, else
// ${PDAO_CACHE:-$HOME/.cache/pdao}/kafka-<kKafkaVersion>/libs, which tools/kafka/fetch.sh fills.
// Java 17 must be on PATH (or $JAVA_HOME/bin/java).
//
// When env PDAO_TEST_KAFKA=host:port is set, that external broker is used instead: Start() only
// waits for it to answer, and Stop()/Restart() return UNIMPLEMENTED (tests that need an outage
// skip themselves when external() is true).
//
// Start a broker once per test binary (a global ::testing::Environment): the JVM takes seconds.
// Not thread-safe; call from one thread (the child is tied to the starting thread's lifetime
// through PR_SET_PDEATHSIG, so a crashed test does not leave a JVM behind).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace pdao::testing {

inline constexpr char kKafkaVersion[] = "4.1.1";  // keep in sync with tools/kafka/pom.xml

struct KafkaBrokerOptions {
  // Empty: env PDAO_KAFKA_LIBS, else the cache path above.
  std::string libs_dir;
  // Default partitions of auto-created topics.
  int partitions = 3;
  // Bound on the wait until the broker answers a metadata request.
  absl::Duration start_timeout = absl::Seconds(90);
  // Stop(): wait this long after SIGTERM before SIGKILL.
  absl::Duration stop_timeout = absl::Seconds(20);
  // JVM heap.
  std::string max_heap = "768m";
};

class KafkaBroker {
 public:
  explicit KafkaBroker(KafkaBrokerOptions options = {});
  // Kills the broker (SIGKILL: its data is discarded) and removes its data directory.
  ~KafkaBroker();

  KafkaBroker(const KafkaBroker&) = delete;
  KafkaBroker& operator=(const KafkaBroker&) = delete;

  // First call: picks two free loopback ports, writes server.properties in a new temp dir, formats
  // the storage, launches the broker and waits until it answers a metadata request; when a port
  // was taken before the broker bound it, starts again on new ports (common/testing/ports.h).
  // Later calls (after Stop) start it again on the same ports and data. FAILED_PRECONDITION when
  // the jars are missing (the message says to run tools/kafka/fetch.sh) or java cannot be run;
  // DEADLINE_EXCEEDED when it does not answer within start_timeout (the message carries the tail
  // of its log); INTERNAL when the JVM exits during start.
  absl::Status Start();

  // SIGTERM, then SIGKILL after stop_timeout. Keeps ports and data. OK when not running.
  absl::Status Stop();

  // Stop() then Start() on the same ports and data directory.
  absl::Status Restart();

  // "127.0.0.1:<port>" (or PDAO_TEST_KAFKA). Empty before the first Start().
  const std::string& bootstrap() const { return bootstrap_; }
  bool external() const { return external_; }
  bool running() const { return pid_ > 0; }
  // The broker's stdout/stderr (empty for an external broker).
  std::string log_path() const;
  // The last `max_bytes` of the broker log, for failure messages.
  std::string LogTail(size_t max_bytes = 4000) const;

 private:
  absl::Status Prepare(int port, int controller_port);  // first Start(): dir, properties, format
  absl::Status Launch();                                // fork/exec the JVM
  absl::Status LaunchAndWait();                         // Launch, WaitUntilReady, Stop on failure
  absl::Status WaitUntilReady();                        // metadata request via librdkafka
  absl::Status RunToCompletion(const std::vector<std::string>& argv, absl::Duration timeout);
  std::vector<std::string> JavaArgv(const std::vector<std::string>& main_and_args) const;

  KafkaBrokerOptions options_;
  bool external_ = false;
  bool prepared_ = false;
  std::string libs_dir_;
  std::string dir_;  // temp dir: server.properties, data/, broker.log
  int port_ = 0;
  int controller_port_ = 0;
  std::string bootstrap_;
  pid_t pid_ = -1;
};

}  // namespace pdao::testing
