// OutputSink: the cap, its marker and the tail kept in memory.

#include "worker/output.h"

#include <gtest/gtest.h>

#include "executor_harness.h"

namespace nomad::worker::testing {
namespace {

TEST(TruncationMarker, NamesTheCapInTheLargestExactUnit) {
  EXPECT_EQ(truncation_marker(10 << 20), "\n[nomad-lite: output truncated at 10 MiB]\n");
  EXPECT_EQ(truncation_marker(64 << 10), "\n[nomad-lite: output truncated at 64 KiB]\n");
  EXPECT_EQ(truncation_marker(1000), "\n[nomad-lite: output truncated at 1000 bytes]\n");
  EXPECT_EQ(truncation_marker((1 << 20) + 1),
            "\n[nomad-lite: output truncated at 1048577 bytes]\n");
}

TEST(OutputSink, OutputUpToTheCapExactlyHasNoMarker) {
  TempRoot root;
  OutputSink sink(10, 4);
  sink.set_path(root.dir() / "out");
  sink.write("01234");
  sink.write("56789");
  EXPECT_FALSE(sink.capped());
  EXPECT_EQ(sink.written(), 10u);
  EXPECT_EQ(sink.tail(), "6789");
  EXPECT_TRUE(sink.tail_truncated());
  sink.close();
  EXPECT_EQ(read_file(root.dir() / "out"), "0123456789");
}

TEST(OutputSink, OneByteOverTheCapWritesTheMarkerOnceAndDropsTheRest) {
  TempRoot root;
  OutputSink sink(10, 100);
  sink.set_path(root.dir() / "out");
  sink.write("0123456");
  sink.write("789X");
  sink.write("more that is dropped");
  EXPECT_TRUE(sink.capped());
  std::string expected = "0123456789" + truncation_marker(10);
  EXPECT_EQ(sink.written(), expected.size());
  EXPECT_EQ(sink.tail(), expected);
  EXPECT_TRUE(sink.tail_truncated());
  sink.close();
  EXPECT_EQ(read_file(root.dir() / "out"), expected);
}

TEST(OutputSink, TailFollowsManySmallWrites) {
  TempRoot root;
  OutputSink sink(1 << 20, 3);
  sink.set_path(root.dir() / "out");
  std::string all;
  for (int i = 0; i < 1000; ++i) {
    std::string piece = std::to_string(i);
    sink.write(piece);
    all += piece;
  }
  EXPECT_EQ(sink.tail(), "999");
  EXPECT_EQ(sink.written(), all.size());
  sink.close();
  EXPECT_EQ(read_file(root.dir() / "out"), all);
}

TEST(OutputSink, ShortOutputIsNotTruncated) {
  TempRoot root;
  OutputSink sink(100, 10);
  sink.set_path(root.dir() / "out");
  sink.write("hello");
  EXPECT_EQ(sink.tail(), "hello");
  EXPECT_FALSE(sink.tail_truncated());
}

TEST(OutputSink, NothingWrittenCreatesNoFile) {
  TempRoot root;
  OutputSink sink(100, 10);
  sink.set_path(root.dir() / "out");
  sink.write("");
  sink.close();
  EXPECT_FALSE(std::filesystem::exists(root.dir() / "out"));
  EXPECT_EQ(sink.written(), 0u);
}

TEST(OutputSink, CreateFailureIsRememberedAndTheFileGetsNothingMore) {
  OutputSink sink(100, 10);
  sink.set_path("/nonexistent-dir/out");
  sink.write("lost");
  EXPECT_NE(sink.write_error().find("cannot create /nonexistent-dir/out"), std::string::npos);
  sink.write("ignored");  // no crash
  EXPECT_EQ(sink.written(), 0u);
}

// A full disk (a file that cannot be written) costs the file, not the tail that the finish
// record replicates: the job's output still reaches the cluster.
TEST(OutputSink, TheTailKeepsTheOutputTheFileCouldNotTake) {
  OutputSink small(100, 10);
  small.set_path("/nonexistent-dir/out");
  small.write("out-1\n");
  EXPECT_FALSE(small.write_error().empty());
  EXPECT_EQ(small.tail(), "out-1\n");
  EXPECT_FALSE(small.tail_truncated());

  OutputSink large(100, 4);
  large.set_path("/nonexistent-dir/out");
  large.write("abcdef");
  EXPECT_EQ(large.tail(), "cdef");
  EXPECT_TRUE(large.tail_truncated());
}

}  // namespace
}  // namespace nomad::worker::testing
