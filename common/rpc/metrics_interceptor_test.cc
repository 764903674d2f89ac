#include "common/rpc/metrics_interceptor.h"

#include <prometheus/text_serializer.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace pdao {
namespace {

using ::testing::HasSubstr;

std::string Scrape(prometheus::Registry& registry) {
  return prometheus::TextSerializer().Serialize(registry.Collect());
}

TEST(GrpcServerMetricsTest, CountsByCodeAndObservesLatency) {
  prometheus::Registry registry;
  GrpcServerMetrics metrics(registry);
  metrics.Record("/pdao.testing.v1.EchoService/Echo", grpc::StatusCode::OK, absl::Milliseconds(3));
  metrics.Record("/pdao.testing.v1.EchoService/Echo", grpc::StatusCode::OK, absl::Milliseconds(4));
  metrics.Record("/pdao.testing.v1.EchoService/Echo", grpc::StatusCode::PERMISSION_DENIED,
                 absl::Milliseconds(1));
  const std::string text = Scrape(registry);
  EXPECT_THAT(text, HasSubstr("pdao_grpc_server_handled_total{code=\"OK\",method=\"Echo\","
                              "service=\"pdao.testing.v1.EchoService\"} 2"));
  EXPECT_THAT(text, HasSubstr("pdao_grpc_server_handled_total{code=\"PERMISSION_DENIED\","
                              "method=\"Echo\",service=\"pdao.testing.v1.EchoService\"} 1"));
  EXPECT_THAT(text, HasSubstr("pdao_grpc_server_handling_seconds_count{method=\"Echo\","
                              "service=\"pdao.testing.v1.EchoService\"} 3"));
}

TEST(GrpcServerMetricsTest, TwoInstancesOnOneRegistryShareFamilies) {
  prometheus::Registry registry;
  GrpcServerMetrics a(registry);
  GrpcServerMetrics b(registry);
  a.Record("/s.S/M", grpc::StatusCode::OK, absl::ZeroDuration());
  b.Record("/s.S/M", grpc::StatusCode::OK, absl::ZeroDuration());
  EXPECT_THAT(Scrape(registry), HasSubstr("{code=\"OK\",method=\"M\",service=\"s.S\"} 2"));
}

}  // namespace
}  // namespace pdao
