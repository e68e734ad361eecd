#include "server/disk_stores.h"

namespace nomad::server {

Status WalLogStore::recover(raft::Index snapshot_index, storage::WalContents* contents) {
  Status status;
  wal_ = storage::Wal::open(dir_, options_, snapshot_index, contents, &status);
  return wal_ ? Status::ok() : status;
}

}  // namespace nomad::server
