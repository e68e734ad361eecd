#include "api/internal_forwarder.h"

#include "transport/security.h"

namespace nomad::api {

void InternalForwarder::prepare(grpc::ClientContext* context, const Header& header) {
  context->set_deadline(std::chrono::system_clock::now() + kTimeout);
  transport::add_call_credentials(context);
  if (!header.value.empty()) context->AddMetadata(header.name, header.value);
}

grpc::Status InternalForwarder::named(const std::string& address, const grpc::Status& status) {
  if (status.ok()) return status;
  return {status.error_code(), "the leader at " + address + " answered: " + status.error_message()};
}

}  // namespace nomad::api
