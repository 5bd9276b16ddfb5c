/* latephase native kernels: max pooling with recorded indices, and global average pooling. Part of the one translation unit native/kernels.c includes. */
/*
 * Max pooling over NHWC x [n, h, w, c] (geometry's o = c), recording for each output the flat index
 * into x of the first maximum in window order (rows, then columns: the cpu backend's choice on ties),
 * or -1 for a window with no cell inside x; the gradient is then one scatter. With `relu` the output
 * is max(pool, 0): the pool of a ReLU's output, since the maximum commutes with the ReLU, computed on
 * a quarter of the cells (a ReLU before the pool, bit for bit, its gradient included).
 */
typedef struct {
  const float *x;
  float *y;
  int32_t *indices;
  const conv_geometry *g;
  int relu;
  long rows_per_task;
} pool_forward_job;

/*
 * A window wholly inside x (`cells`: its first cell, at flat index `first`), 16 channels at a time: the maximum and its index kept in registers
 * over the window's cells (the general loop below re-reads and re-writes them per cell). The same
 * comparisons in the same order, so the same results, NaNs included.
 */
static void max_pool_window16(const float *cells, long first, const conv_geometry *g, int relu, float *yb, int32_t *ib) {
  const int c = g->c;
  const v16i lanes = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  const v16 zero = {0};
  for (int ch = 0; ch < c; ch += 16) {
    /* the window's first cell is taken whatever it holds (a NaN stays); the others from (0, 1) on */
    v16 m = load16(cells + ch);
    v16i at = lanes + (int32_t)(first + ch);
    for (int i = 0; i < g->kh; i++)
      for (int jx = i == 0; jx < g->kw; jx++) {
        const long cell = ((long)i * g->dh * g->w + (long)jx * g->dw) * c + ch;
        const v16 v = load16(cells + cell);
        const v16i take = v > m;
        m = select16(take, v, m);
        at = select16i(take, lanes + (int32_t)(first + cell), at);
      }
    if (relu) m = select16(m < zero, zero, m);
    store16(yb + ch, m);
    *(v16i *)(ib + ch) = at;
  }
}

/* Rows [task * rows_per_task, ..) of outputs (image b = row / oh, output row oy = row % oh). */
static void max_pool_rows(void *arg, long task) {
  const pool_forward_job *j = arg;
  const conv_geometry *g = j->g;
  const int c = g->c;
  const long rows = (long)g->n * g->oh, row_end = (task + 1) * j->rows_per_task < rows ? (task + 1) * j->rows_per_task : rows;
  for (long row = task * j->rows_per_task; row < row_end; row++) {
    const int b = (int)(row / g->oh), oy = (int)(row % g->oh);
    const int iy0 = oy * g->sh - g->pt, rows_inside = iy0 >= 0 && iy0 + (g->kh - 1) * g->dh < g->h;
    long out = row * g->ow * c;
    for (int ox = 0; ox < g->ow; ox++, out += c) {
      float *restrict yb = j->y + out;
      int32_t *restrict ib = j->indices + out;
      const int ix0 = ox * g->sw - g->pl;
      if (c % 16 == 0 && rows_inside && ix0 >= 0 && ix0 + (g->kw - 1) * g->dw < g->w) {
        const long first = (((long)b * g->h + iy0) * g->w + ix0) * c;
        max_pool_window16(j->x + first, first, g, j->relu, yb, ib);
        continue;
      }
      int first = 1;
      for (int i = 0; i < g->kh; i++) {
        const int iy = iy0 + i * g->dh;
        if (iy < 0 || iy >= g->h) continue;
        for (int jx = 0; jx < g->kw; jx++) {
          const int ix = ix0 + jx * g->dw;
          if (ix < 0 || ix >= g->w) continue;
          const long base = (((long)b * g->h + iy) * g->w + ix) * c;
          const float *restrict xb = j->x + base;
          if (first) /* the window's first cell is taken whatever it holds (a NaN stays) */
            for (int ch = 0; ch < c; ch++) yb[ch] = xb[ch], ib[ch] = (int32_t)(base + ch);
          else /* selects, not branches: the compiler vectorises this over channels */
            for (int ch = 0; ch < c; ch++) {
              const int take = xb[ch] > yb[ch];
              yb[ch] = take ? xb[ch] : yb[ch];
              ib[ch] = take ? (int32_t)(base + ch) : ib[ch];
            }
          first = 0;
        }
      }
      if (first)
        for (int ch = 0; ch < c; ch++) yb[ch] = -INFINITY, ib[ch] = -1;
      if (j->relu)
        for (int ch = 0; ch < c; ch++) yb[ch] = yb[ch] < 0 ? 0 : yb[ch];
    }
  }
}

static void max_pool_forward(const float *x, float *y, int32_t *indices, const conv_geometry *g, int relu) {
  const long rows = (long)g->n * g->oh;
  pool_forward_job j = {.x = x, .y = y, .indices = indices, .g = g, .relu = relu, .rows_per_task = items_per_task(rows)};
  parallel_for((rows + j.rows_per_task - 1) / j.rows_per_task, max_pool_rows, &j);
}

/*
 * dx = 0, then dx[indices[i]] += dy[i], where mask (the forward's output with relu) is > 0 when given.
 * Windows that tile x without overlap (stride = window, the usual 2 x 2 pool) are written window by
 * window instead, every cell once (dy where it was the maximum, else 0): no memset and no scattered
 * stores, vectorised over channels and split over the threads by output rows.
 */
typedef struct {
  const float *dy, *mask;
  const int32_t *indices;
  float *dx;
  const conv_geometry *g;
  long rows_per_task;
} pool_backward_job;

static void max_pool_grad_row(const pool_backward_job *j, long row) {
  const conv_geometry *g = j->g;
  const int c = g->c, b = (int)(row / g->oh), oy = (int)(row % g->oh);
  for (int ox = 0; ox < g->ow; ox++) {
    const long out = (row * g->ow + ox) * c;
    const float *restrict dy = j->dy + out, *restrict m = j->mask ? j->mask + out : NULL;
    const int32_t *restrict ib = j->indices + out;
    for (int i = 0; i < g->kh; i++) {
      const int iy = oy * g->sh - g->pt + i;
      if (iy < 0 || iy >= g->h) continue;
      for (int jx = 0; jx < g->kw; jx++) {
        const int ix = ox * g->sw - g->pl + jx;
        if (ix < 0 || ix >= g->w) continue;
        const long base = (((long)b * g->h + iy) * g->w + ix) * c;
        float *restrict dx = j->dx + base;
        if (m)
          for (int ch = 0; ch < c; ch++) dx[ch] = ib[ch] == base + ch && m[ch] > 0 ? dy[ch] : 0;
        else
          for (int ch = 0; ch < c; ch++) dx[ch] = ib[ch] == base + ch ? dy[ch] : 0;
      }
    }
  }
}

static void max_pool_grad_rows(void *arg, long task) {
  const pool_backward_job *j = arg;
  const long rows = (long)j->g->n * j->g->oh;
  for (long row = task * j->rows_per_task; row < (task + 1) * j->rows_per_task && row < rows; row++) max_pool_grad_row(j, row);
}

static void max_pool_backward(const float *dy, const int32_t *indices, const float *mask, long outputs, float *dx, long inputs,
                              const conv_geometry *g) {
  const int tiles = g->sh == g->kh && g->sw == g->kw && g->dh == 1 && g->dw == 1;
  if (tiles) {
    /* cells no window covers (a 'valid' pool's leftover rows or columns) stay 0 */
    if ((long)g->oh * g->sh - g->pt < g->h || (long)g->ow * g->sw - g->pl < g->w) memset(dx, 0, sizeof(float) * inputs);
    const long rows = (long)g->n * g->oh;
    pool_backward_job j = {.dy = dy, .mask = mask, .indices = indices, .dx = dx, .g = g, .rows_per_task = items_per_task(rows)};
    parallel_for((rows + j.rows_per_task - 1) / j.rows_per_task, max_pool_grad_rows, &j);
    return;
  }
  memset(dx, 0, sizeof(float) * inputs);
  for (long i = 0; i < outputs; i++)
    if (indices[i] >= 0 && (!mask || mask[i] > 0)) dx[indices[i]] += dy[i];
}

/*
 * Global average pooling of x [n, pixels, c] into y [n, c]: each channel's sum over the pixels in
 * pixel order, in double (a float running sum over a large image drifts past what tfjs's Mean
 * gives), divided by the pixel count; adds in a fixed order, so the bits do not depend on the
 * vector width or the threads. Its gradient is dx = dy / pixels at every pixel. Tasks are images.
 */
typedef struct {
  const float *in;
  float *out;
  long pixels, n, images_per_task;
  int c;
} global_pool_job;

#define GLOBAL_POOL_BLOCK 256 /* channels summed together (their double sums stay on the stack) */

static void global_avg_pool_image(const global_pool_job *j, long b) {
  const int c = j->c;
  const float *restrict x = j->in + b * j->pixels * c;
  float *restrict y = j->out + b * c;
  double sum[GLOBAL_POOL_BLOCK];
  for (int c0 = 0; c0 < c; c0 += GLOBAL_POOL_BLOCK) {
    const int width = c - c0 < GLOBAL_POOL_BLOCK ? c - c0 : GLOBAL_POOL_BLOCK;
    for (int k = 0; k < width; k++) sum[k] = 0;
    for (long p = 0; p < j->pixels; p++) {
      const float *restrict row = x + p * c + c0;
      for (int k = 0; k < width; k++) sum[k] += row[k];
    }
    for (int k = 0; k < width; k++) y[c0 + k] = (float)(sum[k] / (double)j->pixels);
  }
}

static void global_avg_pool_grad_image(const global_pool_job *j, long b) {
  const int c = j->c;
  const float *restrict dy = j->in + b * c;
  float *restrict dx = j->out + b * j->pixels * c;
  for (int ch = 0; ch < c; ch++) dx[ch] = dy[ch] / (float)j->pixels;
  for (long p = 1; p < j->pixels; p++) memcpy(dx + p * c, dx, sizeof(float) * c);
}

/* Images [task * images_per_task, ..) of `image`. */
#define GLOBAL_POOL_TASK(NAME, IMAGE)                                                                                                      \
  static void NAME(void *arg, long task) {                                                                                                 \
    const global_pool_job *j = arg;                                                                                                        \
    for (long b = task * j->images_per_task; b < (task + 1) * j->images_per_task && b < j->n; b++) IMAGE(j, b);                            \
  }
GLOBAL_POOL_TASK(global_avg_pool_images, global_avg_pool_image)
GLOBAL_POOL_TASK(global_avg_pool_grad_images, global_avg_pool_grad_image)

static void global_avg_pool(const float *x, float *y, long n, long pixels, int c) {
  global_pool_job j = {.in = x, .out = y, .pixels = pixels, .n = n, .images_per_task = items_per_task(n), .c = c};
  parallel_for((n + j.images_per_task - 1) / j.images_per_task, global_avg_pool_images, &j);
}

static void global_avg_pool_grad(const float *dy, float *dx, long n, long pixels, int c) {
  global_pool_job j = {.in = dy, .out = dx, .pixels = pixels, .n = n, .images_per_task = items_per_task(n), .c = c};
  parallel_for((n + j.images_per_task - 1) / j.images_per_task, global_avg_pool_grad_images, &j);
}
