/* latephase native kernels: types, includes and per-thread scratch buffers shared by every kernel. Part of the one translation unit native/kernels.c includes. */
#define NAPI_VERSION 8
#include <node_api.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef float v16 __attribute__((vector_size(64), aligned(4)));

static inline v16 load16(const float *p) { return *(const v16 *)p; }
static inline void store16(float *p, v16 v) { *(v16 *)p = v; }

/* Lane masks (a comparison's result: all ones or zero) and selects by them: a where take is set, else b. */
typedef int32_t v16i __attribute__((vector_size(64), aligned(4)));
static inline v16 select16(v16i take, v16 a, v16 b) { return (v16)((take & (v16i)a) | (~take & (v16i)b)); }
static inline v16i select16i(v16i take, v16i a, v16i b) { return (take & a) | (~take & b); }

/* Geometry of a 2-D convolution, NHWC input [n, h, w, c], filter [kh, kw, c, o], output [n, oh, ow, o]. */
typedef struct {
  int n, h, w, c, oh, ow, o, kh, kw, sh, sw, dh, dw, pt, pl;
} conv_geometry;

/*
 * Per-thread scratch buffers, grown as needed and kept: a fresh malloc of a panel per call was an
 * mmap and munmap per call (above glibc's threshold), page faults every time, and with data-parallel
 * workers two threads contending for the process's memory map. Slots: 0 panels, 1 transformed
 * filters, 2 a short last tile, 3 Winograd-transformed filters.
 */
#define SCRATCH_SLOTS 4
static __thread float *scratch_buffers[SCRATCH_SLOTS];
static __thread size_t scratch_capacity[SCRATCH_SLOTS];

static float *scratch(int slot, size_t floats) {
  if (scratch_capacity[slot] < floats) {
    free(scratch_buffers[slot]);
    scratch_buffers[slot] = malloc(sizeof(float) * floats);
    scratch_capacity[slot] = scratch_buffers[slot] ? floats : 0;
  }
  return scratch_buffers[slot];
}

static void free_scratch(void) {
  for (int i = 0; i < SCRATCH_SLOTS; i++) free(scratch_buffers[i]), scratch_buffers[i] = NULL, scratch_capacity[i] = 0;
}
