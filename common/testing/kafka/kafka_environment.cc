#include "common/testing/kafka/kafka_environment.h"

#include <iostream>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/bus/kafka_bus.h"

namespace pdao::testing {

KafkaEnvironment* KafkaEnvironment::Register(std::vector<std::string> topics) {
  auto* env = new KafkaEnvironment(std::move(topics));
  ::testing::AddGlobalTestEnvironment(env);
  return env;
}

void KafkaEnvironment::SetUp() {
  auto broker = std::make_unique<KafkaBroker>();
  const absl::Time start = absl::Now();
  absl::Status s = broker->Start();
  ASSERT_TRUE(s.ok()) << s;
  std::cerr << "kafka broker at " << broker->bootstrap() << " ready in "
            << absl::FormatDuration(absl::Now() - start) << "\n";
  if (!topics_.empty()) {
    KafkaBusOptions o;
    o.bootstrap_servers = broker->bootstrap();
    auto admin = KafkaBus::Create(o);
    ASSERT_TRUE(admin.ok()) << admin.status();
    s = (*admin)->EnsureTopics(topics_, 3);
    ASSERT_TRUE(s.ok()) << s;
  }
  broker_ = std::move(broker);
}

void KafkaEnvironment::TearDown() { broker_.reset(); }

}  // namespace pdao::testing
