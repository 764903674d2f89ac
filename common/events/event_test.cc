#include "common/events/event.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

TEST(EventProducersTest, EveryServiceWhoseEventsTheEnvelopeCarries) {
  // The envelope's payload holds registry, authorization, compliance, pricing, audit and
  // disclosure events today (in field-number order); a new service that adds its events file to
  // the envelope appears here without any edit in common/.
  EXPECT_THAT(EventProducers(), ::testing::ElementsAre("registry", "authorization", "compliance",
                                                       "pricing", "audit", "disclosure"));
}

TEST(EventProducersTest, TopicsFollowTheNamingRule) {
  EXPECT_EQ(TopicOf("registry"), "pdao.registry.v1");
}

TEST(NewUuidTest, IsAVersion4Uuid) {
  const std::string id = NewUuid();
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[14], '4');
  EXPECT_NE(NewUuid(), id);
}

}  // namespace
}  // namespace pdao
