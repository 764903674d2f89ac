// grpc.reflection.v1.ServerReflection, the reflection API that current clients (grpcurl, buf curl)
// ask for first. gRPC 1.51 ships only the v1alpha service (its ProtoServerReflectionPlugin); this
// serves v1 over the same descriptor pool (the generated one: every proto linked into the binary,
// including grpc.health.v1 and grpc.reflection.v1 from proto/CMakeLists.txt), answering the same
// requests with the same wire format.
//
//   builder.SetOption(...)  // common/rpc/server.cc installs ReflectionV1Plugin next to v1alpha
#pragma once

#include <grpcpp/impl/server_builder_plugin.h>

#include <memory>
#include <string>

namespace pdao {

// A ServerBuilderPlugin that registers grpc.reflection.v1.ServerReflection on the server being
// built; its list_services answer is the server's own service list, read at request time.
class ReflectionV1Plugin final : public grpc::ServerBuilderPlugin {
 public:
  ReflectionV1Plugin();
  ~ReflectionV1Plugin() override;

  // grpc::ServerBuilderPlugin
  std::string name() override { return "pdao_reflection_v1"; }
  void InitServer(grpc::ServerInitializer* si) override;
  void Finish(grpc::ServerInitializer* si) override;
  void ChangeArguments(const std::string& name, void* value) override {}
  bool has_sync_methods() const override { return true; }
  bool has_async_methods() const override { return false; }

  class Service;

 private:
  std::shared_ptr<Service> service_;
};

}  // namespace pdao
