#include "storage/sync_failure.h"

namespace nomad::storage {

std::string sync_failure_message(const Status& failure) {
  return failure.message() +
         "; a failed fsync cannot be retried safely (the kernel may have dropped the data it "
         "could not write), so the node stops; check the disk, then restart the node to "
         "recover from its WAL";
}

}  // namespace nomad::storage
