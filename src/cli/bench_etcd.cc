#include "cli/bench_etcd.h"

#include <memory>
#include <utility>

#include "cli/bench.h"
#include "cli/commands.h"
#include "proto/etcd_kv.grpc.pb.h"

namespace nomad::cli {
namespace {

// etcd's KV.Put of a fresh key with a value of `payload` bytes; no lease, no previous value.
class EtcdPutRpc : public BenchRpc {
 public:
  explicit EtcdPutRpc(size_t payload)
      : value_(payload, 'x'), key_prefix_("nomad-lite-bench/" + random_idempotency_key()) {}

  std::unique_ptr<Stub> make_stub(std::shared_ptr<grpc::Channel> channel) override {
    auto stub = std::make_unique<KvStub>();
    stub->stub = etcdserverpb::KV::NewStub(std::move(channel));
    return stub;
  }

  std::unique_ptr<Request> make_request(uint64_t sequence) override {
    auto request = std::make_unique<PutRequest>();
    request->request.set_key(key_prefix_ + "/" + std::to_string(sequence));
    request->request.set_value(value_);
    return request;
  }

  void send(Stub& stub, Request& request, grpc::ClientContext* context,
            std::function<void(grpc::Status)> done) override {
    auto& put = static_cast<PutRequest&>(request);
    static_cast<KvStub&>(stub).stub->async()->Put(context, &put.request, &put.response,
                                                  std::move(done));
  }

 private:
  struct KvStub : Stub {
    std::unique_ptr<etcdserverpb::KV::Stub> stub;
  };
  struct PutRequest : Request {
    etcdserverpb::PutRequest request;
    etcdserverpb::PutResponse response;
  };

  const std::string value_;
  const std::string key_prefix_;
};

}  // namespace

int run_etcd_bench(const BenchOptions& options, const std::vector<std::string>& addresses,
                   std::ostream& out, std::ostream& err) {
  EtcdPutRpc rpc(options.payload);
  std::string first_error;
  BenchReport report = run_load(rpc, options, addresses, &first_error);
  return print_bench_report(std::move(report), first_error, "puts", out, err);
}

}  // namespace nomad::cli
