// How a concurrent zero fill of a fresh segment slows the group commits of the CommitLog:
// one thread loops `pwrite` of 145 KiB (a group commit at 256 in flight) + `fdatasync` on a
// pre-written 64 MiB file for 0.5 s per mode, while another thread zero-fills fresh
// fallocated 256 MiB files with O_DIRECT writes: not at all ("plain"), 4 MiB writes back to
// back (how the store pre-writes a segment), 1 MiB writes back to back, 1 MiB writes with a
// 2 ms pause after each. Prints microseconds per pwrite + fdatasync, 4 rounds.
//
//   scripts/bench-fsync-zero-fill.sh [DIR]     (builds this file with cc; DIR defaults to /tmp)
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *dir;
static volatile int stop;
static size_t zero_chunk;
static long zero_pause_us;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *zero_fill(void *arg) {
  (void)arg;
  void *buf;
  if (posix_memalign(&buf, 4096, zero_chunk) != 0) return NULL;
  memset(buf, 0, zero_chunk);
  int made = 0;
  char path[4096];
  while (!stop) {
    snprintf(path, sizeof path, "%s/fsync-zero-fill.z%d", dir, made++);
    int fd = open(path, O_RDWR | O_CREAT | O_DIRECT, 0644);
    if (fd < 0) { perror("open O_DIRECT"); break; }
    posix_fallocate(fd, 0, 256 << 20);
    for (off_t at = 0; at < (256 << 20) && !stop; at += zero_chunk) {
      if (pwrite(fd, buf, zero_chunk, at) < 0) { perror("pwrite"); break; }
      if (zero_pause_us) usleep(zero_pause_us);
    }
    fsync(fd);
    close(fd);
  }
  for (int i = 0; i < made; i++) {
    snprintf(path, sizeof path, "%s/fsync-zero-fill.z%d", dir, i);
    unlink(path);
  }
  free(buf);
  return NULL;
}

int main(int argc, char **argv) {
  dir = argc > 1 ? argv[1] : "/tmp";
  const size_t group = 145 * 1024, len = 64 << 20;
  char path[4096];
  snprintf(path, sizeof path, "%s/fsync-zero-fill.data", dir);
  int fd = open(path, O_RDWR | O_CREAT, 0644);
  if (fd < 0) { perror("open"); return 1; }
  posix_fallocate(fd, 0, len);
  char *zeros = calloc(1, 1 << 20), *bytes = malloc(group);
  for (size_t at = 0; at < len; at += 1 << 20) pwrite(fd, zeros, 1 << 20, at);
  fsync(fd);
  memset(bytes, 7, group);
  const char *modes[] = {"plain", "zero-fill 4 MiB", "zero-fill 1 MiB", "zero-fill 1 MiB + 2 ms"};
  const size_t chunks[] = {0, 4 << 20, 1 << 20, 1 << 20};
  const long pauses[] = {0, 0, 0, 2000};
  for (int round = 0; round < 4; round++) {
    for (int m = 0; m < 4; m++) {
      pthread_t filler;
      stop = 0;
      if (chunks[m]) {
        zero_chunk = chunks[m];
        zero_pause_us = pauses[m];
        pthread_create(&filler, NULL, zero_fill, NULL);
      }
      double start = now();
      long n = 0;
      size_t at = 0;
      while (now() - start < 0.5) {
        if (at + group > len) at = 0;
        pwrite(fd, bytes, group, at);
        fdatasync(fd);
        at += group;
        n++;
      }
      double per = (now() - start) / n * 1e6;
      stop = 1;
      if (chunks[m]) pthread_join(filler, NULL);
      printf("%s %.0f us%s", modes[m], per, m == 3 ? "\n" : " | ");
    }
    fflush(stdout);
  }
  close(fd);
  unlink(path);
  return 0;
}
