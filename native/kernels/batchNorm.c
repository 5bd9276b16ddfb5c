/* latephase native kernels: BatchNorm forward and backward (with a fused ReLU). Part of the one translation unit native/kernels.c includes. */
/*
 * BatchNorm over the channel (last) axis of x [rows, c], train mode. Sums run in float vectors
 * across channels over blocks of rows and are carried in double between blocks, so 65,536-row
 * batches lose no precision to float accumulation.
 */
#define BN_BLOCK 128
/* Blocks per task when summing, rows about 64K floats per task in the elementwise passes. */
#define BN_BLOCKS_PER_TASK 8
#define ELEMENTWISE_GRAIN 65536

/*
 * One BatchNorm call's arrays. Sums: f(row, ch) = a (mode 0) or (a - mean)^2 (1) into parts, or
 * (mode 2, the backward's two sums in one pass) g into parts and g * (b - mean) into parts2, where
 * g = a, or with a mask (a ReLU fused after the forward: its output) g = mask > 0 ? a : 0. Each
 * block's float sums are added in block order in double afterwards (so threads change nothing).
 * Elementwise: y = a * k + shift (forward, then max(y, 0) with relu) or dx = k * g - m * (b - mean)
 * - shift (backward, a = dy, b = x).
 */
typedef struct {
  const float *a, *b, *mask, *mean, *k, *m, *shift;
  float *out, *parts, *parts2;
  int mode, c, relu;
  long rows, blocks, rows_per_task;
  /* rows of the job per row of a: 1, or (the backward after a global average pool) the pixels of an image */
  long rows_per_a;
} bn_job;

/* Row r's values of a: its own row, or its image's when one row of a serves rows_per_a rows. */
static inline const float *bn_a_row(const bn_job *j, long r) { return j->a + (j->rows_per_a == 1 ? r : r / j->rows_per_a) * j->c; }

/*
 * Rows taken together by the sums and the elementwise passes, about 4K floats (16 KB of each array):
 * each 16-channel slice's sums or factors stay in registers over them (a per-channel loop loads
 * and stores every sum at every row), and the rows stay in cache while the slices pass (a whole
 * 128-row block of 256 channels did not: slower than the per-channel loop; 8 rows of 64 channels
 * spent the gain on the slices' set-up). 8 rows at least.
 */
static inline long bn_rows_together(int c) { return c >= 512 ? 8 : 4096 / c; }

/* part[ch0 .. ch0 + 16 * V) (and part2) += rows [r0, r1): the same additions in the same order as the per-channel loop. */
#define BN_SUMS_IN_REGISTERS(V)                                                                                                            \
  static void bn_sums_##V(const bn_job *j, long r0, long r1, int ch0, float *part, float *part2) {                                         \
    const int c = j->c;                                                                                                                    \
    v16 s[V], s2[V], mean[V];                                                                                                              \
    const v16 zero = {0};                                                                                                                  \
    for (int v = 0; v < V; v++)                                                                                                            \
      s[v] = load16(part + ch0 + 16 * v), s2[v] = load16(part2 + ch0 + 16 * v), mean[v] = j->mode ? load16(j->mean + ch0 + 16 * v) : zero; \
    for (long r = r0; r < r1; r++)                                                                                                         \
      for (int v = 0; v < V; v++) {                                                                                                        \
        const long at = r * c + ch0 + 16 * v;                                                                                              \
        const v16 a = load16(bn_a_row(j, r) + ch0 + 16 * v);                                                                               \
        if (j->mode == 0)                                                                                                                  \
          s[v] += a;                                                                                                                       \
        else if (j->mode == 1) {                                                                                                           \
          const v16 d = a - mean[v];                                                                                                       \
          s[v] += d * d;                                                                                                                   \
        } else {                                                                                                                           \
          const v16 g = j->mask ? select16(load16(j->mask + at) > zero, a, zero) : a;                                                      \
          s[v] += g;                                                                                                                       \
          s2[v] += g * (load16(j->b + at) - mean[v]);                                                                                      \
        }                                                                                                                                  \
      }                                                                                                                                    \
    for (int v = 0; v < V; v++) store16(part + ch0 + 16 * v, s[v]), store16(part2 + ch0 + 16 * v, s2[v]);                                  \
  }
BN_SUMS_IN_REGISTERS(4)
BN_SUMS_IN_REGISTERS(1)

/* The same for channels [ch0, c), one at a time. */
static void bn_sums_rest(const bn_job *j, long r0, long r1, int ch0, float *part, float *part2) {
  const int c = j->c;
  for (long r = r0; r < r1; r++) {
    const float *ar = bn_a_row(j, r), *br = j->mode == 2 ? j->b + r * c : NULL, *mr = j->mask ? j->mask + r * c : NULL;
    if (j->mode == 0)
      for (int ch = ch0; ch < c; ch++) part[ch] += ar[ch];
    else if (j->mode == 1)
      for (int ch = ch0; ch < c; ch++) {
        const float d = ar[ch] - j->mean[ch];
        part[ch] += d * d;
      }
    else if (!j->mask)
      for (int ch = ch0; ch < c; ch++) {
        part[ch] += ar[ch];
        part2[ch] += ar[ch] * (br[ch] - j->mean[ch]);
      }
    else
      for (int ch = ch0; ch < c; ch++) {
        const float g = mr[ch] > 0 ? ar[ch] : 0.0f; /* through the fused ReLU, as reluBackward */
        part[ch] += g;
        part2[ch] += g * (br[ch] - j->mean[ch]);
      }
  }
}

static void bn_block_sums(void *arg, long task) {
  const bn_job *j = arg;
  const int c = j->c;
  for (long blk = task * BN_BLOCKS_PER_TASK; blk < (task + 1) * BN_BLOCKS_PER_TASK && blk < j->blocks; blk++) {
    float *part = j->parts + blk * c, *part2 = j->parts2 + blk * c;
    const long r0 = blk * BN_BLOCK, r1 = r0 + BN_BLOCK < j->rows ? r0 + BN_BLOCK : j->rows;
    for (int ch = 0; ch < c; ch++) part[ch] = part2[ch] = 0;
    const long together = bn_rows_together(c);
    for (long rr = r0; rr < r1; rr += together) {
      const long rr1 = rr + together < r1 ? rr + together : r1;
      int ch0 = 0;
      for (; ch0 + 64 <= c; ch0 += 64) bn_sums_4(j, rr, rr1, ch0, part, part2);
      for (; ch0 + 16 <= c; ch0 += 16) bn_sums_1(j, rr, rr1, ch0, part, part2);
      if (ch0 < c) bn_sums_rest(j, rr, rr1, ch0, part, part2);
    }
  }
}

/* sums[ch] (and for mode 2 sums2[ch]) over all rows for j's mode. */
static void channel_sums(bn_job *j, int mode, double *sums, double *sums2) {
  j->mode = mode;
  parallel_for((j->blocks + BN_BLOCKS_PER_TASK - 1) / BN_BLOCKS_PER_TASK, bn_block_sums, j);
  for (int ch = 0; ch < j->c; ch++) sums[ch] = 0;
  for (long blk = 0; blk < j->blocks; blk++)
    for (int ch = 0; ch < j->c; ch++) sums[ch] += j->parts[blk * j->c + ch];
  if (mode != 2) return;
  for (int ch = 0; ch < j->c; ch++) sums2[ch] = 0;
  for (long blk = 0; blk < j->blocks; blk++)
    for (int ch = 0; ch < j->c; ch++) sums2[ch] += j->parts2[blk * j->c + ch];
}

/*
 * The elementwise passes for channels [ch0, ch0 + 16) over rows [r0, r1), the per-channel factors
 * in registers (the per-channel loops below reload four of them for every row). The same
 * operations in the same order, so the same bits.
 */
static void bn_normalize_16(const bn_job *j, long r0, long r1, int ch0) {
  const v16 k = load16(j->k + ch0), shift = load16(j->shift + ch0), zero = {0};
  for (long r = r0; r < r1; r++) {
    const v16 v = load16(j->a + r * j->c + ch0) * k + shift;
    store16(j->out + r * j->c + ch0, j->relu ? select16(v < zero, zero, v) : v);
  }
}

static void bn_gradient_16(const bn_job *j, long r0, long r1, int ch0) {
  const v16 k = load16(j->k + ch0), m = load16(j->m + ch0), mean = load16(j->mean + ch0), shift = load16(j->shift + ch0), zero = {0};
  for (long r = r0; r < r1; r++) {
    const long at = r * j->c + ch0;
    const v16 dy = load16(bn_a_row(j, r) + ch0), g = j->mask ? select16(load16(j->mask + at) > zero, dy, zero) : dy;
    store16(j->out + at, k * g - m * (load16(j->b + at) - mean) - shift);
  }
}

/* A task's rows bn_rows_together at a time, each 16-channel slice over them, then the channels left over. */
#define BN_ELEMENTWISE_TASK(NAME, SLICE, REST)                                                                                             \
  static void NAME(void *arg, long task) {                                                                                                 \
    const bn_job *j = arg;                                                                                                                 \
    const long r_end = (task + 1) * j->rows_per_task < j->rows ? (task + 1) * j->rows_per_task : j->rows;                                  \
    const long together = bn_rows_together(j->c);                                                                                          \
    for (long r0 = task * j->rows_per_task; r0 < r_end; r0 += together) {                                                                  \
      const long r1 = r0 + together < r_end ? r0 + together : r_end;                                                                       \
      int ch0 = 0;                                                                                                                         \
      for (; ch0 + 16 <= j->c; ch0 += 16) SLICE(j, r0, r1, ch0);                                                                           \
      if (ch0 < j->c) REST(j, r0, r1, ch0);                                                                                                \
    }                                                                                                                                      \
  }

static void bn_normalize_rest(const bn_job *j, long r0, long r1, int ch0) {
  const int c = j->c;
  for (long r = r0; r < r1; r++) {
    const float *xr = j->a + r * c;
    float *yr = j->out + r * c;
    if (!j->relu)
      for (int ch = ch0; ch < c; ch++) yr[ch] = xr[ch] * j->k[ch] + j->shift[ch];
    else
      for (int ch = ch0; ch < c; ch++) {
        const float v = xr[ch] * j->k[ch] + j->shift[ch];
        yr[ch] = v < 0 ? 0.0f : v; /* NaN stays NaN, as tfjs's Relu */
      }
  }
}

static void bn_gradient_rest(const bn_job *j, long r0, long r1, int ch0) {
  const int c = j->c;
  for (long r = r0; r < r1; r++) {
    const float *dyr = bn_a_row(j, r), *xr = j->b + r * c;
    float *dxr = j->out + r * c;
    if (!j->mask)
      for (int ch = ch0; ch < c; ch++) dxr[ch] = j->k[ch] * dyr[ch] - j->m[ch] * (xr[ch] - j->mean[ch]) - j->shift[ch];
    else {
      const float *mr = j->mask + r * c;
      for (int ch = ch0; ch < c; ch++) {
        const float g = mr[ch] > 0 ? dyr[ch] : 0.0f;
        dxr[ch] = j->k[ch] * g - j->m[ch] * (xr[ch] - j->mean[ch]) - j->shift[ch];
      }
    }
  }
}

BN_ELEMENTWISE_TASK(bn_normalize_rows, bn_normalize_16, bn_normalize_rest)
BN_ELEMENTWISE_TASK(bn_gradient_rows, bn_gradient_16, bn_gradient_rest)

/* A job over x [rows, c] with room for two sets of block sums and 3 per-channel vectors; NULL without memory. */
static float *bn_job_init(bn_job *j, long rows, int c) {
  const long blocks = (rows + BN_BLOCK - 1) / BN_BLOCK;
  float *mem = malloc(sizeof(float) * (2 * (size_t)blocks * c + 3 * (size_t)c));
  *j = (bn_job){.parts = mem, .parts2 = mem ? mem + blocks * c : NULL, .c = c, .rows = rows, .blocks = blocks, .rows_per_a = 1};
  j->rows_per_task = ELEMENTWISE_GRAIN / c > 0 ? ELEMENTWISE_GRAIN / c : 1;
  return mem;
}

/* y = (x - mean) * (gamma * invStd) + beta, then max(y, 0) with relu; mean and biased variance returned for the running update. */
static int batch_norm_forward(const float *x, const float *gamma, const float *beta, float epsilon, long rows, int c, int relu, float *y,
                              float *mean, float *variance, float *inv_std) {
  bn_job j;
  double *sums = malloc(sizeof(double) * c);
  float *mem = bn_job_init(&j, rows, c);
  if (!sums || !mem) return free(sums), free(mem), 0;
  float *scale = mem + 2 * j.blocks * c, *shift = scale + c;
  j.a = x;
  channel_sums(&j, 0, sums, NULL);
  for (int ch = 0; ch < c; ch++) mean[ch] = (float)(sums[ch] / rows);
  j.mean = mean;
  channel_sums(&j, 1, sums, NULL);
  for (int ch = 0; ch < c; ch++) {
    variance[ch] = (float)(sums[ch] / rows);
    inv_std[ch] = (float)(1.0 / sqrt((double)variance[ch] + epsilon));
    scale[ch] = gamma[ch] * inv_std[ch];
    shift[ch] = beta[ch] - mean[ch] * scale[ch];
  }
  j.k = scale, j.shift = shift, j.out = y, j.relu = relu;
  parallel_for(task_count(rows, j.rows_per_task), bn_normalize_rows, &j);
  free(sums), free(mem);
  return 1;
}

/*
 * dbeta = sum g, dgamma = sum g * xhat, dx = gamma * invStd * (g - (dbeta + xhat * dgamma) / rows),
 * with xhat = (x - mean) * invStd recomputed from the saved input and g the gradient reaching
 * BatchNorm: dy, or with `mask` (the output of a forward with relu) dy where mask > 0, else 0.
 * dy has a row per `rows_per_dy` rows of x (1; or a global average pool's gradient, already
 * divided by the pixels: each image's row serves its pixels, never written out at full size).
 */
static int batch_norm_backward(const float *dy, long rows_per_dy, const float *mask, const float *x, const float *gamma, const float *mean,
                               const float *inv_std, long rows, int c, float *dx, float *dgamma, float *dbeta) {
  bn_job j;
  double *sums = malloc(sizeof(double) * 2 * c);
  float *mem = bn_job_init(&j, rows, c);
  if (!sums || !mem) return free(sums), free(mem), 0;
  float *k = mem + 2 * j.blocks * c, *a = k + c, *b = a + c;
  j.a = dy, j.rows_per_a = rows_per_dy, j.mask = mask, j.b = x, j.mean = mean;
  channel_sums(&j, 2, sums, sums + c);
  for (int ch = 0; ch < c; ch++) {
    dbeta[ch] = (float)sums[ch];
    dgamma[ch] = (float)(sums[c + ch] * inv_std[ch]);
    /* dx = k * g - a * (x - mean) - b, k = gamma * invStd, a = k * invStd * dgamma / rows, b = k * dbeta / rows */
    k[ch] = gamma[ch] * inv_std[ch];
    a[ch] = (float)((double)k[ch] * inv_std[ch] * dgamma[ch] / rows);
    b[ch] = (float)((double)k[ch] * dbeta[ch] / rows);
  }
  j.k = k, j.m = a, j.shift = b, j.out = dx;
  parallel_for(task_count(rows, j.rows_per_task), bn_gradient_rows, &j);
  free(sums), free(mem);
  return 1;
}
