// Buffered vs O_DIRECT group commits on a pre-written file, as the CommitLog would issue them
// under SYNC_FLUSH at 256 in flight: consecutive groups of 150 KiB + 77 bytes (records do not end
// on page boundaries), each written and then made durable with `fdatasync`:
//   buffered: `pwrite` of the group into the page cache, padded to the end of its last page
//             (the store's commits are: a partly written page missing from the cache would
//             first be read from the device), `fdatasync` writes it back;
//   direct:   `pwrite` through an O_DIRECT descriptor of the pages the group touches, from a
//             page-aligned copy of the log (the page the group starts in is written again,
//             with the previous group's bytes in front), then `fdatasync` (device cache flush).
// Prints microseconds in the write and in the sync per group, and MB/s of log bytes, for 1 s per
// mode, 3 rounds.
//
//   scripts/bench-direct-write.sh [DIR]     (builds this file with cc; DIR defaults to /tmp)
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/tmp";
  const size_t len = 256 << 20, group = 150 * 1024 + 77;
  char path[4096];
  snprintf(path, sizeof path, "%s/direct-write.data", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) { perror("open"); return 1; }
  int direct = open(path, O_RDWR | O_DIRECT);
  if (direct < 0) { perror("open O_DIRECT"); return 1; }
  char *log;
  if (posix_memalign((void **)&log, 4096, len) != 0) return 1;
  memset(log, 0, len);
  posix_fallocate(fd, 0, len);
  for (size_t at = 0; at < len; at += 4 << 20) pwrite(direct, log, 4 << 20, at);
  fsync(fd);
  memset(log, 7, len);
  for (int round = 0; round < 3; round++) {
    for (int mode = 0; mode < 2; mode++) {
      double start = now(), in_write = 0, in_sync = 0;
      long n = 0;
      size_t pos = 0;
      while (now() - start < 1.0) {
        if (pos + group + 8192 > len) pos = 0;
        size_t end = pos + group, page = pos & ~4095UL, padded = (end + 4095) & ~4095UL;
        double a = now();
        ssize_t w = mode == 0 ? pwrite(fd, log + pos, padded - pos, pos)
                              : pwrite(direct, log + page, padded - page, page);
        double b = now();
        if (w < 0 || fdatasync(fd) != 0) { perror("write/sync"); return 1; }
        in_write += b - a;
        in_sync += now() - b;
        pos = end;
        n++;
      }
      double secs = now() - start;
      printf("%-8s %6.0f us write + %4.0f us sync per group, %5.0f MB/s%s", mode ? "direct" : "buffered",
             in_write / n * 1e6, in_sync / n * 1e6, n * group / secs / 1e6, mode ? "\n" : " | ");
    }
    fflush(stdout);
  }
  close(direct);
  close(fd);
  unlink(path);
  return 0;
}
