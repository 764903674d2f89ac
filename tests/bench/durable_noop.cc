#include "tests/bench/durable_noop.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>

#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/file/file.h"
#include "common/rpc/channel.h"
#include "common/store/sqlite_store.h"
#include "tests/bench/grpc_load.h"

namespace pdao::bench {
namespace {

// One unary call over the generic bidi API: read the request, commit, answer empty, finish.
class Call final : public grpc::ServerGenericBidiReactor {
 public:
  Call(SqliteStore& store, std::atomic<uint64_t>& seq) : store_(store), seq_(seq) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request"));
      return;
    }
    const CommitRequest commit = ProbeCommit(absl::StrCat("noop-", seq_.fetch_add(1)));
    if (absl::StatusOr<CommitResult> r = store_.Commit(commit); !r.ok()) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, std::string(r.status().message())));
      return;
    }
    grpc::Slice empty("", 0);  // a ByteBuffer with no slice at all is not a message
    response_ = grpc::ByteBuffer(&empty, 1);
    StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
  }

  void OnDone() override { delete this; }

 private:
  SqliteStore& store_;
  std::atomic<uint64_t>& seq_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;  // zero bytes: parses as any empty response message
};

class Service final : public grpc::CallbackGenericService {
 public:
  explicit Service(SqliteStore& store) : store_(store) {}
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext*) override {
    return new Call(store_, seq_);
  }

 private:
  SqliteStore& store_;
  std::atomic<uint64_t> seq_{0};
};

}  // namespace

struct DurableNoopServer::Impl {
  std::unique_ptr<SqliteStore> store;
  std::unique_ptr<Service> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
};

DurableNoopServer::DurableNoopServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DurableNoopServer::~DurableNoopServer() {
  if (impl_->server != nullptr) impl_->server->Shutdown();
}

int DurableNoopServer::port() const { return impl_->port; }

bench::Issuer DurableNoopServer::Client(const std::string& ca_pem, const std::string& cert_pem,
                                        const std::string& key_pem) const {
  auto stub = std::make_shared<grpc::GenericStub>(
      MakeMtlsChannelFromPem(absl::StrCat("127.0.0.1:", impl_->port), ca_pem, cert_pem, key_pem));
  return [stub](std::function<void(absl::Status)> done) {
    struct Call {
      grpc::ClientContext ctx;
      grpc::ByteBuffer request;
      grpc::ByteBuffer response;
    };
    auto* call = new Call;
    grpc::Slice empty("", 0);
    call->request = grpc::ByteBuffer(&empty, 1);
    WithDeadline(call->ctx, absl::Seconds(10));
    stub->UnaryCall(&call->ctx, "/pdao.bench.v1.DurableNoop/Call", grpc::StubOptions(),
                    &call->request, &call->response,
                    [call, done = std::move(done)](const grpc::Status& s) {
                      delete call;
                      done(s.ok() ? absl::OkStatus() : absl::UnknownError(s.error_message()));
                    });
  };
}

absl::StatusOr<std::unique_ptr<DurableNoopServer>> DurableNoopServer::Start(
    const std::string& tls_dir, const std::string& probe_db) {
  auto impl = std::make_unique<Impl>();
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(probe_db);
  if (!store.ok()) return store.status();
  impl->store = *std::move(store);
  absl::StatusOr<std::string> ca = file::ReadFile(tls_dir + "/ca.pem");
  absl::StatusOr<std::string> cert = file::ReadFile(tls_dir + "/server.crt");
  absl::StatusOr<std::string> key = file::ReadFile(tls_dir + "/server.key");
  for (const auto* s : {&ca, &cert, &key}) {
    if (!s->ok()) return s->status();
  }
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  ssl.pem_root_certs = *ca;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  impl->service = std::make_unique<Service>(*impl->store);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::SslServerCredentials(ssl), &impl->port);
  builder.RegisterCallbackGenericService(impl->service.get());
  impl->server = builder.BuildAndStart();
  if (impl->server == nullptr || impl->port == 0) {
    return absl::UnavailableError("the durable no-op server cannot listen on 127.0.0.1");
  }
  return std::unique_ptr<DurableNoopServer>(new DurableNoopServer(std::move(impl)));
}

}  // namespace pdao::bench
