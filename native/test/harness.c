/*
 * The native kernels without Node: every kernel on seeded inputs over geometries that reach each
 * formulation (direct and Winograd forward, unstrided and strided input gradients, panel, small and
 * Winograd filter gradients, BatchNorm with and without ReLU, max pooling, the fused first layer (checked against the unfused kernels bit for bit), ReLU, addition, SGD), on
 * 1 and 3 threads, printing one FNV-1a hash of the output bits per kernel. .ci/native-isa.sh builds it
 * per x86-64 level and runs it on this CPU and under qemu-user's emulated CPUs (Nehalem: v2 only;
 * Haswell: v3): the same level must print the same hashes everywhere, and v3 and v4 the same as
 * each other. Its first line is the level CPUID reports (what the loader's choice rests on). The N-API glue (napi.c) is left out; node_api.h is still on the include path.
 */
#include "../kernels/common.h"
#include "../kernels/threadPool.c"
#include "../kernels/im2col.c"
#include "../kernels/winograd.c"
#include "../kernels/filterGradientSmall.c"
#include "../kernels/winogradGradient.c"
#include "../kernels/convolution.c"
#include "../kernels/batchNorm.c"
#include "../kernels/pooling.c"
#include "../kernels/convPool.c"
#include "../kernels/elementwise.c"
#include "../kernels/loss.c"
#include "../kernels/cpuLevel.c"

static uint64_t lcg = 0x2545f4914f6cdd1dULL;
static float next_value(void) {
  lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
  return (float)((lcg >> 40) & 0xffffff) / 16777216.0f - 0.5f;
}
static float *seeded(size_t n) {
  float *p = malloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) p[i] = next_value();
  return p;
}
static uint64_t fnv(uint64_t h, const void *data, size_t bytes) {
  const unsigned char *b = data;
  for (size_t i = 0; i < bytes; i++) h = (h ^ b[i]) * 1099511628211ULL;
  return h;
}

static conv_geometry geometry(int n, int h, int w, int c, int o, int k, int s, int pad) {
  conv_geometry g = {.n = n, .h = h, .w = w, .c = c, .o = o, .kh = k, .kw = k, .sh = s, .sw = s, .dh = 1, .dw = 1, .pt = pad, .pl = pad};
  g.oh = (h + 2 * pad - k) / s + 1;
  g.ow = (w + 2 * pad - k) / s + 1;
  return g;
}

/* Forward, input gradient and filter gradient of one geometry, hashed together. */
static uint64_t conv_case(conv_geometry g) {
  const size_t nx = (size_t)g.n * g.h * g.w * g.c, nw = (size_t)g.kh * g.kw * g.c * g.o, ny = (size_t)g.n * g.oh * g.ow * g.o;
  float *x = seeded(nx), *w = seeded(nw), *dy = seeded(ny), *y = calloc(ny, 4), *dx = calloc(nx, 4), *dw = calloc(nw, 4);
  uint64_t h = 1469598103934665603ULL;
  if (!conv_forward(x, w, y, &g) || !input_gradient(dy, w, dx, &g) || !filter_gradient(x, dy, dw, &g)) {
    fprintf(stderr, "harness: a convolution failed (out of memory?)\n");
    exit(1);
  }
  h = fnv(fnv(fnv(h, y, ny * 4), dx, nx * 4), dw, nw * 4);
  free(x), free(w), free(dy), free(y), free(dx), free(dw);
  return h;
}

static uint64_t batch_norm_case(long rows, int c, int relu) {
  float *x = seeded(rows * c), *gamma = seeded(c), *beta = seeded(c), *dy = seeded(rows * c);
  float *y = calloc(rows * c, 4), *mean = calloc(c, 4), *var = calloc(c, 4), *inv = calloc(c, 4);
  float *dx = calloc(rows * c, 4), *dg = calloc(c, 4), *db = calloc(c, 4);
  batch_norm_forward(x, gamma, beta, 1e-5f, rows, c, relu, y, mean, var, inv);
  batch_norm_backward(dy, 1, relu ? y : NULL, x, gamma, mean, inv, rows, c, dx, dg, db);
  uint64_t h = fnv(fnv(fnv(fnv(fnv(1469598103934665603ULL, y, rows * c * 4), var, c * 4), dx, rows * c * 4), dg, c * 4), db, c * 4);
  free(x), free(gamma), free(beta), free(dy), free(y), free(mean), free(var), free(inv), free(dx), free(dg), free(db);
  return h;
}

static uint64_t pool_case(int relu, int k, int c, int pad) {
  conv_geometry g = geometry(3, 9, 10, c, c, k, 2, pad);
  const size_t nx = (size_t)g.n * g.h * g.w * g.c, ny = (size_t)g.n * g.oh * g.ow * g.o;
  float *x = seeded(nx), *y = calloc(ny, 4), *dy = seeded(ny), *dx = calloc(nx, 4), *avg = calloc((size_t)g.n * g.c, 4);
  int32_t *idx = calloc(ny, 4);
  max_pool_forward(x, y, idx, &g, relu);
  max_pool_backward(dy, idx, relu ? y : NULL, (long)ny, dx, (long)nx, &g);
  uint64_t h = fnv(fnv(1469598103934665603ULL, y, ny * 4), dx, nx * 4);
  global_avg_pool(x, avg, g.n, (long)g.h * g.w, g.c), h = fnv(h, avg, (size_t)g.n * g.c * 4);
  global_avg_pool_grad(avg, dx, g.n, (long)g.h * g.w, g.c), h = fnv(h, dx, nx * 4);
  free(x), free(y), free(dy), free(dx), free(idx), free(avg);
  return h;
}

static uint64_t loss_case(void) {
  const long rows = 37;
  const int c = 11;
  float *z = seeded(rows * c), *t = calloc(rows * c, 4), *d = calloc(rows * c, 4);
  for (long r = 0; r < rows; r++) t[r * c + r % c] = 1;
  const float loss = (float)softmax_cross_entropy(z, t, rows, c, d);
  uint64_t h = fnv(fnv(1469598103934665603ULL, &loss, 4), d, rows * c * 4);
  free(z), free(t), free(d);
  return h;
}

static uint64_t elementwise_case(void) {
  const long n = 300001;
  float *a = seeded(n), *b = seeded(n), *out = calloc(n, 4), *p = seeded(n), *buf = seeded(n), *po = calloc(n, 4), *bo = calloc(n, 4);
  uint64_t h = 1469598103934665603ULL;
  elementwise(relu_forward_chunk, a, NULL, out, n), h = fnv(h, out, n * 4);
  elementwise(relu_backward_chunk, a, b, out, n), h = fnv(h, out, n * 4);
  elementwise(add_chunk, a, b, out, n), h = fnv(h, out, n * 4);
  sgd_step(p, a, buf, po, bo, n, 0.05f, 0.9f, 5e-4f, 1, 0.5f), h = fnv(fnv(h, po, n * 4), bo, n * 4);
  free(a), free(b), free(out), free(p), free(buf), free(po), free(bo);
  return h;
}

/* The fused conv + bias + ReLU + 2 x 2 pool and its gradients, which must equal the unfused kernels' bits (dbias: its own sum). */
static uint64_t conv_pool_case(int c, int k, int pad) {
  conv_geometry g = geometry(3, 29, 27, c, 48, k, 1, pad), pg = geometry(3, g.oh, g.ow, 48, 48, 2, 2, 0);
  const size_t nx = (size_t)g.n * g.h * g.w * c, nw = (size_t)k * k * c * 48, nc = (size_t)g.n * g.oh * g.ow * 48,
               np = (size_t)pg.n * pg.oh * pg.ow * 48;
  float *x = seeded(nx), *w = seeded(nw), *bias = seeded(48), *dy = seeded(np), *y = calloc(np, 4), *dw = calloc(nw, 4),
        *db = calloc(48, 4);
  float *conv = calloc(nc, 4), *y2 = calloc(np, 4), *dconv = calloc(nc, 4), *dw2 = calloc(nw, 4);
  int32_t *idx = calloc(np, 4), *idx2 = calloc(np, 4);
  if (!conv_pool_applies(&g, &pg) || !conv_relu_max_pool(x, w, bias, y, idx, &g, &pg) ||
      !conv_pool_filter_gradient(x, dy, y, idx, dw, db, &g, &pg) || !conv_forward(x, w, conv, &g)) {
    fprintf(stderr, "harness: the fused first layer failed (out of memory, or it does not apply)\n");
    exit(1);
  }
  for (size_t i = 0; i < nc; i++) conv[i] += bias[i % 48];
  max_pool_forward(conv, y2, idx2, &pg, 1);
  max_pool_backward(dy, idx2, y2, (long)np, dconv, (long)nc, &pg);
  if (!filter_gradient(x, dconv, dw2, &g) || memcmp(y, y2, np * 4) || memcmp(idx, idx2, np * 4) || memcmp(dw, dw2, nw * 4)) {
    fprintf(stderr, "harness: the fused first layer differs from the unfused kernels\n");
    exit(1);
  }
  uint64_t h = fnv(fnv(fnv(fnv(1469598103934665603ULL, y, np * 4), idx, np * 4), dw, nw * 4), db, 48 * 4);
  free(x), free(w), free(bias), free(dy), free(y), free(dw), free(db), free(conv), free(y2), free(dconv), free(dw2), free(idx), free(idx2);
  return h;
}

/* BatchNorm + ReLU backward from a global average pool's gradient, one row per image: the bits of the same dy written out per row. */
static uint64_t batch_norm_pooled_case(void) {
  const long images = 7, pixels = 45, rows = images * pixels;
  const int c = 40;
  float *x = seeded(rows * c), *gamma = seeded(c), *beta = seeded(c), *pooled = seeded(images * c), *dy = calloc(rows * c, 4);
  float *y = calloc(rows * c, 4), *mean = calloc(c, 4), *var = calloc(c, 4), *inv = calloc(c, 4);
  float *dx = calloc(rows * c, 4), *dg = calloc(c, 4), *db = calloc(c, 4), *dx2 = calloc(rows * c, 4), *dg2 = calloc(c, 4),
        *db2 = calloc(c, 4);
  for (long i = 0; i < images * c; i++) pooled[i] /= (float)pixels;
  for (long r = 0; r < rows; r++) memcpy(dy + r * c, pooled + r / pixels * c, sizeof(float) * c);
  batch_norm_forward(x, gamma, beta, 1e-5f, rows, c, 1, y, mean, var, inv);
  batch_norm_backward(pooled, pixels, y, x, gamma, mean, inv, rows, c, dx, dg, db);
  batch_norm_backward(dy, 1, y, x, gamma, mean, inv, rows, c, dx2, dg2, db2);
  if (memcmp(dx, dx2, rows * c * 4) || memcmp(dg, dg2, c * 4) || memcmp(db, db2, c * 4)) {
    fprintf(stderr, "harness: BatchNorm's backward from a pooled gradient differs from the same gradient written out\n");
    exit(1);
  }
  uint64_t h = fnv(fnv(fnv(1469598103934665603ULL, dx, rows * c * 4), dg, c * 4), db, c * 4);
  free(x), free(gamma), free(beta), free(pooled), free(dy), free(y), free(mean), free(var), free(inv);
  free(dx), free(dg), free(db), free(dx2), free(dg2), free(db2);
  return h;
}

int main(void) {
  printf("cpu level v%d\n", cpu_level());
  for (int threads = 1; threads <= 3; threads += 2) {
    pool_resize(threads);
    lcg = 0x2545f4914f6cdd1dULL;
    printf("threads %d\n", threads);
    printf("conv winograd 3x3 s1 c32  %016llx\n", (unsigned long long)conv_case(geometry(2, 12, 10, 32, 32, 3, 1, 1)));
    printf("conv direct 3x3 s2 c24    %016llx\n", (unsigned long long)conv_case(geometry(3, 11, 9, 24, 20, 3, 2, 1)));
    printf("conv first layer c3 k5    %016llx\n", (unsigned long long)conv_case(geometry(4, 16, 16, 3, 16, 5, 1, 2)));
    printf("conv 1x1 s2 c40           %016llx\n", (unsigned long long)conv_case(geometry(2, 8, 8, 40, 36, 1, 2, 0)));
    printf("batchnorm                 %016llx\n", (unsigned long long)batch_norm_case(1000, 48, 0));
    printf("batchnorm + relu          %016llx\n", (unsigned long long)batch_norm_case(777, 19, 1));
    printf("max pool, global average  %016llx\n", (unsigned long long)pool_case(0, 2, 5, 0));
    printf("max pool + relu           %016llx\n", (unsigned long long)pool_case(1, 2, 5, 0));
    printf("max pool 3x3 s2 + relu    %016llx\n", (unsigned long long)pool_case(1, 3, 5, 0));
    printf("max pool 3x3 s2 c32 pad 1 %016llx\n", (unsigned long long)pool_case(1, 3, 32, 1));
    printf("softmax cross-entropy     %016llx\n", (unsigned long long)loss_case());
    printf("relu, add, sgd            %016llx\n", (unsigned long long)elementwise_case());
    printf("conv+relu+pool c3 k3 pad1 %016llx\n", (unsigned long long)conv_pool_case(3, 3, 1));
    printf("conv+relu+pool c1 k5      %016llx\n", (unsigned long long)conv_pool_case(1, 5, 0));
    printf("conv winograd 2 segments  %016llx\n", (unsigned long long)conv_case(geometry(6, 23, 21, 48, 32, 3, 1, 1)));
    printf("batchnorm from pooled dy  %016llx\n", (unsigned long long)batch_norm_pooled_case());
    printf("conv+relu+pool pad 10     %016llx\n", (unsigned long long)conv_pool_case(1, 3, 10));
  }
  pool_resize(1);
  return 0;
}
