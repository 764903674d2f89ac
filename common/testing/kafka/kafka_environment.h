// One real Kafka broker per test binary (KafkaBroker, kafka_broker.h), as a gtest global
// Environment: a JVM start takes seconds, so a binary starts the broker once before its first test
// and stops it after its last. `topics` are created up front (3 partitions each) so that
// consumers are assigned their partitions from the start. Usage, at namespace scope in the test:
//   const pdao::testing::KafkaEnvironment* const kKafka =
//       pdao::testing::KafkaEnvironment::Register({"pdao.registry.v1"});
//   ... kKafka->broker()->bootstrap() ...
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/testing/kafka/kafka_broker.h"
#include "gtest/gtest.h"

namespace pdao::testing {

class KafkaEnvironment final : public ::testing::Environment {
 public:
  // Registers a new environment with gtest (which owns it) and returns it.
  static KafkaEnvironment* Register(std::vector<std::string> topics = {});

  void SetUp() override;
  void TearDown() override;
  // The running broker; null before SetUp, after TearDown, and when it failed to start (SetUp's
  // failed assertion says why).
  KafkaBroker* broker() const { return broker_.get(); }

 private:
  explicit KafkaEnvironment(std::vector<std::string> topics) : topics_(std::move(topics)) {}
  const std::vector<std::string> topics_;
  std::unique_ptr<KafkaBroker> broker_;
};

}  // namespace pdao::testing
