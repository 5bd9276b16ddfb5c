/*
 * The library we did not use: oneDNN (Debian's libdnnl-dev, the library PyTorch's CPU convolutions
 * run on) against latephase's native kernels on WRN-16-4's convolution shapes at batch 64: forward,
 * input gradient and filter gradient, NHWC activations and HWIO filters on both sides (oneDNN's
 * direct algorithm, as PyTorch calls it), each the median of 15 runs after 3. Threads: latephase's
 * pool is sized by argv[1]; oneDNN's OpenMP by OMP_NUM_THREADS (bench/run.ts sets both alike).
 * Prints one JSON line per shape and operation. Built by bench/run.ts: cc -O3 -march=native ... -ldnnl.
 */
#include "../../native/kernels/common.h"
#include "../../native/kernels/threadPool.c"
#include "../../native/kernels/im2col.c"
#include "../../native/kernels/winograd.c"
#include "../../native/kernels/filterGradientSmall.c"
#include "../../native/kernels/winogradGradient.c"
#include "../../native/kernels/convolution.c"
#include <dnnl.h>
#include <time.h>

#define CHECK(call)                                                                                                                        \
  do {                                                                                                                                     \
    dnnl_status_t s_ = (call);                                                                                                             \
    if (s_ != dnnl_success) {                                                                                                              \
      fprintf(stderr, "oneDNN: %s failed (%d)\n", #call, (int)s_);                                                                         \
      exit(1);                                                                                                                             \
    }                                                                                                                                      \
  } while (0)

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b) {
  return *(const double *)a < *(const double *)b ? -1 : *(const double *)a > *(const double *)b;
}

#define RUNS 15
#define WARMUP 3

/* Median time (ms) of RUNS calls of `call` after WARMUP. */
#define MEDIAN_MS(out, call)                                                                                                               \
  do {                                                                                                                                     \
    double t_[RUNS];                                                                                                                       \
    for (int i_ = 0; i_ < WARMUP + RUNS; i_++) {                                                                                           \
      const double s_ = now_ms();                                                                                                          \
      call;                                                                                                                                \
      if (i_ >= WARMUP) t_[i_ - WARMUP] = now_ms() - s_;                                                                                   \
    }                                                                                                                                      \
    qsort(t_, RUNS, sizeof(double), cmp);                                                                                                  \
    out = t_[RUNS / 2];                                                                                                                    \
  } while (0)

static float *filled(size_t n) {
  float *p = malloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) p[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
  return p;
}

static dnnl_memory_t memory(dnnl_engine_t engine, const dnnl_memory_desc_t *md, void *data) {
  dnnl_memory_t m;
  CHECK(dnnl_memory_create(&m, md, engine, data));
  return m;
}

static void run_primitive(dnnl_primitive_t p, dnnl_stream_t stream, int nargs, const dnnl_exec_arg_t *args) {
  CHECK(dnnl_primitive_execute(p, stream, nargs, args));
  CHECK(dnnl_stream_wait(stream));
}

/* A buffer for what a primitive descriptor wants under `what` (its own layout where created with format any). */
static dnnl_memory_t queried(dnnl_engine_t engine, const_dnnl_primitive_desc_t pd, dnnl_query_t what, void **keep) {
  const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, what, 0);
  *keep = filled(dnnl_memory_desc_get_size(md) / 4);
  return memory(engine, md, *keep);
}

/*
 * oneDNN's forward, input and filter gradient on one shape, each timed alone, with activations in
 * `act` and filters in `filt`: NHWC / HWIO (the layouts our tensors have: oneDNN picks its GEMM
 * path), or format any (the blocked nChw16c-style layouts it prefers; the reorders from NHWC are not
 * timed). The direct algorithm, as PyTorch calls it. Buffers hold arbitrary values: only time counts.
 */
static void onednn(dnnl_engine_t engine, dnnl_stream_t stream, int n, int h, int c, int o, int k, int s, dnnl_format_tag_t act,
                   dnnl_format_tag_t filt, double out[3], const char *impl[3]) {
  const int pad = k / 2, oh = (h + 2 * pad - k) / s + 1;
  dnnl_memory_desc_t src, wei, dst;
  dnnl_dims_t src_dims = {n, c, h, h}, wei_dims = {o, c, k, k}, dst_dims = {n, o, oh, oh};
  CHECK(dnnl_memory_desc_init_by_tag(&src, 4, src_dims, dnnl_f32, act));
  CHECK(dnnl_memory_desc_init_by_tag(&wei, 4, wei_dims, dnnl_f32, filt));
  CHECK(dnnl_memory_desc_init_by_tag(&dst, 4, dst_dims, dnnl_f32, act));
  dnnl_dims_t strides = {s, s}, pl = {pad, pad}, pr = {pad, pad};
  dnnl_convolution_desc_t fd, bdd, bwd;
  CHECK(dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &src, &wei, NULL, &dst, strides, pl, pr));
  CHECK(dnnl_convolution_backward_data_desc_init(&bdd, dnnl_convolution_direct, &src, &wei, &dst, strides, pl, pr));
  CHECK(dnnl_convolution_backward_weights_desc_init(&bwd, dnnl_convolution_direct, &src, &wei, NULL, &dst, strides, pl, pr));
  dnnl_primitive_desc_t pds[3];
  CHECK(dnnl_primitive_desc_create(&pds[0], &fd, NULL, engine, NULL));
  CHECK(dnnl_primitive_desc_create(&pds[1], &bdd, NULL, engine, pds[0]));
  CHECK(dnnl_primitive_desc_create(&pds[2], &bwd, NULL, engine, pds[0]));
  const dnnl_query_t args[3][3] = {{dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md},
                                   {dnnl_query_diff_dst_md, dnnl_query_weights_md, dnnl_query_diff_src_md},
                                   {dnnl_query_src_md, dnnl_query_diff_dst_md, dnnl_query_diff_weights_md}};
  const int names[3][3] = {{DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST},
                           {DNNL_ARG_DIFF_DST, DNNL_ARG_WEIGHTS, DNNL_ARG_DIFF_SRC},
                           {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS}};
  for (int op = 0; op < 3; op++) {
    dnnl_primitive_t p;
    CHECK(dnnl_primitive_create(&p, pds[op]));
    void *bufs[3];
    dnnl_exec_arg_t a[3];
    for (int i = 0; i < 3; i++) a[i] = (dnnl_exec_arg_t){names[op][i], queried(engine, pds[op], args[op][i], &bufs[i])};
    MEDIAN_MS(out[op], run_primitive(p, stream, 3, a));
    CHECK(dnnl_primitive_desc_query(pds[op], dnnl_query_impl_info_str, 0, &impl[op]));
    for (int i = 0; i < 3; i++) dnnl_memory_destroy(a[i].memory), free(bufs[i]);
    dnnl_primitive_destroy(p);
  }
  /* the descriptors stay alive: impl[] points into them (a bench process, freed at exit) */
}

/* Ours against oneDNN in NHWC and in its blocked layouts on one shape: a JSON line per operation. */
static void shape(dnnl_engine_t engine, dnnl_stream_t stream, int n, int h, int c, int o, int k, int s) {
  const int pad = k / 2, oh = (h + 2 * pad - k) / s + 1;
  conv_geometry g = {.n = n,
                     .h = h,
                     .w = h,
                     .c = c,
                     .oh = oh,
                     .ow = oh,
                     .o = o,
                     .kh = k,
                     .kw = k,
                     .sh = s,
                     .sw = s,
                     .dh = 1,
                     .dw = 1,
                     .pt = pad,
                     .pl = pad};
  const size_t nx = (size_t)n * h * h * c, nw = (size_t)k * k * c * o, ny = (size_t)n * oh * oh * o;
  float *x = filled(nx), *w = filled(nw), *dy = filled(ny), *y = calloc(ny, 4), *dx = calloc(nx, 4), *dw = calloc(nw, 4);
  double ours[3], nhwc[3], blocked[3];
  const char *nhwc_impl[3], *blocked_impl[3];
  MEDIAN_MS(ours[0], conv_forward(x, w, y, &g));
  MEDIAN_MS(ours[1], input_gradient(dy, w, dx, &g));
  MEDIAN_MS(ours[2], filter_gradient(x, dy, dw, &g));
  onednn(engine, stream, n, h, c, o, k, s, dnnl_nhwc, dnnl_hwio, nhwc, nhwc_impl);
  onednn(engine, stream, n, h, c, o, k, s, dnnl_format_tag_any, dnnl_format_tag_any, blocked, blocked_impl);
  const char *ops[3] = {"forward", "input gradient", "filter gradient"};
  for (int i = 0; i < 3; i++)
    printf("{\"shape\":\"[%d,%d,%d,%d] x [%d,%d,%d,%d] stride "
           "%d\",\"op\":\"%s\",\"ours_ms\":%.3f,\"onednn_nhwc_ms\":%.3f,\"onednn_nhwc_impl\":\"%s\","
           "\"onednn_blocked_ms\":%.3f,\"onednn_blocked_impl\":\"%s\"}\n",
           n, h, h, c, k, k, c, o, s, ops[i], ours[i], nhwc[i], nhwc_impl[i], blocked[i], blocked_impl[i]);
  free(x), free(w), free(dy), free(y), free(dx), free(dw);
}

int main(int argc, char **argv) {
  pool_resize(argc > 1 ? atoi(argv[1]) : 1);
  dnnl_engine_t engine;
  dnnl_stream_t stream;
  CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
  CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
  /* WRN-16-4 at batch 64: each group's 3x3 convolutions (the stride-2 ones open groups 2 and 3) */
  shape(engine, stream, 64, 32, 64, 64, 3, 1);
  shape(engine, stream, 64, 32, 64, 128, 3, 2);
  shape(engine, stream, 64, 16, 128, 128, 3, 1);
  shape(engine, stream, 64, 8, 256, 256, 3, 1);
  dnnl_stream_destroy(stream);
  dnnl_engine_destroy(engine);
  pool_resize(1);
  return 0;
}
